//! RFC 3263 resolution against a real DNS server on loopback: an in-process
//! hickory-server serving the authoritative zone `test.` over UDP and TCP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns set up fixtures"
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, AAAA, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::{TcpListener, UdpSocket};
use voip_appliance::sip_resolve::{
    NameServers, ResolveError, ResolverSettings, SipResolver, Target,
};
use voip_shared::site_config::Transport;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

/// The test zone:
/// - `provider.test.`: SRV for UDP (two targets at priority 10, one at 20)
///   and TLS, plus its own A/AAAA (used with an explicit port);
/// - `a.provider.test.` A + AAAA, `b.provider.test.` A only,
///   `c.provider.test.` AAAA only;
/// - `aonly.test.`: A only, no SRV;
/// - `nosip.test.`: SRV target `.`;
/// - `shortttl.test.`: A with TTL 5.
fn zone() -> InMemoryZoneHandler {
    let origin = name("test.");
    let mut zone = InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let serial = 1;
    let soa = SOA::new(
        name("ns.test."),
        name("hostmaster.test."),
        serial,
        3600,
        600,
        86_400,
        120,
    );
    let records = [
        Record::from_rdata(origin, 3600, RData::SOA(soa)),
        Record::from_rdata(
            name("_sip._udp.provider.test."),
            600,
            RData::SRV(SRV::new(10, 60, 5060, name("a.provider.test."))),
        ),
        Record::from_rdata(
            name("_sip._udp.provider.test."),
            600,
            RData::SRV(SRV::new(10, 40, 5070, name("b.provider.test."))),
        ),
        Record::from_rdata(
            name("_sip._udp.provider.test."),
            600,
            RData::SRV(SRV::new(20, 0, 5080, name("c.provider.test."))),
        ),
        Record::from_rdata(
            name("_sips._tcp.provider.test."),
            600,
            RData::SRV(SRV::new(10, 0, 5061, name("a.provider.test."))),
        ),
        Record::from_rdata(
            name("provider.test."),
            300,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 10))),
        ),
        Record::from_rdata(name("provider.test."), 300, RData::AAAA(AAAA(v6_addr(10)))),
        Record::from_rdata(
            name("a.provider.test."),
            90,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
        ),
        Record::from_rdata(name("a.provider.test."), 300, RData::AAAA(AAAA(v6_addr(1)))),
        Record::from_rdata(
            name("b.provider.test."),
            300,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 2))),
        ),
        Record::from_rdata(name("c.provider.test."), 300, RData::AAAA(AAAA(v6_addr(3)))),
        Record::from_rdata(
            name("aonly.test."),
            300,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 20))),
        ),
        Record::from_rdata(
            name("_sip._udp.nosip.test."),
            300,
            RData::SRV(SRV::new(0, 0, 0, Name::root())),
        ),
        Record::from_rdata(
            name("shortttl.test."),
            5,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 30))),
        ),
    ];
    for record in records {
        assert!(zone.upsert_mut(record, serial), "record accepted");
    }
    zone
}

fn v6_addr(last: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
}

/// Starts the DNS server on a free loopback port; keep the `Server` alive.
async fn dns_server() -> (Server<Catalog>, SocketAddr) {
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(name("test.")), vec![Arc::new(zone())]);
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(addr).await.unwrap();
    let mut server = Server::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 16);
    (server, addr)
}

fn addrs(targets: &[Target]) -> Vec<SocketAddr> {
    targets.iter().map(|t| t.addr).collect()
}

fn ttl_left(valid_until: Instant) -> Duration {
    valid_until.saturating_duration_since(Instant::now())
}

#[tokio::test]
async fn srv_records_give_targets_by_priority_with_both_families() {
    let (_server, dns) = dns_server().await;
    let sip = SipResolver::with_name_servers(vec![dns]).unwrap();
    let resolved = sip
        .resolve("provider.test", None, Transport::Udp)
        .await
        .unwrap();
    let got = addrs(&resolved.targets);
    // Priority 10 holds a (A + AAAA) and b (A only) in weighted random
    // order; priority 20 (c, AAAA only) comes last.
    let a = [SocketAddr::new(v4(1), 5060), SocketAddr::new(v6(1), 5060)];
    let b = [SocketAddr::new(v4(2), 5070)];
    let c = SocketAddr::new(v6(3), 5080);
    let a_first: Vec<_> = a.iter().chain(&b).copied().chain([c]).collect();
    let b_first: Vec<_> = b.iter().chain(&a).copied().chain([c]).collect();
    assert!(got == a_first || got == b_first, "unexpected order {got:?}");
    assert!(
        resolved
            .targets
            .iter()
            .all(|t| t.transport == Transport::Udp)
    );
    // Smallest TTL used: a's A record (90 s).
    let left = ttl_left(resolved.valid_until);
    assert!(
        left > Duration::from_secs(80) && left <= Duration::from_secs(90),
        "{left:?}"
    );
}

#[tokio::test]
async fn tls_uses_the_sips_srv_record() {
    let (_server, dns) = dns_server().await;
    let sip = SipResolver::with_name_servers(vec![dns]).unwrap();
    let resolved = sip
        .resolve("provider.test", None, Transport::Tls)
        .await
        .unwrap();
    assert_eq!(
        addrs(&resolved.targets),
        vec![SocketAddr::new(v4(1), 5061), SocketAddr::new(v6(1), 5061)]
    );
    assert!(
        resolved
            .targets
            .iter()
            .all(|t| t.transport == Transport::Tls)
    );
}

#[tokio::test]
async fn explicit_port_uses_the_hosts_own_addresses() {
    let (_server, dns) = dns_server().await;
    let sip = SipResolver::with_name_servers(vec![dns]).unwrap();
    let resolved = sip
        .resolve("provider.test", Some(5099), Transport::Tcp)
        .await
        .unwrap();
    assert_eq!(
        addrs(&resolved.targets),
        vec![SocketAddr::new(v4(10), 5099), SocketAddr::new(v6(10), 5099)]
    );
}

#[tokio::test]
async fn a_name_with_only_a_records_falls_back_to_the_default_port() {
    let (_server, dns) = dns_server().await;
    let sip = SipResolver::with_name_servers(vec![dns]).unwrap();
    for (transport, port) in [(Transport::Udp, 5060), (Transport::Tls, 5061)] {
        let resolved = sip.resolve("aonly.test", None, transport).await.unwrap();
        assert_eq!(
            addrs(&resolved.targets),
            vec![SocketAddr::new(v4(20), port)]
        );
        // Bounded by the negative TTL of the missing SRV record (SOA minimum 120 s).
        let left = ttl_left(resolved.valid_until);
        assert!(
            left > Duration::from_secs(100) && left <= Duration::from_mins(2),
            "{left:?}"
        );
    }
}

#[tokio::test]
async fn a_short_ttl_is_raised_to_thirty_seconds() {
    let (_server, dns) = dns_server().await;
    let sip = SipResolver::with_name_servers(vec![dns]).unwrap();
    let resolved = sip
        .resolve("shortttl.test", Some(5060), Transport::Udp)
        .await
        .unwrap();
    let left = ttl_left(resolved.valid_until);
    assert!(
        left > Duration::from_secs(25) && left <= Duration::from_secs(30),
        "{left:?}"
    );
}

#[tokio::test]
async fn a_missing_name_is_nxdomain() {
    let (_server, dns) = dns_server().await;
    let sip = SipResolver::with_name_servers(vec![dns]).unwrap();
    for port in [None, Some(5060)] {
        let error = sip
            .resolve("missing.test", port, Transport::Udp)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ResolveError::NxDomain {
                host: "missing.test".into()
            },
            "port {port:?}"
        );
    }
}

#[tokio::test]
async fn an_srv_target_of_dot_means_no_sip_service() {
    let (_server, dns) = dns_server().await;
    let sip = SipResolver::with_name_servers(vec![dns]).unwrap();
    let error = sip
        .resolve("nosip.test", None, Transport::Udp)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ResolveError::ServiceNotAvailable {
            host: "nosip.test".into()
        }
    );
}

#[tokio::test]
async fn ip_literals_need_no_dns() {
    // No server at all: a literal must not query.
    let sip = SipResolver::with_name_servers(vec!["127.0.0.1:9".parse().unwrap()]).unwrap();
    let resolved = sip
        .resolve("192.0.2.7", None, Transport::Tls)
        .await
        .unwrap();
    assert_eq!(addrs(&resolved.targets), vec![SocketAddr::new(v4(7), 5061)]);
}

#[tokio::test]
async fn a_silent_name_server_gives_a_timeout() {
    // A bound socket that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sip = SipResolver::new(&ResolverSettings {
        name_servers: NameServers::Explicit(vec![silent.local_addr().unwrap()]),
        query_timeout: Duration::from_millis(150),
        attempts: 1,
        overall_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let started = Instant::now();
    let error = sip
        .resolve("provider.test", None, Transport::Udp)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ResolveError::Timeout {
            host: "provider.test".into()
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the query timeout applies"
    );
}

#[tokio::test]
async fn an_empty_name_server_list_is_refused() {
    assert!(SipResolver::with_name_servers(vec![]).is_err());
}
