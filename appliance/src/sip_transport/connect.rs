//! Outbound TCP/TLS: routing an [`Outbound`] to a live connection or opening
//! a new one (see the module documentation of [`super`]).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio_rustls::rustls::pki_types::ServerName;

use super::stream::{self, Conn, HANDSHAKE_TIMEOUT};
use super::{ConnectFailure, Ctx, DropCause, Outbound, TransportEvent, TransportKind};

/// Sends a TCP/TLS `out` over a live connection, or opens one (never waits).
pub(super) fn send_stream(ctx: &Arc<Ctx>, out: Outbound, shutdown: &watch::Receiver<bool>) {
    let Outbound {
        bytes,
        destination,
        transport,
        connection,
        server_name,
    } = out;
    if let Some(tx) = ctx.stream_to(connection, destination, transport) {
        match tx.try_send(bytes) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                ctx.metrics.dropped(DropCause::QueueFull);
                report(
                    ctx,
                    TransportEvent::QueueFull {
                        destination,
                        transport,
                    },
                );
            }
            // Closed between the lookup and now: the connection is gone.
            Err(mpsc::error::TrySendError::Closed(_)) => ctx.metrics.dropped(DropCause::NoRoute),
        }
        return;
    }
    let Ok(permit) = Arc::clone(&ctx.outbound_permits).try_acquire_owned() else {
        ctx.metrics.dropped(DropCause::ConnectFailed);
        fail(
            ctx,
            destination,
            transport,
            ConnectFailure::TooManyConnections,
        );
        return;
    };
    let mut conn = Conn::register(ctx, destination, transport);
    conn.keepalive = Some(ctx.idle_timeout / 3);
    // A fresh queue has room.
    let _ = conn.tx.try_send(bytes);
    tokio::spawn(open(
        Arc::clone(ctx),
        conn,
        server_name,
        permit,
        shutdown.clone(),
    ));
}

/// Connects (and handshakes), then serves `conn` like an accepted
/// connection; on failure drops what was queued and reports it.
async fn open(
    ctx: Arc<Ctx>,
    conn: Conn,
    server_name: Option<String>,
    _permit: OwnedSemaphorePermit,
    mut shutdown: watch::Receiver<bool>,
) {
    let (peer, kind) = (conn.peer, conn.kind);
    let connected = tokio::select! {
        _ = shutdown.changed() => Err(ConnectFailure::Shutdown),
        r = connect(&ctx, peer, kind, server_name) => r,
    };
    match connected {
        Ok(Connected::Tcp(tcp)) => {
            opened(&ctx, kind, peer);
            serve(tcp, conn, &ctx, shutdown).await;
        }
        Ok(Connected::Tls(tls)) => {
            opened(&ctx, kind, peer);
            serve(*tls, conn, &ctx, shutdown).await;
        }
        Err(cause) => {
            let Conn { id, tx, mut rx, .. } = conn;
            ctx.unregister(id);
            drop(tx);
            rx.close();
            while rx.try_recv().is_ok() {
                ctx.metrics.dropped(DropCause::ConnectFailed);
            }
            if cause != ConnectFailure::Shutdown {
                fail(&ctx, peer, kind, cause);
            }
        }
    }
}

async fn serve<S>(stream: S, conn: Conn, ctx: &Arc<Ctx>, shutdown: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    ctx.metrics.connections_open.inc(conn.kind);
    let (kind, peer, id) = (conn.kind, conn.peer, conn.id);
    let stopping = shutdown.clone();
    stream::serve(stream, conn, ctx, shutdown).await;
    ctx.metrics.connections_open.dec(kind);
    if !*stopping.borrow() {
        tracing::debug!(transport = kind.as_str(), %peer, "SIP connection closed");
        report(
            ctx,
            TransportEvent::ConnectionClosed {
                destination: peer,
                transport: kind,
                connection: id,
            },
        );
    }
}

fn opened(ctx: &Ctx, kind: TransportKind, peer: SocketAddr) {
    ctx.metrics.connections_opened.inc(kind);
    tracing::debug!(transport = kind.as_str(), %peer, "SIP connection opened");
}

enum Connected {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn connect(
    ctx: &Ctx,
    peer: SocketAddr,
    kind: TransportKind,
    server_name: Option<String>,
) -> Result<Connected, ConnectFailure> {
    let name = match (kind, server_name) {
        (TransportKind::Tls, Some(name)) => Some(
            ServerName::try_from(
                name.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            )
            .map_err(|_| ConnectFailure::InvalidServerName)?,
        ),
        (TransportKind::Tls, None) => Some(ServerName::IpAddress(peer.ip().into())),
        _ => None,
    };
    let tcp = match tokio::time::timeout(ctx.connect_timeout, TcpStream::connect(peer)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(ConnectFailure::Connect(e.kind())),
        Err(_) => return Err(ConnectFailure::Timeout),
    };
    let _ = tcp.set_nodelay(true);
    let Some(name) = name else {
        return Ok(Connected::Tcp(tcp));
    };
    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_rustls::TlsConnector::from(Arc::clone(&ctx.tls_client)).connect(name, tcp),
    )
    .await
    {
        Ok(Ok(tls)) => Ok(Connected::Tls(Box::new(tls))),
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            Err(ConnectFailure::Tls)
        }
        Err(_) => Err(ConnectFailure::Tls),
    }
}

fn fail(ctx: &Ctx, destination: SocketAddr, transport: TransportKind, cause: ConnectFailure) {
    ctx.metrics.connect_failures.inc(transport);
    tracing::debug!(
        transport = transport.as_str(),
        %destination,
        cause = cause.as_str(),
        "SIP connection could not be opened"
    );
    report(
        ctx,
        TransportEvent::ConnectFailed {
            destination,
            transport,
            cause,
        },
    );
}

/// Reports to the next layer without waiting (a full channel drops the
/// report, counted like a dropped message).
fn report(ctx: &Ctx, event: TransportEvent) {
    if ctx.inbound.try_send(event).is_err() {
        ctx.metrics.dropped(DropCause::InboundFull);
    }
}
