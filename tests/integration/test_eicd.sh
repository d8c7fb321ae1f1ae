#!/bin/bash
# eicd and eic-authorized-keys as its client, against the emulator on loopback (no namespace): the
# socket, who may ask what (peer credentials), malformed and stuck clients, the AKC's fallback when
# the service is gone, that the AKC loads libc only, and what eicd keeps between requests (IMDS
# clients, the verified signer, the records verified for a key). Needs root (eicd runs as root, the
# AKC runs as other users).
source "$(dirname "$0")/lib.sh"

CASES=(
    "eicd --foreground makes its socket: root's, mode 0666, in a root-owned 0755 directory"
    "the AKC (run as the AuthorizedKeysCommandUser) gets the pushed key from eicd, logged as AWS does"
    "the AKC run as root gets it too"
    "another local user asking for keys is refused (nothing printed, exit 1) and eicd logs who asked"
    "resolving a name: refused to a non-root caller, no IMDS request"
    "pam_eic's account step (it may write the account cache): refused to a non-root caller; root is answered"
    "pam_eic's session question (the key the AKC let in): refused to a non-root caller; root gets the key the AKC was given"
    "a malformed request is dropped and logged; eicd goes on answering"
    "a client that stalls does not hold up a root request"
    "an unknown request type is answered EOPNOTSUPP, not dropped"
    "eic-authorized-keys loads libc only"
    "the same key asked for again (a login's second AKC run): answered from the records verified at the first, no IMDS request"
    "a request without a fingerprint is fetched: one IMDS GET (the records), no token PUT (token and verified signer kept)"
    "a key pushed since, with another fingerprint: fetched at its first request (one GET), answered from memory at its second"
    "a new signer key under the same root: the records do not verify with the kept one, it is verified again and the key printed"
    "the kept signer replaced: the records verified with the old one are forgotten (a key remembered before is fetched again)"
    "a remembered record that has expired is never answered: the next request is fetched (and finds no key)"
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
# log_level debug: eicd says so when records it remembers answer.
printf 'imds_endpoint = %s\nca_file = %s\nlog_file = %s\ndeadline_ms = %s\nservice_socket = %s\nauthorized_keys_user = nobody\nlog_level = debug\n' \
    "$EMU_URL" "$PUB/ca.pem" "$LOG" $((3000 * TIME_SCALE)) "$SOCK" >"$PUB/eic.conf"
chmod 0644 "$PUB/eic.conf"
push_key() { # push_key PUBLIC_KEY_FILE: to USER_NAME, as alice
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK "$EIC_CLIENT" send-ssh-public-key \
        --endpoint-url "$EMU_URL" --region $REGION --instance-id $INSTANCE --instance-os-user "$USER_NAME" \
        --ssh-public-key "file://$1" >/dev/null
}
push_key "$WORK/key.pub"

as_user() { local u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"; }
# akc_as USER [FINGERPRINT]: the AKC as sshd runs it, for USER_NAME (default: the first key's)
akc_as() { as_user "$1" "$AKC" -c "$PUB/eic.conf" -- "$USER_NAME" "${2-$FP}"; }
log_mark() { wc -l <"$LOG"; }
log_since() { tail -n +$(($1 + 1)) "$LOG"; }
emu_mark() { wc -l <"$EMU_STATE/emulator.log"; }
imds_requests_since() { tail -n +$(($1 + 1)) "$EMU_STATE/emulator.log" | grep -c ' /latest/'; }
token_puts_since() { tail -n +$(($1 + 1)) "$EMU_STATE/emulator.log" | grep -c ' PUT /latest/api/token '; }
imds_gets_since() { tail -n +$(($1 + 1)) "$EMU_STATE/emulator.log" | grep -c ' GET /latest/'; }
# restart_emulator [OPTIONS...]: the emulator again, at the same address with the same state
# directory (the same root CA, so the same kept state applies), with OPTIONS. Pushed keys are gone.
restart_emulator() {
    local listen=${EMU_URL#http://}
    stop_emulator
    rm -f "$WORK/emu2.ready"
    "$EMULATOR" --listen "$listen" --state-dir "$EMU_STATE" --ready-file "$WORK/emu2.ready" \
        --log-file "$EMU_STATE/emulator.log" "$@" >"$WORK/emu2.out" 2>&1 &
    EMU_PID=$!
    EMU_PIDS="$EMU_PIDS $EMU_PID"
    for _ in $(seq 1 200); do [ -s "$WORK/emu2.ready" ] && break; sleep 0.05; done
    [ -s "$WORK/emu2.ready" ] || { cat "$WORK/emu2.out"; return 1; }
    cmp -s "$EMU_STATE/ca.pem" "$PUB/ca.pem" || { echo "the root CA changed"; return 1; }
}

start_eicd "$PUB/eic.conf" "$SOCK" || { not_ok "eicd starts"; finish; exit; }

socket_safe() {
    stat -c '%U %a %F' "$SOCK" "$PUB/run"
    [ "$(stat -c '%U %a' "$SOCK")" = "root 666" ] && [ "$(stat -c '%U %a' "$PUB/run")" = "root 755" ]
}
check "${CASES[0]}" socket_safe

from_service() { # from_service USER [KEY]: the key (default: the first), from the service (the fallback never ran)
    local m out key=${2:-$WORK/key} fp line
    fp=$(ssh-keygen -lf "$key.pub" | awk '{print $2}')
    line=$(awk '{print $1, $2}' "$key.pub")
    m=$(log_mark)
    out=$(akc_as "$1" "$fp") || { echo "exit $?: $out"; log_since "$m"; return 1; }
    log_since "$m"
    [ "$out" = "$line" ] || { echo "printed: $out"; return 1; }
    log_since "$m" | grep -q "eic-authorized-keys\[.*Providing ssh key from EC2 Instance Connect with fingerprint: $fp, request-id: .*, for IAM principal: arn:aws:iam::111122223333:user/alice" &&
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

account_refused() {
    local m out
    m=$(log_mark)
    out=$(as_user nobody "${CLIENT[@]}" "$SOCK" account "$USER_NAME")
    echo "answer to nobody: $out"
    [ "${out%% *}" = 1 ] && log_since "$m" | grep -q "account step of $USER_NAME refused to uid $(id -u nobody)" || return 1
    # root: a local account is not IAM-mapped (ENOENT), an invalid name is refused (EINVAL)
    out=$("${CLIENT[@]}" "$SOCK" account "$USER_NAME")
    echo "answer to root: $out"
    [ "$out" = "2 not an IAM-mapped account" ] || return 1
    out=$("${CLIENT[@]}" "$SOCK" account "-x")
    echo "answer to root for -x: $out"
    [ "$out" = "22 invalid user name" ]
}
check "${CASES[5]}" account_refused

session_question() {
    local m out fp
    fp=$(ssh-keygen -lf "$WORK/key.pub" | awk '{print $2}')
    m=$(log_mark)
    out=$(as_user nobody "${CLIENT[@]}" "$SOCK" session "$USER_NAME" "$fp")
    echo "answer to nobody: $out"
    [ "${out%% *}" = 1 ] && log_since "$m" | grep -q "session key of $USER_NAME refused to uid $(id -u nobody)" ||
        return 1
    akc_as nobody >/dev/null || return 1
    out=$("${CLIENT[@]}" "$SOCK" session "$USER_NAME" "$fp")
    echo "answer to root: ${out:0:120}"
    [ "${out%% *}" = 0 ] && echo "$out" | grep -q "$fp"
}
check "${CASES[6]}" session_question

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
check "${CASES[7]}" malformed_dropped

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
check_timed "${CASES[8]}" stalled_client_harmless

unknown_request() {
    local out
    out=$("${CLIENT[@]}" "$SOCK" raw 0000000800010063)
    echo "answer: $out"
    [ "$out" = "95 unknown request" ]
}
check "${CASES[9]}" unknown_request

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
check "${CASES[10]}" libc_only

same_key_again() {
    local e m
    from_service root || return 1
    e=$(emu_mark)
    m=$(log_mark)
    from_service nobody || return 1
    echo "$(imds_requests_since "$e") IMDS requests"
    [ "$(imds_requests_since "$e")" -eq 0 ] &&
        log_since "$m" | grep -q "eicd\[.*debug: key $FP for $USER_NAME: the records verified [0-9]* ms ago answer, no IMDS request"
}
check "${CASES[11]}" same_key_again

no_fingerprint_fetched() {
    local e out
    e=$(emu_mark)
    out=$(akc_as root "") || { echo "exit $?: $out"; return 1; }
    echo "printed: $out; $(token_puts_since "$e") token PUTs, $(imds_gets_since "$e") GETs"
    [ "$out" = "$KEY_LINE" ] && [ "$(token_puts_since "$e")" -eq 0 ] && [ "$(imds_gets_since "$e")" -eq 1 ]
}
check "${CASES[12]}" no_fingerprint_fetched

ssh-keygen -q -t ed25519 -N '' -C eicd-test-2 -f "$WORK/key2"
new_key_fetched() {
    local e
    push_key "$WORK/key2.pub" || return 1
    e=$(emu_mark)
    from_service root "$WORK/key2" || return 1
    echo "first request: $(imds_gets_since "$e") GETs"
    [ "$(imds_gets_since "$e")" -eq 1 ] || return 1
    e=$(emu_mark)
    from_service nobody "$WORK/key2" || return 1
    echo "second request: $(imds_requests_since "$e") IMDS requests"
    [ "$(imds_requests_since "$e")" -eq 0 ]
}
check "${CASES[13]}" new_key_fetched

ssh-keygen -q -t ed25519 -N '' -C eicd-test-3 -f "$WORK/key3"
new_signer() {
    local m
    # A new signer key: AWS rotating its signer. The emulator issues again only what is missing
    # from its state directory. A key pushed now is signed by it.
    rm -f "$EMU_STATE/signer.pem" "$EMU_STATE/signer.key"
    restart_emulator || return 1
    push_key "$WORK/key3.pub" || return 1
    m=$(log_mark)
    from_service root "$WORK/key3" &&
        log_since "$m" | grep -q "a key record for $USER_NAME does not verify with the signer verified before; verifying the signer again"
}
check "${CASES[14]}" new_signer

# key2 was remembered (and would still be within its lifetime) with the signer now replaced; the
# emulator started again holds no record of it.
signer_replaced_forgets() {
    local e out
    e=$(emu_mark)
    out=$(akc_as root "$(ssh-keygen -lf "$WORK/key2.pub" | awk '{print $2}')")
    echo "printed: '$out'; $(imds_gets_since "$e") GETs"
    [ -z "$out" ] && [ "$(imds_gets_since "$e")" -ge 1 ]
}
check "${CASES[15]}" signer_replaced_forgets

# Keys that live LIFETIME seconds (the emulator's clock: no fixture can be signed by its signer
# otherwise); long enough for the first request under valgrind. Then the emulator as it was, with
# the first key pushed again for the cases after this one.
LIFETIME=$((3 * TIME_SCALE))
ssh-keygen -q -t ed25519 -N '' -C eicd-test-4 -f "$WORK/key4"
expired_not_answered() {
    local e out rc=0
    restart_emulator --key-lifetime "$LIFETIME" || return 1
    push_key "$WORK/key4.pub" || return 1
    from_service root "$WORK/key4" || rc=1
    sleep $((LIFETIME + 1))
    e=$(emu_mark)
    out=$(akc_as root "$(ssh-keygen -lf "$WORK/key4.pub" | awk '{print $2}')")
    echo "after expiry: printed '$out'; $(imds_gets_since "$e") GETs"
    [ -z "$out" ] && [ "$(imds_gets_since "$e")" -ge 1 ] || rc=1
    restart_emulator && push_key "$WORK/key.pub" || rc=1
    return $rc
}
check "${CASES[16]}" expired_not_answered

anchor_replaced() {
    local m out rc
    install -m 0644 "$TEST_DATA/verify/pki/rogue-ca.pem" "$PUB/ca.pem"
    m=$(log_mark)
    out=$(akc_as root); rc=$?
    log_since "$m"
    install -m 0644 "$EMU_STATE/ca.pem" "$PUB/ca.pem"
    [ $rc -eq 1 ] && [ -z "$out" ] && log_since "$m" | grep -q "signer not trusted"
}
check "${CASES[17]}" anchor_replaced

without_service() {
    local m out
    stop_eicd
    m=$(log_mark)
    out=$(akc_as nobody) || { echo "exit $?: $out"; log_since "$m"; return 1; }
    log_since "$m"
    [ "$out" = "$KEY_LINE" ] && log_since "$m" | grep -q "eicd does not answer on $SOCK .*; checking without it" &&
        log_since "$m" | grep -q "Providing ssh key from EC2 Instance Connect with fingerprint: $FP"
}
check "${CASES[18]}" without_service

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
check "${CASES[19]}" second_refused
check "${CASES[20]}" sigterm_exits_0

if [ "$TAP_FAILED" -ne 0 ]; then
    echo "# --- eic.log"; sed 's/^/# /' "$LOG" | tail -n 30
    echo "# --- eicd stdout/stderr"; sed 's/^/# /' "$WORK/eicd.out" | tail -n 10
fi
finish
