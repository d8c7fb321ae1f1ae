#!/bin/bash
# One test as `make check` runs it: the LOG_COMPILER of every test in TESTS (tests/Makemodule.am),
# run by automake's TAP driver, which reads the TAP this prints and keeps it in the test's .log.
#
#   tests/run-one.sh tests/unit/test_NAME | tests/integration/test_NAME.sh
#
# The suite is EIC_TEST_SUITE (normal, asan, valgrind; configure's default is asan for a build with
# -fsanitize=address, normal otherwise); EIC_BUILD is the build under test. This script exports
# what the tests read (EIC_TEST_WRAPPER, EIC_TEST_HOST_WRAPPER, ASan/UBSan options, EIC_TEST_REPORTS)
# and runs the test with CMOCKA_MESSAGE_OUTPUT=TAP, its output in a file (a daemon a test leaves
# behind holding it must not hang the run), with a 15 minute limit. Then it prints that output
# with the test cases numbered in one sequence (a cmocka program prints a plan and numbers per
# group) and the plan at the end, after one more `not ok` for:
#   - every non-empty report in EIC_TEST_REPORTS (ASan, LSan, UBSan, memcheck), whatever process
#     wrote it (a program the test runs, a daemon, sshd's AuthorizedKeysCommand), kept in
#     tests/<unit|integration>/test_NAME.reports/ next to the log;
#   - every `runtime error:` line in the output in the asan suite (gcc's UBSan writes to stderr
#     whatever log_path says: docs/TESTING.md);
#   - an exit status other than 0 without a failed case (a crash, the time limit), or no case at all.
# A test left out of this suite (the lists below) is one SKIP with its reason. docs/TESTING.md.
set -u
if [ $# -ne 1 ]; then
    echo "usage: $0 TEST" >&2
    exit 2
fi
TEST=$1
NAME=$(basename "$(dirname "$TEST")")/$(basename "$TEST" .sh)
SUITE=${EIC_TEST_SUITE:-normal}
export EIC_TEST_SUITE=$SUITE EIC_BUILD=${EIC_BUILD:-$PWD} EIC_TEST_WRAPPER="" EIC_TEST_HOST_WRAPPER=""
case "$SUITE" in
normal | asan | valgrind) ;;
*)
    echo "Bail out! EIC_TEST_SUITE=$SUITE: normal, asan or valgrind"
    exit 1
    ;;
esac

# Left out of the valgrind suite, and why; they run in the normal and ASan suites. Reported as
# a SKIP with the reason, never dropped silently.
VALGRIND_LEFT_OUT=(
    "unit/test_emu_records: the emulator's RSA PKI issued again and again; over 15 minutes under memcheck"
    "unit/test_imds: asserts deadlines of a few hundred ms, which memcheck's slowdown breaks; the IMDS client runs under valgrind inside eic-authorized-keys (test_e2e_login, test_eic_ssh) and nss_eic's resolver (test_nss)"
    "unit/test_pam: runs under valgrind in integration/test_pam, which sets up nss_wrapper first (the program's re-exec through /proc/self/exe would leave valgrind)"
    "integration/test_akc: its cases run eic-authorized-keys with deadline_ms = 2000, which memcheck's slowdown exceeds; its own two valgrind cases (valid and tampered record) run in the normal suite, and the AKC runs under valgrind as sshd runs it in test_e2e_login and test_eic_ssh"
    "integration/test_emulator_aws_scripts: only the emulator, curl and openssl run there"
    "integration/test_emulator_faults: only the emulator and the AWS CLI run there, and the emulator is not run under valgrind (tests/integration/lib.sh)"
    "integration/test_emulator_imds: only the emulator, curl and the AWS CLI run there"
    "integration/test_emulator_push: only the emulator and the AWS CLI run there"
    "integration/test_emulator_robustness: only the emulator and Python clients run there"
    "integration/test_record_openssl: only the emulator, the AWS CLI and openssl run there"
    "integration/test_sigv4_botocore: the same vectors run under valgrind in unit/test_sigv4"
    "integration/test_e2e_mapped: sshd with nss_eic cannot run under valgrind (it re-executes itself, its children are seccomp-sandboxed); the AKC as sshd runs it is under valgrind in test_e2e_login and test_eic_ssh, nss_eic in test_nss"
    "integration/test_e2e_pam: sshd with pam_eic cannot run under valgrind (see test_e2e_mapped); pam_eic is under valgrind in test_pam"
)
# Left out of both the ASan and the valgrind suite: they bring their own instrumentation, build
# or install a copy of their own, or drive hundreds of processes.
SANITIZER_LEFT_OUT=(
    "integration/test_fuzz: the harnesses are built with clang's ASan+UBSan themselves"
    "integration/test_nss_tsan: runs its own ThreadSanitizer build"
    "integration/test_eicd_tsan: runs its own ThreadSanitizer build of eicd"
    "integration/test_package: builds and installs the Debian packages from a fresh tarball, not this build"
    "integration/test_rpm: builds and installs the RPMs from a fresh tarball, not this build"
    "integration/test_load: concurrent logins measure eic as shipped; instrumented, it measures the sanitizer"
    "integration/test_bench_smoke: runs the benchmarks, which time the shipped build"
    "integration/test_fault_matrix: times the shipped build against deadlines; its programs run instrumented in test_e2e_*"
    "integration/test_cache_crash: kills writers by timing; the cache code runs instrumented in unit/test_cache and test_nss"
    "integration/test_man: renders man pages and compares --help texts; no program of ours does work there"
    "integration/test_nsswitch_edit: runs the package's shell functions on text files; no program of ours runs there"
    "integration/test_registered: compares the test files with the Makemodules; no program of ours runs there"
)
left_out() { # left_out NAME: prints the reason when NAME is not run in this suite
    local entry
    [ "$SUITE" = normal ] && return 1
    for entry in "${SANITIZER_LEFT_OUT[@]}"; do
        if [ "${entry%%:*}" = "$1" ]; then
            echo "not run in the $SUITE suite:${entry#*:}"
            return 0
        fi
    done
    [ "$SUITE" = valgrind ] || return 1
    for entry in "${VALGRIND_LEFT_OUT[@]}"; do
        if [ "${entry%%:*}" = "$1" ]; then
            echo "not run under valgrind:${entry#*:}"
            return 0
        fi
    done
    return 1
}
if reason=$(left_out "$NAME"); then
    echo "1..0 # SKIP $reason"
    exit 0
fi

OUTPUT=$(mktemp /tmp/eic-test-output.XXXXXX)
# Reports land here, from any user (the AKC runs as nobody), hence mode 1777.
REPORTS=$(mktemp -d /tmp/eic-reports.XXXXXX)
chmod 1777 "$REPORTS"
trap 'rm -rf "$REPORTS" "$OUTPUT"' EXIT
export EIC_TEST_REPORTS="$REPORTS"

if [ "$SUITE" = asan ]; then
    # Our programs: everything on, leaks included. verify_asan_link_order=0: test_pam re-executes
    # itself with nss_wrapper preloaded, which puts that library before the ASan runtime the program
    # links; harmless, as nss_wrapper defines no allocator (ASan's malloc is still the one bound).
    asan_common="halt_on_error=1:check_initialization_order=1:detect_stack_use_after_return=1:verify_asan_link_order=0"
    export ASAN_OPTIONS="detect_leaks=1:$asan_common:log_path=$REPORTS/asan"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan"
    # nss_wrapper (test_pam) dlopens libc with RTLD_DEEPBIND, which the ASan runtime refuses.
    export NSS_WRAPPER_DISABLE_DEEPBIND=1
    # Hosts: programs that are not ours (getent, sshd, sudo, id) but load our modules. They need
    # the ASan runtime preloaded (it must come before every other library), and their own memory
    # is not ours to judge, so no leak check there: the modules' leaks are checked by the unit
    # tests that load them (test_nss, test_pam) and by the valgrind suite.
    EIC_TEST_PRELOAD=$(readlink -f "$(gcc -print-file-name=libasan.so)")
    export EIC_TEST_PRELOAD
    export EIC_TEST_HOST_ASAN_OPTIONS="detect_leaks=0:$asan_common:log_path=$REPORTS/asan-host"
    # Wrappers are written into scripts run with a cleared environment (env -i, sshd's
    # AuthorizedKeysCommand), so they carry the options themselves.
    EIC_TEST_WRAPPER="$(command -v env) ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS"
    EIC_TEST_HOST_WRAPPER="$(command -v env) LD_PRELOAD=$EIC_TEST_PRELOAD ASAN_OPTIONS=$EIC_TEST_HOST_ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS"
elif [ "$SUITE" = valgrind ]; then
    # --fair-sched=yes: with valgrind's default lock, threads that spin (test_nss's 16 readers)
    # starve the others for minutes. Errors and definite leaks are failures (memory still pointed
    # to at exit is the libraries' global state). --run-libc-freeres=no: glibc's clean-up at exit
    # unloads the NSS modules, and what libnss_eic keeps for the process's lifetime (its current
    # view of eic.conf and the cache, behind a static pointer) would then count as definitely lost.
    # --vgdb=no: no gdb server, whose FIFOs valgrind would make in the program's TMPDIR (the tests
    # give eic ssh, and so its ProxyCommand, a TMPDIR of their own that they check is left empty).
    EIC_TEST_WRAPPER="$(command -v valgrind) -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
    EIC_TEST_WRAPPER+=" --show-leak-kinds=definite --fair-sched=yes --run-libc-freeres=no --vgdb=no"
    EIC_TEST_WRAPPER+=" --log-file=$REPORTS/valgrind.%p"
    EIC_TEST_HOST_WRAPPER=$EIC_TEST_WRAPPER
fi

KEEP="tests/$NAME.reports"
rm -rf "$KEEP"
# shellcheck disable=SC2206 # the wrapper is a command prefix
case "$TEST" in
*.sh) run=(bash "$TEST") ;;
*) run=($EIC_TEST_WRAPPER "$TEST") ;;
esac
start=$(date +%s)
CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 10 900 "${run[@]}" >"$OUTPUT" 2>&1 </dev/null
rc=$?

# The cases renumbered in one sequence, the program's plans kept as comments; then "N F U": cases,
# failed cases, UBSan reports in the output.
counts=$(mktemp /tmp/eic-test-counts.XXXXXX)
awk -v counts="$counts" '
/^(not )?ok([ \t]|$)/ {
    failed = ($0 ~ /^not ok/)
    rest = $0
    sub(/^(not )?ok[ \t]*/, "", rest)
    sub(/^[0-9]+[ \t]*/, "", rest)
    n++
    f += failed
    print (failed ? "not ok " : "ok ") n (rest == "" ? "" : " " rest)
    next
}
/^1\.\.[0-9]+/ { print "# plan " $0; next }
/runtime error:/ { ub++ }
{ print }
END { print n + 0, f + 0, ub + 0 > counts }' "$OUTPUT"
read -r n f ub <"$counts"
rm -f "$counts"
failure() {
    n=$((n + 1))
    echo "not ok $n - $NAME: $*"
}
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    failure "exited with status $rc$([ "$rc" -eq 124 ] && echo ' (killed after 900 s)')"
elif [ "$n" -eq 0 ]; then
    failure "reported no test case"
fi
# Every non-empty report is one failure; valgrind leaves an empty file for every clean process.
for r in "$REPORTS"/*; do
    [ -f "$r" ] || continue
    if [ -s "$r" ]; then
        mkdir -p "$KEEP"
        mv "$r" "$KEEP/"
        failure "memory error report $KEEP/$(basename "$r")"
        sed 's/^/# /' "$KEEP/$(basename "$r")" | head -n 40
    fi
done
if [ "$SUITE" = asan ]; then
    for ((i = 1; i <= ub; i++)); do
        failure "UndefinedBehaviorSanitizer report $i of $ub in its output (above)"
    done
fi
echo "# $NAME: $(($(date +%s) - start)) s"
echo "1..$n"
