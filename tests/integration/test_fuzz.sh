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

run_harness() {
    local h=$1
    cp -r "$TOP/fuzz/corpus/$h" "$WORK/corpus-$h" || return 1
    "$FUZZ_BUILD_DIR/$h" -max_total_time="$SECONDS_EACH" -timeout=120 -print_final_stats=1 \
        -artifact_prefix="$WORK/$h-" "$WORK/corpus-$h" 2>&1 | grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)'
    return "${PIPESTATUS[0]}"
}

for h in "${HARNESSES[@]}"; do
    check "$h: seeds replayed and ${SECONDS_EACH} s of new inputs without a finding" run_harness "$h"
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' "$WORK/last.out" |
        sed 's/^/# /'
done
finish
