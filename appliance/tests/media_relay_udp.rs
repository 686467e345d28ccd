//! The media relay shell on real UDP sockets on 127.0.0.1: two "phones"
//! (plain sockets) talk through a relay, an echo, hold and media timeout in
//! tokio's paused time, and the port allocator's exhaustion and quarantine.
//!
//! Every test uses its own port range (below Linux's ephemeral range, where
//! the phones' sockets live) so tests running in parallel do not collide.
//! Receives are bounded with `tokio::time::timeout`; nothing sleeps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use voip_appliance::media_relay::{
    CallRef, ECHO_SSRC, EchoConfig, Leg, LegSpec, Port, PortError, PortRange, RelayError,
    RelayEvent, RelayEventKind, RelayManager, RelayManagerConfig,
};
use voip_media::rtcp::{ReceiverReport, RtcpPacket, build_compound};
use voip_media::{LegConfig, MediaDirection, PayloadType, RelayConfig, RtpHeader, SeqNo, Ssrc};

const BOUND: Duration = Duration::from_secs(2);
const QUARANTINE: Duration = Duration::from_secs(5);

fn manager(min_port: u16, pairs: u16) -> (RelayManager, mpsc::Receiver<RelayEvent>) {
    let (tx, rx) = mpsc::channel(32);
    let config = RelayManagerConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        max_relays: 4,
        quarantine: QUARANTINE,
        ..RelayManagerConfig::default()
    };
    let range = PortRange::new(min_port, min_port + 2 * pairs - 1).unwrap();
    (RelayManager::new(config, range, tx), rx)
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    RtpHeader::new(
        PayloadType::PCMU,
        SeqNo(seq),
        u32::from(seq) * 160,
        Ssrc(ssrc),
    )
    .to_packet(&[seq as u8; 160], 0)
    .unwrap()
}

fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(ssrc),
        reports: Vec::new(),
    })])
    .unwrap()
}

/// A phone: an RTP socket and an RTCP socket on ephemeral ports.
struct Phone {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl Phone {
    async fn new() -> Phone {
        Phone {
            rtp: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            rtcp: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    fn config(&self) -> LegConfig {
        LegConfig {
            rtp: self.rtp.local_addr().unwrap(),
            rtcp: Some(self.rtcp.local_addr().unwrap()),
        }
    }

    fn muxed(&self) -> LegConfig {
        LegConfig::muxed(self.rtp.local_addr().unwrap())
    }
}

fn relay_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = timeout(BOUND, socket.recv_from(&mut buf))
        .await
        .expect("no datagram within the bound")
        .unwrap();
    (buf[..n].to_vec(), from)
}

/// The next event that is not a `Latched`.
async fn next_non_latch(events: &mut mpsc::Receiver<RelayEvent>) -> RelayEvent {
    loop {
        let e = events.recv().await.expect("event channel closed");
        if !matches!(e.kind, RelayEventKind::Latched { .. }) {
            return e;
        }
    }
}

struct Call {
    a: Phone,
    b: Phone,
    a_port: u16,
    b_port: u16,
    handle: voip_appliance::media_relay::RelayHandle,
}

async fn call(manager: &RelayManager, config: RelayConfig, a_muxed: bool) -> Call {
    let a = Phone::new().await;
    let b = Phone::new().await;
    let leg_a = manager.allocate_leg(a_muxed).unwrap();
    let leg_b = manager.allocate_leg(false).unwrap();
    let a_port = leg_a.ports().rtp();
    let b_port = leg_b.ports().rtp();
    let remote_a = if a_muxed { a.muxed() } else { a.config() };
    let handle = manager
        .create_relay(
            CallRef(1),
            LegSpec {
                local: leg_a,
                remote: remote_a,
            },
            LegSpec {
                local: leg_b,
                remote: b.config(),
            },
            config,
        )
        .unwrap();
    Call {
        a,
        b,
        a_port,
        b_port,
        handle,
    }
}

#[tokio::test]
async fn rtp_and_rtcp_pass_through_unchanged_in_both_directions() {
    let (manager, _events) = manager(21_000, 4);
    let c = call(&manager, RelayConfig::default(), false).await;

    for seq in 0..5 {
        let p = rtp(seq, 0xa);
        c.a.rtp.send_to(&p, relay_addr(c.a_port)).await.unwrap();
        let (got, from) = recv(&c.b.rtp).await;
        assert_eq!(got, p);
        assert_eq!(from, relay_addr(c.b_port), "B hears the relay's B port");
    }
    let p = rtp(100, 0xb);
    c.b.rtp.send_to(&p, relay_addr(c.b_port)).await.unwrap();
    let (got, from) = recv(&c.a.rtp).await;
    assert_eq!(got, p);
    assert_eq!(from, relay_addr(c.a_port));

    let rr = rtcp_rr(0xa);
    c.a.rtcp
        .send_to(&rr, relay_addr(c.a_port + 1))
        .await
        .unwrap();
    let (got, from) = recv(&c.b.rtcp).await;
    assert_eq!(got, rr);
    assert_eq!(from, relay_addr(c.b_port + 1), "RTCP leaves the RTCP port");

    let stats = c.handle.stats().await.unwrap();
    assert_eq!(stats.a.counters.packets_in, 6);
    assert_eq!(stats.b.as_ref().unwrap().counters.packets_out, 6);
    assert_eq!(stats.a.latched_rtp, Some(c.a.rtp.local_addr().unwrap()));
    assert_eq!(stats.a.sources.len(), 1);
    assert_eq!(stats.io.send_errors + stats.io.recv_errors, 0);
}

#[tokio::test]
async fn rtcp_mux_leg_sends_and_receives_rtcp_on_its_rtp_port() {
    let (manager, _events) = manager(21_020, 4);
    let c = call(&manager, RelayConfig::default(), true).await;
    // Latch both legs with RTP first.
    c.a.rtp
        .send_to(&rtp(1, 0xa), relay_addr(c.a_port))
        .await
        .unwrap();
    recv(&c.b.rtp).await;
    c.b.rtp
        .send_to(&rtp(1, 0xb), relay_addr(c.b_port))
        .await
        .unwrap();
    recv(&c.a.rtp).await;

    let rr = rtcp_rr(0xa);
    c.a.rtp.send_to(&rr, relay_addr(c.a_port)).await.unwrap();
    assert_eq!(recv(&c.b.rtcp).await, (rr, relay_addr(c.b_port + 1)));

    let rr = rtcp_rr(0xb);
    c.b.rtcp
        .send_to(&rr, relay_addr(c.b_port + 1))
        .await
        .unwrap();
    assert_eq!(recv(&c.a.rtp).await, (rr, relay_addr(c.a_port)));
}

#[tokio::test]
async fn a_foreign_source_after_latching_is_dropped_and_counted() {
    let (manager, mut events) = manager(21_040, 4);
    let c = call(&manager, RelayConfig::default(), false).await;
    c.a.rtp
        .send_to(&rtp(1, 0xa), relay_addr(c.a_port))
        .await
        .unwrap();
    recv(&c.b.rtp).await;
    let latched = timeout(BOUND, events.recv()).await.unwrap().unwrap();
    assert_eq!(
        latched.kind,
        RelayEventKind::Latched {
            leg: Leg::A,
            port: Port::Rtp,
            source: c.a.rtp.local_addr().unwrap()
        }
    );

    let intruder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    intruder
        .send_to(&rtp(666, 0xbad), relay_addr(c.a_port))
        .await
        .unwrap();
    let genuine = rtp(2, 0xa);
    c.a.rtp
        .send_to(&genuine, relay_addr(c.a_port))
        .await
        .unwrap();
    // Both arrive on the same relay socket in send order: the first thing B
    // hears after the intruder's packet is the genuine one.
    assert_eq!(recv(&c.b.rtp).await.0, genuine);
    let stats = c.handle.stats().await.unwrap();
    assert_eq!(stats.a.counters.rejected_foreign, 1);
    assert_eq!(stats.a.counters.packets_in, 2);
}

#[tokio::test]
async fn set_remote_sends_to_the_new_address_after_a_reinvite() {
    let (manager, _events) = manager(21_060, 4);
    let c = call(&manager, RelayConfig::default(), false).await;
    let moved = Phone::new().await;
    c.handle.set_remote(Leg::B, moved.config()).await.unwrap();
    let p = rtp(1, 0xa);
    c.a.rtp.send_to(&p, relay_addr(c.a_port)).await.unwrap();
    assert_eq!(recv(&moved.rtp).await.0, p);
}

#[tokio::test(start_paused = true)]
async fn media_timeout_is_reported_after_the_configured_silence() {
    let (manager, mut events) = manager(21_080, 4);
    let config = RelayConfig {
        media_timeout: Duration::from_secs(20),
        ..RelayConfig::default()
    };
    let start = Instant::now();
    let c = call(&manager, config, false).await;
    c.a.rtp
        .send_to(&rtp(1, 0xa), relay_addr(c.a_port))
        .await
        .unwrap();
    recv(&c.b.rtp).await;

    // Leg B never sent: it times out 20 s after the start; leg A 20 s after
    // its packet.
    assert!(
        timeout(Duration::from_secs(19), next_non_latch(&mut events))
            .await
            .is_err(),
        "no timeout before 20 s of silence"
    );
    let mut timed_out = Vec::new();
    for _ in 0..2 {
        let e = timeout(Duration::from_secs(2), next_non_latch(&mut events))
            .await
            .unwrap();
        assert_eq!(e.call, CallRef(1));
        let RelayEventKind::MediaTimeout { leg } = e.kind else {
            panic!("unexpected {e:?}");
        };
        timed_out.push(leg);
    }
    timed_out.sort_by_key(|l| *l == Leg::B);
    assert_eq!(timed_out, vec![Leg::A, Leg::B]);
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_secs(20), "{elapsed:?}");
    // Once per silence: nothing more.
    assert!(
        timeout(Duration::from_mins(1), next_non_latch(&mut events))
            .await
            .is_err()
    );
    drop(c);
}

#[tokio::test(start_paused = true)]
async fn hold_suspends_the_media_timeout_until_resume() {
    let (manager, mut events) = manager(21_100, 4);
    let config = RelayConfig {
        media_timeout: Duration::from_secs(20),
        ..RelayConfig::default()
    };
    let c = call(&manager, config, false).await;
    c.handle
        .set_direction(Leg::A, MediaDirection::SendOnly)
        .await
        .unwrap();
    c.handle
        .set_direction(Leg::B, MediaDirection::RecvOnly)
        .await
        .unwrap();
    assert!(
        timeout(Duration::from_mins(10), events.recv())
            .await
            .is_err(),
        "no media timeout while on hold"
    );

    let resumed = Instant::now();
    c.handle
        .set_direction(Leg::A, MediaDirection::SendRecv)
        .await
        .unwrap();
    let e = timeout(Duration::from_secs(21), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.kind, RelayEventKind::MediaTimeout { leg: Leg::A });
    assert!(resumed.elapsed() >= Duration::from_secs(20));
    let stats = c.handle.stats().await.unwrap();
    assert_eq!(stats.b.unwrap().direction, MediaDirection::RecvOnly);
}

#[tokio::test]
async fn echo_returns_packets_to_the_sender() {
    let (manager, mut events) = manager(21_120, 4);
    let phone = Phone::new().await;
    let leg = manager.allocate_leg(false).unwrap();
    let port = leg.ports().rtp();
    let handle = manager
        .create_echo(
            CallRef(7),
            LegSpec {
                local: leg,
                remote: phone.config(),
            },
            EchoConfig::default(),
        )
        .unwrap();
    for seq in 10..13 {
        let p = rtp(seq, 0x1234);
        phone.rtp.send_to(&p, relay_addr(port)).await.unwrap();
        let (got, from) = recv(&phone.rtp).await;
        assert_eq!(from, relay_addr(port));
        assert_eq!(got[..8], p[..8], "header up to the SSRC unchanged");
        assert_eq!(got[8..12], ECHO_SSRC.0.to_be_bytes());
        assert_eq!(got[12..], p[12..], "payload unchanged");
    }
    let e = timeout(BOUND, events.recv()).await.unwrap().unwrap();
    assert_eq!(e.call, CallRef(7));
    assert!(matches!(
        e.kind,
        RelayEventKind::Latched { leg: Leg::A, .. }
    ));
    assert!(matches!(
        handle.set_direction(Leg::B, MediaDirection::Inactive).await,
        Err(RelayError::NoSuchLeg { leg: Leg::B })
    ));
    let stats = handle.stop().await.unwrap();
    assert_eq!(stats.a.counters.packets_out, 3);
    assert!(stats.b.is_none());
}

#[tokio::test(start_paused = true)]
async fn echo_reports_a_media_timeout_too() {
    let (manager, mut events) = manager(21_140, 4);
    let phone = Phone::new().await;
    let leg = manager.allocate_leg(true).unwrap();
    let _handle = manager
        .create_echo(
            CallRef(8),
            LegSpec {
                local: leg,
                remote: phone.muxed(),
            },
            EchoConfig {
                media_timeout: Duration::from_secs(10),
                ..EchoConfig::default()
            },
        )
        .unwrap();
    let start = Instant::now();
    let e = timeout(Duration::from_secs(11), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.kind, RelayEventKind::MediaTimeout { leg: Leg::A });
    assert!(start.elapsed() >= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn ports_run_out_and_come_back_after_the_quarantine_in_virtual_time() {
    let (manager, _events) = manager(21_160, 2);
    let c = call(&manager, RelayConfig::default(), false).await;
    assert_eq!(manager.ports_in_use(), 2);
    assert!(matches!(
        manager.allocate_leg(false),
        Err(RelayError::Ports(PortError::Exhausted {
            in_use: 2,
            quarantined: 0
        }))
    ));

    c.handle.stop().await.unwrap();
    assert_eq!(manager.ports_in_use(), 0, "stop released the ports");
    assert_eq!(manager.active(), 0);
    assert!(matches!(
        manager.allocate_leg(false),
        Err(RelayError::Ports(PortError::Exhausted {
            in_use: 0,
            quarantined: 2
        }))
    ));

    tokio::time::advance(QUARANTINE.checked_sub(Duration::from_millis(1)).unwrap()).await;
    assert!(manager.allocate_leg(false).is_err(), "still resting");
    tokio::time::advance(Duration::from_millis(1)).await;
    let first = manager.allocate_leg(false).unwrap();
    assert_eq!(first.ports().rtp(), 21_160, "least recently released first");
    // A leg dropped before any relay was created releases its pair too.
    drop(first);
    assert_eq!(manager.ports_in_use(), 0);
    assert_eq!(manager.ports_available(), 1);
}

#[tokio::test]
async fn max_relays_is_enforced_and_a_dropped_handle_frees_its_slot() {
    let (tx, _events) = mpsc::channel(8);
    let config = RelayManagerConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        max_relays: 1,
        ..RelayManagerConfig::default()
    };
    let manager = RelayManager::new(config, PortRange::new(21_180, 21_199).unwrap(), tx);
    let phone = Phone::new().await;
    let echo = |manager: &RelayManager| {
        let leg = manager.allocate_leg(true)?;
        manager.create_echo(
            CallRef(1),
            LegSpec {
                local: leg,
                remote: phone.muxed(),
            },
            EchoConfig::default(),
        )
    };
    let first = echo(&manager).unwrap();
    assert!(matches!(
        echo(&manager),
        Err(RelayError::TooManyRelays { max: 1 })
    ));
    assert_eq!(manager.ports_in_use(), 1, "the refused leg's pair is back");

    drop(first);
    timeout(BOUND, async {
        while manager.active() > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the task ends when its handle is dropped");
    assert_eq!(manager.ports_in_use(), 0);
    assert!(echo(&manager).is_ok());
}
