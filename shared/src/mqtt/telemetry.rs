//! `telemetry`: per-leg quality samples and appliance gauges.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::wire::{finite, finite_opt};
use super::{ApplianceId, SchemaVersion};

/// One side of a B2BUA call: `a` is the caller's leg, `b` the callee's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leg {
    /// The calling party's leg.
    A,
    /// The called party's leg.
    B,
}

/// An audio codec, by its lowercase RTP encoding name. Open set: a codec
/// added later decodes as its name instead of failing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Codec(pub Cow<'static, str>);

impl Codec {
    /// G.711 µ-law.
    pub const PCMU: Codec = Codec(Cow::Borrowed("pcmu"));
    /// G.711 A-law.
    pub const PCMA: Codec = Codec(Cow::Borrowed("pcma"));
    /// G.722.
    pub const G722: Codec = Codec(Cow::Borrowed("g722"));
    /// Opus.
    pub const OPUS: Codec = Codec(Cow::Borrowed("opus"));

    /// The codec name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Quality of one call leg over one measurement interval.
///
/// Optional metrics are `null` when unknown; a reader must never substitute
/// a default (an RTT of 0 ms would be a lie that flatters the MOS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegSample {
    /// The call this leg belongs to (matches the CDR's `call_id`).
    pub call_id: String,
    /// Which leg.
    pub leg: Leg,
    /// Start of the interval (inclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub interval_start: OffsetDateTime,
    /// End of the interval (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub interval_end: OffsetDateTime,
    /// RTP packets received from this leg in the interval.
    pub packets_received: u64,
    /// RTP packets expected but not received in the interval.
    pub packets_lost: u64,
    /// Interarrival jitter (RFC 3550), milliseconds.
    #[serde(serialize_with = "finite")]
    pub jitter_ms: f64,
    /// Lost / expected packets, 0.0 to 1.0.
    #[serde(serialize_with = "finite")]
    pub loss_fraction: f64,
    /// Fraction of packets lost within bursts (RFC 3611 burst density),
    /// 0.0 to 1.0; `null` when not measured.
    #[serde(serialize_with = "finite_opt")]
    pub burst_loss: Option<f64>,
    /// Round-trip time from RTCP or ICE, milliseconds; `null` when unknown.
    #[serde(serialize_with = "finite_opt")]
    pub rtt_ms: Option<f64>,
    /// E-model R-factor (ITU-T G.107), 0 to 100; `null` when not computed.
    #[serde(serialize_with = "finite_opt")]
    pub r_factor: Option<f64>,
    /// Mean opinion score derived from the R-factor, 1.0 to 4.5; `null`
    /// when not computed.
    #[serde(serialize_with = "finite_opt")]
    pub mos: Option<f64>,
    /// Codec on this leg during the interval.
    pub codec: Codec,
}

/// Appliance-wide gauges at the batch's timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gauges {
    /// Calls in progress.
    pub active_calls: u32,
    /// Endpoints (phones, browsers) with at least one registered contact.
    pub registered_endpoints: u32,
    /// CPU use over all cores, 0.0 to 100.0 percent.
    #[serde(serialize_with = "finite")]
    pub cpu_percent: f64,
    /// Memory in use, bytes.
    pub mem_used_bytes: u64,
    /// Free space on the data partition, bytes.
    pub disk_free_bytes: u64,
    /// Records in the outbox not yet acknowledged by the cloud.
    pub outbox_backlog: u64,
}

/// Payload of `telemetry` (appliance to cloud): one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    /// Schema version of this payload.
    pub schema: SchemaVersion,
    /// The publishing appliance.
    pub appliance_id: ApplianceId,
    /// Record sequence number, shared with `events`.
    pub seq: u64,
    /// When the batch was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub ts: OffsetDateTime,
    /// Quality samples of the legs active in the interval (may be empty).
    pub samples: Vec<LegSample>,
    /// Appliance gauges.
    pub gauges: Gauges,
}
