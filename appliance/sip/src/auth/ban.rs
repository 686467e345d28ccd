//! Per-source ban tracker against password guessing and extension scanning.
//!
//! Sans-IO: every call takes `now` as a [`Duration`] since an epoch of the
//! caller's choice (a monotonic clock is best); the tracker never reads a
//! clock. The shell drains [`BanTracker::poll_event`] after each call and calls
//! [`BanTracker::handle_timeout`] at [`BanTracker::poll_timeout`].
//!
//! Sources are grouped: an IPv4 address is its own source, an IPv6 address
//! counts for its whole /64 (one customer line or host usually owns a /64, so
//! an attacker can rotate addresses within it for free). IPv4-mapped IPv6
//! addresses count as the IPv4 address.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// Settings of a [`BanTracker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanConfig {
    /// Failures within [`Self::window`] that start a ban. Default 5; 0 acts as 1.
    pub max_failures: u32,
    /// Sliding window in which failures are counted. Default 60 s.
    pub window: Duration,
    /// Ban duration. Default 600 s.
    pub ban: Duration,
    /// Hard cap on tracked sources (banned or not). Default 10 000. When full,
    /// a new source evicts the non-banned source with the oldest last failure;
    /// only when every tracked source is banned is the ban ending soonest
    /// lifted early (with a [`BanEvent::BanLifted`]). 0 acts as 1.
    pub max_sources: usize,
    /// Networks never counted nor banned (SIP trunk providers, the office LAN
    /// if wanted).
    pub allowlist: Vec<Cidr>,
}

impl Default for BanConfig {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_mins(1),
            ban: Duration::from_mins(10),
            max_sources: 10_000,
            allowlist: Vec::new(),
        }
    }
}

/// Why a CIDR string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CidrError {
    /// The address part is not an IP address.
    #[error("invalid IP address in CIDR")]
    InvalidAddress,
    /// The prefix length is not a number or exceeds 32 (IPv4) / 128 (IPv6).
    #[error("invalid prefix length in CIDR")]
    InvalidPrefix,
}

/// An IP network such as `192.0.2.0/24` or `2001:db8::/32`. Host bits are
/// cleared on construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// A network from an address and a prefix length.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let network = match addr {
            IpAddr::V4(a) if prefix <= 32 => {
                IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & mask32(prefix)))
            }
            IpAddr::V6(a) if prefix <= 128 => {
                IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & mask128(prefix)))
            }
            _ => return Err(CidrError::InvalidPrefix),
        };
        Ok(Self { network, prefix })
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this network (IPv4-mapped IPv6 addresses match
    /// IPv4 networks).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => a.to_bits() & mask32(self.prefix) == n.to_bits(),
            (IpAddr::V6(n), IpAddr::V6(a)) => a.to_bits() & mask128(self.prefix) == n.to_bits(),
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Parses `addr/prefix`; a bare address is a single-host network.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::InvalidAddress)?;
        let prefix = match prefix {
            Some(p) => p.parse().map_err(|_| CidrError::InvalidPrefix)?,
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        Self::new(addr, prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The unit that is counted and banned. Displays as `192.0.2.7` or
/// `2001:db8:1:2::/64`. An IP address can be personal data: log it only where
/// the security log needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BanSource {
    /// One IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 /64, stored as its network address.
    V6Net64(Ipv6Addr),
}

impl BanSource {
    /// The source an address belongs to.
    pub fn of(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V4(a) => Self::V4(a),
            IpAddr::V6(a) => Self::V6Net64(Ipv6Addr::from_bits(a.to_bits() & mask128(64))),
        }
    }
}

impl fmt::Display for BanSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(a) => write!(f, "{a}"),
            Self::V6Net64(a) => write!(f, "{a}/64"),
        }
    }
}

/// Returned by [`BanTracker::record_failure`] when that failure started a ban.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanStarted {
    /// The banned source.
    pub source: BanSource,
    /// When the ban ends (same epoch as `now`).
    pub until: Duration,
}

/// Events for the shell (logging, metrics, alerting, firewall rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanEvent {
    /// A source was banned.
    SourceBanned {
        /// The banned source.
        source: BanSource,
        /// When the ban ends.
        until: Duration,
    },
    /// A ban ended (expired, or lifted early by cap eviction).
    BanLifted {
        /// The source that may send again.
        source: BanSource,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    /// Failure times inside the window, oldest first; at most `max_failures`.
    failures: VecDeque<Duration>,
    banned_until: Option<Duration>,
    /// Key in `idle` while not banned.
    last_failure: Duration,
}

/// Counts failed authentications per source and bans noisy sources.
#[derive(Debug, Clone)]
pub struct BanTracker {
    config: BanConfig,
    entries: HashMap<BanSource, Entry>,
    /// Non-banned entries by last failure, for eviction and pruning.
    idle: BTreeSet<(Duration, BanSource)>,
    /// Banned entries by ban end.
    bans: BTreeSet<(Duration, BanSource)>,
    events: VecDeque<BanEvent>,
}

impl BanTracker {
    /// An empty tracker.
    pub fn new(config: BanConfig) -> Self {
        Self {
            config,
            entries: HashMap::new(),
            idle: BTreeSet::new(),
            bans: BTreeSet::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BanConfig {
        &self.config
    }

    /// Number of sources currently tracked (banned or counting).
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    fn allowlisted(&self, ip: IpAddr) -> bool {
        self.config.allowlist.iter().any(|c| c.contains(ip))
    }

    /// Records a failed authentication (a [`Verdict::Rejected`] or
    /// [`Verdict::Malformed`]) from `ip`. Returns the ban if this failure
    /// started one. Failures from a banned or allowlisted source are ignored.
    ///
    /// [`Verdict::Rejected`]: super::Verdict::Rejected
    /// [`Verdict::Malformed`]: super::Verdict::Malformed
    pub fn record_failure(&mut self, now: Duration, ip: IpAddr) -> Option<BanStarted> {
        self.handle_timeout(now);
        if self.allowlisted(ip) {
            return None;
        }
        let source = BanSource::of(ip);
        if !self.entries.contains_key(&source) {
            if self.entries.len() >= self.config.max_sources.max(1) {
                self.evict_one();
            }
            self.entries.insert(
                source,
                Entry {
                    failures: VecDeque::new(),
                    banned_until: None,
                    last_failure: now,
                },
            );
            self.idle.insert((now, source));
        }
        let entry = self.entries.get_mut(&source)?;
        if entry.banned_until.is_some() {
            return None;
        }
        self.idle.remove(&(entry.last_failure, source));
        entry.last_failure = now;
        let window = self.config.window;
        while entry
            .failures
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= window)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        let max = self.config.max_failures.max(1) as usize;
        if entry.failures.len() < max {
            self.idle.insert((now, source));
            return None;
        }
        let until = now + self.config.ban;
        entry.failures.clear();
        entry.banned_until = Some(until);
        self.bans.insert((until, source));
        self.events
            .push_back(BanEvent::SourceBanned { source, until });
        Some(BanStarted { source, until })
    }

    /// Records a successful authentication: forgets the source's failures.
    /// Does not lift a running ban (a banned source's packets are dropped
    /// before authentication, so this only happens in a race).
    pub fn record_success(&mut self, now: Duration, ip: IpAddr) {
        self.handle_timeout(now);
        let source = BanSource::of(ip);
        if let Some(entry) = self.entries.get(&source)
            && entry.banned_until.is_none()
        {
            self.idle.remove(&(entry.last_failure, source));
            self.entries.remove(&source);
        }
    }

    /// Whether packets from `ip` are to be dropped. A ban ends exactly at its
    /// `until`, whether or not [`Self::handle_timeout`] ran.
    pub fn is_banned(&self, now: Duration, ip: IpAddr) -> bool {
        if self.allowlisted(ip) {
            return false;
        }
        self.entries
            .get(&BanSource::of(ip))
            .and_then(|e| e.banned_until)
            .is_some_and(|until| now < until)
    }

    /// Lifts expired bans (queuing [`BanEvent::BanLifted`]) and forgets
    /// sources whose failures all left the window.
    pub fn handle_timeout(&mut self, now: Duration) {
        while let Some(&(until, source)) = self.bans.first() {
            if until > now {
                break;
            }
            self.bans.pop_first();
            self.entries.remove(&source);
            self.events.push_back(BanEvent::BanLifted { source });
        }
        while let Some(&(last, source)) = self.idle.first() {
            if now.saturating_sub(last) < self.config.window {
                break;
            }
            self.idle.pop_first();
            self.entries.remove(&source);
        }
    }

    /// The next ban expiry, when [`Self::handle_timeout`] should run.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.bans.first().map(|&(until, _)| until)
    }

    /// The next queued event. Drain after every call; the queue grows by at
    /// most two events per ban.
    pub fn poll_event(&mut self) -> Option<BanEvent> {
        self.events.pop_front()
    }

    fn evict_one(&mut self) {
        if let Some((_, source)) = self.idle.pop_first() {
            self.entries.remove(&source);
        } else if let Some((_, source)) = self.bans.pop_first() {
            self.entries.remove(&source);
            self.events.push_back(BanEvent::BanLifted { source });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn events(t: &mut BanTracker) -> Vec<BanEvent> {
        std::iter::from_fn(|| t.poll_event()).collect()
    }

    #[test]
    fn five_failures_ban_and_another_source_is_unaffected() {
        let mut t = BanTracker::new(BanConfig::default());
        let attacker = ip("192.0.2.1");
        let other = ip("192.0.2.2");
        for i in 0..4 {
            assert_eq!(t.record_failure(s(i), attacker), None);
            assert!(!t.is_banned(s(i), attacker));
        }
        assert_eq!(t.record_failure(s(4), other), None);
        let started = t.record_failure(s(5), attacker).unwrap();
        assert_eq!(started.until, s(605));
        assert_eq!(started.source, BanSource::V4("192.0.2.1".parse().unwrap()));
        assert!(t.is_banned(s(5), attacker));
        assert!(!t.is_banned(s(5), other));
        assert_eq!(
            events(&mut t),
            vec![BanEvent::SourceBanned {
                source: started.source,
                until: s(605)
            }]
        );
        // Further failures while banned neither extend nor re-announce it.
        assert_eq!(t.record_failure(s(100), attacker), None);
        assert_eq!(t.poll_timeout(), Some(s(605)));
        assert!(events(&mut t).is_empty());
    }

    #[test]
    fn ban_lifts_at_exactly_the_configured_time() {
        let mut t = BanTracker::new(BanConfig::default());
        let a = ip("198.51.100.9");
        for _ in 0..5 {
            t.record_failure(s(10), a);
        }
        events(&mut t);
        let until = s(610);
        assert_eq!(t.poll_timeout(), Some(until));
        let just_before = until.checked_sub(Duration::from_nanos(1)).unwrap();
        assert!(t.is_banned(just_before, a));
        assert!(!t.is_banned(until, a));
        t.handle_timeout(just_before);
        assert!(events(&mut t).is_empty());
        t.handle_timeout(until);
        assert_eq!(
            events(&mut t),
            vec![BanEvent::BanLifted {
                source: BanSource::of(a)
            }]
        );
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(t.tracked(), 0);
        // A fresh start: four more failures do not ban again.
        for _ in 0..4 {
            assert_eq!(t.record_failure(until, a), None);
        }
    }

    #[test]
    fn failures_outside_the_window_are_forgotten() {
        let mut t = BanTracker::new(BanConfig::default());
        let a = ip("192.0.2.1");
        for i in 0..4 {
            t.record_failure(s(i * 10), a); // 0, 10, 20, 30
        }
        // At 60 the failure at 0 left the 60 s window: still four in it.
        assert_eq!(t.record_failure(s(60), a), None);
        // At 69 the failure at 10 is still in (69-10 < 60): fifth → ban.
        assert!(t.record_failure(s(69), a).is_some());
    }

    #[test]
    fn success_resets_the_counter() {
        let mut t = BanTracker::new(BanConfig::default());
        let a = ip("192.0.2.1");
        for i in 0..4 {
            t.record_failure(s(i), a);
        }
        t.record_success(s(4), a);
        assert_eq!(t.tracked(), 0);
        for i in 5..9 {
            assert_eq!(t.record_failure(s(i), a), None);
        }
        assert!(t.record_failure(s(9), a).is_some());
        // Success does not lift a running ban.
        t.record_success(s(10), a);
        assert!(t.is_banned(s(10), a));
    }

    #[test]
    fn ipv6_sources_are_grouped_by_64() {
        let mut t = BanTracker::new(BanConfig::default());
        for i in 1..=5 {
            t.record_failure(s(0), ip(&format!("2001:db8:1:2::{i}")));
        }
        assert!(t.is_banned(s(1), ip("2001:db8:1:2:ffff::1")));
        assert!(!t.is_banned(s(1), ip("2001:db8:1:3::1")));
        assert_eq!(
            BanSource::of(ip("2001:db8:1:2::9")).to_string(),
            "2001:db8:1:2::/64"
        );
        // IPv4-mapped IPv6 counts as the IPv4 address.
        assert_eq!(
            BanSource::of(ip("::ffff:192.0.2.1")),
            BanSource::of(ip("192.0.2.1"))
        );
    }

    #[test]
    fn allowlisted_sources_are_never_banned() {
        let mut t = BanTracker::new(BanConfig {
            allowlist: vec![
                "203.0.113.0/24".parse().unwrap(),
                "2001:db8::/32".parse().unwrap(),
            ],
            ..BanConfig::default()
        });
        for a in ["203.0.113.77", "::ffff:203.0.113.5", "2001:db8:9::1"] {
            for _ in 0..10 {
                assert_eq!(t.record_failure(s(0), ip(a)), None);
            }
            assert!(!t.is_banned(s(0), ip(a)));
        }
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn cap_evicts_oldest_non_banned_then_soonest_ending_ban() {
        let mut tr = BanTracker::new(BanConfig {
            max_sources: 3,
            max_failures: 2,
            ..BanConfig::default()
        });
        let (a, b, c, d) = (
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            ip("10.0.0.3"),
            ip("10.0.0.4"),
        );
        tr.record_failure(s(0), a);
        tr.record_failure(s(0), a); // a banned until 600
        tr.record_failure(s(1), b); // b counting, older
        tr.record_failure(s(2), c); // c counting
        assert_eq!(tr.tracked(), 3);
        tr.record_failure(s(3), d); // evicts b (oldest non-banned), not banned a
        assert_eq!(tr.tracked(), 3);
        assert!(tr.is_banned(s(3), a));
        // b starts from zero again: one failure does not ban it.
        assert_eq!(tr.record_failure(s(4), b), None); // evicts c
        assert_eq!(tr.record_failure(s(4), c), None); // evicts d
        assert_eq!(
            tr.record_failure(s(5), c),
            Some(BanStarted {
                source: BanSource::of(c),
                until: s(605)
            })
        );
        assert_eq!(
            tr.record_failure(s(5), b),
            Some(BanStarted {
                source: BanSource::of(b),
                until: s(605)
            })
        );
        events(&mut tr);
        // All three tracked sources are banned now: a new one lifts the ban
        // that ends soonest (a, until 600).
        tr.record_failure(s(6), d);
        assert_eq!(tr.tracked(), 3);
        assert!(!tr.is_banned(s(6), a));
        assert!(tr.is_banned(s(6), b) && tr.is_banned(s(6), c));
        assert_eq!(
            events(&mut tr),
            vec![BanEvent::BanLifted {
                source: BanSource::of(a)
            }]
        );
    }

    #[test]
    fn quiet_sources_are_pruned_after_the_window() {
        let mut t = BanTracker::new(BanConfig::default());
        t.record_failure(s(0), ip("192.0.2.1"));
        t.handle_timeout(s(59));
        assert_eq!(t.tracked(), 1);
        t.handle_timeout(s(60));
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let c: Cidr = "192.0.2.77/24".parse().unwrap();
        assert_eq!(c.to_string(), "192.0.2.0/24");
        assert!(c.contains(ip("192.0.2.1")));
        assert!(!c.contains(ip("192.0.3.1")));
        assert!(!c.contains(ip("2001:db8::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let host: Cidr = "2001:db8::5".parse().unwrap();
        assert_eq!(host.prefix(), 128);
        assert!(host.contains(ip("2001:db8::5")) && !host.contains(ip("2001:db8::6")));
        assert_eq!("10.0.0.0/33".parse::<Cidr>(), Err(CidrError::InvalidPrefix));
        assert_eq!("10.0.0.0/x".parse::<Cidr>(), Err(CidrError::InvalidPrefix));
        assert_eq!("nope/8".parse::<Cidr>(), Err(CidrError::InvalidAddress));
    }
}
