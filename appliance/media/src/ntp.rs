//! NTP timestamps as RTCP carries them (RFC 3550 §4) and a mapping from the
//! caller's monotonic `Instant`s to NTP time.

use std::time::{Duration, Instant};

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp: 32 bits of seconds, 32 bits of fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// Converts a time since the Unix epoch (as the shell reads it once from
    /// `SystemTime`) to NTP time. Wraps in 2036 like NTP era 0 does.
    pub fn from_unix(since_unix_epoch: Duration) -> NtpTime {
        NtpTime(0).plus(since_unix_epoch + Duration::from_secs(NTP_UNIX_OFFSET_SECS))
    }

    /// The middle 32 bits: the "NTP short format" of LSR and arrival times.
    pub fn short(self) -> u32 {
        (self.0 >> 16) as u32
    }

    /// Adds a duration (wrapping at the 2^32-second era boundary).
    #[must_use]
    pub fn plus(self, d: Duration) -> NtpTime {
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime(self.0.wrapping_add(d.as_secs() << 32).wrapping_add(frac))
    }
}

/// Converts a duration in NTP short format (16.16 fixed point seconds) to a
/// [`Duration`].
pub fn short_to_duration(short: u32) -> Duration {
    Duration::from_nanos((u64::from(short) * 1_000_000_000) >> 16)
}

/// Converts a [`Duration`] to NTP short format, saturating at 65536 s.
pub fn duration_to_short(d: Duration) -> u32 {
    let units = (d.as_nanos() << 16) / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// Maps the caller's `Instant`s to NTP wall-clock time from one anchor pair
/// the shell reads once (`Instant::now()` and `SystemTime::now()` together).
/// Keeps cores free of clock reads and keeps NTP time monotonic.
#[derive(Debug, Clone, Copy)]
pub struct NtpClock {
    anchor: Instant,
    ntp_at_anchor: NtpTime,
}

impl NtpClock {
    /// A clock where `anchor` corresponds to `ntp_at_anchor`.
    pub fn new(anchor: Instant, ntp_at_anchor: NtpTime) -> Self {
        NtpClock {
            anchor,
            ntp_at_anchor,
        }
    }

    /// NTP time at `now` (instants before the anchor map to the anchor's time
    /// minus the difference).
    pub fn ntp(&self, now: Instant) -> NtpTime {
        if let Some(d) = now.checked_duration_since(self.anchor) {
            self.ntp_at_anchor.plus(d)
        } else {
            let back = self.anchor.duration_since(now);
            NtpTime(self.ntp_at_anchor.0.wrapping_sub(NtpTime(0).plus(back).0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_maps_to_ntp_offset() {
        let t = NtpTime::from_unix(Duration::from_millis(1500));
        assert_eq!(t.0 >> 32, NTP_UNIX_OFFSET_SECS + 1);
        assert_eq!(t.0 & 0xffff_ffff, 1 << 31);
    }

    #[test]
    fn short_format_conversions_round_trip_to_resolution() {
        assert_eq!(duration_to_short(Duration::from_secs(1)), 0x1_0000);
        assert_eq!(short_to_duration(0x8000), Duration::from_millis(500));
        let d = Duration::from_micros(123_456);
        let back = short_to_duration(duration_to_short(d));
        assert!(d.abs_diff(back) < Duration::from_micros(16), "{back:?}");
        assert_eq!(duration_to_short(Duration::from_secs(70_000)), u32::MAX);
    }

    #[test]
    fn clock_maps_instants_relative_to_anchor() {
        let t0 = Instant::now();
        let clock = NtpClock::new(t0 + Duration::from_secs(10), NtpTime(100 << 32));
        assert_eq!(clock.ntp(t0 + Duration::from_secs(12)), NtpTime(102 << 32));
        assert_eq!(clock.ntp(t0 + Duration::from_secs(9)), NtpTime(99 << 32));
        assert_eq!(
            clock.ntp(t0 + Duration::from_millis(10_250)).short(),
            (100 << 16) + 0x4000
        );
    }
}
