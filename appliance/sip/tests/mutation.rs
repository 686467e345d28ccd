//! Fuzz-style robustness: every torture message mutated 10,000 times with a
//! seeded PRNG must never make the parser, framers, validator or serialiser panic.

mod common;

use voip_sip::framing::{Frame, Limits, StreamFramer, parse_datagram};
use voip_sip::header::{CSeq, Contact, From, To, Via};
use voip_sip::message::SipMessage;
use voip_sip::validate::{Capabilities, react_to_parse_error, validate_message};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b":",
    b";",
    b",",
    b"\"",
    b"\\",
    b"<",
    b">",
    b"%",
    b"%0",
    b"@",
    b"[",
    b"]",
    b" ",
    b"\t",
    b"\r\n ",
    b"\0",
    b"\xff",
    b"\xc3",
    b"99999999999999999999",
    b"-1",
    b"Content-Length: 5\r\n",
    b"l: -3\r\n",
    b"SIP/2.0 ",
    b"sip:",
    b"tel:",
    b"=",
    b"?",
    b"*",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut m = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = m.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                m[i] = rng.next() as u8;
            }
            1 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(16).min(len - i);
                m.drain(i..i + n);
            }
            2 => {
                let i = rng.below(len + 1);
                let tok = INTERESTING[rng.below(INTERESTING.len())];
                m.splice(i..i, tok.iter().copied());
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(64).min(len - i);
                let chunk = m[i..i + n].to_vec();
                let j = rng.below(len + 1);
                m.splice(j..j, chunk);
            }
            4 => m.truncate(rng.below(len + 1)),
            5 if len > 0 => {
                let i = rng.below(len);
                m[i] = m[i].to_ascii_lowercase();
            }
            _ => {
                let i = rng.below(len + 1);
                m.insert(i, b"\r\n:;, \"<>"[rng.below(9)]);
            }
        }
    }
    m
}

fn exercise(bytes: &[u8], caps: &Capabilities, rng: &mut Rng) {
    match parse_datagram(bytes) {
        Frame::Message(m) => {
            let _ = validate_message(&m, caps);
            let h = m.headers();
            let _ = h.typed_all::<Via>().count();
            let _ = h.typed_all::<Contact>().count();
            let _ = (h.typed::<To>(), h.typed::<From>(), h.typed::<CSeq>());
            let out = m.to_bytes();
            let _ = SipMessage::parse(&out);
            let _ = m.to_string();
        }
        Frame::Invalid(e) => {
            let _ = react_to_parse_error(&e);
        }
        Frame::Ping | Frame::Pong => {}
    }
    let mut f = StreamFramer::new(Limits {
        max_head: 4096,
        max_body: 4096,
    });
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (rng.below(64) + 1).min(rest.len());
        f.push(&rest[..n]);
        rest = &rest[n..];
        while let Some(r) = f.poll_message() {
            if let Ok(Frame::Message(m)) = r {
                let _ = validate_message(&m, caps);
            }
        }
    }
}

#[test]
fn ten_thousand_mutations_per_torture_message_never_panic() {
    let caps = Capabilities::default();
    let corpus = common::corpus();
    assert_eq!(corpus.len(), 49);
    let mut rng = Rng(0x5eed_4475_0000_0001);
    // 10,000 per message in optimised builds (`cargo test --release`); 2,000 in
    // debug builds to keep CI on two cores fast. `SIP_MUTATIONS` overrides.
    let iterations = std::env::var("SIP_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            2_000
        } else {
            10_000
        });
    for (_, msg) in &corpus {
        for _ in 0..iterations {
            let m = mutate(&mut rng, msg);
            exercise(&m, &caps, &mut rng);
        }
    }
}
