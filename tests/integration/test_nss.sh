#!/bin/bash
# nss_eic through glibc's real NSS loading (getent -s eic, LD_LIBRARY_PATH at the built module,
# EIC_CONFIG at a test configuration): the module's exports and dependencies, an IAM-mapped
# account appearing after a push to the emulator (a root miss, answered by eicd), then served from
# the cache (also to non-root callers, who never reach IMDS), the negative cache, a corrupt cache,
# IMDS down or hanging and eicd gone (bounded by imds_timeout_ms), and the unit tests under valgrind.
. "$(dirname "$0")/lib.sh"

NSS_DIR="$EIC_BUILD/nss_eic"
MODULE="$NSS_DIR/libnss_eic.so.2"
UNIT="$EIC_BUILD/tests/unit/test_nss"

if [ ! -f "$MODULE" ] || [ ! -x "$EMULATOR" ] || [ ! -x "$EIC_CLIENT" ]; then
    not_ok "nss_eic, the emulator and the client are built (scripts/build)"
    finish
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    not_ok "runs as root (the heavy path is only taken by root callers)"
    finish
    exit 1
fi

# ---- the module itself ----
exports_only_nss() {
    nm -D --defined-only "$MODULE" | awk '{print $3}' | tee "$WORK/exports"
    [ -s "$WORK/exports" ] && ! grep -v '^_nss_eic_' "$WORK/exports"
}
check "libnss_eic.so.2 exports only _nss_eic_* symbols" exports_only_nss
light_deps() {
    readelf -d "$MODULE" | grep NEEDED
    ldd "$MODULE"
    ! readelf -d "$MODULE" | grep -Ei 'NEEDED.*(curl|crypto|ssl|json)' && ! ldd "$MODULE" | grep -Ei 'curl|crypto|ssl|json'
}
check "the module needs nothing but libc (no libcurl/libcrypto/libjson-c)" light_deps
# The one init_array entry is the toolchain's frame_dummy; a constructor of ours would add one.
# ASan adds its own to every instrumented object: in that suite, the in-tree (shipped) build is read,
# two levels up (the suite runs in build/asan, scripts/build-asan's copy of the tree).
SHIPPED_MODULE=$MODULE
[ "$EIC_TEST_SUITE" = asan ] && SHIPPED_MODULE="$TOP/../../nss_eic/libnss_eic.so.2"
check "the light module has no constructor (no work at load time)" \
    bash -c "readelf -d '$SHIPPED_MODULE' | grep -q 'INIT_ARRAYSZ) *8 (bytes)'"

# ---- a world: emulator, configuration, cache, miss directory ----
start_emulator main || { not_ok "emulator starts"; finish; exit 1; }
MAIN_URL=$EMU_URL
MAIN_STATE=$EMU_STATE
# Non-root callers must be able to read the configuration and the cache.
chmod 0711 "$WORK"
# ... and to load the module: a copy of the built one, as the checkout may be where they cannot go (a clone under /root, in a `mktemp -d`).
NOBODY_NSS_DIR="$WORK/nss"
install -d -m 0755 "$NOBODY_NSS_DIR"
install -m 0644 "$MODULE" "$NOBODY_NSS_DIR"
CONF="$WORK/eic.conf"
CACHE="$WORK/cache"
LOG="$WORK/nss.log"
mkdir -p "$CACHE"
touch "$LOG"
chmod 0644 "$LOG"

write_conf() { # write_conf ENDPOINT [EXTRA-RULES]
    cat >"$CONF.tmp" <<EOF
imds_endpoint = $1
imds_timeout_ms = $((1000 * TIME_SCALE))
ca_file = $MAIN_STATE/ca.pem
cache_dir = $CACHE
log_file = $LOG
log_level = debug
negative_cache_ttl = 30
service_socket = $WORK/run/eicd.sock

[map arn:aws:iam::111122223333:user/*]
name = {user}
groups = eic-admins

${2:-}

[map arn:aws:sts::111122223333:assumed-role/Admins/*]
name = {session}
EOF
    chmod 0644 "$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
}
write_conf "$MAIN_URL"

export EIC_CONFIG="$CONF" EIC_MISS_DIR="$WORK/run/miss"
# eicd, as the package runs it (it answers a root process's misses).
start_eicd "$CONF" "$WORK/run/eicd.sock" || { not_ok "eicd starts"; finish; exit 1; }
nss_getent() { LD_LIBRARY_PATH="$NSS_DIR" $EIC_TEST_HOST_WRAPPER getent -s eic "$@"; }
# As an unprivileged user: the same module, the same configuration (nobody can read it).
nss_getent_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups env LD_LIBRARY_PATH="$NOBODY_NSS_DIR" EIC_CONFIG="$CONF" \
        EIC_MISS_DIR="$WORK/run/miss" $EIC_TEST_HOST_WRAPPER getent -s eic "$@"
}
imds_requests_for() { grep -c "active-keys/$1/" "$MAIN_STATE/emulator.log"; }
ms_now() { date +%s%3N; }

push_key() { # push_key OS_USER [ACCESS_KEY SECRET_KEY]: a fresh ed25519 key pushed (as alice by default)
    rm -f "$WORK/key" "$WORK/key.pub"
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/key" >/dev/null
    env -i PATH="$PATH" HOME="$WORK" AWS_ACCESS_KEY_ID="${2:-$ALICE_AK}" AWS_SECRET_ACCESS_KEY="${3:-$ALICE_SK}" \
        "$EIC_CLIENT" send-ssh-public-key --instance-id "$INSTANCE" --instance-os-user "$1" \
        --ssh-public-key "file://$WORK/key.pub" --availability-zone "$ZONE" --endpoint-url "$MAIN_URL"
}

# ---- the heavy path: a pushed, verified record whose #Caller maps to the name ----
check "nothing is known before a push" bash -c "! LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd 4294967000"
check "push a key for alice (as alice)" push_key alice
alice_appears() {
    local name pass uid gid gecos home shell
    nss_getent passwd alice | tee "$WORK/alice.pw"
    IFS=: read -r name pass uid gid gecos home shell <"$WORK/alice.pw"
    [ "$name" = alice ] && [ "$pass" = '*' ] && [ "$uid" -ge 2010000000 ] && [ "$uid" -le 2109999999 ] &&
        [ "$gid" = "$uid" ] && [ "$home" = /home/alice ] && [ "$shell" = /bin/bash ] &&
        echo "$gecos" | grep -q alice
}
check "getent passwd alice: the account appears (root, from eicd)" alice_appears
check "... and is now in the cache" test -s "$CACHE/accounts.db"
check "... and eicd logged the principal" grep -q "eicd\[.*account alice (uid .*arn:aws:iam::111122223333:user/alice" "$LOG"
ALICE_UID=$(cut -d: -f3 "$WORK/alice.pw")
N_ALICE=$(imds_requests_for alice)
check "getent passwd alice again: from the cache, IMDS not asked" \
    bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd alice >/dev/null && [ \"\$(grep -c 'active-keys/alice/' '$MAIN_STATE/emulator.log')\" = '$N_ALICE' ]"
check "getent passwd UID" bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd $ALICE_UID | grep -q '^alice:\\*:$ALICE_UID:'"
check "getent group alice (the private group)" \
    bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic group alice | grep -qx 'alice:\\*:$ALICE_UID:'"
admins_group() {
    nss_getent group eic-admins | tee "$WORK/admins"
    grep -q '^eic-admins:\*:[0-9]*:alice$' "$WORK/admins"
}
check "getent group eic-admins lists alice" admins_group
# getent initgroups gives no primary gid ((gid_t)-1): nss_eic cannot tell alice's account from
# another user of that name, and lends nothing. With her primary gid (id, login), she gets
# eic-admins: test_nss_sources (through glibc) and unit/test_nss.
initgroups_alice() {
    local gid
    gid=$(cut -d: -f3 "$WORK/admins")
    nss_getent initgroups alice | tee "$WORK/initgroups"
    ! grep -qw "$gid" "$WORK/initgroups" && ! grep -qw "$ALICE_UID" "$WORK/initgroups"
}
check "getent initgroups alice (no primary gid): no eic group lent" initgroups_alice
check "enumeration: getent passwd lists alice" bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd | grep -q '^alice:'"
check "non-root caller: alice from the cache" bash -c "$(declare -f nss_getent_nobody); \
    NOBODY_NSS_DIR='$NOBODY_NSS_DIR' CONF='$CONF' WORK='$WORK' nss_getent_nobody passwd alice | grep -q '^alice:'"

# A key alice pushed for another os-user does not make that name an account: the principal
# decides the name, never the path the key was pushed under.
check "push a key for mallory (as alice)" push_key mallory
check "getent passwd mallory: not found (alice's #Caller maps to alice)" \
    bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd mallory; [ \$? -eq 2 ]"
check "... IMDS was asked once" bash -c "[ \"\$(grep -c 'active-keys/mallory/' '$MAIN_STATE/emulator.log')\" -ge 1 ]"

# A deny rule wins over the map rule that would apply.
write_conf "$MAIN_URL" "[deny arn:aws:sts::111122223333:assumed-role/Admins/bob]"
check "push a key for bob (as bob, an assumed role)" push_key bob "$BOB_AK" "$BOB_SK"
check "getent passwd bob: not found while a deny rule matches bob's role session" \
    bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd bob; [ \$? -eq 2 ] && grep -q 'assumed-role/Admins/bob: not mapped (denied' '$LOG'"
write_conf "$MAIN_URL"
# Without the deny rule (and once the remembered miss is gone) the role session maps to bob.
rm -f "$WORK"/run/miss/*
check "without it, bob's role session maps to the account bob" \
    bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd bob | grep -q '^bob:\\*:[0-9]*:[0-9]*:.*:/home/bob:/bin/bash\$'"

# ---- negative cache ----
neg_cache() {
    local n1 n2
    nss_getent passwd bobby
    [ $? -eq 2 ] || return 1
    n1=$(imds_requests_for bobby)
    nss_getent passwd bobby
    [ $? -eq 2 ] || return 1
    n2=$(imds_requests_for bobby)
    echo "requests for bobby: $n1 then $n2"
    [ "$n1" -ge 1 ] && [ "$n1" = "$n2" ] && grep -qx '2 bobby' "$WORK"/run/miss/slot-*
}
check "a second miss within the TTL does not reach IMDS (new process: on-disk entry)" neg_cache
# Regression: a file per missed name let any client that offers names to sshd fill /run. The
# entries are slot files named by a hash of the name, at most 256 whatever names are tried.
only_slot_files() {
    ls -A "$WORK/run/miss" | tee "$WORK/miss-files"
    [ -s "$WORK/miss-files" ] && ! grep -vx 'slot-[0-9a-f][0-9a-f]' "$WORK/miss-files"
}
check "the on-disk negative cache is a bounded set of slot files, one line each" only_slot_files
non_root_never_asks() {
    nss_getent_nobody passwd charlie
    [ $? -eq 2 ] && [ "$(imds_requests_for charlie)" = 0 ]
}
check "a non-root caller's miss never reaches IMDS" non_root_never_asks
# No [map] rule (a deny rule alone maps nobody): no name can be an IAM account, so even root's
# miss is answered at once, without IMDS.
no_map_rule_never_asks() {
    sed -n '1,/^\[/p' "$CONF" | sed '$d' >"$CONF.tmp"
    printf '[deny arn:aws:iam::111122223333:user/*]\n' >>"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
    nss_getent passwd frank
    local rc=$?
    write_conf "$MAIN_URL"
    [ $rc -eq 2 ] && [ "$(imds_requests_for frank)" = 0 ]
}
check "without a [map] rule a miss never reaches IMDS, even root's" no_map_rule_never_asks
check "root is never served" bash -c "! LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd root && \
    ! LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd 0 && ! LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic group 0"

# ---- a corrupt cache file: nothing served, a log line, no crash ----
corrupt_cache() {
    local rc
    cp -p "$CACHE/accounts.db" "$WORK/accounts.saved"
    cp "$CACHE/accounts.db" "$CACHE/accounts.db.bad"
    printf '\377\377\377\377' | dd of="$CACHE/accounts.db.bad" bs=1 seek=120 conv=notrunc status=none
    mv "$CACHE/accounts.db.bad" "$CACHE/accounts.db"
    nss_getent passwd "$ALICE_UID"
    rc=$?
    nss_getent_nobody passwd alice
    echo "status by uid $rc, by name (non-root) $?"
    [ "$rc" -eq 2 ] && grep -q "cannot use the account cache" "$LOG"
}
check "a corrupt cache: NOTFOUND and a log line" corrupt_cache
mv "$WORK/accounts.saved" "$CACHE/accounts.db"
check "the restored cache is served again" bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd $ALICE_UID | grep -q '^alice:'"

# ---- IMDS down ----
stop_emulator
check "IMDS down: the cached alice still resolves" bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd alice | grep -q '^alice:'"
imds_down_bounded() { # NAME: not found / unavailable within imds_timeout_ms + 200 ms
    local t0 t1 rc
    t0=$(ms_now)
    nss_getent passwd "$1"
    rc=$?
    t1=$(ms_now)
    echo "status $rc after $((t1 - t0)) ms"
    [ "$rc" -eq 2 ] && [ $((t1 - t0)) -le $((1000 * TIME_SCALE + 200)) ]
}
check_timed "IMDS down (refused): an unknown name fails within the deadline" imds_down_bounded dora

# A hanging IMDS: the deadline, not the hang, decides.
start_emulator hang --fault '/latest/*=hang' || not_ok "hanging emulator starts"
write_conf "$EMU_URL"
check_timed "IMDS hanging: an unknown name fails within imds_timeout_ms + 200 ms" imds_down_bounded erin
check "... logged as an IMDS failure" grep -q "lookup of erin in IMDS failed" "$LOG"
check_timed "IMDS hanging: the second lookup is answered at once (remembered)" bash -c "
    t0=\$(date +%s%3N); LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd erin; rc=\$?; t1=\$(date +%s%3N)
    echo \"status \$rc after \$((t1 - t0)) ms\"; [ \$rc -eq 2 ] && [ \$((t1 - t0)) -lt 300 ]"
check_timed "IMDS hanging: another unknown name is answered at once (eicd saw IMDS fail)" bash -c "
    t0=\$(date +%s%3N); LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd fiona; rc=\$?; t1=\$(date +%s%3N)
    echo \"status \$rc after \$((t1 - t0)) ms\"; [ \$rc -eq 2 ] && [ \$((t1 - t0)) -lt 300 ] && grep -q 'lookup of fiona not tried: IMDS was unreachable moments ago' '$LOG'"
check_timed "IMDS hanging: the cached alice still resolves at once" bash -c "
    t0=\$(date +%s%3N); LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd alice | grep -q '^alice:'; t1=\$(date +%s%3N)
    [ \$((t1 - t0)) -lt 300 ]"
check "local users are untouched (files)" getent passwd root
stop_emulator

# ---- eicd gone: no network in the caller, cached accounts still resolve ----
stop_eicd
service_gone() {
    local t0 t1 rc
    t0=$(ms_now)
    nss_getent passwd gina
    rc=$?
    t1=$(ms_now)
    echo "status $rc after $((t1 - t0)) ms"
    [ "$rc" -eq 2 ] && [ $((t1 - t0)) -lt $((1000 * TIME_SCALE)) ] &&
        grep -q "eicd does not answer on $WORK/run/eicd.sock .*; gina not looked up" "$LOG"
}
check_timed "eicd gone: an unknown name is not found before imds_timeout_ms, and logged" service_gone
check "eicd gone: the cached alice still resolves" bash -c "LD_LIBRARY_PATH='$NSS_DIR' $EIC_TEST_HOST_WRAPPER getent -s eic passwd alice | grep -q '^alice:'"

# ---- the unit tests under valgrind ----
# --fair-sched=yes: with valgrind's default lock, the 16 reader threads starve the cache writer and
# this run takes minutes instead of seconds.
if command -v valgrind >/dev/null && [ -x "$UNIT" ]; then
    check "tests/unit/test_nss under valgrind (no errors, no leaks)" \
        env -u EIC_CONFIG -u EIC_MISS_DIR CMOCKA_MESSAGE_OUTPUT=TAP "$MEMCHECK" -q --fair-sched=yes --leak-check=full \
        --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible \
        --error-exitcode=1 "$UNIT"
fi

finish
