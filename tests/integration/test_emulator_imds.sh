#!/bin/bash
# eic-emulator, IMDS side: IMDSv2 token rules, every path and listing, 404s, the identity
# document, IMDSv1 mode, world files (loaded, and bad ones rejected with a message naming the key).
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3

# http_code [curl args...]: print the HTTP status only.
http_code() {
    curl -s -o /dev/null -w '%{http_code}' "$@"
}

# expect_code WANT [curl args...]
expect_code() {
    local want=$1 got
    shift
    got=$(http_code "$@")
    [ "$got" = "$want" ] || { echo "expected HTTP $want, got $got for: $*"; return 1; }
}

token() {
    curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: ${1:-60}" "$EMU_URL/latest/api/token"
}

# expect_body PATH WANT [CONTENT-TYPE]: GET with a token; the body must be exactly WANT (no
# trailing newline added) and the Content-Type as given (default text/plain).
expect_body() {
    local path=$1 want=$2 type=${3:-text/plain} t
    t=$(token) || { echo "no token"; return 1; }
    curl -sf -D "$WORK/headers" -o "$WORK/body" -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$path" ||
        { echo "GET $path failed"; return 1; }
    printf '%s' "$want" >"$WORK/want"
    cmp -s "$WORK/body" "$WORK/want" || {
        echo "GET $path: body differs"; echo "--- got:"; od -c "$WORK/body" | head; echo "--- want:"; od -c "$WORK/want" | head
        return 1
    }
    grep -qi "^Content-Type: $type"$'\r'"\?$" "$WORK/headers" || { echo "Content-Type is not $type:"; cat "$WORK/headers"; return 1; }
}

# get_code PATH: HTTP status of a GET with a fresh token.
get_code() {
    local t
    t=$(token) || return 1
    http_code --path-as-is -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$1"
}

expect_get_code() {
    local got
    got=$(get_code "$2")
    [ "$got" = "$1" ] || { echo "GET $2: expected $1, got $got"; return 1; }
}

start_emulator imds || exit 1
IMDS_ADDR=${EMU_URL#http://}
MD=/latest/meta-data
MSK=$MD/managed-ssh-keys

# --- tokens ---------------------------------------------------------------------------------
token_shape() {
    local t
    t=$(token) || return 1
    [[ "$t" =~ ^[A-Za-z0-9_-]{43,}$ ]] || { echo "token '$t' is not 32+ bytes of base64url"; return 1; }
}
check "token: PUT with TTL 60 gives a base64url token of 32+ bytes" token_shape
tokens_differ() { [ "$(token)" != "$(token)" ]; }
check "token: two tokens differ" tokens_differ
ttl_echoed() {
    curl -sf -D - -o /dev/null -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 123' "$EMU_URL/latest/api/token" |
        grep -qi '^X-aws-ec2-metadata-token-ttl-seconds: 123'
}
check "token: the TTL is echoed in X-aws-ec2-metadata-token-ttl-seconds" ttl_echoed
check "token: TTL 1 accepted" expect_code 200 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 1' "$EMU_URL/latest/api/token"
check "token: TTL 21600 accepted" expect_code 200 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$EMU_URL/latest/api/token"
check "token: missing TTL -> 400" expect_code 400 -X PUT "$EMU_URL/latest/api/token"
for bad in 0 21601 -5 abc 60x ' ' 99999999999999999999 1.5; do
    check "token: TTL '$bad' -> 400" expect_code 400 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: $bad" "$EMU_URL/latest/api/token"
done
check "token: PUT with X-Forwarded-For -> 403" expect_code 403 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
    -H 'X-Forwarded-For: 10.0.0.1' "$EMU_URL/latest/api/token"
check "token: GET on the token path -> 405" expect_code 405 "$EMU_URL/latest/api/token"
check "token: POST on the token path -> 405" expect_code 405 -X POST -d x "$EMU_URL/latest/api/token"

# --- GET authorisation ------------------------------------------------------------------------
check "GET without a token -> 401 (IMDSv2 required)" expect_code 401 "$EMU_URL$MD/instance-id"
check "GET with an unknown token -> 401" expect_code 401 -H "X-aws-ec2-metadata-token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$EMU_URL$MD/instance-id"
check "GET with an empty token -> 401" expect_code 401 -H "X-aws-ec2-metadata-token;" "$EMU_URL$MD/instance-id"
valid_token_ok() {
    local t
    t=$(token) && expect_code 200 -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MD/instance-id"
}
check "GET with a valid token -> 200" valid_token_ok
expired_token() {
    local t
    t=$(token 1) || return 1
    expect_code 200 -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MD/instance-id" || return 1
    sleep 2.2
    expect_code 401 -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MD/instance-id"
}
check "GET with an expired token (TTL 1 s, 2.2 s later) -> 401" expired_token
altered_token() {
    local t first=x
    t=$(token) || return 1
    # The first character replaced by another one (a token starting with x was left unchanged,
    # 1 run in 64).
    [ "${t:0:1}" = x ] && first=y
    expect_code 401 -H "X-aws-ec2-metadata-token: ${t}x" "$EMU_URL$MD/instance-id" &&
        expect_code 401 -H "X-aws-ec2-metadata-token: ${first}${t:1}" "$EMU_URL$MD/instance-id"
}
check "GET with an altered token -> 401" altered_token
check "POST on a metadata path -> 405" expect_code 405 -X POST -d x "$EMU_URL$MD/instance-id"

# --- paths and listings -------------------------------------------------------------------------
check "meta-data/ listing" expect_body "$MD/" $'instance-id\nmanaged-ssh-keys/\nplacement/\nservices/'
check "meta-data listing without the slash" expect_body "$MD" $'instance-id\nmanaged-ssh-keys/\nplacement/\nservices/'
check "instance-id" expect_body "$MD/instance-id" "$INSTANCE"
check "placement/ listing" expect_body "$MD/placement/" $'availability-zone\nregion'
check "placement listing without the slash" expect_body "$MD/placement" $'availability-zone\nregion'
check "placement/availability-zone" expect_body "$MD/placement/availability-zone" "$ZONE"
check "placement/region" expect_body "$MD/placement/region" "$REGION"
check "services/ listing" expect_body "$MD/services/" "domain"
check "services listing without the slash" expect_body "$MD/services" "domain"
check "services/domain" expect_body "$MD/services/domain" "amazonaws.com"
# A leaf answers with a trailing slash too, as IMDS does (AWS's eic_curl_authorized_keys asks so).
check "instance-id/ (a leaf with a trailing slash)" expect_body "$MD/instance-id/" "$INSTANCE"
check "placement/region/" expect_body "$MD/placement/region/" "$REGION"
check "services/domain/" expect_body "$MD/services/domain/" "amazonaws.com"
check "managed-ssh-keys/ listing" expect_body "$MSK/" $'active-keys/\nsigner-cert/\nsigner-ocsp/'
check "managed-ssh-keys listing without the slash" expect_body "$MSK" $'active-keys/\nsigner-cert/\nsigner-ocsp/'
check "active-keys/ listing is empty before any push" expect_body "$MSK/active-keys/" ""
check "active-keys listing without the slash" expect_body "$MSK/active-keys" ""
check "active-keys/<user>/ with no records -> 404" expect_get_code 404 "$MSK/active-keys/alice/"
check "active-keys/<user> with no records -> 404" expect_get_code 404 "$MSK/active-keys/alice"

signer_chain() {
    local t n cn
    t=$(token) || return 1
    curl -sf -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MSK/signer-cert/" >"$WORK/chain.pem" || return 1
    cmp -s "$WORK/chain.pem" <(curl -sf -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MSK/signer-cert") ||
        { echo "signer-cert and signer-cert/ differ"; return 1; }
    n=$(grep -c -- '-----BEGIN CERTIFICATE-----' "$WORK/chain.pem")
    [ "$n" -ge 2 ] || { echo "chain holds $n certificates"; return 1; }
    cn=$(openssl x509 -in "$WORK/chain.pem" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
    [ "$cn" = "managed-ssh-signer.$REGION.amazonaws.com" ] || { echo "signer CN is '$cn'"; return 1; }
    # The signer first, then its issuers: it verifies against the state directory's ca.pem.
    awk '/BEGIN CERT/{n++} n>1' "$WORK/chain.pem" >"$WORK/issuers.pem"
    openssl verify -CAfile "$EMU_STATE/ca.pem" -untrusted "$WORK/issuers.pem" "$WORK/chain.pem"
}
check "signer-cert/: PEM chain, signer first (CN managed-ssh-signer.us-east-1.amazonaws.com), verifies to ca.pem" signer_chain

signer_ocsp() {
    local t names fp
    t=$(token) || return 1
    curl -sf -o "$WORK/ocsp-list" -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MSK/signer-ocsp/" || return 1
    [ -n "$(tail -c 1 "$WORK/ocsp-list")" ] || { echo "listing ends in a newline"; return 1; }
    names=$(cat "$WORK/ocsp-list")
    [ "$(echo "$names" | wc -l)" -eq 2 ] || { echo "expected 2 names: $names"; return 1; }
    cmp -s "$WORK/ocsp-list" <(curl -sf -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MSK/signer-ocsp") ||
        { echo "signer-ocsp and signer-ocsp/ differ"; return 1; }
    for name in $names; do
        [[ "$name" =~ ^[0-9A-F]{40}$ ]] || { echo "bad name '$name'"; return 1; }
        curl -sf -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MSK/signer-ocsp/$name" | base64 -d >"$WORK/ocsp.der" ||
            { echo "signer-ocsp/$name is not base64"; return 1; }
        openssl ocsp -respin "$WORK/ocsp.der" -resp_text -noverify >/dev/null 2>&1 ||
            { echo "signer-ocsp/$name is not a DER OCSP response"; return 1; }
        cmp -s <(curl -sf -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MSK/signer-ocsp/$name/") \
            <(curl -sf -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MSK/signer-ocsp/$name") ||
            { echo "signer-ocsp/$name/ differs from signer-ocsp/$name"; return 1; }
    done
    # The names are the SHA-1 fingerprints of the chain's certificates.
    fp=$(openssl x509 -in "$WORK/chain.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
    echo "$names" | grep -qx "$fp" || { echo "signer fingerprint $fp not listed"; return 1; }
}
check "signer-ocsp/: two upper-case SHA-1 names, each a base64 DER OCSP response (with or without a trailing slash)" signer_ocsp
check "signer-ocsp/<unknown> -> 404" expect_get_code 404 "$MSK/signer-ocsp/0000000000000000000000000000000000000000"

identity_document() {
    local t
    t=$(token) || return 1
    curl -sf -D "$WORK/headers" -H "X-aws-ec2-metadata-token: $t" "$EMU_URL/latest/dynamic/instance-identity/document" \
        >"$WORK/doc.json" || return 1
    grep -qi '^Content-Type: application/json' "$WORK/headers" || { echo "not application/json"; return 1; }
    $PY - "$WORK/doc.json" <<'EOF'
import json, re, sys
doc = json.load(open(sys.argv[1]))
want = {"accountId": "111122223333", "availabilityZone": "us-east-1a", "instanceId": "i-0123456789abcdef0",
        "region": "us-east-1", "architecture": "x86_64", "version": "2017-09-30"}
for k, v in want.items():
    assert doc.get(k) == v, f"{k} = {doc.get(k)!r}, want {v!r}"
for k in ("imageId", "instanceType", "pendingTime", "privateIp"):
    assert isinstance(doc.get(k), str) and doc[k], f"{k} missing"
assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", doc["pendingTime"]), doc["pendingTime"]
assert re.match(r"^ami-[0-9a-f]+$", doc["imageId"]), doc["imageId"]
EOF
}
check "identity document: JSON with the world's accountId, zone, instance, region and the usual fields" identity_document

# --- 404s and odd paths -----------------------------------------------------------------------
for p in "$MD/nope" "$MD/instance-id/x" "$MD/instance-id//" "$MD/placement/zone" "$MD/services/partition" \
    /latest/meta-data-x /latest/ /latest /latest/dynamic/ "$MSK/active-keys/alice/x" "$MSK/active-keys/a/b/" \
    "$MSK/active-keys//" "$MSK/signer-cert/x" "$MSK/signer-ocsp/x/y" "$MD/../meta-data/instance-id" \
    "$MD/%2e%2e/meta-data/instance-id" "$MD/instance-id%00" "$MD/instance%2Did" "$MSK/active-keys/..%2F..%2Fetc%2Fpasswd/" \
    "$MSK/active-keys/%00/" "/latest/meta-data/./instance-id" "/latest//meta-data/instance-id"; do
    check "GET $p -> 404" expect_get_code 404 "$p"
done
long_url() {
    local t long got
    t=$(token) || return 1
    long=$(head -c 20000 /dev/zero | tr '\0' a)
    got=$(http_code -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MD/$long")
    [ "$got" = 404 ] || [ "$got" = 414 ] || { echo "20 kB path: $got"; return 1; }
    long=$(head -c 100000 /dev/zero | tr '\0' a)
    got=$(http_code -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MD/$long")
    [ "$got" = 414 ] || [ "$got" = 431 ] || [ "$got" = 400 ] || [ "$got" = 000 ] || { echo "100 kB path: $got"; return 1; }
    expect_code 200 -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MD/instance-id"
}
check "very long paths are refused, and the next request is served" long_url
head_ok() {
    local t
    t=$(token) || return 1
    curl -sfI -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MD/instance-id" | grep -qi '^Content-Length: 19'
}
check "HEAD on instance-id with a token -> 200 with the length of the GET" head_ok
check "emulator still running" kill -0 "$EMU_PID"
stop_emulator

# --- IMDSv1 ---------------------------------------------------------------------------------------
start_emulator imdsv1 --imdsv1 || exit 1
check "--imdsv1: GET without a token -> 200" expect_code 200 "$EMU_URL$MD/instance-id"
check "--imdsv1: GET with an invalid token -> 401" expect_code 401 -H "X-aws-ec2-metadata-token: bogus" "$EMU_URL$MD/instance-id"
check "--imdsv1: tokens still work" valid_token_ok
stop_emulator

# --- several listeners ---------------------------------------------------------------------------
several_listeners() {
    local n addr
    n=$(wc -l <"$EMU_STATE/ready")
    [ "$n" -eq "$1" ] || { echo "ready file has $n lines, want $1:"; cat "$EMU_STATE/ready"; return 1; }
    while read -r addr; do
        [ "$(curl -sf --max-time 3 "http://$addr$MD/instance-id")" = "$INSTANCE" ] || { echo "$addr does not answer"; return 1; }
        case "$addr" in *:0) echo "$addr: port 0 not replaced by the bound port"; return 1 ;; esac
    done <"$EMU_STATE/ready"
}
if ip -6 addr show lo 2>/dev/null | grep -q '::1/128'; then
    start_emulator multi --imdsv1 --listen 127.0.0.1:0 --listen '[::1]:0' || exit 1
    check "--listen three times (IPv4 twice, IPv6 once): every listener in the ready file answers" several_listeners 3
else
    start_emulator multi --imdsv1 --listen 127.0.0.1:0 || exit 1
    check "--listen twice: every listener in the ready file answers" several_listeners 2
fi
stop_emulator

# --- world files ---------------------------------------------------------------------------------
start_emulator world --config "$TEST_DATA/worlds/example.json" || exit 1
check "world file: instance-id" expect_body "$MD/instance-id" "i-0fedcba9876543210"
check "world file: availability-zone" expect_body "$MD/placement/availability-zone" "eu-west-2b"
check "world file: region" expect_body "$MD/placement/region" "eu-west-2"
check "world file: GET without a token -> 401" expect_code 401 "$EMU_URL$MD/instance-id"
world_printed() {
    grep -q '^instance: *i-0fedcba9876543210' "$EMU_STATE/stdout" &&
        grep -q '^principal: *arn:aws:iam::444455556666:user/carol' "$EMU_STATE/stdout" &&
        ! grep -q 'example-secret-carol' "$EMU_STATE/stdout"
}
check "world file: printed at start-up, without its secrets" world_printed
world_signer_cn() {
    local t cn
    t=$(token) || return 1
    curl -sf -H "X-aws-ec2-metadata-token: $t" "$EMU_URL$MSK/signer-cert/" >"$WORK/chain2.pem" || return 1
    cn=$(openssl x509 -in "$WORK/chain2.pem" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
    [ "$cn" = "managed-ssh-signer.eu-west-2.amazonaws.com" ] || { echo "signer CN '$cn'"; return 1; }
}
check "world file: the signer CN follows the world's region" world_signer_cn
stop_emulator

start_emulator worldv1 --config "$TEST_DATA/worlds/imdsv1.json" || exit 1
check "world with imdsv2_required false: GET without a token -> 200" expect_code 200 "$EMU_URL$MD/services/domain"
check "world with imdsv2_required false: domain amazonaws.com.cn" expect_body "$MD/services/domain" "amazonaws.com.cn"
stop_emulator

default_world_printed() {
    grep -q '^instance: *i-0123456789abcdef0' "$WORK/imds/stdout" &&
        grep -q '^zone: *us-east-1a (region us-east-1)' "$WORK/imds/stdout" &&
        grep -q '^domain: *amazonaws.com' "$WORK/imds/stdout" &&
        grep -q '^account: *111122223333' "$WORK/imds/stdout" &&
        grep -q '^key lifetime: *60 s' "$WORK/imds/stdout" &&
        grep -q '^principal: *arn:aws:iam::111122223333:user/alice' "$WORK/imds/stdout" &&
        grep -q 'access key: AKIAEICDEMOALICE0001' "$WORK/imds/stdout" &&
        grep -q 'secret key: eic-demo-secret-alice' "$WORK/imds/stdout" &&
        grep -q '^principal: *arn:aws:sts::111122223333:assumed-role/Admins/bob' "$WORK/imds/stdout" &&
        grep -q 'access key: AKIAEICDEMOBOB000002' "$WORK/imds/stdout" &&
        grep -q "^listen: *$IMDS_ADDR\$" "$WORK/imds/stdout" &&
        grep -q "^trust anchor: *$WORK/imds/ca.pem" "$WORK/imds/stdout"
}
check "default world printed at start-up (instance, zone, domain, account, lifetime, principals, listen, ca.pem)" default_world_printed

# bad_world NAME JSON WANT: the emulator refuses the world (exit 2) with a message containing WANT.
bad_world() {
    local name=$1 json=$2 want=$3 rc
    printf '%s' "$json" >"$WORK/bad-$name.json"
    timeout 20 "$EMULATOR" --listen 127.0.0.1:0 --state-dir "$WORK/badstate" --config "$WORK/bad-$name.json" \
        >"$WORK/bad.out" 2>&1
    rc=$?
    [ "$rc" -eq 2 ] || { echo "exit status $rc, want 2"; cat "$WORK/bad.out"; return 1; }
    grep -qF -- "$want" "$WORK/bad.out" || { echo "message lacks '$want':"; cat "$WORK/bad.out"; return 1; }
}
INST='"instance":{"id":"i-0123456789abcdef0","availability_zone":"us-east-1a","account_id":"111122223333"}'
PRIN='"principals":[{"arn":"arn:aws:iam::111122223333:user/x","access_key_id":"AKIAXXXXXXXXXXXXXXXX","secret_access_key":"s"}]'
check "bad world: not JSON" bad_world notjson '{"instance":' "not valid JSON"
check "bad world: unknown top-level key" bad_world unknown "{$INST,$PRIN,\"colour\":1}" '"colour"'
check "bad world: unknown instance key" bad_world unknown2 '{"instance":{"id":"i-0123456789abcdef0","availability_zone":"us-east-1a","account_id":"111122223333","size":1},'"$PRIN}" '"instance.size"'
check "bad world: unknown principal key" bad_world unknown3 "{$INST,\"principals\":[{\"arn\":\"arn:aws:iam::111122223333:user/x\",\"access_key_id\":\"AKIAXXXXXXXXXXXXXXXX\",\"secret_access_key\":\"s\",\"role\":1}]}" '"principals[0].role"'
check "bad world: bad instance id" bad_world badid '{"instance":{"id":"i-XYZ","availability_zone":"us-east-1a","account_id":"111122223333"},'"$PRIN}" '"instance.id"'
check "bad world: bad zone" bad_world badzone '{"instance":{"id":"i-0123456789abcdef0","availability_zone":"us-east-1","account_id":"111122223333"},'"$PRIN}" '"instance.availability_zone"'
check "bad world: bad domain" bad_world baddomain '{"instance":{"id":"i-0123456789abcdef0","availability_zone":"us-east-1a","domain":"example.com","account_id":"111122223333"},'"$PRIN}" '"instance.domain"'
check "bad world: bad account" bad_world badaccount '{"instance":{"id":"i-0123456789abcdef0","availability_zone":"us-east-1a","account_id":"12"},'"$PRIN}" '"instance.account_id"'
check "bad world: imdsv2_required not a boolean" bad_world badbool '{"instance":{"id":"i-0123456789abcdef0","availability_zone":"us-east-1a","account_id":"111122223333","imdsv2_required":"yes"},'"$PRIN}" '"instance.imdsv2_required"'
check "bad world: key_lifetime 0" bad_world lifetime0 "{$INST,$PRIN,\"key_lifetime\":0}" '"key_lifetime"'
check "bad world: key_lifetime a string" bad_world lifetimes "{$INST,$PRIN,\"key_lifetime\":\"60\"}" '"key_lifetime"'
check "bad world: no principals" bad_world noprin "{$INST}" '"principals"'
check "bad world: empty principals" bad_world emptyprin "{$INST,\"principals\":[]}" '"principals"'
check "bad world: bad access key id" bad_world badakid "{$INST,\"principals\":[{\"arn\":\"arn:aws:iam::111122223333:user/x\",\"access_key_id\":\"akia\",\"secret_access_key\":\"s\"}]}" '"principals[0].access_key_id"'
check "bad world: bad ARN" bad_world badarn "{$INST,\"principals\":[{\"arn\":\"alice\",\"access_key_id\":\"AKIAXXXXXXXXXXXXXXXX\",\"secret_access_key\":\"s\"}]}" '"principals[0].arn"'
check "bad world: duplicate access key" bad_world dupakid "{$INST,\"principals\":[{\"arn\":\"arn:aws:iam::111122223333:user/x\",\"access_key_id\":\"AKIAXXXXXXXXXXXXXXXX\",\"secret_access_key\":\"s\"},{\"arn\":\"arn:aws:iam::111122223333:user/y\",\"access_key_id\":\"AKIAXXXXXXXXXXXXXXXX\",\"secret_access_key\":\"t\"}]}" '"principals[1].access_key_id"'
check "bad world: policy rule with an unknown key" bad_world badpolicy "{$INST,$PRIN,\"policy\":[{\"principal\":\"*\",\"instance\":\"*\",\"os_user\":\"*\",\"effect\":\"deny\"}]}" '"policy[0].effect"'
check "bad world: policy rule missing os_user" bad_world badpolicy2 "{$INST,$PRIN,\"policy\":[{\"principal\":\"*\",\"instance\":\"*\"}]}" '"policy[0].os_user"'
check "bad world: an endpoint tag key starting with aws:" bad_world awstag "{$INST,$PRIN,\"instance_connect_endpoints\":[{\"id\":\"eice-0e1c0de5e1c0de502\",\"tags\":{\"aws:x\":\"y\"}}]}" '"instance_connect_endpoints[0].tags.aws:x"'
check "bad world: an endpoint tag value not a string" bad_world numtag "{$INST,$PRIN,\"instance_connect_endpoints\":[{\"id\":\"eice-0e1c0de5e1c0de502\",\"tags\":{\"Name\":1}}]}" '"instance_connect_endpoints[0].tags.Name"'
check "bad world: endpoint tags not an object" bad_world arrtag "{$INST,$PRIN,\"instance_connect_endpoints\":[{\"id\":\"eice-0e1c0de5e1c0de502\",\"tags\":[]}]}" '"instance_connect_endpoints[0].tags"'
check "bad world: a FIPS DNS name that is not one" bad_world badfips "{$INST,$PRIN,\"instance_connect_endpoints\":[{\"id\":\"eice-0e1c0de5e1c0de502\",\"fips_dns_name\":\"a b\"}]}" '"instance_connect_endpoints[0].fips_dns_name"'
ROLE='"arn":"arn:aws:iam::111122223333:role/R"'
check "bad world: a role's mfa_serial without mfa_code" bad_world mfa1 "{$INST,$PRIN,\"roles\":[{$ROLE,\"mfa_serial\":\"arn:aws:iam::111122223333:mfa/x\"}]}" '"mfa_serial"'
check "bad world: a role's mfa_code that is not 6 digits" bad_world mfa2 "{$INST,$PRIN,\"roles\":[{$ROLE,\"mfa_serial\":\"arn:aws:iam::111122223333:mfa/x\",\"mfa_code\":\"12345\"}]}" '"mfa_code" (6 digits)'
check "bad world: a role's credential_lifetime under 60 s" bad_world lifetime "{$INST,$PRIN,\"roles\":[{$ROLE,\"credential_lifetime\":59}]}" '"roles[0].credential_lifetime"'
check "bad world: an SSO user's name that cannot be a session name" bad_world ssouser "{$INST,$PRIN,\"sso_users\":[{\"name\":\"j doe\",\"access_tokens\":[\"t\"]}]}" '"sso_users[0]"'
secret_not_echoed() {
    bad_world badsecret "{$INST,\"principals\":[{\"arn\":\"arn:aws:iam::111122223333:user/x\",\"access_key_id\":\"AKIAXXXXXXXXXXXXXXXX\",\"secret_access_key\":\"has space\"}]}" '"principals[0].secret_access_key"' &&
        ! grep -q 'has space' "$WORK/bad.out"
}
check "bad world: a bad secret is named but never echoed" secret_not_echoed
missing_world() {
    "$EMULATOR" --listen 127.0.0.1:0 --state-dir "$WORK/badstate" --config "$WORK/no-such.json" >"$WORK/bad.out" 2>&1
    [ $? -eq 2 ] && grep -q 'no-such.json' "$WORK/bad.out"
}
check "missing world file: exit 2 naming the file" missing_world

finish
