#!/usr/bin/env python3
"""RTP round-trip probe: measures the latency a media relay adds.

The probe sends G.711-sized RTP packets (12-byte header + 160-byte payload,
20 ms pacing by default) carrying a send timestamp, to an echo; the echo sends
every packet back. Measured once straight to the echo and once through the
relay (probe -> relay -> echo -> relay -> probe). The difference of the two
round trips is the relay's added latency for two traversals; half of it is
the added one-way latency per traversal.

Subcommands (all loopback-only, all bounded in packet count and time):
  echo      UDP echo (like SIPp -rtp_echo), stops after --seconds
  forward   trivial UDP relay: packets from the caller go to --to, packets from
            --to go back to the last caller; stops after --seconds
  probe     --direct ECHO_ADDR [--via RELAY_ADDR]: run the measurement
  selftest  start an echo and a forwarder as child processes and probe through
            them (sanity check of the probe itself; the forwarder is Python,
            so its added latency is tens of microseconds, not a product figure)

Output: a table, and JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

PAYLOAD = 160  # 20 ms of G.711 at 8 kHz
MAGIC = 0xB0B0CAFE


def addr(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    if not host.startswith("127."):
        raise argparse.ArgumentTypeError(f"loopback only (127.0.0.0/8): {s}")
    return host, int(port)


def cmd_echo(a) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(a.listen)
    end = time.monotonic() + a.seconds
    while (left := end - time.monotonic()) > 0:
        r, _, _ = select.select([sock], [], [], min(left, 0.5))
        if r:
            data, peer = sock.recvfrom(2048)
            sock.sendto(data, peer)
    return 0


def cmd_forward(a) -> int:
    """Relay with two sockets, like a media relay's two legs."""
    a_side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a_side.bind(a.listen)
    b_side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b_side.bind((a.listen[0], 0))
    caller = None
    end = time.monotonic() + a.seconds
    while (left := end - time.monotonic()) > 0:
        r, _, _ = select.select([a_side, b_side], [], [], min(left, 0.5))
        for s in r:
            data, peer = s.recvfrom(2048)
            if s is a_side:
                caller = peer
                b_side.sendto(data, a.to)
            elif caller is not None:
                a_side.sendto(data, caller)
    return 0


def measure(target: tuple[str, int], count: int, pps: float, timeout: float) -> dict:
    """Send `count` RTP packets to target at `pps`; collect echoed packets; RTTs in microseconds."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    ssrc = int.from_bytes(os.urandom(4), "big")
    sent: dict[int, int] = {}
    rtts: list[float] = []
    dup = 0
    interval = 1.0 / pps
    start = time.perf_counter()
    next_send = start
    seq = 0
    deadline = start + count * interval + timeout
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        if seq < count and now >= next_send:
            t_ns = time.perf_counter_ns()
            hdr = struct.pack("!BBHII", 0x80, 8, seq & 0xFFFF, (seq * PAYLOAD) & 0xFFFFFFFF, ssrc)
            body = struct.pack("!IIQ", MAGIC, seq, t_ns)
            sock.sendto(hdr + body + b"\xd5" * (PAYLOAD - len(body)), target)
            sent[seq] = t_ns
            seq += 1
            next_send += interval
        wait = max(0.0, min(next_send - time.perf_counter(), 0.05)) if seq < count else 0.05
        r, _, _ = select.select([sock], [], [], wait)
        while r:
            try:
                data, _ = sock.recvfrom(2048)
            except BlockingIOError:
                break
            t_rx = time.perf_counter_ns()
            if len(data) >= 12 + 16:
                magic, s, t_tx = struct.unpack("!IIQ", data[12:28])
                if magic == MAGIC and s in sent:
                    if sent[s] is None:
                        dup += 1
                    else:
                        rtts.append((t_rx - t_tx) / 1000)
                        sent[s] = None  # type: ignore[assignment]
            r, _, _ = select.select([sock], [], [], 0)
        if seq >= count and len(rtts) + dup >= count:
            break
    sock.close()
    return summarize(rtts, count, dup)


def pct(s: list[float], p: float) -> float:
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def summarize(rtts: list[float], count: int, dup: int) -> dict:
    s = sorted(rtts)
    out = {"sent": count, "received": len(s), "lost": count - len(s), "duplicates": dup}
    if s:
        out.update(
            rtt_us_p50=round(pct(s, 50), 1),
            rtt_us_p99=round(pct(s, 99), 1),
            rtt_us_mean=round(statistics.mean(s), 1),
            rtt_us_max=round(s[-1], 1),
        )
    return out


def cmd_probe(a) -> dict:
    res = {"count": a.count, "pps": a.pps, "direct": measure(a.direct, a.count, a.pps, a.timeout)}
    if a.via:
        res["via_relay"] = measure(a.via, a.count, a.pps, a.timeout)
        d, v = res["direct"], res["via_relay"]
        if "rtt_us_p50" in d and "rtt_us_p50" in v:
            for p in ("p50", "p99"):
                added = v[f"rtt_us_{p}"] - d[f"rtt_us_{p}"]
                res[f"added_rtt_us_{p}"] = round(added, 1)
                res[f"added_one_way_us_{p}"] = round(added / 2, 1)
    return res


def print_result(res: dict) -> None:
    print(f"{'path':<10} {'sent':>6} {'recv':>6} {'lost':>5} {'p50 us':>9} {'p99 us':>9} {'max us':>9}")
    for k in ("direct", "via_relay"):
        if k in res:
            r = res[k]
            print(
                f"{k:<10} {r['sent']:>6} {r['received']:>6} {r['lost']:>5} {r.get('rtt_us_p50', '-'):>9}"
                f" {r.get('rtt_us_p99', '-'):>9} {r.get('rtt_us_max', '-'):>9}"
            )
    if "added_rtt_us_p50" in res:
        print(
            f"relay adds (round trip, 2 traversals): p50 {res['added_rtt_us_p50']} us, p99 {res['added_rtt_us_p99']} us;"
            f" one way per traversal: p50 {res['added_one_way_us_p50']} us, p99 {res['added_one_way_us_p99']} us"
        )


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cmd_selftest(a) -> dict:
    echo_port, relay_port = free_port(), free_port()
    life = str(int(a.count / a.pps * 2 + a.timeout * 2 + 5))
    me = [sys.executable, os.path.abspath(__file__)]
    procs = [
        subprocess.Popen(me + ["echo", "--listen", f"127.0.0.1:{echo_port}", "--seconds", life]),
        subprocess.Popen(
            me + ["forward", "--listen", f"127.0.0.1:{relay_port}", "--to", f"127.0.0.1:{echo_port}", "--seconds", life]
        ),
    ]
    try:
        time.sleep(0.5)
        a.direct, a.via = ("127.0.0.1", echo_port), ("127.0.0.1", relay_port)
        return cmd_probe(a)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--listen", type=addr, required=True)
    e.add_argument("--seconds", type=float, default=60)
    f = sub.add_parser("forward")
    f.add_argument("--listen", type=addr, required=True)
    f.add_argument("--to", type=addr, required=True)
    f.add_argument("--seconds", type=float, default=60)
    for name in ("probe", "selftest"):
        p = sub.add_parser(name)
        if name == "probe":
            p.add_argument("--direct", type=addr, required=True, help="echo address")
            p.add_argument("--via", type=addr, help="relay address that leads to the same echo")
        p.add_argument("--count", type=int, default=500)
        p.add_argument("--pps", type=float, default=50.0)
        p.add_argument("--timeout", type=float, default=1.0, help="wait for late echoes after the last send")
        p.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.cmd == "echo":
        return cmd_echo(a)
    if a.cmd == "forward":
        return cmd_forward(a)
    res = cmd_probe(a) if a.cmd == "probe" else cmd_selftest(a)
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print_result(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
