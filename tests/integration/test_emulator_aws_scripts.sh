#!/bin/bash
# eic-emulator, IMDS as AWS's own instance-side scripts read it: every request that
# aws-ec2-instance-connect-config's eic_curl_authorized_keys (run by eic_run_authorized_keys) makes,
# in its form, with curl as it runs curl (-s -f -m 1: any HTTP error is curl status 22 and nobody
# gets in), against the emulator, with EC2's answers. The script itself is not in the tree (nor in
# Debian); its requests are written here in our own words (docs/EMULATOR.md, "AWS's scripts"):
#   - IMDSv2 (the scripts since 1.1.12): PUT /latest/api/token with a TTL of 5 s, its token in
#     X-aws-ec2-metadata-token on every later request; IMDSv1 (before): the same GETs without one;
#   - the leaves with a trailing slash: instance-id/, placement/availability-zone/, services/domain/;
#   - HEAD (-I) of active-keys/USER/ with -w %{http_code}: 404 (curl status 22) without keys, 200 with;
#   - signer-cert/, signer-ocsp/, each signer-ocsp/NAME (no slash, base64), active-keys/USER/.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
HELPER="$TOP/tests/integration/emu_sigv4.py"
CURL=(curl -s -f -m 1)
MD=/latest/meta-data
MSK=$MD/managed-ssh-keys
TOKEN_ARGS=()

# imds ARGS...: curl as the scripts run it, with the session's token header when there is one.
imds() { "${CURL[@]}" "${TOKEN_ARGS[@]}" "$@"; }

# new_session v2|v1: v2 gets a token as the scripts do (PUT, TTL 5 s); v1 sends none.
new_session() {
    local token
    TOKEN_ARGS=()
    [ "$1" = v1 ] && return 0
    token=$("${CURL[@]}" -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 5" "$EMU_URL/latest/api/token") ||
        { echo "token request: curl status $?"; return 1; }
    [ -n "$token" ] || { echo "empty token"; return 1; }
    TOKEN_ARGS=(-H "X-aws-ec2-metadata-token: $token")
}

# leaf MODE PATH WANT: GET PATH (a leaf with a trailing slash) succeeds and answers exactly WANT.
leaf() {
    local got rc
    new_session "$1" || return 1
    got=$(imds "$EMU_URL$2")
    rc=$?
    [ "$rc" -eq 0 ] || { echo "GET $2: curl status $rc"; return 1; }
    [ "$got" = "$3" ] || { echo "GET $2: '$got', want '$3'"; return 1; }
}

# head_status MODE USER WANT_CODE WANT_RC: the fast exit check, HEAD of active-keys/USER/.
head_status() {
    local code rc
    new_session "$1" || return 1
    code=$(imds -o /dev/null -I -w '%{http_code}' "$EMU_URL$MSK/active-keys/$2/")
    rc=$?
    [ "$code" = "$3" ] && [ "$rc" -eq "$4" ] || { echo "HEAD active-keys/$2/: $code (curl $rc), want $3 (curl $4)"; return 1; }
}

# whole_run MODE USER: the requests of one run of the script, in its order, each curl status 0,
# each answer one the script accepts; the records it would hand to its parser are USER's.
whole_run() {
    local mode=$1 user=$2 instance zone domain chain names n=0
    new_session "$mode" || return 1
    instance=$(imds "$EMU_URL$MD/instance-id/") || { echo "instance-id/: curl status $?"; return 1; }
    [[ "$instance" =~ ^i-[0-9a-f]{8,32}$ ]] || { echo "instance id '$instance'"; return 1; }
    [ "$(imds -o /dev/null -I -w '%{http_code}' "$EMU_URL$MSK/active-keys/$user/")" = 200 ] ||
        { echo "HEAD active-keys/$user/ is not 200"; return 1; }
    zone=$(imds "$EMU_URL$MD/placement/availability-zone/") || { echo "availability-zone/: curl status $?"; return 1; }
    [[ "$zone" =~ ^([a-z]+-){2,3}[0-9][a-z]$ ]] || { echo "zone '$zone'"; return 1; }
    domain=$(imds "$EMU_URL$MD/services/domain/") || { echo "domain/: curl status $?"; return 1; }
    [ "$domain" = amazonaws.com ] || { echo "domain '$domain'"; return 1; }
    chain=$(imds "$EMU_URL$MSK/signer-cert/") || { echo "signer-cert/: curl status $?"; return 1; }
    printf '%s\n' "$chain" >"$WORK/chain.pem"
    openssl x509 -in "$WORK/chain.pem" -noout -subject -nameopt multiline |
        grep -q "commonName *= managed-ssh-signer.${zone%?}.$domain\$" || { echo "signer CN is not the expected one"; return 1; }
    names=$(imds "$EMU_URL$MSK/signer-ocsp/") || { echo "signer-ocsp/: curl status $?"; return 1; }
    for name in $names; do
        imds "$EMU_URL$MSK/signer-ocsp/$name" | base64 -d >"$WORK/ocsp-$name" ||
            { echo "signer-ocsp/$name: not fetched or not base64"; return 1; }
        openssl ocsp -respin "$WORK/ocsp-$name" -resp_text -noverify >/dev/null 2>&1 ||
            { echo "signer-ocsp/$name is not an OCSP response"; return 1; }
        n=$((n + 1))
    done
    [ "$n" -ge 2 ] || { echo "$n OCSP responses"; return 1; }
    imds "$EMU_URL$MSK/active-keys/$user/" >"$WORK/records" || { echo "active-keys/$user/: curl status $?"; return 1; }
    grep -q "^#Instance=$instance\$" "$WORK/records" && grep -q '^ssh-ed25519 ' "$WORK/records" ||
        { echo "records:"; cat "$WORK/records"; return 1; }
}

ssh-keygen -q -t ed25519 -N '' -C test-aws-scripts -f "$WORK/key" || exit 1
push() { $PY "$HELPER" send "$EMU_URL" --user "$1" --key-file "$WORK/key.pub" | head -n 1 | grep -qx 200; }

for mode in v2 v1; do
    if [ "$mode" = v2 ]; then
        start_emulator scripts-v2 || exit 1
        what="IMDSv2 (token TTL 5 s)"
    else
        start_emulator scripts-v1 --imdsv1 || exit 1
        what="IMDSv1 (no token, --imdsv1)"
    fi
    check "$what: GET instance-id/ answers the instance id" leaf $mode "$MD/instance-id/" "$INSTANCE"
    check "$what: GET placement/availability-zone/ answers the zone" leaf $mode "$MD/placement/availability-zone/" "$ZONE"
    check "$what: GET services/domain/ answers the domain" leaf $mode "$MD/services/domain/" amazonaws.com
    check "$what: HEAD active-keys/alice/ without keys: 404, curl status 22" head_status $mode alice 404 22
    check "$what: alice's key pushed" push alice
    check "$what: HEAD active-keys/alice/ with a key: 200, curl status 0" head_status $mode alice 200 0
    check "$what: HEAD active-keys/bob/ (no key of his): still 404" head_status $mode bob 404 22
    check "$what: one whole run of the script's requests for alice: every curl status 0, EC2's answers" whole_run $mode alice
    check "emulator still running" kill -0 "$EMU_PID"
    stop_emulator
done

# Where IMDSv2 is required, the IMDSv1 form is refused as EC2 refuses it (401: curl status 22).
start_emulator scripts-v2only || exit 1
v1_refused() {
    local rc
    "${CURL[@]}" -o /dev/null "$EMU_URL$MD/instance-id/"
    rc=$?
    [ "$rc" -eq 22 ] || { echo "curl status $rc, want 22"; return 1; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$EMU_URL$MD/instance-id/")" = 401 ]
}
check "IMDSv2 required: the IMDSv1 form of instance-id/ gets 401" v1_refused
stop_emulator

finish
