//! The example files in `docs/examples/` parse and validate with zero
//! problems, so the documentation cannot drift from the schema.

use std::path::PathBuf;

use voip_appliance::config::{self, LogLevel};
use voip_shared::site_config::SiteConfig;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/examples")
        .join(name)
}

#[test]
fn appliance_example_is_valid() {
    let c =
        config::load(&example("appliance.toml")).unwrap_or_else(|e| panic!("appliance.toml: {e}"));
    assert_eq!(c.appliance_id, "korenaar-utrecht-01");
    assert_eq!(c.log_level, LogLevel::Info);
    assert_eq!(c.cloud.as_ref().map(|c| c.mqtt_port), Some(8883));
    assert_eq!(c.sip.tls.len(), 1);
}

#[test]
fn site_example_is_valid() {
    let text = std::fs::read_to_string(example("site.toml")).unwrap();
    match SiteConfig::from_toml_str(&text) {
        Ok(c) => {
            assert_eq!(c.trunks.len(), 2);
            assert_eq!(c.extensions.len(), 5);
            assert_eq!(c.permission_profiles.len(), 2);
        }
        Err(e) => {
            let list: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
            panic!("site.toml has problems:\n{}", list.join("\n"));
        }
    }
}
