#!/bin/bash
# Run every unit test program (tests/unit/test_*) and integration script (tests/integration/test_*.sh)
# in one of three suites, count their TAP results, keep each one's full output, and end with the
# line "N passed, N failed". A program that fails or dies without reporting a failed case counts as
# one failure, so a crash can never pass.
#
#   tests/run-all.sh [--suite normal|asan|valgrind] [FILTER...]
#
#   normal    the in-tree build (scripts/build); output in tests/out/
#   asan      the ASan+UBSan build in build/asan/ (scripts/build-asan); output in tests/out/asan/
#   valgrind  the in-tree build, our programs under valgrind memcheck; output in tests/out/valgrind/
#
# In the asan and valgrind suites every report (ASan, LSan, UBSan, memcheck) is written to a
# directory of its own, EIC_TEST_REPORTS, whatever process it comes from (a program run by a test,
# a daemon in the background, the AuthorizedKeysCommand run by sshd); after each program the runner
# counts every non-empty report there as one more failure of that program and keeps it next to its log.
# FILTERs select the programs whose name contains one of them. docs/TESTING.md describes the suites.
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)

SUITE=normal
if [ "${1:-}" = --suite ]; then
    SUITE=${2:-}
    shift 2 || shift
fi
FILTERS=("$@")

export EIC_TEST_SUITE=$SUITE EIC_TEST_WRAPPER="" EIC_TEST_HOST_WRAPPER=""
case "$SUITE" in
normal)
    OUT="$TOP/tests/out"
    export EIC_BUILD="$TOP"
    ;;
asan)
    OUT="$TOP/tests/out/asan"
    export EIC_BUILD="$TOP/build/asan"
    ;;
valgrind)
    OUT="$TOP/tests/out/valgrind"
    export EIC_BUILD="$TOP"
    ;;
*)
    echo "usage: $0 [--suite normal|asan|valgrind] [FILTER...]" >&2
    exit 2
    ;;
esac
if [ ! -x "$EIC_BUILD/authorized_keys/eic-authorized-keys" ]; then
    echo "not ok - $SUITE suite: $EIC_BUILD is not built (scripts/build, scripts/build-asan)"
    echo "0 passed, 1 failed"
    exit 1
fi

# Reports land here, from any user (the AKC runs as nobody), hence mode 1777.
REPORTS=$(mktemp -d /tmp/eic-reports.XXXXXX)
chmod 1777 "$REPORTS"
trap 'rm -rf "$REPORTS"' EXIT
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

# Left out of the valgrind suite, and why; they run in the normal and ASan suites. Listed in the
# output, never dropped silently.
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
)
left_out() { # left_out NAME: true (and says why) when NAME is not run in this suite
    local entry
    [ "$SUITE" = normal ] && return 1
    for entry in "${SANITIZER_LEFT_OUT[@]}"; do
        if [ "${entry%%:*}" = "$1" ]; then
            printf '%-40s not run in the %s suite:%s\n' "$1" "$SUITE" "${entry#*:}"
            return 0
        fi
    done
    [ "$SUITE" = valgrind ] || return 1
    for entry in "${VALGRIND_LEFT_OUT[@]}"; do
        if [ "${entry%%:*}" = "$1" ]; then
            printf '%-40s not run under valgrind:%s\n' "$1" "${entry#*:}"
            return 0
        fi
    done
    return 1
}

mkdir -p "$OUT"
rm -rf "$OUT"/*.log "$OUT/reports"

passed=0
failed=0
failed_names=()

wanted() {
    [ ${#FILTERS[@]} -eq 0 ] && return 0
    for f in "${FILTERS[@]}"; do
            case "$1" in *"$f"*) return 0 ;; esac
    done
    return 1
}

# Every non-empty report left by the program that just ran is one failure; valgrind leaves an empty
# file behind for every clean process.
count_reports() { # count_reports NAME LOG: prints how many reports it found, keeps them
    local name=$1 log=$2 r n=0 keep="$OUT/reports/${1//\//_}"
    for r in "$REPORTS"/*; do
        [ -f "$r" ] || continue
        if [ -s "$r" ]; then
            n=$((n + 1))
            mkdir -p "$keep"
            mv "$r" "$keep/"
            echo "not ok - $name: memory error report $keep/$(basename "$r")" >>"$log"
            sed 's/^/# /' "$keep/$(basename "$r")" | head -n 40 >>"$log"
        else
            rm -f "$r"
        fi
    done
    echo "$n"
}

run_one() {
    local name=$1
    shift
    local log="$OUT/${name//\//_}.log"
    local start end rc p f ub

    start=$(date +%s)
    CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 10 900 "$@" >"$log" 2>&1 </dev/null
    rc=$?
    end=$(date +%s)
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $rc" >>"$log"
        f=1
    fi
    f=$((f + $(count_reports "$name" "$log")))
    # UBSan in a gcc -fsanitize=address,undefined build ignores log_path and reports on stderr
    # (docs/TESTING.md): each report that reached the program's output is one more failure.
    if [ "$SUITE" = asan ] && grep -q 'runtime error:' "$log"; then
        ub=$(grep -c 'runtime error:' "$log")
        echo "not ok - $name: $ub UndefinedBehaviorSanitizer report(s) in its output" >>"$log"
        f=$((f + ub))
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    printf '%-40s %4d passed %4d failed  (%ds)\n' "$name" "$p" "$f" $((end - start))
    if [ "$f" -ne 0 ]; then
        failed_names+=("$name")
        grep -E '^not ok |^# ' "$log" | head -n 30 | sed 's/^/    /'
    fi
}

for prog in "$EIC_BUILD"/tests/unit/test_*; do
    [ -x "$prog" ] && [ -f "$prog" ] || continue
    case "$prog" in *.c | *.h | *.o) continue ;; esac
    name=unit/$(basename "$prog")
    wanted "$name" || continue
    left_out "$name" && continue
    # shellcheck disable=SC2086 # the wrapper is a command prefix
    run_one "$name" $EIC_TEST_WRAPPER "$prog"
done

for script in tests/integration/test_*.sh; do
    [ -f "$script" ] || continue
    name=integration/$(basename "$script" .sh)
    wanted "$name" || continue
    left_out "$name" && continue
    run_one "$name" bash "$script"
done

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]} (full output in ${OUT#"$TOP"/}/)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
