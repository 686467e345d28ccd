//! Matching and the transaction table (RFC 3261 17.1.3, 17.2.3, 9.2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod transaction_util;

use std::time::Instant;

use transaction_util::{dest, invite, ms, req, request, resp};
use voip_sip::message::{HeaderName, SipMessage};
use voip_sip::transaction::{
    ClientEvent, LayerConfig, Reliability, RequestOutcome, ResponseOutcome, ServerInviteState,
    StartError, Transaction, TransactionEvent, TransactionLayer, cancel_for, generate_branch,
};

const BRANCH: &str = "z9hG4bK776asdhds";

fn layer() -> TransactionLayer {
    TransactionLayer::new(LayerConfig::default())
}

#[test]
fn cancel_gets_its_own_transaction_related_to_the_invite() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = invite(BRANCH);
    let RequestOutcome::NewTransaction(invite_id) =
        l.handle_request(t0, inv.clone(), dest(1), Reliability::Unreliable)
    else {
        panic!()
    };
    let cancel = cancel_for(&inv);
    assert_eq!(cancel.headers.get(&HeaderName::CSEQ), Some("314159 CANCEL"));
    let RequestOutcome::NewTransaction(cancel_id) = l.handle_request(
        t0 + ms(10),
        cancel.clone(),
        dest(1),
        Reliability::Unreliable,
    ) else {
        panic!()
    };
    assert_ne!(cancel_id, invite_id);
    let events: Vec<_> = std::iter::from_fn(|| l.poll_event()).collect();
    assert!(matches!(
        &events[1],
        TransactionEvent::RequestReceived { id, cancels: Some(c), .. } if *id == cancel_id && *c == invite_id
    ));
    // A CANCEL for an unknown INVITE relates to nothing.
    let other = cancel_for(&invite("z9hG4bKother"));
    l.handle_request(t0, other, dest(1), Reliability::Unreliable);
    assert!(matches!(
        l.poll_event(),
        Some(TransactionEvent::RequestReceived { cancels: None, .. })
    ));
}

#[test]
fn ack_for_non_2xx_matches_the_invite_transaction() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = invite(BRANCH);
    let RequestOutcome::NewTransaction(id) =
        l.handle_request(t0, inv.clone(), dest(1), Reliability::Unreliable)
    else {
        panic!()
    };
    l.send_response(t0, id, resp(&inv, 486, "s1")).unwrap();
    let ack = req("ACK", BRANCH, 314_159);
    assert_eq!(
        l.handle_request(t0 + ms(50), ack, dest(1), Reliability::Unreliable),
        RequestOutcome::Matched(id)
    );
    let Some(Transaction::ServerInvite(t)) = l.get(id) else {
        panic!()
    };
    assert_eq!(t.state(), ServerInviteState::Confirmed);
    // An ACK with another branch (the ACK for a 2xx) goes to the TU.
    assert_eq!(
        l.handle_request(
            t0,
            req("ACK", "z9hG4bK2xxack", 314_159),
            dest(1),
            Reliability::Unreliable
        ),
        RequestOutcome::AckWithoutTransaction
    );
}

#[test]
fn same_branch_from_another_sent_by_is_another_transaction() {
    let t0 = Instant::now();
    let mut l = layer();
    let a = invite(BRANCH);
    let mut b = a.clone();
    b.headers.set(
        HeaderName::VIA,
        format!("SIP/2.0/UDP other.example.com;branch={BRANCH}"),
    );
    assert!(matches!(
        l.handle_request(t0, a.clone(), dest(1), Reliability::Unreliable),
        RequestOutcome::NewTransaction(_)
    ));
    assert!(matches!(
        l.handle_request(t0, b, dest(2), Reliability::Unreliable),
        RequestOutcome::NewTransaction(_)
    ));
    assert!(matches!(
        l.handle_request(t0, a, dest(1), Reliability::Unreliable),
        RequestOutcome::Matched(_)
    ));
}

#[test]
fn stray_response_is_dropped_and_matching_uses_branch_and_cseq_method() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = invite(BRANCH);
    let id = l
        .start_client(t0, inv.clone(), dest(1), Reliability::Unreliable)
        .unwrap();
    assert_eq!(
        l.handle_response(t0, resp(&invite("z9hG4bKnope"), 200, "b")),
        ResponseOutcome::Stray
    );
    // Same branch, CANCEL method: the CANCEL's transaction, not the INVITE's.
    assert_eq!(
        l.handle_response(t0, resp(&cancel_for(&inv), 200, "b")),
        ResponseOutcome::Stray
    );
    assert_eq!(
        l.handle_response(t0, resp(&inv, 180, "b")),
        ResponseOutcome::Matched(id)
    );
    let events: Vec<_> = std::iter::from_fn(|| l.poll_event()).collect();
    assert_eq!(events.len(), 1, "stray responses never reach the TU");
}

#[test]
fn rfc2543_requests_match_by_the_fallback_key_for_retransmissions_and_ack() {
    let t0 = Instant::now();
    let mut l = layer();
    let old = invite("a1b2c3");
    let RequestOutcome::NewTransaction(id) =
        l.handle_request(t0, old.clone(), dest(9), Reliability::Unreliable)
    else {
        panic!("an RFC 2543 INVITE must create a server transaction")
    };
    // A retransmission of the same INVITE is absorbed by that transaction.
    assert_eq!(
        l.handle_request(t0 + ms(10), old.clone(), dest(9), Reliability::Unreliable),
        RequestOutcome::Matched(id)
    );
    l.send_response(t0 + ms(20), id, resp(&old, 486, "s1"))
        .unwrap();
    // Its ACK (same Request-URI, From tag, Call-ID, CSeq number and Via)
    // matches the INVITE transaction, which becomes Confirmed.
    assert_eq!(
        l.handle_request(
            t0 + ms(30),
            req("ACK", "a1b2c3", 314_159),
            dest(9),
            Reliability::Unreliable
        ),
        RequestOutcome::Matched(id)
    );
    let Some(Transaction::ServerInvite(t)) = l.get(id) else {
        panic!()
    };
    assert_eq!(t.state(), ServerInviteState::Confirmed);
    // Another CSeq number is another transaction.
    assert!(matches!(
        l.handle_request(
            t0 + ms(40),
            req("INVITE", "a1b2c3", 314_160),
            dest(9),
            Reliability::Unreliable
        ),
        RequestOutcome::NewTransaction(other) if other != id
    ));
}

#[test]
fn rfc2543_requests_without_call_id_are_rejected_400_statelessly() {
    let t0 = Instant::now();
    let mut l = layer();
    let mut old = invite("a1b2c3");
    old.headers.remove(&HeaderName::CALL_ID);
    assert_eq!(
        l.handle_request(t0, old, dest(9), Reliability::Unreliable),
        RequestOutcome::RejectedStatelessly(voip_sip::message::StatusCode::BAD_REQUEST)
    );
    let t = l.poll_transmit().unwrap();
    assert_eq!(t.destination, dest(9));
    let SipMessage::Response(r) = t.message else {
        panic!()
    };
    assert_eq!(r.status.as_u16(), 400);
    assert!(r.headers.get(&HeaderName::TO).unwrap().contains(";tag="));
    assert!(l.is_empty());
}

#[test]
fn requests_beyond_the_cap_get_503_statelessly() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(LayerConfig {
        max_transactions: 2,
        ..LayerConfig::default()
    });
    for i in 0..2u8 {
        let b = generate_branch(&[i; 16]);
        assert!(matches!(
            l.handle_request(t0, req("OPTIONS", &b, 1), dest(1), Reliability::Unreliable),
            RequestOutcome::NewTransaction(_)
        ));
    }
    let b = generate_branch(&[9; 16]);
    assert_eq!(
        l.handle_request(t0, req("OPTIONS", &b, 1), dest(1), Reliability::Unreliable),
        RequestOutcome::RejectedStatelessly(voip_sip::message::StatusCode::SERVICE_UNAVAILABLE)
    );
    let SipMessage::Response(r) = l.poll_transmit().unwrap().message else {
        panic!()
    };
    assert_eq!(r.headers.get(&HeaderName::RETRY_AFTER), Some("5"));
    assert_eq!(
        l.start_client(t0, invite(&b), dest(1), Reliability::Unreliable),
        Err(StartError::Overloaded)
    );
    // An ACK over the cap is never answered.
    assert_eq!(
        l.handle_request(t0, req("ACK", &b, 1), dest(1), Reliability::Unreliable),
        RequestOutcome::AckWithoutTransaction
    );
}

#[test]
fn one_poll_timeout_over_all_transactions_and_terminated_ones_are_removed() {
    let t0 = Instant::now();
    let mut l = layer();
    let a = l
        .start_client(
            t0,
            invite(&generate_branch(&[1; 16])),
            dest(1),
            Reliability::Unreliable,
        )
        .unwrap();
    let b = l
        .start_client(
            t0 + ms(100),
            req("OPTIONS", &generate_branch(&[2; 16]), 1),
            dest(1),
            Reliability::Reliable,
        )
        .unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(
        l.poll_timeout(),
        Some(t0 + ms(500)),
        "Timer A of the INVITE"
    );
    let mut timeouts = Vec::new();
    while let Some(at) = l.poll_timeout() {
        l.handle_timeout(at);
        while let Some(e) = l.poll_event() {
            if let TransactionEvent::Client {
                id,
                event: ClientEvent::Timeout,
            } = e
            {
                timeouts.push((id, (at - t0).as_millis()));
            }
        }
    }
    assert_eq!(timeouts, [(a, 32_000), (b, 32_100)]);
    assert!(l.is_empty());
    assert_eq!(
        l.start_client(
            t0,
            request("ACK sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nCSeq: 1 ACK\n\n"),
            dest(1),
            Reliability::Reliable
        ),
        Err(StartError::Ack)
    );
}

#[test]
fn duplicate_client_branch_is_refused() {
    let t0 = Instant::now();
    let mut l = layer();
    l.start_client(t0, invite(BRANCH), dest(1), Reliability::Unreliable)
        .unwrap();
    assert_eq!(
        l.start_client(t0, invite(BRANCH), dest(1), Reliability::Unreliable),
        Err(StartError::Duplicate)
    );
}
