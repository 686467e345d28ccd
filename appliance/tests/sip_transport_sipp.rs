//! `SIPp` against the real binary: 100 OPTIONS over UDP at 50 calls/s must all
//! get a 200 (scenario `tests/data/sipp/options.xml`). `SIPp` (`/usr/bin/sipp`
//! or `sipp` on PATH) is required: a missing `SIPp` FAILS this test.
#![allow(
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    reason = "test helpers: a failure should panic the test"
)]

mod sip_transport_support;

use std::path::PathBuf;
use std::process::Command;

use sip_transport_support::{free_udp_port, http_get, start};

const CALLS: u64 = 100;

fn sipp_binary() -> PathBuf {
    let fixed = PathBuf::from("/usr/bin/sipp");
    if fixed.exists() {
        return fixed;
    }
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("sipp"))
                .find(|c| c.exists())
        })
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!("SIPp is required for this test and was not found (install the sip-tester package)")
    })
}

/// The last data row of the `SIPp` `-stf` statistics file, by column name.
fn stat(csv: &str, column: &str) -> u64 {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let head: Vec<&str> = lines.next().unwrap().split(';').collect();
    let last: Vec<&str> = lines.next_back().unwrap().split(';').collect();
    let i = head.iter().position(|h| *h == column).unwrap();
    last[i].trim().parse().unwrap()
}

#[test]
fn sipp_options_100_calls_at_50_per_second_all_get_200() {
    let sipp = sipp_binary();
    let daemon = start("sipp", None);
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sipp/options.xml");
    let stats = daemon.dir.join("sipp-stats.csv");
    let output = Command::new(sipp)
        .arg(daemon.udp.to_string())
        .arg("-sf")
        .arg(&scenario)
        .args([
            "-m",
            &CALLS.to_string(),
            "-r",
            "50",
            "-t",
            "u1",
            "-i",
            "127.0.0.1",
        ])
        .args(["-p", &free_udp_port().to_string()])
        .args([
            "-nostdin",
            "-timeout",
            "30s",
            "-timeout_error",
            "-trace_stat",
            "-stf",
        ])
        .arg(&stats)
        .current_dir(&daemon.dir)
        .output()
        .unwrap();
    let csv = std::fs::read_to_string(&stats).unwrap_or_default();
    assert!(
        output.status.success(),
        "SIPp failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stat(&csv, "SuccessfulCall(C)"), CALLS, "{csv}");
    assert_eq!(stat(&csv, "FailedCall(C)"), 0, "{csv}");
    let metrics = http_get(daemon.http, "/metrics");
    let received: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("voip_sip_received_total{transport=\"udp\"}")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap();
    assert!(received >= CALLS, "{metrics}");
    daemon.stop();
}
