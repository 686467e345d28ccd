#!/usr/bin/env bash
# SIP load benchmark of the appliance's B2BUA, with the same scenarios and
# measurements as the Kamailio run (bench/sip-load/run.py). Loopback only.
#
#   bench/sip-load/appliance.sh [run.py options...]
#
# Builds the release binary, writes a bootstrap file and secrets into a
# temporary directory, starts `voip-appliance run` on 127.0.0.1:5070 (UDP),
# registers the SIPp UAS (127.0.0.1:5080) as extension 202, and lets run.py
# drive SIPp UAC -> appliance -> SIPp UAS calls to DID +31201234567.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
command -v sipp >/dev/null || { echo "sipp is missing (Debian package sip-tester)" >&2; exit 1; }

cargo build --release --locked -p voip-appliance
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/voip-appliance

DIR=$(mktemp -d -t voip-bench.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
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

# Each call holds two RTP port pairs (four sockets): raise the descriptor limit.
TARGET_CMD="bash -c 'ulimit -n \$(ulimit -Hn) && exec $BIN run --config $DIR/appliance.toml'"
PRE_UAS="sipp -sf $ROOT/appliance/tests/data/peers/sipp/register.xml -i 127.0.0.1 -p 5080 \
  -s 202 -au 202 -ap bench-202 -m 1 -nostdin -timeout 10s -recv_timeout 5000 127.0.0.1:5070"

exec python3 "$HERE/run.py" --target appliance --target-cmd "$TARGET_CMD" \
    --target-addr 127.0.0.1:5070 --service +31201234567 --pre-uas-cmd "$PRE_UAS" "$@"
