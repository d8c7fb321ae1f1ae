#!/bin/bash
# nscd in front of nss_eic (docs/SECURITY.md, "Name-service daemons that look names up as root"):
# nscd runs as root and looks names up for every local user, so an unprivileged user's
# `getent passwd NAME` reaches nss_eic as a root miss, which asks eicd, which asks IMDS; with
# `enable-cache passwd no` it does not, and root callers (sshd) still resolve mapped accounts.
#
# Runs in private mount and PID namespaces: /run is a tmpfs there (nscd's socket, which every
# process of the host would otherwise find), /etc/nsswitch.conf a bind mount, and nscd dies with
# the namespace. The real nscd: /usr/sbin/nscd, or the copy scripts/install-deps unpacks (never
# installed as a service: a host-wide nscd would answer every test's lookups).
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --mount --pid --fork --mount-proc --propagation private bash "$0" --inside
fi
. "$(dirname "$0")/lib.sh"

NSCD=""
for candidate in /usr/sbin/nscd /var/cache/eic-test/nscd/usr/sbin/nscd; do
    [ -x "$candidate" ] && NSCD=$candidate && break
done
MODULE="$EIC_BUILD/nss_eic/libnss_eic.so.2"
# Never a skip: without what it needs, the test fails and says what is missing.
if [ "${1:-}" != --inside ]; then
    not_ok "nscd in front of nss_eic (needs root and unshare: private namespaces for nscd)"
    finish
    exit 1
fi
if [ -z "$NSCD" ] || [ ! -f "$MODULE" ] || [ ! -x "$EMULATOR" ]; then
    not_ok "nscd in front of nss_eic (nscd: run scripts/install-deps; or nss_eic or the emulator is not built)"
    finish
    exit 1
fi

# ---- a world of its own: emulator, eicd, configuration, nsswitch.conf, /run ----
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/nscd "$WORK/run"
chmod 0711 "$WORK"
NSS_DIR="$WORK/nss" # a copy nobody may load, as in test_nss.sh
install -d -m 0755 "$NSS_DIR"
install -m 0644 "$MODULE" "$NSS_DIR"
printf 'passwd: files eic\ngroup: files eic\nshadow: files\nhosts: files\n' >"$WORK/nsswitch.conf"
chmod 0644 "$WORK/nsswitch.conf"
mount --bind "$WORK/nsswitch.conf" /etc/nsswitch.conf

start_emulator main || { not_ok "emulator starts"; finish; exit 1; }
CONF="$WORK/eic.conf"
CACHE="$WORK/cache"
LOG="$WORK/nss.log"
mkdir -p "$CACHE"
touch "$LOG"
chmod 0644 "$LOG"
cat >"$CONF" <<EOF
imds_endpoint = $EMU_URL
imds_timeout_ms = $((1000 * TIME_SCALE))
ca_file = $EMU_STATE/ca.pem
cache_dir = $CACHE
log_file = $LOG
log_level = debug
negative_cache_ttl = 30
service_socket = $WORK/run/eicd.sock

[map arn:aws:iam::111122223333:user/*]
name = {user}
EOF
chmod 0644 "$CONF"
export EIC_CONFIG="$CONF" EIC_MISS_DIR="$WORK/run/miss"
start_eicd "$CONF" "$WORK/run/eicd.sock" || { not_ok "eicd starts"; finish; exit 1; }

imds_requests_for() { grep -c "active-keys/$1/" "$EMU_STATE/emulator.log"; }
# An unprivileged user's lookup, through whatever glibc uses: nscd when it runs, else the module
# in the user's own process (no -s: `getent -s` would bypass nscd).
getent_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups env LD_LIBRARY_PATH="$NSS_DIR" EIC_CONFIG="$CONF" \
        EIC_MISS_DIR="$WORK/run/miss" $EIC_TEST_HOST_WRAPPER getent "$@"
}
getent_root() { LD_LIBRARY_PATH="$NSS_DIR" $EIC_TEST_HOST_WRAPPER getent "$@"; }

NSCD_PID=""
# nscd loads the module as any host does; in the valgrind suite without a leak check, as nscd's
# own memory (glibc's files module keeps what it registers) is not ours to judge. Memory errors
# are still reported; the module's leaks are checked by test_nss.
NSCD_WRAPPER=$EIC_TEST_HOST_WRAPPER
[ "$EIC_TEST_SUITE" = valgrind ] && NSCD_WRAPPER+=" --leak-check=no"
# start_nscd PASSWD-CACHE: nscd with only the passwd cache configured as given (yes or no).
start_nscd() {
    cat >"$WORK/nscd.conf" <<EOF
	debug-level		0
	paranoia		no
	enable-cache		passwd		$1
	positive-time-to-live	passwd		600
	negative-time-to-live	passwd		20
	check-files		passwd		yes
	persistent		passwd		no
	shared			passwd		no
	enable-cache		group		no
	enable-cache		hosts		no
	enable-cache		services	no
	enable-cache		netgroup	no
EOF
    rm -f /run/nscd/socket
    # nscd runs the module as root, with the test's configuration (as a host's nscd would run it
    # with /etc/eic/eic.conf).
    env LD_LIBRARY_PATH="$NSS_DIR" EIC_CONFIG="$CONF" EIC_MISS_DIR="$WORK/run/miss" \
        $NSCD_WRAPPER "$NSCD" -f "$WORK/nscd.conf" -F >>"$WORK/nscd.out" 2>&1 &
    NSCD_PID=$!
    for _ in $(seq 1 200); do
        [ -S /run/nscd/socket ] && return 0
        kill -0 "$NSCD_PID" 2>/dev/null || break
        sleep 0.05
    done
    sed 's/^/# /' "$WORK/nscd.out"
    return 1
}
stop_nscd() {
    [ -n "$NSCD_PID" ] || return 0
    kill "$NSCD_PID" 2>/dev/null
    wait "$NSCD_PID" 2>/dev/null
    NSCD_PID=""
    rm -f /run/nscd/socket
}

# ---- without nscd: an unprivileged user's miss stays in their process, from the cache ----
no_nscd_no_imds() {
    getent_nobody passwd probe-plain
    [ $? -eq 2 ] && [ "$(imds_requests_for probe-plain)" = 0 ]
}
check "without nscd, a non-root getent passwd NAME never reaches IMDS" no_nscd_no_imds

# ---- nscd caching passwd (its default): every local user's lookup is a root lookup ----
check "nscd starts (enable-cache passwd yes)" start_nscd yes
through_nscd() {
    getent_nobody passwd probe-nscd
    [ $? -eq 2 ] || return 1
    echo "IMDS requests for probe-nscd: $(imds_requests_for probe-nscd)"
    [ "$(imds_requests_for probe-nscd)" -ge 1 ]
}
check "through nscd, a non-root getent passwd NAME is a root miss: eicd asks IMDS" through_nscd
# Only a root process's miss path writes the on-disk negative cache: nscd's did.
check "... the miss was nss_eic's in nscd, as root (its negative-cache entry)" \
    bash -c "grep -lx '2 probe-nscd' '$WORK/run/miss'/slot-* | xargs stat -c %u | grep -qx 0"
many_names() {
    local before after
    before=$(grep -c "active-keys/probe-many-" "$EMU_STATE/emulator.log")
    for i in 1 2 3 4 5; do getent_nobody passwd "probe-many-$i"; done
    after=$(grep -c "active-keys/probe-many-" "$EMU_STATE/emulator.log")
    echo "IMDS requests for 5 new names: $((after - before))"
    [ $((after - before)) -ge 5 ]
}
check "... one IMDS request per new name, whoever asks" many_names
same_name_once() {
    local n1 n2
    n1=$(imds_requests_for probe-nscd)
    getent_nobody passwd probe-nscd
    getent_nobody passwd probe-nscd
    n2=$(imds_requests_for probe-nscd)
    echo "IMDS requests for probe-nscd: $n1 then $n2"
    [ "$n1" = "$n2" ]
}
check "... the same name again within the negative caches: no new request" same_name_once
unmappable_names() {
    getent_nobody passwd 'HOST$'
    getent_nobody passwd 12345678 # a number: getpwuid, never the miss path
    ! grep -q 'active-keys/HOST\$/' "$EMU_STATE/emulator.log" && ! grep -q 'active-keys/12345678/' "$EMU_STATE/emulator.log"
}
check "... a name no rule can give never reaches IMDS" unmappable_names
stop_nscd

# ---- the recommended configuration: nscd does not cache passwd ----
check "nscd starts (enable-cache passwd no)" start_nscd no
check "with enable-cache passwd no, a non-root getent passwd NAME never reaches IMDS" \
    bash -c "$(declare -f getent_nobody imds_requests_for); NSS_DIR='$NSS_DIR' CONF='$CONF' WORK='$WORK' \
        EMU_STATE='$EMU_STATE' EIC_TEST_HOST_WRAPPER='$EIC_TEST_HOST_WRAPPER'; \
        getent_nobody passwd probe-nocache; [ \$? -eq 2 ] && [ \"\$(imds_requests_for probe-nocache)\" = 0 ]"
root_still_asks() {
    getent_root passwd probe-root
    [ $? -eq 2 ] && [ "$(imds_requests_for probe-root)" -ge 1 ]
}
check "... while a root caller's miss (sshd's) still asks eicd" root_still_asks
stop_nscd

finish
