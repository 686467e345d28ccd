//! Real peers, registrar brute force: the test's own UDP client at
//! 127.0.0.3 registers extension 201 with a wrong password (each attempt:
//! REGISTER → 401 → REGISTER with a digest answer computed with the wrong
//! password → 401/403) until the site's `registrar_ban.max_failures` (5) is
//! reached. The first failures are answered; after the fifth that source
//! gets no answer at all (REGISTER and OPTIONS time out), while a phone at
//! 127.0.0.1 (`SIPp`) still registers 201 with the right password and calls
//! the echo test `*43` successfully (200 OK, media, BYE). `SIPp` is
//! required: a missing `SIPp` FAILS this test.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure should panic the test"
)]

mod peer_support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use peer_support::{
    ATTACKER_IP, Appliance, PBX_IP, SippRun, free_udp_port, password, register, rtp_range,
    site_config, temp_dir,
};
use voip_sip::auth::DigestClient;

const MAX_FAILURES: u32 = 5;
/// How long silence must last to count as "no answer": the appliance answers
/// on loopback within milliseconds.
const SILENCE: Duration = Duration::from_millis(1500);

struct Attacker {
    socket: UdpSocket,
    pbx: SocketAddr,
    cseq: u32,
}

impl Attacker {
    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn register(&mut self, authorization: Option<&str>) -> String {
        self.cseq += 1;
        let local = self.local();
        let pbx = self.pbx;
        let n = self.cseq;
        let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        format!(
            "REGISTER sip:{pbx} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};rport;branch=z9hG4bK-brute-{n}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:201@{pbx}>;tag=brute{n}\r\n\
             To: <sip:201@{pbx}>\r\n\
             Call-ID: brute-force@{local}\r\n\
             CSeq: {n} REGISTER\r\n\
             Contact: <sip:201@{local}>\r\n\
             Expires: 300\r\n\
             {auth}Content-Length: 0\r\n\r\n"
        )
    }

    fn options(&mut self) -> String {
        self.cseq += 1;
        let (local, pbx, n) = (self.local(), self.pbx, self.cseq);
        format!(
            "OPTIONS sip:{pbx} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};rport;branch=z9hG4bK-brute-opt-{n}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:probe@{local}>;tag=bruteopt{n}\r\n\
             To: <sip:{pbx}>\r\n\
             Call-ID: brute-options-{n}@{local}\r\n\
             CSeq: {n} OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        )
    }

    /// Sends `message`; the answer's status and text, `None` on silence.
    fn exchange(&self, message: &str) -> Option<(u16, String)> {
        self.socket.send_to(message.as_bytes(), self.pbx).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let (n, _) = match self.socket.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(e) => panic!("recv: {e}"),
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let status: u16 = text
                .strip_prefix("SIP/2.0 ")
                .and_then(|t| t.get(..3))
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("not a response: {text}"));
            if status >= 200 {
                return Some((status, text));
            }
        }
    }
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn wrong_passwords_get_the_source_banned_while_other_phones_keep_working() {
    let dir = temp_dir("bruteforce");
    let appliance = Appliance::start(&dir, &site_config(rtp_range(), &[], MAX_FAILURES), &[]);
    let socket = UdpSocket::bind((ATTACKER_IP, 0)).unwrap();
    socket.set_read_timeout(Some(SILENCE)).unwrap();
    let mut attacker = Attacker {
        socket,
        pbx: appliance.sip,
        cseq: 0,
    };

    let mut answered_failures = 0;
    for attempt in 1..=MAX_FAILURES {
        let challenge_request = attacker.register(None);
        let Some((status, challenge)) = attacker.exchange(&challenge_request) else {
            panic!(
                "attempt {attempt}: the challenge was not answered (banned too early?)\n{}",
                appliance.log()
            );
        };
        assert_eq!(status, 401, "{challenge}");
        let www = header(&challenge, "WWW-Authenticate").unwrap();
        let uri = format!("sip:{}", appliance.sip);
        let wrong = DigestClient::default()
            .respond(&[www], "REGISTER", &uri, "201", "raden-maar", [7; 16], 1)
            .unwrap()
            .into_string();
        let request = attacker.register(Some(&wrong));
        match attacker.exchange(&request) {
            Some((status, response)) => {
                assert!(
                    matches!(status, 401 | 403),
                    "wrong password answered {status}: {response}"
                );
                answered_failures += 1;
            }
            // Only the failure that triggers the ban may go unanswered.
            None => assert_eq!(
                attempt,
                MAX_FAILURES,
                "failure {attempt} was not answered: banned before {MAX_FAILURES} failures\n{}",
                appliance.log()
            ),
        }
    }
    assert!(answered_failures >= MAX_FAILURES - 1);

    // Banned: nothing is answered any more, not even OPTIONS.
    let again = attacker.register(None);
    assert_eq!(
        attacker.exchange(&again).map(|(s, _)| s),
        None,
        "a banned source must get no answer to REGISTER"
    );
    let probe = attacker.options();
    assert_eq!(
        attacker.exchange(&probe).map(|(s, _)| s),
        None,
        "a banned source must get no answer to OPTIONS"
    );

    // Another source is not affected: 201 registers and calls the echo test.
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(&dir, &appliance, "201", phone);
    SippRun {
        name: "call-201-echo",
        scenario: "uac_ext_call.xml",
        local: phone,
        remote: Some(appliance.sip),
        service: Some("*43"),
        auth: Some(("201", password("201"))),
        vars: &[("caller", "201")],
        rtp_echo: false,
        calls: 1,
    }
    .run_ok(&dir, &appliance);
}
