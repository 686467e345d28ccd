//! Server INVITE transaction (RFC 3261 17.2.1, with RFC 6026's Accepted).

use std::mem;
use std::time::{Duration, Instant};

use super::{
    Core, Destination, Reliability, ServerEvent, Timer, TimerConfig, TransactionError, Transmit,
    backoff, response_to,
};
use crate::message::{Method, Request, Response, SipMessage, StatusCode};

/// The state of a [`ServerInvite`], as named in RFC 3261 17.2.1 and RFC 6026.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerInviteState {
    /// INVITE received, no final response yet.
    Proceeding,
    /// A 3xx–6xx was sent; Timer G retransmits it, Timer H waits for the ACK.
    Completed,
    /// The ACK arrived; Timer I absorbs ACK retransmissions.
    Confirmed,
    /// A 2xx was sent (RFC 6026); Timer L absorbs retransmitted INVITEs.
    Accepted,
    /// Done.
    Terminated,
}

#[derive(Debug)]
struct Proceeding {
    /// Last provisional response sent, re-sent for a retransmitted INVITE.
    last_provisional: Option<Response>,
}

#[derive(Debug)]
struct Completed {
    /// The final response, re-sent by Timer G and for retransmitted INVITEs.
    response: Response,
    /// Interval to arm Timer G with after its next firing.
    next_interval: Duration,
}

#[derive(Debug)]
struct Confirmed;

#[derive(Debug)]
struct Accepted;

#[derive(Debug)]
struct Terminated;

#[derive(Debug)]
enum State {
    Proceeding(Proceeding),
    Completed(Completed),
    Confirmed(Confirmed),
    Accepted(Accepted),
    Terminated(Terminated),
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Proceeding(_) => "Proceeding",
            State::Completed(_) => "Completed",
            State::Confirmed(_) => "Confirmed",
            State::Accepted(_) => "Accepted",
            State::Terminated(_) => "Terminated",
        }
    }
}

/// The server INVITE transaction. Responses go to the `Destination` given at
/// creation (the shell picks it per RFC 3261 18.2.2 / RFC 3581 from the
/// source of the INVITE).
#[derive(Debug)]
pub struct ServerInvite {
    core: Core<ServerEvent>,
    request: Request,
    state: State,
}

impl ServerInvite {
    /// Creates the transaction for a received INVITE at `now` and arms the
    /// `100 Trying` timer ([`TimerConfig::trying_delay`]).
    pub fn new(
        now: Instant,
        request: Request,
        source: Destination,
        reliability: Reliability,
        config: TimerConfig,
    ) -> Self {
        let mut core = Core::new(source, reliability, config);
        core.timers.set(Timer::Trying, now + config.trying_delay);
        ServerInvite {
            core,
            request,
            state: State::Proceeding(Proceeding {
                last_provisional: None,
            }),
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        match self.state {
            State::Proceeding(_) => ServerInviteState::Proceeding,
            State::Completed(_) => ServerInviteState::Completed,
            State::Confirmed(_) => ServerInviteState::Confirmed,
            State::Accepted(_) => ServerInviteState::Accepted,
            State::Terminated(_) => ServerInviteState::Terminated,
        }
    }

    /// The INVITE that created this transaction.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The TU sends `response`. Allowed in Proceeding (any status) and, for
    /// 2xx only, in Accepted (the TU's own 2xx retransmissions, RFC 6026 8.5).
    pub fn send_response(
        &mut self,
        now: Instant,
        response: Response,
    ) -> Result<(), TransactionError> {
        let status = response.status;
        let state = mem::replace(&mut self.state, State::Terminated(Terminated));
        let (next, result) = match state {
            State::Proceeding(_) if status.is_provisional() => {
                self.core.timers.stop(Timer::Trying);
                self.core.send(SipMessage::Response(response.clone()));
                let next = State::Proceeding(Proceeding {
                    last_provisional: Some(response),
                });
                (next, Ok(()))
            }
            State::Proceeding(_) if status.is_success() => {
                self.core.timers.stop(Timer::Trying);
                self.core.send(SipMessage::Response(response));
                self.core
                    .timers
                    .set(Timer::L, now + self.core.config.t1_x64());
                (State::Accepted(Accepted), Ok(()))
            }
            State::Proceeding(_) => {
                self.core.timers.stop(Timer::Trying);
                self.core.send(SipMessage::Response(response.clone()));
                let t1 = self.core.config.t1;
                if self.core.unreliable() {
                    self.core.timers.set(Timer::G, now + t1);
                }
                self.core
                    .timers
                    .set(Timer::H, now + self.core.config.t1_x64());
                let next = State::Completed(Completed {
                    response,
                    next_interval: backoff(t1, self.core.config.t2),
                });
                (next, Ok(()))
            }
            State::Accepted(a) if status.is_success() => {
                self.core.send(SipMessage::Response(response));
                (State::Accepted(a), Ok(()))
            }
            other => {
                let err = TransactionError::ResponseNotAllowed {
                    state: other.name(),
                };
                (other, Err(err))
            }
        };
        self.state = next;
        result
    }

    /// A request matched this transaction: a retransmitted INVITE or an ACK.
    pub fn handle_request(&mut self, now: Instant, request: Request) {
        let is_ack = request.method == Method::ACK;
        let state = mem::replace(&mut self.state, State::Terminated(Terminated));
        self.state = match state {
            State::Proceeding(p) => {
                if let (false, Some(r)) = (is_ack, &p.last_provisional) {
                    self.core.send(SipMessage::Response(r.clone()));
                }
                State::Proceeding(p)
            }
            State::Completed(c) if is_ack => {
                self.core.timers.stop(Timer::G);
                self.core.timers.stop(Timer::H);
                if self.core.unreliable() {
                    self.core.timers.set(Timer::I, now + self.core.config.t4);
                    State::Confirmed(Confirmed)
                } else {
                    drop(c);
                    self.terminate()
                }
            }
            State::Completed(c) => {
                self.core.send(SipMessage::Response(c.response.clone()));
                State::Completed(c)
            }
            State::Accepted(a) => {
                if is_ack {
                    self.core.emit(ServerEvent::AckReceived(Box::new(request)));
                }
                State::Accepted(a)
            }
            other @ (State::Confirmed(_) | State::Terminated(_)) => other,
        };
    }

    /// The transport could not send a response.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        match self.state {
            State::Proceeding(_) | State::Completed(_) => {
                self.core.emit(ServerEvent::TransportError);
                self.state = self.terminate();
            }
            // RFC 6026 8.8: the 2xx is the TU's business; tell it and stay.
            State::Accepted(_) => self.core.emit(ServerEvent::TransportError),
            State::Confirmed(_) | State::Terminated(_) => {}
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, at)) = self.core.take_expired(now) {
            let state = mem::replace(&mut self.state, State::Terminated(Terminated));
            self.state = match (timer, state) {
                (Timer::Trying, State::Proceeding(p)) if p.last_provisional.is_none() => {
                    let trying = response_to(&self.request, StatusCode::TRYING, None);
                    self.core.send(SipMessage::Response(trying.clone()));
                    State::Proceeding(Proceeding {
                        last_provisional: Some(trying),
                    })
                }
                (Timer::G, State::Completed(c)) => {
                    self.core.send(SipMessage::Response(c.response.clone()));
                    self.core.timers.set(Timer::G, at + c.next_interval);
                    State::Completed(Completed {
                        next_interval: backoff(c.next_interval, self.core.config.t2),
                        ..c
                    })
                }
                (Timer::H, State::Completed(_)) => {
                    self.core.emit(ServerEvent::Timeout);
                    self.terminate()
                }
                (Timer::I, State::Confirmed(_)) | (Timer::L, State::Accepted(_)) => {
                    self.terminate()
                }
                (_, other) => other,
            };
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

    /// When [`ServerInvite::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.next_timeout()
    }

    /// Whether the machine reached Terminated.
    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated(_))
    }
}
