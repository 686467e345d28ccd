//! The async shell: runs the queries a [`Resolution`] asks for with
//! hickory-resolver and feeds it the answers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use voip_shared::site_config::Transport;

use super::ResolveError;
use super::plan::{
    Answer, LookupFailure, Query, QueryKind, Resolution, SplitMix64, SrvRecord, Target,
};

/// Which name servers to ask.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NameServers {
    /// Those of `/etc/resolv.conf` (with its `options timeout:`/`attempts:`,
    /// which the settings' values then override).
    #[default]
    System,
    /// These servers, over UDP (with TCP on truncation), in order.
    Explicit(Vec<SocketAddr>),
}

/// Configuration of a [`SipResolver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverSettings {
    /// Where to send queries.
    pub name_servers: NameServers,
    /// Timeout of one query to one name server.
    pub query_timeout: Duration,
    /// Attempts per name server.
    pub attempts: usize,
    /// Bound on one whole resolution (SRV plus address lookups).
    pub overall_timeout: Duration,
}

impl Default for ResolverSettings {
    /// System name servers, 2 s per query, 2 attempts, 10 s in all.
    fn default() -> Self {
        ResolverSettings {
            name_servers: NameServers::System,
            query_timeout: Duration::from_secs(2),
            attempts: 2,
            overall_timeout: Duration::from_secs(10),
        }
    }
}

/// The resolver could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `/etc/resolv.conf` could not be read or parsed.
    #[error("cannot read the system DNS configuration")]
    SystemConfig(#[source] NetError),
    /// The configuration names no name server.
    #[error("no DNS name server configured")]
    NoNameServers,
    /// hickory-resolver refused the configuration.
    #[error("cannot build the DNS resolver")]
    Build(#[source] NetError),
}

/// Targets of a trunk host and until when they are valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Targets in the order to try them; never empty.
    pub targets: Vec<Target>,
    /// Re-resolve after this instant (the records' minimum TTL, clamped).
    pub valid_until: Instant,
}

impl Resolved {
    /// Whether the list should be re-resolved at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        now >= self.valid_until
    }
}

/// RFC 3263 server location over hickory-resolver (see the module docs of
/// [`sip_resolve`](super)). Cheap to clone; clones share the DNS cache.
#[derive(Debug, Clone)]
pub struct SipResolver {
    resolver: TokioResolver,
    overall_timeout: Duration,
}

impl SipResolver {
    /// A resolver with these settings. Must be called within a tokio runtime.
    pub fn new(settings: &ResolverSettings) -> Result<Self, SetupError> {
        if matches!(&settings.name_servers, NameServers::Explicit(servers) if servers.is_empty()) {
            return Err(SetupError::NoNameServers);
        }
        let mut builder = match &settings.name_servers {
            NameServers::System => {
                TokioResolver::builder_tokio().map_err(SetupError::SystemConfig)?
            }
            NameServers::Explicit(servers) => {
                let name_servers = servers
                    .iter()
                    .map(|server| {
                        let mut udp = ConnectionConfig::udp();
                        udp.port = server.port();
                        let mut tcp = ConnectionConfig::tcp();
                        tcp.port = server.port();
                        NameServerConfig::new(server.ip(), true, vec![udp, tcp])
                    })
                    .collect();
                Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(name_servers),
                    TokioRuntimeProvider::default(),
                )
            }
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.timeout = settings.query_timeout;
        options.attempts = settings.attempts.max(1);
        let resolver = builder.build().map_err(SetupError::Build)?;
        Ok(SipResolver {
            resolver,
            overall_timeout: settings.overall_timeout,
        })
    }

    /// A resolver using `/etc/resolv.conf` and the default settings.
    pub fn system() -> Result<Self, SetupError> {
        Self::new(&ResolverSettings::default())
    }

    /// A resolver asking only `servers` (tests, or an installer-set DNS).
    pub fn with_name_servers(servers: Vec<SocketAddr>) -> Result<Self, SetupError> {
        Self::new(&ResolverSettings {
            name_servers: NameServers::Explicit(servers),
            ..ResolverSettings::default()
        })
    }

    /// Resolves a trunk `host` (configured name or IP literal) with its
    /// explicit `port`, if any, for `transport`, into the ordered targets.
    pub async fn resolve(
        &self,
        host: &str,
        port: Option<u16>,
        transport: Transport,
    ) -> Result<Resolved, ResolveError> {
        let mut resolution = Resolution::new(host, port, transport)?;
        let run = async {
            let mut rng = SplitMix64::from_entropy();
            loop {
                if let Some(outcome) = resolution.poll_outcome() {
                    return outcome;
                }
                let mut batch: FuturesUnordered<_> = std::iter::from_fn(|| resolution.poll_query())
                    .map(|query| async move {
                        let answer = self.lookup(&query).await;
                        (query, answer)
                    })
                    .collect();
                if batch.is_empty() {
                    // The core always has an outcome or a query; be safe anyway.
                    return Err(ResolveError::NoUsableRecords {
                        host: host.to_owned(),
                    });
                }
                while let Some((query, answer)) = batch.next().await {
                    tracing::trace!(name = %query.name, kind = ?query.kind, ?answer, "DNS answer");
                    resolution.handle_answer(&query, answer, &mut rng);
                }
            }
        };
        let targets = tokio::time::timeout(self.overall_timeout, run)
            .await
            .map_err(|_| ResolveError::Timeout {
                host: host.to_owned(),
            })??;
        tracing::debug!(
            host,
            targets = targets.targets.len(),
            ttl_s = targets.ttl.as_secs(),
            "trunk host resolved"
        );
        Ok(Resolved {
            targets: targets.targets,
            valid_until: Instant::now() + targets.ttl,
        })
    }

    async fn lookup(&self, query: &Query) -> Answer {
        let record_type = match query.kind {
            QueryKind::Srv => RecordType::SRV,
            QueryKind::A => RecordType::A,
            QueryKind::Aaaa => RecordType::AAAA,
        };
        match self.resolver.lookup(query.name.as_str(), record_type).await {
            Ok(lookup) => answer_from_lookup(query.kind, &lookup),
            Err(error) => {
                tracing::debug!(name = %query.name, kind = ?query.kind, %error, "DNS lookup failed");
                answer_from_error(&error)
            }
        }
    }
}

fn answer_from_lookup(kind: QueryKind, lookup: &Lookup) -> Answer {
    let records = lookup.answers().iter();
    match kind {
        QueryKind::Srv => {
            let srv: Vec<SrvRecord> = records
                .filter_map(|record| match &record.data {
                    RData::SRV(srv) => Some(SrvRecord {
                        priority: srv.priority,
                        weight: srv.weight,
                        port: srv.port,
                        target: srv.target.to_ascii(),
                        ttl: record.ttl,
                    }),
                    _ => None,
                })
                .collect();
            if srv.is_empty() {
                Answer::NoData { negative_ttl: None }
            } else {
                Answer::Srv(srv)
            }
        }
        QueryKind::A | QueryKind::Aaaa => {
            let addresses: Vec<_> = records
                .filter_map(|record| match &record.data {
                    RData::A(a) if kind == QueryKind::A => Some((a.0.into(), record.ttl)),
                    RData::AAAA(aaaa) if kind == QueryKind::Aaaa => {
                        Some((aaaa.0.into(), record.ttl))
                    }
                    _ => None,
                })
                .collect();
            if addresses.is_empty() {
                Answer::NoData { negative_ttl: None }
            } else {
                Answer::Addresses(addresses)
            }
        }
    }
}

fn answer_from_error(error: &NetError) -> Answer {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(no_records)) => {
            let negative_ttl = no_records.negative_ttl;
            if no_records.response_code == ResponseCode::NXDomain {
                Answer::NxDomain { negative_ttl }
            } else {
                Answer::NoData { negative_ttl }
            }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            Answer::Failed(LookupFailure::ServerFailure {
                rcode: u16::from(*code),
            })
        }
        NetError::Timeout => Answer::Failed(LookupFailure::Timeout),
        _ => Answer::Failed(LookupFailure::Network),
    }
}
