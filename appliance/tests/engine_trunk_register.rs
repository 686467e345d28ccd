//! Through the real binary: a trunk given by IP address registers with the
//! provider at start (a scripted registrar on a loopback UDP socket here),
//! shows as registered and up in `/healthz`, and unregisters
//! (`Expires: 0`) within the shutdown grace when the daemon gets SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use voip_sip::message::{HeaderName, Request, SipMessage, StatusCode};
use voip_sip::transaction::response_to;

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

/// The next REGISTER the provider receives.
fn next_register(provider: &UdpSocket) -> (Request, SocketAddr) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = provider
            .recv_from(&mut buf)
            .expect("no REGISTER from the trunk");
        if let Ok(SipMessage::Request(r)) = SipMessage::parse(&buf[..n])
            && r.method.as_str() == "REGISTER"
        {
            return (r, from);
        }
    }
}

fn accept(provider: &UdpSocket, register: &Request, from: SocketAddr, expires: u32) {
    let mut ok = response_to(register, StatusCode::OK, Some("prov1"));
    let contact = register.headers.get(&HeaderName::CONTACT).unwrap();
    ok.headers
        .push(HeaderName::CONTACT, format!("{contact};expires={expires}"));
    ok.headers.push(HeaderName::EXPIRES, expires.to_string());
    provider.send_to(&ok.to_bytes(), from).unwrap();
}

#[test]
fn ip_trunk_registers_at_start_and_unregisters_at_shutdown() {
    let dir = std::env::temp_dir().join(format!("voip-engine-trunk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let provider = UdpSocket::bind("127.0.0.1:0").unwrap();
    provider
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let provider_port = provider.local_addr().unwrap().port();
    std::fs::write(
        dir.join("site.toml"),
        format!(
            "version = 1\nsite_name = \"Trunktest\"\ntenant = \"trunktest\"\n\
             [[trunks]]\nid = \"prov\"\nhost = \"127.0.0.1\"\nport = {provider_port}\n\
             transport = \"udp\"\ncredentials = \"trunk-prov\"\nusername = \"0301234567\"\n\
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
            "version = 1\nappliance_id = \"trunk-test\"\ntenant = \"trunktest\"\ndata_dir = \"{}\"\n\
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
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("local HTTP (health, metrics) listening")),
        "no readiness line"
    );

    let (register, from) = next_register(&provider);
    assert_eq!(from.port(), sip_port, "sent from the SIP socket");
    accept(&provider, &register, from, 600);
    // Wait for the engine to have processed the 200 (log line, no sleep).
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("trunk registration state") && l.contains("to=\"registered\"")),
        "the trunk never reported registered"
    );
    let health = http_get(http, "/healthz");
    assert!(
        health.contains(r#"{"id":"prov","up":true,"registration":"registered"}"#),
        "{health}"
    );
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});

    assert!(
        Command::new("kill")
            .arg(child.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let (unregister, from) = next_register(&provider);
    let expires_zero = unregister.headers.get(&HeaderName::EXPIRES) == Some("0")
        || unregister
            .headers
            .get(&HeaderName::CONTACT)
            .is_some_and(|c| c.contains("expires=0"));
    assert!(expires_zero, "{unregister}");
    accept(&provider, &unregister, from, 0);
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}
