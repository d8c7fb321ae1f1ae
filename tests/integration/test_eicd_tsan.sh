#!/bin/bash
# eicd under ThreadSanitizer (`make eicd-tsan`): 16 clients at once — AuthorizedKeysCommand calls
# for a pushed key and for users with none, and name lookups (two that create accounts in the cache,
# the others unknown) — for several rounds, against the emulator on loopback. eicd serves each
# client in a thread of its own and shares its kept IMDS clients, verified signer and IMDS-down
# memory between them; ThreadSanitizer must report nothing, and every answer must be right. Needs
# root (eicd runs as root).
source "$(dirname "$0")/lib.sh"

ROUNDS=4
if [ "$(id -u)" -ne 0 ]; then
    not_ok "needs root (eicd runs as root)"
    finish
    exit 1
fi
check "make eicd-tsan (eicd with -fsanitize=thread)" make -C "$EIC_BUILD" -s eicd-tsan

PUB=$(mktemp -d /tmp/eic-eicd-tsan.XXXXXX)
chmod 0755 "$PUB"
trap 'rm -rf "$PUB"; cleanup' EXIT
start_emulator emu || exit 1
mkdir -p "$PUB/cache"
cat >"$PUB/eic.conf" <<EOF
imds_endpoint = $EMU_URL
ca_file = $EMU_STATE/ca.pem
log_file = $WORK/eic.log
service_socket = $PUB/run/eicd.sock
authorized_keys_user = root
cache_dir = $PUB/cache
[map arn:aws:iam::111122223333:user/*]
name = tsan-{user}
[map arn:aws:sts::111122223333:assumed-role/Admins/*]
name = tsan-{session}
EOF
chmod 0644 "$PUB/eic.conf"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/key"
FP=$(ssh-keygen -lf "$WORK/key.pub" | awk '{print $2}')
push() { # push ACCESS SECRET OS_USER
    AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 "$EIC_CLIENT" send-ssh-public-key --endpoint-url "$EMU_URL" \
        --region $REGION --instance-id $INSTANCE --instance-os-user "$3" --ssh-public-key "file://$WORK/key.pub" >/dev/null
}
push "$ALICE_AK" "$ALICE_SK" root && push "$ALICE_AK" "$ALICE_SK" tsan-alice && push "$BOB_AK" "$BOB_SK" tsan-bob ||
    not_ok "pushes"

EICD="$EIC_BUILD/tests/tsan/eicd"
# TSAN_OPTIONS splits at white space: the suppressions go by a path without any.
cp "$TOP/tests/stress/tsan.supp" "$WORK/suppressions"
export TSAN_OPTIONS="log_path=$WORK/tsan exitcode=66 suppressions=$WORK/suppressions"
start_eicd "$PUB/eic.conf" "$PUB/run/eicd.sock" || { not_ok "eicd (TSan) starts"; finish; exit 1; }
unset TSAN_OPTIONS

client() { # client I ROUND: one of the 16, its answer checked, "ok" or what went wrong in $WORK/out.I.ROUND
    local i=$1 r=$2 out want
    case $((i % 4)) in
    0)
        out=$("$EIC_AKC" -c "$PUB/eic.conf" -- root "$FP") && [ "$out" = "$(awk '{print $1, $2}' "$WORK/key.pub")" ]
        ;;
    1)
        out=$("$EIC_AKC" -c "$PUB/eic.conf" -- daemon "") && [ -z "$out" ]
        ;;
    2)
        want=0
        [ $((i % 8)) = 2 ] && name=tsan-alice || name=tsan-bob
        out=$(/usr/bin/python3 "$TOP/tests/integration/eicd_client.py" "$PUB/run/eicd.sock" resolve "$name") &&
            [ "${out%% *}" = "$want" ]
        ;;
    3)
        out=$(/usr/bin/python3 "$TOP/tests/integration/eicd_client.py" "$PUB/run/eicd.sock" resolve "nobody-$i-$r") &&
            [ "${out%% *}" = 2 ]
        ;;
    esac
    if [ $? -eq 0 ]; then echo ok; else echo "client $i round $r: $out"; fi >"$WORK/out.$i.$r"
}
rounds() {
    local r i pids bad=0
    for r in $(seq 1 $ROUNDS); do
        pids=()
        for i in $(seq 0 15); do
            client "$i" "$r" &
            pids+=($!)
        done
        wait "${pids[@]}"
    done
    for f in "$WORK"/out.*; do
        [ "$(cat "$f")" = ok ] || { cat "$f"; bad=$((bad + 1)); }
    done
    echo "$bad of $((16 * ROUNDS)) answers wrong"
    [ $bad -eq 0 ]
}
check "$ROUNDS rounds of 16 clients at once: every answer right" rounds
check "... the two accounts are in the cache once each" \
    bash -c "[ \$(LD_LIBRARY_PATH='$EIC_BUILD/nss_eic' EIC_CONFIG='$PUB/eic.conf' getent -s eic passwd | grep -c '^tsan-') -eq 2 ]"
tsan_clean() {
    local rc
    kill -TERM "$EICD_PID"
    wait "$EICD_PID"; rc=$?
    EICD_PID=""
    echo "eicd exit $rc"
    if ls "$WORK"/tsan.* >/dev/null 2>&1; then
        head -n 60 "$WORK"/tsan.*
        return 1
    fi
    [ $rc -eq 0 ]
}
check "ThreadSanitizer reports nothing; eicd exits 0 on SIGTERM" tsan_clean
finish
