//! End to end through the real `voip-appliance` binary: a small SIP UAC
//! written here (the `voip_sip` message model and digest client over a
//! blocking UDP socket) registers extension 201 (401 → 200), calls the echo
//! test `*43` (407 → authenticated INVITE → 200 with SDP pointing at the
//! appliance), sends 50 RTP packets and gets each one echoed back, hangs up
//! (BYE → 200), and finds the call's CDR in the `SQLite` store after the
//! daemon stopped. No sleeps: every wait is a socket read with a timeout or
//! a log line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use voip_sip::auth::DigestClient;
use voip_sip::message::{HeaderName, Response, SipMessage};

const PASSWORD: &str = "echo-test-geheim";
const WAIT: Duration = Duration::from_secs(5);

const SITE: &str = r#"
version = 1
site_name = "Echotest"
tenant = "echotest"
echo_test_number = "*43"

[media]
rtp_port_min = 41000
rtp_port_max = 41999

[[permission_profiles]]
name = "intern"
allowed_classes = ["internal"]

[[extensions]]
number = "201"
display_name = "Test"
credentials = "ext-201"
permission_profile = "intern"

[[dial_plan]]
name = "echotest"
pattern = "*43"
destination = "echo_test"
"#;

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Daemon {
    child: Child,
    sip: SocketAddr,
    dir: PathBuf,
    /// Log lines after readiness.
    log: mpsc::Receiver<String>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn write_secret(path: &Path, text: &str) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn start() -> Daemon {
    let dir = std::env::temp_dir().join(format!("voip-engine-echo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("site.toml"), SITE).unwrap();
    write_secret(
        &dir.join("secrets.toml"),
        &format!("[credentials.ext-201]\npassword = \"{PASSWORD}\"\n"),
    );
    let sip: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let http = free_tcp_port();
    let config = dir.join("appliance.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\nappliance_id = \"echo-test\"\ntenant = \"echotest\"\ndata_dir = \"{}\"\n\
             secrets_file = \"{}\"\nsite_config_file = \"{}\"\n[sip]\nudp = [\"{sip}\"]\n\
             [http]\nlisten = \"127.0.0.1:{http}\"\n",
            dir.join("data").display(),
            dir.join("secrets.toml").display(),
            dir.join("site.toml").display(),
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_voip-appliance"))
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("local HTTP (health, metrics) listening"));
    assert!(ready, "the daemon never reported readiness");
    let (tx, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Daemon {
        child,
        sip,
        dir,
        log,
    }
}

/// A minimal UAC on one UDP socket.
struct Uac {
    socket: UdpSocket,
    server: SocketAddr,
    branch: u32,
}

impl Uac {
    fn new(server: SocketAddr) -> Uac {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        Uac {
            socket,
            server,
            branch: 0,
        }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bKuac{}", self.branch)
    }

    fn send(&self, text: &str) {
        let wire = text.replace('\n', "\r\n");
        // Everything we send must be a valid message of the model.
        SipMessage::parse(wire.as_bytes()).unwrap();
        self.socket.send_to(wire.as_bytes(), self.server).unwrap();
    }

    /// The next final response (provisional ones skipped).
    fn final_response(&self) -> Response {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, _) = self
                .socket
                .recv_from(&mut buf)
                .expect("no answer from the appliance");
            match SipMessage::parse(&buf[..n]).unwrap() {
                SipMessage::Response(r) if r.status.is_final() => return r,
                _ => {}
            }
        }
    }
}

fn header(r: &Response, name: &HeaderName) -> String {
    r.headers.get(name).unwrap().to_owned()
}

fn digest(challenge: &Response, name: &HeaderName, method: &str, uri: &str) -> String {
    let values: Vec<&str> = challenge.headers.get_all(name).collect();
    DigestClient::default()
        .respond(&values, method, uri, "201", PASSWORD, [7; 16], 1)
        .unwrap()
        .into_string()
}

/// (address, port) of the SDP's `c=` and `m=audio` lines.
fn sdp_target(body: &[u8]) -> SocketAddr {
    let text = String::from_utf8_lossy(body);
    let ip = text
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .unwrap()
        .trim();
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    format!("{ip}:{port}").parse().unwrap()
}

fn rtp_packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend((0..160).map(|i| (i as u8) ^ (seq as u8)));
    p
}

#[test]
fn phone_registers_calls_the_echo_test_gets_its_rtp_back_and_the_cdr_is_stored() {
    let daemon = start();
    let mut uac = Uac::new(daemon.sip);
    let me = uac.local();
    let server = daemon.sip;

    // REGISTER → 401 → REGISTER with Authorization → 200.
    let register = |branch: &str, cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:{server} SIP/2.0\nVia: SIP/2.0/UDP {me};branch={branch};rport\n\
             Max-Forwards: 70\nFrom: <sip:201@{server}>;tag=r1\nTo: <sip:201@{server}>\n\
             Call-ID: reg-201@test\nCSeq: {cseq} REGISTER\nContact: <sip:201@{me}>\n\
             Expires: 600\n{auth}Content-Length: 0\n\n"
        )
    };
    let b = uac.branch();
    uac.send(&register(&b, 1, ""));
    let challenge = uac.final_response();
    assert_eq!(challenge.status.as_u16(), 401, "{challenge}");
    let auth = digest(
        &challenge,
        &HeaderName::WWW_AUTHENTICATE,
        "REGISTER",
        &format!("sip:{server}"),
    );
    let b = uac.branch();
    uac.send(&register(&b, 2, &format!("Authorization: {auth}\n")));
    let ok = uac.final_response();
    assert_eq!(ok.status.as_u16(), 200, "{ok}");

    // INVITE *43 → 407 → ACK → INVITE with Proxy-Authorization → 200.
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(WAIT)).unwrap();
    let rtp_port = rtp.local_addr().unwrap().port();
    let body = format!(
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n\
         m=audio {rtp_port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\na=sendrecv\n"
    )
    .replace('\n', "\r\n");
    let uri = format!("sip:*43@{server}");
    let invite = |branch: &str, cseq: u32, auth: &str| {
        format!(
            "INVITE {uri} SIP/2.0\nVia: SIP/2.0/UDP {me};branch={branch};rport\n\
             Max-Forwards: 70\nFrom: <sip:201@{server}>;tag=c1\nTo: <sip:*43@{server}>\n\
             Call-ID: echo-call@test\nCSeq: {cseq} INVITE\nContact: <sip:201@{me}>\n\
             {auth}Content-Type: application/sdp\nContent-Length: {}\n\n{}",
            body.len(),
            body.replace("\r\n", "\n")
        )
    };
    let b1 = uac.branch();
    uac.send(&invite(&b1, 1, ""));
    let challenge = uac.final_response();
    assert_eq!(challenge.status.as_u16(), 407, "{challenge}");
    let to = header(&challenge, &HeaderName::TO);
    uac.send(&format!(
        "ACK {uri} SIP/2.0\nVia: SIP/2.0/UDP {me};branch={b1};rport\nMax-Forwards: 70\n\
         From: <sip:201@{server}>;tag=c1\nTo: {to}\nCall-ID: echo-call@test\nCSeq: 1 ACK\n\
         Content-Length: 0\n\n"
    ));
    let auth = digest(&challenge, &HeaderName::PROXY_AUTHENTICATE, "INVITE", &uri);
    let b = uac.branch();
    uac.send(&invite(&b, 2, &format!("Proxy-Authorization: {auth}\n")));
    let answer = uac.final_response();
    assert_eq!(answer.status.as_u16(), 200, "{answer}");
    let media = sdp_target(&answer.body);
    assert_eq!(
        media.ip().to_string(),
        "127.0.0.1",
        "SDP points at the appliance"
    );
    assert!((41000..=41999).contains(&media.port()), "{media}");
    let to = header(&answer, &HeaderName::TO);
    let target = header(&answer, &HeaderName::CONTACT)
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let in_dialog = |method: &str, branch: &str, cseq: u32| {
        format!(
            "{method} {target} SIP/2.0\nVia: SIP/2.0/UDP {me};branch={branch};rport\n\
             Max-Forwards: 70\nFrom: <sip:201@{server}>;tag=c1\nTo: {to}\n\
             Call-ID: echo-call@test\nCSeq: {cseq} {method}\nContent-Length: 0\n\n"
        )
    };
    let b = uac.branch();
    uac.send(&in_dialog("ACK", &b, 2));

    // 50 RTP packets, each echoed back with the same sequence number and payload.
    let mut buf = [0u8; 2048];
    for seq in 0..50u16 {
        let packet = rtp_packet(seq);
        rtp.send_to(&packet, media).unwrap();
        let (n, from) = rtp.recv_from(&mut buf).expect("RTP packet not echoed");
        assert_eq!(from, media, "echo comes from the advertised port");
        assert_eq!(n, packet.len());
        assert_eq!(buf[2..4], packet[2..4], "sequence number");
        assert_eq!(buf[12..n], packet[12..], "payload");
    }

    // BYE → 200.
    let b = uac.branch();
    uac.send(&in_dialog("BYE", &b, 3));
    let bye_ok = uac.final_response();
    assert_eq!(bye_ok.status.as_u16(), 200, "{bye_ok}");

    // Stop the daemon: the store thread writes what is queued before exiting.
    let mut daemon = daemon;
    let status = Command::new("kill")
        .arg(daemon.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(daemon.child.wait().unwrap().success());
    let log: Vec<String> = daemon.log.try_iter().collect();
    assert!(
        !log.iter()
            .any(|l| l.contains("201@") || l.contains(PASSWORD)),
        "personal data or a password in the log: {log:#?}"
    );

    let db = rusqlite::Connection::open_with_flags(
        daemon.dir.join("data/appliance.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let (callee, disposition, calling): (String, String, String) = db
        .query_row(
            "SELECT callee, disposition, caller FROM call_records",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(callee, "*43");
    assert_eq!(disposition, "answered");
    assert_eq!(calling, "201");
    drop(db);
    let _ = std::fs::remove_dir_all(&daemon.dir);
}
