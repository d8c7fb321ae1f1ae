#!/bin/bash
# The Debian packages (issue #8, docs/PACKAGING.md), used as an administrator would: built with
# dpkg-buildpackage from `make distdir`, checked with lintian, installed with dpkg into a fresh
# Debian 12 root made by debootstrap (the mirror apt uses here), an EC2 Instance Connect login
# through the root's own sshd and its packaged configuration (emulator at 169.254.169.254 in a
# private network namespace), then removed and purged: sshd still starts, a local key still logs
# in, nsswitch.conf and /etc/pam.d are byte-identical to before. Needs root and the network to
# the mirror (CI has both); without root every case reports "not ok", never a skip.
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    # A private mount namespace: the root's /proc mount vanishes with the test, whatever happens.
    exec unshare --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"

CASES=(
    "the packages build (dpkg-buildpackage -b from make distdir)"
    "lintian reports no errors"
    "debootstrap makes a bookworm minbase root"
    "dpkg installs eic, eic-client and eic-emulator"
    "FHS paths, eic.conf a conffile, no .la and no libnss_eic.so link"
    "the AuthorizedKeysCommand user eic: system user, no shell, no home"
    "eic.socket enabled (sockets.target), both units pass systemd-analyze verify"
    "the sshd drop-in is in place and sshd -T shows eic's AuthorizedKeysCommand"
    "nsswitch.conf: eic last on passwd and group"
    "pam-auth-update put pam_eic in common-account and common-session"
    "postinst run again changes nothing"
    "a pushed key logs in as a local user through the packaged sshd configuration"
    "an IAM-mapped user logs in (nss_eic, pam_eic) and gets a home directory and an audit record"
    "the packaged eic-doctor --online finds nothing wrong (a warning only for the missing systemd)"
    "remove: pam_eic, the sshd drop-in and the nsswitch entries are gone"
    "after remove: the running sshd still lets a local key in"
    "after remove: sshd -t passes, a new sshd starts, a local key logs in"
    "purge: nsswitch.conf and /etc/pam.d are byte-identical to before the install"
    "purge: /etc/eic, /var/lib/eic, /var/log/eic, the drop-in and the socket's enablement are gone"
    "after purge: sshd -t passes, a new sshd starts, a local key logs in"
    "another AuthorizedKeysCommand configured: no drop-in added, sshd keeps the other, the chain_command line offered"
    "... with that chain_command in eic.conf, dpkg-reconfigure adds the drop-in and sshd uses eic's command"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

ROOT="$WORK/root"
DEBS="$WORK/debs"
NETNS_PID=""
SSHD_PID=""
TUSER=eicuser
INSTANCE_ARGS=(--region us-east-1 --instance-id i-0123456789abcdef0)

teardown() {
    stop_netns
    cleanup_mounts
    cleanup
}
# Every process in the test's network namespace (sshd, its sessions, the emulator), then the
# namespace's holder.
stop_netns() {
    local ns p
    [ -n "$NETNS_PID" ] || return 0
    ns=$(readlink "/proc/$NETNS_PID/ns/net") || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$ns" ] && [ "${p#/proc/}" != "$NETNS_PID" ] && kill "${p#/proc/}" 2>/dev/null
    done
    kill "$NETNS_PID" 2>/dev/null
}
# Nothing mounted may be under $WORK when lib.sh's cleanup removes it.
cleanup_mounts() {
    findmnt -rn -o TARGET | grep "^$ROOT/" | sort -r | xargs -r -n 1 umount -l
}
trap teardown EXIT

# Every case from $1 on fails (a step they depend on failed); then the plan.
abort_from() {
    local i
    for ((i = $1; i < ${#CASES[@]}; i++)); do not_ok "${CASES[$i]} (not run: an earlier step failed)"; done
    finish
    exit
}

# The mirror of bookworm that apt uses on this machine (deb822 .sources or one-line lists).
apt_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             { uri = ""; suites = ""; deb = 0
               for (i = 1; i <= NF; i++) {
                   if ($i ~ /^Types:.*(^|[ \t])deb([ \t]|$)/) deb = 1
                   if ($i ~ /^URIs:/) { split($i, w, /[ \t]+/); uri = w[2] }
                   if ($i ~ /^Suites:/) suites = $i " "
               }
               if (deb && uri != "" && suites ~ /[ \t]bookworm[ \t]/) { print uri; exit } }' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^[a-z]+:\/\// && $(i + 1) == "bookworm") print $i }'
}

ROOT_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/root)
in_root() { chroot "$ROOT" "${ROOT_ENV[@]}" "$@"; }
# In the root and in the test's network namespace (loopback, 169.254.169.254). Daemons are started
# with the same command line, not through this function, so that $! is the daemon itself.
in_net() { nsenter --net="/proc/$NETNS_PID/ns/net" chroot "$ROOT" "${ROOT_ENV[@]}" "$@"; }

# --- Build (and lintian) while debootstrap makes the root.
MIRROR=$(apt_mirror | head -n 1)
echo "# mirror: ${MIRROR:-none found}"
# Only what eic and the test need beyond minbase; debootstrap adds their dependencies.
debootstrap --variant=minbase --include=openssh-server,openssh-client,adduser,libcurl4,libjson-c5,libmicrohttpd12 \
    bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 &
BOOTSTRAP_PID=$!

build_packages() {
    mkdir -p "$DEBS" &&
        make -s -C "$EIC_BUILD" distdir distdir="$DEBS/eic" &&
        (cd "$DEBS/eic" && DEB_BUILD_OPTIONS="parallel=$(nproc) noddebs nocheck" dpkg-buildpackage -us -uc -b) &&
        ls "$DEBS"/eic_*.deb "$DEBS"/eic-client_*.deb "$DEBS"/eic-emulator_*.deb
}
check "${CASES[0]}" build_packages
[ "$TAP_FAILED" -eq 0 ] || { wait "$BOOTSTRAP_PID"; abort_from 1; }
lintian_clean() {
    lintian --fail-on error "$DEBS"/eic_*.changes >"$WORK/lintian.log" 2>&1
}
check "${CASES[1]}" lintian_clean
FAILED_BEFORE_ROOT=$TAP_FAILED
sed 's/^/# lintian: /' "$WORK/lintian.log"

bootstrap_done() {
    wait "$BOOTSTRAP_PID" || { tail -n 30 "$WORK/debootstrap.log"; return 1; }
    [ -x "$ROOT/usr/sbin/sshd" ]
}
check "${CASES[2]}" bootstrap_done
[ "$TAP_FAILED" -eq "$FAILED_BEFORE_ROOT" ] || abort_from 3

# The root as a fresh machine: /proc, no daemon started by a maintainer script (sshd is started by
# the test itself, in the network namespace), sshd's runtime directory.
mount -t proc proc "$ROOT/proc"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
mkdir -p "$ROOT/run/sshd" "$ROOT/tmp/debs"
cp "$DEBS"/*.deb "$ROOT/tmp/debs/"
in_root useradd -m -p '*' -s /bin/sh "$TUSER"
for k in key-eic key-local key-alice; do in_root ssh-keygen -q -t ed25519 -N '' -C $k -f /root/$k; done
in_root install -d -o "$TUSER" -g "$TUSER" -m 0700 "/home/$TUSER/.ssh"
in_root install -o "$TUSER" -g "$TUSER" -m 0600 /root/key-local.pub "/home/$TUSER/.ssh/authorized_keys"

# What the install must not leave changed once purged (content, mode, owner of each file).
auth_config_state() {
    (cd "$ROOT/etc" && find nsswitch.conf pam.d -printf '%p %m %u %g\n' | sort && sha256sum nsswitch.conf pam.d/*)
}
auth_config_state >"$WORK/auth-before"

# Everything a postinst run could touch.
system_state() {
    (cd "$ROOT" && find etc var/lib/eic var/log/eic -xdev -printf '%p %m %u %g %s\n' | sort &&
        find etc -xdev -type f -exec sha256sum {} + | sort)
}

# --- Install.
check "${CASES[3]}" in_root sh -c 'dpkg -i /tmp/debs/eic_*.deb /tmp/debs/eic-client_*.deb /tmp/debs/eic-emulator_*.deb'
[ "$TAP_FAILED" -eq "$FAILED_BEFORE_ROOT" ] || abort_from 4

fhs_paths() {
    local ma p
    ma=$(gcc -print-multiarch)
    for p in /usr/libexec/eic/eic-authorized-keys /usr/libexec/eic/eic-authorized-keys-verify /usr/sbin/eicd \
        /lib/systemd/system/eic.socket /lib/systemd/system/eic.service "/usr/lib/$ma/libnss_eic.so.2" \
        "/usr/lib/$ma/security/pam_eic.so" /etc/eic/eic.conf /usr/share/pam-configs/eic /usr/lib/tmpfiles.d/eic.conf \
        /usr/bin/eic /usr/bin/eic-emulator; do
        [ -f "$ROOT$p" ] || { echo "missing: $p"; return 1; }
    done
    in_root dpkg-query -W -f '${Conffiles}\n' eic | grep -q '^ /etc/eic/eic.conf ' || return 1
    ! in_root dpkg -L eic eic-client eic-emulator | grep -E '\.la$|libnss_eic\.so$'
}
check "${CASES[4]}" fhs_paths

akc_user() {
    local line
    line=$(grep '^eic:' "$ROOT/etc/passwd") || return 1
    echo "$line"
    IFS=: read -r _ _ uid _ _ home shell <<<"$line"
    [ "$uid" -lt 1000 ] && [ "$home" = /nonexistent ] && [ "$shell" = /usr/sbin/nologin ] && [ ! -e "$ROOT/nonexistent" ]
}
check "${CASES[5]}" akc_user

units_enabled() {
    [ -L "$ROOT/etc/systemd/system/sockets.target.wants/eic.socket" ] || { echo "eic.socket not enabled"; return 1; }
    [ ! -e "$ROOT/etc/systemd/system/multi-user.target.wants/eic.service" ] || { echo "eic.service enabled"; return 1; }
    # The minbase root has no systemd: the host's checks the packaged units, with the packaged eicd
    # at its path in a mount namespace of the check's own.
    unshare --mount --propagation private sh -c 'mount -t tmpfs tmpfs /usr/sbin && cp "$1/usr/sbin/eicd" /usr/sbin/ &&
        exec systemd-analyze verify --man=no "$1/lib/systemd/system/eic.socket" "$1/lib/systemd/system/eic.service"' \
        - "$ROOT" >"$WORK/verify.out" 2>&1
    cat "$WORK/verify.out"
    ! grep -q . "$WORK/verify.out"
}
check "${CASES[6]}" units_enabled

dropin_active() {
    cmp "$ROOT/etc/ssh/sshd_config.d/eic.conf" "$ROOT/usr/share/eic/sshd_config.d/eic.conf" || return 1
    in_root /usr/sbin/sshd -T >"$WORK/sshd-T" || return 1
    grep -ix 'authorizedkeyscommand /usr/libexec/eic/eic-authorized-keys -- %u %f' "$WORK/sshd-T" &&
        grep -ix 'authorizedkeyscommanduser eic' "$WORK/sshd-T"
}
check "${CASES[7]}" dropin_active

nsswitch_has_eic() {
    grep -E '^(passwd|group):' "$ROOT/etc/nsswitch.conf"
    [ "$(grep -cE '^(passwd|group):[[:space:]]+files( [a-z]+)* eic$' "$ROOT/etc/nsswitch.conf")" -eq 2 ]
}
check "${CASES[8]}" nsswitch_has_eic
check "${CASES[9]}" grep -q pam_eic.so "$ROOT/etc/pam.d/common-account" "$ROOT/etc/pam.d/common-session"

postinst_idempotent() {
    system_state >"$WORK/state-1"
    in_root /var/lib/dpkg/info/eic.postinst configure "$(in_root dpkg-query -W -f '${Version}' eic)" || return 1
    system_state >"$WORK/state-2"
    diff "$WORK/state-1" "$WORK/state-2"
}
check "${CASES[10]}" postinst_idempotent

# --- Logins. The emulator (from eic-emulator) and the root's sshd, with the configuration
# the package installed plus what the test needs: the emulator's CA as trust anchor, a log file
# (there is no syslog daemon), a mapping rule for IAM users.
unshare --net sleep infinity &
NETNS_PID=$!
# Until unshare has made the namespace, /proc/PID/ns/net is the host's: never configure that one.
for _ in $(seq 1 100); do
    [ "$(readlink "/proc/$NETNS_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
    sleep 0.05
done
[ "$(readlink "/proc/$NETNS_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ] || abort_from 11
nsenter --net="/proc/$NETNS_PID/ns/net" ip link set lo up
nsenter --net="/proc/$NETNS_PID/ns/net" ip addr add 169.254.169.254/32 dev lo

start_emulator_in_root() {
    nsenter --net="/proc/$NETNS_PID/ns/net" chroot "$ROOT" "${ROOT_ENV[@]}" /usr/bin/eic-emulator --listen 169.254.169.254:80 --state-dir /var/lib/eic-emulator \
        --ready-file /run/emulator.ready --log-file /var/log/eic-emulator.log >"$WORK/emulator.out" 2>&1 &
    EMU_PIDS="$EMU_PIDS $!"
    for _ in $(seq 1 200); do
        [ -s "$ROOT/run/emulator.ready" ] && return 0
        sleep 0.05
    done
    cat "$WORK/emulator.out"
    return 1
}

start_sshd() {
    in_root /usr/sbin/sshd -t || return 1
    nsenter --net="/proc/$NETNS_PID/ns/net" chroot "$ROOT" "${ROOT_ENV[@]}" \
        /usr/sbin/sshd -D -E /var/log/sshd-test.log -o LogLevel=VERBOSE &
    SSHD_PID=$!
    for _ in $(seq 1 100); do
        sshd_port_open && { kill -0 "$SSHD_PID" || return 1; } && return 0
        sleep 0.05
    done
    return 1
}
sshd_port_open() { nsenter --net="/proc/$NETNS_PID/ns/net" bash -c 'exec 3<>/dev/tcp/127.0.0.1/22' 2>/dev/null; }
stop_sshd() {
    [ -n "$SSHD_PID" ] || return 0
    kill "$SSHD_PID" 2>/dev/null
    wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=""
    for _ in $(seq 1 100); do
        sshd_port_open || return 0
        sleep 0.05
    done
    echo "sshd still listening"
    return 1
}

login() { # login USER KEY CMD
    timeout 30 nsenter --net="/proc/$NETNS_PID/ns/net" chroot "$ROOT" env -i PATH=/usr/bin:/bin HOME=/root \
        ssh -i "/root/$2" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 "$1@127.0.0.1" "$3"
}
push() { # push OS_USER KEY
    in_net env AWS_ACCESS_KEY_ID="$ALICE_AK" AWS_SECRET_ACCESS_KEY="$ALICE_SK" eic send-ssh-public-key \
        --endpoint-url http://169.254.169.254 "${INSTANCE_ARGS[@]}" --instance-os-user "$1" \
        --ssh-public-key "file:///root/$2.pub" >>"$WORK/push.log" 2>&1
}

start_emulator_in_root || abort_from 11
# Outside /etc/eic, which purge must leave empty (and so remove).
install -m 0644 "$ROOT/var/lib/eic-emulator/ca.pem" "$ROOT/usr/local/share/eic-test-ca.pem"
in_root install -o eic -g eic -m 0644 /dev/null /var/log/eic-test.log
cat >>"$ROOT/etc/eic/eic.conf" <<'CONF'
ca_file = /usr/local/share/eic-test-ca.pem
log_file = /var/log/eic-test.log
[map arn:aws:iam::111122223333:user/*]
name = {user}
CONF
# No systemd in the root: eicd as on a host or in a container without it.
start_eicd_in_root() {
    nsenter --net="/proc/$NETNS_PID/ns/net" chroot "$ROOT" "${ROOT_ENV[@]}" /usr/sbin/eicd --foreground \
        >"$WORK/eicd.out" 2>&1 &
    EMU_PIDS="$EMU_PIDS $!"
    for _ in $(seq 1 200); do
        [ -S "$ROOT/run/eic/eicd.sock" ] && return 0
        sleep 0.05
    done
    cat "$WORK/eicd.out"
    return 1
}
start_eicd_in_root || abort_from 11
start_sshd || abort_from 11

pushed_key_logs_in() {
    push "$TUSER" key-eic || return 1
    [ "$(login "$TUSER" key-eic 'id -un')" = "$TUSER" ] &&
        grep -q "Providing ssh key from EC2 Instance Connect" "$ROOT/var/log/eic-test.log"
}
check "${CASES[11]}" pushed_key_logs_in

mapped_user_logs_in() {
    local out
    grep -q '^alice:' "$ROOT/etc/passwd" && return 1
    push alice key-alice || return 1
    out=$(login alice key-alice 'echo "$(id -un) $(id -u) $HOME"; test -d "$HOME" && echo home-exists')
    echo "$out"
    [ "$(echo "$out" | head -n 1 | cut -d' ' -f1,3)" = "alice /home/alice" ] &&
        [ "$(echo "$out" | head -n 1 | cut -d' ' -f2)" -ge 2010000000 ] &&
        echo "$out" | grep -qx home-exists &&
        grep -qE '"user": ?"alice"' "$ROOT/var/log/eic/audit.log"
}
check "${CASES[12]}" mapped_user_logs_in

# The installed system as an image pipeline would check it (docs/DOCTOR.md): the package's own
# eic-doctor, sshd -T in the root, IMDS from the emulator. The minbase root has no systemd.
doctor_finds_nothing() {
    local rc=0
    nsenter --net="/proc/$NETNS_PID/ns/net" "$ROOT/usr/sbin/eic-doctor" --root "$ROOT" --online >"$WORK/doctor.out" \
        2>&1 || rc=$?
    cat "$WORK/doctor.out"
    [ "$rc" = 0 ] && ! grep -q '^FAIL' "$WORK/doctor.out" && grep -q '^ok    imds: ' "$WORK/doctor.out" &&
        ! grep '^warn' "$WORK/doctor.out" | grep -v '^warn  service: no systemd'
}
check "${CASES[13]}" doctor_finds_nothing

# --- Remove, then purge.
in_root dpkg -r eic >"$WORK/remove.log" 2>&1 || cat "$WORK/remove.log"
removed_cleanly() {
    ! grep -rl pam_eic "$ROOT/etc/pam.d" && [ ! -e "$ROOT/etc/ssh/sshd_config.d/eic.conf" ] &&
        ! grep -E '^(passwd|group|initgroups):.*[[:space:]]eic([[:space:]]|$)' "$ROOT/etc/nsswitch.conf" &&
        [ ! -e "$ROOT/usr/lib/$(gcc -print-multiarch)/security/pam_eic.so" ]
}
check "${CASES[14]}" removed_cleanly
local_key_logs_in() { [ "$(login "$TUSER" key-local 'id -un')" = "$TUSER" ]; }
check "${CASES[15]}" local_key_logs_in
fresh_sshd_local_login() {
    stop_sshd || return 1
    start_sshd && local_key_logs_in
}
check "${CASES[16]}" fresh_sshd_local_login

in_root dpkg -P eic >"$WORK/purge.log" 2>&1 || cat "$WORK/purge.log"
auth_config_state >"$WORK/auth-after"
check "${CASES[17]}" diff "$WORK/auth-before" "$WORK/auth-after"
purged() {
    local p
    for p in /etc/eic /var/lib/eic /var/log/eic /etc/ssh/sshd_config.d/eic.conf \
        /etc/systemd/system/sockets.target.wants/eic.socket; do
        [ ! -e "$ROOT$p" ] || { echo "$p still exists"; return 1; }
    done
}
check "${CASES[18]}" purged
check "${CASES[19]}" fresh_sshd_local_login
stop_sshd

# --- An administrator's own AuthorizedKeysCommand is never shadowed by eic's drop-in; the postinst
# offers to chain it, and adds the drop-in once eic.conf does.
other_akc_kept() {
    printf 'AuthorizedKeysCommand /usr/bin/true %%u\nAuthorizedKeysCommandUser nobody\n' \
        >"$ROOT/etc/ssh/sshd_config.d/local-akc.conf"
    in_root sh -c 'dpkg -i /tmp/debs/eic_*.deb' >"$WORK/install-other.log" 2>&1 || { cat "$WORK/install-other.log"; return 1; }
    [ ! -e "$ROOT/etc/ssh/sshd_config.d/eic.conf" ] || { echo "drop-in added"; return 1; }
    in_root /usr/sbin/sshd -T | grep -ix 'authorizedkeyscommand /usr/bin/true %u' || return 1
    grep -x 'eic:     chain_command = /usr/bin/true %u' "$WORK/install-other.log" &&
        grep -q 'it will run as the user eic, not as nobody' "$WORK/install-other.log" ||
        { cat "$WORK/install-other.log"; return 1; }
}
check "${CASES[20]}" other_akc_kept
chained_dropin() {
    echo 'chain_command = /usr/bin/true   %u' >>"$ROOT/etc/eic/eic.conf"
    in_root dpkg-reconfigure eic >"$WORK/reconfigure.log" 2>&1 || { cat "$WORK/reconfigure.log"; return 1; }
    cat "$WORK/reconfigure.log"
    cmp "$ROOT/etc/ssh/sshd_config.d/eic.conf" "$ROOT/usr/share/eic/sshd_config.d/eic.conf" || return 1
    in_root /usr/sbin/sshd -T | grep -ix 'authorizedkeyscommand /usr/libexec/eic/eic-authorized-keys -- %u %f' || return 1
    in_root dpkg -P eic && rm "$ROOT/etc/ssh/sshd_config.d/local-akc.conf"
}
check "${CASES[21]}" chained_dropin

if [ "$TAP_FAILED" -ne 0 ]; then
    for f in var/log/eic-test.log var/log/sshd-test.log; do
        echo "# --- $f"
        sed 's/^/# /' "$ROOT/$f" 2>/dev/null | tail -n 30
    done
    echo "# --- push.log"
    sed 's/^/# /' "$WORK/push.log" 2>/dev/null | tail -n 10
fi
finish
