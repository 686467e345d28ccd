//! Client non-INVITE transaction (RFC 3261 17.1.2).

use std::mem;
use std::time::{Duration, Instant};

use super::{ClientEvent, Core, Destination, Reliability, Timer, TimerConfig, Transmit, backoff};
use crate::message::{Request, Response, SipMessage};

/// The state of a [`ClientNonInvite`], as named in RFC 3261 17.1.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientNonInviteState {
    /// Request sent; Timer E retransmits (T1 doubling, capped at T2).
    Trying,
    /// A provisional response arrived; Timer E retransmits every T2.
    Proceeding,
    /// A final response arrived; Timer K absorbs retransmissions.
    Completed,
    /// Done.
    Terminated,
}

#[derive(Debug)]
struct Trying {
    /// Interval to arm Timer E with after its next firing.
    next_interval: Duration,
}

#[derive(Debug)]
struct Proceeding;

#[derive(Debug)]
struct Completed;

#[derive(Debug)]
struct Terminated;

#[derive(Debug)]
enum State {
    Trying(Trying),
    Proceeding(Proceeding),
    Completed(Completed),
    Terminated(Terminated),
}

/// The client non-INVITE transaction (BYE, REGISTER, OPTIONS, CANCEL, ...).
#[derive(Debug)]
pub struct ClientNonInvite {
    core: Core<ClientEvent>,
    request: Request,
    state: State,
}

impl ClientNonInvite {
    /// Starts the transaction at `now`: queues `request` and arms Timer E
    /// (unreliable transports only) and Timer F.
    pub fn new(
        now: Instant,
        request: Request,
        destination: Destination,
        reliability: Reliability,
        config: TimerConfig,
    ) -> Self {
        let mut core = Core::new(destination, reliability, config);
        core.send(SipMessage::Request(request.clone()));
        if core.unreliable() {
            core.timers.set(Timer::E, now + config.t1);
        }
        core.timers.set(Timer::F, now + config.t1_x64());
        ClientNonInvite {
            core,
            request,
            state: State::Trying(Trying {
                next_interval: backoff(config.t1, config.t2),
            }),
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientNonInviteState {
        match self.state {
            State::Trying(_) => ClientNonInviteState::Trying,
            State::Proceeding(_) => ClientNonInviteState::Proceeding,
            State::Completed(_) => ClientNonInviteState::Completed,
            State::Terminated(_) => ClientNonInviteState::Terminated,
        }
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// A response matched this transaction.
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        let state = mem::replace(&mut self.state, State::Terminated(Terminated));
        self.state = match state {
            State::Trying(_) | State::Proceeding(_) if response.status.is_provisional() => {
                self.core.emit(ClientEvent::ResponseReceived(response));
                State::Proceeding(Proceeding)
            }
            State::Trying(_) | State::Proceeding(_) => {
                self.core.timers.stop(Timer::E);
                self.core.timers.stop(Timer::F);
                self.core.emit(ClientEvent::ResponseReceived(response));
                if self.core.unreliable() {
                    self.core.timers.set(Timer::K, now + self.core.config.t4);
                    State::Completed(Completed)
                } else {
                    self.terminate()
                }
            }
            // Retransmitted final responses are absorbed.
            State::Completed(s) => State::Completed(s),
            State::Terminated(s) => State::Terminated(s),
        };
    }

    /// The transport could not send the request.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(self.state, State::Trying(_) | State::Proceeding(_)) {
            self.core.emit(ClientEvent::TransportError);
            self.state = self.terminate();
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, at)) = self.core.take_expired(now) {
            let state = mem::replace(&mut self.state, State::Terminated(Terminated));
            self.state = match (timer, state) {
                (Timer::E, State::Trying(t)) => {
                    self.core.send(SipMessage::Request(self.request.clone()));
                    self.core.timers.set(Timer::E, at + t.next_interval);
                    State::Trying(Trying {
                        next_interval: backoff(t.next_interval, self.core.config.t2),
                    })
                }
                (Timer::E, State::Proceeding(p)) => {
                    self.core.send(SipMessage::Request(self.request.clone()));
                    self.core.timers.set(Timer::E, at + self.core.config.t2);
                    State::Proceeding(p)
                }
                (Timer::F, State::Trying(_) | State::Proceeding(_)) => {
                    self.core.emit(ClientEvent::Timeout);
                    self.terminate()
                }
                (Timer::K, State::Completed(_)) => self.terminate(),
                (_, other) => other,
            };
        }
    }

    fn terminate(&mut self) -> State {
        self.core.timers.clear();
        self.core.emit(ClientEvent::Terminated);
        State::Terminated(Terminated)
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.core.events.pop_front()
    }

    /// When [`ClientNonInvite::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.next_timeout()
    }

    /// Whether the machine reached Terminated.
    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated(_))
    }
}
