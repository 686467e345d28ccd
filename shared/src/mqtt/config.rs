//! `config` and `config/result`: the versioned site configuration and the
//! appliance's answer.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::SchemaVersion;

/// Payload of `config` (retained, cloud to appliance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigPush {
    /// Schema version of this payload.
    pub schema: SchemaVersion,
    /// Configuration version, strictly increasing per appliance. An
    /// appliance ignores a push whose version is not newer than the one it
    /// has applied (a retained message is redelivered on every reconnect).
    pub version: u64,
    /// When the cloud issued this version.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// The site configuration document (trunks, extensions, dial plan,
    /// permission profiles, recording policy). Kept as raw JSON here; its
    /// typed schema and validation live in [`crate::site_config`].
    pub site: serde_json::Value,
}

/// One problem found while validating or applying a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigIssue {
    /// Path of the offending key, e.g. `trunks[0].password`.
    pub path: String,
    /// Stable dotted error code, e.g. `config.trunk.missing_host`.
    pub code: String,
    /// English developer-facing explanation; never contains personal data.
    pub message: String,
}

/// Payload of `config/result` (appliance to cloud).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigResult {
    /// Schema version of this payload.
    pub schema: SchemaVersion,
    /// The configuration version this result is about.
    pub version: u64,
    /// Whether the version is now active. When `false` the appliance keeps
    /// running its last good configuration.
    pub applied: bool,
    /// Every problem found (empty when applied).
    #[serde(default)]
    pub errors: Vec<ConfigIssue>,
}
