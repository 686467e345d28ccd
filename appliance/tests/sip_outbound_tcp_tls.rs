//! Outbound SIP connections (RFC 3261 18.1): the transport opens TCP and TLS
//! connections for messages that have none, reuses them, delivers what
//! comes back as `Inbound`, and reports connections it cannot open.
//!
//! - Through the real binary: a trunk with `transport = "tcp"` registers
//!   with a scripted provider on a loopback `TcpListener` and unregisters
//!   over the same connection at shutdown; a TCP trunk whose provider
//!   refuses connections reports the failed registration at once.
//! - In-process `SipTransport`: TLS with a self-signed certificate given as
//!   the extra CA file (name checked, untrusted and wrong-name servers
//!   refused), queueing while connecting, connect refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::rustls;
use voip_appliance::sip_transport::{
    ConnectFailure, DropCause, Outbound, SipTransport, TransportConfig, TransportEvent,
    TransportKind,
};
use voip_sip::framing::{Frame, Limits, StreamFramer};
use voip_sip::message::{HeaderName, Request, SipMessage, StatusCode};
use voip_sip::transaction::response_to;
use voip_sip::validate::Capabilities;

/// Upper bound for anything the tests wait for (a failure, not a delay).
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- helpers

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voip-outbound-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Reads the next SIP message from a blocking stream.
fn read_message(stream: &mut impl Read, framer: &mut StreamFramer) -> SipMessage {
    let mut buf = [0u8; 4096];
    loop {
        while let Some(frame) = framer.poll_message() {
            match frame {
                Ok(Frame::Message(m)) => return m,
                Ok(Frame::Ping | Frame::Pong) => {}
                other => panic!("unexpected frame {other:?}"),
            }
        }
        let n = stream.read(&mut buf).expect("nothing from the appliance");
        assert!(n > 0, "the appliance closed the connection");
        framer.push(&buf[..n]);
    }
}

fn ok_to_register(register: &Request, expires: u32) -> Vec<u8> {
    let mut ok = response_to(register, StatusCode::OK, Some("prov1"));
    let contact = register.headers.get(&HeaderName::CONTACT).unwrap();
    ok.headers
        .push(HeaderName::CONTACT, format!("{contact};expires={expires}"));
    ok.headers.push(HeaderName::EXPIRES, expires.to_string());
    ok.to_bytes()
}

struct Daemon {
    child: Child,
    lines: Option<std::io::Lines<BufReader<std::process::ChildStdout>>>,
    /// Log lines read up to the readiness line (the engine may log before it).
    early: std::collections::VecDeque<String>,
    http: SocketAddr,
    dir: PathBuf,
}

impl Daemon {
    /// Starts the daemon with one `transport = "tcp"` trunk to
    /// `127.0.0.1:provider_port`, waiting for its readiness line.
    fn start(name: &str, provider_port: u16) -> Daemon {
        let dir = temp_dir(name);
        std::fs::write(
            dir.join("site.toml"),
            format!(
                "version = 1\nsite_name = \"Trunktest\"\ntenant = \"trunktest\"\n\
                 [[trunks]]\nid = \"prov\"\nhost = \"127.0.0.1\"\nport = {provider_port}\n\
                 transport = \"tcp\"\ncredentials = \"trunk-prov\"\nusername = \"0301234567\"\n\
                 register = true\nregister_expiry_s = 600\noptions_interval_s = 0\npriority = 10\n"
            ),
        )
        .unwrap();
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dir.join("secrets.toml"))
                .unwrap();
            f.write_all(b"[credentials.trunk-prov]\npassword = \"prov-geheim\"\n")
                .unwrap();
        }
        let sip_port = free_port();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        std::fs::write(
            dir.join("appliance.toml"),
            format!(
                "version = 1\nappliance_id = \"outbound-test\"\ntenant = \"trunktest\"\ndata_dir = \"{}\"\n\
                 secrets_file = \"{}\"\nsite_config_file = \"{}\"\n[sip]\nudp = [\"127.0.0.1:{sip_port}\"]\n\
                 tcp = [\"127.0.0.1:{sip_port}\"]\n[http]\nlisten = \"{http}\"\n",
                dir.join("data").display(),
                dir.join("secrets.toml").display(),
                dir.join("site.toml").display(),
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_voip-appliance"))
            .args(["run", "--config"])
            .arg(dir.join("appliance.toml"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut early = std::collections::VecDeque::new();
        loop {
            let line = lines
                .next()
                .and_then(Result::ok)
                .expect("no readiness line");
            if line.contains("local HTTP (health, metrics) listening") {
                break;
            }
            early.push_back(line);
        }
        Daemon {
            child,
            lines: Some(lines),
            early,
            http,
            dir,
        }
    }

    /// Waits for a log line (after the previous match) containing every
    /// one of `parts`.
    fn wait_for_log(&mut self, parts: &[&str]) {
        let matches = |l: &String| parts.iter().all(|p| l.contains(p));
        while let Some(line) = self.early.pop_front() {
            if matches(&line) {
                return;
            }
        }
        assert!(
            self.lines
                .as_mut()
                .expect("logs already drained")
                .map_while(Result::ok)
                .any(|l| matches(&l)),
            "no log line with {parts:?}"
        );
    }

    /// Keeps reading the log (a full pipe would block the daemon).
    fn drain_logs(&mut self) {
        if let Some(lines) = self.lines.take() {
            std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        }
    }

    fn sigterm(&self) {
        assert!(
            Command::new("kill")
                .arg(self.child.id().to_string())
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ------------------------------------------------------- daemon (TCP trunk)

#[test]
fn tcp_trunk_registers_over_an_opened_connection_and_unregisters_over_it() {
    let provider = TcpListener::bind("127.0.0.1:0").unwrap();
    let provider_port = provider.local_addr().unwrap().port();
    // Accept on a thread so that a daemon that never connects fails the
    // test instead of hanging it.
    let (accepted_tx, accepted_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = accepted_tx.send(provider.accept().map(|(s, _)| s));
    });
    let mut daemon = Daemon::start("tcp-register", provider_port);

    let mut conn = accepted_rx
        .recv_timeout(WAIT)
        .expect("the appliance opened no TCP connection")
        .unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut framer = StreamFramer::new(Limits::default());
    let SipMessage::Request(register) = read_message(&mut conn, &mut framer) else {
        panic!("expected a REGISTER");
    };
    assert_eq!(register.method.as_str(), "REGISTER");
    let via = register.headers.get(&HeaderName::VIA).unwrap();
    assert!(via.starts_with("SIP/2.0/TCP "), "{via}");
    let contact = register.headers.get(&HeaderName::CONTACT).unwrap();
    assert!(contact.contains("transport=tcp"), "{contact}");
    conn.write_all(&ok_to_register(&register, 600)).unwrap();

    daemon.wait_for_log(&["trunk registration state", "to=\"registered\""]);
    let health = http_get(daemon.http, "/healthz");
    assert!(
        health.contains(r#"{"id":"prov","up":true,"registration":"registered"}"#),
        "{health}"
    );
    let metrics = http_get(daemon.http, "/metrics");
    assert!(
        metrics.contains("voip_sip_connections_opened_total{transport=\"tcp\"} 1"),
        "{metrics}"
    );
    daemon.drain_logs();

    // Shutdown: the unregistration reuses the connection.
    daemon.sigterm();
    let SipMessage::Request(unregister) = read_message(&mut conn, &mut framer) else {
        panic!("expected a REGISTER");
    };
    let expires_zero = unregister.headers.get(&HeaderName::EXPIRES) == Some("0")
        || unregister
            .headers
            .get(&HeaderName::CONTACT)
            .is_some_and(|c| c.contains("expires=0"));
    assert!(expires_zero, "{unregister}");
    conn.write_all(&ok_to_register(&unregister, 0)).unwrap();
    assert!(daemon.child.wait().unwrap().success());
}

#[test]
fn tcp_trunk_whose_provider_refuses_connections_fails_registration_at_once() {
    // A port nobody listens on.
    let refused_port = free_port();
    let mut daemon = Daemon::start("tcp-refused", refused_port);
    daemon.wait_for_log(&["cannot open a SIP connection", "cause=\"connect\""]);
    daemon.wait_for_log(&["trunk registration state", "to=\"failed\""]);
    let health = http_get(daemon.http, "/healthz");
    assert!(health.contains(r#""registration":"failed""#), "{health}");
}

// ------------------------------------------------ in-process SipTransport

fn transport_config(tls_ca_file: Option<PathBuf>) -> TransportConfig {
    TransportConfig {
        udp: Vec::new(),
        tcp: Vec::new(),
        tls: Vec::new(),
        tls_cert: None,
        tls_key: None,
        limits: Limits::default(),
        max_connections: 16,
        idle_timeout: Duration::from_mins(5),
        inbound_capacity: 64,
        outbound_capacity: 64,
        capabilities: Capabilities::default(),
        tls_ca_file,
        connect_timeout: Duration::from_secs(5),
    }
}

fn options(transport: &str, n: u32) -> Vec<u8> {
    format!(
        "OPTIONS sip:localhost SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5060;branch=z9hG4bK-outbound-{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@127.0.0.1>;tag=t{n}\r\n\
         To: <sip:localhost>\r\n\
         Call-ID: outbound-{n}@127.0.0.1\r\n\
         CSeq: {n} OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn outbound(bytes: Vec<u8>, destination: SocketAddr, transport: TransportKind) -> Outbound {
    Outbound {
        bytes,
        destination,
        transport,
        connection: None,
        server_name: None,
    }
}

async fn read_message_async<R: AsyncRead + Unpin>(
    stream: &mut R,
    framer: &mut StreamFramer,
) -> SipMessage {
    let mut buf = [0u8; 4096];
    loop {
        while let Some(frame) = framer.poll_message() {
            match frame {
                Ok(Frame::Message(m)) => return m,
                Ok(Frame::Ping | Frame::Pong) => {}
                other => panic!("unexpected frame {other:?}"),
            }
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("nothing from the transport")
            .unwrap();
        assert!(n > 0, "the transport closed the connection");
        framer.push(&buf[..n]);
    }
}

async fn next_event(events: &mut tokio::sync::mpsc::Receiver<TransportEvent>) -> TransportEvent {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no transport event")
        .expect("transport event channel closed")
}

/// A self-signed certificate for `localhost`: (CA file, server config).
fn tls_server(dir: &Path) -> (PathBuf, Arc<rustls::ServerConfig>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ck.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    (ca, Arc::new(config))
}

#[tokio::test]
async fn tls_outbound_verifies_the_name_and_delivers_the_answer_as_inbound() {
    let dir = temp_dir("tls-ok");
    let (ca, server_config) = tls_server(&dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_addr = listener.local_addr().unwrap();
    let (transport, mut events) = SipTransport::start(transport_config(Some(ca)))
        .await
        .unwrap();
    let out = transport.outbound();

    let request = options("TLS", 1);
    out.send(Outbound {
        server_name: Some("localhost".to_owned()),
        ..outbound(request.clone(), server_addr, TransportKind::Tls)
    })
    .await
    .unwrap();
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config);
    let mut tls = acceptor.accept(tcp).await.unwrap();
    let mut framer = StreamFramer::new(Limits::default());
    let SipMessage::Request(received) = read_message_async(&mut tls, &mut framer).await else {
        panic!("expected the OPTIONS");
    };
    assert_eq!(
        received.to_bytes(),
        SipMessage::parse(&request).unwrap().to_bytes(),
        "the message arrives unchanged"
    );
    tls.write_all(&response_to(&received, StatusCode::OK, Some("srv")).to_bytes())
        .await
        .unwrap();

    let TransportEvent::Message(inbound) = next_event(&mut events).await else {
        panic!("expected the answer");
    };
    assert_eq!(inbound.transport, TransportKind::Tls);
    assert_eq!(inbound.source, server_addr);
    let SipMessage::Response(answer) = &inbound.message else {
        panic!("expected a response");
    };
    assert_eq!(answer.status, StatusCode::OK);

    // The next message to the same address reuses the connection, with or
    // without naming it.
    out.send(Outbound {
        connection: Some(inbound.connection),
        ..outbound(options("TLS", 2), server_addr, TransportKind::Tls)
    })
    .await
    .unwrap();
    out.send(outbound(options("TLS", 3), server_addr, TransportKind::Tls))
        .await
        .unwrap();
    for n in [2, 3] {
        let SipMessage::Request(r) = read_message_async(&mut tls, &mut framer).await else {
            panic!("expected an OPTIONS");
        };
        assert_eq!(
            r.to_bytes(),
            SipMessage::parse(&options("TLS", n)).unwrap().to_bytes()
        );
    }
    let mut metrics = String::new();
    transport.metrics().render_prometheus(&mut metrics);
    assert!(
        metrics.contains("voip_sip_connections_opened_total{transport=\"tls\"} 1"),
        "{metrics}"
    );
    transport.shutdown(WAIT).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Accepts one connection and runs the server side of the handshake (which
/// the client aborts).
async fn accept_handshake(listener: tokio::net::TcpListener, config: Arc<rustls::ServerConfig>) {
    if let Ok((tcp, _)) = listener.accept().await {
        let _ = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await;
    }
}

#[tokio::test]
async fn tls_outbound_refuses_untrusted_or_misnamed_servers() {
    let dir = temp_dir("tls-refused");
    let (ca, server_config) = tls_server(&dir);
    // (trusted CA file, server name)
    let cases: [(Option<PathBuf>, &str); 2] = [(None, "localhost"), (Some(ca), "sip.example.net")];
    for (ca_file, name) in cases {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_addr = listener.local_addr().unwrap();
        let server = tokio::spawn(accept_handshake(listener, Arc::clone(&server_config)));
        let (transport, mut events) = SipTransport::start(transport_config(ca_file.clone()))
            .await
            .unwrap();
        transport
            .outbound()
            .send(Outbound {
                server_name: Some(name.to_owned()),
                ..outbound(options("TLS", 1), server_addr, TransportKind::Tls)
            })
            .await
            .unwrap();
        match next_event(&mut events).await {
            TransportEvent::ConnectFailed {
                destination,
                transport: kind,
                cause,
            } => {
                assert_eq!(destination, server_addr);
                assert_eq!(kind, TransportKind::Tls);
                assert_eq!(cause, ConnectFailure::Tls, "{ca_file:?} {name}");
            }
            other => panic!("expected ConnectFailed, got {other:?}"),
        }
        assert_eq!(transport.metrics().dropped_for(DropCause::ConnectFailed), 1);
        let _ = tokio::time::timeout(WAIT, server).await;
        transport.shutdown(WAIT).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn tcp_messages_queue_while_connecting_and_share_one_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_addr = listener.local_addr().unwrap();
    let (transport, _events) = SipTransport::start(transport_config(None)).await.unwrap();
    let out = transport.outbound();
    // Both are queued before the connection is accepted.
    for n in [1, 2] {
        out.send(outbound(options("TCP", n), server_addr, TransportKind::Tcp))
            .await
            .unwrap();
    }
    let (mut tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut framer = StreamFramer::new(Limits::default());
    for n in [1, 2] {
        let SipMessage::Request(r) = read_message_async(&mut tcp, &mut framer).await else {
            panic!("expected an OPTIONS");
        };
        assert_eq!(
            r.to_bytes(),
            SipMessage::parse(&options("TCP", n)).unwrap().to_bytes()
        );
    }
    let mut metrics = String::new();
    transport.metrics().render_prometheus(&mut metrics);
    assert!(
        metrics.contains("voip_sip_connections_opened_total{transport=\"tcp\"} 1"),
        "{metrics}"
    );
    transport.shutdown(WAIT).await;
}

#[tokio::test]
async fn refused_tcp_connect_is_reported_as_connect_failed() {
    let closed: SocketAddr = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let (transport, mut events) = SipTransport::start(transport_config(None)).await.unwrap();
    transport
        .outbound()
        .send(outbound(options("TCP", 1), closed, TransportKind::Tcp))
        .await
        .unwrap();
    match next_event(&mut events).await {
        TransportEvent::ConnectFailed {
            destination,
            transport: kind,
            cause,
        } => {
            assert_eq!(destination, closed);
            assert_eq!(kind, TransportKind::Tcp);
            assert_eq!(
                cause,
                ConnectFailure::Connect(std::io::ErrorKind::ConnectionRefused)
            );
        }
        other => panic!("expected ConnectFailed, got {other:?}"),
    }
    assert_eq!(transport.metrics().dropped_for(DropCause::ConnectFailed), 1);
    let mut metrics = String::new();
    transport.metrics().render_prometheus(&mut metrics);
    assert!(
        metrics.contains("voip_sip_connect_failures_total{transport=\"tcp\"} 1"),
        "{metrics}"
    );
    transport.shutdown(WAIT).await;
}
