//! Inputs and outputs of the [`super::Pbx`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use voip_sip::auth::BanSource;
use voip_sip::b2bua::{CallRef, Entropy, LegCodec, Side};
use voip_sip::message::SipMessage;
use voip_sip::registrar::{ConnectionId, RegistrarEvent, TransportKind};
use voip_sip::sdp::Direction;
use voip_sip::transaction::Destination;
use voip_sip::trunk::{RandomSource, TrunkConfigError, TrunkEvent};

/// Our own SIP and media addresses, as the peers must see them (not
/// `0.0.0.0`: the shell resolves wildcard listeners to the address phones
/// and trunks reach us on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddrs {
    /// One address per transport we listen on; the first of each transport
    /// is written into `Via` and `Contact`.
    pub sip: Vec<(TransportKind, SocketAddr)>,
    /// Address of the media relay, written into every SDP we send.
    pub media_ip: IpAddr,
    /// Domain names phones may register to besides our IP addresses
    /// (`sip:201@pbx.example`). May be empty.
    pub domains: Vec<String>,
    /// Further addresses that are ours though not advertised (the bound
    /// addresses when the bootstrap file's `advertise` replaces them):
    /// Request-URIs to them are for us. May be empty.
    pub other_ips: Vec<IpAddr>,
}

impl LocalAddrs {
    /// The first address of `transport`.
    pub fn first(&self, transport: TransportKind) -> Option<SocketAddr> {
        self.sip
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
    }

    /// The address the B2BUA writes into its `Via` and `Contact`: UDP if we
    /// listen on UDP, else TCP, else TLS.
    pub fn preferred(&self) -> Option<(TransportKind, SocketAddr)> {
        [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls]
            .into_iter()
            .find_map(|t| self.first(t).map(|a| (t, a)))
    }
}

/// A message the shell must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The message; serialise with [`Transmit::to_bytes`].
    pub message: SipMessage,
    /// Peer address (for UDP the datagram's destination; informational for
    /// streams).
    pub destination: SocketAddr,
    /// Transport to use.
    pub transport: TransportKind,
    /// The connection (TCP/TLS) or UDP socket the peer's flow came in on;
    /// `None`: any UDP socket, or for TCP/TLS a connection the shell opens
    /// (requests to trunks).
    pub connection: Option<ConnectionId>,
}

impl Transmit {
    /// The wire form (deterministic, so retransmissions are byte-identical).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.message.to_bytes()
    }
}

/// An instruction for the media relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCommand {
    /// Allocate two local RTP port pairs (A side and B side) for `call` and
    /// report them with [`super::Pbx::handle_media_allocated`].
    Allocate {
        /// The call.
        call: CallRef,
        /// The call's id in the CDR and telemetry.
        call_id: String,
    },
    /// Relay RTP/RTCP between A's and B's remote addresses through our two
    /// ports (repeated whenever a remote address changes).
    Relay {
        /// The call.
        call: CallRef,
        /// Local port facing A.
        a_local_port: u16,
        /// Where A wants RTP.
        a_remote: SocketAddr,
        /// Local port facing B.
        b_local_port: u16,
        /// Where B wants RTP.
        b_remote: SocketAddr,
        /// Payload types of the relayed stream and their codecs.
        payloads: Vec<(voip_sip::sdp::PayloadType, voip_sip::sdp::Codec)>,
        /// The call's recording policy (resolved when it was routed).
        recording: Option<voip_shared::site_config::RecordingPolicy>,
    },
    /// Transcode between the legs: they have no codec in common (repeated
    /// whenever a remote address changes).
    Transcode {
        /// The call.
        call: CallRef,
        /// Local port facing A.
        a_local_port: u16,
        /// Where A wants RTP.
        a_remote: SocketAddr,
        /// A's codec, payload type and telephone-event type.
        a: LegCodec,
        /// Local port facing B.
        b_local_port: u16,
        /// Where B wants RTP.
        b_remote: SocketAddr,
        /// B's codec, payload type and telephone-event type.
        b: LegCodec,
        /// The call's recording policy (resolved when it was routed).
        recording: Option<voip_shared::site_config::RecordingPolicy>,
    },
    /// A side declared a new direction (hold); suspend the media timeout
    /// while a side is not sending.
    Direction {
        /// The call.
        call: CallRef,
        /// Who declared it.
        side: Side,
        /// What it declared.
        direction: Direction,
    },
    /// Echo test: loop RTP received on `local_port` back to `remote`.
    EchoLoop {
        /// The call.
        call: CallRef,
        /// Our port facing A.
        local_port: u16,
        /// Where A wants RTP.
        remote: SocketAddr,
    },
    /// A digit from a SIP INFO (`application/dtmf-relay`) of `from` on a
    /// transcoded call: send it to the other leg as RFC 4733 events.
    Dtmf {
        /// The call.
        call: CallRef,
        /// Who sent the INFO.
        from: Side,
        /// The key.
        event: voip_media::dtmf::DtmfEvent,
        /// How long, in milliseconds.
        duration_ms: u32,
    },
    /// The call is over: free its ports.
    Release {
        /// The call.
        call: CallRef,
    },
}

/// What the core reports for logs, metrics and the uplink. Phone numbers
/// (AORs) inside are personal data; the `Debug` impls of the wrapped events
/// redact them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PbxEvent {
    /// A registrar event (registered, unregistered, expired, evicted, auth
    /// failure of a REGISTER). Ban events come as [`PbxEvent::SourceBanned`]
    /// and [`PbxEvent::BanLifted`] instead.
    Registrar(RegistrarEvent),
    /// An INVITE from a non-trunk source carried wrong or malformed
    /// credentials (counted toward a ban).
    InviteAuthFailed {
        /// The packet's source.
        source: SocketAddr,
    },
    /// A source was banned after too many authentication failures
    /// (REGISTER and INVITE together); its packets are dropped silently.
    SourceBanned {
        /// The banned address or /64.
        source: BanSource,
        /// When the ban ends.
        until: Instant,
    },
    /// A ban ended.
    BanLifted {
        /// The source.
        source: BanSource,
    },
    /// A trunk core event (registration state, keep-alive lost/restored).
    Trunk {
        /// The trunk.
        trunk_id: String,
        /// What happened.
        event: TrunkEvent,
    },
    /// Whether a trunk may carry calls changed (fed to routing).
    TrunkUsable {
        /// The trunk.
        trunk_id: String,
        /// Usable now.
        up: bool,
    },
    /// A trunk of the site configuration could not be turned into a trunk
    /// core (e.g. its credentials entry is missing from the secrets file);
    /// it is not registered and counts as down.
    TrunkConfigRejected {
        /// The trunk.
        trunk_id: String,
        /// Why; `None` when the secrets entry is missing.
        error: Option<TrunkConfigError>,
    },
    /// A call was answered.
    CallAnswered {
        /// The call.
        call: CallRef,
    },
}

const CONN_MASK: u64 = (1 << 62) - 1;

/// Packs a transport and connection into the opaque flow tag of a
/// [`Destination`] (2 bits transport, 62 bits connection id + 1, 0 = none).
pub(crate) fn flow_tag(transport: TransportKind, connection: Option<ConnectionId>) -> u64 {
    let t: u64 = match transport {
        TransportKind::Udp => 0,
        TransportKind::Tcp => 1,
        TransportKind::Tls => 2,
    };
    (t << 62) | connection.map_or(0, |c| (c.0 & CONN_MASK).saturating_add(1) & CONN_MASK)
}

/// The inverse of [`flow_tag`].
pub(crate) fn untag(d: Destination) -> (TransportKind, Option<ConnectionId>) {
    let transport = match d.flow >> 62 {
        1 => TransportKind::Tcp,
        2 => TransportKind::Tls,
        _ => TransportKind::Udp,
    };
    let c = d.flow & CONN_MASK;
    (transport, (c != 0).then(|| ConnectionId(c - 1)))
}

/// One random source shared by the B2BUA and every trunk core (each needs
/// its own owned handle). Wrap a CSPRNG.
pub struct SharedRng<R>(Arc<Mutex<R>>);

impl<R> SharedRng<R> {
    /// Wraps `rng`.
    pub fn new(rng: R) -> Self {
        Self(Arc::new(Mutex::new(rng)))
    }
}

impl<R> Clone for SharedRng<R> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<R> fmt::Debug for SharedRng<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedRng")
    }
}

impl<R: Entropy> Entropy for SharedRng<R> {
    fn fill(&mut self, dest: &mut [u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fill(dest);
    }
}

impl<R: Entropy> RandomSource for SharedRng<R> {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.fill(dest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_tags_round_trip() {
        let addr = SocketAddr::from(([192, 0, 2, 1], 5060));
        for (t, c) in [
            (TransportKind::Udp, None),
            (TransportKind::Udp, Some(ConnectionId(0))),
            (TransportKind::Tcp, Some(ConnectionId(7))),
            (TransportKind::Tls, Some(ConnectionId(123_456))),
            (TransportKind::Tls, None),
        ] {
            let d = Destination {
                addr,
                flow: flow_tag(t, c),
            };
            assert_eq!(untag(d), (t, c));
        }
    }
}
