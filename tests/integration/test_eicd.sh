#!/bin/bash
# eicd and eic-authorized-keys as its client, against the emulator on loopback (no namespace): the
# socket, who may ask what (peer credentials), malformed and stuck clients, the AKC's fallback when
# the service is gone, and that the AKC loads libc only. Needs root (eicd runs as root, the AKC
# runs as other users).
source "$(dirname "$0")/lib.sh"

CASES=(
    "eicd --foreground makes its socket: root's, mode 0666, in a root-owned 0755 directory"
    "the AKC (run as the AuthorizedKeysCommandUser) gets the pushed key from eicd, logged as AWS does"
    "the AKC run as root gets it too"
    "another local user asking for keys is refused (nothing printed, exit 1) and eicd logs who asked"
    "resolving a name: refused to a non-root caller, no IMDS request"
    "a malformed request is dropped and logged; eicd goes on answering"
    "a client that stalls does not hold up a root request"
    "an unknown request type is answered EOPNOTSUPP, not dropped"
    "eic-authorized-keys loads libc only"
    "a second login's request: one IMDS GET (the records), no token PUT (token and verified signer kept)"
    "a new signer key under the same root: the records do not verify with the kept one, it is verified again and the key printed"
    "the trust anchor replaced (by a CA that does not anchor the signer): the kept signer is not relied on, no key"
    "without eicd the AKC checks by itself (eic-authorized-keys-verify) and prints the key"
    "a second eicd on the same socket refuses to start; the first goes on"
    "SIGTERM: eicd exits 0"
)
if [ "$(id -u)" -ne 0 ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root)"; done
    finish
    exit
fi

# What users other than root run or read lives in a directory everyone may traverse ($WORK is 0700).
PUB=$(mktemp -d /tmp/eic-eicd.XXXXXX)
chmod 0755 "$PUB"
trap 'rm -rf "$PUB"; cleanup' EXIT
mkdir -p "$PUB/bin" "$PUB/run"
install -m 0755 "$EIC_BUILD/authorized_keys/eic-authorized-keys" "$EIC_BUILD/authorized_keys/eic-authorized-keys-verify" \
    "$PUB/bin/"
# The test client too: nobody runs it, and the checkout may be under a directory only root can enter.
install -m 0644 "$TOP/tests/integration/eicd_client.py" "$PUB/bin/"
CLIENT=(/usr/bin/python3 "$PUB/bin/eicd_client.py")
AKC="$PUB/bin/eic-authorized-keys"
SOCK="$PUB/run/eicd.sock"
LOG="$PUB/eic.log"
touch "$LOG"
chown nobody "$LOG"
USER_NAME=$(id -un)
ssh-keygen -q -t ed25519 -N '' -C eicd-test -f "$WORK/key"
FP=$(ssh-keygen -lf "$WORK/key.pub" | awk '{print $2}')
KEY_LINE=$(awk '{print $1, $2}' "$WORK/key.pub")

start_emulator emu || exit 1
install -m 0644 "$EMU_STATE/ca.pem" "$PUB/ca.pem"
printf 'imds_endpoint = %s\nca_file = %s\nlog_file = %s\ndeadline_ms = %s\nservice_socket = %s\nauthorized_keys_user = nobody\n' \
    "$EMU_URL" "$PUB/ca.pem" "$LOG" $((3000 * TIME_SCALE)) "$SOCK" >"$PUB/eic.conf"
chmod 0644 "$PUB/eic.conf"
AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK "$EIC_CLIENT" send-ssh-public-key \
    --endpoint-url "$EMU_URL" --region $REGION --instance-id $INSTANCE --instance-os-user "$USER_NAME" \
    --ssh-public-key "file://$WORK/key.pub" >/dev/null

as_user() { local u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"; }
akc_as() { as_user "$1" "$AKC" -c "$PUB/eic.conf" -- "$USER_NAME" "$FP"; }
log_mark() { wc -l <"$LOG"; }
log_since() { tail -n +$(($1 + 1)) "$LOG"; }
imds_requests_since() { tail -n +$(($1 + 1)) "$EMU_STATE/emulator.log" | grep -c ' /latest/'; }

start_eicd "$PUB/eic.conf" "$SOCK" || { not_ok "eicd starts"; finish; exit; }

socket_safe() {
    stat -c '%U %a %F' "$SOCK" "$PUB/run"
    [ "$(stat -c '%U %a' "$SOCK")" = "root 666" ] && [ "$(stat -c '%U %a' "$PUB/run")" = "root 755" ]
}
check "${CASES[0]}" socket_safe

from_service() { # from_service USER: the key, from the service (the fallback never ran)
    local m out
    m=$(log_mark)
    out=$(akc_as "$1") || { echo "exit $?: $out"; log_since "$m"; return 1; }
    log_since "$m"
    [ "$out" = "$KEY_LINE" ] || { echo "printed: $out"; return 1; }
    log_since "$m" | grep -q "eic-authorized-keys\[.*Providing ssh key from EC2 Instance Connect with fingerprint: $FP, request-id: .*, for IAM principal: arn:aws:iam::111122223333:user/alice" &&
        ! log_since "$m" | grep -q "checking without it"
}
check "${CASES[1]}" from_service nobody
check "${CASES[2]}" from_service root

other_user_refused() {
    local m out rc
    m=$(log_mark)
    out=$(as_user daemon "$AKC" -c "$PUB/eic.conf" -- "$USER_NAME" "$FP"); rc=$?
    log_since "$m"
    [ $rc -eq 1 ] && [ -z "$out" ] &&
        log_since "$m" | grep -q "eicd\[.*keys for $USER_NAME refused to uid $(id -u daemon) (pid [0-9]*): only root and nobody may ask"
}
check "${CASES[3]}" other_user_refused

resolve_refused() {
    local m e out
    m=$(log_mark)
    e=$(wc -l <"$EMU_STATE/emulator.log")
    out=$(as_user nobody "${CLIENT[@]}" "$SOCK" resolve "$USER_NAME-x")
    echo "answer: $out"
    [ "${out%% *}" = 1 ] && log_since "$m" | grep -q "lookup of $USER_NAME-x refused to uid $(id -u nobody)" &&
        [ "$(imds_requests_since "$e")" -eq 0 ]
}
check "${CASES[4]}" resolve_refused

malformed_dropped() {
    local m out
    m=$(log_mark)
    # version 2; then a field running past the end; then a NUL inside a field
    for hex in 0000000800020001 0000000b00010001000861 0000000d000100010003610062; do
        out=$("${CLIENT[@]}" "$SOCK" raw "$hex")
        echo "$hex: $out"
        [ "$out" = closed ] || return 1
    done
    log_since "$m" | grep -c "dropped: malformed request" | grep -qx 3 && from_service root
}
check "${CASES[5]}" malformed_dropped

stalled_client_harmless() {
    local start ms
    "${CLIENT[@]}" "$SOCK" stall 10 &
    local stall=$!
    sleep 0.2
    start=$(date +%s%N)
    from_service root || { kill $stall; return 1; }
    ms=$((($(date +%s%N) - start) / 1000000))
    kill $stall 2>/dev/null; wait $stall 2>/dev/null
    echo "root's request took $ms ms beside a stalled client"
    [ $ms -lt 3000 ]
}
check_timed "${CASES[6]}" stalled_client_harmless

unknown_request() {
    local out
    out=$("${CLIENT[@]}" "$SOCK" raw 0000000800010063)
    echo "answer: $out"
    [ "$out" = "95 unknown request" ]
}
check "${CASES[7]}" unknown_request

libc_only() {
    local libs
    ldd "$EIC_BUILD/authorized_keys/eic-authorized-keys"
    libs=$(ldd "$EIC_BUILD/authorized_keys/eic-authorized-keys" | awk '{print $1}' |
        grep -v -e '^linux-vdso' -e '^/lib64/ld-linux' -e '^libc\.so')
    # The ASan build links the sanitizer runtimes into every program.
    [ "$EIC_TEST_SUITE" = asan ] &&
        libs=$(echo "$libs" | grep -v -e '^libasan' -e '^libubsan' -e '^libstdc++' -e '^libm\.so' -e '^libgcc_s')
    [ -z "$libs" ]
}
check "${CASES[8]}" libc_only

kept_state() {
    local e puts gets
    from_service root || return 1
    e=$(wc -l <"$EMU_STATE/emulator.log")
    from_service nobody || return 1
    puts=$(tail -n +$((e + 1)) "$EMU_STATE/emulator.log" | grep -c ' PUT /latest/api/token ')
    gets=$(tail -n +$((e + 1)) "$EMU_STATE/emulator.log" | grep -c ' GET /latest/')
    echo "$puts token PUTs, $gets GETs"
    [ "$puts" -eq 0 ] && [ "$gets" -eq 1 ]
}
check "${CASES[9]}" kept_state

new_signer() {
    local m listen=${EMU_URL#http://}
    stop_emulator
    # The same address and root CA (the same kept state applies), a new signer key: AWS rotating
    # its signer. The emulator issues again only what is missing from its state directory.
    rm -f "$EMU_STATE/signer.pem" "$EMU_STATE/signer.key"
    "$EMULATOR" --listen "$listen" --state-dir "$EMU_STATE" --ready-file "$WORK/emu2.ready" \
        --log-file "$EMU_STATE/emulator.log" >"$WORK/emu2.out" 2>&1 &
    EMU_PIDS="$EMU_PIDS $!"
    for _ in $(seq 1 200); do [ -s "$WORK/emu2.ready" ] && break; sleep 0.05; done
    [ -s "$WORK/emu2.ready" ] || { cat "$WORK/emu2.out"; return 1; }
    cmp -s "$EMU_STATE/ca.pem" "$PUB/ca.pem" || { echo "the root CA changed"; return 1; }
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK "$EIC_CLIENT" send-ssh-public-key \
        --endpoint-url "$EMU_URL" --region $REGION --instance-id $INSTANCE --instance-os-user "$USER_NAME" \
        --ssh-public-key "file://$WORK/key.pub" >/dev/null || return 1
    m=$(log_mark)
    from_service root &&
        log_since "$m" | grep -q "a key record for $USER_NAME does not verify with the signer verified before; verifying the signer again"
}
check "${CASES[10]}" new_signer

anchor_replaced() {
    local m out rc
    install -m 0644 "$TEST_DATA/verify/pki/rogue-ca.pem" "$PUB/ca.pem"
    m=$(log_mark)
    out=$(akc_as root); rc=$?
    log_since "$m"
    install -m 0644 "$EMU_STATE/ca.pem" "$PUB/ca.pem"
    [ $rc -eq 1 ] && [ -z "$out" ] && log_since "$m" | grep -q "signer not trusted"
}
check "${CASES[11]}" anchor_replaced

without_service() {
    local m out
    stop_eicd
    m=$(log_mark)
    out=$(akc_as nobody) || { echo "exit $?: $out"; log_since "$m"; return 1; }
    log_since "$m"
    [ "$out" = "$KEY_LINE" ] && log_since "$m" | grep -q "eicd does not answer on $SOCK .*; checking without it" &&
        log_since "$m" | grep -q "Providing ssh key from EC2 Instance Connect with fingerprint: $FP"
}
check "${CASES[12]}" without_service

sigterm_exits_0() {
    local rc
    kill -TERM "$EICD_PID"
    wait "$EICD_PID"; rc=$?
    echo "eicd exit $rc"
    [ $rc -eq 0 ]
}
second_refused() {
    local rc
    start_eicd "$PUB/eic.conf" "$SOCK" || return 1
    "$EICD" -c "$PUB/eic.conf" --foreground >"$WORK/second.out" 2>&1; rc=$?
    cat "$WORK/second.out"
    [ $rc -eq 1 ] && grep -q "another eicd listens on $SOCK already" "$WORK/second.out" && from_service root
}
check "${CASES[13]}" second_refused
check "${CASES[14]}" sigterm_exits_0

if [ "$TAP_FAILED" -ne 0 ]; then
    echo "# --- eic.log"; sed 's/^/# /' "$LOG" | tail -n 30
    echo "# --- eicd stdout/stderr"; sed 's/^/# /' "$WORK/eicd.out" | tail -n 10
fi
finish
