//! RFC 4028 session timers in the B2BUA, on each leg independently, in
//! virtual time: 422 and Min-SE, refresher negotiation, our refreshes
//! (UPDATE or re-INVITE), the peer's missing refresh, and the teardown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod b2bua_support;

use std::time::Duration;

use b2bua_support::*;
use voip_sip::b2bua::{Disposition, EndReason};
use voip_sip::message::{HeaderName, Request, Response, StatusCode};
use voip_sip::transaction::response_to;

const BOB: u8 = 2;

fn header<'a>(r: &'a Response, name: &HeaderName) -> Option<&'a str> {
    r.headers.get(name)
}

/// Alice (with `extra` headers) calls Bob, who answers 200 with
/// `bob_headers`; returns Bob's INVITE and Alice's 200 (acknowledged).
fn call(extra: &str, bob_headers: &[(HeaderName, &str)]) -> (Sim, Request, Response) {
    let mut sim = Sim::new();
    sim.send(alice(), a_invite("202", extra));
    sim.route(targets(vec![vec![target(BOB, "202")]]));
    let invite = sim.one_request(phone(BOB), "INVITE");
    let mut ok = reply(&invite, 200, "btag", Some(sdp("192.0.2.2", 6000, "")));
    for (name, value) in bob_headers {
        ok.headers.push(name.clone(), *value);
    }
    sim.send(phone(BOB), ok);
    let oks: Vec<Response> = sim
        .take_responses(alice(), "INVITE")
        .into_iter()
        .filter(|r| r.status.as_u16() == 200)
        .collect();
    assert_eq!(oks.len(), 1);
    let ok = oks.into_iter().next().unwrap();
    sim.take_requests(phone(BOB), "ACK");
    let ack = in_dialog(
        "ACK",
        "sip:b2bua@198.51.100.10:5060",
        "\"Alice\" <sip:201@pbx.example>;tag=atag",
        ok.headers.get(&HeaderName::TO).unwrap(),
        "a-call-1@192.0.2.1",
        1,
        "z9hG4bKaliceack",
        None,
    );
    sim.send(alice(), ack);
    (sim, invite, ok)
}

fn ended_by_session_expiry(sim: &mut Sim) {
    let cdr = sim.ended().expect("the call ended");
    assert_eq!(cdr.reason, EndReason::SessionExpired);
    assert_eq!(cdr.disposition, Disposition::Answered);
    // One BYE transaction each (retransmissions folded).
    sim.one_request(alice(), "BYE");
    sim.one_request(phone(BOB), "BYE");
}

#[test]
fn too_small_session_expires_is_refused_422_with_our_min_se() {
    let mut sim = Sim::new();
    sim.send(
        alice(),
        a_invite("202", "Session-Expires: 60\nSupported: timer\n"),
    );
    let answers = sim.take_responses(alice(), "INVITE");
    let last = answers.last().unwrap();
    assert_eq!(last.status.as_u16(), 422);
    assert_eq!(header(last, &HeaderName::MIN_SE), Some("90"));
    assert!(sim.take_requests(phone(BOB), "INVITE").is_empty());
    // Alice retries (new CSeq and branch) with our Min-SE.
    let retry = a_invite("202", "Session-Expires: 90\nMin-SE: 90\nSupported: timer\n");
    let text = retry
        .to_string()
        .replace("z9hG4bKalice1", "z9hG4bKalice2")
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE");
    let voip_sip::message::SipMessage::Request(retry) =
        voip_sip::message::SipMessage::parse(text.as_bytes()).unwrap()
    else {
        unreachable!()
    };
    sim.send(alice(), retry);
    let codes = sim.codes(alice(), "INVITE");
    assert!(!codes.contains(&422), "90 s is enough: {codes:?}");
    sim.route(targets(vec![vec![target(BOB, "202")]]));
    assert_eq!(
        sim.one_request(phone(BOB), "INVITE")
            .headers
            .get(&HeaderName::SESSION_EXPIRES),
        Some("90")
    );
}

#[test]
fn every_b_leg_invite_offers_a_session_timer() {
    let (_sim, invite, _ok) = call("", &[]);
    assert_eq!(invite.headers.get(&HeaderName::SUPPORTED), Some("timer"));
    assert_eq!(
        invite.headers.get(&HeaderName::SESSION_EXPIRES),
        Some("1800")
    );
    assert_eq!(invite.headers.get(&HeaderName::MIN_SE), Some("90"));
    let (_sim, invite, _ok) = call("Session-Expires: 300\nSupported: timer\n", &[]);
    assert_eq!(
        invite.headers.get(&HeaderName::SESSION_EXPIRES),
        Some("300"),
        "A's interval is carried over"
    );
}

#[test]
fn a_refreshes_when_it_supports_timers_and_its_refresh_keeps_the_call() {
    let (mut sim, invite, ok) = call("Session-Expires: 120\nSupported: timer\n", &[]);
    assert_eq!(
        header(&ok, &HeaderName::SESSION_EXPIRES),
        Some("120;refresher=uac")
    );
    assert_eq!(header(&ok, &HeaderName::REQUIRE), Some("timer"));
    // Alice refreshes with UPDATE at 60 s; it goes through to Bob.
    sim.advance(Duration::from_mins(1));
    let update = in_dialog(
        "UPDATE",
        "sip:b2bua@198.51.100.10:5060",
        "\"Alice\" <sip:201@pbx.example>;tag=atag",
        ok.headers.get(&HeaderName::TO).unwrap(),
        "a-call-1@192.0.2.1",
        2,
        "z9hG4bKaliceupd2",
        None,
    );
    sim.send(alice(), update);
    let to_bob = sim.one_request(phone(BOB), "UPDATE");
    sim.send(phone(BOB), response_to(&to_bob, StatusCode::OK, None));
    let relayed = sim.take_responses(alice(), "UPDATE");
    assert_eq!(relayed.last().unwrap().status.as_u16(), 200);
    assert_eq!(
        header(relayed.last().unwrap(), &HeaderName::SESSION_EXPIRES),
        Some("120;refresher=uac")
    );
    // 60 s + 88 s: still up thanks to the refresh; then no refresh.
    sim.advance(Duration::from_secs(87));
    assert!(sim.ended().is_none(), "refreshed at 60 s: up until 148 s");
    sim.advance(Duration::from_secs(2));
    ended_by_session_expiry(&mut sim);
    let _ = invite;
}

#[test]
fn we_refresh_a_without_timer_support_with_a_reinvite_repeating_our_sdp() {
    let (mut sim, _invite, ok) = call("Session-Expires: 120\n", &[]);
    assert_eq!(
        header(&ok, &HeaderName::SESSION_EXPIRES),
        Some("120;refresher=uas")
    );
    assert_eq!(
        header(&ok, &HeaderName::REQUIRE),
        None,
        "A does not support timer"
    );
    sim.advance(Duration::from_secs(59));
    assert!(sim.take_requests(alice(), "INVITE").is_empty());
    sim.advance(Duration::from_secs(1));
    let refresh = sim.one_request(alice(), "INVITE");
    assert_eq!(
        refresh.headers.get(&HeaderName::SESSION_EXPIRES),
        Some("120;refresher=uac")
    );
    assert_eq!(refresh.body, ok.body, "same SDP, same version");
    assert!(
        sim.take_requests(phone(BOB), "INVITE").is_empty(),
        "legs are independent: Bob is not re-INVITEd"
    );
    let mut answer = response_to(&refresh, StatusCode::OK, None);
    answer
        .headers
        .push(HeaderName::CONTACT, "<sip:201@192.0.2.1:5060>");
    answer
        .headers
        .push(HeaderName::CONTENT_TYPE, "application/sdp");
    answer.body = sdp("192.0.2.1", 4000, "").into_bytes();
    sim.send(alice(), answer);
    assert_eq!(
        sim.take_requests(alice(), "ACK").len(),
        1,
        "our refresh's 2xx is acknowledged"
    );
    // The next refresh at 120 s, and the call lives on.
    sim.advance(Duration::from_secs(59));
    assert!(sim.take_requests(alice(), "INVITE").is_empty());
    sim.advance(Duration::from_secs(2));
    assert!(
        !sim.take_requests(alice(), "INVITE").is_empty(),
        "next refresh"
    );
    assert!(sim.ended().is_none());
}

#[test]
fn we_refresh_with_update_when_a_allows_it() {
    let (mut sim, _invite, ok) = call(
        "Session-Expires: 120;refresher=uas\nSupported: timer\nAllow: INVITE, ACK, CANCEL, BYE, UPDATE\n",
        &[],
    );
    assert_eq!(
        header(&ok, &HeaderName::SESSION_EXPIRES),
        Some("120;refresher=uas")
    );
    sim.advance(Duration::from_mins(1));
    let update = sim.one_request(alice(), "UPDATE");
    assert!(update.body.is_empty());
    assert!(sim.take_requests(alice(), "INVITE").is_empty());
    sim.send(alice(), response_to(&update, StatusCode::OK, None));
    sim.advance(Duration::from_secs(61));
    assert!(sim.ended().is_none());
    assert!(
        !sim.take_requests(alice(), "UPDATE").is_empty(),
        "refreshed again"
    );
}

#[test]
fn an_unanswered_refresh_ends_the_call_on_both_legs() {
    let (mut sim, _invite, _ok) = call(
        "Session-Expires: 120;refresher=uas\nAllow: INVITE, ACK, CANCEL, BYE, UPDATE\n",
        &[],
    );
    sim.advance(Duration::from_mins(1));
    sim.one_request(alice(), "UPDATE");
    // Timer F (64·T1 = 32 s) expires without an answer.
    sim.advance(Duration::from_secs(31));
    assert!(sim.ended().is_none());
    sim.advance(Duration::from_secs(2));
    ended_by_session_expiry(&mut sim);
}

#[test]
fn a_refresh_answered_481_ends_the_call() {
    let (mut sim, _invite, _ok) = call("Session-Expires: 120\n", &[]);
    sim.advance(Duration::from_mins(1));
    let refresh = sim.one_request(alice(), "INVITE");
    sim.send(
        alice(),
        response_to(&refresh, StatusCode::new(481).unwrap(), Some("atag2")),
    );
    ended_by_session_expiry(&mut sim);
}

#[test]
fn b_leg_422_is_retried_once_with_the_interval_raised_to_its_min_se() {
    let mut sim = Sim::new();
    sim.send(alice(), a_invite("202", ""));
    sim.route(targets(vec![vec![target(BOB, "202")]]));
    let first = sim.one_request(phone(BOB), "INVITE");
    let mut too_small = reply(&first, 422, "b422", None);
    too_small.headers.push(HeaderName::MIN_SE, "3600");
    sim.send(phone(BOB), too_small);
    let again = sim.one_request(phone(BOB), "INVITE");
    assert_eq!(
        again.headers.get(&HeaderName::SESSION_EXPIRES),
        Some("3600")
    );
    assert_eq!(again.headers.get(&HeaderName::MIN_SE), Some("3600"));
    assert_ne!(
        again.headers.get(&HeaderName::CSEQ),
        first.headers.get(&HeaderName::CSEQ)
    );
    assert!(
        !sim.take_responses(alice(), "INVITE")
            .iter()
            .any(|r| r.status.as_u16() == 422),
        "A does not see B's 422"
    );
    // A second 422 is final.
    let mut again_422 = reply(&again, 422, "b422b", None);
    again_422.headers.push(HeaderName::MIN_SE, "7200");
    sim.send(phone(BOB), again_422);
    assert!(sim.take_requests(phone(BOB), "INVITE").is_empty());
    assert_eq!(
        sim.take_responses(alice(), "INVITE")
            .last()
            .unwrap()
            .status
            .as_u16(),
        422
    );
}

#[test]
fn we_refresh_b_when_its_answer_makes_us_the_refresher_and_a_has_no_timer() {
    let (mut sim, invite, _ok) = call("", &[(HeaderName::SESSION_EXPIRES, "300;refresher=uac")]);
    sim.advance(Duration::from_secs(149));
    assert!(sim.take_requests(phone(BOB), "INVITE").is_empty());
    sim.advance(Duration::from_secs(1));
    let refresh = sim.one_request(phone(BOB), "INVITE");
    assert_eq!(
        refresh.headers.get(&HeaderName::SESSION_EXPIRES),
        Some("300;refresher=uac")
    );
    assert_eq!(
        refresh.body, invite.body,
        "our last offer to Bob, unchanged"
    );
    assert!(
        sim.take_requests(alice(), "INVITE").is_empty(),
        "A-leg untouched"
    );
    let mut ok = response_to(&refresh, StatusCode::OK, None);
    ok.headers
        .push(HeaderName::CONTACT, "<sip:peer@192.0.2.99:5060>");
    sim.send(phone(BOB), ok);
    assert_eq!(sim.take_requests(phone(BOB), "ACK").len(), 1);
    sim.advance(Duration::from_secs(149));
    assert!(sim.take_requests(phone(BOB), "INVITE").is_empty());
    sim.advance(Duration::from_secs(1));
    assert!(
        !sim.take_requests(phone(BOB), "INVITE").is_empty(),
        "refreshed every 150 s"
    );
    assert!(sim.ended().is_none());
}

#[test]
fn b_refreshes_and_its_missing_refresh_ends_the_call() {
    let (mut sim, _invite, _ok) = call("", &[(HeaderName::SESSION_EXPIRES, "300;refresher=uas")]);
    // 300 - min(32, 100) = 268 s.
    sim.advance(Duration::from_secs(267));
    assert!(sim.ended().is_none());
    assert!(
        sim.take_requests(phone(BOB), "INVITE").is_empty(),
        "Bob refreshes, not we"
    );
    sim.advance(Duration::from_secs(2));
    ended_by_session_expiry(&mut sim);
}

#[test]
fn legs_are_timed_independently() {
    // A refreshes every 60 s of 120; B leaves refreshing to us at 1800.
    let (mut sim, _invite, ok) = call(
        "Session-Expires: 120\nSupported: timer\n",
        &[(HeaderName::SESSION_EXPIRES, "1800;refresher=uac")],
    );
    for cseq in 2..12 {
        sim.advance(Duration::from_mins(1));
        let update = in_dialog(
            "UPDATE",
            "sip:b2bua@198.51.100.10:5060",
            "\"Alice\" <sip:201@pbx.example>;tag=atag",
            ok.headers.get(&HeaderName::TO).unwrap(),
            "a-call-1@192.0.2.1",
            cseq,
            &format!("z9hG4bKaliceupd{cseq}"),
            None,
        );
        sim.send(alice(), update);
        let to_bob = sim.one_request(phone(BOB), "UPDATE");
        sim.send(phone(BOB), response_to(&to_bob, StatusCode::OK, None));
        sim.take_responses(alice(), "UPDATE");
    }
    // Alice's refreshes went through to Bob and refreshed his leg too: no
    // refresh of ours was needed in 600 s, and the call is up.
    assert!(sim.take_requests(phone(BOB), "INVITE").is_empty());
    assert!(sim.ended().is_none());
    // Alice stops refreshing: the A-leg's timer ends the call.
    sim.advance(Duration::from_secs(89));
    ended_by_session_expiry(&mut sim);
}
