//! The validated, typed site configuration. Built only by validation
//! ([`RawSiteConfig::validate`](super::RawSiteConfig::validate) and the
//! `from_*` constructors of [`SiteConfig`]); every value in it is in range
//! and every reference resolves.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::net::Cidr;
use super::pattern::DialPlan;
use crate::number::NumberClass;

/// A digest algorithm the registrar and the B2BUA may challenge with
/// (RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DigestAlgorithm {
    /// SHA-256 (RFC 8760); offered first when enabled.
    #[serde(rename = "SHA-256")]
    Sha256,
    /// MD5 (RFC 2617), what most phones speak.
    #[serde(rename = "MD5")]
    Md5,
}

impl DigestAlgorithm {
    /// The name as written in the configuration and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Md5 => "MD5",
        }
    }
}

/// SIP transport of a trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// UDP (default port 5060).
    Udp,
    /// TCP (default port 5060).
    Tcp,
    /// TLS over TCP (default port 5061).
    Tls,
}

impl Transport {
    /// The default port of the transport.
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp => 5060,
            Transport::Tls => 5061,
        }
    }
}

/// SRTP policy of a trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SrtpMode {
    /// Plain RTP only.
    Off,
    /// Offer SRTP, accept RTP.
    Optional,
    /// SRTP or no call.
    Required,
}

/// A codec, in the order of preference it is listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Codec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722 wideband.
    G722,
    /// Opus.
    Opus,
    /// RFC 4733 DTMF events (not an audio codec).
    TelephoneEvent,
}

impl Codec {
    /// Whether the codec carries audio (everything but telephone-event).
    pub fn is_audio(self) -> bool {
        !matches!(self, Codec::TelephoneEvent)
    }
}

/// When calls are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingMode {
    /// Never.
    Never,
    /// Every call.
    Always,
    /// When a participant dials the on-demand DTMF code.
    OnDemand,
}

/// Recording file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingFormat {
    /// Opus in Ogg.
    OggOpus,
    /// PCM WAV.
    Wav,
}

/// A validated site configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SiteConfig {
    /// Revision assigned by the cloud; 0 for local files.
    pub revision: u64,
    /// Name of the site.
    pub site_name: String,
    /// Tenant id.
    pub tenant: String,
    /// Trunks, in document order.
    pub trunks: Vec<Trunk>,
    /// Extensions, in document order.
    pub extensions: Vec<Extension>,
    /// The dial plan.
    pub dial_plan: DialPlan,
    /// Permission profiles.
    pub permission_profiles: Vec<PermissionProfile>,
    /// Recording policies.
    pub recording_policies: Vec<RecordingPolicy>,
    /// Number of the echo test.
    pub echo_test_number: String,
    /// Media settings.
    pub media: MediaSettings,
    /// Registrar ban policy.
    pub registrar_ban: BanPolicy,
    /// Digest algorithms challenged with, in RFC 8760 order (SHA-256
    /// before MD5); never empty. Default `[MD5]`.
    pub digest_algorithms: Vec<DigestAlgorithm>,
}

impl SiteConfig {
    /// The trunk with `id`.
    pub fn trunk(&self, id: &str) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.id == id)
    }

    /// Trunks ordered by priority (most preferred first).
    pub fn trunks_by_priority(&self) -> Vec<&Trunk> {
        let mut trunks: Vec<&Trunk> = self.trunks.iter().collect();
        trunks.sort_by_key(|t| t.priority);
        trunks
    }

    /// The extension with `number`.
    pub fn extension(&self, number: &str) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.number == number)
    }

    /// The permission profile called `name`.
    pub fn permission_profile(&self, name: &str) -> Option<&PermissionProfile> {
        self.permission_profiles.iter().find(|p| p.name == name)
    }

    /// The recording policy called `name`.
    pub fn recording_policy(&self, name: &str) -> Option<&RecordingPolicy> {
        self.recording_policies.iter().find(|p| p.name == name)
    }
}

/// A SIP trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Trunk {
    /// Unique id.
    pub id: String,
    /// Provider host name or IP address.
    pub host: String,
    /// Port as configured (1..=65535); `None` when the site file gives no
    /// port: the appliance then locates the servers with DNS SRV for a host
    /// name (RFC 3263 §4.2) and uses [`Transport::default_port`] for an IP
    /// literal. See [`Trunk::port_or_default`].
    pub port: Option<u16>,
    /// Transport.
    pub transport: Transport,
    /// Name of the credentials entry in the secrets file.
    pub credentials: String,
    /// SIP username.
    pub username: String,
    /// Fixed authentication realm, if any.
    pub realm: Option<String>,
    /// Whether to REGISTER.
    pub register: bool,
    /// Requested registration expiry.
    pub register_expiry: Duration,
    /// Lower is preferred; unique.
    pub priority: u32,
    /// Codecs in order of preference (at least one audio codec).
    pub codecs: Vec<Codec>,
    /// Inbound numbers.
    pub dids: Vec<Did>,
    /// Networks inbound calls may come from; `None`: the resolved host.
    pub allowed_sources: Option<Vec<Cidr>>,
    /// SRTP policy.
    pub srtp: SrtpMode,
    /// OPTIONS keepalive interval; `None` when disabled.
    pub options_interval: Option<Duration>,
    /// Name of its recording policy (exists), if any.
    pub recording_policy: Option<String>,
}

impl Trunk {
    /// The configured port, else the transport's default port (5060 for
    /// UDP and TCP, 5061 for TLS).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.transport.default_port())
    }
}

/// An inbound number and the extension it rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Did {
    /// E.164 number.
    pub number: String,
    /// Extension number it rings (exists).
    pub extension: String,
}

/// An internal extension.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extension {
    /// Extension number (2 to 6 digits).
    pub number: String,
    /// Name shown to callees.
    pub display_name: String,
    /// Cloud user id, if linked.
    pub user_id: Option<String>,
    /// Name of the credentials entry in the secrets file.
    pub credentials: String,
    /// Codecs in order of preference (at least one audio codec).
    pub codecs: Vec<Codec>,
    /// Name of its permission profile (exists).
    pub permission_profile: String,
    /// Name of its recording policy (exists), if any.
    pub recording_policy: Option<String>,
    /// Maximum simultaneous registrations.
    pub max_contacts: u32,
}

/// A permission profile. Emergency calls are always allowed: the set of
/// allowed classes always contains [`NumberClass::Emergency`], whatever the
/// document lists, and [`allows`](Self::allows) answers `true` for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermissionProfile {
    /// Unique name.
    pub name: String,
    allowed: BTreeSet<NumberClass>,
    /// Simultaneous calls allowed.
    pub max_concurrent_calls: u32,
    /// Longest call allowed.
    pub max_call_duration: Duration,
    /// Outbound minutes per day, if limited.
    pub daily_minutes: Option<u32>,
}

impl PermissionProfile {
    /// Builds a profile; `Emergency` is added to `allowed` whatever it holds,
    /// and `Invalid` is never allowed.
    pub fn new(
        name: String,
        allowed: impl IntoIterator<Item = NumberClass>,
        max_concurrent_calls: u32,
        max_call_duration: Duration,
        daily_minutes: Option<u32>,
    ) -> Self {
        let mut allowed: BTreeSet<NumberClass> = allowed
            .into_iter()
            .filter(|c| *c != NumberClass::Invalid)
            .collect();
        allowed.insert(NumberClass::Emergency);
        Self {
            name,
            allowed,
            max_concurrent_calls,
            max_call_duration,
            daily_minutes,
        }
    }

    /// Whether callers with this profile may dial numbers of `class`.
    /// Always `true` for [`NumberClass::Emergency`].
    pub fn allows(&self, class: NumberClass) -> bool {
        class == NumberClass::Emergency || self.allowed.contains(&class)
    }

    /// The allowed classes (always including `Emergency`).
    pub fn allowed_classes(&self) -> &BTreeSet<NumberClass> {
        &self.allowed
    }
}

/// A recording policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingPolicy {
    /// Unique name.
    pub name: String,
    /// When to record.
    pub mode: RecordingMode,
    /// Whether to play a consent announcement.
    pub consent_announcement: bool,
    /// File format.
    pub format: RecordingFormat,
    /// Days recordings are kept.
    pub retention_days: u32,
    /// DTMF code that starts recording in on-demand mode.
    pub on_demand_dtmf: String,
}

/// Media settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaSettings {
    /// First RTP port (even).
    pub rtp_port_min: u16,
    /// Last RTP port (at least 100 ports in the range).
    pub rtp_port_max: u16,
    /// Time without media after which a call is ended.
    pub timeout: Duration,
    /// Opus encoder settings for transcoded calls.
    pub opus: OpusConfig,
}

/// The Opus encoder settings of a site (`media.opus_*`), used where the
/// appliance encodes Opus itself (transcoded calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpusConfig {
    /// Encoder complexity 0–10 (higher costs more CPU).
    pub complexity: u8,
    /// Target bitrate in bit/s (6000–510000).
    pub bitrate_bps: u32,
    /// In-band forward error correction.
    pub fec: bool,
    /// Discontinuous transmission.
    pub dtx: bool,
    /// Packet loss the encoder expects, percent (0–100).
    pub expected_loss_pct: u8,
}

impl Default for OpusConfig {
    /// Complexity 5, 32 kbit/s, FEC on, DTX off, 5 % expected loss.
    fn default() -> Self {
        OpusConfig {
            complexity: 5,
            bitrate_bps: 32_000,
            fec: true,
            dtx: false,
            expected_loss_pct: 5,
        }
    }
}

/// Registrar ban policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BanPolicy {
    /// Failures within [`window`](Self::window) that trigger a ban.
    pub max_failures: u32,
    /// The counting window.
    pub window: Duration,
    /// How long a source is banned.
    pub ban: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emergency_is_allowed_whatever_the_profile_lists() {
        let p = PermissionProfile::new(
            "alleen-intern".into(),
            [NumberClass::Internal, NumberClass::Invalid],
            1,
            Duration::from_mins(1),
            None,
        );
        assert!(p.allows(NumberClass::Emergency));
        assert!(p.allowed_classes().contains(&NumberClass::Emergency));
        assert!(p.allows(NumberClass::Internal));
        assert!(!p.allows(NumberClass::Mobile));
        assert!(!p.allows(NumberClass::Invalid));
    }
}
