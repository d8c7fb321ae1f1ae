#!/bin/bash
# End to end: setuid-root programs never take eic's trust path (issue #9 step 0). A setuid program
# (su, sudo) runs with euid 0 but with its invoker's environment, and libcurl obeys SSLKEYLOGFILE
# there: with `umask 0; SSLKEYLOGFILE=/etc/ld.so.preload su NAME` it created a root-owned,
# world-writable file wherever the invoker pointed it, through nss_eic's miss path, and through
# pam_eic's key check inside sudo. Real setuid su and sudo, run by unprivileged users in the sandbox
# namespace (see sandbox.sh). Needs root; without it every case is "not ok".
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

CASES=(
    "setuid su by an unprivileged user, unknown mappable name: no such user, no key log file, no IMDS request"
    "the same su for a cached IAM account still finds it (and asks for a password)"
    "control: the same name looked up by plain root asks IMDS and resolves"
    "setuid sudo -u NAME by an IAM-mapped user, unknown mappable name: unknown user, no key log file, no IMDS request"
    "setuid sudo by an IAM-mapped user through pam_eic, login key planted in the PAM environment: runs, no key log file, no IMDS request"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

SANDBOX="$WORK"
AUDIT=/srv/eic/log/audit.log
RULES='[map arn:aws:iam::111122223333:user/*]
name = {user}'
trap 'sandbox_stop; cleanup' EXIT

sandbox_setup
sandbox_install_nss
sandbox_install_pam "audit_log=$AUDIT"
sandbox_add_user dave 61000
sandbox_write_config "$RULES"
sandbox_start_imds --config "$TEST_DATA/worlds/mapped.json" || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }
for k in key-alice key-carol; do ssh-keygen -q -t ed25519 -N '' -C $k -f "$WORK/$k"; done
EMU_LOG="$SANDBOX/emulator/emulator.log"

push_as() { # push_as alice|carol PUBKEY: a push for the OS user of the same name
    local ak=$ALICE_AK sk=$ALICE_SK
    [ "$1" = carol ] && ak=AKIAEICTESTCAROL0003 sk=eic-test-secret-carol
    AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "$EIC_CLIENT" send-ssh-public-key \
        --endpoint-url http://169.254.169.254 --region $REGION --instance-id $INSTANCE \
        --instance-os-user "$1" --ssh-public-key "file://$2" >>"$WORK/push.log" 2>&1
}
# imds_requests_since MARK: how many IMDS requests the emulator logged after line MARK.
imds_requests_since() { tail -n +$(($1 + 1)) "$EMU_LOG" | grep -c ' /latest/'; }
emu_mark() { wc -l <"$EMU_LOG"; }
# run_as USER CMD...: CMD with USER's real and effective ids and groups (no setuid bit of its own),
# the caller's umask 0, and SSLKEYLOGFILE set: what an attacker's shell would hand a setuid program.
run_as() {
    local user=$1
    shift
    (umask 0 && exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
        env HOME="/home/$user" SSLKEYLOGFILE="$KEYLOG" "$@" </dev/null)
}
# no_trust_work MARK: the key log file was not created and no IMDS request was made since MARK.
no_trust_work() {
    local n
    if [ -e "$KEYLOG" ]; then
        echo "the key log file was created:"
        ls -l "$KEYLOG"
        return 1
    fi
    n=$(imds_requests_since "$1")
    [ "$n" -eq 0 ] || { echo "$n IMDS requests:"; tail -n +$(($1 + 1)) "$EMU_LOG" | grep ' /latest/'; return 1; }
}

# carol exists nowhere yet; her push is waiting in IMDS, and the map rule gives her a name.
push_as carol "$WORK/key-carol.pub"
su_unknown() {
    local out m
    m=$(emu_mark)
    KEYLOG=/srv/eic/keylog-su
    out=$(run_as dave timeout 20 su carol -c true 2>&1) && { echo "su succeeded: $out"; return 1; }
    echo "su: $out"
    echo "$out" | grep -q "does not exist" || return 1
    no_trust_work "$m" || return 1
    # Not created behind the scenes either (an unprivileged lookup reads the cache only).
    ! setpriv --reuid=dave --regid=dave --clear-groups getent passwd carol
}
check "${CASES[0]}" su_unknown

# alice logs in over ssh: her account is created (by sshd, plain root) and cached.
push_as alice "$WORK/key-alice.pub"
sandbox_login alice "$WORK/key-alice" true || echo "# alice's login failed"
alice_uid=$(getent passwd alice | cut -d: -f3)
su_cached() {
    local out m
    m=$(emu_mark)
    KEYLOG=/srv/eic/keylog-su-cached
    out=$(run_as dave timeout 20 su alice -c true 2>&1) && { echo "su succeeded: $out"; return 1; }
    echo "su: $out"
    echo "$out" | grep -q "Authentication failure" && no_trust_work "$m"
}
check "${CASES[1]}" su_cached

# The control: sshd's case (plain root) still reaches IMDS for a name it has never seen.
root_resolves() {
    local m n
    m=$(emu_mark)
    getent passwd carol || { echo "carol not found"; return 1; }
    n=$(imds_requests_since "$m")
    echo "$n IMDS requests"
    [ "$n" -gt 0 ]
}
check "${CASES[2]}" root_resolves

# sudo's stack with pam_eic in account and session (as the pam-auth-update profile puts it in
# common-account and common-session), and pam_env reading the target user's ~/.pam_environment
# (user_readenv=1, which administrators can switch on): a user's own SSH_AUTH_INFO_0 reaches
# pam_eic's session step.
install -m 0440 /dev/stdin /etc/sudoers.d/eic-test-alice <<<"alice ALL=(ALL) NOPASSWD: ALL"
sed -i -e "/^@include common-account/a account required pam_eic.so audit_log=$AUDIT" /etc/pam.d/sudo
cat >>/etc/pam.d/sudo <<PAM
session required pam_env.so readenv=0 user_readenv=1
session required pam_eic.so audit_log=$AUDIT
PAM
sudo_unknown() {
    local out m
    m=$(emu_mark)
    KEYLOG=/srv/eic/keylog-sudo-u
    out=$(run_as alice timeout 20 sudo -n -u dora true 2>&1) && { echo "sudo succeeded: $out"; return 1; }
    echo "sudo: $out"
    echo "$out" | grep -q "unknown user" && no_trust_work "$m"
}
check "${CASES[3]}" sudo_unknown

sudo_planted_key() {
    local out m
    KEYLOG=/srv/eic/keylog-sudo
    # The key alice really logged in with, still valid in IMDS: only where it came from is wrong.
    push_as alice "$WORK/key-alice.pub"
    m=$(emu_mark)
    printf 'SSH_AUTH_INFO_0 DEFAULT="publickey %s"\n' "$(cut -d' ' -f1,2 "$WORK/key-alice.pub")" \
        >/home/alice/.pam_environment
    chown alice /home/alice/.pam_environment
    out=$(run_as alice timeout 20 sudo -n -u alice id -un 2>&1) || { echo "sudo failed: $out"; return 1; }
    echo "sudo: $out"
    [ "$out" = alice ] || return 1
    no_trust_work "$m" || return 1
    grep -q "pushed keys of alice not checked: not asked from a setuid or non-root process" "$AKC_LOG"
}
check "${CASES[4]}" sudo_planted_key

if [ "$TAP_FAILED" -ne 0 ]; then
    echo "# --- akc.log"; sed 's/^/# /' "$AKC_LOG" | tail -n 30
    echo "# --- sshd.log"; sed 's/^/# /' "$WORK/sshd.log" | tail -n 20
fi
finish
