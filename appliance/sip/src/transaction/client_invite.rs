//! Client INVITE transaction (RFC 3261 17.1.1, with RFC 6026's Accepted).

use std::mem;
use std::time::{Duration, Instant};

use super::{
    ClientEvent, Core, Destination, Reliability, Timer, TimerConfig, Transmit, ack_for_non_2xx,
};
use crate::message::{Request, Response, SipMessage};

/// The state of a [`ClientInvite`], as named in RFC 3261 17.1.1 and RFC 6026.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientInviteState {
    /// INVITE sent, nothing received; Timer A retransmits, Timer B times out.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A 2xx arrived (RFC 6026); Timer M absorbs and forwards retransmitted 2xx.
    Accepted,
    /// A 3xx–6xx arrived and was acknowledged; Timer D absorbs retransmissions.
    Completed,
    /// Done.
    Terminated,
}

#[derive(Debug)]
struct Calling {
    /// Interval to arm Timer A with after its next firing.
    next_interval: Duration,
}

#[derive(Debug)]
struct Proceeding;

#[derive(Debug)]
struct Accepted;

#[derive(Debug)]
struct Completed {
    /// The ACK sent for the final response, re-sent for each retransmission.
    ack: Request,
}

#[derive(Debug)]
struct Terminated;

#[derive(Debug)]
enum State {
    Calling(Calling),
    Proceeding(Proceeding),
    Accepted(Accepted),
    Completed(Completed),
    Terminated(Terminated),
}

/// The client INVITE transaction. Create it with [`ClientInvite::new`], which
/// queues the INVITE for transmission.
#[derive(Debug)]
pub struct ClientInvite {
    core: Core<ClientEvent>,
    request: Request,
    state: State,
}

impl ClientInvite {
    /// Starts the transaction at `now`: queues `request` (an INVITE) and arms
    /// Timer A (unreliable transports only) and Timer B.
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
            core.timers.set(Timer::A, now + config.t1);
        }
        core.timers.set(Timer::B, now + config.t1_x64());
        ClientInvite {
            core,
            request,
            state: State::Calling(Calling {
                next_interval: config.t1 * 2,
            }),
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        match self.state {
            State::Calling(_) => ClientInviteState::Calling,
            State::Proceeding(_) => ClientInviteState::Proceeding,
            State::Accepted(_) => ClientInviteState::Accepted,
            State::Completed(_) => ClientInviteState::Completed,
            State::Terminated(_) => ClientInviteState::Terminated,
        }
    }

    /// The INVITE this transaction sends.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// A response matched this transaction (the caller did the matching).
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        let state = mem::replace(&mut self.state, State::Terminated(Terminated));
        self.state = match state {
            State::Calling(_) | State::Proceeding(_) => self.on_first_responses(now, response),
            State::Accepted(s) => {
                if response.status.is_success() {
                    self.core.emit(ClientEvent::ResponseReceived(response));
                }
                State::Accepted(s)
            }
            State::Completed(s) => {
                if response.status.as_u16() >= 300 {
                    self.core.send(SipMessage::Request(s.ack.clone()));
                }
                State::Completed(s)
            }
            State::Terminated(s) => State::Terminated(s),
        };
    }

    /// Calling or Proceeding: every response goes to the TU and moves the
    /// machine on.
    fn on_first_responses(&mut self, now: Instant, response: Response) -> State {
        let status = response.status;
        self.core.timers.stop(Timer::A);
        self.core.timers.stop(Timer::B);
        if status.is_provisional() {
            self.core.emit(ClientEvent::ResponseReceived(response));
            State::Proceeding(Proceeding)
        } else if status.is_success() {
            self.core.emit(ClientEvent::ResponseReceived(response));
            self.core
                .timers
                .set(Timer::M, now + self.core.config.t1_x64());
            State::Accepted(Accepted)
        } else {
            let ack = ack_for_non_2xx(&self.request, &response);
            self.core.send(SipMessage::Request(ack.clone()));
            self.core.emit(ClientEvent::ResponseReceived(response));
            if self.core.unreliable() {
                self.core
                    .timers
                    .set(Timer::D, now + self.core.config.timer_d());
                State::Completed(Completed { ack })
            } else {
                self.terminate()
            }
        }
    }

    /// The transport could not send the INVITE or the ACK.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        match self.state {
            State::Calling(_) | State::Proceeding(_) | State::Completed(_) => {
                self.core.emit(ClientEvent::TransportError);
                self.state = self.terminate();
            }
            // RFC 6026: in Accepted the transaction sends nothing itself.
            State::Accepted(_) | State::Terminated(_) => {}
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, at)) = self.core.take_expired(now) {
            let state = mem::replace(&mut self.state, State::Terminated(Terminated));
            self.state = match (timer, state) {
                (Timer::A, State::Calling(c)) => {
                    self.core.send(SipMessage::Request(self.request.clone()));
                    self.core.timers.set(Timer::A, at + c.next_interval);
                    State::Calling(Calling {
                        next_interval: c.next_interval * 2,
                    })
                }
                (Timer::B, State::Calling(_)) => {
                    self.core.emit(ClientEvent::Timeout);
                    self.terminate()
                }
                (Timer::D, State::Completed(_)) | (Timer::M, State::Accepted(_)) => {
                    self.terminate()
                }
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

    /// When [`ClientInvite::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.next_timeout()
    }

    /// Whether the machine reached Terminated.
    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated(_))
    }
}
