//! RFC 3264 offer/answer for the anchoring B2BUA.
// Reason: test helpers outside #[test] fns may unwrap; a panic is a test failure.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use voip_sip::sdp::{
    Attribute, Codec, CodecPref, Direction, DirectionPolicy, LocalMedia, MediaType,
    NegotiationError, PayloadType, Session, answer, audio_codecs, offer, restrict_offer,
    rewrite_connection, telephone_event_pt,
};

fn load(name: &str) -> Session {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sdp")
        .join(name);
    Session::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pt(n: u8) -> PayloadType {
    PayloadType::new(n).unwrap()
}

const RELAY: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

fn local(prefs: Vec<Codec>) -> LocalMedia {
    LocalMedia {
        address: RELAY,
        port: 40000,
        codec_preferences: prefs.into_iter().map(CodecPref::new).collect(),
        telephone_event: true,
        direction_policy: DirectionPolicy::Mirror,
        rtcp_mux: true,
        ptime: None,
        session_id: 42,
        session_version: 1,
    }
}

fn offer_body(media: &str) -> Session {
    Session::parse(&format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n{media}"
    ))
    .unwrap()
}

#[test]
fn sipp_pcmu_offer_is_answered_with_pcmu_on_the_relay() {
    let (ans, n) = answer(
        &load("sipp-uac-offer.sdp"),
        &local(vec![Codec::pcma(), Codec::pcmu()]),
    )
    .unwrap();
    assert_eq!((n.pt, n.codec.name.as_str()), (pt(0), "PCMU"));
    assert_eq!(
        n.remote_rtp,
        "127.0.0.1:6000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(n.remote_rtcp, Some("127.0.0.1:6001".parse().unwrap()));
    assert!(!n.rtcp_mux);
    assert_eq!(n.telephone_event_pt, None);
    assert_eq!(n.direction, Direction::SendRecv);
    assert!(!n.held);
    let text = ans.to_string();
    assert!(text.contains("c=IN IP4 10.0.0.1\r\n"), "{text}");
    assert!(
        text.contains("m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"),
        "{text}"
    );
    assert!(
        text.starts_with("v=0\r\no=- 42 1 IN IP4 10.0.0.1\r\ns=-\r\n"),
        "{text}"
    );
    assert_eq!(Session::parse(&text).unwrap(), ans);
}

#[test]
fn our_preference_order_wins_over_the_offer_order() {
    let cases: [(&str, Vec<Codec>, u8, &str); 5] = [
        (
            "m=audio 5000 RTP/AVP 8 0\r\n",
            vec![Codec::pcmu(), Codec::pcma()],
            0,
            "PCMU",
        ),
        (
            "m=audio 5000 RTP/AVP 0 8\r\n",
            vec![Codec::pcma(), Codec::pcmu()],
            8,
            "PCMA",
        ),
        (
            "m=audio 5000 RTP/AVP 0 9\r\n",
            vec![Codec::g722(), Codec::pcmu()],
            9,
            "G722",
        ),
        // Dynamic types keep the offerer's number and match case-insensitively.
        (
            "m=audio 5000 RTP/AVP 0 107\r\na=rtpmap:107 OPUS/48000/2\r\n",
            vec![Codec::opus(), Codec::pcmu()],
            107,
            "OPUS",
        ),
        // A dynamic number that happens to be opus elsewhere means nothing here.
        (
            "m=audio 5000 RTP/AVP 111 0\r\na=rtpmap:111 speex/16000\r\n",
            vec![Codec::opus(), Codec::pcmu()],
            0,
            "PCMU",
        ),
    ];
    for (media, prefs, want_pt, want_name) in cases {
        let (ans, n) = answer(&offer_body(media), &local(prefs)).unwrap();
        assert_eq!(
            (n.pt, n.codec.name.as_str()),
            (pt(want_pt), want_name),
            "{media}"
        );
        assert_eq!(ans.media[0].formats[0], want_pt.to_string());
    }
}

#[test]
fn g722_is_matched_at_its_8000_rtp_clock_not_16000() {
    let err = answer(
        &offer_body("m=audio 5000 RTP/AVP 9\r\n"),
        &local(vec![Codec::new("G722", 16000)]),
    );
    assert_eq!(err.unwrap_err(), NegotiationError::NoCommonCodec);
}

#[test]
fn baresip_offer_gets_opus_with_48k_telephone_event_and_rtcp_mux() {
    let (ans, n) = answer(
        &load("baresip-offer-lf.sdp"),
        &local(vec![Codec::opus(), Codec::pcma()]),
    )
    .unwrap();
    assert_eq!((n.pt, n.telephone_event_pt), (pt(96), Some(pt(102))));
    assert_eq!(n.codec.fmtp.as_deref(), Some("stereo=1;sprop-stereo=1"));
    assert!(n.rtcp_mux);
    assert_eq!(n.remote_rtcp, Some(n.remote_rtp));
    assert_eq!(n.ptime, Some(20));
    let m = &ans.media[0];
    assert_eq!(m.formats, ["96", "102"]);
    assert!(m.rtcp_mux());
    assert_eq!(m.rtpmap(pt(102)).unwrap().clock_rate, 48000);
    assert_eq!(m.fmtp(pt(102)).unwrap().params, "0-16");
    assert_eq!(m.attribute("mid"), Some(&Attribute::Mid("1".into())));
}

#[test]
fn telephone_event_follows_the_chosen_codecs_clock_rate() {
    let cases: [(&str, bool, Option<u8>); 4] = [
        // PCMU with both rates on offer: the 8000 one.
        (
            "m=audio 5000 RTP/AVP 0 101 102\r\na=rtpmap:101 telephone-event/8000\r\na=rtpmap:102 telephone-event/48000\r\n",
            true,
            Some(101),
        ),
        // Only a 48 kHz event stream for an 8 kHz codec: none.
        (
            "m=audio 5000 RTP/AVP 0 102\r\na=rtpmap:102 telephone-event/48000\r\n",
            true,
            None,
        ),
        // Not offered.
        ("m=audio 5000 RTP/AVP 0\r\n", true, None),
        // Offered but we do not want it.
        (
            "m=audio 5000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
            false,
            None,
        ),
    ];
    for (media, wanted, want) in cases {
        let mut l = local(vec![Codec::pcmu()]);
        l.telephone_event = wanted;
        let (ans, n) = answer(&offer_body(media), &l).unwrap();
        assert_eq!(n.telephone_event_pt, want.map(pt), "{media}");
        assert_eq!(
            ans.media[0].formats.len(),
            1 + usize::from(want.is_some()),
            "{media}"
        );
    }
}

#[test]
fn answer_has_the_offers_m_lines_in_order_rejecting_the_unsupported() {
    let offer = load("rfc8866-example.sdp"); // audio, audio, video
    let (ans, n) = answer(&offer, &local(vec![Codec::pcmu()])).unwrap();
    assert_eq!(n.media_index, 0);
    let shape: Vec<(MediaType, u16, Vec<String>)> = ans
        .media
        .iter()
        .map(|m| (m.media.clone(), m.port, m.formats.clone()))
        .collect();
    assert_eq!(
        shape,
        vec![
            (MediaType::Audio, 40000, vec!["0".to_owned()]),
            (MediaType::Audio, 0, vec!["0".to_owned()]),
            (MediaType::Video, 0, vec!["99".to_owned()]),
        ]
    );
    assert_eq!(ans.timing, offer.timing);
}

#[test]
fn first_audio_line_without_common_codec_is_rejected_and_the_next_is_used() {
    let offer = offer_body("m=audio 5000 RTP/AVP 18\r\nm=audio 5002 RTP/AVP 8\r\n");
    let (ans, n) = answer(&offer, &local(vec![Codec::pcma()])).unwrap();
    assert_eq!((n.media_index, n.remote_rtp.port()), (1, 5002));
    assert_eq!((ans.media[0].port, ans.media[1].port), (0, 40000));
}

#[test]
fn unanswerable_offers_map_to_488() {
    let cases = [
        (offer_body("m=audio 5000 RTP/AVP 18\r\n"), NegotiationError::NoCommonCodec),
        (offer_body("m=video 5000 RTP/AVP 31\r\n"), NegotiationError::NoUsableAudio),
        (offer_body("m=audio 0 RTP/AVP 0\r\n"), NegotiationError::NoUsableAudio),
        (load("sdes-srtp-offer.sdp"), NegotiationError::NoUsableAudio),
        (load("chrome-webrtc-offer.sdp"), NegotiationError::NoUsableAudio),
        (
            Session::parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 pbx.example.net\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n").unwrap(),
            NegotiationError::ConnectionNotIp { media_index: 0 },
        ),
    ];
    for (offer, want) in cases {
        let err = answer(&offer, &local(vec![Codec::pcmu(), Codec::pcma()])).unwrap_err();
        assert_eq!(err, want);
        assert_eq!(err.sip_status(), 488);
    }
}

#[test]
fn direction_is_mirrored_and_hold_is_detected() {
    let cases = [
        ("", "192.0.2.9", Direction::SendRecv, false),
        ("a=sendonly\r\n", "192.0.2.9", Direction::RecvOnly, true),
        ("a=recvonly\r\n", "192.0.2.9", Direction::SendOnly, false),
        ("a=inactive\r\n", "192.0.2.9", Direction::Inactive, true),
        // RFC 2543 hold: c=0.0.0.0.
        ("", "0.0.0.0", Direction::RecvOnly, true),
        ("a=recvonly\r\n", "0.0.0.0", Direction::Inactive, true),
    ];
    for (attr, addr, want, held) in cases {
        let offer = Session::parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n{attr}"
        ))
        .unwrap();
        let (ans, n) = answer(&offer, &local(vec![Codec::pcmu()])).unwrap();
        assert_eq!((n.direction, n.held), (want, held), "{attr:?} {addr}");
        assert_eq!(ans.media[0].direction(), Some(want));
    }
}

#[test]
fn carrier_session_level_sendonly_is_hold_with_explicit_rtcp_port() {
    let (_, n) = answer(
        &load("carrier-hold-reinvite.sdp"),
        &local(vec![Codec::pcma()]),
    )
    .unwrap();
    assert_eq!((n.direction, n.held), (Direction::RecvOnly, true));
    assert_eq!(
        n.remote_rtp,
        "203.0.113.50:31000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(n.remote_rtcp, Some("203.0.113.50:31001".parse().unwrap()));
    assert_eq!(n.ptime, Some(20));
}

#[test]
fn direction_policy_caps_what_we_answer() {
    let cases = [
        (Direction::SendRecv, "", Direction::SendRecv),
        (Direction::SendOnly, "", Direction::SendOnly),
        (Direction::SendOnly, "a=sendonly\r\n", Direction::Inactive),
        (Direction::Inactive, "", Direction::Inactive),
        (Direction::RecvOnly, "a=sendonly\r\n", Direction::RecvOnly),
    ];
    for (cap, attr, want) in cases {
        let mut l = local(vec![Codec::pcmu()]);
        l.direction_policy = DirectionPolicy::AtMost(cap);
        let (_, n) = answer(
            &offer_body(&format!("m=audio 5000 RTP/AVP 0\r\n{attr}")),
            &l,
        )
        .unwrap();
        assert_eq!(n.direction, want, "{cap:?} {attr:?}");
    }
}

#[test]
fn rtcp_mux_is_only_used_when_both_sides_want_it() {
    let media = "m=audio 5000 RTP/AVP 0\r\na=rtcp-mux\r\n";
    for (ours, want) in [(true, true), (false, false)] {
        let mut l = local(vec![Codec::pcmu()]);
        l.rtcp_mux = ours;
        let (ans, n) = answer(&offer_body(media), &l).unwrap();
        assert_eq!((n.rtcp_mux, ans.media[0].rtcp_mux()), (want, want));
        let rtcp_port = n.remote_rtcp.unwrap().port();
        assert_eq!(rtcp_port, if want { 5000 } else { 5001 });
    }
}

#[test]
fn our_offer_lists_codecs_in_preference_order_with_events_per_clock_rate() {
    let mut l = local(vec![
        Codec::opus().with_fmtp("useinbandfec=1"),
        Codec::g722(),
        Codec::pcma(),
    ]);
    l.ptime = Some(20);
    let o = offer(&l);
    let m = &o.media[0];
    assert_eq!(m.formats, ["96", "9", "8", "97", "98"]);
    let codecs: Vec<(u8, String, u32)> = m
        .codecs()
        .into_iter()
        .map(|(p, c)| (p.get(), c.name, c.clock_rate))
        .collect();
    assert_eq!(
        codecs,
        vec![
            (96, "opus".into(), 48000),
            (9, "G722".into(), 8000),
            (8, "PCMA".into(), 8000),
            (97, "telephone-event".into(), 48000),
            (98, "telephone-event".into(), 8000),
        ]
    );
    assert_eq!(m.rtpmap(pt(96)).unwrap().channels, Some(2));
    assert_eq!(m.fmtp(pt(96)).unwrap().params, "useinbandfec=1");
    assert_eq!(
        (m.ptime(), m.rtcp_mux(), m.direction()),
        (Some(20), true, Some(Direction::SendRecv))
    );
    assert_eq!(Session::parse(&o.to_string()).unwrap(), o);
}

#[test]
fn explicit_dynamic_payload_types_are_honoured_and_not_reused() {
    let mut l = local(vec![Codec::pcmu(), Codec::opus()]);
    l.codec_preferences[1].payload_type = Some(pt(96));
    let o = offer(&l);
    assert_eq!(o.media[0].formats, ["0", "96", "97", "98"]);
}

#[test]
fn our_offer_answered_by_another_relay_negotiates_end_to_end() {
    let mut a = local(vec![Codec::opus(), Codec::pcma()]);
    a.direction_policy = DirectionPolicy::AtMost(Direction::SendOnly);
    let mut b = local(vec![Codec::pcma(), Codec::opus()]);
    b.address = "10.0.0.2".parse().unwrap();
    b.port = 50000;
    let o = Session::parse(&offer(&a).to_string()).unwrap();
    let (ans, n) = answer(&o, &b).unwrap();
    assert_eq!((n.pt, n.telephone_event_pt), (pt(8), Some(pt(98))));
    assert_eq!((n.direction, n.held), (Direction::RecvOnly, true));
    assert_eq!(
        n.remote_rtp,
        "10.0.0.1:40000".parse::<SocketAddr>().unwrap()
    );
    // ... and the offerer can read the answer back.
    let back = Session::parse(&ans.to_string()).unwrap();
    assert_eq!(back.media[0].codecs()[0].1.name, "PCMA");
    assert_eq!(back.media[0].port, 50000);
}

#[test]
fn rewrite_connection_anchors_media_and_bumps_the_version_once() {
    let original = load("chrome-webrtc-offer.sdp");
    let relay: IpAddr = "198.51.100.7".parse().unwrap();
    let r = rewrite_connection(&original, relay, 30000);
    let m = &r.media[0];
    assert_eq!(m.port, 30000);
    assert_eq!(m.connections[0].address, "198.51.100.7");
    assert!(m.rtcp().is_none());
    assert!(m.attribute("candidate").is_none());
    // Everything else stays, in order.
    let kept = |s: &Session| -> Vec<String> {
        s.media[0]
            .attributes
            .iter()
            .filter(|a| !matches!(a.name(), "candidate" | "rtcp"))
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(kept(&r), kept(&original));
    assert_eq!(r.attributes, original.attributes);
    assert_eq!(
        r.origin.session_version,
        original.origin.session_version + 1
    );
    assert_eq!(r.origin.session_id, original.origin.session_id);
    // Rewriting to the same place changes nothing, so no new version.
    let again = rewrite_connection(&r, relay, 30000);
    assert_eq!(again, r);
}

#[test]
fn rewrite_connection_replaces_the_origin_address_so_no_author_ip_remains() {
    let original = Session::parse(
        "v=0\r\no=- 7 3 IN IP4 10.1.2.3\r\ns=-\r\nc=IN IP4 10.1.2.3\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0\r\na=rtcp:4001 IN IP4 10.1.2.3\r\n",
    )
    .unwrap();
    let r = rewrite_connection(&original, "198.51.100.7".parse().unwrap(), 30000);
    assert_eq!(
        (
            r.origin.net_type.as_str(),
            r.origin.addr_type.as_str(),
            r.origin.address.as_str()
        ),
        ("IN", "IP4", "198.51.100.7")
    );
    assert!(!r.to_string().contains("10.1.2.3"), "{r}");
    assert_eq!(r.origin.session_id, original.origin.session_id);
    assert_eq!(
        r.origin.session_version,
        original.origin.session_version + 1
    );

    // An IPv6 relay also changes the address type; the version keeps
    // increasing with the author's when the author re-offers a change.
    let v6 = rewrite_connection(&original, "2001:db8::99".parse().unwrap(), 30000);
    assert_eq!(
        (v6.origin.addr_type.as_str(), v6.origin.address.as_str()),
        ("IP6", "2001:db8::99")
    );
    let mut reoffer = original.clone();
    reoffer.origin.session_version += 1;
    reoffer.media[0].port = 4002;
    let r2 = rewrite_connection(&reoffer, "198.51.100.7".parse().unwrap(), 30000);
    assert!(r2.origin.session_version > r.origin.session_version);
}

#[test]
fn rewrite_connection_replaces_session_and_media_c_lines_and_skips_rejected_streams() {
    let original = load("rfc8866-example.sdp"); // session c=, video has its own c=
    let relay: IpAddr = "2001:db8::99".parse().unwrap();
    let r = rewrite_connection(&original, relay, 30000);
    let c = r.connection.as_ref().unwrap();
    assert_eq!(
        (c.addr_type.as_str(), c.address.as_str()),
        ("IP6", "2001:db8::99")
    );
    assert_eq!(r.media[2].connections[0].address, "2001:db8::99");
    let ports: Vec<u16> = r.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [30000, 49180, 51372]);

    let held = offer_body("m=audio 0 RTP/AVP 0\r\nm=audio 5000 RTP/AVP 0\r\n");
    let r = rewrite_connection(&held, RELAY, 30000);
    assert_eq!((r.media[0].port, r.media[1].port), (0, 30000));
}

#[test]
fn a_restricted_offer_lists_the_answerers_codecs_in_its_order() {
    let offer = offer_body(
        "m=audio 4000 RTP/AVP 0 8 9 111 101 102\r\na=rtpmap:111 opus/48000/2\r\n\
         a=fmtp:111 useinbandfec=1\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\na=rtpmap:102 telephone-event/48000\r\na=ptime:20\r\n",
    );
    let restricted = restrict_offer(&offer, &[Codec::opus(), Codec::pcma()]).unwrap();
    let codecs = audio_codecs(&restricted);
    let names: Vec<(u8, &str)> = codecs
        .iter()
        .map(|(p, c)| (p.get(), c.name.as_str()))
        .collect();
    assert_eq!(names, vec![(111, "opus"), (8, "PCMA")]);
    // fmtp of the kept codec, telephone-event at both kept clock rates.
    let text = restricted.to_string();
    assert!(
        text.contains("m=audio 4000 RTP/AVP 111 8 101 102\r\n"),
        "{text}"
    );
    assert!(text.contains("a=fmtp:111 useinbandfec=1\r\n"), "{text}");
    assert!(text.contains("a=ptime:20\r\n"), "{text}");
    assert_eq!(telephone_event_pt(&restricted, 8000), Some(pt(101)));
    assert_eq!(telephone_event_pt(&restricted, 48_000), Some(pt(102)));
    // Only G.711 µ-law wanted: the 48 kHz telephone-event goes too.
    let pcmu = restrict_offer(&offer, &[Codec::pcmu()])
        .unwrap()
        .to_string();
    assert!(pcmu.contains("m=audio 4000 RTP/AVP 0 101\r\n"), "{pcmu}");
    assert!(!pcmu.contains("opus"), "{pcmu}");
}

#[test]
fn an_offer_without_a_common_codec_cannot_be_restricted() {
    let offer = offer_body("m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
    assert!(restrict_offer(&offer, &[Codec::opus(), Codec::g722()]).is_none());
    assert!(restrict_offer(&offer, &[Codec::telephone_event(8000)]).is_none());
}
