#!/bin/bash
# eic-emulator, fault injection: each --fault kind does what it says (delay measurable, status
# codes and the push API's error shapes, hang without blocking other requests, truncate gives a
# short read, oversize 4 MiB or a given size, with or without Content-Length, garbage), prefix
# matching, bad --fault specs refused; the PKI/record faults
# (--ocsp-fault, --wrong-signer-cn, --tamper-records) reach what IMDS serves.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
HELPER="$TOP/tests/integration/emu_sigv4.py"
MD=/latest/meta-data
MSK=$MD/managed-ssh-keys
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
export AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK
unset AWS_SESSION_TOKEN AWS_PROFILE

ssh-keygen -q -t ed25519 -N '' -f "$WORK/key" || exit 1

ms_now() { date +%s%3N; }

token() { curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$EMU_URL/latest/api/token"; }

start_emulator faults --imdsv1 \
    --fault "$MD/instance-id=delay:1500" \
    --fault "$MD/placement/availability-zone=status:503" \
    --fault "$MD/placement/region=status:429" \
    --fault "$MD/services/domain=hang" \
    --fault '/latest/dynamic/instance-identity/document=truncate' \
    --fault "$MSK/signer-cert/=oversize" \
    --fault "$MSK/active-keys/big/=oversize:10485760" \
    --fault "$MSK/active-keys/chunked/=oversize-chunked:2000000" \
    --fault "$MSK/active-keys/noise/=garbage" \
    --fault "$MSK/signer-ocsp/*=status:500" \
    --fault '/latest/meta-data/delayed/*=delay:300' \
    --fault '/latest/meta-data/delayed/*=delay:300' \
    --fault '/latest/meta-data/delayed/*=status:418' || exit 1

# --- delay ---------------------------------------------------------------------------------------
delay_measured() {
    local t0 t1 body
    t0=$(ms_now)
    body=$(curl -sf "$EMU_URL$MD/instance-id") || return 1
    t1=$(ms_now)
    [ "$body" = "$INSTANCE" ] || { echo "body '$body'"; return 1; }
    [ $((t1 - t0)) -ge 1500 ] || { echo "answered after $((t1 - t0)) ms"; return 1; }
    [ $((t1 - t0)) -lt 5000 ] || { echo "answered after $((t1 - t0)) ms"; return 1; }
}
check "delay:1500 -> the normal answer after >= 1.5 s" delay_measured
not_delayed() {
    local t0 t1
    t0=$(ms_now)
    curl -sf -o /dev/null "$EMU_URL$MD/" || return 1
    t1=$(ms_now)
    [ $((t1 - t0)) -lt 1000 ] || { echo "other path took $((t1 - t0)) ms"; return 1; }
}
check "a path without a fault is not delayed" not_delayed
stacked() {
    local t0 t1 code
    t0=$(ms_now)
    code=$(curl -s -o /dev/null -w '%{http_code}' "$EMU_URL$MD/delayed/x")
    t1=$(ms_now)
    [ "$code" = 418 ] || { echo "status $code"; return 1; }
    [ $((t1 - t0)) -ge 600 ] || { echo "answered after $((t1 - t0)) ms"; return 1; }
}
check "prefix faults: two matching delays add up, then the status applies" stacked

# --- status ----------------------------------------------------------------------------------------
check "status:503 on an IMDS path -> 503" test "$(curl -s -o /dev/null -w '%{http_code}' "$EMU_URL$MD/placement/availability-zone")" = 503
check "status:429 on an IMDS path -> 429" test "$(curl -s -o /dev/null -w '%{http_code}' "$EMU_URL$MD/placement/region")" = 429
check "prefix '*': status:500 on signer-ocsp/<name>" test "$(curl -s -o /dev/null -w '%{http_code}' "$EMU_URL$MSK/signer-ocsp/ABC")" = 500
check "prefix '*': signer-ocsp/ itself matches too" test "$(curl -s -o /dev/null -w '%{http_code}' "$EMU_URL$MSK/signer-ocsp/")" = 500
check "prefix '*': signer-ocsp without the slash does not match" test "$(curl -s -o /dev/null -w '%{http_code}' "$EMU_URL$MSK/signer-ocsp")" = 200

# --- hang --------------------------------------------------------------------------------------------
hang_does_not_block() {
    local t0 t1 rc
    curl -s --max-time 4 -o "$WORK/hang.out" "$EMU_URL$MD/services/domain" &
    local hang_pid=$!
    sleep 0.5
    t0=$(ms_now)
    [ "$(curl -sf --max-time 3 "$EMU_URL$MD/placement/")" = $'availability-zone\nregion' ] || { echo "parallel request failed"; return 1; }
    t1=$(ms_now)
    [ $((t1 - t0)) -lt 1000 ] || { echo "parallel request took $((t1 - t0)) ms"; return 1; }
    wait "$hang_pid"
    rc=$?
    [ "$rc" -eq 28 ] || { echo "hanging request: curl exit $rc, want 28 (timeout)"; return 1; }
    [ ! -s "$WORK/hang.out" ] || { echo "the hanging request got an answer"; return 1; }
}
check "hang: no answer (client times out) while a parallel request is answered at once" hang_does_not_block
many_hangs() {
    local pids=""
    for _ in $(seq 20); do
        curl -s --max-time 6 -o /dev/null "$EMU_URL$MD/services/domain" &
        pids="$pids $!"
    done
    sleep 0.5
    [ "$(curl -sf --max-time 2 "$EMU_URL$MD/")" != "" ] || { echo "no answer with 20 hanging requests"; return 1; }
    [ "$(curl -sf --max-time 2 "$EMU_URL$MD/placement/")" != "" ] || { echo "no answer with 20 hanging requests"; return 1; }
    # Leave them hanging: stopping the emulator must still be quick.
    HANG_PIDS=$pids
}
HANG_PIDS=""
check "hang: 20 hanging requests do not stop other requests" many_hangs

# --- truncate and oversize ---------------------------------------------------------------------------
truncated() {
    local rc size len
    curl -s -D "$WORK/trunc.h" -o "$WORK/trunc.body" "$EMU_URL/latest/dynamic/instance-identity/document"
    rc=$?
    [ "$rc" -eq 18 ] || { echo "curl exit $rc, want 18 (partial file)"; return 1; }
    len=$(sed -n 's/^Content-Length: \([0-9]*\).*/\1/ip' "$WORK/trunc.h")
    size=$(stat -c %s "$WORK/trunc.body")
    [ -n "$len" ] && [ "$len" -gt 100 ] || { echo "Content-Length '$len'"; return 1; }
    [ "$size" -eq $((len / 2)) ] || { echo "received $size of $len bytes, want half"; return 1; }
    head -c 1 "$WORK/trunc.body" | grep -q '{' || { echo "not the start of the document"; return 1; }
}
check "truncate: full Content-Length announced, half the body sent, then the connection closes" truncated
oversize() {
    local size
    size=$(curl -sf -o "$WORK/big" -w '%{size_download}' "$EMU_URL$MSK/signer-cert/") || return 1
    [ "$size" -eq 4194304 ] || { echo "downloaded $size bytes"; return 1; }
}
check "oversize: a 4 MiB body" oversize
sized_oversize() {
    local size
    size=$(curl -sf -D "$WORK/big.h" -o /dev/null -w '%{size_download}' "$EMU_URL$MSK/active-keys/big/") || return 1
    [ "$size" -eq 10485760 ] || { echo "downloaded $size bytes"; return 1; }
    grep -qi '^Content-Length: 10485760' "$WORK/big.h" || { cat "$WORK/big.h"; return 1; }
}
check "oversize:10485760: a 10 MB body, Content-Length announced" sized_oversize
chunked_oversize() {
    local size
    size=$(curl -sf -D "$WORK/chunked.h" -o /dev/null -w '%{size_download}' "$EMU_URL$MSK/active-keys/chunked/") ||
        return 1
    [ "$size" -eq 2000000 ] || { echo "downloaded $size bytes"; return 1; }
    grep -qi '^Transfer-Encoding: chunked' "$WORK/chunked.h" || { cat "$WORK/chunked.h"; return 1; }
    ! grep -qi '^Content-Length' "$WORK/chunked.h"
}
check "oversize-chunked: the body without Content-Length" chunked_oversize
garbage() {
    local a b
    a=$(curl -sf "$EMU_URL$MSK/active-keys/noise/" | od -An -tx1 | tr -d ' \n') || return 1
    b=$(curl -sf "$EMU_URL$MSK/active-keys/noise/" | od -An -tx1 | tr -d ' \n') || return 1
    [ ${#a} -eq 8192 ] || { echo "${#a} hex digits, want 4096 bytes"; return 1; }
    [ "$a" = "$b" ] || { echo "not repeatable"; return 1; }
    # Binary noise: a NUL, a CR or LF and a byte >= 0x80 are all in it.
    echo "$a" | fold -w2 | grep -qx 00 && echo "$a" | fold -w2 | grep -qE '^(0a|0d)$' &&
        echo "$a" | fold -w2 | grep -qE '^[89a-f]'
}
check "garbage: 200 with 4 KiB of repeatable binary noise" garbage
check "oversize applies to the exact path only (signer-cert without the slash is normal)" \
    test "$(curl -sf "$EMU_URL$MSK/signer-cert" | head -c 27)" = "-----BEGIN CERTIFICATE-----"

stop_quickly() {
    local t0 t1 rc
    t0=$(ms_now)
    kill -TERM "$EMU_PID"
    wait "$EMU_PID"
    rc=$?
    t1=$(ms_now)
    [ "$rc" -eq 0 ] || { echo "exit status $rc"; return 1; }
    [ $((t1 - t0)) -lt 3000 ] || { echo "took $((t1 - t0)) ms to stop"; return 1; }
}
check "SIGTERM with hanging requests open: clean exit (0) within 3 s" stop_quickly
for pid in $HANG_PIDS; do wait "$pid" 2>/dev/null; done

# --- faults on the push API ---------------------------------------------------------------------------
push_status() {
    local want_status=$1 want_type=$2
    $PY "$HELPER" send "$EMU_URL" --user alice --key-file "$WORK/key.pub" >"$WORK/push.out" || return 1
    [ "$(sed -n 1p "$WORK/push.out")" = "$want_status" ] || { cat "$WORK/push.out"; return 1; }
    sed -n 2p "$WORK/push.out" | grep -q "\"__type\":\"$want_type\"" || { cat "$WORK/push.out"; return 1; }
}
start_emulator push429 --fault '/=status:429' || exit 1
check "push API status:429 -> HTTP 400 ThrottlingException" push_status 400 ThrottlingException
aws_throttled() {
    AWS_MAX_ATTEMPTS=1 /usr/bin/aws ec2-instance-connect send-ssh-public-key --endpoint-url "$EMU_URL" --region us-east-1 \
        --instance-id "$INSTANCE" --instance-os-user alice --ssh-public-key "file://$WORK/key.pub" >"$WORK/aws.out" 2>&1 &&
        return 1
    grep -q ThrottlingException "$WORK/aws.out" || { cat "$WORK/aws.out"; return 1; }
}
check "aws v2 sees the ThrottlingException" aws_throttled
check "IMDS is not affected by a fault on /" test "$(imds_get "$MD/instance-id")" = "$INSTANCE"
stop_emulator
start_emulator push500 --fault '/=status:500' || exit 1
check "push API status:500 -> HTTP 500 ServiceException" push_status 500 ServiceException
stop_emulator
start_emulator push503 --fault '/=status:503' || exit 1
check "push API status:503 -> HTTP 503 ServiceException" push_status 503 ServiceException
stop_emulator
start_emulator pushdelay --fault '/=delay:1000' || exit 1
push_delayed() {
    local t0 t1
    t0=$(ms_now)
    $PY "$HELPER" send "$EMU_URL" --user alice --key-file "$WORK/key.pub" | head -n 1 | grep -qx 200 || return 1
    t1=$(ms_now)
    [ $((t1 - t0)) -ge 1000 ] || { echo "answered after $((t1 - t0)) ms"; return 1; }
}
check "push API delay:1000 -> accepted after >= 1 s" push_delayed
stop_emulator

# --- bad --fault specs ---------------------------------------------------------------------------------
bad_fault() {
    "$EMULATOR" --listen 127.0.0.1:0 --state-dir "$WORK/x" --fault "$1" >"$WORK/bad.out" 2>&1
    [ $? -eq 2 ] || { echo "--fault '$1' not refused with exit 2"; cat "$WORK/bad.out"; return 1; }
    grep -q -- '--fault' "$WORK/bad.out" || { cat "$WORK/bad.out"; return 1; }
}
for spec in nopath '=hang' 'x=hang' '/x' '/x=' '/x=delay' '/x=delay:' '/x=delay:-1' '/x=delay:600001' '/x=delay:1s' \
    '/x=status' '/x=status:99' '/x=status:600' '/x=status:abc' '/x=frobnicate' '/x=hang:5' '/a*b=hang' '/x=truncate:1' \
    '/x=oversize:1023' '/x=oversize:67108865' '/x=garbage:1'; do
    check "--fault '$spec' refused" bad_fault "$spec"
done
bad_options() {
    local args
    for args in "--listen nowhere" "--listen 127.0.0.1" "--listen 127.0.0.1:65536" "--listen localhost:80" \
        "--max-skew abc" "--max-skew -1" "--ocsp-fault sometimes" "--ocsp-fault-target root" "--bogus" "extra"; do
        # shellcheck disable=SC2086
        "$EMULATOR" --state-dir "$WORK/x" $args >/dev/null 2>&1
        [ $? -eq 2 ] || { echo "'$args' not refused with exit 2"; return 1; }
    done
}
check "bad options refused with exit 2" bad_options

# --- PKI and record faults reach IMDS -------------------------------------------------------------------
ocsp_missing() {
    local n
    n=$(imds_get "$MSK/signer-ocsp/" | wc -w)
    [ "$n" -eq 1 ] || { echo "$n OCSP entries"; return 1; }
}
start_emulator ocspmissing --ocsp-fault missing || exit 1
check "--ocsp-fault missing: one OCSP entry fewer" ocsp_missing
stop_emulator
signer_cn() {
    imds_get "$MSK/signer-cert/" | openssl x509 -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p'
}
start_emulator wrongcn --wrong-signer-cn || exit 1
wrong_cn() {
    local cn
    cn=$(signer_cn)
    [ -n "$cn" ] && [ "$cn" != "managed-ssh-signer.us-east-1.amazonaws.com" ] || { echo "CN '$cn'"; return 1; }
}
check "--wrong-signer-cn: the served signer has another CN" wrong_cn
stop_emulator

# record_verifies USER: the first record of USER verifies with the served signer key.
record_verifies() {
    imds_get "$MSK/signer-cert/" | openssl x509 -pubkey -noout >"$WORK/signer.pub" || return 1
    imds_get "$MSK/active-keys/$1/" >"$WORK/rec" || return 1
    grep -E '^#|^ssh-' "$WORK/rec" | head -n 5 >"$WORK/rec.data"
    sed -n '6p' "$WORK/rec" | base64 -d >"$WORK/rec.sig" || return 1
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 \
        -verify "$WORK/signer.pub" -signature "$WORK/rec.sig" "$WORK/rec.data"
}
push_one() {
    $PY "$HELPER" send "$EMU_URL" --user alice --key-file "$WORK/key.pub" | head -n 1 | grep -qx 200
}
start_emulator tamper --tamper-records || exit 1
check "--tamper-records: the push is accepted" push_one
record_spoiled() { ! record_verifies "$@"; }
check "--tamper-records: the served record does not verify" record_spoiled alice
stop_emulator
start_emulator untampered || exit 1
check "without --tamper-records: the push is accepted" push_one
check "without --tamper-records: the same record check verifies (control)" record_verifies alice
stop_emulator

finish
