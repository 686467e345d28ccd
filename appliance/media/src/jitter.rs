//! Adaptive jitter buffer for the receiving side of a transcoding leg.
//!
//! Sans-IO: [`JitterBuffer::push`] takes a received RTP packet and its
//! arrival instant, [`JitterBuffer::pop`] is called by the consumer whenever
//! it needs the next piece of audio (the bridge: until it has 20 ms of PCM
//! for its tick) and answers with a [`Playout`]. It never reads the clock.
//!
//! # Playout schedule
//! Every packet's *transit* is its arrival time minus its RTP timestamp (both
//! in RTP clock units). Over a sliding window ([`JitterConfig::history`]) the
//! buffer keeps the smallest transit (`base`, the least-delayed packet) and a
//! percentile of `transit - base` ([`JitterConfig::percentile`]): the delay
//! that covers that share of packets. The *target delay* is that percentile
//! plus [`JitterConfig::margin`] and [`JitterConfig::lookahead`], clamped to
//! [`JitterConfig::min_delay`]..=[`JitterConfig::max_delay`]. At `now`, the
//! ideal playout position is `now - base - target`: a packet with a
//! timestamp at or before it is due.
//!
//! The playout position (`next_ts`) advances by what is played. The
//! difference `ideal - next_ts` (the *excess*) drives adaptation:
//! - Too deep (excess ≥ one frame, e.g. the sender's clock runs fast or the
//!   jitter fell): a frame is dropped, preferably while the audio is quiet
//!   ([`JitterBuffer::set_quiet`], the consumer's hint about the last decoded
//!   frame), otherwise after [`JitterConfig::drop_patience`] pops, at once
//!   when the excess reaches three frames. At the start of a talkspurt
//!   (after a DTX gap) the buffer re-aligns to the target for free.
//! - Too shallow (a packet is missing and we are playing ahead of the
//!   target, e.g. the jitter rose or the sender's clock runs slow):
//!   concealment is inserted without advancing, so the delay grows.
//!
//! # Loss, DTX, late packets
//! A missing slot (sequence gap) whose deadline passed is played as
//! [`Playout::Lost`], carrying the next packet's payload when it is buffered
//! and directly follows the slot (Opus in-band FEC). A timestamp gap with
//! *consecutive* sequence numbers is discontinuous transmission: it plays as
//! [`Playout::Silence`] and is not counted as loss. When the buffer runs
//! empty, [`JitterConfig::max_conceal`] pops are concealed, then silence is
//! played (the sender may have gone quiet). Packets arriving after their
//! slot are dropped and counted as late; duplicates are dropped and counted.
//!
//! # SSRC change and timestamp jumps
//! A new SSRC restarts the stream at once (counted in
//! [`JitterStats::resyncs`]); stray packets of the previous SSRC are late.
//! A packet whose transit differs from the base by more than
//! [`JitterConfig::resync_threshold`], or whose sequence number jumps by more
//! than [`MAX_SEQ_JUMP`], is held; if the next packet continues it
//! consistently, the stream restarts from the held packet (a timestamp or
//! sequence jump), otherwise the held packet is discarded as an outlier.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::rtp::{RtpPacket, Ssrc};
use crate::seq::SeqNo;

/// Largest sequence-number jump (either way) treated as the same stream.
pub const MAX_SEQ_JUMP: i64 = 1000;

/// Jitter buffer configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    /// RTP clock rate of the stream in Hz (8000 for G.711 and G.722,
    /// 48000 for Opus).
    pub clock_rate: u32,
    /// Nominal packet duration (the `ptime`, 20 ms); the buffer learns the
    /// real one from the stream.
    pub frame: Duration,
    /// Lower bound of the target delay.
    pub min_delay: Duration,
    /// Upper bound of the target delay.
    pub max_delay: Duration,
    /// Share of packets (0.5..=1.0) whose transit variation the target covers.
    pub percentile: f64,
    /// Added to the percentile.
    pub margin: Duration,
    /// Further delay so the packet after a missing one is usually buffered
    /// when the missing one is due (one frame for Opus in-band FEC; zero
    /// for codecs without FEC).
    pub lookahead: Duration,
    /// Window of arrivals the jitter estimate looks at.
    pub history: Duration,
    /// Consecutive concealed frames on an empty buffer before playing silence.
    pub max_conceal: u32,
    /// Pops with excess delay before a frame is dropped even when not quiet.
    pub drop_patience: u32,
    /// Transit change that counts as a timestamp jump.
    pub resync_threshold: Duration,
    /// Most packets held; further packets are dropped (counted).
    pub capacity: usize,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            clock_rate: 8000,
            frame: Duration::from_millis(20),
            min_delay: Duration::ZERO,
            max_delay: Duration::from_millis(300),
            percentile: 0.98,
            margin: Duration::from_millis(5),
            lookahead: Duration::ZERO,
            history: Duration::from_secs(2),
            max_conceal: 5,
            drop_patience: 50,
            resync_threshold: Duration::from_secs(1),
            capacity: 200,
        }
    }
}

/// One packet handed to the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// RTP payload.
    pub payload: Vec<u8>,
    /// RTP timestamp as received.
    pub timestamp: u32,
    /// Sequence number as received.
    pub seq: SeqNo,
    /// Marker bit as received.
    pub marker: bool,
    /// Duration in RTP clock units (learned from the stream).
    pub duration: u32,
    /// When the packet arrived (for delay measurements).
    pub arrival: Instant,
}

/// What to play next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// A received packet: decode it.
    Frame(Frame),
    /// A packet is missing: recover it from `next` (the following packet's
    /// payload, for codecs with in-band FEC) or conceal `duration` RTP clock
    /// units.
    Lost {
        /// Duration to conceal, in RTP clock units.
        duration: u32,
        /// Payload of the packet right after the missing one, if buffered.
        next: Option<Vec<u8>>,
    },
    /// Silence (DTX gap, or the sender stopped): play or send nothing.
    Silence {
        /// Duration in RTP clock units.
        duration: u32,
    },
    /// Nothing to play yet (no packet, or still filling to the target).
    Empty,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored for playout.
    Buffered,
    /// Stored, and the stream restarted first (new SSRC or confirmed jump).
    Resynced,
    /// Already buffered or already played: dropped.
    Duplicate,
    /// Arrived after its playout slot (or from the previous SSRC): dropped.
    Late,
    /// Held as a possible timestamp/sequence jump until the next packet.
    Held,
    /// The buffer was full: dropped.
    Overflow,
}

/// Counters and current figures of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets offered to [`JitterBuffer::push`].
    pub received: u64,
    /// Packets played as [`Playout::Frame`].
    pub played: u64,
    /// Sequence numbers skipped at playout (never played; includes late ones).
    pub lost: u64,
    /// Packets that arrived after their slot.
    pub late: u64,
    /// Duplicate packets dropped.
    pub duplicates: u64,
    /// [`Playout::Lost`] answers (frames concealed or recovered).
    pub concealed: u64,
    /// Of those, answers that carried the next payload for FEC.
    pub fec_available: u64,
    /// Frames dropped to reduce the delay (drift, falling jitter).
    pub dropped: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Stream restarts (SSRC change, timestamp or sequence jump).
    pub resyncs: u64,
    /// Outliers held as a possible jump and then discarded.
    pub outliers: u64,
    /// Current target delay in RTP clock units.
    pub target_delay: u32,
}

#[derive(Debug, Clone)]
struct Stored {
    ts: i64,
    seq: SeqNo,
    timestamp: u32,
    marker: bool,
    payload: Vec<u8>,
    arrival: Instant,
}

#[derive(Debug, Clone)]
struct Held {
    seq: SeqNo,
    timestamp: u32,
    arrival: i64,
    marker: bool,
    payload: Vec<u8>,
    at: Instant,
}

/// Reference for unwrapping 16-bit sequence numbers and 32-bit timestamps.
#[derive(Debug, Clone, Copy)]
struct Unwrap {
    seq: i64,
    raw_seq: SeqNo,
    ts: i64,
    raw_ts: u32,
}

impl Unwrap {
    fn new(seq: SeqNo, ts: u32) -> Self {
        Unwrap {
            seq: 1 << 32,
            raw_seq: seq,
            ts: 1 << 40,
            raw_ts: ts,
        }
    }

    fn seq(&self, seq: SeqNo) -> i64 {
        self.seq + i64::from(seq.delta(self.raw_seq))
    }

    fn ts(&self, ts: u32) -> i64 {
        self.ts + i64::from(ts.wrapping_sub(self.raw_ts).cast_signed())
    }

    fn advance(&mut self, seq: SeqNo, ts: u32) {
        let (s, t) = (self.seq(seq), self.ts(ts));
        if s > self.seq {
            self.seq = s;
            self.raw_seq = seq;
        }
        if t > self.ts {
            self.ts = t;
            self.raw_ts = ts;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Playing {
    next_ts: i64,
    last_seq: i64,
    /// Bit i set: sequence `last_seq - i` was played.
    played: u64,
}

/// The adaptive jitter buffer. See the module documentation.
#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    frame_ts: i64,
    origin: Option<Instant>,
    ssrc: Option<Ssrc>,
    previous_ssrc: Option<Ssrc>,
    unwrap: Option<Unwrap>,
    packets: BTreeMap<i64, Stored>,
    history: VecDeque<(Instant, i64)>,
    scratch: Vec<i64>,
    base: i64,
    target: i64,
    playing: Option<Playing>,
    packet_ts: i64,
    packet_ts_candidate: (i64, u32),
    conceal_run: u32,
    excess_pops: u32,
    quiet: bool,
    held: Option<Held>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        let frame_ts = to_units(cfg.frame, cfg.clock_rate).max(1);
        let mut jb = JitterBuffer {
            cfg,
            frame_ts,
            origin: None,
            ssrc: None,
            previous_ssrc: None,
            unwrap: None,
            packets: BTreeMap::new(),
            history: VecDeque::new(),
            scratch: Vec::new(),
            base: 0,
            target: 0,
            playing: None,
            packet_ts: frame_ts,
            packet_ts_candidate: (frame_ts, 0),
            conceal_run: 0,
            excess_pops: 0,
            quiet: false,
            held: None,
            stats: JitterStats::default(),
        };
        jb.target = jb.clamp_target(0);
        jb
    }

    /// Counters and the current target delay.
    pub fn stats(&self) -> JitterStats {
        let mut s = self.stats;
        s.target_delay = u32::try_from(self.target).unwrap_or(u32::MAX);
        s
    }

    /// The configuration.
    pub fn config(&self) -> &JitterConfig {
        &self.cfg
    }

    /// The current target delay.
    pub fn target_delay(&self) -> Duration {
        from_units(self.target, self.cfg.clock_rate)
    }

    /// Packets currently buffered.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether no packet is buffered.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// The SSRC being played.
    pub fn ssrc(&self) -> Option<Ssrc> {
        self.ssrc
    }

    /// Hint from the consumer: the last decoded frame was quiet, so dropping
    /// the next one to reduce delay is inaudible.
    pub fn set_quiet(&mut self, quiet: bool) {
        self.quiet = quiet;
    }

    /// Forgets the stream (keeps the counters): the next packet starts anew.
    pub fn reset(&mut self) {
        self.ssrc = None;
        self.unwrap = None;
        self.packets.clear();
        self.history.clear();
        self.playing = None;
        self.held = None;
        self.conceal_run = 0;
        self.excess_pops = 0;
        self.packet_ts = self.frame_ts;
        self.packet_ts_candidate = (self.frame_ts, 0);
        self.target = self.clamp_target(0);
    }

    fn clamp_target(&self, jitter: i64) -> i64 {
        let min = to_units(self.cfg.min_delay, self.cfg.clock_rate);
        let max = to_units(self.cfg.max_delay, self.cfg.clock_rate).max(min);
        let extra = to_units(self.cfg.margin + self.cfg.lookahead, self.cfg.clock_rate);
        (jitter + extra).clamp(min, max)
    }

    fn units_since_origin(&self, now: Instant) -> i64 {
        self.origin.map_or(0, |o| {
            to_units(now.saturating_duration_since(o), self.cfg.clock_rate)
        })
    }

    /// Offers a received packet that arrived at `now`.
    pub fn push(&mut self, now: Instant, packet: &RtpPacket<'_>) -> PushOutcome {
        self.stats.received += 1;
        let origin = *self.origin.get_or_insert(now);
        let arrival = to_units(now.saturating_duration_since(origin), self.cfg.clock_rate);
        let (seq, timestamp, ssrc) = (packet.sequence_number(), packet.timestamp(), packet.ssrc());
        let fresh = Held {
            seq,
            timestamp,
            arrival,
            marker: packet.marker(),
            payload: packet.payload().to_vec(),
            at: now,
        };
        let mut resynced = false;
        match self.ssrc {
            None => {
                self.ssrc = Some(ssrc);
            }
            Some(current) if current != ssrc => {
                if self.previous_ssrc == Some(ssrc) {
                    self.stats.late += 1;
                    return PushOutcome::Late;
                }
                self.reset();
                self.previous_ssrc = Some(current);
                self.ssrc = Some(ssrc);
                self.stats.resyncs += 1;
                resynced = true;
            }
            Some(_) => {}
        }
        let Some(unwrap) = self.unwrap else {
            self.unwrap = Some(Unwrap::new(seq, timestamp));
            return self.store(fresh, resynced);
        };
        let ext_seq = unwrap.seq(seq);
        let ext_ts = unwrap.ts(timestamp);
        let transit = arrival - ext_ts;
        let threshold = to_units(self.cfg.resync_threshold, self.cfg.clock_rate);
        let outlier = (ext_seq - unwrap.seq).abs() > MAX_SEQ_JUMP
            || (!self.history.is_empty() && (transit - self.base).abs() > threshold);
        if outlier {
            if let Some(held) = self.held.take()
                && seq == held.seq.next()
                && (i64::from(timestamp.wrapping_sub(held.timestamp).cast_signed())
                    - (arrival - held.arrival))
                    .abs()
                    <= threshold / 10
            {
                // Two consecutive packets agree: the stream jumped.
                let ssrc = self.ssrc;
                self.reset();
                self.ssrc = ssrc;
                self.stats.resyncs += 1;
                self.unwrap = Some(Unwrap::new(held.seq, held.timestamp));
                self.store(held, true);
                return self.push_known(fresh, true);
            }
            if self.held.replace(fresh).is_some() {
                self.stats.outliers += 1;
            }
            return PushOutcome::Held;
        }
        if self.held.take().is_some() {
            self.stats.outliers += 1;
        }
        self.push_known(fresh, resynced)
    }

    fn push_known(&mut self, p: Held, resynced: bool) -> PushOutcome {
        let Some(unwrap) = self.unwrap else {
            return PushOutcome::Late;
        };
        let ext_seq = unwrap.seq(p.seq);
        let ext_ts = unwrap.ts(p.timestamp);
        if let Some(play) = self.playing {
            let behind = play.last_seq - ext_seq;
            if behind >= 0 {
                if behind < 64 && play.played & (1 << behind) != 0 {
                    self.stats.duplicates += 1;
                    return PushOutcome::Duplicate;
                }
                self.stats.late += 1;
                return PushOutcome::Late;
            }
            if ext_ts < play.next_ts {
                self.stats.late += 1;
                return PushOutcome::Late;
            }
        }
        if self.packets.contains_key(&ext_seq) {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        self.store(p, resynced)
    }

    fn store(&mut self, p: Held, resynced: bool) -> PushOutcome {
        let Some(mut unwrap) = self.unwrap else {
            return PushOutcome::Late;
        };
        if self.packets.len() >= self.cfg.capacity {
            self.stats.overflow += 1;
            return PushOutcome::Overflow;
        }
        let ext_seq = unwrap.seq(p.seq);
        let ext_ts = unwrap.ts(p.timestamp);
        unwrap.advance(p.seq, p.timestamp);
        self.unwrap = Some(unwrap);
        self.learn_duration(ext_seq, ext_ts);
        self.record_transit(p.at, p.arrival - ext_ts);
        self.packets.insert(
            ext_seq,
            Stored {
                ts: ext_ts,
                seq: p.seq,
                timestamp: p.timestamp,
                marker: p.marker,
                payload: p.payload,
                arrival: p.at,
            },
        );
        if resynced {
            PushOutcome::Resynced
        } else {
            PushOutcome::Buffered
        }
    }

    /// Learns the packet duration from a neighbour one sequence number
    /// away; a new value is adopted after three consistent observations so
    /// a DTX gap is not mistaken for a long packet.
    fn learn_duration(&mut self, seq: i64, ts: i64) {
        let observed = if let Some(prev) = self.packets.get(&(seq - 1)) {
            ts - prev.ts
        } else if let Some(next) = self.packets.get(&(seq + 1)) {
            next.ts - ts
        } else {
            return;
        };
        if observed <= 0 || observed > 6 * self.frame_ts || observed == self.packet_ts {
            self.packet_ts_candidate = (self.packet_ts, 0);
            return;
        }
        let (value, count) = self.packet_ts_candidate;
        self.packet_ts_candidate = if value == observed {
            (value, count + 1)
        } else {
            (observed, 1)
        };
        if self.packet_ts_candidate.1 >= 3 {
            self.packet_ts = observed;
        }
    }

    fn record_transit(&mut self, now: Instant, transit: i64) {
        self.history.push_back((now, transit));
        while self.history.len() > 1
            && self
                .history
                .front()
                .is_some_and(|(at, _)| now.saturating_duration_since(*at) > self.cfg.history)
        {
            self.history.pop_front();
        }
        self.scratch.clear();
        self.scratch.extend(self.history.iter().map(|(_, t)| *t));
        let base = self.scratch.iter().copied().min().unwrap_or(transit);
        let n = self.scratch.len();
        let pct = self.cfg.percentile.clamp(0.0, 1.0);
        let idx = (((n as f64) * pct).ceil() as usize).clamp(1, n) - 1;
        let (_, value, _) = self.scratch.select_nth_unstable(idx);
        let spread = *value - base;
        self.base = base;
        self.target = self.clamp_target(spread);
    }

    /// The next piece of audio to play at `now`. The consumer calls this
    /// when it needs audio (the bridge: until it holds one 20 ms frame).
    pub fn pop(&mut self, now: Instant) -> Playout {
        if self.origin.is_none() {
            return Playout::Empty;
        }
        let ideal = self.units_since_origin(now) - self.base - self.target;
        let mut play = if let Some(p) = self.playing {
            p
        } else {
            let Some(first) = self.packets.first_key_value() else {
                return Playout::Empty;
            };
            if first.1.ts > ideal {
                return Playout::Empty;
            }
            Playing {
                next_ts: first.1.ts,
                last_seq: first.0 - 1,
                played: 0,
            }
        };
        let out = self.pop_playing(&mut play, ideal);
        self.playing = Some(play);
        out
    }

    fn pop_playing(&mut self, play: &mut Playing, ideal: i64) -> Playout {
        let frame = self.packet_ts;
        let half = frame / 2;
        let mut dropped_this_pop = false;
        loop {
            let excess = ideal - play.next_ts;
            let Some((&seq, head)) = self.packets.first_key_value() else {
                // Underrun: the next packet is late, lost, or the sender is
                // quiet. Ahead of the target: stall (the delay grows).
                if play.next_ts <= ideal {
                    play.next_ts += frame;
                }
                self.conceal_run += 1;
                if self.conceal_run > self.cfg.max_conceal {
                    return Playout::Silence {
                        duration: frame as u32,
                    };
                }
                self.stats.concealed += 1;
                return Playout::Lost {
                    duration: frame as u32,
                    next: None,
                };
            };
            if head.ts <= play.next_ts + half {
                // The head occupies the current slot.
                let Some(stored) = self.packets.remove(&seq) else {
                    return Playout::Empty;
                };
                self.stats.lost += (seq - play.last_seq - 1).max(0) as u64;
                let shift = seq - play.last_seq;
                play.played = if (0..64).contains(&shift) {
                    (play.played << shift) | 1
                } else {
                    1
                };
                play.last_seq = seq;
                play.next_ts = stored.ts + frame;
                self.conceal_run = 0;
                if excess >= frame {
                    self.excess_pops += 1;
                } else {
                    self.excess_pops = 0;
                }
                let max_delay = to_units(self.cfg.max_delay, self.cfg.clock_rate);
                let follows = self
                    .packets
                    .first_key_value()
                    .is_some_and(|(&s, p)| s == seq + 1 && p.ts <= play.next_ts + half);
                let want_drop = excess >= frame
                    && (self.quiet
                        || self.excess_pops > self.cfg.drop_patience
                        || excess >= 3 * frame);
                if want_drop && follows && (!dropped_this_pop || excess > max_delay) {
                    self.stats.dropped += 1;
                    self.excess_pops = 0;
                    dropped_this_pop = true;
                    continue;
                }
                self.stats.played += 1;
                return Playout::Frame(Frame {
                    payload: stored.payload,
                    timestamp: stored.timestamp,
                    seq: stored.seq,
                    marker: stored.marker,
                    duration: frame as u32,
                    arrival: stored.arrival,
                });
            }
            if seq == play.last_seq + 1 {
                // Consecutive sequence numbers, timestamp gap: DTX. The
                // talkspurt starts when its first packet is due, which
                // re-aligns the delay to the target.
                if head.ts <= ideal {
                    play.next_ts = head.ts;
                    continue;
                }
                play.next_ts = (play.next_ts + frame).min(head.ts);
                self.conceal_run = 0;
                return Playout::Silence {
                    duration: frame as u32,
                };
            }
            // A packet is missing before the head.
            if play.next_ts > ideal {
                // Ahead of the target: it may still come; conceal without
                // advancing.
                self.stats.concealed += 1;
                return Playout::Lost {
                    duration: frame as u32,
                    next: None,
                };
            }
            let adjacent = head.ts - play.next_ts <= frame + half;
            let next = adjacent.then(|| head.payload.clone());
            play.next_ts += frame;
            if excess >= 2 * frame && !adjacent {
                // Far behind: skip further missing slots instead of
                // concealing them one by one.
                let skip = ((excess - frame) / frame) * frame;
                play.next_ts = (play.next_ts + skip).min(head.ts);
            }
            self.stats.concealed += 1;
            if next.is_some() {
                self.stats.fec_available += 1;
            }
            return Playout::Lost {
                duration: frame as u32,
                next,
            };
        }
    }

    /// Current playout delay: how far behind the earliest possible arrival
    /// of the packet being played the buffer plays, at `now`.
    pub fn current_delay(&self, now: Instant) -> Duration {
        let Some(play) = self.playing else {
            return Duration::ZERO;
        };
        let d = self.units_since_origin(now) - self.base - play.next_ts;
        from_units(d.max(0), self.cfg.clock_rate)
    }
}

/// Duration in RTP clock units.
fn to_units(d: Duration, clock_rate: u32) -> i64 {
    i64::try_from(d.as_nanos() * u128::from(clock_rate) / 1_000_000_000).unwrap_or(i64::MAX)
}

fn from_units(units: i64, clock_rate: u32) -> Duration {
    let rate = u64::from(clock_rate.max(1));
    let units = u64::try_from(units).unwrap_or(0);
    Duration::from_nanos(units.saturating_mul(1_000_000_000) / rate)
}
