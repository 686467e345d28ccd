//! Shared helpers of the `sip_transport_*` tests: start the real binary with
//! SIP listeners on free loopback ports and talk to it.
#![allow(dead_code, reason = "each test file uses a subset")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("voip-appliance-sip-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The running daemon; killed on drop if still running.
pub struct Daemon {
    pub child: Child,
    pub http: SocketAddr,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub tls: Option<SocketAddr>,
    pub dir: PathBuf,
}

/// Writes a bootstrap file for `dir`; `tls` is `(cert, key)`.
pub fn write_config(
    dir: &Path,
    tls: Option<(&Path, &Path)>,
) -> (
    PathBuf,
    SocketAddr,
    SocketAddr,
    SocketAddr,
    Option<SocketAddr>,
) {
    // The example site, with a ban threshold this test cannot reach: the
    // replay sends torture messages with broken credentials from one source
    // and is about framing and answers, not bans (peer_register_bruteforce_ban
    // tests those).
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/site.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    assert!(text.contains("max_failures = 5"), "example site changed");
    let site = dir.join("site.toml");
    std::fs::write(
        &site,
        text.replace("max_failures = 5", "max_failures = 1000"),
    )
    .unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();
    let udp: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let tcp: SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();
    let tls_addr: Option<SocketAddr> =
        tls.map(|_| format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap());
    let tls_lines = match (tls, tls_addr) {
        (Some((cert, key)), Some(addr)) => format!(
            "tls = [\"{addr}\"]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
        _ => String::new(),
    };
    let config = dir.join("appliance.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\nappliance_id = \"sip-test\"\ntenant = \"test\"\ndata_dir = \"{}\"\n\
             secrets_file = \"{}\"\nsite_config_file = \"{}\"\n[sip]\nudp = [\"{udp}\"]\n\
             tcp = [\"{tcp}\"]\n{tls_lines}[http]\nlisten = \"{http}\"\n",
            dir.join("data").display(),
            dir.join("secrets.toml").display(),
            site.canonicalize().unwrap().display()
        ),
    )
    .unwrap();
    (config, http, udp, tcp, tls_addr)
}

/// Starts the binary and waits for its readiness log line (no sleeping).
pub fn start(name: &str, tls: Option<(&Path, &Path)>) -> Daemon {
    let dir = temp_dir(name);
    let (config, http, udp, tcp, tls) = write_config(&dir, tls);
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
    // Keep draining the log so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Daemon {
        child,
        http,
        udp,
        tcp,
        tls,
        dir,
    }
}

impl Daemon {
    /// Resident set size in KiB from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// SIGTERM and wait; asserts a clean exit.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(
            exit.success(),
            "SIGTERM must stop the daemon cleanly: {exit}"
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A GET over plain HTTP/1.1.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
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

/// A well-formed OPTIONS with `rport`.
pub fn options(transport: &str, n: u32) -> Vec<u8> {
    format!(
        "OPTIONS sip:appliance@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} client.invalid:5999;rport;branch=z9hG4bKopt{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@client.invalid>;tag=p{n}\r\n\
         To: <sip:appliance@127.0.0.1>\r\nCall-ID: probe-{n}@client.invalid\r\n\
         CSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The status code of a response's status line.
pub fn status_of(response: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(response);
    assert!(text.starts_with("SIP/2.0 "), "not a response: {text:?}");
    text[8..11].parse().unwrap()
}

/// Header value lookup (first match, case-insensitive name) in a response head.
pub fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Splits a byte stream of responses (all ours have `Content-Length: 0`).
pub fn split_responses(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split_inclusive("\r\n\r\n")
        .map(str::to_owned)
        .filter(|s| s.starts_with("SIP/2.0"))
        .collect()
}

/// Reads one response head from a stream (up to the empty line).
pub fn read_head(stream: &mut impl Read) -> String {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert!(
            n > 0,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(&out)
        );
        out.push(byte[0]);
    }
    String::from_utf8(out).unwrap()
}

/// Checks the 200 to one of our probes: symmetric response routing and the fallback headers.
pub fn assert_probe_ok(response: &str, client_port: u16) {
    assert_eq!(status_of(response.as_bytes()), 200, "{response}");
    let via = header(response, "Via").unwrap();
    assert!(
        via.contains("received=127.0.0.1") && via.contains(&format!("rport={client_port}")),
        "{via}"
    );
    assert!(
        header(response, "To").unwrap().contains(";tag="),
        "{response}"
    );
    assert!(
        header(response, "Allow").unwrap().contains("INVITE"),
        "{response}"
    );
    assert_eq!(header(response, "Accept"), Some("application/sdp"));
    assert!(header(response, "Supported").is_some(), "{response}");
    assert_eq!(header(response, "Content-Length"), Some("0"));
    assert!(header(response, "Server").is_none(), "{response}");
}

/// Generous upper bound for an expected answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
