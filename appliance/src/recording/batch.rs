//! When a recording's buffered bytes go to the SD card: every
//! [`BatchPolicy::interval`] (default 5 s) or when the buffer reaches
//! [`BatchPolicy::max_bytes`], whichever comes first, as one large write
//! followed by one `fsync`. Few large writes wear an SD card less and cost
//! fewer erase blocks than a write per frame; a crash loses at most the
//! unflushed interval.
//!
//! Sans-IO: the batcher only decides; the shell writes and syncs.

use std::time::{Duration, Instant};

/// Default flush interval.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(5);
/// Default buffer bound: about 5 s of 48 kHz stereo PCM.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;

/// Settings of a [`Batcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Time between flushes.
    pub interval: Duration,
    /// Buffered bytes that force a flush before the interval is over.
    pub max_bytes: usize,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        Self {
            interval: DEFAULT_FLUSH_INTERVAL,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Buffers a recording's bytes and says when to flush them.
#[derive(Debug)]
pub struct Batcher {
    policy: BatchPolicy,
    buf: Vec<u8>,
    next_flush: Instant,
}

impl Batcher {
    /// A batcher whose first flush is due one interval after `now`.
    pub fn new(policy: BatchPolicy, now: Instant) -> Self {
        Self {
            policy,
            buf: Vec::new(),
            next_flush: now + policy.interval,
        }
    }

    /// Bytes waiting.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The buffer to append to.
    pub fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// When the next flush is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next_flush
    }

    /// Whether a flush is due at `now` (the interval is over or the buffer
    /// is full).
    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.next_flush || self.buf.len() >= self.policy.max_bytes
    }

    /// The bytes to write and sync now, if a flush is due at `now` (the
    /// interval is over or the buffer is full). The next flush is then due
    /// one interval later. An empty buffer flushes nothing.
    pub fn poll_flush(&mut self, now: Instant) -> Option<Vec<u8>> {
        if !self.is_due(now) {
            return None;
        }
        if now >= self.next_flush {
            self.next_flush = now + self.policy.interval;
        }
        if self.buf.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.buf))
    }

    /// Everything left, for the final write.
    pub fn take_all(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_on_the_interval_and_when_full() {
        let t0 = Instant::now();
        let policy = BatchPolicy {
            interval: Duration::from_secs(5),
            max_bytes: 100,
        };
        let mut b = Batcher::new(policy, t0);
        b.buffer_mut().extend_from_slice(&[1; 40]);
        assert_eq!(b.poll_flush(t0 + Duration::from_millis(4999)), None);
        assert_eq!(b.poll_timeout(), t0 + Duration::from_secs(5));
        assert_eq!(b.poll_flush(t0 + Duration::from_secs(5)), Some(vec![1; 40]));
        assert_eq!(b.poll_timeout(), t0 + Duration::from_secs(10));
        // Full before the interval.
        b.buffer_mut().extend_from_slice(&[2; 100]);
        assert_eq!(
            b.poll_flush(t0 + Duration::from_secs(6)).map(|v| v.len()),
            Some(100)
        );
        assert_eq!(b.poll_timeout(), t0 + Duration::from_secs(10));
        // Nothing buffered: no write, but the timer moves on.
        assert_eq!(b.poll_flush(t0 + Duration::from_secs(10)), None);
        assert_eq!(b.poll_timeout(), t0 + Duration::from_secs(15));
        b.buffer_mut().push(3);
        assert_eq!(b.take_all(), vec![3]);
        assert_eq!(b.buffered(), 0);
    }
}
