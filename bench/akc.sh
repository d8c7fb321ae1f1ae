#!/bin/bash
# Benchmark (not a test): wall time of one eic-authorized-keys call against the emulator, as sshd
# pays it (fork + exec + the answer of eicd, warm: records fetched and verified with the signer it
# keeps + print), median and percentiles over N calls, side by side with the in-process check
# (eic-authorized-keys-verify, what runs without the service: token, every fetch, full
# verification) and the cost of starting a process. The emulator listens on loopback; eicd and
# the AKC's config point there.
# Usage: bench/akc.sh [N]   (default 200; as root: eicd runs as root; build first with scripts/build)
# Prints one line per figure: LABEL|MEDIAN_MS|P90_MS|MIN_MS|CALLS (bench/run-all.sh reads them).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
TOP=$(pwd)
WORK=$(mktemp -d /tmp/eic-bench.XXXXXX)
EICD_PID=""
trap 'kill $EMU $EICD_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

emulator/eic-emulator --listen 127.0.0.1:0 --state-dir "$WORK/state" --ready-file "$WORK/ready" \
    --log-file "$WORK/emulator.log" --key-lifetime 600 >/dev/null 2>&1 &
EMU=$!
for _ in $(seq 1 200); do [ -s "$WORK/ready" ] && break; sleep 0.05; done
ADDR=$(head -n 1 "$WORK/ready")

cat >"$WORK/eic.conf" <<CONF
imds_endpoint = http://$ADDR
ca_file = $WORK/state/ca.pem
log_file = $WORK/akc.log
service_socket = $WORK/run/eicd.sock
authorized_keys_user = $(id -un)
CONF
eicd/eicd -c "$WORK/eic.conf" --foreground >/dev/null 2>&1 &
EICD_PID=$!
for _ in $(seq 1 200); do [ -S "$WORK/run/eicd.sock" ] && break; sleep 0.05; done
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

# A program that does nothing: what starting a process costs here.
echo 'int main(void) { return 0; }' >"$WORK/empty.c"
gcc -O2 -o "$WORK/empty" "$WORK/empty.c"

# The four commands are timed in turn, N rounds, so that whatever else the machine does weighs on
# all of them alike. Wall time of one call, taken with bash's $EPOCHREALTIME (no extra process in
# the window), in microseconds, one file per command.
LABELS=("eic-authorized-keys (eicd warm), key verified and printed" "eic-authorized-keys (eicd warm), no key for the user"
    "eic-authorized-keys-verify (in-process check, no service), key verified and printed"
    "empty program (process start floor)")
run() { # run INDEX
    case $1 in
    0) "$AKC" -c "$WORK/eic.conf" "$user" "$fp" ;;
    1) "$AKC" -c "$WORK/eic.conf" nobody "" ;;
    2) "$AKC-verify" -c "$WORK/eic.conf" "$user" "$fp" ;;
    3) "$WORK/empty" ;;
    esac
}
for _ in $(seq 1 "$N"); do
    for i in 0 1 2 3; do
        s=$EPOCHREALTIME
        run $i >/dev/null
        e=$EPOCHREALTIME
        echo $((${e/./} - ${s/./})) >>"$WORK/us.$i"
    done
done
# One line per command: LABEL|MEDIAN_MS|P90_MS|MIN_MS|CALLS
for i in 0 1 2 3; do
    sort -n "$WORK/us.$i" | awk -v label="${LABELS[$i]}" '{ v[NR] = $1 } END {
        printf "%s|%.1f|%.1f|%.1f|%d\n", label, v[int((NR + 1) / 2)] / 1000, v[int((NR * 9 + 9) / 10)] / 1000,
            v[1] / 1000, NR }'
done
# eic's own work, without the process start.
"$TOP/bench/akc_inproc" "$WORK/eic.conf" "$user" "$fp" "$N"
