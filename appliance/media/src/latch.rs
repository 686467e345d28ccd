//! Symmetric-RTP latching with RTP-bleed protection, per call leg; shared by
//! the relay ([`crate::relay`]) and the transcoding bridge
//! ([`crate::bridge`]) so both apply the same rules.
//!
//! Each leg has the address its SDP signalled. A phone behind NAT sends from
//! a different address, so the leg *latches* to the source of the first
//! valid packet, but only
//! - within the latch window: the first [`LatchConfig::max_packets`] packets
//!   arriving on that port and [`LatchConfig::window`] after the leg
//!   started (or after [`LegLatch::set_remote`] changed the signalled address);
//! - from the signalled address family (IPv4 vs IPv6).
//!
//! After the window only the signalled address itself may latch. Once
//! latched, packets from any other source are rejected (the caller counts
//! them). Re-latching is off by default; with
//! [`LatchConfig::relatch_after_silence`] set, a new source (of the right
//! family) may take over after the latched source has been silent that long.
//!
//! RTP and RTCP latch separately unless the leg uses rtcp-mux (RFC 5761).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One side of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The first leg (usually the caller).
    A,
    /// The second leg (usually the callee).
    B,
}

impl Leg {
    /// The opposite leg.
    #[must_use]
    pub fn other(self) -> Leg {
        match self {
            Leg::A => Leg::B,
            Leg::B => Leg::A,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Leg::A => 0,
            Leg::B => 1,
        }
    }
}

/// Which of a leg's two local ports a datagram used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    /// The RTP port (also carries RTCP with rtcp-mux).
    Rtp,
    /// The RTCP port (RTP port + 1, or the `a=rtcp` port).
    Rtcp,
}

/// The addresses one leg's SDP signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegConfig {
    /// RTP address from `c=`/`m=`.
    pub rtp: SocketAddr,
    /// RTCP address; `None` means rtcp-mux (RTCP on the RTP address).
    pub rtcp: Option<SocketAddr>,
}

impl LegConfig {
    /// RTCP on RTP port + 1 (RFC 3550 §11 default). An RTP port of 65535
    /// has no port + 1; RTCP is then muxed.
    pub fn with_rtcp_port_plus_one(rtp: SocketAddr) -> Self {
        LegConfig {
            rtp,
            rtcp: rtp
                .port()
                .checked_add(1)
                .map(|p| SocketAddr::new(rtp.ip(), p)),
        }
    }

    /// RTP and RTCP multiplexed on one port (RFC 5761).
    pub fn muxed(rtp: SocketAddr) -> Self {
        LegConfig { rtp, rtcp: None }
    }

    fn signalled(&self, port: Port) -> SocketAddr {
        match port {
            Port::Rtp => self.rtp,
            Port::Rtcp => self.rtcp.unwrap_or(self.rtp),
        }
    }
}

/// Latching policy (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatchConfig {
    /// Latching is allowed only among the first this many packets on a port.
    pub max_packets: u32,
    /// Latching is allowed only this long after start / [`LegLatch::set_remote`].
    pub window: Duration,
    /// `None`: never re-latch. `Some(d)`: a new source may take over after
    /// the latched one has been silent for `d`.
    pub relatch_after_silence: Option<Duration>,
}

impl Default for LatchConfig {
    fn default() -> Self {
        LatchConfig {
            max_packets: 20,
            window: Duration::from_secs(10),
            relatch_after_silence: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Latch {
    Open {
        packets_seen: u32,
    },
    Latched {
        source: SocketAddr,
        last_seen: Instant,
    },
}

impl Latch {
    fn source(&self) -> Option<SocketAddr> {
        match self {
            Latch::Open { .. } => None,
            Latch::Latched { source, .. } => Some(*source),
        }
    }
}

/// What [`LegLatch::admit`] decided about one well-formed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// From the latched source.
    Accepted,
    /// Accepted, and the port (as reported: `Rtp` with rtcp-mux) latched to it now.
    Latched(Port),
    /// Foreign source or wrong address family: drop and count.
    Rejected,
}

/// One leg's signalled addresses and latches.
#[derive(Debug, Clone)]
pub struct LegLatch {
    remote: LegConfig,
    /// Index 0: RTP port latch (also RTCP with mux); 1: RTCP port latch.
    latches: [Latch; 2],
    window_start: Instant,
}

impl LegLatch {
    /// A leg whose SDP signalled `remote`, latch window opening at `now`.
    pub fn new(now: Instant, remote: LegConfig) -> Self {
        LegLatch {
            remote,
            latches: [Latch::Open { packets_seen: 0 }; 2],
            window_start: now,
        }
    }

    /// The signalled addresses.
    pub fn remote(&self) -> LegConfig {
        self.remote
    }

    /// Whether RTP and RTCP share one port (rtcp-mux).
    pub fn is_muxed(&self) -> bool {
        self.remote.rtcp.is_none()
    }

    /// New signalled addresses (re-INVITE): drops the latches and reopens
    /// the window from `now`.
    pub fn set_remote(&mut self, now: Instant, remote: LegConfig) {
        self.remote = remote;
        self.latches = [Latch::Open { packets_seen: 0 }; 2];
        self.window_start = now;
    }

    /// Source a port latched to, if any (with rtcp-mux both ports answer
    /// for the shared one).
    pub fn latched(&self, port: Port) -> Option<SocketAddr> {
        self.latches[self.latch_index(port)].source()
    }

    fn latch_index(&self, port: Port) -> usize {
        match (port, self.remote.rtcp) {
            (Port::Rtcp, Some(_)) => 1,
            _ => 0,
        }
    }

    /// Decides whether a well-formed packet from `source` on `port` is
    /// accepted; latches if the policy allows.
    pub fn admit(
        &mut self,
        now: Instant,
        port: Port,
        source: SocketAddr,
        cfg: &LatchConfig,
    ) -> Admission {
        let signalled = self.remote.signalled(port);
        let same_family = source.is_ipv4() == signalled.is_ipv4();
        let in_window = now.saturating_duration_since(self.window_start) < cfg.window;
        let idx = self.latch_index(port);
        let reported = if self.remote.rtcp.is_none() {
            Port::Rtp
        } else {
            port
        };
        let latch = &mut self.latches[idx];
        match latch {
            Latch::Latched {
                source: s,
                last_seen,
            } => {
                if *s == source {
                    *last_seen = now;
                    Admission::Accepted
                } else if same_family
                    && cfg
                        .relatch_after_silence
                        .is_some_and(|d| now.saturating_duration_since(*last_seen) >= d)
                {
                    *latch = Latch::Latched {
                        source,
                        last_seen: now,
                    };
                    Admission::Latched(reported)
                } else {
                    Admission::Rejected
                }
            }
            Latch::Open { packets_seen } => {
                *packets_seen = packets_seen.saturating_add(1);
                let allowed = same_family
                    && ((in_window && *packets_seen <= cfg.max_packets) || source == signalled);
                if allowed {
                    *latch = Latch::Latched {
                        source,
                        last_seen: now,
                    };
                }
                if allowed {
                    Admission::Latched(reported)
                } else {
                    Admission::Rejected
                }
            }
        }
    }

    /// Where to send a packet for `port`: the latched source, else the
    /// signalled address (with rtcp-mux always the RTP port).
    pub fn destination(&self, port: Port) -> (Port, SocketAddr) {
        let port = if self.remote.rtcp.is_none() {
            Port::Rtp
        } else {
            port
        };
        let idx = self.latch_index(port);
        let addr = self.latches[idx]
            .source()
            .unwrap_or_else(|| self.remote.signalled(port));
        (port, addr)
    }
}

/// Demultiplexes a datagram that arrived on a leg's `port`: `Some(true)` for
/// RTCP, `Some(false)` for RTP, `None` for anything else or a packet on the
/// wrong port (RTCP on the RTP port only with rtcp-mux, RFC 5761).
pub fn is_rtcp_on(bytes: &[u8], port: Port, muxed: bool) -> Option<bool> {
    use crate::rtcp::{PacketKind, classify};
    match (classify(bytes), port) {
        (PacketKind::Rtp, Port::Rtp) => Some(false),
        (PacketKind::Rtcp, Port::Rtcp) => Some(true),
        (PacketKind::Rtcp, Port::Rtp) if muxed => Some(true),
        _ => None,
    }
}
