//! Seeded random mutation of every corpus SDP: the parser, serialiser and
//! negotiator never panic, and whatever parses re-parses to the same model
//! after serialisation.
// Reason: test helpers outside #[test] fns may unwrap; a panic is a test failure.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use voip_sip::sdp::{
    Codec, CodecPref, DirectionPolicy, LocalMedia, Session, answer, rewrite_connection,
};

const ITERATIONS: usize = 10_000;

/// xorshift64 (Marsaglia): deterministic, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Fragments that hit parser branches more often than random bytes do.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b"=",
    b":",
    b"/",
    b"m=",
    b"c=",
    b"a=",
    b"t=",
    b"r=",
    b"v=0",
    b"0",
    b"127",
    b"128",
    b"255",
    b"65535",
    b"65536",
    b"-1",
    b"+1",
    b"99999999999999999999999",
    b"IN IP4 0.0.0.0",
    b"IN IP6 ::",
    b"RTP/AVP",
    b"UDP/TLS/RTP/SAVPF",
    b"rtpmap:",
    b"fmtp:",
    b"sendonly",
    b"inactive",
    b"rtcp-mux",
    b"crypto:",
    b"candidate:",
    b" typ ",
    b" raddr ",
    b"telephone-event/8000",
    b"opus/48000/2",
    b"\xff",
    b"\xc3",
    b"\0",
];

fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, t.iter().copied());
            }
            3 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + rng.below(64)).min(out.len());
                let chunk = out[start..end].to_vec();
                out.splice(at..at, chunk);
            }
            4 => out.truncate(at),
            _ => {
                let b = rng.next() as u8;
                out.insert(at, b);
            }
        }
    }
    out
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sdp");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("sdp")))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn local() -> LocalMedia {
    LocalMedia {
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        port: 40000,
        codec_preferences: [Codec::opus(), Codec::g722(), Codec::pcma(), Codec::pcmu()]
            .into_iter()
            .map(CodecPref::new)
            .collect(),
        telephone_event: true,
        direction_policy: DirectionPolicy::Mirror,
        rtcp_mux: true,
        ptime: Some(20),
        session_id: 1,
        session_version: 1,
    }
}

#[test]
fn random_mutations_never_panic_and_parsed_bodies_round_trip() {
    let corpus = corpus();
    assert!(corpus.len() >= 15);
    let local = local();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0usize;
    for i in 0..ITERATIONS {
        let seed = &corpus[i % corpus.len()];
        // Mutate a fresh copy or stack mutations on the previous one.
        let input = mutate(&mut rng, seed);
        let Ok(session) = Session::parse_bytes(&input) else {
            continue;
        };
        parsed += 1;
        let text = session.to_string();
        let again = Session::parse(&text)
            .unwrap_or_else(|e| panic!("iteration {i}: re-parse failed with {e}:\n{text}"));
        assert_eq!(again, session, "iteration {i}:\n{text}");
        assert_eq!(
            again.to_string(),
            text,
            "iteration {i}: serialiser not stable"
        );
        if let Ok((ans, _)) = answer(&session, &local) {
            assert!(
                Session::parse(&ans.to_string()).is_ok(),
                "iteration {i}: bad answer"
            );
        }
        let _ = rewrite_connection(&session, local.address, 40000);
        let _ = format!("{session:?}");
    }
    // The mutations must leave a fair share parseable, or the round-trip
    // half of this test checks nothing.
    assert!(
        parsed > ITERATIONS / 10,
        "only {parsed} of {ITERATIONS} mutants parsed"
    );
}
