#!/bin/bash
# eic ssh (issue #6; the Instance Connect Endpoint tunnels themselves: test_e2e_eice.sh), end to end in the sandbox of
# test_e2e_login.sh: the emulator at 169.254.169.254:80 serves DescribeInstances and the push API,
# the real sshd on 127.0.0.1:2222 takes the pushed key through eic-authorized-keys, and eic ssh
# runs the real OpenSSH client. Also the real AWS CLIs (v2 and v1) against the emulator's
# DescribeInstances. Needs root (CI runs as root); without root every case reports "not ok".
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

CASES=(
    "aws (v2) ec2 describe-instances --endpoint-url: addresses and zone"
    "aws (v1) ec2 describe-instances --endpoint-url: addresses and zone"
    "aws ec2 describe-instances: an unknown instance is InvalidInstanceID.NotFound"
    "eic ssh --connection-type direct logs in (private IPv4) and runs a command"
    "the ephemeral key directory is gone after the login"
    "eic ssh --debug shows each step"
    "eic ssh with auto logs in through the public IPv4 address"
    "eic ssh auto without a public address tunnels through the endpoint, which refuses port 2222: status 249"
    "eic ssh --connection-type eice with a port the endpoint refuses: AccessDeniedException, status 249"
    "ssh failing (unknown user): ssh's status 255, key directory removed"
    "eic ssh --private-key-file logs in with that key"
    "eic ssh --private-key-file file://PATH is refused with an explanation (status 2)"
    "eic ssh for an unknown instance: InvalidInstanceID.NotFound, status 254, no key made"
    "eic ssh with a wrong secret key: AuthFailure, status 254"
    "eic ssh refused by the policy: AccessDeniedException, status 254, key directory removed"
    "eic ssh without credentials: status 253"
    "the remote command's status is eic's (exit 7, and 127 for a command not found)"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

sandbox_setup_eic_ssh
# The default world's Instance Connect Endpoint: its DNS name is the emulator's.
sandbox_hosts eice-0e1c0de5e1c0de502.0e1c0de5.ec2-instance-connect-endpoint.$REGION.amazonaws.com
sandbox_start_imds || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }

# A world whose instance also has a public address (loopback again, so that sshd is reached) and
# an IPv6 one, and where bob may push for nobody but "someone-else".
cat >"$WORK/world.json" <<'JSON'
{
  "instance": {"id": "i-0123456789abcdef0", "availability_zone": "us-east-1a", "account_id": "111122223333",
               "private_ip": "10.0.0.5", "public_ip": "127.0.0.1", "ipv6": "2001:db8::5"},
  "principals": [
    {"arn": "arn:aws:iam::111122223333:user/alice",
     "access_key_id": "AKIAEICDEMOALICE0001", "secret_access_key": "eic-demo-secret-alice"},
    {"arn": "arn:aws:sts::111122223333:assumed-role/Admins/bob",
     "access_key_id": "AKIAEICDEMOBOB000002", "secret_access_key": "eic-demo-secret-bob"}
  ],
  "policy": [
    {"principal": "arn:aws:iam::111122223333:user/alice", "instance": "*", "os_user": "*"},
    {"principal": "arn:aws:sts::111122223333:assumed-role/Admins/bob", "instance": "*", "os_user": "someone-else"}
  ]
}
JSON

# essh [eic ssh options...] -- [ssh arguments]: as alice.
essh() { sandbox_eic_ssh $ALICE_AK $ALICE_SK "$@"; }

describe() { # describe AWS ID: "PRIVATE ZONE" of the instance
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 "$1" ec2 describe-instances \
        --endpoint-url $ENDPOINT --region $REGION --instance-ids "$2" --output text \
        --query 'Reservations[0].Instances[0].[PrivateIpAddress,Placement.AvailabilityZone]'
}
describe_is() { local out; out=$(describe "$1" $INSTANCE) && echo "$out" && [ "$out" = "$(printf '127.0.0.1\tus-east-1a')" ]; }
check "${CASES[0]}" describe_is /usr/bin/aws
check "${CASES[1]}" describe_is /root/.pyenv/shims/aws
check "${CASES[2]}" expect_status 254 "InvalidInstanceID.NotFound" describe /usr/bin/aws i-0123456789abcdef1

# Default world: only the private address (127.0.0.1).
login_direct() {
    local out
    out=$(essh --instance-id $INSTANCE --os-user $TUSER --connection-type direct -- "${SSH_ARGS[@]}" \
        'echo hello from $(id -un)') || return 1
    echo "$out"
    [ "$out" = "hello from $TUSER" ]
}
check "${CASES[3]}" login_direct
check "${CASES[4]}" no_key_dirs
debug_steps() {
    essh --debug --instance-id $INSTANCE --os-user $TUSER --connection-type direct -- "${SSH_ARGS[@]}" true \
        2>"$WORK/debug" || { cat "$WORK/debug"; return 1; }
    cat "$WORK/debug"
    for step in "step 1: DescribeInstances" "chooses the private IPv4 127.0.0.1 (direct)" "step 3: ephemeral key" \
        "step 4: SendSSHPublicKey" "step 5: /usr/bin/ssh -o IdentitiesOnly=yes -i $KEYTMP/eic-ssh" \
        "removed the ephemeral key directory"; do
        grep -qF -- "$step" "$WORK/debug" || { echo "missing: $step"; return 1; }
    done
    ! grep -q "$ALICE_SK" "$WORK/debug"
}
check "${CASES[5]}" debug_steps
remote_status() {
    essh --instance-id $INSTANCE --os-user $TUSER --connection-type direct -- "${SSH_ARGS[@]}" 'exit 7'
    [ $? -eq 7 ] || return 1
    essh --instance-id $INSTANCE --os-user $TUSER --connection-type direct -- "${SSH_ARGS[@]}" no-such-command-here
    [ $? -eq 127 ] && no_key_dirs
}
check "${CASES[16]}" remote_status
# The default world's endpoint allows port 22 only; sshd listens on 2222.
refused_port() {
    expect_status 249 "refused the tunnel" essh --instance-id $INSTANCE --os-user $TUSER "$@" && no_key_dirs &&
        grep -q "(AccessDeniedException) when calling the OpenTunnel operation: remotePort 2222 is not allowed" "$WORK/err"
}
check "${CASES[7]}" refused_port -- "${SSH_ARGS[@]}" true
check "${CASES[8]}" refused_port --connection-type eice -- "${SSH_ARGS[@]}" true
unknown_user() {
    expect_status 255 "" essh --instance-id $INSTANCE --os-user nosuchuser --connection-type direct \
        -- "${SSH_ARGS[@]}" true && no_key_dirs
}
check "${CASES[9]}" unknown_user
own_key() {
    local out
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/own" || return 1
    out=$(essh --instance-id $INSTANCE --os-user $TUSER --connection-type direct --private-key-file "$WORK/own" \
        -- "${SSH_ARGS[@]}" 'echo own key') || return 1
    [ "$out" = "own key" ] && [ -f "$WORK/own" ] && no_key_dirs
}
check "${CASES[10]}" own_key
check "${CASES[11]}" expect_status 2 "takes a path, not a URI" \
    essh --instance-id $INSTANCE --private-key-file "file://$WORK/own"
unknown_instance() { expect_status 254 "InvalidInstanceID.NotFound" essh --instance-id i-0123456789abcdef1 && no_key_dirs; }
check "${CASES[12]}" unknown_instance
check "${CASES[13]}" expect_status 254 "(AuthFailure)" sandbox_eic_ssh $ALICE_AK wrong --instance-id $INSTANCE
no_credentials() {
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$WORK/nohome" AWS_SHARED_CREDENTIALS_FILE="$WORK/none" \
        AWS_CONFIG_FILE="$WORK/none" "$EIC_CLIENT" ssh --endpoint-url $ENDPOINT --region $REGION --instance-id $INSTANCE
}
check "${CASES[15]}" expect_status 253 "credentials" no_credentials

# The world with a public address: auto takes it; bob may not push for $TUSER.
sandbox_start_imds --config "$WORK/world.json" || { not_ok "emulator restarts with world.json"; finish; exit; }
login_auto_checked() {
    local out
    out=$(essh --debug --instance-id $INSTANCE --os-user $TUSER -- "${SSH_ARGS[@]}" 'echo auto' 2>"$WORK/auto.err")
    cat "$WORK/auto.err"
    [ "$out" = "auto" ] && grep -q "auto chooses the public IPv4 127.0.0.1 (direct)" "$WORK/auto.err"
}
check "${CASES[6]}" login_auto_checked
bob_refused() {
    expect_status 254 "(AccessDeniedException) when calling the SendSSHPublicKey operation" \
        sandbox_eic_ssh $BOB_AK $BOB_SK --instance-id $INSTANCE --os-user $TUSER -- "${SSH_ARGS[@]}" true && no_key_dirs
}
check "${CASES[14]}" bob_refused

finish
