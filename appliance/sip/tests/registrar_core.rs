//! Registrar core behaviour over virtual time: authentication, bindings,
//! expiry, NAT flows, bans.
// Reason: tests; a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registrar_support;

use std::time::Duration;

use registrar_support::*;
use voip_sip::auth::{BanConfig, BanSource, BanTracker};
use voip_sip::header::{TypedHeader, Via};
use voip_sip::message::{HeaderName, StatusCode};
use voip_sip::registrar::{ConnectionId, Flow, Outcome, Registrar, RegistrarEvent, TransportKind};

const PHONE: &str = "<sip:201@192.168.1.20:5060>";

#[test]
fn challenge_then_authenticated_register_gets_200_with_contact_and_expires() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let req = register("201", "c1", 1, &[PHONE], &[]);

    let challenge = respond(reg.handle_register(&req, &flow, clock.at(0), clock.unix(0), &lookup));
    assert_eq!(challenge.status, StatusCode::UNAUTHORIZED);
    let ch = challenges(&challenge);
    assert_eq!(ch.len(), 2);
    assert!(ch[0].starts_with("Digest ") && ch[0].contains("algorithm=SHA-256"));
    assert!(ch[1].contains("algorithm=MD5"));
    assert!(ch.iter().all(|c| c.contains(r#"realm="example.com""#)));
    assert!(!challenge.headers.contains(&HeaderName::SERVER));
    assert!(
        challenge
            .headers
            .get(&HeaderName::TO)
            .unwrap()
            .contains(";tag=")
    );
    assert!(events(&mut reg).is_empty(), "a challenge is not a failure");

    let mut req = req;
    authorize(&mut req, &challenge, "201", "geheim-201");
    let ok = respond(reg.handle_register(&req, &flow, clock.at(1), clock.unix(1), &lookup));
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(contacts(&ok), vec![format!("{PHONE};expires=600")]);
    assert_eq!(
        header_names(&ok),
        [
            "Via",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Contact",
            "Date",
            "Content-Length"
        ]
    );
    assert_eq!(
        ok.headers.get(&HeaderName::DATE),
        Some("Tue, 14 Nov 2023 22:13:21 GMT")
    );
    assert_eq!(ok.headers.get(&HeaderName::CSEQ), Some("1 REGISTER"));
    assert_eq!(ok.headers.get(&HeaderName::CALL_ID), Some("c1"));
    assert_eq!(
        events(&mut reg),
        vec![RegistrarEvent::Registered {
            aor: "201".into(),
            contacts: 1
        }]
    );
    let bindings = reg.lookup("201", clock.at(1));
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].uri().to_string(), "sip:201@192.168.1.20:5060");
    assert_eq!(bindings[0].expires_at, clock.at(601));
    assert_eq!(bindings[0].flow, flow);
}

#[test]
fn response_via_gets_received_and_rport_and_flow_is_recorded() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = Flow::tcp("198.51.100.7:51000".parse().unwrap(), ConnectionId(42));
    let ok = register_with_auth(
        &mut reg,
        register("201", "c1", 1, &[PHONE], &[]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    let via = Via::parse(ok.headers.get(&HeaderName::VIA).unwrap()).unwrap();
    assert_eq!(via.received(), Some("198.51.100.7"));
    assert_eq!(via.rport(), Some(Some(51000)));
    assert_eq!(via.branch(), Some("z9hG4bKc11"));
    let b = &reg.lookup("201", clock.at(0))[0];
    assert_eq!(b.flow.transport, TransportKind::Tcp);
    assert_eq!(b.flow.connection, Some(ConnectionId(42)));
    assert_eq!(b.flow.remote, "198.51.100.7:51000".parse().unwrap());
    assert!(b.flow.transport.is_connection_oriented());
}

#[test]
fn refresh_extends_and_stale_cseq_on_same_call_id_is_500() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    register_with_auth(
        &mut reg,
        register("201", "c1", 5, &[PHONE], &[]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );

    let ok = register_with_auth(
        &mut reg,
        register("201", "c1", 6, &[PHONE], &["Expires: 300"]),
        &flow,
        clock.at(100),
        clock.unix(100),
        "201",
        "geheim-201",
    );
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(contacts(&ok), vec![format!("{PHONE};expires=300")]);
    assert_eq!(
        reg.lookup("201", clock.at(100))[0].expires_at,
        clock.at(400)
    );

    // Same Call-ID, CSeq not higher: the update is aborted with 500.
    for cseq in [6, 3] {
        let resp = register_with_auth(
            &mut reg,
            register("201", "c1", cseq, &[PHONE], &["Expires: 3600"]),
            &flow,
            clock.at(101),
            clock.unix(101),
            "201",
            "geheim-201",
        );
        assert_eq!(
            resp.status,
            StatusCode::SERVER_INTERNAL_ERROR,
            "cseq {cseq}"
        );
    }
    assert_eq!(
        reg.lookup("201", clock.at(101))[0].expires_at,
        clock.at(400)
    );

    // Another Call-ID may update with any CSeq.
    let ok = register_with_auth(
        &mut reg,
        register("201", "c2", 1, &[PHONE], &[]),
        &flow,
        clock.at(102),
        clock.unix(102),
        "201",
        "geheim-201",
    );
    assert_eq!(contacts(&ok), vec![format!("{PHONE};expires=600")]);
}

#[test]
fn expires_zero_unregisters_and_fetch_lists_without_change() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let second = "<sip:201@192.168.1.21>";
    register_with_auth(
        &mut reg,
        register("201", "c1", 1, &[PHONE, second], &[]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    events(&mut reg);

    let fetch = register_with_auth(
        &mut reg,
        register("201", "c9", 1, &[], &[]),
        &flow,
        clock.at(10),
        clock.unix(10),
        "201",
        "geheim-201",
    );
    assert_eq!(fetch.status, StatusCode::OK);
    assert_eq!(contacts(&fetch).len(), 2);
    assert!(contacts(&fetch).contains(&format!("{second};expires=590")));
    assert!(events(&mut reg).is_empty());

    let ok = register_with_auth(
        &mut reg,
        register("201", "c1", 2, &[&format!("{PHONE};expires=0")], &[]),
        &flow,
        clock.at(20),
        clock.unix(20),
        "201",
        "geheim-201",
    );
    assert_eq!(contacts(&ok), vec![format!("{second};expires=580")]);
    let ok = register_with_auth(
        &mut reg,
        register("201", "c1", 3, &[second], &["Expires: 0"]),
        &flow,
        clock.at(21),
        clock.unix(21),
        "201",
        "geheim-201",
    );
    assert_eq!(ok.status, StatusCode::OK);
    assert!(contacts(&ok).is_empty());
    assert!(reg.lookup("201", clock.at(21)).is_empty());
    assert_eq!(
        events(&mut reg),
        vec![
            RegistrarEvent::Registered {
                aor: "201".into(),
                contacts: 1
            },
            RegistrarEvent::Unregistered { aor: "201".into() },
        ]
    );
}

#[test]
fn wildcard_removes_everything_only_alone_and_with_expires_zero() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    register_with_auth(
        &mut reg,
        register("201", "c1", 1, &[PHONE, "<sip:201@10.0.0.9>"], &[]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );

    for (contacts_, extra) in [
        (vec!["*"], vec![]),
        (vec!["*"], vec!["Expires: 60"]),
        (vec!["*", PHONE], vec!["Expires: 0"]),
    ] {
        let resp = register_with_auth(
            &mut reg,
            register("201", "c2", 1, &contacts_, &extra),
            &flow,
            clock.at(1),
            clock.unix(1),
            "201",
            "geheim-201",
        );
        assert_eq!(
            resp.status,
            StatusCode::BAD_REQUEST,
            "{contacts_:?} {extra:?}"
        );
    }
    assert_eq!(reg.lookup("201", clock.at(1)).len(), 2);

    // Same Call-ID with an old CSeq: aborted.
    let resp = register_with_auth(
        &mut reg,
        register("201", "c1", 1, &["*"], &["Expires: 0"]),
        &flow,
        clock.at(2),
        clock.unix(2),
        "201",
        "geheim-201",
    );
    assert_eq!(resp.status, StatusCode::SERVER_INTERNAL_ERROR);
    assert_eq!(reg.lookup("201", clock.at(2)).len(), 2);

    let ok = register_with_auth(
        &mut reg,
        register("201", "c2", 1, &["*"], &["Expires: 0"]),
        &flow,
        clock.at(3),
        clock.unix(3),
        "201",
        "geheim-201",
    );
    assert_eq!(ok.status, StatusCode::OK);
    assert!(contacts(&ok).is_empty());
    assert!(reg.lookup("201", clock.at(3)).is_empty());
    assert_eq!(reg.aor_count(), 0);
}

#[test]
fn too_brief_expiry_gets_423_and_too_long_is_shortened() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let resp = register_with_auth(
        &mut reg,
        register("201", "c1", 1, &[&format!("{PHONE};expires=30")], &[]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    assert_eq!(resp.status, StatusCode::INTERVAL_TOO_BRIEF);
    assert_eq!(resp.headers.get(&HeaderName::MIN_EXPIRES), Some("60"));
    assert!(reg.lookup("201", clock.at(0)).is_empty());

    let resp = register_with_auth(
        &mut reg,
        register("201", "c1", 2, &[PHONE], &["Expires: 59"]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    assert_eq!(resp.status, StatusCode::INTERVAL_TOO_BRIEF);

    // The Contact parameter wins over the header; 60 is accepted.
    let ok = register_with_auth(
        &mut reg,
        register(
            "201",
            "c1",
            3,
            &[&format!("{PHONE};expires=60")],
            &["Expires: 5"],
        ),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    assert_eq!(contacts(&ok), vec![format!("{PHONE};expires=60")]);

    let ok = register_with_auth(
        &mut reg,
        register("201", "c1", 4, &[PHONE], &["Expires: 86400"]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    assert_eq!(contacts(&ok), vec![format!("{PHONE};expires=3600")]);
}

#[test]
fn binding_expires_at_exactly_its_expiry() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    register_with_auth(
        &mut reg,
        register("201", "c1", 1, &[PHONE], &["Expires: 120"]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    events(&mut reg);

    let deadline = clock.at(120);
    assert_eq!(reg.poll_timeout(), Some(deadline));
    let just_before = deadline.checked_sub(Duration::from_nanos(1)).unwrap();
    reg.handle_timeout(just_before);
    assert_eq!(reg.lookup("201", just_before).len(), 1);
    assert!(events(&mut reg).is_empty());

    assert!(
        reg.lookup("201", deadline).is_empty(),
        "lookup hides it at the deadline"
    );
    reg.handle_timeout(deadline);
    assert_eq!(reg.aor_count(), 0);
    assert_eq!(reg.poll_timeout(), None);
    assert_eq!(
        events(&mut reg),
        vec![RegistrarEvent::BindingExpired {
            aor: "201".into(),
            remaining: 0
        }]
    );
}

#[test]
fn unknown_user_and_wrong_password_get_identical_answers() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let challenge = respond(reg.handle_register(
        &register("201", "c1", 1, &[PHONE], &[]),
        &flow,
        clock.at(0),
        clock.unix(0),
        &lookup,
    ));

    let mut wrong_pw = register("201", "c1", 2, &[PHONE], &[]);
    authorize(&mut wrong_pw, &challenge, "201", "not-the-password");
    let mut unknown = register("299", "c1", 2, &["<sip:299@192.168.1.20:5060>"], &[]);
    authorize(&mut unknown, &challenge, "299", "whatever");
    let a = respond(reg.handle_register(&wrong_pw, &flow, clock.at(1), clock.unix(1), &lookup));
    let b = respond(reg.handle_register(&unknown, &flow, clock.at(1), clock.unix(1), &lookup));

    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.status, b.status);
    assert_eq!(a.reason, b.reason);
    assert_eq!(header_names(&a), header_names(&b));
    assert_eq!(
        challenges(&a),
        challenges(&b),
        "same nonce within one second"
    );
    // Byte-identical once the AOR and the To-tag are masked.
    let mask = |r: &voip_sip::message::Response| {
        r.to_string()
            .replace("299", "201")
            .lines()
            .map(|l| match (l.starts_with("To:"), l.find(";tag=")) {
                (true, Some(at)) => format!("{};tag=<masked>", &l[..at]),
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    assert_ne!(
        a.headers.get(&HeaderName::TO),
        b.headers.get(&HeaderName::TO)
    );
    assert_eq!(mask(&a), mask(&b));
    assert_eq!(
        events(&mut reg),
        vec![
            RegistrarEvent::AuthFailed {
                source: flow.remote
            },
            RegistrarEvent::AuthFailed {
                source: flow.remote
            },
        ]
    );
}

#[test]
fn five_failures_ban_the_source_while_another_ip_still_registers() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let attacker = udp("198.51.100.66:5060");
    let honest = udp("203.0.113.10:40000");
    let challenge = respond(reg.handle_register(
        &register("201", "c1", 1, &[PHONE], &[]),
        &attacker,
        clock.at(0),
        clock.unix(0),
        &lookup,
    ));
    for i in 0..5u64 {
        let mut req = register("201", "c1", 2 + i as u32, &[PHONE], &[]);
        authorize(&mut req, &challenge, "201", &format!("guess{i}"));
        let resp =
            respond(reg.handle_register(&req, &attacker, clock.at(i), clock.unix(i), &lookup));
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    }
    let evs = events(&mut reg);
    assert_eq!(evs.len(), 6);
    assert_eq!(
        evs[5],
        RegistrarEvent::SourceBanned {
            source: BanSource::V4("198.51.100.66".parse().unwrap()),
            until: clock.at(4 + 600),
        }
    );

    // Even a correct request from the banned address is dropped.
    let mut req = register("201", "c1", 10, &[PHONE], &[]);
    authorize(&mut req, &challenge, "201", "geheim-201");
    assert_eq!(
        reg.handle_register(&req, &attacker, clock.at(5), clock.unix(5), &lookup),
        Outcome::Drop
    );
    assert!(reg.lookup("201", clock.at(5)).is_empty());

    let ok = register_with_auth(
        &mut reg,
        register("201", "h1", 1, &[PHONE], &[]),
        &honest,
        clock.at(6),
        clock.unix(6),
        "201",
        "geheim-201",
    );
    assert_eq!(ok.status, StatusCode::OK);
    events(&mut reg);

    // The ban ends at exactly its end time.
    assert_eq!(reg.poll_timeout(), Some(clock.at(604)));
    reg.handle_timeout(clock.at(604));
    assert!(events(&mut reg).contains(&RegistrarEvent::BanLifted {
        source: BanSource::V4("198.51.100.66".parse().unwrap())
    }));
    let resp = reg.handle_register(
        &register("201", "c1", 20, &[PHONE], &[]),
        &attacker,
        clock.at(604),
        clock.unix(604),
        &lookup,
    );
    assert_eq!(
        resp.response().map(|r| r.status),
        Some(StatusCode::UNAUTHORIZED)
    );
}

#[test]
fn max_contacts_drops_the_least_recently_updated_binding() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    for i in 0..5u64 {
        let contact = format!("<sip:201@10.0.0.{i}>");
        register_with_auth(
            &mut reg,
            register("201", &format!("c{i}"), 1, &[&contact], &[]),
            &flow,
            clock.at(i),
            clock.unix(i),
            "201",
            "geheim-201",
        );
    }
    // Refresh the oldest so that 10.0.0.1 becomes the least recently updated.
    register_with_auth(
        &mut reg,
        register("201", "c0", 2, &["<sip:201@10.0.0.0>"], &[]),
        &flow,
        clock.at(10),
        clock.unix(10),
        "201",
        "geheim-201",
    );
    events(&mut reg);
    let ok = register_with_auth(
        &mut reg,
        register("201", "c5", 1, &["<sip:201@10.0.0.5>"], &[]),
        &flow,
        clock.at(11),
        clock.unix(11),
        "201",
        "geheim-201",
    );
    assert_eq!(ok.status, StatusCode::OK);
    let listed = contacts(&ok);
    assert_eq!(listed.len(), 5);
    assert!(
        !listed.iter().any(|c| c.contains("10.0.0.1>")),
        "{listed:?}"
    );
    assert!(listed.iter().any(|c| c.contains("10.0.0.0>")));
    assert!(listed.iter().any(|c| c.contains("10.0.0.5>")));
    assert_eq!(
        events(&mut reg),
        vec![
            RegistrarEvent::BindingsEvicted {
                aor: "201".into(),
                count: 1
            },
            RegistrarEvent::Registered {
                aor: "201".into(),
                contacts: 5
            },
        ]
    );
}

#[test]
fn lookup_orders_by_q_then_most_recent() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let regs = [
        ("a", "<sip:201@10.0.0.1>;q=0.5"),
        ("b", "<sip:201@10.0.0.2>"),
        ("c", "<sip:201@10.0.0.3>;q=0.5"),
        ("d", "<sip:201@10.0.0.4>;q=1.0"),
    ];
    for (i, (call, contact)) in regs.iter().enumerate() {
        register_with_auth(
            &mut reg,
            register("201", call, 1, &[contact], &[]),
            &flow,
            clock.at(i as u64),
            clock.unix(i as u64),
            "201",
            "geheim-201",
        );
    }
    let order: Vec<String> = reg
        .lookup("201", clock.at(5))
        .iter()
        .map(|b| b.uri().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "sip:201@10.0.0.4",
            "sip:201@10.0.0.2",
            "sip:201@10.0.0.3",
            "sip:201@10.0.0.1"
        ]
    );
    assert_eq!(reg.lookup("201", clock.at(5))[0].q, 1000);
    assert_eq!(reg.lookup("201", clock.at(5))[2].q, 500);
}

#[test]
fn path_is_stored_and_echoed_only_when_supported() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let path = "Path: <sip:edge.example.net;lr>";
    let ok = register_with_auth(
        &mut reg,
        register(
            "201",
            "c1",
            1,
            &[PHONE],
            &[path, "Supported: path, outbound"],
        ),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    assert_eq!(
        ok.headers.get(&HeaderName::PATH),
        Some("<sip:edge.example.net;lr>")
    );
    assert_eq!(
        reg.lookup("201", clock.at(0))[0].path,
        vec!["<sip:edge.example.net;lr>".to_owned()]
    );

    let ok = register_with_auth(
        &mut reg,
        register("202", "c2", 1, &["<sip:202@10.0.0.2>"], &[path]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "202",
        "geheim-202",
    );
    assert_eq!(ok.status, StatusCode::OK);
    assert!(!ok.headers.contains(&HeaderName::PATH));
    assert_eq!(reg.lookup("202", clock.at(0))[0].path.len(), 1);
}

#[test]
fn same_instance_id_replaces_the_binding_of_a_rebooted_phone() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let inst = r#"+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1"#;
    let before = format!("<sip:201@192.168.1.20:5060>;{inst}");
    let after = format!("<sip:201@192.168.1.20:5062>;{inst}");
    register_with_auth(
        &mut reg,
        register("201", "boot1", 1, &[&before], &[]),
        &udp("203.0.113.10:40000"),
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    let ok = register_with_auth(
        &mut reg,
        register("201", "boot2", 1, &[&after], &[]),
        &udp("203.0.113.10:40777"),
        clock.at(30),
        clock.unix(30),
        "201",
        "geheim-201",
    );
    assert_eq!(contacts(&ok), vec![format!("{after};expires=600")]);
    let b = reg.lookup("201", clock.at(30));
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].flow.remote.port(), 40777);
}

#[test]
fn authenticated_user_cannot_register_another_extension() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let resp = register_with_auth(
        &mut reg,
        register("202", "c1", 1, &["<sip:202@10.0.0.2>"], &[]),
        &flow,
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert!(reg.lookup("202", clock.at(0)).is_empty());
    assert!(
        events(&mut reg).is_empty(),
        "an authorisation refusal is not an auth failure"
    );
}

#[test]
fn requests_outside_our_domain_or_not_register_are_refused_before_auth() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let foreign_ruri = parse_request(
        "REGISTER sip:other.example.org SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\nFrom: <sip:201@example.com>;tag=1\r\nTo: <sip:201@example.com>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n",
    );
    let foreign_to = register("201", "c1", 1, &[PHONE], &[]);
    let mut foreign_to = foreign_to;
    foreign_to
        .headers
        .set(HeaderName::TO, "<sip:201@other.example.org>");
    let options = parse_request(
        "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\nFrom: <sip:201@example.com>;tag=1\r\nTo: <sip:201@example.com>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    let by_ip = parse_request(
        "REGISTER sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\nFrom: <sip:201@192.0.2.1>;tag=1\r\nTo: <sip:201@192.0.2.1>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n",
    );
    let no_call_id = {
        let mut r = register("201", "c1", 1, &[PHONE], &[]);
        r.headers.remove(&HeaderName::CALL_ID);
        r
    };
    for (req, status) in [
        (&foreign_ruri, StatusCode::FORBIDDEN),
        (&foreign_to, StatusCode::FORBIDDEN),
        (&options, StatusCode::METHOD_NOT_ALLOWED),
        (&by_ip, StatusCode::UNAUTHORIZED),
        (&no_call_id, StatusCode::BAD_REQUEST),
    ] {
        let resp = respond(reg.handle_register(req, &flow, clock.at(0), clock.unix(0), &lookup));
        assert_eq!(resp.status, status, "{req}");
    }
    let resp = respond(reg.handle_register(&options, &flow, clock.at(0), clock.unix(0), &lookup));
    assert_eq!(
        resp.headers.get(&HeaderName::ALLOW),
        Some(voip_sip::validate::ALLOW)
    );
}

#[test]
fn stale_nonce_is_rechallenged_with_stale_true_and_not_counted() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let mut req = register("201", "c1", 1, &[PHONE], &[]);
    let challenge = respond(reg.handle_register(&req, &flow, clock.at(0), clock.unix(0), &lookup));
    authorize(&mut req, &challenge, "201", "geheim-201");
    let resp = respond(reg.handle_register(&req, &flow, clock.at(400), clock.unix(400), &lookup));
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert!(challenges(&resp).iter().all(|c| c.contains("stale=true")));
    assert!(events(&mut reg).is_empty());
}

#[test]
fn malformed_credentials_get_400_and_count_as_a_failure() {
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    let flow = udp("203.0.113.10:40000");
    let req = register(
        "201",
        "c1",
        1,
        &[PHONE],
        &[r#"Authorization: Digest username="201", realm="#],
    );
    let resp = respond(reg.handle_register(&req, &flow, clock.at(0), clock.unix(0), &lookup));
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        events(&mut reg),
        vec![RegistrarEvent::AuthFailed {
            source: flow.remote
        }]
    );
}

#[test]
fn ban_policy_comes_from_the_tracker_passed_in() {
    let clock = Clock::new();
    let bans = BanTracker::new(BanConfig {
        max_failures: 1,
        ..BanConfig::default()
    });
    let mut reg = Registrar::new(config(), SECRET, bans, clock.t0);
    let flow = udp("203.0.113.10:40000");
    let req = register(
        "201",
        "c1",
        1,
        &[PHONE],
        &[r#"Authorization: Digest username="201""#],
    );
    respond(reg.handle_register(&req, &flow, clock.at(0), clock.unix(0), &lookup));
    assert!(reg.bans().is_banned(Duration::ZERO, flow.remote.ip()));
    assert_eq!(
        reg.handle_register(&req, &flow, clock.at(1), clock.unix(1), &lookup),
        Outcome::Drop
    );
}

#[test]
fn event_debug_output_redacts_the_aor() {
    let e = RegistrarEvent::Registered {
        aor: "0612345678".into(),
        contacts: 1,
    };
    assert!(!format!("{e:?}").contains("0612345678"));
    let clock = Clock::new();
    let mut reg = registrar(&clock);
    register_with_auth(
        &mut reg,
        register("201", "c1", 1, &["<sip:0612345678@10.0.0.1>"], &[]),
        &udp("203.0.113.10:40000"),
        clock.at(0),
        clock.unix(0),
        "201",
        "geheim-201",
    );
    let b = &reg.lookup("201", clock.at(0))[0];
    assert!(!format!("{b:?}").contains("0612345678"));
}

#[test]
fn a_per_extension_contact_limit_overrides_the_global_one() {
    let clock = Clock::new();
    let mut config = config();
    config.max_contacts = 5;
    config.max_contacts_per_aor.insert("201".to_owned(), 2);
    let mut reg = Registrar::new(
        config,
        SECRET,
        BanTracker::new(BanConfig::default()),
        clock.t0,
    );
    let flow = udp("203.0.113.10:40000");
    for i in 0..4u64 {
        let contact = format!("<sip:201@10.0.0.{i}>");
        register_with_auth(
            &mut reg,
            register("201", &format!("c{i}"), 1, &[&contact], &[]),
            &flow,
            clock.at(i),
            clock.unix(i),
            "201",
            "geheim-201",
        );
    }
    let kept: Vec<String> = reg
        .lookup("201", clock.at(5))
        .iter()
        .map(|b| b.contact.to_string())
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().any(|c| c.contains("10.0.0.3")), "{kept:?}");
    assert!(kept.iter().any(|c| c.contains("10.0.0.2")), "{kept:?}");
}
