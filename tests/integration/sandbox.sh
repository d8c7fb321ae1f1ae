# The one-machine EC2 Instance Connect sandbox, shared by the end-to-end tests and scripts/demo
# (sourced; needs root, run inside `unshare --net --mount --propagation private`).
#
#   sandbox_setup                 loopback up, 169.254.169.254 on lo, tmpfs on /srv and /home, a
#                                 writable overlay on /etc (accounts, /etc/eic, nsswitch.conf, pam.d)
#                                 and on the multiarch library directory (NSS module), eic's AKC
#                                 installed under /srv/eic
#   sandbox_add_user NAME UID     a local account (passwd/group/shadow copies, home on tmpfs)
#   sandbox_start_imds [OPTS...]  (re)start the emulator at 169.254.169.254:80 (SANDBOX_IMDS_ADDR:
#                                 another address, e.g. [fd00:ec2::254] for test_e2e_ipv6.sh), and
#                                 with TLS on SANDBOX_TLS_LISTEN (ADDR:443) when set
#   sandbox_start_eicd            eicd --foreground on /run/eic/eicd.sock (sandbox_start_sshd starts it)
#   sandbox_start_sshd            the real /usr/sbin/sshd on 127.0.0.1:2222 with eic as its AKC (and on
#                                 the addresses in SANDBOX_SSHD_LISTEN, port 2222 too;
#                                 SANDBOX_SSHD_EXTRA: more sshd_config lines)
#   sandbox_push USER PUBKEY      eic send-ssh-public-key with alice's credentials
#   sandbox_login USER KEY [CMD]  OpenSSH with exactly that key
#   sandbox_setup_eic_ssh         sandbox_setup for the eic ssh tests (one account, KEYTMP, SSH_ARGS,
#                                 the emulator's TLS on 169.254.169.254:443, AWS_CA_BUNDLE its CA),
#   sandbox_eic_ssh AK SK ARGS... then eic ssh with those credentials (no_key_dirs, expect_status)
#   sandbox_hosts NAME...         DNS names (an Instance Connect Endpoint's) that are the emulator's
#
# Expects: EIC_BUILD (built tree), SANDBOX (a private work directory), EMULATOR, EIC_CLIENT, EICD.
# It follows the gotchas of docs/TESTING.md ("End to end, and what needs root"): the
# AuthorizedKeysCommand and its parent directories must be root-owned and not group/world-writable
# (hence /srv on a tmpfs), and there is no syslog daemon, so the AKC logs to a file.

SANDBOX_LIFETIME=${SANDBOX_LIFETIME:-60}
# deadline_ms of the sandbox's eic.conf (TIME_SCALE: lib.sh; scripts/demo does not source it).
SANDBOX_TIME_SCALE=${TIME_SCALE:-1}
SANDBOX_DEADLINE_MS=$((3000 * SANDBOX_TIME_SCALE))
SANDBOX_PIDS=""
SANDBOX_IMDS_ADDR=${SANDBOX_IMDS_ADDR:-169.254.169.254}
AKC_LOG=/srv/eic/log/akc.log

sandbox_setup() {
    ip link set lo up
    ip addr add 169.254.169.254/32 dev lo
    mount -t tmpfs -o mode=0755 tmpfs /srv
    mkdir -p /srv/eic/keys /srv/eic/log
    if [ -n "${EIC_TEST_WRAPPER:-}" ]; then
        # sshd runs the AKC with an environment of its own: the wrapper carries the suite's options.
        # Its fallback eic-authorized-keys-verify sits beside the real program, as installed.
        install -D -m 0755 "$EIC_BUILD/authorized_keys/eic-authorized-keys" \
            "$EIC_BUILD/authorized_keys/eic-authorized-keys-verify" -t /srv/eic/libexec
        write_wrapper /srv/eic/eic-authorized-keys /srv/eic/libexec/eic-authorized-keys
        SANDBOX_VERIFY=/srv/eic/libexec/eic-authorized-keys-verify
    else
        install -m 0755 "$EIC_BUILD/authorized_keys/eic-authorized-keys" \
            "$EIC_BUILD/authorized_keys/eic-authorized-keys-verify" -t /srv/eic
        SANDBOX_VERIFY=/srv/eic/eic-authorized-keys-verify
    fi
    touch "$AKC_LOG"
    chown nobody "$AKC_LOG"
    mount -t tmpfs -o mode=0755 tmpfs /home
    mount -t tmpfs -o mode=0755 tmpfs /run
    # Writable overlays: whatever the tests change in /etc or the library directory stays in this
    # namespace and in $SANDBOX, never on the host.
    sandbox_overlay /etc etc
    sandbox_overlay "/usr/lib/$(gcc -print-multiarch)" lib
    mkdir -p /etc/eic "$SANDBOX/emulator" /run/sshd
}

# The ASan suite, once nss_eic or pam_eic is installed: they are instrumented, and any program in
# the sandbox may load them (sshd, a session's id, the setuid sudo, getent). /etc/ld.so.preload (in
# the overlay) puts the ASan runtime first in every one of them, setuid or not, whatever its
# environment; the host options (no leak check: their memory is not ours) reach them through this
# shell's environment, through pam_env for sessions (/etc/environment) and through sudo's env_keep.
# Not before: a program that one of ours executes (eic ssh runs ssh) would inherit our options.
sandbox_preload() {
    [ -n "${EIC_TEST_PRELOAD:-}" ] && [ ! -s /etc/ld.so.preload ] || return 0
    echo "$EIC_TEST_PRELOAD" >/etc/ld.so.preload
    export ASAN_OPTIONS="$EIC_TEST_HOST_ASAN_OPTIONS"
    printf 'ASAN_OPTIONS=%s\nUBSAN_OPTIONS=%s\n' "$ASAN_OPTIONS" "$UBSAN_OPTIONS" >>/etc/environment
    echo 'Defaults env_keep += "ASAN_OPTIONS UBSAN_OPTIONS"' >/etc/sudoers.d/eic-test-asan
    chmod 0440 /etc/sudoers.d/eic-test-asan
}

# pam_eic installed where Linux-PAM looks for it, and sshd run under the PAM service "sshd-eic"
# (sshd's service name is the basename of its argv[0]: /srv/eic/sbin/sshd-eic -> /usr/sbin/sshd).
# The stack is Debian's sshd stack with pam_eic added to account and session; ARGS go to both.
sandbox_install_pam() { # sandbox_install_pam ARGS...
    local libdir
    libdir="/usr/lib/$(gcc -print-multiarch)"
    install -m 0644 "$EIC_BUILD/pam_eic/pam_eic.so" "$libdir/security/pam_eic.so"
    # pam_eic runs the AKC's fallback (verify=) when eicd cannot be reached, as installed beside it.
    sed -e "/^@include common-account/a account required pam_eic.so verify=$SANDBOX_VERIFY $*" /etc/pam.d/sshd \
        >/etc/pam.d/sshd-eic
    echo "session required pam_eic.so verify=$SANDBOX_VERIFY $*" >>/etc/pam.d/sshd-eic
    sandbox_preload
    install -d -m 0755 /srv/eic/sbin
    ln -sf /usr/sbin/sshd /srv/eic/sbin/sshd-eic
    SANDBOX_SSHD=/srv/eic/sbin/sshd-eic
}

# nss_eic installed where glibc looks for it, and named in nsswitch.conf for passwd and group.
sandbox_install_nss() {
    local libdir
    libdir="/usr/lib/$(gcc -print-multiarch)"
    install -m 0644 "$EIC_BUILD/nss_eic/libnss_eic.so.2" "$libdir/libnss_eic.so.2"
    sed -i -E 's/^(passwd|group):.*/\1: files eic/' /etc/nsswitch.conf
    sandbox_preload
    install -d -m 0755 /srv/eic/cache
}

sandbox_overlay() { # sandbox_overlay DIR NAME
    mkdir -p "$SANDBOX/overlay/$2/upper" "$SANDBOX/overlay/$2/work"
    mount -t overlay overlay -o "lowerdir=$1,upperdir=$SANDBOX/overlay/$2/upper,workdir=$SANDBOX/overlay/$2/work" "$1"
}

sandbox_add_user() {
    echo "$1:x:$2:$2::/home/$1:/bin/sh" >>/etc/passwd
    echo "$1:x:$2:" >>/etc/group
    # '*': no password, but not locked, so public-key logins work with UsePAM.
    echo "$1:*:19000:0:99999:7:::" >>/etc/shadow
    mkdir -p "/home/$1"
    chown "$2:$2" "/home/$1"
}

sandbox_start_imds() {
    local state="$SANDBOX/emulator"
    if [ -n "${SANDBOX_EMU_PID:-}" ]; then
        kill "$SANDBOX_EMU_PID" 2>/dev/null
        wait "$SANDBOX_EMU_PID" 2>/dev/null
    fi
    rm -f "$state/ready"
    "$EMULATOR" --listen "$SANDBOX_IMDS_ADDR:80" ${SANDBOX_TLS_LISTEN:+--tls-listen "$SANDBOX_TLS_LISTEN"} \
        --state-dir "$state" --ready-file "$state/ready" --log-file "$state/emulator.log" \
        --key-lifetime "$SANDBOX_LIFETIME" "$@" >>"$state/stdout" 2>&1 &
    SANDBOX_EMU_PID=$!
    SANDBOX_PIDS="$SANDBOX_PIDS $SANDBOX_EMU_PID"
    for _ in $(seq 1 200); do
        if [ -s "$state/ready" ]; then
            # The trust anchor eic is configured with: the emulator's root CA (stable across restarts).
            install -m 0644 "$state/ca.pem" /srv/eic/ca.pem
            return 0
        fi
        sleep 0.05
    done
    echo "# emulator did not start:"
    sed 's/^/# /' "$state/stdout"
    return 1
}

# /etc/eic/eic.conf for the sandbox; the optional argument is appended (keys, then rule sections).
sandbox_write_config() {
    {
        cat <<CONF
ca_file = /srv/eic/ca.pem
log_file = $AKC_LOG
deadline_ms = $SANDBOX_DEADLINE_MS
imds_timeout_ms = $((1000 * SANDBOX_TIME_SCALE))
cache_dir = /srv/eic/cache
authorized_keys_user = nobody
CONF
        printf '%s\n' "${1:-}"
    } >/etc/eic/eic.conf
    chmod 0644 /etc/eic/eic.conf
}

# eicd as on a host without systemd (--foreground), on the default socket /run/eic/eicd.sock (/run
# is the sandbox's tmpfs), run as this suite runs our programs (EICD: lib.sh).
sandbox_start_eicd() {
    [ -n "${SANDBOX_EICD_PID:-}" ] && kill -0 "$SANDBOX_EICD_PID" 2>/dev/null && return 0
    rm -f /run/eic/eicd.sock
    "$EICD" --foreground >>"$SANDBOX/eicd.out" 2>&1 &
    SANDBOX_EICD_PID=$!
    SANDBOX_PIDS="$SANDBOX_PIDS $SANDBOX_EICD_PID"
    for _ in $(seq 1 400); do
        [ -S /run/eic/eicd.sock ] && return 0
        sleep 0.05
    done
    echo "# eicd did not start:"
    sed 's/^/# /' "$SANDBOX/eicd.out"
    return 1
}

sandbox_stop_eicd() {
    kill "$SANDBOX_EICD_PID" 2>/dev/null
    wait "$SANDBOX_EICD_PID" 2>/dev/null
    SANDBOX_EICD_PID=""
}

sandbox_start_sshd() {
    [ -f /etc/eic/eic.conf ] || sandbox_write_config
    sandbox_start_eicd || return 1
    ssh-keygen -q -t ed25519 -N '' -f "$SANDBOX/hostkey"
    cat >"$SANDBOX/sshd_config" <<CONF
ListenAddress 127.0.0.1
$(for a in ${SANDBOX_SSHD_LISTEN:-}; do echo "ListenAddress $a"; done)
Port 2222
HostKey $SANDBOX/hostkey
PidFile $SANDBOX/sshd.pid
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile /srv/eic/keys/%u
AuthorizedKeysCommand /srv/eic/eic-authorized-keys -- %u %f
AuthorizedKeysCommandUser nobody
LogLevel VERBOSE
${SANDBOX_SSHD_EXTRA:-}
CONF
    "${SANDBOX_SSHD:-/usr/sbin/sshd}" -t -f "$SANDBOX/sshd_config" || return 1
    "${SANDBOX_SSHD:-/usr/sbin/sshd}" -D -f "$SANDBOX/sshd_config" -E "$SANDBOX/sshd.log" &
    SANDBOX_PIDS="$SANDBOX_PIDS $!"
    for _ in $(seq 1 100); do
        (exec 3<>/dev/tcp/127.0.0.1/2222) 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

sandbox_push() {
    AWS_ACCESS_KEY_ID=AKIAEICDEMOALICE0001 AWS_SECRET_ACCESS_KEY=eic-demo-secret-alice \
        "$EIC_CLIENT" send-ssh-public-key --endpoint-url "http://$SANDBOX_IMDS_ADDR" --region us-east-1 \
        --instance-id i-0123456789abcdef0 --instance-os-user "$1" --ssh-public-key "file://$2"
}

sandbox_login() {
    timeout 30 ssh -p 2222 -i "$2" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 "$1@127.0.0.1" "${3:-true}"
}

# The eic ssh tests (test_eic_ssh.sh, test_e2e_eice.sh; after lib.sh, inside the namespace): the
# sandbox with the account TUSER, an AWS environment of the test's own (no profile, region or
# instance metadata of the host's), ENDPOINT (the emulator), KEYTMP (eic ssh's TMPDIR, where it makes
# its ephemeral key directories) and SSH_ARGS (ssh's options for the sandbox's sshd).
sandbox_setup_eic_ssh() {
    SANDBOX="$WORK"
    TUSER=eicuser
    trap 'sandbox_stop; cleanup' EXIT
    export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
    unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_SESSION_TOKEN
    sandbox_setup
    sandbox_add_user $TUSER 61000
    ENDPOINT=http://169.254.169.254
    # --endpoint-url names the Instance Connect API only: EC2 is the emulator through its own
    # variable. A tunnel goes to wss://<the endpoint's DNS name> (sandbox_hosts), as to AWS: the
    # emulator's TLS listener, its certificate for the world's endpoint names (the emulator's
    # default names), issued by the CA the client is given as any CA bundle.
    SANDBOX_TLS_LISTEN=169.254.169.254:443
    export AWS_ENDPOINT_URL_EC2=$ENDPOINT AWS_CA_BUNDLE="$SANDBOX/emulator/tls-ca.pem"
    KEYTMP="$WORK/keytmp"
    mkdir -p "$KEYTMP"
    SSH_ARGS=(-p 2222 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
        -o ConnectTimeout=20)
}

# sandbox_hosts NAME...: these DNS names are the emulator's address (in the overlay's /etc/hosts).
sandbox_hosts() {
    local name
    for name in "$@"; do
        echo "169.254.169.254 $name" >>/etc/hosts
    done
}

# sandbox_eic_ssh ACCESS-KEY SECRET [eic ssh options...] [-- ssh arguments]: eic ssh with those
# credentials against the emulator, its ephemeral keys under KEYTMP, the ProxyCommand it gives ssh
# run as this suite runs eic (EIC_PROXY_SHELL, lib.sh).
sandbox_eic_ssh() {
    local access_key=$1 secret=$2
    shift 2
    AWS_ACCESS_KEY_ID=$access_key AWS_SECRET_ACCESS_KEY=$secret TMPDIR="$KEYTMP" SHELL="$EIC_PROXY_SHELL" \
        timeout 90 "$EIC_CLIENT" ssh --endpoint-url $ENDPOINT --region $REGION "$@"
}

# No ephemeral key directory left behind in KEYTMP.
no_key_dirs() { [ -z "$(ls -A "$KEYTMP")" ] || { echo "left behind:"; ls -la "$KEYTMP"; return 1; }; }

# expect_status STATUS PATTERN CMD...: CMD exits STATUS and its stderr (kept in $WORK/err) matches PATTERN.
expect_status() {
    local want=$1 pattern=$2 rc
    shift 2
    "$@" 2>"$WORK/err"
    rc=$?
    cat "$WORK/err"
    [ "$rc" -eq "$want" ] || { echo "status $rc, wanted $want"; return 1; }
    grep -q -- "$pattern" "$WORK/err" || { echo "no '$pattern' in stderr"; return 1; }
}

sandbox_stop() {
    for pid in $SANDBOX_PIDS; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    SANDBOX_PIDS=""
}
