#!/bin/bash
# (Re)write the seed corpus fuzz/corpus/<harness>/ from the test fixtures (tests/data) and the
# botocore SigV4 vectors, in each harness's input format (see the comment at the top of each
# fuzz_*.c). The seeds are committed; run this after changing a fixture or an input format.
# Needs fuzz/build.sh to have run (the cache seeds are written by the real writer).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
out=${FUZZ_BUILD_DIR:-$src/fuzz/build}
corpus=$src/fuzz/corpus
data=$src/tests/data

rm -rf "$corpus"
mkdir -p "$corpus"/{fuzz_keyrecords,fuzz_signer,fuzz_config,fuzz_cache,fuzz_sigv4,fuzz_metadata,fuzz_imds,fuzz_emu_request,fuzz_ec2_xml}

cp "$data"/verify/records/*.txt "$corpus/fuzz_keyrecords/"
cp "$data"/config/*.conf "$data"/mapping/*.conf "$corpus/fuzz_config/"
cp "$src/configs/eic.conf" "$corpus/fuzz_config/sample-eic.conf"

# Account caches of 1, 3 and 12 accounts, written by eic_cache_add_user.
# shellcheck disable=SC2046 # pkg-config's flags are words
clang -fsanitize=address,undefined -D_GNU_SOURCE -I"$src/common" "$src/fuzz/make_cache_seed.c" "$out/libeic_fuzz.a" \
    $(pkg-config --libs libcurl json-c openssl) -lpthread -o "$out/make_cache_seed"
for n in 1 3 12; do
    tmp=$(mktemp -d)
    "$out/make_cache_seed" "$tmp" "$n"
    cp "$tmp/accounts.db" "$corpus/fuzz_cache/accounts-$n.db"
    rm -rf "$tmp"
done

python3 - "$data" "$corpus" <<'EOF'
import base64, json, os, sys

data, corpus = sys.argv[1], sys.argv[2]
verify = os.path.join(data, "verify")

def read(*p):
    with open(os.path.join(*p), "rb") as f:
        return f.read()

def write(harness, name, blob):
    with open(os.path.join(corpus, harness, name), "wb") as f:
        f.write(blob)

def ocsp_set(name):
    d = os.path.join(verify, "ocsp", name)
    return [(n, base64.b64decode(read(d, n))) for n in sorted(os.listdir(d))]

# fuzz_signer: chain, then "\n--ocsp--\n" NAME "\n" DER per response.
pairs = [("chain-good", s) for s in sorted(os.listdir(os.path.join(verify, "ocsp")))]
pairs += [("chain-twocn", "signer-twocn"), ("chain-wrongcn", "signer-wrongcn"), ("chain-rogue", "good"),
          ("chain-no-intermediate", "good")]
for chain, s in pairs:
    blob = read(verify, chain + ".pem")
    for n, der in ocsp_set(s):
        blob += b"\n--ocsp--\n" + n.encode() + b"\n" + der
    write("fuzz_signer", f"{chain}+{s}", blob)

# fuzz_imds: the answers of an instance holding the fixture records for alice.
def imds(records, ocsp="good", chain="chain-good", extra=b""):
    meta = "/latest/meta-data/"
    keys = meta + "managed-ssh-keys/"
    sections = [("/latest/api/token", 200, b"AQAEAFixtureTokenFixtureToken=="),
                (keys + "active-keys/alice/", 200, records),
                (meta + "instance-id", 200, b"i-0123456789abcdef0"),
                (meta + "placement/availability-zone", 200, b"us-east-1a\n"),
                (meta + "services/domain", 200, b"amazonaws.com"),
                (keys + "signer-cert/", 200, read(verify, chain + ".pem"))]
    entries = ocsp_set(ocsp) if ocsp else []
    sections.append((keys + "signer-ocsp/", 200, "\n".join(n for n, _ in entries).encode()))
    for n, der in entries:
        sections.append((keys + "signer-ocsp/" + n, 200, base64.b64encode(der)))
    blob = b"".join(b"== %s %d\n%s\n" % (p.encode(), st, body) for p, st, body in sections)
    return blob + extra

write("fuzz_imds", "good", imds(read(verify, "records", "good.txt")))
write("fuzz_imds", "three", imds(read(verify, "records", "three.txt")))
write("fuzz_imds", "expired", imds(read(verify, "records", "expired.txt")))
write("fuzz_imds", "revoked-signer", imds(read(verify, "records", "good.txt"), ocsp="revoked-signer"))
write("fuzz_imds", "rogue-chain", imds(read(verify, "records", "good.txt"), chain="chain-rogue"))
# Regression (found by fuzz_imds): an empty signer-ocsp/ listing made eic_keys.c do arithmetic on
# a NULL buffer (UBSan).
write("fuzz_imds", "empty-ocsp-listing", imds(read(verify, "records", "good.txt"), ocsp=None, extra=b"== /end 404\n"))
write("fuzz_imds", "no-keys", b"== /latest/api/token 200\nAQAEAFixtureToken==\n")
write("fuzz_imds", "token-401", b"== /latest/api/token 401\n\n")
write("fuzz_imds", "raw-short-body",
      b"== /latest/api/token 200\ntok\n== /latest/meta-data/managed-ssh-keys/active-keys/alice/ RAW\n"
      b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n#Timestamp=1\n")

# fuzz_sigv4: Authorization, X-Amz-Date, method, path, query, headers, "", body.
# fuzz_emu_request: the same requests as the emulator receives them, signed (as botocore did:
# judged by the SigV4 checks) and unsigned (the harness signs them: judged by the handlers).
with open(os.path.join(data, "sigv4", "botocore-vectors.txt")) as f:
    vectors = [json.loads(l) for l in f if l.startswith("{")]
for v in vectors:
    heads = "".join(f"{n}:{val}\n" for n, val in v["headers"])
    text = f'{v["authorization"]}\n{v["amz_date"]}\n{v["method"]}\n{v["path"]}\n{v["query"]}\n{heads}\n{v["body"]}'
    write("fuzz_sigv4", v["name"], text.encode())
    query = "?" + v["query"] if v["query"] else ""
    line = f'{v["method"]} {v["path"]}{query}\n'
    signed = line + heads + f'Authorization: {v["authorization"]}\n\n{v["body"]}'
    unsigned = line + "".join(f"{n}: {val}\n" for n, val in v["headers"] if n.lower() != "x-amz-date") + "\n" + v["body"]
    write("fuzz_emu_request", v["name"] + "-signed", signed.encode())
    write("fuzz_emu_request", v["name"], unsigned.encode())

ed25519 = read(data, "sshkey", "ed25519.pub").decode().strip()
rsa2048 = read(data, "sshkey", "rsa2048.pub").decode().strip()
push = "POST /\nContent-Type: application/x-amz-json-1.1\nX-Amz-Target: AWSEC2InstanceConnectService.SendSSHPublicKey\n\n"
for name, key, user in (("push-ed25519", ed25519, "alice"), ("push-rsa2048", rsa2048, "root")):
    body = json.dumps({"InstanceId": "i-0123456789abcdef0", "InstanceOSUser": user, "SSHPublicKey": key,
                       "AvailabilityZone": "us-east-1a"})
    write("fuzz_emu_request", name, (push + body).encode())
ssh2 = read(data, "sshkey", "rsa2048.ssh2").decode()
write("fuzz_emu_request", "push-ssh2", (push + json.dumps({"InstanceId": "i-0123456789abcdef0",
      "InstanceOSUser": "ec2-user", "SSHPublicKey": ssh2})).encode())
write("fuzz_emu_request", "describe-instances",
      b"POST /\nContent-Type: application/x-www-form-urlencoded\n\n"
      b"Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0")
write("fuzz_emu_request", "imds-token", b"PUT /latest/api/token\nX-aws-ec2-metadata-token-ttl-seconds: 21600\n\n")
write("fuzz_emu_request", "imds-get", b"GET /latest/meta-data/managed-ssh-keys/active-keys/alice/\n"
      b"X-aws-ec2-metadata-token: x\n\n")

# fuzz_metadata: one value per input.
for i, s in enumerate(["i-0123456789abcdef0", "i-01234567", "us-east-1a", "ap-southeast-2b", "us-gov-west-1a",
                       "amazonaws.com", "amazonaws.com.cn", "alice", "Machine$", "a.b-c_d", "-bad"]):
    write("fuzz_metadata", f"value-{i}", s.encode())
EOF

# fuzz_ec2_xml: the DescribeInstances answer of tests/unit/test_addresses.c (trimmed from AWS's)
# and EC2's error shape.
cat > "$corpus/fuzz_ec2_xml/describe-instances.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>
  <reservationSet><item><reservationId>r-1</reservationId><ownerId>111122223333</ownerId><groupSet/>
    <instancesSet>
      <item><instanceId>i-0aaaaaaaaaaaaaaaa</instanceId><privateIpAddress>10.9.9.9</privateIpAddress><ipAddress>198.51.100.9</ipAddress><placement><availabilityZone>eu-west-1b</availabilityZone></placement></item>
      <item>
        <instanceId>i-0123456789abcdef0</instanceId>
        <!-- a comment with <tags> inside -->
        <instanceState><code>16</code><name>running</name></instanceState>
        <placement><availabilityZone>us-east-1a</availabilityZone><tenancy>default</tenancy></placement>
        <networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId>
          <privateIpAddress>10.1.1.1</privateIpAddress>
          <association><publicIp>203.0.113.5</publicIp></association>
          <ipv6AddressesSet><item><ipv6Address>2001:db8::5</ipv6Address></item></ipv6AddressesSet>
          <privateIpAddressesSet><item><privateIpAddress>10.1.1.1</privateIpAddress></item></privateIpAddressesSet>
        </item></networkInterfaceSet>
        <tagSet><item><key>Name</key><value>a &lt;web&gt; server</value></item></tagSet>
        <privateIpAddress>10.0.0.5</privateIpAddress>
        <ipAddress>203.0.113.5</ipAddress>
      </item>
    </instancesSet></item></reservationSet>
</DescribeInstancesResponse>
EOF
cat > "$corpus/fuzz_ec2_xml/error.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID &apos;i-0aaaaaaaaaaaaaaaa&apos; does not exist</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>
EOF
echo "corpus written to $corpus: $(find "$corpus" -type f | wc -l) files"
