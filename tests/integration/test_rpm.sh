#!/bin/bash
# The RPM packages and the SELinux policy module (issue #13, docs/PACKAGING.md "RPM", "SELinux"),
# as far as Debian can take them: packaging/rpm/eic.spec built by Debian's rpmbuild from the
# `make dist` tarball (the code really compiles, against Debian's libraries: --nodeps, as rpm's
# database here knows none of the Fedora BuildRequires), the layout checked, rpmlint clean with
# packaging/rpm/eic.rpmlintrc; the packages installed and erased with rpm in a private copy of
# this machine (overlays on /etc, /usr, /var; the real scriptlets, Debian's sshd and useradd);
# the policy module, as shipped in eic-selinux, linked into Debian's reference policy with its
# neverallow rules checked, and its rules and file contexts queried. What needs a real RHEL or
# Amazon Linux host (enforcing SELinux, authselect) is listed in docs/PACKAGING.md.
# Needs root (namespaces, overlays); without it every case reports "not ok", never a skip.
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"

CASES=(
    "the tarball from make distdir, and the spec's Version is configure.ac's"
    "rpmbuild -ba builds eic, eic-client, eic-emulator, eic-selinux and the source rpm"
    "layout: %_libdir, %_libdir/security, %_libexecdir/eic, %_unitdir, drop-in template, man pages"
    "eic.conf is %config(noreplace), /var/log/eic is 0700, no .la, no libnss_eic.so, no pam-configs"
    "rpmlint: no errors on the spec, the source rpm and the packages"
    "SELinux: eic.pp links into Debian's reference policy, neverallow rules checked"
    "SELinux: file contexts of eicd, the AKC, /etc/eic, /var/lib/eic, /var/log/eic, /run/eic"
    "SELinux: sshd_t runs the AKC in eic_akc_t; eicd_t and eic_akc_t reach port 80 and no other; NSS users reach eicd"
    "rpm -i: user eic, the sshd drop-in, eic last in nsswitch.conf, eic.socket enabled by preset"
    "the sshd PAM lines the package documents: root passes account and session with pam_eic"
    "rpm -e: the drop-in, the nsswitch entries and the socket's enablement are gone, nsswitch.conf byte-identical"
    "after rpm -e, the same PAM lines still let root in (module_unknown=ignore; as required they would not)"
    "another AuthorizedKeysCommand configured: rpm -i adds no drop-in"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

abort_from() {
    local i
    for ((i = $1; i < ${#CASES[@]}; i++)); do not_ok "${CASES[$i]} (not run: an earlier step failed)"; done
    finish
    exit
}
SPEC="$TOP/packaging/rpm/eic.spec"
TOPDIR="$WORK/rpmbuild"
VERSION=$(sed -n 's/^AC_INIT(\[eic\], \[\([^]]*\)\].*/\1/p' "$TOP/configure.ac")
RPMS=()

# --- Build.
make_tarball() {
    [ "$(sed -n 's/^Version:[[:space:]]*//p' "$SPEC")" = "$VERSION" ] || { echo "spec Version != $VERSION"; return 1; }
    # What `make dist` does, with the tree made outside the build directory (left untouched).
    mkdir -p "$TOPDIR/SOURCES" &&
        make -s -C "$EIC_BUILD" distdir distdir="$TOPDIR/SOURCES/eic-$VERSION" >"$WORK/dist.log" 2>&1 &&
        tar -C "$TOPDIR/SOURCES" -czf "$TOPDIR/SOURCES/eic-$VERSION.tar.gz" "eic-$VERSION" &&
        rm -rf "${TOPDIR:?}/SOURCES/eic-$VERSION"
}
check "${CASES[0]}" make_tarball

# debian-build.macros stands in for what systemd-rpm-macros and selinux-policy-devel define there.
build_rpms() {
    rpmbuild --load "$TOP/packaging/rpm/debian-build.macros" --define "_topdir $TOPDIR" --nodeps \
        -ba "$SPEC" >"$WORK/rpmbuild.log" 2>&1 || { tail -n 40 "$WORK/rpmbuild.log"; return 1; }
    RPMS=("$TOPDIR"/RPMS/*/eic-*"$VERSION"-*.rpm)
    ls "${RPMS[@]}" "$TOPDIR"/SRPMS/eic-"$VERSION"-*.src.rpm
    [ ${#RPMS[@]} -eq 4 ] && for p in eic eic-client eic-emulator eic-selinux; do
        rpm -qp --qf '%{NAME}\n' "${RPMS[@]}" | grep -qx "$p" || return 1
    done
}
check "${CASES[1]}" build_rpms
[ "$TAP_FAILED" -eq 0 ] || abort_from 2
rpm -qlp "${RPMS[@]}" | sort >"$WORK/files"

layout() {
    local p
    for p in /usr/lib64/libnss_eic.so.2 /usr/lib64/security/pam_eic.so /usr/sbin/eicd \
        /usr/libexec/eic/eic-authorized-keys /usr/libexec/eic/eic-authorized-keys-verify \
        /usr/lib/systemd/system/eic.socket /usr/lib/systemd/system/eic.service \
        /usr/lib/systemd/system-preset/80-eic.preset /usr/lib/tmpfiles.d/eic.conf \
        /usr/share/eic/sshd_config.d/eic.conf /usr/share/eic/maint-functions.sh /etc/eic/eic.conf \
        /usr/bin/eic /usr/bin/eic-emulator /usr/share/selinux/packages/targeted/eic.pp \
        /usr/share/man/man8/eicd.8.gz /usr/share/man/man8/pam_eic.8.gz /usr/share/man/man8/nss_eic.8.gz \
        /usr/share/man/man5/eic.conf.5.gz /usr/share/man/man1/eic.1.gz /usr/share/man/man1/eic-emulator.1.gz; do
        grep -qx "$p" "$WORK/files" || { echo "missing: $p"; return 1; }
    done
}
check "${CASES[2]}" layout

attributes() {
    rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$TOPDIR"/RPMS/*/eic-"$VERSION"-*.rpm |
        grep -qx 'cn /etc/eic/eic.conf' || { echo "eic.conf is not %config(noreplace)"; return 1; }
    rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$TOPDIR"/RPMS/*/eic-"$VERSION"-*.rpm |
        grep -qx 'drwx------ /var/log/eic' || { echo "/var/log/eic is not 0700"; return 1; }
    ! grep -E '\.la$|libnss_eic\.so$|pam-configs' "$WORK/files"
}
check "${CASES[3]}" attributes

lint() {
    rpmlint -c "$TOP/packaging/rpm/rpmlint.toml" -r "$TOP/packaging/rpm/eic.rpmlintrc" "$SPEC" "$TOPDIR"/SRPMS/*.rpm "${RPMS[@]}" >"$WORK/rpmlint.log" 2>&1
}
check "${CASES[4]}" lint
sed 's/^/# rpmlint: /' "$WORK/rpmlint.log"

# --- SELinux: the module as eic-selinux ships it, into a copy of Debian's policy store.
SE_ROOT="$WORK/selinux"
FC="$SE_ROOT/etc/selinux/default/contexts/files/file_contexts"
POLICY=""
link_module() {
    local pp="$WORK/eic.pp"
    rpm2cpio "$TOPDIR"/RPMS/noarch/eic-selinux-*.rpm | (cd "$WORK" && cpio -i --quiet --to-stdout \
        ./usr/share/selinux/packages/targeted/eic.pp) >"$pp" && [ -s "$pp" ] || return 1
    [ -d /var/lib/selinux/default ] || { echo "no Debian policy store (selinux-policy-default)"; return 1; }
    mkdir -p "$SE_ROOT/var/lib/selinux" "$SE_ROOT/etc" &&
        cp -a /var/lib/selinux/default "$SE_ROOT/var/lib/selinux/" && cp -a /etc/selinux "$SE_ROOT/etc/" || return 1
    # Debian turns the neverallow check off for speed; the module must pass it.
    sed -i 's/^expand-check=.*/expand-check=1/' "$SE_ROOT/etc/selinux/semanage.conf"
    semodule -p "$SE_ROOT" -s default -n -i "$pp" || return 1
    POLICY=$(ls "$SE_ROOT"/etc/selinux/default/policy/policy.* | tail -n 1)
    seinfo -t eic_akc_t "$POLICY" | grep -q eic_akc_t
}
check "${CASES[5]}" link_module

contexts() {
    local path type
    while read -r path type; do
        matchpathcon -f "$FC" "$path" | grep -q ":$type:" || { matchpathcon -f "$FC" "$path"; return 1; }
    done <<EOF
/usr/sbin/eicd eicd_exec_t
/usr/libexec/eic/eic-authorized-keys eic_akc_exec_t
/usr/libexec/eic/eic-authorized-keys-verify eic_akc_exec_t
/etc/eic/eic.conf eic_conf_t
/var/lib/eic/accounts.db eic_var_lib_t
/var/log/eic/audit.log eic_log_t
/run/eic/eicd.sock eic_runtime_t
/run/eic/miss/slot-00 eic_runtime_t
EOF
}
check "${CASES[6]}" contexts

# Each line: a rule that must be in the policy (sesearch's own notation).
rules() {
    sesearch -T -s sshd_t -t eic_akc_exec_t -c process "$POLICY" | grep -q 'eic_akc_t;' || { echo "no sshd_t -> eic_akc_t"; return 1; }
    local src tgt cls perm
    while read -r src tgt cls perm; do
        sesearch -A -s "$src" -t "$tgt" -c "$cls" -p "$perm" "$POLICY" | grep -q . || { echo "missing: $src $tgt:$cls $perm"; return 1; }
    done <<EOF
eicd_t http_port_t tcp_socket name_connect
eic_akc_t http_port_t tcp_socket name_connect
eic_akc_t eicd_t unix_stream_socket connectto
sshd_t eicd_t unix_stream_socket connectto
sshd_t eic_runtime_t file create
sshd_t eic_log_t file append
nsswitch_domain eicd_t unix_stream_socket connectto
nsswitch_domain eic_var_lib_t file map
eicd_t eic_var_lib_t file write
EOF
    # The module's own network rights: port 80 for its two domains, nothing else.
    for src in eicd_t eic_akc_t; do sesearch -A -s $src -c tcp_socket -p name_connect -ds "$POLICY"; done >"$WORK/ports"
    cat "$WORK/ports"
    [ "$(awk '{ print $3 }' "$WORK/ports" | sort -u)" = "http_port_t:tcp_socket" ]
}
check "${CASES[7]}" rules

# --- rpm -i / rpm -e on a private copy of this machine: writes to /etc, /usr, /var and /run
# land in overlays and a tmpfs of this mount namespace and vanish with it.
overlay() {
    mkdir -p "$WORK/ov$1/u" "$WORK/ov$1/w" &&
        mount -t overlay overlay -o "lowerdir=$1,upperdir=$WORK/ov$1/u,workdir=$WORK/ov$1/w" "$1" &&
        MOUNTED="$1 $MOUNTED"
}
MOUNTED=""
private_system() {
    overlay /etc && overlay /usr && overlay /var && mount -t tmpfs tmpfs /run && MOUNTED="/run $MOUNTED"
}
# lib.sh's cleanup removes the overlays' upper directories: unmount them first.
teardown() {
    [ -z "$MOUNTED" ] || umount -l $MOUNTED
    cleanup
}
trap teardown EXIT
RPM_DB="$WORK/rpmdb"
ORIG_NSS="$WORK/nsswitch.orig"
cp /etc/nsswitch.conf "$ORIG_NSS"
rpm_install() {
    mkdir -p "$RPM_DB" && rpm --dbpath "$RPM_DB" -i --nodeps "$TOPDIR"/RPMS/x86_64/eic-"$VERSION"-*.rpm
}
installed() {
    local line
    private_system || return 1
    rpm_install || return 1
    line=$(getent passwd eic) || { echo "no user eic"; return 1; }
    echo "$line"
    IFS=: read -r _ _ uid _ _ home shell <<<"$line"
    [ "$uid" -lt 1000 ] && [ "$home" = /nonexistent ] && [ "$shell" = /usr/sbin/nologin ] || return 1
    cmp /etc/ssh/sshd_config.d/eic.conf /usr/share/eic/sshd_config.d/eic.conf || return 1
    grep -E '^(passwd|group):' /etc/nsswitch.conf
    [ "$(grep -cE '^(passwd|group):.* eic$' /etc/nsswitch.conf)" -eq 2 ] || return 1
    [ -L /etc/systemd/system/sockets.target.wants/eic.socket ] || { echo "eic.socket not enabled"; return 1; }
    [ -d /run/eic/miss ]
}
FAILED_BEFORE_INSTALL=$TAP_FAILED
check "${CASES[8]}" installed
[ "$TAP_FAILED" -eq "$FAILED_BEFORE_INSTALL" ] || abort_from 9

# A PAM service made of pam_permit and the lines the package documents for /etc/pam.d/sshd
# (pam_eic.so by its RHEL path: Debian's libpam looks elsewhere), run by the real Linux-PAM.
PAM_DIR="$WORK/pam.d"
mkdir -p "$PAM_DIR"
{
    echo 'account required pam_permit.so'
    echo 'session required pam_permit.so'
    grep -v '^#' /usr/share/doc/eic/examples/pam.d/sshd-rhel | sed 's|pam_eic\.so|/usr/lib64/security/pam_eic.so|'
} >"$PAM_DIR/sshd"
sed 's/module_unknown=ignore //' "$PAM_DIR/sshd" >"$PAM_DIR/sshd-required"
# pam_probe SERVICE: account and session for root through $PAM_DIR/SERVICE; 0 when both pass.
pam_probe() {
    /usr/bin/python3 - "$1" "$PAM_DIR" <<'PY'
import ctypes, sys
pam = ctypes.CDLL("libpam.so.0")
pam.pam_strerror.restype = ctypes.c_char_p
class Conv(ctypes.Structure):
    _fields_ = [("conv", ctypes.c_void_p), ("appdata_ptr", ctypes.c_void_p)]
conv, handle = Conv(None, None), ctypes.c_void_p()
ret = pam.pam_start_confdir(sys.argv[1].encode(), b"root", ctypes.byref(conv), sys.argv[2].encode(), ctypes.byref(handle))
if ret != 0:
    sys.exit("pam_start_confdir: %d" % ret)
account = pam.pam_acct_mgmt(handle, 0)
session = pam.pam_open_session(handle, 0)
print("account:", pam.pam_strerror(handle, account).decode(), "session:", pam.pam_strerror(handle, session).decode())
pam.pam_end(handle, 0)
sys.exit(0 if account == 0 and session == 0 else 1)
PY
}
check "${CASES[9]}" pam_probe sshd

erased() {
    rpm --dbpath "$RPM_DB" -e eic || return 1
    [ ! -e /etc/ssh/sshd_config.d/eic.conf ] || { echo "drop-in left"; return 1; }
    [ ! -e /etc/systemd/system/sockets.target.wants/eic.socket ] || { echo "eic.socket still enabled"; return 1; }
    [ ! -e /run/eic ] || { echo "/run/eic left"; return 1; }
    cmp "$ORIG_NSS" /etc/nsswitch.conf
}
check "${CASES[10]}" erased
check "${CASES[11]}" eval 'pam_probe sshd && ! pam_probe sshd-required'

other_command() {
    printf 'AuthorizedKeysCommand /usr/local/bin/keys %%u\nAuthorizedKeysCommandUser nobody\n' \
        >/etc/ssh/sshd_config.d/10-admin.conf
    rpm_install || return 1
    [ ! -e /etc/ssh/sshd_config.d/eic.conf ] || { echo "drop-in added in front of the administrator's command"; return 1; }
    rpm --dbpath "$RPM_DB" -e eic
}
check "${CASES[12]}" other_command

finish
