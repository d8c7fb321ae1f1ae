#!/bin/bash
# eic-doctor (docs/DOCTOR.md): an image root installed as the eic package installs it passes with
# no FAIL; each broken wiring, one at a time, gives exactly its own FAIL line and exit status 1.
# The root is `make install` of this build over the machine's /usr (an overlay, in a private
# mount namespace), with the files the package's postinst and pam-auth-update write; sshd -T runs
# in it for real (eic-doctor chroots into the root for that).
if [ -z "${EIC_DOCTOR_NS:-}" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "not ok 1 - test_doctor needs root (mount namespace, chroot)"
        echo "1..1"
        exit 1
    fi
    EIC_DOCTOR_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
# The mounts in the root go before lib.sh's cleanup removes $WORK.
trap 'umount "$ROOT/usr" "$ROOT/proc" 2>/dev/null; cleanup' EXIT

DOCTOR="$EIC_BUILD/doctor/eic-doctor"
if [ -n "$EIC_TEST_WRAPPER" ]; then
    write_wrapper "$EIC_TEST_BIN/eic-doctor" "$DOCTOR"
    DOCTOR="$EIC_TEST_BIN/eic-doctor"
fi
ROOT="$WORK/root"
STAGE="$WORK/stage"
GOOD="$WORK/good" # the pristine /etc and /var of the root, put back before each case
MULTIARCH=$(gcc -print-multiarch)

setup_root() {
    make -s -C "$EIC_BUILD" install DESTDIR="$STAGE" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; return 1; }
    # The units go to /lib/systemd/system, which is /usr/lib/systemd/system in a merged-/usr root.
    cp -a "$STAGE/lib/." "$STAGE/usr/lib/" && rm -rf "$STAGE/lib"
    mkdir -p "$ROOT"/{usr,etc,dev,run,tmp,var/lib,var/log} "$WORK/ovl"
    chmod 0755 "$ROOT" "$STAGE"
    for l in lib lib64 bin sbin; do ln -s "usr/$l" "$ROOT/$l"; done
    mount -t overlay overlay -o "lowerdir=/usr,upperdir=$STAGE/usr,workdir=$WORK/ovl" "$ROOT/usr" || return 1
    mknod -m 0666 "$ROOT/dev/null" c 1 3 || return 1
    # As a chroot builder mounts it (LeakSanitizer reads it in the ASan suite's chroot case).
    mkdir "$ROOT/proc" && mount -t proc proc "$ROOT/proc" || return 1

    local etc="$GOOD/etc"
    mkdir -p "$GOOD/var/lib" "$GOOD/var/log" "$etc/ssh/sshd_config.d" "$etc/pam.d" "$etc/ssl/certs" \
        "$etc/systemd/system/sockets.target.wants"
    cp -a "$STAGE/etc/eic" "$etc/eic"
    cp -a "$STAGE/var/lib/eic" "$GOOD/var/lib/eic" 2>/dev/null || install -d -m 0755 "$GOOD/var/lib/eic"
    install -d -m 0700 "$GOOD/var/log/eic"
    cp /usr/share/openssh/sshd_config "$etc/ssh/sshd_config"
    cp "$STAGE/usr/share/eic/sshd_config.d/eic.conf" "$etc/ssh/sshd_config.d/eic.conf"
    # The first certificates of the machine's bundle: the same format, a fraction of the parsing
    # (every case runs the doctor, under valgrind too).
    awk '{ print } /^-----END CERTIFICATE-----$/ && ++n == 4 { exit }' /etc/ssl/certs/ca-certificates.crt \
        >"$etc/ssl/certs/ca-certificates.crt"
    # As systemctl enable writes it: absolute, to be resolved inside the root.
    ln -s /lib/systemd/system/eic.socket "$etc/systemd/system/sockets.target.wants/eic.socket"
    printf 'root:x:0:0:root:/root:/bin/bash\nsshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n%s\n' \
        'eic:x:102:103::/nonexistent:/usr/sbin/nologin' >"$etc/passwd"
    printf 'root:x:0:\nsudo:x:27:\nnogroup:x:65534:\neic:x:103:\n' >"$etc/group"
    # Debian's nsswitch.conf after the postinst (eic last).
    cat >"$etc/nsswitch.conf" <<'NSS'
passwd:         files systemd eic
group:          files systemd eic
shadow:         files
hosts:          files dns
NSS
    # Debian's sshd stack and pam-auth-update's common files with the eic profile enabled.
    cat >"$etc/pam.d/sshd" <<'PAM'
@include common-auth
account    required     pam_nologin.so
@include common-account
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close
session    required     pam_loginuid.so
session    optional     pam_keyinit.so force revoke
@include common-session
session    optional     pam_motd.so  motd=/run/motd.dynamic
session    required     pam_limits.so
session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so open
@include common-password
PAM
    cat >"$etc/pam.d/common-auth" <<'PAM'
auth    [success=1 default=ignore]      pam_unix.so nullok
auth    requisite                       pam_deny.so
auth    required                        pam_permit.so
PAM
    cat >"$etc/pam.d/common-account" <<'PAM'
account [success=1 new_authtok_reqd=done default=ignore]        pam_unix.so
account requisite                       pam_deny.so
account required                        pam_permit.so
# and here are more per-package modules (the "Additional" block)
account required                        pam_eic.so
PAM
    cat >"$etc/pam.d/common-session" <<'PAM'
session [default=1]                     pam_permit.so
session requisite                       pam_deny.so
session required                        pam_permit.so
session required        pam_unix.so
session required                        pam_eic.so
session optional        pam_systemd.so
PAM
    cat >"$etc/pam.d/common-password" <<'PAM'
password        [success=1 default=ignore]      pam_unix.so obscure yescrypt
password        requisite                       pam_deny.so
password        required                        pam_permit.so
PAM
}

# Put the pristine /etc and /var back (every case starts from the correct install).
fresh() {
    rm -rf "$ROOT/etc" "$ROOT/var"
    cp -a "$GOOD/etc" "$ROOT/etc"
    cp -a "$GOOD/var" "$ROOT/var"
}

doctor() {
    "$DOCTOR" --root "$ROOT" "$@"
}

correct_install_passes() {
    local rc=0
    fresh
    doctor >"$WORK/good.out" 2>&1 || rc=$?
    cat "$WORK/good.out"
    [ "$rc" = 0 ] || { echo "exit status $rc"; return 1; }
    ! grep -E '^(FAIL|warn) ' "$WORK/good.out"
}

# expect_fail CHECK PATTERN: exactly one FAIL line, for CHECK, matching PATTERN; exit status 1.
expect_fail() {
    local rc=0 out
    out=$(doctor --quiet 2>&1) || rc=$?
    echo "$out"
    [ "$rc" = 1 ] || { echo "exit status $rc, not 1"; return 1; }
    [ "$(grep -c '^FAIL ' <<<"$out")" = 1 ] || { echo "not exactly one FAIL line"; return 1; }
    grep -E "^FAIL  $1: .*$2.*  fix: " <<<"$out" >/dev/null || { echo "no FAIL line for $1 matching '$2'"; return 1; }
}

set_akc() {
    printf 'AuthorizedKeysCommand %s\nAuthorizedKeysCommandUser %s\n' "$1" "$2" \
        >"$ROOT/etc/ssh/sshd_config.d/eic.conf"
}

case_akc_path() { fresh; set_akc '/usr/bin/true -- %u %f' eic; expect_fail sshd "not eic's"; }
case_akc_no_dashes() { fresh; set_akc "/usr/libexec/eic/eic-authorized-keys %u %f" eic; expect_fail sshd "takes"; }
case_akc_none() {
    fresh
    : >"$ROOT/etc/ssh/sshd_config.d/eic.conf"
    doctor --quiet >"$WORK/none.out"
    cat "$WORK/none.out"
    # The one break with two lines: sshd runs no command, and its user "none" is nobody.
    grep -q "^FAIL  sshd: .*'none'" "$WORK/none.out" && grep -q '^FAIL  akc-user: .*none' "$WORK/none.out" &&
        [ "$(grep -c '^FAIL' "$WORK/none.out")" = 2 ]
}
case_akc_user_root() {
    fresh
    set_akc '/usr/libexec/eic/eic-authorized-keys -- %u %f' root
    expect_fail akc-user "uid 0"
}
case_akc_user_missing() {
    fresh
    set_akc '/usr/libexec/eic/eic-authorized-keys -- %u %f' eicx
    expect_fail akc-user "not in /etc/passwd"
}
case_akc_user_other() {
    fresh
    printf 'other:x:104:104::/nonexistent:/usr/sbin/nologin\n' >>"$ROOT/etc/passwd"
    set_akc '/usr/libexec/eic/eic-authorized-keys -- %u %f' other
    expect_fail akc-user "authorized_keys_user eic"
}
case_akc_group_writable() {
    fresh
    chmod g+w "$ROOT/usr/libexec/eic/eic-authorized-keys"
    expect_fail akc "eic-authorized-keys is not owned by root or is writable"
    local rc=$?
    chmod g-w "$ROOT/usr/libexec/eic/eic-authorized-keys"
    return $rc
}
case_akc_dir_writable() {
    fresh
    chmod o+w "$ROOT/usr/libexec/eic"
    expect_fail akc "/usr/libexec/eic is not owned by root or is writable"
    local rc=$?
    chmod o-w "$ROOT/usr/libexec/eic"
    return $rc
}
case_akc_verify_missing() {
    fresh
    mv "$ROOT/usr/libexec/eic/eic-authorized-keys-verify" "$WORK/verify.saved"
    expect_fail akc "eic-authorized-keys-verify: No such file"
    local rc=$?
    mv "$WORK/verify.saved" "$ROOT/usr/libexec/eic/eic-authorized-keys-verify"
    return $rc
}
case_sshd_broken() {
    fresh
    echo 'NoSuchOption yes' >>"$ROOT/etc/ssh/sshd_config"
    expect_fail sshd "sshd -T failed: .*NoSuchOption"
}
case_pubkey_off() {
    fresh
    sed -i '1i PubkeyAuthentication no' "$ROOT/etc/ssh/sshd_config"
    expect_fail sshd "pubkeyauthentication no"
}
case_usepam_off() {
    fresh
    sed -i 's/^UsePAM yes/UsePAM no/' "$ROOT/etc/ssh/sshd_config"
    expect_fail "pam account" "usepam no"
}

case_nss_no_eic() {
    fresh
    sed -i 's/^passwd: .*/passwd: files systemd/' "$ROOT/etc/nsswitch.conf"
    expect_fail "nsswitch passwd" "eic is not on"
}
case_nss_eic_first() {
    fresh
    sed -i 's/^group: .*/group: eic files systemd/' "$ROOT/etc/nsswitch.conf"
    expect_fail "nsswitch group" "before files"
}
case_nss_return() {
    fresh
    sed -i 's/^passwd: .*/passwd: files [NOTFOUND=return] eic/' "$ROOT/etc/nsswitch.conf"
    expect_fail "nsswitch passwd" "NOTFOUND=return"
}
case_nss_initgroups() {
    fresh
    echo 'initgroups: files' >>"$ROOT/etc/nsswitch.conf"
    expect_fail "nsswitch initgroups" "eic is not on"
}
case_nss_module_missing() {
    fresh
    mv "$ROOT/usr/lib/$MULTIARCH/libnss_eic.so.2" "$WORK/nss.saved"
    expect_fail nss-module "No such file"
    local rc=$?
    mv "$WORK/nss.saved" "$ROOT/usr/lib/$MULTIARCH/libnss_eic.so.2"
    return $rc
}

case_pam_account_missing() {
    fresh
    sed -i '/pam_eic/d' "$ROOT/etc/pam.d/common-account"
    expect_fail "pam account" "no pam_eic.so"
}
case_pam_session_missing() {
    fresh
    sed -i '/pam_eic/d' "$ROOT/etc/pam.d/common-session"
    expect_fail "pam session" "no pam_eic.so"
}
case_pam_sufficient_before() {
    fresh
    sed -i 's/^@include common-account/account sufficient pam_permit.so\n&/' "$ROOT/etc/pam.d/sshd"
    expect_fail "pam account" "sshd:3 \\(sufficient pam_permit.so\\) ends the account stack"
}
# The line that jumps is named, not the last line the path ran through after it.
case_pam_jump_over() {
    fresh
    sed -Ei 's/^account +required +pam_permit.so/account [success=1 default=ignore] pam_permit.so/' \
        "$ROOT/etc/pam.d/common-account"
    echo 'account    required     pam_access.so' >>"$ROOT/etc/pam.d/sshd"
    expect_fail "pam account" \
        "common-account:3 \\(\\[success=1 default=ignore\\] pam_permit.so\\) .* jumps past pam_eic.so"
}
case_pam_optional() {
    fresh
    sed -Ei 's/required( +pam_eic)/optional\1/' "$ROOT/etc/pam.d/common-session"
    expect_fail "pam session" "refusal is ignored"
}
case_pam_bad_argument() {
    fresh
    sed -i 's/pam_eic.so/pam_eic.so max_sesion=60/' "$ROOT/etc/pam.d/common-account"
    expect_fail "pam account" "unknown module argument 'max_sesion=60'"
}
case_pam_module_missing() {
    fresh
    mv "$ROOT/usr/lib/$MULTIARCH/security/pam_eic.so" "$WORK/pam.saved"
    expect_fail pam-module "No such file.*refuses every login"
    local rc=$?
    mv "$WORK/pam.saved" "$ROOT/usr/lib/$MULTIARCH/security/pam_eic.so"
    return $rc
}
case_audit_dir() { fresh; chmod 0770 "$ROOT/var/log/eic"; expect_fail audit-log "refuses every managed session"; }

case_config_syntax() {
    fresh
    echo 'deadline_ms 5000' >>"$ROOT/etc/eic/eic.conf"
    expect_fail config "/etc/eic/eic.conf:[0-9]+: "
}
case_config_bad_rule() {
    fresh
    printf '[map arn:aws:iam::111122223333:user/*]\nname = {nosuch}\n' >>"$ROOT/etc/eic/eic.conf"
    expect_fail config "/etc/eic/eic.conf:[0-9]+: .*nosuch"
}
case_config_writable() { fresh; chmod g+w "$ROOT/etc/eic/eic.conf"; expect_fail config "must be owned by root"; }
case_mapping_group() {
    fresh
    printf '[map arn:aws:iam::111122223333:user/*]\nname = {user}\ngroups = sudo, wheel\n' >>"$ROOT/etc/eic/eic.conf"
    expect_fail mapping "names group wheel"
}
case_anchor_missing() {
    fresh
    echo 'ca_file = /etc/eic/ca.pem' >>"$ROOT/etc/eic/eic.conf"
    expect_fail anchors "/etc/eic/ca.pem: cannot read it"
}
case_anchor_not_cert() {
    fresh
    echo 'ca_file = /etc/eic/ca.pem' >>"$ROOT/etc/eic/eic.conf"
    echo 'not a certificate' >"$ROOT/etc/eic/ca.pem"
    expect_fail anchors "no PEM certificate"
}
case_anchor_default_missing() {
    fresh
    rm "$ROOT/etc/ssl/certs/ca-certificates.crt"
    expect_fail anchors "default trust store"
}

case_unit_disabled() {
    fresh
    rm "$ROOT/etc/systemd/system/sockets.target.wants/eic.socket"
    expect_fail service "not enabled"
}
case_unit_masked() { fresh; ln -s /dev/null "$ROOT/etc/systemd/system/eic.socket"; expect_fail service "masked"; }
case_unit_other_socket() {
    fresh
    echo 'service_socket = /run/eic/other.sock' >>"$ROOT/etc/eic/eic.conf"
    expect_fail service "does not listen on"
}
case_runtime_dir() {
    fresh
    install -d -m 0777 "$ROOT/run/eic"
    expect_fail runtime-dir "not a directory of root's"
    local rc=$?
    rmdir "$ROOT/run/eic"
    return $rc
}
case_cache_dir() { fresh; chmod o+w "$ROOT/var/lib/eic"; expect_fail cache-dir "refuse an account cache"; }

# Run inside a chroot whose / is not a mount point (no private /run for sshd -T there): sshd is not
# judged, a warning says to run from outside with --root, and nothing fails. The program as built,
# without the suite's wrapper (its reports would land outside the chroot).
in_chroot_warns() {
    local rc=0
    fresh
    chroot "$ROOT" env -i /usr/sbin/eic-doctor >"$WORK/chroot.out" 2>&1 || rc=$?
    cat "$WORK/chroot.out"
    [ "$rc" = 0 ] && grep -q '^warn  sshd: sshd -T not run: / is not a mount point' "$WORK/chroot.out" &&
        ! grep -q '^FAIL' "$WORK/chroot.out"
}

json_lines() {
    fresh
    doctor --json >"$WORK/json.out"
    /usr/bin/python3 - "$WORK/json.out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]
assert len(objs) > 10, len(objs)
assert all(o["status"] == "ok" and o["check"] and o["what"] for o in objs), objs
PY
}

online_imds() {
    fresh
    start_emulator imds || return 1
    echo "imds_endpoint = $EMU_URL" >>"$ROOT/etc/eic/eic.conf"
    doctor --quiet --online >"$WORK/online.out" || { cat "$WORK/online.out"; return 1; }
    doctor --online | grep -E '^ok    imds: .* answers: instance i-' || return 1
    stop_emulator
    sed -i '$d' "$ROOT/etc/eic/eic.conf"
    echo "imds_endpoint = ${EMU_URL}" >>"$ROOT/etc/eic/eic.conf"
    expect_fail_online
}
expect_fail_online() {
    local rc=0 out
    out=$(doctor --quiet --online 2>&1) || rc=$?
    echo "$out"
    [ "$rc" = 1 ] && [ "$(grep -c '^FAIL ' <<<"$out")" = 1 ] && grep -q '^FAIL  imds: ' <<<"$out"
}

usage_errors() {
    local rc=0
    "$DOCTOR" --root "$WORK/nonexistent" >/dev/null 2>&1 || rc=$?
    [ "$rc" = 2 ] || { echo "--root missing: $rc"; return 1; }
    rc=0
    "$DOCTOR" --bogus >/dev/null 2>&1 || rc=$?
    [ "$rc" = 2 ] || { echo "--bogus: $rc"; return 1; }
    rc=0
    "$DOCTOR" extra >/dev/null 2>&1 || rc=$?
    [ "$rc" = 2 ] || { echo "operand: $rc"; return 1; }
}

if ! check "a root installed as the package installs it (make install, postinst, pam-auth-update)" setup_root; then
    finish
    exit 1
fi
check "the correct install: no FAIL, no warning, exit 0 (sshd -T run in the root)" correct_install_passes
for c in $(declare -F | awk '$3 ~ /^case_/ { print $3 }'); do
    check "${c#case_}: exactly its FAIL line, exit 1" "$c"
done
check "inside a chroot: sshd -T is not run, a warning says so, exit 0" in_chroot_warns
check "--json: one object per check, all ok on the correct install" json_lines
check "--online: IMDS answers (emulator), then FAIL imds when it does not" online_imds
check "usage errors and a missing --root exit 2" usage_errors
finish
