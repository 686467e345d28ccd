//! Real peers, a transcoded call through the running daemon: `SIPp` as
//! extension 201 (G.711 A-law only) calls a mobile number through trunk
//! `prov1`, whose codecs are Opus only, and whose `SIPp` UAS answers with
//! `opus/48000/2` alone and echoes the RTP it receives (`-rtp_echo`). The
//! legs share no codec, so the appliance transcodes: A's PCMA → Opus to the
//! provider, the provider's echoed Opus → PCMA back to A.
//!
//! The extension plays a 1 kHz tone (built here: `sox` → raw A-law → an RTP
//! pcap). `tcpdump` captures the appliance's RTP range on loopback; then
//! - the Opus leg's payloads (appliance → provider) are decoded with the
//!   project's decoder and, written into an Ogg/Opus file (a minimal muxer
//!   below), with `ffmpeg`;
//! - the PCMA leg's payloads (appliance → extension) are decoded with the
//!   project's decoder and, as raw A-law, with `sox -t al`;
//! - each decode must be a tone of 1 kHz (Goertzel energy ≥ 80 % of the
//!   signal) at the sent level within −6/+3 dB;
//! - the extension's SIP INFO `application/dtmf-relay` digit (answered 200,
//!   checked by the `SIPp` scenario) reached the provider as RFC 4733
//!   events;
//! - the appliance sent its own RTCP sender reports on both legs (it
//!   terminates RTP there), and quality samples with Opus and PCMA codecs
//!   reached the store.
//!
//! Recording of a transcoded call: the same call with extension 201 under
//! an `always` recording policy (no consent prompt); the recording exists,
//! is complete, `ffprobe` reads two channels and a duration within 0.5 s
//! of the answered call's, the left channel carries the caller's tone and
//! the right one the provider's echo (decoded by `ffmpeg`).
//!
//! `sipp`, `tcpdump`, `ffmpeg`, `ffprobe` and `sox` are required: a missing
//! tool FAILS these tests.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod peer_support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peer_support::{
    Appliance, PBX_IP, PROVIDER1_IP, Proc, SippRun, TrunkSpec, answering_uas, call_records,
    free_udp_port, password, register, require_tool, rtp_range, site_config, temp_dir,
};
use voip_media::codec::{CodecKind, new_decoder};
use voip_shared::mqtt::LegSample;

/// Amplitude of the sent tone (of 32 768): −6 dBFS.
const TONE_AMPLITUDE: f64 = 16_384.0;
const TONE_HZ: f64 = 1000.0;

// ---- the tone pcap --------------------------------------------------------

/// A-law samples of a 1 kHz tone, made by `sox`.
fn sox_tone_alaw(dir: &Path, seconds: u32) -> Vec<u8> {
    let sox = require_tool("sox", "sox");
    let out = dir.join("tone.al");
    let status = Command::new(sox)
        .args(["-n", "-r", "8000", "-c", "1", "-t", "al"])
        .arg(&out)
        .args(["synth", &seconds.to_string(), "sine", "1000", "vol", "0.5"])
        .status()
        .unwrap();
    assert!(status.success(), "sox could not make the tone");
    std::fs::read(out).unwrap()
}

/// An Ethernet/IPv4/UDP/RTP pcap of `alaw` in 20 ms PCMA packets (`SIPp`'s
/// `play_pcap_audio` rewrites addresses and ports).
fn rtp_pcap(alaw: &[u8]) -> Vec<u8> {
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    pcap.extend_from_slice(&0i32.to_le_bytes());
    pcap.extend_from_slice(&0u32.to_le_bytes());
    pcap.extend_from_slice(&65_535u32.to_le_bytes());
    pcap.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (i, frame) in alaw.chunks_exact(160).enumerate() {
        let i = u32::try_from(i).unwrap();
        let mut rtp = vec![0x80, 8];
        rtp.extend_from_slice(&u16::try_from(i % 65_536).unwrap().to_be_bytes());
        rtp.extend_from_slice(&(i * 160).to_be_bytes());
        rtp.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        rtp.extend_from_slice(frame);
        let udp_len = u16::try_from(8 + rtp.len()).unwrap();
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(20 + udp_len).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        let mut packet = vec![0u8; 12];
        packet.extend_from_slice(&[0x08, 0x00]);
        packet.extend_from_slice(&ip);
        packet.extend_from_slice(&4000u16.to_be_bytes());
        packet.extend_from_slice(&4002u16.to_be_bytes());
        packet.extend_from_slice(&udp_len.to_be_bytes());
        packet.extend_from_slice(&0u16.to_be_bytes());
        packet.extend_from_slice(&rtp);
        let micros = i * 20_000;
        pcap.extend_from_slice(&(micros / 1_000_000).to_le_bytes());
        pcap.extend_from_slice(&(micros % 1_000_000).to_le_bytes());
        let len = u32::try_from(packet.len()).unwrap();
        pcap.extend_from_slice(&len.to_le_bytes());
        pcap.extend_from_slice(&len.to_le_bytes());
        pcap.extend_from_slice(&packet);
    }
    pcap
}

// ---- capture ----------------------------------------------------------------

/// One UDP datagram of the capture.
struct Datagram {
    src: u16,
    dst: u16,
    payload: Vec<u8>,
}

/// The UDP datagrams of a pcap file (Ethernet, Linux cooked v1/v2 or raw IP).
fn udp_datagrams(pcap: &[u8]) -> Vec<Datagram> {
    assert!(pcap.len() >= 24, "capture file too short");
    let le = pcap[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || pcap[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let u32_at = |b: &[u8], at: usize| {
        let v: [u8; 4] = b[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        }
    };
    let link = u32_at(pcap, 20);
    let link_header = match link {
        1 => 14,
        113 => 16,
        276 => 20,
        101 => 0,
        other => panic!("unexpected pcap link type {other}"),
    };
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32_at(pcap, at + 8) as usize;
        let Some(frame) = pcap.get(at + 16..at + 16 + caplen) else {
            break;
        };
        at += 16 + caplen;
        let Some(ip) = frame.get(link_header..) else {
            continue;
        };
        if ip.len() < 28 || ip[0] >> 4 != 4 || ip[9] != 17 {
            continue;
        }
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let Some(udp) = ip.get(ihl..) else { continue };
        if udp.len() < 8 {
            continue;
        }
        out.push(Datagram {
            src: u16::from_be_bytes([udp[0], udp[1]]),
            dst: u16::from_be_bytes([udp[2], udp[3]]),
            payload: udp[8..].to_vec(),
        });
    }
    out
}

// ---- Ogg/Opus (RFC 7845) ------------------------------------------------------

fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn ogg_page(out: &mut Vec<u8>, header_type: u8, granule: u64, seq: u32, packet: &[u8]) {
    let mut lacing = vec![255u8; packet.len() / 255];
    lacing.push(u8::try_from(packet.len() % 255).unwrap());
    let start = out.len();
    out.extend_from_slice(b"OggS");
    out.push(0);
    out.push(header_type);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&0x5452_414e_u32.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(u8::try_from(lacing.len()).unwrap());
    out.extend_from_slice(&lacing);
    out.extend_from_slice(packet);
    let crc = ogg_crc(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
}

/// An Ogg/Opus file of mono 20 ms packets, one packet per page.
fn ogg_opus(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(1);
    head.extend_from_slice(&312u16.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0);
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&4u32.to_le_bytes());
    tags.extend_from_slice(b"test");
    tags.extend_from_slice(&0u32.to_le_bytes());
    let mut out = Vec::new();
    ogg_page(&mut out, 2, 0, 0, &head);
    ogg_page(&mut out, 0, 0, 1, &tags);
    for (i, p) in packets.iter().enumerate() {
        let n = u64::try_from(i + 1).unwrap();
        let last = i + 1 == packets.len();
        ogg_page(
            &mut out,
            if last { 4 } else { 0 },
            n * 960,
            u32::try_from(i + 2).unwrap(),
            p,
        );
    }
    out
}

// ---- analysis -------------------------------------------------------------------

/// (fraction of the signal's energy at 1 kHz, RMS) of `pcm` at `rate`.
fn tone_figures(pcm: &[i16], rate: u32) -> (f64, f64) {
    let x: Vec<f64> = pcm.iter().map(|&s| f64::from(s)).collect();
    let n = x.len() as f64;
    let energy: f64 = x.iter().map(|v| v * v).sum();
    let w = 2.0 * std::f64::consts::PI * TONE_HZ / f64::from(rate);
    let (mut re, mut im) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let t = w * i as f64;
        re += v * t.cos();
        im += v * t.sin();
    }
    // Energy of a sinusoid from its DFT coefficient: 2 |X|² / N.
    let at_tone = 2.0 * (re * re + im * im) / n;
    (at_tone / energy.max(1.0), (energy / n).sqrt())
}

/// Asserts that `pcm` (steady part) is the tone at about the sent level:
/// the median 100 ms block holds ≥ 80 % of its energy at 1 kHz (blocks, so
/// a phase jump where a digit replaced audio does not matter).
fn assert_tone(what: &str, pcm: &[i16], rate: u32) {
    let per_second = rate as usize;
    // The jitter buffer and codec start-up: skip 0.5 s; stop before the end.
    assert!(
        pcm.len() > 2 * per_second,
        "{what}: only {} samples",
        pcm.len()
    );
    let steady = &pcm[per_second / 2..pcm.len() - per_second / 5];
    let mut fractions: Vec<f64> = steady
        .chunks_exact(per_second / 10)
        .map(|block| tone_figures(block, rate).0)
        .collect();
    fractions.sort_by(f64::total_cmp);
    let fraction = fractions[fractions.len() / 2];
    let rms = tone_figures(steady, rate).1;
    let sent_rms = TONE_AMPLITUDE / 2f64.sqrt();
    let db = 20.0 * (rms / sent_rms).log10();
    eprintln!(
        "{what}: median block {:.1} % at 1 kHz, level {db:+.1} dB",
        fraction * 100.0
    );
    assert!(
        fraction >= 0.8,
        "{what}: only {:.1} % of the energy at 1 kHz",
        fraction * 100.0
    );
    assert!((-6.0..=3.0).contains(&db), "{what}: level {db:+.1} dB");
}

fn s16le(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// RTP payloads (in sequence order, duplicates dropped) with payload type
/// `pt` sent from a port in `range` to a port outside it.
fn payloads(datagrams: &[Datagram], range: (u16, u16), pt: u8) -> Vec<Vec<u8>> {
    let ours = |p: u16| (range.0..=range.1).contains(&p);
    let mut packets: Vec<(u16, Vec<u8>)> = datagrams
        .iter()
        .filter(|d| ours(d.src) && !ours(d.dst))
        .filter_map(|d| {
            let p = voip_media::RtpPacket::parse(&d.payload).ok()?;
            (p.payload_type().0 == pt).then(|| (p.sequence_number().0, p.payload().to_vec()))
        })
        .collect();
    // One stream per leg; sequence numbers start at a random value and may
    // wrap: order by distance from the first.
    let first = packets.first().map_or(0, |p| p.0);
    packets.sort_by_key(|p| p.0.wrapping_sub(first));
    packets.dedup_by_key(|p| p.0);
    packets.into_iter().map(|p| p.1).collect()
}

#[test]
fn pcma_extension_and_opus_provider_get_a_transcoded_call_that_decodes_on_both_legs() {
    let tcpdump = require_tool("tcpdump", "tcpdump");
    let ffmpeg = require_tool("ffmpeg", "ffmpeg");
    let sox = require_tool("sox", "sox");
    let dir = temp_dir("transcode");
    std::fs::write(dir.join("tone.pcap"), rtp_pcap(&sox_tone_alaw(&dir, 8))).unwrap();

    let provider = SocketAddr::from((PROVIDER1_IP, free_udp_port(PROVIDER1_IP)));
    let trunks = [TrunkSpec {
        id: "prov1",
        ip: PROVIDER1_IP,
        port: provider.port(),
        priority: 1,
        dids: vec![],
    }];
    let range = rtp_range();
    let site = site_config(range, &trunks, 5)
        .replace("codecs = [\"pcma\", \"pcmu\"]", "codecs = [\"opus\"]");
    assert!(site.contains("codecs = [\"opus\"]"));
    let appliance = Appliance::start(&dir, &site, &trunks);

    // Capture the appliance's media range on loopback, packet-buffered.
    let capture = dir.join("media.pcap");
    let mut dump = Proc::spawn(
        "tcpdump",
        Command::new(tcpdump)
            .args(["-i", "lo", "-U", "-n", "-w"])
            .arg(&capture)
            .arg(format!("udp portrange {}-{}", range.0, range.1))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let started = Instant::now();
    while !capture.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "tcpdump did not start (needs CAP_NET_RAW)"
        );
        assert!(dump.child.try_wait().unwrap().is_none(), "tcpdump exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    // tcpdump creates the file before the capture is armed.
    std::thread::sleep(Duration::from_millis(500));

    let mut uas = answering_uas(&dir, "prov1", "uas_opus.xml", provider);
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(&dir, &appliance, "201", phone);
    SippRun {
        name: "call-201-tone",
        scenario: "uac_ext_tone.xml",
        local: phone,
        remote: Some(appliance.sip),
        service: Some("0612345678"),
        auth: Some(("201", password("201"))),
        vars: &[("caller", "201")],
        rtp_echo: false,
        calls: 1,
    }
    .run_ok(&dir, &appliance);
    uas.finish_ok(&appliance);
    assert_eq!(call_records(&appliance, 1)[0].1, "answered");
    std::thread::sleep(Duration::from_millis(300));
    drop(dump);

    let datagrams = udp_datagrams(&std::fs::read(&capture).unwrap());
    let log = appliance.log();

    // The Opus leg: project decoder and ffmpeg on an Ogg/Opus file.
    let opus = payloads(&datagrams, range, 96);
    assert!(
        opus.len() > 150,
        "{} Opus packets to the provider\n{log}",
        opus.len()
    );
    let mut decoder = new_decoder(CodecKind::Opus).unwrap();
    let mut pcm = Vec::new();
    for p in &opus {
        decoder.decode(p, &mut pcm).unwrap();
    }
    assert_tone("Opus leg, project decoder", &pcm, 48_000);
    let ogg = dir.join("opus-leg.opus");
    std::fs::write(&ogg, ogg_opus(&opus)).unwrap();
    let raw = dir.join("opus-leg.raw");
    let status = Command::new(&ffmpeg)
        .args(["-v", "error", "-y", "-i"])
        .arg(&ogg)
        .args(["-f", "s16le", "-ac", "1", "-ar", "48000"])
        .arg(&raw)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg could not decode the Opus leg");
    assert_tone(
        "Opus leg, ffmpeg",
        &s16le(&std::fs::read(&raw).unwrap()),
        48_000,
    );

    // The PCMA leg (the provider's echo transcoded back): project decoder
    // and sox on the raw A-law.
    let pcma = payloads(&datagrams, range, 8);
    assert!(
        pcma.len() > 100,
        "{} PCMA packets to the extension\n{log}",
        pcma.len()
    );
    let mut decoder = new_decoder(CodecKind::Pcma).unwrap();
    let mut pcm = Vec::new();
    for p in &pcma {
        decoder.decode(p, &mut pcm).unwrap();
    }
    assert_tone("PCMA leg, project decoder", &pcm, 8000);
    let alaw = dir.join("pcma-leg.al");
    std::fs::write(&alaw, pcma.concat()).unwrap();
    let raw = dir.join("pcma-leg.raw");
    let status = Command::new(&sox)
        .args(["-t", "al", "-r", "8000", "-c", "1"])
        .arg(&alaw)
        .args(["-t", "raw", "-e", "signed", "-b", "16", "-L"])
        .arg(&raw)
        .status()
        .unwrap();
    assert!(status.success(), "sox could not decode the PCMA leg");
    assert_tone("PCMA leg, sox", &s16le(&std::fs::read(&raw).unwrap()), 8000);

    // The INFO digit reached the Opus leg as RFC 4733 events (PT 101 at
    // the provider's 48 kHz clock), key 5, with an end packet.
    let events = payloads(&datagrams, range, 101);
    assert!(
        events.len() >= 3,
        "{} telephone-event packets to the provider\n{log}",
        events.len()
    );
    assert!(
        events.iter().all(|e| e.len() == 4 && e[0] == 5),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e[1] & 0x80 != 0), "an end packet");

    // Own RTCP from the appliance's RTCP ports on both legs (the first
    // report is due 1.25–3.75 s after the task starts; the call lasts 6 s):
    // SR while it sends audio, so SR here.
    let ours = |p: u16| (range.0..=range.1).contains(&p);
    let sr_ports: std::collections::BTreeSet<u16> = datagrams
        .iter()
        .filter(|d| ours(d.src) && !ours(d.dst) && d.src % 2 == 1)
        .filter(|d| d.payload.len() > 8 && d.payload[1] == 200)
        .map(|d| d.src)
        .collect();
    assert_eq!(
        sr_ports.len(),
        2,
        "sender reports from both legs' RTCP ports, got {sr_ports:?}\n{log}"
    );

    // Quality samples of both legs, with their codecs, reached the store.
    let deadline = Instant::now() + Duration::from_secs(5);
    let samples = loop {
        let rows: Vec<Vec<u8>> = appliance
            .db()
            .prepare("SELECT payload FROM quality_samples ORDER BY id")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_default();
        let samples: Vec<LegSample> = rows
            .iter()
            .map(|p| serde_json::from_slice(p).unwrap())
            .collect();
        if samples.iter().filter(|s| s.last).count() >= 2 || Instant::now() > deadline {
            break samples;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let codecs: std::collections::BTreeSet<String> = samples
        .iter()
        .filter_map(|s| s.codec.as_ref().map(|c| c.as_str().to_owned()))
        .collect();
    assert!(
        codecs.contains("opus") && codecs.contains("pcma"),
        "codecs of the stored quality samples: {codecs:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ffprobe`'s (channels, duration in seconds) of `file`.
fn ffprobe(file: &Path) -> (u32, f64) {
    let ffprobe = require_tool("ffprobe", "ffmpeg");
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-show_entries"])
        .args(["stream=channels:format=duration", "-of"])
        .arg("default=noprint_wrappers=1")
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "ffprobe {}: {text}", file.display());
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
        "ffmpeg could not decode the recording"
    );
    let samples = s16le(&out.stdout);
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

#[test]
fn a_transcoded_call_under_an_always_policy_is_recorded_in_stereo() {
    record_transcoded_call(false);
}

#[test]
fn a_transcoded_call_with_consent_is_recorded_after_the_prompt() {
    record_transcoded_call(true);
}

/// Length of the shipped consent prompt (`appliance/prompts/nl/recording-consent.wav`).
const PROMPT_SECONDS: f64 = 2.256;

fn record_transcoded_call(consent: bool) {
    let dir = temp_dir(if consent {
        "transcode-rec-consent"
    } else {
        "transcode-rec"
    });
    std::fs::write(dir.join("tone.pcap"), rtp_pcap(&sox_tone_alaw(&dir, 8))).unwrap();
    let provider = SocketAddr::from((PROVIDER1_IP, free_udp_port(PROVIDER1_IP)));
    let trunks = [TrunkSpec {
        id: "prov1",
        ip: PROVIDER1_IP,
        port: provider.port(),
        priority: 1,
        dids: vec![],
    }];
    let site = site_config(rtp_range(), &trunks, 5)
        .replace("codecs = [\"pcma\", \"pcmu\"]", "codecs = [\"opus\"]")
        .replacen(
            "credentials = \"ext-201\"\n",
            "credentials = \"ext-201\"\nrecording_policy = \"test\"\n",
            1,
        );
    assert!(site.contains("recording_policy = \"test\""));
    let site = format!(
        "{site}\n[[recording_policies]]\nname = \"test\"\nmode = \"always\"\n\
         consent_announcement = {consent}\nformat = \"wav\"\n"
    );
    let appliance = Appliance::start_full(
        &dir,
        &site,
        &trunks,
        "",
        "[recording]\nmin_free_bytes = 0\n",
    );
    let mut uas = answering_uas(&dir, "prov1", "uas_opus.xml", provider);
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    register(&dir, &appliance, "201", phone);
    SippRun {
        name: "call-201-tone",
        scenario: "uac_ext_tone.xml",
        local: phone,
        remote: Some(appliance.sip),
        service: Some("0612345678"),
        auth: Some(("201", password("201"))),
        vars: &[("caller", "201")],
        rtp_echo: false,
        calls: 1,
    }
    .run_ok(&dir, &appliance);
    uas.finish_ok(&appliance);
    assert_eq!(call_records(&appliance, 1)[0].1, "answered");
    let (answered_ns, ended_ns): (i64, i64) = appliance
        .db()
        .query_row("SELECT answered_at, ended_at FROM call_records", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();

    // The one recording, once finished.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (path, duration_ms) = loop {
        let row: Option<(String, String, i64)> = appliance
            .db()
            .query_row("SELECT path, state, duration_ms FROM recordings", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .ok();
        if let Some((path, state, duration_ms)) = row
            && state != "recording"
        {
            assert_eq!(state, "complete");
            break (path, duration_ms);
        }
        assert!(
            Instant::now() < deadline,
            "no finished recording\n{}",
            appliance.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let file = appliance.data_dir.join("recordings").join(&path);
    let (channels, seconds) = ffprobe(&file);
    assert_eq!(channels, 2);
    // The CDR's times are Unix nanoseconds.
    #[allow(clippy::cast_precision_loss, reason = "nanoseconds of a call")]
    let talk = (ended_ns - answered_ns) as f64 / 1e9;
    let (left, right) = channel_rms(&file);
    eprintln!(
        "recording {seconds} s (index {duration_ms} ms), call answered for {talk} s; \
         channel RMS left {left:.0}, right {right:.0}"
    );
    // With consent the recording starts once both parties heard the prompt.
    let expected = if consent { talk - PROMPT_SECONDS } else { talk };
    assert!(
        (seconds - expected).abs() <= 0.5,
        "ffprobe duration {seconds} s, answered for {talk} s, expected {expected} s"
    );
    // Left: the caller's −6 dBFS tone (RMS ~11 600 while it plays); right:
    // the provider's echo of it, transcoded twice.
    assert!(left > 3000.0, "caller channel RMS {left}");
    assert!(right > 1000.0, "callee channel RMS {right}");
    let _ = std::fs::remove_dir_all(&dir);
}
