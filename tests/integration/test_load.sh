#!/bin/bash
# Load (issue #7 part 5): 200 `ssh` logins at once through one sshd, in the end-to-end sandbox
# (sandbox.sh: the emulator at 169.254.169.254:80, the real sshd with eic-authorized-keys as its
# AuthorizedKeysCommand and pam_eic in its PAM stack, eicd, the real OpenSSH client). 200
# different local accounts, each with its own
# pushed key, as a fleet sees it: many people, each logging in once. MaxStartups is raised so sshd
# accepts them all at once. All must log in; the IMDS requests the burst caused are counted from
# the emulator's request log and reported per login (token PUTs and GETs).
# EIC_LOAD_LOGINS changes the number (default 200, as issue #7 asks).
# Needs root (CI runs as root); without root every case reports "not ok", never a skip.
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

N=${EIC_LOAD_LOGINS:-200}
CASES=(
    "$N accounts created and $N keys pushed"
    "$N concurrent ssh logins all succeed, each as its own user"
    "sshd dropped no connection (MaxStartups)"
    "every login was authorized by eic (two AuthorizedKeysCommand runs each)"
    "token PUTs: at most one per AuthorizedKeysCommand run, plus the requests it logged as sent again (a token is reused within a run)"
    "one verification per login: at most 2 IMDS requests per login (both AKC runs and pam_eic's session), eicd's first signer verification aside; every session audited with its pushed key"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

SANDBOX="$WORK"
# The keys must outlive pushing them all and the burst on a busy 2-core machine.
SANDBOX_LIFETIME=900
SANDBOX_SSHD_EXTRA="MaxStartups $((N + 50))"
trap 'sandbox_stop; cleanup' EXIT

user_name() { printf 'load%03d' "$1"; }

sandbox_setup
# The shipped deadlines (deadline_ms 5000, imds_timeout_ms 1000), not the sandbox's shorter ones:
# this test is about what a fleet sees. The sandbox's sshd runs the AKC as nobody.
cat >/etc/eic/eic.conf <<CONF
ca_file = /srv/eic/ca.pem
log_file = $AKC_LOG
authorized_keys_user = nobody
CONF
chmod 0644 /etc/eic/eic.conf
for i in $(seq 0 $((N - 1))); do
    sandbox_add_user "$(user_name "$i")" $((62000 + i))
done
# pam_eic as the package stacks it: its session step asks eicd about the login key as well.
sandbox_install_pam "audit_log=/srv/eic/log/audit.log" "authorized_keys=/srv/eic/keys/%u"
sandbox_start_imds || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }
# On EC2 the metadata service and the people's ssh clients are not on the instance; here they
# share its CPUs with sshd and the AuthorizedKeysCommand runs. The emulator gets priority and the
# clients yield, so that the instance side is what competes for the CPU, as it would for real.
renice -n -10 -p "$SANDBOX_EMU_PID" >/dev/null

mkdir -p "$WORK/keys" "$WORK/out"
push_all() {
    local i pids=()
    for i in $(seq 0 $((N - 1))); do
        ssh-keygen -q -t ed25519 -N '' -f "$WORK/keys/$i" || return 1
    done
    # Eight pushes at a time: the client is a process start plus one signed POST.
    for i in $(seq 0 $((N - 1))); do
        sandbox_push "$(user_name "$i")" "$WORK/keys/$i.pub" >"$WORK/out/push.$i" 2>&1 &
        pids+=($!)
        if [ ${#pids[@]} -eq 8 ]; then
            wait "${pids[@]}" || return 1
            pids=()
        fi
    done
    [ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
}
check "${CASES[0]}" push_all
echo "# setup done after $SECONDS s"

# The burst. Every client waits on a shared lock the test holds, so all N start together when it
# is released. Generous client timeouts: on a loaded machine the last of N handshakes waits for
# the CPU, which is not what this test measures.
login() { # login INDEX: prints the account name the session ran as
    timeout 170 nice -n 10 ssh -p 2222 -i "$WORK/keys/$1" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=150 \
        "$(user_name "$1")@127.0.0.1" 'id -un'
}
exec 8>"$WORK/start.lock"
flock -x 8
login_pids=()
for i in $(seq 0 $((N - 1))); do
    (
        exec 8>&-
        flock -s "$WORK/start.lock" true
        login "$i" >"$WORK/out/login.$i" 2>&1
        echo $? >"$WORK/out/rc.$i"
    ) &
    login_pids+=($!)
done
log_mark=$(wc -l <"$SANDBOX/emulator/emulator.log")
akc_mark=$(wc -l <"$AKC_LOG")
start_ms=$(date +%s%3N)
flock -u 8
exec 8>&-
wait "${login_pids[@]}"
end_ms=$(date +%s%3N)

all_logged_in() {
    local i bad=0
    for i in $(seq 0 $((N - 1))); do
        if [ "$(cat "$WORK/out/rc.$i")" != 0 ] || [ "$(cat "$WORK/out/login.$i")" != "$(user_name "$i")" ]; then
            echo "login $(user_name "$i"): status $(cat "$WORK/out/rc.$i"): $(head -c 300 "$WORK/out/login.$i")"
            grep -h "$(user_name "$i")\b" "$AKC_LOG" "$SANDBOX/sshd.log" | tail -n 6
            bad=$((bad + 1))
        fi
    done
    echo "$bad of $N logins failed"
    LOGIN_FAILURES=$bad
    [ "$bad" -eq 0 ]
}
LOGIN_FAILURES=$N
check "${CASES[1]}" all_logged_in
check "${CASES[2]}" bash -c "! grep -Ei 'drop connection|MaxStartups' '$SANDBOX/sshd.log'"

tail -n +$((log_mark + 1)) "$SANDBOX/emulator/emulator.log" >"$WORK/burst.log"
tail -n +$((akc_mark + 1)) "$AKC_LOG" >"$WORK/burst-akc.log"
PUTS=$(grep -c ' PUT /latest/api/token ' "$WORK/burst.log")
GETS=$(grep -c ' GET /latest/' "$WORK/burst.log")
PROVIDED=$(grep -c 'Providing ssh key from EC2 Instance Connect' "$WORK/burst-akc.log")
# Runs that failed (sshd logs those) fetched their token too.
AKC_RUNS=$((PROVIDED + $(grep -c 'AuthorizedKeysCommand .* failed' "$SANDBOX/sshd.log")))
check "${CASES[3]}" test "$PROVIDED" -eq $((2 * N))
# A run whose request ran into imds_timeout_ms sends it again (once) and logs how many it sent
# again; on a starved machine that request may be the token PUT.
RETRIED=$(sed -n 's/.*IMDS: \([0-9]*\) of [0-9]* requests ran into imds_timeout_ms.*/\1/p' "$WORK/burst-akc.log" |
    awk '{ n += $1 } END { print n + 0 }')
check "${CASES[4]}" bash -c "echo '$PUTS token PUTs, $AKC_RUNS runs, $RETRIED requests sent again'; [ $PUTS -le $((AKC_RUNS + RETRIED)) ]"

# The signer's chain, OCSP responses and identity: fetched once by the warm service (8 GETs and a
# token); every login after that costs the GET of its records, shared by its three questions.
one_verification() {
    local audited
    audited=$(grep '"event":"session_open"' /srv/eic/log/audit.log | grep -c '"eic_key":true')
    echo "$((PUTS + GETS)) IMDS requests for $N logins; $audited sessions audited with their pushed key"
    [ $((PUTS + GETS)) -le $((2 * N + 16)) ] && [ "$audited" -eq "$N" ]
}
check "${CASES[5]}" one_verification
# How many requests ran into imds_timeout_ms is a measure of the machine as much as of eic (one
# in 254 on a loaded CI run): reported below and by bench/run-all.sh, not asserted.
per_login() { awk -v a="$1" -v n="$N" 'BEGIN { printf "%.2f", a / n }'; }
echo "# $N logins in $((end_ms - start_ms)) ms; IMDS requests: $PUTS token PUTs ($(per_login "$PUTS") per login)," \
    "$GETS GETs ($(per_login "$GETS") per login); $RETRIED sent again after a timeout"
# For bench/run-all.sh: the same figures, one line, machine-readable.
if [ -n "${EIC_LOAD_REPORT:-}" ]; then
    echo "logins=$N failed=$LOGIN_FAILURES ms=$((end_ms - start_ms)) puts=$PUTS gets=$GETS retried=$RETRIED" >"$EIC_LOAD_REPORT"
fi
finish
