#!/bin/bash
# End to end: logins when eicd is absent, hung, killed in the middle of a request, and started
# again (issue #9). The sandbox of test_e2e_* (sandbox.sh): real sshd, nss_eic, pam_eic, the AKC,
# the emulator at 169.254.169.254; eicd --foreground as on a host without systemd. Needs root;
# without it every case is "not ok".
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

CASES=(
    "eicd absent: a key pushed for a local user logs in (the AKC checks by itself)"
    "eicd absent: a cached IAM account still resolves and logs in"
    "eicd absent: a new IAM principal's name is not looked up in-process (no account, logged)"
    "eicd hung: the EIC login is refused within deadline_ms, a local key still logs in at once"
    "eicd killed while it answers: the login goes on without it"
    "eicd started again: logins go through it again"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

SANDBOX="$WORK"
RULES='[map arn:aws:iam::111122223333:user/*]
name = {user}'
trap 'kill -CONT "${SANDBOX_EICD_PID:-0}" 2>/dev/null; sandbox_stop; cleanup' EXIT

sandbox_setup
sandbox_install_nss
# pam_eic reads the files sshd reads (AuthorizedKeysFile): a local key login never waits on eicd.
sandbox_install_pam "audit_log=/srv/eic/log/audit.log" "authorized_keys=/srv/eic/keys/%u"
sandbox_add_user eicuser 61000
sandbox_write_config "$RULES"
WORLD=(--config "$TEST_DATA/worlds/mapped.json")
sandbox_start_imds "${WORLD[@]}" || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }
for k in key-eic key-alice key-carol key-local; do ssh-keygen -q -t ed25519 -N '' -C $k -f "$WORK/$k"; done
install -m 0644 "$WORK/key-local.pub" /srv/eic/keys/eicuser

push_as() { # push_as alice|carol OS_USER PUBKEY
    local ak=$ALICE_AK sk=$ALICE_SK
    [ "$1" = carol ] && ak=AKIAEICTESTCAROL0003 sk=eic-test-secret-carol
    AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "$EIC_CLIENT" send-ssh-public-key \
        --endpoint-url http://169.254.169.254 --region $REGION --instance-id $INSTANCE \
        --instance-os-user "$2" --ssh-public-key "file://$3" >>"$WORK/push.log" 2>&1
}
log_size() { stat -c %s "$AKC_LOG"; }
log_since() { tail -c +$(($1 + 1)) "$AKC_LOG"; }
logs_in_as() { # logs_in_as USER KEY: the login works and the session is USER's
    [ "$(sandbox_login "$1" "$2" 'id -un')" = "$1" ]
}

# alice logs in once with the service: her account is cached.
push_as alice alice "$WORK/key-alice.pub"
logs_in_as alice "$WORK/key-alice" || echo "# alice's first login failed"

sandbox_stop_eicd
absent_local() {
    local m
    m=$(log_size)
    push_as alice eicuser "$WORK/key-eic.pub" || return 1
    logs_in_as eicuser "$WORK/key-eic" && log_since "$m" | grep -q "eicd does not answer on /run/eic/eicd.sock .*; checking without it"
}
check "${CASES[0]}" absent_local
absent_cached() {
    getent passwd alice | grep -q '^alice:' || { echo "alice does not resolve"; return 1; }
    push_as alice alice "$WORK/key-alice.pub" || return 1
    logs_in_as alice "$WORK/key-alice"
}
check "${CASES[1]}" absent_cached
absent_new_name() {
    local m
    m=$(log_size)
    push_as carol carol "$WORK/key-carol.pub" || return 1
    if sandbox_login carol "$WORK/key-carol"; then echo "carol logged in"; return 1; fi
    ! getent passwd carol && log_since "$m" | grep -q "nss_eic: eicd does not answer on /run/eic/eicd.sock .*; carol not looked up"
}
check "${CASES[2]}" absent_new_name

sandbox_start_eicd || echo "# eicd did not start again"
hung() {
    local t0 ms
    push_as alice eicuser "$WORK/key-eic.pub" || return 1
    kill -STOP "$SANDBOX_EICD_PID"
    t0=$(date +%s%N)
    if sandbox_login eicuser "$WORK/key-eic"; then kill -CONT "$SANDBOX_EICD_PID"; echo "EIC login accepted"; return 1; fi
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "EIC login refused after $ms ms"
    [ $ms -lt $((SANDBOX_DEADLINE_MS * 2 + 2000)) ] || { kill -CONT "$SANDBOX_EICD_PID"; return 1; }
    t0=$(date +%s%N)
    logs_in_as eicuser "$WORK/key-local" || { kill -CONT "$SANDBOX_EICD_PID"; echo "local key refused"; return 1; }
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "local key login in $ms ms"
    kill -CONT "$SANDBOX_EICD_PID"
    [ $ms -lt 2000 ]
}
check_timed "${CASES[3]}" hung

# The records answer slowly, so that eicd is still at work when it is killed.
sandbox_start_imds "${WORLD[@]}" --fault '/latest/meta-data/managed-ssh-keys/active-keys/*=delay:700'
killed_midway() {
    local m login rc
    push_as alice eicuser "$WORK/key-eic.pub" || return 1
    m=$(log_size)
    sandbox_login eicuser "$WORK/key-eic" 'id -un' >"$WORK/killed.out" 2>&1 &
    login=$!
    sleep 0.4
    kill -KILL "$SANDBOX_EICD_PID"
    wait "$login"; rc=$?
    cat "$WORK/killed.out"
    [ $rc -eq 0 ] && [ "$(cat "$WORK/killed.out")" = eicuser ] &&
        log_since "$m" | grep -q "eicd does not answer on /run/eic/eicd.sock .*; checking without it"
}
check_timed "${CASES[4]}" killed_midway
wait "$SANDBOX_EICD_PID" 2>/dev/null
SANDBOX_EICD_PID=""

sandbox_start_imds "${WORLD[@]}"
sandbox_start_eicd || echo "# eicd did not start again"
again() {
    local m
    push_as alice eicuser "$WORK/key-eic.pub" || return 1
    m=$(log_size)
    logs_in_as eicuser "$WORK/key-eic" && ! log_since "$m" | grep -q "checking without it" &&
        log_since "$m" | grep -q "Providing ssh key"
}
check "${CASES[5]}" again

if [ "$TAP_FAILED" -ne 0 ]; then
    echo "# --- akc.log"; sed 's/^/# /' "$AKC_LOG" | tail -n 30
    echo "# --- sshd.log"; sed 's/^/# /' "$WORK/sshd.log" | tail -n 20
fi
finish
