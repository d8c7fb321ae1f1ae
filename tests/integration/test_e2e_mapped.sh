#!/bin/bash
# End to end for IAM-mapped accounts (issue #4): sshd + nss_eic + eic-authorized-keys + pam_eic in the
# sandbox namespace (see sandbox.sh). alice and bob exist nowhere but in the mapping rules and, once they
# logged in, in eic's account cache. Needs root (CI runs as root); without it every case is "not ok".
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

CASES=(
    "alice (no local account) pushes and logs in"
    "id shows alice's mapped UID (in range, stable) and her private group"
    "bob (role Admins) logs in with the admin group from his rule"
    "bob's push for os-user alice cannot log in as alice"
    "after expiry getent passwd alice still resolves"
    "after expiry ls -l shows alice's name"
    "IMDS down: cached users still resolve"
    "IMDS hanging: an unknown name returns within the deadline"
    "a deny rule stops alice's next login"
    "a local account name is never served by nss_eic"
    "the Admins rule stops giving sudo: bob's next login has no sudo (id -Gn, getent initgroups)"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

SANDBOX="$WORK"
SANDBOX_LIFETIME=6
RULES='uid_min = 200000
uid_max = 299999
[map arn:aws:sts::111122223333:assumed-role/Admins/*]
name = {session}
groups = sudo
[map arn:aws:iam::111122223333:user/*]
name = {user}'
trap 'sandbox_stop; cleanup' EXIT

sandbox_setup
sandbox_install_nss
sandbox_install_pam audit_log=/srv/eic/log/audit.log
sandbox_write_config "$RULES"
WORLD=(--config "$TEST_DATA/worlds/mapped.json")
sandbox_start_imds "${WORLD[@]}" || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }
for k in key-alice key-bob key-x; do ssh-keygen -q -t ed25519 -N '' -C $k -f "$WORK/$k"; done

push_as() { # push_as alice|bob|carol OS_USER PUBKEY
    local ak=$ALICE_AK sk=$ALICE_SK
    [ "$1" = bob ] && ak=$BOB_AK sk=$BOB_SK
    [ "$1" = carol ] && ak=AKIAEICTESTCAROL0003 sk=eic-test-secret-carol
    AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "$EIC_CLIENT" send-ssh-public-key \
        --endpoint-url http://169.254.169.254 --region $REGION --instance-id $INSTANCE \
        --instance-os-user "$2" --ssh-public-key "file://$3" >>"$WORK/push.log" 2>&1
}
log_size() { stat -c %s "$AKC_LOG"; }
log_since() { tail -c +$(($1 + 1)) "$AKC_LOG"; }

# 1, 2: alice has no local account; her push makes her exist.
check "alice is not a local account" bash -c '! grep -q "^alice:" /etc/passwd'
push_as alice alice "$WORK/key-alice.pub"
out=$(sandbox_login alice "$WORK/key-alice" 'echo "$(id -un) $(id -u) $(id -g) $(id -Gn)"')
echo "# alice: $out"
check "${CASES[0]}" test "${out%% *}" = alice
alice_uid=$(echo "$out" | awk '{print $2}')
in_range_and_private() {
    [ "$alice_uid" -ge 200000 ] && [ "$alice_uid" -le 299999 ] || return 1
    [ "$(echo "$out" | awk '{print $3}')" = "$alice_uid" ] || return 1
    # Stable: the same UID from the cache after the login, by name and by id.
    [ "$(getent passwd alice | cut -d: -f3)" = "$alice_uid" ] &&
        [ "$(getent passwd "$alice_uid" | cut -d: -f1)" = alice ]
}
check "${CASES[1]}" in_range_and_private

# 3: bob, a session of the Admins role, gets the rule's admin group.
push_as bob bob "$WORK/key-bob.pub"
out=$(sandbox_login bob "$WORK/key-bob" 'id -un; id -Gn')
echo "# bob: $(echo $out)"
check "${CASES[2]}" bash -c "echo '$out' | head -n1 | grep -qx bob && echo '$out' | tail -n1 | grep -qw sudo"

# 4: bob pushes a key for os-user alice: the record's #Caller maps to bob, not alice.
m=$(log_size)
push_as bob alice "$WORK/key-x.pub"
bob_as_alice_refused() {
    if sandbox_login alice "$WORK/key-x"; then echo "bob's key logged in as alice"; return 1; fi
    log_since "$m" | grep -q "maps to another account"
}
check "${CASES[3]}" bob_as_alice_refused

# 5, 6: after the keys expired, alice still resolves (from the cache).
sleep $((SANDBOX_LIFETIME + 1))
check "${CASES[4]}" bash -c "getent passwd alice | grep -q '^alice:\*:$alice_uid:$alice_uid:'"
touch "$WORK/owned-by-alice"
chown "$alice_uid" "$WORK/owned-by-alice"
check "${CASES[5]}" bash -c "ls -l '$WORK/owned-by-alice' | awk '{print \$3}' | grep -qx alice"

# 7, 8: IMDS down, then hanging.
kill "$SANDBOX_EMU_PID"; wait "$SANDBOX_EMU_PID" 2>/dev/null; SANDBOX_EMU_PID=""
check "${CASES[6]}" bash -c "getent passwd alice >/dev/null && getent passwd bob >/dev/null && id bob | grep -qw sudo"
sandbox_start_imds "${WORLD[@]}" --fault '/latest/*=hang'
unknown_is_bounded() {
    local start ms
    start=$(date +%s%N)
    getent passwd carol && { echo "carol resolved"; return 1; }
    ms=$((($(date +%s%N) - start) / 1000000))
    echo "getent passwd carol: $ms ms"
    [ $ms -lt $((1000 * TIME_SCALE + 500)) ] # imds_timeout_ms (1000) is the whole budget of an NSS miss
}
check_timed "${CASES[7]}" unknown_is_bounded

# 9: a deny rule added after alice's first login stops her next one, although she is cached.
sandbox_start_imds "${WORLD[@]}"
sandbox_write_config "$RULES
[deny arn:aws:iam::111122223333:user/alice]"
m=$(log_size)
push_as alice alice "$WORK/key-alice.pub"
denied() {
    if sandbox_login alice "$WORK/key-alice"; then echo "alice logged in"; return 1; fi
    log_since "$m" | grep -q "denied"
}
check "${CASES[8]}" denied

# 10: carol is a local account; her principal maps to "carol", and nss_eic must not serve it (even
# asked directly, as root, with a verified record for carol at hand): local accounts are never shadowed.
sandbox_write_config "$RULES"
sandbox_add_user carol 61000
push_as carol carol "$WORK/key-x.pub"
not_shadowed() {
    if getent -s eic passwd carol; then echo "nss_eic served carol"; return 1; fi
    [ "$(getent passwd carol | cut -d: -f3)" = 61000 ] && sandbox_login carol "$WORK/key-x"
}
check "${CASES[9]}" not_shadowed

# 11: the rule that gave bob sudo no longer does. His account exists, so nss_eic never asks IMDS
# for him again; pam_eic's account step brings it in line at his next login.
sandbox_write_config "${RULES/groups = sudo
/}"
m=$(log_size)
push_as bob bob "$WORK/key-bob.pub"
sudo_taken_away() {
    local groups sudo_gid
    sudo_gid=$(getent group sudo | cut -d: -f3)
    groups=$(sandbox_login bob "$WORK/key-bob" 'id -Gn') || { echo "bob cannot log in"; return 1; }
    echo "bob: $groups; initgroups: $(getent initgroups bob)"
    ! echo "$groups" | grep -qw sudo && ! getent initgroups bob | grep -qw "$sudo_gid" &&
        log_since "$m" | grep -q "account cache: bob (uid [0-9]*) groups now none (were sudo($sudo_gid))"
}
check "${CASES[10]}" sudo_taken_away

if [ "$TAP_FAILED" -ne 0 ]; then
    echo "# --- akc.log"; sed 's/^/# /' "$AKC_LOG" | tail -n 30
    echo "# --- sshd.log"; sed 's/^/# /' "$WORK/sshd.log" | tail -n 30
    echo "# --- push.log"; sed 's/^/# /' "$WORK/push.log" | tail -n 10
fi
finish
