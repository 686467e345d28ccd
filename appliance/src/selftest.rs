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
    checks
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
