#!/bin/bash
# EC2 Instance Connect Endpoint tunnels end to end (issue #6), in the sandbox of test_e2e_login.sh:
# the instance has only a private address, 172.31.16.10, put on lo in this private network
# namespace, where the real sshd listens (port 2222) and where the emulator's OpenTunnel really
# connects; `eic ssh` and plain OpenSSH with ProxyCommand=`eic open-tunnel` log in through the
# emulator's WebSocket tunnel, whose log line (bytes each way) proves the login went through it.
# Also: an IPv6-only instance (auto falls back to IPv6 direct), no endpoint in the VPC, a tunnel
# refused by the policy or for its port, maxTunnelDuration, and the real AWS CLI (v1) reading
# DescribeInstanceConnectEndpoints. Needs root (CI runs as root); without root every case
# reports "not ok".
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

CASES=(
    "aws (v1) ec2 describe-instance-connect-endpoints --endpoint-url: the endpoints of the VPC"
    "eic ssh --connection-type eice logs in to an instance that has only a private address"
    "the emulator's tunnel log shows the login's bytes both ways, to 172.31.16.10:2222"
    "the key directory is gone afterwards"
    "eic ssh --debug: the endpoint of the instance's subnet is chosen, ssh runs with ProxyCommand"
    "eic ssh auto with only a private address goes through the endpoint"
    "ssh -o ProxyCommand='eic open-tunnel ...' logs in with a pushed key"
    "eic open-tunnel to a port the endpoint does not allow: AccessDeniedException, status 254"
    "eic ssh as a principal the policy denies OpenTunnel: status 249, key directory removed"
    "eic open-tunnel --max-tunnel-duration 1: the tunnel is closed by the endpoint, status 0"
    "eic ssh --connection-type eice without an endpoint in the VPC: status 252, nothing pushed"
    "eic ssh auto on an IPv6-only instance logs in directly over IPv6"
    "eic ssh --connection-type eice on an IPv6-only instance: no address, status 250"
    "eic ssh with AWS_USE_FIPS_ENDPOINT=true: the tunnel goes to the endpoint's FipsDnsName"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

PRIVATE=172.31.16.10
V6=2001:db8::5
EICE=eice-0e1c0de5e1c0de502
sandbox_setup_eic_ssh
# The instance's addresses, on lo in this namespace only.
ip addr add $PRIVATE/32 dev lo
ip -6 addr add $V6/128 dev lo nodad
SANDBOX_SSHD_LISTEN="$PRIVATE $V6"

# world FILE PRIVATE-JSON IPV6-JSON ENDPOINTS-JSON
world() {
    cat >"$1" <<JSON
{
  "instance": {"id": "i-0123456789abcdef0", "availability_zone": "us-east-1a", "account_id": "111122223333",
               "private_ip": $2, "ipv6": $3,
               "vpc_id": "vpc-0e1c0de5e1c0de500", "subnet_id": "subnet-0e1c0de5e1c0de501"},
  "instance_connect_endpoints": $4,
  "principals": [
    {"arn": "arn:aws:iam::111122223333:user/alice",
     "access_key_id": "AKIAEICDEMOALICE0001", "secret_access_key": "eic-demo-secret-alice"},
    {"arn": "arn:aws:sts::111122223333:assumed-role/Admins/bob",
     "access_key_id": "AKIAEICDEMOBOB000002", "secret_access_key": "eic-demo-secret-bob"}
  ],
  "policy": [
    {"principal": "arn:aws:iam::111122223333:user/alice", "instance": "*", "os_user": "*"},
    {"action": "OpenTunnel", "principal": "arn:aws:iam::111122223333:user/alice", "instance_connect_endpoint": "*"},
    {"principal": "arn:aws:sts::111122223333:assumed-role/Admins/bob", "instance": "*", "os_user": "*"}
  ]
}
JSON
}
# Another VPC's endpoint, one of this VPC in another subnet, and the one of the instance's subnet.
ENDPOINTS='[
  {"id": "eice-0aaaaaaaaaaaaaaa1", "vpc_id": "vpc-0bbbbbbbbbbbbbbb0", "subnet_id": "subnet-0bbbbbbbbbbbbbbb1",
   "remote_ports": [2222]},
  {"id": "eice-0e1c0de5e1c0de503", "subnet_id": "subnet-0e1c0de5e1c0de599", "remote_ports": [2222]},
  {"id": "'$EICE'", "remote_ports": [2222]}
]'
world "$WORK/eice.json" "\"$PRIVATE\"" null "$ENDPOINTS"
world "$WORK/noeice.json" "\"$PRIVATE\"" null '[{"id": "eice-0aaaaaaaaaaaaaaa1", "vpc_id": "vpc-0bbbbbbbbbbbbbbb0"}]'
world "$WORK/ipv6.json" null "\"$V6\"" "$ENDPOINTS"

# The endpoints' DNS names (the emulator's defaults) and their FIPS names are the emulator's.
for id in eice-0aaaaaaaaaaaaaaa1 eice-0e1c0de5e1c0de503 $EICE; do
    sandbox_hosts $id.0e1c0de5.ec2-instance-connect-endpoint.$REGION.amazonaws.com \
        $id.0e1c0de5.fips.ec2-instance-connect-endpoint.$REGION.amazonaws.com
done
sandbox_start_imds --config "$WORK/eice.json" || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }
EMU_LOG="$SANDBOX/emulator/emulator.log"

# essh [eic ssh options...] -- [ssh arguments]: as alice, to $TUSER on the instance.
essh() { sandbox_eic_ssh $ALICE_AK $ALICE_SK --instance-id $INSTANCE --os-user $TUSER "$@"; }
tunnels_closed() { grep -c "tunnel closed: .* -> $PRIVATE:2222 through $EICE" "$EMU_LOG"; }
# more_tunnels_closed N: the emulator logs more than N closed tunnels. ssh may return before the
# emulator has finished its side of the close, so the line is waited for (at most 20 s).
more_tunnels_closed() {
    for _ in $(seq 1 100); do
        [ "$(tunnels_closed)" -gt "$1" ] && return 0
        sleep 0.2
    done
    return 1
}

describe_endpoints() {
    local out
    out=$(AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 /root/.pyenv/shims/aws ec2 \
        describe-instance-connect-endpoints --endpoint-url $ENDPOINT --region $REGION --output text \
        --filters Name=vpc-id,Values=vpc-0e1c0de5e1c0de500 \
        --query 'InstanceConnectEndpoints[].[InstanceConnectEndpointId,SubnetId,State,DnsName]') || return 1
    echo "$out"
    [ "$(echo "$out" | wc -l)" -eq 2 ] && echo "$out" | grep -q "^$EICE	subnet-0e1c0de5e1c0de501	create-complete	$EICE\." &&
        ! echo "$out" | grep -q eice-0aaaaaaaaaaaaaaa1
}
check "${CASES[0]}" describe_endpoints

login_eice() {
    local out
    out=$(essh --connection-type eice -- "${SSH_ARGS[@]}" 'echo hello from $(id -un) on $SSH_CONNECTION') || return 1
    echo "$out"
    # sshd sees the connection coming from the emulator's side of the tunnel, to the private address.
    [ "${out%% on *}" = "hello from $TUSER" ] && echo "$out" | grep -q " $PRIVATE 2222\$"
}
check "${CASES[1]}" login_eice
tunnel_log() {
    local line to from
    more_tunnels_closed 0 || return 1
    line=$(grep "tunnel closed: .* -> $PRIVATE:2222 through $EICE" "$EMU_LOG" | tail -n 1)
    echo "$line"
    to=$(echo "$line" | sed -n 's/.*: \([0-9]*\) bytes to the instance, \([0-9]*\) bytes from it.*/\1/p')
    from=$(echo "$line" | sed -n 's/.*: \([0-9]*\) bytes to the instance, \([0-9]*\) bytes from it.*/\2/p')
    # An SSH key exchange, authentication and session are kilobytes each way.
    [ -n "$to" ] && [ "$to" -gt 1000 ] && [ "$from" -gt 1000 ] &&
        grep -q "tunnel open: .* -> $PRIVATE:2222 through $EICE by arn:aws:iam::111122223333:user/alice" "$EMU_LOG"
}
check "${CASES[2]}" tunnel_log
check "${CASES[3]}" no_key_dirs
debug_eice() {
    essh --debug --connection-type eice -- "${SSH_ARGS[@]}" true 2>"$WORK/debug" || { cat "$WORK/debug"; return 1; }
    cat "$WORK/debug"
    for step in "chooses the private IPv4 $PRIVATE through an Instance Connect Endpoint" \
        "step 2b: Instance Connect Endpoint $EICE (subnet-0e1c0de5e1c0de501" \
        "ProxyCommand='$EIC_CLIENT_PROGRAM' 'open-tunnel' '--instance-id' '$INSTANCE' '--instance-connect-endpoint-id' '$EICE'" \
        "--remote-port %p" "tunnel open" "removed the ephemeral key directory"; do
        grep -qF -- "$step" "$WORK/debug" || { echo "missing: $step"; return 1; }
    done
    ! grep -q "$ALICE_SK" "$WORK/debug" && ! grep -q "X-Amz-Signature" "$WORK/debug"
}
check "${CASES[4]}" debug_eice
login_auto() {
    local before out
    before=$(tunnels_closed)
    out=$(essh --debug -- "${SSH_ARGS[@]}" 'echo auto' 2>"$WORK/auto.err")
    cat "$WORK/auto.err"
    [ "$out" = auto ] && grep -q "auto chooses the private IPv4 $PRIVATE through an Instance Connect Endpoint" \
        "$WORK/auto.err" && more_tunnels_closed "$before" && no_key_dirs
}
check "${CASES[5]}" login_auto
plain_ssh() {
    local out before
    before=$(tunnels_closed)
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/own" || return 1
    sandbox_push $TUSER "$WORK/own.pub" >/dev/null || return 1
    out=$(AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 ssh -i "$WORK/own" \
        -o IdentitiesOnly=yes "${SSH_ARGS[@]}" \
        -o "ProxyCommand='$EIC_CLIENT' open-tunnel --instance-id $INSTANCE --region $REGION --remote-port %p" \
        $TUSER@$PRIVATE 'echo plain') || return 1
    echo "$out"
    [ "$out" = plain ] && more_tunnels_closed "$before"
}
check "${CASES[6]}" plain_ssh
port_refused() {
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 "$EIC_CLIENT" open-tunnel \
        --instance-id $INSTANCE --region $REGION --remote-port 22 </dev/null
}
check "${CASES[7]}" expect_status 254 \
    "An error occurred (AccessDeniedException) when calling the OpenTunnel operation: remotePort 22 is not allowed" \
    port_refused
bob_denied() {
    sandbox_eic_ssh $BOB_AK $BOB_SK --instance-id $INSTANCE --os-user $TUSER --connection-type eice -- "${SSH_ARGS[@]}" true
}
bob_refused() {
    expect_status 249 "refused the tunnel" bob_denied && grep -q "(AccessDeniedException) when calling the OpenTunnel operation: User: arn:aws:sts::111122223333:assumed-role/Admins/bob is not authorized" "$WORK/err" && no_key_dirs
}
check "${CASES[8]}" bob_refused
duration() {
    # stdin stays open (sleep): only the endpoint's maxTunnelDuration ends the tunnel.
    sleep 60 | AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 50 "$EIC_CLIENT" open-tunnel \
        --instance-id $INSTANCE --region $REGION --remote-port 2222 \
        --max-tunnel-duration 1 >"$WORK/banner" || return 1
    cat "$WORK/banner"
    grep -q "^SSH-2.0-OpenSSH" "$WORK/banner" && grep -q "(max 1 s)" "$EMU_LOG" || return 1
    for _ in $(seq 1 100); do
        grep -q "tunnel closed: .*: the maximum tunnel duration was reached" "$EMU_LOG" && return 0
        sleep 0.2
    done
    return 1
}
check "${CASES[9]}" duration
fips_tunnel() {
    local fips=$EICE.0e1c0de5.fips.ec2-instance-connect-endpoint.$REGION.amazonaws.com out
    out=$(AWS_USE_FIPS_ENDPOINT=true essh --debug --connection-type eice -- "${SSH_ARGS[@]}" 'echo fips' \
        2>"$WORK/fips.err") || { cat "$WORK/fips.err"; return 1; }
    cat "$WORK/fips.err"
    [ "$out" = fips ] && grep -qF "step 2b: Instance Connect Endpoint $EICE (subnet-0e1c0de5e1c0de501, $fips)" \
        "$WORK/fips.err" && grep -qF "wss://$fips/openTunnel?" "$WORK/fips.err"
}
check "${CASES[13]}" fips_tunnel

sandbox_start_imds --config "$WORK/noeice.json" || { not_ok "emulator restarts with noeice.json"; finish; exit; }
no_endpoint() {
    local pushes
    pushes=$(grep -c "pushed key" "$EMU_LOG")
    expect_status 252 "no Instance Connect Endpoint in the VPC of instance $INSTANCE (vpc-0e1c0de5e1c0de500)" \
        essh --connection-type eice -- "${SSH_ARGS[@]}" true || return 1
    no_key_dirs && [ "$(grep -c "pushed key" "$EMU_LOG")" -eq "$pushes" ]
}
check "${CASES[10]}" no_endpoint

sandbox_start_imds --config "$WORK/ipv6.json" || { not_ok "emulator restarts with ipv6.json"; finish; exit; }
login_v6() {
    local out
    out=$(essh --debug -- "${SSH_ARGS[@]}" 'echo v6 $SSH_CONNECTION' 2>"$WORK/v6.err")
    cat "$WORK/v6.err"
    echo "$out"
    echo "$out" | grep -q "^v6 $V6 [0-9]* $V6 2222\$" && grep -q "auto chooses the IPv6 $V6 (direct)" "$WORK/v6.err" &&
        no_key_dirs
}
check "${CASES[11]}" login_v6
check "${CASES[12]}" expect_status 250 "has no address for --connection-type eice" essh --connection-type eice

finish
