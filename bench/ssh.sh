#!/bin/bash
# Benchmark (not a test): a whole `ssh USER@host true` — connection, key exchange, public-key
# authentication, PAM, session, command, exit — through eic against the same key in a plain
# authorized_keys file, side by side: the end-to-end sandbox (tests/integration/sandbox.sh) runs
# two sshd from the same configuration, one on 127.0.0.1:2222 whose only source of keys is
# eic-authorized-keys (the key pushed to the emulator at 169.254.169.254), one on 127.0.0.1:2223
# with no AuthorizedKeysCommand and the key in its AuthorizedKeysFile. The logins alternate.
# Usage: bench/ssh.sh [N]   (default 50 of each; as root; build first with scripts/build)
# Prints one line per figure: LABEL|MEDIAN_MS|P90_MS|MIN_MS|LOGINS.
set -uo pipefail
if [ "${1:-}" != --inside ]; then
    exec unshare --net --mount --propagation private bash "$0" --inside "$@"
fi
shift
N=${1:-50}
cd "$(dirname "$0")/.."
EIC_BUILD=$(pwd)
EMULATOR="$EIC_BUILD/emulator/eic-emulator"
EIC_CLIENT="$EIC_BUILD/client/eic"
EICD="$EIC_BUILD/eicd/eicd"
SANDBOX=$(mktemp -d /tmp/eic-bench-ssh.XXXXXX)
# The pushed key must outlive the run.
SANDBOX_LIFETIME=3600
source tests/integration/sandbox.sh
trap 'sandbox_stop; rm -rf "$SANDBOX"' EXIT
fail() {
    echo "bench/ssh.sh: $*" >&2
    exit 1
}

sandbox_setup
# The shipped deadlines, as for a real login.
printf 'ca_file = /srv/eic/ca.pem\nlog_file = %s\nauthorized_keys_user = nobody\n' "$AKC_LOG" >/etc/eic/eic.conf
chmod 0644 /etc/eic/eic.conf
sandbox_add_user benchu 61500
sandbox_start_imds >/dev/null || fail "the emulator did not start"
sandbox_start_sshd || fail "sshd (eic) did not start"
ssh-keygen -q -t ed25519 -N '' -f "$SANDBOX/key"
sandbox_push benchu "$SANDBOX/key.pub" >/dev/null || fail "the push failed"

# The plain sshd: the same configuration without eic, the key in an authorized_keys file.
install -d -m 0755 /srv/plain-keys
install -m 0644 "$SANDBOX/key.pub" /srv/plain-keys/benchu
sed -e 's/^Port 2222/Port 2223/' -e '/^AuthorizedKeysCommand/d' -e "s|^PidFile .*|PidFile $SANDBOX/plain.pid|" \
    -e 's|^AuthorizedKeysFile .*|AuthorizedKeysFile /srv/plain-keys/%u|' "$SANDBOX/sshd_config" >"$SANDBOX/plain_config"
/usr/sbin/sshd -D -f "$SANDBOX/plain_config" -E "$SANDBOX/plain.log" &
SANDBOX_PIDS="$SANDBOX_PIDS $!"
for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/2223) 2>/dev/null && break
    sleep 0.05
done

login() { # login PORT
    ssh -p "$1" -i "$SANDBOX/key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR benchu@127.0.0.1 true
}
login 2222 || fail "the login through eic failed (see $AKC_LOG)"
login 2223 || fail "the login with authorized_keys failed"
log_lines=$(wc -l <"$AKC_LOG")

for _ in $(seq 1 "$N"); do
    for port in 2222 2223; do
        s=$EPOCHREALTIME
        login $port || fail "a login on port $port failed"
        e=$EPOCHREALTIME
        echo $((${e/./} - ${s/./})) >>"$SANDBOX/us.$port"
    done
done
# Every timed login on 2222 went through eic (two AuthorizedKeysCommand runs each).
provided=$(tail -n +$((log_lines + 1)) "$AKC_LOG" | grep -c 'Providing ssh key from EC2 Instance Connect')
[ "$provided" -eq $((2 * N)) ] || fail "expected $((2 * N)) keys provided by eic, the log says $provided"

for port in 2222 2223; do
    label="ssh benchu@host true, key from authorized_keys"
    [ $port = 2222 ] && label="ssh benchu@host true, key from eic"
    sort -n "$SANDBOX/us.$port" | awk -v label="$label" '{ v[NR] = $1 } END {
        printf "%s|%.1f|%.1f|%.1f|%d\n", label, v[int((NR + 1) / 2)] / 1000, v[int((NR * 9 + 9) / 10)] / 1000,
            v[1] / 1000, NR }'
done
