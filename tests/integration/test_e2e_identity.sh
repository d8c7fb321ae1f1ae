#!/bin/bash
# End to end for identity (issue #10): an account belongs to one identity, revocation ends access,
# IAM Identity Center users keep one account across permission sets. The sandbox of test_e2e_*
# (sandbox.sh: real sshd, nss_eic, pam_eic, eicd, the AKC, the emulator at 169.254.169.254), with a
# world whose principals include a role session that chose the name "alice" and one Identity
# Center user under two permission sets, and one whose user name is an e-mail address (a rule pins
# the domain, name = {email_local}, lowercase = yes). Needs root; without it every case is "not ok".
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

ALICE_ARN=arn:aws:iam::111122223333:user/alice
SESSION_ARN=arn:aws:sts::111122223333:assumed-role/Admins/alice
SSO_ADMIN_ARN=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jdoe
SSO_READ_ARN=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnly_fedcba9876543210/jdoe
JANE_ADMIN_ARN=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/Jane.Doe@example.com
JANE_READ_ARN=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnly_fedcba9876543210/Jane.Doe@example.com
EVIL_ARN=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/x@evil.example
CASES=(
    "IAM user alice pushes and logs in: the account alice is hers"
    "a role session that chose the name alice is refused as alice (both ARNs logged); the account stays alice's"
    "alice still logs in with her own push"
    "IAM Identity Center: jdoe under the Admin permission set logs in with its group"
    "the same person under the ReadOnly permission set lands in the same account (same UID), without the Admin group"
    "revocation: with no push, a key alice planted in an authorized_keys file does not log her in (logged)"
    "a rule with logins = any lets the planted key in"
    "a session that opens after the record expired is still the EIC key's (managed, principal audited)"
    "an administrator hands alice's account to the role session (eicd --hand-over): it logs in with alice's UID, IAM user alice no longer does"
    "IAM Identity Center, e-mail user name: Jane.Doe@example.com under the Admin permission set logs in as jane.doe with its group"
    "Jane.Doe@example.com under the ReadOnly permission set (another key) lands in jane.doe (same UID), without the Admin group"
    "an e-mail user name of another domain (x@evil.example) gets no account (its name is refused, logged)"
    "a directory user (another NSS source) named like an eic account logs in with none of the account's groups"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

SANDBOX="$WORK"
SANDBOX_LIFETIME=6
AUDIT=/srv/eic/log/audit.log
RULES='uid_min = 200000
uid_max = 299999
[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_*/*]
email_domain = example.com
name = {email_local}
lowercase = yes
groups = eic-admins
[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]
email_domain = example.com
name = {email_local}
lowercase = yes
[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_*/*]
name = {session}
groups = eic-admins
[map arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_*/*]
name = {session}
[map arn:aws:sts::111122223333:assumed-role/Admins/*]
name = {session}
[map arn:aws:iam::111122223333:user/*]
name = {user}'
trap 'sandbox_stop; cleanup' EXIT

cat >"$WORK/world.json" <<EOF
{
  "instance": {"id": "$INSTANCE", "availability_zone": "us-east-1a", "domain": "amazonaws.com",
               "account_id": "111122223333", "imdsv2_required": true},
  "key_lifetime": $SANDBOX_LIFETIME,
  "principals": [
    {"arn": "$ALICE_ARN", "access_key_id": "AKIAEICDEMOALICE0001", "secret_access_key": "eic-demo-secret-alice"},
    {"arn": "$SESSION_ARN", "access_key_id": "AKIAEICTESTSESSALICE", "secret_access_key": "eic-test-secret-session"},
    {"arn": "$SSO_ADMIN_ARN", "access_key_id": "AKIAEICTESTSSOADMIN1", "secret_access_key": "eic-test-secret-sso-admin"},
    {"arn": "$SSO_READ_ARN", "access_key_id": "AKIAEICTESTSSOREAD01", "secret_access_key": "eic-test-secret-sso-read"},
    {"arn": "$JANE_ADMIN_ARN", "access_key_id": "AKIAEICTESTJANEADMIN", "secret_access_key": "eic-test-secret-jane-admin"},
    {"arn": "$JANE_READ_ARN", "access_key_id": "AKIAEICTESTJANEREAD1", "secret_access_key": "eic-test-secret-jane-read"},
    {"arn": "$EVIL_ARN", "access_key_id": "AKIAEICTESTEVILSSO01", "secret_access_key": "eic-test-secret-evil"},
    {"arn": "arn:aws:iam::111122223333:user/dora", "access_key_id": "AKIAEICTESTDORA00001", "secret_access_key": "eic-test-secret-dora"}
  ],
  "policy": [{"principal": "arn:aws:*::111122223333:*", "instance": "$INSTANCE", "os_user": "*"}]
}
EOF

sandbox_setup
sandbox_install_nss
# A directory (SSSD, LDAP) stands between files and eic: tests/unit/libnss_eicfake.so.2 answers from
# EIC_FAKE_NSS_FILE, which sshd, eicd and their children inherit; it knows nobody yet.
install -m 0644 "$EIC_BUILD/tests/unit/libnss_eicfake.so.2" "/usr/lib/$(gcc -print-multiarch)/"
sed -i -E 's/^(passwd|group):.*/\1: files eicfake eic/' /etc/nsswitch.conf
export EIC_FAKE_NSS_FILE="$WORK/directory"
: >"$EIC_FAKE_NSS_FILE"
sandbox_install_pam "audit_log=$AUDIT"
sandbox_write_config "$RULES"
WORLD=(--config "$WORK/world.json")
sandbox_start_imds "${WORLD[@]}" || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }
for k in key-alice key-session key-sso key-sso2 key-planted key-jane key-jane2 key-evil key-dora key-directory; do ssh-keygen -q -t ed25519 -N '' -C $k -f "$WORK/$k"; done

push_as() { # push_as alice|session|sso-admin|sso-read OS_USER PUBKEY
    local ak sk
    case $1 in
    alice) ak=AKIAEICDEMOALICE0001 sk=eic-demo-secret-alice ;;
    session) ak=AKIAEICTESTSESSALICE sk=eic-test-secret-session ;;
    sso-admin) ak=AKIAEICTESTSSOADMIN1 sk=eic-test-secret-sso-admin ;;
    sso-read) ak=AKIAEICTESTSSOREAD01 sk=eic-test-secret-sso-read ;;
    dora) ak=AKIAEICTESTDORA00001 sk=eic-test-secret-dora ;;
    jane-admin) ak=AKIAEICTESTJANEADMIN sk=eic-test-secret-jane-admin ;;
    jane-read) ak=AKIAEICTESTJANEREAD1 sk=eic-test-secret-jane-read ;;
    evil) ak=AKIAEICTESTEVILSSO01 sk=eic-test-secret-evil ;;
    esac
    AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "$EIC_CLIENT" send-ssh-public-key \
        --endpoint-url http://169.254.169.254 --region $REGION --instance-id $INSTANCE \
        --instance-os-user "$2" --ssh-public-key "file://$3" >>"$WORK/push.log" 2>&1
}
log_size() { stat -c %s "$AKC_LOG"; }
log_since() { tail -c +$(($1 + 1)) "$AKC_LOG"; }
last_session_open() { grep '"event":"session_open"' "$AUDIT" | tail -n 1; }

# 1
push_as alice alice "$WORK/key-alice.pub"
alice_owns() {
    local out
    out=$(sandbox_login alice "$WORK/key-alice" 'id -un') && [ "$out" = alice ] || return 1
    ALICE_UID=$(id -u alice)
    getent passwd alice | grep -q "IAM user/alice"
}
check "${CASES[0]}" alice_owns

# 2: the takeover of the review, at e836eeb: anyone who may assume Admins picks the session name.
takeover_refused() {
    local m
    m=$(log_size)
    push_as session alice "$WORK/key-session.pub" || return 1
    if sandbox_login alice "$WORK/key-session" true; then echo "the role session logged in as alice"; return 1; fi
    log_since "$m" | grep -q "refused: the account belongs to $ALICE_ARN, and $SESSION_ARN is another identity" &&
        getent passwd alice | grep -q "IAM user/alice" && [ "$(id -u alice)" = "$ALICE_UID" ]
}
check "${CASES[1]}" takeover_refused

# 3
push_as alice alice "$WORK/key-alice.pub"
check "${CASES[2]}" sandbox_login alice "$WORK/key-alice" true

# 4, 5: one Identity Center user, two permission sets.
sso_admin() {
    local out
    push_as sso-admin jdoe "$WORK/key-sso.pub" || return 1
    out=$(sandbox_login jdoe "$WORK/key-sso" 'echo "$(id -un) $(id -u) $(id -Gn)"') || return 1
    echo "jdoe: $out"
    JDOE_UID=$(echo "$out" | cut -d' ' -f2)
    echo "$out" | grep -qw eic-admins
}
check "${CASES[3]}" sso_admin
sso_read() {
    local out
    push_as sso-read jdoe "$WORK/key-sso2.pub" || return 1
    out=$(sandbox_login jdoe "$WORK/key-sso2" 'echo "$(id -un) $(id -u) $(id -Gn)"') || return 1
    echo "jdoe: $out"
    [ "$(echo "$out" | cut -d' ' -f2)" = "$JDOE_UID" ] && ! echo "$out" | grep -qw eic-admins &&
        last_session_open | grep -q "\"principal\":\"${SSO_READ_ARN//\//\\/}\""
}
check "${CASES[4]}" sso_read

# 6, 7: alice plants a key of her own during a session; then her IAM right goes (no more pushes:
# her last push has expired).
install -o alice -m 0600 "$WORK/key-planted.pub" /srv/eic/keys/alice
sleep $((SANDBOX_LIFETIME + 1))
planted_refused() {
    local m
    m=$(log_size)
    if sandbox_login alice "$WORK/key-planted" true; then echo "the planted key logged in"; return 1; fi
    log_since "$m" | grep -q "session of alice refused: IAM-mapped account and the login key SHA256:.* is not a key eic let in at this login"
}
check "${CASES[5]}" planted_refused
sandbox_write_config "${RULES/name = \{user\}/name = \{user\}
logins = any}"
check "${CASES[6]}" sandbox_login alice "$WORK/key-planted" true
sandbox_write_config "$RULES"
rm -f /srv/eic/keys/alice

# 8: sshd's session opens after the record expired (a slow PAM stack before pam_eic); the key the
# AKC let in at this login is still the session's.
sed -i "s|^session required pam_eic.so|session optional pam_exec.so quiet /bin/sleep $((SANDBOX_LIFETIME + 2))\n&|" \
    /etc/pam.d/sshd-eic
late_session() {
    push_as alice alice "$WORK/key-alice.pub" || return 1
    sandbox_login alice "$WORK/key-alice" true || return 1
    last_session_open | grep -q '"eic_key":true' &&
        last_session_open | grep -q "\"principal\":\"${ALICE_ARN//\//\\/}\""
}
check "${CASES[7]}" late_session
sed -i '/pam_exec.so quiet \/bin\/sleep/d' /etc/pam.d/sshd-eic

# 9: an administrator's explicit hand-over.
handed_over() {
    local out
    $EIC_TEST_WRAPPER "$EICD" --hand-over alice --to "$SESSION_ARN" || return 1
    push_as session alice "$WORK/key-session.pub" || return 1
    out=$(sandbox_login alice "$WORK/key-session" 'id -u') || { echo "the role session cannot log in"; return 1; }
    [ "$out" = "$ALICE_UID" ] || return 1
    push_as alice alice "$WORK/key-alice.pub" || return 1
    if sandbox_login alice "$WORK/key-alice" true; then echo "IAM user alice still logs in"; return 1; fi
    grep -q "account cache: alice (uid $ALICE_UID) handed over by an administrator to $SESSION_ARN (was $ALICE_ARN)" \
        "$AKC_LOG"
}
check "${CASES[8]}" handed_over

# 10, 11, 12: an Identity Center user whose user name is an e-mail address (#10 item 4): the rule
# pins the domain, so jane.doe is that one address's; two permission sets, one account.
jane_admin() {
    local out
    push_as jane-admin jane.doe "$WORK/key-jane.pub" || return 1
    out=$(sandbox_login jane.doe "$WORK/key-jane" 'echo "$(id -un) $(id -u) $(id -Gn)"') || return 1
    echo "jane.doe: $out"
    JANE_UID=$(echo "$out" | cut -d' ' -f2)
    [ "$(echo "$out" | cut -d' ' -f1)" = jane.doe ] && echo "$out" | grep -qw eic-admins &&
        getent passwd jane.doe | grep -qF "AWSReservedSSO_Admin_0123456789abcdef/Jane.Doe@example.com"
}
check "${CASES[9]}" jane_admin
jane_read() {
    local out
    push_as jane-read jane.doe "$WORK/key-jane2.pub" || return 1
    out=$(sandbox_login jane.doe "$WORK/key-jane2" 'echo "$(id -un) $(id -u) $(id -Gn)"') || return 1
    echo "jane.doe: $out"
    [ -n "$JANE_UID" ] && [ "$(echo "$out" | cut -d' ' -f2)" = "$JANE_UID" ] && ! echo "$out" | grep -qw eic-admins &&
        last_session_open | grep -q "\"principal\":\"${JANE_READ_ARN//\//\\/}\""
}
check "${CASES[10]}" jane_read
evil_refused() {
    local m
    m=$(log_size)
    push_as evil x "$WORK/key-evil.pub" || return 1
    if sandbox_login x "$WORK/key-evil" true; then echo "x@evil.example logged in as x"; return 1; fi
    if getent passwd x >/dev/null; then echo "an account x exists"; return 1; fi
    log_since "$m" | grep -F "$EVIL_ARN" | grep -q "derived name is not a valid login name"
}
check "${CASES[11]}" evil_refused

# 13: IAM user dora has an eic account; then the directory learns a dora of its own (uid 5000),
# who logs in with a key from her authorized_keys file. initgroups(dora, 5000) must not lend her
# the eic account's groups (eic-admins, from dora's rule).
directory_user() {
    local eic_uid out dora_rule
    dora_rule='uid_max = 299999
[map arn:aws:iam::111122223333:user/dora]
name = {user}
groups = eic-admins'
    sandbox_write_config "${RULES/uid_max = 299999/$dora_rule}"
    push_as dora dora "$WORK/key-dora.pub" || return 1
    eic_uid=$(sandbox_login dora "$WORK/key-dora" 'id -u') || { echo "IAM user dora cannot log in"; return 1; }
    echo "passwd dora found 5000 5000" >"$EIC_FAKE_NSS_FILE"
    install -o 5000 -g 5000 -m 0600 "$WORK/key-directory.pub" /srv/eic/keys/dora
    out=$(sandbox_login dora "$WORK/key-directory" 'echo "$(id -u) $(id -G)"') || { echo "directory dora cannot log in"; return 1; }
    echo "eic dora: uid $eic_uid, groups $(id -G "$eic_uid" 2>/dev/null); directory dora: uid and groups $out"
    [ "$out" = "5000 5000" ]
}
check "${CASES[12]}" directory_user
: >"$EIC_FAKE_NSS_FILE"
sandbox_write_config "$RULES"

if [ "$TAP_FAILED" -ne 0 ]; then
    echo "# --- akc.log"; sed 's/^/# /' "$AKC_LOG" | tail -n 40
    echo "# --- errors"; grep -E ': (error|warning):' "$AKC_LOG" | sed 's/^/# /' | tail -n 20
    echo "# --- sshd.log"; sed 's/^/# /' "$WORK/sshd.log" | tail -n 20
    echo "# --- push.log"; sed 's/^/# /' "$WORK/push.log" | tail -n 10
fi
finish
