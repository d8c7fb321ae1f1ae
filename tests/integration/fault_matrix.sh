# The IMDS fault matrix (issue #7.1), shared by tests/integration/test_fault_matrix.sh (asserts each
# row) and bench/fault-matrix.sh (measures each row and writes the table in docs/RELIABILITY.md).
# Sourced after lib.sh and sandbox.sh, inside the sandbox namespace, as root.
#
#   fm_setup               the sandbox: sshd + eic-authorized-keys + nss_eic + pam_eic, a local user
#                          with a key in authorized_keys, and alice, an IAM-mapped user who logged in
#                          once (so she is in the account cache)
#   fm_run_row ID          one row: put IMDS in that state, then measure (variables FM_*, below)
#
# Every row measures the same things, through the real programs:
#   local login    the local user's key login (authorized_keys file), FM_SAMPLES times: all must
#                  work, and none may make eic ask IMDS (so IMDS trouble cannot slow them down)
#   cached user    getent passwd alice: served from the account cache, never from IMDS
#   NSS miss       getent passwd of a name in no cache (nss_eic's heavy path, as sshd's root monitor
#                  would): must come back, not found, within imds_timeout_ms
#   NSS miss again another such name right after: eicd has seen IMDS fail (or answer) once now
#   EIC login      alice with a key pushed for her: refused (fail closed) unless IMDS answers in time;
#                  and one run of eic-authorized-keys on its own, timed against deadline_ms
#   crashes        getent killed by a signal, sshd's listener gone, sshd logging a child killed by
#                  a signal (the AuthorizedKeysCommand, a session)
#   log line       what eic logged about IMDS for the row (the AKC, nss_eic and pam_eic share one log)

# The rows: ID|what is wrong|IMDS state (emulator --fault options, or absent:HOW)|EIC login expected|
# log pattern (grep -E) that must name the fault class.
# Faults on /latest/meta-data/* leave the token PUT alone, so the body or status of a real GET is
# what eic meets; the token rows break the PUT itself.
FM_ROWS=(
    "none|no fault (baseline)||accepted|Providing ssh key"
    "refused|IMDS absent: nothing listens on 169.254.169.254:80|absent:refused|refused|connection refused"
    "unreachable|IMDS absent: no route to 169.254.169.254|absent:unreachable|refused|host unreachable"
    "dropped|IMDS absent: packets to it silently dropped (connect hangs)|absent:dropped|refused|timed out"
    "hang|IMDS accepts, never answers|--fault /latest/meta-data/*=hang|refused|timed out"
    "slow-under|token PUT slow: imds_timeout_ms - 100 ms|--fault /latest/api/token=delay:@UNDER@|accepted|Providing ssh key"
    "slow-over|token PUT slow: imds_timeout_ms + 100 ms|--fault /latest/api/token=delay:@OVER@|refused|timed out"
    "slow-all|every GET slow: imds_timeout_ms - 100 ms each (sum > deadline_ms)|--fault /latest/meta-data/*=delay:@UNDER@|refused|timed out"
    "500|HTTP 500|--fault /latest/meta-data/*=status:500|refused|HTTP 500"
    "429|HTTP 429 (throttled)|--fault /latest/meta-data/*=status:429|refused|HTTP 429"
    "503|HTTP 503|--fault /latest/meta-data/*=status:503|refused|HTTP 503"
    "garbage|200 with 4 KiB of binary garbage|--fault /latest/meta-data/*=garbage|refused|garbage|not a|binary|no valid"
    "truncated|body cut short (Content-Length not reached)|--fault /latest/meta-data/*=truncate|refused|incomplete|remaining|partial"
    "oversize|10 MB body, Content-Length announced|--fault /latest/meta-data/*=oversize:10485760|refused|size limit"
    "oversize-chunked|10 MB body, chunked (no Content-Length)|--fault /latest/meta-data/*=oversize-chunked:10485760|refused|size limit"
    "token-refused|token PUT refused (403)|--fault /latest/api/token=status:403|refused|token.*403"
    "token-rejected|token not accepted on GET (401)|--fault /latest/meta-data/*=status:401|refused|401"
    "token-hang|token PUT hangs|--fault /latest/api/token=hang|refused|token.*timed out"
    "token-garbage|token PUT answers garbage|--fault /latest/api/token=garbage|refused|token"
)

FM_SAMPLES=${FM_SAMPLES:-2}
FM_IMDS_TIMEOUT_MS=${FM_IMDS_TIMEOUT_MS:-500}
FM_DEADLINE_MS=${FM_DEADLINE_MS:-1500}
FM_LOCAL_USER=eiclocal
FM_WORLD=(--config "$TEST_DATA/worlds/mapped.json")
FM_RULES='uid_min = 200000
uid_max = 299999
[map arn:aws:iam::111122223333:user/*]
name = {user}'

fm_field() { # fm_field ROW_ID N: field N (1-based) of that row
    local r
    for r in "${FM_ROWS[@]}"; do
        if [ "${r%%|*}" = "$1" ]; then
            echo "$r" | cut -d'|' -f"$2"
            return 0
        fi
    done
    return 1
}
fm_pattern() { fm_field "$1" 5-; } # the pattern may itself contain '|' (grep -E alternatives)
fm_ids() { local r; for r in "${FM_ROWS[@]}"; do echo "${r%%|*}"; done; }

fm_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

fm_push_alice() {
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK "$EIC_CLIENT" send-ssh-public-key \
        --endpoint-url http://169.254.169.254 --region "$REGION" --instance-id "$INSTANCE" \
        --instance-os-user alice --ssh-public-key "file://$WORK/key-alice.pub" >>"$WORK/push.log" 2>&1
}

fm_setup() {
    sandbox_setup
    sandbox_install_nss
    # pam_eic is told where this sshd reads authorized keys (AuthorizedKeysFile in sandbox.sh).
    sandbox_install_pam "authorized_keys=/srv/eic/keys/%u"
    sandbox_add_user "$FM_LOCAL_USER" 61000
    sandbox_write_config "$FM_RULES"
    # The row's deadlines; no negative cache, so that every NSS miss of every row reaches IMDS.
    sed -i -e "s/^deadline_ms = .*/deadline_ms = $FM_DEADLINE_MS/" \
        -e "s/^imds_timeout_ms = .*/imds_timeout_ms = $FM_IMDS_TIMEOUT_MS/" /etc/eic/eic.conf
    sed -i "1i negative_cache_ttl = 0" /etc/eic/eic.conf
    sandbox_start_imds "${FM_WORLD[@]}" || return 1
    sandbox_start_sshd || return 1
    FM_SSHD_PID=${SANDBOX_PIDS##* }
    ssh-keygen -q -t ed25519 -N '' -C key-local -f "$WORK/key-local"
    ssh-keygen -q -t ed25519 -N '' -C key-alice -f "$WORK/key-alice"
    install -m 0644 "$WORK/key-local.pub" "/srv/eic/keys/$FM_LOCAL_USER"
    # alice logs in once: from then on she is in the account cache.
    fm_push_alice || return 1
    sandbox_login alice "$WORK/key-alice" true || return 1
    getent passwd alice >"$WORK/alice.passwd" || return 1
}

# IMDS states that are not emulator faults: the emulator is stopped, or 169.254.169.254 is taken
# off lo and routed where nothing answers.
fm_absent() { # fm_absent refused|unreachable|dropped
    kill "$SANDBOX_EMU_PID" 2>/dev/null
    wait "$SANDBOX_EMU_PID" 2>/dev/null
    SANDBOX_EMU_PID=""
    case $1 in
    unreachable)
        ip addr del 169.254.169.254/32 dev lo
        ip route add unreachable 169.254.169.254/32
        ;;
    dropped)
        # A veth pair with a permanent neighbour entry: frames leave, nobody takes them, no ICMP
        # comes back. Connects hang as they do when a firewall drops IMDS traffic.
        ip addr del 169.254.169.254/32 dev lo
        ip link add eicdrop0 type veth peer name eicdrop1
        ip link set eicdrop0 up
        ip link set eicdrop1 up
        ip route add 169.254.169.254/32 dev eicdrop0
        ip neigh add 169.254.169.254 lladdr 02:00:00:00:00:01 dev eicdrop0 nud permanent
        ;;
    esac
}

fm_restore() {
    ip route del unreachable 169.254.169.254/32 2>/dev/null
    ip link del eicdrop0 2>/dev/null
    ip addr show dev lo | grep -q 'inet 169.254.169.254/' || ip addr add 169.254.169.254/32 dev lo
}

# fm_run_row ID: sets
#   FM_LOCAL_OK      local logins that worked, "N/M"
#   FM_LOCAL_MS      their median time (ms)
#   FM_CACHED        "ok" when getent passwd alice printed her cached entry, else what it printed
#   FM_CACHED_MS     its time (ms)
#   FM_MISS          "not found" or what getent said; FM_MISS_MS its time (ms)
#   FM_EIC           "accepted" or "refused"; FM_EIC_MS its time (ms)
#   FM_AKC_MS        one run of eic-authorized-keys for alice on its own (ms)
#   FM_AKC_EXIT      the AuthorizedKeysCommand exit statuses sshd logged ("0" when it logged none)
#   FM_CRASH         empty, or what crashed
#   FM_LOG           the line eic logged about the EIC login (without time stamp and pid)
#   FM_LOG_ALL       every line eic logged during the row (a file)
fm_run_row() {
    local id=$1 state t times=() ok=0 i rc out log_mark sshd_mark miss_name
    state=$(fm_field "$id" 3)
    state=${state//@UNDER@/$((FM_IMDS_TIMEOUT_MS - 100))}
    state=${state//@OVER@/$((FM_IMDS_TIMEOUT_MS + 100))}
    FM_CRASH=""

    fm_restore
    # Every row meets a service that starts cold (nothing kept: a fresh token, the signer verified
    # afresh), as after a boot: a service that kept both from an earlier row needs one request of
    # IMDS per login, and most faults below would not reach it.
    sandbox_stop_eicd
    sandbox_start_eicd || FM_CRASH="eicd did not start; "
    case $state in
    absent:*)
        sandbox_start_imds "${FM_WORLD[@]}" || FM_CRASH="emulator did not start; "
        fm_push_alice || FM_CRASH+="push failed; "
        fm_absent "${state#absent:}"
        ;;
    *)
        # shellcheck disable=SC2086 # the fault options are words
        sandbox_start_imds "${FM_WORLD[@]}" $state || FM_CRASH="emulator did not start; "
        fm_push_alice || FM_CRASH+="push failed; "
        ;;
    esac
    log_mark=$(stat -c %s "$AKC_LOG")
    sshd_mark=$(stat -c %s "$WORK/sshd.log")

    for i in $(seq 1 "$FM_SAMPLES"); do
        t=$(date +%s%N)
        sandbox_login "$FM_LOCAL_USER" "$WORK/key-local" true && ok=$((ok + 1))
        times+=("$(fm_ms "$t")")
    done
    FM_LOCAL_OK="$ok/$FM_SAMPLES"
    FM_LOCAL_MS=$(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')

    t=$(date +%s%N)
    out=$(getent passwd alice)
    rc=$?
    FM_CACHED_MS=$(fm_ms "$t")
    [ "$rc" -ge 128 ] && FM_CRASH+="getent passwd alice: signal $((rc - 128)); "
    if [ "$out" = "$(cat "$WORK/alice.passwd")" ]; then FM_CACHED=ok; else FM_CACHED="exit $rc: $out"; fi

    miss_name="fm-miss-$id"
    t=$(date +%s%N)
    out=$(getent passwd "$miss_name")
    rc=$?
    FM_MISS_MS=$(fm_ms "$t")
    [ "$rc" -ge 128 ] && FM_CRASH+="getent passwd $miss_name: signal $((rc - 128)); "
    if [ "$rc" -eq 2 ] && [ -z "$out" ]; then FM_MISS="not found"; else FM_MISS="exit $rc: $out"; fi
    t=$(date +%s%N)
    out=$(getent passwd "$miss_name-again")
    rc=$?
    FM_MISS_AGAIN_MS=$(fm_ms "$t")
    [ "$rc" -ge 128 ] && FM_CRASH+="getent passwd $miss_name-again: signal $((rc - 128)); "
    if [ "$rc" -eq 2 ] && [ -z "$out" ]; then FM_MISS_AGAIN="not found"; else FM_MISS_AGAIN="exit $rc: $out"; fi

    t=$(date +%s%N)
    if sandbox_login alice "$WORK/key-alice" true 2>>"$WORK/ssh.err"; then FM_EIC=accepted; else FM_EIC=refused; fi
    FM_EIC_MS=$(fm_ms "$t")

    # The AuthorizedKeysCommand alone, as sshd runs it (user nobody, no fingerprint filter): its
    # own time against deadline_ms, without ssh's.
    t=$(date +%s%N)
    setpriv --reuid=nobody --regid=nogroup --clear-groups /srv/eic/eic-authorized-keys alice '' >/dev/null 2>&1
    rc=$?
    FM_AKC_MS=$(fm_ms "$t")
    [ "$rc" -ge 128 ] && FM_CRASH+="eic-authorized-keys: signal $((rc - 128)); "

    tail -c +$((log_mark + 1)) "$AKC_LOG" | sed -E 's/^[^ ]+ //; s/\[[0-9]+\]//' >"$WORK/row-$id.log"
    FM_LOG_ALL="$WORK/row-$id.log"
    # The EIC login's own line first (the AuthorizedKeysCommand's), then nss_eic's.
    FM_LOG=$(grep -m1 -E '^eic-authorized-keys: (error|warning): ' "$FM_LOG_ALL" ||
        grep -m1 -E ': (error|warning): ' "$FM_LOG_ALL" || grep -m1 'Providing ssh key' "$FM_LOG_ALL" ||
        echo "(nothing logged)")
    tail -c +$((sshd_mark + 1)) "$WORK/sshd.log" >"$WORK/row-$id.sshd"
    FM_AKC_EXIT=$(sed -n 's/.*AuthorizedKeysCommand .* failed, status \([0-9]*\).*/\1/p' "$WORK/row-$id.sshd" |
        sort -u | tr '\n' ' ')
    FM_AKC_EXIT=${FM_AKC_EXIT% }
    FM_AKC_EXIT=${FM_AKC_EXIT:-0}
    if grep -E 'signal|segfault|[Ss]anitizer|core dumped' "$WORK/row-$id.sshd" >"$WORK/row-$id.crash"; then
        FM_CRASH+="sshd.log: $(head -n1 "$WORK/row-$id.crash"); "
    fi
    kill -0 "$FM_SSHD_PID" 2>/dev/null || FM_CRASH+="sshd (listener) is gone; "
    FM_CRASH=${FM_CRASH%; }
}
