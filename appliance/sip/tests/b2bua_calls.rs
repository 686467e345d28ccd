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

fn alice_request(sim: &mut Sim, ok: &Response, method: &str, cseq: u32, body: Option<&str>) {
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

/// Alice → Bob answered and acknowledged; returns (Bob's INVITE, Alice's 200).
fn answered_call(decision: RouteDecision) -> (Sim, Request, Response) {
    let mut sim = start(decision);
    let invite = sim.one_request(phone(BOB), "INVITE");
    let ok = answer(&mut sim, BOB, &invite, "btag");
    assert_eq!(sim.take_requests(phone(BOB), "ACK").len(), 1);
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

#[test]
fn cancel_before_answer_sends_487_to_a_and_cancel_to_b() {
    let mut sim = start(targets(vec![vec![target(BOB, "202")]]));
    let invite = sim.one_request(phone(BOB), "INVITE");
    sim.send(phone(BOB), reply(&invite, 180, "btag", None));
    let mut cancel = a_invite("202", "");
    cancel.method = voip_sip::message::Method::CANCEL;
    cancel.headers.set(HeaderName::CSEQ, "1 CANCEL");
    cancel.body.clear();
    cancel.headers.remove(&HeaderName::CONTENT_TYPE);
    sim.send(alice(), cancel);
    assert_eq!(sim.codes(alice(), "CANCEL"), vec![200]);
    assert!(sim.codes(alice(), "INVITE").contains(&487));
    let b_cancel = sim.one_request(phone(BOB), "CANCEL");
    assert_eq!(
        b_cancel.headers.get(&HeaderName::VIA),
        invite.headers.get(&HeaderName::VIA),
        "CANCEL matches the B-leg INVITE"
    );
    let cdr = sim.ended().unwrap();
    assert_eq!(cdr.disposition, Disposition::Cancelled);
    assert_eq!(cdr.final_status, 487);
}

#[test]
fn busy_is_relayed_without_failover() {
    let mut sim = start(targets(vec![
        vec![target(BOB, "202")],
        vec![target(CAROL, "203")],
    ]));
    let invite = sim.one_request(phone(BOB), "INVITE");
    sim.send(phone(BOB), reply(&invite, 486, "btag", None));
    assert!(sim.codes(alice(), "INVITE").contains(&486));
    assert!(sim.take_requests(phone(CAROL), "INVITE").is_empty());
    assert_eq!(sim.ended().unwrap().disposition, Disposition::Busy);
}

#[test]
fn failover_from_a_503_trunk_to_the_next() {
    let mut first = target(BOB, "0301234567");
    first.trunk_id = Some("trunk-1".into());
    let mut second = target(CAROL, "0301234567");
    second.trunk_id = Some("trunk-2".into());
    let mut sim = start(targets(vec![vec![first], vec![second]]));
    let invite = sim.one_request(phone(BOB), "INVITE");
    sim.send(phone(BOB), reply(&invite, 503, "t1", None));
    assert!(
        !sim.codes(alice(), "INVITE").contains(&503),
        "503 not relayed"
    );
    let invite2 = sim.one_request(phone(CAROL), "INVITE");
    assert_ne!(
        invite2.headers.get(&HeaderName::CALL_ID),
        invite.headers.get(&HeaderName::CALL_ID)
    );
    let ok = answer(&mut sim, CAROL, &invite2, "t2");
    alice_ack(&mut sim, &ok);
    alice_request(&mut sim, &ok, "BYE", 2, None);
    let cdr = sim.ended().unwrap();
    assert_eq!(cdr.legs[1].trunk_id.as_deref(), Some("trunk-1"));
    assert_eq!(cdr.legs[1].status, Some(503));
    assert_eq!(cdr.legs[2].trunk_id.as_deref(), Some("trunk-2"));
    assert_eq!(cdr.legs[2].status, Some(200));
}

#[test]
fn failover_on_timer_b_and_503_when_everything_times_out() {
    let mut sim = start(targets(vec![
        vec![target(BOB, "202")],
        vec![target(CAROL, "203")],
    ]));
    sim.advance(Duration::from_secs(31));
    assert!(sim.take_requests(phone(CAROL), "INVITE").is_empty());
    sim.advance(Duration::from_secs(2));
    assert!(
        !sim.take_requests(phone(CAROL), "INVITE").is_empty(),
        "failover after Timer B"
    );
    sim.advance(Duration::from_secs(33));
    assert!(sim.codes(alice(), "INVITE").contains(&503));
    assert_eq!(sim.ended().unwrap().disposition, Disposition::NoAnswer);
}

#[test]
fn fork_second_contact_answers_first_and_the_other_is_cancelled() {
    let mut sim = start(targets(vec![vec![
        target(BOB, "202"),
        target(CAROL, "202"),
    ]]));
    let bob = sim.one_request(phone(BOB), "INVITE");
    let carol = sim.one_request(phone(CAROL), "INVITE");
    sim.send(phone(BOB), reply(&bob, 180, "b1", None));
    let ok = answer(&mut sim, CAROL, &carol, "c1");
    assert_eq!(sim.take_requests(phone(CAROL), "ACK").len(), 1);
    sim.one_request(phone(BOB), "CANCEL");
    // Bob's 200 races the CANCEL: ACK + BYE.
    sim.send(
        phone(BOB),
        reply(&bob, 200, "b1", Some(sdp("192.0.2.2", 6000, ""))),
    );
    assert_eq!(sim.take_requests(phone(BOB), "ACK").len(), 1);
    sim.one_request(phone(BOB), "BYE");
    assert!(
        sim.take_responses(alice(), "INVITE")
            .iter()
            .all(|r| r.status.as_u16() != 200),
        "only one 200 reaches Alice"
    );
    alice_ack(&mut sim, &ok);
    assert!(sim.ended().is_none());
}

#[test]
fn a_401_from_a_trunk_is_answered_once_with_credentials() {
    let mut t = target(BOB, "0301234567");
    t.credentials = Some(TargetCredentials {
        username: "acct".into(),
        password: "secret".into(),
    });
    assert!(!format!("{t:?}").contains("secret"));
    let mut sim = start(targets(vec![vec![t]]));
    let invite = sim.one_request(phone(BOB), "INVITE");
    let mut challenge = reply(&invite, 401, "t1", None);
    challenge.headers.push(
        HeaderName::WWW_AUTHENTICATE,
        "Digest realm=\"trunk\", nonce=\"abc\", qop=\"auth\", algorithm=MD5",
    );
    sim.send(phone(BOB), challenge.clone());
    let retry = sim.one_request(phone(BOB), "INVITE");
    let auth = retry.headers.get(&HeaderName::AUTHORIZATION).unwrap();
    assert!(auth.contains("username=\"acct\"") && auth.contains("realm=\"trunk\""));
    assert_eq!(retry.headers.get(&HeaderName::CSEQ), Some("2 INVITE"));
    assert_eq!(
        retry.headers.get(&HeaderName::CALL_ID),
        invite.headers.get(&HeaderName::CALL_ID)
    );
    // A second challenge is not answered again.
    sim.send(phone(BOB), reply(&retry, 401, "t1", None));
    assert!(sim.take_requests(phone(BOB), "INVITE").is_empty());
    assert!(sim.codes(alice(), "INVITE").contains(&401));
}

#[test]
fn hold_reinvite_is_forwarded_and_reported_as_a_direction() {
    let (mut sim, invite, ok) = answered_call(targets(vec![vec![target(BOB, "202")]]));
    alice_request(
        &mut sim,
        &ok,
        "INVITE",
        2,
        Some(&sdp("192.0.2.1", 4000, "a=sendonly\r\n")),
    );
    let reinvite = sim.one_request(phone(BOB), "INVITE");
    assert_eq!(
        reinvite.headers.get(&HeaderName::CALL_ID),
        invite.headers.get(&HeaderName::CALL_ID)
    );
    let fwd = req_body(&reinvite);
    assert_eq!(fwd.media[0].port, PORTS.b_port);
    assert_eq!(fwd.media[0].direction(), Some(Direction::SendOnly));
    assert!(sim.media.iter().any(|m| matches!(
        m,
        MediaInstruction::Direction {
            side: Side::A,
            direction: Direction::SendOnly,
            ..
        }
    )));
    // A second re-INVITE while this one is pending: 491.
    alice_request(
        &mut sim,
        &ok,
        "INVITE",
        3,
        Some(&sdp("192.0.2.1", 4000, "")),
    );
    assert_eq!(sim.codes(alice(), "INVITE"), vec![491]);
    sim.send(
        phone(BOB),
        reply(
            &reinvite,
            200,
            "btag",
            Some(sdp("192.0.2.2", 6000, "a=recvonly\r\n")),
        ),
    );
    assert_eq!(sim.take_requests(phone(BOB), "ACK").len(), 1);
    let relayed = sim.take_responses(alice(), "INVITE");
    assert_eq!(relayed[0].status.as_u16(), 200);
    assert_eq!(body(&relayed[0]).media[0].port, PORTS.a_port);
    assert!(sim.media.iter().any(|m| matches!(
        m,
        MediaInstruction::Direction {
            side: Side::B,
            direction: Direction::RecvOnly,
            ..
        }
    )));
}

#[test]
fn bye_from_b_ends_the_call_and_byes_a() {
    let (mut sim, invite, _ok) = answered_call(targets(vec![vec![target(BOB, "202")]]));
    sim.advance(Duration::from_secs(5));
    bob_request(&mut sim, BOB, &invite, "btag", "BYE", 1);
    assert_eq!(sim.codes(phone(BOB), "BYE"), vec![200]);
    let bye = sim.one_request(alice(), "BYE");
    assert_eq!(
        bye.headers.get(&HeaderName::CALL_ID),
        Some("a-call-1@192.0.2.1")
    );
    let cdr = sim.ended().unwrap();
    assert_eq!(cdr.reason, EndReason::CalleeHangup);
    assert_eq!(cdr.talk_time(), Duration::from_secs(5));
}

#[test]
fn max_duration_byes_both_sides_at_the_limit() {
    let (mut sim, _invite, _ok) = answered_call(RouteDecision::Targets {
        groups: vec![vec![target(BOB, "112")]],
        max_duration: Some(Duration::from_mins(1)),
        emergency: true,
        caller_codecs: Vec::new(),
    });
    sim.advance(Duration::from_secs(59));
    assert!(sim.ended().is_none());
    sim.advance(Duration::from_secs(2));
    sim.one_request(alice(), "BYE");
    sim.one_request(phone(BOB), "BYE");
    let cdr = sim.ended().unwrap();
    assert_eq!(cdr.reason, EndReason::MaxDuration);
    assert!(cdr.emergency);
}

#[test]
fn media_timeout_byes_both_sides() {
    let (mut sim, _invite, _ok) = answered_call(targets(vec![vec![target(BOB, "202")]]));
    let call = sim.call();
    sim.b2b.handle_media_timeout(sim.now, call);
    sim.pump();
    sim.one_request(alice(), "BYE");
    sim.one_request(phone(BOB), "BYE");
    assert_eq!(sim.ended().unwrap().reason, EndReason::MediaTimeout);
}

#[test]
fn missing_ack_from_a_byes_both_after_64_t1() {
    let mut sim = start(targets(vec![vec![target(BOB, "202")]]));
    let invite = sim.one_request(phone(BOB), "INVITE");
    answer(&mut sim, BOB, &invite, "btag");
    sim.advance(Duration::from_secs(31));
    assert!(
        sim.take_responses(alice(), "INVITE").len() >= 5,
        "2xx retransmitted to A"
    );
    assert!(sim.ended().is_none());
    sim.advance(Duration::from_secs(2));
    sim.one_request(alice(), "BYE");
    sim.one_request(phone(BOB), "BYE");
    assert_eq!(sim.ended().unwrap().reason, EndReason::AckTimeout);
}

#[test]
fn echo_test_answers_with_our_sdp_and_loops_media() {
    let mut sim = start(RouteDecision::EchoTest);
    let ok = sim
        .take_responses(alice(), "INVITE")
        .into_iter()
        .find(|r| r.status.as_u16() == 200)
        .unwrap();
    let s = body(&ok);
    assert_eq!(s.connection.as_ref().unwrap().ip(), Some(MEDIA_IP));
    assert_eq!(s.media[0].port, PORTS.a_port);
    assert!(sim.media.iter().any(|m| matches!(m,
        MediaInstruction::EchoLoop { local_port, remote, .. }
            if *local_port == PORTS.a_port && remote.port() == 4000)));
    alice_ack(&mut sim, &ok);
    alice_request(&mut sim, &ok, "BYE", 2, None);
    assert_eq!(sim.codes(alice(), "BYE"), vec![200]);
    let cdr = sim.ended().unwrap();
    assert_eq!(cdr.disposition, Disposition::Answered);
    assert_eq!(cdr.legs.len(), 1);
    assert_eq!(cdr.legs[0].codec.as_deref(), Some("PCMU"));
}

#[test]
fn in_dialog_request_for_an_unknown_dialog_gets_481() {
    let mut sim = Sim::new();
    let bye = in_dialog(
        "BYE",
        "sip:b2bua@198.51.100.10:5060",
        "<sip:x@192.0.2.9>;tag=x",
        "<sip:y@198.51.100.10>;tag=y",
        "nobody@192.0.2.9",
        5,
        "z9hG4bKstray",
        None,
    );
    sim.send(phone(9), bye);
    assert_eq!(sim.codes(phone(9), "BYE"), vec![481]);
}

#[test]
fn retransmitted_invite_from_a_is_absorbed() {
    let mut sim = start(targets(vec![vec![target(BOB, "202")]]));
    sim.send(alice(), a_invite("202", ""));
    sim.advance(Duration::from_millis(100));
    sim.send(alice(), a_invite("202", ""));
    let starts = sim
        .events
        .iter()
        .filter(|e| matches!(e, Event::CallStarted { .. }))
        .count();
    assert_eq!(starts, 1);
    sim.one_request(phone(BOB), "INVITE");
}

#[test]
fn reject_decision_answers_with_the_status_and_records_the_code() {
    let mut sim = start(RouteDecision::Reject {
        status: 403,
        code: "route.forbidden".into(),
    });
    let r = sim.take_responses(alice(), "INVITE");
    assert_eq!(r.last().unwrap().status.as_u16(), 403);
    assert_eq!(r.last().unwrap().reason, "Forbidden");
    let cdr = sim.ended().unwrap();
    assert_eq!(cdr.disposition, Disposition::Rejected);
    assert_eq!(cdr.reject_code.as_deref(), Some("route.forbidden"));
}

#[test]
fn session_timer_expiry_byes_both_sides() {
    let mut sim = Sim::new();
    sim.send(
        alice(),
        a_invite("202", "Session-Expires: 90\nSupported: timer\n"),
    );
    sim.route(targets(vec![vec![target(BOB, "202")]]));
    let invite = sim.one_request(phone(BOB), "INVITE");
    let ok = answer(&mut sim, BOB, &invite, "btag");
    assert_eq!(
        ok.headers.get(&HeaderName::SESSION_EXPIRES),
        Some("90;refresher=uac")
    );
    alice_ack(&mut sim, &ok);
    // Alice refreshes; without her refresh the call ends at the interval
    // minus min(32 s, interval / 3) = 60 s (RFC 4028 section 10).
    sim.advance(Duration::from_secs(59));
    assert!(sim.ended().is_none());
    sim.advance(Duration::from_secs(2));
    assert_eq!(sim.ended().unwrap().reason, EndReason::SessionExpired);
    sim.one_request(phone(BOB), "BYE");
}

#[test]
fn no_media_ports_refuses_the_call_with_503_and_no_b_leg() {
    let mut sim = Sim::new();
    sim.auto_ports = false;
    sim.send(alice(), a_invite("202", ""));
    sim.route(targets(vec![vec![target(2, "202")]]));
    let call = sim.call();
    sim.b2b
        .handle_media_unavailable(sim.now, call, "media.ports_exhausted");
    sim.pump();
    let r = sim.take_responses(alice(), "INVITE");
    assert_eq!(r.last().unwrap().status.as_u16(), 503);
    assert!(
        sim.take_requests(phone(2), "INVITE").is_empty(),
        "no B-leg without media ports"
    );
    let cdr = sim.ended().unwrap();
    assert_eq!(cdr.disposition, Disposition::Rejected);
    assert_eq!(cdr.reject_code.as_deref(), Some("media.ports_exhausted"));
}

#[test]
fn anchored_sdp_carries_no_address_of_the_other_party() {
    let (mut sim, invite, ok) = answered_call(targets(vec![vec![target(BOB, "202")]]));
    let alice_ip = "192.0.2.1\r\n";
    let bob_ip = "192.0.2.2\r\n";
    let offer = String::from_utf8(invite.body.clone()).unwrap();
    assert!(!offer.contains(alice_ip), "B-leg offer: {offer}");
    let o = req_body(&invite).origin;
    assert_eq!(o.address, MEDIA_IP.to_string());
    assert_eq!(o.addr_type, "IP4");
    let answer_text = String::from_utf8(ok.body.clone()).unwrap();
    assert!(!answer_text.contains(bob_ip), "A-leg answer: {answer_text}");
    assert_eq!(body(&ok).origin.address, MEDIA_IP.to_string());

    // A changed re-offer from Alice (her version 1 -> 2) reaches Bob with
    // our address in o= and a higher version than the first offer.
    let reoffer = sdp("192.0.2.1", 4000, "a=sendonly\r\n").replace("o=- 1 1 ", "o=- 1 2 ");
    alice_request(&mut sim, &ok, "INVITE", 2, Some(&reoffer));
    let reinvite = sim.one_request(phone(BOB), "INVITE");
    let text = String::from_utf8(reinvite.body.clone()).unwrap();
    assert!(!text.contains(alice_ip), "B-leg re-offer: {text}");
    let o2 = req_body(&reinvite).origin;
    assert_eq!(o2.address, MEDIA_IP.to_string());
    assert_eq!(o2.session_id, o.session_id);
    assert!(o2.session_version > o.session_version, "{o2:?} vs {o:?}");
}

#[test]
fn invite_to_b_and_200_to_a_allow_exactly_the_handled_methods() {
    let (_sim, invite, ok) = answered_call(targets(vec![vec![target(BOB, "202")]]));
    let allow = voip_sip::validate::ALLOW;
    assert_eq!(invite.headers.get(&HeaderName::ALLOW), Some(allow));
    assert_eq!(ok.headers.get(&HeaderName::ALLOW), Some(allow));
    for absent in ["PRACK", "REFER", "NOTIFY", "MESSAGE", "SUBSCRIBE"] {
        assert!(!allow.contains(absent), "{allow}");
    }
}
