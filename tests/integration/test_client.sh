#!/bin/bash
# `eic send-ssh-public-key` against the emulator: keys pushed with each way of giving
# credentials show up in IMDS (IMDSv2), the service's refusals come back as the AWS CLI shows
# them (exit 254, "An error occurred (Code) ..."), and usage, configuration and transport
# failures give 2, 253 and 255 within their deadlines.
. "$(dirname "$0")/lib.sh"

KEYS="$TEST_DATA/sshkey"
EMPTY_HOME="$WORK/empty-home"
mkdir -p "$EMPTY_HOME"

if [ ! -x "$EIC_CLIENT" ] || [ ! -x "$EMULATOR" ]; then
    not_ok "eic and eic-emulator are built (scripts/build)"
    finish
    exit 1
fi
start_emulator main || { not_ok "emulator starts"; finish; exit 1; }
MAIN_URL=$EMU_URL

# eic_run ENV-ASSIGNMENTS... -- ARGS...: run the client in a clean environment (nothing of the
# caller's AWS_* or HOME leaks in), output in $WORK/out and $WORK/err, status in $RC.
eic_run() {
    local envs=(PATH="$PATH" HOME="$EMPTY_HOME")
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        envs+=("$1")
        shift
    done
    shift
    env -i "${envs[@]}" "$EIC_CLIENT" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
    RC=$?
}

AS_ALICE=(AWS_ACCESS_KEY_ID="$ALICE_AK" AWS_SECRET_ACCESS_KEY="$ALICE_SK")
AS_BOB=(AWS_ACCESS_KEY_ID="$BOB_AK" AWS_SECRET_ACCESS_KEY="$BOB_SK")

# push ENV... -- KEY-ARG [more args]: push for alice's os-user on the instance.
push() {
    local envs=()
    while [ "$1" != "--" ]; do
        envs+=("$1")
        shift
    done
    shift
    local key=$1
    shift
    eic_run "${envs[@]}" -- send-ssh-public-key --instance-id "$INSTANCE" --instance-os-user "${OS_USER:-alice}" \
        --ssh-public-key "$key" --availability-zone "$ZONE" --endpoint-url "${URL:-$MAIN_URL}" "$@"
}

show() {
    echo "exit status $RC"
    echo "--- stdout"
    cat "$WORK/out"
    echo "--- stderr"
    cat "$WORK/err"
}

# expect_success: exit 0 and {"RequestId": "...", "Success": true} on stdout.
expect_success() {
    show
    [ "$RC" -eq 0 ] &&
        /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["Success"] is True and len(d["RequestId"]) > 0))' "$WORK/out"
}

# expect_service_error CODE: exit 254 and the AWS CLI's message on stderr, nothing on stdout.
expect_service_error() {
    show
    [ "$RC" -eq 254 ] && grep -q "^An error occurred ($1) when calling the SendSSHPublicKey operation" "$WORK/err" &&
        [ ! -s "$WORK/out" ]
}

# key_active USER PUBFILE: the key's base64 is in active-keys/USER/ (read with IMDSv2).
key_active() {
    local blob
    blob=$(awk '{print $2}' "$2")
    imds_get "/latest/meta-data/managed-ssh-keys/active-keys/$1/" >"$WORK/active" || return 1
    grep -qF "$blob" "$WORK/active"
}

# ---- pushes that work ----
push "${AS_ALICE[@]}" -- "file://$KEYS/ed25519.pub"
check "ed25519 key from file:// with alice's environment credentials" expect_success
check "the ed25519 key is in active-keys/alice over IMDSv2" key_active alice "$KEYS/ed25519.pub"

push "${AS_ALICE[@]}" -- "$(cat "$KEYS/rsa4096.pub")"
check "RSA 4096 key given literally" expect_success
check "the RSA 4096 key is in active-keys/alice" key_active alice "$KEYS/rsa4096.pub"

push "${AS_ALICE[@]}" -- "file://$KEYS/rsa2048-headers.ssh2"
check "RSA 2048 key in RFC 4716 form (headers, continuation line)" expect_success

OS_USER=deploy push "${AS_BOB[@]}" -- "file://$KEYS/ed25519.pub"
check "bob's (assumed-role) credentials work" expect_success
check "bob's key is in active-keys/deploy" key_active deploy "$KEYS/ed25519.pub"

push "${AS_ALICE[@]}" -- "file://$KEYS/ed25519.pub" --region us-east-1
check "--region given explicitly" expect_success

eic_run "${AS_ALICE[@]}" AWS_REGION=us-east-1 -- send-ssh-public-key --instance-id "$INSTANCE" \
    --instance-os-user alice --ssh-public-key="file://$KEYS/ed25519.pub" --endpoint-url="$MAIN_URL"
check "no zone: region from AWS_REGION; --name=value spelling" expect_success

# ---- credentials from files (temporary HOME) ----
PROFILE_HOME="$WORK/profile-home"
mkdir -p "$PROFILE_HOME/.aws"
cat >"$PROFILE_HOME/.aws/credentials" <<EOF
# test credentials
[default]
aws_access_key_id = AKIAWRONGWRONGWRONG1
aws_secret_access_key = wrong

[work]
aws_access_key_id = $ALICE_AK
aws_secret_access_key = $ALICE_SK

[bob]
aws_access_key_id=$BOB_AK
aws_secret_access_key=$BOB_SK
EOF
cat >"$PROFILE_HOME/.aws/config" <<EOF
[default]
region = us-east-1

[profile cfg]
region = us-east-1
aws_access_key_id = $ALICE_AK
aws_secret_access_key = $ALICE_SK
EOF

push HOME="$PROFILE_HOME" -- "file://$KEYS/ed25519.pub" --profile work
check "--profile work from ~/.aws/credentials" expect_success

push HOME="$PROFILE_HOME" AWS_PROFILE=bob -- "file://$KEYS/ed25519.pub"
check "AWS_PROFILE=bob from ~/.aws/credentials" expect_success

push HOME="$PROFILE_HOME" AWS_ACCESS_KEY_ID=AKIAWRONGWRONGWRONG1 AWS_SECRET_ACCESS_KEY=wrong -- \
    "file://$KEYS/ed25519.pub" --profile work
check "--profile wins over environment credentials (as botocore)" expect_success

push HOME="$PROFILE_HOME" -- "file://$KEYS/ed25519.pub"
check "the default profile's wrong secret is refused (AuthException)" expect_service_error AuthException

eic_run HOME="$PROFILE_HOME" -- send-ssh-public-key --instance-id "$INSTANCE" --instance-os-user alice \
    --ssh-public-key "file://$KEYS/ed25519.pub" --endpoint-url "$MAIN_URL" --profile cfg
check "credentials and region from a [profile cfg] section of ~/.aws/config" expect_success

push HOME="$PROFILE_HOME" -- "file://$KEYS/ed25519.pub" --profile nosuch
expect_config_error() {
    show
    [ "$RC" -eq 253 ] && grep -q "$1" "$WORK/err"
}
check "unknown profile: exit 253" expect_config_error "The config profile (nosuch) could not be found"

push AWS_SHARED_CREDENTIALS_FILE="$PROFILE_HOME/.aws/credentials" -- "file://$KEYS/ed25519.pub" --profile work
check "AWS_SHARED_CREDENTIALS_FILE names the credentials file" expect_success

push -- "file://$KEYS/ed25519.pub"
check "no credentials anywhere: exit 253" expect_config_error "Unable to locate credentials"

push AWS_ACCESS_KEY_ID="$ALICE_AK" -- "file://$KEYS/ed25519.pub"
check "access key without secret: exit 253" expect_config_error "Partial credentials found in env"

# ---- the service's refusals ----
push AWS_ACCESS_KEY_ID="$ALICE_AK" AWS_SECRET_ACCESS_KEY=not-the-secret -- "file://$KEYS/ed25519.pub"
check "wrong secret: exit 254, AuthException" expect_service_error AuthException

push AWS_ACCESS_KEY_ID=AKIAEICUNKNOWN000000 AWS_SECRET_ACCESS_KEY=whatever -- "file://$KEYS/ed25519.pub"
check "unknown access key: exit 254, AuthException" expect_service_error AuthException

push "${AS_ALICE[@]}" -- "file://$KEYS/rsa1024.pub"
check "RSA 1024 key: InvalidArgsException" expect_service_error InvalidArgsException

push "${AS_ALICE[@]}" -- "file://$KEYS/ecdsa256.pub"
check "ECDSA key: InvalidArgsException" expect_service_error InvalidArgsException

push "${AS_ALICE[@]}" -- "ssh-ed25519 AAAAnotbase64!"
check "garbage key: InvalidArgsException" expect_service_error InvalidArgsException

eic_run "${AS_ALICE[@]}" -- send-ssh-public-key --instance-id i-0fedcba9876543210 --instance-os-user alice \
    --ssh-public-key "file://$KEYS/ed25519.pub" --availability-zone "$ZONE" --endpoint-url "$MAIN_URL"
check "unknown instance: EC2InstanceNotFoundException" expect_service_error EC2InstanceNotFoundException

push "${AS_ALICE[@]}" -- "file://$KEYS/ed25519.pub" --region eu-west-1
check "signed for another region than the service's: refused" expect_service_error AuthException

# ---- session tokens (a world whose principal has temporary credentials) ----
cat >"$WORK/world.json" <<EOF
{
  "instance": {"id": "$INSTANCE", "availability_zone": "$ZONE", "domain": "amazonaws.com",
               "account_id": "111122223333", "imdsv2_required": true},
  "key_lifetime": 60,
  "principals": [
    {"arn": "arn:aws:sts::111122223333:assumed-role/Ops/carol",
     "access_key_id": "ASIAEICDEMOCAROL0003", "secret_access_key": "eic-demo-secret-carol",
     "session_token": "IQoJb3JpZ2luX2VjEFAaCXVzLWVhc3QtMSJHMEUCIQD+eic/test+session+token=="}
  ],
  "policy": [
    {"principal": "arn:aws:sts::111122223333:assumed-role/Ops/carol", "instance": "$INSTANCE", "os_user": "*"}
  ]
}
EOF
if start_emulator token --config "$WORK/world.json"; then
    AS_CAROL=(AWS_ACCESS_KEY_ID=ASIAEICDEMOCAROL0003 AWS_SECRET_ACCESS_KEY=eic-demo-secret-carol)
    URL=$EMU_URL push "${AS_CAROL[@]}" \
        AWS_SESSION_TOKEN="IQoJb3JpZ2luX2VjEFAaCXVzLWVhc3QtMSJHMEUCIQD+eic/test+session+token==" -- \
        "file://$KEYS/ed25519.pub"
    check "temporary credentials with AWS_SESSION_TOKEN" expect_success
    URL=$EMU_URL push "${AS_CAROL[@]}" -- "file://$KEYS/ed25519.pub"
    check "temporary credentials without their token: AuthException" expect_service_error AuthException
    URL=$EMU_URL push "${AS_CAROL[@]}" AWS_SESSION_TOKEN=another-token -- "file://$KEYS/ed25519.pub"
    check "temporary credentials with a wrong token: AuthException" expect_service_error AuthException
    no_token_in_debug() {
        URL=$EMU_URL push "${AS_CAROL[@]}" AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEFAaCXVzLWVhc3QtMSJHMEUCIQD+eic/test+session+token== -- \
            "file://$KEYS/ed25519.pub" --debug
        show
        [ "$RC" -eq 0 ] && grep -q "canonical request" "$WORK/err" && grep -q "x-amz-security-token:<redacted>" "$WORK/err" &&
            ! grep -q "test+session+token" "$WORK/err" && ! grep -q "eic-demo-secret-carol" "$WORK/err"
    }
    check "--debug shows the canonical request without token or secret" no_token_in_debug
else
    not_ok "emulator with a session-token world starts"
fi

# ---- usage errors ----
expect_usage() {
    show
    [ "$RC" -eq 2 ] && grep -q "$1" "$WORK/err"
}
eic_run -- send-ssh-public-key --instance-id "$INSTANCE"
check "missing required arguments: exit 2" expect_usage "the following arguments are required: --instance-os-user, --ssh-public-key"
eic_run -- send-ssh-public-key --instance-id "$INSTANCE" --instance-id "$INSTANCE" --instance-os-user a --ssh-public-key k
check "an option given twice: exit 2" expect_usage "given more than once"
eic_run -- send-ssh-public-key --bogus
check "unknown option: exit 2" expect_usage "unrecognized arguments: --bogus"
eic_run -- frobnicate
check "unknown command: exit 2" expect_usage "Invalid choice: 'frobnicate'"
eic_run -- send-ssh-public-key --instance-id "$INSTANCE" --instance-os-user a --ssh-public-key file:///nonexistent/key.pub
check "unreadable file:// key: exit 2" expect_usage "Unable to load paramfile file:///nonexistent/key.pub"
URL=ftp://127.0.0.1/ push "${AS_ALICE[@]}" -- "file://$KEYS/ed25519.pub"
check "an endpoint that is not http(s): exit 2" expect_usage "Invalid endpoint"
eic_run -- --help
check "eic --help" grep -q "send-ssh-public-key" "$WORK/out"
eic_run -- send-ssh-public-key --help
check "eic send-ssh-public-key --help" grep -q -- "--instance-os-user" "$WORK/out"

# ---- transport failures: bounded, exit 255 ----
closed_port() {
    local t0 t1
    t0=$(date +%s)
    URL=http://127.0.0.1:1 push "${AS_ALICE[@]}" AWS_MAX_ATTEMPTS=1 -- "file://$KEYS/ed25519.pub"
    t1=$(date +%s)
    show
    [ "$RC" -eq 255 ] && grep -q "Could not connect to the endpoint URL" "$WORK/err" && [ $((t1 - t0)) -le 5 ]
}
check_timed "nothing listening: exit 255 at once" closed_port

if start_emulator faults --fault '/=status:503'; then
    retried_503() {
        URL=$EMU_URL push "${AS_ALICE[@]}" AWS_MAX_ATTEMPTS=2 -- "file://$KEYS/ed25519.pub" --debug
        show
        [ "$RC" -eq 254 ] && grep -q "(reached max retries: 1)" "$WORK/err" && [ "$(grep -c 'attempt [0-9]' "$WORK/err")" -eq 2 ]
    }
    check "503 is retried, then reported as the AWS CLI does (exit 254)" retried_503
fi
if start_emulator hang --fault '/=hang'; then
    hangs() {
        local t0 t1
        t0=$(date +%s)
        URL=$EMU_URL push "${AS_ALICE[@]}" -- "file://$KEYS/ed25519.pub" --cli-read-timeout 2
        t1=$(date +%s)
        show
        echo "took $((t1 - t0)) s"
        [ "$RC" -eq 255 ] && grep -q "Read timeout on endpoint URL" "$WORK/err" && [ $((t1 - t0)) -le 4 ]
    }
    check_timed "a hanging service: the deadline holds (exit 255)" hangs
fi
if start_emulator oversize --fault '/=oversize'; then
    too_big() {
        URL=$EMU_URL push "${AS_ALICE[@]}" -- "file://$KEYS/ed25519.pub"
        show
        [ "$RC" -eq 255 ] && grep -q "larger than" "$WORK/err"
    }
    check "an oversized answer is cut off (exit 255)" too_big
fi

finish
