//! OPTIONS keep-alive and the trunk's up/down verdict, in virtual time.
// Test helpers outside `#[test]` fns: panicking on bad test data is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod trunk_support;

use std::str::FromStr as _;
use std::time::Duration;

use trunk_support::*;
use voip_sip::message::{HeaderName, Request, StatusCode};
use voip_sip::trunk::{
    FailureReason, KEEPALIVE_LOST_CODE, KeepaliveStatus, TrunkEvent, TrunkState,
};

/// Registered at `T0` (no challenge) with keep-alives every 30 s.
fn registered() -> Harness {
    let mut h = Harness::started(config());
    let mut options = None;
    while let Some((_, r)) = h.out.pop_front() {
        if r.method.as_str() == "REGISTER" {
            h.respond(&reply(&r, 200, &[]));
        } else {
            options = Some(r);
        }
    }
    // Answer the first OPTIONS too.
    h.respond(&reply(&options.unwrap(), 200, &[]));
    assert!(h.core.is_up());
    h.take_events();
    h
}

fn next_options(h: &mut Harness, limit: Duration) -> (Duration, Request) {
    let (t, r) = h.next_request(limit);
    assert_eq!(r.method.as_str(), "OPTIONS");
    (t, r)
}

#[test]
fn options_go_out_at_start_and_every_interval_with_their_own_call_id() {
    let mut h = registered();
    let register_call_id = call_id(&h.log[0].1);
    let first_options = h
        .log
        .iter()
        .find(|(_, r)| r.method.as_str() == "OPTIONS")
        .unwrap();
    assert_eq!(first_options.0, T0);
    let mut last_cseq = cseq(&first_options.1);
    let ka_call_id = call_id(&first_options.1);
    assert_ne!(ka_call_id, register_call_id);
    for i in 1..=5 {
        let (t, r) = next_options(&mut h, T0 + secs(500));
        assert_eq!(t, T0 + secs(30 * i));
        assert_eq!(call_id(&r), ka_call_id);
        assert!(cseq(&r) > last_cseq);
        last_cseq = cseq(&r);
        assert_eq!(r.uri.to_string(), "sip:sip.provider.example");
        assert_eq!(header(&r, &HeaderName::MAX_FORWARDS), Some("70"));
        h.respond(&reply(&r, 200, &[]));
    }
}

#[test]
fn any_answer_but_408_and_503_proves_the_trunk_alive() {
    for (status, alive) in [
        (200, true),
        (401, true),
        (404, true),
        (405, true),
        (481, true),
        (501, true),
        (603, true),
        (408, false),
        (503, false),
    ] {
        let mut h = registered();
        for _ in 0..3 {
            let (_, r) = next_options(&mut h, T0 + secs(500));
            h.respond(&reply(&r, status, &[]));
        }
        assert_eq!(h.core.is_up(), alive, "{status}");
        assert_eq!(
            h.take_events().contains(&TrunkEvent::KeepaliveLost),
            !alive,
            "{status}"
        );
    }
}

#[test]
fn three_timeouts_lose_the_trunk_and_one_answer_restores_it_with_a_reregister() {
    let mut h = registered();
    for n in 1..=3 {
        let (_, r) = next_options(&mut h, T0 + secs(500));
        h.run_until(h.now + secs(32));
        h.time_out(&r);
        let lost = h.take_events();
        if n < 3 {
            assert!(lost.is_empty());
            assert!(h.core.is_up(), "{n} failures are not enough");
            assert_eq!(h.core.keepalive_status(), KeepaliveStatus::Alive);
        } else {
            assert_eq!(lost, vec![TrunkEvent::KeepaliveLost]);
        }
    }
    assert!(matches!(h.core.state(), TrunkState::Registered { .. }));
    assert!(!h.core.is_up(), "down for failover although registered");
    assert_eq!(h.core.keepalive_status(), KeepaliveStatus::Lost);

    // A late failure right after the previous timeout: next OPTIONS at once.
    let (t, r) = next_options(&mut h, T0 + secs(500));
    assert_eq!(t, h.now);
    h.respond(&reply(&r, 200, &[]));
    assert_eq!(h.take_events(), vec![TrunkEvent::KeepaliveRestored]);
    assert!(h.core.is_up());
    let (t, reg) = h.next_request(h.now);
    assert_eq!(t, h.now);
    assert_eq!(reg.method.as_str(), "REGISTER", "re-register after restore");
}

#[test]
fn transport_errors_count_as_failed_keepalives() {
    let mut h = registered();
    for _ in 0..3 {
        let _ = next_options(&mut h, T0 + secs(500));
        h.core.handle_transport_error(h.now);
        h.pump();
        // The transport error also makes the registered trunk re-register.
        while let Some((_, r)) = h.out.pop_front() {
            assert_eq!(r.method.as_str(), "REGISTER");
            h.respond(&reply(&r, 200, &[]));
        }
    }
    assert_eq!(h.take_events(), vec![TrunkEvent::KeepaliveLost]);
}

#[test]
fn a_zero_interval_sends_no_options() {
    let mut cfg = config();
    cfg.keepalive_interval = Duration::ZERO;
    let mut h = Harness::started(cfg);
    while h.now < T0 + secs(3600) {
        let (_, r) = h.next_request(T0 + secs(7200));
        h.respond(&reply(&r, 200, &[]));
    }
    assert!(h.log.len() > 5);
    assert!(h.log.iter().all(|(_, r)| r.method.as_str() == "REGISTER"));
    assert!(h.core.is_up());
}

#[test]
fn without_registration_only_the_keepalive_decides() {
    let mut cfg = config();
    cfg.register = false;
    let mut h = Harness::started(cfg);
    assert_eq!(h.core.state(), TrunkState::Idle);
    assert!(!h.core.is_up(), "unknown until the first answer");
    let (_, r) = next_options(&mut h, T0);
    h.respond(&reply(&r, 404, &[]));
    assert!(h.core.is_up());
    for _ in 0..3 {
        let (_, r) = next_options(&mut h, T0 + secs(500));
        h.respond(&reply(&r, 503, &[]));
    }
    assert!(!h.core.is_up());
    h.run_until(T0 + secs(600));
    assert!(h.log.iter().all(|(_, r)| r.method.as_str() == "OPTIONS"));
    h.out.clear();
    h.core.stop(h.now);
    h.pump();
    assert_eq!(h.core.state(), TrunkState::Stopped);
    assert!(h.out.is_empty());
    assert_eq!(h.core.poll_timeout(), None);

    // Without keep-alives either, a started trunk is simply up.
    let mut cfg = config();
    cfg.register = false;
    cfg.keepalive_interval = Duration::ZERO;
    let h = Harness::started(cfg);
    assert!(h.core.is_up());
    assert!(h.log.is_empty());
}

#[test]
fn stop_ends_keepalives() {
    let mut h = registered();
    h.core.stop(h.now);
    h.pump();
    let (_, unreg) = h.next_request(h.now);
    h.respond(&reply(&unreg, 200, &[]));
    assert_eq!(h.core.state(), TrunkState::Stopped);
    let sent = h.log.len();
    h.run_until(T0 + secs(3600));
    assert_eq!(h.log.len(), sent);
}

#[test]
fn operator_codes_are_in_the_shared_catalogue_with_dutch_text() {
    use voip_shared::error::ErrorCode;
    use voip_shared::i18n::{Locale, tr};
    let codes = [
        FailureReason::Timeout.error_code(),
        FailureReason::Rejected(StatusCode::SERVICE_UNAVAILABLE).error_code(),
        FailureReason::AuthFailed.error_code(),
        FailureReason::Transport.error_code(),
        KEEPALIVE_LOST_CODE,
    ];
    for code in codes {
        let parsed = ErrorCode::from_str(code).unwrap();
        let dutch = tr(Locale::NlNl, parsed.message_id(), &[]);
        assert!(
            !dutch.is_empty() && !dutch.contains(parsed.message_id()),
            "{code}"
        );
    }
}
