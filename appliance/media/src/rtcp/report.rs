//! Sender report, receiver report and report blocks (RFC 3550 §6.4).

use super::{
    PT_RR, PT_SR, RtcpBuildError, RtcpError, be_u32, begin_packet, count_field, finish_packet, need,
};
use crate::ntp::NtpTime;
use crate::rtp::Ssrc;

const REPORT_BLOCK_LEN: usize = 24;

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    /// Source this block reports on.
    pub ssrc: Ssrc,
    /// Fraction lost since the previous report, 8-bit fixed point (/256).
    pub fraction_lost: u8,
    /// Cumulative packets lost: 24-bit signed on the wire, clamped to
    /// -8388608..=8388607 when written.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR from this source (0: none).
    pub last_sr: u32,
    /// Delay since that SR in 1/65536 s (0 if no SR received).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Largest cumulative loss a report block can carry.
    pub const CUMULATIVE_LOST_MAX: i32 = 0x7f_ffff;
    /// Smallest cumulative loss a report block can carry.
    pub const CUMULATIVE_LOST_MIN: i32 = -0x80_0000;

    fn parse(b: &[u8]) -> ReportBlock {
        let raw = be_u32(b, 4) & 0x00ff_ffff;
        // Sign-extend the 24-bit two's-complement value.
        let cumulative_lost = (raw << 8).cast_signed() >> 8;
        ReportBlock {
            ssrc: Ssrc(be_u32(b, 0)),
            fraction_lost: b[4],
            cumulative_lost,
            extended_highest_seq: be_u32(b, 8),
            jitter: be_u32(b, 12),
            last_sr: be_u32(b, 16),
            delay_since_last_sr: be_u32(b, 20),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let lost = self
            .cumulative_lost
            .clamp(Self::CUMULATIVE_LOST_MIN, Self::CUMULATIVE_LOST_MAX);
        let word = u32::from(self.fraction_lost) << 24 | (lost as u32 & 0x00ff_ffff);
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        out.extend_from_slice(&word.to_be_bytes());
        out.extend_from_slice(&self.extended_highest_seq.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }

    /// Fraction lost as a ratio in `0.0..1.0`.
    pub fn fraction_lost_ratio(&self) -> f64 {
        f64::from(self.fraction_lost) / 256.0
    }
}

fn parse_blocks(
    packet_type: u8,
    count: u8,
    body: &[u8],
    offset: usize,
) -> Result<Vec<ReportBlock>, RtcpError> {
    need(
        packet_type,
        body,
        offset + REPORT_BLOCK_LEN * usize::from(count),
    )?;
    Ok(body[offset..offset + REPORT_BLOCK_LEN * usize::from(count)]
        .chunks_exact(REPORT_BLOCK_LEN)
        .map(ReportBlock::parse)
        .collect())
}

/// Sender report (PT 200). Profile-specific extensions are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderReport {
    /// Sender's SSRC.
    pub ssrc: Ssrc,
    /// Wall-clock time when the report was sent.
    pub ntp_time: NtpTime,
    /// RTP timestamp corresponding to `ntp_time`.
    pub rtp_timestamp: u32,
    /// Packets sent since the start.
    pub packet_count: u32,
    /// Payload octets sent since the start.
    pub octet_count: u32,
    /// Reception report blocks (at most 31).
    pub reports: Vec<ReportBlock>,
}

impl SenderReport {
    pub(super) fn parse(count: u8, body: &[u8]) -> Result<Self, RtcpError> {
        need(PT_SR, body, 24)?;
        Ok(SenderReport {
            ssrc: Ssrc(be_u32(body, 0)),
            ntp_time: NtpTime(u64::from(be_u32(body, 4)) << 32 | u64::from(be_u32(body, 8))),
            rtp_timestamp: be_u32(body, 12),
            packet_count: be_u32(body, 16),
            octet_count: be_u32(body, 20),
            reports: parse_blocks(PT_SR, count, body, 24)?,
        })
    }

    /// Appends the packet to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpBuildError> {
        let start = begin_packet(out, count_field(self.reports.len())?, PT_SR);
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        out.extend_from_slice(&self.ntp_time.0.to_be_bytes());
        out.extend_from_slice(&self.rtp_timestamp.to_be_bytes());
        out.extend_from_slice(&self.packet_count.to_be_bytes());
        out.extend_from_slice(&self.octet_count.to_be_bytes());
        for r in &self.reports {
            r.write(out);
        }
        finish_packet(out, start);
        Ok(())
    }
}

/// Receiver report (PT 201). Profile-specific extensions are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverReport {
    /// Reporter's SSRC.
    pub ssrc: Ssrc,
    /// Reception report blocks (at most 31).
    pub reports: Vec<ReportBlock>,
}

impl ReceiverReport {
    pub(super) fn parse(count: u8, body: &[u8]) -> Result<Self, RtcpError> {
        need(PT_RR, body, 4)?;
        Ok(ReceiverReport {
            ssrc: Ssrc(be_u32(body, 0)),
            reports: parse_blocks(PT_RR, count, body, 4)?,
        })
    }

    /// Appends the packet to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpBuildError> {
        let start = begin_packet(out, count_field(self.reports.len())?, PT_RR);
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        for r in &self.reports {
            r.write(out);
        }
        finish_packet(out, start);
        Ok(())
    }
}
