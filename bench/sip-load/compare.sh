#!/usr/bin/env bash
# The issue-3 SIP load benchmark: the same SIPp load through Kamailio (stateful
# proxy) and through the appliance's B2BUA, one after the other in one run, then
# the ratios. Loopback only; each target's run is bounded by --max-seconds.
#
#   bench/sip-load/compare.sh [run.py options for both, e.g. --rates 200,500,1000]
#
# Results: bench/sip-load/results/{kamailio,appliance}-<date>.json and
# bench/sip-load/results/compare-<date>.txt.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAY=$(date -u +%F)
OUT="$HERE/results"
mkdir -p "$OUT"
python3 "$HERE/run.py" --target kamailio --out "$OUT/kamailio-$DAY.json" "$@"
"$HERE/appliance.sh" --out "$OUT/appliance-$DAY.json" "$@"
python3 - "$OUT/kamailio-$DAY.json" "$OUT/appliance-$DAY.json" <<'PY' | tee "$OUT/compare-$DAY.txt"
import json, sys
k, a = (json.load(open(p)) for p in sys.argv[1:3])
def get(r, *path):
    for p in path:
        if not isinstance(r, dict) or p not in r:
            return None
        r = r[p]
    return r
rows = [
    ("calls/s sustained (<= 0.1 % failed)", ("steps", "sustained_cps")),
    ("CPU ms per call (steady plateau)", ("steady", "cpu_ms_per_call")),
    ("% of a core per concurrent call", ("steady", "core_pct_per_concurrent_call")),
    ("PSS KiB per concurrent call", ("steady", "pss_kb_per_call")),
    ("RSS KiB per concurrent call", ("steady", "rss_kb_per_call")),
    ("setup p50 ms (steady)", ("steady", "run", "setup_ms", "p50")),
    ("setup p95 ms (steady)", ("steady", "run", "setup_ms", "p95")),
]
print(f"{'figure':40} {'appliance':>12} {'kamailio':>12} {'ratio a/k':>10}")
for name, path in rows:
    av, kv = get(a, *path), get(k, *path)
    ratio = f"{av / kv:.2f}" if isinstance(av, (int, float)) and isinstance(kv, (int, float)) and kv else "-"
    print(f"{name:40} {str(av):>12} {str(kv):>12} {ratio:>10}")
print(f"appliance RTP phase: {json.dumps(a.get('rtp'))[:300]}")
PY
