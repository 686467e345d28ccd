//! Server non-INVITE transaction (RFC 3261 17.2.2).

use std::mem;
use std::time::Instant;

use super::{
    Core, Destination, Reliability, ServerEvent, Timer, TimerConfig, TransactionError, Transmit,
};
use crate::message::{Request, Response, SipMessage};

/// The state of a [`ServerNonInvite`], as named in RFC 3261 17.2.2. There is
/// no `Confirmed` or `Accepted`: those belong to [`super::ServerInvite`] only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerNonInviteState {
    /// Request received, nothing sent; retransmissions are absorbed.
    Trying,
    /// A provisional response was sent; retransmissions get it again.
    Proceeding,
    /// A final response was sent; Timer J absorbs retransmissions.
    Completed,
    /// Done.
    Terminated,
}

#[derive(Debug)]
struct Trying;

#[derive(Debug)]
struct Proceeding {
    last_provisional: Response,
}

#[derive(Debug)]
struct Completed {
    response: Response,
}

#[derive(Debug)]
struct Terminated;

#[derive(Debug)]
enum State {
    Trying(Trying),
    Proceeding(Proceeding),
    Completed(Completed),
    Terminated(Terminated),
}

/// The server non-INVITE transaction.
#[derive(Debug)]
pub struct ServerNonInvite {
    core: Core<ServerEvent>,
    request: Request,
    state: State,
}

impl ServerNonInvite {
    /// Creates the transaction for a received non-INVITE, non-ACK request.
    pub fn new(
        _now: Instant,
        request: Request,
        source: Destination,
        reliability: Reliability,
        config: TimerConfig,
    ) -> Self {
        ServerNonInvite {
            core: Core::new(source, reliability, config),
            request,
            state: State::Trying(Trying),
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerNonInviteState {
        match self.state {
            State::Trying(_) => ServerNonInviteState::Trying,
            State::Proceeding(_) => ServerNonInviteState::Proceeding,
            State::Completed(_) => ServerNonInviteState::Completed,
            State::Terminated(_) => ServerNonInviteState::Terminated,
        }
    }

    /// The request that created this transaction.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The TU sends `response` (allowed in Trying and Proceeding).
    pub fn send_response(
        &mut self,
        now: Instant,
        response: Response,
    ) -> Result<(), TransactionError> {
        let state = mem::replace(&mut self.state, State::Terminated(Terminated));
        let (next, result) = match state {
            State::Trying(_) | State::Proceeding(_) => {
                self.core.send(SipMessage::Response(response.clone()));
                let next = if response.status.is_provisional() {
                    State::Proceeding(Proceeding {
                        last_provisional: response,
                    })
                } else if self.core.unreliable() {
                    self.core
                        .timers
                        .set(Timer::J, now + self.core.config.t1_x64());
                    State::Completed(Completed { response })
                } else {
                    self.terminate()
                };
                (next, Ok(()))
            }
            other @ (State::Completed(_) | State::Terminated(_)) => {
                let state = if matches!(other, State::Completed(_)) {
                    "Completed"
                } else {
                    "Terminated"
                };
                (other, Err(TransactionError::ResponseNotAllowed { state }))
            }
        };
        self.state = next;
        result
    }

    /// A retransmission of the request matched this transaction.
    pub fn handle_request(&mut self, _now: Instant, _request: Request) {
        match &self.state {
            State::Proceeding(p) => {
                let r = p.last_provisional.clone();
                self.core.send(SipMessage::Response(r));
            }
            State::Completed(c) => {
                let r = c.response.clone();
                self.core.send(SipMessage::Response(r));
            }
            State::Trying(_) | State::Terminated(_) => {}
        }
    }

    /// The transport could not send a response.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if !matches!(self.state, State::Terminated(_)) {
            self.core.emit(ServerEvent::TransportError);
            self.state = self.terminate();
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, _)) = self.core.take_expired(now) {
            if timer == Timer::J && matches!(self.state, State::Completed(_)) {
                self.state = self.terminate();
            }
        }
    }

    fn terminate(&mut self) -> State {
        self.core.timers.clear();
        self.core.emit(ServerEvent::Terminated);
        State::Terminated(Terminated)
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.core.events.pop_front()
    }

    /// When [`ServerNonInvite::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.next_timeout()
    }

    /// Whether the machine reached Terminated.
    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated(_))
    }
}
