#!/usr/bin/env bash
# Profile the appliance's B2BUA under a fixed SIPp load (loopback only).
#
#   bench/sip-load/profile.sh [--rate R] [--calls N] [--hold-ms MS] [--wrap CMD] [--out DIR]
#
# Starts the release binary (already built: `cargo build --release -p
# voip-appliance`) with the benchmark's bootstrap file and site
# (bench/sip-load/appliance/site.toml), optionally under a profiler given with
# --wrap, registers the SIPp UAS as extension 202, runs N calls at R calls/s
# (SIPp UAC -> appliance -> SIPp UAS, the same scenarios as run.py), stops the
# appliance with SIGINT (so a profiler writes its data) and prints SIPp's
# totals. Examples:
#
#   # instruction counts per function (repeatable on a noisy machine);
#   # counting starts after the registration, so Ir / calls = cost per call
#   bench/sip-load/profile.sh --rate 20 --calls 600 --callgrind /tmp/cg.out
#   # sampled call graphs (software clock: works in VMs without PMU)
#   bench/sip-load/profile.sh --rate 600 --calls 6000 \
#     --wrap "perf record -e cpu-clock -F 2000 -g -o /tmp/perf.data"
#
# The appliance's stderr goes to <out>/appliance.log; SIPp's files to <out>.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RATE=200
CALLS=2000
HOLD_MS=1000
WRAP=""
CALLGRIND=""
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) RATE=$2; shift 2 ;;
    --calls) CALLS=$2; shift 2 ;;
    --hold-ms) HOLD_MS=$2; shift 2 ;;
    --wrap) WRAP=$2; shift 2 ;;
    --callgrind) CALLGRIND=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v sipp >/dev/null || { echo "sipp is missing (Debian package sip-tester)" >&2; exit 1; }
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/voip-appliance
[ -x "$BIN" ] || { echo "build first: cargo build --release -p voip-appliance" >&2; exit 1; }

if [ -n "$CALLGRIND" ]; then
  WRAP="valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$CALLGRIND"
fi
DIR=$(mktemp -d -t voip-profile.XXXXXX)
OUT=${OUT:-$DIR/out}
mkdir -p "$OUT"
APP_PID=""
UAS_PID=""
cleanup() {
  [ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null || true
  [ -n "$APP_PID" ] && kill -INT "$APP_PID" 2>/dev/null || true
  rm -rf "$DIR/data" "$DIR/secrets.toml"
}
trap cleanup EXIT
umask 077
cat >"$DIR/secrets.toml" <<TOML
[credentials.ext-202]
password = "bench-202"

[credentials.trunk-loadgen]
password = "unused"
TOML
cat >"$DIR/appliance.toml" <<TOML
version = 1
appliance_id = "bench-01"
tenant = "bench"
log_level = "warn"
data_dir = "$DIR/data"
secrets_file = "$DIR/secrets.toml"
site_config_file = "$HERE/appliance/site.toml"

[sip]
udp = ["127.0.0.1:5070"]
tcp = []

[http]
listen = "127.0.0.1:18088"
TOML

ulimit -n "$(ulimit -Hn)"
# shellcheck disable=SC2086
$WRAP "$BIN" run --config "$DIR/appliance.toml" >"$OUT/appliance.log" 2>&1 &
APP_PID=$!
for _ in $(seq 1 300); do
  curl -sf http://127.0.0.1:18088/healthz >/dev/null 2>&1 && break
  kill -0 "$APP_PID" 2>/dev/null || { echo "appliance exited, see $OUT/appliance.log" >&2; exit 1; }
  sleep 0.2
done
cd "$OUT"
sipp -sf "$ROOT/appliance/tests/data/peers/sipp/register.xml" -i 127.0.0.1 -p 5080 \
  -s 202 -au 202 -ap bench-202 -m 1 -nostdin -timeout 30s -recv_timeout 20000 127.0.0.1:5070 \
  >"$OUT/register.log" 2>&1
sipp -sf "$HERE/uas.xml" -i 127.0.0.1 -p 5080 -nostdin -buff_size 4194304 \
  -timeout 600s >"$OUT/uas.log" 2>&1 &
UAS_PID=$!
sleep 0.5
# warm-up (lazy one-time work such as the numbering-plan tables is not per-call cost)
sipp -sf "$HERE/uac.xml" -i 127.0.0.1 -p 5090 127.0.0.1:5070 -s +31201234567 \
  -r 10 -m 20 -l 100 -d 100 -nostdin -timeout 120s -recv_timeout 30000 \
  -default_behaviors all,-abortunexp -buff_size 4194304 >"$OUT/warmup.log" 2>&1 || true
sleep 1
[ -n "$CALLGRIND" ] && callgrind_control -i on "$APP_PID" >/dev/null
cpu_ticks() { awk '{print $14 + $15}' "/proc/$APP_PID/stat"; }
CPU0=$(cpu_ticks)
sipp -sf "$HERE/uac.xml" -i 127.0.0.1 -p 5090 127.0.0.1:5070 -s +31201234567 \
  -r "$RATE" -m "$CALLS" -l $((RATE * (HOLD_MS / 1000 + 2) * 2 + 100)) -d "$HOLD_MS" \
  -nostdin -timeout 600s -recv_timeout 30000 -default_behaviors all,-abortunexp \
  -max_recv_loops 10000 -timer_resol 1 -buff_size 4194304 \
  -trace_stat -stf "$OUT/uac_stat.csv" -fd 1 -trace_err >"$OUT/uac.log" 2>&1 || true
# let the last transactions finish before stopping the appliance
sleep 2
CPU1=$(cpu_ticks)
curl -sf http://127.0.0.1:18088/metrics >"$OUT/metrics.txt" 2>/dev/null || true
tail -1 "$OUT/uac_stat.csv" | awk -F';' '{print "created " $13 ", successful " $16 ", failed " $18}' || true
# Without --wrap this is the appliance's own CPU time (with a wrapper: the wrapper's).
echo "CPU $(( (CPU1 - CPU0) * 1000 / $(getconf CLK_TCK) )) ms for $CALLS calls" \
  "($(awk -v t=$((CPU1 - CPU0)) -v hz="$(getconf CLK_TCK)" -v n="$CALLS" 'BEGIN{printf "%.3f", t*1000/hz/n}') ms per call)"
kill "$UAS_PID" 2>/dev/null || true
UAS_PID=""
kill -INT "$APP_PID" 2>/dev/null || true
wait "$APP_PID" 2>/dev/null || true
APP_PID=""
if [ -n "$CALLGRIND" ]; then
  OK=$(tail -1 "$OUT/uac_stat.csv" | awk -F';' '{print $16}')
  IR=$(awk '/^summary:/ {print $2}' "$CALLGRIND")
  echo "callgrind: $IR instructions for $OK successful calls ($(( IR / (OK > 0 ? OK : 1) )) per call)"
fi
echo "output in $OUT"
