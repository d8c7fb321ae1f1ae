#!/bin/bash
# Regenerate the verifier fixtures with the openssl command line alone, independent of eic's own
# code (the emulator's PKI is a second, separate producer). Certificates and OCSP responses are
# valid for 100 years; the tests evaluate them at the fixed time in NOW (after generation).
# Usage: tests/data/verify/make-fixtures.sh   (rewrites the files in this directory)
set -euo pipefail
cd "$(dirname "$0")"
OPENSSL=/usr/bin/openssl
NOW=$(cat NOW)
DAYS=36500
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf pki ocsp records
mkdir -p pki ocsp records

ext() { # ext NAME: an extension file for openssl x509 -extfile
    case $1 in
    ca) printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' ;;
    intermediate) printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' ;;
    leaf) printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' ;;
    esac >"$tmp/$1.ext"
    echo "$tmp/$1.ext"
}

key() { $OPENSSL genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "pki/$1.key" 2>/dev/null; }

selfsigned() { # selfsigned NAME SUBJECT
    key "$1"
    $OPENSSL req -new -key "pki/$1.key" -subj "$2" -out "$tmp/$1.csr"
    $OPENSSL x509 -req -in "$tmp/$1.csr" -signkey "pki/$1.key" -days $DAYS -sha256 \
        -set_serial "0x$(openssl rand -hex 8)" -extfile "$(ext ca)" -out "pki/$1.pem" 2>/dev/null
}

issue() { # issue NAME SUBJECT ISSUER PROFILE
    key "$1"
    $OPENSSL req -new -key "pki/$1.key" -subj "$2" -out "$tmp/$1.csr"
    $OPENSSL x509 -req -in "$tmp/$1.csr" -CA "pki/$3.pem" -CAkey "pki/$3.key" -days $DAYS -sha256 \
        -set_serial "0x$(openssl rand -hex 8)" -extfile "$(ext "$4")" -out "pki/$1.pem" 2>/dev/null
}

selfsigned ca "/O=eic fixtures/CN=eic fixture root"
issue intermediate "/O=eic fixtures/CN=eic fixture intermediate" ca intermediate
issue signer "/O=eic fixtures/CN=managed-ssh-signer.us-east-1.amazonaws.com" intermediate leaf
issue signer-wrongcn "/O=eic fixtures/CN=managed-ssh-signer.us-east-1.example.com" intermediate leaf
issue signer-twocn "/O=eic fixtures/CN=managed-ssh-signer.us-east-1.amazonaws.com/CN=x" intermediate leaf
# An impostor: a root with the same name as the real one, and a signer under it.
selfsigned rogue-ca "/O=eic fixtures/CN=eic fixture root"
issue rogue-signer "/O=eic fixtures/CN=managed-ssh-signer.us-east-1.amazonaws.com" rogue-ca leaf

# The same root, with OpenSSL's "trusted for OCSP signing" setting (a TRUSTED CERTIFICATE).
$OPENSSL x509 -in pki/ca.pem -addtrust anyExtendedKeyUsage -addtrust OCSPSigning -out pki/ca-ocsp-trusted.pem

name() { $OPENSSL x509 -in "$1" -outform DER | $OPENSSL dgst -sha1 -binary | od -An -tx1 | tr -d ' \n' | tr a-f A-F; }

ocsp() { # ocsp OUT CERT ISSUER RESPONDER STATUS(V|R) [DAYS]
    local serial subject
    serial=$($OPENSSL x509 -in "pki/$2.pem" -noout -serial | cut -d= -f2)
    subject=$($OPENSSL x509 -in "pki/$2.pem" -noout -subject -nameopt compat | sed 's/^subject=//')
    if [ "$5" = R ]; then
        printf 'R\t491231235959Z\t240101000000Z,keyCompromise\t%s\tunknown\t%s\n' "$serial" "$subject" >"$tmp/index.txt"
    else
        printf 'V\t491231235959Z\t\t%s\tunknown\t%s\n' "$serial" "$subject" >"$tmp/index.txt"
    fi
    $OPENSSL ocsp -issuer "pki/$3.pem" -cert "pki/$2.pem" -no_nonce -reqout "$tmp/req.der" 2>/dev/null
    $OPENSSL ocsp -index "$tmp/index.txt" -rsigner "pki/$4.pem" -rkey "pki/$4.key" -CA "pki/$3.pem" \
        -reqin "$tmp/req.der" -respout "$tmp/resp.der" -ndays "${6:-$DAYS}" 2>/dev/null
    mkdir -p "ocsp/$1"
    base64 -w0 "$tmp/resp.der" >"ocsp/$1/$(name "pki/$2.pem")"
}

# good: both non-anchor certificates have a good response from their issuer.
ocsp good signer intermediate intermediate V
ocsp good intermediate ca ca V
for set in revoked-signer revoked-intermediate missing-signer badsig-signer stale-signer; do mkdir -p "ocsp/$set"; done
cp ocsp/good/* ocsp/revoked-signer/; ocsp revoked-signer signer intermediate intermediate R
cp ocsp/good/* ocsp/revoked-intermediate/; ocsp revoked-intermediate intermediate ca ca R
cp "ocsp/good/$(name pki/intermediate.pem)" ocsp/missing-signer/
# Signed by the signer's own key instead of its issuer's.
cp ocsp/good/* ocsp/badsig-signer/; ocsp badsig-signer signer intermediate signer V
# Valid for one day from generation: long past at NOW.
cp ocsp/good/* ocsp/stale-signer/; ocsp stale-signer signer intermediate intermediate V 1
# Good responses for the other signers (so each case fails for its own reason only).
for s in signer-wrongcn signer-twocn; do
    mkdir -p "ocsp/$s"; cp "ocsp/good/$(name pki/intermediate.pem)" "ocsp/$s/"; ocsp "$s" "$s" intermediate intermediate V
done

cat pki/signer.pem pki/intermediate.pem >chain-good.pem
cat pki/signer-wrongcn.pem pki/intermediate.pem >chain-wrongcn.pem
cat pki/signer-twocn.pem pki/intermediate.pem >chain-twocn.pem
cat pki/rogue-signer.pem pki/rogue-ca.pem >chain-rogue.pem
cp pki/signer.pem chain-no-intermediate.pem

# Records. The key is fixed; signatures are RSA-PSS/SHA-256/salt 32 by pki/signer.key.
KEY=$(cat ed25519.pub)
KEY2=$(cat rsa2048.pub)
ssh-keygen -lf ed25519.pub | awk '{print $2}' >ed25519.fp
ssh-keygen -lf rsa2048.pub | awk '{print $2}' >rsa2048.fp
sign() { # sign SIGNER_KEY < signed-bytes > base64
    $OPENSSL dgst -sha256 -sign "$1" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
        -sigopt rsa_mgf1_md:sha256 | base64 -w0
}
record() { # record SIGNER_KEY FIELD_LINES... -- KEY_LINE : prints one record
    local k=$1
    shift
    local fields=""
    while [ "$1" != -- ]; do fields="$fields$1"$'\n'; shift; done
    shift
    local signed="$fields$1"$'\n'
    printf '%s' "$signed"
    printf '%s' "$signed" | sign "$k"
    printf '\n'
}
S=pki/signer.key
I=i-0123456789abcdef0
T=$((NOW + 60))
A='#Caller=arn:aws:iam::111122223333:user/alice'
R='#Request=2d1b0a6e-1111-4222-8333-444455556666'
record $S "#Timestamp=$T" "#Instance=$I" "$A" "$R" -- "$KEY" >records/good.txt
record $S "#Timestamp=$((NOW - 1))" "#Instance=$I" "$A" "$R" -- "$KEY" >records/expired.txt
record $S "#Timestamp=$NOW" "#Instance=$I" "$A" "$R" -- "$KEY" >records/expires-now.txt
record $S "#Timestamp=$T" "#Instance=i-0fffffffffffffff0" "$A" "$R" -- "$KEY" >records/wrong-instance.txt
record $S "#Timestamp=$T" "$A" "$R" -- "$KEY" >records/no-instance.txt
record $S "#Instance=$I" "$A" "$R" -- "$KEY" >records/no-timestamp.txt
record pki/intermediate.key "#Timestamp=$T" "#Instance=$I" "$A" "$R" -- "$KEY" >records/wrong-signer.txt
record $S "#Timestamp=$T" "#Instance=$I" "$A" "$R" "#Future=field value" -- "$KEY" >records/unknown-field.txt
record $S "#Timestamp=$T" "#Instance=$I" -- "$KEY" >records/minimal.txt
record $S "#Timestamp=$T" "#Instance=$I" "#Instance=$I" -- "$KEY" >records/repeated-instance.txt
record $S "#Timestamp=$T" "#Instance=$I" "Timestamp=1" -- "$KEY" >records/bad-field.txt
# Tampered after signing: the caller changed.
sed 's/user\/alice/user\/mallory/' records/good.txt >records/tampered-caller.txt
# Tampered after signing: the expiry pushed out.
sed "s/#Timestamp=$T/#Timestamp=$((T + 3600))/" records/good.txt >records/tampered-timestamp.txt
# The signature folded over several lines (allowed).
{ head -n 5 records/good.txt; tail -n 1 records/good.txt | fold -w 64; } >records/multiline-signature.txt
head -n 5 records/good.txt >records/no-signature.txt
{ head -n 5 records/good.txt; echo 'not*base64!'; } >records/garbage-signature.txt
{ head -n 4 records/good.txt; tail -n 1 records/good.txt; } >records/no-key-line.txt
sed 's/$/\r/' records/good.txt >records/crlf.txt
record $S "#Timestamp=$T" "#Instance=$I" -- "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBADKEY" >records/bad-key.txt
# Two good records and a bad one between them: the bad one does not spoil the others.
{ cat records/good.txt; echo; cat records/expired.txt; echo; record $S "#Timestamp=$T" "#Instance=$I" "$A" -- "$KEY2"; } >records/three.txt
printf '' >records/empty.txt
printf '\n\n\n' >records/blank-lines.txt
echo "fixtures written; NOW=$NOW"
