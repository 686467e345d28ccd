//! Sans-IO media: RTP (RFC 3550) and RTCP (RFC 3550 §6, RFC 3611 `VoIP`
//! metrics) packets, per-source receiver statistics (RFC 3550 A.1, A.3, A.8),
//! and the relay core that forwards one call's media between two legs.
//!
//! Nothing here touches a socket or reads the clock. Time-dependent inputs
//! take `now: std::time::Instant` (as str0m and quinn do); tests drive a
//! virtual clock by adding `Duration`s to one fixed `Instant`. Outputs are
//! drained with `poll_*` methods.
//!
//! Layout:
//! - [`rtp`]: zero-copy RTP header view and owned header builder.
//! - [`seq`]: sequence-number newtype and the RFC 3550 A.1 validator.
//! - [`rtcp`]: compound RTCP iterator, SR/RR/SDES/BYE/XR, RTP/RTCP demux.
//! - [`ntp`]: NTP timestamps and the instant-to-NTP mapping used for RTT.
//! - [`stats`]: receiver statistics and round-trip time estimation.
//! - [`quality`]: per-leg quality monitor (samples with R/MOS, our own SR/RR).
//! - [`jitter`]: adaptive jitter buffer for the receiving side of a transcoding leg.
//! - [`latch`]: symmetric-RTP latching with RTP-bleed protection (relay and bridge).
//! - [`relay`]: the two-leg relay with symmetric-RTP latching and media timeout.
//! - [`codec`]: G.711 µ/A-law, G.722, Opus encoders and decoders with concealment.
//! - [`resample`]: streaming band-limited resampler (8/16/48 kHz).
//! - [`dtmf`]: RFC 4733 events, translation between legs, SIP INFO dtmf-relay.
//! - [`bridge`]: the transcoding bridge (jitter buffer, decode/PLC/FEC, resample, encode, DTMF, PCM tap).
//! - `testing` (feature `testing`): seeded PRNG and in-memory lossy link.
#![forbid(unsafe_code)]

pub mod bridge;
pub mod codec;
pub mod dtmf;
pub mod jitter;
pub mod latch;
pub mod ntp;
pub mod quality;
pub mod relay;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod seq;
pub mod stats;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use ntp::{NtpClock, NtpTime};
pub use quality::{LegMonitor, MonitorConfig, QualitySample, RemoteView, Reporting};
pub use relay::{
    Event, LatchConfig, Leg, LegConfig, LegCounters, MediaDirection, Port, Relay, RelayConfig,
    Transmit,
};
pub use rtcp::{PacketKind, RtcpError, RtcpPacket, classify};
pub use rtp::{PayloadType, RtpError, RtpHeader, RtpPacket, Ssrc};
pub use seq::{IntervalCounts, SeqNo, SeqOutcome, SequenceValidator};
pub use stats::{ReceiverStats, RttTracker, SourceQuality, rtt_from_report_block};
