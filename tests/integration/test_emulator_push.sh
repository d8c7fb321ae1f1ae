#!/bin/bash
# eic-emulator, push API: both AWS CLIs push with the default world's credentials; auth
# failures, key types, argument checks, records (content, signature, accumulation, expiry),
# SigV4 strictness (a captured AWS CLI request is accepted unaltered and refused with any
# single byte of its body, signed header values or signature altered), skew and scope checks,
# session-token principals and the policy of a world file.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
HELPER="$TOP/tests/integration/emu_sigv4.py"
AWS2=/usr/bin/aws
AWS1=/root/.pyenv/shims/aws

# The AWS CLIs read nothing but the environment; no retries, no pager, no IMDS lookups.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER="" AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION

as_alice() { export AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK; unset AWS_SESSION_TOKEN; }
as_bob() { export AWS_ACCESS_KEY_ID=$BOB_AK AWS_SECRET_ACCESS_KEY=$BOB_SK; unset AWS_SESSION_TOKEN; }

# aws_push CLI USER KEYFILE [more aws args]: output in $WORK/aws.out, errors in $WORK/aws.err.
aws_push() {
    local cli=$1 user=$2 key=$3
    shift 3
    "$cli" ec2-instance-connect send-ssh-public-key --endpoint-url "$EMU_URL" --region "$REGION" \
        --instance-id "$INSTANCE" --instance-os-user "$user" --ssh-public-key "file://$key" "$@" \
        >"$WORK/aws.out" 2>"$WORK/aws.err"
}

aws_push_ok() {
    aws_push "$@" || { echo "aws failed:"; cat "$WORK/aws.err"; return 1; }
    $PY -c 'import json,re,sys; d=json.load(open(sys.argv[1])); assert d["Success"] is True, d; assert re.match(r"^[0-9a-f-]{36}$", d["RequestId"]), d' \
        "$WORK/aws.out" || { cat "$WORK/aws.out"; return 1; }
}

# aws_push_fails ERROR CLI USER KEYFILE [args]: the CLI fails and names ERROR.
aws_push_fails() {
    local want=$1
    shift
    if aws_push "$@"; then
        echo "aws succeeded:"; cat "$WORK/aws.out"; return 1
    fi
    grep -q "$want" "$WORK/aws.err" || { echo "error is not $want:"; cat "$WORK/aws.err"; return 1; }
}

request_id() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["RequestId"])' "$WORK/aws.out"; }

# send_expect STATUS TYPE [emu_sigv4.py send args]: TYPE is the __type wanted, or "ok" for a success.
send_expect() {
    local status=$1 type=$2 got body
    shift 2
    $PY "$HELPER" send "$EMU_URL" "$@" >"$WORK/send.out" 2>&1 || { cat "$WORK/send.out"; return 1; }
    got=$(sed -n 1p "$WORK/send.out")
    body=$(sed -n 2p "$WORK/send.out")
    [ "$got" = "$status" ] || { echo "HTTP $got, want $status: $body"; return 1; }
    if [ "$type" = ok ]; then
        echo "$body" | grep -q '"Success":true' || { echo "no success: $body"; return 1; }
    else
        echo "$body" | grep -q "\"__type\":\"$type\"" || { echo "not $type: $body"; return 1; }
    fi
}

records_of() { imds_get "/latest/meta-data/managed-ssh-keys/active-keys/$1/"; }
count_records() { records_of "$1" | grep -c '^#Timestamp='; }

# verify_records FILE: every record in FILE carries a valid RSA-PSS signature by the signer
# certificate served in signer-cert/ (docs/PROTOCOL.md).
verify_records() {
    local file=$1 n=0 ok=0
    imds_get /latest/meta-data/managed-ssh-keys/signer-cert/ >"$WORK/vchain.pem" || return 1
    openssl x509 -in "$WORK/vchain.pem" -pubkey -noout >"$WORK/vsigner.pub" || return 1
    rm -f "$WORK"/vrec.*
    awk -v dir="$WORK" 'BEGIN { n = 0; state = 0 }
        /^$/ { state = 0; next }
        state == 0 { n++; state = 1 }
        state == 1 && /^#/ { print > (dir "/vrec." n ".data"); next }
        state == 1 { print > (dir "/vrec." n ".data"); state = 2; next }
        state == 2 { printf "%s", $0 > (dir "/vrec." n ".sig"); next }' "$file"
    for data in "$WORK"/vrec.*.data; do
        [ -e "$data" ] || break
        n=$((n + 1))
        base64 -d "${data%.data}.sig" >"${data%.data}.bin" 2>/dev/null || continue
        if openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 \
            -verify "$WORK/vsigner.pub" -signature "${data%.data}.bin" "$data" >/dev/null 2>&1; then
            ok=$((ok + 1))
        fi
    done
    echo "$ok of $n records verify"
    [ "$n" -gt 0 ] && [ "$ok" -eq "$n" ]
}

# Keys of every kind.
for spec in ed25519:ed25519 rsa2048:"rsa -b 2048" rsa4096:"rsa -b 4096" rsa1024:"rsa -b 1024" ecdsa:"ecdsa -b 256" \
    ed25519b:ed25519 ed25519c:ed25519; do
    name=${spec%%:*}
    # shellcheck disable=SC2086
    ssh-keygen -q -t ${spec#*:} -N '' -C "test-$name" -f "$WORK/$name" || exit 1
done
ssh-keygen -e -f "$WORK/ed25519b.pub" >"$WORK/ed25519b.ssh2" || exit 1
ssh-keygen -e -f "$WORK/rsa2048.pub" >"$WORK/rsa2048.ssh2" || exit 1
key_blob() { awk '{print $1" "$2}' "$1"; }

start_emulator push || exit 1
as_alice

# --- both AWS CLIs ----------------------------------------------------------------------------
check "aws v2: alice pushes an ED25519 key -> Success" aws_push_ok "$AWS2" alice "$WORK/ed25519.pub"
V2_ID=$(request_id)
check "aws v1: alice pushes an ED25519 key -> Success" aws_push_ok "$AWS1" alice "$WORK/ed25519.pub"
V1_ID=$(request_id)

alice_records() {
    local now ts
    records_of alice >"$WORK/alice.rec" || return 1
    [ "$(grep -c '^#Timestamp=' "$WORK/alice.rec")" -eq 2 ] || { echo "expected 2 records:"; cat "$WORK/alice.rec"; return 1; }
    grep -qx "#Request=$V2_ID" "$WORK/alice.rec" || { echo "no record with request $V2_ID"; return 1; }
    grep -qx "#Request=$V1_ID" "$WORK/alice.rec" || { echo "no record with request $V1_ID"; return 1; }
    [ "$(grep -cx '#Caller=arn:aws:iam::111122223333:user/alice' "$WORK/alice.rec")" -eq 2 ] || { echo "Caller"; return 1; }
    [ "$(grep -cx "#Instance=$INSTANCE" "$WORK/alice.rec")" -eq 2 ] || { echo "Instance"; return 1; }
    [ "$(grep -cxF "$(cat "$WORK/ed25519.pub")" "$WORK/alice.rec")" -eq 2 ] || { echo "key line"; return 1; }
    now=$(date +%s)
    for ts in $(sed -n 's/^#Timestamp=//p' "$WORK/alice.rec"); do
        [ "$ts" -ge $((now + 50)) ] && [ "$ts" -le $((now + 61)) ] || { echo "Timestamp $ts is not now+60 ($now)"; return 1; }
    done
    # Field order as the real signer writes it.
    head -n 4 "$WORK/alice.rec" | cut -d= -f1 | tr '\n' ' ' | grep -qx '#Timestamp #Instance #Caller #Request ' ||
        { echo "field order:"; head -n 4 "$WORK/alice.rec"; return 1; }
}
check "records: both pushes stored for alice (Timestamp now+60, Instance, Caller, Request = RequestId, key line)" alice_records
check "records: every record verifies with the signer certificate's key (RSA-PSS SHA-256, salt 32)" verify_records "$WORK/alice.rec"
check "active-keys/ lists alice" test "$(imds_get /latest/meta-data/managed-ssh-keys/active-keys/)" = alice
push_logged() {
    local fp
    fp=$(ssh-keygen -lf "$WORK/ed25519.pub" | awk '{print $2}')
    grep -qF "pushed key $fp for alice by arn:aws:iam::111122223333:user/alice request $V2_ID" "$EMU_STATE/emulator.log" ||
        { echo "no log line for $fp / $V2_ID"; grep pushed "$EMU_STATE/emulator.log"; return 1; }
}
check "log: pushed key <fingerprint> for <user> by <arn> request <id>" push_logged

as_bob
check "aws v2: bob (assumed role) pushes for ec2-user -> Success" aws_push_ok "$AWS2" ec2-user "$WORK/ed25519c.pub"
bob_record() {
    records_of ec2-user | grep -qx '#Caller=arn:aws:sts::111122223333:assumed-role/Admins/bob' &&
        [ "$(imds_get /latest/meta-data/managed-ssh-keys/active-keys/)" = $'alice\nec2-user' ]
}
check "records: bob's record names his ARN; active-keys/ lists alice and ec2-user" bob_record

# --- auth failures ----------------------------------------------------------------------------
export AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=wrong-secret
check "aws v2: wrong secret -> AuthException" aws_push_fails AuthException "$AWS2" alice "$WORK/ed25519.pub"
check "aws v1: wrong secret -> AuthException" aws_push_fails AuthException "$AWS1" alice "$WORK/ed25519.pub"
export AWS_ACCESS_KEY_ID=AKIAEICDEMOUNKNOWN00 AWS_SECRET_ACCESS_KEY=$ALICE_SK
check "aws v2: unknown access key -> AuthException" aws_push_fails AuthException "$AWS2" alice "$WORK/ed25519.pub"
check "auth failures stored nothing" test "$(count_records alice)" -eq 2
auth_logged() { grep -q 'push refused (AuthException).*signature' "$EMU_STATE/emulator.log"; }
check "log: an auth failure says why" auth_logged
as_alice

# --- keys -------------------------------------------------------------------------------------
check "aws v2: RSA 1024 -> InvalidArgsException" aws_push_fails InvalidArgsException "$AWS2" alice "$WORK/rsa1024.pub"
check "aws v2: ECDSA -> InvalidArgsException" aws_push_fails InvalidArgsException "$AWS2" alice "$WORK/ecdsa.pub"
check "aws v2: RSA 2048 accepted" aws_push_ok "$AWS2" keys "$WORK/rsa2048.pub"
check "aws v2: RSA 4096 accepted" aws_push_ok "$AWS2" keys "$WORK/rsa4096.pub"
check "aws v2: ED25519 in SSH2 (RFC 4716) format accepted" aws_push_ok "$AWS2" ssh2 "$WORK/ed25519b.ssh2"
check "aws v1: RSA 2048 in SSH2 format accepted" aws_push_ok "$AWS1" ssh2 "$WORK/rsa2048.ssh2"
ssh2_converted() {
    records_of ssh2 >"$WORK/ssh2.rec" || return 1
    grep -q "^$(key_blob "$WORK/ed25519b.pub")" "$WORK/ssh2.rec" || { echo "ED25519 not stored as an OpenSSH line:"; cat "$WORK/ssh2.rec"; return 1; }
    grep -q "^$(key_blob "$WORK/rsa2048.pub")" "$WORK/ssh2.rec" || { echo "RSA not stored as an OpenSSH line"; return 1; }
    ! grep -q -- '----' "$WORK/ssh2.rec"
}
check "records: SSH2 keys are stored as OpenSSH lines" ssh2_converted
check "records: the SSH2-converted records verify" verify_records "$WORK/ssh2.rec"
check "records: RSA 2048 and 4096 both stored" test "$(count_records keys)" -eq 2
accumulate() {
    aws_push_ok "$AWS2" multi "$WORK/ed25519.pub" && aws_push_ok "$AWS2" multi "$WORK/ed25519b.pub" &&
        aws_push_ok "$AWS2" multi "$WORK/ed25519c.pub" && [ "$(count_records multi)" -eq 3 ]
}
check "three pushes for one user accumulate three records" accumulate

# --- instance, zone, arguments -----------------------------------------------------------------
unknown_instance() {
    aws_push_fails EC2InstanceNotFoundException "$AWS2" alice "$WORK/ed25519.pub" --instance-id i-0aaaaaaaaaaaaaaaa
}
check "unknown instance -> EC2InstanceNotFoundException" unknown_instance
check "wrong availability zone -> EC2InstanceNotFoundException" aws_push_fails EC2InstanceNotFoundException \
    "$AWS2" alice "$WORK/ed25519.pub" --availability-zone us-east-1b
check "right availability zone -> Success" aws_push_ok "$AWS2" zoned "$WORK/ed25519.pub" --availability-zone us-east-1a
# Digit-first names: botocore's current model adds a second pattern for them, at least one
# non-digit after the leading digits and 2..32 characters in all.
check "os-user '1abc' (digit first) -> Success" send_expect 200 ok --user 1abc --key-file "$WORK/ed25519.pub"
check "os-user '0-deploy\$' -> Success" send_expect 200 ok --user '0-deploy$' --key-file "$WORK/ed25519.pub"
check "32-character digit-first os-user -> Success" send_expect 200 ok --user "$(printf '9%.0s' $(seq 31))x" --key-file "$WORK/ed25519.pub"
check "os-user '123' (digits only) -> InvalidArgsException" send_expect 400 InvalidArgsException --user 123 --key-file "$WORK/ed25519.pub"
check "os-user '7' -> InvalidArgsException" send_expect 400 InvalidArgsException --user 7 --key-file "$WORK/ed25519.pub"
check "os-user '1\$' -> InvalidArgsException" send_expect 400 InvalidArgsException --user '1$' --key-file "$WORK/ed25519.pub"
check "os-user '1a\$b' -> InvalidArgsException" send_expect 400 InvalidArgsException --user '1a$b' --key-file "$WORK/ed25519.pub"
check "33-character digit-first os-user -> InvalidArgsException" send_expect 400 InvalidArgsException --user "$(printf '9%.0s' $(seq 32))x" --key-file "$WORK/ed25519.pub"
check "os-user with '/' -> InvalidArgsException" send_expect 400 InvalidArgsException --user a/b --key-file "$WORK/ed25519.pub"
check "os-user '..' -> InvalidArgsException" send_expect 400 InvalidArgsException --user .. --key-file "$WORK/ed25519.pub"
check "empty os-user -> InvalidArgsException" send_expect 400 InvalidArgsException --user "" --key-file "$WORK/ed25519.pub"
check "33-character os-user -> InvalidArgsException" send_expect 400 InvalidArgsException --user "a$(printf 'b%.0s' $(seq 32))" --key-file "$WORK/ed25519.pub"
check "32-character os-user with @ . \$ -> Success" send_expect 200 ok --user "a.b@c-d_$(printf 'e%.0s' $(seq 23))\$" --key-file "$WORK/ed25519.pub"
check "malformed instance id -> InvalidArgsException" send_expect 400 InvalidArgsException --instance i-XYZ --user alice --key-file "$WORK/ed25519.pub"
check "missing SSHPublicKey -> InvalidArgsException" send_expect 400 InvalidArgsException --user alice
check "missing InstanceOSUser -> InvalidArgsException" send_expect 400 InvalidArgsException --key-file "$WORK/ed25519.pub"
check "non-string InstanceId -> InvalidArgsException" send_expect 400 InvalidArgsException --body '{"InstanceId":5,"InstanceOSUser":"alice","SSHPublicKey":"x"}'
check "key shorter than 80 characters -> InvalidArgsException" send_expect 400 InvalidArgsException --body '{"InstanceId":"i-0123456789abcdef0","InstanceOSUser":"alice","SSHPublicKey":"ssh-ed25519 AAAA"}'
garbage_key=$(printf 'x%.0s' $(seq 200))
check "garbage key -> InvalidArgsException" send_expect 400 InvalidArgsException --body "{\"InstanceId\":\"i-0123456789abcdef0\",\"InstanceOSUser\":\"alice\",\"SSHPublicKey\":\"ssh-ed25519 $garbage_key\"}"
key_injection() {
    local line
    line=$(cat "$WORK/ed25519.pub")
    $PY "$HELPER" send "$EMU_URL" --body "$($PY -c 'import json,sys; print(json.dumps({"InstanceId":"i-0123456789abcdef0","InstanceOSUser":"inject","SSHPublicKey":sys.argv[1]+"\n#Caller=arn:aws:iam::111122223333:user/evil\n"}))' "$line")" >"$WORK/send.out"
    if records_of inject >"$WORK/inject.rec" 2>/dev/null; then
        ! grep -q 'evil' "$WORK/inject.rec" || { echo "a forged field reached a record:"; cat "$WORK/inject.rec"; return 1; }
    fi
    return 0
}
check "a key with an embedded newline never forges a record field" key_injection
check "malformed JSON body -> SerializationException" send_expect 400 SerializationException --body '{"InstanceId":'
check "JSON array body -> SerializationException" send_expect 400 SerializationException --body '[]'
check "empty body -> SerializationException" send_expect 400 SerializationException --body ''
check "unknown X-Amz-Target -> UnknownOperationException" send_expect 400 UnknownOperationException --target AWSEC2InstanceConnectService.SendSerialConsoleSSHPublicKey --user alice --key-file "$WORK/ed25519.pub"
check "no X-Amz-Target -> UnknownOperationException" send_expect 400 UnknownOperationException --target "" --user alice --key-file "$WORK/ed25519.pub"
json_get_404() {
    curl -s -D "$WORK/h" -o "$WORK/b" "$EMU_URL/" || return 1
    grep -q '^HTTP/1.1 404' "$WORK/h" && grep -q '"__type":"UnknownOperationException"' "$WORK/b" &&
        grep -qi '^Content-Type: application/x-amz-json-1.1' "$WORK/h"
}
check "GET / -> 404 UnknownOperationException (JSON 1.1)" json_get_404
check "POST /other -> 404" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "$EMU_URL/other")" = 404
response_shape() {
    $PY "$HELPER" send "$EMU_URL" --user shape --key-file "$WORK/ed25519.pub" --show-headers >"$WORK/send.out" || return 1
    id=$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().split("\n")[1])["RequestId"])' "$WORK/send.out") || return 1
    grep -qx "x-amzn-requestid: $id" "$WORK/send.out" && grep -qx 'content-type: application/x-amz-json-1.1' "$WORK/send.out"
}
check "success: Content-Type application/x-amz-json-1.1 and x-amzn-RequestId = RequestId" response_shape

# --- SigV4 strictness ---------------------------------------------------------------------------
# capture CLI NAME: run the CLI against a one-shot recorder and keep its raw request.
capture() {
    local cli=$1 name=$2 real=$EMU_URL
    rm -f "$WORK/$name.port" "$WORK/$name.raw"
    $PY "$HELPER" capture "$WORK/$name.port" "$WORK/$name.raw" &
    local cap=$!
    for _ in $(seq 100); do [ -s "$WORK/$name.port" ] && break; sleep 0.05; done
    EMU_URL="http://127.0.0.1:$(cat "$WORK/$name.port")"
    aws_push_ok "$cli" sigv4 "$WORK/ed25519.pub"
    local rc=$?
    EMU_URL=$real
    wait "$cap"
    [ "$rc" -eq 0 ] && [ -s "$WORK/$name.raw" ]
}
check "captured the request aws v2 signs" capture "$AWS2" v2
check "captured the request aws v1 signs" capture "$AWS1" v1
replay_ok() {
    $PY "$HELPER" replay "$EMU_URL" "$WORK/$1.raw" >"$WORK/replay.out" && head -n 1 "$WORK/replay.out" | grep -qx 200 ||
        { cat "$WORK/replay.out"; return 1; }
}
check "the aws v1 request, replayed unaltered -> 200" replay_ok v1
check "the aws v2 request: accepted unaltered; every single altered byte of body, signed header values and signature refused" \
    $PY "$HELPER" mutate "$EMU_URL" "$WORK/v2.raw"
check "signed with +400 s skew -> AuthException" send_expect 400 AuthException --skew 400 --user alice --key-file "$WORK/ed25519.pub"
check "signed with -400 s skew -> AuthException" send_expect 400 AuthException --skew -400 --user alice --key-file "$WORK/ed25519.pub"
check "signed with +120 s skew (within 300) -> Success" send_expect 200 ok --skew 120 --user skew --key-file "$WORK/ed25519.pub"
check "scope region us-west-2 -> AuthException" send_expect 400 AuthException --region us-west-2 --user alice --key-file "$WORK/ed25519.pub"
check "scope service ec2 -> AuthException" send_expect 400 AuthException --service ec2 --user alice --key-file "$WORK/ed25519.pub"
check "unsigned request -> AuthException" send_expect 400 AuthException --no-sign --user alice --key-file "$WORK/ed25519.pub"
rewrite_auth() {
    # Sign normally, then send with Authorization rewritten by the sed expression $1.
    $PY - "$HELPER" "$EMU_URL" "$1" "$WORK/ed25519.pub" <<'EOF'
import importlib.util, json, re, sys
spec = importlib.util.spec_from_file_location("h", sys.argv[1]); h = importlib.util.module_from_spec(spec); spec.loader.exec_module(h)
url, expr, keyfile = sys.argv[2], sys.argv[3], sys.argv[4]
body = json.dumps({"InstanceId": "i-0123456789abcdef0", "InstanceOSUser": "alice", "SSHPublicKey": open(keyfile).read()}).encode()
req = h.signed_request(url, body, h.TARGET, "us-east-1", "ec2-instance-connect", "AKIAEICDEMOALICE0001", "eic-demo-secret-alice", None, 0, [])
auth = req.headers["Authorization"]
if expr == "UPPER-SIGNATURE":
    auth = re.sub(r"Signature=([0-9a-f]{64})", lambda m: "Signature=" + m.group(1).upper(), auth)
else:
    pat, rep = expr.split("|")
    auth = re.sub(pat, rep, auth)
assert auth != req.headers["Authorization"], "the rewrite changed nothing"
del req.headers["Authorization"]  # botocore's headers append on assignment
req.headers["Authorization"] = auth
status, data, _ = h.send(url, req)
print(status, data.decode())
sys.exit(0 if status == 400 and b'"AuthException"' in data else 1)
EOF
}
check "SignedHeaders without x-amz-date -> AuthException" rewrite_auth 'SignedHeaders=[^,]*|SignedHeaders=content-type;host;x-amz-target'
check "SignedHeaders without host -> AuthException" rewrite_auth 'SignedHeaders=[^,]*|SignedHeaders=content-type;x-amz-date;x-amz-target'
check "scope date not the X-Amz-Date's -> AuthException" rewrite_auth '/(\d{8})/|/20000101/'
check "upper-case signature hex -> AuthException" rewrite_auth UPPER-SIGNATURE
check "wrong algorithm -> AuthException" rewrite_auth '^AWS4-HMAC-SHA256|AWS4-HMAC-SHA512'
check "security token sent for a long-term key -> AuthException" send_expect 400 AuthException --token sometoken --user alice --key-file "$WORK/ed25519.pub"
check "emulator still running" kill -0 "$EMU_PID"
stop_emulator

# --- a stricter skew -----------------------------------------------------------------------------
start_emulator skew --max-skew 5 || exit 1
check "--max-skew 5: +30 s refused" send_expect 400 AuthException --skew 30 --user alice --key-file "$WORK/ed25519.pub"
check "--max-skew 5: -30 s refused" send_expect 400 AuthException --skew -30 --user alice --key-file "$WORK/ed25519.pub"
check "--max-skew 5: on time accepted" send_expect 200 ok --user alice --key-file "$WORK/ed25519.pub"
stop_emulator

# --- world file: session tokens and policy ----------------------------------------------------------
start_emulator world --config "$TEST_DATA/worlds/example.json" || exit 1
INSTANCE=i-0fedcba9876543210
REGION=eu-west-2
export AWS_ACCESS_KEY_ID=AKIAEXAMPLECAROL0001 AWS_SECRET_ACCESS_KEY=example-secret-carol
check "world: carol may push for any user" aws_push_ok "$AWS2" anyone "$WORK/ed25519.pub"
check "world: the default instance is unknown there" aws_push_fails EC2InstanceNotFoundException "$AWS2" alice "$WORK/ed25519.pub" --instance-id i-0123456789abcdef0
check "world: signing for us-east-1 is refused (the world is in eu-west-2)" send_expect 400 AuthException --akid AKIAEXAMPLECAROL0001 --secret example-secret-carol --instance "$INSTANCE" --user alice --key-file "$WORK/ed25519.pub"
export AWS_ACCESS_KEY_ID=ASIAEXAMPLEDAVE00002 AWS_SECRET_ACCESS_KEY=example-secret-dave AWS_SESSION_TOKEN=example-session-token-dave
check "world: dave (session token) may push for deploy" aws_push_ok "$AWS2" deploy "$WORK/ed25519.pub"
check "aws v1: dave (session token) may push for deploy" aws_push_ok "$AWS1" deploy "$WORK/ed25519.pub"
# A policy refusal is IAM's AccessDeniedException (as AWS answers it), not AuthException.
policy_refused() {
    aws_push_fails AccessDeniedException "$@" || return 1
    grep -qF "User: arn:aws:sts::444455556666:assumed-role/Deployers/dave-session is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: arn:aws:ec2:$REGION:444455556666:instance/$INSTANCE" \
        "$WORK/aws.err" || { echo "message:"; cat "$WORK/aws.err"; return 1; }
}
check "world: dave may not push for root (policy) -> AccessDeniedException naming him, the action and the instance" policy_refused "$AWS2" root "$WORK/ed25519.pub"
check "aws v1: dave may not push for root (policy) -> AccessDeniedException" policy_refused "$AWS1" root "$WORK/ed25519.pub"
check "world: the policy refusal is HTTP 400" send_expect 400 AccessDeniedException --akid ASIAEXAMPLEDAVE00002 \
    --secret example-secret-dave --token example-session-token-dave --region "$REGION" --instance "$INSTANCE" --user root \
    --key-file "$WORK/ed25519.pub"
export AWS_SESSION_TOKEN=wrong-token
check "world: dave with a wrong session token -> AuthException" aws_push_fails AuthException "$AWS2" deploy "$WORK/ed25519.pub"
unset AWS_SESSION_TOKEN
check "world: dave without his session token -> AuthException" aws_push_fails AuthException "$AWS2" deploy "$WORK/ed25519.pub"
world_records() {
    records_of deploy | grep -qx '#Caller=arn:aws:sts::444455556666:assumed-role/Deployers/dave-session' &&
        [ "$(count_records deploy)" -eq 2 ] && records_of anyone | grep -qx "#Instance=$INSTANCE"
}
check "world: records carry the world's instance and the caller's ARN" world_records
stop_emulator
INSTANCE=i-0123456789abcdef0
REGION=us-east-1

# --- key lifetime ---------------------------------------------------------------------------------
start_emulator lifetime --key-lifetime 2 || exit 1
as_alice
check "--key-lifetime 2: push accepted" aws_push_ok "$AWS2" brief "$WORK/ed25519.pub"
short_lived() {
    local ts now
    records_of brief >"$WORK/brief.rec" || { echo "record missing right after the push"; return 1; }
    ts=$(sed -n 's/^#Timestamp=//p' "$WORK/brief.rec")
    now=$(date +%s)
    [ "$ts" -le $((now + 2)) ] || { echo "Timestamp $ts is more than 2 s ahead of $now"; return 1; }
    sleep 3
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-aws-ec2-metadata-token: $(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$EMU_URL/latest/api/token")" \
        "$EMU_URL/latest/meta-data/managed-ssh-keys/active-keys/brief/")" = 404 ] || { echo "record still served"; return 1; }
    [ -z "$(imds_get /latest/meta-data/managed-ssh-keys/active-keys/)" ] || { echo "user still listed"; return 1; }
}
check "--key-lifetime 2: the record is served, then gone 3 s later (404, no longer listed)" short_lived
bad_lifetime() {
    for v in 0 3601 abc -1; do
        "$EMULATOR" --listen 127.0.0.1:0 --state-dir "$WORK/x" --key-lifetime "$v" >/dev/null 2>&1
        [ $? -eq 2 ] || { echo "--key-lifetime $v not refused with 2"; return 1; }
    done
}
check "--key-lifetime outside 1..3600 refused (exit 2)" bad_lifetime
stop_emulator

finish
