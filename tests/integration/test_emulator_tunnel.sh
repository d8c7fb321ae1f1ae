#!/bin/bash
# The emulator's Instance Connect Endpoint (OpenTunnel and DescribeInstanceConnectEndpoints) on a
# loopback port, driven by tests/integration/emu_tunnel.py: an independent WebSocket client whose
# URLs botocore presigns exactly as the AWS CLI's open-tunnel does. The tunnel's target is a TCP
# echo server on 127.0.0.1 (the world's instance address), so the bytes really go both ways.
# Also: eic's presigned queries equal live botocore's. `eic open-tunnel` itself, always wss on
# port 443, is tested against the emulator's TLS listener in a namespace: test_client_tls.sh,
# test_e2e_eice.sh.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
TUN="$TOP/tests/integration/emu_tunnel.py"

# A TCP echo server on a free loopback port (the "instance").
"$PY" -c '
import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
def echo(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
' >"$WORK/echo.port" &
EMU_PIDS="$EMU_PIDS $!"
for _ in $(seq 1 100); do [ -s "$WORK/echo.port" ] && break; sleep 0.05; done
PORT=$(cat "$WORK/echo.port")

cat >"$WORK/world.json" <<JSON
{"instance": {"id": "i-0123456789abcdef0", "availability_zone": "us-east-1a", "account_id": "111122223333"},
 "instance_connect_endpoints": [
   {"id": "eice-0e1c0de5e1c0de502", "remote_ports": [$PORT], "tags": {"Name": "bastion", "team": "a&b <c>"}},
   {"id": "eice-0e1c0de5e1c0de503", "state": "create-in-progress", "remote_ports": [$PORT]},
   {"id": "eice-0aaaaaaaaaaaaaaa1", "vpc_id": "vpc-0bbbbbbbbbbbbbbb0", "remote_ports": [$PORT],
    "tags": {"Name": "other"}}],
 "principals": [
   {"arn": "arn:aws:iam::111122223333:user/alice", "access_key_id": "AKIAEICDEMOALICE0001",
    "secret_access_key": "eic-demo-secret-alice"},
   {"arn": "arn:aws:iam::111122223333:user/carol", "access_key_id": "AKIAEICDEMOCAROL0003",
    "secret_access_key": "eic-demo-secret-carol"},
   {"arn": "arn:aws:sts::111122223333:assumed-role/Deployers/dave", "access_key_id": "ASIAEICDEMODAVE00004",
    "secret_access_key": "eic-demo-secret-dave", "session_token": "dave-session-token/+="}],
 "policy": [
   {"action": "OpenTunnel", "principal": "arn:aws:iam::111122223333:user/alice", "instance_connect_endpoint": "*"},
   {"action": "OpenTunnel", "principal": "arn:aws:sts::111122223333:assumed-role/Deployers/*",
    "instance_connect_endpoint": "eice-0e1c0de5e1c0de502"},
   {"principal": "arn:aws:iam::111122223333:user/carol", "instance": "*", "os_user": "*"}]}
JSON
start_emulator tun --config "$WORK/world.json" || { not_ok "emulator starts"; finish; exit; }

open_tunnel() { timeout 60 "$PY" "$TUN" open "$EMU_URL" --remote-port "$PORT" "$@"; }
# refused STATUS TEXT [open options...]: the upgrade is refused with that HTTP status, and the error
# body has TEXT (an error type when it is one word, as "__type":"TEXT").
refused() {
    local status=$1 text=$2 out
    shift 2
    [[ "$text" =~ ^[A-Za-z]+$ ]] && text="\"__type\":\"$text\""
    out=$(open_tunnel "$@") || return 1
    echo "$out"
    echo "$out" | grep -qx "status $status" && echo "$out" | grep -qF -- "$text"
}
# gives PATTERN... -- [open options...]: the tunnel opens and the output has every line given.
gives() {
    local want=() out
    while [ "$1" != -- ]; do want+=("$1"); shift; done
    shift
    out=$(open_tunnel "$@") || return 1
    echo "$out"
    echo "$out" | grep -qx "status 101" && echo "$out" | grep -qx "accept ok" || return 1
    for w in "${want[@]}"; do echo "$out" | grep -qx -- "$w" || { echo "missing: $w"; return 1; }; done
}

check "bytes go both ways through the tunnel (botocore-presigned URL)" gives "recv hello tunnel" "close 1000" -- \
    --send "hello tunnel" --expect 12
check "a fragmented message with a ping between arrives whole; the ping is answered" \
    gives "pong mid" "recv fragmented message" "close 1000" -- --send "fragmented message" --fragment --expect 18
check "ping is answered with pong" gives "pong are you there" -- --ping
check "a text frame is refused: close 1003" gives "close 1003" -- --raw-frame 1:1:1:5
check "an unmasked frame from the client is refused: close 1002" gives "close 1002" -- --raw-frame 2:1:0:5
check "a frame over the size cap is refused: close 1009" gives "close 1009" -- --raw-frame 2:1:1:2000000
check "a reserved opcode is refused: close 1002" gives "close 1002" -- --raw-frame 3:1:1:1
check "maxTunnelDuration=1 closes the tunnel: close 1000" gives "close 1000" -- --duration 1
check "temporary credentials: the token is signed in the query" gives "recv tok" -- --akid ASIAEICDEMODAVE00004 \
    --secret eic-demo-secret-dave --token "dave-session-token/+=" --send tok --expect 3
log_line() {
    # The client may be gone before the emulator has logged its side's end: waited for, at most 20 s.
    for _ in $(seq 1 100); do
        grep "tunnel closed: .* -> 127.0.0.1:$PORT through eice-0e1c0de5e1c0de502: 12 bytes to the instance, 12 bytes from it" \
            "$EMU_STATE/emulator.log" && return 0
        sleep 0.2
    done
    return 1
}
check "the tunnel log line counts the bytes each way" log_line

check "no upgrade headers: 400 ValidationException" refused 400 ValidationException --no-upgrade
check "a wrong signature: 403 AccessDeniedException" refused 403 AccessDeniedException --tamper signature
check "a parameter changed after signing: 403 AccessDeniedException" refused 403 AccessDeniedException --tamper port
check "an expired presigned URL: 403" refused 403 "AccessDeniedException\",\"Message\":\"Request has expired" \
    --date 20200101T000000Z
# Other SDKs presign for longer than the AWS CLI's 60 s (15 minutes is a common default); SigV4
# allows up to 604800 s (seven days).
check "X-Amz-Expires 900 (15 minutes): the tunnel opens" gives "recv fifteen" -- --send fifteen --expect 7 --expires 900
check "X-Amz-Expires 604800 (seven days, SigV4's limit): the tunnel opens" gives "recv week" -- --send week --expect 4 \
    --expires 604800
check "X-Amz-Expires over 604800: 403 AccessDeniedException naming X-Amz-Expires" refused 403 \
    "AccessDeniedException\",\"Message\":\"Malformed presigned query (X-Amz-Algorithm=AWS4-HMAC-SHA256, X-Amz-Credential, X-Amz-Date, X-Amz-Expires" \
    --expires 604801
check "a presigned URL signed 1000 s ago for 900 s has expired: 403" refused 403 \
    "AccessDeniedException\",\"Message\":\"Request has expired" --expires 900 --date "$(date -u -d @$(($(date +%s) - 1000)) +%Y%m%dT%H%M%SZ)"
check "an unknown access key: 403" refused 403 AccessDeniedException --akid AKIAEICDEMOUNKNOWN01
check "a wrong secret: 403" refused 403 AccessDeniedException --secret wrong
check "a session token not the principal's: 403" refused 403 "security token included in the request is invalid" \
    --akid ASIAEICDEMODAVE00004 --secret eic-demo-secret-dave --token other
check "the policy denies OpenTunnel (carol may only push): 403" refused 403 \
    "AccessDeniedException\",\"Message\":\"User: arn:aws:iam::111122223333:user/carol is not authorized to perform: ec2-instance-connect:OpenTunnel" \
    --akid AKIAEICDEMOCAROL0003 --secret eic-demo-secret-carol
check "the policy denies this endpoint (dave): 403" refused 403 "not authorized to perform" \
    --akid ASIAEICDEMODAVE00004 --secret eic-demo-secret-dave --token "dave-session-token/+=" \
    --endpoint-id eice-0aaaaaaaaaaaaaaa1
check "an unknown endpoint: 404 ResourceNotFoundException" refused 404 ResourceNotFoundException \
    --endpoint-id eice-0123456789abcdef9
check "an endpoint not create-complete: 400" refused 400 "is create-in-progress, not create-complete" \
    --endpoint-id eice-0e1c0de5e1c0de503
check "an address not of an instance in the endpoint's VPC: 400" refused 400 "privateIpAddress 10.1.1.1 is not" \
    --address 10.1.1.1
check "the instance's address through another VPC's endpoint: 400" refused 400 "is not an address of an instance" \
    --endpoint-id eice-0aaaaaaaaaaaaaaa1
check "a port the endpoint does not allow: 403" refused 403 "remotePort 22 is not allowed" --remote-port 22
check "remotePort out of range: 400" refused 400 "remotePort must be" --remote-port 70000
check "maxTunnelDuration 3601: 400" refused 400 "maxTunnelDuration must be 1..3600" --duration 3601
post_refused() { curl -s -X POST "$EMU_URL/openTunnel" -w ' %{http_code}' | grep -q '"ValidationException".* 405$'; }
check "POST /openTunnel: 405" post_refused

# eic's signer: the presigned query equals the installed botocore's, byte for byte.
same_presign() { # HOST QUERY DATE REGION AKID SECRET [TOKEN]
    local py c
    py=$("$PY" "$TUN" presign --host "$1" --query "$2" --date "$3" --region "$4" --akid "$5" --secret "$6" \
        ${7:+--token "$7"}) || return 1
    c=$("$EIC_BUILD/tests/unit/presign_tool" "$1" "$2" "$3" "$4" "$5" "$6" ${7:+"$7"}) || return 1
    echo "botocore: $py"
    echo "eic:      $c"
    [ "$py" = "$c" ]
}
check "presigned query equals botocore's (long-term credentials)" same_presign 127.0.0.1:8169 \
    "instanceConnectEndpointId=eice-0e1c0de5e1c0de502&remotePort=22&privateIpAddress=10.0.0.5" \
    "$(date -u +%Y%m%dT%H%M%SZ)" us-east-1 AKIAEICDEMOALICE0001 eic-demo-secret-alice
check "presigned query equals botocore's (session token, IPv6, duration)" same_presign \
    eice-0123456789abcdef0.1a2b3c4d.ec2-instance-connect-endpoint.ap-southeast-2.amazonaws.com \
    "instanceConnectEndpointId=eice-0123456789abcdef0&remotePort=2222&privateIpAddress=2001%3Adb8%3A%3A5&maxTunnelDuration=5" \
    20251130T010203Z ap-southeast-2 ASIAEXAMPLE000000001 "s3cr3t/with+odd=chars" "token/with+odd=chars~ok"

describe_endpoints() {
    local out
    out=$(AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 /root/.pyenv/shims/aws ec2 \
        describe-instance-connect-endpoints --endpoint-url "$EMU_URL" --region $REGION --output text \
        --filters Name=state,Values=create-complete --instance-connect-endpoint-ids eice-0e1c0de5e1c0de502 \
        --query 'InstanceConnectEndpoints[].[InstanceConnectEndpointId,VpcId,State]') || return 1
    echo "$out"
    [ "$out" = "$(printf 'eice-0e1c0de5e1c0de502\tvpc-0e1c0de5e1c0de500\tcreate-complete')" ]
}
check "aws (v1) ec2 describe-instance-connect-endpoints with ids and a state filter" describe_endpoints
# describe_ids QUERY-ARGS...: the ids of the endpoints DescribeInstanceConnectEndpoints answers, one line.
describe_ids() {
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 /root/.pyenv/shims/aws ec2 \
        describe-instance-connect-endpoints --endpoint-url "$EMU_URL" --region $REGION --output text \
        --query 'InstanceConnectEndpoints[].InstanceConnectEndpointId' "$@"
}
expect_ids() {
    local want=$1 out
    shift
    out=$(describe_ids "$@") || return 1
    [ "$out" = "$want" ] || { echo "got '$out', want '$want'"; return 1; }
}
fips_dns_name() {
    local out
    out=$(AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 /root/.pyenv/shims/aws ec2 \
        describe-instance-connect-endpoints --endpoint-url "$EMU_URL" --region $REGION --output text \
        --instance-connect-endpoint-ids eice-0e1c0de5e1c0de502 --query 'InstanceConnectEndpoints[].[DnsName,FipsDnsName]') ||
        return 1
    echo "$out"
    [ "$out" = "$(printf 'eice-0e1c0de5e1c0de502.0e1c0de5.ec2-instance-connect-endpoint.us-east-1.amazonaws.com\teice-0e1c0de5e1c0de502.0e1c0de5.fips.ec2-instance-connect-endpoint.us-east-1.amazonaws.com')" ]
}
check "FipsDnsName beside DnsName, of AWS's form (<id>.<hash>.fips.ec2-instance-connect-endpoint.<region>.<domain>)" fips_dns_name
tags_reported() {
    local out
    out=$(AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 /root/.pyenv/shims/aws ec2 \
        describe-instance-connect-endpoints --endpoint-url "$EMU_URL" --region $REGION --output json \
        --instance-connect-endpoint-ids eice-0e1c0de5e1c0de502 --query 'InstanceConnectEndpoints[0].Tags') || return 1
    echo "$out"
    $PY -c 'import json,sys; t=json.load(sys.stdin); assert sorted((x["Key"], x["Value"]) for x in t) == [("Name", "bastion"), ("team", "a&b <c>")], t' <<<"$out"
}
check "the world's tags are reported in tagSet (XML special characters intact)" tags_reported
check "filter tag:Name=bastion: that endpoint only" expect_ids eice-0e1c0de5e1c0de502 --filters Name=tag:Name,Values=bastion
check "filter tag:Name with two values: both endpoints" expect_ids "$(printf 'eice-0e1c0de5e1c0de502\teice-0aaaaaaaaaaaaaaa1')" \
    --filters Name=tag:Name,Values=bastion,other
check "filter tag:team with a value holding & and <" expect_ids eice-0e1c0de5e1c0de502 --filters 'Name=tag:team,Values=a&b <c>'
check "filter tag:Name=nobody: none" expect_ids "" --filters Name=tag:Name,Values=nobody
check "filter tag-key=Name: the two tagged endpoints" expect_ids "$(printf 'eice-0e1c0de5e1c0de502\teice-0aaaaaaaaaaaaaaa1')" \
    --filters Name=tag-key,Values=Name
check "filter tag-value=other: that endpoint" expect_ids eice-0aaaaaaaaaaaaaaa1 --filters Name=tag-value,Values=other
check "filters ANDed: tag:Name=bastion and vpc-id of the other endpoint: none" expect_ids "" \
    --filters Name=tag:Name,Values=bastion Name=vpc-id,Values=vpc-0bbbbbbbbbbbbbbb0
unknown_filter() {
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 /root/.pyenv/shims/aws ec2 \
        describe-instance-connect-endpoints --endpoint-url "$EMU_URL" --region $REGION \
        --filters Name=colour,Values=x 2>&1 | grep -q "InvalidParameterValue"
}
check "an unknown filter: InvalidParameterValue" unknown_filter

finish
