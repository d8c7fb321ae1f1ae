#!/bin/bash
# eic's credential chain (#11), each source alone against the emulator (world
# tests/data/worlds/credentials.json), with botocore on this machine as the judge: in the same
# environment botocore must resolve the same source and access key, and signing the request eic
# sent again with botocore's credentials (same X-Amz-Date) must give the same Authorization and
# X-Amz-Security-Token headers. The pushed key's #Caller shows whose credentials they were.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cred_lib.sh"

start_emulator creds --config "$TEST_DATA/worlds/credentials.json" || { not_ok "emulator starts"; finish; exit 1; }
URL=$EMU_URL

# ---- credential_process ----
mkdir -p "$WORK/cred proc"
HELPER="$WORK/cred proc/helper"
cat >"$HELPER" <<'SCRIPT'
#!/bin/sh
# The words must arrive as shlex splits them: $1 = --who, $2 = the quoted name.
[ "$1" = --who ] || { echo "bad argument 1: $1" >&2; exit 3; }
case $2 in
"carol x") printf '{"Version": 1, "AccessKeyId": "AKIAEICCREDSCAROL003", "SecretAccessKey": "eic-creds-secret-carol"}\n' ;;
dave) printf '{"Version": 1, "AccessKeyId": "ASIAEICCREDSDAVE0004", "SecretAccessKey": "eic-creds-secret-dave", "SessionToken": "eic-creds-session-token-dave", "Expiration": "2099-01-01T00:00:00Z"}\n' ;;
v2) printf '{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "B"}\n' ;;
fail) echo "helper: no such vault" >&2; exit 7 ;;
*) echo "bad argument 2: $2" >&2; exit 3 ;;
esac
SCRIPT
chmod +x "$HELPER"
process_profile() {
    case_env "$1"
    cat >"$CASE_HOME/.aws/config" <<CFG
[default]
credential_process = "$HELPER" --who $2
CFG
}

process_profile proc "'carol x'"
check "credential_process (quoted path with a space, quoted argument): push as carol" \
    pushed_by proc custom-process "arn:aws:iam::$ACCOUNT:user/carol"
check "credential_process: botocore resolves the same source and key" same_as_botocore custom-process
check "credential_process: botocore signs eic's request identically" same_signature

process_profile proc-token dave
check "credential_process with SessionToken and Expiration: push as dave" \
    pushed_by proctoken custom-process "arn:aws:sts::$ACCOUNT:assumed-role/Vault/dave"
check "credential_process with a session token: botocore signs identically" same_signature

process_profile proc-v2 v2
check "credential_process Version 2: refused with botocore's words" \
    refused 253 "Unsupported version '2' for credential process provider, supported versions: 1"
process_profile proc-fail fail
check "credential_process failing: exit 253 naming custom-process" \
    refused 253 "Error when retrieving credentials from custom-process: .*exited with status 7"

# ---- container credentials ----
case_env container AWS_CONTAINER_CREDENTIALS_FULL_URI="$URL/v2/credentials/eic-task" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN=eic-task-authorization
check "container credentials (FULL_URI, authorization token): push as the Task role" \
    pushed_by container container-role "arn:aws:sts::$ACCOUNT:assumed-role/Task/container"
check "container credentials: botocore resolves the same source and key" same_as_botocore container-role
check "container credentials: botocore signs eic's request identically" same_signature

echo eic-task-authorization >"$WORK/container-token"
case_env container-file AWS_CONTAINER_CREDENTIALS_FULL_URI="$URL/v2/credentials/eic-task" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$WORK/container-token" AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong
check "container credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins over the variable" \
    pushed_by containerfile container-role "arn:aws:sts::$ACCOUNT:assumed-role/Task/container"

case_env container-wrong AWS_CONTAINER_CREDENTIALS_FULL_URI="$URL/v2/credentials/eic-task" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong
check "container credentials with a wrong token: 253 naming container-role and the 401" \
    refused 253 "Error when retrieving credentials from container-role: .*(401)"
case_env container-host AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/v2/credentials/eic-task"
check "container FULL_URI over http to a non-local host is refused" \
    refused 253 "Unsupported host '192.0.2.1'"

# ---- IMDS instance profile ----
case_env imds AWS_EC2_METADATA_SERVICE_ENDPOINT="$URL/"
check "IMDSv2 instance-profile credentials: push as the Bastion role of the instance" \
    pushed_by imds iam-role "arn:aws:sts::$ACCOUNT:assumed-role/Bastion/$INSTANCE"
check "IMDS: botocore resolves the same source and key" same_as_botocore iam-role
check "IMDS: botocore signs eic's request identically" same_signature

# ---- assume-role profiles (STS AssumeRole) ----
role_profile role 'source_profile = alice\nrole_session_name = eic-deploy\nexternal_id = eic-external-7\nduration_seconds = 7200\n'
check "assume-role (source_profile, session name, external id, duration): push as the Deploy role" \
    pushed_by role assume-role "arn:aws:sts::$ACCOUNT:assumed-role/Deploy/eic-deploy"
check "assume-role: botocore resolves assume-role and its push has the same caller" \
    botocore_pushed_as role-boto assume-role "arn:aws:sts::$ACCOUNT:assumed-role/Deploy/eic-deploy"

role_profile role-env 'credential_source = Environment\nrole_session_name = from-env\nexternal_id = eic-external-7\n'
CASE_ENV+=(AWS_ACCESS_KEY_ID="$ALICE_AK" AWS_SECRET_ACCESS_KEY="$ALICE_SK")
EXTRA=(--profile default) # the environment is then no source of its own (botocore), only the role's
check "assume-role with credential_source = Environment (--profile default)" \
    pushed_by roleenv assume-role "arn:aws:sts::$ACCOUNT:assumed-role/Deploy/from-env"
EXTRA=()

role_profile role-noext 'source_profile = alice\n'
check "assume-role without the role's external id: AccessDenied from STS, 253 naming assume-role" \
    refused 253 "Error when retrieving credentials from assume-role: An error occurred (AccessDenied)"
role_profile role-untrusted 'source_profile = carol\nexternal_id = eic-external-7\n'
check "assume-role from a principal the role does not trust: AccessDenied naming carol" \
    refused 253 "User: arn:aws:iam::$ACCOUNT:user/carol is not authorized to perform: sts:AssumeRole"
role_profile role-nosource ''
check "role_arn without source_profile or credential_source: botocore's complaint" \
    refused 253 "contains role_arn but neither source_profile nor credential_source"

# ---- web identity (STS AssumeRoleWithWebIdentity) ----
printf %s eic-oidc-token-1 >"$WORK/oidc-token" # a JWT file has no final newline
case_env webid AWS_ENDPOINT_URL_STS="$URL" EIC_JUDGE_STS_URL="$URL" AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/oidc-token" \
    AWS_ROLE_ARN="arn:aws:iam::$ACCOUNT:role/WebApp" AWS_ROLE_SESSION_NAME=pod-1
check "web identity from AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN: push as the WebApp role" \
    pushed_by webid assume-role-with-web-identity "arn:aws:sts::$ACCOUNT:assumed-role/WebApp/pod-1"
check "web identity: botocore resolves the same source and its push has the same caller" \
    botocore_pushed_as webid-boto assume-role-with-web-identity "arn:aws:sts::$ACCOUNT:assumed-role/WebApp/pod-1"

case_env webid-profile AWS_ENDPOINT_URL_STS="$URL" EIC_JUDGE_STS_URL="$URL"
printf '[default]\nrole_arn = arn:aws:iam::%s:role/WebApp\nweb_identity_token_file = %s\nrole_session_name = cfg-1\n' \
    "$ACCOUNT" "$WORK/oidc-token" >"$CASE_HOME/.aws/config"
check "web identity from the profile's web_identity_token_file" \
    pushed_by webidprofile assume-role-with-web-identity "arn:aws:sts::$ACCOUNT:assumed-role/WebApp/cfg-1"

echo not-the-token >"$WORK/bad-token"
case_env webid-bad AWS_ENDPOINT_URL_STS="$URL" AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/bad-token" \
    AWS_ROLE_ARN="arn:aws:iam::$ACCOUNT:role/WebApp"
check "web identity with a token the role does not accept: InvalidIdentityToken, 253" \
    refused 253 "An error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation"

# ---- order ----
case_env order-env AWS_ACCESS_KEY_ID="$ALICE_AK" AWS_SECRET_ACCESS_KEY="$ALICE_SK" \
    AWS_CONTAINER_CREDENTIALS_FULL_URI="$URL/v2/credentials/eic-task" AWS_CONTAINER_AUTHORIZATION_TOKEN=eic-task-authorization \
    AWS_EC2_METADATA_SERVICE_ENDPOINT="$URL/"
check "the environment comes before container and IMDS credentials" \
    pushed_by orderenv env "arn:aws:iam::$ACCOUNT:user/alice"
check "order: botocore agrees" same_as_botocore env

process_profile order-proc "'carol x'"
CASE_ENV+=(AWS_CONTAINER_CREDENTIALS_FULL_URI="$URL/v2/credentials/eic-task" AWS_CONTAINER_AUTHORIZATION_TOKEN=eic-task-authorization)
check "credential_process comes before container credentials" \
    pushed_by orderproc custom-process "arn:aws:iam::$ACCOUNT:user/carol"
check "order: botocore agrees" same_as_botocore custom-process

case_env order-ctr AWS_CONTAINER_CREDENTIALS_FULL_URI="$URL/v2/credentials/eic-task" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN=eic-task-authorization AWS_EC2_METADATA_SERVICE_ENDPOINT="$URL/"
check "container credentials come before IMDS" \
    pushed_by orderctr container-role "arn:aws:sts::$ACCOUNT:assumed-role/Task/container"
check "order: botocore agrees" same_as_botocore container-role

case_env none
check "no source at all: the CLI's message, 253" refused 253 "Unable to locate credentials"

finish
