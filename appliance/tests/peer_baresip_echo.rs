//! Real peers, a desk phone: baresip registers as extension 203 (digest) and
//! calls the echo test `*43`, sending a 1 kHz tone (a WAV made with sox,
//! played by baresip's `aufile` source) and recording what it receives
//! (baresip's `sndfile` filter dumps the decoded audio). The recording must
//! contain the tone: at least 1.5 s of 20 ms frames loud well above silence
//! whose zero-crossing frequency is 1 kHz ± 5 %. baresip and sox are
//! required: a missing tool FAILS this test.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    reason = "test code: a failure should panic the test; sample counts are small"
)]

mod peer_support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use peer_support::{
    Appliance, PBX_IP, Proc, data_dir, free_udp_port, password, require_tool, rtp_range,
    site_config, temp_dir,
};

/// How long baresip runs before it hangs up and quits (`-t`).
const CALL_SECONDS: u64 = 7;
/// Tone frames (20 ms at 8 kHz) the recording must hold: 1.5 s.
const MIN_TONE_FRAMES: usize = 75;
/// The tone is generated at half scale (RMS ≈ 0.35); silence and comfort
/// noise stay far below this.
const MIN_FRAME_RMS: f64 = 0.1;

/// 16-bit mono PCM samples and the sample rate of a WAV file.
fn read_wav(path: &Path) -> (Vec<i16>, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"RIFF", "{}: not a WAV file", path.display());
    let mut at = 12;
    let mut rate = 0;
    let mut channels = 0;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        match id {
            b"fmt " => {
                channels = u16::from_le_bytes(body[2..4].try_into().unwrap());
                rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
                let bits = u16::from_le_bytes(body[14..16].try_into().unwrap());
                assert_eq!(bits, 16, "{}: not 16-bit PCM", path.display());
            }
            b"data" => {
                assert_eq!(channels, 1, "{}: not mono", path.display());
                let samples = body
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect();
                return (samples, rate);
            }
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

/// Per 20 ms frame: (RMS relative to full scale, zero-crossing frequency).
fn frames(samples: &[i16], rate: u32) -> Vec<(f64, f64)> {
    let frame = (rate / 50) as usize;
    samples
        .chunks_exact(frame)
        .map(|f| {
            let rms = (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64)
                .sqrt()
                / 32768.0;
            let crossings = f.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
            let seconds = f.len() as f64 / f64::from(rate);
            (rms, crossings as f64 / 2.0 / seconds)
        })
        .collect()
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let text = std::fs::read_to_string(data_dir().join("baresip").join(template)).unwrap();
    values
        .iter()
        .fold(text, |t, (key, value)| t.replace(key, value))
}

#[test]
fn desk_phone_hears_its_own_tone_back_from_the_echo_test() {
    let baresip = require_tool("baresip", "baresip-core");
    let sox = require_tool("sox", "sox");
    let dir = temp_dir("baresip-echo");
    let appliance = Appliance::start(&dir, &site_config(rtp_range(), &[], 5), &[]);

    let tone = dir.join("tone-1khz.wav");
    let status = Command::new(sox)
        .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
        .arg(&tone)
        .args(["synth", "10", "sine", "1000", "vol", "0.5"])
        .status()
        .unwrap();
    assert!(status.success(), "sox could not make the tone");

    let conf = dir.join("baresip");
    let rec = dir.join("rec");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&rec).unwrap();
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    let rtp = free_udp_port(PBX_IP) & !1;
    std::fs::write(
        conf.join("config"),
        fill(
            "config.template",
            &[
                ("@SIP_LISTEN@", phone.to_string()),
                ("@RTP_PORTS@", format!("{rtp}-{}", rtp + 3)),
                ("@TONE_WAV@", tone.display().to_string()),
                ("@REC_DIR@", rec.display().to_string()),
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("accounts"),
        fill(
            "accounts.template",
            &[
                ("@PBX@", appliance.sip.to_string()),
                ("@PASSWORD@", password("203").to_owned()),
            ],
        ),
    )
    .unwrap();
    std::fs::write(conf.join("contacts"), "").unwrap();

    let log_path = dir.join("baresip.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut phone_proc = Proc::spawn(
        "baresip",
        Command::new(baresip)
            .arg("-f")
            .arg(&conf)
            .args(["-e", &format!("/dial sip:*43@{}", appliance.sip)])
            .args(["-t", &CALL_SECONDS.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log),
    );
    let status = phone_proc.wait(Duration::from_secs(CALL_SECONDS + 10));
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let context = || {
        format!(
            "--- baresip ---\n{output}\n--- appliance ---\n{}",
            appliance.log()
        )
    };
    assert!(status.success(), "baresip failed: {status}\n{}", context());
    assert!(
        output.contains("200 OK") && output.contains("binding"),
        "baresip did not register 203\n{}",
        context()
    );
    assert!(
        output.contains("Call established"),
        "the echo test call was not answered\n{}",
        context()
    );

    let received = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("baresip recorded nothing\n{}", context()));
    let (samples, rate) = read_wav(&received);
    assert_eq!(rate, 8000);
    let frames = frames(&samples, rate);
    let tone_frames = frames
        .iter()
        .filter(|(rms, freq)| *rms >= MIN_FRAME_RMS && (950.0..=1050.0).contains(freq))
        .count();
    let loudest = frames.iter().map(|(r, _)| *r).fold(0.0, f64::max);
    assert!(
        tone_frames >= MIN_TONE_FRAMES,
        "{tone_frames} frames of 1 kHz tone received (want >= {MIN_TONE_FRAMES}); \
         {} frames in all, loudest RMS {loudest:.3}\n{}",
        frames.len(),
        context()
    );
}
