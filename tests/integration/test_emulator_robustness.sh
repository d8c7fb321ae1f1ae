#!/bin/bash
# eic-emulator, robustness: huge bodies, malformed JSON, garbage Authorization headers, odd
# paths and methods, non-HTTP bytes, 300 parallel requests, concurrent pushes, slow and idle
# clients. After each, the emulator is still up and answers the next request; at the end it
# stops cleanly on SIGTERM and SIGINT.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
HELPER="$TOP/tests/integration/emu_sigv4.py"
MD=/latest/meta-data

ssh-keygen -q -t ed25519 -N '' -f "$WORK/key" || exit 1

alive() {
    kill -0 "$EMU_PID" 2>/dev/null || { echo "the emulator died"; return 1; }
    [ "$(imds_get "$MD/instance-id")" = "$INSTANCE" ] || { echo "the emulator does not answer"; return 1; }
}

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

start_emulator robust || exit 1

# --- bodies ---------------------------------------------------------------------------------------
head -c $((5 * 1024 * 1024)) /dev/urandom >"$WORK/huge"
head -c $((64 * 1024 + 1)) /dev/zero | tr '\0' x >"$WORK/over"
head -c $((64 * 1024)) /dev/zero | tr '\0' x >"$WORK/limit"
huge_body() {
    local t0 t1 c
    t0=$(date +%s%3N)
    c=$(code --max-time 10 -X POST -H 'X-Amz-Target: AWSEC2InstanceConnectService.SendSSHPublicKey' --data-binary @"$WORK/huge" "$EMU_URL/")
    t1=$(date +%s%3N)
    [ "$c" = 413 ] || { echo "5 MiB body: $c"; return 1; }
    [ $((t1 - t0)) -lt 3000 ] || { echo "took $((t1 - t0)) ms"; return 1; }
}
check "5 MiB body -> 413 at once" huge_body
announced_huge() {
    local line
    line=$(printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5242880\r\n\r\n' | $PY "$HELPER" raw "$EMU_URL")
    case "$line" in "HTTP/1.1 413"*) ;; *) echo "status line '$line'"; return 1 ;; esac
}
check "5 MiB body announced without Expect: 100-continue -> 413 before a byte of it is sent" announced_huge
sent_huge() {
    local c
    c=$(code --max-time 10 -H 'Expect:' -X POST --data-binary @"$WORK/huge" "$EMU_URL/")
    # The 413 goes out as soon as the headers are in, and the connection is closed without
    # reading the body; a client still sending may get a reset before it reads the 413 (000).
    [ "$c" = 413 ] || [ "$c" = 000 ] || { echo "5 MiB body without Expect: $c"; return 1; }
}
check "5 MiB body sent without waiting: 413, or the connection closed" sent_huge
check "64 KiB + 1 body -> 413" test "$(code -X POST --data-binary @"$WORK/over" "$EMU_URL/")" = 413
check "a 64 KiB body is read (400 AuthException, not 413)" test "$(code -X POST --data-binary @"$WORK/limit" "$EMU_URL/" -H 'X-Amz-Target: AWSEC2InstanceConnectService.SendSSHPublicKey')" = 400
check "5 MiB body on an IMDS path -> 413" test "$(code -X PUT --data-binary @"$WORK/huge" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$EMU_URL/latest/api/token")" = 413
chunked_huge() {
    local c
    c=$(code --max-time 10 -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/huge" "$EMU_URL/")
    # The connection is closed once the chunked body passes the cap (no final status: 000, or
    # only the interim 100 Continue).
    [ "$c" = 000 ] || [ "$c" = 100 ] || [ "$c" = 413 ] || { echo "chunked 5 MiB: $c"; return 1; }
}
check "chunked 5 MiB body: connection closed" chunked_huge
bad_length() {
    local line
    line=$(printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n' | $PY "$HELPER" raw "$EMU_URL")
    case "$line" in "HTTP/1.1 4"*) ;; *) echo "status line '$line'"; return 1 ;; esac
}
check "Content-Length: 12abc -> 4xx" bad_length
check "still up after the bodies" alive

# --- JSON and Authorization -----------------------------------------------------------------------
malformed_json() {
    local body out
    for body in '{' '{"InstanceId":' '[1,2' 'nul' '{"a":"\ud800"}' "$(printf '[%.0s' $(seq 5000))" '{"x":1}garbage' \
        "$(printf '{"a":%.0s' $(seq 100))1$(printf '}%.0s' $(seq 100))"; do
        out=$($PY "$HELPER" send "$EMU_URL" --body "$body" | head -n 2 | tr '\n' ' ')
        case "$out" in
        "400 "*SerializationException* | "400 "*InvalidArgsException*) ;;
        *) echo "body '${body:0:40}': $out"; return 1 ;;
        esac
    done
}
check "malformed JSON (signed) -> 400 SerializationException" malformed_json
garbage_auth() {
    local auth out
    while IFS= read -r auth; do
        out=$($PY "$HELPER" send "$EMU_URL" --user alice --key-file "$WORK/key.pub" --authorization "$auth" | head -n 2 | tr '\n' ' ')
        case "$out" in
        "400 "*AuthException*) ;;
        *) echo "Authorization '$auth': $out"; return 1 ;;
        esac
    done <<'EOF'
garbage
AWS4-HMAC-SHA256
AWS4-HMAC-SHA256 
AWS4-HMAC-SHA256 Credential=
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request, SignedHeaders=host;x-amz-date
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request, SignedHeaders=host;x-amz-date, Signature=
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request, SignedHeaders=x-amz-date;host, Signature=0000000000000000000000000000000000000000000000000000000000000000
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/wrong, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000
AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;;, Signature=0000000000000000000000000000000000000000000000000000000000000000
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request/extra, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request, SignedHeaders=host;x-amz-date;a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q;r;s;t;u;v;w;x;y;z;za;zb;zc;zd;ze;zf;zg, Signature=0000000000000000000000000000000000000000000000000000000000000000
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request, Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000, Extra=1
AWS4-HMAC-SHA256 Credential=AKIAEICDEMOALICE0001/20240101/us-east-1/ec2-instance-connect/aws4_request,SignedHeaders=host;x-amz-date,Signature=0000000000000000000000000000000000000000000000000000000000000000
AWS AKIAEICDEMOALICE0001:c2lnbmF0dXJl
Bearer eyJhbGciOiJub25lIn0.e30.
EOF
    # A very long one, and one with bytes above 0x7f.
    out=$($PY "$HELPER" send "$EMU_URL" --user alice --key-file "$WORK/key.pub" \
        --authorization "AWS4-HMAC-SHA256 Credential=$(head -c 20000 /dev/zero | tr '\0' A)/x" | head -n 1)
    [ "$out" = 400 ] || [ "$out" = 431 ] || { echo "long Authorization: $out"; return 1; }
}
check "garbage Authorization headers -> 400 AuthException each" garbage_auth
duplicate_auth() {
    $PY - "$HELPER" "$EMU_URL" "$WORK/key.pub" <<'EOF'
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("h", sys.argv[1]); h = importlib.util.module_from_spec(spec); spec.loader.exec_module(h)
url, keyfile = sys.argv[2], sys.argv[3]
body = json.dumps({"InstanceId": "i-0123456789abcdef0", "InstanceOSUser": "alice", "SSHPublicKey": open(keyfile).read()}).encode()
for header in ("Authorization", "X-Amz-Date", "X-Amz-Target"):
    req = h.signed_request(url, body, h.TARGET, "us-east-1", "ec2-instance-connect", "AKIAEICDEMOALICE0001", "eic-demo-secret-alice", None, 0, [])
    req.headers[header] = req.headers[header]  # botocore's headers append: the header is now sent twice
    status, data, _ = h.send(url, req)
    assert status == 400, (header, status, data)
EOF
}
check "a repeated Authorization, X-Amz-Date or X-Amz-Target header is refused" duplicate_auth
check "still up after malformed JSON and garbage Authorization" alive

# --- paths, methods, raw bytes -----------------------------------------------------------------------
odd_requests() {
    local c t p m
    t=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$EMU_URL/latest/api/token") || return 1
    for p in '/..' '/../../etc/passwd' '/%00' '/latest/%00' "$MD/managed-ssh-keys/active-keys/..%2f..%2fx/" \
        "$MD/managed-ssh-keys/active-keys/a%00b/" '/latest/meta-data/managed-ssh-keys/active-keys/alice%2Fbob/' \
        '//' '/?a=b' '/latest/meta-data/nope?x=%zz' '/%' '/%%%' "/$(printf '%%%.0s' $(seq 1000))"; do
        c=$(code --path-as-is -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$p")
        case "$c" in 200 | 000 | 5*) echo "$p: $c"; return 1 ;; esac
    done
    for m in DELETE PATCH OPTIONS TRACE FOO; do
        c=$(code -X "$m" "$EMU_URL/")
        case "$c" in 000 | 5*) echo "$m /: $c"; return 1 ;; esac
    done
}
check "odd paths and methods: never 200, never 5xx, never a dropped connection" odd_requests
raw_garbage() {
    local g
    for g in 'GARBAGE\r\n\r\n' '\x00\x01\x02\x03\r\n\r\n' 'GET / HTTP/9.9\r\n\r\n' 'GET\r\n\r\n' \
        'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n' 'GET / HTTP/1.1\r\nHost: x\r\nX: \x01\x02\r\n\r\n' \
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde' \
        'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n'; do
        # shellcheck disable=SC2059
        printf "$g" | timeout 10 $PY "$HELPER" raw "$EMU_URL" >/dev/null 2>&1
    done
    # 5000 headers: more than the emulator collects or libmicrohttpd keeps.
    { printf 'GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n'; for i in $(seq 5000); do printf 'X-%d: y\r\n' "$i"; done; printf '\r\n'; } |
        timeout 10 $PY "$HELPER" raw "$EMU_URL" >/dev/null 2>&1
    return 0
}
check "non-HTTP bytes, bad framing, 5000 headers" raw_garbage
check "still up after odd requests" alive

# --- load ------------------------------------------------------------------------------------------------
parallel_300() {
    local t
    t=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 600' "$EMU_URL/latest/api/token") || return 1
    seq 300 | xargs -P 300 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 \
        -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MD/instance-id" >"$WORK/par.out"
    [ "$(grep -c '^200$' "$WORK/par.out")" -eq 300 ] || { sort "$WORK/par.out" | uniq -c; return 1; }
}
check "300 parallel GETs -> 300 x 200" parallel_300
parallel_tokens() {
    seq 300 | xargs -P 300 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 -X PUT \
        -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$EMU_URL/latest/api/token" >"$WORK/par.out"
    [ "$(grep -c '^200$' "$WORK/par.out")" -eq 300 ] || { sort "$WORK/par.out" | uniq -c; return 1; }
}
check "300 parallel token PUTs -> 300 x 200" parallel_tokens
parallel_pushes() {
    local out
    out=$($PY "$HELPER" parallel "$EMU_URL" 60 "$WORK/key.pub" crowd)
    [ "$out" = '{"200": 60}' ] || { echo "60 parallel pushes: $out"; return 1; }
    [ "$(imds_get "$MD/managed-ssh-keys/active-keys/crowd/" | grep -c '^#Timestamp=')" -eq 60 ] || { echo "records missing"; return 1; }
}
check "60 concurrent signed pushes for one user -> 60 x 200 and 60 records" parallel_pushes
per_user_cap() {
    local out
    out=$($PY "$HELPER" parallel "$EMU_URL" 10 "$WORK/key.pub" crowd)
    echo "$out" | grep -q '"400"' || { echo "no refusal beyond 64 live records: $out"; return 1; }
    [ "$(imds_get "$MD/managed-ssh-keys/active-keys/crowd/" | grep -c '^#Timestamp=')" -eq 64 ] || { echo "not capped at 64"; return 1; }
}
check "beyond 64 live records for one user: refused (ThrottlingException), store capped" per_user_cap
check "still up after the load" alive

# --- slow and idle clients ----------------------------------------------------------------------------------
slowloris() {
    $PY "$HELPER" slowloris "$EMU_URL" 14 >"$WORK/slow.out" 2>&1 &
    local slow=$!
    sleep 2
    for _ in 1 2 3; do
        [ "$(curl -sf --max-time 2 -H "X-aws-ec2-metadata-token: $(curl -sf --max-time 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$EMU_URL/latest/api/token")" \
            "$EMU_URL$MD/instance-id")" = "$INSTANCE" ] || { echo "no answer while a slow client trickles"; kill "$slow"; return 1; }
        sleep 1
    done
    wait "$slow"
    cat "$WORK/slow.out"
}
check "slowloris-style client: other requests are answered meanwhile" slowloris
idle_closed() {
    local out secs
    out=$($PY "$HELPER" idle "$EMU_URL")
    secs=${out%% *}
    secs=${secs%.*}
    [ "$secs" -ge 8 ] && [ "$secs" -le 14 ] || { echo "an idle half-request was closed after $out s (want ~10)"; return 1; }
}
check "a client that stops mid-request is disconnected after ~10 s" idle_closed
many_idle() {
    $PY - "${EMU_URL##*:}" <<'EOF' &
import socket, sys, time
socks = []
for _ in range(200):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /latest/meta-data/inst")
    socks.append(s)
time.sleep(4)
EOF
    local idle=$!
    sleep 1.5
    alive
    local rc=$?
    wait "$idle"
    return $rc
}
check "200 idle half-open connections do not block a normal request" many_idle
check "still up after slow clients" alive

sigint_stop() {
    kill -INT "$EMU_PID"
    wait "$EMU_PID"
}
check "SIGINT: clean exit 0" sigint_stop
check "ready file removed on a clean stop" test ! -e "$EMU_STATE/ready"

finish
