//! Real peers, call quality from RTCP (issue 4):
//!
//! 1. baresip (which sends RTCP SR/RR) calls the echo test `*43` through a
//!    seeded impairment proxy on the media path: 40 ms each way, ±10 ms
//!    uniform delay variation and 5 % loss on RTP. The echo terminates RTP
//!    and sends its own SR; baresip's report blocks answer them. The
//!    appliance's quality samples (store table `quality_samples`, MQTT
//!    `LegSample` shape) must show RTT 80 ms ± 15 ms, loss 3–7 % and jitter
//!    4–12 ms (expected ≈ 6.7 ms: E|D| of two independent uniform ±10 ms
//!    delays is 20/3 ms, plus baresip's own send timing), a MOS, and
//!    `/metrics` must count them.
//! 2. `SIPp` (which sends no RTCP) calls `*43`: its samples have loss and
//!    jitter but RTT, R-factor and MOS are `null`, never a default.
//!
//! baresip, sox and `SIPp` are required: a missing tool FAILS the test.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod peer_support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use peer_support::impair::{ImpairProxy, Impairment};
use peer_support::{
    Appliance, PBX_IP, Proc, SippRun, data_dir, free_udp_port, metric_sum, password, require_tool,
    rtp_range, site_config, temp_dir,
};
use voip_shared::mqtt::LegSample;

/// The proxy's address (the appliance advertises it in SDP).
const PROXY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);
/// How long baresip's call lasts.
const CALL_SECONDS: u64 = 16;

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let text = std::fs::read_to_string(data_dir().join("baresip").join(template)).unwrap();
    values
        .iter()
        .fold(text, |t, (key, value)| t.replace(key, value))
}

/// Every stored sample, waiting at most 5 s for a `last` one.
fn samples(appliance: &Appliance) -> Vec<LegSample> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let db = appliance.db();
        let rows: Vec<Vec<u8>> = db
            .prepare("SELECT payload FROM quality_samples ORDER BY id")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_default();
        let samples: Vec<LegSample> = rows
            .iter()
            .map(|p| serde_json::from_slice(p).unwrap())
            .collect();
        if samples.iter().any(|s| s.last) || std::time::Instant::now() > deadline {
            return samples;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn baresip_rtcp_through_an_impaired_path_yields_the_injected_rtt_loss_and_jitter() {
    let baresip = require_tool("baresip", "baresip-core");
    let sox = require_tool("sox", "sox");
    let dir = temp_dir("quality-rtcp");
    let range = rtp_range();
    let proxy = ImpairProxy::start(
        IpAddr::V4(PROXY_IP),
        IpAddr::V4(PBX_IP),
        range,
        Impairment {
            loss: 0.05,
            delay: Duration::from_millis(40),
            jitter: Duration::from_millis(10),
            seed: 2026,
        },
    );
    let appliance = Appliance::start_full(
        &dir,
        &site_config(range, &[], 5),
        &[],
        "",
        &format!("[media]\nbind_ip = \"{PBX_IP}\"\nadvertise_ip = \"{PROXY_IP}\"\n"),
    );

    let tone = dir.join("tone.wav");
    let status = Command::new(sox)
        .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
        .arg(&tone)
        .args(["synth", "30", "sine", "440", "vol", "0.5"])
        .status()
        .unwrap();
    assert!(status.success(), "sox could not make the tone");
    let conf = dir.join("baresip");
    let rec = dir.join("rec");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&rec).unwrap();
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    let rtp = free_udp_port(PBX_IP) & !1;
    std::fs::write(
        conf.join("config"),
        fill(
            "config.template",
            &[
                ("@SIP_LISTEN@", phone.to_string()),
                ("@RTP_PORTS@", format!("{rtp}-{}", rtp + 3)),
                ("@TONE_WAV@", tone.display().to_string()),
                ("@REC_DIR@", rec.display().to_string()),
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("accounts"),
        fill(
            "accounts.template",
            &[
                ("@PBX@", appliance.sip.to_string()),
                ("@PASSWORD@", password("203").to_owned()),
            ],
        ),
    )
    .unwrap();
    std::fs::write(conf.join("contacts"), "").unwrap();
    let log_path = dir.join("baresip.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut phone_proc = Proc::spawn(
        "baresip",
        Command::new(baresip)
            .arg("-f")
            .arg(&conf)
            .args(["-e", &format!("/dial sip:*43@{}", appliance.sip)])
            .args(["-t", &CALL_SECONDS.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log),
    );
    let status = phone_proc.wait(Duration::from_secs(CALL_SECONDS + 10));
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let samples = samples(&appliance);
    let context = || {
        format!(
            "proxy: {:?}\nsamples: {samples:#?}\n--- baresip ---\n{output}\n--- appliance ---\n{}",
            proxy.counts(),
            appliance.log()
        )
    };
    assert!(status.success(), "baresip failed: {status}\n{}", context());
    assert!(
        output.contains("Call established"),
        "the echo call was not answered\n{}",
        context()
    );
    let counts = proxy.counts();
    assert!(
        counts.rtcp_to_appliance > 0 && counts.rtcp_to_phone > 0,
        "RTCP did not pass the proxy both ways\n{}",
        context()
    );
    assert!(
        samples.len() >= 3,
        "samples every 5 s and at the end\n{}",
        context()
    );
    assert!(samples.iter().all(|s| s.leg == voip_shared::mqtt::Leg::A));
    assert!(samples.last().unwrap().last, "{}", context());

    // RTT: our SR → proxy (40 ms) → baresip; its RR → proxy (40 ms) → us.
    let rtts: Vec<f64> = samples.iter().filter_map(|s| s.rtt_ms).collect();
    assert!(!rtts.is_empty(), "no RTT measured\n{}", context());
    for rtt in &rtts {
        assert!(
            (65.0..=95.0).contains(rtt),
            "RTT {rtt} ms, want 80 ± 15\n{}",
            context()
        );
    }
    // Loss over the call: what the proxy dropped on the way in.
    let lost: u64 = samples.iter().filter_map(|s| s.packets_lost).sum();
    let received: u64 = samples.iter().map(|s| s.packets_received).sum();
    let fraction = lost as f64 / (lost + received) as f64;
    assert!(
        (0.03..=0.07).contains(&fraction),
        "loss {fraction:.4} ({lost} of {}), want 3–7 %; the proxy dropped {} of {}\n{}",
        lost + received,
        counts.rtp_lost_to_appliance,
        counts.rtp_to_appliance,
        context()
    );
    // Jitter: every full interval's figure.
    for s in samples.iter().filter(|s| s.packets_received > 100) {
        let jitter = s.jitter_ms.unwrap();
        assert!(
            (4.0..=12.0).contains(&jitter),
            "jitter {jitter} ms, want 4–12 (≈ 6.7 injected)\n{}",
            context()
        );
    }
    let jitters: Vec<f64> = samples.iter().filter_map(|s| s.jitter_ms).collect();
    let moses: Vec<f64> = samples.iter().filter_map(|s| s.mos).collect();
    eprintln!(
        "measured: rtt {rtts:?} ms, loss {fraction:.4} ({lost}/{}), jitter {jitters:?} ms, mos {moses:?}",
        lost + received
    );
    // With RTT, loss and codec known, a MOS: G.711 at ~5 % loss rates
    // about 3.5–4.2.
    let scored: Vec<&LegSample> = samples.iter().filter(|s| s.mos.is_some()).collect();
    assert!(!scored.is_empty(), "no MOS\n{}", context());
    for s in &scored {
        let mos = s.mos.unwrap();
        assert!((3.0..=4.4).contains(&mos), "MOS {mos}\n{}", context());
        assert_eq!(s.codec.as_ref().unwrap().as_str(), "pcma");
    }
    // baresip's report on what it receives from us, relayed through the proxy.
    assert!(samples.iter().any(|s| s.remote_loss_fraction.is_some()));

    let metrics = appliance.metrics();
    let mos_count = metric_sum(&metrics, "voip_call_mos_count", &[]).unwrap_or(0.0);
    assert!(mos_count >= 1.0, "{metrics}");
    let lost_total = metric_sum(&metrics, "voip_rtp_packets_lost_total", &[]).unwrap_or(0.0);
    assert!(lost_total >= 1.0, "{metrics}");
}

#[test]
fn sipp_without_rtcp_gets_unknown_rtt_and_mos_not_defaults() {
    let dir = temp_dir("quality-sipp");
    let appliance = Appliance::start(&dir, &site_config(rtp_range(), &[], 5), &[]);
    let phone = SocketAddr::from((PBX_IP, free_udp_port(PBX_IP)));
    SippRun {
        name: "call-echo",
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
    let samples = samples(&appliance);
    assert!(
        samples.iter().any(|s| s.last),
        "no final sample: {samples:#?}\n{}",
        appliance.log()
    );
    let with_media: Vec<&LegSample> = samples.iter().filter(|s| s.packets_received > 0).collect();
    assert!(!with_media.is_empty(), "{samples:#?}");
    for s in &samples {
        assert_eq!(s.rtt_ms, None, "SIPp sends no RTCP: {s:#?}");
        assert_eq!((s.r_factor, s.mos), (None, None), "{s:#?}");
        assert_eq!(s.remote_loss_fraction, None);
    }
    for s in with_media {
        assert!(s.loss_fraction.is_some() && s.jitter_ms.is_some(), "{s:#?}");
    }
    // The raw JSON says null, not 0.
    let db = appliance.db();
    let raw: String = db
        .query_row(
            "SELECT CAST(payload AS TEXT) FROM quality_samples ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        raw.contains("\"rtt_ms\":null") && raw.contains("\"mos\":null"),
        "{raw}"
    );
    let metrics = appliance.metrics();
    assert!(
        metric_sum(&metrics, "voip_quality_samples_mos_unknown_total", &[]).unwrap_or(0.0) >= 1.0,
        "{metrics}"
    );
}
