//! The RFC 4475 REGISTER messages through the registrar core (expected
//! reactions from tests/data/rfc4475/INDEX.md).
// Reason: tests; a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod registrar_support;

use registrar_support::*;
use voip_sip::message::{HeaderName, Request, SipMessage, StatusCode};
use voip_sip::registrar::Flow;

fn corpus_request(tag: &str) -> Request {
    match SipMessage::parse(&common::message(tag)).unwrap() {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("{tag} is not a request"),
    }
}

fn source() -> Flow {
    udp("192.0.2.21:5060")
}

#[test]
fn unksm2_unknown_to_scheme_is_rejected_with_400_before_authentication() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let resp = respond(reg.handle_register(
        &corpus_request("unksm2"),
        &source(),
        clock.at(0),
        clock.unix(0),
        &lookup,
    ));
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert!(challenges(&resp).is_empty());
    assert_eq!(reg.aor_count(), 0);
    assert!(events(&mut reg).is_empty());
}

#[test]
fn regaut01_unknown_authorization_scheme_gets_our_digest_challenge() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let req = corpus_request("regaut01");
    let resp = respond(reg.handle_register(&req, &source(), clock.at(0), clock.unix(0), &lookup));
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    let ch = challenges(&resp);
    assert_eq!(ch.len(), 2);
    assert!(
        ch.iter()
            .all(|c| c.starts_with("Digest ") && c.contains(r#"qop="auth""#))
    );
    assert!(
        events(&mut reg).is_empty(),
        "another scheme is not a failed attempt"
    );
    // Answering the challenge registers j.user (the request has no Contact:
    // a fetch, listing nothing).
    let mut req = req;
    authorize(&mut req, &resp, "j.user", "secret");
    let ok = respond(reg.handle_register(&req, &source(), clock.at(0), clock.unix(0), &lookup));
    assert_eq!(ok.status, StatusCode::OK);
    assert!(contacts(&ok).is_empty());
}

/// Registers the corpus message with credentials and returns the 200's
/// Contact values and the stored bindings' URIs.
fn register_corpus(tag: &str, user: &str) -> (Vec<String>, Vec<String>) {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let ok = register_with_auth(
        &mut reg,
        corpus_request(tag),
        &source(),
        clock.at(0),
        clock.unix(0),
        user,
        password(user).unwrap(),
    );
    assert_eq!(ok.status, StatusCode::OK, "{tag}: {ok}");
    assert!(ok.headers.get(&HeaderName::TO).unwrap().contains(";tag="));
    let uris = reg
        .lookup(user, clock.at(0))
        .iter()
        .map(|b| b.uri().to_string())
        .collect();
    (contacts(&ok), uris)
}

#[test]
fn escnull_registers_two_distinct_contacts_without_truncating_at_nul() {
    let (contacts, uris) = register_corpus("escnull", "null-\0-null");
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    assert!(contacts.contains(&"<sip:%00@host5.example.com>;expires=600".to_owned()));
    assert!(contacts.contains(&"<sip:%00%00@host5.example.com>;expires=600".to_owned()));
    assert_eq!(uris.len(), 2);
}

#[test]
fn cparam01_unknownparam_stays_a_contact_parameter() {
    let (contacts, uris) = register_corpus("cparam01", "watson");
    assert_eq!(
        contacts,
        ["<sip:+19725552222@gw1.example.net>;unknownparam;expires=600"]
    );
    assert_eq!(uris, ["sip:+19725552222@gw1.example.net"]);
}

#[test]
fn cparam02_unknownparam_stays_a_uri_parameter() {
    let (contacts, uris) = register_corpus("cparam02", "watson");
    assert_eq!(
        contacts,
        ["<sip:+19725552222@gw1.example.net;unknownparam>;expires=600"]
    );
    assert_eq!(uris, ["sip:+19725552222@gw1.example.net;unknownparam"]);
}

#[test]
fn regescrt_binding_keeps_the_escaped_route_header() {
    let (contacts, uris) = register_corpus("regescrt", "user");
    assert_eq!(
        contacts,
        ["<sip:user@example.com?Route=%3Csip:sip.example.com%3E>;expires=600"]
    );
    assert_eq!(
        uris,
        ["sip:user@example.com?Route=%3Csip:sip.example.com%3E"]
    );
}
