//! Calls through the `Pbx` core: internal calls, trunk failover, inbound DID
//! calls, the echo test and emergency calls, with the CDR that comes out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod pbx_support;

use std::time::Duration;

use pbx_support::{
    BACKUP, KPN, Net, PBX_IP, Phone, ack_for, in_dialog, ok_to, reply, request, sdp, site,
};
use voip_appliance::pbx::MediaCommand;
use voip_shared::mqtt::{Decision, Disposition, EndpointKind};
use voip_sip::message::{HeaderName, Request, Response, StatusCode};

const A: &str = "192.0.2.1:5060";
const B: &str = "192.0.2.2:5060";

fn cseq_of(r: &Request) -> u32 {
    r.headers
        .get(&HeaderName::CSEQ)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn registered(net: &mut Net, ext: &str, at: &str) -> Phone {
    let mut p = Phone::new(ext, &format!("pw-{ext}"), at);
    assert_eq!(p.register(net), 200);
    p
}

/// The caller acknowledges `ok` and, `talk` later, hangs up; the far end
/// at `far` answers the BYE.
fn ack_talk_hang_up(net: &mut Net, invite: &Request, ok: &Response, talk: Duration, far: &str) {
    let b = net.branch();
    net.send(A, in_dialog("ACK", invite, ok, &b, cseq_of(invite)));
    net.advance(talk);
    let b = net.branch();
    net.send(A, in_dialog("BYE", invite, ok, &b, cseq_of(invite) + 1));
    let bye = net.request_to(far, "BYE");
    net.send(far, ok_to(&bye, "x"));
    assert_eq!(net.final_to(A).status, StatusCode::OK, "BYE answered");
}

#[test]
fn internal_call_is_authenticated_rung_answered_and_recorded() {
    let mut net = Net::new(site(false));
    let mut alice = registered(&mut net, "201", A);
    let bob = registered(&mut net, "202", B);
    let invite = alice.call(&mut net, "202", "call-1@192.0.2.1");
    let to_b = net.request_to(B, "INVITE");
    assert_eq!(to_b.uri.to_string(), bob.contact());
    let from = to_b.headers.get(&HeaderName::FROM).unwrap();
    assert!(from.contains("sip:201@"), "{from}");
    assert!(
        String::from_utf8_lossy(&to_b.body).contains(&format!("c=IN IP4 {PBX_IP}")),
        "media is anchored"
    );
    net.send(B, reply(&to_b, 180, "btag", &bob.contact(), None));
    net.send(
        B,
        reply(
            &to_b,
            200,
            "btag",
            &bob.contact(),
            Some(sdp("192.0.2.2", 5000)),
        ),
    );
    let ok = net.final_to(A);
    assert_eq!(ok.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&ok.body).contains("m=audio 20000"));
    assert!(
        net.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Relay { .. }))
    );
    ack_talk_hang_up(&mut net, &invite, &ok, Duration::from_secs(30), B);
    assert_eq!(net.records.len(), 1);
    let cdr = &net.records[0];
    assert_eq!(cdr.disposition, Disposition::Answered);
    assert_eq!(cdr.sip_cause, 200);
    assert_eq!((cdr.caller.as_str(), cdr.callee.as_str()), ("201", "202"));
    assert_eq!(cdr.trunk, None);
    assert_eq!(cdr.billable_s, 30);
    assert_eq!(cdr.legs.len(), 2);
    assert_eq!(cdr.legs[1].endpoint, EndpointKind::Extension);
    assert_eq!(cdr.permission.decision, Decision::Allowed);
    assert_eq!(cdr.permission.reason, "permission.class_allowed");
    assert_eq!(
        cdr.ended_at - cdr.started_at,
        time::Duration::seconds(30),
        "wall times follow virtual time"
    );
    assert!(
        net.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Release { .. }))
    );
    assert_eq!(net.pbx.routing().active_total(), 0);
}

#[test]
fn call_to_unregistered_extension_gets_480() {
    let mut net = Net::new(site(false));
    let mut alice = registered(&mut net, "201", A);
    alice.call(&mut net, "202", "call-480@192.0.2.1");
    assert_eq!(net.final_to(A).status.as_u16(), 480);
    assert_eq!(net.records.len(), 1);
    assert_eq!(net.records[0].disposition, Disposition::Rejected);
}

#[test]
fn external_call_fails_over_from_503_to_the_next_trunk() {
    let mut net = Net::new(site(false));
    let mut alice = registered(&mut net, "201", A);
    let invite = alice.call(&mut net, "0612345678", "call-ext@192.0.2.1");
    let to_kpn = net.request_to(KPN, "INVITE");
    assert_eq!(to_kpn.uri.to_string(), "sip:+31612345678@203.0.113.10:5060");
    let from = to_kpn.headers.get(&HeaderName::FROM).unwrap();
    assert!(
        from.contains("+31301234568"),
        "caller id is the kpn DID of 201: {from}"
    );
    net.send(KPN, reply(&to_kpn, 503, "k1", "sip:p@203.0.113.10", None));
    assert!(
        net.request_to(KPN, "ACK").uri == to_kpn.uri,
        "503 acknowledged"
    );
    let to_backup = net.request_to(BACKUP, "INVITE");
    assert_eq!(
        to_backup.uri.to_string(),
        "sip:+31612345678@203.0.113.20:5060"
    );
    net.send(
        BACKUP,
        reply(
            &to_backup,
            200,
            "bk1",
            "sip:p@203.0.113.20",
            Some(sdp("203.0.113.20", 7000)),
        ),
    );
    let ok = net.final_to(A);
    assert_eq!(ok.status, StatusCode::OK);
    ack_talk_hang_up(&mut net, &invite, &ok, Duration::from_secs(5), BACKUP);
    let cdr = &net.records[0];
    assert_eq!(cdr.disposition, Disposition::Answered);
    assert_eq!(cdr.trunk.as_deref(), Some("backup"));
    assert_eq!(cdr.callee, "+31612345678");
    assert_eq!(cdr.legs[1].endpoint, EndpointKind::Trunk);
}

#[test]
fn trunk_call_to_a_did_rings_the_registered_extension_without_auth() {
    let mut net = Net::new(site(false));
    let alice = registered(&mut net, "201", A);
    let body = sdp("203.0.113.10", 8000);
    let b = net.branch();
    let invite = request(&format!(
        "INVITE sip:+31301234568@{PBX_IP} SIP/2.0
Via: SIP/2.0/UDP {KPN};branch={b}
Max-Forwards: 70
From: <sip:0612345678@203.0.113.10>;tag=prov
To: <sip:+31301234568@{PBX_IP}>
Call-ID: in-1@203.0.113.10
CSeq: 1 INVITE
Contact: <sip:0612345678@{KPN}>
Content-Type: application/sdp
Content-Length: {}

{}",
        body.len(),
        body.replace("\r\n", "\n")
    ));
    net.send(KPN, invite.clone());
    assert!(
        !net.codes_to(KPN).contains(&407),
        "trunk traffic is not challenged"
    );
    let to_alice = net.request_to(A, "INVITE");
    assert_eq!(to_alice.uri.to_string(), alice.contact());
    net.send(A, reply(&to_alice, 486, "busy", &alice.contact(), None));
    let busy = net.final_to(KPN);
    assert_eq!(busy.status.as_u16(), 486);
    net.send(KPN, ack_for(&invite, &busy));
    let cdr = &net.records[0];
    assert_eq!(cdr.disposition, Disposition::Busy);
    assert_eq!(cdr.trunk.as_deref(), Some("kpn"));
    assert_eq!(cdr.caller, "+31612345678", "caller normalised to E.164");
    assert_eq!(cdr.callee, "201");
    assert_eq!(cdr.legs[0].endpoint, EndpointKind::Trunk);
    assert_eq!(cdr.permission.reason, "permission.inbound");
}

#[test]
fn echo_test_is_answered_locally_with_an_echo_loop() {
    let mut net = Net::new(site(false));
    let mut alice = registered(&mut net, "201", A);
    let invite = alice.call(&mut net, "*43", "call-echo@192.0.2.1");
    let ok = net.final_to(A);
    assert_eq!(ok.status, StatusCode::OK);
    assert!(net.media.iter().any(|m| matches!(
        m,
        MediaCommand::EchoLoop { local_port: 20_000, remote, .. }
            if *remote == "192.0.2.1:4000".parse().unwrap()
    )));
    let b = net.branch();
    net.send(A, in_dialog("ACK", &invite, &ok, &b, cseq_of(&invite)));
    let b = net.branch();
    net.send(A, in_dialog("BYE", &invite, &ok, &b, cseq_of(&invite) + 1));
    assert_eq!(net.final_to(A).status, StatusCode::OK);
    let cdr = &net.records[0];
    assert_eq!(cdr.disposition, Disposition::Answered);
    assert_eq!(cdr.callee, "*43");
    assert_eq!(cdr.permission.reason, "permission.echo_test");
}

#[test]
fn emergency_call_goes_out_for_an_internal_only_profile() {
    let mut net = Net::new(site(false));
    let mut magazijn = registered(&mut net, "203", "192.0.2.3:5060");
    magazijn.call(&mut net, "112", "call-112@192.0.2.3");
    let to_kpn = net.request_to(KPN, "INVITE");
    assert_eq!(to_kpn.uri.to_string(), "sip:112@203.0.113.10:5060");
    net.send(
        KPN,
        reply(
            &to_kpn,
            200,
            "k112",
            "sip:p@203.0.113.10",
            Some(sdp("203.0.113.10", 7100)),
        ),
    );
    assert_eq!(net.final_to("192.0.2.3:5060").status, StatusCode::OK);
}

#[test]
fn internal_only_profile_is_refused_a_mobile_number() {
    let mut net = Net::new(site(false));
    let mut magazijn = registered(&mut net, "203", "192.0.2.3:5060");
    magazijn.call(&mut net, "0612345678", "call-403@192.0.2.3");
    assert_eq!(net.final_to("192.0.2.3:5060").status.as_u16(), 403);
    assert!(net.take(KPN).is_empty());
    let cdr = &net.records[0];
    assert_eq!(cdr.disposition, Disposition::Rejected);
    assert_eq!(cdr.permission.decision, Decision::Denied);
    assert_eq!(cdr.permission.reason, "permission.mobile_denied");
}

#[test]
fn transport_error_towards_the_first_trunk_fails_over() {
    let mut net = Net::new(site(false));
    let mut alice = registered(&mut net, "201", A);
    alice.call(&mut net, "0612345678", "call-te@192.0.2.1");
    net.request_to(KPN, "INVITE");
    let (now, kpn) = (net.now, KPN.parse().unwrap());
    net.pbx
        .handle_transport_error(now, kpn, voip_sip::registrar::TransportKind::Udp, None);
    while let Some(t) = net.pbx.poll_transmit() {
        net.sent.push(t);
    }
    let to_backup = net.request_to(BACKUP, "INVITE");
    assert_eq!(
        to_backup.uri.to_string(),
        "sip:+31612345678@203.0.113.20:5060"
    );
}
