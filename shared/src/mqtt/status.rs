//! `status`: the appliance's presence, retained, and its MQTT last will.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ApplianceId, SchemaVersion};

/// Whether the appliance is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplianceState {
    /// Connected and running.
    Online,
    /// Disconnected: published by the appliance on clean shutdown, or by the
    /// broker as the last will.
    Offline,
}

/// Payload of `status` (retained). The appliance sets a copy with
/// `state: offline` as its last will when it connects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Schema version of this payload.
    pub schema: SchemaVersion,
    /// The publishing appliance (equals the topic's appliance segment).
    pub appliance_id: ApplianceId,
    /// Online or offline.
    pub state: ApplianceState,
    /// Version of the appliance software, e.g. `"0.4.1"`.
    pub software_version: String,
    /// When the appliance process started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Seconds since start; `null` in the last will (unknown when it fires).
    pub uptime_s: Option<u64>,
    /// Version of the site configuration currently applied; `null` if none yet.
    pub config_version: Option<u64>,
}
