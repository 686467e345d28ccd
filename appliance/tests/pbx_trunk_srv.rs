//! Trunks given by host name: the PBX waits for the shell's resolution
//! ([`Pbx::set_trunk_addresses`] with socket addresses, e.g. from DNS SRV),
//! sends REGISTER and calls to the first resolved socket address (the SRV
//! port, not 5060), writes the configured port (or none) in the
//! Request-URI, and recognises inbound trunk calls by source IP only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod pbx_support;

use std::net::SocketAddr;

use pbx_support::{BACKUP, Net, PBX_IP, Phone, ack_for, reply, request, sdp, site};
use voip_appliance::pbx::Pbx;
use voip_shared::site_config::SiteConfig;
use voip_sip::message::{Request, SipMessage};

const A: &str = "192.0.2.1:5060";
/// First SRV target of `sip.kpn.example` (not on 5060).
const SRV1: &str = "203.0.113.50:5070";
/// Second SRV target.
const SRV2: &str = "203.0.113.51:5080";

/// The test site with trunk `kpn` at host name `sip.kpn.example` and the
/// given configured port; registering when `register` (a trunk that does
/// not register is usable as soon as it has an address).
fn named_site(port: Option<u16>, register: bool) -> SiteConfig {
    let mut s = site(register);
    let kpn = s.trunks.iter_mut().find(|t| t.id == "kpn").unwrap();
    kpn.host = "sip.kpn.example".into();
    kpn.port = port;
    s
}

fn resolve(net: &mut Net, addrs: &[&str]) {
    let addrs: Vec<SocketAddr> = addrs.iter().map(|a| a.parse().unwrap()).collect();
    let (now, unix) = (net.now, net.unix);
    Pbx::set_trunk_addresses(&mut net.pbx, now, unix, "kpn", addrs);
    net.drain();
}

#[test]
fn named_trunk_registers_at_the_first_resolved_socket_address() {
    // (configured port, resolved addresses, REGISTER Request-URI)
    let table: &[(Option<u16>, &[&str], &str)] = &[
        (None, &[SRV1, SRV2], "sip:sip.kpn.example"),
        (
            Some(5090),
            &["203.0.113.50:5090"],
            "sip:sip.kpn.example:5090",
        ),
    ];
    for (port, resolved, uri) in table {
        let mut net = Net::new(named_site(*port, true));
        assert!(
            !net.sent.iter().any(|t| matches!(
                &t.message,
                SipMessage::Request(r) if r.method.as_str() == "REGISTER"
            )),
            "{port:?}: no REGISTER before the host is resolved"
        );
        resolve(&mut net, resolved);
        let register = net.request_to(resolved[0], "REGISTER");
        assert_eq!(register.uri.to_string(), *uri, "{port:?}");
    }
}

#[test]
fn named_trunk_without_port_calls_the_srv_port_with_a_portless_request_uri() {
    let mut net = Net::new(named_site(None, false));
    resolve(&mut net, &[SRV1, SRV2]);
    let mut alice = Phone::new("201", "pw-201", A);
    assert_eq!(alice.register(&mut net), 200);
    alice.call(&mut net, "0612345678", "call-srv@192.0.2.1");
    let invite = net.request_to(SRV1, "INVITE");
    assert_eq!(invite.uri.to_string(), "sip:+31612345678@sip.kpn.example");
}

#[test]
fn inbound_call_from_a_resolved_ip_on_another_port_is_a_trunk_call() {
    let mut net = Net::new(named_site(None, false));
    resolve(&mut net, &[SRV1, SRV2]);
    let mut alice = Phone::new("201", "pw-201", A);
    assert_eq!(alice.register(&mut net), 200);
    // From the second target's IP, but not from its SRV port.
    let from = "203.0.113.51:5999";
    let body = sdp("203.0.113.51", 8000);
    let invite = request(&format!(
        "INVITE sip:+31301234568@{PBX_IP} SIP/2.0
Via: SIP/2.0/UDP {from};branch=z9hG4bKin1
Max-Forwards: 70
From: <sip:0612345678@sip.kpn.example>;tag=prov
To: <sip:+31301234568@{PBX_IP}>
Call-ID: in-srv@203.0.113.51
CSeq: 1 INVITE
Contact: <sip:0612345678@{from}>
Content-Type: application/sdp
Content-Length: {}

{}",
        body.len(),
        body.replace("\r\n", "\n")
    ));
    net.send(from, invite);
    assert!(
        !net.codes_to(from).contains(&407),
        "recognised as the trunk: not challenged"
    );
    net.request_to(A, "INVITE");
}

/// `far` answers its INVITE of the call `invite` (from A) with 486; A
/// acknowledges, so the call no longer counts as active.
fn busy(net: &mut Net, far: &str, invite: &Request) -> Request {
    let out = net.request_to(far, "INVITE");
    net.send(far, reply(&out, 486, "busy", &format!("sip:p@{far}"), None));
    let final_response = net.final_to(A);
    assert_eq!(final_response.status.as_u16(), 486);
    net.send(A, ack_for(invite, &final_response));
    out
}

#[test]
fn reload_with_a_new_port_forgets_the_old_addresses() {
    let mut net = Net::new(named_site(None, false));
    resolve(&mut net, &[SRV1]);
    let mut alice = Phone::new("201", "pw-201", A);
    assert_eq!(alice.register(&mut net), 200);
    let invite = alice.call(&mut net, "0612345678", "call-before@192.0.2.1");
    busy(&mut net, SRV1, &invite);

    let secrets = voip_appliance::secrets::Secrets::from_toml_str(pbx_support::SECRETS).unwrap();
    let (now, unix) = (net.now, net.unix);
    net.pbx
        .reload(now, unix, named_site(Some(5090), false), secrets);
    net.drain();
    net.sent.clear();
    // Until the shell resolves again, calls skip kpn and go to backup.
    let invite = alice.call(&mut net, "0612345678", "call-reload@192.0.2.1");
    assert!(net.take(SRV1).is_empty(), "old SRV address not used");
    busy(&mut net, BACKUP, &invite);

    resolve(&mut net, &["203.0.113.50:5090"]);
    let invite = alice.call(&mut net, "0612345678", "call-after@192.0.2.1");
    let out = busy(&mut net, "203.0.113.50:5090", &invite);
    assert_eq!(out.uri.to_string(), "sip:+31612345678@sip.kpn.example:5090");
}

/// Alice (registered) calls a mobile number through kpn, resolved to SRV1
/// and SRV2; returns the net, her INVITE and the INVITE SRV1 got.
fn call_via_two_srv_targets() -> (Net, Request, Request) {
    let mut net = Net::new(named_site(None, false));
    resolve(&mut net, &[SRV1, SRV2]);
    let mut alice = Phone::new("201", "pw-201", A);
    assert_eq!(alice.register(&mut net), 200);
    let invite = alice.call(&mut net, "0612345678", "call-rfc3263@192.0.2.1");
    let first = net.request_to(SRV1, "INVITE");
    (net, invite, first)
}

fn answer_200(net: &mut Net, at: &str, out: &Request) {
    let ip = at.split(':').next().unwrap();
    net.send(
        at,
        reply(out, 200, "ok1", &format!("sip:p@{at}"), Some(sdp(ip, 7000))),
    );
}

#[test]
fn a_503_from_the_first_srv_target_tries_the_second_before_the_next_trunk() {
    let (mut net, _invite, first) = call_via_two_srv_targets();
    net.send(
        SRV1,
        reply(&first, 503, "s1", &format!("sip:p@{SRV1}"), None),
    );
    let second = net.request_to(SRV2, "INVITE");
    assert_eq!(second.uri, first.uri, "same Request-URI, next address");
    assert!(net.take(BACKUP).is_empty(), "the next trunk waits");
    answer_200(&mut net, SRV2, &second);
    assert_eq!(net.final_to(A).status.as_u16(), 200);
}

#[test]
fn a_timeout_at_the_first_srv_target_tries_the_second() {
    let (mut net, _invite, _first) = call_via_two_srv_targets();
    // No answer at all: Timer B (64·T1 = 32 s) ends the transaction.
    net.advance(std::time::Duration::from_secs(31));
    assert!(net.take(SRV2).is_empty(), "not before Timer B");
    net.advance(std::time::Duration::from_secs(2));
    let second = net.request_to(SRV2, "INVITE");
    assert!(net.take(BACKUP).is_empty());
    answer_200(&mut net, SRV2, &second);
    assert_eq!(net.final_to(A).status.as_u16(), 200);
}

#[test]
fn another_failure_at_the_first_srv_target_skips_its_other_addresses() {
    let (mut net, _invite, first) = call_via_two_srv_targets();
    net.send(
        SRV1,
        reply(&first, 480, "s1", &format!("sip:p@{SRV1}"), None),
    );
    let backup = net.request_to(BACKUP, "INVITE");
    assert!(
        net.take(SRV2).is_empty(),
        "a 480 is the provider's answer: no other address of it is tried"
    );
    answer_200(&mut net, BACKUP, &backup);
    assert_eq!(net.final_to(A).status.as_u16(), 200);
}
