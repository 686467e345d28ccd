#!/usr/bin/env bash
# The issue-3 SIP load benchmark: the same SIPp load through Kamailio (stateful
# proxy, signalling only), Kamailio + rtpengine (media anchored, like the
# appliance) and the appliance's B2BUA, one after the other in one run, then
# the ratios. Loopback only; each target's run is bounded by --max-seconds.
#
#   bench/sip-load/compare.sh [run.py options for all, e.g. --rates 200,500,1000]
#
# Results: bench/sip-load/results/{kamailio,kamailio-rtpengine,appliance}-<date>.json
# and bench/sip-load/results/compare-<date>.txt.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAY=$(date -u +%F)
OUT="$HERE/results"
mkdir -p "$OUT"
# the appliance first: its release build must not overlap a peer's run
"$HERE/appliance.sh" --out "$OUT/appliance-$DAY.json" "$@"
python3 "$HERE/run.py" --target kamailio --out "$OUT/kamailio-$DAY.json" "$@"
python3 "$HERE/run.py" --target kamailio --rtp-relay rtpengine --out "$OUT/kamailio-rtpengine-$DAY.json" "$@"
python3 - "$OUT/appliance-$DAY.json" "$OUT/kamailio-$DAY.json" "$OUT/kamailio-rtpengine-$DAY.json" <<'PY' | tee "$OUT/compare-$DAY.txt"
import json, sys
a, k, kr = (json.load(open(p)) for p in sys.argv[1:4])
def get(r, *path):
    for p in path:
        if not isinstance(r, dict) or p not in r:
            return None
        r = r[p]
    return r
def ratio(x, y):
    return f"{x / y:.2f}" if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else "-"
rows = [
    ("calls/s sustained (<= 0.1 % failed)", ("steps", "sustained_cps")),
    ("CPU ms per call (steady plateau)", ("steady", "cpu_ms_per_call")),
    ("% of a core per concurrent call", ("steady", "core_pct_per_concurrent_call")),
    ("PSS KiB per concurrent call", ("steady", "pss_kb_per_call")),
    ("RSS KiB per concurrent call", ("steady", "rss_kb_per_call")),
    ("setup p50 ms (steady)", ("steady", "run", "setup_ms", "p50")),
    ("setup p95 ms (steady)", ("steady", "run", "setup_ms", "p95")),
]
print(f"{'figure':40} {'appliance':>10} {'kamailio':>10} {'kam+rtpe':>10} {'a/k':>6} {'a/(k+r)':>8}")
for name, path in rows:
    av, kv, rv = get(a, *path), get(k, *path), get(kr, *path)
    print(f"{name:40} {str(av):>10} {str(kv):>10} {str(rv):>10} {ratio(av, kv):>6} {ratio(av, rv):>8}")
def steps(r):
    return " ".join(
        f"{s['rate']}:{s['failure_pct']:.3f}%{'' if s['pass'] else '!'}@{s.get('cpu_ms_per_call')}ms"
        for s in get(r, "steps", "steps") or [] if "failure_pct" in s
    )
for label, r in (("appliance", a), ("kamailio", k), ("kamailio+rtpengine", kr)):
    print(f"{label} steps (rate:failed%[!=fail]@CPU per call): {steps(r)}")
    print(f"  loadavg {get(r, 'host', 'loadavg_start')} -> {get(r, 'host', 'loadavg_end')}")
print(f"appliance RTP phase: {json.dumps(a.get('rtp'))[:300]}")
print(f"kamailio+rtpengine RTP phase: {json.dumps(kr.get('rtp'))[:300]}")
PY
