//! The sans-IO core of RFC 3263 server location: which DNS queries to make
//! for a trunk host and, fed their answers, the ordered list of targets.
//!
//! A [`Resolution`] is a value: [`Resolution::poll_query`] hands out the next
//! queries, [`Resolution::handle_answer`] takes each answer, and
//! [`Resolution::poll_outcome`] gives the result once every query it asked
//! for has been answered. It does no I/O, reads no clock and draws no random
//! numbers itself: the SRV weighting takes a [`WeightRng`].

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use voip_shared::site_config::Transport;

use super::ResolveError;

/// Shortest validity of a resolution result, whatever the records' TTLs say.
pub const MIN_TTL: Duration = Duration::from_secs(30);
/// Longest validity of a resolution result (also used for IP literals).
pub const MAX_TTL: Duration = Duration::from_hours(1);

/// A trunk host as configured: an IP literal or a domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 or IPv6 literal (IPv6 with or without brackets).
    Ip(IpAddr),
    /// A domain name, lowercase, without the trailing dot.
    Name(String),
}

impl Host {
    /// Parses a configured host. IP literals first (`192.0.2.1`, `2001:db8::1`,
    /// `[2001:db8::1]`), else a domain name of letters, digits, `-` and `_`
    /// in labels of 1 to 63 characters, at most 253 characters in all; one
    /// trailing dot is allowed.
    pub fn parse(host: &str) -> Result<Self, ResolveError> {
        let trimmed = host.trim();
        let unbracketed = trimmed
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(trimmed);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        let name = trimmed
            .strip_suffix('.')
            .unwrap_or(trimmed)
            .to_ascii_lowercase();
        let valid_label = |label: &str| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(valid_label) {
            return Err(ResolveError::InvalidHost {
                host: host.to_owned(),
            });
        }
        Ok(Host::Name(name))
    }
}

/// The record type of a [`Query`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QueryKind {
    /// SRV records (RFC 2782).
    Srv,
    /// IPv4 address records.
    A,
    /// IPv6 address records.
    Aaaa,
}

/// One DNS lookup the shell must make.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Query {
    /// Fully qualified name, with the trailing dot (`_sip._udp.provider.test.`).
    pub name: String,
    /// Record type.
    pub kind: QueryKind,
}

impl Query {
    fn new(name: &str, kind: QueryKind) -> Self {
        Query {
            name: format!("{name}."),
            kind,
        }
    }
}

/// One SRV record of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share within a priority.
    pub weight: u16,
    /// Port of the target.
    pub port: u16,
    /// Target host name; `.` means "service not available here".
    pub target: String,
    /// Time to live, seconds.
    pub ttl: u32,
}

/// Why a query produced no answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupFailure {
    /// No response from any name server in time.
    Timeout,
    /// The name server answered with an error response code (SERVFAIL, REFUSED…).
    ServerFailure {
        /// The DNS response code.
        rcode: u16,
    },
    /// Sending the query or receiving the response failed (network error).
    Network,
}

/// The answer to a [`Query`], as the shell got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// SRV records (for an SRV query).
    Srv(Vec<SrvRecord>),
    /// Addresses with their TTL in seconds (for an A or AAAA query).
    Addresses(Vec<(IpAddr, u32)>),
    /// The name exists but has no records of this type (NODATA).
    NoData {
        /// TTL of the negative answer (SOA minimum), if the server sent one.
        negative_ttl: Option<u32>,
    },
    /// The name does not exist (NXDOMAIN).
    NxDomain {
        /// TTL of the negative answer (SOA minimum), if the server sent one.
        negative_ttl: Option<u32>,
    },
    /// No answer.
    Failed(LookupFailure),
}

/// Where to send a request: an address and the transport to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// Address and port.
    pub addr: SocketAddr,
    /// Transport (as configured for the trunk).
    pub transport: Transport,
}

/// The result of a resolution: targets in the order to try them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// Targets, most preferred first; never empty.
    pub targets: Vec<Target>,
    /// How long the list is valid: the smallest TTL of the records used,
    /// clamped to [`MIN_TTL`]..=[`MAX_TTL`].
    pub ttl: Duration,
}

/// Source of the random numbers the SRV weighting needs (RFC 2782).
pub trait WeightRng {
    /// A uniformly distributed number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64;
}

/// A small, seedable pseudo-random generator (`SplitMix64`). Good enough to
/// spread load over SRV targets; not for cryptography.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator with a fixed seed (tests).
    pub fn seeded(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// A generator seeded from the per-process random keys of the standard
    /// library's `RandomState` (different for every call).
    pub fn from_entropy() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x5349_5033_3236_3300);
        SplitMix64::seeded(hasher.finish())
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl WeightRng for SplitMix64 {
    fn below(&mut self, bound: u64) -> u64 {
        // Multiply-shift range reduction; the bias for bound < 2^33 is < 2^-31.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// Orders SRV records as RFC 2782 says: ascending priority; within one
/// priority, repeatedly pick a record at random with probability
/// proportional to its weight (zero-weight records first in the list, so
/// they have a very small chance of being picked early).
pub fn order_srv(mut records: Vec<SrvRecord>, rng: &mut impl WeightRng) -> Vec<SrvRecord> {
    // Stable sort: within a priority, weight 0 first, otherwise as received.
    records.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut ordered = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let end = rest
            .iter()
            .position(|r| r.priority != first.priority)
            .unwrap_or(rest.len());
        let (group, tail) = rest.split_at(end);
        let mut group = group.to_vec();
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let pick = rng.below(total + 1);
            let mut running = 0u64;
            let index = group
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= pick
                })
                .unwrap_or(group.len() - 1);
            ordered.push(group.remove(index));
        }
        rest = tail;
    }
    ordered
}

/// One name whose addresses become targets on one port.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    port: u16,
}

#[derive(Debug, Clone)]
enum Stage {
    /// Waiting for the SRV answer.
    Srv,
    /// Waiting for the A/AAAA answers of these entries (in target order).
    Addresses { entries: Vec<Entry>, via_srv: bool },
    /// The outcome is known.
    Done,
}

/// One RFC 3263 server location for a trunk host (see the module docs).
#[derive(Debug, Clone)]
pub struct Resolution {
    host: String,
    transport: Transport,
    stage: Stage,
    outbox: Vec<Query>,
    pending: Vec<Query>,
    answers: BTreeMap<Query, Answer>,
    min_ttl: Option<u32>,
    outcome: Option<Result<Targets, ResolveError>>,
}

impl Resolution {
    /// Starts locating the server for `host` (as configured), with the
    /// explicit `port` if the configuration had one, over `transport`.
    ///
    /// - IP literal: one target, no queries (port defaults to 5060, 5061 for TLS).
    /// - Name with explicit port: A and AAAA of the name (RFC 3263 §4.2).
    /// - Name without port: SRV `_sip._udp`, `_sip._tcp` or `_sips._tcp`,
    ///   then A and AAAA of every SRV target; without SRV records, A and
    ///   AAAA of the name on the default port.
    pub fn new(host: &str, port: Option<u16>, transport: Transport) -> Result<Self, ResolveError> {
        let parsed = Host::parse(host)?;
        let mut this = Resolution {
            host: host.trim().to_owned(),
            transport,
            stage: Stage::Done,
            outbox: Vec::new(),
            pending: Vec::new(),
            answers: BTreeMap::new(),
            min_ttl: None,
            outcome: None,
        };
        match (parsed, port) {
            (Host::Ip(ip), port) => {
                let addr = SocketAddr::new(ip, port.unwrap_or(transport.default_port()));
                this.outcome = Some(Ok(Targets {
                    targets: vec![Target { addr, transport }],
                    ttl: MAX_TTL,
                }));
            }
            (Host::Name(name), Some(port)) => this.ask_addresses(vec![Entry { name, port }], false),
            (Host::Name(name), None) => {
                let service = match transport {
                    Transport::Udp => "_sip._udp",
                    Transport::Tcp => "_sip._tcp",
                    Transport::Tls => "_sips._tcp",
                };
                this.outbox
                    .push(Query::new(&format!("{service}.{name}"), QueryKind::Srv));
                this.stage = Stage::Srv;
            }
        }
        Ok(this)
    }

    /// The next query to make, if any. Drain it: all queries handed out
    /// before the next answer may run concurrently.
    pub fn poll_query(&mut self) -> Option<Query> {
        if self.outbox.is_empty() {
            return None;
        }
        let query = self.outbox.remove(0);
        self.pending.push(query.clone());
        Some(query)
    }

    /// Takes the answer to a query handed out by [`Self::poll_query`].
    /// Answers to queries that were not asked (or asked and already
    /// answered) are ignored. `rng` orders SRV records of equal priority.
    pub fn handle_answer(&mut self, query: &Query, answer: Answer, rng: &mut impl WeightRng) {
        let Some(index) = self.pending.iter().position(|q| q == query) else {
            tracing::debug!(name = %query.name, kind = ?query.kind, "ignoring unexpected DNS answer");
            return;
        };
        self.pending.remove(index);
        match &self.stage {
            Stage::Srv => self.handle_srv(answer, rng),
            Stage::Addresses { .. } => {
                self.answers.insert(query.clone(), answer);
                if self.pending.is_empty() && self.outbox.is_empty() {
                    self.finish();
                }
            }
            Stage::Done => {}
        }
    }

    /// The outcome, once every query has been answered (or at once for an
    /// IP literal). Returns it once.
    pub fn poll_outcome(&mut self) -> Option<Result<Targets, ResolveError>> {
        self.outcome.take()
    }

    fn host_name(&self) -> String {
        self.host.clone()
    }

    fn note_ttl(&mut self, ttl: u32) {
        self.min_ttl = Some(self.min_ttl.map_or(ttl, |m| m.min(ttl)));
    }

    fn ask_addresses(&mut self, entries: Vec<Entry>, via_srv: bool) {
        let mut names: Vec<&str> = Vec::new();
        for entry in &entries {
            if !names.contains(&entry.name.as_str()) {
                names.push(&entry.name);
            }
        }
        for name in names {
            self.outbox.push(Query::new(name, QueryKind::A));
            self.outbox.push(Query::new(name, QueryKind::Aaaa));
        }
        self.stage = Stage::Addresses { entries, via_srv };
    }

    fn fallback_to_host(&mut self, negative_ttl: Option<u32>) {
        if let Some(ttl) = negative_ttl {
            // Re-check for SRV records appearing when the negative answer expires.
            self.note_ttl(ttl);
        }
        let name = self.host.trim_end_matches('.').to_ascii_lowercase();
        let port = self.transport.default_port();
        self.ask_addresses(vec![Entry { name, port }], false);
    }

    fn handle_srv(&mut self, answer: Answer, rng: &mut impl WeightRng) {
        match answer {
            Answer::Srv(records) if !records.is_empty() => {
                for record in &records {
                    self.note_ttl(record.ttl);
                }
                let usable: Vec<SrvRecord> = records
                    .into_iter()
                    .filter(|r| !r.target.trim_end_matches('.').is_empty())
                    .collect();
                if usable.is_empty() {
                    // RFC 2782: a sole target of "." means "decidedly not available".
                    self.fail(ResolveError::ServiceNotAvailable {
                        host: self.host_name(),
                    });
                    return;
                }
                let entries = order_srv(usable, rng)
                    .into_iter()
                    .map(|r| Entry {
                        name: r.target.trim_end_matches('.').to_ascii_lowercase(),
                        port: r.port,
                    })
                    .collect();
                self.ask_addresses(entries, true);
            }
            Answer::Srv(_) | Answer::Addresses(_) => self.fallback_to_host(None),
            Answer::NoData { negative_ttl } | Answer::NxDomain { negative_ttl } => {
                self.fallback_to_host(negative_ttl);
            }
            Answer::Failed(failure) => {
                // RFC 3263 §4.2 falls back to A/AAAA only when no SRV records
                // were *found*; a failed SRV lookup fails the resolution.
                let error = self.failure_error(failure);
                self.fail(error);
            }
        }
    }

    fn failure_error(&self, failure: LookupFailure) -> ResolveError {
        let host = self.host_name();
        match failure {
            LookupFailure::Timeout => ResolveError::Timeout { host },
            LookupFailure::ServerFailure { rcode } => ResolveError::ServerFailure { host, rcode },
            LookupFailure::Network => ResolveError::Network { host },
        }
    }

    fn fail(&mut self, error: ResolveError) {
        self.outbox.clear();
        self.pending.clear();
        self.stage = Stage::Done;
        self.outcome = Some(Err(error));
    }

    fn finish(&mut self) {
        let Stage::Addresses { entries, via_srv } = std::mem::replace(&mut self.stage, Stage::Done)
        else {
            return;
        };
        let mut targets: Vec<Target> = Vec::new();
        let mut used_ttls = Vec::new();
        for entry in &entries {
            // IPv4 before IPv6 for each SRV target (see the module docs).
            for kind in [QueryKind::A, QueryKind::Aaaa] {
                let query = Query::new(&entry.name, kind);
                let Some(Answer::Addresses(addresses)) = self.answers.get(&query) else {
                    continue;
                };
                for &(ip, ttl) in addresses {
                    if ip.is_ipv4() != (kind == QueryKind::A) {
                        continue;
                    }
                    let target = Target {
                        addr: SocketAddr::new(ip, entry.port),
                        transport: self.transport,
                    };
                    used_ttls.push(ttl);
                    if !targets.contains(&target) {
                        targets.push(target);
                    }
                }
            }
        }
        for ttl in used_ttls {
            self.note_ttl(ttl);
        }
        if !targets.is_empty() {
            let ttl = self
                .min_ttl
                .map_or(MAX_TTL, |s| Duration::from_secs(u64::from(s)));
            self.outcome = Some(Ok(Targets {
                targets,
                ttl: ttl.clamp(MIN_TTL, MAX_TTL),
            }));
            return;
        }
        // Nothing usable: report the most telling reason.
        let answers: Vec<&Answer> = self.answers.values().collect();
        let failure = answers.iter().find_map(|a| match a {
            Answer::Failed(f) => Some(*f),
            _ => None,
        });
        let error = if let Some(failure) = failure {
            self.failure_error(failure)
        } else if !via_srv && answers.iter().all(|a| matches!(a, Answer::NxDomain { .. })) {
            ResolveError::NxDomain {
                host: self.host_name(),
            }
        } else {
            ResolveError::NoUsableRecords {
                host: self.host_name(),
            }
        };
        self.outcome = Some(Err(error));
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    /// Answers from a script: `below` returns the next scripted value.
    struct Scripted(Vec<u64>);

    impl WeightRng for Scripted {
        fn below(&mut self, bound: u64) -> u64 {
            let v = self.0.remove(0);
            assert!(v < bound, "scripted {v} not below {bound}");
            v
        }
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str, ttl: u32) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: target.to_owned(),
            ttl,
        }
    }

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn v6(last: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
    }

    fn q(name: &str, kind: QueryKind) -> Query {
        Query {
            name: name.to_owned(),
            kind,
        }
    }

    fn drain(r: &mut Resolution) -> Vec<Query> {
        std::iter::from_fn(|| r.poll_query()).collect()
    }

    fn addrs(targets: &Targets) -> Vec<SocketAddr> {
        targets.targets.iter().map(|t| t.addr).collect()
    }

    /// Runs a resolution against a fixed table of answers; unknown queries
    /// get NXDOMAIN.
    fn run(
        host: &str,
        port: Option<u16>,
        transport: Transport,
        table: &[(Query, Answer)],
    ) -> (Vec<Query>, Result<Targets, ResolveError>) {
        let mut rng = SplitMix64::seeded(7);
        let mut r = Resolution::new(host, port, transport).unwrap();
        let mut asked = Vec::new();
        loop {
            if let Some(outcome) = r.poll_outcome() {
                return (asked, outcome);
            }
            let batch = drain(&mut r);
            assert!(!batch.is_empty(), "no outcome and no query");
            for query in batch {
                let answer = table
                    .iter()
                    .find(|(k, _)| *k == query)
                    .map_or(Answer::NxDomain { negative_ttl: None }, |(_, a)| a.clone());
                r.handle_answer(&query, answer, &mut rng);
                asked.push(query);
            }
        }
    }

    #[test]
    fn ip_literal_goes_direct_on_the_default_or_given_port() {
        let cases: &[(&str, Option<u16>, Transport, &str)] = &[
            ("192.0.2.1", None, Transport::Udp, "192.0.2.1:5060"),
            ("192.0.2.1", None, Transport::Tcp, "192.0.2.1:5060"),
            ("192.0.2.1", None, Transport::Tls, "192.0.2.1:5061"),
            ("192.0.2.1", Some(5080), Transport::Udp, "192.0.2.1:5080"),
            ("2001:db8::1", None, Transport::Udp, "[2001:db8::1]:5060"),
            (
                "[2001:db8::1]",
                Some(5090),
                Transport::Tls,
                "[2001:db8::1]:5090",
            ),
        ];
        for &(host, port, transport, expected) in cases {
            let (asked, outcome) = run(host, port, transport, &[]);
            assert!(asked.is_empty(), "{host}: no DNS for a literal");
            let targets = outcome.unwrap();
            assert_eq!(
                addrs(&targets),
                vec![expected.parse::<SocketAddr>().unwrap()]
            );
            assert_eq!(targets.targets[0].transport, transport);
            assert_eq!(targets.ttl, MAX_TTL);
        }
    }

    #[test]
    fn invalid_host_names_are_refused() {
        for host in [
            "",
            "a..b",
            "-a.test",
            "a b.test",
            &"x".repeat(64),
            "sip.provider.test:5060",
        ] {
            assert!(
                matches!(
                    Resolution::new(host, None, Transport::Udp),
                    Err(ResolveError::InvalidHost { .. })
                ),
                "{host:?}"
            );
        }
        assert_eq!(
            Host::parse("SIP.Provider.TEST.").unwrap(),
            Host::Name("sip.provider.test".into())
        );
    }

    #[test]
    fn srv_service_name_follows_the_transport() {
        for (transport, expected) in [
            (Transport::Udp, "_sip._udp.provider.test."),
            (Transport::Tcp, "_sip._tcp.provider.test."),
            (Transport::Tls, "_sips._tcp.provider.test."),
        ] {
            let mut r = Resolution::new("provider.test", None, transport).unwrap();
            assert_eq!(drain(&mut r), vec![q(expected, QueryKind::Srv)]);
        }
    }

    #[test]
    fn explicit_port_skips_srv_and_asks_a_and_aaaa() {
        let table = [
            (
                q("provider.test.", QueryKind::A),
                Answer::Addresses(vec![(v4(10), 300)]),
            ),
            (
                q("provider.test.", QueryKind::Aaaa),
                Answer::Addresses(vec![(v6(10), 120)]),
            ),
        ];
        let (asked, outcome) = run("provider.test", Some(5070), Transport::Tcp, &table);
        assert_eq!(asked, vec![table[0].0.clone(), table[1].0.clone()]);
        let targets = outcome.unwrap();
        assert_eq!(
            addrs(&targets),
            vec![SocketAddr::new(v4(10), 5070), SocketAddr::new(v6(10), 5070)]
        );
        assert_eq!(targets.ttl, Duration::from_mins(2));
    }

    #[test]
    fn srv_targets_are_ordered_by_priority_with_ipv4_before_ipv6() {
        let table = [
            (
                q("_sip._udp.provider.test.", QueryKind::Srv),
                Answer::Srv(vec![
                    srv(20, 0, 5080, "c.provider.test.", 600),
                    srv(10, 0, 5060, "a.provider.test.", 600),
                ]),
            ),
            (
                q("a.provider.test.", QueryKind::A),
                Answer::Addresses(vec![(v4(1), 300)]),
            ),
            (
                q("a.provider.test.", QueryKind::Aaaa),
                Answer::Addresses(vec![(v6(1), 300)]),
            ),
            (
                q("c.provider.test.", QueryKind::A),
                Answer::NoData {
                    negative_ttl: Some(60),
                },
            ),
            (
                q("c.provider.test.", QueryKind::Aaaa),
                Answer::Addresses(vec![(v6(3), 90)]),
            ),
        ];
        let (asked, outcome) = run("provider.test", None, Transport::Udp, &table);
        assert_eq!(asked.len(), 5);
        let targets = outcome.unwrap();
        assert_eq!(
            addrs(&targets),
            vec![
                SocketAddr::new(v4(1), 5060),
                SocketAddr::new(v6(1), 5060),
                SocketAddr::new(v6(3), 5080),
            ]
        );
        assert_eq!(
            targets.ttl,
            Duration::from_secs(90),
            "minimum TTL of the records used"
        );
    }

    #[test]
    fn no_srv_records_falls_back_to_the_host_on_the_default_port() {
        for (srv_answer, transport, port) in [
            (
                Answer::NxDomain {
                    negative_ttl: Some(3600),
                },
                Transport::Udp,
                5060,
            ),
            (Answer::NoData { negative_ttl: None }, Transport::Tls, 5061),
            (Answer::Srv(vec![]), Transport::Tcp, 5060),
        ] {
            let mut r = Resolution::new("aonly.test", None, transport).unwrap();
            let mut rng = SplitMix64::seeded(1);
            let srv_query = drain(&mut r).remove(0);
            r.handle_answer(&srv_query, srv_answer, &mut rng);
            let batch = drain(&mut r);
            assert_eq!(
                batch,
                vec![
                    q("aonly.test.", QueryKind::A),
                    q("aonly.test.", QueryKind::Aaaa)
                ]
            );
            r.handle_answer(&batch[0], Answer::Addresses(vec![(v4(20), 600)]), &mut rng);
            assert!(r.poll_outcome().is_none(), "waits for AAAA too");
            r.handle_answer(
                &batch[1],
                Answer::NoData {
                    negative_ttl: Some(5),
                },
                &mut rng,
            );
            let targets = r.poll_outcome().unwrap().unwrap();
            assert_eq!(addrs(&targets), vec![SocketAddr::new(v4(20), port)]);
            assert!(targets.targets.iter().all(|t| t.transport == transport));
        }
    }

    #[test]
    fn ttl_is_clamped_between_30_seconds_and_an_hour() {
        for (ttl, expected) in [(5, 30), (30, 30), (59, 59), (3600, 3600), (86_400, 3600)] {
            let table = [(
                q("provider.test.", QueryKind::A),
                Answer::Addresses(vec![(v4(1), ttl)]),
            )];
            let (_, outcome) = run("provider.test", Some(5060), Transport::Udp, &table);
            assert_eq!(
                outcome.unwrap().ttl,
                Duration::from_secs(expected),
                "ttl {ttl}"
            );
        }
    }

    #[test]
    fn srv_negative_ttl_bounds_the_fallback_result() {
        let table = [
            (
                q("_sip._udp.aonly.test.", QueryKind::Srv),
                Answer::NoData {
                    negative_ttl: Some(45),
                },
            ),
            (
                q("aonly.test.", QueryKind::A),
                Answer::Addresses(vec![(v4(20), 600)]),
            ),
        ];
        let (_, outcome) = run("aonly.test", None, Transport::Udp, &table);
        assert_eq!(outcome.unwrap().ttl, Duration::from_secs(45));
    }

    #[test]
    fn failures_map_to_distinct_errors() {
        let host = || "provider.test".to_owned();
        let cases: Vec<(Vec<(Query, Answer)>, ResolveError)> = vec![
            (vec![], ResolveError::NxDomain { host: host() }),
            (
                vec![(
                    q("_sip._udp.provider.test.", QueryKind::Srv),
                    Answer::Failed(LookupFailure::Timeout),
                )],
                ResolveError::Timeout { host: host() },
            ),
            (
                vec![(
                    q("_sip._udp.provider.test.", QueryKind::Srv),
                    Answer::Failed(LookupFailure::ServerFailure { rcode: 2 }),
                )],
                ResolveError::ServerFailure {
                    host: host(),
                    rcode: 2,
                },
            ),
            (
                vec![(
                    q("_sip._udp.provider.test.", QueryKind::Srv),
                    Answer::Srv(vec![srv(0, 0, 0, ".", 60)]),
                )],
                ResolveError::ServiceNotAvailable { host: host() },
            ),
            (
                vec![
                    (
                        q("provider.test.", QueryKind::A),
                        Answer::NoData { negative_ttl: None },
                    ),
                    (
                        q("provider.test.", QueryKind::Aaaa),
                        Answer::NoData { negative_ttl: None },
                    ),
                ],
                ResolveError::NoUsableRecords { host: host() },
            ),
            (
                vec![
                    (
                        q("_sip._udp.provider.test.", QueryKind::Srv),
                        Answer::Srv(vec![srv(10, 0, 5060, "gone.provider.test.", 60)]),
                    ),
                    (
                        q("gone.provider.test.", QueryKind::Aaaa),
                        Answer::Failed(LookupFailure::Network),
                    ),
                ],
                ResolveError::Network { host: host() },
            ),
            (
                vec![(
                    q("_sip._udp.provider.test.", QueryKind::Srv),
                    Answer::Srv(vec![srv(10, 0, 5060, "gone.provider.test.", 60)]),
                )],
                ResolveError::NoUsableRecords { host: host() },
            ),
        ];
        for (table, expected) in cases {
            let (_, outcome) = run("provider.test", None, Transport::Udp, &table);
            assert_eq!(outcome.unwrap_err(), expected);
        }
    }

    #[test]
    fn an_unreachable_srv_target_is_skipped_when_another_resolves() {
        let table = [
            (
                q("_sip._udp.provider.test.", QueryKind::Srv),
                Answer::Srv(vec![
                    srv(10, 0, 5060, "down.provider.test.", 60),
                    srv(20, 0, 5060, "b.provider.test.", 60),
                ]),
            ),
            (
                q("down.provider.test.", QueryKind::A),
                Answer::Failed(LookupFailure::Timeout),
            ),
            (
                q("b.provider.test.", QueryKind::A),
                Answer::Addresses(vec![(v4(2), 60)]),
            ),
        ];
        let (_, outcome) = run("provider.test", None, Transport::Udp, &table);
        assert_eq!(addrs(&outcome.unwrap()), vec![SocketAddr::new(v4(2), 5060)]);
    }

    #[test]
    fn a_shared_srv_target_is_queried_once_and_duplicates_are_dropped() {
        let table = [
            (
                q("_sip._udp.provider.test.", QueryKind::Srv),
                Answer::Srv(vec![
                    srv(10, 0, 5060, "a.provider.test.", 60),
                    srv(20, 0, 5062, "a.provider.test.", 60),
                    srv(30, 0, 5060, "A.provider.test.", 60),
                ]),
            ),
            (
                q("a.provider.test.", QueryKind::A),
                Answer::Addresses(vec![(v4(1), 60)]),
            ),
        ];
        let (asked, outcome) = run("provider.test", None, Transport::Udp, &table);
        assert_eq!(asked.len(), 3, "SRV + one A/AAAA pair: {asked:?}");
        assert_eq!(
            addrs(&outcome.unwrap()),
            vec![SocketAddr::new(v4(1), 5060), SocketAddr::new(v4(1), 5062)]
        );
    }

    #[test]
    fn answers_to_unasked_queries_are_ignored() {
        let mut r = Resolution::new("provider.test", Some(5060), Transport::Udp).unwrap();
        let mut rng = SplitMix64::seeded(1);
        let batch = drain(&mut r);
        r.handle_answer(
            &q("evil.test.", QueryKind::A),
            Answer::Addresses(vec![(v4(66), 60)]),
            &mut rng,
        );
        for query in &batch {
            r.handle_answer(query, Answer::Addresses(vec![(v4(1), 60)]), &mut rng);
        }
        // The AAAA query got an IPv4 address: wrong family, ignored.
        assert_eq!(
            addrs(&r.poll_outcome().unwrap().unwrap()),
            vec![SocketAddr::new(v4(1), 5060)]
        );
        assert!(r.poll_outcome().is_none(), "the outcome is given once");
    }

    #[test]
    fn weighted_selection_follows_rfc_2782_running_sums() {
        // Group of priority 10: zero weight first, then b (10) and c (30).
        let records = || {
            vec![
                srv(10, 10, 1, "b", 60),
                srv(10, 30, 1, "c", 60),
                srv(10, 0, 1, "a", 60),
                srv(5, 50, 1, "first", 60),
            ]
        };
        let names = |v: Vec<SrvRecord>| v.into_iter().map(|r| r.target).collect::<Vec<_>>();
        // Each pick draws from 0..=sum of the weights left.
        let cases: &[(&[u64], &[&str])] = &[
            // Priority 5: one record, draw 0..=50. Then: sum 40 → pick 0 → a.
            (&[0, 0, 0, 0], &["first", "a", "b", "c"]),
            (&[50, 5, 0, 0], &["first", "b", "a", "c"]),
            (&[50, 10, 0, 0], &["first", "b", "a", "c"]),
            (&[50, 11, 0, 0], &["first", "c", "a", "b"]),
            (&[50, 40, 10, 0], &["first", "c", "b", "a"]),
        ];
        for &(script, expected) in cases {
            let ordered = order_srv(records(), &mut Scripted(script.to_vec()));
            assert_eq!(names(ordered), expected, "script {script:?}");
        }
    }

    #[test]
    fn weights_share_first_place_in_proportion_with_a_seeded_rng() {
        let records = vec![
            srv(10, 60, 1, "a", 60),
            srv(10, 30, 1, "b", 60),
            srv(10, 10, 1, "c", 60),
            srv(10, 0, 1, "z", 60),
        ];
        let mut rng = SplitMix64::seeded(0x5EED);
        let mut first = BTreeMap::new();
        let runs = 20_000;
        for _ in 0..runs {
            let ordered = order_srv(records.clone(), &mut rng);
            *first.entry(ordered[0].target.clone()).or_insert(0u32) += 1;
        }
        let share = |t: &str| f64::from(*first.get(t).unwrap_or(&0)) / f64::from(runs);
        // The draw is uniform over 0..=100: zero weight wins only on 0.
        for (target, expected) in [("a", 60.0), ("b", 30.0), ("c", 10.0), ("z", 1.0)] {
            let expected = expected / 101.0;
            assert!(
                (share(target) - expected).abs() < 0.01,
                "{target}: {} vs {expected}",
                share(target)
            );
        }
    }

    #[test]
    fn every_srv_record_is_kept_in_the_order() {
        let records: Vec<SrvRecord> = (0..20u16)
            .map(|i| srv(i % 3, i * 7 % 5, 5000 + i, &format!("t{i}"), 60))
            .collect();
        let mut rng = SplitMix64::seeded(3);
        let ordered = order_srv(records.clone(), &mut rng);
        assert_eq!(ordered.len(), records.len());
        assert!(ordered.windows(2).all(|w| w[0].priority <= w[1].priority));
        for r in &records {
            assert!(ordered.contains(r));
        }
    }
}
