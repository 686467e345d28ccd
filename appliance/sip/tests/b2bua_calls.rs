//! B2BUA call flows in virtual time: a real transaction layer on the B2BUA
//! side, scripted phones on the other end of an in-memory link.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod b2bua_support;

use std::time::Duration;

use b2bua_support::*;
use voip_sip::b2bua::{
    Disposition, EndReason, Event, MediaInstruction, RouteDecision, Side, TargetCredentials,
};
use voip_sip::message::{HeaderName, Request, Response};
use voip_sip::sdp::{Direction, Session};

const BOB: u8 = 2;
const CAROL: u8 = 3;

fn body(r: &Response) -> Session {
    Session::parse_bytes(&r.body).unwrap()
}

fn req_body(r: &Request) -> Session {
    Session::parse_bytes(&r.body).unwrap()
}

/// Alice calls `user`; the call is routed to `decision`.
fn start(decision: RouteDecision) -> Sim {
    let mut sim = Sim::new();
    sim.send(alice(), a_invite("202", ""));
    sim.route(decision);
    sim
}

/// The To of the 2xx Alice got (with our tag).
fn a_to(ok: &Response) -> String {
    ok.headers.get(&HeaderName::TO).unwrap().to_owned()
}

/// Bob answers `invite` with 200 + SDP; returns the 200 Alice receives.
fn answer(sim: &mut Sim, who: u8, invite: &Request, tag: &str) -> Response {
    sim.send(
        phone(who),
        reply(
            invite,
            200,
            tag,
            Some(sdp(&format!("192.0.2.{who}"), 6000, "")),
        ),
    );
    let oks: Vec<Response> = sim
        .take_responses(alice(), "INVITE")
        .into_iter()
        .filter(|r| r.status.as_u16() == 200)
        .collect();
    assert_eq!(oks.len(), 1, "one 200 to Alice");
    oks.into_iter().next().unwrap()
}

fn alice_ack(sim: &mut Sim, ok: &Response) {
    let ack = in_dialog(
        "ACK",
        "sip:b2bua@198.51.100.10:5060",
        "\"Alice\" <sip:201@pbx.example>;tag=atag",
        &a_to(ok),
        "a-call-1@192.0.2.1",
        1,
        "z9hG4bKaliceack",
        None,
    );
    sim.send(alice(), ack);
}

fn alice_request(sim: &mut Sim, ok: &Response, method: &str, cseq: u32, body: Option<String>) {
    let r = in_dialog(
        method,
        "sip:b2bua@198.51.100.10:5060",
        "\"Alice\" <sip:201@pbx.example>;tag=atag",
        &a_to(ok),
        "a-call-1@192.0.2.1",
        cseq,
        &format!("z9hG4bKalice{method}{cseq}"),
        body,
    );
    sim.send(alice(), r);
}

/// An in-dialog request from the B phone that answered `invite` with `tag`.
fn bob_request(sim: &mut Sim, who: u8, invite: &Request, tag: &str, method: &str, cseq: u32) {
    let to = invite.headers.get(&HeaderName::FROM).unwrap();
    let from = format!("{};tag={tag}", invite.headers.get(&HeaderName::TO).unwrap());
    let call_id = invite.headers.get(&HeaderName::CALL_ID).unwrap();
    let r = in_dialog(
        method,
        "sip:b2bua@198.51.100.10:5060",
        &from,
        to,
        call_id,
        cseq,
        &format!("z9hG4bKbob{method}{cseq}"),
        None,
    );
    sim.send(phone(who), r);
}

/// Alice → Bob answered and ACKed; returns (Bob's INVITE, Alice's 200).
fn answered_call(decision: RouteDecision) -> (Sim, Request, Response) {
    let mut sim = start(decision);
    let invite = sim.one_request(phone(BOB), "INVITE");
    let ok = answer(&mut sim, BOB, &invite, "btag");
    alice_ack(&mut sim, &ok);
    (sim, invite, ok)
}

#[test]
fn basic_call_anchors_media_on_both_legs_and_ends_with_bye() {
    let mut sim = Sim::new();
    sim.send(alice(), a_invite("202", ""));
    assert!(matches!(sim.events[0], Event::CallStarted { .. }));
    let Event::RouteRequired {
        caller, dialled, ..
    } = &sim.events[1]
    else {
        panic!("{:?}", sim.events);
    };
    assert_eq!((caller.as_str(), dialled.as_str()), ("201", "202"));
    sim.advance(Duration::from_millis(250));
    assert_eq!(
        sim.codes(alice(), "INVITE"),
        vec![100],
        "layer sends 100 Trying"
    );
    sim.route(targets(vec![vec![target(BOB, "202")]]));

    let invite = sim.one_request(phone(BOB), "INVITE");
    let offer = req_body(&invite);
    assert_eq!(offer.connection.as_ref().unwrap().ip(), Some(MEDIA_IP));
    assert_eq!(offer.media[0].port, PORTS.b_port, "B sees our B-side port");
    let b_call_id = invite.headers.get(&HeaderName::CALL_ID).unwrap();
    assert_ne!(b_call_id, "a-call-1@192.0.2.1", "B-leg has its own Call-ID");
    assert!(
        !invite
            .headers
            .get(&HeaderName::FROM)
            .unwrap()
            .contains("atag")
    );

    sim.send(phone(BOB), reply(&invite, 180, "btag", None));
    assert_eq!(sim.codes(alice(), "INVITE"), vec![180]);

    let ok = answer(&mut sim, BOB, &invite, "btag");
    let answer_sdp = body(&ok);
    assert_eq!(answer_sdp.connection.as_ref().unwrap().ip(), Some(MEDIA_IP));
    assert_eq!(
        answer_sdp.media[0].port, PORTS.a_port,
        "A sees our A-side port"
    );
    assert_eq!(
        sim.take_requests(phone(BOB), "ACK").len(),
        1,
        "B's 200 is ACKed"
    );
    assert!(sim.media.iter().any(|m| matches!(m,
        MediaInstruction::Relay { a_remote, b_remote, .. }
            if a_remote.port() == 4000 && b_remote.port() == 6000)));
    assert!(
        sim.events
            .iter()
            .any(|e| matches!(e, Event::CallAnswered { .. }))
    );
    alice_ack(&mut sim, &ok);
    sim.advance(Duration::from_secs(10));
    assert!(
        sim.take_responses(alice(), "INVITE").is_empty(),
        "ACKed 2xx is not retransmitted"
    );
    assert!(sim.ended().is_none());

    alice_request(&mut sim, &ok, "BYE", 2, None);
    assert_eq!(sim.codes(alice(), "BYE"), vec![200]);
    let bye = sim.one_request(phone(BOB), "BYE");
    assert_eq!(bye.headers.get(&HeaderName::CALL_ID).unwrap(), b_call_id);
    let cdr = sim.ended().unwrap().clone();
    assert_eq!(cdr.disposition, Disposition::Answered);
    assert_eq!(cdr.reason, EndReason::CallerHangup);
    assert_eq!(cdr.talk_time(), Duration::from_secs(10));
    assert_eq!(cdr.legs.len(), 2);
    assert_eq!(cdr.legs[1].codec.as_deref(), Some("PCMU"));
    assert!(
        sim.media
            .iter()
            .any(|m| matches!(m, MediaInstruction::Release { .. }))
    );
    sim.send(phone(BOB), reply(&bye, 200, "btag", None));
    sim.advance(Duration::from_secs(40));
    assert!(sim.b2b.is_empty(), "finished calls are dropped");
}
