#!/usr/bin/env python3
"""Whole-system transcoding load: N concurrent PCMA<->Opus calls through the
running appliance, CPU per call from /proc.

  bench/transcode-load/run.py [--calls 50] [--hold-ms 25000] [--bin PATH]

Set-up (loopback only): a SIPp UAC is provider trunk "loadgen" (codecs PCMA
only) calling DID +31201234567, which rings extension 202 (codecs Opus only);
a SIPp UAS registered as 202 answers with an Opus-only SDP and runs with
-rtp_echo. The legs share no codec, so every call is transcoded by the
appliance (PCMA -> Opus to the UAS, the echoed Opus -> PCMA back). The UAC
plays a 30 s PCMA pcap of pink noise at -16 dBFS, generated with sox (a
busier signal than speech for the encoders).

Measured: the appliance's utime+stime (/proc/<pid>/stat, whole process tree)
over the plateau where all N calls are up, as % of one core per call, and
from that the calls 2 cores could carry; and the RTP packets the daemon
received per call and second over the plateau (from /metrics, which the 5 s
quality samples update: a healthy call gives 100, 50 per leg), to see whether
the SIPp peers kept the media flowing. Results go to
bench/transcode-load/results/<date>-<N>.json.

Tools: python3, sipp (sip-tester), sox. Every process started is killed on
exit. Builds nothing: pass --bin (default target/release/voip-appliance;
build it with `cargo build --release -p voip-appliance`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTED: list[subprocess.Popen] = []


def kill_all() -> None:
    for p in reversed(STARTED):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def start(cmd: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    out = open(log, "wb")
    p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    STARTED.append(p)
    return p


def process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parents[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, todo = [root], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        tree += kids
        todo += kids
    return tree


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def load_pcap(path: Path, workdir: Path, seconds: int) -> None:
    """A PCMA RTP pcap (Ethernet/IPv4/UDP) of pink noise made by sox."""
    raw = workdir / "load.al"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-t", "al", str(raw), "synth", str(seconds),
                    "pinknoise", "vol", "0.16"], check=True)
    alaw = raw.read_bytes()
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(len(alaw) // 160):
        rtp = struct.pack(">BBHII", 0x80, 8, i & 0xFFFF, i * 160, 0x12345678) + alaw[i * 160:(i + 1) * 160]
        udp = struct.pack(">HHHH", 4000, 4002, 8 + len(rtp), 0) + rtp
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = bytes(12) + b"\x08\x00" + ip
        us = i * 20000
        out += struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))


SITE = """version = 1
revision = 0
site_name = "Transcoding load"
tenant = "bench"
echo_test_number = "*43"

[media]
rtp_port_min = 10000
rtp_port_max = 60000
timeout_s = 30

[registrar_ban]
max_failures = 1000
window_s = 60
ban_s = 600

[[permission_profiles]]
name = "alles"
allowed_classes = ["internal", "emergency", "national_fixed", "mobile", "service", "premium", "international"]
max_concurrent_calls = 1000

[[extensions]]
number = "202"
display_name = "Lasttest"
credentials = "ext-202"
permission_profile = "alles"
codecs = ["opus"]

[[trunks]]
id = "loadgen"
host = "127.0.0.1"
port = 5090
transport = "udp"
credentials = "trunk-loadgen"
username = "bench"
register = false
options_interval_s = 0
priority = 1
codecs = ["pcma"]
allowed_sources = ["127.0.0.1/32"]
dids = [{ number = "+31201234567", extension = "202" }]

[[dial_plan]]
name = "intern"
pattern = "2XX"
destination = "extension"
"""


def rtp_received() -> float | None:
    """The daemon's voip_rtp_packets_received_total (updated by 5 s quality samples)."""
    import urllib.request
    try:
        text = urllib.request.urlopen("http://127.0.0.1:18089/metrics", timeout=2).read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("voip_rtp_packets_received_total "):
            return float(line.split()[1])
    return None


def last_stat(csv_path: Path) -> dict[str, str]:
    try:
        lines = [l for l in csv_path.read_text().splitlines() if l.strip()]
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    head, last = lines[0].split(";"), lines[-1].split(";")
    return dict(zip(head, last))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--hold-ms", type=int, default=25000)
    ap.add_argument("--rate", type=float, default=10.0, help="call set-up rate (calls/s)")
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "voip-appliance"))
    a = ap.parse_args()
    for tool in ("sipp", "sox"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing (Debian packages sip-tester, sox)")
    if not Path(a.bin).is_file():
        raise SystemExit(f"{a.bin} not found: cargo build --release -p voip-appliance")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    work = Path(tempfile.mkdtemp(prefix="voip-transcode-load."))
    try:
        (work / "site.toml").write_text(SITE)
        (work / "secrets.toml").write_text('[credentials.ext-202]\npassword = "bench-202"\n\n'
                                           '[credentials.trunk-loadgen]\npassword = "unused"\n')
        (work / "secrets.toml").chmod(0o600)
        (work / "appliance.toml").write_text(f"""version = 1
appliance_id = "bench-01"
tenant = "bench"
log_level = "warn"
data_dir = "{work}/data"
secrets_file = "{work}/secrets.toml"
site_config_file = "{work}/site.toml"

[sip]
udp = ["127.0.0.1:5070"]
tcp = []

[http]
listen = "127.0.0.1:18089"
""")
        hold_s = a.hold_ms / 1000
        load_pcap(work / "load.pcap", work, int(hold_s) + 10)
        app = start(["bash", "-c", f"ulimit -n $(ulimit -Hn) && exec {a.bin} run --config {work}/appliance.toml"],
                    work, work / "appliance.log")
        time.sleep(1.5)
        if app.poll() is not None:
            raise SystemExit("the appliance exited:\n" + (work / "appliance.log").read_text())
        subprocess.run(["sipp", "-sf", str(ROOT / "appliance/tests/data/peers/sipp/register.xml"), "-i", "127.0.0.1",
                        "-p", "5080", "-s", "202", "-au", "202", "-ap", "bench-202", "-m", "1", "-nostdin",
                        "-timeout", "10s", "127.0.0.1:5070"], cwd=work, check=True, stdout=subprocess.DEVNULL)
        start(["sipp", "-sf", str(HERE / "uas_opus.xml"), "-i", "127.0.0.1", "-p", "5080", "-nostdin",
               "-rtp_echo", "-mp", "17000", "-timeout", f"{int(hold_s) + 120}s", "-buff_size", str(4 << 20)],
              work, work / "uas.log")
        time.sleep(0.5)
        uac = start(["sipp", "-sf", str(HERE / "uac_pcma.xml"), "-i", "127.0.0.1", "-p", "5090", "127.0.0.1:5070",
                     "-s", "+31201234567", "-r", str(a.rate), "-m", str(a.calls), "-l", str(a.calls),
                     "-d", str(a.hold_ms), "-nostdin", "-timeout", f"{int(hold_s) + 120}s",
                     "-default_behaviors", "all,-abortunexp", "-trace_stat", "-stf", str(work / "uac.csv"),
                     "-fd", "1", "-trace_err", "-mp", "27000", "-buff_size", str(4 << 20)],
                    work, work / "uac.log")
        pids = process_tree(app.pid)
        samples = []
        t0 = time.monotonic()
        while uac.poll() is None and time.monotonic() - t0 < hold_s + a.calls / a.rate + 60:
            time.sleep(1.0)
            stat = last_stat(work / "uac.csv")
            samples.append((time.monotonic(), int(stat.get("CurrentCall", "0") or 0), cpu_seconds(pids),
                            rtp_received()))
        uac.wait(timeout=30)
        final = last_stat(work / "uac.csv")
        plateau = [s for s in samples if s[1] >= a.calls]
        result: dict = {
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "host": {"nproc": os.cpu_count(), "loadavg_end": os.getloadavg()},
            "calls": a.calls, "hold_ms": a.hold_ms, "rate": a.rate,
            "successful": int(final.get("SuccessfulCall(C)", "0") or 0),
            "failed": int(final.get("FailedCall(C)", "0") or 0),
            "plateau_samples": len(plateau),
        }
        if len(plateau) >= 3:
            (ta, _, ca, ra), (tb, _, cb, rb) = plateau[0], plateau[-1]
            core = (cb - ca) / (tb - ta)
            if ra is not None and rb is not None:
                # Both legs of a healthy call send 50 packets/s each: 100.
                result["rtp_in_pps_per_call"] = round((rb - ra) / (tb - ta) / a.calls, 1)
            per_call = core / a.calls
            result.update(plateau_seconds=round(tb - ta, 1), appliance_core_pct=round(100 * core, 1),
                          core_pct_per_call=round(100 * per_call, 3),
                          calls_on_2_cores=int(2 / per_call) if per_call else None)
        print(json.dumps(result, indent=2))
        out = HERE / "results" / f"{dt.date.today().isoformat()}-{a.calls}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"results: {out}")
    finally:
        kill_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
