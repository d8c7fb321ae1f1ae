# Shared by the credential-chain tests (sourced after lib.sh): botocore on this machine as the
# judge (cred_judge.py), one environment per case, eic's push and what the emulator recorded.
# The caller starts the emulator (start_emulator) and sets URL to its address.

PY=/usr/bin/python3
JUDGE="$TOP/tests/integration/cred_judge.py"
SIGV4="$TOP/tests/integration/emu_sigv4.py"
KEY="file://$TEST_DATA/sshkey/ed25519.pub"
ACCOUNT=111122223333

if ! "$PY" -c 'import botocore' 2>/dev/null; then
    not_ok "botocore is installed for $PY (apt-get install python3-botocore)"
    finish
    exit 1
fi
EXTRA=()

# case_env NAME VAR=VALUE...: the environment of one case in CASE_ENV: a HOME of its own (files
# written by the caller into $WORK/NAME/.aws), IMDS off unless the case sets its endpoint.
case_env() {
    local name=$1
    shift
    mkdir -p "$WORK/$name/.aws"
    CASE_HOME="$WORK/$name"
    CASE_ENV=(PATH="$PATH" HOME="$CASE_HOME" AWS_DEFAULT_REGION="$REGION")
    local imds=0
    for a in "$@"; do
        case $a in AWS_EC2_METADATA_SERVICE_ENDPOINT=*) imds=1 ;; esac
        CASE_ENV+=("$a")
    done
    [ $imds -eq 1 ] || CASE_ENV+=(AWS_EC2_METADATA_DISABLED=true)
}

# eic_push OS-USER [ENDPOINT]: push in CASE_ENV with --debug; status in RC.
eic_push() {
    env -i "${CASE_ENV[@]}" "$EIC_CLIENT" send-ssh-public-key --instance-id "$INSTANCE" --instance-os-user "$1" \
        --ssh-public-key "$KEY" --availability-zone "$ZONE" --endpoint-url "${2:-$URL}" --debug ${EXTRA[@]+"${EXTRA[@]}"} \
        >"$WORK/out" 2>"$WORK/err" </dev/null
    RC=$?
}

# pushed_by OS-USER METHOD CALLER: eic's push worked with credentials from METHOD, and the
# record in IMDS names CALLER.
pushed_by() {
    eic_push "$1"
    echo "exit status $RC"
    cat "$WORK/err"
    [ "$RC" -eq 0 ] || return 1
    grep -q "credentials from $2, access key" "$WORK/err" || return 1
    imds_get "/latest/meta-data/managed-ssh-keys/active-keys/$1/" >"$WORK/active" || return 1
    cat "$WORK/active"
    grep -qxF "#Caller=$3" "$WORK/active"
}

# same_as_botocore METHOD: botocore resolves METHOD and the access key eic used.
same_as_botocore() {
    local ours
    ours=$(sed -n 's/.*credentials from \([a-z-]*\), access key \([A-Z0-9]*\).*/\1 \2/p' "$WORK/err")
    env -i "${CASE_ENV[@]}" "$PY" "$JUDGE" resolve >"$WORK/botocore" 2>&1
    echo "eic: $ours"
    echo "botocore: $(cat "$WORK/botocore")"
    [ -n "$ours" ] && [ "$(cat "$WORK/botocore")" = "$ours" ] && [ "${ours%% *}" = "$1" ]
}

# same_signature: eic's push, captured, is what botocore signs with the credentials it resolves.
same_signature() {
    rm -f "$WORK/port" "$WORK/raw"
    "$PY" "$SIGV4" capture "$WORK/port" "$WORK/raw" &
    local cap=$!
    for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
    eic_push capture "http://127.0.0.1:$(cat "$WORK/port")"
    wait $cap
    [ "$RC" -eq 0 ] || { cat "$WORK/err"; return 1; }
    env -i "${CASE_ENV[@]}" "$PY" "$JUDGE" resign "$WORK/raw"
}

# botocore_pushed_as OS-USER METHOD CALLER: botocore, in the same environment, resolves METHOD
# and its own push for OS-USER is recorded with CALLER (for STS, where each call mints new keys).
botocore_pushed_as() {
    env -i "${CASE_ENV[@]}" "$PY" "$JUDGE" push "$URL" "$1" "$TEST_DATA/sshkey/ed25519.pub" >"$WORK/botocore" 2>&1
    cat "$WORK/botocore"
    [ "$(cat "$WORK/botocore")" = "$2" ] || return 1
    imds_get "/latest/meta-data/managed-ssh-keys/active-keys/$1/" >"$WORK/active" || return 1
    grep -qxF "#Caller=$3" "$WORK/active"
}

# refused STATUS PATTERN: eic's push failed with STATUS and stderr matching PATTERN.
refused() {
    eic_push nobody
    echo "exit status $RC"
    cat "$WORK/err"
    [ "$RC" -eq "$1" ] && grep -q -- "$2" "$WORK/err"
}

# role_profile NAME CONFIG-LINES [ROLE]: an assume-role case (STS at the emulator): alice and carol
# in the credentials file, the default profile's role_arn ROLE (default Deploy), then CONFIG-LINES
# (printf %b).
role_profile() {
    case_env "$1" AWS_ENDPOINT_URL_STS="$URL" EIC_JUDGE_STS_URL="$URL"
    cat >"$CASE_HOME/.aws/credentials" <<CFG
[alice]
aws_access_key_id = $ALICE_AK
aws_secret_access_key = $ALICE_SK
[carol]
aws_access_key_id = AKIAEICCREDSCAROL003
aws_secret_access_key = eic-creds-secret-carol
CFG
    printf '[default]\nrole_arn = arn:aws:iam::%s:role/%s\n%b' "$ACCOUNT" "${3:-Deploy}" "$2" >"$CASE_HOME/.aws/config"
}
