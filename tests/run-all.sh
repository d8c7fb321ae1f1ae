#!/bin/bash
# One suite of tests through `make check` (tests/run-one.sh runs each test; docs/TESTING.md), with
# name filters, one line per test, and the line "N passed, N failed" at the end.
#
#   tests/run-all.sh [--suite normal|asan|valgrind] [FILTER...]
#
#   normal    `make check` in the in-tree build (scripts/build); output copied to tests/out/
#   asan      `make check` in build/asan/ (scripts/build-asan); output copied to tests/out/asan/
#   valgrind  `make check EIC_TEST_SUITE=valgrind` in the in-tree build; tests/out/valgrind/
#
# FILTERs select the tests whose name (unit/test_codec, integration/test_akc) contains one of
# them, as `make check TESTS='...'`. The counts are automake's (each test's .trs): a failed case,
# a memory error report, a crash are failures; a test the suite leaves out is a skip, with its
# reason. make's output is kept in OUT/make-check.out, each test's log in OUT/, the reports of a
# failed test in OUT/reports/.
set -u
cd "$(dirname "$0")/.." || exit
TOP=$(pwd)

SUITE=normal
if [ "${1:-}" = --suite ]; then
    SUITE=${2:-}
    shift 2 || shift
fi
FILTERS=("$@")
case "$SUITE" in
normal) OUT="$TOP/tests/out" BUILD="$TOP" ;;
asan) OUT="$TOP/tests/out/asan" BUILD="$TOP/build/asan" ;;
valgrind) OUT="$TOP/tests/out/valgrind" BUILD="$TOP" ;;
*)
    echo "usage: $0 [--suite normal|asan|valgrind] [FILTER...]" >&2
    exit 2
    ;;
esac

give_up() {
    echo "not ok - $SUITE suite: $*"
    echo "0 passed, 1 failed"
    exit 1
}
[ -f "$BUILD/Makefile" ] || give_up "$BUILD is not configured (scripts/build, scripts/build-asan)"
mkdir -p "$OUT"
rm -rf "$OUT"/*.log "$OUT/reports" "$OUT"/*.out
# Everything make check builds, in parallel; the tests below run one at a time (docs/TESTING.md).
if ! make -s -C "$BUILD" -j"$(nproc)" check-programs >"$OUT/build.out" 2>&1; then
    tail -n 30 "$OUT/build.out"
    give_up "the build failed (${OUT#"$TOP"/}/build.out)"
fi

name_of() { # tests/unit/test_codec -> unit/test_codec
    echo "$(basename "$(dirname "$1")")/$(basename "$1" .sh)"
}
wanted() {
    [ ${#FILTERS[@]} -eq 0 ] && return 0
    for f in "${FILTERS[@]}"; do
        case "$1" in *"$f"*) return 0 ;; esac
    done
    return 1
}
selected=()
for t in $(make -s -C "$BUILD" list-tests); do
    wanted "$(name_of "$t")" && selected+=("$t")
done
[ ${#selected[@]} -gt 0 ] || give_up "no test matches ${FILTERS[*]}"

make -C "$BUILD" -j1 check EIC_TEST_SUITE="$SUITE" TESTS="${selected[*]}" >"$OUT/make-check.out" 2>&1

passed=0
failed=0
failed_names=()
for t in "${selected[@]}"; do
    name=$(name_of "$t")
    log="$BUILD/${t%.sh}.log" trs="$BUILD/${t%.sh}.trs"
    if [ ! -f "$trs" ]; then
        p=0 f=1 s=0
        echo "not ok - $name did not run (${OUT#"$TOP"/}/make-check.out)" >"$log"
    else
        p=$(grep -cE '^:test-result: (PASS|XFAIL)' "$trs")
        f=$(grep -cE '^:test-result: (FAIL|XPASS|ERROR)' "$trs")
        s=$(grep -c '^:test-result: SKIP' "$trs")
    fi
    cp "$log" "$OUT/${name//\//_}.log"
    [ -d "$BUILD/tests/$name.reports" ] && mkdir -p "$OUT/reports" &&
        cp -r "$BUILD/tests/$name.reports" "$OUT/reports/${name//\//_}"
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -gt 0 ]; then
        printf '%-40s %s\n' "$name" "$(sed -n 's/^1\.\.0 # SKIP //p' "$log")"
        continue
    fi
    printf '%-40s %4d passed %4d failed  (%ss)\n' "$name" "$p" "$f" \
        "$(sed -n "s|^# $name: \([0-9]*\) s\$|\1|p" "$log")"
    if [ "$f" -ne 0 ]; then
        failed_names+=("$name")
        grep -E '^not ok |^# |^ERROR' "$log" | head -n 30 | sed 's/^/    /'
    fi
done

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]} (full output in ${OUT#"$TOP"/}/)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
