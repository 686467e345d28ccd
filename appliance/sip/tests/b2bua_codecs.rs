//! Codec choice per call: the callee's configured codecs order the offer it
//! gets; without a codec in common the call transcodes (or is refused with
//! 488 when the media engine cannot transcode).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod b2bua_support;

use b2bua_support::*;
use voip_sip::b2bua::{Event, MediaInstruction, RouteDecision, Target};
use voip_sip::message::{HeaderName, Request, Response};
use voip_sip::sdp::{Codec, Session, audio_codecs};

const BOB: u8 = 2;

fn target_with(codecs: Vec<Codec>) -> Target {
    Target {
        codecs,
        ..target(BOB, "202")
    }
}

fn decision(target: Target, caller_codecs: Vec<Codec>) -> RouteDecision {
    RouteDecision::Targets {
        groups: vec![vec![target]],
        max_duration: None,
        emergency: false,
        caller_codecs,
    }
}

fn formats(body: &[u8]) -> Vec<String> {
    Session::parse_bytes(body).unwrap().media[0].formats.clone()
}

/// Bob answers with `m=audio 6000 RTP/AVP {fmt}` and these attribute lines.
fn bob_answers(sim: &mut Sim, invite: &Request, media: &str) -> Response {
    let body =
        format!("v=0\r\no=- 7 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n{media}");
    sim.send(phone(BOB), reply(invite, 200, "btag", Some(body)));
    sim.take_responses(alice(), "INVITE")
        .into_iter()
        .find(|r| r.status.as_u16() == 200)
        .expect("Alice gets a 200")
}

#[test]
fn the_callee_is_offered_the_callers_codecs_in_its_own_order() {
    let mut sim = Sim::new();
    sim.send(alice(), a_invite("202", ""));
    // Alice offers PCMU, PCMA, telephone-event; Bob is configured for
    // PCMA first, then G.722.
    sim.route(decision(
        target_with(vec![Codec::pcma(), Codec::g722(), Codec::pcmu()]),
        Vec::new(),
    ));
    let invite = sim.one_request(phone(BOB), "INVITE");
    assert_eq!(formats(&invite.body), vec!["8", "0", "101"]);
    let ok = bob_answers(
        &mut sim,
        &invite,
        "m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
    );
    // Relayed untouched (anchored): Alice sees Bob's choice.
    assert_eq!(formats(&ok.body), vec!["8", "101"]);
    assert!(
        sim.media
            .iter()
            .any(|m| matches!(m, MediaInstruction::Relay { .. }))
    );
    assert!(
        !sim.media
            .iter()
            .any(|m| matches!(m, MediaInstruction::Transcode { .. }))
    );
}

#[test]
fn without_a_common_codec_and_no_transcoding_the_call_gets_488() {
    let mut sim = Sim::with_transcoding(false);
    sim.send(alice(), a_invite("202", ""));
    sim.route(decision(target_with(vec![Codec::opus()]), Vec::new()));
    assert!(sim.take_requests(phone(BOB), "INVITE").is_empty());
    assert!(sim.codes(alice(), "INVITE").contains(&488));
    let summary = sim.ended().expect("call ended");
    assert_eq!(summary.final_status, 488);
    assert!(!summary.transcoded);
}

#[test]
fn without_a_common_codec_the_call_transcodes_each_leg_on_its_own_codecs() {
    let mut sim = Sim::with_transcoding(true);
    sim.send(alice(), a_invite("202", ""));
    // Alice's extension prefers PCMA; Bob's trunk does only G.722 and Opus.
    sim.route(decision(
        target_with(vec![Codec::g722(), Codec::opus()]),
        vec![Codec::pcma(), Codec::pcmu()],
    ));
    let invite = sim.one_request(phone(BOB), "INVITE");
    // Bob gets our own offer with his codecs, telephone-event at both rates.
    let offer = Session::parse_bytes(&invite.body).unwrap();
    let offered: Vec<String> = audio_codecs(&offer)
        .into_iter()
        .map(|(_, c)| c.name)
        .collect();
    assert_eq!(offered, vec!["G722", "opus"]);
    assert_eq!(offer.media[0].port, PORTS.b_port);
    let ok = bob_answers(
        &mut sim,
        &invite,
        "m=audio 6000 RTP/AVP 9 100\r\na=rtpmap:9 G722/8000\r\na=rtpmap:100 telephone-event/8000\r\n",
    );
    // Alice gets our answer: PCMA (her extension's preference) on our A port.
    let answer = Session::parse_bytes(&ok.body).unwrap();
    assert_eq!(answer.media[0].port, PORTS.a_port);
    assert_eq!(formats(&ok.body), vec!["8", "101"]);
    let transcode = sim
        .media
        .iter()
        .find_map(|m| match m {
            MediaInstruction::Transcode {
                a,
                b,
                a_remote,
                b_remote,
                ..
            } => Some((a.clone(), b.clone(), *a_remote, *b_remote)),
            _ => None,
        })
        .expect("a transcode instruction");
    assert_eq!(
        (
            transcode.0.codec.name.as_str(),
            transcode.0.payload_type.get()
        ),
        ("PCMA", 8)
    );
    assert_eq!(
        transcode
            .0
            .telephone_event
            .map(voip_sip::sdp::PayloadType::get),
        Some(101)
    );
    assert_eq!(
        (
            transcode.1.codec.name.as_str(),
            transcode.1.payload_type.get()
        ),
        ("G722", 9)
    );
    assert_eq!(
        transcode
            .1
            .telephone_event
            .map(voip_sip::sdp::PayloadType::get),
        Some(100)
    );
    assert_eq!(transcode.2, "192.0.2.1:4000".parse().unwrap());
    assert_eq!(transcode.3, "192.0.2.2:6000".parse().unwrap());
    assert!(
        !sim.media
            .iter()
            .any(|m| matches!(m, MediaInstruction::Relay { .. }))
    );

    // Bob hangs up: the summary records both codecs and that it transcoded.
    assert!(
        sim.events
            .iter()
            .any(|e| matches!(e, Event::CallAnswered { .. }))
    );
    let header = |name: HeaderName| invite.headers.get(&name).unwrap().to_owned();
    let bye = in_dialog(
        "BYE",
        "sip:b2bua@198.51.100.10:5060",
        &format!("{};tag=btag", header(HeaderName::TO)),
        &header(HeaderName::FROM),
        &header(HeaderName::CALL_ID),
        2,
        "z9hG4bKbobbye",
        None,
    );
    sim.send(phone(BOB), bye);
    let summary = sim.ended().expect("call ended");
    assert!(summary.transcoded);
    let codecs: Vec<Option<&str>> = summary.legs.iter().map(|l| l.codec.as_deref()).collect();
    assert_eq!(codecs, vec![Some("PCMA"), Some("G722")]);
}

/// An INFO from Bob in his dialog (built from the INVITE he got); `body`
/// has CRLF line ends.
fn bob_info(invite: &Request, cseq: u32, content_type: &str, body: &str) -> Request {
    // `parse` turns every LF into CRLF.
    let lf_body = body.replace("\r\n", "\n");
    let header = |name: HeaderName| invite.headers.get(&name).unwrap().to_owned();
    let text = format!(
        "INFO sip:b2bua@198.51.100.10:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKinfo{cseq}\n\
         Max-Forwards: 70\nFrom: {};tag=btag\nTo: {}\nCall-ID: {}\nCSeq: {cseq} INFO\n\
         Content-Type: {content_type}\nContent-Length: {}\n\n{body}",
        header(HeaderName::TO),
        header(HeaderName::FROM),
        header(HeaderName::CALL_ID),
        body.len(),
        body = lf_body,
    );
    match parse(&text) {
        voip_sip::message::SipMessage::Request(r) => r,
        voip_sip::message::SipMessage::Response(_) => unreachable!(),
    }
}

#[test]
fn info_dtmf_relay_on_a_transcoded_call_is_handed_to_the_media_engine_and_answered() {
    let mut sim = Sim::with_transcoding(true);
    sim.send(alice(), a_invite("202", ""));
    sim.route(decision(
        target_with(vec![Codec::g722()]),
        vec![Codec::pcma(), Codec::pcmu()],
    ));
    let invite = sim.one_request(phone(BOB), "INVITE");
    bob_answers(
        &mut sim,
        &invite,
        "m=audio 6000 RTP/AVP 9 100\r\na=rtpmap:9 G722/8000\r\na=rtpmap:100 telephone-event/8000\r\n",
    );
    sim.events.clear();
    let body = "Signal=5\r\nDuration=160\r\n";
    sim.send(
        phone(BOB),
        bob_info(&invite, 2, "application/dtmf-relay", body),
    );
    // Not forwarded to Alice as INFO: the engine turns it into RFC 4733.
    assert!(sim.take_requests(alice(), "INFO").is_empty());
    let (tx, from, got) = sim
        .events
        .iter()
        .find_map(|e| match e {
            Event::DtmfInfo { tx, from, body, .. } => Some((*tx, *from, body.clone())),
            _ => None,
        })
        .expect("a DtmfInfo event");
    assert_eq!(from, voip_sip::b2bua::Side::B);
    assert_eq!(got, body.as_bytes());
    assert!(
        sim.codes(phone(BOB), "INFO").is_empty(),
        "answered by the caller"
    );
    sim.b2b.answer_info(tx, 200);
    sim.pump();
    assert_eq!(sim.codes(phone(BOB), "INFO"), vec![200]);

    // Another body type: 415 with Accept, no event.
    sim.events.clear();
    sim.send(phone(BOB), bob_info(&invite, 3, "text/plain", "5"));
    let answers = sim.take_responses(phone(BOB), "INFO");
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].status.as_u16(), 415);
    assert_eq!(
        answers[0].headers.get(&HeaderName::ACCEPT),
        Some("application/dtmf-relay")
    );
    assert!(
        !sim.events
            .iter()
            .any(|e| matches!(e, Event::DtmfInfo { .. }))
    );
}

#[test]
fn info_on_a_relayed_call_is_forwarded_to_the_other_leg() {
    let mut sim = Sim::with_transcoding(true);
    sim.send(alice(), a_invite("202", ""));
    sim.route(decision(target_with(vec![Codec::pcma()]), Vec::new()));
    let invite = sim.one_request(phone(BOB), "INVITE");
    bob_answers(
        &mut sim,
        &invite,
        "m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
    );
    let body = "Signal=7\r\nDuration=100\r\n";
    sim.send(
        phone(BOB),
        bob_info(&invite, 2, "application/dtmf-relay", body),
    );
    let forwarded = sim.one_request(alice(), "INFO");
    assert_eq!(forwarded.body, body.as_bytes());
    assert_eq!(
        forwarded.headers.get(&HeaderName::CONTENT_TYPE),
        Some("application/dtmf-relay")
    );
    assert!(
        !sim.events
            .iter()
            .any(|e| matches!(e, Event::DtmfInfo { .. }))
    );
}
