//! Trunk registration in virtual time against a fake provider.
// Test helpers outside `#[test]` fns: panicking on bad test data is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Virtual time only moves forward here.
#![allow(clippy::unchecked_time_subtraction)]

mod trunk_support;

use std::time::Duration;

use trunk_support::*;
use voip_sip::auth::{Credentials, Verdict};
use voip_sip::header::{From, To};
use voip_sip::message::{HeaderName, StatusCode};
use voip_sip::trunk::{FailureReason, TrunkConfigError, TrunkCore, TrunkEvent, TrunkState};

/// Registration only: no keep-alives in the way.
fn quiet() -> voip_sip::trunk::TrunkConfig {
    let mut cfg = config();
    cfg.keepalive_interval = Duration::ZERO;
    cfg
}

fn changed(from: TrunkState, to: TrunkState) -> TrunkEvent {
    TrunkEvent::TrunkStateChanged { from, to }
}

fn nc(req: &voip_sip::message::Request) -> String {
    let v = header(req, &HeaderName::AUTHORIZATION).unwrap();
    match Credentials::parse(v).unwrap() {
        Credentials::Digest(c) => c.nc.unwrap(),
        Credentials::Other { .. } => panic!("not digest"),
    }
}

/// Starts, answers the challenge through the provider and returns once
/// registered (at `T0`).
fn registered(provider: &mut Provider) -> Harness {
    let mut cfg = config();
    cfg.keepalive_interval = Duration::ZERO;
    let mut h = Harness::started(cfg);
    for _ in 0..2 {
        let (_, req) = h.next_register(h.now);
        let resp = provider.handle(&req, h.now);
        h.respond(&resp);
    }
    assert!(matches!(h.core.state(), TrunkState::Registered { .. }));
    h
}

#[test]
fn challenge_then_200_registers_with_credentials_the_provider_verifies() {
    let mut provider = Provider::new();
    let mut h = Harness::started(config());
    let (_, first) = h.next_register(T0);
    assert!(header(&first, &HeaderName::AUTHORIZATION).is_none());
    assert_eq!(first.uri.to_string(), "sip:sip.provider.example");
    assert_eq!(header(&first, &HeaderName::MAX_FORWARDS), Some("70"));
    assert_eq!(expires(&first), 600);
    assert!(header(&first, &HeaderName::USER_AGENT).is_none());
    assert_eq!(
        header(&first, &HeaderName::CONTACT),
        Some("<sip:31201234567@192.0.2.10:5060>")
    );
    let from = first.headers.typed::<From>().unwrap().unwrap();
    let to = first.headers.typed::<To>().unwrap().unwrap();
    assert_eq!(from.uri.to_string(), "sip:31201234567@sip.provider.example");
    assert_eq!(to.uri, from.uri);
    assert!(from.tag().is_some_and(|t| t.len() >= 16));
    assert!(to.tag().is_none());
    let via = header(&first, &HeaderName::VIA).unwrap();
    assert!(
        via.starts_with("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK"),
        "{via}"
    );

    let challenge = provider.handle(&first, h.now);
    assert_eq!(challenge.status, StatusCode::UNAUTHORIZED);
    h.respond(&challenge);
    let (_, second) = h.next_register(T0);
    assert_eq!(call_id(&second), call_id(&first));
    assert_eq!(cseq(&second), cseq(&first) + 1);
    assert_eq!(
        second.headers.typed::<From>().unwrap().unwrap().tag(),
        from.tag()
    );
    assert_ne!(header(&second, &HeaderName::VIA), Some(via), "new branch");
    let ok = provider.handle(&second, h.now);
    assert!(matches!(
        provider.verdicts.as_slice(),
        [Verdict::Authenticated { .. }]
    ));
    h.respond(&ok);

    let expires_at = T0 + secs(600);
    assert_eq!(h.core.state(), TrunkState::Registered { expires_at });
    assert!(h.core.is_up());
    assert_eq!(
        h.take_events(),
        vec![
            changed(TrunkState::Idle, TrunkState::Registering),
            changed(
                TrunkState::Registering,
                TrunkState::Registered { expires_at }
            ),
        ]
    );
}

#[test]
fn refresh_goes_out_at_85_percent_preauthorised_on_the_same_call_id() {
    let mut provider = Provider::with_nonce_lifetime(secs(3600));
    let mut h = registered(&mut provider);
    let first_call_id = call_id(&h.log[0].1);
    h.take_events();
    let (sent, refresh) = h.next_register(T0 + secs(600));
    assert_eq!(sent, T0 + secs(510), "min(85 % of 600, 600 - 30)");
    assert_eq!(call_id(&refresh), first_call_id);
    assert_eq!(cseq(&refresh), 3);
    assert_eq!(
        nc(&refresh),
        "00000002",
        "pre-authorised on the cached nonce"
    );
    let ok = provider.handle(&refresh, h.now);
    assert_eq!(ok.status, StatusCode::OK, "no 401 round trip");
    h.respond(&ok);
    assert_eq!(
        h.core.state(),
        TrunkState::Registered {
            expires_at: sent + secs(600)
        }
    );
    assert!(
        h.take_events().is_empty(),
        "a refresh is not a state change"
    );
    let (next, again) = h.next_register(sent + secs(600));
    assert_eq!(next, sent + secs(510));
    assert_eq!(nc(&again), "00000003");
}

#[test]
fn refresh_with_an_expired_nonce_is_answered_once_more_after_stale() {
    // Default provider nonce lifetime 300 s < refresh at 510 s.
    let mut provider = Provider::new();
    let mut h = registered(&mut provider);
    let (_, refresh) = h.next_register(T0 + secs(600));
    let stale = provider.handle(&refresh, h.now);
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert!(matches!(provider.verdicts.last(), Some(Verdict::Stale)));
    h.respond(&stale);
    let (t, retry) = h.next_register(h.now);
    assert_eq!(t, h.now, "answered at once");
    assert_eq!(nc(&retry), "00000001");
    let ok = provider.handle(&retry, h.now);
    h.respond(&ok);
    assert!(matches!(h.core.state(), TrunkState::Registered { .. }));
}

#[test]
fn refresh_delay_follows_the_documented_rule() {
    let cfg = config();
    for (granted, refresh) in [
        (600, 510),
        (3600, 3060),
        (120, 90),
        (60, 30),
        (20, 10),
        (1, 1),
    ] {
        assert_eq!(
            cfg.refresh_delay(secs(granted)),
            secs(refresh),
            "granted {granted}"
        );
    }
}

#[test]
fn granted_expiry_comes_from_our_contact_then_the_expires_header() {
    let cases: [(&[(HeaderName, &str)], u64); 4] = [
        (
            &[
                (HeaderName::CONTACT, "<sip:other@198.51.100.1>;expires=30"),
                (
                    HeaderName::CONTACT,
                    "<sip:31201234567@192.0.2.10>;expires=120",
                ),
                (HeaderName::EXPIRES, "900"),
            ],
            120,
        ),
        (
            &[
                (HeaderName::CONTACT, "<sip:other@198.51.100.1>;expires=30"),
                (HeaderName::EXPIRES, "300"),
            ],
            300,
        ),
        (&[], 600),
        (&[(HeaderName::EXPIRES, "60")], 60),
    ];
    for (extra, granted) in cases {
        let mut h = Harness::started(config());
        let (_, req) = h.next_register(T0);
        let extra: Vec<_> = extra
            .iter()
            .map(|(n, v)| (n.clone(), (*v).to_owned()))
            .collect();
        h.respond(&reply(&req, 200, &extra));
        assert_eq!(
            h.core.state(),
            TrunkState::Registered {
                expires_at: T0 + secs(granted)
            },
            "{extra:?}"
        );
    }
}

#[test]
fn interval_too_brief_retries_at_once_with_min_expires_and_keeps_it() {
    let mut h = Harness::started(config());
    let (_, req) = h.next_register(T0);
    h.respond(&reply(
        &req,
        423,
        &[(HeaderName::MIN_EXPIRES, "3600".into())],
    ));
    let (t, retry) = h.next_register(T0);
    assert_eq!(t, T0);
    assert_eq!(expires(&retry), 3600);
    assert_eq!(cseq(&retry), cseq(&req) + 1);
    h.respond(&reply(&retry, 200, &[]));
    assert_eq!(
        h.core.state(),
        TrunkState::Registered {
            expires_at: T0 + secs(3600)
        }
    );
    let (t, refresh) = h.next_register(T0 + secs(3600));
    assert_eq!(t, T0 + secs(3060));
    assert_eq!(expires(&refresh), 3600);
}

#[test]
fn interval_too_brief_without_a_higher_minimum_is_a_rejection_with_slow_retry() {
    for min in [None, Some("600"), Some("100")] {
        let mut h = Harness::started(quiet());
        let (_, req) = h.next_register(T0);
        let extra: Vec<_> = min
            .map(|m| (HeaderName::MIN_EXPIRES, m.to_owned()))
            .into_iter()
            .collect();
        h.respond(&reply(&req, 423, &extra));
        assert_eq!(
            h.core.state(),
            TrunkState::Failed {
                reason: FailureReason::Rejected(StatusCode::INTERVAL_TOO_BRIEF)
            }
        );
        assert_eq!(h.core.poll_timeout(), Some(T0 + secs(600)), "{min:?}");
    }
}

#[test]
fn wrong_password_is_auth_failed_and_retried_every_ten_minutes_forever() {
    let mut provider = Provider::new();
    provider.password = "het-echte-wachtwoord".into();
    let mut cfg = config();
    cfg.keepalive_interval = Duration::ZERO;
    let mut h = Harness::started(cfg);
    let mut times = Vec::new();
    for _ in 0..8 {
        let (t, req) = h.next_register(T0 + secs(3600));
        times.push((t - T0).as_secs());
        let resp = provider.handle(&req, h.now);
        h.respond(&resp);
    }
    // Each slow retry starts without cached credentials: REGISTER, 401,
    // answer, 401 again = auth failed.
    assert_eq!(times, [0, 0, 600, 600, 1200, 1200, 1800, 1800]);
    assert_eq!(
        h.core.state(),
        TrunkState::Failed {
            reason: FailureReason::AuthFailed
        }
    );
    assert_eq!(
        h.take_events(),
        vec![
            changed(TrunkState::Idle, TrunkState::Registering),
            changed(
                TrunkState::Registering,
                TrunkState::Failed {
                    reason: FailureReason::AuthFailed
                }
            ),
        ],
        "retries failing the same way are not new events"
    );
    assert_eq!(
        FailureReason::AuthFailed.error_code(),
        "trunk.register.auth_failed"
    );
    assert!(!h.core.is_up());
}

#[test]
fn second_challenge_with_the_same_nonce_is_auth_failed() {
    let provider = Provider::new();
    let mut h = Harness::started(config());
    let (_, req) = h.next_register(T0);
    h.respond(&provider.challenge(&req, T0, false));
    let (_, answered) = h.next_register(T0);
    assert!(header(&answered, &HeaderName::AUTHORIZATION).is_some());
    // Same second: the stateless server issues the same nonce, even with
    // stale=true.
    h.respond(&provider.challenge(&answered, T0, true));
    assert_eq!(
        h.core.state(),
        TrunkState::Failed {
            reason: FailureReason::AuthFailed
        }
    );
    assert!(h.out.is_empty());
}

#[test]
fn stale_challenge_with_a_new_nonce_is_answered_but_not_forever() {
    let provider = Provider::new();
    let mut h = Harness::started(config());
    let (_, mut req) = h.next_register(T0);
    h.respond(&provider.challenge(&req, T0, false));
    let mut answers = 0;
    for i in 1..10 {
        (_, req) = h.next_register(T0);
        answers += 1;
        // A new nonce each time (the server's nonce changes every second).
        h.respond(&provider.challenge(&req, T0 + secs(i), true));
        if !h.out.iter().any(|(_, r)| r.method.as_str() == "REGISTER") {
            break;
        }
    }
    assert_eq!(answers, 3, "first answer plus two stale re-answers");
    assert_eq!(
        h.core.state(),
        TrunkState::Failed {
            reason: FailureReason::AuthFailed
        }
    );
}

#[test]
fn forbidden_is_auth_failed() {
    let mut h = Harness::started(config());
    let (_, req) = h.next_register(T0);
    h.respond(&reply(&req, 403, &[]));
    assert_eq!(
        h.core.state(),
        TrunkState::Failed {
            reason: FailureReason::AuthFailed
        }
    );
    let (t, _) = h.next_register(T0 + secs(3600));
    assert_eq!(t, T0 + secs(600));
}

#[test]
fn challenge_for_another_realm_is_not_answered_when_the_realm_is_pinned() {
    let provider = Provider::new();
    let mut cfg = quiet();
    cfg.realm = Some("other.example".into());
    let mut h = Harness::started(cfg);
    let (_, req) = h.next_register(T0);
    h.respond(&provider.challenge(&req, T0, false));
    assert!(h.out.is_empty(), "credentials not sent to a foreign realm");
    assert_eq!(
        h.core.state(),
        TrunkState::Failed {
            reason: FailureReason::AuthFailed
        }
    );
}

#[test]
fn proxy_challenge_is_answered_with_proxy_authorization() {
    let provider = Provider::new();
    let mut h = Harness::started(config());
    let (_, req) = h.next_register(T0);
    let extra: Vec<_> = provider
        .server
        .challenge(T0, false)
        .into_iter()
        .map(|c| (HeaderName::PROXY_AUTHENTICATE, c))
        .collect();
    h.respond(&reply(&req, 407, &extra));
    let (_, answered) = h.next_register(T0);
    let value = header(&answered, &HeaderName::PROXY_AUTHORIZATION).unwrap();
    assert!(header(&answered, &HeaderName::AUTHORIZATION).is_none());
    let verdict = provider.server.verify(T0, "REGISTER", value, |_| {
        Some(voip_sip::auth::StoredCredential::Password(PASSWORD.into()))
    });
    assert!(matches!(verdict, Verdict::Authenticated { .. }));
}

#[test]
fn service_unavailable_backs_off_1_2_4_up_to_300_seconds_and_never_gives_up() {
    let mut cfg = config();
    cfg.keepalive_interval = Duration::ZERO;
    let mut h = Harness::started(cfg);
    let mut gaps = Vec::new();
    let mut last = T0;
    for _ in 0..13 {
        let (t, req) = h.next_register(T0 + secs(10_000));
        gaps.push((t - last).as_secs());
        last = t;
        h.respond(&reply(&req, 503, &[]));
        assert_eq!(
            h.core.state(),
            TrunkState::Failed {
                reason: FailureReason::Rejected(StatusCode::SERVICE_UNAVAILABLE)
            }
        );
    }
    assert_eq!(gaps, [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    // A success resets the backoff.
    let (_, req) = h.next_register(T0 + secs(10_000));
    h.respond(&reply(&req, 200, &[]));
    let (refresh_at, req) = h.next_register(T0 + secs(10_000));
    h.respond(&reply(&req, 503, &[]));
    let (t, _) = h.next_register(T0 + secs(10_000));
    assert_eq!(t - refresh_at, secs(1));
}

#[test]
fn jitter_only_shortens_delays_within_the_configured_share() {
    let mut cfg = config();
    cfg.backoff_jitter_percent = 20;
    cfg.keepalive_interval = Duration::ZERO;
    let mut h = Harness::started(cfg);
    let mut last = T0;
    let mut nominal = 1.0_f64;
    let mut any_jitter = false;
    let (_, mut req) = h.next_register(T0);
    for _ in 0..12 {
        h.respond(&reply(&req, 500, &[]));
        let (t, next) = h.next_register(T0 + secs(10_000));
        let gap = (t - last).as_secs_f64();
        assert!(gap <= nominal && gap >= nominal * 0.8, "{gap} vs {nominal}");
        any_jitter |= gap < nominal;
        nominal = (nominal * 2.0).min(300.0);
        last = t;
        req = next;
    }
    assert!(any_jitter);
}

#[test]
fn retry_after_longer_than_the_backoff_is_honoured() {
    let mut h = Harness::started(config());
    let (_, req) = h.next_register(T0);
    h.respond(&reply(
        &req,
        503,
        &[(HeaderName::RETRY_AFTER, "120 (maintenance)".into())],
    ));
    let (t, _) = h.next_register(T0 + secs(1000));
    assert_eq!(t, T0 + secs(120));
}

#[test]
fn timeouts_and_transport_errors_back_off() {
    let mut cfg = config();
    cfg.keepalive_interval = Duration::ZERO;
    let mut h = Harness::started(cfg);
    let (_, req) = h.next_register(T0);
    h.run_until(T0 + secs(32));
    h.time_out(&req);
    assert_eq!(
        h.core.state(),
        TrunkState::Failed {
            reason: FailureReason::Timeout
        }
    );
    let (t, req) = h.next_register(T0 + secs(100));
    assert_eq!(t, T0 + secs(33));
    h.core.handle_transport_error(h.now);
    h.pump();
    assert_eq!(
        h.core.state(),
        TrunkState::Failed {
            reason: FailureReason::Transport
        }
    );
    let (t2, _) = h.next_register(T0 + secs(100));
    assert_eq!(t2, t + secs(2));
    // Late timeout report of an old request: ignored.
    h.time_out(&req);
    assert_eq!(h.out.len(), 0);
}

#[test]
fn a_request_nobody_reports_on_counts_as_timed_out_after_the_guard() {
    let mut cfg = config();
    cfg.keepalive_interval = Duration::ZERO;
    let mut h = Harness::started(cfg);
    let _lost = h.next_register(T0);
    let (t, _) = h.next_register(T0 + secs(100));
    assert_eq!(t, T0 + secs(41), "40 s guard, then 1 s backoff");
    assert_eq!(
        h.core.state(),
        TrunkState::Failed {
            reason: FailureReason::Timeout
        }
    );
}

#[test]
fn failing_refreshes_keep_the_binding_until_it_expires() {
    let mut provider = Provider::with_nonce_lifetime(secs(3600));
    let mut h = registered(&mut provider);
    h.take_events();
    let expires_at = T0 + secs(600);
    loop {
        let (_, req) = h.next_register(T0 + secs(700));
        if h.now >= expires_at {
            break;
        }
        assert!(h.core.is_up(), "still registered at {:?}", h.now - T0);
        h.respond(&reply(&req, 500, &[]));
    }
    assert_eq!(
        h.take_events(),
        vec![changed(
            TrunkState::Registered { expires_at },
            TrunkState::Failed {
                reason: FailureReason::Rejected(StatusCode::SERVER_INTERNAL_ERROR)
            }
        )]
    );
    assert!(!h.core.is_up());
}

#[test]
fn stop_unregisters_with_expires_zero_then_stops() {
    let mut provider = Provider::with_nonce_lifetime(secs(3600));
    let mut h = registered(&mut provider);
    h.take_events();
    h.run_until(T0 + secs(100));
    h.core.stop(h.now);
    h.pump();
    let (_, unreg) = h.next_request(h.now);
    assert_eq!(unreg.method.as_str(), "REGISTER");
    assert_eq!(expires(&unreg), 0);
    assert!(header(&unreg, &HeaderName::CONTACT).is_some());
    assert_eq!(h.core.state(), TrunkState::Unregistering);
    assert!(!h.core.is_up());
    let ok = provider.handle(&unreg, h.now);
    assert!(matches!(
        provider.verdicts.last(),
        Some(Verdict::Authenticated { .. })
    ));
    h.respond(&ok);
    assert_eq!(h.core.state(), TrunkState::Stopped);
    assert_eq!(h.core.poll_timeout(), None);
    let expires_at = T0 + secs(600);
    assert_eq!(
        h.take_events(),
        vec![
            changed(
                TrunkState::Registered { expires_at },
                TrunkState::Unregistering
            ),
            changed(TrunkState::Unregistering, TrunkState::Stopped),
        ]
    );
}

#[test]
fn stop_without_a_binding_stops_at_once_and_an_unanswered_unregister_still_stops() {
    let mut h = Harness::started(quiet());
    let (_, req) = h.next_register(T0);
    h.respond(&reply(&req, 503, &[]));
    h.core.stop(h.now);
    h.pump();
    assert!(h.out.is_empty());
    assert_eq!(h.core.state(), TrunkState::Stopped);

    let mut provider = Provider::new();
    let mut h = registered(&mut provider);
    h.core.stop(h.now);
    h.pump();
    let (_, unreg) = h.next_request(h.now);
    h.time_out(&unreg);
    assert_eq!(h.core.state(), TrunkState::Stopped);
}

#[test]
fn cseq_strictly_increases_and_call_id_stays_through_a_long_eventful_run() {
    let mut provider = Provider::new();
    let mut h = registered(&mut provider);
    let end = T0 + secs(6 * 3600);
    let mut n = 0u32;
    while h.now < end {
        let (_, req) = h.next_register(end + secs(3600));
        n += 1;
        match n % 5 {
            0 => h.respond(&reply(&req, 503, &[])),
            1 => h.time_out(&req),
            _ => {
                let resp = provider.handle(&req, h.now);
                h.respond(&resp);
            }
        }
    }
    let registers: Vec<_> = h
        .log
        .iter()
        .filter(|(_, r)| r.method.as_str() == "REGISTER")
        .map(|(_, r)| r)
        .collect();
    assert!(registers.len() > 40);
    let first_call_id = call_id(registers[0]);
    let tag = registers[0]
        .headers
        .typed::<From>()
        .unwrap()
        .unwrap()
        .tag()
        .map(str::to_owned);
    for pair in registers.windows(2) {
        assert!(cseq(pair[1]) > cseq(pair[0]));
    }
    for r in &registers {
        assert_eq!(call_id(r), first_call_id);
        assert_eq!(
            r.headers.typed::<From>().unwrap().unwrap().tag(),
            tag.as_deref()
        );
    }
}

#[test]
fn password_never_appears_in_debug_output_or_on_the_wire() {
    let mut provider = Provider::new();
    let mut h = registered(&mut provider);
    let debug = format!("{:?} {:?}", h.core, h.core.config());
    for secret in [PASSWORD, USER, AUTH_USER] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("<redacted>"));
    for (_, r) in &h.log {
        assert!(!String::from_utf8_lossy(&r.to_bytes()).contains(PASSWORD));
    }
    h.core.stop(h.now);
}

#[test]
fn provisional_and_unrelated_responses_are_ignored() {
    let mut h = Harness::started(config());
    let (_, req) = h.next_register(T0);
    h.respond(&reply(&req, 100, &[]));
    let mut other = reply(&req, 200, &[]);
    other.headers.set(HeaderName::CALL_ID, "someone-else");
    h.respond(&other);
    assert_eq!(h.core.state(), TrunkState::Registering);
    h.respond(&reply(&req, 200, &[]));
    assert!(matches!(h.core.state(), TrunkState::Registered { .. }));
}

#[test]
fn settings_that_would_leak_or_break_the_wire_are_refused() {
    type Edit = fn(&mut voip_sip::trunk::TrunkConfig);
    let cases: [(Edit, TrunkConfigError); 5] = [
        (
            |c| c.user_agent = Some("voip-appliance/1.2.3".into()),
            TrunkConfigError::HeaderValue,
        ),
        (
            |c| c.registrar_host = "bad host".into(),
            TrunkConfigError::RegistrarHost,
        ),
        (|c| c.aor_user = "a b".into(), TrunkConfigError::AorUser),
        (|c| c.expiry = Duration::ZERO, TrunkConfigError::Expiry),
        (
            |c| c.auth_username = "x\"y".into(),
            TrunkConfigError::AuthUsername,
        ),
    ];
    for (edit, err) in cases {
        let mut cfg = config();
        edit(&mut cfg);
        assert_eq!(TrunkCore::new(cfg, TestRng(1)).err(), Some(err));
    }
    let mut cfg = config();
    cfg.user_agent = Some("Kantoortelefonie".into());
    cfg.instance_id = Some("<urn:uuid:00000000-0000-4000-8000-000000000001>".into());
    let mut h = Harness::started(cfg);
    let (_, req) = h.next_register(T0);
    assert_eq!(
        header(&req, &HeaderName::USER_AGENT),
        Some("Kantoortelefonie")
    );
    assert!(
        header(&req, &HeaderName::CONTACT)
            .unwrap()
            .ends_with(";+sip.instance=\"<urn:uuid:00000000-0000-4000-8000-000000000001>\"")
    );
}

#[test]
fn our_binding_is_found_by_instance_id_when_the_registrar_rewrites_the_contact() {
    let mut cfg = config();
    cfg.instance_id = Some("<urn:uuid:00000000-0000-4000-8000-000000000001>".into());
    let mut h = Harness::started(cfg);
    let (_, req) = h.next_register(T0);
    h.respond(&reply(
        &req,
        200,
        &[
            (
                HeaderName::CONTACT,
                "<sip:31201234567@203.0.113.9:40000>;expires=240;+sip.instance=\"<urn:uuid:00000000-0000-4000-8000-000000000001>\"".into(),
            ),
            (HeaderName::EXPIRES, "600".into()),
        ],
    ));
    assert_eq!(
        h.core.state(),
        TrunkState::Registered {
            expires_at: T0 + secs(240)
        }
    );
}
