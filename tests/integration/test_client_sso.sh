#!/bin/bash
# The rest of eic's credential chain (#11) against the emulator (world
# tests/data/worlds/credentials.json), botocore judging as in test_client_credentials.sh: IAM
# Identity Center (SSO) profiles and the renewal of their token (sso-oidc CreateToken, botocore
# renewing the same cache file), assume-role with MFA (the code typed on a pseudo-terminal), and
# temporary credentials refreshed between the signings of one `eic ssh`, proved by the access keys
# the emulator saw signing each request. `eic ssh` runs up to ssh itself: DescribeInstances and
# the push are made, then ssh finds nothing listening on port 1 of the instance (127.0.0.1): 255.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cred_lib.sh"

PTY="$TOP/tests/integration/pty_run.py"
# The portal names the session after the user holding the token (the world's sso_users: jdoe).
SSO_ADMIN="arn:aws:sts::$ACCOUNT:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jdoe"
SSO_SHORT="arn:aws:sts::$ACCOUNT:assumed-role/AWSReservedSSO_Short_0123456789abcdef/jdoe"
LEGACY_URL=https://legacy.awsapps.com/start

start_emulator sso --config "$TEST_DATA/worlds/credentials.json" || { not_ok "emulator starts"; finish; exit 1; }
URL=$EMU_URL
LOG="$EMU_STATE/emulator.log"

# sso_case NAME PROFILE-LINES: profile "dev" (AWS_PROFILE) with PROFILE-LINES (printf %b) and the
# sso-session "corp"; the portal and sso-oidc at the emulator for eic and for botocore.
sso_case() {
    case_env "$1" AWS_PROFILE=dev AWS_ENDPOINT_URL_SSO="$URL" EIC_JUDGE_SSO_URL="$URL" \
        AWS_ENDPOINT_URL_SSO_OIDC="$URL" EIC_JUDGE_SSO_OIDC_URL="$URL"
    printf '[profile dev]\n%b[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n' \
        "$2" >"$CASE_HOME/.aws/config"
}

# cache_of NAME: the cache file `aws sso login` writes for NAME (the sso-session's name, or a
# legacy profile's start URL) in CASE_HOME: ~/.aws/sso/cache/<sha1 of NAME>.json.
cache_of() {
    echo "$CASE_HOME/.aws/sso/cache/$(printf %s "$1" | sha1sum | cut -d' ' -f1).json"
}

# sso_token NAME TOKEN EXPIRES: NAME's cache file without a client registration.
sso_token() {
    mkdir -p "$CASE_HOME/.aws/sso/cache"
    printf '{"startUrl": "%s", "region": "us-east-1", "accessToken": "%s", "expiresAt": "%s"}\n' "$1" "$2" "$3" \
        >"$(cache_of "$1")"
}

# eic_ssh OS-USER: eic ssh in CASE_ENV (LOG_FROM: the emulator's first log line of this run).
eic_ssh() {
    LOG_FROM=$(($(wc -l <"$LOG") + 1))
    env -i "${CASE_ENV[@]}" AWS_ENDPOINT_URL_EC2="$URL" "$EIC_CLIENT" ssh --instance-id "$INSTANCE" --os-user "$1" \
        --connection-type direct --endpoint-url "$URL" --debug -- -p 1 -o BatchMode=yes -o ConnectTimeout=5 true >"$WORK/out" 2>"$WORK/err" \
        </dev/null
    RC=$?
}

# ssh_pushed_by OS-USER METHOD CALLER: eic ssh got to ssh (255) with credentials from METHOD,
# and the key it pushed is recorded with CALLER.
ssh_pushed_by() {
    eic_ssh "$1"
    echo "exit status $RC"
    grep -v 'debug: |' "$WORK/err"
    [ "$RC" -eq 255 ] && grep -q "credentials from $2, access key" "$WORK/err" || return 1
    imds_get "/latest/meta-data/managed-ssh-keys/active-keys/$1/" >"$WORK/active" || return 1
    grep -qxF "#Caller=$3" "$WORK/active"
}

# signing_key SERVICE: the access key that signed the last SERVICE request of the eic_ssh run.
signing_key() {
    tail -n +"$LOG_FROM" "$LOG" | sed -n "s/.*sigv4: $1 request signed by .* with access key \([A-Z0-9]*\)$/\1/p" | tail -n 1
}

# keys_of_run ISSUER: DescribeInstances and the push of the eic_ssh run were signed with keys
# K1 and K2 that ISSUER ("sts: AssumeRole", "sso: GetRoleCredentials") issued in that run.
keys_of_run() {
    K1=$(signing_key ec2)
    K2=$(signing_key ec2-instance-connect)
    echo "DescribeInstances signed with ${K1:-?}, SendSSHPublicKey with ${K2:-?}"
    tail -n +"$LOG_FROM" "$LOG" | grep -E "$1: ($K1|$K2) for"
    [ -n "$K1" ] && [ -n "$K2" ] && tail -n +"$LOG_FROM" "$LOG" | grep -q "$1: $K1 for" &&
        tail -n +"$LOG_FROM" "$LOG" | grep -q "$1: $K2 for"
}

# refreshed OS-USER METHOD CALLER ISSUER: credentials that expire within 15 minutes are fetched
# again before the push: two different keys, both issued by ISSUER.
refreshed() {
    ssh_pushed_by "$1" "$2" "$3" && keys_of_run "$4" && [ "$K1" != "$K2" ] &&
        grep -q "credentials from $2 refreshed" "$WORK/err"
}

# not_refreshed OS-USER METHOD CALLER ISSUER: longer-lived ones are used for both signings.
not_refreshed() {
    ssh_pushed_by "$1" "$2" "$3" && keys_of_run "$4" && [ "$K1" = "$K2" ] && ! grep -q refreshed "$WORK/err"
}

# ---- SSO: sso-session profiles ----
SESSION_LINES="sso_session = corp\nsso_account_id = $ACCOUNT\n"
sso_case sso "${SESSION_LINES}sso_role_name = Admin\nregion = us-east-1\n"
sso_token corp eic-sso-access-token 2099-01-01T00:00:00Z
check "SSO (sso_session): push as the Admin permission set's role" pushed_by ssosession sso "$SSO_ADMIN"
check "SSO (sso_session): botocore resolves sso and its push has the same caller" \
    botocore_pushed_as ssosession-boto sso "$SSO_ADMIN"
check "SSO (sso_session): eic ssh signs DescribeInstances and the push" ssh_pushed_by ssossh sso "$SSO_ADMIN"

# The portal's URL as the SDKs resolve it (client/endpoints.h, judged by botocore in
# test_endpoints.sh): here from the profile's services section, no variable.
sso_from_section() {
    case_env sso-section AWS_PROFILE=dev
    printf '[profile dev]\n%bsso_role_name = Admin\nservices = emu\n[services emu]\nsso =\n  endpoint_url = %s\n%s\n' \
        "$SESSION_LINES" "$URL" '[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1' >"$CASE_HOME/.aws/config"
    sso_token corp eic-sso-access-token 2099-01-01T00:00:00Z
    pushed_by ssosection sso "$SSO_ADMIN" && grep -q "SSO portal $URL (from the profile's services section)" "$WORK/err"
}
check "SSO: the portal's URL from the profile's services section (sso =)" sso_from_section

# ---- SSO: legacy profiles ----
sso_case sso-legacy "sso_start_url = $LEGACY_URL\nsso_region = us-east-1\nsso_account_id = $ACCOUNT\nsso_role_name = Admin\n"
# A token of no user in the world: session "sso". expiresAt as older AWS CLI v2 releases wrote it.
sso_token "$LEGACY_URL" eic-sso-nameless-token 2099-01-01T00:00:00UTC
SSO_NAMELESS="arn:aws:sts::$ACCOUNT:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/sso"
check "SSO (legacy sso_start_url, token cached under its SHA-1): push as the Admin role" \
    pushed_by ssolegacy sso "$SSO_NAMELESS"
check "SSO (legacy): botocore resolves sso and its push has the same caller" \
    botocore_pushed_as ssolegacy-boto sso "$SSO_NAMELESS"

# ---- SSO: refused ----
sso_case sso-expired "${SESSION_LINES}sso_role_name = Admin\n"
sso_token corp eic-sso-access-token 2020-01-01T00:00:00Z
check "SSO with an expired token: 253, run aws sso login" \
    refused 253 "Token has expired and refresh failed. To refresh this SSO session run: aws sso login --profile dev"
sso_case sso-nologin "${SESSION_LINES}sso_role_name = Admin\n"
check "SSO without a cached token: 253, run aws sso login" \
    refused 253 "Token for corp does not exist. To refresh this SSO session run: aws sso login --profile dev"
sso_case sso-badtoken "${SESSION_LINES}sso_role_name = Admin\n"
sso_token corp not-a-token 2099-01-01T00:00:00Z
check "SSO with a token the portal does not know (401): 253, run aws sso login" \
    refused 253 "has expired or is otherwise invalid. To refresh this SSO session run: aws sso login --profile dev"
sso_case sso-forbidden "${SESSION_LINES}sso_role_name = ReadOnly\n"
sso_token corp eic-sso-access-token 2099-01-01T00:00:00Z
check "SSO role the token may not take: ForbiddenException from GetRoleCredentials" \
    refused 253 "An error occurred (ForbiddenException) when calling the GetRoleCredentials operation: No access"
sso_case sso-partial "sso_role_name = Admin\n"
check "SSO profile without account, start URL and region: botocore's complaint" \
    refused 253 'The profile "dev" is configured to use SSO but is missing required configuration: sso_account_id, sso_start_url, sso_region'
sso_case sso-nosession "sso_session = nope\nsso_account_id = $ACCOUNT\nsso_role_name = Admin\n"
check "SSO profile naming an sso-session that does not exist" \
    refused 253 'The specified sso-session does not exist: "nope"'
sso_case sso-mixed "${SESSION_LINES}sso_role_name = Admin\nsso_region = eu-west-1\n"
check "SSO profile whose sso_region contradicts its sso-session" \
    refused 253 "The value for sso_region is inconsistent between profile (eu-west-1) and sso-session (us-east-1)."

# ---- SSO: renewing the token with its refresh token (sso-oidc CreateToken) ----
# in_minutes N: the UTC time N minutes from now (N < 0: ago), as `aws sso login` writes it.
in_minutes() {
    date -u -d "$1 min" +%Y-%m-%dT%H:%M:%SZ
}
# sso_token_renewable ACCESS EXPIRES REFRESH REGISTRATION-EXPIRES [NAME]: the cache of NAME
# (default the sso-session corp) with the client registration `aws sso login` keeps for
# renewals (the world's client eic-sso-client).
sso_token_renewable() {
    local name=${5:-corp} url=https://corp.awsapps.com/start
    [ "$name" = corp ] || url=$name
    mkdir -p "$CASE_HOME/.aws/sso/cache"
    printf '{"startUrl": "%s", "region": "us-east-1", "accessToken": "%s", "expiresAt": "%s", "clientId": "eic-sso-client", "clientSecret": "eic-sso-client-secret", "registrationExpiresAt": "%s", "refreshToken": "%s"}\n' \
        "$url" "$1" "$2" "$4" "$3" >"$(cache_of "$name")"
}
# create_tokens: the emulator's CreateToken lines since LOG_FROM.
create_tokens() {
    tail -n +"$LOG_FROM" "$LOG" | grep "sso-oidc: CreateToken" || true
}
# cache_renewed FILE: the document botocore writes after a renewal: mode 0600, every key, the
# new access token, expiresAt hours ahead; nothing else left in the cache directory.
cache_renewed() {
    ls -la "$(dirname "$1")"
    "$PY" - "$1" <<'PY'
import datetime, json, os, stat, sys
path = sys.argv[1]
st = os.lstat(path)
doc = json.load(open(path))
print(oct(stat.S_IMODE(st.st_mode)), sorted(doc), doc["expiresAt"])
keys = ["startUrl", "region", "accessToken", "expiresAt", "clientId", "clientSecret", "registrationExpiresAt",
        "refreshToken"]
expires = datetime.datetime.strptime(doc["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")
ok = (stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and sorted(doc) == sorted(keys) and
      doc["accessToken"] == "eic-sso-access-token" and doc["refreshToken"] == "eic-sso-refresh-token" and
      doc["startUrl"] == "https://corp.awsapps.com/start" and doc["region"] == "us-east-1" and
      doc["clientId"] == "eic-sso-client" and doc["clientSecret"] == "eic-sso-client-secret" and
      expires > datetime.datetime.utcnow() + datetime.timedelta(hours=7))
sys.exit(0 if ok else 1)
PY
    [ "$(find "$(dirname "$1")" -mindepth 1 | wc -l)" -eq 1 ]
}
# renewed_push OS-USER: eic renewed the token (one CreateToken at the emulator) and pushed as the
# Admin role with it (the cached token is one the portal does not know).
renewed_push() {
    LOG_FROM=$(($(wc -l <"$LOG") + 1))
    pushed_by "$1" sso "$SSO_ADMIN" || return 1
    create_tokens
    grep -q "SSO token renewed with sso-oidc CreateToken" "$WORK/err" &&
        [ "$(create_tokens | grep -c "CreateToken (refresh_token) for client eic-sso-client: a new access token for jdoe")" -eq 1 ]
}
sso_renew_case() {
    sso_case "$1" "${SESSION_LINES}sso_role_name = Admin\n"
    sso_token_renewable "$2" "$3" "$4" "$5"
}
renew_soon() {
    sso_renew_case sso-renew eic-sso-stale-token "$(in_minutes 10)" eic-sso-refresh-token "$(in_minutes 600)"
    renewed_push ssorenew && cache_renewed "$(cache_of corp)"
}
check "SSO token expiring in 10 minutes: renewed with CreateToken, push as Admin, the cache rewritten as botocore does" \
    renew_soon
# The cache of another user (root run with that user's HOME) stays that user's.
renew_expired() {
    sso_renew_case sso-renew-expired eic-sso-stale-token "$(in_minutes -30)" eic-sso-refresh-token "$(in_minutes 600)"
    chown 65534:65534 "$(cache_of corp)"
    renewed_push ssorenewexp && cache_renewed "$(cache_of corp)" && [ "$(stat -c %u:%g "$(cache_of corp)")" = 65534:65534 ]
}
check "SSO token expired half an hour ago with a refresh token: renewed, push as Admin, the cache still its owner's" \
    renew_expired

# botocore renews the same starting cache (a copy in a HOME of its own) and writes the same
# document, but for expiresAt (its own now).
renew_like_botocore() {
    local boto="$WORK/sso-renew-boto"
    sso_renew_case sso-renew-judge eic-sso-stale-token "$(in_minutes 5)" eic-sso-refresh-token "$(in_minutes 600)"
    rm -rf "$boto" && cp -a "$CASE_HOME" "$boto"
    renewed_push ssorenewjudge || return 1
    LOG_FROM=$(($(wc -l <"$LOG") + 1))
    env -i "${CASE_ENV[@]}" HOME="$boto" "$PY" "$JUDGE" resolve >"$WORK/botocore" 2>&1
    cat "$WORK/botocore"
    create_tokens
    grep -q '^sso ' "$WORK/botocore" && [ "$(create_tokens | wc -l)" -eq 1 ] || return 1
    "$PY" - "$(cache_of corp)" "$boto/.aws/sso/cache/$(basename "$(cache_of corp)")" <<'PY'
import json, sys
eic, boto = (json.load(open(p)) for p in sys.argv[1:3])
print("eic:     ", sorted(eic), eic["expiresAt"])
print("botocore:", sorted(boto), boto["expiresAt"])
eic.pop("expiresAt")
boto.pop("expiresAt")
sys.exit(0 if eic == boto else 1)
PY
}
check "SSO token renewal: botocore renews the same cache and writes the same keys and values" renew_like_botocore

renew_refused_expired() {
    sso_renew_case sso-renew-refused eic-sso-access-token "$(in_minutes -5)" eic-sso-bogus-refresh "$(in_minutes 600)"
    cp "$(cache_of corp)" "$WORK/cache-before"
    LOG_FROM=$(($(wc -l <"$LOG") + 1))
    refused 253 "Token has expired and refresh failed. To refresh this SSO session run: aws sso login --profile dev" ||
        return 1
    create_tokens
    create_tokens | grep -q "refused: unknown refresh token" &&
        grep -q "SSO token renewal refused: HTTP 400, InvalidGrantException: Invalid refresh token provided" "$WORK/err" &&
        cmp "$WORK/cache-before" "$(cache_of corp)"
}
check "SSO token renewal refused (unknown refresh token) on an expired token: 253, run aws sso login" \
    renew_refused_expired
renew_refused_valid() {
    sso_renew_case sso-renew-keep eic-sso-access-token "$(in_minutes 10)" eic-sso-bogus-refresh "$(in_minutes 600)"
    LOG_FROM=$(($(wc -l <"$LOG") + 1))
    pushed_by ssorenewkeep sso "$SSO_ADMIN" && [ "$(create_tokens | wc -l)" -eq 1 ] &&
        grep -q "SSO token renewal refused: HTTP 400, InvalidGrantException" "$WORK/err"
}
check "SSO token renewal refused on a token valid for 10 more minutes: the cached token is used" renew_refused_valid
renew_wrong_secret() {
    sso_renew_case sso-renew-secret eic-sso-access-token "$(in_minutes 10)" eic-sso-refresh-token "$(in_minutes 600)"
    sed -i 's/eic-sso-client-secret/wrong-secret/' "$(cache_of corp)"
    LOG_FROM=$(($(wc -l <"$LOG") + 1))
    pushed_by ssorenewsecret sso "$SSO_ADMIN" && create_tokens | grep -q "refused: invalid client" &&
        grep -q "SSO token renewal refused: HTTP 401, InvalidClientException: Invalid client provided" "$WORK/err"
}
check "SSO token renewal with a wrong client secret (401 InvalidClientException): the cached token is used" \
    renew_wrong_secret
renew_registration_expired() {
    sso_renew_case sso-renew-reg eic-sso-access-token "$(in_minutes -5)" eic-sso-refresh-token "$(in_minutes -60)"
    LOG_FROM=$(($(wc -l <"$LOG") + 1))
    refused 253 "Token has expired and refresh failed. To refresh this SSO session run: aws sso login --profile dev" &&
        [ -z "$(create_tokens)" ] && grep -q "cannot be renewed: the client registration has expired" "$WORK/err"
}
check "SSO client registration expired: no CreateToken, 253, run aws sso login" renew_registration_expired
renew_legacy() {
    sso_case sso-renew-legacy "sso_start_url = $LEGACY_URL\nsso_region = us-east-1\nsso_account_id = $ACCOUNT\nsso_role_name = Admin\n"
    sso_token_renewable eic-sso-nameless-token "$(in_minutes 10)" eic-sso-refresh-token "$(in_minutes 600)" "$LEGACY_URL"
    cp "$(cache_of "$LEGACY_URL")" "$WORK/cache-before"
    LOG_FROM=$(($(wc -l <"$LOG") + 1))
    pushed_by ssorenewlegacy sso "$SSO_NAMELESS" && [ -z "$(create_tokens)" ] &&
        grep -q "cannot be renewed: a legacy (sso_start_url) profile" "$WORK/err" &&
        cmp "$WORK/cache-before" "$(cache_of "$LEGACY_URL")"
}
check "SSO legacy (sso_start_url) profile with refresh data: never renewed, as botocore" renew_legacy

# Symbolic links: ones planted in the cache directory (at the names a temporary file could
# have) are never followed; a cache file that is itself a link is read (as botocore reads it)
# but never written through nor replaced: the renewed token is used for this run only.
renew_planted_links() {
    local cache
    sso_renew_case sso-renew-links eic-sso-stale-token "$(in_minutes 10)" eic-sso-refresh-token "$(in_minutes 600)"
    cache=$(cache_of corp)
    echo victim >"$WORK/victim"
    for n in "$cache.tmp" "$cache.0000000000000000.tmp" "$(dirname "$cache")/.tmp"; do ln -s "$WORK/victim" "$n"; done
    renewed_push ssorenewlinks || return 1
    [ "$(cat "$WORK/victim")" = victim ] && [ "$(find "$(dirname "$cache")" -type l | wc -l)" -eq 3 ] &&
        find "$(dirname "$cache")" -type l -delete && cache_renewed "$cache"
}
check "SSO token renewal: symbolic links planted in the cache directory are not followed" renew_planted_links
renew_cache_is_link() {
    local cache
    sso_renew_case sso-renew-islink eic-sso-stale-token "$(in_minutes 10)" eic-sso-refresh-token "$(in_minutes 600)"
    cache=$(cache_of corp)
    mv "$cache" "$WORK/elsewhere.json" && ln -s "$WORK/elsewhere.json" "$cache"
    cp "$WORK/elsewhere.json" "$WORK/cache-before"
    renewed_push ssorenewislink || return 1
    [ -L "$cache" ] && cmp "$WORK/cache-before" "$WORK/elsewhere.json" &&
        grep -q "the renewed SSO token is used but not saved: .*: a symbolic link, left as it is" "$WORK/err"
}
check "SSO token renewal: a cache file that is a symbolic link is neither written through nor replaced" \
    renew_cache_is_link

# ---- MFA (assume-role with mfa_serial) ----
MFA_SERIAL="arn:aws:iam::$ACCOUNT:mfa/alice"
MFA_PROMPT="Enter MFA code for $MFA_SERIAL: "
OPERATOR="arn:aws:sts::$ACCOUNT:assumed-role/Operator/mfa-1"
role_profile mfa "source_profile = alice\nrole_session_name = mfa-1\nmfa_serial = $MFA_SERIAL\n" Operator

# mfa_push OS-USER CODE: eic's push on a pseudo-terminal, CODE typed at the prompt.
mfa_push() {
    "$PY" "$PTY" "$2" "$MFA_PROMPT" env -i "${CASE_ENV[@]}" "$EIC_CLIENT" send-ssh-public-key \
        --instance-id "$INSTANCE" --instance-os-user "$1" --ssh-public-key "$KEY" --availability-zone "$ZONE" \
        --endpoint-url "$URL" >"$WORK/tty" 2>&1
    RC=$?
    echo "exit status $RC"
    cat "$WORK/tty"
}
mfa_right() {
    mfa_push mfa 246810
    [ "$RC" -eq 0 ] && grep -qF "$MFA_PROMPT" "$WORK/tty" && ! grep -q 246810 "$WORK/tty" || return 1
    imds_get "/latest/meta-data/managed-ssh-keys/active-keys/mfa/" | grep -qxF "#Caller=$OPERATOR"
}
check "MFA: the CLI's prompt on the terminal, the code not echoed, push as the Operator role" mfa_right
mfa_botocore() {
    "$PY" "$PTY" 246810 "$MFA_PROMPT" env -i "${CASE_ENV[@]}" "$PY" "$JUDGE" push "$URL" mfa-boto \
        "$TEST_DATA/sshkey/ed25519.pub" >"$WORK/tty" 2>&1
    RC=$?
    cat "$WORK/tty"
    [ "$RC" -eq 0 ] && grep -qF "$MFA_PROMPT" "$WORK/tty" && [ "$(tail -n 1 "$WORK/tty" | tr -d '\r')" = assume-role ] &&
        imds_get "/latest/meta-data/managed-ssh-keys/active-keys/mfa-boto/" | grep -qxF "#Caller=$OPERATOR"
}
check "MFA: botocore asks with the same prompt and its push has the same caller" mfa_botocore
mfa_ssh() {
    "$PY" "$PTY" 246810 "$MFA_PROMPT" env -i "${CASE_ENV[@]}" AWS_ENDPOINT_URL_EC2="$URL" "$EIC_CLIENT" ssh \
        --instance-id "$INSTANCE" --os-user mfassh --connection-type direct --endpoint-url "$URL" -- -p 1 -o BatchMode=yes true >"$WORK/tty" 2>&1
    RC=$?
    echo "exit status $RC"
    cat "$WORK/tty"
    [ "$RC" -eq 255 ] && [ "$(grep -c "Enter MFA code" "$WORK/tty")" -eq 1 ] &&
        imds_get "/latest/meta-data/managed-ssh-keys/active-keys/mfassh/" | grep -qxF "#Caller=$OPERATOR"
}
check "MFA: eic ssh asks once and signs DescribeInstances and the push as the Operator role" mfa_ssh
mfa_wrong() {
    mfa_push nobody 111111
    [ "$RC" -eq 253 ] &&
        grep -q "An error occurred (AccessDenied) when calling the AssumeRole operation: MultiFactorAuthentication failed with invalid MFA one time pass code." "$WORK/tty"
}
check "MFA: a wrong code is refused by STS, 253 with its words" mfa_wrong
mfa_no_tty() {
    setsid -w env -i "${CASE_ENV[@]}" "$EIC_CLIENT" send-ssh-public-key --instance-id "$INSTANCE" \
        --instance-os-user nobody --ssh-public-key "$KEY" --availability-zone "$ZONE" --endpoint-url "$URL" \
        >"$WORK/out" 2>"$WORK/err" </dev/null
    RC=$?
    echo "exit status $RC"
    cat "$WORK/err"
    [ "$RC" -eq 253 ] && grep -q "the profile has mfa_serial but there is no terminal to ask for the code" "$WORK/err"
}
check "MFA without a terminal: 253, saying so" mfa_no_tty

# ---- refresh between the signings of one run ----
role_profile refresh 'source_profile = alice\nrole_session_name = short\n' Brief
check "assume-role credentials of 14 minutes (advisory window) are refreshed before the push: a new key from STS" \
    refreshed refresh assume-role "arn:aws:sts::$ACCOUNT:assumed-role/Brief/short" "sts: AssumeRole"
role_profile refresh-long 'source_profile = alice\nrole_session_name = long\nexternal_id = eic-external-7\n'
check "assume-role credentials of an hour are used for both signings" \
    not_refreshed refreshlong assume-role "arn:aws:sts::$ACCOUNT:assumed-role/Deploy/long" "sts: AssumeRole"
sso_case sso-short "${SESSION_LINES}sso_role_name = Short\n"
sso_token corp eic-sso-access-token 2099-01-01T00:00:00Z
check "SSO credentials of 9 minutes (mandatory window) are refreshed before the push: a new key from the portal" \
    refreshed ssoshort sso "$SSO_SHORT" "sso: GetRoleCredentials"

finish
