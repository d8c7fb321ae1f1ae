#!/bin/bash
# Run every unit test program (tests/unit/test_*) and integration script (tests/integration/test_*.sh),
# count their TAP results, keep each one's full output in tests/out/, and end with the line
# "N passed, N failed". A program that fails or dies without reporting a failed case counts as one
# failure, so a crash can never pass. Optional arguments: name filters (substring match).
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
OUT="$TOP/tests/out"
rm -rf "$OUT"
mkdir -p "$OUT"

passed=0
failed=0
failed_names=()

FILTERS=("$@")

wanted() {
    [ ${#FILTERS[@]} -eq 0 ] && return 0
    for f in "${FILTERS[@]}"; do
            case "$1" in *"$f"*) return 0 ;; esac
    done
    return 1
}

run_one() {
    local name=$1
    shift
    local log="$OUT/${name//\//_}.log"
    local start end rc p f

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
    passed=$((passed + p))
    failed=$((failed + f))
    printf '%-40s %4d passed %4d failed  (%ds)\n' "$name" "$p" "$f" $((end - start))
    if [ "$f" -ne 0 ]; then
        failed_names+=("$name")
        grep -E '^not ok |^# ' "$log" | head -n 30 | sed 's/^/    /'
    fi
}

for prog in tests/unit/test_*; do
    [ -x "$prog" ] && [ -f "$prog" ] || continue
    case "$prog" in *.c | *.h | *.o) continue ;; esac
    name=unit/$(basename "$prog")
    wanted "$name" || continue
    run_one "$name" "$prog"
done

for script in tests/integration/test_*.sh; do
    [ -f "$script" ] || continue
    name=integration/$(basename "$script" .sh)
    wanted "$name" || continue
    run_one "$name" bash "$script"
done

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]} (full output in tests/out/)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
