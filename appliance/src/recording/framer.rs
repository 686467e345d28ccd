//! Aligns the two parties' mono PCM into stereo frames (party A left,
//! party B right) on one media clock that starts with the recording.
//!
//! Each party's frames arrive with the instant of their first sample (the
//! bridge's tap). A party's next frame is placed right after its previous
//! one while the timestamp agrees within [`FramerConfig::tolerance`]
//! (absorbing scheduling jitter without clicks). A later timestamp opens a
//! gap of whole frames (the timestamp rounded down to the party's frame
//! grid)
//! that is filled with silence (a party on hold, DTX, lost packets); an
//! earlier one means the party delivers faster than real time, and the
//! frame is dropped to pull it back. A party that sends nothing is silent.
//!
//! Stereo frames are released [`FramerConfig::hold_back`] behind `now`,
//! so a late party still lands in place; [`StereoFramer::finish`] releases
//! the rest. Sans-IO: `now` is always passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One side of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The calling side: the left channel.
    A,
    /// The called side: the right channel.
    B,
}

impl Party {
    fn index(self) -> usize {
        match self {
            Party::A => 0,
            Party::B => 1,
        }
    }
}

/// Settings of a [`StereoFramer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerConfig {
    /// Samples per second of both input and output.
    pub sample_rate: u32,
    /// Output frame length.
    pub frame: Duration,
    /// Timestamp error absorbed by placing a frame right after the previous
    /// one.
    pub tolerance: Duration,
    /// How far behind `now` stereo frames are released.
    pub hold_back: Duration,
}

impl FramerConfig {
    /// 20 ms frames, 60 ms tolerance, 200 ms hold-back at `sample_rate`.
    pub fn new(sample_rate: u32) -> Self {
        Self {
            sample_rate,
            frame: Duration::from_millis(20),
            tolerance: Duration::from_millis(60),
            hold_back: Duration::from_millis(200),
        }
    }

    /// Samples per channel in one output frame.
    pub fn frame_samples(&self) -> usize {
        self.samples(self.frame) as usize
    }

    fn samples(&self, d: Duration) -> u64 {
        (d.as_nanos() * u128::from(self.sample_rate) / 1_000_000_000) as u64
    }
}

/// Counters of what the framer had to repair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FramerStats {
    /// Input frames dropped because their party ran ahead of the clock or
    /// they arrived after their place was already released.
    pub dropped_frames: u64,
    /// Gaps opened (filled with silence).
    pub gaps: u64,
}

#[derive(Debug, Default)]
struct Track {
    /// Sample position of `buf[0]`.
    start: u64,
    buf: VecDeque<i16>,
    /// Position after the last sample placed; `None` before the first frame.
    cursor: Option<u64>,
}

impl Track {
    fn end(&self) -> u64 {
        self.start + self.buf.len() as u64
    }
}

/// The stereo framer. See the [module docs](self).
#[derive(Debug)]
pub struct StereoFramer {
    config: FramerConfig,
    origin: Instant,
    /// Stereo samples (per channel) released so far.
    released: u64,
    tracks: [Track; 2],
    stats: FramerStats,
}

impl StereoFramer {
    /// A framer whose clock starts at `origin`.
    pub fn new(config: FramerConfig, origin: Instant) -> Self {
        Self {
            config,
            origin,
            released: 0,
            tracks: [Track::default(), Track::default()],
            stats: FramerStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &FramerConfig {
        &self.config
    }

    /// Repair counters.
    pub fn stats(&self) -> FramerStats {
        self.stats
    }

    /// Frames (per channel) released so far.
    pub fn released_samples(&self) -> u64 {
        self.released
    }

    fn position(&self, at: Instant) -> u64 {
        self.config
            .samples(at.saturating_duration_since(self.origin))
    }

    /// Adds `pcm` of `party` whose first sample was captured at `at`.
    pub fn push(&mut self, party: Party, at: Instant, pcm: &[i16]) {
        if pcm.is_empty() {
            return;
        }
        let tolerance = self.config.samples(self.config.tolerance);
        let stamped = self.position(at);
        let released = self.released;
        let track = &mut self.tracks[party.index()];
        let place = match track.cursor {
            None => stamped,
            Some(cursor) if stamped > cursor + tolerance => {
                // Missing frames: the gap is a whole number of this
                // party's frames (rounded down: a timestamp is late, never
                // early), so delivery jitter does not shift the party.
                self.stats.gaps += 1;
                let len = pcm.len() as u64;
                cursor + (stamped - cursor) / len * len
            }
            Some(cursor) if stamped + tolerance < cursor => {
                self.stats.dropped_frames += 1;
                return;
            }
            Some(cursor) => cursor,
        };
        let end = place + pcm.len() as u64;
        track.cursor = Some(end);
        if end <= released {
            self.stats.dropped_frames += 1;
            return;
        }
        // Skip the part whose place was already released.
        let place = place.max(released);
        if track.buf.is_empty() {
            track.start = place;
        }
        let place_in_buf = place.max(track.start);
        let skip = ((place_in_buf - (end - pcm.len() as u64)) as usize).min(pcm.len());
        let track_end = track.end();
        if place_in_buf > track_end {
            track
                .buf
                .extend(std::iter::repeat_n(0, (place_in_buf - track_end) as usize));
        }
        // Overlap with already buffered samples (within tolerance) is
        // overwritten by the newer frame.
        let from = (place_in_buf - track.start) as usize;
        for (i, s) in pcm[skip..].iter().enumerate() {
            let idx = from + i;
            if idx < track.buf.len() {
                track.buf[idx] = *s;
            } else {
                track.buf.push_back(*s);
            }
        }
    }

    /// The instant at which the next stereo frame is due.
    pub fn poll_timeout(&self) -> Instant {
        let next_end = self.released + self.config.frame_samples() as u64;
        let nanos = u128::from(next_end) * 1_000_000_000 / u128::from(self.config.sample_rate);
        self.origin
            + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
            + self.config.hold_back
    }

    /// The next interleaved stereo frame due at `now`, if any.
    pub fn poll_frame(&mut self, now: Instant) -> Option<Vec<i16>> {
        let due = self.position(now.checked_sub(self.config.hold_back)?);
        let n = self.config.frame_samples() as u64;
        if self.released + n > due {
            return None;
        }
        Some(self.take_frame())
    }

    /// Releases what is left after the recording stopped: frames up to the
    /// furthest party's last sample, the last one padded with silence.
    pub fn finish(&mut self) -> Vec<Vec<i16>> {
        let end = self
            .tracks
            .iter()
            .map(|t| t.cursor.unwrap_or(0).max(t.end()))
            .max()
            .unwrap_or(0);
        let mut frames = Vec::new();
        while self.released < end {
            frames.push(self.take_frame());
        }
        frames
    }

    fn take_frame(&mut self) -> Vec<i16> {
        let n = self.config.frame_samples();
        let mut frame = vec![0i16; n * 2];
        for (channel, track) in self.tracks.iter_mut().enumerate() {
            for i in 0..n {
                let pos = self.released + i as u64;
                if pos >= track.start
                    && let Some(s) = track.buf.pop_front()
                {
                    frame[i * 2 + channel] = s;
                    track.start = pos + 1;
                }
            }
            if track.buf.is_empty() {
                track.start = track.start.max(self.released + n as u64);
            }
        }
        self.released += n as u64;
        frame
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    const RATE: u32 = 8000;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn framer(origin: Instant) -> StereoFramer {
        StereoFramer::new(FramerConfig::new(RATE), origin)
    }

    fn drain(f: &mut StereoFramer, now: Instant) -> Vec<Vec<i16>> {
        std::iter::from_fn(|| f.poll_frame(now)).collect()
    }

    #[test]
    fn aligns_both_parties_with_jittered_timestamps() {
        let t0 = Instant::now();
        let mut f = framer(t0);
        for i in 0..50u64 {
            // Party A on time, B up to 14 ms late (scheduling jitter):
            // both land in place.
            f.push(Party::A, t0 + ms(i * 20), &[i as i16 + 1; 160]);
            f.push(
                Party::B,
                t0 + ms(i * 20 + (i % 3) * 7),
                &[-(i as i16) - 1; 160],
            );
        }
        let frames = drain(&mut f, t0 + ms(1000 + 200));
        assert_eq!(frames.len(), 50);
        for (i, frame) in frames.iter().enumerate() {
            assert_eq!(frame.len(), 320);
            let i = i16::try_from(i).unwrap();
            assert!(frame.chunks(2).all(|lr| lr[0] == i + 1), "frame {i}");
            assert!(frame.chunks(2).all(|lr| lr[1] == -i - 1), "frame {i}");
        }
        assert_eq!(f.stats(), FramerStats::default());
    }

    #[test]
    fn a_silent_party_and_gaps_are_filled_with_silence() {
        let t0 = Instant::now();
        let mut f = framer(t0);
        // Only A speaks, frames 0..5 and then 10..15 (a 100 ms gap).
        for i in (0..5u64).chain(10..15) {
            f.push(Party::A, t0 + ms(i * 20), &[100; 160]);
        }
        let frames = drain(&mut f, t0 + ms(300 + 200));
        assert_eq!(frames.len(), 15);
        for (i, frame) in frames.iter().enumerate() {
            let left = if (5..10).contains(&i) { 0 } else { 100 };
            assert!(frame.chunks(2).all(|lr| lr == [left, 0]), "frame {i}");
        }
        assert_eq!(f.stats().gaps, 1);
    }

    #[test]
    fn a_jittered_frame_after_a_gap_stays_on_the_frame_grid() {
        let t0 = Instant::now();
        let mut f = framer(t0);
        f.push(Party::A, t0, &[1; 160]);
        // Five frames missing, the next one stamped 17 ms late.
        f.push(Party::A, t0 + ms(120 + 17), &[2; 160]);
        let frames = drain(&mut f, t0 + ms(140 + 200));
        assert_eq!(frames.len(), 7);
        assert!(frames[6].chunks(2).all(|lr| lr == [2, 0]));
        assert!(frames[5].iter().all(|s| *s == 0));
    }

    #[test]
    fn a_party_running_ahead_is_pulled_back() {
        let t0 = Instant::now();
        let mut f = framer(t0);
        // Ten frames stamped at the same instant: the first four fit within
        // the tolerance, the rest are dropped.
        for _ in 0..10 {
            f.push(Party::A, t0, &[1; 160]);
        }
        assert_eq!(f.stats().dropped_frames, 6);
        let frames = drain(&mut f, t0 + ms(200 + 200));
        let nonzero = frames.iter().filter(|fr| fr[0] == 1).count();
        assert_eq!(nonzero, 4);
    }

    #[test]
    fn frames_are_released_behind_now_and_finish_pads_the_rest() {
        let t0 = Instant::now();
        let mut f = framer(t0);
        assert_eq!(f.poll_timeout(), t0 + ms(220));
        f.push(Party::A, t0, &[5; 200]); // 25 ms
        assert!(f.poll_frame(t0 + ms(219)).is_none());
        assert_eq!(drain(&mut f, t0 + ms(220)).len(), 1);
        let rest = f.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0][0], 5);
        assert_eq!(rest[0][78], 5); // left sample 39 of the second frame
        assert_eq!(rest[0][80], 0); // left sample 40: padding
        assert_eq!(f.released_samples(), 320);
        // A frame whose place was released already is dropped.
        f.push(Party::B, t0, &[9; 160]);
        assert_eq!(f.stats().dropped_frames, 1);
        assert!(f.finish().is_empty());
    }

    #[test]
    fn a_late_first_frame_starts_at_its_timestamp() {
        let t0 = Instant::now();
        let mut f = framer(t0);
        f.push(Party::B, t0 + ms(40), &[3; 160]);
        let frames = drain(&mut f, t0 + ms(60 + 200));
        assert_eq!(frames.len(), 3);
        assert!(frames[0].iter().all(|s| *s == 0));
        assert!(frames[1].iter().all(|s| *s == 0));
        assert!(frames[2].chunks(2).all(|lr| lr == [0, 3]));
    }
}
