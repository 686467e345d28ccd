//! `voip-appliance self-test`: checks that need no network and no root, run
//! on the target board (or under qemu) to prove the build works there.

use voip_shared::i18n::{Catalogue, Locale};

/// Outcome of one self-test check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Short name of the check.
    pub name: &'static str,
    /// `Ok(detail)` or `Err(reason)`.
    pub result: Result<String, String>,
}

/// Runs every check and returns their outcomes in order.
pub fn run() -> Vec<Check> {
    let mut checks = Vec::new();
    for locale in [Locale::NlNl, Locale::En] {
        checks.push(Check {
            name: "catalogue",
            result: Catalogue::load(locale)
                .map(|c| format!("{} loaded", c.locale().tag()))
                .map_err(|e| format!("{e:?}")),
        });
    }
    checks.push(Check {
        name: "recording",
        result: recording_check(),
    });
    checks
}

/// Encodes one second of stereo Ogg/Opus in memory (the bundled libopus
/// works on this CPU) and reads the shipped consent prompt.
fn recording_check() -> Result<String, String> {
    use crate::recording::consent::Prompt;
    use crate::recording::ogg;
    use crate::recording::stream::StreamWriter;
    use voip_shared::site_config::RecordingFormat;
    let mut out = Vec::new();
    let mut writer = StreamWriter::new(RecordingFormat::OggOpus, 16_000, 1, &mut out)
        .map_err(|e| e.to_string())?;
    let frame: Vec<i16> = (0..640).map(|i| ((i % 40) * 200 - 4000) as i16).collect();
    for _ in 0..50 {
        writer
            .write_frame(&frame, &mut out)
            .map_err(|e| e.to_string())?;
    }
    writer.finish(&mut out);
    let duration = ogg::scan(&out)
        .opus_duration_ms()
        .ok_or("the Ogg/Opus stream does not scan")?;
    if duration != 1000 {
        return Err(format!("1 s of Opus scanned as {duration} ms"));
    }
    let prompt = Prompt::consent_nl().map_err(|e| e.to_string())?;
    Ok(format!(
        "opus {}, {} bytes per second; consent prompt {} ms",
        opus::version(),
        out.len(),
        prompt.duration().as_millis()
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn all_checks_pass_on_the_build_host() {
        for check in super::run() {
            assert!(check.result.is_ok(), "{}: {:?}", check.name, check.result);
        }
    }
}
