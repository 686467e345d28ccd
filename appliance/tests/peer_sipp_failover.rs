//! Real peers, trunk failover: two providers. The priority-1 trunk `prov1`
//! (127.0.0.2) answers every INVITE with 503 (`uas_503.xml`); the
//! priority-2 trunk `prov2` (127.0.0.4) answers. Extension 201 registers and
//! calls a national number routed to every trunk by priority: the call must
//! succeed through `prov2` after `prov1` got its INVITE (and the ACK of its 503), and
//! the call record in `<data_dir>/appliance.db` names `prov2` with
//! disposition `answered`. `SIPp` is required: a missing `SIPp` FAILS this
//! test.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure should panic the test"
)]

mod peer_support;

use std::net::SocketAddr;

use peer_support::{
    Appliance, PBX_IP, PROVIDER1_IP, PROVIDER2_IP, SippRun, TrunkSpec, answering_uas, call_records,
    free_udp_port, password, register, rtp_range, site_config, temp_dir,
};

#[test]
fn call_fails_over_from_a_503_trunk_to_the_next_and_the_cdr_names_it() {
    let dir = temp_dir("failover");
    let prov1 = SocketAddr::from((PROVIDER1_IP, free_udp_port(PROVIDER1_IP)));
    let prov2 = SocketAddr::from((PROVIDER2_IP, free_udp_port(PROVIDER2_IP)));
    let trunks = [
        TrunkSpec {
            id: "prov1",
            ip: PROVIDER1_IP,
            port: prov1.port(),
            priority: 1,
            dids: vec![],
        },
        TrunkSpec {
            id: "prov2",
            ip: PROVIDER2_IP,
            port: prov2.port(),
            priority: 2,
            dids: vec![],
        },
    ];
    let appliance = Appliance::start(&dir, &site_config(rtp_range(), &trunks, 5), &trunks);

    let mut refusing = answering_uas(&dir, "prov1-503", "uas_503.xml", prov1);
    let mut answering = answering_uas(&dir, "prov2", "uas_answer.xml", prov2);
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(&dir, &appliance, "201", phone);
    SippRun {
        name: "call-201-national",
        scenario: "uac_ext_call.xml",
        local: phone,
        remote: Some(appliance.sip),
        service: Some("0301234567"),
        auth: Some(("201", password("201"))),
        vars: &[("caller", "201")],
        rtp_echo: false,
        calls: 1,
    }
    .run_ok(&dir, &appliance);
    // prov1 saw the INVITE, answered 503 and got its ACK.
    refusing.finish_ok(&appliance);
    answering.finish_ok(&appliance);

    let records = call_records(&appliance, 1);
    assert_eq!(
        records,
        vec![(
            Some("prov2".to_owned()),
            "answered".to_owned(),
            "+31301234567".to_owned()
        )],
        "one record, through prov2"
    );
}
