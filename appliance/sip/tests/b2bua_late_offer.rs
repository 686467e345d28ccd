//! Late offer (RFC 3261 13.2.1, RFC 3264): an INVITE without SDP. The B2BUA
//! offers to the B-leg itself, makes B's answer (anchored) the offer in the
//! 2xx to A, and takes A's answer from the ACK. Virtual time, real
//! transaction layer, scripted phones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod b2bua_support;

use b2bua_support::*;
use voip_sip::b2bua::{EndReason, MediaInstruction, RouteDecision};
use voip_sip::message::{HeaderName, Request, Response, SipMessage};
use voip_sip::sdp::{Codec, Session};

const BOB: u8 = 2;

/// Alice's INVITE to `user` without a body (`body` given: with that body
/// and Content-Type).
fn offerless_invite(user: &str, body: Option<(&str, &str)>) -> Request {
    let (ct, b) = match body {
        Some((ct, b)) => (format!("Content-Type: {ct}\n"), b.to_owned()),
        None => (String::new(), String::new()),
    };
    let text = format!(
        "INVITE sip:{user}@pbx.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKalicelate
Max-Forwards: 70
From: \"Alice\" <sip:201@pbx.example>;tag=atag
To: <sip:{user}@pbx.example>
Call-ID: a-call-1@192.0.2.1
CSeq: 1 INVITE
Contact: <sip:201@192.0.2.1:5060>
{ct}Content-Length: {}

{b}",
        b.len()
    );
    match parse(&text) {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!(),
    }
}

fn ack_from_alice(sim: &mut Sim, ok: &Response, body: Option<&str>) {
    let ack = in_dialog(
        "ACK",
        "sip:b2bua@198.51.100.10:5060",
        "\"Alice\" <sip:201@pbx.example>;tag=atag",
        ok.headers.get(&HeaderName::TO).unwrap(),
        "a-call-1@192.0.2.1",
        1,
        "z9hG4bKaliceack",
        body,
    );
    sim.send(alice(), ack);
}

fn only_200(sim: &mut Sim) -> Response {
    let oks: Vec<Response> = sim
        .take_responses(alice(), "INVITE")
        .into_iter()
        .filter(|r| r.status.as_u16() == 200)
        .collect();
    assert_eq!(oks.len(), 1, "one 200 to Alice");
    oks.into_iter().next().unwrap()
}

fn codec_names(session: &Session) -> Vec<String> {
    session.media[0]
        .codecs()
        .into_iter()
        .map(|(_, c)| c.name.to_ascii_lowercase())
        .collect()
}

fn relays(sim: &Sim) -> Vec<&MediaInstruction> {
    sim.media
        .iter()
        .filter(|m| matches!(m, MediaInstruction::Relay { .. }))
        .collect()
}

/// Alice calls Bob without SDP; Bob's target offers PCMA only.
fn late_call() -> (Sim, Request) {
    let mut sim = Sim::new();
    sim.send(alice(), offerless_invite("202", None));
    let mut bob = target(BOB, "202");
    bob.codecs = vec![Codec::pcma()];
    sim.route(targets(vec![vec![bob]]));
    let invite = sim.one_request(phone(BOB), "INVITE");
    (sim, invite)
}

#[test]
fn late_offer_b_leg_gets_our_offer_and_the_ack_answer_starts_the_relay() {
    let (mut sim, invite) = late_call();
    // The B-leg's INVITE carries our offer: the relay's B-side port, the
    // target's codecs plus telephone-event.
    let offer = Session::parse_bytes(&invite.body).unwrap();
    assert_eq!(
        offer
            .connection
            .as_ref()
            .and_then(voip_sip::sdp::Connection::ip),
        Some(MEDIA_IP)
    );
    assert_eq!(offer.media[0].port, PORTS.b_port);
    assert_eq!(codec_names(&offer), ["pcma", "telephone-event"]);

    // Bob answers; Alice's 200 carries the offer (Bob's answer anchored on
    // our A-side port).
    let answer = sdp("192.0.2.2", 6000, "a=sendrecv\r\n").replace(" 0 8 101", " 8 101");
    sim.send(phone(BOB), reply(&invite, 200, "btag", Some(answer)));
    assert_eq!(sim.take_requests(phone(BOB), "ACK").len(), 1);
    let ok = only_200(&mut sim);
    let a_offer = Session::parse_bytes(&ok.body).unwrap();
    assert_eq!(
        a_offer
            .connection
            .as_ref()
            .and_then(voip_sip::sdp::Connection::ip),
        Some(MEDIA_IP)
    );
    assert_eq!(a_offer.media[0].port, PORTS.a_port);
    assert!(codec_names(&a_offer).contains(&"pcma".to_owned()));
    assert!(
        relays(&sim).is_empty(),
        "no relay before A's answer: {:?}",
        sim.media
    );

    // Alice answers in the ACK: the relay starts with both remotes.
    let alice_answer = sdp("192.0.2.1", 4000, "a=sendrecv\r\n");
    ack_from_alice(&mut sim, &ok, Some(&alice_answer));
    let relay = relays(&sim);
    assert_eq!(relay.len(), 1, "{:?}", sim.media);
    let MediaInstruction::Relay {
        a_remote, b_remote, ..
    } = relay[0]
    else {
        unreachable!()
    };
    assert_eq!(a_remote.to_string(), "192.0.2.1:4000");
    assert_eq!(b_remote.to_string(), "192.0.2.2:6000");
    assert!(sim.ended().is_none());
    assert!(sim.take_requests(alice(), "BYE").is_empty());
}

#[test]
fn late_offer_ack_without_an_answer_ends_the_call_on_both_legs() {
    let (mut sim, invite) = late_call();
    sim.send(
        phone(BOB),
        reply(&invite, 200, "btag", Some(sdp("192.0.2.2", 6000, ""))),
    );
    let ok = only_200(&mut sim);
    ack_from_alice(&mut sim, &ok, None);
    assert_eq!(sim.take_requests(alice(), "BYE").len(), 1);
    assert_eq!(sim.take_requests(phone(BOB), "BYE").len(), 1);
    assert_eq!(sim.ended().unwrap().reason, EndReason::NoAnswerInAck);
    assert!(relays(&sim).is_empty());
}

#[test]
fn late_offer_early_media_sdp_is_not_relayed_to_a() {
    let (mut sim, invite) = late_call();
    sim.send(
        phone(BOB),
        reply(&invite, 183, "btag", Some(sdp("192.0.2.2", 6000, ""))),
    );
    let early: Vec<Response> = sim
        .take_responses(alice(), "INVITE")
        .into_iter()
        .filter(|r| r.status.as_u16() == 183)
        .collect();
    assert_eq!(early.len(), 1);
    assert!(early[0].body.is_empty(), "an answer to nothing: {early:?}");
    assert!(relays(&sim).is_empty());
}

#[test]
fn late_offer_to_the_echo_test_offers_in_the_200_and_loops_after_the_ack() {
    let mut sim = Sim::new();
    sim.send(alice(), offerless_invite("*43", None));
    sim.route(RouteDecision::EchoTest);
    let ok = only_200(&mut sim);
    let offer = Session::parse_bytes(&ok.body).unwrap();
    assert_eq!(offer.media[0].port, PORTS.a_port);
    assert_eq!(
        codec_names(&offer),
        [
            "pcmu",
            "pcma",
            "g722",
            "opus",
            "telephone-event",
            "telephone-event"
        ]
    );
    assert!(
        !sim.media
            .iter()
            .any(|m| matches!(m, MediaInstruction::EchoLoop { .. }))
    );
    ack_from_alice(&mut sim, &ok, Some(&sdp("192.0.2.1", 4000, "")));
    let looped: Vec<_> = sim
        .media
        .iter()
        .filter_map(|m| match m {
            MediaInstruction::EchoLoop {
                local_port, remote, ..
            } => Some((*local_port, remote.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(looped, [(PORTS.a_port, "192.0.2.1:4000".to_owned())]);
}

#[test]
fn invite_with_a_body_that_is_not_sdp_is_still_refused_488() {
    let mut sim = Sim::new();
    sim.send(
        alice(),
        offerless_invite("202", Some(("text/plain", "hallo"))),
    );
    assert_eq!(sim.codes(alice(), "INVITE"), [488]);
}
