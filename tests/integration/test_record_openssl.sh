#!/bin/bash
# Acceptance check of the emulator's signed key records, verified with nothing but the openssl
# command line (no eic code on the verifying side): push an ED25519 key with the real AWS CLI,
# fetch over IMDSv2 the record, signer-cert/ and signer-ocsp/, then check
#   - the signer chain verifies (X.509 strict) to $EMU_STATE/ca.pem, the served certificates
#     being only untrusted input;
#   - the signer's subject has exactly one commonName, equal to managed-ssh-signer.<region>.<domain>;
#   - `openssl ocsp` says "good", with a verified response, for the signer and the intermediate;
#   - the record's RSA-PSS (SHA-256, MGF1-SHA-256, salt 32) signature verifies over its signed bytes;
#   - a record is gone after --key-lifetime;
#   - and that each fault (--ocsp-fault ... for each target, --wrong-signer-cn, --tamper-records)
#     makes exactly the corresponding check fail.
. "$(dirname "$0")/lib.sh"

OPENSSL=/usr/bin/openssl
AWS=/usr/bin/aws
SSH_KEYGEN=/usr/bin/ssh-keygen
MSK=/latest/meta-data/managed-ssh-keys
OS_USER=alice
DOMAIN=amazonaws.com
SIGNER_CN="managed-ssh-signer.$REGION.$DOMAIN"
WRONG_CN="managed-ssh-signer.$REGION.example.com"
ALICE_ARN=arn:aws:iam::111122223333:user/alice

# The AWS CLI sees only the default alice credentials: no profile, no config file, no
# instance-metadata credential lookup.
export AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK
export AWS_CONFIG_FILE="$WORK/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/no-aws-credentials"
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE AWS_DEFAULT_REGION

# Anything else in the default OpenSSL trust locations must not count: only ca.pem is an anchor.
NO_DEFAULT_CA=(-no-CApath -no-CAstore)

"$SSH_KEYGEN" -q -t ed25519 -N '' -C eic-test -f "$WORK/id_ed25519"

push_key() {
    "$AWS" ec2-instance-connect send-ssh-public-key --endpoint-url "$EMU_URL" --region "$REGION" \
        --instance-id "$INSTANCE" --instance-os-user "$OS_USER" --availability-zone "$ZONE" \
        --ssh-public-key "file://$WORK/id_ed25519.pub" --output json >"$EMU_STATE/push.json" || return 1
    cat "$EMU_STATE/push.json"
    grep -Eq '"Success": *true' "$EMU_STATE/push.json"
}

# fetch DIR: everything a verifier reads from IMDS, into DIR:
#   record (active-keys/<user>/), chain.pem, signer.pem (its first certificate),
#   untrusted.pem (the others), intermediate.pem (the second), ocsp/<FP>.der.
fetch() {
    local dir=$1 name
    rm -rf "$dir"
    mkdir -p "$dir/ocsp"
    imds_get "$MSK/active-keys/$OS_USER/" >"$dir/record" || true
    imds_get "$MSK/signer-cert/" >"$dir/chain.pem" || return 1
    awk -v dir="$dir" '
        /-----BEGIN CERTIFICATE-----/ { n++ }
        n == 1 { print > (dir "/signer.pem") }
        n >= 2 { print > (dir "/untrusted.pem") }
        n == 2 { print > (dir "/intermediate.pem") }' "$dir/chain.pem"
    [ -s "$dir/signer.pem" ] && [ -s "$dir/intermediate.pem" ] || return 1
    imds_get "$MSK/signer-ocsp/" >"$dir/ocsp-list" || return 1
    echo >>"$dir/ocsp-list" # the listing may lack a final newline
    while read -r name; do
        [ -n "$name" ] || continue
        # Names are untrusted input that becomes a file name: 40 upper-case hex digits only.
        [[ $name =~ ^[0-9A-F]{40}$ ]] || { echo "bad OCSP entry name: $name"; return 1; }
        imds_get "$MSK/signer-ocsp/$name" | base64 -d >"$dir/ocsp/$name.der" || return 1
    done <"$dir/ocsp-list"
}

fingerprint() {
    "$OPENSSL" x509 -in "$1" -noout -fingerprint -sha1 | sed 's/^[^=]*=//; s/://g'
}

chain_ok() {
    local dir=$1 out
    out=$("$OPENSSL" verify -x509_strict -CAfile "$EMU_STATE/ca.pem" "${NO_DEFAULT_CA[@]}" \
        -untrusted "$dir/untrusted.pem" "$dir/signer.pem" 2>&1)
    local rc=$?
    echo "$out"
    [ $rc -eq 0 ] && [ "$out" = "$dir/signer.pem: OK" ]
}

# The subject's commonName values, one a line, as `-nameopt multiline` prints them (control
# characters escaped, so a value cannot smuggle in a line of its own).
subject_cns() {
    "$OPENSSL" x509 -in "$1" -noout -subject -nameopt multiline,utf8,-esc_msb |
        sed -n 's/^ *commonName *= //p'
}

cn_is() {
    local cert=$1 want=$2 cns
    cns=$(subject_cns "$cert") || return 1
    echo "commonName(s): $cns"
    [ "$(printf '%s\n' "$cns" | wc -l)" -eq 1 ] && [ "$cns" = "$want" ]
}

# ocsp_good DIR CERT ISSUER: the response served under CERT's fingerprint verifies and says good.
ocsp_good() {
    local dir=$1 cert=$2 issuer=$3 fp der
    fp=$(fingerprint "$cert") || return 1
    der="$dir/ocsp/$fp.der"
    if [ ! -s "$der" ]; then
        echo "no OCSP response served for $cert ($fp)"
        return 1
    fi
    "$OPENSSL" ocsp -no_nonce -respin "$der" -issuer "$issuer" -cert "$cert" -CAfile "$EMU_STATE/ca.pem" \
        "${NO_DEFAULT_CA[@]}" >"$dir/ocsp.out" 2>"$dir/ocsp.err"
    local rc=$?
    cat "$dir/ocsp.out" "$dir/ocsp.err"
    [ $rc -eq 0 ] && grep -qx 'Response verify OK' "$dir/ocsp.err" && grep -qx "$cert: good" "$dir/ocsp.out"
}

# ocsp_says DIR CERT ISSUER STATUS: the response verifies and gives STATUS (e.g. revoked).
ocsp_says() {
    local dir=$1 cert=$2 issuer=$3 status=$4
    ocsp_good "$dir" "$cert" "$issuer" >/dev/null
    cat "$dir/ocsp.out" "$dir/ocsp.err"
    grep -qx 'Response verify OK' "$dir/ocsp.err" && grep -qx "$cert: $status" "$dir/ocsp.out"
}

# The first record's signed bytes (its '#' lines and key line, each with '\n') and signature.
split_record() {
    local dir=$1
    awk '
        state == 0 && /^#/ { print; next }
        state == 0 && /^ssh/ { print; state = 1; next }
        state == 0 { exit 1 }' "$dir/record" >"$dir/signed.txt" || return 1
    awk '
        state == 1 && /^$/ { exit }
        state == 1 { print }
        state == 0 && /^ssh/ { state = 1 }' "$dir/record" | base64 -d >"$dir/sig.bin" || return 1
    [ -s "$dir/signed.txt" ] && [ -s "$dir/sig.bin" ]
}

signature_ok() {
    local dir=$1 out
    split_record "$dir" || { echo "no record to check"; cat "$dir/record"; return 1; }
    "$OPENSSL" x509 -in "$dir/signer.pem" -noout -pubkey >"$dir/signer-pubkey.pem" || return 1
    out=$("$OPENSSL" dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
        -sigopt rsa_mgf1_md:sha256 -verify "$dir/signer-pubkey.pem" -signature "$dir/sig.bin" \
        "$dir/signed.txt" 2>&1)
    local rc=$?
    echo "$out"
    [ $rc -eq 0 ] && [ "$out" = "Verified OK" ]
}

# The record is there and well-formed, and openssl rejects its signature (not merely "no record").
signature_bad() {
    local dir=$1
    split_record "$dir" || { echo "no record to check"; cat "$dir/record"; return 1; }
    if signature_ok "$dir" >"$dir/dgst.out" 2>&1; then
        cat "$dir/dgst.out"
        return 1
    fi
    cat "$dir/dgst.out"
    grep -qx 'Verification failure' "$dir/dgst.out"
}

record_fields_ok() {
    local dir=$1 now expires
    cat "$dir/record"
    now=$(date +%s)
    expires=$(sed -n 's/^#Timestamp=\([0-9]*\)$/\1/p' "$dir/signed.txt")
    grep -qx "#Instance=$INSTANCE" "$dir/signed.txt" &&
        grep -qx "#Caller=$ALICE_ARN" "$dir/signed.txt" &&
        grep -Eqx '#Request=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}' "$dir/signed.txt" &&
        grep -qxF "$(cat "$WORK/id_ed25519.pub")" "$dir/signed.txt" &&
        [ -n "$expires" ] && [ "$expires" -gt "$now" ] && [ "$expires" -le $((now + 60)) ]
}

no_record() {
    local body
    body=$(imds_get "$MSK/active-keys/$OS_USER/") || true
    echo "active-keys/$OS_USER/: '$body'"
    [ -z "$body" ] && imds_get "$MSK/signer-cert/" >/dev/null # the emulator itself still answers
}

not() { ! "$@"; }

# ---- the acceptance check ----
if start_emulator main; then ok "emulator starts"; else not_ok "emulator starts"; fi
D="$WORK/fetch-main"
check "push an ED25519 key with the AWS CLI (alice)" push_key
check "fetch record, signer-cert/ and signer-ocsp/ over IMDSv2" fetch "$D"
check "signer chain verifies (x509_strict) to ca.pem" chain_ok "$D"
check "signer CN is exactly $SIGNER_CN" cn_is "$D/signer.pem" "$SIGNER_CN"
check "openssl ocsp: signer good, response signed by the intermediate" \
    ocsp_good "$D" "$D/signer.pem" "$D/intermediate.pem"
check "openssl ocsp: intermediate good, response signed by the root" \
    ocsp_good "$D" "$D/intermediate.pem" "$EMU_STATE/ca.pem"
check "exactly two OCSP entries are served" test "$(grep -c . "$D/ocsp-list")" -eq 2
check "record signature verifies (RSA-PSS, SHA-256, salt 32)" signature_ok "$D"
check "record fields: instance, caller, request id, key, expiry within 60 s" record_fields_ok "$D"

# A restart on the same state directory keeps the trust anchor and still verifies.
cp "$EMU_STATE/ca.pem" "$WORK/ca-before.pem"
stop_emulator
if start_emulator main; then ok "emulator restarts on its state directory"; else not_ok "emulator restarts"; fi
check "ca.pem is byte-identical after a restart" cmp "$WORK/ca-before.pem" "$EMU_STATE/ca.pem"
D="$WORK/fetch-restart"
check "after restart: fetch" fetch "$D"
check "after restart: chain verifies to the same ca.pem" chain_ok "$D"
check "after restart: signer OCSP good" ocsp_good "$D" "$D/signer.pem" "$D/intermediate.pem"
stop_emulator

# ---- key lifetime ----
if start_emulator lifetime --key-lifetime 2; then ok "emulator with --key-lifetime 2"; else not_ok "emulator with --key-lifetime 2"; fi
D="$WORK/fetch-lifetime"
check "lifetime: push" push_key
check "lifetime: record served right after the push" fetch "$D"
check "lifetime: record signature verifies" signature_ok "$D"
sleep 3
check "lifetime: record gone after 3 s" no_record
stop_emulator

# ---- OCSP faults: each makes the check of its target fail, and only that one ----
for fault in revoked missing bad-signature; do
    for target in signer intermediate; do
        name="ocsp-$fault-$target"
        if start_emulator "$name" --ocsp-fault "$fault" --ocsp-fault-target "$target"; then
            ok "$name: emulator starts"
        else
            not_ok "$name: emulator starts"
        fi
        D="$WORK/fetch-$name"
        check "$name: fetch" fetch "$D"
        check "$name: chain still verifies" chain_ok "$D"
        if [ "$target" = signer ]; then
            cert="$D/signer.pem" issuer="$D/intermediate.pem"
            other="$D/intermediate.pem" other_issuer="$EMU_STATE/ca.pem"
        else
            cert="$D/intermediate.pem" issuer="$EMU_STATE/ca.pem"
            other="$D/signer.pem" other_issuer="$D/intermediate.pem"
        fi
        check "$name: openssl ocsp check of the $target fails" not ocsp_good "$D" "$cert" "$issuer"
        case $fault in
        revoked)
            check "$name: the $target is reported revoked (verified response)" \
                ocsp_says "$D" "$cert" "$issuer" revoked
            check "$name: reason keyCompromise" grep -q 'Reason: keyCompromise' "$D/ocsp.out"
            ;;
        missing)
            check "$name: no entry for the $target" not grep -qx "$(fingerprint "$cert")" "$D/ocsp-list"
            ;;
        bad-signature)
            check "$name: openssl reports the response signature" \
                grep -q 'Response Verify Failure' "$D/ocsp.err"
            ;;
        esac
        check "$name: the other certificate's OCSP is still good" ocsp_good "$D" "$other" "$other_issuer"
        stop_emulator
    done
done

# ---- wrong signer CN ----
if start_emulator wrongcn --wrong-signer-cn; then ok "wrong-cn: emulator starts"; else not_ok "wrong-cn: emulator starts"; fi
D="$WORK/fetch-wrongcn"
check "wrong-cn: push" push_key
check "wrong-cn: fetch" fetch "$D"
check "wrong-cn: the CN check fails" not cn_is "$D/signer.pem" "$SIGNER_CN"
check "wrong-cn: served CN is $WRONG_CN" cn_is "$D/signer.pem" "$WRONG_CN"
check "wrong-cn: chain still verifies (same intermediate)" chain_ok "$D"
check "wrong-cn: its OCSP is good" ocsp_good "$D" "$D/signer.pem" "$D/intermediate.pem"
check "wrong-cn: it is the key that signs the record" signature_ok "$D"
stop_emulator

# ---- tampered records ----
if start_emulator tamper --tamper-records; then ok "tamper: emulator starts"; else not_ok "tamper: emulator starts"; fi
D="$WORK/fetch-tamper"
check "tamper: push" push_key
check "tamper: fetch" fetch "$D"
check "tamper: chain is fine" chain_ok "$D"
check "tamper: CN is fine" cn_is "$D/signer.pem" "$SIGNER_CN"
check "tamper: the record signature check fails" signature_bad "$D"
stop_emulator

finish
