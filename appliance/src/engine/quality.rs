//! Quality samples from the media relays: converted into the MQTT
//! contract's [`LegSample`] (wall-clock interval, the CDR's `call_id`) for
//! the store, and aggregated into Prometheus histograms and counters for
//! `/metrics`. No per-call labels: the histograms hold one observation per
//! leg sample (every 5 s per leg and at call end).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use voip_media::quality::{Codec as RatedCodec, QualitySample};
use voip_shared::mqtt::{Codec, Leg, LegSample, PeerXr};

/// A Prometheus histogram with fixed buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        for (bound, count) in self.bounds.iter().zip(&mut self.counts) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

const MOS_BUCKETS: &[f64] = &[1.0, 2.0, 2.6, 3.1, 3.6, 4.0, 4.3, 4.5];
const JITTER_MS_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0];
const RTT_MS_BUCKETS: &[f64] = &[10.0, 25.0, 50.0, 100.0, 150.0, 200.0, 300.0, 500.0, 1000.0];
const LOSS_BUCKETS: &[f64] = &[0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];

/// Aggregates of every leg sample the engine received.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityMetrics {
    /// MOS of samples with a known MOS.
    pub mos: Histogram,
    /// Interarrival jitter (ms) of samples with known jitter.
    pub jitter_ms: Histogram,
    /// RTT (ms) of samples with a known RTT.
    pub rtt_ms: Histogram,
    /// Loss fraction of samples with known loss.
    pub loss: Histogram,
    /// Leg samples received.
    pub samples: u64,
    /// Samples whose MOS was unknown.
    pub mos_unknown: u64,
    /// Samples whose RTT was unknown.
    pub rtt_unknown: u64,
    /// RTP packets received on relayed and echoed legs (sum over samples).
    pub packets_received: u64,
    /// RTP packets lost on them (sum over samples with known loss).
    pub packets_lost: u64,
}

impl Default for QualityMetrics {
    fn default() -> Self {
        QualityMetrics {
            mos: Histogram::new(MOS_BUCKETS),
            jitter_ms: Histogram::new(JITTER_MS_BUCKETS),
            rtt_ms: Histogram::new(RTT_MS_BUCKETS),
            loss: Histogram::new(LOSS_BUCKETS),
            samples: 0,
            mos_unknown: 0,
            rtt_unknown: 0,
            packets_received: 0,
            packets_lost: 0,
        }
    }
}

impl QualityMetrics {
    /// Counts one sample.
    pub fn observe(&mut self, s: &QualitySample) {
        self.samples += 1;
        self.packets_received += s.packets_received;
        self.packets_lost += s.packets_lost.unwrap_or(0);
        match s.mos {
            Some(m) => self.mos.observe(m),
            None => self.mos_unknown += 1,
        }
        match s.rtt_ms {
            Some(r) => self.rtt_ms.observe(r),
            None => self.rtt_unknown += 1,
        }
        if let Some(j) = s.jitter_ms {
            self.jitter_ms.observe(j);
        }
        if let Some(l) = s.loss_fraction {
            self.loss.observe(l);
        }
    }

    /// Prometheus text for `/metrics`.
    pub fn render_prometheus(&self, out: &mut String) {
        self.mos.render(
            out,
            "voip_call_mos",
            "E-model MOS of call-leg quality samples (5 s intervals and call end), when known.",
        );
        self.jitter_ms.render(
            out,
            "voip_rtp_jitter_ms",
            "RFC 3550 interarrival jitter of call-leg quality samples, milliseconds.",
        );
        self.rtt_ms.render(
            out,
            "voip_rtcp_rtt_ms",
            "Round-trip time appliance to endpoint from RTCP, per call-leg sample, when known.",
        );
        self.loss.render(
            out,
            "voip_rtp_loss_fraction",
            "Packet loss fraction of call-leg quality samples, when known.",
        );
        for (name, help, value) in [
            (
                "voip_quality_samples_total",
                "Call-leg quality samples taken.",
                self.samples,
            ),
            (
                "voip_quality_samples_mos_unknown_total",
                "Call-leg quality samples without a MOS (no RTCP round trip, no loss figure or unknown codec).",
                self.mos_unknown,
            ),
            (
                "voip_quality_samples_rtt_unknown_total",
                "Call-leg quality samples without a round-trip time (the peer sent no RTCP answering an SR).",
                self.rtt_unknown,
            ),
            (
                "voip_rtp_packets_received_total",
                "RTP packets received from call legs (quality samples).",
                self.packets_received,
            ),
            (
                "voip_rtp_packets_lost_total",
                "RTP packets lost on the way from call legs to the appliance (quality samples).",
                self.packets_lost,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {value}");
        }
    }
}

fn codec_name(codec: RatedCodec) -> Codec {
    match codec {
        RatedCodec::Pcmu => Codec::PCMU,
        RatedCodec::Pcma => Codec::PCMA,
        RatedCodec::G722 => Codec::G722,
        RatedCodec::Opus { .. } => Codec(Cow::Borrowed("opus")),
    }
}

/// The wall-clock time of `at`, given that `now` is `now_unix` since the
/// Unix epoch.
fn wall(at: Instant, now: Instant, now_unix: Duration) -> OffsetDateTime {
    let unix = if at <= now {
        now_unix.saturating_sub(now - at)
    } else {
        now_unix + (at - now)
    };
    let nanos = i128::try_from(unix.as_nanos()).unwrap_or(i128::MAX);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The MQTT shape of a sample of call `call_id`.
pub fn leg_sample(call_id: &str, s: &QualitySample, now: Instant, now_unix: Duration) -> LegSample {
    LegSample {
        call_id: call_id.to_owned(),
        leg: match s.leg {
            voip_media::Leg::A => Leg::A,
            voip_media::Leg::B => Leg::B,
        },
        interval_start: wall(s.interval_start, now, now_unix),
        interval_end: wall(s.interval_end, now, now_unix),
        packets_received: s.packets_received,
        packets_lost: s.packets_lost,
        jitter_ms: s.jitter_ms,
        loss_fraction: s.loss_fraction,
        cumulative_lost: s.cumulative_lost,
        burst_loss: s.burst_loss,
        rtt_ms: s.rtt_ms,
        r_factor: s.r_factor,
        mos: s.mos,
        remote_loss_fraction: s.remote.map(|r| r.loss_fraction),
        remote_jitter_ms: s.remote.map(|r| r.jitter_ms),
        peer_xr: s.xr.map(|x| PeerXr {
            loss_rate: x.loss_ratio(),
            discard_rate: f64::from(x.discard_rate) / 256.0,
            burst_density: f64::from(x.burst_density) / 256.0,
            round_trip_delay_ms: (x.round_trip_delay_ms != 0).then_some(x.round_trip_delay_ms),
            r_factor: x.r_factor(),
            mos_lq: x.mos_lq(),
            mos_cq: x.mos_cq(),
        }),
        codec: s.codec.map(codec_name),
        last: s.last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_skip_non_finite_values() {
        let mut h = Histogram::new(MOS_BUCKETS);
        for v in [1.5, 4.1, 4.4, f64::NAN] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "m", "help");
        assert!(out.contains("m_bucket{le=\"2\"} 1"), "{out}");
        assert!(out.contains("m_bucket{le=\"4.3\"} 2"), "{out}");
        assert!(out.contains("m_bucket{le=\"4.5\"} 3"), "{out}");
        assert!(out.contains("m_bucket{le=\"+Inf\"} 3"), "{out}");
        assert!(out.contains("m_count 3"), "{out}");
    }

    #[test]
    fn wall_clock_maps_instants_before_and_after_now() {
        let earlier = Instant::now();
        let now = earlier + Duration::from_secs(5);
        let unix = Duration::from_mins(29_395_335);
        assert_eq!(wall(earlier, now, unix).unix_timestamp(), 1_763_720_095);
        assert_eq!(
            wall(now + Duration::from_secs(1), now, unix).unix_timestamp(),
            1_763_720_101
        );
    }
}
