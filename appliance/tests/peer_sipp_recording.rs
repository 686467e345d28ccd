//! Real peers, whole daemon: call recording (issue 4).
//!
//! Extension 201 (`SIPp` UAC for the signalling; its media is a UDP socket
//! of this test, so the test sees every packet and sends its own audio and
//! RFC 4733 events) calls 202 (a `SIPp` UAS that plays `g711a.pcap` after
//! the answer). The appliance relays the call.
//!
//! - `always` + consent: the caller first hears the Dutch consent prompt
//!   (packets of the appliance's own SSRC, about the prompt's length) and
//!   only then the callee; after the call the recording exists, `ffprobe`
//!   reads two channels and a duration within 0.5 s of the connected
//!   time, and the index row's duration and SHA-256 match the file
//!   (`sha256sum`) and name the call's CDR call id.
//! - `on_demand`: the caller dials `*1` as RFC 4733 events in the relayed
//!   stream; a recording appears, from the code to the hang-up.
//! - The local command: `GET /calls` lists the call, `POST
//!   /calls/{call_id}/recording` starts and stops an on-demand recording
//!   (repeats and unknown calls are refused).
//! - The quota: with older recordings over `quota_bytes`, the daemon deletes
//!   the oldest first (index row, file, `recording_deleted` event) and
//!   records the new call.
//! - A SIGKILL of the daemon mid-recording: at restart the file is
//!   recovered (`recovered` in the index, `ffprobe` reads it).
//!
//! `SIPp` and `ffprobe` are required: a missing tool FAILS these tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]

mod peer_support;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peer_support::{
    Appliance, PBX_IP, Sipp, SippRun, free_udp_port, password, register, require_tool, rtp_range,
    site_config, temp_dir, wait_udp_bound,
};
use voip_media::codec::{CodecKind, OpusSettings, new_encoder};
use voip_media::dtmf::{DtmfEvent, TelephoneEvent};
use voip_media::{PayloadType, RtpHeader, RtpPacket, SeqNo, Ssrc};

/// Our SSRC as the caller.
const CALLER_SSRC: u32 = 0x5157_0201;
/// Length of the shipped consent prompt (appliance/prompts/nl).
const PROMPT: Duration = Duration::from_millis(2257);

/// The test site with one recording policy given to extension 201.
fn site_with_policy(policy: &str) -> String {
    let site = site_config(rtp_range(), &[], 5);
    let site = site.replacen(
        "credentials = \"ext-201\"\n",
        "credentials = \"ext-201\"\nrecording_policy = \"test\"\n",
        1,
    );
    format!("{site}\n[[recording_policies]]\nname = \"test\"\n{policy}")
}

/// Bootstrap `[recording]`: no free-space floor (shared test disk), 1 s
/// batches (the SIGKILL test needs data on disk).
const RECORDING_TOML: &str = "[recording]\nmin_free_bytes = 0\nflush_interval_s = 1\n";

/// One received RTP packet.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    ssrc: u32,
    pt: u8,
    payload: Vec<u8>,
}

/// The caller's media: a UDP socket that records what arrives and, once it
/// knows the appliance's address (from the first packet), sends a 440 Hz
/// A-law tone every 20 ms plus queued RFC 4733 digits.
struct CallerMedia {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    digits: Arc<Mutex<Vec<char>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl CallerMedia {
    fn start() -> Self {
        let socket = UdpSocket::bind((PBX_IP, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let digits = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let peer: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let rx = {
            let socket = socket.try_clone().unwrap();
            let (received, stop, peer) = (received.clone(), stop.clone(), peer.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let at = Instant::now();
                    let Ok(rtp) = RtpPacket::parse(&buf[..n]) else {
                        continue;
                    };
                    peer.lock().unwrap().get_or_insert(from);
                    received.lock().unwrap().push(Received {
                        at,
                        ssrc: rtp.ssrc().0,
                        pt: rtp.payload_type().0,
                        payload: rtp.payload().to_vec(),
                    });
                }
            })
        };
        let tx = {
            let (digits, stop) = (digits.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut encoder = new_encoder(CodecKind::Pcma, &OpusSettings::default()).unwrap();
                let mut seq: u16 = 1;
                let mut ts: u32 = 0;
                let mut n: u32 = 0;
                let start = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let due = start + Duration::from_millis(20) * n;
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    let Some(to) = *peer.lock().unwrap() else {
                        continue;
                    };
                    let digit = digits.lock().unwrap().pop();
                    let mut packets = Vec::new();
                    if let Some(d) = digit {
                        // One 100 ms event: start, update, three end packets
                        // (RFC 4733 2.5.1.4), all with the event's timestamp.
                        for (k, end) in [(1u16, false), (2, false), (5, true), (5, true), (5, true)]
                        {
                            let event = TelephoneEvent {
                                event: DtmfEvent::from_digit(d).unwrap(),
                                end,
                                volume: 10,
                                duration: 160 * k,
                            };
                            let mut h =
                                RtpHeader::new(PayloadType(101), SeqNo(seq), ts, Ssrc(CALLER_SSRC));
                            h.marker = k == 1 && !end;
                            let mut p = Vec::new();
                            h.write_packet(&event.to_bytes(), 0, &mut p).unwrap();
                            packets.push(p);
                            seq = seq.wrapping_add(1);
                        }
                        ts = ts.wrapping_add(800);
                    } else {
                        let pcm: Vec<i16> = (0..160u32)
                            .map(|i| {
                                let t = f64::from(ts + i) / 8000.0;
                                #[allow(clippy::cast_possible_truncation, reason = "amplitude")]
                                let s = ((2.0 * std::f64::consts::PI * 440.0 * t).sin() * 8000.0)
                                    as i16;
                                s
                            })
                            .collect();
                        let mut payload = Vec::new();
                        encoder.encode(&pcm, &mut payload).unwrap();
                        let h = RtpHeader::new(PayloadType(8), SeqNo(seq), ts, Ssrc(CALLER_SSRC));
                        let mut p = Vec::new();
                        h.write_packet(&payload, 0, &mut p).unwrap();
                        packets.push(p);
                        seq = seq.wrapping_add(1);
                        ts = ts.wrapping_add(160);
                    }
                    for p in packets {
                        let _ = socket.send_to(&p, to);
                    }
                }
            })
        };
        Self {
            port,
            received,
            digits,
            stop,
            threads: vec![rx, tx],
        }
    }

    /// Queues digits to send (in order; `pop` takes from the end).
    fn dial(&self, code: &str) {
        *self.digits.lock().unwrap() = code.chars().rev().collect();
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn stop(mut self) -> Vec<Received> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        self.received()
    }
}

/// 202 registers and answers (playing its pcap); 201's call starts with
/// its media on `media`. Returns the running UAC and UAS.
fn call(dir: &Path, appliance: &Appliance, media: &CallerMedia) -> (Sipp, Sipp) {
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(dir, appliance, "202", phone);
    let mut uas = SippRun {
        name: "phone-202",
        scenario: "uas_answer_talk.xml",
        local: phone,
        remote: None,
        service: None,
        auth: None,
        vars: &[],
        rtp_echo: false,
        calls: 1,
    }
    .spawn(dir);
    wait_udp_bound(phone, &mut uas.proc);
    let port = media.port.to_string();
    let uac = SippRun {
        name: "caller-201",
        scenario: "uac_ext_call_test_media.xml",
        local: SocketAddr::from((PBX_IP, free_udp_port(PBX_IP))),
        remote: Some(appliance.sip),
        service: Some("202"),
        auth: Some(("201", password("201"))),
        vars: &[("caller", "201"), ("rtp_port", &port)],
        rtp_echo: false,
        calls: 1,
    }
    .spawn(dir);
    (uac, uas)
}

/// The index row of the only recording once it is no longer being
/// written: `(call_id, path, state, duration_ms, bytes, sha256)`.
type Row = (String, String, String, i64, i64, Option<String>);

fn finished_recording(appliance: &Appliance, limit: Duration) -> Row {
    let deadline = Instant::now() + limit;
    loop {
        let rows: Vec<Row> = appliance
            .db()
            .prepare("SELECT call_id, path, state, duration_ms, bytes, sha256 FROM recordings")
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect()
            })
            .unwrap_or_default();
        if let [row] = rows.as_slice()
            && row.2 != "recording"
        {
            return row.clone();
        }
        assert!(
            rows.len() <= 1 && Instant::now() < deadline,
            "expected one finished recording, found {rows:?}\n--- appliance log ---\n{}",
            appliance.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ffprobe`'s (channels, duration in seconds) of `file`.
fn ffprobe(file: &Path) -> (u32, f64) {
    let ffprobe = require_tool("ffprobe", "ffmpeg");
    let out = Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=channels:format=duration",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ffprobe {}: {}{}",
        file.display(),
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("ffprobe gave no {key}: {text}"))
            .to_owned()
    };
    (
        value("channels").parse().unwrap(),
        value("duration").parse().unwrap(),
    )
}

/// RMS of the left and right channel of `file` (decoded by `ffmpeg`).
fn channel_rms(file: &Path) -> (f64, f64) {
    let ffmpeg = require_tool("ffmpeg", "ffmpeg");
    let out = Command::new(ffmpeg)
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "s16le", "-ac", "2", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let rms = |channel: usize| {
        let (sum, n) = samples
            .iter()
            .skip(channel)
            .step_by(2)
            .fold((0.0, 0u32), |(s, n), x| (s + f64::from(*x).powi(2), n + 1));
        (sum / f64::from(n.max(1))).sqrt()
    };
    (rms(0), rms(1))
}

/// An HTTP/1.1 request with a JSON body; returns (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad response {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

fn sha256sum(file: &Path) -> String {
    let tool = require_tool("sha256sum", "coreutils");
    let out = Command::new(tool).arg(file).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn recording_file(appliance: &Appliance, path: &str) -> PathBuf {
    appliance.data_dir.join("recordings").join(path)
}

fn cdr_call_id(appliance: &Appliance) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let id: Option<String> = appliance
            .db()
            .query_row("SELECT call_id FROM call_records", [], |r| r.get(0))
            .ok();
        if let Some(id) = id {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "no call record\n{}",
            appliance.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn always_with_consent_prompts_first_then_records_both_parties_in_stereo() {
    let dir = temp_dir("rec-always");
    let site = site_with_policy(
        "mode = \"always\"\nconsent_announcement = true\nformat = \"ogg_opus\"\nretention_days = 7\n",
    );
    let appliance = Appliance::start_full(&dir, &site, &[], "", RECORDING_TOML);
    let media = CallerMedia::start();
    let (mut uac, mut uas) = call(&dir, &appliance, &media);
    uac.finish_ok(&appliance);
    let ended = Instant::now();
    uas.finish_ok(&appliance);
    let received = media.stop();

    // The prompt comes first: a run of packets of one SSRC (the
    // appliance's), about the prompt long, before any of the callee's.
    let first = received.first().expect("the caller received no RTP");
    let prompt_ssrc = first.ssrc;
    assert_ne!(prompt_ssrc, CALLER_SSRC);
    let prompt_packets: Vec<&Received> =
        received.iter().filter(|r| r.ssrc == prompt_ssrc).collect();
    let callee = received
        .iter()
        .find(|r| r.ssrc != prompt_ssrc)
        .expect("the callee was never heard");
    assert_ne!(callee.ssrc, CALLER_SSRC, "the caller hears itself");
    let last_prompt = prompt_packets.last().unwrap();
    assert!(
        last_prompt.at <= callee.at,
        "callee audio arrived during the prompt"
    );
    let frames = PROMPT.as_millis().div_ceil(20) as usize;
    assert!(
        prompt_packets.len() + 3 >= frames && prompt_packets.len() <= frames,
        "{} prompt packets, expected {frames}",
        prompt_packets.len()
    );
    assert!(
        prompt_packets.iter().all(|r| r.pt == 8),
        "prompt not in PCMA"
    );
    // It is speech, not silence (A-law silence is 0xD5/0x55).
    let loud = prompt_packets
        .iter()
        .filter(|r| {
            r.payload
                .iter()
                .filter(|&&b| b != 0xD5 && b != 0x55)
                .count()
                > 80
        })
        .count();
    assert!(loud > frames / 3, "only {loud} prompt packets carry sound");
    // Played in real time (one packet per 20 ms, not in a burst), then the
    // 300 ms pause before the parties are connected.
    let played = last_prompt.at.duration_since(first.at);
    assert!(
        played + Duration::from_millis(100) >= PROMPT,
        "prompt played in {played:?}"
    );
    let connected = callee.at;
    assert!(
        connected.duration_since(first.at) >= PROMPT + Duration::from_millis(200),
        "connected {:?} after the prompt began",
        connected.duration_since(first.at)
    );

    let (call_id, path, state, duration_ms, bytes, sha) =
        finished_recording(&appliance, Duration::from_secs(10));
    assert_eq!(state, "complete");
    assert_eq!(
        call_id,
        cdr_call_id(&appliance),
        "index not linked to the CDR"
    );
    let file = recording_file(&appliance, &path);
    let (channels, seconds) = ffprobe(&file);
    assert_eq!(channels, 2);
    let talk = ended.duration_since(connected).as_secs_f64();
    eprintln!(
        "prompt packets {} (expected {frames}), connected {:?} after the prompt began, \
         recording {seconds} s, connected for {talk} s",
        prompt_packets.len(),
        connected.duration_since(first.at)
    );
    // Left: the caller's 440 Hz tone (RMS ~5600); right: the callee's
    // pcap. Both parties are in the file, each on its own channel.
    let (left, right) = channel_rms(&file);
    eprintln!("channel RMS: left {left:.0}, right {right:.0}");
    assert!(left > 3000.0, "caller channel RMS {left}");
    assert!(right > 300.0, "callee channel RMS {right}");
    assert!(
        (seconds - talk).abs() <= 0.5,
        "ffprobe duration {seconds} s, connected for {talk} s"
    );
    #[allow(clippy::cast_precision_loss, reason = "milliseconds of a call")]
    let indexed = duration_ms as f64 / 1000.0;
    assert!(
        (indexed - seconds).abs() <= 0.1,
        "index {indexed} s, file {seconds} s"
    );
    assert_eq!(
        u64::try_from(bytes).unwrap(),
        std::fs::metadata(&file).unwrap().len()
    );
    assert_eq!(sha.as_deref(), Some(sha256sum(&file).as_str()));
}

#[test]
fn on_demand_code_in_the_relayed_stream_starts_a_recording() {
    let dir = temp_dir("rec-on-demand");
    let site = site_with_policy(
        "mode = \"on_demand\"\nconsent_announcement = false\nformat = \"wav\"\non_demand_dtmf = \"*1\"\n",
    );
    let appliance = Appliance::start_full(&dir, &site, &[], "", RECORDING_TOML);
    let media = CallerMedia::start();
    let (mut uac, mut uas) = call(&dir, &appliance, &media);
    // Talk a second without recording, then dial the code.
    let deadline = Instant::now() + Duration::from_secs(5);
    while media.received().len() < 50 {
        assert!(Instant::now() < deadline, "no media\n{}", appliance.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let no_rows: i64 = appliance
        .db()
        .query_row("SELECT count(*) FROM recordings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(no_rows, 0, "recorded before the code");
    let dialled = Instant::now();
    media.dial("*1");
    uac.finish_ok(&appliance);
    let ended = Instant::now();
    uas.finish_ok(&appliance);
    let received = media.stop();
    assert!(received.iter().all(|r| r.ssrc != CALLER_SSRC));

    let (call_id, path, state, _, _, sha) = finished_recording(&appliance, Duration::from_secs(10));
    assert_eq!(state, "complete");
    assert_eq!(call_id, cdr_call_id(&appliance));
    let file = recording_file(&appliance, &path);
    let (channels, seconds) = ffprobe(&file);
    assert_eq!(channels, 2);
    let recorded = ended.duration_since(dialled).as_secs_f64();
    eprintln!("recording {seconds} s, code dialled {recorded} s before the end");
    assert!(
        (seconds - recorded).abs() <= 0.5,
        "ffprobe duration {seconds} s, code dialled {recorded} s before the end"
    );
    assert_eq!(sha.as_deref(), Some(sha256sum(&file).as_str()));
}

#[test]
fn local_command_starts_and_stops_an_on_demand_recording() {
    let dir = temp_dir("rec-command");
    let site =
        site_with_policy("mode = \"on_demand\"\nconsent_announcement = false\nformat = \"wav\"\n");
    let appliance = Appliance::start_full(&dir, &site, &[], "", RECORDING_TOML);
    let media = CallerMedia::start();
    let (mut uac, mut uas) = call(&dir, &appliance, &media);
    let deadline = Instant::now() + Duration::from_secs(5);
    while media.received().len() < 25 {
        assert!(Instant::now() < deadline, "no media\n{}", appliance.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, body) = http(appliance.http, "GET", "/calls", "");
    assert_eq!(status, 200, "{body}");
    let calls: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids = calls["calls"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{body}");
    let id = ids[0].as_str().unwrap().to_owned();
    let path = format!("/calls/{id}/recording");
    let start = r#"{"action":"start"}"#;
    let stop = r#"{"action":"stop"}"#;

    assert_eq!(
        http(appliance.http, "POST", "/calls/nope/recording", start).0,
        404
    );
    assert_eq!(
        http(appliance.http, "POST", &path, r#"{"action":"pause"}"#).0,
        422
    );
    assert_eq!(
        http(appliance.http, "POST", &path, stop).0,
        409,
        "nothing to stop yet"
    );
    let (status, body) = http(appliance.http, "POST", &path, start);
    let started = Instant::now();
    assert_eq!((status, body.as_str()), (200, r#"{"recording":true}"#));
    assert_eq!(
        http(appliance.http, "POST", &path, start).0,
        409,
        "already recording"
    );
    std::thread::sleep(Duration::from_secs(2));
    let (status, body) = http(appliance.http, "POST", &path, stop);
    let stopped = Instant::now();
    assert_eq!((status, body.as_str()), (200, r#"{"recording":false}"#));
    let (call_id, file, state, _, _, _) = finished_recording(&appliance, Duration::from_secs(10));
    assert_eq!(call_id, id);
    assert_eq!(state, "complete");
    uac.finish_ok(&appliance);
    uas.finish_ok(&appliance);
    let _ = media.stop();
    let (channels, seconds) = ffprobe(&recording_file(&appliance, &file));
    assert_eq!(channels, 2);
    let commanded = stopped.duration_since(started).as_secs_f64();
    eprintln!("recording {seconds} s, commanded {commanded} s");
    assert!(
        (seconds - commanded).abs() <= 0.5,
        "ffprobe duration {seconds} s, started {commanded} s before the stop"
    );
}

#[test]
fn a_recording_cut_by_sigkill_is_recovered_at_restart() {
    let dir = temp_dir("rec-sigkill");
    let site = site_with_policy(
        "mode = \"always\"\nconsent_announcement = false\nformat = \"ogg_opus\"\n",
    );
    // Not dropped: its Drop would delete the directory the restart needs.
    let mut first =
        std::mem::ManuallyDrop::new(Appliance::start_full(&dir, &site, &[], "", RECORDING_TOML));
    let media = CallerMedia::start();
    let (_uac, _uas) = call(&dir, &first, &media);
    // Recording for ~3 s (1 s batches are on disk), then SIGKILL.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let written: i64 = first
            .db()
            .query_row("SELECT count(*) FROM recordings", [], |r| r.get(0))
            .unwrap_or(0);
        if written == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recording started\n{}",
            first.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(3));
    first.proc.child.kill().unwrap(); // SIGKILL
    first.proc.child.wait().unwrap();
    let _ = media.stop();
    let row: (String, String) = first
        .db()
        .query_row("SELECT path, state FROM recordings", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(row.1, "recording", "the kill left the row unfinished");

    let second = Appliance::start_full(&dir, &site, &[], "", RECORDING_TOML);
    let (path, state, duration_ms, sha): (String, String, i64, Option<String>) = second
        .db()
        .query_row(
            "SELECT path, state, duration_ms, sha256 FROM recordings",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(path, row.0);
    assert_eq!(state, "recovered", "{}", second.log());
    let file = recording_file(&second, &path);
    let (channels, seconds) = ffprobe(&file);
    assert_eq!(channels, 2);
    assert!(seconds >= 1.5, "only {seconds} s recovered");
    #[allow(clippy::cast_precision_loss, reason = "milliseconds of a call")]
    let indexed = duration_ms as f64 / 1000.0;
    assert!(
        (indexed - seconds).abs() <= 0.1,
        "index {indexed} s, file {seconds} s"
    );
    assert_eq!(sha.as_deref(), Some(sha256sum(&file).as_str()));
    drop(second);
    // The first instance's directory went with the second's Drop.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quota_deletes_the_oldest_recordings_first_and_the_call_is_recorded() {
    use voip_appliance::store::{NewRecording, RecordingState, Store, StoreConfig};
    use voip_shared::mqtt::{DeletionReason, EventKind, Message, decode};
    use voip_shared::site_config::RecordingFormat;
    const KB: u64 = 1024;
    let dir = temp_dir("rec-quota");
    let data = dir.join("data");
    let rec_dir = data.join("recordings");
    std::fs::create_dir_all(&rec_dir).unwrap();
    // Three finished recordings of 350 KiB, 3, 2 and 1 days old: 1.03 MiB,
    // over a 1 MiB quota.
    {
        let mut store = Store::open(
            data.join("appliance.db"),
            StoreConfig::new(voip_shared::mqtt::ApplianceId::new("peer-test").unwrap()),
        )
        .unwrap();
        let now = time::OffsetDateTime::now_utc();
        for (id, age) in [("old", 3), ("middle", 2), ("new", 1)] {
            let path = format!("{id}.wav");
            std::fs::write(rec_dir.join(&path), vec![0u8; (350 * KB) as usize]).unwrap();
            store
                .insert_recording(&NewRecording {
                    id: id.into(),
                    call_id: format!("call-{id}"),
                    path,
                    format: RecordingFormat::Wav,
                    sample_rate: 8000,
                    started_at: now - time::Duration::days(age),
                    retention_days: 30,
                    encrypted: false,
                })
                .unwrap();
            store
                .finish_recording(
                    id,
                    RecordingState::Complete,
                    1000,
                    350 * KB,
                    Some("00"),
                    now,
                )
                .unwrap();
        }
    }
    let site =
        site_with_policy("mode = \"always\"\nconsent_announcement = false\nformat = \"wav\"\n");
    let bootstrap = format!("{RECORDING_TOML}quota_bytes = {}\n", 1024 * KB);
    let appliance = Appliance::start_full(&dir, &site, &[], "", &bootstrap);
    let ids = |appliance: &Appliance| -> Vec<String> {
        appliance
            .db()
            .prepare("SELECT id FROM recordings ORDER BY started_at")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while ids(&appliance).len() == 3 {
        assert!(
            Instant::now() < deadline,
            "nothing deleted\n{}",
            appliance.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ids(&appliance), ["middle", "new"], "the oldest goes first");
    assert!(!rec_dir.join("old.wav").exists());
    assert!(rec_dir.join("middle.wav").exists());

    let media = CallerMedia::start();
    let (mut uac, mut uas) = call(&dir, &appliance, &media);
    uac.finish_ok(&appliance);
    uas.finish_ok(&appliance);
    let _ = media.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows: Vec<(String, String)> = appliance
            .db()
            .prepare("SELECT id, state FROM recordings ORDER BY started_at")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .unwrap();
        if rows.len() == 3 && rows[2].1 == "complete" {
            assert_eq!((rows[0].0.as_str(), rows[1].0.as_str()), ("middle", "new"));
            let total: u64 = std::fs::read_dir(&rec_dir)
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum();
            assert!(total <= 1024 * KB, "{total} bytes over the quota");
            break;
        }
        assert!(Instant::now() < deadline, "{rows:?}\n{}", appliance.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The deletion is reported to the cloud through the outbox.
    let deleted: Vec<(String, DeletionReason)> = appliance
        .db()
        .prepare("SELECT kind, payload FROM outbox ORDER BY seq")
        .and_then(|mut st| {
            st.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
        .into_iter()
        .filter_map(
            |(kind, payload)| match decode(kind.parse().ok()?, &payload).ok()? {
                Message::Event(e) => match e.event {
                    EventKind::RecordingDeleted(d) => Some((d.recording_id, d.reason)),
                    _ => None,
                },
                _ => None,
            },
        )
        .collect();
    assert_eq!(deleted, [("old".to_owned(), DeletionReason::Quota)]);
}
