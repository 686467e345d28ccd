#!/usr/bin/env python3
"""Whole-system SIP load benchmark: SIPp UAC -> target -> SIPp UAS.

Targets:
  kamailio   Kamailio 5.x as a stateful proxy (kamailio.cfg next to this file)
  appliance  any command given with --target-cmd or $BENCH_TARGET_CMD; it must
             listen for SIP on --target-addr (default 127.0.0.1:5070) and send
             every initial INVITE to the UAS on 127.0.0.1:<--uas-port>.

Phases (one run, one target):
  steady  fixed rate with a long hold time and a concurrency cap: RSS per
          concurrent call (plateau minus idle), CPU per call, % of a core per
          concurrent call, call-setup time p50/p95.
  steps   stepped call rates (short hold); the highest step with
          failed/total <= 0.1 % and the offered rate actually reached.
  rtp     (only when --rtp-relay is set) concurrent G.711 calls with the UAC
          playing a pcap and the UAS echoing: target CPU with media flowing.

All traffic stays on 127.0.0.0/8. Every SIPp run is bounded by -m (call
count) and -timeout, and by a subprocess timeout; all started processes are
killed on exit (also on SIGINT/SIGTERM).

Only public tools: python3 (stdlib), sipp, kamailio (+ kamcmd for shm stats).
"""

from __future__ import annotations

import argparse
import atexit
import csv
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
# SIPp's default 64 KiB socket buffers drop packets in scheduling bursts on a busy box
SOCK_BUF = 4 * 1024 * 1024

# ---------------------------------------------------------------- processes

_STARTED: list[subprocess.Popen] = []


def _kill_all() -> None:
    """Kill every process group this script started (each child runs in its own session)."""
    for p in reversed(_STARTED):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 5
    for p in reversed(_STARTED):
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=5)
    _STARTED.clear()


def _on_signal(signum, _frame):
    _kill_all()
    sys.exit(128 + signum)


atexit.register(_kill_all)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGTERM, _on_signal)


def start(cmd: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    out = open(log, "wb")
    p = subprocess.Popen(
        cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    out.close()
    _STARTED.append(p)
    return p


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)
    if p in _STARTED:
        _STARTED.remove(p)


def process_tree(root: int) -> list[int]:
    """root and all its descendants, from /proc/<pid>/stat ppid fields."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime+stime of the given live processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def memory_kb(pids: list[int]) -> dict[str, int]:
    """Sum of Rss and Pss (smaps_rollup) over the processes, in KiB."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return {"rss_kb": rss, "pss_kb": pss}


# ---------------------------------------------------------------- targets


class Target:
    """A system under test started as a command; measured as its whole process tree."""

    name = "target"

    def __init__(self, cmd: list[str], addr: str, workdir: Path):
        self.cmd, self.addr, self.workdir = cmd, addr, workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = start(self.cmd, self.workdir, self.workdir / f"{self.name}.log")
        time.sleep(2.0)
        if self.proc.poll() is not None:
            raise SystemExit(f"{self.name} exited at start, see {self.workdir / (self.name + '.log')}")

    def pids(self) -> list[int]:
        assert self.proc is not None
        return process_tree(self.proc.pid)

    def extra(self) -> dict:
        """Target-specific counters (e.g. Kamailio shared-memory use)."""
        return {}

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


class Kamailio(Target):
    name = "kamailio"

    def __init__(self, addr: str, workdir: Path, shm_mb: int, pkg_mb: int, children: int, with_rtpengine: bool):
        self.ctl = workdir / "kamailio-ctl.sock"
        cmd = [
            shutil.which("kamailio") or "/usr/sbin/kamailio",
            "-f", str(HERE / "kamailio.cfg"),
            "-DD", "-E",
            "-m", str(shm_mb), "-M", str(pkg_mb), "-n", str(children),
            "-w", str(workdir), "-Y", str(workdir),
            "-A", f'CTL_SOCK="unix:{self.ctl}"',
        ]  # fmt: skip
        if with_rtpengine:
            cmd += ["-A", "WITH_RTPENGINE"]
        super().__init__(cmd, addr, workdir)
        self.rtpengine: subprocess.Popen | None = None
        self.rtpengine_cmd = (
            [
                shutil.which("rtpengine") or "/usr/bin/rtpengine",
                "--config-file=none", "--table=-1", "--interface=127.0.0.1",
                "--listen-ng=127.0.0.1:2223", "--foreground", "--log-stderr", "--log-level=4",
                "--port-min=30000", "--port-max=40000", "--num-threads=2", "--timeout=60",
            ]  # fmt: skip
            if with_rtpengine
            else None
        )
        if with_rtpengine:
            self.name = "kamailio-rtpengine"

    def start(self) -> None:
        # rtpengine in userspace (--table=-1: no kernel module), measured with Kamailio.
        if self.rtpengine_cmd:
            self.rtpengine = start(self.rtpengine_cmd, self.workdir, self.workdir / "rtpengine.log")
            time.sleep(1.0)
            if self.rtpengine.poll() is not None:
                raise SystemExit(f"rtpengine exited at start, see {self.workdir / 'rtpengine.log'}")
        super().start()

    def pids(self) -> list[int]:
        pids = super().pids()
        if self.rtpengine is not None:
            pids += process_tree(self.rtpengine.pid)
        return pids

    def stop(self) -> None:
        super().stop()
        if self.rtpengine is not None:
            stop(self.rtpengine)
            self.rtpengine = None

    def extra(self) -> dict:
        kamcmd = shutil.which("kamcmd")
        if not kamcmd:
            return {}
        try:
            out = subprocess.run(
                [kamcmd, "-s", f"unix:{self.ctl}", "core.shmmem"], capture_output=True, text=True, timeout=5
            ).stdout
        except (subprocess.TimeoutExpired, OSError):
            return {}
        vals = {}
        for line in out.splitlines():
            k, _, v = line.strip().partition(":")
            if v.strip().isdigit():
                vals[k] = int(v)
        return {"shm_used_kb": vals.get("real_used", 0) // 1024} if vals else {}


# ---------------------------------------------------------------- sipp


def read_stat(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="") as f:
            return [r for r in csv.DictReader(f, delimiter=";") if r.get("TotalCallCreated")]
    except OSError:
        return []


def num(row: dict[str, str], key: str) -> float:
    try:
        return float(row.get(key) or 0)
    except ValueError:
        return 0.0


def hms(s: str) -> float:
    """SIPp elapsed time 'HH:MM:SS:mmm' (or 'HH:MM:SS.uuuuuu') -> seconds."""
    s = s.strip()
    parts = s.replace(".", ":").split(":")
    h, m, sec = int(parts[0]), int(parts[1]), int(parts[2])
    frac = parts[3] if len(parts) > 3 else "0"
    return h * 3600 + m * 60 + sec + int(frac) / (10 ** len(frac))


def rtt_values(rundir: Path) -> list[float]:
    vals: list[float] = []
    for f in rundir.glob("*_rtt.csv"):
        with open(f) as fh:
            for line in fh:
                parts = line.strip().split(";")
                if len(parts) >= 3 and parts[2] == "setup":
                    try:
                        vals.append(float(parts[1]))
                    except ValueError:
                        pass
    return vals


def pct(vals: list[float], p: float) -> float | None:
    if not vals:
        return None
    s = sorted(vals)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


class Sipp:
    def __init__(self, args, workdir: Path):
        self.a, self.workdir = args, workdir
        self.sipp = shutil.which("sipp") or "sipp"

    def uas(self, rundir: Path, rtp_echo: bool = False) -> subprocess.Popen:
        cmd = [self.sipp, "-sf", str(HERE / "uas.xml"), "-i", "127.0.0.1", "-p", str(self.a.uas_port), "-nostdin"]
        cmd += ["-trace_err", "-timeout", f"{self.a.max_seconds}s", "-buff_size", str(SOCK_BUF)]
        if rtp_echo:
            cmd += ["-rtp_echo", "-mp", str(self.a.uas_media_port)]
        p = start(cmd, rundir, rundir / "uas.log")
        time.sleep(0.5)
        return p

    def uac_cmd(self, rundir: Path, scenario: str, rate: float, calls: int, limit: int, hold_ms: int, timeout_s: int):
        cmd = [
            self.sipp, "-sf", str(HERE / scenario), "-i", "127.0.0.1", "-p", str(self.a.uac_port),
            self.a.target_addr,
            "-r", str(rate), "-m", str(calls), "-l", str(limit), "-d", str(hold_ms),
            "-nostdin", "-timeout", f"{timeout_s}s", "-recv_timeout", "10000",
            "-default_behaviors", "all,-abortunexp",
            "-trace_stat", "-stf", str(rundir / "uac_stat.csv"), "-fd", "1",
            "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-trace_screen",
            "-max_recv_loops", "10000", "-timer_resol", "1",
            "-mp", str(self.a.uac_media_port), "-buff_size", str(SOCK_BUF),
            "-s", self.a.service,
        ]  # fmt: skip
        return cmd


# ---------------------------------------------------------------- phases


def summarize_stat(rows: list[dict[str, str]]) -> dict:
    if not rows:
        return {"total": 0, "successful": 0, "failed": 0}
    last = rows[-1]
    out = {
        "total": int(num(last, "TotalCallCreated")),
        "successful": int(num(last, "SuccessfulCall(C)")),
        "failed": int(num(last, "FailedCall(C)")),
        "retransmissions": int(num(last, "Retransmissions(C)")),
        "dead_call_msgs": int(num(last, "DeadCallMsgs(C)")),
        "out_of_call_msgs": int(num(last, "OutOfCallMsgs(C)")),
        "failed_breakdown": {
            k.removeprefix("Failed").removesuffix("(C)"): int(num(last, k))
            for k in last
            if k.startswith("Failed") and k.endswith("(C)") and k != "FailedCall(C)" and num(last, k) > 0
        },
    }
    return out


def achieved_rate(rows: list[dict[str, str]], calls: int) -> float | None:
    """Calls created per second until the last call was created (interpolated on the 1 s stat rows)."""
    prev_t, prev_n = 0.0, 0.0
    for r in rows:
        t, n = hms(r["ElapsedTime(C)"]), num(r, "TotalCallCreated")
        if n >= calls:
            if n == prev_n:
                return calls / t if t > 0 else None
            t_cross = prev_t + (t - prev_t) * (calls - prev_n) / (n - prev_n)
            return calls / t_cross if t_cross > 0 else None
        prev_t, prev_n = t, n
    return None


def run_uac(sipp: Sipp, target: Target, rundir: Path, scenario: str, rate, calls, limit, hold_ms, sampler=None):
    rundir.mkdir(parents=True, exist_ok=True)
    if scenario == "uac_rtp.xml":
        (rundir / "g711a.pcap").symlink_to(Path(sipp.a.pcap).resolve())
    uas = sipp.uas(rundir, rtp_echo=scenario != "uac.xml")
    expected = calls / rate + hold_ms / 1000
    timeout_s = int(expected * 2 + 30)
    cmd = sipp.uac_cmd(rundir, scenario, rate, calls, limit, hold_ms, timeout_s)
    pids = target.pids()
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    uac = start(cmd, rundir, rundir / "uac.log")
    samples = []
    while uac.poll() is None:
        if time.monotonic() - t0 > timeout_s + 15:
            stop(uac)
            break
        time.sleep(0.5)
        if sampler:
            samples.append(sampler(rundir, t0))
    wall = time.monotonic() - t0
    pids = target.pids()
    cpu1 = cpu_seconds(pids)
    stop(uac)
    stop(uas)
    rows = read_stat(rundir / "uac_stat.csv")
    res = summarize_stat(rows)
    res.update(
        loadavg_end=os.getloadavg(),
        rate=rate,
        calls_requested=calls,
        limit=limit,
        hold_ms=hold_ms,
        wall_s=round(wall, 2),
        target_cpu_s=round(cpu1 - cpu0, 3),
        achieved_cps=(round(x, 1) if (x := achieved_rate(rows, calls)) else None),
    )
    rtt = rtt_values(rundir)
    res["setup_ms"] = {"n": len(rtt), "p50": pct(rtt, 50), "p95": pct(rtt, 95), "p99": pct(rtt, 99), "max": max(rtt, default=None)}
    if res["successful"]:
        res["cpu_ms_per_call"] = round(1000 * res["target_cpu_s"] / res["successful"], 4)
    return res, samples, rows


def warmup(sipp: Sipp, target: Target, workdir: Path) -> None:
    run_uac(sipp, target, workdir / "warmup", "uac.xml", 50, 100, 200, 200)


def phase_steady(sipp: Sipp, target: Target, workdir: Path, a) -> dict:
    """Fixed rate, long hold, -l caps concurrency at N: memory and CPU at a plateau of N calls."""
    n, hold_ms, rate = a.concurrent, a.steady_hold_ms, a.steady_rate
    calls = int(rate * (hold_ms / 1000 + a.steady_plateau_s))
    pids = target.pids()
    c0, t0 = cpu_seconds(pids), time.monotonic()
    idle = [memory_kb(pids) for _ in range(4) if time.sleep(0.5) is None]
    idle_cpu_pct = round(100 * (cpu_seconds(target.pids()) - c0) / (time.monotonic() - t0), 2)
    idle_mem = {k: int(statistics.median(m[k] for m in idle)) for k in idle[0]}
    idle_extra = target.extra()

    def sampler(rundir: Path, t0: float):
        rows = read_stat(rundir / "uac_stat.csv")
        cur = num(rows[-1], "CurrentCall") if rows else 0
        ok = num(rows[-1], "SuccessfulCall(C)") if rows else 0
        pids = target.pids()
        s = {"t": time.monotonic() - t0, "current": cur, "ok": ok, "cpu": cpu_seconds(pids)}
        s.update(memory_kb(pids))
        if cur >= 0.98 * n:
            s.update(target.extra())
        return s

    res, samples, _ = run_uac(sipp, target, workdir / "steady", "uac.xml", rate, calls, n, hold_ms, sampler)
    plateau = [s for s in samples if s["current"] >= 0.98 * n]
    out = {"idle": {**idle_mem, **idle_extra, "cpu_core_pct": idle_cpu_pct}, "run": res, "concurrent_target": n, "plateau_samples": len(plateau)}
    if len(plateau) >= 3:
        p0, p1 = plateau[0], plateau[-1]
        span = p1["t"] - p0["t"]
        cpu = p1["cpu"] - p0["cpu"]
        calls_done = p1["ok"] - p0["ok"]
        avg_conc = statistics.mean(s["current"] for s in plateau)
        mem = {k: int(statistics.median(s[k] for s in plateau)) for k in ("rss_kb", "pss_kb")}
        out.update(
            plateau_seconds=round(span, 1),
            plateau_concurrent_avg=round(avg_conc, 1),
            plateau_calls_completed=int(calls_done),
            plateau_cpu_core_pct=round(100 * cpu / span, 2) if span else None,
            cpu_ms_per_call=round(1000 * cpu / calls_done, 4) if calls_done else None,
            core_pct_per_concurrent_call=round(100 * cpu / span / avg_conc, 5) if span and avg_conc else None,
            plateau_mem=mem,
            rss_kb_per_call=round((mem["rss_kb"] - idle_mem["rss_kb"]) / avg_conc, 3),
            pss_kb_per_call=round((mem["pss_kb"] - idle_mem["pss_kb"]) / avg_conc, 3),
        )
        shm = [s["shm_used_kb"] for s in plateau if "shm_used_kb" in s]
        if shm and "shm_used_kb" in idle_extra:
            out["shm_used_kb_plateau"] = int(statistics.median(shm))
            out["shm_kb_per_call"] = round((statistics.median(shm) - idle_extra["shm_used_kb"]) / avg_conc, 3)
    return out


def phase_steps(sipp: Sipp, target: Target, workdir: Path, a, deadline: float) -> dict:
    steps, sustained, failed_once = [], None, False
    for rate in a.rates:
        calls = int(rate * a.step_seconds)
        limit = int(rate * (a.hold_ms / 1000 + 1) * 2) + 100
        need = calls / rate + a.hold_ms / 1000 + 5
        if time.monotonic() + need > deadline:
            steps.append({"rate": rate, "skipped": "time budget"})
            break
        res, _, _ = run_uac(sipp, target, workdir / f"step-{rate}", "uac.xml", rate, calls, limit, a.hold_ms)
        tot = max(res["total"], 1)
        res["failure_pct"] = round(100 * res["failed"] / tot, 4)
        reached = res["achieved_cps"] is not None and res["achieved_cps"] >= 0.95 * rate
        res["rate_reached"] = reached
        res["pass"] = res["failure_pct"] <= a.max_failure_pct and res["total"] >= calls and reached
        steps.append(res)
        print(
            f"  step {rate:>5} cps: {res['successful']}/{res['total']} ok, {res['failure_pct']:.3f} % failed,"
            f" achieved {res['achieved_cps']} cps, cpu {res.get('cpu_ms_per_call')} ms/call,"
            f" setup p50/p95 {res['setup_ms']['p50']}/{res['setup_ms']['p95']} ms -> {'PASS' if res['pass'] else 'FAIL'}",
            flush=True,
        )
        if res["pass"] and not failed_once:
            sustained = rate
        if not res["pass"]:
            if failed_once:
                break
            failed_once = True  # run one more step to show whether the failure was noise
    return {"steps": steps, "sustained_cps": sustained, "max_failure_pct": a.max_failure_pct}


def phase_rtp(sipp: Sipp, target: Target, workdir: Path, a) -> dict:
    """Concurrent G.711 calls with media through the relay (UAC plays a pcap, UAS echoes)."""
    n, hold_ms = a.rtp_calls, a.rtp_hold_ms
    res, samples, _ = run_uac(
        sipp, target, workdir / "rtp", "uac_rtp.xml", max(1, n // 5), n, n, hold_ms,
        lambda rundir, t0: {"t": time.monotonic() - t0, "cpu": cpu_seconds(target.pids()),
                            "current": (num(r[-1], "CurrentCall") if (r := read_stat(rundir / "uac_stat.csv")) else 0)},
    )  # fmt: skip
    plateau = [s for s in samples if s["current"] >= 0.98 * n]
    out = {"run": res, "calls": n}
    if len(plateau) >= 3:
        span = plateau[-1]["t"] - plateau[0]["t"]
        cpu = plateau[-1]["cpu"] - plateau[0]["cpu"]
        out["plateau_cpu_core_pct"] = round(100 * cpu / span, 2)
        out["core_pct_per_media_call"] = round(100 * cpu / span / n, 4)
    return out


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["kamailio", "appliance"], required=True)
    ap.add_argument("--target-cmd", default=os.environ.get("BENCH_TARGET_CMD"), help="appliance command (or $BENCH_TARGET_CMD)")
    ap.add_argument("--target-addr", default="127.0.0.1:5070")
    ap.add_argument("--service", default="service", help="Request-URI user the UAC calls (the appliance: a DID)")
    ap.add_argument(
        "--pre-uas-cmd",
        default=os.environ.get("BENCH_PRE_UAS_CMD", ""),
        help="shell command run once after the target started, before any call (the appliance: register the UAS as an extension)",
    )
    ap.add_argument("--uas-port", type=int, default=5080)
    ap.add_argument("--uac-port", type=int, default=5090)
    ap.add_argument("--uac-media-port", type=int, default=16000)
    ap.add_argument("--uas-media-port", type=int, default=17000)
    ap.add_argument("--rates", default="200,400,600,800,1000,1200,1500,2000,2500,3000")
    ap.add_argument("--step-seconds", type=float, default=10.0, help="calls per step = rate x this")
    ap.add_argument("--hold-ms", type=int, default=1000, help="call hold time in the rate steps")
    ap.add_argument("--max-failure-pct", type=float, default=0.1)
    ap.add_argument("--concurrent", type=int, default=1000, help="plateau size of the steady phase")
    ap.add_argument("--steady-rate", type=float, default=100.0)
    ap.add_argument("--steady-hold-ms", type=int, default=10000)
    ap.add_argument("--steady-plateau-s", type=float, default=15.0)
    ap.add_argument("--rtp-calls", type=int, default=0, help="concurrent G.711 calls in the rtp phase (0 = skip)")
    ap.add_argument("--rtp-hold-ms", type=int, default=15000)
    ap.add_argument("--pcap", default="/usr/share/sip-tester/g711a.pcap", help="G.711 A-law pcap the UAC plays")
    ap.add_argument(
        "--rtp-relay", default="", help="for kamailio: 'rtpengine' to anchor media (run.py starts rtpengine in userspace)"
    )
    ap.add_argument("--shm-mb", type=int, default=1024)
    ap.add_argument("--pkg-mb", type=int, default=16)
    ap.add_argument("--children", type=int, default=4)
    ap.add_argument("--max-seconds", type=int, default=300, help="time budget of the whole run")
    ap.add_argument("--out", default="", help="JSON results file (default results/<target>-<date>.json)")
    ap.add_argument("--keep-workdir", action="store_true")
    a = ap.parse_args()
    a.rates = [int(x) for x in a.rates.split(",") if x]
    for hp in (a.target_addr,):
        if not hp.startswith("127."):
            ap.error("loopback only: --target-addr must be in 127.0.0.0/8")

    t_start = time.monotonic()
    deadline = t_start + a.max_seconds
    workdir = Path(tempfile.mkdtemp(prefix=f"sipbench-{a.target}-"))
    if a.target == "kamailio":
        target: Target = Kamailio(a.target_addr, workdir, a.shm_mb, a.pkg_mb, a.children, a.rtp_relay == "rtpengine")
    else:
        if not a.target_cmd:
            ap.error("--target appliance needs --target-cmd or $BENCH_TARGET_CMD")
        target = Target(shlex.split(a.target_cmd), a.target_addr, workdir)
        target.name = "appliance"
    sipp = Sipp(a, workdir)

    result = {
        "target": target.name,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"nproc": os.cpu_count(), "loadavg_start": os.getloadavg(), "kernel": os.uname().release},
        "versions": {},
        "params": {k: v for k, v in vars(a).items() if k != "target_cmd"},
        "target_cmd": target.cmd,
    }
    for tool, flag in (("sipp", "-v"), ("kamailio", "-v"), ("rtpengine", "--version")):
        if shutil.which(tool):
            v = subprocess.run([tool, flag], capture_output=True, text=True, timeout=10)
            result["versions"][tool] = (v.stdout + v.stderr).strip().splitlines()[0:2]

    print(f"target {a.target}: {' '.join(target.cmd)}\nworkdir {workdir}", flush=True)
    try:
        target.start()
        if a.pre_uas_cmd:
            pre = subprocess.run(a.pre_uas_cmd, shell=True, cwd=workdir, timeout=30)
            if pre.returncode != 0:
                raise SystemExit(f"--pre-uas-cmd failed with exit code {pre.returncode}")
        warmup(sipp, target, workdir)
        print(f"steady: {a.concurrent} concurrent calls at {a.steady_rate} cps, hold {a.steady_hold_ms} ms", flush=True)
        result["steady"] = phase_steady(sipp, target, workdir, a)
        if a.rtp_calls:
            if a.target == "kamailio" and a.rtp_relay != "rtpengine":
                result["rtp"] = "n/a (plain proxy does not relay media)"
            else:
                print(f"rtp: {a.rtp_calls} concurrent G.711 calls", flush=True)
                result["rtp"] = phase_rtp(sipp, target, workdir, a)
        else:
            result["rtp"] = (
                "n/a (plain proxy does not relay media)" if a.target == "kamailio" and not a.rtp_relay else "skipped"
            )
        print(f"steps: rates {a.rates}, {a.step_seconds} s each, hold {a.hold_ms} ms", flush=True)
        result["steps"] = phase_steps(sipp, target, workdir, a, deadline)
    finally:
        target.stop()
        _kill_all()
    result["host"]["loadavg_end"] = os.getloadavg()
    result["wall_s"] = round(time.monotonic() - t_start, 1)

    out = Path(a.out) if a.out else HERE / "results" / f"{target.name}-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"\nresults: {out}")
    if not a.keep_workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"raw SIPp files kept in {workdir}")
    return 0


def print_table(r: dict) -> None:
    s = r.get("steady", {})
    st = r.get("steps", {})
    setup = s.get("run", {}).get("setup_ms", {})
    rows = [
        ("calls/s sustained (<= %.2g %% failed)" % st.get("max_failure_pct", 0.1), st.get("sustained_cps")),
        ("CPU ms per call (steady plateau)", s.get("cpu_ms_per_call")),
        ("%% of a core per concurrent call", s.get("core_pct_per_concurrent_call")),
        ("target CPU at plateau (%% of a core)", s.get("plateau_cpu_core_pct")),
        ("target CPU idle (%% of a core)", s.get("idle", {}).get("cpu_core_pct")),
        ("concurrent calls at plateau (avg)", s.get("plateau_concurrent_avg")),
        ("idle RSS / PSS (KiB, sum of processes)", f"{s.get('idle', {}).get('rss_kb')} / {s.get('idle', {}).get('pss_kb')}"),
        ("RSS KiB per concurrent call", s.get("rss_kb_per_call")),
        ("PSS KiB per concurrent call", s.get("pss_kb_per_call")),
        ("shm KiB per concurrent call (kamcmd)", s.get("shm_kb_per_call")),
        ("setup time p50 / p95 ms (steady)", f"{setup.get('p50')} / {setup.get('p95')}"),
        ("RTP", r.get("rtp") if isinstance(r.get("rtp"), str) else r.get("rtp", {}).get("core_pct_per_media_call")),
    ]
    print(f"\n== {r['target']} ({r['date']}, loadavg {r['host']['loadavg_start'][0]:.1f} -> {r['host']['loadavg_end'][0]:.1f}) ==")
    for k, v in rows:
        print(f"  {k.replace('%%', '%'):<44} {v}")
    print("  rate steps:")
    for x in st.get("steps", []):
        if "skipped" in x:
            print(f"    {x['rate']:>5} cps  skipped ({x['skipped']})")
            continue
        print(
            f"    {x['rate']:>5} cps  {x['failure_pct']:>7.3f} % failed  achieved {x['achieved_cps']}"
            f"  cpu {x.get('cpu_ms_per_call')} ms/call  setup p50/p95 {x['setup_ms']['p50']}/{x['setup_ms']['p95']} ms"
            f"  {'PASS' if x['pass'] else 'FAIL'}"
        )


if __name__ == "__main__":
    sys.exit(main())
