#!/bin/bash
# The long fuzzing run recorded in docs/FUZZING.md: every harness until 10 M executions or its
# share of the time, FUZZ_JOBS (default 2) at a time in the order given (fastest first), each from
# a copy of its seed corpus, at the lowest priority (nice 19: other work on the machine hardly
# notices). Logs and grown corpora go to fuzz/build/long/.
#   fuzz/long-run.sh DEADLINE [HARNESS...]     DEADLINE: date(1) time, e.g. "21:05"
# Per-harness cap: FUZZ_CAP_SECONDS (default 1800). FUZZ_WORKERS (default 1) processes per harness
# share its corpus and its 10 M executions. FUZZ_CONTINUE=1: take a harness's grown corpus up
# again instead of starting from the seeds (a campaign longer than one sitting; the 10 M is then
# the sum of its runs' executions). Run fuzz/build.sh first.
# The per-input timeout is 30 min so that the runs may be paused (kill -STOP / -CONT) while a
# benchmark needs a quiet machine; a real hang still shows as a run that stops counting.
set -euo pipefail
[ -n "${FUZZ_OWN_SESSION:-}" ] || FUZZ_OWN_SESSION=1 exec setsid --wait "$0" "$@"
cd "$(dirname "$0")/.."
out=${FUZZ_BUILD_DIR:-$PWD/fuzz/build}
deadline=$(date -d "$1" +%s)
shift
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_metadata fuzz_config fuzz_ec2_xml fuzz_sigv4 fuzz_keyrecords
                                         fuzz_cache fuzz_signer fuzz_emu_request fuzz_imds)
mkdir -p "$out/long"
# With the kernel's autogroup scheduling, nice only ranks processes within their session: lower
# the session's whole group too, or a run takes a fair share of the machine against everything
# else. The script runs in a session of its own (setsid, above), so that the shell that started it
# keeps its priority.
echo 19 2>/dev/null >/proc/self/autogroup || true

# One libFuzzer process of harness $1 on its shared corpus: log name $2, $3 executions, $4 seconds.
# It writes straight to NAME.full.log (the progress lines show how far a run got even if it is
# killed); NAME.log is that without the lines for each new or reduced input.
run_worker() {
    local h=$1 name=$2 runs=$3 left=$4
    {
        echo "# started $(date -u +%FT%TZ), max $left s"
        echo "# nice -n 19 $out/$h -runs=$runs -max_total_time=$left -timeout=1800 -print_final_stats=1 -artifact_prefix=$out/long/$h- $out/long/corpus-$h"
        nice -n 19 "$out/$h" -runs="$runs" -max_total_time="$left" -timeout=1800 -print_final_stats=1 \
            -artifact_prefix="$out/long/$h-" "$out/long/corpus-$h" 2>&1 || true
        echo "# ended $(date -u +%FT%TZ)"
    } >"$out/long/$name.full.log" 2>&1
    grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)' "$out/long/$name.full.log" >"$out/long/$name.log" || true
}

run_one() {
    local h=$1 left workers=${FUZZ_WORKERS:-1} name=$1
    left=$(( deadline - $(date +%s) ))
    [ "$left" -gt "${FUZZ_CAP_SECONDS:-1800}" ] && left=${FUZZ_CAP_SECONDS:-1800}
    [ "$left" -gt 0 ] || { echo "$h: no time left" >"$out/long/$h.log"; return 0; }
    if [ -n "${FUZZ_CONTINUE:-}" ] && [ -d "$out/long/corpus-$h" ]; then
        # A campaign taken up again from the corpus it grew: its executions add up across the
        # runs, each of which logs under its own start time.
        name=$h-$(date -u +%Y%m%dT%H%M%S)
    else
        rm -rf "$out/long/corpus-$h"
        cp -r "fuzz/corpus/$h" "$out/long/corpus-$h"
    fi
    if [ "$workers" -eq 1 ]; then
        run_worker "$h" "$name" 10000000 "$left"
        return 0
    fi
    # As libFuzzer's -jobs: the workers share one corpus directory (each reloads what the others
    # add) and share the 10 M executions; their logs are NAME-wK.log.
    for ((k = 1; k <= workers; k++)); do
        run_worker "$h" "$name-w$k" $(( (10000000 + workers - 1) / workers )) "$left" &
    done
    wait
}
export -f run_one run_worker
export out deadline
printf '%s\n' "${harnesses[@]}" | xargs -P "${FUZZ_JOBS:-2}" -I{} bash -c 'run_one "$1"' _ {}
