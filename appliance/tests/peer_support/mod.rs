//! Shared helpers of the `peer_*` tests: run the real `voip-appliance`
//! binary as a PBX with a tailored site configuration, and real SIP peers
//! (`SIPp`, baresip) against it, all on loopback.
//!
//! Every test gets its own temporary directory, free SIP and HTTP ports and
//! a distinct RTP port range, so the tests can run in parallel. Every
//! external process is owned by a [`Proc`] guard that kills it on drop. A
//! required tool that is missing FAILS the test (never skipped).
//!
//! Loopback addresses: the appliance and the phones use `127.0.0.1`;
//! providers (trunks, recognised by source IP) use `127.0.0.2` and
//! `127.0.0.4`; the brute-force attacker uses `127.0.0.3`. Linux routes the
//! whole `127.0.0.0/8` to `lo` without setup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "test helpers: a failure should panic the test"
)]
#![allow(dead_code, reason = "each test file uses a subset")]

pub mod impair;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The appliance's (and the phones') address.
pub const PBX_IP: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// The first provider's address.
pub const PROVIDER1_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// The brute-force attacker's address.
pub const ATTACKER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// The second provider's address.
pub const PROVIDER2_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);

/// Extension passwords written to the secrets file (`ext-NNN`).
pub const EXTENSIONS: [(&str, &str); 4] = [
    ("201", "geheim-201-Xq"),
    ("202", "geheim-202-Vr"),
    ("203", "geheim-203-Lp"),
    ("204", "geheim-204-Kz"),
];

/// The password of extension `number`.
pub fn password(number: &str) -> &'static str {
    EXTENSIONS
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, p)| *p)
        .unwrap()
}

/// A directory of test data.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/peers")
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("voip-appliance-peer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Finds a required external tool on `PATH`; panics (fails the test) when
/// it is missing.
pub fn require_tool(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{name}` is required for this test and was not found on PATH (install the {package} package)")
    })
}

// ---- ports ------------------------------------------------------------

/// A free UDP port on `ip`.
pub fn free_udp_port(ip: Ipv4Addr) -> u16 {
    UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind((PBX_IP, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether every UDP port of `ports` is free on `ip` right now.
fn udp_ports_free(ip: Ipv4Addr, ports: std::ops::Range<u16>) -> bool {
    let mut held = Vec::new();
    for port in ports {
        match UdpSocket::bind((ip, port)) {
            Ok(s) => held.push(s),
            Err(_) => return false,
        }
    }
    true
}

/// An even port `p` with `p..p + 4` free on `ip` (a `SIPp` media port: RTP,
/// RTCP and the video pair `SIPp` binds above it).
pub fn free_media_port(ip: Ipv4Addr) -> u16 {
    for _ in 0..200 {
        let p = free_udp_port(ip) & !1;
        if p < 65_000 && udp_ports_free(ip, p..p + 4) {
            return p;
        }
    }
    panic!("no free media port block on {ip}");
}

static NEXT_RANGE: AtomicU16 = AtomicU16::new(0);

/// A distinct, currently free RTP range of 200 ports for the appliance (the
/// site configuration needs at least 100), below the kernel's ephemeral
/// range so that other tests' free-port probes never land in it. Offset by
/// process id and a per-process counter so parallel tests and test binaries
/// pick different ranges.
pub fn rtp_range() -> (u16, u16) {
    const LOW: u32 = 20_000;
    const SLOTS: u32 = 60; // 20 000 .. 32 000 in 200-port slots
    let pid = std::process::id();
    for _ in 0..SLOTS {
        let n = u32::from(NEXT_RANGE.fetch_add(1, Ordering::Relaxed));
        let slot = (pid.wrapping_mul(7) + n * 13) % SLOTS;
        let min = u16::try_from(LOW + slot * 200).unwrap();
        if udp_ports_free(PBX_IP, min..min + 200) {
            return (min, min + 199);
        }
    }
    panic!("no free RTP port range between 20000 and 32000");
}

// ---- processes --------------------------------------------------------

/// An external process that is killed (and reaped) when dropped.
pub struct Proc {
    pub name: String,
    pub child: Child,
}

impl Proc {
    /// Spawns `command` under a guard.
    pub fn spawn(name: &str, command: &mut Command) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self {
            name: name.to_owned(),
            child,
        }
    }

    /// Waits for the process to exit, at most `limit`; kills it and panics
    /// when it takes longer.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not finish within {limit:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until something has bound UDP `addr` (the bind probe fails), at
/// most 5 s: the readiness signal of a `SIPp` UAS, which logs nothing.
pub fn wait_udp_bound(addr: SocketAddr, who: &mut Proc) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while UdpSocket::bind(addr).is_ok() {
        if let Some(status) = who.child.try_wait().unwrap() {
            panic!("{} exited before binding {addr}: {status}", who.name);
        }
        assert!(Instant::now() < deadline, "{} never bound {addr}", who.name);
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- the appliance ----------------------------------------------------

/// A trunk of the test site: a provider at `ip:port`, no registration, no
/// OPTIONS keep-alive.
pub struct TrunkSpec {
    pub id: &'static str,
    pub ip: Ipv4Addr,
    pub port: u16,
    pub priority: u32,
    /// `(E.164 DID, extension)`.
    pub dids: Vec<(&'static str, &'static str)>,
}

/// The test site: extensions 201–204 (full permissions), the echo test
/// `*43`, internal `2XX`, mobile `06…` and national `0Z…` out through every
/// trunk by priority, RTP in `rtp`, ban after `ban_max_failures`.
pub fn site_config(rtp: (u16, u16), trunks: &[TrunkSpec], ban_max_failures: u32) -> String {
    let mut s = format!(
        r#"version = 1
revision = 0
site_name = "Peer test site"
tenant = "peertest"
echo_test_number = "*43"

[media]
rtp_port_min = {min}
rtp_port_max = {max}
timeout_s = 30

[registrar_ban]
max_failures = {ban_max_failures}
window_s = 60
ban_s = 600

[[permission_profiles]]
name = "alles"
allowed_classes = ["internal", "emergency", "national_fixed", "mobile", "service", "premium", "international"]
max_concurrent_calls = 4
"#,
        min = rtp.0,
        max = rtp.1,
    );
    for (number, _) in EXTENSIONS {
        let _ = write!(
            s,
            "\n[[extensions]]\nnumber = \"{number}\"\ndisplay_name = \"Toestel {number}\"\n\
             credentials = \"ext-{number}\"\npermission_profile = \"alles\"\n"
        );
    }
    for t in trunks {
        let dids: Vec<String> = t
            .dids
            .iter()
            .map(|(n, e)| format!("{{ number = \"{n}\", extension = \"{e}\" }}"))
            .collect();
        let _ = write!(
            s,
            "\n[[trunks]]\nid = \"{id}\"\nhost = \"{ip}\"\nport = {port}\ntransport = \"udp\"\n\
             credentials = \"trunk-{id}\"\nusername = \"peertest\"\nregister = false\n\
             options_interval_s = 0\npriority = {priority}\ncodecs = [\"pcma\", \"pcmu\"]\n\
             dids = [{dids}]\n",
            id = t.id,
            ip = t.ip,
            port = t.port,
            priority = t.priority,
            dids = dids.join(", "),
        );
    }
    s.push_str(
        r#"
[[dial_plan]]
name = "echotest"
pattern = "*43"
destination = "echo_test"

[[dial_plan]]
name = "intern"
pattern = "2XX"
destination = "extension"
"#,
    );
    if !trunks.is_empty() {
        s.push_str(
            r#"
[[dial_plan]]
name = "mobiel"
pattern = "06XXXXXXXX"
strip = 1
prefix = "+31"
destination = { trunk_group = "all" }

[[dial_plan]]
name = "nationaal"
pattern = "0ZXXXXXXXX"
strip = 1
prefix = "+31"
destination = { trunk_group = "all" }
"#,
        );
    }
    s
}

/// The secrets file matching [`site_config`].
fn secrets(trunks: &[TrunkSpec]) -> String {
    let mut s = String::new();
    for (number, password) in EXTENSIONS {
        let _ = write!(
            s,
            "[credentials.ext-{number}]\npassword = \"{password}\"\n\n"
        );
    }
    for t in trunks {
        let _ = write!(
            s,
            "[credentials.trunk-{}]\npassword = \"trunk-geheim\"\n\n",
            t.id
        );
    }
    s
}

/// The running appliance.
pub struct Appliance {
    pub proc: Proc,
    /// Its SIP address (UDP).
    pub sip: SocketAddr,
    /// Its local HTTP address (health, metrics).
    pub http: SocketAddr,
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Appliance {
    /// Writes the bootstrap, site and secrets files into `dir` and starts
    /// the binary; returns once it logged its readiness line.
    pub fn start(dir: &Path, site: &str, trunks: &[TrunkSpec]) -> Self {
        Self::start_with(dir, site, trunks, "")
    }

    /// [`Appliance::start`] with `sip_extra` (TOML lines, each ending in a
    /// newline) added to the bootstrap file's `[sip]` table.
    pub fn start_with(dir: &Path, site: &str, trunks: &[TrunkSpec], sip_extra: &str) -> Self {
        Self::start_full(dir, site, trunks, sip_extra, "")
    }

    /// [`Appliance::start_with`] plus `extra` appended to the bootstrap file
    /// (after its `[http]` table, e.g. a `[media]` table).
    pub fn start_full(
        dir: &Path,
        site: &str,
        trunks: &[TrunkSpec],
        sip_extra: &str,
        extra: &str,
    ) -> Self {
        let sip = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
        let http = SocketAddr::from((PBX_IP, free_tcp_port()));
        let data_dir = dir.join("data");
        let site_file = dir.join("site.toml");
        std::fs::write(&site_file, site).unwrap();
        let secrets_file = dir.join("secrets.toml");
        std::fs::write(&secrets_file, secrets(trunks)).unwrap();
        std::fs::set_permissions(&secrets_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = dir.join("appliance.toml");
        // `sip_extra` may bring its own TCP listeners.
        let tcp_line = if sip_extra.contains("tcp =") {
            ""
        } else {
            "tcp = []\n"
        };
        std::fs::write(
            &config,
            format!(
                "version = 1\nappliance_id = \"peer-test\"\ntenant = \"peertest\"\n\
                 data_dir = \"{}\"\nsecrets_file = \"{}\"\nsite_config_file = \"{}\"\n\
                 [sip]\nudp = [\"{sip}\"]\n{tcp_line}{sip_extra}[http]\nlisten = \"{http}\"\n{extra}",
                data_dir.display(),
                secrets_file.display(),
                site_file.display(),
            ),
        )
        .unwrap();
        let mut proc = Proc::spawn(
            "voip-appliance",
            Command::new(env!("CARGO_BIN_EXE_voip-appliance"))
                .args(["run", "--config"])
                .arg(&config)
                .env("RUST_LOG", "info")
                .env("NO_COLOR", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        // stderr: collected in the background for failure reports.
        let stderr = proc.child.stderr.take().unwrap();
        let err_log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                err_log.lock().unwrap().push(line);
            }
        });
        let mut lines = BufReader::new(proc.child.stdout.take().unwrap()).lines();
        let mut ready = false;
        for line in lines.by_ref().map_while(Result::ok) {
            let is_ready = line.contains("local HTTP (health, metrics) listening");
            log.lock().unwrap().push(line);
            if is_ready {
                ready = true;
                break;
            }
        }
        assert!(
            ready,
            "the appliance never reported readiness:\n{}",
            log.lock().unwrap().join("\n")
        );
        // Keep draining (and keeping) the log so the daemon never blocks.
        let out_log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                out_log.lock().unwrap().push(line);
            }
        });
        Self {
            proc,
            sip,
            http,
            dir: dir.to_owned(),
            data_dir,
            log,
        }
    }

    /// Everything the daemon logged so far (for failure messages).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// `GET /metrics`.
    pub fn metrics(&self) -> String {
        http_get(self.http, "/metrics")
    }

    /// Opens the appliance's store read-only.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.data_dir.join("appliance.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .unwrap()
    }
}

impl Drop for Appliance {
    /// Stops the daemon; removes the test directory unless the test failed
    /// (it holds the configuration, the store and every peer's traces).
    fn drop(&mut self) {
        if let Ok(None) = self.proc.child.try_wait() {
            let _ = self.proc.child.kill();
            let _ = self.proc.child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A GET over plain HTTP/1.1; returns the whole response.
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

/// The sum of every sample of metric `name` whose labels contain all of
/// `labels` (`key="value"` strings); `None` when no such sample exists.
pub fn metric_sum(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut found = None;
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric, label_text) = match series.split_once('{') {
            Some((m, rest)) => (m, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric != name || !labels.iter().all(|l| label_text.contains(l)) {
            continue;
        }
        if let Ok(v) = value.parse::<f64>() {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

// ---- SIPp -------------------------------------------------------------

/// One `SIPp` run: its files live in `dir/<name>.*`.
pub struct Sipp {
    pub name: String,
    pub proc: Proc,
    pub stats: PathBuf,
    pub errors: PathBuf,
    pub screen: PathBuf,
    pub messages: PathBuf,
    /// The UDP address it signals from.
    pub local: SocketAddr,
}

/// How to run a `SIPp` scenario of `tests/data/peers/sipp/`.
pub struct SippRun<'a> {
    pub name: &'a str,
    pub scenario: &'a str,
    /// Where it signals from.
    pub local: SocketAddr,
    /// The peer (UAC: the appliance); `None` for a UAS.
    pub remote: Option<SocketAddr>,
    /// `-s`: the Request-URI user.
    pub service: Option<&'a str>,
    /// `-au/-ap`.
    pub auth: Option<(&'a str, &'a str)>,
    /// `-set name value`.
    pub vars: &'a [(&'a str, &'a str)],
    /// `-rtp_echo`.
    pub rtp_echo: bool,
    /// `-m`.
    pub calls: u32,
}

impl SippRun<'_> {
    /// Starts `SIPp` (in `dir`, where it writes its trace files).
    pub fn spawn(&self, dir: &Path) -> Sipp {
        self.spawn_with(dir, &[])
    }

    /// [`SippRun::spawn`] with further command-line arguments (given last,
    /// so `-t t1` overrides the default UDP transport).
    pub fn spawn_with(&self, dir: &Path, extra: &[&str]) -> Sipp {
        let sipp = require_tool("sipp", "sip-tester");
        let stats = dir.join(format!("{}-stats.csv", self.name));
        let errors = dir.join(format!("{}-errors.log", self.name));
        let screen = dir.join(format!("{}-screen.log", self.name));
        let messages = dir.join(format!("{}-messages.log", self.name));
        let scenario = data_dir().join("sipp").join(self.scenario);
        // play_pcap_audio paths are relative to the working directory.
        let pcap = dir.join("g711a.pcap");
        if !pcap.exists() {
            std::fs::copy(data_dir().join("sipp/g711a.pcap"), &pcap).unwrap();
        }
        let mut cmd = Command::new(sipp);
        if let Some(remote) = self.remote {
            cmd.arg(remote.to_string());
        }
        cmd.arg("-sf")
            .arg(&scenario)
            .args(["-t", "u1", "-i"])
            .arg(self.local.ip().to_string())
            .args(["-p", &self.local.port().to_string()])
            .args(["-mi", &self.local.ip().to_string()])
            .args(["-m", &self.calls.to_string(), "-l", "1"])
            .args(["-nostdin", "-timeout", "25s", "-timeout_error"])
            .args(["-trace_stat", "-stf"])
            .arg(&stats)
            .args(["-fd", "1", "-trace_err", "-error_file"])
            .arg(&errors)
            .args(["-trace_screen", "-screen_file"])
            .arg(&screen)
            .args(["-trace_msg", "-message_file"])
            .arg(&messages)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(service) = self.service {
            cmd.args(["-s", service]);
        }
        if let Some((user, pass)) = self.auth {
            cmd.args(["-au", user, "-ap", pass]);
            // SIPp computes the digest for `sip:<remote>` unless told
            // otherwise; the appliance requires the digest `uri` to be the
            // Request-URI, which is `sip:[service]@<remote>` in every UAC
            // scenario except register.xml.
            if let (Some(service), Some(remote), false) =
                (self.service, self.remote, self.scenario == "register.xml")
            {
                cmd.args(["-auth_uri", &format!("{service}@{remote}")]);
            }
        }
        for (k, v) in self.vars {
            cmd.args(["-set", k, v]);
        }
        // Always a free media port: SIPp's default (6000) would collide
        // between parallel runs.
        let IpAddr::V4(ip) = self.local.ip() else {
            panic!("IPv4 only")
        };
        cmd.args(["-mp", &free_media_port(ip).to_string()]);
        if self.rtp_echo {
            cmd.arg("-rtp_echo");
        }
        cmd.args(extra);
        Sipp {
            name: self.name.to_owned(),
            proc: Proc::spawn(&format!("sipp {}", self.name), &mut cmd),
            stats,
            errors,
            screen,
            messages,
            local: self.local,
        }
    }

    /// Runs `SIPp` to completion (at most 30 s) and asserts success.
    pub fn run_ok(&self, dir: &Path, appliance: &Appliance) -> Sipp {
        let mut sipp = self.spawn(dir);
        sipp.finish_ok(appliance);
        sipp
    }
}

impl Sipp {
    /// Waits for the run to end (at most 30 s) and asserts that every call
    /// succeeded: exit code 0 and the statistics file's counters.
    pub fn finish_ok(&mut self, appliance: &Appliance) {
        let status = self.proc.wait(Duration::from_secs(30));
        assert!(
            status.success(),
            "SIPp {} failed ({status})\n{}\n--- appliance log ---\n{}",
            self.name,
            self.report(),
            appliance.log()
        );
        let csv = std::fs::read_to_string(&self.stats).unwrap_or_default();
        let (ok, failed) = (stat(&csv, "SuccessfulCall(C)"), stat(&csv, "FailedCall(C)"));
        assert!(
            ok >= 1 && failed == 0,
            "SIPp {}: {ok} successful and {failed} failed calls\n{}",
            self.name,
            self.report()
        );
    }

    /// Error log and the last scenario screen, for failure messages.
    pub fn report(&self) -> String {
        let errors = std::fs::read_to_string(&self.errors).unwrap_or_default();
        let screen = std::fs::read_to_string(&self.screen).unwrap_or_default();
        let scenario = screen.rfind("Scenario Screen").map_or("", |start| {
            let rest = &screen[start..];
            &rest[..rest.find("Statistics Screen").unwrap_or(rest.len())]
        });
        let messages = std::fs::read_to_string(&self.messages).unwrap_or_default();
        // The last messages are the interesting ones.
        let tail_start = messages
            .char_indices()
            .rev()
            .nth(6000)
            .map_or(0, |(i, _)| i);
        format!(
            "--- SIPp {name} errors ---\n{errors}\n--- SIPp {name} screen ---\n{scenario}\n\
             --- SIPp {name} messages (tail) ---\n{}",
            &messages[tail_start..],
            name = self.name,
        )
    }
}

/// The last data row of a `SIPp` `-stf` statistics file, by column name.
pub fn stat(csv: &str, column: &str) -> u64 {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let Some(head) = lines.next() else {
        return 0;
    };
    let head: Vec<&str> = head.split(';').collect();
    let Some(last) = lines.next_back() else {
        return 0;
    };
    let last: Vec<&str> = last.split(';').collect();
    let i = head.iter().position(|h| *h == column).unwrap();
    last[i].trim().parse().unwrap()
}

/// Registers extension `number` with `SIPp` from `local` (digest auth),
/// asserting the 200.
pub fn register(dir: &Path, appliance: &Appliance, number: &str, local: SocketAddr) {
    SippRun {
        name: &format!("register-{number}"),
        scenario: "register.xml",
        local,
        remote: Some(appliance.sip),
        service: Some(number),
        auth: Some((number, password(number))),
        vars: &[],
        rtp_echo: false,
        calls: 1,
    }
    .run_ok(dir, appliance);
}

/// Starts a provider or phone UAS answering one call with RTP echo, and
/// waits until it listens.
pub fn answering_uas(dir: &Path, name: &str, scenario: &str, local: SocketAddr) -> Sipp {
    let mut uas = SippRun {
        name,
        scenario,
        local,
        remote: None,
        service: None,
        auth: None,
        vars: &[],
        rtp_echo: true,
        calls: 1,
    }
    .spawn(dir);
    wait_udp_bound(local, &mut uas.proc);
    uas
}

/// Polls the store (at most 5 s) for `(trunk, disposition, callee)` of the
/// call records; returns them once at least `n` exist.
pub fn call_records(appliance: &Appliance, n: usize) -> Vec<(Option<String>, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let db = appliance.db();
        let rows: Vec<(Option<String>, String, String)> = db
            .prepare("SELECT trunk, disposition, callee FROM call_records ORDER BY seq")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .unwrap_or_default();
        if rows.len() >= n {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} call record(s), found {rows:?}\n--- appliance log ---\n{}",
            appliance.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
