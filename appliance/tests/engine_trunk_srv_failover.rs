//! RFC 3263 failover with real peers: the engine runs in process with a
//! trunk given by host name (`provider.test`, no port). An in-process
//! hickory DNS server answers `_sip._udp.provider.test` with two SRV
//! targets: `sbc1` (priority 10, a `SIPp` UAS on 127.0.0.2 that answers
//! 503) and `sbc2` (priority 20, a `SIPp` UAS on 127.0.0.4 that answers and
//! echoes RTP). A second trunk (`backup`, priority 20) points at a UDP
//! socket of the test that must receive nothing: the 503 must move the call
//! to the trunk's next address, not to the next trunk. `SIPp` registers
//! extension 201 and places the call. `SIPp` is required: a missing `SIPp`
//! FAILS this test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod peer_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use peer_support::{
    PBX_IP, PROVIDER1_IP, PROVIDER2_IP, Sipp, SippRun, free_udp_port, rtp_range, stat, temp_dir,
};
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
use voip_sip::validate::Capabilities;

const BACKUP_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// Zone `test.`: `_sip._udp.provider.test.` → `sbc1` (priority 10) on
/// `sbc1.1`'s port and `sbc2` (priority 20) on `sbc2.1`'s port.
async fn dns_server(sbc1: SocketAddr, sbc2: SocketAddr) -> (Server<Catalog>, SocketAddr) {
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
    let ip = |a: SocketAddr| match a.ip() {
        std::net::IpAddr::V4(v4) => v4,
        std::net::IpAddr::V6(_) => unreachable!(),
    };
    let records = [
        Record::from_rdata(origin, 3600, RData::SOA(soa)),
        Record::from_rdata(
            name("_sip._udp.provider.test."),
            600,
            RData::SRV(SRV::new(10, 0, sbc1.port(), name("sbc1.provider.test."))),
        ),
        Record::from_rdata(
            name("_sip._udp.provider.test."),
            600,
            RData::SRV(SRV::new(20, 0, sbc2.port(), name("sbc2.provider.test."))),
        ),
        Record::from_rdata(name("sbc1.provider.test."), 600, RData::A(A(ip(sbc1)))),
        Record::from_rdata(name("sbc2.provider.test."), 600, RData::A(A(ip(sbc2)))),
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

fn site(rtp: (u16, u16), backup: SocketAddr) -> SiteConfig {
    SiteConfig::from_toml_str(&format!(
        r#"
version = 1
site_name = "Failover"
tenant = "failover"

[media]
rtp_port_min = {min}
rtp_port_max = {max}

[[permission_profiles]]
name = "alles"
allowed_classes = ["internal", "mobile", "national_fixed"]

[[extensions]]
number = "201"
display_name = "Toestel 201"
credentials = "ext-201"
permission_profile = "alles"

[[trunks]]
id = "prov"
host = "provider.test"
transport = "udp"
credentials = "trunk-prov"
username = "failover"
register = false
options_interval_s = 0
priority = 10
codecs = ["pcma"]

[[trunks]]
id = "backup"
host = "{backup_ip}"
port = {backup_port}
transport = "udp"
credentials = "trunk-backup"
username = "failover"
register = false
options_interval_s = 0
priority = 20
codecs = ["pcma"]

[[dial_plan]]
name = "mobiel"
pattern = "06XXXXXXXX"
strip = 1
prefix = "+31"
destination = {{ trunk_group = "all" }}
"#,
        min = rtp.0,
        max = rtp.1,
        backup_ip = backup.ip(),
        backup_port = backup.port(),
    ))
    .unwrap()
}

const SECRETS: &str = "[credentials.ext-201]\npassword = \"geheim-201\"\n\n\
[credentials.trunk-prov]\npassword = \"p\"\n\n[credentials.trunk-backup]\npassword = \"b\"\n";

/// Waits (off the runtime's threads) until `sipp` exits; asserts success
/// and at least one successful call.
async fn finish(mut sipp: Sipp) {
    tokio::task::spawn_blocking(move || {
        let status = sipp.proc.wait(Duration::from_secs(30));
        let csv = std::fs::read_to_string(&sipp.stats).unwrap_or_default();
        assert!(
            status.success() && stat(&csv, "SuccessfulCall(C)") >= 1,
            "SIPp {} failed ({status})\n{}",
            sipp.name,
            sipp.report()
        );
    })
    .await
    .unwrap();
}

fn uas(dir: &std::path::Path, name: &str, scenario: &str, local: SocketAddr) -> Sipp {
    let mut sipp = SippRun {
        name,
        scenario,
        local,
        remote: None,
        service: None,
        auth: None,
        vars: &[],
        rtp_echo: true,
        calls: 1,
    }
    .spawn(dir);
    peer_support::wait_udp_bound(local, &mut sipp.proc);
    sipp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_from_the_first_srv_target_moves_the_call_to_the_second_not_the_next_trunk() {
    let dir = temp_dir("srv-failover");
    let sbc1 = SocketAddr::from((PROVIDER1_IP, free_udp_port(PROVIDER1_IP)));
    let sbc2 = SocketAddr::from((PROVIDER2_IP, free_udp_port(PROVIDER2_IP)));
    let backup = std::net::UdpSocket::bind((BACKUP_IP, 0)).unwrap();
    backup.set_nonblocking(true).unwrap();
    let (_dns, dns_addr) = dns_server(sbc1, sbc2).await;

    let site = site(rtp_range(), backup.local_addr().unwrap());
    let secrets = Secrets::from_toml_str(SECRETS).unwrap();
    let config = TransportConfig {
        udp: vec![SocketAddr::from((PBX_IP, 0))],
        tcp: Vec::new(),
        tls: Vec::new(),
        tls_cert: None,
        tls_key: None,
        limits: Limits::default(),
        max_connections: 16,
        idle_timeout: Duration::from_mins(5),
        inbound_capacity: 256,
        outbound_capacity: 256,
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
        Store::open_in_memory(StoreConfig::new(ApplianceId::new("srv-fo").unwrap())).unwrap();
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

    let first = uas(&dir, "sbc1", "uas_503.xml", sbc1);
    let second = uas(&dir, "sbc2", "uas_answer.xml", sbc2);
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    let register = SippRun {
        name: "register-201",
        scenario: "register.xml",
        local: phone,
        remote: Some(sip_addr),
        service: Some("201"),
        auth: Some(("201", "geheim-201")),
        vars: &[],
        rtp_echo: false,
        calls: 1,
    }
    .spawn(&dir);
    finish(register).await;
    let call = SippRun {
        name: "call-201",
        scenario: "uac_ext_call.xml",
        local: phone,
        remote: Some(sip_addr),
        service: Some("0612345678"),
        auth: Some(("201", "geheim-201")),
        vars: &[("caller", "201")],
        rtp_echo: false,
        calls: 1,
    }
    .spawn(&dir);
    finish(call).await;
    finish(first).await;
    finish(second).await;

    let mut buf = [0u8; 2048];
    assert!(
        backup.recv_from(&mut buf).is_err(),
        "the next trunk was tried although the first trunk had another address"
    );
    engine.shutdown(Duration::ZERO).await;
    transport.shutdown(Duration::ZERO).await;
    store.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
