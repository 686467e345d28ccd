//! RFC 4475 torture suite: every message, as a UDP datagram and through the
//! TCP stream framer, must produce the reaction our appliance (registrar +
//! UAS/B2BUA) is expected to take.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

use voip_sip::framing::{Frame, StreamFramer, parse_datagram};
use voip_sip::header::{CSeq, Contact, From, HeaderError, MaxForwards, To, Transport, Via};
use voip_sip::message::{HeaderName, Malformed, Method, Request, Response, SipMessage, StatusCode};
use voip_sip::uri::Uri;
use voip_sip::validate::{
    Capabilities, DropReason, Reaction, RejectCause, react_to_parse_error, validate_message,
};

/// Our decision for one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Parsed and handed to the core.
    Process,
    /// Stateless answer with this status.
    Reject(u16),
    /// Silently discarded.
    Drop,
}

/// Outcome over TCP when it differs from the datagram one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tcp {
    /// Same reaction as over UDP, one message, nothing left but keep-alive CRLFs.
    Same,
    /// Head (and possibly part of the body) buffered, waiting for more bytes; the
    /// transport closes on its idle timer.
    Incomplete,
    /// Framing error: answer this status and close the connection.
    Close(u16),
    /// dblreq: on a stream the "trailing" INVITE is a real second message; its
    /// body is 5 octets longer than its Content-Length, and the leftover `C`
    /// line is a framing error (400, close).
    TwoMessagesThenClose,
}

use Tcp::{Close, Incomplete, Same, TwoMessagesThenClose};
use Verdict::{Drop, Process, Reject};

/// Per-message verdicts. "liberal?" marks where the RFC allows accepting; the
/// choice made is in the verdict column.
const TABLE: &[(&str, Verdict, Tcp, &str)] = &[
    (
        "wsinv",
        Process,
        Same,
        "folding, odd case, escapes in quotes",
    ),
    (
        "intmeth",
        Reject(501),
        Same,
        "parses; unknown method -> 501 with Allow",
    ),
    ("esc01", Process, Same, ""),
    ("escnull", Process, Same, "two distinct contacts"),
    (
        "esc02",
        Reject(501),
        Same,
        "RE%47IST%45R is not REGISTER -> 501",
    ),
    ("lwsdisp", Process, Same, ""),
    ("longreq", Process, Same, ""),
    (
        "dblreq",
        Process,
        TwoMessagesThenClose,
        "UDP: trailing INVITE ignored",
    ),
    ("semiuri", Process, Same, ""),
    ("transports", Process, Same, "unknown transport kept"),
    (
        "mpart01",
        Reject(501),
        Same,
        "binary body framed by Content-Length; MESSAGE is not implemented -> 501",
    ),
    ("unreason", Process, Same, "response"),
    ("noreason", Process, Same, "response"),
    ("badinv01", Reject(400), Same, "empty Via/Contact params"),
    ("clerr", Reject(400), Incomplete, "UDP 400; TCP waits"),
    ("ncl", Reject(400), Close(400), "negative Content-Length"),
    (
        "scalar02",
        Reject(400),
        Same,
        "CSeq > 2^32-1; Max-Forwards/Expires saturate",
    ),
    ("scalarlg", Drop, Same, "response with overflowing CSeq"),
    ("quotbal", Reject(400), Same, ""),
    ("ltgtruri", Reject(400), Same, ""),
    ("lwsruri", Reject(400), Same, ""),
    ("lwsstart", Reject(400), Same, "liberal? chose strict"),
    ("trws", Reject(400), Same, "liberal? chose strict"),
    (
        "escruri",
        Reject(400),
        Same,
        "liberal? chose strict: no headers in Request-URI",
    ),
    ("baddate", Process, Same, "Date is not used"),
    (
        "regbadct",
        Reject(400),
        Same,
        "liberal? chose strict: '?' needs <>",
    ),
    (
        "badaspec",
        Reject(400),
        Same,
        "liberal? chose strict: no LWS inside <>",
    ),
    (
        "baddn",
        Reject(400),
        Incomplete,
        "archive file lacks the empty line: UDP 400, TCP waits",
    ),
    ("badvers", Reject(505), Same, ""),
    ("mismatch01", Reject(400), Same, ""),
    ("mismatch02", Reject(501), Same, "501 preferred over 400"),
    ("bigcode", Drop, Same, "response code > 699"),
    (
        "badbranch",
        Process,
        Same,
        "accepted; transaction layer matches by RFC 2543 rules",
    ),
    ("insuf", Reject(400), Same, "missing Call-ID/From/To"),
    ("unkscm", Reject(416), Same, ""),
    ("novelsc", Reject(416), Same, ""),
    (
        "unksm2",
        Reject(400),
        Same,
        "registrar: To is not a SIP AOR",
    ),
    (
        "bext01",
        Reject(420),
        Same,
        "Unsupported lists the Require tags",
    ),
    (
        "invut",
        Process,
        Same,
        "415 is the UAS core's decision (Content-Type exposed)",
    ),
    (
        "regaut01",
        Process,
        Same,
        "401 is the registrar's auth decision",
    ),
    (
        "multi01",
        Reject(400),
        Same,
        "duplicate single-value headers",
    ),
    ("mcl01", Reject(400), Close(400), "multiple Content-Length"),
    (
        "bcast",
        Drop,
        Same,
        "two Via values in a response (RFC 3261 8.1.3.3)",
    ),
    ("zeromf", Process, Same, "endpoint: Max-Forwards 0 is fine"),
    ("cparam01", Process, Same, ""),
    ("cparam02", Process, Same, ""),
    ("regescrt", Process, Same, ""),
    (
        "sdp01",
        Process,
        Same,
        "406 is the UAS core's decision (Accept exposed)",
    ),
    (
        "inv2543",
        Process,
        Close(400),
        "UDP: body = rest of datagram; TCP: Content-Length is mandatory",
    ),
];

fn caps() -> Capabilities {
    Capabilities::default()
}

fn verdict_of(r: &Reaction) -> Verdict {
    match r {
        Reaction::Process => Process,
        Reaction::Reject(rej) => Reject(rej.status.as_u16()),
        Reaction::Drop(_) => Drop,
    }
}

fn udp(bytes: &[u8]) -> (Reaction, Option<SipMessage>) {
    match parse_datagram(bytes) {
        Frame::Message(m) => (validate_message(&m, &caps()), Some(m)),
        Frame::Invalid(e) => (react_to_parse_error(&e), None),
        other => panic!("unexpected keep-alive frame {other:?}"),
    }
}

fn row(tag: &str) -> (Verdict, Tcp) {
    let r = TABLE
        .iter()
        .find(|r| r.0 == tag)
        .unwrap_or_else(|| panic!("no table row for {tag}"));
    (r.1, r.2)
}

fn request(tag: &str) -> Request {
    match SipMessage::parse(&common::message(tag)).unwrap() {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("{tag} is a response"),
    }
}

fn response(tag: &str) -> Response {
    match SipMessage::parse(&common::message(tag)).unwrap() {
        SipMessage::Response(r) => r,
        SipMessage::Request(_) => panic!("{tag} is a request"),
    }
}

#[test]
fn table_covers_expected_json_and_files_are_intact() {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::data_dir().join("expected.json")).unwrap())
            .unwrap();
    let entries = json.as_array().unwrap();
    assert_eq!(entries.len(), 49);
    assert_eq!(TABLE.len(), 49);
    for e in entries {
        let tag = e["tag"].as_str().unwrap();
        row(tag);
        let bytes = common::message(tag);
        assert_eq!(
            bytes.len() as u64,
            e["bytes"].as_u64().unwrap(),
            "{tag} size"
        );
        let kind = e["kind"].as_str().unwrap();
        let first = bytes.split(|b| *b == b' ').next().unwrap();
        assert_eq!(first == b"SIP/2.0", kind == "response", "{tag} kind");
    }
}

#[test]
fn every_message_over_udp_gets_its_verdict() {
    let mut failures = Vec::new();
    for (tag, bytes) in common::corpus() {
        let (want, _) = row(&tag);
        let (reaction, _) = udp(&bytes);
        if verdict_of(&reaction) != want {
            failures.push(format!("{tag}: want {want:?}, got {reaction:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(Debug, PartialEq)]
enum Event {
    Msg(Verdict),
    Ping,
    Pong,
    Fatal(u16),
}

fn run_stream(chunks: &mut dyn Iterator<Item = &[u8]>) -> (Vec<Event>, usize) {
    let mut f = StreamFramer::default();
    let mut events = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(r) = f.poll_message() {
            events.push(match r {
                Ok(Frame::Message(m)) => Event::Msg(verdict_of(&validate_message(&m, &caps()))),
                Ok(Frame::Invalid(e)) => Event::Msg(verdict_of(&react_to_parse_error(&e))),
                Ok(Frame::Ping) => Event::Ping,
                Ok(Frame::Pong) => Event::Pong,
                Err(e) => {
                    assert!(e.malformed.breaks_framing(), "{e:?}");
                    Event::Fatal(e.malformed.status().as_u16())
                }
            });
        }
    }
    (events, f.buffered())
}

#[test]
fn every_message_over_tcp_byte_by_byte_and_in_one_chunk() {
    let mut failures = Vec::new();
    for (tag, bytes) in common::corpus() {
        let (udp_verdict, tcp) = row(&tag);
        let whole = run_stream(&mut std::iter::once(bytes.as_slice()));
        let bytewise = run_stream(&mut bytes.chunks(1));
        if whole != bytewise {
            failures.push(format!(
                "{tag}: chunking changes outcome: {whole:?} vs {bytewise:?}"
            ));
            continue;
        }
        let (events, left) = whole;
        let ok = match tcp {
            Same => {
                let msgs: Vec<_> = events
                    .iter()
                    .filter(|e| !matches!(e, Event::Pong | Event::Ping))
                    .collect();
                // Only stray CRLFs may remain buffered.
                msgs == vec![&Event::Msg(udp_verdict)] && left <= 2
            }
            TwoMessagesThenClose => {
                events
                    == vec![
                        Event::Msg(Process),
                        Event::Pong,
                        Event::Msg(Process),
                        Event::Fatal(400),
                    ]
            }
            Incomplete => events.is_empty() && left == bytes.len(),
            Close(status) => events == vec![Event::Fatal(status)],
        };
        if !ok {
            failures.push(format!(
                "{tag}: want {udp_verdict:?}/{tcp:?}, got {events:?} with {left} octets left"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn baddn_variant_with_final_crlf_is_rejected_for_the_display_name() {
    let bytes =
        std::fs::read(common::data_dir().join("variants/baddn.crlf-terminated.dat")).unwrap();
    let Frame::Message(m) = parse_datagram(&bytes) else {
        panic!("variant must frame")
    };
    let r = validate_message(&m, &caps());
    assert_eq!(
        r,
        Reaction::Reject(voip_sip::validate::Rejection {
            status: StatusCode::BAD_REQUEST,
            cause: RejectCause::Malformed(Malformed::BadHeaderValue { name: "From" }),
            headers: vec![],
        })
    );
    let (events, left) = run_stream(&mut bytes.chunks(1));
    assert_eq!((events, left), (vec![Event::Msg(Reject(400))], 0));
    // The archive file itself is unterminated: 400 over UDP, with headers for the answer.
    let Frame::Invalid(e) = parse_datagram(&common::message("baddn")) else {
        panic!()
    };
    assert_eq!(e.malformed, Malformed::UnterminatedHead);
    assert!(e.headers.unwrap().contains(&HeaderName::VIA));
}

#[test]
fn wsinv_is_unfolded_and_typed_values_parse() {
    let r = request("wsinv");
    assert_eq!(r.method, Method::INVITE);
    let h = &r.headers;
    let to = h.typed::<To>().unwrap().unwrap();
    assert_eq!(to.tag(), Some("1918181833n"));
    let from = h.typed::<From>().unwrap().unwrap();
    assert_eq!(from.display_name.as_deref(), Some(r#"J Rosenberg \""#));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(h.typed::<MaxForwards>().unwrap().unwrap(), MaxForwards(68));
    assert_eq!(
        h.typed::<CSeq>().unwrap().unwrap(),
        CSeq {
            seq: 9,
            method: Method::INVITE
        }
    );
    let vias: Vec<Via> = h.typed_all::<Via>().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].transport, Transport::Udp);
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    let Contact::Address(c) = h.typed::<Contact>().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(c.display_name.as_deref(), Some(r#"Quoted string """#));
    assert_eq!(c.q(), Some(330));
    assert_eq!(
        c.param("newparam").unwrap().value.as_deref(),
        Some("newvalue")
    );
    assert_eq!(h.get(&HeaderName::SUBJECT), Some(""));
    assert_eq!(
        h.get(&HeaderName::new("newfangledheader").unwrap()),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(r.body.len(), 150);
}

#[test]
fn intmeth_and_esc02_expose_unknown_methods() {
    let r = request("intmeth");
    assert_eq!(
        r.method.as_str(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );
    assert!(!r.method.is_known());
    let to = r.headers.typed::<To>().unwrap().unwrap();
    assert_eq!(to.display_name.as_deref(), Some("BEL:\x07 NUL:\0 DEL:\x7f"));
    let Reaction::Reject(rej) = validate_message(&SipMessage::Request(r), &caps()) else {
        panic!()
    };
    assert_eq!(rej.cause, RejectCause::MethodNotImplemented);
    assert_eq!(rej.headers[0].0, HeaderName::ALLOW);
    assert!(rej.headers[0].1.starts_with("INVITE, ACK, BYE"));

    let r = request("esc02");
    assert_eq!(r.method.as_str(), "RE%47IST%45R");
    assert_ne!(r.method, Method::REGISTER);
    assert_eq!(r.headers.typed_all::<Contact>().count(), 2);
    assert_eq!(
        r.headers.get(&HeaderName::new("C%6Fntact").unwrap()),
        Some("<sip:alias2@host2.example.com>")
    );
}

#[test]
fn escapes_are_decoded_only_for_comparison() {
    let r = request("esc01");
    let ruri = r.uri.as_sip().unwrap();
    assert_eq!(ruri.user.as_deref(), Some("sips%3Auser%40example.com"));
    assert_eq!(ruri.user_unescaped().unwrap(), b"sips:user@example.com");
    let to = r.headers.typed::<To>().unwrap().unwrap();
    assert_eq!(to.uri.as_sip().unwrap().user_unescaped().unwrap(), b"user");

    let r = request("escnull");
    let users: Vec<Vec<u8>> = r
        .headers
        .typed_all::<Contact>()
        .map(|c| match c.unwrap() {
            Contact::Address(a) => a.uri.as_sip().unwrap().user_unescaped().unwrap(),
            Contact::Wildcard => panic!(),
        })
        .collect();
    assert_eq!(users, vec![vec![0u8], vec![0u8, 0u8]]);
}

#[test]
fn semiuri_user_part_keeps_its_semicolon() {
    let r = request("semiuri");
    assert_eq!(
        r.uri.as_sip().unwrap().user.as_deref(),
        Some("user;par=u%40example.net")
    );
    assert!(r.uri.as_sip().unwrap().params.is_empty());
    assert_eq!(r.headers.values(&HeaderName::ACCEPT).count(), 6);
}

#[test]
fn transports_keep_unknown_via_transport() {
    let r = request("transports");
    let t: Vec<Transport> = r
        .headers
        .typed_all::<Via>()
        .map(|v| v.unwrap().transport)
        .collect();
    assert_eq!(
        t,
        vec![
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other("UNKNOWN".into()),
            Transport::Tcp
        ]
    );
}

#[test]
fn mpart01_binary_body_with_nuls_is_framed_by_content_length() {
    let r = request("mpart01");
    assert_eq!(r.body.len(), 553);
    assert!(r.body.contains(&0));
    assert!(r.body.ends_with(b"--7a9cbec02ceef655--\r\n"));
}

#[test]
fn dblreq_ignores_trailing_octets_of_the_datagram() {
    let r = request("dblreq");
    assert_eq!(r.method, Method::REGISTER);
    assert!(r.body.is_empty());
}

#[test]
fn inv2543_without_content_length_takes_rest_of_datagram() {
    let r = request("inv2543");
    assert!(r.body.starts_with(b"v=0"));
    assert!(!r.headers.contains(&HeaderName::MAX_FORWARDS));
    let via = r.headers.typed::<Via>().unwrap().unwrap();
    assert_eq!(via.branch(), None);
}

#[test]
fn responses_keep_odd_reason_phrases() {
    assert_eq!(response("noreason").reason, "");
    assert_eq!(response("noreason").status, StatusCode::TRYING);
    let r = response("unreason");
    assert!(r.reason.starts_with("= 2**3 * 5**2 "));
    assert!(r.reason.contains("но"));
}

#[test]
fn overflowing_scalars() {
    let r = request("scalar02");
    assert_eq!(
        r.headers.typed::<CSeq>().unwrap(),
        Err(HeaderError::Overflow { header: "CSeq" })
    );
    assert_eq!(
        r.headers.typed::<MaxForwards>().unwrap().unwrap(),
        MaxForwards(255)
    );
    let (reaction, _) = udp(&common::message("scalarlg"));
    assert_eq!(
        reaction,
        Reaction::Drop(DropReason::MalformedResponse(Malformed::BadHeaderValue {
            name: "CSeq"
        }))
    );
    let Frame::Invalid(e) = parse_datagram(&common::message("bigcode")) else {
        panic!()
    };
    assert_eq!(e.malformed, Malformed::BadStatusCode);
}

#[test]
fn unknown_schemes_parse_as_other_uris() {
    assert_eq!(request("unkscm").uri.scheme(), "nobodyKnowsThisScheme");
    assert!(matches!(request("novelsc").uri, Uri::Other { .. }));
    let r = request("unksm2");
    assert!(
        matches!(&r.headers.typed::<To>().unwrap().unwrap().uri, Uri::Other { scheme, .. } if scheme == "isbn")
    );
    let Reaction::Reject(rej) = validate_message(&SipMessage::Request(r), &caps()) else {
        panic!()
    };
    assert_eq!(rej.cause, RejectCause::InvalidAddressOfRecord);
}

#[test]
fn bext01_lists_unsupported_require_tags() {
    let Reaction::Reject(rej) = udp(&common::message("bext01")).0 else {
        panic!()
    };
    assert_eq!(rej.status, StatusCode::BAD_EXTENSION);
    assert_eq!(
        rej.headers,
        vec![(
            HeaderName::UNSUPPORTED,
            "nothingSupportsThis, nothingSupportsThisEither".to_owned()
        )]
    );
}

#[test]
fn mismatch_and_version_causes() {
    let cause = |tag: &str| match udp(&common::message(tag)).0 {
        Reaction::Reject(r) => r.cause,
        other => panic!("{tag}: {other:?}"),
    };
    assert_eq!(
        cause("mismatch01"),
        RejectCause::Malformed(Malformed::CSeqMethodMismatch)
    );
    assert_eq!(cause("mismatch02"), RejectCause::MethodNotImplemented);
    assert_eq!(cause("badvers"), RejectCause::VersionNotSupported);
    assert_eq!(
        cause("multi01"),
        RejectCause::Malformed(Malformed::DuplicateHeader { name: "To" })
    );
    assert_eq!(
        cause("insuf"),
        RejectCause::Malformed(Malformed::MissingHeader { name: "From" })
    );
    assert_eq!(
        cause("mcl01"),
        RejectCause::Malformed(Malformed::MultipleContentLength)
    );
    assert_eq!(
        cause("ncl"),
        RejectCause::Malformed(Malformed::BadContentLength)
    );
    assert_eq!(
        cause("clerr"),
        RejectCause::Malformed(Malformed::ContentLengthExceedsDatagram)
    );
    assert_eq!(
        cause("escruri"),
        RejectCause::Malformed(Malformed::RequestUriHeaders)
    );
    assert_eq!(cause("unkscm"), RejectCause::UnsupportedUriScheme);
    assert_eq!(
        udp(&common::message("bcast")).0,
        Reaction::Drop(DropReason::ViaCount)
    );
}

#[test]
fn parse_errors_keep_headers_for_a_stateless_answer() {
    for tag in [
        "ltgtruri", "lwsruri", "lwsstart", "trws", "ncl", "mcl01", "clerr",
    ] {
        let Frame::Invalid(e) = parse_datagram(&common::message(tag)) else {
            panic!("{tag}")
        };
        let h = e.headers.unwrap_or_else(|| panic!("{tag}: no headers"));
        assert!(
            h.contains(&HeaderName::VIA) && h.contains(&HeaderName::CSEQ),
            "{tag}"
        );
    }
}

#[test]
fn register_contact_params_go_to_the_right_place() {
    let contact = |tag: &str| match request(tag).headers.typed::<Contact>().unwrap().unwrap() {
        Contact::Address(a) => a,
        Contact::Wildcard => panic!(),
    };
    let c1 = contact("cparam01");
    assert!(c1.param("unknownparam").is_some());
    assert!(c1.uri.as_sip().unwrap().param("unknownparam").is_none());
    let c2 = contact("cparam02");
    assert!(c2.params.is_empty());
    assert!(c2.uri.as_sip().unwrap().param("unknownparam").is_some());
    let c3 = contact("regescrt");
    assert_eq!(
        c3.uri.as_sip().unwrap().headers,
        vec![("Route".to_owned(), "%3Csip:sip.example.com%3E".to_owned())]
    );
}

#[test]
fn core_decisions_have_their_inputs_exposed() {
    assert_eq!(
        request("invut").headers.get(&HeaderName::CONTENT_TYPE),
        Some("application/unknownformat")
    );
    assert_eq!(
        request("sdp01").headers.get(&HeaderName::ACCEPT),
        Some("text/nobodyKnowsThis")
    );
    assert_eq!(
        request("regaut01").headers.get(&HeaderName::AUTHORIZATION),
        Some("NoOneKnowsThisScheme opaque-data=here")
    );
    assert_eq!(
        request("zeromf")
            .headers
            .typed::<MaxForwards>()
            .unwrap()
            .unwrap(),
        MaxForwards(0)
    );
    assert_eq!(
        request("lwsdisp")
            .headers
            .typed::<From>()
            .unwrap()
            .unwrap()
            .display_name
            .as_deref(),
        Some("caller")
    );
}

#[test]
fn serialised_messages_round_trip() {
    for (tag, bytes) in common::corpus() {
        let Ok(m) = SipMessage::parse(&bytes) else {
            continue;
        };
        let once = m.to_bytes();
        let again =
            SipMessage::parse(&once).unwrap_or_else(|e| panic!("{tag}: reparse failed: {e:?}"));
        assert_eq!(
            again.to_bytes(),
            once,
            "{tag}: serialisation is not canonical"
        );
        assert_eq!(again.body(), m.body(), "{tag}");
        let strip = |m: &SipMessage| {
            m.headers()
                .iter()
                .filter(|h| h.name != HeaderName::CONTENT_LENGTH)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&again), strip(&m), "{tag}");
        let cl = again.headers().get(&HeaderName::CONTENT_LENGTH).unwrap();
        assert_eq!(cl, m.body().len().to_string(), "{tag}");
        match (&m, &again) {
            (SipMessage::Request(a), SipMessage::Request(b)) => {
                assert_eq!(
                    (&a.method, &a.uri, a.version),
                    (&b.method, &b.uri, b.version),
                    "{tag}"
                );
            }
            (SipMessage::Response(a), SipMessage::Response(b)) => {
                assert_eq!((a.status, &a.reason), (b.status, &b.reason), "{tag}");
            }
            _ => panic!("{tag}: kind changed"),
        }
    }
}
