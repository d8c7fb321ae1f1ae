#!/bin/bash
# eic-authorized-keys against the emulator on loopback (no namespace): output, exit status, log
# lines and valgrind for valid and invalid cases, unsafe configurations, and IMDS trouble.
source "$(dirname "$0")/lib.sh"
AKC="$EIC_AKC"
USER_NAME=$(id -un)
ssh-keygen -q -t ed25519 -N '' -C akc-test -f "$WORK/key"
FP=$(ssh-keygen -lf "$WORK/key.pub" | awk '{print $2}')

write_config() { # [DEADLINE_MS=N] write_config FILE [EXTRA]
    printf 'imds_endpoint = %s\nca_file = %s\nlog_file = %s\ndeadline_ms = %s\n%s\n' \
        "$EMU_URL" "$EMU_STATE/ca.pem" "$WORK/akc.log" "${DEADLINE_MS:-2000}" "${2:-}" >"$1"
    chmod 0644 "$1"
}
push() {
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK "$EIC_CLIENT" send-ssh-public-key \
        --endpoint-url "$EMU_URL" --region $REGION --instance-id $INSTANCE --instance-os-user "$USER_NAME" \
        --ssh-public-key "file://$WORK/key.pub" >/dev/null
}
akc() { "$AKC" -c "$WORK/eic.conf" "$@"; }
log_has() { grep -q "$1" "$WORK/akc.log"; }
VALGRIND=("$MEMCHECK" -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99)

start_emulator good || exit 1
write_config "$WORK/eic.conf"
push

prints_key() {
    out=$(akc "$USER_NAME" "$FP") || return 1
    [ "$out" = "$(awk '{print $1, $2}' "$WORK/key.pub")" ] &&
        log_has "Providing ssh key from EC2 Instance Connect with fingerprint: $FP, request-id: .*, for IAM principal: arn:aws:iam::111122223333:user/alice"
}
check "a pushed key is printed and logged" prints_key
check "without a fingerprint the key is printed too" bash -c "[ -n \"\$('$AKC' -c '$WORK/eic.conf' '$USER_NAME')\" ]"
check "another fingerprint prints nothing, exit 0" bash -c "out=\$('$AKC' -c '$WORK/eic.conf' '$USER_NAME' SHA256:AAAA) && [ -z \"\$out\" ]"
# The memory checks get a configuration whose deadline leaves room for memcheck's slowdown (the
# deadline itself is tested at the end, without valgrind).
memcheck_akc() {
    DEADLINE_MS=60000 write_config "$WORK/eic-memcheck.conf"
    "${VALGRIND[@]}" "$EIC_BUILD/authorized_keys/eic-authorized-keys" -c "$WORK/eic-memcheck.conf" "$USER_NAME" "$FP"
}
check "valgrind: valid case, no errors or leaks" memcheck_akc
check "a user with no keys: nothing, exit 0" bash -c "out=\$('$AKC' -c '$WORK/eic.conf' daemon '') && [ -z \"\$out\" ]"
check "a user that does not exist: nothing, exit 0" bash -c "out=\$('$AKC' -c '$WORK/eic.conf' no-such-user-x '') && [ -z \"\$out\" ]"

# sshd expands %u after splitting the command line, so the shipped line is "-- %u %f": a name that
# starts with '-' is then a user name (and refused as invalid), never an option such as -h or -c.
dashed_user_refused() {
    : >"$WORK/akc.log"
    local out rc
    out=$(akc -- -h "$FP"); rc=$?
    [ $rc -eq 1 ] && [ -z "$out" ] && log_has "refusing lookup for an invalid user name"
}
check "-- -h: a user named -h is refused as an invalid name, exit 1, nothing printed" dashed_user_refused
check "-- USER FINGERPRINT (the shipped form) prints the key" \
    bash -c "[ \"\$('$AKC' -c '$WORK/eic.conf' -- '$USER_NAME' '$FP')\" = \"\$(awk '{print \$1, \$2}' '$WORK/key.pub')\" ]"

# An account cache the AKC cannot read (here corrupt: EBADMSG; a locked-down /var/lib/eic gives
# EACCES) while getpwnam still finds an IAM-mapped account, as it does through nscd, which reads
# the cache as root. nss_wrapper plays nscd: it serves akc-alice, which is not in /etc/passwd.
# bob may push for any OS user; his key for akc-alice must not be printed, as the #Caller check
# cannot be made without the cache. A local account (in /etc/passwd) still gets its keys.
NSSW=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so
mkdir -p "$WORK/nss" "$WORK/corrupt-cache"
printf '%s:x:%s:%s::/nonexistent:/bin/sh\nakc-alice:x:200001:200001:IAM user alice:/home/akc-alice:/bin/bash\n' \
    "$USER_NAME" "$(id -u)" "$(id -g)" >"$WORK/nss/passwd"
printf '%s:x:%s:\nakc-alice:x:200001:\n' "$(id -gn)" "$(id -g)" >"$WORK/nss/group"
head -c 4096 /dev/urandom >"$WORK/corrupt-cache/accounts.db"
chmod 0644 "$WORK/corrupt-cache/accounts.db"
write_config "$WORK/eic-corrupt.conf" "cache_dir = $WORK/corrupt-cache
[map arn:aws:sts::111122223333:assumed-role/Admins/*]
name = akc-{session}
[map arn:aws:iam::111122223333:user/*]
name = akc-{user}"
AWS_ACCESS_KEY_ID=$BOB_AK AWS_SECRET_ACCESS_KEY=$BOB_SK "$EIC_CLIENT" send-ssh-public-key \
    --endpoint-url "$EMU_URL" --region $REGION --instance-id $INSTANCE --instance-os-user akc-alice \
    --ssh-public-key "file://$WORK/key.pub" >/dev/null
akc_nscd() { # akc_nscd USER: the AKC with getpwnam answered by nss_wrapper, the corrupt cache
    LD_PRELOAD=$NSSW NSS_WRAPPER_PASSWD="$WORK/nss/passwd" NSS_WRAPPER_GROUP="$WORK/nss/group" \
        "$AKC" -c "$WORK/eic-corrupt.conf" -- "$1" "$FP"
}
mapped_unreadable_cache() {
    : >"$WORK/akc.log"
    local out rc
    ! grep -q '^akc-alice:' /etc/passwd || return 1
    out=$(akc_nscd akc-alice); rc=$?
    cat "$WORK/akc.log"
    [ $rc -eq 1 ] && [ -z "$out" ] &&
        log_has "account cache $WORK/corrupt-cache/accounts.db cannot be read (Bad message) and akc-alice is not a local account in /etc/passwd; no EC2 Instance Connect key offered"
}
check "cache unreadable, account not in /etc/passwd: another principal's key is not printed, exit 1" \
    mapped_unreadable_cache
local_unreadable_cache() {
    : >"$WORK/akc.log"
    local out rc
    out=$(akc_nscd "$USER_NAME"); rc=$?
    cat "$WORK/akc.log"
    [ $rc -eq 0 ] && [ "$out" = "$(awk '{print $1, $2}' "$WORK/key.pub")" ] &&
        log_has "cannot be read (Bad message); $USER_NAME is a local account in /etc/passwd"
}
check "cache unreadable, account in /etc/passwd: its verified key is still printed" local_unreadable_cache

# Invalid: tampered records. Nothing printed, the reason logged, valgrind clean.
stop_emulator
start_emulator tampered --tamper-records || exit 1
write_config "$WORK/eic.conf"
push
tampered() {
    : >"$WORK/akc.log"
    out=$(akc "$USER_NAME" "$FP") || return 1
    [ -z "$out" ] && log_has "bad-signature"
}
check "a tampered record prints nothing and logs bad-signature" tampered
check "valgrind: invalid case, no errors or leaks" memcheck_akc

# Unsafe or bad configurations: refuse to run (exit 1), say why.
refuses() { # refuses LOG_PATTERN: the AKC exits 1, prints nothing, logs the pattern
    local out rc
    out=$("$AKC" -c "$WORK/bad.conf" "$USER_NAME" "$FP" 2>"$WORK/stderr.log"); rc=$?
    cat "$WORK/stderr.log"
    [ $rc -eq 1 ] && [ -z "$out" ] && grep -q "$1" "$WORK/stderr.log"
}
write_config "$WORK/bad.conf"
chmod 0664 "$WORK/bad.conf"
check "a group-writable config is refused" refuses "writable by root only"
chmod 0644 "$WORK/bad.conf"
chown nobody "$WORK/bad.conf"
check "a config owned by another user is refused" refuses "owned by root"
chown root "$WORK/bad.conf"
write_config "$WORK/bad.conf" "imds_timout_ms = 5"
check "a config with an unknown key is refused with file:line" refuses "bad.conf:5: unknown key 'imds_timout_ms'"

# Usage.
check "no user: usage, exit 2" bash -c "'$AKC' >/dev/null 2>&1; [ \$? -eq 2 ]"
check "too many arguments: usage, exit 2" bash -c "'$AKC' a b c >/dev/null 2>&1; [ \$? -eq 2 ]"

# IMDS trouble: exit 1 within the deadline, nothing printed.
bounded_failure() { # bounded_failure MAX_MS: exit 1, no output, within MAX_MS
    local start ms out rc
    start=$(date +%s%N)
    out=$(akc "$USER_NAME" "$FP"); rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    echo "exit $rc after $ms ms, output '$out'"
    [ $rc -eq 1 ] && [ -z "$out" ] && [ $ms -lt "$1" ]
}
stop_emulator
write_config "$WORK/eic.conf"
check_timed "IMDS not listening: exit 1 quickly" bounded_failure 1000
for fault in hang oversize truncate status:500; do
    start_emulator "fault-${fault%%:*}" --fault "/latest/meta-data/managed-ssh-keys/active-keys/*=$fault" || exit 1
    write_config "$WORK/eic.conf"
    push
    check_timed "IMDS active-keys fault $fault: exit 1 within the deadline" bounded_failure 2600
    stop_emulator
done
start_emulator token-hang --fault "/latest/api/token=hang" || exit 1
write_config "$WORK/eic.conf"
check_timed "IMDS token request hanging: exit 1 within the deadline" bounded_failure 2600
# A request that runs into imds_timeout_ms is sent once more while the deadline leaves a whole
# timeout (a login storm can starve the AKC past the timeout although IMDS answered), and the
# run says so in its log: ops see an IMDS or a host too slow for the configured timeout.
: >"$WORK/akc.log"
write_config "$WORK/eic.conf" "imds_timeout_ms = 300"
check "a timed-out request is sent once more and the log says so" bash -c \
    "out=\$('$AKC' -c '$WORK/eic.conf' '$USER_NAME' '$FP'); [ \$? -eq 1 ] && [ -z \"\$out\" ] &&
     grep 'IMDS: 1 of 2 requests ran into imds_timeout_ms (300 ms) and were sent again' '$WORK/akc.log'"
finish
