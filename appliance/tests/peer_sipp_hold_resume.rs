//! Real peers, hold and resume through the running daemon: `SIPp` as
//! extension 201 calls a mobile number through trunk `prov1` (a `SIPp` UAS
//! at 127.0.0.2), then re-INVITEs with `a=sendonly` (hold) and later with
//! `a=sendrecv` (resume). Both scenarios check the directions with
//! `check_it`: the provider must be re-INVITEd with `sendonly` and then
//! `sendrecv`, and the extension must get the provider's `recvonly` and then
//! `sendrecv` answers relayed; any other direction fails the `SIPp` run. The
//! test also checks that every SDP the peers saw points at the appliance's
//! relay. `SIPp` is required: a missing `SIPp` FAILS this test.
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

/// `(first line, a= direction, c= address)` of every message with SDP that
/// `SIPp` received, in order.
fn received_sdp(trace: &str) -> Vec<(String, String, String)> {
    trace
        .split("----------------------------------------------- ")
        .filter(|chunk| chunk.contains("message received"))
        .filter_map(|chunk| {
            let message = chunk.split_once("bytes :")?.1.trim_start();
            let first = message.lines().next()?.to_owned();
            let direction = message.lines().find_map(|l| {
                let l = l.trim();
                ["sendrecv", "sendonly", "recvonly", "inactive"]
                    .into_iter()
                    .find(|d| l == format!("a={d}"))
                    .map(str::to_owned)
            })?;
            let connection = message
                .lines()
                .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?
                .to_owned();
            Some((first, direction, connection))
        })
        .collect()
}

#[test]
fn hold_and_resume_reinvites_reach_the_other_leg_with_the_right_directions() {
    let dir = temp_dir("hold-resume");
    let provider = SocketAddr::from((PROVIDER1_IP, free_udp_port(PROVIDER1_IP)));
    let trunks = [TrunkSpec {
        id: "prov1",
        ip: PROVIDER1_IP,
        port: provider.port(),
        priority: 1,
        dids: vec![],
    }];
    let appliance = Appliance::start(&dir, &site_config(rtp_range(), &trunks, 5), &trunks);
    let mut uas = answering_uas(&dir, "prov1", "uas_hold.xml", provider);
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(&dir, &appliance, "201", phone);
    let uac = SippRun {
        name: "call-201-hold",
        scenario: "uac_ext_hold.xml",
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
    assert_eq!(call_records(&appliance, 1)[0].1, "answered");

    let pbx = PBX_IP.to_string();
    let at_provider = received_sdp(&std::fs::read_to_string(&uas.messages).unwrap());
    let directions: Vec<&str> = at_provider.iter().map(|(_, d, _)| d.as_str()).collect();
    assert_eq!(
        directions,
        ["sendrecv", "sendonly", "sendrecv"],
        "offers the provider got: {at_provider:?}"
    );
    assert!(
        at_provider
            .iter()
            .all(|(first, _, c)| first.starts_with("INVITE ") && *c == pbx),
        "{at_provider:?}"
    );
    let at_phone = received_sdp(&std::fs::read_to_string(&uac.messages).unwrap());
    let answers: Vec<&str> = at_phone
        .iter()
        .filter(|(first, _, _)| first.starts_with("SIP/2.0 200"))
        .map(|(_, d, _)| d.as_str())
        .collect();
    assert_eq!(
        answers,
        ["sendrecv", "recvonly", "sendrecv"],
        "answers the extension got: {at_phone:?}"
    );
    assert!(at_phone.iter().all(|(_, _, c)| *c == pbx), "{at_phone:?}");
}
