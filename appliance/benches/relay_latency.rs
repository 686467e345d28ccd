//! Latency and throughput of the media relay shell on loopback (not a timed
//! test; run with `cargo bench -p voip-appliance --bench relay_latency`).
//!
//! One process: the relay runs on a one-worker Tokio runtime, the two
//! "phones" are blocking sockets on the main thread, so send and receive
//! times come from the same monotonic clock.
//!
//! - Latency: 20 000 PCMU packets (172 bytes) are sent one at a time (the
//!   next only after the previous arrived), A → relay → B; each sample is
//!   the one-way time from `send_to` on A to `recv_from` returning on B. The
//!   same is measured A → B directly; the relay's added latency is the
//!   difference of the percentiles.
//! - Throughput: 20 000 packets with up to 64 in flight; packets/s through
//!   the relay.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench binary: a failure should abort it"
)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use voip_appliance::media_relay::{CallRef, LegSpec, PortRange, RelayManager, RelayManagerConfig};
use voip_media::{LegConfig, PayloadType, RelayConfig, RtpHeader, SeqNo, Ssrc};

const N: usize = 20_000;
const WINDOW: usize = 64;

fn packet(seq: u16) -> Vec<u8> {
    RtpHeader::new(PayloadType::PCMU, SeqNo(seq), u32::from(seq) * 160, Ssrc(1))
        .to_packet(&[0xd5; 160], 0)
        .unwrap()
}

fn phone() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    s
}

/// One-way times of `N` packets sent one at a time from `a` to `to`,
/// received on `b`.
fn one_way(a: &UdpSocket, b: &UdpSocket, to: SocketAddr) -> Vec<Duration> {
    let mut buf = [0u8; 2048];
    let mut samples = Vec::with_capacity(N);
    for i in 0..N {
        let p = packet(i as u16);
        let sent = Instant::now();
        a.send_to(&p, to).unwrap();
        b.recv_from(&mut buf).expect("packet lost");
        samples.push(sent.elapsed());
    }
    samples.sort_unstable();
    samples
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();

    let (a, b) = (phone(), phone());
    let (tx, _events) = mpsc::channel(16);
    let config = RelayManagerConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        ..RelayManagerConfig::default()
    };
    let manager = RelayManager::new(config, PortRange::new(22_000, 22_099).unwrap(), tx);
    let leg_a = manager.allocate_leg(true).unwrap();
    let leg_b = manager.allocate_leg(true).unwrap();
    let relay_a = SocketAddr::from(([127, 0, 0, 1], leg_a.ports().rtp()));
    let handle = manager
        .create_relay(
            CallRef(1),
            LegSpec {
                local: leg_a,
                remote: LegConfig::muxed(a.local_addr().unwrap()),
            },
            LegSpec {
                local: leg_b,
                remote: LegConfig::muxed(b.local_addr().unwrap()),
            },
            RelayConfig::default(),
        )
        .unwrap();

    // Warm-up (also latches leg A).
    let mut buf = [0u8; 2048];
    for i in 0..100 {
        a.send_to(&packet(i), relay_a).unwrap();
        b.recv_from(&mut buf).unwrap();
    }

    let direct = one_way(&a, &b, b.local_addr().unwrap());
    let relayed = one_way(&a, &b, relay_a);

    let start = Instant::now();
    let (mut sent, mut received, mut lost) = (0usize, 0usize, 0usize);
    while received + lost < N {
        while sent < N && sent - received - lost < WINDOW {
            a.send_to(&packet(sent as u16), relay_a).unwrap();
            sent += 1;
        }
        match b.recv_from(&mut buf) {
            Ok(_) => received += 1,
            Err(_) => lost += sent - received - lost,
        }
    }
    let elapsed = start.elapsed();

    let stats = rt.block_on(handle.stop()).unwrap();
    println!("relay_latency: {N} PCMU packets (172 B) on loopback, one at a time");
    for (name, s) in [("direct A->B", &direct), ("A->relay->B", &relayed)] {
        println!(
            "  {name:<12} one-way p50 {:7.1} us  p99 {:7.1} us  max {:8.1} us",
            us(pct(s, 0.5)),
            us(pct(s, 0.99)),
            us(pct(s, 1.0)),
        );
    }
    println!(
        "  added by the relay: p50 {:.1} us, p99 {:.1} us",
        us(pct(&relayed, 0.5)) - us(pct(&direct, 0.5)),
        us(pct(&relayed, 0.99)) - us(pct(&direct, 0.99)),
    );
    println!(
        "throughput: {N} packets, window {WINDOW}: {:.0} packets/s, {lost} lost; relay counters: in {}, send_dropped {}",
        received as f64 / elapsed.as_secs_f64(),
        stats.a.counters.packets_in,
        stats.io.send_dropped,
    );
}
