# Shared helpers for the integration tests (sourced). Each test script prints TAP:
# "ok N - name" / "not ok N - name", then the plan "1..N" at the end.
# Scripts run from any directory; EIC_BUILD (default: the source tree) holds the built programs.
#
# tests/run-one.sh (make check) sets EIC_TEST_SUITE and, in the asan and valgrind suites,
# EIC_TEST_WRAPPER, the command prefix that runs one of our programs checked (ASan options /
# valgrind); EMULATOR, EIC_CLIENT, EIC_AKC and EICD are then small scripts that run the built
# program through it (scripts, because some tests run them with a cleared environment).
# EIC_TEST_HOST_WRAPPER does the same for a program that is not
# ours but loads our modules (getent with nss_eic). Both are empty in the normal suite. A case that
# asserts wall-clock time is a check_timed (below). docs/TESTING.md describes the suites.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EIC_BUILD=${EIC_BUILD:-$TOP}
EMULATOR="$EIC_BUILD/emulator/eic-emulator"
EIC_CLIENT="$EIC_BUILD/client/eic"
EIC_AKC="$EIC_BUILD/authorized_keys/eic-authorized-keys"
EICD="$EIC_BUILD/eicd/eicd"
# The client as built, as it names itself in eic ssh's ProxyCommand; EIC_PROXY_SHELL: the SHELL the
# tests give eic ssh, with which ssh runs that ProxyCommand (see below).
EIC_CLIENT_PROGRAM=$(readlink -f "$EIC_CLIENT")
EIC_PROXY_SHELL=/bin/sh
TEST_DATA="$TOP/tests/data"
EIC_TEST_SUITE=${EIC_TEST_SUITE:-normal}
EIC_TEST_WRAPPER=${EIC_TEST_WRAPPER:-}
EIC_TEST_HOST_WRAPPER=${EIC_TEST_HOST_WRAPPER:-}
# MEMCHECK VALGRIND-OPTIONS... PROGRAM [ARGS...]: a test's own valgrind run (see the script).
MEMCHECK="$TOP/tests/integration/memcheck"
# TIME_SCALE: the tests multiply the deadlines and IMDS timeouts of the configurations they write
# by it: 1, and 10 in the valgrind suite, where our programs need seconds of CPU for what takes
# milliseconds. Runs there check memory; the deadlines are asserted in the normal and ASan suites.
TIME_SCALE=1
[ "$EIC_TEST_SUITE" = valgrind ] && TIME_SCALE=10

TAP_N=0
TAP_FAILED=0
WORK=$(mktemp -d /tmp/eic-test.XXXXXX)
EMU_PIDS=""

cleanup() {
    for pid in $EMU_PIDS ${EICD_PID:-}; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$WORK" ${EIC_TEST_BIN:+"$EIC_TEST_BIN"}
}
trap cleanup EXIT

# The wrappers live in a directory of their own that everyone may read: sshd runs the AKC's as nobody.
EIC_TEST_BIN=""
if [ -n "$EIC_TEST_WRAPPER" ]; then
    EIC_TEST_BIN=$(mktemp -d /tmp/eic-bin.XXXXXX)
    chmod 0755 "$EIC_TEST_BIN"
fi

# write_wrapper PATH PROGRAM: PATH, a script that runs PROGRAM as this suite runs our programs, or as
# built while check_timed's flag file exists (a file: sshd and `env -i` clear the environment).
# PROGRAM is quoted: the checkout's path may have a space.
write_wrapper() {
    printf '#!/bin/sh\n[ -e %s/native ] && exec "%s" "$@"\nexec %s "%s" "$@"\n' \
        "$EIC_TEST_BIN" "$2" "$EIC_TEST_WRAPPER" "$2" >"$1"
    chmod 0755 "$1"
}
if [ -n "$EIC_TEST_WRAPPER" ]; then
    write_wrapper "$EIC_TEST_BIN/eic" "$EIC_CLIENT"
    write_wrapper "$EIC_TEST_BIN/eic-authorized-keys" "$EIC_AKC"
    write_wrapper "$EIC_TEST_BIN/eicd" "$EICD"
    EIC_CLIENT="$EIC_TEST_BIN/eic" EIC_AKC="$EIC_TEST_BIN/eic-authorized-keys" EICD="$EIC_TEST_BIN/eicd"
    # eic ssh names itself in the ProxyCommand it gives ssh (/proc/self/exe: the program as built,
    # even under valgrind, which does not follow ssh's children), and ssh runs it as
    # "$SHELL -c 'exec COMMAND'". This shell runs COMMAND with that program replaced by its
    # wrapper, so that the tunnel side of eic ssh is checked too; any other command is refused,
    # so a tunnel can never run unchecked unnoticed.
    cat >"$EIC_TEST_BIN/proxy-shell" <<SH
#!/bin/sh
case "\$2" in
"exec '$EIC_CLIENT_PROGRAM' "*) exec /bin/sh -c "exec $EIC_CLIENT \${2#"exec '$EIC_CLIENT_PROGRAM' "}" ;;
esac
echo "proxy-shell: not a command of $EIC_CLIENT_PROGRAM: \$2" >&2
exit 126
SH
    chmod 0755 "$EIC_TEST_BIN/proxy-shell"
    EIC_PROXY_SHELL="$EIC_TEST_BIN/proxy-shell"
    # Not the emulator under valgrind: each start with a fresh state directory issues its RSA PKI,
    # which takes over ten minutes under memcheck. The ASan suite runs it instrumented everywhere.
    if [ "$EIC_TEST_SUITE" != valgrind ]; then
        write_wrapper "$EIC_TEST_BIN/eic-emulator" "$EMULATOR"
        EMULATOR="$EIC_TEST_BIN/eic-emulator"
    fi
    # The host prefix becomes a script too, honouring the same flag (the host then runs as it is).
    printf '#!/bin/sh\n[ -e %s/native ] && exec "$@"\nexec %s "$@"\n' "$EIC_TEST_BIN" "$EIC_TEST_HOST_WRAPPER" \
        >"$EIC_TEST_BIN/host"
    chmod 0755 "$EIC_TEST_BIN/host"
    EIC_TEST_HOST_WRAPPER="$EIC_TEST_BIN/host"
fi

ok() {
    TAP_N=$((TAP_N + 1))
    echo "ok $TAP_N - $*"
}

not_ok() {
    TAP_N=$((TAP_N + 1))
    TAP_FAILED=$((TAP_FAILED + 1))
    echo "not ok $TAP_N - $*"
}

# check NAME CMD...: one test case that passes when CMD exits 0. CMD's output goes to
# $WORK/last.out and is shown (as TAP comments) only on failure.
check() {
    local name=$1
    shift
    if "$@" >"$WORK/last.out" 2>&1; then
        ok "$name"
    else
        not_ok "$name"
        sed 's/^/# /' "$WORK/last.out" | tail -n 40
    fi
}

# check_timed NAME CMD...: a case that asserts wall-clock time (a deadline, "at once"). In the
# valgrind suite our programs run in it as built: memcheck's slowdown would break any bound, and
# the case measures time, not memory; it is checked against the same bounds in every suite.
check_timed() {
    [ "$EIC_TEST_SUITE" = valgrind ] && touch "$EIC_TEST_BIN/native"
    check "$@"
    rm -f "${EIC_TEST_BIN:-/nonexistent}/native"
}

# Print the plan and exit non-zero when a case failed.
finish() {
    echo "1..$TAP_N"
    [ "$TAP_FAILED" -eq 0 ]
}

# start_emulator NAME [emulator options...]: start an emulator on a free loopback port with
# its own state directory $WORK/NAME. Sets EMU_URL (http://127.0.0.1:PORT), EMU_STATE and
# EMU_PID. The emulator writes its address to --ready-file once it is listening.
start_emulator() {
    local name=$1
    shift
    EMU_STATE="$WORK/$name"
    mkdir -p "$EMU_STATE"
    rm -f "$EMU_STATE/ready"
    "$EMULATOR" --listen 127.0.0.1:0 --state-dir "$EMU_STATE" --ready-file "$EMU_STATE/ready" \
        --log-file "$EMU_STATE/emulator.log" "$@" >"$EMU_STATE/stdout" 2>&1 &
    EMU_PID=$!
    EMU_PIDS="$EMU_PIDS $EMU_PID"
    for _ in $(seq 1 200); do
        if [ -s "$EMU_STATE/ready" ]; then
            EMU_URL="http://$(head -n 1 "$EMU_STATE/ready")"
            return 0
        fi
        if ! kill -0 "$EMU_PID" 2>/dev/null; then
            echo "# emulator exited:" && sed 's/^/# /' "$EMU_STATE/stdout"
            return 1
        fi
        sleep 0.05
    done
    echo "# emulator did not become ready"
    return 1
}

# start_eicd CONFIG SOCKET: eicd --foreground with CONFIG, whose service_socket is SOCKET, run as
# this suite runs our programs (EICD); sets EICD_PID. Its output goes to $WORK/eicd.out.
start_eicd() {
    rm -f "$2"
    "$EICD" -c "$1" --foreground >>"$WORK/eicd.out" 2>&1 &
    EICD_PID=$!
    for _ in $(seq 1 400); do
        [ -S "$2" ] && return 0
        kill -0 "$EICD_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "# eicd did not start:"
    sed 's/^/# /' "$WORK/eicd.out"
    return 1
}

stop_eicd() {
    kill "$EICD_PID" 2>/dev/null
    wait "$EICD_PID" 2>/dev/null
    EICD_PID=""
}

stop_emulator() {
    kill "$EMU_PID" 2>/dev/null
    wait "$EMU_PID" 2>/dev/null
}

# imds_get PATH: GET from the emulator's IMDS with a fresh IMDSv2 token.
imds_get() {
    local token
    token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$EMU_URL/latest/api/token") || return 1
    curl -sf -H "X-aws-ec2-metadata-token: $token" "$EMU_URL$1"
}

# The default world's credentials (printed by the emulator at start-up).
ALICE_AK=AKIAEICDEMOALICE0001
ALICE_SK=eic-demo-secret-alice
BOB_AK=AKIAEICDEMOBOB000002
BOB_SK=eic-demo-secret-bob
INSTANCE=i-0123456789abcdef0
ZONE=us-east-1a
REGION=us-east-1
