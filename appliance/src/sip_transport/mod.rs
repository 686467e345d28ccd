//! The SIP transport shell of the daemon: UDP, TCP and TLS listeners that
//! frame ([`voip_sip::framing`]) and validate ([`voip_sip::validate`]) every
//! received message, answer rejections statelessly, and hand everything else
//! to the next layer over a bounded channel.
//!
//! This module makes no protocol decision of its own beyond what
//! `voip_sip::validate` decides:
//! - [`Reaction::Reject`] → a stateless
//!   response ([`stateless::build_response`]) over the same transport and
//!   connection. An `ACK` is never answered.
//! - [`Reaction::Drop`] → silently
//!   discarded and counted.
//! - [`Reaction::Process`] → an
//!   [`Inbound`] on the channel returned by [`SipTransport::start`]; later
//!   layers send through [`SipTransport::outbound`] with an [`Outbound`]
//!   (or [`SipTransport::sender`], which sends UDP from the caller's task).
//!
//! UDP under load: each socket asks for [`UDP_SOCKET_BUFFER`] of receive
//! and send buffer; a receive task reads up to 64 queued datagrams per
//! wake-up, and while the inbound channel is full it waits (the datagrams
//! wait in the socket buffer) instead of reading and dropping them.
//!
//! Where answers go: always to the source IP address and port of the request
//! (UDP: the datagram's source; TCP/TLS: the same connection). This is RFC
//! 3581 symmetric response routing applied to every request, which covers the
//! RFC 3261 18.2.2 cases "`received` present" and "`rport` present"; the Via's
//! `maddr` and sent-by port are deliberately not used (they would let a peer
//! aim our answers at a third party, cf. RFC 4475 3.3.10).
//!
//! Streams (TCP, TLS): at most [`TransportConfig::max_connections`]
//! connections per listener (further ones are accepted and closed at once);
//! a connection with no received octet for [`TransportConfig::idle_timeout`]
//! (or whose peer does not read our answers for that long) is closed; a framing error (see [`voip_sip::framing::StreamFramer`]) is
//! answered with 400/413/513 when the header fields needed for an answer are
//! known and the connection is then closed; an RFC 5626 keep-alive ping
//! (CRLFCRLF) is answered with a CRLF pong. Responses that upper layers send
//! for messages that preceded a framing error on the same connection are lost
//! with the connection.
//!
//! Outbound streams (RFC 3261 18.1, RFC 5923-style reuse): an [`Outbound`]
//! over TCP/TLS whose `connection` is `None` or gone goes over the newest
//! live connection to the same remote address and transport, whichever side
//! opened it; without one, a connection is opened (TCP connect within
//! [`TransportConfig::connect_timeout`], TLS 1.2+ handshake with certificate
//! verification against the OS trust store (`rustls-native-certs`) plus
//! [`TransportConfig::tls_ca_file`], server name
//! [`Outbound::server_name`] or else the destination IP address). Messages
//! queue (at most 64 per connection) while it opens; it then runs like an
//! accepted connection and delivers what arrives as [`Inbound`] with its own
//! [`ConnectionId`]. A failure is reported as
//! [`TransportEvent::ConnectFailed`] (the queued messages are dropped and
//! counted); a full queue drops the message and reports
//! [`TransportEvent::QueueFull`]. Connections we opened send an RFC 5626
//! CRLFCRLF keep-alive ping after a third of the idle timeout without
//! receiving, so that a registered trunk connection (which carries the
//! provider's requests to us) stays open while the provider answers pings.
//!
//! UDP: one task per socket with one 64 KiB receive buffer; a CRLF-only
//! datagram is counted as a keep-alive and not answered (RFC 5626 uses STUN on
//! UDP).
//!
//! TEMPORARY: until the transaction layer, registrar and B2BUA consume
//! [`Inbound`], the daemon runs [`spawn_fallback_uas`], which answers `OPTIONS`
//! with 200, every other request with `503` + `Retry-After: 30`, and never
//! answers an `ACK` (see [`stateless`]).

mod connect;
pub mod stateless;
mod stream;
mod tls;
mod udp;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use voip_sip::framing::{Frame, Limits};
use voip_sip::message::{MessageKind, ParseError, SipMessage};
use voip_sip::validate::{
    Capabilities, DropReason, Reaction, RejectCause, react_to_parse_error, validate_message,
};

use crate::config::SipListen;

pub use tls::{TlsSetupError, install_default_provider};

/// UDP receive buffer: the largest datagram accepted.
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// The transport a message came in on or goes out over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl TransportKind {
    /// Lower-case name used in logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
        }
    }

    fn index(self) -> usize {
        match self {
            TransportKind::Udp => 0,
            TransportKind::Tcp => 1,
            TransportKind::Tls => 2,
        }
    }

    const ALL: [TransportKind; 3] = [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls];
}

/// Identifies a UDP socket or a stream connection for the lifetime of the
/// process (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// What the transport reports to the next layer.
#[derive(Debug)]
pub enum TransportEvent {
    /// A validated message (boxed: the other variants are small).
    Message(Box<Inbound>),
    /// An outbound connection could not be opened; the messages queued for
    /// it were dropped.
    ConnectFailed {
        /// The remote address.
        destination: SocketAddr,
        /// TCP or TLS.
        transport: TransportKind,
        /// Why.
        cause: ConnectFailure,
    },
    /// A stream connection we opened (to a trunk) closed after it was up:
    /// the peer closed it, it failed, or it framed garbage. Not reported at
    /// shutdown. The next message to `destination` opens a new connection.
    ConnectionClosed {
        /// The remote address.
        destination: SocketAddr,
        /// TCP or TLS.
        transport: TransportKind,
        /// The connection that closed.
        connection: ConnectionId,
    },
    /// A stream connection's write queue was full: a message to
    /// `destination` was dropped.
    QueueFull {
        /// The remote address.
        destination: SocketAddr,
        /// TCP or TLS.
        transport: TransportKind,
    },
}

/// Why an outbound connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectFailure {
    /// The TCP connect failed (refused, unreachable, ...).
    Connect(std::io::ErrorKind),
    /// No TCP connection within [`TransportConfig::connect_timeout`].
    Timeout,
    /// The server name is not a valid DNS name or IP address.
    InvalidServerName,
    /// The TLS handshake failed or timed out (e.g. certificate not trusted).
    Tls,
    /// Too many outbound connections are open or opening.
    TooManyConnections,
    /// The transport is shutting down.
    Shutdown,
}

impl ConnectFailure {
    /// Log label.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectFailure::Connect(_) => "connect",
            ConnectFailure::Timeout => "timeout",
            ConnectFailure::InvalidServerName => "invalid_server_name",
            ConnectFailure::Tls => "tls",
            ConnectFailure::TooManyConnections => "too_many_connections",
            ConnectFailure::Shutdown => "shutdown",
        }
    }
}

/// A validated message handed to the next layer.
#[derive(Debug)]
pub struct Inbound {
    /// The message ([`Reaction::Process`] by the validation layer).
    pub message: SipMessage,
    /// Where it came from.
    pub source: SocketAddr,
    /// The transport it came in on.
    pub transport: TransportKind,
    /// The UDP socket or stream connection it came in on; answer over it.
    pub connection: ConnectionId,
}

/// Bytes a later layer wants sent.
#[derive(Debug)]
pub struct Outbound {
    /// The serialised message.
    pub bytes: Vec<u8>,
    /// Destination (UDP); informational for streams, which use `connection`.
    pub destination: SocketAddr,
    /// Transport to use.
    pub transport: TransportKind,
    /// UDP: the socket to send from (`None`: the first UDP socket). Streams:
    /// the connection; `None` or gone: a live connection to `destination`,
    /// else a new one (see the module documentation).
    pub connection: Option<ConnectionId>,
    /// TLS: the name the server's certificate must match when a connection
    /// is opened (a trunk's configured host); `None`: the destination's IP
    /// address. Ignored otherwise.
    pub server_name: Option<String>,
}

/// The sending side for later layers (the engine). UDP datagrams are sent
/// at once from the caller's task when the socket's send buffer has room,
/// without a hop to the dispatch task (one task wake-up less per message);
/// everything else (streams, a UDP send that would block) goes through the
/// dispatch queue as [`SipTransport::outbound`] does.
#[derive(Debug, Clone)]
pub struct OutboundSender {
    queue: mpsc::Sender<Outbound>,
    direct: Option<Arc<Ctx>>,
}

impl OutboundSender {
    /// A sender that only queues (no direct UDP sends), e.g. for tests
    /// that read the queue.
    pub fn queued(queue: mpsc::Sender<Outbound>) -> Self {
        OutboundSender {
            queue,
            direct: None,
        }
    }

    /// Sends `out` (UDP: now if the socket has room; see the type's
    /// documentation) or queues it for the dispatch task. Never waits;
    /// errors are those of [`mpsc::Sender::try_send`] on the queue.
    pub fn try_send(&self, out: Outbound) -> Result<(), mpsc::error::TrySendError<Outbound>> {
        if out.transport == TransportKind::Udp
            && let Some(ctx) = &self.direct
        {
            let Some(socket) = ctx.udp_socket(out.connection) else {
                ctx.metrics.dropped(DropCause::NoRoute);
                return Ok(());
            };
            match socket.try_send_to(&out.bytes, out.destination) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    ctx.metrics.send_errors.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
            }
        }
        self.queue.try_send(out)
    }
}

/// Why the SIP transports could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A socket could not be bound.
    #[error("cannot listen for SIP over {transport} on {addr}: {source}")]
    Bind {
        /// The transport.
        transport: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS listener's certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

/// Settings of the transport shell.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// UDP listen addresses.
    pub udp: Vec<SocketAddr>,
    /// TCP listen addresses.
    pub tcp: Vec<SocketAddr>,
    /// TLS listen addresses.
    pub tls: Vec<SocketAddr>,
    /// TLS certificate chain (PEM); required when `tls` is not empty.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); required when `tls` is not empty.
    pub tls_key: Option<PathBuf>,
    /// Header and body limits of the stream framers.
    pub limits: Limits,
    /// Maximum simultaneous connections per stream listener.
    pub max_connections: usize,
    /// A stream connection that receives nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Capacity of the [`Inbound`] channel (full → the message is dropped and counted).
    pub inbound_capacity: usize,
    /// Capacity of the [`Outbound`] channel.
    pub outbound_capacity: usize,
    /// What the validation layer and the fallback UAS advertise.
    pub capabilities: Capabilities,
    /// Extra trust anchors (PEM) for outbound TLS, besides the OS store.
    pub tls_ca_file: Option<PathBuf>,
    /// Time allowed for an outbound TCP connect (the TLS handshake has its
    /// own 10 s).
    pub connect_timeout: Duration,
}

impl TransportConfig {
    /// Defaults for the listeners of a bootstrap file: 1024 connections per
    /// listener, 300 s idle timeout (clients send RFC 5626 keep-alives well
    /// within that), [`Limits::default`], 1024-deep channels.
    pub fn from_listen(listen: &SipListen) -> Self {
        TransportConfig {
            udp: listen.udp.clone(),
            tcp: listen.tcp.clone(),
            tls: listen.tls.clone(),
            tls_cert: listen.tls_cert.clone(),
            tls_key: listen.tls_key.clone(),
            limits: Limits::default(),
            max_connections: 1024,
            idle_timeout: Duration::from_mins(5),
            inbound_capacity: 1024,
            outbound_capacity: 1024,
            capabilities: Capabilities::default(),
            tls_ca_file: listen.tls_ca_file.clone(),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a message was discarded without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropCause {
    /// A malformed response.
    MalformedResponse,
    /// A response with a version other than SIP/2.0.
    ResponseVersion,
    /// A response with other than one Via.
    ViaCount,
    /// A rejected request without a usable `Via` (nowhere to answer).
    Unanswerable,
    /// A rejected `ACK` (never answered).
    Ack,
    /// The [`Inbound`] channel was full.
    InboundFull,
    /// An [`Outbound`] that cannot go anywhere (no UDP socket, or a
    /// transport mismatch).
    NoRoute,
    /// A stream connection's write queue was full.
    QueueFull,
    /// Queued for an outbound connection that could not be opened.
    ConnectFailed,
}

impl DropCause {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            DropCause::MalformedResponse => "malformed_response",
            DropCause::ResponseVersion => "response_version",
            DropCause::ViaCount => "via_count",
            DropCause::Unanswerable => "unanswerable",
            DropCause::Ack => "ack",
            DropCause::InboundFull => "inbound_full",
            DropCause::NoRoute => "no_route",
            DropCause::QueueFull => "queue_full",
            DropCause::ConnectFailed => "connect_failed",
        }
    }
}

#[derive(Debug, Default)]
struct PerTransport([AtomicU64; 3]);

impl PerTransport {
    fn inc(&self, t: TransportKind) {
        self.0[t.index()].fetch_add(1, Ordering::Relaxed);
    }
    fn dec(&self, t: TransportKind) {
        self.0[t.index()].fetch_sub(1, Ordering::Relaxed);
    }
    fn get(&self, t: TransportKind) -> u64 {
        self.0[t.index()].load(Ordering::Relaxed)
    }
}

/// Counters of the transport shell, rendered on `/metrics`.
#[derive(Debug, Default)]
pub struct TransportMetrics {
    received: PerTransport,
    keepalives: PerTransport,
    framing_errors: PerTransport,
    connections: PerTransport,
    connections_refused: PerTransport,
    connections_open: PerTransport,
    connections_opened: PerTransport,
    connect_failures: PerTransport,
    inbound: AtomicU64,
    send_errors: AtomicU64,
    rejected: Mutex<BTreeMap<u16, u64>>,
    dropped: Mutex<BTreeMap<DropCause, u64>>,
}

impl TransportMetrics {
    fn rejected(&self, status: u16) {
        if let Ok(mut m) = self.rejected.lock() {
            *m.entry(status).or_default() += 1;
        }
    }

    fn dropped(&self, cause: DropCause) {
        if let Ok(mut m) = self.dropped.lock() {
            *m.entry(cause).or_default() += 1;
        }
    }

    /// Messages received (framed, whether valid or not) over `t`.
    pub fn received(&self, t: TransportKind) -> u64 {
        self.received.get(t)
    }

    /// Requests rejected statelessly with `status`.
    pub fn rejected_with(&self, status: u16) -> u64 {
        self.rejected
            .lock()
            .map_or(0, |m| m.get(&status).copied().unwrap_or(0))
    }

    /// Messages dropped for `cause`.
    pub fn dropped_for(&self, cause: DropCause) -> u64 {
        self.dropped
            .lock()
            .map_or(0, |m| m.get(&cause).copied().unwrap_or(0))
    }

    /// Appends the Prometheus text exposition of every counter to `out`.
    pub fn render_prometheus(&self, out: &mut String) {
        let per_transport: [(&str, &str, &str, &PerTransport); 8] = [
            (
                "voip_sip_received_total",
                "counter",
                "SIP messages received (valid or not).",
                &self.received,
            ),
            (
                "voip_sip_keepalives_total",
                "counter",
                "Keep-alive pings and pongs received.",
                &self.keepalives,
            ),
            (
                "voip_sip_framing_errors_total",
                "counter",
                "Stream framing errors (the connection was closed).",
                &self.framing_errors,
            ),
            (
                "voip_sip_connections_total",
                "counter",
                "Stream connections accepted.",
                &self.connections,
            ),
            (
                "voip_sip_connections_refused_total",
                "counter",
                "Stream connections closed at once because the listener was full.",
                &self.connections_refused,
            ),
            (
                "voip_sip_connections_open",
                "gauge",
                "Stream connections currently open.",
                &self.connections_open,
            ),
            (
                "voip_sip_connections_opened_total",
                "counter",
                "Outbound stream connections established.",
                &self.connections_opened,
            ),
            (
                "voip_sip_connect_failures_total",
                "counter",
                "Outbound stream connections that could not be established.",
                &self.connect_failures,
            ),
        ];
        for (name, kind, help, values) in per_transport {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for t in TransportKind::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{transport=\"{}\"}} {}",
                    t.as_str(),
                    values.get(t)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP voip_sip_rejected_total Requests answered statelessly by the validation layer, by status."
        );
        let _ = writeln!(out, "# TYPE voip_sip_rejected_total counter");
        if let Ok(m) = self.rejected.lock() {
            for (status, n) in m.iter() {
                let _ = writeln!(out, "voip_sip_rejected_total{{status=\"{status}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP voip_sip_dropped_total Messages discarded without an answer, by reason."
        );
        let _ = writeln!(out, "# TYPE voip_sip_dropped_total counter");
        if let Ok(m) = self.dropped.lock() {
            for (cause, n) in m.iter() {
                let _ = writeln!(
                    out,
                    "voip_sip_dropped_total{{reason=\"{}\"}} {n}",
                    cause.as_str()
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP voip_sip_inbound_total Messages handed to the next layer."
        );
        let _ = writeln!(out, "# TYPE voip_sip_inbound_total counter");
        let _ = writeln!(
            out,
            "voip_sip_inbound_total {}",
            self.inbound.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP voip_sip_send_errors_total Sends that failed at the socket."
        );
        let _ = writeln!(out, "# TYPE voip_sip_send_errors_total counter");
        let _ = writeln!(
            out,
            "voip_sip_send_errors_total {}",
            self.send_errors.load(Ordering::Relaxed)
        );
    }
}

/// Where an [`Outbound`] for a connection id goes.
#[derive(Debug, Clone)]
enum Sink {
    Udp(Arc<UdpSocket>),
    Stream(mpsc::Sender<Vec<u8>>),
}

/// The live UDP sockets and stream connections (opening ones included), and
/// the stream connections by remote address and transport.
#[derive(Debug, Default)]
struct Registry {
    sinks: HashMap<ConnectionId, Sink>,
    by_remote: HashMap<(SocketAddr, TransportKind), ConnectionId>,
    remotes: HashMap<ConnectionId, (SocketAddr, TransportKind)>,
}

/// State shared by every listener task.
#[derive(Debug)]
struct Ctx {
    caps: Capabilities,
    limits: Limits,
    idle_timeout: Duration,
    metrics: Arc<TransportMetrics>,
    inbound: mpsc::Sender<TransportEvent>,
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    tls_client: Arc<tokio_rustls::rustls::ClientConfig>,
    connect_timeout: Duration,
    outbound_permits: Arc<Semaphore>,
}

impl Ctx {
    fn new_id(&self) -> ConnectionId {
        ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn register(&self, id: ConnectionId, sink: Sink) {
        if let Ok(mut r) = self.registry.lock() {
            r.sinks.insert(id, sink);
        }
    }

    /// Registers a stream connection; it becomes the one used for
    /// `remote` over `kind` (the newest wins).
    fn register_stream(
        &self,
        id: ConnectionId,
        remote: SocketAddr,
        kind: TransportKind,
        tx: mpsc::Sender<Vec<u8>>,
    ) {
        if let Ok(mut r) = self.registry.lock() {
            r.sinks.insert(id, Sink::Stream(tx));
            r.by_remote.insert((remote, kind), id);
            r.remotes.insert(id, (remote, kind));
        }
    }

    fn unregister(&self, id: ConnectionId) {
        if let Ok(mut r) = self.registry.lock() {
            r.sinks.remove(&id);
            if let Some(key) = r.remotes.remove(&id)
                && r.by_remote.get(&key) == Some(&id)
            {
                r.by_remote.remove(&key);
            }
        }
    }

    /// The UDP socket `id`, or the first one.
    fn udp_socket(&self, id: Option<ConnectionId>) -> Option<Arc<UdpSocket>> {
        let r = self.registry.lock().ok()?;
        let sink = match id {
            Some(id) => r.sinks.get(&id),
            None => r
                .sinks
                .iter()
                .filter(|(_, s)| matches!(s, Sink::Udp(_)))
                .min_by_key(|(id, _)| **id)
                .map(|(_, s)| s),
        };
        match sink {
            Some(Sink::Udp(socket)) => Some(Arc::clone(socket)),
            _ => None,
        }
    }

    /// The write queue of connection `id` if it is a live `kind` stream,
    /// else of the live `kind` connection to `remote`.
    fn stream_to(
        &self,
        id: Option<ConnectionId>,
        remote: SocketAddr,
        kind: TransportKind,
    ) -> Option<mpsc::Sender<Vec<u8>>> {
        let r = self.registry.lock().ok()?;
        let live = |id: &ConnectionId| match r.sinks.get(id) {
            Some(Sink::Stream(tx)) if !tx.is_closed() => Some(tx.clone()),
            _ => None,
        };
        if let Some(id) = id
            && r.remotes.get(&id).is_some_and(|(_, k)| *k == kind)
            && let Some(tx) = live(&id)
        {
            return Some(tx);
        }
        r.by_remote.get(&(remote, kind)).and_then(live)
    }

    /// Applies the validation layer to one frame; returns the bytes to send
    /// back to the source, if any. `Process`ed messages go to the inbound channel.
    fn react(
        &self,
        frame: Frame,
        source: SocketAddr,
        transport: TransportKind,
        connection: ConnectionId,
    ) -> Option<Vec<u8>> {
        match frame {
            Frame::Ping | Frame::Pong => {
                self.metrics.keepalives.inc(transport);
                None
            }
            Frame::Invalid(e) => {
                self.metrics.received.inc(transport);
                let reaction = react_to_parse_error(&e);
                self.apply_rejection_or_drop(&reaction, e.headers.as_ref(), None, source, transport)
            }
            Frame::Message(message) => {
                self.metrics.received.inc(transport);
                let reaction = validate_message(&message, &self.caps);
                if reaction == Reaction::Process {
                    match self
                        .inbound
                        .try_send(TransportEvent::Message(Box::new(Inbound {
                            message,
                            source,
                            transport,
                            connection,
                        }))) {
                        Ok(()) => {
                            self.metrics.inbound.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => self.metrics.dropped(DropCause::InboundFull),
                    }
                    return None;
                }
                let is_ack = matches!(&message, SipMessage::Request(r) if r.method == voip_sip::message::Method::ACK);
                self.apply_rejection_or_drop(
                    &reaction,
                    Some(message.headers()),
                    Some(is_ack),
                    source,
                    transport,
                )
            }
        }
    }

    /// A stream framing error: the answer to send before closing, if any.
    fn framing_error(
        &self,
        e: &ParseError,
        source: SocketAddr,
        transport: TransportKind,
    ) -> Option<Vec<u8>> {
        self.metrics.framing_errors.inc(transport);
        self.metrics.received.inc(transport);
        tracing::debug!(
            transport = transport.as_str(),
            reason = %e.malformed,
            "SIP stream framing error; closing the connection"
        );
        if e.kind == MessageKind::Response {
            self.metrics.dropped(DropCause::MalformedResponse);
            return None;
        }
        let reaction = react_to_parse_error(e);
        self.apply_rejection_or_drop(&reaction, e.headers.as_ref(), None, source, transport)
    }

    fn apply_rejection_or_drop(
        &self,
        reaction: &Reaction,
        headers: Option<&voip_sip::message::Headers>,
        is_ack: Option<bool>,
        source: SocketAddr,
        transport: TransportKind,
    ) -> Option<Vec<u8>> {
        match reaction {
            Reaction::Process => None,
            Reaction::Drop(reason) => {
                let cause = match reason {
                    DropReason::MalformedResponse(_) => DropCause::MalformedResponse,
                    DropReason::UnsupportedVersion => DropCause::ResponseVersion,
                    DropReason::ViaCount => DropCause::ViaCount,
                };
                self.metrics.dropped(cause);
                tracing::debug!(
                    transport = transport.as_str(),
                    reason = cause.as_str(),
                    "SIP response dropped"
                );
                None
            }
            Reaction::Reject(rejection) => {
                let status = rejection.status.as_u16();
                let reason = reason_code(&rejection.cause);
                let Some(headers) = headers else {
                    self.metrics.dropped(DropCause::Unanswerable);
                    tracing::debug!(transport = transport.as_str(), status, %reason, "SIP request rejected; no header fields to answer with");
                    return None;
                };
                let ack = is_ack.unwrap_or_else(|| stateless::cseq_says_ack(headers));
                if ack {
                    self.metrics.dropped(DropCause::Ack);
                    tracing::debug!(transport = transport.as_str(), status, %reason, "SIP ACK rejected; not answered");
                    return None;
                }
                let Some(bytes) = stateless::build_response(
                    headers,
                    rejection.status,
                    &rejection.headers,
                    source,
                ) else {
                    self.metrics.dropped(DropCause::Unanswerable);
                    tracing::debug!(transport = transport.as_str(), status, %reason, "SIP request rejected; no Via to answer to");
                    return None;
                };
                self.metrics.rejected(status);
                tracing::debug!(transport = transport.as_str(), status, %reason, "SIP request rejected");
                Some(bytes)
            }
        }
    }
}

/// A content-free reason code for logs (header names at most, never values).
fn reason_code(cause: &RejectCause) -> String {
    match cause {
        RejectCause::Malformed(m) => format!("malformed: {m}"),
        RejectCause::VersionNotSupported => "version not supported".to_owned(),
        RejectCause::MethodNotImplemented => "method not implemented".to_owned(),
        RejectCause::UnsupportedUriScheme => "unsupported URI scheme".to_owned(),
        RejectCause::InvalidAddressOfRecord => "invalid address of record".to_owned(),
        RejectCause::BadExtension { tags } => format!("bad extension ({} tags)", tags.len()),
    }
}

/// The running listeners. Drop or [`SipTransport::shutdown`] to stop them.
#[derive(Debug)]
pub struct SipTransport {
    ctx: Arc<Ctx>,
    outbound: mpsc::Sender<Outbound>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    semaphores: Vec<(Arc<Semaphore>, u32)>,
    local: Vec<(TransportKind, SocketAddr)>,
}

impl SipTransport {
    /// Binds every configured listener and starts serving. Returns the handle
    /// and the receiving end of the [`TransportEvent`] channel. Must be
    /// called from within a tokio runtime.
    pub async fn start(
        config: TransportConfig,
    ) -> Result<(SipTransport, mpsc::Receiver<TransportEvent>), TransportError> {
        let tls_acceptor = if config.tls.is_empty() {
            None
        } else {
            Some(tls::acceptor(
                config.tls_cert.as_deref(),
                config.tls_key.as_deref(),
            )?)
        };
        let (inbound_tx, inbound_rx) = mpsc::channel(config.inbound_capacity.max(1));
        let (outbound_tx, outbound_rx) = mpsc::channel(config.outbound_capacity.max(1));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let max = u32::try_from(config.max_connections.clamp(1, 1 << 20)).unwrap_or(1024);
        let outbound_permits = Arc::new(Semaphore::new(max as usize));
        let ctx = Arc::new(Ctx {
            caps: config.capabilities.clone(),
            limits: config.limits,
            idle_timeout: config.idle_timeout,
            metrics: Arc::new(TransportMetrics::default()),
            inbound: inbound_tx,
            registry: Mutex::new(Registry::default()),
            next_id: AtomicU64::new(1),
            tls_client: tls::client_config(config.tls_ca_file.as_deref())?,
            connect_timeout: config.connect_timeout,
            outbound_permits: Arc::clone(&outbound_permits),
        });
        let mut tasks = JoinSet::new();
        let mut local = Vec::new();
        let mut semaphores = vec![(outbound_permits, max)];
        let bind_err = |transport: TransportKind, addr| {
            move |source| TransportError::Bind {
                transport: transport.as_str(),
                addr,
                source,
            }
        };
        for &addr in &config.udp {
            let socket = UdpSocket::bind(addr)
                .await
                .map_err(bind_err(TransportKind::Udp, addr))?;
            let bound = socket
                .local_addr()
                .map_err(bind_err(TransportKind::Udp, addr))?;
            set_udp_buffers(&socket, bound);
            let socket = Arc::new(socket);
            let id = ctx.new_id();
            ctx.register(id, Sink::Udp(Arc::clone(&socket)));
            tasks.spawn(udp::serve(
                socket,
                id,
                Arc::clone(&ctx),
                shutdown_rx.clone(),
            ));
            tracing::info!(transport = "udp", addr = %bound, "SIP socket bound");
            local.push((TransportKind::Udp, bound));
        }
        let streams = config
            .tcp
            .iter()
            .map(|a| (TransportKind::Tcp, *a))
            .chain(config.tls.iter().map(|a| (TransportKind::Tls, *a)));
        for (kind, addr) in streams {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(bind_err(kind, addr))?;
            let bound = listener.local_addr().map_err(bind_err(kind, addr))?;
            let semaphore = Arc::new(Semaphore::new(max as usize));
            semaphores.push((Arc::clone(&semaphore), max));
            let acceptor = match kind {
                TransportKind::Tls => tls_acceptor.clone(),
                _ => None,
            };
            tasks.spawn(stream::accept_loop(
                listener,
                kind,
                acceptor,
                semaphore,
                Arc::clone(&ctx),
                shutdown_rx.clone(),
            ));
            tracing::info!(transport = kind.as_str(), addr = %bound, "SIP socket bound");
            local.push((kind, bound));
        }
        tasks.spawn(dispatch_outbound(
            outbound_rx,
            Arc::clone(&ctx),
            shutdown_rx.clone(),
        ));
        Ok((
            SipTransport {
                ctx,
                outbound: outbound_tx,
                shutdown,
                tasks,
                semaphores,
                local,
            },
            inbound_rx,
        ))
    }

    /// Where later layers put messages to send.
    pub fn outbound(&self) -> mpsc::Sender<Outbound> {
        self.outbound.clone()
    }

    /// Like [`SipTransport::outbound`], with UDP sent directly from the
    /// caller's task (see [`OutboundSender`]).
    pub fn sender(&self) -> OutboundSender {
        OutboundSender {
            queue: self.outbound.clone(),
            direct: Some(Arc::clone(&self.ctx)),
        }
    }

    /// The counters.
    pub fn metrics(&self) -> Arc<TransportMetrics> {
        Arc::clone(&self.ctx.metrics)
    }

    /// The bound addresses (useful when configured with port 0).
    pub fn local_addrs(&self) -> &[(TransportKind, SocketAddr)] {
        &self.local
    }

    /// Stops accepting and receiving, closes every connection, and waits (at
    /// most `grace`) for the connection tasks to finish.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let wait = async {
            while self.tasks.join_next().await.is_some() {}
            for (sem, n) in &self.semaphores {
                let _ = sem.acquire_many(*n).await;
            }
        };
        if tokio::time::timeout(grace, wait).await.is_err() {
            tracing::warn!("SIP transport did not stop within the grace period");
            self.tasks.abort_all();
        }
        tracing::info!("SIP transport stopped");
    }
}

/// Receive and send buffer asked for each SIP UDP socket. The kernel
/// default (`net.core.rmem_default`, about 208 KiB) holds only some 10 ms of
/// signalling at 1 000 calls/s: a scheduling stall of the daemon on a busy
/// box then drops datagrams (counted in `RcvbufErrors` of
/// `/proc/net/snmp`), and a dropped final response that the peer does not
/// retransmit leaves a call hanging. Linux caps the value at
/// `net.core.rmem_max` / `wmem_max` (kernel default 208 KiB; raise both to
/// 4 MiB with sysctl for high call rates, see `docs/performance.md`).
pub const UDP_SOCKET_BUFFER: usize = 4 * 1024 * 1024;

fn set_udp_buffers(socket: &UdpSocket, bound: SocketAddr) {
    let sock = socket2::SockRef::from(socket);
    if let Err(error) = sock.set_recv_buffer_size(UDP_SOCKET_BUFFER) {
        tracing::warn!(addr = %bound, %error, "cannot size the SIP UDP receive buffer");
    }
    if let Err(error) = sock.set_send_buffer_size(UDP_SOCKET_BUFFER) {
        tracing::warn!(addr = %bound, %error, "cannot size the SIP UDP send buffer");
    }
    tracing::debug!(
        addr = %bound,
        recv = sock.recv_buffer_size().unwrap_or_default(),
        send = sock.send_buffer_size().unwrap_or_default(),
        "SIP UDP socket buffers"
    );
}

async fn dispatch_outbound(
    mut rx: mpsc::Receiver<Outbound>,
    ctx: Arc<Ctx>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let out = tokio::select! {
            _ = shutdown.changed() => return,
            out = rx.recv() => match out {
                Some(out) => out,
                None => return,
            },
        };
        if out.transport == TransportKind::Udp {
            match ctx.udp_socket(out.connection) {
                Some(socket) => {
                    if socket.send_to(&out.bytes, out.destination).await.is_err() {
                        ctx.metrics.send_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => ctx.metrics.dropped(DropCause::NoRoute),
            }
        } else {
            connect::send_stream(&ctx, out, &shutdown);
        }
    }
}

/// Runs the TEMPORARY fallback UAS (see the module documentation): answers
/// every [`Inbound`] request through `outbound` until `inbound` closes.
pub fn spawn_fallback_uas(
    mut inbound: mpsc::Receiver<TransportEvent>,
    outbound: mpsc::Sender<Outbound>,
    caps: Capabilities,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = inbound.recv().await {
            let TransportEvent::Message(msg) = event else {
                continue;
            };
            let SipMessage::Request(request) = &msg.message else {
                continue;
            };
            let Some(bytes) = stateless::fallback_answer(request, &caps, msg.source) else {
                continue;
            };
            let out = Outbound {
                bytes,
                destination: msg.source,
                transport: msg.transport,
                connection: Some(msg.connection),
                server_name: None,
            };
            if outbound.send(out).await.is_err() {
                return;
            }
        }
    })
}
