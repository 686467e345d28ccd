//! Public inputs and outputs of the [`super::B2bua`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::message::{Request, Response, SipMessage};
use crate::sdp::{Codec, Direction, PayloadType};
use crate::transaction::{Destination, TimerConfig, TransactionId};
use crate::uri::Uri;

/// Handle of one call (A-leg plus its B-legs). Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub(crate) u64);

/// Handle of a client transaction the B2BUA asked the shell to start
/// ([`Command::StartClient`]). The shell maps the layer's
/// [`TransactionId`] to it and reports events with
/// [`super::B2bua::handle_client_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTx(pub(crate) u64);

/// Source of random bytes for Call-IDs, tags, branches and digest cnonces.
/// The shell wraps a CSPRNG; tests use a deterministic generator.
pub trait Entropy {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

/// Static configuration of the B2BUA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct B2buaConfig {
    /// sent-by written in our `Via` headers, e.g. `192.0.2.10:5060`.
    pub via_sent_by: String,
    /// Transport token of our `Via` (`UDP`, `TCP`, `TLS`).
    pub via_transport: String,
    /// Host (and port) of our `From` URIs on B-legs and of our `Contact`.
    pub local_host: String,
    /// Address of the media relay written into every SDP we send.
    pub media_address: IpAddr,
    /// Timer values (T1 for the 2xx retransmitter).
    pub timers: TimerConfig,
    /// Whether the media engine can transcode. Without it, a call whose
    /// legs have no codec in common is refused with 488 (as before codec
    /// preferences existed).
    pub transcoding: bool,
}

/// Where and how to reach one target of a route.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// Request-URI of the B-leg INVITE.
    pub request_uri: Uri,
    /// Where to send it.
    pub destination: Destination,
    /// Trunk this target belongs to (for the CDR), if any.
    pub trunk_id: Option<String>,
    /// Caller id to present (user part of our `From`); the caller's user otherwise.
    pub from_user: Option<String>,
    /// Credentials for a 401/407 challenge of a trunk.
    pub credentials: Option<TargetCredentials>,
    /// The target's configured audio codecs in order of preference (trunk
    /// or extension). The caller's offer is restricted to them and reordered
    /// by them; when it has none of them the call transcodes. Empty: the
    /// caller's offer is forwarded unchanged. They are also what the B2BUA
    /// offers itself when A's INVITE had no SDP (late offer; empty: PCMU,
    /// PCMA, G.722, Opus). telephone-event is always offered.
    pub codecs: Vec<Codec>,
    /// Another address of the same server as the previous group's targets
    /// (RFC 3263 4.3: the next SRV target or A/AAAA address): tried only
    /// when every target of the previous group failed with 503, 408 or no
    /// response (timeout, transport error); after any other failure the
    /// group is skipped (the next trunk follows).
    pub address_failover: bool,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("request_uri", &"<redacted>")
            .field("destination", &self.destination)
            .field("trunk_id", &self.trunk_id)
            .field("from_user", &self.from_user.as_ref().map(|_| "<redacted>"))
            .field("credentials", &self.credentials)
            .field("codecs", &self.codecs)
            .field("address_failover", &self.address_failover)
            .finish()
    }
}

/// Digest credentials for a trunk target. `Debug` redacts both fields.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetCredentials {
    /// Digest username.
    pub username: String,
    /// Digest password.
    pub password: String,
}

impl fmt::Debug for TargetCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TargetCredentials(<redacted>)")
    }
}

/// The routing core's answer to [`Event::RouteRequired`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteDecision {
    /// Try these target groups in order; each group is forked in parallel
    /// (e.g. all contacts of an extension). Later groups are failover (e.g.
    /// the next trunk).
    Targets {
        /// Groups in order of preference.
        groups: Vec<Vec<Target>>,
        /// Hard limit on the answered duration.
        max_duration: Option<Duration>,
        /// An emergency call (noted in the CDR).
        emergency: bool,
        /// The caller's configured audio codecs in order of preference
        /// (its extension or inbound trunk): what we answer the caller with
        /// when the call transcodes. Empty: every codec we support.
        caller_codecs: Vec<Codec>,
    },
    /// Answer locally with the echo test: 200 with an SDP whose media the
    /// shell loops back.
    EchoTest,
    /// Refuse with this status (the reason phrase from the status table) and
    /// a catalogue code string for the CDR.
    Reject {
        /// SIP status (400..=699).
        status: u16,
        /// Catalogue code for the CDR.
        code: String,
    },
}

/// Local RTP ports the shell allocated for a call (RTCP on port + 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaPorts {
    /// Port facing the A-leg (written into SDP sent to A).
    pub a_port: u16,
    /// Port facing the B-legs (written into SDP sent to B).
    pub b_port: u16,
}

/// Which side of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The caller's leg (we are UAS).
    A,
    /// The callee's leg (we are UAC).
    B,
}

impl Side {
    /// The other side.
    #[must_use]
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// A transaction-layer command for the shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Start a client transaction and report its events under `tx`. If the
    /// layer refuses to start it, report [`crate::transaction::ClientEvent::TransportError`]
    /// and then [`crate::transaction::ClientEvent::Terminated`] for `tx`, so
    /// the call is not kept waiting for it.
    StartClient {
        /// Our handle.
        tx: ClientTx,
        /// The request (INVITE, CANCEL, BYE, or a forwarded in-dialog request).
        request: Request,
        /// Where to send it.
        destination: Destination,
    },
    /// Send a response on a server transaction.
    SendResponse {
        /// The server transaction.
        tx: TransactionId,
        /// The response.
        response: Response,
    },
    /// Send outside any transaction (ACK for a 2xx, 2xx retransmissions).
    SendStateless {
        /// Where to.
        destination: Destination,
        /// What.
        message: SipMessage,
    },
}

/// An instruction for the media relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaInstruction {
    /// Relay RTP/RTCP between the A-leg's and the B-leg's remote addresses
    /// through our two local ports. Sent again whenever a remote address changes.
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
        /// Payload types of the relayed stream and their codecs (the
        /// negotiated answer's first, then the offer's), so the media path
        /// can decode what it relays (call recording) without changing it.
        payloads: Vec<(crate::sdp::PayloadType, crate::sdp::Codec)>,
    },
    /// Decode, resample and re-encode between the legs: they have no codec
    /// in common. Sent again whenever a remote address changes.
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
    },
    /// `side` declared a new direction in its SDP (hold: `sendonly`,
    /// `inactive`, or `c=0.0.0.0` reported as `Inactive`); the relay suspends
    /// its media timeout while a side is not sending.
    Direction {
        /// The call.
        call: CallRef,
        /// Who declared it.
        side: Side,
        /// What it declared (its own point of view).
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
    /// The call is over: free its ports.
    Release {
        /// The call.
        call: CallRef,
    },
}

/// What one leg of a transcoded call negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegCodec {
    /// The audio codec (as the leg's SDP describes it, fmtp included).
    pub codec: Codec,
    /// Its payload type on that leg.
    pub payload_type: PayloadType,
    /// The leg's telephone-event payload type (at the codec's clock rate).
    pub telephone_event: Option<PayloadType>,
}

/// How a call ended, for the CDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// It was answered.
    Answered,
    /// Nobody answered (timeouts, 408, 480).
    NoAnswer,
    /// Busy (486, 600).
    Busy,
    /// Any other failure.
    Failed,
    /// The caller cancelled before answer.
    Cancelled,
    /// The routing core rejected it.
    Rejected,
}

impl Disposition {
    /// Lower-case name for the CDR (`answered`, `no_answer`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::NoAnswer => "no_answer",
            Disposition::Busy => "busy",
            Disposition::Failed => "failed",
            Disposition::Cancelled => "cancelled",
            Disposition::Rejected => "rejected",
        }
    }
}

/// Why an answered call ended (or what ended an unanswered one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// A sent BYE.
    CallerHangup,
    /// B sent BYE.
    CalleeHangup,
    /// `max_duration` of the route was reached.
    MaxDuration,
    /// The shell reported a media timeout.
    MediaTimeout,
    /// A never acknowledged our 2xx (64·T1).
    AckTimeout,
    /// The RFC 4028 session interval passed without a refresh.
    SessionExpired,
    /// Ended before answer with a final response (see the summary's status).
    NotAnswered,
    /// The caller sent CANCEL.
    Cancelled,
    /// Late offer: A's ACK carried no usable answer to the offer in our 2xx
    /// (RFC 3261 13.2.2.4: the UAC ends the session with BYE; so do we).
    NoAnswerInAck,
}

/// One leg in the CDR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegSummary {
    /// A or B.
    pub side: Side,
    /// The leg's Call-ID.
    pub call_id: String,
    /// The peer's address.
    pub remote: SocketAddr,
    /// Trunk id of a B-leg to a trunk.
    pub trunk_id: Option<String>,
    /// Codec name in the leg's SDP answer, once known.
    pub codec: Option<String>,
    /// Final status the leg received or sent, if any.
    pub status: Option<u16>,
}

/// The CDR-ish summary of a finished call. Contains personal data (users):
/// never log it in clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSummary {
    /// The call.
    pub call: CallRef,
    /// The A-leg's Call-ID.
    pub call_id: String,
    /// The legs: the A-leg first, then every B-leg tried.
    pub legs: Vec<LegSummary>,
    /// From user of the A-leg.
    pub caller: String,
    /// Request-URI user of the A-leg.
    pub callee: String,
    /// When A's INVITE arrived.
    pub started: Instant,
    /// When the call was answered.
    pub answered: Option<Instant>,
    /// When it ended.
    pub ended: Instant,
    /// Outcome.
    pub disposition: Disposition,
    /// What ended it.
    pub reason: EndReason,
    /// Final SIP status sent to A (200 for answered calls).
    pub final_status: u16,
    /// Catalogue code of a routing rejection.
    pub reject_code: Option<String>,
    /// Emergency call.
    pub emergency: bool,
    /// The legs had no codec in common and the media was transcoded.
    pub transcoded: bool,
}

impl CallSummary {
    /// Answered duration, zero when not answered.
    pub fn talk_time(&self) -> Duration {
        self.answered
            .map_or(Duration::ZERO, |a| self.ended.saturating_duration_since(a))
    }
}

/// What the B2BUA reports to the shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A new call arrived.
    CallStarted {
        /// The call.
        call_id_ref: CallRef,
    },
    /// The routing core must decide; answer with [`super::B2bua::handle_route`].
    RouteRequired {
        /// The call.
        call_id_ref: CallRef,
        /// From user of the INVITE.
        caller: String,
        /// Request-URI user of the INVITE.
        dialled: String,
        /// Where the INVITE came from.
        source: Destination,
    },
    /// Allocate two local RTP port pairs and answer with
    /// [`super::B2bua::handle_media_allocated`].
    AllocateMedia {
        /// The call.
        call_id_ref: CallRef,
    },
    /// A 2xx was sent to A.
    CallAnswered {
        /// The call.
        call_id_ref: CallRef,
    },
    /// The call is over.
    CallEnded(Box<CallSummary>),
    /// A SIP INFO with an `application/dtmf-relay` body arrived from `from`
    /// on a transcoded call (on a relayed call INFO is forwarded to the
    /// other leg instead). The body is for the caller to parse; answer with
    /// [`super::B2bua::answer_info`] (200 when it was a digit, 400 when not).
    DtmfInfo {
        /// The call.
        call_id_ref: CallRef,
        /// Who sent it.
        from: Side,
        /// The INFO's server transaction.
        tx: TransactionId,
        /// The body.
        body: Vec<u8>,
    },
}
