#!/bin/bash
# pam_eic packaging and memory checks (issue #5): the unit tests of tests/unit/test_pam.c under
# valgrind, the exported symbols of pam_eic.so, the shipped sudoers drop-in (visudo, and sudo
# itself granting the admin group through it), the shipped PAM files.
source "$(dirname "$0")/lib.sh"
MODULE="$EIC_BUILD/pam_eic/pam_eic.so"
TEST_PAM="$EIC_BUILD/tests/unit/test_pam"
SUDOERS="$TOP/configs/sudoers.d/eic"
NSSW=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so

# Exports: the PAM entry points and nothing else (a static copy of lib/ must never clash with
# sshd's or another module's symbols).
exports_only_pam_sm() {
    local syms
    syms=$(nm -D --defined-only "$MODULE" | awk '{print $3}' | sort)
    echo "$syms"
    [ "$syms" = "$(printf 'pam_sm_acct_mgmt\npam_sm_close_session\npam_sm_open_session')" ]
}
check "pam_eic.so exports pam_sm_acct_mgmt, pam_sm_open_session, pam_sm_close_session only" exports_only_pam_sm
# libc and libpam only: the trust work (libcurl, OpenSSL, json-c) is eicd's, never in sshd, sudo or su.
libc_and_libpam_only() {
    local needed
    needed=$(readelf -d "$MODULE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort)
    echo "$needed"
    # The ASan build links the sanitizer runtimes into every program.
    [ "$EIC_TEST_SUITE" = asan ] && needed=$(echo "$needed" | grep -v -e '^libasan' -e '^libubsan')
    [ "$needed" = "$(printf 'libc.so.6\nlibpam.so.0')" ] && ! ldd "$MODULE" | grep -Ei 'curl|crypto|ssl|json'
}
check "pam_eic.so needs libc and libpam only (readelf -d), loads no libcurl, OpenSSL or json-c (ldd)" libc_and_libpam_only
check "pam_eic.so has no undefined symbol left unresolved (ldd -r)" bash -c "! ldd -r '$MODULE' 2>&1 | grep -q 'undefined symbol'"

# The unit tests under valgrind. nss_wrapper is set here (not by the program's re-exec) so that
# valgrind watches the process that runs the tests.
valgrind_unit() {
    mkdir -p "$WORK/nss"
    LD_PRELOAD=$NSSW NSS_WRAPPER_PASSWD="$WORK/nss/passwd" NSS_WRAPPER_GROUP="$WORK/nss/group" \
        CMOCKA_MESSAGE_OUTPUT=TAP "$MEMCHECK" -q --leak-check=full --error-exitcode=99 "$TEST_PAM" >"$WORK/vg.out" 2>&1
    local rc=$?
    grep -v '^# bad argument' "$WORK/vg.out"
    [ $rc -eq 0 ] && ! grep -q '^not ok' "$WORK/vg.out" && grep -q '^ok 20 ' "$WORK/vg.out"
}
if [ "$(id -u)" -eq 0 ] && [ -r "$NSSW" ] && command -v valgrind >/dev/null; then
    check "valgrind: every test_pam case passes, no errors or leaks" valgrind_unit
else
    not_ok "valgrind: test_pam (needs root, valgrind and libnss-wrapper)"
fi

# sudoers drop-in.
check "visudo -c accepts configs/sudoers.d/eic" visudo -c -f "$SUDOERS"
check "the sudoers drop-in's name has no '.' or '~' (sudo's @includedir would skip it)" \
    bash -c "case \$(basename '$SUDOERS') in *.* | *~) exit 1 ;; esac"
check "the drop-in grants exactly the eic-admins group" \
    bash -c "[ \"\$(grep -v '^#' '$SUDOERS' | grep -v '^\$')\" = '%eic-admins ALL=(ALL:ALL) NOPASSWD: ALL' ]"

# sudo itself, in a private mount namespace: a sudoers that only includes the drop-in's directory,
# accounts from nss_wrapper; bob is in eic-admins (as an admin rule makes him), carol is not.
sudo_grants() {
    mkdir -p "$WORK/sudo/sudoers.d" "$WORK/sudo/nss"
    install -m 0440 "$SUDOERS" "$WORK/sudo/sudoers.d/eic"
    printf 'Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n@includedir %s/sudo/sudoers.d\n' "$WORK" >"$WORK/sudo/sudoers"
    chmod 0440 "$WORK/sudo/sudoers"
    printf 'root:x:0:0:root:/root:/bin/bash\nbob:*:200100:200100::/home/bob:/bin/bash\ncarol:*:200200:200200::/home/carol:/bin/bash\n' \
        >"$WORK/sudo/nss/passwd"
    printf 'root:x:0:\nbob:x:200100:\ncarol:x:200200:\neic-admins:x:250000:bob\n' >"$WORK/sudo/nss/group"
    unshare --mount --propagation private bash -c "
        mount --bind '$WORK/sudo/sudoers' /etc/sudoers || exit 1
        export LD_PRELOAD=$NSSW NSS_WRAPPER_PASSWD='$WORK/sudo/nss/passwd' NSS_WRAPPER_GROUP='$WORK/sudo/nss/group'
        echo '--- bob'; sudo -l -U bob; echo '--- carol'; sudo -l -U carol; true" >"$WORK/sudo.out" 2>&1
    cat "$WORK/sudo.out"
    sed -n '/^--- bob/,/^--- carol/p' "$WORK/sudo.out" | grep -q '(ALL : ALL) NOPASSWD: ALL' &&
        sed -n '/^--- carol/,$p' "$WORK/sudo.out" | grep -q 'not allowed to run sudo'
}
if [ "$(id -u)" -eq 0 ] && command -v sudo >/dev/null && command -v unshare >/dev/null; then
    check "sudo: a member of eic-admins may run anything, others nothing" sudo_grants
else
    not_ok "sudo: eic-admins (needs root, sudo and unshare)"
fi

# PAM files: every module line of the shipped stack names a module that exists here, and pam_eic's
# lines carry no argument the module would refuse.
pam_stack_modules_exist() {
    local m missing=0
    for m in $(grep -hoE 'pam_[a-z_]+\.so' "$TOP/configs/pam.d/sshd-eic" "$TOP/configs/pam.d/eic" | sort -u); do
        [ "$m" = pam_eic.so ] && continue
        [ -e "/usr/lib/x86_64-linux-gnu/security/$m" ] || { echo "missing $m"; missing=1; }
    done
    [ $missing -eq 0 ]
}
check "configs/pam.d: every module in the stacks exists" pam_stack_modules_exist
check "configs/pam.d/sshd-eic has pam_eic in account and session" \
    bash -c "grep -qE '^account +required +pam_eic.so\$' '$TOP/configs/pam.d/sshd-eic' && grep -qE '^session +required +pam_eic.so\$' '$TOP/configs/pam.d/sshd-eic'"
check "configs/pam-configs/eic has the fields pam-auth-update reads" \
    bash -c "for f in Name Default Priority Account-Type Account Session-Type Session; do grep -q \"^\$f:\" '$TOP/configs/pam-configs/eic' || exit 1; done"

finish
