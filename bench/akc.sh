#!/bin/bash
# Benchmark (not a test): wall time of one eic-authorized-keys call against the emulator, as sshd
# pays it (fork + exec + IMDSv2 token + fetches + full verification + print), median and
# percentiles over N calls. The emulator listens on loopback; the AKC's config points there.
# Usage: bench/akc.sh [N]   (default 200; build first with scripts/build)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
TOP=$(pwd)
WORK=$(mktemp -d /tmp/eic-bench.XXXXXX)
trap 'kill $EMU 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

emulator/eic-emulator --listen 127.0.0.1:0 --state-dir "$WORK/state" --ready-file "$WORK/ready" \
    --log-file "$WORK/emulator.log" --key-lifetime 600 >/dev/null 2>&1 &
EMU=$!
for _ in $(seq 1 200); do [ -s "$WORK/ready" ] && break; sleep 0.05; done
ADDR=$(head -n 1 "$WORK/ready")

cat >"$WORK/eic.conf" <<CONF
imds_endpoint = http://$ADDR
ca_file = $WORK/state/ca.pem
log_file = $WORK/akc.log
CONF
ssh-keygen -q -t ed25519 -N '' -f "$WORK/key"
user=$(id -un)
AWS_ACCESS_KEY_ID=AKIAEICDEMOALICE0001 AWS_SECRET_ACCESS_KEY=eic-demo-secret-alice \
    client/eic send-ssh-public-key --endpoint-url "http://$ADDR" --region us-east-1 \
    --instance-id i-0123456789abcdef0 --instance-os-user "$user" --ssh-public-key "file://$WORK/key.pub" >/dev/null
fp=$(ssh-keygen -lf "$WORK/key.pub" | awk '{print $2}')
AKC="$TOP/authorized_keys/eic-authorized-keys"

# The key must really be printed, or the figure would be that of the "no key" fast path.
out=$("$AKC" -c "$WORK/eic.conf" "$user" "$fp")
[ -n "$out" ] || { echo "bench: the AKC printed no key; see $WORK/akc.log" >&2; cat "$WORK/akc.log" >&2; exit 1; }

# Wall time of one call, taken with bash's $EPOCHREALTIME (no extra process in the window).
measure() { # measure LABEL COMMAND...: N runs, prints median / p90 / min in ms
    local label=$1 s e
    shift
    for _ in $(seq 1 "$N"); do
        s=$EPOCHREALTIME
        "$@" >/dev/null
        e=$EPOCHREALTIME
        echo $((${e/./} - ${s/./}))
    done | sort -n >"$WORK/us.txt"
    awk -v label="$label" -v n="$N" '{ v[NR] = $1 } END {
        printf "%-44s median %7.3f ms  p90 %7.3f ms  min %7.3f ms  (%d calls)\n", label,
            v[int((NR + 1) / 2)] / 1000, v[int((NR * 9 + 9) / 10)] / 1000, v[1] / 1000, n }' "$WORK/us.txt"
}
measure "eic-authorized-keys, key verified and printed" "$AKC" -c "$WORK/eic.conf" "$user" "$fp"
measure "eic-authorized-keys, no key for the user" "$AKC" -c "$WORK/eic.conf" nobody ""
# The floor: what starting any program costs on this machine.
measure "/bin/true (process start floor)" /bin/true
# eic's own work, without the process start.
"$TOP/bench/akc_inproc" "$WORK/eic.conf" "$user" "$fp" "$N"
