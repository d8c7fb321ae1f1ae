#!/bin/bash
# Endpoint resolution (client/endpoints.h) judged by botocore, and against the emulator:
#   - client/partitions.c is what scripts/gen-partitions makes from botocore's partitions.json, and
#     tests/data/endpoints.tsv (unit/test_endpoints checks eic against it) is what botocore's rule
#     sets answer;
#   - for each configuration (variables, config file, profiles) eic's URL for each service is the
#     one botocore's client gets (tests/unit/endpoint_tool beside endpoints_judge.py url);
#   - per-service variables and a profile's services section send EC2 and Instance Connect to two
#     different emulators;
#   - what eic signs for a configured endpoint (a port in Host, a path) is what botocore signs.
# The judge is the botocore of the AWS CLI v1 the tests use (/root/.pyenv): Debian's botocore 1.29
# predates AWS_ENDPOINT_URL_<SERVICE> and three of the partitions.
. "$(dirname "$0")/lib.sh"

BOTO_PY=/root/.pyenv/versions/3.11.7/bin/python3
JUDGE="$TOP/tests/integration/endpoints_judge.py"
TOOL="$EIC_BUILD/tests/unit/endpoint_tool"
SIGV4="$TOP/tests/integration/emu_sigv4.py"
CRED_JUDGE="$TOP/tests/integration/cred_judge.py"

if ! "$BOTO_PY" -c 'import botocore.endpoint_provider' 2>/dev/null; then
    not_ok "botocore with endpoint rule sets at $BOTO_PY (the AWS CLI v1 of the test machine)"
    finish
    exit
fi

same_partitions() { diff <("$BOTO_PY" "$TOP/scripts/gen-partitions") "$TOP/client/partitions.c"; }
check "client/partitions.c is what scripts/gen-partitions makes from botocore's partitions.json" same_partitions
same_table() { diff <("$BOTO_PY" "$JUDGE" table) <(grep -v '^#' "$TEST_DATA/endpoints.tsv"); }
check "tests/data/endpoints.tsv is what botocore's rule sets answer (ec2, ec2-instance-connect, sts, sso, sso-oidc; every partition)" \
    same_table

# The configurations: a config file, credentials, and no AWS_* variable but those a case sets.
cat >"$WORK/config" <<'INI'
[default]
services = split
endpoint_url = http://profile.example:8001

[services split]
ec2 =
  endpoint_url = http://section-ec2.example:8002
ec2_instance_connect =
  endpoint_url = http://section-eic.example:8003/base
sso =
  endpoint_url = https://section-portal.example

[profile fips]
use_fips_endpoint = true
use_dualstack_endpoint = false

[profile dual]
use_dualstack_endpoint = TRUE
endpoint_url = http://dual.example

[profile ignoring]
ignore_configured_endpoint_urls = true
endpoint_url = http://ignored.example

[profile nosection]
services = nowhere
INI
printf '[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n' >"$WORK/credentials"
BASE_ENV=(HOME="$WORK" PATH="$PATH" AWS_CONFIG_FILE="$WORK/config" AWS_SHARED_CREDENTIALS_FILE="$WORK/credentials")

# agree REGION [--cli URL] [VAR=VALUE...]: for each service, eic's URL is botocore's (sso: the
# IAM Identity Center portal of SSO profiles; sso-oidc: where their tokens are refreshed).
agree() {
    local region=$1 cli=() s ours theirs rc=0
    shift
    if [ "${1:-}" = --cli ]; then cli=("$2"); shift 2; fi
    for s in ec2 ec2-instance-connect sts sso sso-oidc; do
        ours=$(env -i "${BASE_ENV[@]}" "$@" "$TOOL" $s "$region" ${cli[@]+"${cli[@]}"})
        theirs=$(env -i "${BASE_ENV[@]}" "$@" "$BOTO_PY" "$JUDGE" url $s "$region" ${cli[@]+"${cli[@]}"})
        theirs=${theirs%/}
        echo "$s: eic $ours, botocore $theirs"
        [ "$ours" = "$theirs" ] || rc=1
    done
    return $rc
}
check "profile services section before the profile's endpoint_url (sts, sso-oidc: no entry there)" agree us-east-1
check "AWS_ENDPOINT_URL before the config file" agree us-east-1 AWS_ENDPOINT_URL=http://global.example:9000
check "AWS_ENDPOINT_URL_<SERVICE> before AWS_ENDPOINT_URL, each for its service" agree us-east-1 \
    AWS_ENDPOINT_URL=http://global.example:9000 AWS_ENDPOINT_URL_EC2=http://ec2.example:9001 \
    AWS_ENDPOINT_URL_STS=https://sts.example AWS_ENDPOINT_URL_SSO_OIDC=http://oidc.example:9002
check "an empty AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT is as if unset" agree us-east-1 \
    AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT= AWS_ENDPOINT_URL=http://global.example:9000
check "--endpoint-url before everything (for the service it is given to)" agree us-east-1 --cli http://cli.example:7 \
    AWS_ENDPOINT_URL_EC2=http://ec2.example:9001
check "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true: the rule sets (aws-us-gov)" agree us-gov-west-1 \
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true AWS_ENDPOINT_URL=http://global.example:9000
check "ignore_configured_endpoint_urls in the profile" agree eu-west-1 AWS_PROFILE=ignoring
check "use_fips_endpoint in the profile (aws-us-gov's exceptions)" agree us-gov-east-1 AWS_PROFILE=fips
check "AWS_USE_FIPS_ENDPOINT=false wins over the profile's true" agree us-east-1 AWS_PROFILE=fips \
    AWS_USE_FIPS_ENDPOINT=false
check "FIPS and dual-stack from the variables, aws-cn" agree cn-northwest-1 AWS_PROFILE=fips \
    AWS_USE_FIPS_ENDPOINT=TRUE AWS_USE_DUALSTACK_ENDPOINT=true
check "the profile's endpoint_url wins over its dual-stack setting" agree eusc-de-east-1 AWS_PROFILE=dual
check "ISO partitions from the rule sets (aws-iso-e, FIPS)" agree eu-isoe-west-1 AWS_PROFILE=fips
no_section() {
    local ours theirs
    ours=$(env -i "${BASE_ENV[@]}" AWS_PROFILE=nosection "$TOOL" ec2 us-east-1)
    theirs=$(env -i "${BASE_ENV[@]}" AWS_PROFILE=nosection "$BOTO_PY" "$JUDGE" url ec2 us-east-1)
    echo "eic: $ours"
    echo "botocore: $theirs"
    [ "$ours" = "$theirs" ] && [ "${ours#ERROR: }" != "$ours" ]
}
check "a profile whose services section does not exist: the same configuration error" no_section
fips_setting() {
    [ "$(env -i "${BASE_ENV[@]}" AWS_PROFILE=fips "$TOOL" --fips)" = true ] &&
        [ "$(env -i "${BASE_ENV[@]}" AWS_PROFILE=fips AWS_USE_FIPS_ENDPOINT=no "$TOOL" --fips)" = false ] &&
        [ "$(env -i "${BASE_ENV[@]}" AWS_USE_FIPS_ENDPOINT=True "$TOOL" --fips)" = true ]
}
check "the FIPS setting that picks the tunnel's FipsDnsName: variable before profile, 'true' in any case" fips_setting

# Two emulators of one world: EC2 is asked at A, Instance Connect at B.
start_emulator a || { not_ok "emulator A starts"; finish; exit; }
A_URL=$EMU_URL A_LOG="$EMU_STATE/emulator.log"
start_emulator b || { not_ok "emulator B starts"; finish; exit; }
B_URL=$EMU_URL B_LOG="$EMU_STATE/emulator.log"
KEYTMP="$WORK/keys"
mkdir -p "$KEYTMP"
# routed [VAR=VALUE...]: eic ssh (which asks EC2, then pushes) in that environment; ssh itself
# finds nothing to log in to, which does not matter here: A must have seen DescribeInstances and
# no push, B the push and no EC2 call.
routed() {
    local a_ec2 b_push
    a_ec2=$(grep -c "ec2: DescribeInstances by" "$A_LOG") b_push=$(grep -c "pushed key" "$B_LOG")
    env AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK AWS_CONFIG_FILE="$WORK/routes" \
        AWS_SHARED_CREDENTIALS_FILE=/dev/null TMPDIR="$KEYTMP" "$@" timeout 60 "$EIC_CLIENT" ssh --debug \
        --instance-id $INSTANCE --region $REGION --connection-type direct -- -o ConnectTimeout=2 -p 1 true \
        2>"$WORK/routed.err"
    grep "endpoint" "$WORK/routed.err"
    [ "$(grep -c "ec2: DescribeInstances by" "$A_LOG")" -gt "$a_ec2" ] &&
        [ "$(grep -c "pushed key" "$B_LOG")" -gt "$b_push" ] && ! grep -q "pushed key" "$A_LOG" &&
        ! grep -q "ec2: DescribeInstances" "$B_LOG"
}
: >"$WORK/routes"
check "AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT send eic ssh's two APIs to two emulators" \
    routed AWS_ENDPOINT_URL_EC2="$A_URL" AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$B_URL"
routes_in_config() {
    printf '[profile split]\nservices = two\nendpoint_url = http://127.0.0.1:1\n[services two]\nec2 =\n  endpoint_url = %s\nec2_instance_connect =\n  endpoint_url = %s\n' \
        "$A_URL" "$B_URL" >"$WORK/routes"
    routed AWS_PROFILE=split
}
check "a profile's services section sends them to the two emulators" routes_in_config
cli_for_eic() {
    # The pushes go to --endpoint-url, EC2 follows AWS_ENDPOINT_URL.
    local a_ec2 b_push
    a_ec2=$(grep -c "ec2: DescribeInstances by" "$A_LOG") b_push=$(grep -c "pushed key" "$B_LOG")
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK AWS_CONFIG_FILE=/dev/null \
        AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ENDPOINT_URL="$A_URL" TMPDIR="$KEYTMP" timeout 60 "$EIC_CLIENT" \
        ssh --endpoint-url "$B_URL" --instance-id $INSTANCE --region $REGION --connection-type direct -- \
        -o ConnectTimeout=2 -p 1 true 2>/dev/null
    [ "$(grep -c "ec2: DescribeInstances by" "$A_LOG")" -gt "$a_ec2" ] &&
        [ "$(grep -c "pushed key" "$B_LOG")" -gt "$b_push" ] && ! grep -q "pushed key" "$A_LOG"
}
check "eic ssh --endpoint-url is the Instance Connect API's only (EC2 from AWS_ENDPOINT_URL)" cli_for_eic

# What eic signs for a configured endpoint is botocore's signature of the same request.
# signed_like_botocore PATH [VAR=VALUE...]: eic send-ssh-public-key to a capturing server reached
# through AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT (with PATH), judged by cred_judge.py resign.
signed_like_botocore() {
    local path=$1 cap
    shift
    rm -f "$WORK/port" "$WORK/raw"
    /usr/bin/python3 "$SIGV4" capture "$WORK/port" "$WORK/raw" &
    cap=$!
    for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
    env AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK AWS_CONFIG_FILE=/dev/null \
        AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="http://127.0.0.1:$(cat "$WORK/port")$path" "$@" \
        timeout 30 "$EIC_CLIENT" send-ssh-public-key --instance-id $INSTANCE --instance-os-user alice \
        --ssh-public-key "file://$TEST_DATA/sshkey/ed25519.pub" --region $REGION >/dev/null || { kill $cap; return 1; }
    wait $cap
    head -n 1 "$WORK/raw"
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK /usr/bin/python3 "$CRED_JUDGE" resign "$WORK/raw"
}
check "signature for an endpoint from AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT (port in Host) equals botocore's" \
    signed_like_botocore ""
check "signature for an endpoint with a path equals botocore's" signed_like_botocore "/base/path"
# The same for EC2's Query protocol: eic open-tunnel's DescribeInstances, sent to the capturing
# server as the profile's services section says.
ec2_signed_like_botocore() {
    local cap
    rm -f "$WORK/port" "$WORK/raw"
    /usr/bin/python3 "$SIGV4" capture "$WORK/port" "$WORK/raw" &
    cap=$!
    for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
    printf '[default]\nservices = cap\n[services cap]\nec2 =\n  endpoint_url = http://127.0.0.1:%s/ec2\n' \
        "$(cat "$WORK/port")" >"$WORK/capture.config"
    # The capturing server's answer is not EC2's: the command fails after the request went out.
    AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK AWS_CONFIG_FILE="$WORK/capture.config" \
        AWS_MAX_ATTEMPTS=1 timeout 30 "$EIC_CLIENT" open-tunnel --instance-id $INSTANCE --region $REGION \
        </dev/null >/dev/null 2>&1
    wait $cap
    head -n 1 "$WORK/raw"
    grep -q "^POST /ec2 " "$WORK/raw" && grep -q "Action=DescribeInstances" "$WORK/raw" &&
        AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK /usr/bin/python3 "$CRED_JUDGE" resign "$WORK/raw"
}
check "signature of EC2's DescribeInstances for a services-section URL equals botocore's" ec2_signed_like_botocore

finish
