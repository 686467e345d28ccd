//! Runs the real `voip-appliance` binary: it starts with the example site
//! configuration, answers on its health and metrics endpoints, stops on
//! SIGTERM, and refuses a broken configuration listing every problem.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure should panic the test"
)]
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voip-appliance-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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

#[test]
fn daemon_serves_health_and_metrics_then_stops_on_sigterm() {
    let dir = temp_dir("run");
    let port = free_port();
    let sip_port = free_port();
    let site = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/site.toml");
    let config = dir.join("appliance.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\nappliance_id = \"test-01\"\ntenant = \"test\"\ndata_dir = \"{}\"\n\
             secrets_file = \"{}\"\nsite_config_file = \"{}\"\n[sip]\nudp = [\"127.0.0.1:{sip_port}\"]\ntcp = [\"127.0.0.1:{sip_port}\"]\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\n",
            dir.join("data").display(),
            dir.join("secrets.toml").display(),
            site.canonicalize().unwrap().display()
        ),
    )
    .unwrap();
    // systemd's notification socket, as `Type=notify` units get it.
    let notify_path = dir.join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_voip-appliance"))
        .args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "200000")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Wait for the readiness log line instead of sleeping.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("listening"));
    assert!(ready, "the daemon never reported that it listens");

    let mut datagram = [0u8; 64];
    let mut next_notification = || {
        let n = notify.recv(&mut datagram).unwrap();
        String::from_utf8_lossy(&datagram[..n]).into_owned()
    };
    assert_eq!(next_notification(), "READY=1");
    assert_eq!(next_notification(), "WATCHDOG=1");

    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let health = http_get(addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"appliance_id\":\"test-01\""), "{health}");
    assert!(health.contains("\"extensions\":5"), "{health}");
    let metrics = http_get(addr, "/metrics");
    assert!(metrics.contains("voip_up 1"), "{metrics}");
    assert!(metrics.contains("voip_outbox_records 0"), "{metrics}");
    assert!(
        dir.join("data/appliance.db").exists(),
        "the store was not created"
    );

    let status = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let stopping = std::iter::repeat_with(&mut next_notification)
        .take(100)
        .find(|n| n != "WATCHDOG=1");
    assert_eq!(stopping.as_deref(), Some("STOPPING=1"));
    let exit = child.wait().unwrap();
    assert!(
        exit.success(),
        "SIGTERM must stop the daemon cleanly: {exit}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn broken_configuration_is_refused_with_every_problem_listed() {
    let dir = temp_dir("bad");
    let config = dir.join("appliance.toml");
    std::fs::write(
        &config,
        "version = 1\nappliance_id = \"Bad Id\"\ntenant = \"t\"\nbogus = 1\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_voip-appliance"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bogus:"), "{stderr}");
    assert!(stderr.contains("appliance_id:"), "{stderr}");
    assert!(stderr.contains("site_config_file:"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
