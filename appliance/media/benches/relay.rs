//! Throughput of `Relay::handle_packet` for a steady 20 ms PCMU stream
//! (latched leg, statistics on, transmit drained each packet).
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voip_media::{Leg, LegConfig, PayloadType, Port, Relay, RelayConfig, RtpHeader, SeqNo, Ssrc};

fn handle_packet(c: &mut Criterion) {
    let a: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    let b: SocketAddr = "192.0.2.2:5000".parse().unwrap();
    let mut packet = RtpHeader::new(PayloadType::PCMU, SeqNo(0), 0, Ssrc(1))
        .to_packet(&[0xff; 160], 0)
        .unwrap();
    let t0 = Instant::now();
    let mut relay = Relay::new(
        t0,
        RelayConfig::default(),
        LegConfig::with_rtcp_port_plus_one(a),
        LegConfig::with_rtcp_port_plus_one(b),
    );
    let mut seq = 0u16;
    let mut now = t0;
    let mut group = c.benchmark_group("relay");
    group.throughput(Throughput::Elements(1));
    group.bench_function("handle_packet_pcmu_172B", |bench| {
        bench.iter(|| {
            now += Duration::from_millis(20);
            // Next packet of the stream: sequence + 1, timestamp + 160.
            seq = seq.wrapping_add(1);
            packet[2..4].copy_from_slice(&seq.to_be_bytes());
            packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            relay.handle_packet(now, Leg::A, Port::Rtp, a, &packet);
            black_box(relay.poll_transmit());
        });
    });
    group.finish();
}

criterion_group!(benches, handle_packet);
criterion_main!(benches);
