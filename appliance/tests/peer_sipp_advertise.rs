//! Real peers, the bootstrap file's `sip.advertise`: the appliance listens
//! on 127.0.0.1 but advertises 127.0.0.9 (as if behind NAT). `SIPp` as
//! extension 201 registers and calls a mobile number through trunk `prov1`
//! (a `SIPp` UAS at 127.0.0.2). The messages `SIPp` saw on both sides must
//! carry the advertised address in `Via`, `Contact` and the SDP's `c=`
//! line, and never the bound one; the extension's Request-URIs to the
//! bound address are still accepted as ours. `SIPp` is required: a missing
//! `SIPp` FAILS this test.
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

const ADVERTISED: &str = "127.0.0.9";

/// The messages of a `SIPp` message trace that `SIPp` received and that
/// start with `first_line_prefix`.
fn received(trace: &str, first_line_prefix: &str) -> Vec<String> {
    trace
        .split("----------------------------------------------- ")
        .filter(|chunk| chunk.contains("message received"))
        .filter_map(|chunk| {
            let body = chunk.split_once("bytes :")?.1.trim_start();
            body.starts_with(first_line_prefix).then(|| body.to_owned())
        })
        .collect()
}

fn assert_advertised(message: &str, who: &str) {
    let lower = message.to_ascii_lowercase();
    let needle = format!("c=in ip4 {ADVERTISED}");
    assert!(
        lower.contains(&needle),
        "{who}: no `{needle}` in\n{message}"
    );
    let contact = lower
        .lines()
        .find(|l| l.starts_with("contact:"))
        .unwrap_or_default();
    assert!(
        contact.contains(&format!("@{ADVERTISED}:")),
        "{who}: Contact does not carry {ADVERTISED}: {contact}"
    );
    assert!(
        !lower.contains("c=in ip4 127.0.0.1"),
        "{who}: the bound address leaked into the SDP\n{message}"
    );
}

#[test]
fn advertised_address_replaces_the_bound_one_in_via_contact_and_sdp() {
    let dir = temp_dir("advertise");
    let provider = SocketAddr::from((PROVIDER1_IP, free_udp_port(PROVIDER1_IP)));
    let trunks = [TrunkSpec {
        id: "prov1",
        ip: PROVIDER1_IP,
        port: provider.port(),
        priority: 1,
        dids: vec![],
    }];
    let appliance = Appliance::start_with(
        &dir,
        &site_config(rtp_range(), &trunks, 5),
        &trunks,
        &format!("advertise = \"{ADVERTISED}\"\n"),
    );
    let mut uas = answering_uas(&dir, "prov1", "uas_answer.xml", provider);
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(&dir, &appliance, "201", phone);
    let uac = SippRun {
        name: "call-201-out",
        scenario: "uac_ext_call.xml",
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

    // The provider's side: the appliance's INVITE.
    let provider_trace = std::fs::read_to_string(&uas.messages).unwrap();
    let invites = received(&provider_trace, "INVITE ");
    assert!(
        !invites.is_empty(),
        "the provider saw no INVITE\n{provider_trace}"
    );
    let invite = &invites[0];
    let via = invite
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("via:"))
        .unwrap_or_default();
    assert!(
        via.contains(&format!(
            "SIP/2.0/UDP {ADVERTISED}:{}",
            appliance.sip.port()
        )),
        "Via does not carry the advertised address: {via}"
    );
    assert_advertised(invite, "INVITE to the provider");

    // The extension's side: the 200 OK answering its INVITE.
    let phone_trace = std::fs::read_to_string(&uac.messages).unwrap();
    let answers: Vec<String> = received(&phone_trace, "SIP/2.0 200")
        .into_iter()
        .filter(|m| m.contains("application/sdp"))
        .collect();
    assert!(
        !answers.is_empty(),
        "the extension saw no 200 with SDP\n{phone_trace}"
    );
    assert_advertised(&answers[0], "200 OK to the extension");
}
