//! The `Pbx` core's registrar side, bans, OPTIONS, the INVITE challenge and
//! trunk registration, in virtual time over an in-memory network.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod pbx_support;

use pbx_support::{KPN, Net, PBX_IP, Phone, reply, request, site};
use voip_appliance::pbx::PbxEvent;
use voip_sip::message::{HeaderName, StatusCode};
use voip_sip::registrar::RegistrarEvent;
use voip_sip::transaction::response_to;
use voip_sip::trunk::{TrunkEvent, TrunkState};

#[test]
fn phone_registers_after_a_digest_challenge() {
    let mut net = Net::new(site(false));
    let mut phone = Phone::new("201", "pw-201", "192.0.2.1:5060");
    assert_eq!(phone.register(&mut net), 200);
    assert!(net.events.iter().any(|e| matches!(
        e,
        PbxEvent::Registrar(RegistrarEvent::Registered { aor, contacts: 1 }) if aor == "201"
    )));
    let bindings = net.pbx.registrar().lookup("201", net.now);
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].flow.remote, "192.0.2.1:5060".parse().unwrap());
}

#[test]
fn wrong_password_bans_the_source_but_not_other_phones() {
    let mut net = Net::new(site(false));
    let mut attacker = Phone::new("201", "fout", "192.0.2.66:5060");
    let b = net.branch();
    let first = attacker.register_request(&b, None);
    net.send("192.0.2.66:5060", first);
    let challenge = net.final_to("192.0.2.66:5060");
    assert_eq!(challenge.status.as_u16(), 401);
    for attempt in 1..=5 {
        let auth = attacker.answer(&challenge, "REGISTER", &format!("sip:{PBX_IP}"), "fout");
        let b = net.branch();
        let req = attacker.register_request(&b, Some(&auth));
        net.send("192.0.2.66:5060", req);
        assert_eq!(
            net.codes_to("192.0.2.66:5060"),
            [401],
            "attempt {attempt} is still answered"
        );
    }
    assert!(
        net.events
            .iter()
            .any(|e| matches!(e, PbxEvent::SourceBanned { .. }))
    );
    // Further packets from the banned source are dropped silently, even
    // OPTIONS and a correct password.
    let auth = attacker.answer(&challenge, "REGISTER", &format!("sip:{PBX_IP}"), "pw-201");
    let b = net.branch();
    let req = attacker.register_request(&b, Some(&auth));
    net.send("192.0.2.66:5060", req);
    let b = net.branch();
    net.send("192.0.2.66:5060", options(&b));
    assert!(net.take("192.0.2.66:5060").is_empty());
    assert!(net.pbx.registrar().lookup("201", net.now).is_empty());
    // Another phone from another source still registers.
    let mut other = Phone::new("202", "pw-202", "192.0.2.2:5060");
    assert_eq!(other.register(&mut net), 200);
}

fn options(branch: &str) -> voip_sip::message::Request {
    request(&format!(
        "OPTIONS sip:{PBX_IP} SIP/2.0
Via: SIP/2.0/UDP 192.0.2.50:5060;branch={branch}
Max-Forwards: 70
From: <sip:monitor@192.0.2.50>;tag=m1
To: <sip:{PBX_IP}>
Call-ID: opt-1@192.0.2.50
CSeq: 1 OPTIONS
Content-Length: 0

"
    ))
}

#[test]
fn options_out_of_dialog_is_answered_200_with_capabilities() {
    let mut net = Net::new(site(false));
    let b = net.branch();
    net.send("192.0.2.50:5060", options(&b));
    let ok = net.final_to("192.0.2.50:5060");
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.headers.get(&HeaderName::ALLOW),
        Some("INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, UPDATE, INFO")
    );
    assert_eq!(ok.headers.get(&HeaderName::ACCEPT), Some("application/sdp"));
    assert!(ok.headers.contains(&HeaderName::SUPPORTED));
    assert!(!ok.headers.contains(&HeaderName::SERVER));
}

#[test]
fn unknown_method_out_of_dialog_gets_501_with_allow() {
    let mut net = Net::new(site(false));
    let b = net.branch();
    let msg = request(&format!(
        "MESSAGE sip:201@{PBX_IP} SIP/2.0
Via: SIP/2.0/UDP 192.0.2.50:5060;branch={b}
Max-Forwards: 70
From: <sip:x@192.0.2.50>;tag=m1
To: <sip:201@{PBX_IP}>
Call-ID: msg-1@192.0.2.50
CSeq: 1 MESSAGE
Content-Length: 0

"
    ));
    net.send("192.0.2.50:5060", msg);
    let r = net.final_to("192.0.2.50:5060");
    assert_eq!(r.status.as_u16(), 501);
    assert_eq!(
        r.headers.get(&HeaderName::ALLOW),
        Some(voip_sip::validate::ALLOW)
    );
}

#[test]
fn invite_from_unknown_source_without_credentials_is_challenged_407() {
    let mut net = Net::new(site(false));
    let mut stranger = Phone::new("201", "pw-201", "192.0.2.77:5060");
    let b = net.branch();
    let invite = stranger.invite("202", "c-407@192.0.2.77", &b, None);
    net.send("192.0.2.77:5060", invite);
    let r = net.final_to("192.0.2.77:5060");
    assert_eq!(r.status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    let challenges: Vec<&str> = r.headers.get_all(&HeaderName::PROXY_AUTHENTICATE).collect();
    assert!(!challenges.is_empty());
    assert!(challenges.iter().all(|c| c.contains("realm=\"test\"")));
    assert!(net.take("192.0.2.2:5060").is_empty(), "nothing was routed");
    assert!(
        !net.events
            .iter()
            .any(|e| matches!(e, PbxEvent::InviteAuthFailed { .. })),
        "a first INVITE without credentials is not a failure"
    );
}

#[test]
fn trunk_registers_with_digest_and_reports_registered() {
    let mut net = Net::new(site(true));
    let register = net.request_to(KPN, "REGISTER");
    assert_eq!(register.uri.to_string(), "sip:203.0.113.10:5060");
    assert!(!register.headers.contains(&HeaderName::AUTHORIZATION));
    let mut challenge = response_to(&register, StatusCode::UNAUTHORIZED, Some("prov1"));
    challenge.headers.push(
        HeaderName::WWW_AUTHENTICATE,
        "Digest realm=\"kpn.example\", nonce=\"n0nce\", qop=\"auth\", algorithm=MD5",
    );
    net.send(KPN, challenge);
    let again = net.request_to(KPN, "REGISTER");
    let auth = again.headers.get(&HeaderName::AUTHORIZATION).unwrap();
    assert!(auth.contains("username=\"0301234567\""), "{auth}");
    assert!(auth.contains("realm=\"kpn.example\""), "{auth}");
    let contact = again.headers.get(&HeaderName::CONTACT).unwrap().to_owned();
    let mut ok = reply(&again, 200, "prov2", "sip:x@203.0.113.10", None);
    ok.headers.remove(&HeaderName::CONTACT);
    ok.headers
        .push(HeaderName::CONTACT, format!("{contact};expires=600"));
    net.send(KPN, ok);
    assert!(net.events.iter().any(|e| matches!(
        e,
        PbxEvent::Trunk {
            trunk_id,
            event: TrunkEvent::TrunkStateChanged {
                to: TrunkState::Registered { .. },
                ..
            }
        } if trunk_id == "kpn"
    )));
    assert!(net.events.iter().any(|e| matches!(
        e,
        PbxEvent::TrunkUsable { trunk_id, up: true } if trunk_id == "kpn"
    )));
    assert!(net.pbx.routing().is_trunk_up("kpn"));
}

#[test]
fn register_and_invite_failures_count_toward_the_same_ban() {
    let mut net = Net::new(site(false));
    let at = "192.0.2.66:5060";
    let mut attacker = Phone::new("201", "fout", at);
    let b = net.branch();
    let first = attacker.register_request(&b, None);
    net.send(at, first);
    let reg_challenge = net.final_to(at);
    for _ in 0..3 {
        let auth = attacker.answer(&reg_challenge, "REGISTER", &format!("sip:{PBX_IP}"), "fout");
        let b = net.branch();
        let req = attacker.register_request(&b, Some(&auth));
        net.send(at, req);
        assert_eq!(net.codes_to(at), [401]);
    }
    let b = net.branch();
    let invite = attacker.invite("202", "c-ban@192.0.2.66", &b, None);
    net.send(at, invite);
    let inv_challenge = net.final_to(at);
    assert_eq!(inv_challenge.status.as_u16(), 407);
    for i in 0..2 {
        let auth = attacker.answer(
            &inv_challenge,
            "INVITE",
            &format!("sip:202@{PBX_IP}"),
            "fout",
        );
        let b = net.branch();
        let invite = attacker.invite("202", &format!("c-ban{i}@192.0.2.66"), &b, Some(&auth));
        net.send(at, invite);
        assert_eq!(net.codes_to(at), [407]);
    }
    let failures = net
        .events
        .iter()
        .filter(|e| matches!(e, PbxEvent::InviteAuthFailed { .. }))
        .count();
    assert_eq!(failures, 2);
    assert!(
        net.events
            .iter()
            .any(|e| matches!(e, PbxEvent::SourceBanned { .. })),
        "3 REGISTER + 2 INVITE failures reach the limit of 5"
    );
    let b = net.branch();
    net.send(at, options(&b));
    assert!(net.take(at).is_empty(), "banned: dropped silently");
}

#[test]
fn credentials_computed_for_another_request_uri_are_challenged_again() {
    let mut net = Net::new(site(false));
    let at = "192.0.2.1:5060";
    let mut alice = Phone::new("201", "pw-201", at);
    let b = net.branch();
    let first = alice.invite("202", "c-uri@192.0.2.1", &b, None);
    net.send(at, first);
    let challenge = net.final_to(at);
    // A correct answer, but for a call to 0900 instead of 202.
    let auth = alice.answer(
        &challenge,
        "INVITE",
        &format!("sip:0900123456@{PBX_IP}"),
        "pw-201",
    );
    let b = net.branch();
    let invite = alice.invite("202", "c-uri2@192.0.2.1", &b, Some(&auth));
    net.send(at, invite);
    assert_eq!(net.final_to(at).status.as_u16(), 407);
    assert!(net.records.is_empty(), "no call was started");
}

#[test]
fn reload_starts_registering_a_trunk_switched_to_register() {
    let mut net = Net::new(site(false));
    assert!(net.take(KPN).is_empty(), "kpn does not register");
    let secrets = voip_appliance::secrets::Secrets::from_toml_str(pbx_support::SECRETS).unwrap();
    let (now, unix) = (net.now, net.unix);
    net.pbx.reload(now, unix, site(true), secrets);
    while let Some(t) = net.pbx.poll_transmit() {
        net.sent.push(t);
    }
    let register = net.request_to(KPN, "REGISTER");
    assert_eq!(register.uri.to_string(), "sip:203.0.113.10:5060");
}

fn challenge_algorithms(challenge: &voip_sip::message::Response) -> Vec<String> {
    challenge
        .headers
        .get_all(&HeaderName::WWW_AUTHENTICATE)
        .map(|v| {
            v.split(',')
                .find_map(|p| p.trim().strip_prefix("algorithm="))
                .unwrap_or("")
                .trim_matches('"')
                .to_owned()
        })
        .collect()
}

fn first_challenge(net: &mut Net, phone: &mut Phone) -> voip_sip::message::Response {
    let b = net.branch();
    let first = phone.register_request(&b, None);
    net.send(&phone.at.clone(), first);
    net.final_to(&phone.at.clone())
}

#[test]
fn default_site_challenges_with_md5_only() {
    let mut net = Net::new(site(false));
    let mut phone = Phone::new("201", "pw-201", "192.0.2.1:5060");
    let challenge = first_challenge(&mut net, &mut phone);
    assert_eq!(challenge_algorithms(&challenge), ["MD5"]);
}

#[test]
fn sha256_enabled_site_offers_sha256_first_and_a_sha256_answer_registers() {
    use voip_shared::site_config::DigestAlgorithm;
    let mut config = site(false);
    config.digest_algorithms = vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5];
    let mut net = Net::new(config);
    let mut phone = Phone::new("201", "pw-201", "192.0.2.1:5060");
    let challenge = first_challenge(&mut net, &mut phone);
    assert_eq!(challenge_algorithms(&challenge), ["SHA-256", "MD5"]);
    // The client picks SHA-256 (RFC 8760: the first it supports).
    let auth = phone.answer(&challenge, "REGISTER", &format!("sip:{PBX_IP}"), "pw-201");
    assert!(auth.contains("algorithm=SHA-256"), "{auth}");
    let b = net.branch();
    let req = phone.register_request(&b, Some(&auth));
    net.send("192.0.2.1:5060", req);
    assert_eq!(net.final_to("192.0.2.1:5060").status.as_u16(), 200);
    assert_eq!(net.pbx.registrar().lookup("201", net.now).len(), 1);
    // An MD5-only phone still registers on the same site.
    let mut old = Phone::new("202", "pw-202", "192.0.2.2:5060");
    let challenge = first_challenge(&mut net, &mut old);
    let md5_only: Vec<&str> = challenge
        .headers
        .get_all(&HeaderName::WWW_AUTHENTICATE)
        .filter(|v| v.contains("MD5"))
        .collect();
    let auth = voip_sip::auth::DigestClient::default()
        .respond(
            &md5_only,
            "REGISTER",
            &format!("sip:{PBX_IP}"),
            "202",
            "pw-202",
            [3; 16],
            1,
        )
        .unwrap()
        .into_string();
    assert!(auth.contains("algorithm=MD5"), "{auth}");
    let b = net.branch();
    let req = old.register_request(&b, Some(&auth));
    net.send("192.0.2.2:5060", req);
    assert_eq!(net.final_to("192.0.2.2:5060").status.as_u16(), 200);
}

#[test]
fn sha256_only_site_refuses_an_md5_answer_and_a_reload_switches_back() {
    use voip_shared::site_config::DigestAlgorithm;
    let mut config = site(false);
    config.digest_algorithms = vec![DigestAlgorithm::Sha256];
    let mut net = Net::new(config);
    let mut phone = Phone::new("201", "pw-201", "192.0.2.1:5060");
    let challenge = first_challenge(&mut net, &mut phone);
    assert_eq!(challenge_algorithms(&challenge), ["SHA-256"]);
    // An MD5 answer to the SHA-256 nonce is not accepted.
    let forged = challenge
        .headers
        .get(&HeaderName::WWW_AUTHENTICATE)
        .unwrap()
        .replace("SHA-256", "MD5");
    let auth = voip_sip::auth::DigestClient::default()
        .respond(
            &[forged.as_str()],
            "REGISTER",
            &format!("sip:{PBX_IP}"),
            "201",
            "pw-201",
            [3; 16],
            1,
        )
        .unwrap()
        .into_string();
    let b = net.branch();
    let req = phone.register_request(&b, Some(&auth));
    net.send("192.0.2.1:5060", req);
    assert_ne!(net.final_to("192.0.2.1:5060").status.as_u16(), 200);
    assert!(net.pbx.registrar().lookup("201", net.now).is_empty());
    // Back to the default by reloading the site.
    let (now, unix) = (net.now, net.unix);
    let secrets = voip_appliance::secrets::Secrets::from_toml_str(pbx_support::SECRETS).unwrap();
    net.pbx.reload(now, unix, site(false), secrets);
    let mut other = Phone::new("202", "pw-202", "192.0.2.2:5060");
    let challenge = first_challenge(&mut net, &mut other);
    assert_eq!(challenge_algorithms(&challenge), ["MD5"]);
}

/// Registers trunk `kpn` (switched to `transport`) with a direct 200.
fn registered_kpn(transport: voip_shared::site_config::Transport) -> Net {
    let mut config = site(true);
    config.trunks[0].transport = transport;
    let mut net = Net::new(config);
    let register = net.request_to(KPN, "REGISTER");
    let contact = register
        .headers
        .get(&HeaderName::CONTACT)
        .unwrap()
        .to_owned();
    let mut ok = reply(&register, 200, "prov1", "sip:x@203.0.113.10", None);
    ok.headers.remove(&HeaderName::CONTACT);
    ok.headers
        .push(HeaderName::CONTACT, format!("{contact};expires=600"));
    net.send(KPN, ok);
    assert!(net.pbx.routing().is_trunk_up("kpn"));
    net.take(KPN);
    net
}

#[test]
fn dropped_tcp_trunk_connection_re_registers_at_once_then_with_backoff() {
    use voip_shared::site_config::Transport;
    use voip_sip::registrar::TransportKind;
    let mut net = registered_kpn(Transport::Tcp);
    net.advance(std::time::Duration::from_mins(1));
    assert!(net.take(KPN).is_empty(), "no refresh due yet");

    // The provider drops the connection: a REGISTER goes out at once.
    let (now, kpn) = (net.now, pbx_support::addr(KPN));
    net.pbx
        .handle_connection_closed(now, kpn, TransportKind::Tcp);
    net.drain();
    let again = net.request_to(KPN, "REGISTER");
    assert!(
        again
            .headers
            .get(&HeaderName::VIA)
            .is_some_and(|v| v.contains("SIP/2.0/TCP")),
        "{again:?}"
    );

    // The provider is still down: the new connection fails. The trunk is
    // not re-registered in a tight loop but after a backoff.
    net.pbx
        .handle_transport_error(now, kpn, TransportKind::Tcp, None);
    net.drain();
    net.advance(std::time::Duration::from_millis(500));
    assert!(net.take(KPN).is_empty(), "no retry without a pause");
    net.advance(std::time::Duration::from_mins(2));
    let retries: Vec<_> = net
        .take(KPN)
        .into_iter()
        .filter(|m| matches!(m, voip_sip::message::SipMessage::Request(r) if r.method.as_str() == "REGISTER"))
        .collect();
    assert!(!retries.is_empty(), "retried after the backoff");
}

#[test]
fn closed_connection_to_a_udp_trunk_or_another_address_changes_nothing() {
    use voip_shared::site_config::Transport;
    use voip_sip::registrar::TransportKind;
    let mut net = registered_kpn(Transport::Tcp);
    let now = net.now;
    net.pbx.handle_connection_closed(
        now,
        pbx_support::addr("203.0.113.99:5060"),
        TransportKind::Tcp,
    );
    net.drain();
    assert!(net.take(KPN).is_empty(), "another address: no REGISTER");

    let mut net = registered_kpn(Transport::Udp);
    let now = net.now;
    net.pbx
        .handle_connection_closed(now, pbx_support::addr(KPN), TransportKind::Tcp);
    net.drain();
    assert!(net.take(KPN).is_empty(), "UDP trunk: no REGISTER");
}
