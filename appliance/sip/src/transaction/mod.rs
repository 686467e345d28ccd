//! The RFC 3261 section 17 transaction layer, sans-IO.
//!
//! Four machines, each its own type, with states named as in RFC 3261 plus
//! RFC 6026's `Accepted`:
//!
//! | machine | type | states |
//! |---|---|---|
//! | client INVITE (17.1.1) | [`ClientInvite`] | Calling, Proceeding, Accepted, Completed, Terminated |
//! | client non-INVITE (17.1.2) | [`ClientNonInvite`] | Trying, Proceeding, Completed, Terminated |
//! | server INVITE (17.2.1) | [`ServerInvite`] | Proceeding, Completed, Confirmed, Accepted, Terminated |
//! | server non-INVITE (17.2.2) | [`ServerNonInvite`] | Trying, Proceeding, Completed, Terminated |
//!
//! Each machine keeps its current state as a private enum of per-state structs
//! (each holding only what is valid in that state) and reports it through its
//! own public state enum. A non-INVITE transaction therefore cannot reach
//! `Confirmed` or `Accepted`: [`ServerNonInviteState`] has no such variant, and
//! no code path of [`ServerNonInvite`] can construct one.
//!
//! Every machine has the same shape: `handle_*` methods take input and `now`,
//! [`ClientInvite::handle_timeout`] and friends fire due timers,
//! `poll_transmit` / `poll_event` drain outputs, and `poll_timeout` answers the
//! next instant at which `handle_timeout` must be called. Timers live in a
//! fixed table indexed by [`Timer`] (see [`timer`]).
//!
//! [`TransactionLayer`] matches incoming messages to machines (RFC 3261
//! 17.1.3 and 17.2.3), creates server transactions for new requests, answers
//! statelessly where no transaction can be created, and multiplexes all
//! machines' timers behind one `poll_timeout`.
//!
//! Decisions worth knowing:
//! - **100 Trying**: a server INVITE transaction sends `100 Trying` itself when
//!   the TU has not sent a provisional or final response within
//!   [`TimerConfig::trying_delay`] (200 ms by default, RFC 3261 17.2.1). Set it to
//!   zero to always send 100 at once.
//! - **Timer D** is 32 s over unreliable transports (RFC 3261's minimum; never
//!   less than 64·T1 if T1 is raised), 0 over reliable ones.
//! - **Reliable transports**: timers that would be zero (D, I, J, K) are not
//!   armed; the machine goes straight to Terminated.
//! - Messages are kept as [`crate::message`] values; the shell serialises a
//!   [`Transmit`] with [`SipMessage::to_bytes`], which is deterministic, so
//!   retransmissions are byte-identical.

mod build;
mod client_invite;
mod client_non_invite;
pub mod key;
mod layer;
mod server_invite;
mod server_non_invite;
pub mod timer;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use build::{ack_for_non_2xx, cancel_for, response_to};
pub use client_invite::{ClientInvite, ClientInviteState};
pub use client_non_invite::{ClientNonInvite, ClientNonInviteState};
pub use key::{ClientKey, KeyError, SentBy, ServerKey, TransactionKey, generate_branch};
pub use layer::{
    LayerConfig, LayerError, RequestOutcome, ResponseOutcome, StartError, Transaction,
    TransactionEvent, TransactionId, TransactionLayer,
};
pub use server_invite::{ServerInvite, ServerInviteState};
pub use server_non_invite::{ServerNonInvite, ServerNonInviteState};
pub use timer::{Timer, TimerTable};

use crate::message::{Request, Response, SipMessage};

/// RFC 3261 timer base values (section 17.1.1.1 and table 4), plus the delay
/// after which a server INVITE transaction sends `100 Trying` on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Maximum retransmission interval for non-INVITE requests and INVITE
    /// responses, 4 s by default.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s by default.
    pub t4: Duration,
    /// How long a server INVITE transaction waits for the TU before it sends
    /// `100 Trying` itself; 200 ms by default.
    pub trying_delay: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Duration::from_millis(200),
        }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, J (unreliable), L and M.
    pub fn t1_x64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D for unreliable transports: 32 s, or 64·T1 if that is longer.
    pub fn timer_d(&self) -> Duration {
        Duration::from_secs(32).max(self.t1_x64())
    }
}

/// Whether the transport a transaction runs over is reliable (TCP, TLS, SCTP,
/// WebSocket) or not (UDP). Decides which retransmission timers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reliability {
    /// A stream or otherwise reliable transport: no retransmissions.
    Reliable,
    /// UDP: the transaction retransmits.
    Unreliable,
}

impl Reliability {
    /// `true` for [`Reliability::Reliable`].
    pub fn is_reliable(self) -> bool {
        self == Reliability::Reliable
    }
}

/// Where a message goes: the peer address plus an opaque tag the shell chose
/// (e.g. a connection id for TCP/TLS, a socket index for UDP). The core never
/// interprets either; it hands back what the caller gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Destination {
    /// Peer address.
    pub addr: SocketAddr,
    /// Opaque transport tag of the shell.
    pub flow: u64,
}

/// A message the shell must send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: Destination,
    /// What to send (serialise with [`SipMessage::to_bytes`]).
    pub message: SipMessage,
}

/// What a client transaction reports to its TU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A response for the TU: provisional, final, or (client INVITE in
    /// Accepted) a retransmitted 2xx, so the TU re-sends its ACK.
    ResponseReceived(Response),
    /// Timer B or F fired without a final response. The call layer treats
    /// this as `408 Request Timeout`.
    Timeout,
    /// The transport reported that the request could not be sent.
    TransportError,
    /// The transaction reached Terminated and may be dropped.
    Terminated,
}

/// What a server transaction reports to its TU. The request that created the
/// transaction is handed over by the [`TransactionLayer`] as
/// [`TransactionEvent::RequestReceived`]; later retransmissions are absorbed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// An ACK matched the server INVITE transaction in Accepted (RFC 6026
    /// 8.7: passed to the TU). ACKs for non-2xx responses are absorbed.
    AckReceived(Box<Request>),
    /// Timer H fired: no ACK arrived for a non-2xx final response.
    Timeout,
    /// The transport reported that a response could not be sent.
    TransportError,
    /// The transaction reached Terminated and may be dropped.
    Terminated,
}

/// A TU command that the machine's current state does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The TU tried to send a response after a final response (other than a
    /// further 2xx on an INVITE in Accepted).
    #[error("response not allowed in state {state}")]
    ResponseNotAllowed {
        /// Name of the state the machine was in.
        state: &'static str,
    },
}

/// What every machine shares: where it sends, its timers and output queues.
#[derive(Debug)]
struct Core<E> {
    destination: Destination,
    reliability: Reliability,
    config: TimerConfig,
    timers: TimerTable,
    transmits: VecDeque<Transmit>,
    events: VecDeque<E>,
}

impl<E> Core<E> {
    fn new(destination: Destination, reliability: Reliability, config: TimerConfig) -> Self {
        Core {
            destination,
            reliability,
            config,
            timers: TimerTable::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    fn send(&mut self, message: SipMessage) {
        self.transmits.push_back(Transmit {
            destination: self.destination,
            message,
        });
    }

    fn emit(&mut self, event: E) {
        self.events.push_back(event);
    }

    fn unreliable(&self) -> bool {
        !self.reliability.is_reliable()
    }

    /// The earliest armed timer that is due at `now`, disarmed.
    fn take_expired(&mut self, now: Instant) -> Option<(Timer, Instant)> {
        let (timer, at) = self.timers.earliest()?;
        if at <= now {
            self.timers.stop(timer);
            Some((timer, at))
        } else {
            None
        }
    }
}

/// The next retransmission interval: doubled, capped at `cap`.
fn backoff(interval: Duration, cap: Duration) -> Duration {
    (interval * 2).min(cap)
}
