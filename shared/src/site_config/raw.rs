//! Raw site configuration: exactly what the file or the MQTT message says,
//! with `deny_unknown_fields` everywhere. Values with a range are read as
//! wide integers so the range check can name the value; optional keys are
//! `Option` and get their defaults during validation.
//!
//! The cloud builds these structs and serialises them to JSON for the
//! appliance; the appliance validates them with
//! [`RawSiteConfig::validate`](super::RawSiteConfig::validate).

use serde::{Deserialize, Serialize};

use super::model::{Codec, RecordingFormat, RecordingMode, SrtpMode, Transport};
use crate::number::NumberClass;

/// The whole site configuration document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSiteConfig {
    /// Schema version; must be 1.
    pub version: u32,
    /// Configuration revision assigned by the cloud; 0 for local files.
    #[serde(default)]
    pub revision: u64,
    /// Human-readable name of the site.
    pub site_name: String,
    /// Tenant id.
    pub tenant: String,
    /// SIP trunks to providers.
    #[serde(default)]
    pub trunks: Vec<RawTrunk>,
    /// Internal extensions.
    #[serde(default)]
    pub extensions: Vec<RawExtension>,
    /// Ordered dial plan rules.
    #[serde(default)]
    pub dial_plan: Vec<RawDialRule>,
    /// Permission profiles.
    #[serde(default)]
    pub permission_profiles: Vec<RawPermissionProfile>,
    /// Recording policies.
    #[serde(default)]
    pub recording_policies: Vec<RawRecordingPolicy>,
    /// Number of the echo test (default `*43`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_test_number: Option<String>,
    /// Media settings.
    #[serde(default)]
    pub media: RawMedia,
    /// Registrar brute-force ban policy.
    #[serde(default)]
    pub registrar_ban: RawBanPolicy,
    /// Digest algorithms to challenge with (`"MD5"`, `"SHA-256"`); default
    /// `["MD5"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_algorithms: Option<Vec<super::DigestAlgorithm>>,
}

/// A SIP trunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrunk {
    /// Unique id (`a-z0-9-_`).
    pub id: String,
    /// Provider host name or IP address.
    pub host: String,
    /// Port; absent: DNS SRV for a host name, else 5060 (udp, tcp) or 5061
    /// (tls). Stays absent in the typed [`Trunk`](super::Trunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Transport; default udp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// Name of the credentials entry in the appliance's secrets file.
    pub credentials: String,
    /// SIP username (also the authentication username unless the secrets
    /// entry overrides it).
    pub username: String,
    /// Authentication realm, if the provider requires a fixed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Whether to REGISTER; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<bool>,
    /// Requested registration expiry in seconds; default 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_expiry_s: Option<i64>,
    /// Lower is preferred; unique among trunks.
    pub priority: i64,
    /// Codecs in order of preference; default pcma, pcmu, telephone-event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codecs: Option<Vec<Codec>>,
    /// Inbound numbers and the extension each rings.
    #[serde(default)]
    pub dids: Vec<RawDid>,
    /// Networks inbound calls may come from; default: the resolved host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_sources: Option<Vec<String>>,
    /// SRTP policy; default off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtp: Option<SrtpMode>,
    /// OPTIONS keepalive interval in seconds; 0 disables; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options_interval_s: Option<i64>,
    /// Name of the recording policy of calls over this trunk, if any
    /// (an extension's or the call's own policy wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_policy: Option<String>,
}

/// An inbound number (DID) on a trunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDid {
    /// The number in E.164 (`+31201234567`).
    pub number: String,
    /// The extension it rings.
    pub extension: String,
}

/// An internal extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExtension {
    /// Extension number, 2 to 6 digits, not starting with 0.
    pub number: String,
    /// Name shown to callees.
    pub display_name: String,
    /// Cloud user this extension belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Name of the credentials entry in the appliance's secrets file.
    pub credentials: String,
    /// Codecs in order of preference; default opus, g722, pcma, pcmu,
    /// telephone-event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codecs: Option<Vec<Codec>>,
    /// Name of the permission profile.
    pub permission_profile: String,
    /// Name of the recording policy, if calls may be recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_policy: Option<String>,
    /// Maximum simultaneous registrations; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_contacts: Option<i64>,
}

/// A dial plan rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDialRule {
    /// Unique rule name.
    pub name: String,
    /// Pattern (see [`DialPattern`](super::DialPattern)).
    pub pattern: String,
    /// Characters removed from the front; default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip: Option<i64>,
    /// Characters added in front after stripping; default empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Where the call goes.
    pub destination: RawDestination,
}

/// Where a dial plan rule sends a call. In TOML: `"extension"`,
/// `"echo_test"`, `{ trunk_group = "all" }` or
/// `{ trunk_group = ["kpn", "voys"] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawDestination {
    /// The rewritten number is an extension number.
    Extension,
    /// Out through a group of trunks.
    TrunkGroup(RawTrunkSelection),
    /// The echo test.
    EchoTest,
}

/// The trunks of a trunk group: the word `all` or a list of trunk ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawTrunkSelection {
    /// Should be `"all"`.
    Word(String),
    /// Trunk ids.
    List(Vec<String>),
}

/// A permission profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPermissionProfile {
    /// Unique name.
    pub name: String,
    /// Number classes callers with this profile may dial. Emergency is
    /// always allowed whether listed or not.
    pub allowed_classes: Vec<NumberClass>,
    /// Simultaneous calls; default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_calls: Option<i64>,
    /// Longest call in seconds; default 14400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_call_duration_s: Option<i64>,
    /// Outbound minutes per day; default unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_minutes: Option<i64>,
}

/// A recording policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecordingPolicy {
    /// Unique name.
    pub name: String,
    /// When to record.
    pub mode: RecordingMode,
    /// Whether to play a consent announcement; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_announcement: Option<bool>,
    /// File format; default `ogg_opus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<RecordingFormat>,
    /// Days recordings are kept; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i64>,
    /// DTMF code that starts recording in `on_demand` mode; default `*1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_demand_dtmf: Option<String>,
}

/// Media settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMedia {
    /// First RTP port (even); default 10000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtp_port_min: Option<i64>,
    /// Last RTP port; default 20000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtp_port_max: Option<i64>,
    /// Seconds without media before a call is ended; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<i64>,
    /// Opus encoder complexity 0–10 (transcoded calls); default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opus_complexity: Option<i64>,
    /// Opus target bitrate in bit/s, 6000–510000; default 32000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opus_bitrate: Option<i64>,
    /// Opus in-band forward error correction; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opus_fec: Option<bool>,
    /// Opus discontinuous transmission; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opus_dtx: Option<bool>,
    /// Packet loss the Opus encoder expects, percent 0–100; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opus_expected_loss_pct: Option<i64>,
}

/// Registrar ban policy: ban a source address after too many failed
/// registrations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBanPolicy {
    /// Failures within the window that trigger a ban; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<i64>,
    /// Window in seconds; default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<i64>,
    /// Ban length in seconds; default 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_s: Option<i64>,
}
