//! Real peers, late offer: `SIPp` as extension 201 registers and calls a
//! mobile number with an INVITE WITHOUT SDP. The appliance offers to the
//! provider (a `SIPp` UAS at 127.0.0.2 that echoes RTP) itself, puts the
//! provider's answer as its offer into the 200 to the extension (the
//! scenario checks PCMA is offered) and takes the extension's answer from
//! the ACK. Asserts that both `SIPp` runs succeeded, the provider got an
//! offer from the appliance, RTP was relayed both ways on both legs
//! (`/metrics`) and the call record. `SIPp` is required: a missing `SIPp`
//! FAILS this test.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure should panic the test"
)]

mod peer_support;

use std::net::SocketAddr;

use peer_support::{
    Appliance, PBX_IP, PROVIDER1_IP, SippRun, TrunkSpec, answering_uas, call_records,
    free_udp_port, metric_sum, password, register, rtp_range, site_config, temp_dir,
};

/// RTP packets each direction must at least carry: 4 s at 50 packets/s is
/// 200; leave room for the call set-up and the end of the pcap.
const MIN_PACKETS: f64 = 100.0;

#[test]
fn late_offer_call_gets_the_offer_in_the_200_and_media_flows_after_the_ack_answer() {
    let dir = temp_dir("late-offer");
    let provider = SocketAddr::from((PROVIDER1_IP, free_udp_port(PROVIDER1_IP)));
    let trunks = [TrunkSpec {
        id: "prov1",
        ip: PROVIDER1_IP,
        port: provider.port(),
        priority: 1,
        dids: vec![("+31301234567", "201")],
    }];
    let appliance = Appliance::start(&dir, &site_config(rtp_range(), &trunks, 5), &trunks);

    let mut uas = answering_uas(&dir, "prov1", "uas_answer.xml", provider);
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(&dir, &appliance, "201", phone);
    SippRun {
        name: "call-201-late",
        scenario: "uac_ext_late_offer.xml",
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

    // The provider's INVITE carried the appliance's own offer.
    let trace = std::fs::read_to_string(&uas.messages).unwrap();
    let invite = trace
        .split("message received")
        .nth(1)
        .expect("the provider received the INVITE");
    assert!(
        invite.contains("c=IN IP4 127.0.0.1") && invite.contains("m=audio "),
        "no offer from the appliance in the provider's INVITE:\n{invite}"
    );

    let records = call_records(&appliance, 1);
    assert_eq!(
        records,
        vec![(
            Some("prov1".to_owned()),
            "answered".to_owned(),
            "+31612345678".to_owned()
        )]
    );

    // The relay anchored both legs: leg A faces the extension, leg B the
    // provider. A→B: in on A, out on B; B→A (the echo): in on B, out on A.
    let metrics = appliance.metrics();
    for (leg, direction) in [("a", "in"), ("b", "out"), ("b", "in"), ("a", "out")] {
        let packets = metric_sum(
            &metrics,
            "voip_media_relay_packets_total",
            &[
                &format!("leg=\"{leg}\""),
                &format!("direction=\"{direction}\""),
            ],
        );
        assert!(
            packets.is_some_and(|p| p >= MIN_PACKETS),
            "relay packets leg {leg} {direction}: {packets:?} (want >= {MIN_PACKETS})\n{metrics}"
        );
    }
}
