//! Site configuration: trunks, extensions, dial plan, permission profiles,
//! recording policies and media settings of one appliance.
//!
//! The cloud pushes it to the appliance as JSON over MQTT (versioned by
//! [`SiteConfig::revision`]); a standalone appliance loads it from a TOML
//! file. Both go through the same raw structs ([`RawSiteConfig`] and its
//! parts, all `deny_unknown_fields`) and the same validation, which reports
//! every problem at once as a [`ConfigProblem`] with the key path (for
//! example `trunks[1].port`), a stable code and Dutch and English text from
//! the message catalogue (`config.ftl`).
//!
//! ```
//! use voip_shared::site_config::SiteConfig;
//!
//! let config = SiteConfig::from_toml_str(r#"
//!     version = 1
//!     site_name = "Kantoor"
//!     tenant = "acme"
//!
//!     [[permission_profiles]]
//!     name = "intern"
//!     allowed_classes = ["internal"]
//!
//!     [[extensions]]
//!     number = "201"
//!     display_name = "Receptie"
//!     credentials = "ext-201"
//!     permission_profile = "intern"
//!
//!     [[dial_plan]]
//!     name = "intern"
//!     pattern = "2XX"
//!     destination = "extension"
//! "#).unwrap();
//! let m = config.dial_plan.dry_run("201").unwrap();
//! assert_eq!(m.rule_name, "intern");
//! ```
//!
//! Passwords never appear in a site configuration: trunks and extensions
//! name an entry of the appliance's secrets file with `credentials`; an
//! inline `password` key is rejected with [`ProblemCode::InlinePassword`].

mod document;
mod model;
mod net;
mod pattern;
mod problem;
mod raw;
mod validate;

pub use document::{
    DEFAULT_SECRETS_FILE, ListItems, check_version, deserialize_collecting, take_list,
    toml_to_value,
};
pub use model::{
    BanPolicy, Codec, Did, DigestAlgorithm, Extension, MediaSettings, OpusConfig,
    PermissionProfile, RecordingFormat, RecordingMode, RecordingPolicy, SiteConfig, SrtpMode,
    Transport, Trunk,
};
pub use net::{Cidr, CidrError, is_dial_string, is_e164, is_valid_host, is_valid_name};
pub use pattern::{
    Destination, DialMatch, DialPattern, DialPlan, DialRule, PatternError, PatternErrorKind,
};
pub use problem::{ConfigProblem, InvalidConfig, ProblemCode, Problems};
pub use raw::{
    RawBanPolicy, RawDestination, RawDialRule, RawDid, RawExtension, RawMedia,
    RawPermissionProfile, RawRecordingPolicy, RawSiteConfig, RawTrunk, RawTrunkSelection,
};

/// The schema version this build reads (`version = 1`).
pub const SCHEMA_VERSION: u64 = 1;

/// The echo test number when the document names none.
pub const DEFAULT_ECHO_TEST_NUMBER: &str = "*43";

#[cfg(test)]
mod tests;
