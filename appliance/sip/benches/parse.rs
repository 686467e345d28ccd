//! Parse throughput over the RFC 4475 corpus (messages/s via `Throughput::Elements`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voip_sip::framing::{Frame, parse_datagram};
use voip_sip::validate::{Capabilities, react_to_parse_error, validate_message};

fn corpus() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let mut valid = Vec::new();
    let mut all = Vec::new();
    for e in json.as_array().unwrap() {
        let bytes = std::fs::read(dir.join(format!("{}.dat", e["tag"].as_str().unwrap()))).unwrap();
        if e["verdict"].as_str().unwrap().starts_with("ACCEPT") {
            valid.push(bytes.clone());
        }
        all.push(bytes);
    }
    (valid, all)
}

fn bench(c: &mut Criterion) {
    let (valid, all) = corpus();
    let caps = Capabilities::default();
    let mut g = c.benchmark_group("rfc4475");
    for (name, set) in [("parse_valid", &valid), ("parse_all", &all)] {
        g.throughput(Throughput::Elements(set.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                for m in set {
                    black_box(parse_datagram(black_box(m)));
                }
            });
        });
    }
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("parse_and_validate_all", |b| {
        b.iter(|| {
            for m in &all {
                let r = match parse_datagram(black_box(m)) {
                    Frame::Message(m) => validate_message(&m, &caps),
                    Frame::Invalid(e) => react_to_parse_error(&e),
                    Frame::Ping | Frame::Pong => continue,
                };
                black_box(r);
            }
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
