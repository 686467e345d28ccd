//! The UAS core's 2xx retransmission (RFC 3261 13.3.1.4).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::message::{Response, SipMessage};
use crate::transaction::{Destination, Reliability, Timer, TimerConfig, TimerTable, Transmit};

/// What a [`SuccessRetransmitter`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetransmitEvent {
    /// The ACK arrived; retransmission stopped.
    AckReceived,
    /// No ACK within 64·T1: the session is confirmed anyway and the TU must
    /// end it with a BYE (RFC 3261 13.3.1.4).
    AckTimedOut,
}

/// Retransmits a 2xx to an INVITE until its ACK arrives: first after T1, then
/// doubling up to T2 (Timer G's schedule, armed in the slot of [`Timer::G`]);
/// gives up after 64·T1 (slot [`Timer::H`]). Over reliable transports it only
/// waits for the ACK. Create it right after the server transaction sent the
/// 2xx (that first transmission is not repeated here).
#[derive(Debug)]
pub struct SuccessRetransmitter {
    response: Response,
    destination: Destination,
    t2: Duration,
    next_interval: Duration,
    timers: TimerTable,
    done: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RetransmitEvent>,
}

impl SuccessRetransmitter {
    /// Starts at `now`, when the 2xx was first sent.
    pub fn new(
        now: Instant,
        response: Response,
        destination: Destination,
        reliability: Reliability,
        config: TimerConfig,
    ) -> Self {
        let mut timers = TimerTable::default();
        if !reliability.is_reliable() {
            timers.set(Timer::G, now + config.t1);
        }
        timers.set(Timer::H, now + config.t1_x64());
        SuccessRetransmitter {
            response,
            destination,
            t2: config.t2,
            next_interval: (config.t1 * 2).min(config.t2),
            timers,
            done: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The 2xx being retransmitted.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The ACK for the 2xx arrived (the caller matched it by dialog and
    /// `CSeq` number).
    pub fn handle_ack(&mut self, _now: Instant) {
        if !self.done {
            self.done = true;
            self.timers.clear();
            self.events.push_back(RetransmitEvent::AckReceived);
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, at)) = self.timers.earliest().filter(|&(_, at)| at <= now) {
            self.timers.stop(timer);
            if timer == Timer::G {
                self.transmits.push_back(Transmit {
                    destination: self.destination,
                    message: SipMessage::Response(self.response.clone()),
                });
                self.timers.set(Timer::G, at + self.next_interval);
                self.next_interval = (self.next_interval * 2).min(self.t2);
            } else {
                self.done = true;
                self.timers.clear();
                self.events.push_back(RetransmitEvent::AckTimedOut);
            }
        }
    }

    /// The next retransmission.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<RetransmitEvent> {
        self.events.pop_front()
    }

    /// When [`SuccessRetransmitter::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// ACK received or given up.
    pub fn is_done(&self) -> bool {
        self.done
    }
}
