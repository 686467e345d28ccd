//! Dialogs (RFC 3261 12, 13.2.2.4, 13.3.1.4).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod transaction_util;

use std::time::Instant;

use transaction_util::{dest, invite, ms, offsets, req, resp};
use voip_sip::dialog::{
    Dialog, DialogError, DialogState, RetransmitEvent, SuccessRetransmitter, UacDialogs,
};
use voip_sip::header::{TypedHeader, Via};
use voip_sip::message::{HeaderName, Method, StatusCode};
use voip_sip::transaction::{Reliability, TimerConfig};
use voip_sip::uri::Uri;

fn contact() -> Uri {
    Uri::parse("sip:alice@192.0.2.10").unwrap()
}

fn via(branch: &str) -> Via {
    Via::parse(&format!("SIP/2.0/UDP 192.0.2.10:5060;branch={branch}")).unwrap()
}

fn ok_with_record_route() -> voip_sip::message::Response {
    let mut ok = resp(&invite("z9hG4bK1"), 200, "bob1");
    ok.headers.push(
        HeaderName::RECORD_ROUTE,
        "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
    );
    ok.headers
        .push(HeaderName::RECORD_ROUTE, "<sip:p3.example.com;lr>");
    ok
}

#[test]
fn uac_route_set_is_record_route_reversed_and_uas_keeps_order() {
    let inv = invite("z9hG4bK1");
    let uac = Dialog::uac(&inv, &ok_with_record_route(), contact()).unwrap();
    let hosts: Vec<String> = uac.route_set().iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(
        hosts,
        [
            "sip:p3.example.com;lr",
            "sip:p2.example.com;lr",
            "sip:p1.example.com;lr"
        ]
    );
    assert_eq!(uac.state(), DialogState::Confirmed);
    assert_eq!(uac.id().remote_tag, "bob1");
    assert_eq!(uac.id().local_tag, "1928301774");
    assert_eq!(uac.remote_target().to_string(), "sip:bob@192.0.2.4");

    let mut inv_rr = inv.clone();
    inv_rr.headers.push(
        HeaderName::RECORD_ROUTE,
        "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
    );
    let uas = Dialog::uas(&inv_rr, StatusCode::OK, "bob1", contact()).unwrap();
    let hosts: Vec<String> = uas.route_set().iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(hosts, ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]);
    assert_eq!(
        uas.remote_target().to_string(),
        "sip:alice@pc33.atlanta.example.com"
    );
}

#[test]
fn in_dialog_requests_increment_cseq_and_loose_route() {
    let inv = invite("z9hG4bK1");
    let mut d = Dialog::uac(&inv, &ok_with_record_route(), contact()).unwrap();
    let ack = d.create_ack(&via("z9hG4bKack")).unwrap();
    assert_eq!(
        ack.headers.get(&HeaderName::CSEQ),
        Some("314159 ACK"),
        "ACK reuses the INVITE's number"
    );
    let bye = d.create_request(Method::BYE, &via("z9hG4bKbye")).unwrap();
    assert_eq!(bye.headers.get(&HeaderName::CSEQ), Some("314160 BYE"));
    assert_eq!(
        bye.uri.to_string(),
        "sip:bob@192.0.2.4",
        "loose routing: Request-URI is the remote target"
    );
    let routes: Vec<_> = bye.headers.get_all(&HeaderName::ROUTE).collect();
    assert_eq!(
        routes,
        [
            "<sip:p3.example.com;lr>",
            "<sip:p2.example.com;lr>",
            "<sip:p1.example.com;lr>"
        ]
    );
    assert!(
        bye.headers
            .get(&HeaderName::TO)
            .unwrap()
            .contains("tag=bob1")
    );
    assert!(
        bye.headers
            .get(&HeaderName::FROM)
            .unwrap()
            .contains("tag=1928301774")
    );
    let info = d.create_request(Method::INFO, &via("z9hG4bKinfo")).unwrap();
    assert_eq!(info.headers.get(&HeaderName::CSEQ), Some("314161 INFO"));
    let reinvite = d.create_request(Method::INVITE, &via("z9hG4bKre")).unwrap();
    let ack2 = d.create_ack(&via("z9hG4bKack2")).unwrap();
    assert_eq!(
        reinvite.headers.get(&HeaderName::CSEQ),
        Some("314162 INVITE")
    );
    assert_eq!(ack2.headers.get(&HeaderName::CSEQ), Some("314162 ACK"));
}

#[test]
fn strict_first_route_becomes_the_request_uri() {
    let inv = invite("z9hG4bK1");
    let mut ok = resp(&inv, 200, "bob1");
    ok.headers
        .push(HeaderName::RECORD_ROUTE, "<sip:strict.example.com>");
    let mut d = Dialog::uac(&inv, &ok, contact()).unwrap();
    let bye = d.create_request(Method::BYE, &via("z9hG4bKbye")).unwrap();
    assert_eq!(bye.uri.to_string(), "sip:strict.example.com");
    let routes: Vec<_> = bye.headers.get_all(&HeaderName::ROUTE).collect();
    assert_eq!(routes, ["<sip:bob@192.0.2.4>"]);
}

#[test]
fn remote_cseq_lower_than_last_is_rejected_with_500() {
    let inv = invite("z9hG4bK1");
    let mut d = Dialog::uas(&inv, StatusCode::OK, "bob1", contact()).unwrap();
    assert_eq!(d.remote_seq(), Some(314_159));
    d.handle_remote_request(&req("INFO", "z9hG4bK2", 314_160))
        .unwrap();
    let err = d
        .handle_remote_request(&req("INFO", "z9hG4bK3", 314_100))
        .unwrap_err();
    assert_eq!(
        err,
        DialogError::CSeqOutOfOrder {
            received: 314_100,
            last: 314_160
        }
    );
    assert_eq!(err.status(), StatusCode::SERVER_INTERNAL_ERROR);
    // ACK and CANCEL reuse older numbers legitimately.
    d.handle_remote_request(&req("ACK", "z9hG4bK4", 314_159))
        .unwrap();
    assert_eq!(d.remote_seq(), Some(314_160));
    // UAS local CSeq starts at 1.
    let bye = d.create_request(Method::BYE, &via("z9hG4bKb")).unwrap();
    assert_eq!(bye.headers.get(&HeaderName::CSEQ), Some("1 BYE"));
    assert_eq!(bye.uri.to_string(), "sip:alice@pc33.atlanta.example.com");
}

#[test]
fn target_refresh_replaces_remote_target() {
    let inv = invite("z9hG4bK1");
    let mut d = Dialog::uas(&inv, StatusCode::OK, "bob1", contact()).unwrap();
    let mut reinvite = req("INVITE", "z9hG4bK9", 314_160);
    reinvite
        .headers
        .set(HeaderName::CONTACT, "<sip:alice@198.51.100.7>");
    d.handle_remote_request(&reinvite).unwrap();
    assert_eq!(d.remote_target().to_string(), "sip:alice@198.51.100.7");
}

#[test]
fn forked_invite_keeps_early_dialogs_apart_by_remote_tag() {
    let inv = invite("z9hG4bK1");
    let mut set = UacDialogs::new(inv.clone(), contact());
    assert_eq!(
        set.handle_response(&resp(&inv, 100, "x")).unwrap(),
        None,
        "100 creates no dialog"
    );
    let a = set
        .handle_response(&resp(&inv, 180, "left"))
        .unwrap()
        .unwrap();
    let b = set
        .handle_response(&resp(&inv, 183, "right"))
        .unwrap()
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(
        set.handle_response(&resp(&inv, 180, "left")).unwrap(),
        Some(a.clone())
    );
    assert_eq!(set.dialogs().len(), 2);
    assert!(
        set.dialogs()
            .iter()
            .all(|d| d.state() == DialogState::Early)
    );
    let mut ok = resp(&inv, 200, "right");
    ok.headers.set(HeaderName::CONTACT, "<sip:bob@203.0.113.5>");
    ok.headers
        .push(HeaderName::RECORD_ROUTE, "<sip:edge.example.com;lr>");
    set.handle_response(&ok).unwrap();
    let right = set.get_mut("right").unwrap();
    assert_eq!(right.state(), DialogState::Confirmed);
    assert_eq!(right.remote_target().to_string(), "sip:bob@203.0.113.5");
    assert_eq!(
        right.route_set().len(),
        1,
        "route set recomputed from the 2xx"
    );
    assert_eq!(set.get_mut("left").unwrap().state(), DialogState::Early);
    assert!(
        set.handle_response(&resp(&inv, 486, "left"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn dialog_needs_tags_and_a_dialog_creating_status() {
    let inv = invite("z9hG4bK1");
    let mut no_tag = resp(&inv, 200, "t");
    no_tag
        .headers
        .set(HeaderName::TO, "Bob <sip:bob@biloxi.example.com>");
    assert_eq!(
        Dialog::uac(&inv, &no_tag, contact()),
        Err(DialogError::MissingTag { header: "To" })
    );
    assert!(matches!(
        Dialog::uac(&inv, &resp(&inv, 404, "t"), contact()),
        Err(DialogError::NotDialogCreating { .. })
    ));
}

#[test]
fn unacknowledged_2xx_is_retransmitted_then_given_up_at_64_t1() {
    let t0 = Instant::now();
    let ok = resp(&invite("z9hG4bK1"), 200, "bob1");
    let mut r = SuccessRetransmitter::new(
        t0,
        ok.clone(),
        dest(5060),
        Reliability::Unreliable,
        TimerConfig::default(),
    );
    let mut sent = Vec::new();
    let mut events = Vec::new();
    while let Some(at) = r.poll_timeout() {
        r.handle_timeout(at);
        while let Some(t) = r.poll_transmit() {
            assert_eq!(
                t.message,
                voip_sip::message::SipMessage::Response(ok.clone())
            );
            sent.push(at);
        }
        while let Some(e) = r.poll_event() {
            events.push((at, e));
        }
    }
    assert_eq!(
        offsets(t0, &sent),
        [
            500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert_eq!(
        events,
        [(t0 + ms(32_000), RetransmitEvent::AckTimedOut)],
        "the TU must send BYE"
    );
    assert!(r.is_done());
}

#[test]
fn ack_stops_2xx_retransmission() {
    let t0 = Instant::now();
    let ok = resp(&invite("z9hG4bK1"), 200, "bob1");
    let mut r = SuccessRetransmitter::new(
        t0,
        ok,
        dest(5060),
        Reliability::Unreliable,
        TimerConfig::default(),
    );
    r.handle_timeout(t0 + ms(500));
    assert!(r.poll_transmit().is_some());
    r.handle_ack(t0 + ms(700));
    assert_eq!(r.poll_event(), Some(RetransmitEvent::AckReceived));
    assert_eq!(r.poll_timeout(), None);
    let mut reliable = SuccessRetransmitter::new(
        t0,
        resp(&invite("z9hG4bK1"), 200, "b"),
        dest(1),
        Reliability::Reliable,
        TimerConfig::default(),
    );
    assert_eq!(
        reliable.poll_timeout(),
        Some(t0 + ms(32_000)),
        "reliable: only the give-up timer"
    );
    reliable.handle_timeout(t0 + ms(32_000));
    assert!(reliable.poll_transmit().is_none());
    assert_eq!(reliable.poll_event(), Some(RetransmitEvent::AckTimedOut));
}
