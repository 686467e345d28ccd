//! One task per UDP socket: receive a datagram, frame, validate, answer or
//! forward.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use voip_sip::framing::parse_datagram;

use super::{ConnectionId, Ctx, MAX_DATAGRAM, TransportKind};

pub(super) async fn serve(
    socket: Arc<UdpSocket>,
    id: ConnectionId,
    ctx: Arc<Ctx>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, source) = tokio::select! {
            _ = shutdown.changed() => break,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                // ICMP errors of earlier sends surface here on some systems; keep serving.
                Err(_) => continue,
            },
        };
        handle(&socket, &ctx, id, &buf[..n], source).await;
        // Take what else is queued without a trip through the reactor
        // (bounded, so shutdown is still seen).
        for _ in 0..BATCH {
            match socket.try_recv_from(&mut buf) {
                Ok((n, source)) => handle(&socket, &ctx, id, &buf[..n], source).await,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {}
            }
        }
    }
    ctx.unregister(id);
}

/// Datagrams read per wake-up after the first.
const BATCH: usize = 64;

async fn handle(
    socket: &UdpSocket,
    ctx: &Ctx,
    id: ConnectionId,
    datagram: &[u8],
    source: std::net::SocketAddr,
) {
    // Back-pressure: while the engine's queue is full (a burst, or the
    // engine not scheduled for a moment on a busy box), wait for room rather
    // than read on and drop: unread datagrams wait in the socket's 4 MiB
    // receive buffer, and a dropped final response that the peer does not
    // retransmit would leave its call hanging.
    if ctx.inbound.capacity() == 0
        && let Ok(permit) = ctx.inbound.reserve().await
    {
        drop(permit);
    }
    let frame = parse_datagram(datagram);
    if let Some(answer) = ctx.react(frame, source, TransportKind::Udp, id)
        && socket.send_to(&answer, source).await.is_err()
    {
        ctx.metrics.send_errors.fetch_add(1, Ordering::Relaxed);
    }
}
