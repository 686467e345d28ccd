//! Replays every RFC 4475 torture message against the real `voip-appliance`
//! binary over UDP (one datagram each) and TCP (one connection each) and
//! checks the answer the validation layer decides (or the PBX's answer for
//! messages it lets through), that a second client keeps being served
//! between messages, that the daemon survives, and that its RSS does not grow
//! by more than [`RSS_GROWTH_BOUND_KIB`] over three further replays (leak
//! smoke check). Also: OPTIONS over TLS, and a clear start error for a
//! missing TLS certificate.
#![allow(
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    reason = "test helpers: a failure should panic the test"
)]

mod sip_transport_support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sip_transport_support::{
    ANSWER_TIMEOUT, Daemon, assert_probe_ok, header, http_get, options, read_head, split_responses,
    start, status_of,
};

/// RSS growth allowed between the end of the first replay and the end of
/// three more (allocator noise is well below 1 MiB; a per-message or
/// per-connection leak of even 10 KiB would exceed it: 3 × 98 × 10 KiB).
const RSS_GROWTH_BOUND_KIB: u64 = 2048;

/// How long we wait to conclude "no answer" on TCP (no barrier possible there).
const SILENCE: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Process,
    Reject(u16),
    Drop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tcp {
    /// Same answer as over UDP.
    Same,
    /// Waits for more bytes: no answer until the client closes.
    Incomplete,
    /// Framing error: this status, then the server closes.
    Close(u16),
    /// dblreq: two messages, then a framing error (400, close).
    TwoMessagesThenClose,
}

use Tcp::{Close, Incomplete, Same, TwoMessagesThenClose};
use Verdict::{Drop, Process, Reject};

/// The verdict table of `appliance/sip/tests/rfc4475.rs` (our strict/liberal choices).
const TABLE: &[(&str, Verdict, Tcp)] = &[
    ("wsinv", Process, Same),
    ("intmeth", Reject(501), Same),
    ("esc01", Process, Same),
    ("escnull", Process, Same),
    ("esc02", Reject(501), Same),
    ("lwsdisp", Process, Same),
    ("longreq", Process, Same),
    ("dblreq", Process, TwoMessagesThenClose),
    ("semiuri", Process, Same),
    ("transports", Process, Same),
    ("mpart01", Reject(501), Same),
    ("unreason", Process, Same),
    ("noreason", Process, Same),
    ("badinv01", Reject(400), Same),
    ("clerr", Reject(400), Incomplete),
    ("ncl", Reject(400), Close(400)),
    ("scalar02", Reject(400), Same),
    ("scalarlg", Drop, Same),
    ("quotbal", Reject(400), Same),
    ("ltgtruri", Reject(400), Same),
    ("lwsruri", Reject(400), Same),
    ("lwsstart", Reject(400), Same),
    ("trws", Reject(400), Same),
    ("escruri", Reject(400), Same),
    ("baddate", Process, Same),
    ("regbadct", Reject(400), Same),
    ("badaspec", Reject(400), Same),
    ("baddn", Reject(400), Incomplete),
    ("badvers", Reject(505), Same),
    ("mismatch01", Reject(400), Same),
    ("mismatch02", Reject(501), Same),
    ("bigcode", Drop, Same),
    ("badbranch", Process, Same),
    ("insuf", Reject(400), Same),
    ("unkscm", Reject(416), Same),
    ("novelsc", Reject(416), Same),
    ("unksm2", Reject(400), Same),
    ("bext01", Reject(420), Same),
    ("invut", Process, Same),
    ("regaut01", Process, Same),
    ("multi01", Reject(400), Same),
    ("mcl01", Reject(400), Close(400)),
    ("bcast", Drop, Same),
    ("zeromf", Process, Same),
    ("cparam01", Process, Same),
    ("cparam02", Process, Same),
    ("regescrt", Process, Same),
    ("sdp01", Process, Same),
    ("inv2543", Process, Close(400)),
];

struct Case {
    tag: String,
    bytes: Vec<u8>,
    /// Answer over UDP (and over TCP for `Same`); `None`: no answer at all.
    answer: Option<u16>,
    tcp: Tcp,
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sip/tests/data/rfc4475")
}

/// What the PBX answers to the requests validation lets through (besides
/// OPTIONS, 200): INVITEs from an unknown source are challenged (407); wsinv
/// carries a To tag, so it is an in-dialog request for a dialog that does not
/// exist (481); the REGISTERs are for `example.com`, a domain this registrar
/// is not responsible for (403; the registrar's own RFC 4475 handling with
/// the domain configured is tested in `voip-sip`); MESSAGE is not
/// implemented (501).
const PBX_ANSWERS: &[(&str, u16)] = &[
    ("baddate", 407),
    ("cparam01", 403),
    ("cparam02", 403),
    ("dblreq", 403),
    ("esc01", 407),
    ("escnull", 403),
    ("inv2543", 407),
    ("invut", 407),
    ("longreq", 407),
    ("regaut01", 403),
    ("regescrt", 403),
    ("sdp01", 407),
    ("wsinv", 481),
];

/// The expected answer: the validation layer's, or the PBX's for `Process`ed
/// requests (OPTIONS 200, ACK nothing, the rest from [`PBX_ANSWERS`]).
fn cases() -> Vec<Case> {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data_dir().join("expected.json")).unwrap()).unwrap();
    let entries = json.as_array().unwrap();
    assert_eq!(entries.len(), TABLE.len());
    entries
        .iter()
        .map(|e| {
            let tag = e["tag"].as_str().unwrap().to_owned();
            let &(_, verdict, tcp) = TABLE.iter().find(|r| r.0 == tag).unwrap();
            let bytes = std::fs::read(data_dir().join(format!("{tag}.dat"))).unwrap();
            let first = bytes.split(|b| *b == b' ').next().unwrap().to_vec();
            let answer = match verdict {
                Reject(status) => Some(status),
                Drop => None,
                Process if first == b"SIP/2.0" || first == b"ACK" => None,
                Process if first == b"OPTIONS" => Some(200),
                Process => Some(
                    PBX_ANSWERS
                        .iter()
                        .find(|(t, _)| *t == tag)
                        .map_or_else(|| panic!("{tag}: no PBX answer in the table"), |r| r.1),
                ),
            };
            Case {
                tag,
                bytes,
                answer,
                tcp,
            }
        })
        .collect()
}

fn check_answer(tag: &str, response: &str, want: u16) {
    assert_eq!(status_of(response.as_bytes()), want, "{tag}: {response}");
    assert_eq!(header(response, "Content-Length"), Some("0"), "{tag}");
    assert!(header(response, "Server").is_none(), "{tag}: {response}");
    assert!(header(response, "Via").is_some(), "{tag}: {response}");
    match want {
        501 => assert!(header(response, "Allow").is_some(), "{tag}: {response}"),
        420 => assert!(
            header(response, "Unsupported").is_some(),
            "{tag}: {response}"
        ),
        407 => assert!(
            header(response, "Proxy-Authenticate").is_some(),
            "{tag}: {response}"
        ),
        _ => {}
    }
}

/// The ACK for a non-2xx final answer to an INVITE that reached a server
/// transaction (RFC 3261 17.1.1.3), or `None` for anything else.
fn ack_for(request: &[u8], answer: &str) -> Option<Vec<u8>> {
    use voip_sip::message::{Method, SipMessage};
    let SipMessage::Request(invite) = SipMessage::parse(request).ok()? else {
        return None;
    };
    let SipMessage::Response(response) = SipMessage::parse(answer.as_bytes()).ok()? else {
        return None;
    };
    (invite.method == Method::INVITE && response.status.as_u16() >= 300)
        .then(|| voip_sip::transaction::ack_for_non_2xx(&invite, &response).to_bytes())
}

fn recv_udp(socket: &UdpSocket, timeout: Duration) -> Option<String> {
    socket.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = vec![0u8; 65536];
    match socket.recv(&mut buf) {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(e) => panic!("recv: {e}"),
    }
}

/// UDP: torture client A and probe client B on the same listener socket. The
/// probe's 200 is a barrier: the daemon's UDP task handles datagrams in order
/// and the fallback answers in order, so once B has its 200, any answer to A
/// has been sent already and a short read on A proves silence.
fn replay_udp(daemon: &Daemon, cases: &[Case], probe_seq: &mut u32) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(daemon.udp).unwrap();
    b.connect(daemon.udp).unwrap();
    let b_port = b.local_addr().unwrap().port();
    for case in cases {
        a.send(&case.bytes).unwrap();
        *probe_seq += 1;
        b.send(&options("UDP", *probe_seq)).unwrap();
        let probe = recv_udp(&b, ANSWER_TIMEOUT)
            .unwrap_or_else(|| panic!("{}: the probe client was not served after it", case.tag));
        assert_probe_ok(&probe, b_port);
        if let Some(want) = case.answer {
            let answer = recv_udp(&a, ANSWER_TIMEOUT)
                .unwrap_or_else(|| panic!("{}: no answer over UDP, want {want}", case.tag));
            check_answer(&case.tag, &answer, want);
            assert!(
                answer.contains("received=127.0.0.1") || !answer.contains("z9hG4bK"),
                "{}: top Via lacks received: {answer}",
                case.tag
            );
            // Behave as a UAC: ACK a non-2xx final answer to an INVITE, or
            // the server transaction retransmits it (Timer G) into the next
            // message's answer.
            if let Some(ack) = ack_for(&case.bytes, &answer) {
                a.send(&ack).unwrap();
            }
        }
        if let Some(extra) = recv_udp(&a, Duration::from_millis(20)) {
            panic!("{}: unexpected (extra) UDP answer {extra}", case.tag);
        }
    }
}

fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
    let mut all = Vec::new();
    stream
        .read_to_end(&mut all)
        .unwrap_or_else(|e| panic!("the server did not close the connection: {e}"));
    all
}

fn assert_silent(stream: &mut TcpStream, tag: &str, silence: Duration) {
    stream.set_read_timeout(Some(silence)).unwrap();
    let mut buf = [0u8; 1024];
    match stream.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Ok(n) => panic!(
            "{tag}: unexpected TCP data/close: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => panic!("{tag}: {e}"),
    }
}

/// TCP: one connection per torture message; a persistent probe connection
/// must get its 200 after every message.
fn replay_tcp(daemon: &Daemon, cases: &[Case], probe_seq: &mut u32) {
    let mut probe = TcpStream::connect(daemon.tcp).unwrap();
    probe.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
    let probe_port = probe.local_addr().unwrap().port();
    // RFC 5626 keep-alive: CRLFCRLF ping → CRLF pong.
    probe.write_all(b"\r\n\r\n").unwrap();
    let mut pong = [0u8; 2];
    probe.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\r\n");
    for case in cases {
        let mut c = TcpStream::connect(daemon.tcp).unwrap();
        c.write_all(&case.bytes).unwrap();
        match case.tcp {
            Same => match case.answer {
                Some(want) => {
                    c.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
                    let answer = read_head(&mut c);
                    check_answer(&case.tag, &answer, want);
                    assert_silent(&mut c, &case.tag, Duration::from_millis(20));
                }
                None => assert_silent(&mut c, &case.tag, SILENCE),
            },
            Incomplete => {
                assert_silent(&mut c, &case.tag, SILENCE);
                c.shutdown(Shutdown::Write).unwrap();
                let rest = read_to_eof(&mut c);
                assert!(
                    rest.is_empty(),
                    "{}: answered an incomplete message: {:?}",
                    case.tag,
                    String::from_utf8_lossy(&rest)
                );
            }
            Close(want) => {
                let all = read_to_eof(&mut c);
                let answers = split_responses(&all);
                assert_eq!(answers.len(), 1, "{}: {answers:?}", case.tag);
                check_answer(&case.tag, &answers[0], want);
            }
            TwoMessagesThenClose => {
                // The leftover line after the second message is a framing
                // error without any header field (no Via): nothing to answer,
                // the connection is closed. The PBX's 403s for the two
                // preceding REGISTERs may be lost when it closes first.
                let all = read_to_eof(&mut c);
                let statuses: Vec<u16> = split_responses(&all)
                    .iter()
                    .map(|r| status_of(r.as_bytes()))
                    .collect();
                assert!(
                    statuses.iter().all(|s| *s == 403) && statuses.len() <= 2,
                    "{}: {statuses:?}",
                    case.tag
                );
            }
        }
        drop(c);
        *probe_seq += 1;
        probe.write_all(&options("TCP", *probe_seq)).unwrap();
        let answer = read_head(&mut probe);
        assert_probe_ok(&answer, probe_port);
    }
}

fn metric(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{metrics}"))
}

/// Sends every message over UDP and TCP without checking the answers, with
/// a probe served after each (the leak-check rounds: identical messages
/// re-sent within a transaction's lifetime are retransmissions by RFC 3261
/// 17.2.3, so their answers differ from a fresh daemon's).
fn replay_unchecked(daemon: &Daemon, cases: &[Case], probe_seq: &mut u32) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(daemon.udp).unwrap();
    b.connect(daemon.udp).unwrap();
    let b_port = b.local_addr().unwrap().port();
    for case in cases {
        a.send(&case.bytes).unwrap();
        let mut c = TcpStream::connect(daemon.tcp).unwrap();
        c.write_all(&case.bytes).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let _ = read_to_eof(&mut c);
        *probe_seq += 1;
        b.send(&options("UDP", *probe_seq)).unwrap();
        let probe = recv_udp(&b, ANSWER_TIMEOUT)
            .unwrap_or_else(|| panic!("{}: the probe client was not served after it", case.tag));
        assert_probe_ok(&probe, b_port);
    }
}

// Torture messages reuse branches (cparam01 and cparam02, for one), and a
// message sent over UDP and then TCP with the same branch and sent-by is one
// transaction (RFC 3261 17.2.3): each transport gets a fresh daemon so every
// answer is the first one.
#[test]
fn every_torture_message_gets_its_answer_over_udp_and_tcp_and_the_daemon_keeps_serving() {
    let cases = cases();
    let mut probe_seq = 0;

    let udp = start("rfc4475-udp", None);
    replay_udp(&udp, &cases, &mut probe_seq);
    let metrics = http_get(udp.http, "/metrics");
    // UDP 400s = the 18 Reject(400) rows.
    assert_eq!(
        metric(&metrics, "voip_sip_rejected_total{status=\"400\"}"),
        18
    );
    assert_eq!(
        metric(
            &metrics,
            "voip_sip_dropped_total{reason=\"malformed_response\"}"
        ),
        2
    );

    let tcp = start("rfc4475-tcp", None);
    replay_tcp(&tcp, &cases, &mut probe_seq);
    let metrics = http_get(tcp.http, "/metrics");
    // TCP: the 14 Reject(400) rows that are `Same` + ncl, mcl01, inv2543.
    assert_eq!(
        metric(&metrics, "voip_sip_rejected_total{status=\"400\"}"),
        14 + 3
    );
    assert_eq!(
        metric(&metrics, "voip_sip_framing_errors_total{transport=\"tcp\"}"),
        4
    );
    assert_eq!(
        metric(&metrics, "voip_sip_connections_total{transport=\"tcp\"}"),
        49 + 1
    );
    assert_eq!(
        metric(&metrics, "voip_sip_connections_open{transport=\"tcp\"}"),
        0
    );
    tcp.stop();

    // Leak smoke check on the UDP daemon: three more rounds over both
    // transports.
    let rss_before = udp.rss_kib();
    for _ in 0..3 {
        replay_unchecked(&udp, &cases, &mut probe_seq);
    }
    let rss_after = udp.rss_kib();
    eprintln!("RSS after first replay {rss_before} KiB, after three more {rss_after} KiB");
    assert!(
        rss_after <= rss_before + RSS_GROWTH_BOUND_KIB,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    let health = http_get(udp.http, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    udp.stop();
}

fn self_signed(dir: &std::path::Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("sip.crt");
    let key = dir.join("sip.key");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key, ck.cert.der().to_vec())
}

#[test]
fn options_over_tls_with_a_self_signed_certificate_gets_200() {
    use tokio_rustls::rustls;
    let certs = sip_transport_support::temp_dir("tls-certs");
    let (cert, key, der) = self_signed(&certs);
    let daemon = start("tls", Some((&cert, &key)));

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(daemon.tls.unwrap()).unwrap();
    tcp.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
    let port = tcp.local_addr().unwrap().port();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(&options("TLS", 1)).unwrap();
    let answer = read_head(&mut tls);
    assert_probe_ok(&answer, port);
    // A torture message over TLS is judged like over TCP.
    tls.write_all(&std::fs::read(data_dir().join("badvers.dat")).unwrap())
        .unwrap();
    assert_eq!(status_of(read_head(&mut tls).as_bytes()), 505);
    drop(tls);
    daemon.stop();
    let _ = std::fs::remove_dir_all(&certs);
}

#[test]
fn missing_tls_certificate_is_a_clear_start_error() {
    let dir = sip_transport_support::temp_dir("tls-missing");
    let cert = dir.join("absent.crt");
    let key = dir.join("absent.key");
    let (config, ..) = sip_transport_support::write_config(&dir, Some((&cert, &key)));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_voip-appliance"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("certificate") && stderr.contains(&*cert.to_string_lossy()),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
