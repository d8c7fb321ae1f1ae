#!/bin/bash
# End to end (issue #13): an IPv6-only instance, as a Nitro instance in an IPv6-only subnet sees
# it. The namespace has no IPv4 but loopback (no route to 169.254.169.254); the emulator answers at
# [fd00:ec2::254]:80 only, on an interface of its own (a veth pair: this kernel may lack "dummy"). With imds_endpoint at its default (auto) eicd
# discovers IMDS there, logs it, and a pushed key logs in through the real sshd. Then an IPv4 IMDS
# that drops packets (a route into a veth pair whose other end has no such address): discovery gives
# it EIC_IMDS_DISCOVER_CONNECT_MS (250 ms) and still finds IPv6; and a pinned imds_endpoint is not
# discovered around. The sandbox of test_e2e_login.sh (tests/integration/sandbox.sh). Needs root
# (CI runs as root); without root every case reports "not ok", never a skip.
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

CASES=(
    "IPv6 only: a pushed key logs in"
    "eicd logs the endpoint it discovered, once"
    "IPv4 IMDS dropping packets: the fallback finds IPv6 IMDS within the bound"
    "imds_endpoint pins one endpoint: no discovery"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

SANDBOX="$WORK"
SANDBOX_IMDS_ADDR="[fd00:ec2::254]"
TUSER=eicuser
trap 'sandbox_stop; cleanup' EXIT

sandbox_setup
# sandbox_setup put 169.254.169.254 on lo for the IPv4 tests: not here.
ip addr del 169.254.169.254/32 dev lo
ip link add imds6 type veth peer name imds6p
ip link set imds6p up
ip link set imds6 up
ip addr add fd00:ec2::254/128 dev imds6 nodad
sandbox_add_user $TUSER 61000
ssh-keygen -q -t ed25519 -N '' -C key-eic -f "$WORK/key-eic"
sandbox_write_config
sandbox_start_imds || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }
echo "# addresses: $(ip -brief addr | tr '\n' ';')"

push() { sandbox_push $TUSER "$WORK/key-eic.pub" >>"$WORK/push.log" 2>&1; }
push
login() { [ "$(sandbox_login $TUSER "$WORK/key-eic" 'id -un')" = $TUSER ]; }
check "${CASES[0]}" login
discovered_once() {
    push && login || return 1
    [ "$(grep -c 'IMDS answers at http://\[fd00:ec2::254\] (discovered; no answer from http://169.254.169.254' \
        "$AKC_LOG")" -eq 1 ] || { grep IMDS "$AKC_LOG"; return 1; }
}
check "${CASES[1]}" discovered_once

# Packets to 169.254.169.254 go into a veth pair, to a MAC address no one has, and vanish: a
# connect that never completes.
ip link add imds4 type veth peer name imds4p
ip link set imds4p up
ip link set imds4 up
ip addr add 169.254.0.2/32 dev imds4
ip route add 169.254.169.254/32 dev imds4 src 169.254.0.2
ip neigh add 169.254.169.254 lladdr 02:00:00:00:00:01 dev imds4 nud permanent
# eic-authorized-keys-verify (eicd's own check, in-process) discovers afresh in each run.
verify_as_nobody() { su -s /bin/sh nobody -c "$SANDBOX_VERIFY -- $TUSER" >"$WORK/verify.out" 2>&1; }
dropped_v4() {
    local start ms connect_ms from
    push || return 1
    from=$(($(wc -l <"$AKC_LOG") + 1))
    start=$(date +%s%N)
    verify_as_nobody || { cat "$WORK/verify.out"; return 1; }
    ms=$((($(date +%s%N) - start) / 1000000))
    echo "keys after $ms ms"
    grep -q "^ssh-ed25519 " "$WORK/verify.out" || return 1
    # libcurl's own count of what the IPv4 connect cost: 250 ms (EIC_IMDS_DISCOVER_CONNECT_MS).
    # Its words depend on where the timer fired: "Failed to connect to ... after 250 ms: Timeout
    # was reached" in the connect, "Connection timeout after 250 ms" between two of its steps.
    connect_ms=$(tail -n +"$from" "$AKC_LOG" | grep 'discovered; no answer from http://169.254.169.254' |
        sed -n 's/.*no answer from http:\/\/169\.254\.169\.254 (.* after \([0-9]*\) ms\b.*/\1/p')
    echo "IPv4 connect given up after ${connect_ms:-?} ms"
    [ -n "$connect_ms" ] && [ "$connect_ms" -ge 250 ] && [ "$connect_ms" -lt 400 ] || return 1
    # Then the whole check over IPv6 (about 100 ms here, a second under ASan), well within deadline_ms.
    [ $ms -lt "$SANDBOX_DEADLINE_MS" ]
}
check_timed "${CASES[2]}" dropped_v4

sandbox_write_config "imds_endpoint = http://169.254.169.254"
pinned() {
    local m
    m=$(stat -c %s "$AKC_LOG")
    ! verify_as_nobody || { echo "keys printed"; return 1; }
    ! tail -c +$((m + 1)) "$AKC_LOG" | grep -q discovered || return 1
    tail -c +$((m + 1)) "$AKC_LOG" | grep -q "IMDS /latest/meta-data/managed-ssh-keys/active-keys/$TUSER/: timed out"
}
check "${CASES[3]}" pinned

if [ "$TAP_FAILED" -ne 0 ]; then
    echo "# --- akc.log"; sed 's/^/# /' "$AKC_LOG" | tail -n 30
    echo "# --- sshd.log"; sed 's/^/# /' "$WORK/sshd.log" | tail -n 30
    echo "# --- push.log"; sed 's/^/# /' "$WORK/push.log" | tail -n 10
    echo "# --- eicd.out"; sed 's/^/# /' "$WORK/eicd.out" | tail -n 10
fi
finish
