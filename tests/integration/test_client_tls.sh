#!/bin/bash
# The client over TLS (issue #11), as against AWS itself: the emulator serves its APIs on
# https://127.0.0.1:443 (--tls-listen; IMDS stays plain http on 169.254.169.254) and this private
# namespace's /etc/hosts gives the AWS host names that address, so that eic runs with no
# --endpoint-url at all: https://ec2.us-east-1.amazonaws.com, https://ec2-instance-connect.us-east-1...
# and the tunnel's wss://<endpoint DNS name>. Checked: the chain against --ca-bundle, AWS_CA_BUNDLE
# or the profile's ca_bundle (in that order), the host name (a certificate for another name is
# refused), SNI (the emulator logs the server name each TLS connection asked for), and a clear
# message naming the host and the reason. Needs root (CI runs as root); without root every case
# reports "not ok".
if [ "$(id -u)" -eq 0 ] && [ "${1:-}" != --inside ] && command -v unshare >/dev/null; then
    exec unshare --net --mount --propagation private bash "$0" --inside
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sandbox.sh"

CASES=(
    "eic send-ssh-public-key over https with --ca-bundle (no --endpoint-url): Success, SNI sent"
    "eic send-ssh-public-key over https with AWS_CA_BUNDLE"
    "eic send-ssh-public-key over https with the profile's ca_bundle"
    "--ca-bundle wins over AWS_CA_BUNDLE, which wins over the profile's ca_bundle"
    "assume-role: STS over https verified with the profile's ca_bundle, and with --ca-bundle, as the API calls"
    "without a CA bundle (the system's CAs): refused, certificate not trusted, naming the host"
    "a certificate of another CA (--ca-bundle the signer's root): refused over https, certificate not trusted"
    "ssh with ProxyCommand 'eic open-tunnel --ca-bundle' logs in through wss (idle 12 s: over the emulator's 10 s connection timeout), SNI the endpoint's DNS name"
    "eic ssh --connection-type eice with AWS_CA_BUNDLE: https and wss, logs in"
    "eic ssh --ca-bundle: the bundle reaches the tunnel (ProxyCommand), logs in"
    "a certificate of another CA or of none of the system's: refused over wss, not trusted, naming the endpoint"
    "a certificate for another name: refused over https, name mismatch, naming the host"
    "a certificate for another name: refused over wss, name mismatch, naming the endpoint"
    "plain http:// endpoint URLs are used as before (IMDS address, http)"
    "IMDS is not served over https (404), as EC2's is plain http"
    "eic-emulator --tls-name with a name that is not a DNS name or address: usage error"
    "eic open-tunnel --local-port: two tunnels at once over wss, each presigned with refreshed assume-role keys"
)
if [ "${1:-}" != --inside ]; then
    for c in "${CASES[@]}"; do not_ok "$c (needs root and unshare)"; done
    finish
    exit
fi

PRIVATE=172.31.16.10
EICE=eice-0e1c0de5e1c0de502
EICE_DNS=$EICE.0e1c0de5.ec2-instance-connect-endpoint.us-east-1.amazonaws.com
sandbox_setup_eic_ssh
# Real names and real ports here: no EC2 URL of the emulator's, its TLS on 127.0.0.1:443.
unset AWS_ENDPOINT_URL_EC2
SANDBOX_TLS_LISTEN=127.0.0.1:443
unset AWS_CA_BUNDLE http_proxy https_proxy HTTPS_PROXY ALL_PROXY all_proxy
export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
ip addr add $PRIVATE/32 dev lo
SANDBOX_SSHD_LISTEN=$PRIVATE
# /etc is the sandbox's overlay: these names exist in this namespace only.
echo "127.0.0.1 ec2.us-east-1.amazonaws.com ec2-instance-connect.us-east-1.amazonaws.com sts.us-east-1.amazonaws.com" \
    "$EICE_DNS" >>/etc/hosts

cat >"$WORK/world.json" <<JSON
{
  "instance": {"id": "$INSTANCE", "availability_zone": "us-east-1a", "account_id": "111122223333",
               "private_ip": "$PRIVATE", "vpc_id": "vpc-0e1c0de5e1c0de500", "subnet_id": "subnet-0e1c0de5e1c0de501"},
  "instance_connect_endpoints": [{"id": "$EICE", "dns_name": "$EICE_DNS", "remote_ports": [2222]}],
  "principals": [
    {"arn": "arn:aws:iam::111122223333:user/alice",
     "access_key_id": "$ALICE_AK", "secret_access_key": "$ALICE_SK"}
  ],
  "roles": [{"arn": "arn:aws:iam::111122223333:role/Ops", "trusted": ["arn:aws:iam::111122223333:user/alice"]},
            {"arn": "arn:aws:iam::111122223333:role/Brief", "trusted": ["arn:aws:iam::111122223333:user/alice"],
             "credential_lifetime": 840}],
  "policy": [
    {"principal": "arn:aws:iam::111122223333:user/alice", "instance": "*", "os_user": "*"},
    {"principal": "arn:aws:sts::111122223333:assumed-role/Ops/*", "instance": "*", "os_user": "*"},
    {"action": "OpenTunnel", "principal": "arn:aws:iam::111122223333:user/alice", "instance_connect_endpoint": "*"},
    {"action": "OpenTunnel", "principal": "arn:aws:sts::111122223333:assumed-role/Brief/*",
     "instance_connect_endpoint": "*"}
  ]
}
JSON
sandbox_start_imds --config "$WORK/world.json" || { not_ok "emulator starts"; finish; exit; }
sandbox_start_sshd || { not_ok "sshd starts"; finish; exit; }
EMU_LOG="$SANDBOX/emulator/emulator.log"
TLS_CA="$SANDBOX/emulator/tls-ca.pem"
OTHER_CA="$SANDBOX/emulator/ca.pem" # the signer PKI's root: a CA, but not the one of the TLS certificate
ssh-keygen -q -t ed25519 -N '' -f "$WORK/key"

# push [options...]: eic send-ssh-public-key as alice, with no --endpoint-url.
push() {
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK AWS_MAX_ATTEMPTS=1 timeout 60 "$EIC_CLIENT" \
        send-ssh-public-key --region $REGION --instance-id $INSTANCE --instance-os-user $TUSER \
        --ssh-public-key "file://$WORK/key.pub" "$@"
}
pushed() { local out; out=$(push "$@") || return 1; echo "$out"; echo "$out" | grep -q '"Success": true'; }
sni_logged() { grep -q "TLS, server name $1\$" "$EMU_LOG" || { echo "no TLS connection for $1 in the log"; return 1; }; }

check "${CASES[0]}" eval 'pushed --ca-bundle "$TLS_CA" && sni_logged ec2-instance-connect.us-east-1.amazonaws.com'
# with_bundle CMD...: CMD (a function too) with AWS_CA_BUNDLE set to the emulator's TLS CA.
with_bundle() { AWS_CA_BUNDLE="$TLS_CA" "$@"; }
check "${CASES[1]}" with_bundle pushed
profile_bundle() {
    printf '[default]\nca_bundle = %s\n' "$TLS_CA" >"$AWS_CONFIG_FILE"
    pushed
    local rc=$?
    rm -f "$AWS_CONFIG_FILE"
    return $rc
}
check "${CASES[2]}" profile_bundle
precedence() {
    printf '[default]\nca_bundle = %s\n' "$OTHER_CA" >"$AWS_CONFIG_FILE"
    AWS_CA_BUNDLE="$OTHER_CA" pushed --ca-bundle "$TLS_CA" || return 1
    AWS_CA_BUNDLE="$TLS_CA" pushed || return 1
    # The profile's (here the wrong CA) is used when neither is given; AWS_CA_BUNDLE="" counts as unset.
    AWS_CA_BUNDLE="" expect_status 255 "certificate not trusted" push || return 1
    printf '[default]\nca_bundle = %s\n' "$TLS_CA" >"$AWS_CONFIG_FILE"
    AWS_CA_BUNDLE="$OTHER_CA" expect_status 255 "certificate not trusted" push
    local rc=$?
    rm -f "$AWS_CONFIG_FILE"
    return $rc
}
check "${CASES[3]}" precedence
# role_push [options...]: push as the role Ops, assumed with alice's keys (profile ops, over STS).
role_push() {
    printf '[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ALICE_AK" "$ALICE_SK" \
        >"$AWS_SHARED_CREDENTIALS_FILE"
    AWS_PROFILE=ops AWS_MAX_ATTEMPTS=1 timeout 60 "$EIC_CLIENT" send-ssh-public-key --region $REGION \
        --instance-id $INSTANCE --instance-os-user $TUSER --ssh-public-key "file://$WORK/key.pub" "$@"
}
sts_over_tls() {
    local out rc=1
    printf '[profile ops]\nrole_arn = arn:aws:iam::111122223333:role/Ops\nsource_profile = base\nca_bundle = %s\n' \
        "$TLS_CA" >"$AWS_CONFIG_FILE"
    out=$(role_push) && echo "$out" | grep -q '"Success": true' && sni_logged sts.us-east-1.amazonaws.com &&
        printf '[profile ops]\nrole_arn = arn:aws:iam::111122223333:role/Ops\nsource_profile = base\n' \
            >"$AWS_CONFIG_FILE" &&
        out=$(role_push --ca-bundle "$TLS_CA") && echo "$out" | grep -q '"Success": true' &&
        expect_status 253 "certificate not trusted" role_push && rc=0
    echo "$out"
    rm -f "$AWS_CONFIG_FILE" "$AWS_SHARED_CREDENTIALS_FILE"
    return $rc
}
check "${CASES[4]}" sts_over_tls
untrusted_https() {
    expect_status 255 "SSL validation failed for ec2-instance-connect.us-east-1.amazonaws.com: certificate not trusted (" \
        push "$@" && grep -q 'Could not connect to the endpoint URL: "https://ec2-instance-connect.us-east-1.amazonaws.com/"' \
        "$WORK/err"
}
check "${CASES[5]}" untrusted_https
check "${CASES[6]}" untrusted_https --ca-bundle "$OTHER_CA"

tunnels_closed() { grep -c "tunnel closed: .* -> $PRIVATE:2222 through $EICE" "$EMU_LOG"; }
more_tunnels_closed() { # the line may come after ssh has returned: waited for (at most 20 s)
    for _ in $(seq 1 100); do
        [ "$(tunnels_closed)" -gt "$1" ] && return 0
        sleep 0.2
    done
    echo "no new 'tunnel closed' line in the log"
    return 1
}
proxy_ssh() {
    local out before
    before=$(tunnels_closed)
    pushed --ca-bundle "$TLS_CA" >/dev/null || return 1
    out=$(AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 ssh -i "$WORK/key" \
        -o IdentitiesOnly=yes "${SSH_ARGS[@]}" \
        -o "ProxyCommand='$EIC_CLIENT' open-tunnel --instance-id $INSTANCE --region $REGION --ca-bundle '$TLS_CA' --remote-port %p" \
        $TUSER@$PRIVATE 'sleep 12; echo through wss') || return 1
    echo "$out"
    [ "$out" = "through wss" ] && more_tunnels_closed "$before" && sni_logged "$EICE_DNS" &&
        sni_logged ec2.us-east-1.amazonaws.com
}
check "${CASES[7]}" proxy_ssh
# essh [eic ssh options...]: eic ssh as alice through the endpoint, with no --endpoint-url.
essh() {
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK TMPDIR="$KEYTMP" SHELL="$EIC_PROXY_SHELL" \
        timeout 90 "$EIC_CLIENT" ssh --region $REGION --instance-id $INSTANCE --os-user $TUSER \
        --connection-type eice "$@" -- "${SSH_ARGS[@]}" 'echo eic ssh'
}
essh_ok() {
    local out before
    before=$(tunnels_closed)
    out=$(essh "$@") || return 1
    echo "$out"
    [ "$out" = "eic ssh" ] && more_tunnels_closed "$before" && no_key_dirs
}
check "${CASES[8]}" with_bundle essh_ok
check "${CASES[9]}" essh_ok --ca-bundle "$TLS_CA"

# open_tunnel [options...]: straight to the endpoint (its address and name given: no https call first).
open_tunnel() {
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK timeout 60 "$EIC_CLIENT" open-tunnel --region $REGION \
        --instance-id $INSTANCE --instance-connect-endpoint-id $EICE --instance-connect-endpoint-dns-name "$EICE_DNS" \
        --private-ip-address $PRIVATE --remote-port 2222 "$@" </dev/null
}
untrusted_wss() {
    local want="Instance Connect Endpoint $EICE: SSL validation failed for $EICE_DNS: certificate not trusted ("
    expect_status 255 "$want" open_tunnel "$@"
}
check "${CASES[10]}" eval 'untrusted_wss --ca-bundle "$OTHER_CA" && untrusted_wss'

# local_tunnels: eic open-tunnel --local-port as the role Brief, whose credentials (14 minutes) are
# inside the refresh window: two connections at once, sshd's banner read through each one's own
# tunnel; each tunnel is presigned with credentials refreshed in the listening process before its
# child starts, so the emulator sees two different keys sign the two OpenTunnel requests.
local_tunnels() {
    local from pid out keys rc
    from=$(($(wc -l <"$EMU_LOG") + 1))
    printf '[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ALICE_AK" "$ALICE_SK" \
        >"$AWS_SHARED_CREDENTIALS_FILE"
    printf '[profile brief]\nrole_arn = arn:aws:iam::111122223333:role/Brief\nsource_profile = base\n' \
        >"$AWS_CONFIG_FILE"
    AWS_PROFILE=brief timeout $((60 * TIME_SCALE)) "$EIC_CLIENT" open-tunnel --region $REGION \
        --instance-id $INSTANCE --instance-connect-endpoint-id $EICE --instance-connect-endpoint-dns-name "$EICE_DNS" \
        --private-ip-address $PRIVATE --remote-port 2222 --ca-bundle "$TLS_CA" --local-port 10022 --debug \
        2>"$WORK/local.err" </dev/null &
    pid=$!
    for _ in $(seq 1 $((100 * TIME_SCALE))); do
        grep -q "Listening for connections on port 10022" "$WORK/local.err" && break
        sleep 0.1
    done
    out=$(/usr/bin/python3 -c '
import socket
a = socket.create_connection(("127.0.0.1", 10022), timeout=60)
b = socket.create_connection(("127.0.0.1", 10022), timeout=60)
print(a.makefile("rb").readline()[:8].decode(), b.makefile("rb").readline()[:8].decode())')
    kill -INT $pid
    wait $pid
    rc=$?
    rm -f "$AWS_CONFIG_FILE" "$AWS_SHARED_CREDENTIALS_FILE"
    grep -v 'debug: |' "$WORK/local.err"
    echo "$out (status $rc)"
    keys=$(tail -n +"$from" "$EMU_LOG" |
        sed -n "s/.*sigv4: ec2-instance-connect request signed by .* with access key \([A-Z0-9]*\)$/\1/p")
    echo "OpenTunnel signed with:" $keys
    [ "$rc" -eq 0 ] && [ "$out" = "SSH-2.0- SSH-2.0-" ] && [ "$(echo "$keys" | wc -l)" -eq 2 ] &&
        [ "$(echo "$keys" | sort -u | wc -l)" -eq 2 ] &&
        [ "$(grep -c "credentials from assume-role refreshed" "$WORK/local.err")" -ge 2 ]
}
check "${CASES[16]}" local_tunnels

# The emulator again, with a certificate for another name only.
sandbox_start_imds --config "$WORK/world.json" --tls-name www.example.com ||
    { not_ok "emulator restarts with --tls-name www.example.com"; finish; exit; }
check "${CASES[11]}" expect_status 255 "SSL validation failed for ec2-instance-connect.us-east-1.amazonaws.com: \
name mismatch, the certificate is not for ec2-instance-connect.us-east-1.amazonaws.com" push --ca-bundle "$TLS_CA"
check "${CASES[12]}" expect_status 255 \
    "Instance Connect Endpoint $EICE: SSL validation failed for $EICE_DNS: name mismatch, the certificate is not for" \
    open_tunnel --ca-bundle "$TLS_CA"

check "${CASES[13]}" pushed --endpoint-url http://169.254.169.254 --ca-bundle "$OTHER_CA"
imds_https() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TLS_CA" --resolve www.example.com:443:127.0.0.1 \
        -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' https://www.example.com/latest/api/token)
    echo "HTTP $code"
    [ "$code" = 404 ] && [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
        -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)" = 200 ]
}
check "${CASES[14]}" imds_https
bad_name() {
    expect_status 2 "cannot set up TLS" "$EMULATOR" --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
        --state-dir "$WORK/bad-name" --tls-name 'a.example,DNS:evil.example' --log-file "$WORK/bad-name.log" &&
        grep "'a.example,DNS:evil.example' is neither a DNS name nor an IP address" "$WORK/bad-name.log"
}
check "${CASES[15]}" bad_name

sandbox_stop
finish
