//! Real peers, a dropped TCP trunk connection: trunk `prov1` registers over
//! TCP to a `SIPp` registrar on 127.0.0.2 (no authentication, expiry
//! 600 s). The test kills `SIPp` (the connection drops), restarts it on the
//! same port and expects the appliance to register again within seconds
//! (immediate re-registration, retried with backoff while the provider is
//! away), not at the refresh ten minutes later. `SIPp` is required: a
//! missing `SIPp` FAILS this test.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure should panic the test"
)]

mod peer_support;

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use peer_support::{
    Appliance, PBX_IP, PROVIDER1_IP, Sipp, SippRun, TrunkSpec, free_tcp_port, rtp_range,
    site_config, temp_dir,
};

/// A free TCP port on `PROVIDER1_IP`.
fn free_provider_tcp_port() -> u16 {
    std::net::TcpListener::bind((PROVIDER1_IP, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the `SIPp` registrar over TCP at `addr`, answering `registers`
/// REGISTERs, and waits until it accepts connections.
fn registrar(dir: &std::path::Path, name: &str, addr: SocketAddr, registers: u32) -> Sipp {
    let mut sipp = SippRun {
        name,
        scenario: "uas_registrar.xml",
        local: addr,
        remote: None,
        service: None,
        auth: None,
        vars: &[],
        rtp_echo: false,
        calls: registers,
    }
    .spawn_with(dir, &["-t", "t1", "-max_socket", "16"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_err() {
        if let Some(status) = sipp.proc.child.try_wait().unwrap() {
            panic!(
                "SIPp {name} exited before listening on {addr}: {status}\n{}",
                sipp.report()
            );
        }
        assert!(
            Instant::now() < deadline,
            "SIPp {name} never listened on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sipp
}

#[test]
fn dropped_tcp_trunk_connection_triggers_an_immediate_re_registration() {
    let dir = temp_dir("tcp-rereg");
    let provider = SocketAddr::from((PROVIDER1_IP, free_provider_tcp_port()));
    let trunks = [TrunkSpec {
        id: "prov1",
        ip: PROVIDER1_IP,
        port: provider.port(),
        priority: 1,
        dids: vec![],
    }];
    let site = site_config(rtp_range(), &trunks, 5)
        .replace("transport = \"udp\"", "transport = \"tcp\"")
        .replace("register = false", "register = true");
    let mut first = registrar(&dir, "registrar-1", provider, 1);
    let tcp = SocketAddr::from((PBX_IP, free_tcp_port()));
    let appliance = Appliance::start_with(&dir, &site, &trunks, &format!("tcp = [\"{tcp}\"]\n"));

    // The first registration, over TCP.
    first.finish_ok(&appliance);
    // `-m 1`: SIPp exited after answering, and its connection is gone with it.
    let dropped = Instant::now();

    // The provider comes back on the same port after a moment.
    std::thread::sleep(Duration::from_millis(1500));
    let mut second = registrar(&dir, "registrar-2", provider, 1);
    second.finish_ok(&appliance);
    let took = dropped.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "re-registered only after {took:?} (the refresh is due after about 5 minutes)"
    );
    let log = appliance.log();
    assert!(!log.contains("panicked"), "the appliance panicked:\n{log}");
}
