//! Real peers, session timers (RFC 4028) through the running daemon:
//! `SIPp` as extension 201 calls a mobile number asking for
//! `Session-Expires: 30`; the appliance refuses it with 422 and
//! `Min-SE: 90`; the retry with 90 s is answered with
//! `Session-Expires: 90;refresher=uac` and `Require: timer`, and the
//! provider (a `SIPp` UAS at 127.0.0.2) gets a B-leg INVITE offering
//! `Supported: timer` and `Session-Expires: 90`. The scenarios check every
//! header (`check_it`): a wrong one fails the `SIPp` run. `SIPp` is
//! required: a missing `SIPp` FAILS this test.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure should panic the test"
)]

mod peer_support;

use std::net::SocketAddr;

use peer_support::{
    Appliance, PBX_IP, PROVIDER1_IP, SippRun, TrunkSpec, answering_uas, call_records,
    free_udp_port, password, register, rtp_range, site_config, temp_dir,
};

#[test]
fn session_timer_is_negotiated_with_422_and_offered_on_the_b_leg() {
    let dir = temp_dir("session-timer");
    let provider = SocketAddr::from((PROVIDER1_IP, free_udp_port(PROVIDER1_IP)));
    let trunks = [TrunkSpec {
        id: "prov1",
        ip: PROVIDER1_IP,
        port: provider.port(),
        priority: 1,
        dids: vec![("+31301234567", "201")],
    }];
    let appliance = Appliance::start(&dir, &site_config(rtp_range(), &trunks, 5), &trunks);

    let mut uas = answering_uas(&dir, "prov1", "uas_session_timer.xml", provider);
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(&dir, &appliance, "201", phone);
    SippRun {
        name: "call-201-timer",
        scenario: "uac_ext_session_timer.xml",
        local: phone,
        remote: Some(appliance.sip),
        service: Some("0612345678"),
        auth: Some(("201", password("201"))),
        vars: &[("caller", "201")],
        rtp_echo: false,
        calls: 1,
    }
    .run_ok(&dir, &appliance);
    uas.finish_ok(&appliance);

    let records = call_records(&appliance, 1);
    assert_eq!(
        records,
        vec![(
            Some("prov1".to_owned()),
            "answered".to_owned(),
            "+31612345678".to_owned()
        )]
    );
}
