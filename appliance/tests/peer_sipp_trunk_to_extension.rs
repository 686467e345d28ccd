//! Real peers, inbound: a `SIPp` UAS registers as extension 202 (a short
//! `register.xml` run from the UAS's own port, so the registered flow is the
//! UAS), then `SIPp` as the provider calls, from the trunk's address
//! (127.0.0.2), the DID that the site maps to 202. The call must reach the
//! UAS and complete (answer, 4 s of G.711 media echoed back, BYE), and the
//! call record names the trunk. `SIPp` is required: a missing `SIPp` FAILS
//! this test.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure should panic the test"
)]

mod peer_support;

use std::net::SocketAddr;

use peer_support::{
    Appliance, PBX_IP, PROVIDER1_IP, SippRun, TrunkSpec, answering_uas, call_records,
    free_udp_port, register, rtp_range, site_config, temp_dir,
};

#[test]
fn provider_call_to_a_did_rings_the_registered_extension_and_completes() {
    let dir = temp_dir("trunk-in");
    let provider = SocketAddr::from((PROVIDER1_IP, free_udp_port(PROVIDER1_IP)));
    let trunks = [TrunkSpec {
        id: "prov1",
        ip: PROVIDER1_IP,
        port: provider.port(),
        priority: 1,
        dids: vec![("+31301234567", "201"), ("+31301234568", "202")],
    }];
    let appliance = Appliance::start(&dir, &site_config(rtp_range(), &trunks, 5), &trunks);

    // 202 registers from the port its UAS listens on next.
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(&dir, &appliance, "202", phone);
    let mut uas = answering_uas(&dir, "phone-202", "uas_answer.xml", phone);

    SippRun {
        name: "provider-call-in",
        scenario: "uac_trunk_call.xml",
        local: provider,
        remote: Some(appliance.sip),
        service: Some("+31301234568"),
        auth: None,
        vars: &[],
        rtp_echo: false,
        calls: 1,
    }
    .run_ok(&dir, &appliance);
    uas.finish_ok(&appliance);

    let records = call_records(&appliance, 1);
    assert_eq!(records.len(), 1, "{records:?}");
    let (trunk, disposition, callee) = &records[0];
    assert_eq!(trunk.as_deref(), Some("prov1"));
    assert_eq!(disposition, "answered");
    assert_eq!(callee, "202");
}
