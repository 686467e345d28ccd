//! RFC 3261 transaction timers as an enum indexing a fixed table.
//!
//! Every machine owns one [`TimerTable`]; arming a timer stores its deadline in
//! the slot of its [`Timer`] variant, and [`TimerTable::next_timeout`] is the
//! minimum over the table. Only the timers that belong to a machine are ever
//! armed by it (the client INVITE machine never arms G, for example).

use std::time::Instant;

/// A transaction timer (RFC 3261 table 4, RFC 6026 L and M, and the
/// `100 Trying` delay of RFC 3261 17.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Client INVITE: request retransmission (unreliable only), T1 doubling.
    A = 0,
    /// Client INVITE: transaction timeout, 64·T1.
    B,
    /// Client INVITE: wait for response retransmissions in Completed.
    D,
    /// Client non-INVITE: request retransmission (unreliable only).
    E,
    /// Client non-INVITE: transaction timeout, 64·T1.
    F,
    /// Server INVITE: final response retransmission (unreliable only).
    G,
    /// Server INVITE: wait for ACK, 64·T1.
    H,
    /// Server INVITE: wait for ACK retransmissions in Confirmed, T4.
    I,
    /// Server non-INVITE: wait for request retransmissions in Completed.
    J,
    /// Client non-INVITE: wait for response retransmissions in Completed, T4.
    K,
    /// Server INVITE (RFC 6026): wait for retransmitted INVITEs in Accepted, 64·T1.
    L,
    /// Client INVITE (RFC 6026): wait for retransmitted 2xx in Accepted, 64·T1.
    M,
    /// Server INVITE: send `100 Trying` if the TU has not answered in time.
    Trying,
}

impl Timer {
    /// Every timer, in table order.
    pub const VALUES: [Timer; 13] = [
        Timer::A,
        Timer::B,
        Timer::D,
        Timer::E,
        Timer::F,
        Timer::G,
        Timer::H,
        Timer::I,
        Timer::J,
        Timer::K,
        Timer::L,
        Timer::M,
        Timer::Trying,
    ];
}

/// The deadline of each [`Timer`], `None` when not armed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerTable {
    deadlines: [Option<Instant>; Timer::VALUES.len()],
}

impl TimerTable {
    /// Arms (or re-arms) `timer` to fire at `at`.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    /// Disarms every timer.
    pub fn clear(&mut self) {
        self.deadlines = [None; Timer::VALUES.len()];
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    /// The earliest deadline over all armed timers.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The earliest armed timer and its deadline (ties go to table order).
    pub fn earliest(&self) -> Option<(Timer, Instant)> {
        Timer::VALUES
            .iter()
            .filter_map(|&t| self.get(t).map(|at| (t, at)))
            .min_by_key(|&(_, at)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn next_timeout_is_the_minimum_of_armed_timers() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        assert_eq!(table.next_timeout(), None);
        table.set(Timer::B, t0 + Duration::from_secs(32));
        table.set(Timer::A, t0 + Duration::from_millis(500));
        assert_eq!(table.next_timeout(), Some(t0 + Duration::from_millis(500)));
        assert_eq!(
            table.earliest(),
            Some((Timer::A, t0 + Duration::from_millis(500)))
        );
        table.stop(Timer::A);
        assert_eq!(table.earliest().map(|e| e.0), Some(Timer::B));
        table.clear();
        assert_eq!(table.next_timeout(), None);
    }
}
