//! SDP parser and serialiser against real bodies (RFC 4475, RFC 8866, `SIPp`,
//! baresip, Chrome, Asterisk, a carrier SBC) and hand-made faults.
// Reason: test helpers outside #[test] fns may unwrap; a panic is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use voip_sip::sdp::{
    Attribute, Direction, Limits, MediaType, ParseError, PayloadType, Proto, Session, Setup,
};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sdp")
}

fn load(name: &str) -> String {
    std::fs::read_to_string(data_dir().join(name)).unwrap()
}

/// Every valid SDP in the corpus (files not starting with `invalid-`).
fn valid_corpus() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.to_ascii_lowercase().ends_with(".sdp") && !n.starts_with("invalid-"))
        .map(|n| {
            let text = load(&n);
            (n, text)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 13, "corpus went missing: {}", out.len());
    out
}

fn pt(n: u8) -> PayloadType {
    PayloadType::new(n).unwrap()
}

#[test]
fn every_corpus_sdp_serialises_back_byte_for_byte_with_crlf() {
    for (name, text) in valid_corpus() {
        let session = Session::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = text.replace("\r\n", "\n").replace('\n', "\r\n");
        assert_eq!(session.to_string(), expected, "{name}");
    }
}

#[test]
fn every_corpus_sdp_reparses_to_the_same_model() {
    for (name, text) in valid_corpus() {
        let first = Session::parse(&text).unwrap();
        let second = Session::parse(&first.to_string()).unwrap();
        assert_eq!(first, second, "{name}");
    }
}

#[test]
fn rfc4475_sdp_keeps_an_rtpmap_without_clock_rate_verbatim() {
    let s = Session::parse(&load("rfc4475-sdp01.sdp")).unwrap();
    assert_eq!(s.media.len(), 2);
    let video = &s.media[1];
    assert_eq!(video.media, MediaType::Video);
    assert_eq!(
        video.attributes,
        vec![Attribute::Other {
            name: "rtpmap".into(),
            value: Some("31 LPC".into())
        }]
    );
    // No usable rtpmap, so the static table applies.
    assert_eq!(video.codecs()[0].1.name, "H261");
    let audio: Vec<_> = s.media[0]
        .codecs()
        .into_iter()
        .map(|(p, c)| (p, c.name))
        .collect();
    assert_eq!(
        audio,
        vec![(pt(0), "PCMU".into()), (pt(12), "QCELP".into())]
    );
}

#[test]
fn sipp_default_offer_is_pcmu_on_the_media_port() {
    let s = Session::parse(&load("sipp-uac-offer.sdp")).unwrap();
    assert_eq!(s.origin.username, "user1");
    assert_eq!(s.origin.session_version, 2_353_687_637);
    let m = &s.media[0];
    assert_eq!((m.port, &m.proto), (6000, &Proto::RtpAvp));
    assert_eq!(m.connection(&s).unwrap().address, "127.0.0.1");
    let codecs = m.codecs();
    assert_eq!(codecs.len(), 1);
    assert_eq!(
        (
            codecs[0].0,
            codecs[0].1.name.as_str(),
            codecs[0].1.clock_rate
        ),
        (pt(0), "PCMU", 8000)
    );
}

#[test]
fn baresip_offer_with_lf_line_ends_yields_all_codecs_in_order() {
    let s = Session::parse(&load("baresip-offer-lf.sdp")).unwrap();
    let m = &s.media[0];
    let got: Vec<(u8, String, u32, u16)> = m
        .codecs()
        .into_iter()
        .map(|(p, c)| (p.get(), c.name, c.clock_rate, c.channels))
        .collect();
    let want = [
        (96, "opus", 48000, 2),
        (9, "G722", 8000, 1),
        (0, "PCMU", 8000, 1),
        (8, "PCMA", 8000, 1),
        (101, "telephone-event", 8000, 1),
        (102, "telephone-event", 48000, 1),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|&(p, n, r, c)| (p, n.to_owned(), r, c))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        m.codecs()[0].1.fmtp.as_deref(),
        Some("stereo=1;sprop-stereo=1")
    );
    assert!(m.rtcp_mux());
    assert_eq!(m.ptime(), Some(20));
    assert_eq!(m.direction(), Some(Direction::SendRecv));
    assert_eq!(s.media[0].bandwidths[0].value, 128);
}

#[test]
fn chrome_offer_exposes_ice_dtls_and_ssrc_attributes() {
    let s = Session::parse(&load("chrome-webrtc-offer.sdp")).unwrap();
    assert_eq!(s.origin.session_id, "4611731400430051336");
    assert!(s.connection.is_none());
    let m = &s.media[0];
    assert_eq!(m.proto, Proto::UdpTlsRtpSavpf);
    assert!(m.proto.is_rtp() && !m.proto.is_plain_rtp());
    let candidates: Vec<_> = m
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Candidate(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(candidates.len(), 3);
    assert_eq!(candidates[1].kind, "srflx");
    assert_eq!(
        candidates[1].related_address.as_deref(),
        Some("192.168.0.196")
    );
    assert_eq!(candidates[1].related_port, Some(46243));
    assert_eq!(
        candidates[2].extensions[0],
        ("tcptype".to_owned(), "active".to_owned())
    );
    assert!(matches!(m.attribute("ice-ufrag"), Some(Attribute::IceUfrag(u)) if u == "EsAw"));
    assert!(
        matches!(m.attribute("ice-options"), Some(Attribute::IceOptions(o)) if o == &["trickle"])
    );
    assert!(
        matches!(m.attribute("fingerprint"), Some(Attribute::Fingerprint(f)) if f.hash_function == "sha-256")
    );
    assert!(matches!(
        m.attribute("setup"),
        Some(Attribute::Setup(Setup::ActPass))
    ));
    assert!(matches!(m.attribute("mid"), Some(Attribute::Mid(x)) if x == "0"));
    let ssrcs = m
        .attributes
        .iter()
        .filter(|a| matches!(a, Attribute::Ssrc(s) if s.ssrc == 3_570_614_608))
        .count();
    assert_eq!(ssrcs, 2);
    let rtcp = m.rtcp().unwrap();
    assert_eq!(
        (
            rtcp.port,
            rtcp.connection.as_ref().unwrap().address.as_str()
        ),
        (9, "0.0.0.0")
    );
    let te: Vec<_> = m
        .codecs()
        .into_iter()
        .filter(|(_, c)| c.is_telephone_event())
        .map(|(p, c)| (p.get(), c.clock_rate))
        .collect();
    assert_eq!(te, vec![(110, 48000), (126, 8000)]);
    // Unknown attributes keep their order and exact text.
    let names: Vec<&str> = s.attributes.iter().map(Attribute::name).collect();
    assert_eq!(names, ["group", "extmap-allow-mixed", "msid-semantic"]);
    assert!(s.to_string().contains("a=msid-semantic: WMS 5a1b2c3d"));
}

#[test]
fn media_direction_overrides_session_direction() {
    let body = |session: &str, media: &str| {
        format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{session}m=audio 4000 RTP/AVP 0\r\n{media}"
        )
    };
    let cases = [
        ("", "", Direction::SendRecv),
        ("a=sendonly\r\n", "", Direction::SendOnly),
        ("a=inactive\r\n", "a=sendrecv\r\n", Direction::SendRecv),
        ("a=sendrecv\r\n", "a=recvonly\r\n", Direction::RecvOnly),
        ("", "a=inactive\r\n", Direction::Inactive),
    ];
    for (session, media, want) in cases {
        let s = Session::parse(&body(session, media)).unwrap();
        assert_eq!(
            s.media[0].effective_direction(&s),
            want,
            "{session:?} {media:?}"
        );
    }
}

#[test]
fn carrier_hold_inherits_session_sendonly_and_uses_media_connection() {
    let s = Session::parse(&load("carrier-hold-reinvite.sdp")).unwrap();
    let m = &s.media[0];
    assert_eq!(m.direction(), None);
    assert_eq!(m.effective_direction(&s), Direction::SendOnly);
    assert_eq!(m.connection(&s).unwrap().address, "203.0.113.50");
    assert_eq!(m.rtcp().unwrap().port, 31001);
    assert_eq!(
        m.fmtp(pt(18)).unwrap().pairs().collect::<Vec<_>>(),
        [("annexb", "no")]
    );
}

#[test]
fn multicast_connection_port_count_repeat_zone_and_key_lines_are_modelled() {
    let s = Session::parse(&load("rfc8866-multicast-repeat.sdp")).unwrap();
    let c = s.connection.as_ref().unwrap();
    assert_eq!(
        (c.address.as_str(), c.ttl, c.count),
        ("224.2.17.12", Some(127), None)
    );
    assert_eq!(s.timing[0].repeats, ["7d 1h 0 25h"]);
    assert_eq!(s.time_zones.as_deref(), Some("2882844526 -1h 2898848070 0"));
    assert_eq!(s.media[1].port_count, Some(2));
    assert_eq!(s.direction(), Some(Direction::RecvOnly));
    let c6 =
        Session::parse("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ff15::101/3\r\nt=0 0\r\n")
            .unwrap();
    let c6 = c6.connection.unwrap();
    assert_eq!((c6.ttl, c6.count), (None, Some(3)));
}

#[test]
fn secrets_and_personal_data_never_appear_in_debug_output() {
    let samples = [
        (
            "sdes-srtp-offer.sdp",
            "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        ),
        ("sdes-srtp-offer.sdp", "NzB4d1BINUAvLEw6UzF3WSJ"),
        ("chrome-webrtc-offer.sdp", "bP+XJMM09aR8AiX1jdukzR6Y"),
        ("rfc8866-example.sdp", "jane@jdoe.example.com"),
        ("rfc8866-example.sdp", "617 555-6011"),
        ("rfc8866-multicast-repeat.sdp", "not-a-real-key"),
    ];
    for (file, secret) in samples {
        let s = Session::parse(&load(file)).unwrap();
        assert!(!format!("{s:?}").contains(secret), "{file} leaks in Debug");
        assert!(
            !format!("{s:#?}").contains(secret),
            "{file} leaks in pretty Debug"
        );
        assert!(
            s.to_string().contains(secret),
            "{file}: serialiser must keep it"
        );
    }
}

#[test]
fn sdes_crypto_lines_are_parsed_with_tag_suite_and_session_params() {
    let s = Session::parse(&load("sdes-srtp-offer.sdp")).unwrap();
    let m = &s.media[0];
    assert_eq!(m.proto, Proto::RtpSavp);
    let c: Vec<_> = m.crypto().collect();
    assert_eq!(c.len(), 2);
    assert_eq!(
        (c[0].tag, c[0].suite.as_str()),
        (1, "AES_CM_128_HMAC_SHA1_80")
    );
    assert!(c[0].key_params.expose().starts_with("inline:PS1u"));
    assert_eq!(c[1].session_params, ["KDR=1", "UNENCRYPTED_SRTCP"]);
    let rtcp = m.rtcp().unwrap();
    assert_eq!(rtcp.connection.as_ref().unwrap().addr_type, "IP6");
}

#[test]
fn tolerates_lf_trailing_whitespace_and_blank_lines() {
    let messy = "v=0 \no=- 1 2 IN IP4 192.0.2.1\t\r\n\ns=- \r\nc=IN IP4 192.0.2.1\nt=0 0\r\nm=audio 4000 RTP/AVP 0 \r\na=rtpmap:0 PCMU/8000  \r\n\r\n\r\n";
    let clean = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    assert_eq!(
        Session::parse(messy).unwrap(),
        Session::parse(clean).unwrap()
    );
    assert_eq!(Session::parse(messy).unwrap().to_string(), clean);
}

const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

#[test]
fn structural_faults_are_typed_errors() {
    let no_c = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let cases: Vec<(String, ParseError)> = vec![
        (String::new(), ParseError::Empty),
        ("\r\n\r\n".into(), ParseError::Empty),
        (
            "o=- 1 1 IN IP4 h\r\nv=0\r\n".into(),
            ParseError::MissingVersion,
        ),
        ("v=1\r\n".into(), ParseError::BadVersion { line: 1 }),
        (
            "v=0\r\ns=-\r\nt=0 0\r\n".into(),
            ParseError::MissingLine { kind: 'o' },
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n".into(),
            ParseError::MissingLine { kind: 's' },
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n".into(),
            ParseError::MissingLine { kind: 't' },
        ),
        (
            no_c.into(),
            ParseError::MissingConnection { media_index: 1 },
        ),
        (
            format!("{HEAD}m=audio 65536 RTP/AVP 0\r\n"),
            ParseError::BadPort { line: 6 },
        ),
        (
            format!("{HEAD}m=audio -1 RTP/AVP 0\r\n"),
            ParseError::BadPort { line: 6 },
        ),
        (
            format!("{HEAD}m=audio 4000/x RTP/AVP 0\r\n"),
            ParseError::BadPort { line: 6 },
        ),
        (
            format!("{HEAD}m=audio 4000 RTP/AVP 128\r\n"),
            ParseError::BadPayloadType { line: 6 },
        ),
        (
            format!("{HEAD}m=audio 4000 RTP/AVP PCMU\r\n"),
            ParseError::BadPayloadType { line: 6 },
        ),
        (
            format!("{HEAD}m=audio 4000 RTP/SAVPF 0 +8\r\n"),
            ParseError::BadPayloadType { line: 6 },
        ),
        (
            format!("{HEAD}m=audio 4000 RTP/AVP\r\n"),
            ParseError::BadMedia { line: 6 },
        ),
        (
            format!("{HEAD}m=audio\r\n"),
            ParseError::BadMedia { line: 6 },
        ),
        (
            format!("{HEAD}x=whatever\r\n"),
            ParseError::UnknownLineType { line: 6 },
        ),
        (
            format!("{HEAD}m =audio 4000 RTP/AVP 0\r\n"),
            ParseError::MalformedLine { line: 6 },
        ),
        (
            format!("{HEAD}just text\r\n"),
            ParseError::MalformedLine { line: 6 },
        ),
        (
            format!("{HEAD}o=- 1 1 IN IP4 h\r\n"),
            ParseError::Duplicate { line: 6, kind: 'o' },
        ),
        (
            format!("{HEAD}v=0\r\n"),
            ParseError::Duplicate { line: 6, kind: 'v' },
        ),
        (
            format!("{HEAD}m=audio 4000 RTP/AVP 0\r\nt=0 0\r\n"),
            ParseError::Misplaced { line: 7, kind: 't' },
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nr=1d 1h 0\r\nt=0 0\r\n".into(),
            ParseError::Misplaced { line: 4, kind: 'r' },
        ),
        (
            "v=0\r\no=- x 1 IN IP4 h\r\n".into(),
            ParseError::BadOrigin { line: 2 },
        ),
        (
            "v=0\r\no=- 1 1 IN IP4\r\n".into(),
            ParseError::BadOrigin { line: 2 },
        ),
        (
            "v=0\r\nc=IN IP4\r\n".into(),
            ParseError::BadConnection { line: 2 },
        ),
        (
            "v=0\r\nc=IN IP4 224.0.0.1/300\r\n".into(),
            ParseError::BadConnection { line: 2 },
        ),
        (
            "v=0\r\nc=IN IP6 ff15::1/3/4\r\n".into(),
            ParseError::BadConnection { line: 2 },
        ),
        (
            "v=0\r\nb=AS\r\n".into(),
            ParseError::BadBandwidth { line: 2 },
        ),
        (
            "v=0\r\nb=AS:lots\r\n".into(),
            ParseError::BadBandwidth { line: 2 },
        ),
        (
            "v=0\r\nt=now 0\r\n".into(),
            ParseError::BadTiming { line: 2 },
        ),
        (
            format!("{HEAD}a=\r\n"),
            ParseError::BadAttribute { line: 6 },
        ),
        (
            format!("{HEAD}a=:value\r\n"),
            ParseError::BadAttribute { line: 6 },
        ),
    ];
    for (body, want) in cases {
        assert_eq!(Session::parse(&body), Err(want), "{body:?}");
    }
}

#[test]
fn invalid_rfc4475_bodies_fail_with_the_expected_error() {
    let cases = [
        (
            "invalid-rfc4475-mismatch02-missing-s-and-t.sdp",
            ParseError::MissingLine { kind: 's' },
        ),
        (
            "invalid-rfc4475-dblreq-space-before-equals.sdp",
            ParseError::MalformedLine { line: 7 },
        ),
    ];
    for (file, want) in cases {
        assert_eq!(Session::parse(&load(file)), Err(want), "{file}");
    }
}

#[test]
fn lenient_cases_parse() {
    let cases = [
        // A rejected stream may omit c= even without a session-level one.
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=video 0 RTP/AVP 31\r\n",
        // Non-RTP formats are free tokens.
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=application 9 UDP/BFCP *\r\n",
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=image 9 udptl t38\r\n",
        // Session-level fields in an unusual order.
        "v=0\r\ns=-\r\nt=0 0\r\no=- 1 1 IN IP4 h\r\n",
    ];
    for body in cases {
        let s = Session::parse(body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
        assert_eq!(Session::parse(&s.to_string()).unwrap(), s);
    }
}

#[test]
fn malformed_known_attributes_are_kept_verbatim_as_other() {
    for line in [
        "rtpmap:96 opus",
        "rtpmap:200 PCMU/8000",
        "ptime:twenty",
        "setup:sometimes",
        "candidate:1 1 udp 2 192.0.2.1 9 host",
        "crypto:1 AES_CM_128_HMAC_SHA1_80",
        "rtcp:9 IN IP4",
        "ice-options:trickle  renomination",
    ] {
        let body = format!("{HEAD}m=audio 4000 RTP/AVP 0\r\na={line}\r\n");
        let s = Session::parse(&body).unwrap();
        let a = &s.media[0].attributes[0];
        assert!(matches!(a, Attribute::Other { .. }), "{line}: {a:?}");
        assert_eq!(a.to_string(), line);
    }
}

#[test]
fn limits_bound_size_lines_and_media_sections() {
    let limits = Limits {
        max_bytes: 200,
        max_lines: 10,
        max_media: 2,
    };
    let big = format!("{HEAD}a={}\r\n", "x".repeat(300));
    assert_eq!(
        Session::parse_with_limits(&big, &limits),
        Err(ParseError::TooLarge {
            size: big.len(),
            limit: 200
        })
    );
    assert_eq!(
        Session::parse_bytes_with_limits(big.as_bytes(), &limits),
        Err(ParseError::TooLarge {
            size: big.len(),
            limit: 200
        })
    );
    let many_lines = format!("{HEAD}{}", "a=x\r\n".repeat(6));
    assert_eq!(
        Session::parse_with_limits(&many_lines, &limits),
        Err(ParseError::TooManyLines { limit: 10 })
    );
    let many_media = format!("{HEAD}{}", "m=audio 0 RTP/AVP 0\r\n".repeat(3));
    assert_eq!(
        Session::parse_with_limits(&many_media, &limits),
        Err(ParseError::TooManyMedia { limit: 2 })
    );
    // The defaults refuse a 1 MiB body before looking at it.
    let huge = "a=x\r\n".repeat(200_000);
    assert!(matches!(
        Session::parse(&huge),
        Err(ParseError::TooLarge { .. })
    ));
}

#[test]
fn non_utf8_text_fields_do_not_refuse_the_body() {
    let mut body =
        b"v=0\r\no=- 1 1 IN IP4 h\r\ns=Caf\xe9\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n".to_vec();
    body.extend_from_slice(b"m=audio 4000 RTP/AVP 8\r\n");
    let s = Session::parse_bytes(&body).unwrap();
    assert_eq!(s.name, "Caf\u{fffd}");
    assert_eq!(s.media[0].codecs()[0].1.name, "PCMA");
}
