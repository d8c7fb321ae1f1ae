#!/bin/bash
# End to end for pam_eic (issue #5): sshd (PAM service sshd-eic) + nss_eic + eic-authorized-keys +
# pam_eic in the sandbox namespace (see sandbox.sh). Needs root; without it every case is "not ok".
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

CASES=(
    "alice logs in; her home exists, owned by her, mode 0700, with /etc/skel's files"
    "the audit JSON line names her ARN, request id and key fingerprint"
    "EIC_PRINCIPAL and EIC_REQUEST_ID are in her session"
    "session close is audited with its duration"
    "bob (role Admins) runs sudo -n id -u and gets 0"
    "alice's sudo -n is refused"
    "a deny rule added after alice's first login stops her next login although she is cached"
    "max_session=5 ends a sleep 60 session within about 5 s, and the audit says so"
    "an EIC-only user with a key from authorized_keys is refused"
    "an EIC-only user with a pushed key gets in"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

SANDBOX="$WORK"
SANDBOX_LIFETIME=30
AUDIT=/srv/eic/log/audit.log
RULES='[map arn:aws:sts::111122223333:assumed-role/Admins/*]
name = {session}
groups = eic-admins
[map arn:aws:iam::111122223333:user/*]
name = {user}'
trap 'sandbox_stop; cleanup' EXIT

sandbox_setup
sandbox_install_nss
sandbox_install_pam "audit_log=$AUDIT" max_session=5 eic_only=ec2-user
install -m 0440 "$TOP/configs/sudoers.d/eic" /etc/sudoers.d/eic
echo "eic skeleton" >/etc/skel/.eic-skel-marker
sandbox_add_user ec2-user 61000
sandbox_write_config "$RULES"
sandbox_start_imds --config "$TEST_DATA/worlds/mapped.json" || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }
for k in key-alice key-bob key-ec2 key-local; do ssh-keygen -q -t ed25519 -N '' -C $k -f "$WORK/$k"; done
fp() { ssh-keygen -lf "$1" | awk '{print $2}'; }

push_as() { # push_as alice|bob OS_USER PUBKEY
    local ak=$ALICE_AK sk=$ALICE_SK
    [ "$1" = bob ] && ak=$BOB_AK sk=$BOB_SK
    AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "$EIC_CLIENT" send-ssh-public-key \
        --endpoint-url http://169.254.169.254 --region $REGION --instance-id $INSTANCE \
        --instance-os-user "$2" --ssh-public-key "file://$3" >>"$WORK/push.log" 2>&1
}

# 1-4: alice's first login.
push_as alice alice "$WORK/key-alice.pub"
out=$(sandbox_login alice "$WORK/key-alice" 'echo "P=$EIC_PRINCIPAL R=$EIC_REQUEST_ID"; stat -c "%U %a" "$HOME"; cat "$HOME/.eic-skel-marker"')
echo "$out" | sed 's/^/# /'
check "${CASES[0]}" bash -c "echo '$out' | grep -qx 'alice 700' && echo '$out' | grep -qx 'eic skeleton'"
audited_open() {
    grep '"event":"session_open"' "$AUDIT" | grep '"user":"alice"' |
        grep '"principal":"arn:aws:iam::111122223333:user/alice"' | grep '"request_id":"[0-9a-f-]\{36\}"' |
        grep -q "\"fingerprint\":\"$(fp "$WORK/key-alice.pub")\""
}
check "${CASES[1]}" audited_open
check "${CASES[2]}" bash -c "echo '$out' | grep -q '^P=arn:aws:iam::111122223333:user/alice R=[0-9a-f-]\{36\}$'"
sleep 1
check "${CASES[3]}" bash -c "grep '\"event\":\"session_close\"' '$AUDIT' | grep '\"user\":\"alice\"' | grep -q '\"duration\":'"

# 5, 6: sudo through the group bob's rule gives him.
push_as bob bob "$WORK/key-bob.pub"
login_prints() { # login_prints EXPECTED USER KEY COMMAND
    local want=$1 out
    shift
    out=$(sandbox_login "$@")
    echo "output: $out"
    [ "$out" = "$want" ]
}
refused() { # refused USER KEY COMMAND: the login fails and the command never runs
    local out
    if out=$(sandbox_login "$@" 2>&1); then echo "login succeeded: $out"; return 1; fi
    echo "output: $out"
    ! echo "$out" | grep -qx 'in'
}
check "${CASES[4]}" login_prints 0 bob "$WORK/key-bob" 'sudo -n id -u'
check "${CASES[5]}" refused alice "$WORK/key-alice" 'sudo -n true'


# 7: a deny rule after her first login. Her key is in an authorized_keys file too, so it is the
# PAM account step (not the AuthorizedKeysCommand) that must stop her.
install -m 0644 "$WORK/key-alice.pub" /srv/eic/keys/alice
sandbox_write_config "$RULES
[deny arn:aws:iam::111122223333:user/alice]"
denied() {
    if sandbox_login alice "$WORK/key-alice" true; then echo "alice logged in"; return 1; fi
    getent passwd alice >/dev/null || { echo "alice is no longer cached"; return 1; }
    grep -q "pam_eic" "$AKC_LOG" "$WORK/sshd.log" 2>/dev/null
}
check "${CASES[6]}" denied
rm -f /srv/eic/keys/alice
sandbox_write_config "$RULES"

# 8: max_session=5.
push_as bob bob "$WORK/key-bob.pub"
bounded_session() {
    local start s
    start=$(date +%s)
    sandbox_login bob "$WORK/key-bob" 'sleep 60'
    s=$(($(date +%s) - start))
    echo "session lasted $s s"
    [ $s -ge 4 ] && [ $s -le 12 ] && grep '"event":"session_expired"' "$AUDIT" | grep -q '"user":"bob"'
}
check_timed "${CASES[7]}" bounded_session

# 9, 10: ec2-user is EIC-only.
install -m 0644 "$WORK/key-local.pub" /srv/eic/keys/ec2-user
eic_only_refused() {
    refused ec2-user "$WORK/key-local" 'touch /home/ec2-user/ran; echo in' || return 1
    [ ! -e /home/ec2-user/ran ] || { echo "the command ran"; return 1; }
}
check "${CASES[8]}" eic_only_refused
push_as alice ec2-user "$WORK/key-ec2.pub"
check "${CASES[9]}" login_prints in ec2-user "$WORK/key-ec2" 'echo in' 

if [ "$TAP_FAILED" -ne 0 ]; then
    echo "# --- audit.log"; sed 's/^/# /' "$AUDIT" | tail -n 20
    echo "# --- akc.log"; sed 's/^/# /' "$AKC_LOG" | tail -n 30
    echo "# --- sshd.log"; sed 's/^/# /' "$WORK/sshd.log" | tail -n 40
fi
finish
