//! The engine in process with a trunk given by host name and no port: it
//! resolves the host with DNS SRV (RFC 3263 §4.2) against an in-process
//! hickory-server on loopback and sends its REGISTER to the SRV target's
//! port, a loopback UDP "provider" on a random port. The host name also has
//! an A record (on 5060 that would miss the provider), so a resolution that
//! skipped SRV fails the test. The Request-URI carries no port.
//!
//! The engine gets its resolver through [`EngineParts::resolver`]
//! (`SipResolver::with_name_servers`), so no daemon knob is needed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::{TcpListener, UdpSocket};
use voip_appliance::engine::store_thread::StoreThread;
use voip_appliance::engine::{Engine, EngineParts, local_addrs};
use voip_appliance::media_relay::{PortRange, RelayManager, RelayManagerConfig};
use voip_appliance::secrets::Secrets;
use voip_appliance::sip_resolve::SipResolver;
use voip_appliance::sip_transport::{SipTransport, TransportConfig};
use voip_appliance::store::{Store, StoreConfig};
use voip_shared::mqtt::ApplianceId;
use voip_shared::site_config::SiteConfig;
use voip_sip::framing::Limits;
use voip_sip::message::{HeaderName, SipMessage};
use voip_sip::validate::Capabilities;

const WAIT: Duration = Duration::from_secs(5);

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// Zone `test.`: `_sip._udp.provider.test.` SRV → `sbc.provider.test.` on
/// `provider_port`; `sbc.provider.test.` and `provider.test.` A 127.0.0.1.
async fn dns_server(provider_port: u16) -> (Server<Catalog>, SocketAddr) {
    let origin = name("test.");
    let mut zone: InMemoryZoneHandler =
        InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let soa = SOA::new(
        name("ns.test."),
        name("hostmaster.test."),
        1,
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
            RData::SRV(SRV::new(10, 0, provider_port, name("sbc.provider.test."))),
        ),
        Record::from_rdata(
            name("sbc.provider.test."),
            600,
            RData::A(A(Ipv4Addr::LOCALHOST)),
        ),
        Record::from_rdata(
            name("provider.test."),
            600,
            RData::A(A(Ipv4Addr::LOCALHOST)),
        ),
    ];
    for record in records {
        assert!(zone.upsert_mut(record, 1), "record accepted");
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(name("test.")), vec![Arc::new(zone)]);
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(addr).await.unwrap();
    let mut server = Server::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 16);
    (server, addr)
}

const SITE: &str = r#"
version = 1
site_name = "Srvtest"
tenant = "srvtest"

[media]
rtp_port_min = 42000
rtp_port_max = 42199

[[trunks]]
id = "prov"
host = "provider.test"
transport = "udp"
credentials = "trunk-prov"
username = "0301234567"
register = true
options_interval_s = 0
priority = 10
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trunk_without_port_registers_at_the_srv_target_port() {
    let provider = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let provider_port = provider.local_addr().unwrap().port();
    assert_ne!(provider_port, 5060);
    let (_dns, dns_addr) = dns_server(provider_port).await;

    let site = SiteConfig::from_toml_str(SITE).unwrap();
    assert_eq!(site.trunk("prov").unwrap().port, None);
    let secrets =
        Secrets::from_toml_str("[credentials.trunk-prov]\npassword = \"prov-geheim\"\n").unwrap();
    let config = TransportConfig {
        udp: vec!["127.0.0.1:0".parse().unwrap()],
        tcp: Vec::new(),
        tls: Vec::new(),
        tls_cert: None,
        tls_key: None,
        limits: Limits::default(),
        max_connections: 16,
        idle_timeout: Duration::from_mins(5),
        inbound_capacity: 64,
        outbound_capacity: 64,
        capabilities: Capabilities::default(),
        tls_ca_file: None,
        connect_timeout: Duration::from_secs(5),
    };
    let (transport, inbound) = SipTransport::start(config).await.unwrap();
    let sip_addr = transport.local_addrs()[0].1;
    let (relay_tx, relay_events) = tokio::sync::mpsc::channel(64);
    let relays = RelayManager::new(
        RelayManagerConfig::default(),
        PortRange::from_settings(&site.media).unwrap(),
        relay_tx,
    );
    let store =
        Store::open_in_memory(StoreConfig::new(ApplianceId::new("srv-test").unwrap())).unwrap();
    let store = StoreThread::spawn(store).unwrap();
    let engine = Engine::spawn(EngineParts {
        site,
        secrets,
        local: local_addrs(transport.local_addrs()),
        nonce_key: [7; 32],
        inbound,
        outbound: transport.sender(),
        relays,
        relay_events,
        store: store.sender(),
        resolver: Some(SipResolver::with_name_servers(vec![dns_addr]).unwrap()),
        recording: None,
    })
    .unwrap();

    let mut buf = vec![0u8; 65_536];
    let register = loop {
        let (n, from) = tokio::time::timeout(WAIT, provider.recv_from(&mut buf))
            .await
            .expect("no REGISTER at the SRV target's port")
            .unwrap();
        if let Ok(SipMessage::Request(r)) = SipMessage::parse(&buf[..n])
            && r.method.as_str() == "REGISTER"
        {
            assert_eq!(from, sip_addr, "sent from the engine's SIP socket");
            break r;
        }
    };
    assert_eq!(
        register.uri.to_string(),
        "sip:provider.test",
        "no configured port: none in the Request-URI"
    );
    assert!(
        register
            .headers
            .get(&HeaderName::TO)
            .is_some_and(|to| to.contains("@provider.test")),
        "{register}"
    );

    engine.shutdown(Duration::ZERO).await;
    transport.shutdown(Duration::ZERO).await;
}
