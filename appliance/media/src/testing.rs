//! Test support (feature `testing`): a seeded xorshift PRNG and an in-memory
//! lossy link with loss, delay, jitter, duplication and reordering on a
//! virtual clock, in the spirit of str0m's `netem` crate.
//!
//! Nothing here reads the clock: the caller passes `now` and advances its
//! virtual time to [`LossyLink::poll_timeout`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// xorshift64* PRNG: tiny, seeded, reproducible. Not for cryptography.
#[derive(Debug, Clone)]
pub struct Xorshift64 {
    state: u64,
}

impl Xorshift64 {
    /// A generator from `seed` (0 is replaced by a fixed non-zero constant).
    pub fn new(seed: u64) -> Self {
        Xorshift64 {
            state: if seed == 0 {
                0x9e37_79b9_7f4a_7c15
            } else {
                seed
            },
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }

    /// Uniform duration in `[0, max)` (zero for a zero `max`).
    pub fn duration_below(&mut self, max: Duration) -> Duration {
        max.mul_f64(self.next_f64())
    }
}

/// Impairments of a [`LossyLink`]. All probabilities are in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkConfig {
    /// Probability a packet is dropped.
    pub loss: f64,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay, uniform in `[0, jitter)`, per packet (reorders naturally
    /// when larger than the packet interval).
    pub jitter: Duration,
    /// Probability a packet is delivered twice.
    pub duplicate: f64,
    /// Probability a packet is held back by an extra `reorder_delay`.
    pub reorder: f64,
    /// Hold-back for reordered packets.
    pub reorder_delay: Duration,
}

#[derive(Debug)]
struct InFlight<T> {
    at: Instant,
    order: u64,
    item: T,
}

impl<T> PartialEq for InFlight<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl<T> Eq for InFlight<T> {}
impl<T> PartialOrd for InFlight<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for InFlight<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// Counters of what a [`LossyLink`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets offered with [`LossyLink::send`].
    pub sent: u64,
    /// Packets dropped.
    pub lost: u64,
    /// Extra copies created.
    pub duplicated: u64,
    /// Packets held back for reordering.
    pub reordered: u64,
}

/// A one-way in-memory link. Items delivered at the same instant come out
/// in the order they were sent.
#[derive(Debug)]
pub struct LossyLink<T> {
    config: LinkConfig,
    rng: Xorshift64,
    queue: BinaryHeap<Reverse<InFlight<T>>>,
    order: u64,
    stats: LinkStats,
}

impl<T: Clone> LossyLink<T> {
    /// A link with the given impairments and PRNG seed.
    pub fn new(config: LinkConfig, seed: u64) -> Self {
        LossyLink {
            config,
            rng: Xorshift64::new(seed),
            queue: BinaryHeap::new(),
            order: 0,
            stats: LinkStats::default(),
        }
    }

    fn enqueue(&mut self, at: Instant, item: T) {
        self.order += 1;
        self.queue.push(Reverse(InFlight {
            at,
            order: self.order,
            item,
        }));
    }

    fn delivery_time(&mut self, now: Instant) -> Instant {
        let mut at = now + self.config.delay + self.rng.duration_below(self.config.jitter);
        if self.rng.chance(self.config.reorder) {
            self.stats.reordered += 1;
            at += self.config.reorder_delay;
        }
        at
    }

    /// Offers an item to the link at `now`.
    pub fn send(&mut self, now: Instant, item: T) {
        self.stats.sent += 1;
        if self.rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return;
        }
        if self.rng.chance(self.config.duplicate) {
            self.stats.duplicated += 1;
            let at = self.delivery_time(now);
            self.enqueue(at, item.clone());
        }
        let at = self.delivery_time(now);
        self.enqueue(at, item);
    }

    /// When the next item becomes deliverable.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(f)| f.at)
    }

    /// Next item deliverable at `now`, with its delivery instant.
    pub fn poll_receive(&mut self, now: Instant) -> Option<(Instant, T)> {
        if self.poll_timeout()? > now {
            return None;
        }
        self.queue.pop().map(|Reverse(f)| (f.at, f.item))
    }

    /// What the link did so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Items still in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}

/// A steady stream of 20 ms (or `frame`) RTP packets for jitter-buffer runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamSpec {
    /// Packets to send.
    pub packets: u32,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Packet duration (and the consumer's tick).
    pub frame: Duration,
    /// Sender clock relative to the receiver's: 1.005 sends 0.5 % faster.
    pub sender_clock: f64,
    /// Offset of the consumer's ticks against the first send.
    pub tick_phase: Duration,
}

impl Default for StreamSpec {
    fn default() -> Self {
        StreamSpec {
            packets: 1500,
            clock_rate: 8000,
            frame: Duration::from_millis(20),
            sender_clock: 1.0,
            tick_phase: Duration::from_millis(7),
        }
    }
}

/// What a [`run_jitter`] produced.
#[derive(Debug, Clone, Default)]
pub struct JitterRun {
    /// Sequence numbers played, in playout order, with the time from the
    /// packet's send to its playout.
    pub played: Vec<(u16, Duration)>,
    /// `Lost` answers, and how many of them carried the next payload.
    pub lost: u32,
    /// `Lost` answers with the next payload.
    pub lost_with_next: u32,
    /// `Silence` answers.
    pub silence: u32,
    /// `Empty` answers after the first frame.
    pub empty: u32,
    /// Largest number of packets buffered at a tick.
    pub max_buffered: usize,
    /// The buffer's counters at the end.
    pub stats: crate::jitter::JitterStats,
    /// The link's counters.
    pub link: LinkStats,
}

impl JitterRun {
    /// Mean of send-to-playout over the played packets.
    pub fn mean_delay(&self) -> Duration {
        if self.played.is_empty() {
            return Duration::ZERO;
        }
        let total: Duration = self.played.iter().map(|(_, d)| *d).sum();
        total / self.played.len() as u32
    }

    /// Send-to-playout at quantile `q` (0..=1) over the played packets.
    pub fn delay_quantile(&self, q: f64) -> Duration {
        let mut d: Vec<Duration> = self.played.iter().map(|(_, d)| *d).collect();
        d.sort_unstable();
        let idx = ((d.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
        d.get(idx).copied().unwrap_or_default()
    }
}

/// Streams packets from a sender through a [`LossyLink`] into a jitter
/// buffer that a consumer pops once per tick, all in virtual time from `t0`.
/// `payload(seq)` gives each packet's payload.
pub fn run_jitter(
    t0: Instant,
    jitter: crate::jitter::JitterConfig,
    link_config: LinkConfig,
    seed: u64,
    spec: StreamSpec,
) -> JitterRun {
    use crate::jitter::{JitterBuffer, Playout};
    use crate::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc};
    use crate::seq::SeqNo;

    let mut jb = JitterBuffer::new(jitter);
    let mut link: LossyLink<(u16, Vec<u8>)> = LossyLink::new(link_config, seed);
    let samples = (spec.frame.as_secs_f64() * f64::from(spec.clock_rate)).round() as u32;
    let send_at = |k: u32| t0 + spec.frame.mul_f64(f64::from(k) / spec.sender_clock);
    let mut sent = 0u32;
    let mut tick = t0 + spec.tick_phase;
    let mut run = JitterRun::default();
    let mut started = false;
    let end = send_at(spec.packets) + Duration::from_secs(2);
    while tick < end {
        let send_due = (sent < spec.packets).then(|| send_at(sent));
        let now = [send_due, link.poll_timeout(), Some(tick)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(tick);
        if send_due == Some(now) {
            let seq = sent as u16;
            let mut payload = vec![0u8; 20];
            payload[..4].copy_from_slice(&sent.to_be_bytes());
            let bytes = RtpHeader::new(
                PayloadType::PCMU,
                SeqNo(seq),
                sent.wrapping_mul(samples),
                Ssrc(0x5eed),
            )
            .to_packet(&payload, 0)
            .unwrap_or_default();
            link.send(now, (seq, bytes));
            sent += 1;
            continue;
        }
        if link.poll_timeout() == Some(now) {
            while let Some((_, (_, bytes))) = link.poll_receive(now) {
                if let Ok(p) = RtpPacket::parse(&bytes) {
                    jb.push(now, &p);
                }
            }
            continue;
        }
        run.max_buffered = run.max_buffered.max(jb.len());
        match jb.pop(now) {
            Playout::Frame(f) => {
                started = true;
                let k = f
                    .payload
                    .get(..4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map_or(0, u32::from_be_bytes);
                run.played
                    .push((f.seq.0, now.saturating_duration_since(send_at(k))));
            }
            Playout::Lost { next, .. } => {
                run.lost += 1;
                run.lost_with_next += u32::from(next.is_some());
            }
            Playout::Silence { .. } => run.silence += 1,
            Playout::Empty => run.empty += u32::from(started),
        }
        tick += spec.frame;
    }
    run.stats = jb.stats();
    run.link = link.stats();
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prng_is_reproducible_and_uniform_enough() {
        let mut a = Xorshift64::new(42);
        let mut b = Xorshift64::new(42);
        assert_eq!(a.next_u64(), b.next_u64());
        let n = 100_000;
        let mean = (0..n).map(|_| a.next_f64()).sum::<f64>() / f64::from(n);
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }

    #[test]
    fn perfect_link_delivers_in_order_after_delay() {
        let t0 = Instant::now();
        let cfg = LinkConfig {
            delay: Duration::from_millis(30),
            ..LinkConfig::default()
        };
        let mut link = LossyLink::new(cfg, 1);
        link.send(t0, 1);
        link.send(t0, 2);
        assert_eq!(link.poll_receive(t0 + Duration::from_millis(29)), None);
        let at = link.poll_timeout().unwrap();
        assert_eq!(at, t0 + Duration::from_millis(30));
        assert_eq!(link.poll_receive(at), Some((at, 1)));
        assert_eq!(link.poll_receive(at), Some((at, 2)));
        assert_eq!(link.in_flight(), 0);
    }

    #[test]
    fn loss_and_duplication_rates_match_config() {
        let t0 = Instant::now();
        let cfg = LinkConfig {
            loss: 0.1,
            duplicate: 0.05,
            ..LinkConfig::default()
        };
        let mut link = LossyLink::new(cfg, 7);
        for i in 0..20_000u32 {
            link.send(t0, i);
        }
        let s = link.stats();
        assert!((1800..2200).contains(&s.lost), "{s:?}");
        assert!((800..1000).contains(&s.duplicated), "{s:?}");
        assert_eq!(link.in_flight() as u64, s.sent - s.lost + s.duplicated);
    }

    #[test]
    fn reorder_holds_packets_back() {
        let t0 = Instant::now();
        let cfg = LinkConfig {
            reorder: 0.5,
            reorder_delay: Duration::from_millis(50),
            ..LinkConfig::default()
        };
        let mut link = LossyLink::new(cfg, 3);
        for i in 0..100u32 {
            link.send(t0 + Duration::from_millis(u64::from(i) * 20), i);
        }
        let mut got = Vec::new();
        while let Some(at) = link.poll_timeout() {
            got.push(link.poll_receive(at).unwrap().1);
        }
        assert_eq!(got.len(), 100);
        assert!(got.windows(2).any(|w| w[0] > w[1]), "no reordering");
    }
}
