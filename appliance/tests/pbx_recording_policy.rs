//! The recording policy of a call is resolved when it is routed and goes to
//! the media path with the relay command, with the payload types the relay
//! needs to decode the call: the caller's extension's policy wins over the
//! callee's, which wins over the trunk's; without any the call is not
//! recorded. An outbound call takes the policy of its route's first trunk.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod pbx_support;

use pbx_support::{KPN, Net, PBX_IP, Phone, reply, request, sdp, site_text};
use voip_appliance::pbx::MediaCommand;
use voip_shared::site_config::SiteConfig;

const A: &str = "192.0.2.1:5060";
const B: &str = "192.0.2.2:5060";

const POLICIES: &str = r#"
[[recording_policies]]
name = "altijd"
mode = "always"
consent_announcement = true
format = "wav"

[[recording_policies]]
name = "op-verzoek"
mode = "on_demand"
format = "ogg_opus"

[[recording_policies]]
name = "nooit"
mode = "never"
"#;

/// The test site with the policies, `ext` lines added to extensions and
/// `trunk` to the trunk "kpn".
fn site(ext_201: Option<&str>, ext_202: Option<&str>, kpn: Option<&str>) -> SiteConfig {
    let mut text = site_text(false);
    for (ext, policy) in [("201", ext_201), ("202", ext_202)] {
        if let Some(p) = policy {
            text = text.replacen(
                &format!("credentials = \"ext-{ext}\"\n"),
                &format!("credentials = \"ext-{ext}\"\nrecording_policy = \"{p}\"\n"),
                1,
            );
        }
    }
    if let Some(p) = kpn {
        text = text.replacen(
            "priority = 10\n",
            &format!("priority = 10\nrecording_policy = \"{p}\"\n"),
            1,
        );
    }
    text.push_str(POLICIES);
    SiteConfig::from_toml_str(&text).unwrap()
}

fn registered(net: &mut Net, ext: &str, at: &str) -> Phone {
    let mut p = Phone::new(ext, &format!("pw-{ext}"), at);
    assert_eq!(p.register(net), 200);
    p
}

/// The policy name and payload types of the first relay command.
fn relay(net: &Net) -> (Option<String>, Vec<(u8, String)>) {
    let Some(MediaCommand::Relay {
        recording,
        payloads,
        ..
    }) = net
        .media
        .iter()
        .find(|m| matches!(m, MediaCommand::Relay { .. }))
    else {
        panic!("no relay: {:?}", net.media)
    };
    (
        recording.as_ref().map(|p| p.name.clone()),
        payloads
            .iter()
            .map(|(pt, c)| (pt.get(), c.name.clone()))
            .collect(),
    )
}

/// 201 calls 202, who answers; returns the relay command's content.
fn internal_call(site: SiteConfig) -> (Option<String>, Vec<(u8, String)>) {
    let mut net = Net::new(site);
    let mut alice = registered(&mut net, "201", A);
    let bob = registered(&mut net, "202", B);
    alice.call(&mut net, "202", "call-1@192.0.2.1");
    let to_b = net.request_to(B, "INVITE");
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
    assert_eq!(net.final_to(A).status.as_u16(), 200);
    relay(&net)
}

#[test]
fn caller_extension_beats_callee_extension_and_no_policy_records_nothing() {
    let (policy, payloads) = internal_call(site(Some("op-verzoek"), Some("altijd"), None));
    assert_eq!(policy.as_deref(), Some("op-verzoek"));
    assert_eq!(
        payloads,
        vec![
            (0, "PCMU".to_owned()),
            (8, "PCMA".to_owned()),
            (101, "telephone-event".to_owned())
        ]
    );
    let (policy, _) = internal_call(site(None, Some("altijd"), None));
    assert_eq!(policy.as_deref(), Some("altijd"));
    let (policy, _) = internal_call(site(Some("nooit"), Some("altijd"), None));
    assert_eq!(policy.as_deref(), Some("nooit"), "never is a policy too");
    let (policy, _) = internal_call(site(None, None, Some("altijd")));
    assert_eq!(policy, None, "an internal call uses no trunk");
}

#[test]
fn inbound_trunk_policy_applies_when_the_extension_has_none() {
    for (ext, expected) in [(None, "altijd"), (Some("op-verzoek"), "op-verzoek")] {
        let mut net = Net::new(site(ext, None, Some("altijd")));
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
        net.send(KPN, invite);
        let to_alice = net.request_to(A, "INVITE");
        net.send(
            A,
            reply(
                &to_alice,
                200,
                "atag",
                &alice.contact(),
                Some(sdp("192.0.2.1", 4000)),
            ),
        );
        assert_eq!(net.final_to(KPN).status.as_u16(), 200);
        assert_eq!(relay(&net).0.as_deref(), Some(expected));
    }
}

#[test]
fn outbound_call_uses_the_routes_first_trunk_policy() {
    let mut net = Net::new(site(None, None, Some("altijd")));
    let mut alice = registered(&mut net, "201", A);
    alice.call(&mut net, "0612345678", "call-ext@192.0.2.1");
    let to_kpn = net.request_to(KPN, "INVITE");
    net.send(
        KPN,
        reply(
            &to_kpn,
            200,
            "k1",
            "sip:p@203.0.113.10",
            Some(sdp("203.0.113.10", 7000)),
        ),
    );
    assert_eq!(net.final_to(A).status.as_u16(), 200);
    assert_eq!(relay(&net).0.as_deref(), Some("altijd"));
}
