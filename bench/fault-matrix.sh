#!/bin/bash
# bench/fault-matrix.sh [--no-doc] [ROW_ID...]
#
# The IMDS fault matrix of docs/RELIABILITY.md (issue #7.1), measured end to end in the sandbox
# namespace (real sshd, eic-authorized-keys, nss_eic, pam_eic; the emulator's fault injection;
# see tests/integration/fault_matrix.sh for the rows and what each measures). Prints one line per
# row and, unless --no-doc or only some rows were asked for, rewrites the table between the
# markers in docs/RELIABILITY.md. Needs root and a built tree (scripts/build).
#
# The configuration is eic's default timing (imds_timeout_ms = 1000, deadline_ms = 5000), 5 local
# logins per row; FM_IMDS_TIMEOUT_MS, FM_DEADLINE_MS and FM_SAMPLES override them.
if [ "$(id -u)" -ne 0 ]; then
    echo "fault-matrix: needs root (unshare, sshd, overlays)" >&2
    exit 1
fi
if [ "${1:-}" != --inside ]; then
    exec unshare --net --mount --propagation private bash "$0" --inside "$@"
fi
shift
export FM_IMDS_TIMEOUT_MS=${FM_IMDS_TIMEOUT_MS:-1000} FM_DEADLINE_MS=${FM_DEADLINE_MS:-5000}
export FM_SAMPLES=${FM_SAMPLES:-5}
TESTS="$(cd "$(dirname "$0")/../tests/integration" && pwd)"
source "$TESTS/lib.sh"
source "$TESTS/sandbox.sh"
source "$TESTS/fault_matrix.sh"
DOC="$TOP/docs/RELIABILITY.md"

write_doc=1
if [ "${1:-}" = --no-doc ]; then
    write_doc=0
    shift
fi
ROWS=("$@")
if [ ${#ROWS[@]} -eq 0 ]; then
    mapfile -t ROWS < <(fm_ids)
else
    write_doc=0
fi

SANDBOX="$WORK"
trap 'sandbox_stop; cleanup' EXIT
if ! fm_setup >"$WORK/setup.out" 2>&1; then
    echo "fault-matrix: the sandbox did not come up:" >&2
    cat "$WORK/setup.out" "$AKC_LOG" >&2
    exit 1
fi

# Markdown cells: no '|' and no backticks from log lines.
cell() { printf '%s' "$*" | tr '|`' '/'"'"; }

TABLE="$WORK/table.md"
{
    echo "| row | IMDS | local login (median of $FM_SAMPLES) | cached user | NSS miss | NSS miss again | EIC login | AKC alone | AKC exit | crash | what eic logged |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$TABLE"
load_before=$(cut -d' ' -f1 /proc/loadavg)
# Two unmeasured logins first: the first connections to a new sshd pay one-time costs.
sandbox_login "$FM_LOCAL_USER" "$WORK/key-local" true
sandbox_login "$FM_LOCAL_USER" "$WORK/key-local" true
baseline=""
for id in "${ROWS[@]}"; do
    fm_run_row "$id"
    [ -n "$baseline" ] || baseline=$FM_LOCAL_MS
    delta=$((FM_LOCAL_MS - baseline))
    [ "$delta" -ge 0 ] && delta="+$delta"
    printf '%-17s local %s %5sms (%sms) | cached %s %3sms | miss %s %4sms, again %4sms | EIC %-8s %4sms | akc %4sms exit %s | crash %s\n    %s\n' \
        "$id" "$FM_LOCAL_OK" "$FM_LOCAL_MS" "$delta" "$FM_CACHED" "$FM_CACHED_MS" "$FM_MISS" "$FM_MISS_MS" "$FM_MISS_AGAIN_MS" \
        "$FM_EIC" "$FM_EIC_MS" "$FM_AKC_MS" "$FM_AKC_EXIT" "${FM_CRASH:-none}" "$FM_LOG"
    echo "| $id | $(cell "$(fm_field "$id" 2)") | $FM_LOCAL_OK ok, $FM_LOCAL_MS ms ($delta) |" \
        "$(cell "$FM_CACHED"), $FM_CACHED_MS ms | $(cell "$FM_MISS"), $FM_MISS_MS ms |" \
        "$(cell "$FM_MISS_AGAIN"), $FM_MISS_AGAIN_MS ms | $FM_EIC, $FM_EIC_MS ms |" \
        "$FM_AKC_MS ms | $FM_AKC_EXIT | $(cell "${FM_CRASH:-none}") | \`$(cell "$FM_LOG")\` |" >>"$TABLE"
done

if [ "$write_doc" -eq 1 ]; then
    {
        echo "Produced by \`bench/fault-matrix.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, load average" \
            "$load_before at the start and $(cut -d' ' -f1 /proc/loadavg) at the end;" \
            "imds_timeout_ms = $FM_IMDS_TIMEOUT_MS, deadline_ms = $FM_DEADLINE_MS; times in ms, wall clock" \
            "of the whole client command: ssh, getent)."
        echo
        cat "$TABLE"
    } >"$WORK/block.md"
    # Replace what is between the markers; everything around them stays.
    awk -v block="$WORK/block.md" '
        /<!-- fault-matrix:begin -->/ { print; while ((getline l < block) > 0) print l; skip = 1; next }
        /<!-- fault-matrix:end -->/ { skip = 0 }
        !skip { print }' "$DOC" >"$WORK/doc.md" && cat "$WORK/doc.md" >"$DOC"
    echo "fault-matrix: table written to $DOC"
fi
