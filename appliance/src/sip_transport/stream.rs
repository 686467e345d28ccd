//! TCP and TLS: the accept loop (bounded by a semaphore) and one task per
//! connection, accepted or opened (module `connect`), running a
//! [`StreamFramer`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use voip_sip::framing::StreamFramer;

use super::{ConnectionId, Ctx, TransportKind};

/// Receive buffer per connection.
const READ_CHUNK: usize = 16 * 1024;
/// Messages queued for writing per connection (also while it opens).
pub(super) const WRITE_QUEUE: usize = 64;
/// Time allowed for the TLS handshake.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed to flush queued answers when a connection closes.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn accept_loop(
    listener: TcpListener,
    kind: TransportKind,
    tls: Option<TlsAcceptor>,
    semaphore: Arc<Semaphore>,
    ctx: Arc<Ctx>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => r,
        };
        let Ok((tcp, peer)) = accepted else {
            // Out of file descriptors and the like: back off briefly.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&semaphore).try_acquire_owned() else {
            ctx.metrics.connections_refused.inc(kind);
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        ctx.metrics.connections.inc(kind);
        let ctx = Arc::clone(&ctx);
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            ctx.metrics.connections_open.inc(kind);
            match tls {
                None => serve(tcp, Conn::register(&ctx, peer, kind), &ctx, shutdown).await,
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                    {
                        serve(stream, Conn::register(&ctx, peer, kind), &ctx, shutdown).await;
                    } else {
                        tracing::debug!(transport = kind.as_str(), "TLS handshake failed");
                    }
                }
            }
            ctx.metrics.connections_open.dec(kind);
        });
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut writer: W, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(bytes) = rx.recv().await {
        if writer.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// A registered stream connection: its id, peer and write queue.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) id: ConnectionId,
    pub(super) peer: SocketAddr,
    pub(super) kind: TransportKind,
    pub(super) tx: mpsc::Sender<Vec<u8>>,
    pub(super) rx: mpsc::Receiver<Vec<u8>>,
    /// Send a CRLFCRLF ping after this long without receiving (connections
    /// we opened).
    pub(super) keepalive: Option<Duration>,
}

impl Conn {
    /// A new connection to or from `peer`, registered (its queue accepts
    /// messages from now on).
    pub(super) fn register(ctx: &Ctx, peer: SocketAddr, kind: TransportKind) -> Conn {
        let id = ctx.new_id();
        let (tx, rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        ctx.register_stream(id, peer, kind, tx.clone());
        Conn {
            id,
            peer,
            kind,
            tx,
            rx,
            keepalive: None,
        }
    }
}

pub(super) async fn serve<S>(
    stream: S,
    conn: Conn,
    ctx: &Arc<Ctx>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Conn {
        id,
        peer,
        kind,
        tx,
        rx,
        keepalive,
    } = conn;
    let (mut reader, writer) = tokio::io::split(stream);
    let mut writer_task = tokio::spawn(write_loop(writer, rx));
    let mut framer = StreamFramer::new(ctx.limits);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut idle_at = Instant::now() + ctx.idle_timeout;
    let mut ping_at = keepalive.map(|k| Instant::now() + k);
    'conn: loop {
        let wake = ping_at.map_or(idle_at, |p| p.min(idle_at));
        let read = tokio::select! {
            _ = shutdown.changed() => break,
            r = tokio::time::timeout_at(wake, reader.read(&mut buf)) => r,
        };
        let n = match read {
            Ok(Ok(n)) if n > 0 => n,
            Err(_) if Instant::now() < idle_at => {
                // RFC 5626 4.4.1 keep-alive ping; the pong resets `idle_at`.
                ping_at = keepalive.map(|k| Instant::now() + k);
                if tx.try_send(b"\r\n\r\n".to_vec()).is_err() {
                    break;
                }
                continue;
            }
            // Idle timeout, EOF or error: close.
            _ => break,
        };
        idle_at = Instant::now() + ctx.idle_timeout;
        ping_at = keepalive.map(|k| Instant::now() + k);
        framer.push(&buf[..n]);
        while let Some(result) = framer.poll_message() {
            let answer = match result {
                Ok(voip_sip::framing::Frame::Ping) => {
                    ctx.metrics.keepalives.inc(kind);
                    Some(b"\r\n".to_vec())
                }
                Ok(frame) => ctx.react(frame, peer, kind, id),
                Err(e) => {
                    if let Some(answer) = ctx.framing_error(&e, peer, kind) {
                        let _ = tokio::time::timeout(ctx.idle_timeout, tx.send(answer)).await;
                    }
                    break 'conn;
                }
            };
            // A peer that stops reading blocks its own connection only, and
            // for at most the idle timeout.
            if let Some(answer) = answer
                && !matches!(
                    tokio::time::timeout(ctx.idle_timeout, tx.send(answer)).await,
                    Ok(Ok(()))
                )
            {
                break 'conn;
            }
        }
    }
    ctx.unregister(id);
    drop(tx);
    if tokio::time::timeout(FLUSH_TIMEOUT, &mut writer_task)
        .await
        .is_err()
    {
        writer_task.abort();
    }
}
