#!/bin/bash
# NSS stress under ThreadSanitizer (issue #7 part 3): tests/stress/nss_stress — 16 threads doing
# getpwnam_r, getpwuid_r, getgrnam_r, getgrgid_r, getgrouplist and setpwent/getpwent_r/endpwent
# through glibc's real NSS while a writer thread replaces the account cache — run twice: with the
# normal build, then with the program and libnss_eic.so.2 built with -fsanitize=thread
# (`make nss-tsan`). glibc loads the module because nsswitch.conf says "passwd: files eic" (a
# copy bind-mounted over /etc/nsswitch.conf in a private mount namespace) and LD_LIBRARY_PATH
# points at the module. Needs root: the cache writer and the mount.
. "$(dirname "$0")/lib.sh"

PLAIN_DIR="$EIC_BUILD/nss_eic"
TSAN_DIR="$EIC_BUILD/tests/tsan"
BASE_ACCOUNTS=50
ADDED_ACCOUNTS=200

if [ "$(id -u)" -ne 0 ]; then
    not_ok "needs root (the cache writer and the nsswitch.conf mount)"
    finish
    exit 1
fi

check "make nss-tsan (the stress program and the module with -fsanitize=thread)" \
    make -C "$EIC_BUILD" -s nss-tsan

CONF="$WORK/eic.conf"
LOG="$WORK/nss.log"
# The UID range tests/stress/nss_stress.c writes its accounts in.
cat >"$CONF" <<EOF
log_file = $LOG
log_level = debug
uid_min = 200000
uid_max = 299999
EOF
printf 'passwd: files eic\ngroup: files eic\n' >"$WORK/nsswitch.conf"

# stress NAME MODULE_DIR PROGRAM [ENV...]: a fresh cache, then the program in its own mount
# namespace. Output in $WORK/NAME.out.
stress() {
    local name=$1 module_dir=$2 program=$3
    shift 3
    mkdir -m 0755 "$WORK/$name"
    # cache_dir is the only thing that differs between the runs.
    sed -e "1i cache_dir = $WORK/$name" -e "1i service_socket = /nonexistent/eicd.sock" "$CONF" >"$WORK/$name.conf"
    chmod 0644 "$WORK/$name.conf"
    # No service listens on service_socket: a by-name miss would be an error, never a trip to IMDS.
    unshare --mount --propagation private bash -c \
        'mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"' \
        - "$WORK/nsswitch.conf" env LD_LIBRARY_PATH="$module_dir" EIC_CONFIG="$WORK/$name.conf" \
        EIC_MISS_DIR="$WORK/$name/miss" "$@" "$program" "$WORK/$name" "$BASE_ACCOUNTS" "$ADDED_ACCOUNTS" >"$WORK/$name.out" 2>&1
    local rc=$?
    cat "$WORK/$name.out"
    return $rc
}

check "the stress program, normal build: every answer consistent" \
    stress plain "$PLAIN_DIR" "$EIC_BUILD/tests/stress/nss_stress"
# Only eic can answer for these accounts (files does not know them): every round's lookups came
# from the module glibc loaded, and it is the one built here.
check "... glibc loaded the built module; all $ADDED_ACCOUNTS cache versions were read" \
    bash -c "grep -qx 'module $PLAIN_DIR/libnss_eic.so.2' '$WORK/plain.out' &&
        grep -q 'cache versions written while reading $ADDED_ACCOUNTS, rounds [1-9][0-9]*, errors 0' '$WORK/plain.out'"

# halt_on_error: the first report ends the run with exitcode 66. setarch -R (no address space
# randomisation): gcc 12's TSan cannot map its shadow memory with the large mmap randomisation of
# some recent kernels. The suppressions path is quoted: TSAN_OPTIONS splits on spaces, and the
# checkout's path may have one.
tsan_run() {
    stress tsan "$TSAN_DIR" "$TSAN_DIR/nss_stress" \
        TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions='$TOP/tests/stress/tsan.supp'" \
        setarch "$(uname -m)" -R
}
tsan_clean() {
    ! grep -q "ThreadSanitizer" "$WORK/tsan.out"
}
check "the stress program, ThreadSanitizer build: exit status 0, every answer consistent" tsan_run
check "... ThreadSanitizer reported nothing" tsan_clean
check "... glibc loaded the TSan-built module" \
    bash -c "grep -qx 'module $TSAN_DIR/libnss_eic.so.2' '$WORK/tsan.out' && nm -D '$TSAN_DIR/libnss_eic.so.2' | grep -q __tsan_init"
sed -n 's/^threads/# threads/p' "$WORK/plain.out" "$WORK/tsan.out"
check "no reader ever found a corrupt or torn cache file" bash -c "! grep -q 'cannot use the account cache' '$LOG'"

finish
