#!/bin/bash
# The IMDS fault matrix (issue #7.1), end to end through sshd, nss_eic, eic-authorized-keys and
# pam_eic in the sandbox namespace: for each row of tests/integration/fault_matrix.sh, local users
# log in, the cached IAM-mapped user resolves, an NSS miss comes back (not found), EIC logins fail
# closed (or work where IMDS answers in time), nothing crashes, and eic logs a line that names the
# fault. Times are not asserted beyond "returned, well within a bound of the deadline" (a hang is a
# bug); bench/fault-matrix.sh measures them. Needs root; without it every case is "not ok".
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"
source "$(dirname "$0")/fault_matrix.sh"

if [ "${1:-}" != --inside ]; then
    for id in $(fm_ids); do not_ok "$id: $(fm_field "$id" 2) (needs root and unshare)"; done
    finish
    exit
fi

SANDBOX="$WORK"
trap 'sandbox_stop; cleanup' EXIT
if ! fm_setup >"$WORK/setup.out" 2>&1; then
    not_ok "sandbox with alice cached"
    sed 's/^/# /' "$WORK/setup.out" "$AKC_LOG" | tail -n 30
    finish
    exit
fi

# Generous bounds (the machine may be loaded): an EIC login may take the AKC's deadline plus ssh's
# own work; an NSS miss is bounded by imds_timeout_ms. A hang would take the 30 s ssh timeout.
EIC_BOUND_MS=$((FM_DEADLINE_MS + 5000))
AKC_BOUND_MS=$((FM_DEADLINE_MS + 2000))
MISS_BOUND_MS=$((FM_IMDS_TIMEOUT_MS + 3000))

row_behaves() { # row_behaves ID
    local id=$1 want pattern
    want=$(fm_field "$id" 4)
    pattern=$(fm_pattern "$id")
    fm_run_row "$id"
    echo "local $FM_LOCAL_OK ${FM_LOCAL_MS}ms | cached $FM_CACHED ${FM_CACHED_MS}ms | miss $FM_MISS ${FM_MISS_MS}ms |" \
        "EIC $FM_EIC ${FM_EIC_MS}ms | akc ${FM_AKC_MS}ms exit $FM_AKC_EXIT | crash '$FM_CRASH'"
    echo "log: $FM_LOG"
    local fail=0
    [ -z "$FM_CRASH" ] || { echo "FAIL crash: $FM_CRASH"; fail=1; }
    [ "$FM_LOCAL_OK" = "$FM_SAMPLES/$FM_SAMPLES" ] || { echo "FAIL local logins: $FM_LOCAL_OK"; fail=1; }
    # A file-key login is not an EIC login: nothing of it may reach IMDS (pam_eic once asked, and
    # every local login then waited for IMDS's timeout when it hung).
    ! grep "active-keys/$FM_LOCAL_USER/" "$FM_LOG_ALL" || { echo "FAIL a local login asked IMDS"; fail=1; }
    [ "$FM_CACHED" = ok ] || { echo "FAIL cached user: $FM_CACHED"; fail=1; }
    [ "$FM_MISS" = "not found" ] || { echo "FAIL NSS miss: $FM_MISS"; fail=1; }
    [ "$FM_MISS_AGAIN" = "not found" ] || { echo "FAIL second NSS miss: $FM_MISS_AGAIN"; fail=1; }
    [ "$FM_MISS_MS" -lt "$MISS_BOUND_MS" ] || { echo "FAIL NSS miss took ${FM_MISS_MS}ms"; fail=1; }
    [ "$FM_EIC" = "$want" ] || { echo "FAIL EIC login $FM_EIC, want $want"; fail=1; }
    [ "$FM_EIC_MS" -lt "$EIC_BOUND_MS" ] || { echo "FAIL EIC login took ${FM_EIC_MS}ms"; fail=1; }
    [ "$FM_AKC_MS" -lt "$AKC_BOUND_MS" ] || { echo "FAIL eic-authorized-keys took ${FM_AKC_MS}ms"; fail=1; }
    grep -qE "$pattern" "$FM_LOG_ALL" || { echo "FAIL no log line matching '$pattern'"; fail=1; }
    if [ "$fail" -ne 0 ]; then
        echo "--- eic log"; cat "$FM_LOG_ALL"
        echo "--- sshd log"; tail -n 15 "$WORK/row-$id.sshd"
    fi
    return $fail
}

for id in $(fm_ids); do
    check "$id: $(fm_field "$id" 2)" row_behaves "$id"
done
finish
