#!/bin/bash
# The libFuzzer harnesses (fuzz/, docs/FUZZING.md): build them with clang into a scratch
# directory, then run each for a few seconds from a copy of its seed corpus (every seed is
# replayed first, then new inputs are generated). A harness passes when libFuzzer ends with no
# crash, leak, sanitizer report, timeout or failed harness check (any of which exits non-zero).
. "$(dirname "$0")/lib.sh"

SECONDS_EACH=${FUZZ_SECONDS_EACH:-6}
HARNESSES=(fuzz_keyrecords fuzz_signer fuzz_config fuzz_cache fuzz_sigv4 fuzz_metadata fuzz_imds
           fuzz_emu_request fuzz_ec2_xml fuzz_proto)
export FUZZ_BUILD_DIR="$WORK/build"

check "fuzz/build.sh builds every harness with clang" "$TOP/fuzz/build.sh"

# start_harness H: run H in the background; its output goes to $WORK/H.out, its status to $WORK/H.rc.
start_harness() {
    local h=$1
    (
        cp -r "$TOP/fuzz/corpus/$h" "$WORK/corpus-$h" || { echo 1 >"$WORK/$h.rc"; exit; }
        "$FUZZ_BUILD_DIR/$h" -max_total_time="$SECONDS_EACH" -timeout=120 -print_final_stats=1 \
            -artifact_prefix="$WORK/$h-" "$WORK/corpus-$h" 2>&1 |
            grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)' >"$WORK/$h.out"
        echo "${PIPESTATUS[0]}" >"$WORK/$h.rc"
    ) &
}

# harness_passed H: H's output, and whether it ended with status 0 (after start_harness and wait).
harness_passed() {
    cat "$WORK/$1.out" 2>/dev/null
    [ "$(cat "$WORK/$1.rc" 2>/dev/null)" = 0 ]
}

# Two at a time: a harness is one process, and the machines have two CPUs or more.
for ((i = 0; i < ${#HARNESSES[@]}; i += 2)); do
    pair=("${HARNESSES[@]:i:2}")
    for h in "${pair[@]}"; do start_harness "$h"; done
    wait
    for h in "${pair[@]}"; do
        check "$h: seeds replayed and ${SECONDS_EACH} s of new inputs without a finding" harness_passed "$h"
        grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
            "$WORK/last.out" | sed 's/^/# /'
    done
done
finish
