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
///
/// Schema 1.1 widened `packets_lost`, `jitter_ms`, `loss_fraction` and
/// `codec` to nullable (unknown while the RTP source is on probation, when
/// nothing was expected in the interval, or for a dynamic payload type the
/// appliance cannot name) and added `cumulative_lost`, the peer's own view
/// (`remote_*`), its RFC 3611 `VoIP` metrics (`peer_xr`) and `last`.
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
    /// RTP packets expected but not received in the interval; `null` when
    /// unknown (source on probation).
    #[serde(default)]
    pub packets_lost: Option<u64>,
    /// Interarrival jitter (RFC 3550) of what this leg sends us,
    /// milliseconds; `null` before two packets.
    #[serde(default, serialize_with = "finite_opt")]
    pub jitter_ms: Option<f64>,
    /// Lost / expected packets in the interval, 0.0 to 1.0; `null` when
    /// nothing was expected.
    #[serde(default, serialize_with = "finite_opt")]
    pub loss_fraction: Option<f64>,
    /// Packets lost since the start of the leg's RTP source (RFC 3550
    /// cumulative; negative with duplicates); `null` when unknown.
    #[serde(default)]
    pub cumulative_lost: Option<i64>,
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
    /// The leg's endpoint's own report (RTCP report block) on what it
    /// receives from us: fraction lost, 0.0 to 1.0; `null` without RTCP.
    #[serde(default, serialize_with = "finite_opt")]
    pub remote_loss_fraction: Option<f64>,
    /// The endpoint's reported interarrival jitter, milliseconds; `null`
    /// without RTCP.
    #[serde(default, serialize_with = "finite_opt")]
    pub remote_jitter_ms: Option<f64>,
    /// The endpoint's RFC 3611 `VoIP` metrics, when it sends an XR.
    #[serde(default)]
    pub peer_xr: Option<PeerXr>,
    /// Codec on this leg during the interval; `null` when unknown.
    #[serde(default)]
    pub codec: Option<Codec>,
    /// The leg's last sample (the call ended).
    #[serde(default)]
    pub last: bool,
}

/// The RFC 3611 `VoIP` metrics an endpoint reported (values it marked
/// unavailable are `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerXr {
    /// Loss rate, 0.0 to 1.0.
    #[serde(serialize_with = "finite")]
    pub loss_rate: f64,
    /// Discard rate (jitter buffer), 0.0 to 1.0.
    #[serde(serialize_with = "finite")]
    pub discard_rate: f64,
    /// Burst density, 0.0 to 1.0.
    #[serde(serialize_with = "finite")]
    pub burst_density: f64,
    /// The endpoint's round-trip delay, milliseconds; `null` if not measured.
    #[serde(default)]
    pub round_trip_delay_ms: Option<u16>,
    /// Its R-factor; `null` when unavailable.
    #[serde(default)]
    pub r_factor: Option<u8>,
    /// Its MOS-LQ; `null` when unavailable.
    #[serde(default, serialize_with = "finite_opt")]
    pub mos_lq: Option<f64>,
    /// Its MOS-CQ; `null` when unavailable.
    #[serde(default, serialize_with = "finite_opt")]
    pub mos_cq: Option<f64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1.0 sample (required numbers, no 1.1 fields) still decodes.
    #[test]
    fn a_schema_1_0_sample_decodes_into_the_1_1_shape() {
        let v10 = r#"{"call_id":"c1","leg":"a","interval_start":"2026-11-21T10:14:50Z",
            "interval_end":"2026-11-21T10:15:00Z","packets_received":498,"packets_lost":2,
            "jitter_ms":3.25,"loss_fraction":0.004,"burst_loss":0.0,"rtt_ms":null,
            "r_factor":null,"mos":null,"codec":"g722"}"#;
        let s: LegSample = serde_json::from_str(v10).unwrap();
        assert_eq!(s.packets_lost, Some(2));
        assert_eq!(s.jitter_ms, Some(3.25));
        assert_eq!(s.codec, Some(Codec::G722));
        assert_eq!((s.cumulative_lost, s.peer_xr, s.last), (None, None, false));
    }
}
