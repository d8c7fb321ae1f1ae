#!/bin/bash
# No borrowed names or groups (issue #10 item 3), through glibc and eicd: in a private mount
# namespace, a test nsswitch.conf (`passwd: files eicfake eic`) is bind-mounted over
# /etc/nsswitch.conf, where eicfake (tests/unit/nss_eicfake.c) stands for a directory (SSSD, LDAP)
# and answers from a file the test rewrites. eicd must not create an account whose name that source
# knows, or while it is unavailable or hung (each logged, naming it); a name it does not know is
# created. Then the directory learns an eic account's name: `id` of that directory user gets none of
# the eic account's groups (nss_eic's initgroups checks the primary gid), an eic account still gets
# them, and the account step says the eic account is shadowed. Needs root.
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --mount --propagation private bash "$0" --inside
fi
. "$(dirname "$0")/lib.sh"

CASES=(
    "a name another NSS source knows is not created: eicd answers EEXIST and logs which source"
    "a name whose private group another NSS source knows is not created, logged"
    "an NSS source answering UNAVAIL (directory down): not created now (EAGAIN), logged"
    "an NSS source that hangs: eicd answers within imds_timeout_ms + 200 ms, not created now, logged"
    "control: a name no source knows is created (alice, then bob)"
    "the directory now knows alice (another uid and gid): id alice is the directory user, with none of the eic account's groups"
    "bob, an eic account, still gets his private group and eic-admins (id -G)"
    "the account step of alice: not IAM-mapped, and eicd logs that the eic account is shadowed"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi
FAKE_DIR="$EIC_BUILD/tests/unit"
if [ ! -f "$FAKE_DIR/libnss_eicfake.so.2" ] || [ ! -f "$EIC_BUILD/nss_eic/libnss_eic.so.2" ]; then
    for c in "${CASES[@]}"; do not_ok "$c (libnss_eicfake.so.2 or libnss_eic.so.2 not built)"; done
    finish
    exit
fi

# ---- the namespace's nsswitch.conf: eicfake before eic, everything else as the host has it ----
sed -E -e '/^(passwd|group|initgroups):/d' /etc/nsswitch.conf >"$WORK/nsswitch.conf"
printf 'passwd: files eicfake eic\ngroup: files eicfake eic\n' >>"$WORK/nsswitch.conf"
mount --bind "$WORK/nsswitch.conf" /etc/nsswitch.conf || { not_ok "bind-mount nsswitch.conf"; finish; exit 1; }

start_emulator main || { not_ok "emulator starts"; finish; exit 1; }
CONF="$WORK/eic.conf"
CACHE="$WORK/cache"
LOG="$WORK/eic.log"
SOCK="$WORK/run/eicd.sock"
ANSWERS="$WORK/directory"
mkdir -p "$CACHE" "$WORK/run"
: >"$ANSWERS"
cat >"$CONF" <<EOF
imds_endpoint = $EMU_URL
imds_timeout_ms = $((1000 * TIME_SCALE))
ca_file = $EMU_STATE/ca.pem
cache_dir = $CACHE
log_file = $LOG
log_level = debug
service_socket = $SOCK

[map arn:aws:iam::111122223333:user/*]
name = {user}
groups = eic-admins

[map arn:aws:sts::111122223333:assumed-role/Admins/*]
name = {session}
groups = eic-admins
EOF
chmod 0644 "$CONF"
# The directory's answers (read by the module at every call), eic's configuration and cache for
# the module in every process here; eicd finds both modules where glibc does, on its library path.
export EIC_FAKE_NSS_FILE="$ANSWERS" EIC_CONFIG="$CONF" EIC_MISS_DIR="$WORK/run/miss"
LD_LIBRARY_PATH="$FAKE_DIR:$EIC_BUILD/nss_eic" start_eicd "$CONF" "$SOCK" || { not_ok "eicd starts"; finish; exit 1; }
CLIENT=(/usr/bin/python3 "$TOP/tests/integration/eicd_client.py" "$SOCK")
with_modules() { LD_LIBRARY_PATH="$FAKE_DIR:$EIC_BUILD/nss_eic" $EIC_TEST_HOST_WRAPPER "$@"; }
log_mark() { wc -l <"$LOG" 2>/dev/null || echo 0; }
log_since() { tail -n +$(($1 + 1)) "$LOG"; }
in_cache() { [ -f "$CACHE/accounts.db" ] && grep -qa "$1" "$CACHE/accounts.db"; }

push_key() { # push_key OS_USER ACCESS_KEY SECRET_KEY
    rm -f "$WORK/key" "$WORK/key.pub"
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/key" >/dev/null
    env -i PATH="$PATH" HOME="$WORK" AWS_ACCESS_KEY_ID="$2" AWS_SECRET_ACCESS_KEY="$3" \
        "$EIC_CLIENT" send-ssh-public-key --instance-id "$INSTANCE" --instance-os-user "$1" \
        --ssh-public-key "file://$WORK/key.pub" --availability-zone "$ZONE" --endpoint-url "$EMU_URL" >/dev/null
}
# refused NAME CODE LOG-TEXT: eicd answers CODE to resolving NAME, logs LOG-TEXT, and NAME is not cached.
refused() {
    local m out
    m=$(log_mark)
    out=$("${CLIENT[@]}" resolve "$1")
    echo "answer: $out"
    log_since "$m"
    [ "${out%% *}" = "$2" ] && log_since "$m" | grep -qF "$3" && ! in_cache "$1"
}

push_key alice "$ALICE_AK" "$ALICE_SK" || { not_ok "push for alice"; finish; exit 1; }
push_key bob "$BOB_AK" "$BOB_SK" || { not_ok "push for bob"; finish; exit 1; }

echo "passwd alice found 5000 5000" >"$ANSWERS"
check "${CASES[0]}" refused alice 17 "alice not created: the NSS source eicfake knows it"
echo "group alice found 5000" >"$ANSWERS"
check "${CASES[1]}" refused alice 17 "alice not created: the NSS source eicfake knows a group alice"
echo "passwd alice unavail" >"$ANSWERS"
check "${CASES[2]}" refused alice 11 "alice not created now: the NSS source eicfake answers UNAVAIL"

hung_bounded() {
    local t0 t1
    echo "passwd bob hang $((3 * TIME_SCALE))" >"$ANSWERS" # longer than the deadline, in every suite
    t0=$(date +%s%3N)
    refused bob 11 "bob not created now: the NSS source eicfake did not answer in time" || return 1
    t1=$(date +%s%3N)
    echo "answered in $((t1 - t0)) ms"
    [ $((t1 - t0)) -lt $((1000 * TIME_SCALE + 200 + 500)) ]
}
check_timed "${CASES[3]}" hung_bounded

created() {
    local out who
    : >"$ANSWERS"
    for who in alice bob; do
        out=$("${CLIENT[@]}" resolve "$who")
        echo "$who: $out"
        [ "${out%% *}" = 0 ] && in_cache "$who" || return 1
    done
}
check "${CASES[4]}" created

ALICE_EIC=$(with_modules getent passwd alice | cut -d: -f3)
BOB_EIC=$(with_modules getent passwd bob | cut -d: -f3)
ADMINS=$(with_modules getent group eic-admins | cut -d: -f3)
echo "# eic: alice $ALICE_EIC, bob $BOB_EIC, eic-admins $ADMINS"

directory_alice() {
    local groups
    echo "passwd alice found 5000 5000" >"$ANSWERS"
    with_modules id alice
    [ "$(with_modules id -u alice)" = 5000 ] || return 1
    groups=$(with_modules id -G alice) || return 1
    echo "id -G alice: $groups"
    [ -n "$ADMINS" ] && [ -n "$ALICE_EIC" ] && [ "$groups" = 5000 ]
}
check "${CASES[5]}" directory_alice

eic_bob() {
    local groups
    groups=$(with_modules id -G bob) || return 1
    echo "id -G bob: $groups"
    [ -n "$ADMINS" ] && echo " $groups " | grep -q " $BOB_EIC " && echo " $groups " | grep -q " $ADMINS "
}
check "${CASES[6]}" eic_bob

shadowed() {
    local m out
    m=$(log_mark)
    out=$("${CLIENT[@]}" account alice)
    echo "answer: $out"
    log_since "$m"
    [ "$out" = "2 not an IAM-mapped account" ] &&
        log_since "$m" | grep -qF "IAM-mapped account alice (uid $ALICE_EIC) is shadowed: NSS resolves alice to uid 5000"
}
check "${CASES[7]}" shadowed

finish
