//! Extended reports (RFC 3611) with the `VoIP` metrics block (§4.7, BT=7).
//! Other block types are skipped.

use super::{PT_XR, RtcpError, be_u16, be_u32, begin_packet, finish_packet, need};
use crate::rtp::Ssrc;

/// Block type of the `VoIP` metrics report block.
pub const BT_VOIP_METRICS: u8 = 7;
const VOIP_METRICS_WORDS: u16 = 8;
/// RFC 3611's "unavailable" value for the 8-bit metrics that define one.
const UNAVAILABLE: u8 = 127;

/// RFC 3611 §4.7 `VoIP` metrics, raw wire values plus decoding accessors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoipMetrics {
    /// Source these metrics describe.
    pub ssrc: Ssrc,
    /// Loss rate, fraction of packets lost ×256.
    pub loss_rate: u8,
    /// Discard rate (late or early for the jitter buffer) ×256.
    pub discard_rate: u8,
    /// Burst density ×256.
    pub burst_density: u8,
    /// Gap density ×256.
    pub gap_density: u8,
    /// Mean burst duration in ms.
    pub burst_duration_ms: u16,
    /// Mean gap duration in ms.
    pub gap_duration_ms: u16,
    /// Most recent round-trip delay in ms (0: not measured).
    pub round_trip_delay_ms: u16,
    /// End-system delay in ms (0: not measured).
    pub end_system_delay_ms: u16,
    /// Signal level in dBm0 (127: unavailable).
    pub signal_level: i8,
    /// Noise level in dBm0 (127: unavailable).
    pub noise_level: i8,
    /// Residual echo return loss in dB (127: unavailable).
    pub rerl: u8,
    /// Gap threshold (packets received in a row to end a burst).
    pub gmin: u8,
    /// R factor 0..=100 (127: unavailable).
    pub r_factor: u8,
    /// External R factor (127: unavailable).
    pub ext_r_factor: u8,
    /// MOS listening quality ×10 (127: unavailable).
    pub mos_lq: u8,
    /// MOS conversational quality ×10 (127: unavailable).
    pub mos_cq: u8,
    /// Receiver configuration byte (PLC, jitter buffer adaptive/rate).
    pub rx_config: u8,
    /// Nominal jitter buffer delay in ms.
    pub jb_nominal_ms: u16,
    /// Maximum jitter buffer delay in ms.
    pub jb_maximum_ms: u16,
    /// Absolute maximum jitter buffer delay in ms.
    pub jb_abs_max_ms: u16,
}

fn available(v: u8) -> Option<u8> {
    (v != UNAVAILABLE).then_some(v)
}

impl VoipMetrics {
    fn parse(b: &[u8]) -> VoipMetrics {
        VoipMetrics {
            ssrc: Ssrc(be_u32(b, 0)),
            loss_rate: b[4],
            discard_rate: b[5],
            burst_density: b[6],
            gap_density: b[7],
            burst_duration_ms: be_u16(b, 8),
            gap_duration_ms: be_u16(b, 10),
            round_trip_delay_ms: be_u16(b, 12),
            end_system_delay_ms: be_u16(b, 14),
            signal_level: b[16].cast_signed(),
            noise_level: b[17].cast_signed(),
            rerl: b[18],
            gmin: b[19],
            r_factor: b[20],
            ext_r_factor: b[21],
            mos_lq: b[22],
            mos_cq: b[23],
            rx_config: b[24],
            // b[25] reserved
            jb_nominal_ms: be_u16(b, 26),
            jb_maximum_ms: be_u16(b, 28),
            jb_abs_max_ms: be_u16(b, 30),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[BT_VOIP_METRICS, 0]);
        out.extend_from_slice(&VOIP_METRICS_WORDS.to_be_bytes());
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        out.extend_from_slice(&[
            self.loss_rate,
            self.discard_rate,
            self.burst_density,
            self.gap_density,
        ]);
        for v in [
            self.burst_duration_ms,
            self.gap_duration_ms,
            self.round_trip_delay_ms,
            self.end_system_delay_ms,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&[
            self.signal_level.cast_unsigned(),
            self.noise_level.cast_unsigned(),
            self.rerl,
            self.gmin,
            self.r_factor,
            self.ext_r_factor,
            self.mos_lq,
            self.mos_cq,
            self.rx_config,
            0,
        ]);
        for v in [self.jb_nominal_ms, self.jb_maximum_ms, self.jb_abs_max_ms] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Loss rate as a ratio.
    pub fn loss_ratio(&self) -> f64 {
        f64::from(self.loss_rate) / 256.0
    }

    /// R factor, `None` when the reporter marked it unavailable.
    pub fn r_factor(&self) -> Option<u8> {
        available(self.r_factor)
    }

    /// MOS-LQ (1.0..=5.0), `None` when unavailable.
    pub fn mos_lq(&self) -> Option<f64> {
        available(self.mos_lq).map(|v| f64::from(v) / 10.0)
    }

    /// MOS-CQ (1.0..=5.0), `None` when unavailable.
    pub fn mos_cq(&self) -> Option<f64> {
        available(self.mos_cq).map(|v| f64::from(v) / 10.0)
    }

    /// Round-trip delay, `None` when the reporter did not measure it (0).
    pub fn round_trip_delay(&self) -> Option<std::time::Duration> {
        (self.round_trip_delay_ms != 0)
            .then(|| std::time::Duration::from_millis(u64::from(self.round_trip_delay_ms)))
    }
}

/// Extended report packet (PT 207): `VoIP` metrics blocks are decoded, all
/// other block types are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedReport {
    /// Reporter's SSRC.
    pub ssrc: Ssrc,
    /// `VoIP` metrics blocks in wire order.
    pub voip_metrics: Vec<VoipMetrics>,
}

impl ExtendedReport {
    pub(super) fn parse(body: &[u8]) -> Result<Self, RtcpError> {
        need(PT_XR, body, 4)?;
        let ssrc = Ssrc(be_u32(body, 0));
        let mut voip_metrics = Vec::new();
        let mut at = 4;
        while at < body.len() {
            need(PT_XR, body, at + 4)?;
            let block_type = body[at];
            let words = be_u16(body, at + 2);
            let end = at + 4 + 4 * usize::from(words);
            need(PT_XR, body, end)?;
            if block_type == BT_VOIP_METRICS && words == VOIP_METRICS_WORDS {
                voip_metrics.push(VoipMetrics::parse(&body[at + 4..end]));
            }
            at = end;
        }
        Ok(ExtendedReport { ssrc, voip_metrics })
    }

    /// Appends the packet to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let start = begin_packet(out, 0, PT_XR);
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        for m in &self.voip_metrics {
            m.write(out);
        }
        finish_packet(out, start);
    }
}
