#!/usr/bin/python3
"""Print SigV4 test vectors computed by botocore (the AWS CLI's signer), for eic's own signer
to be checked against an independent implementation.

Usage: /usr/bin/python3 gen_botocore_vectors.py [--format=jsonl|text] [--random=N [--seed=S]]

  jsonl (default)  the vectors file: '#' header lines, then one JSON object per case with the
                   inputs (method, wire path and query, the headers botocore signs with their
                   original spelling, body, credentials, scope) and botocore's outputs
                   (canonical_request, string_to_sign, signature, authorization).
  text             only the outputs, in the plain layout tests/unit/sigv4_vector_tool prints,
                   so that the two can be compared with diff.

  --random=N       instead of the fixed cases, N random ones (paths, query parameters and
                   header values drawn from awkward alphabets), reproducible with --seed.

Every case is signed at a fixed instant, so the output depends only on the botocore version
(and the seed).
"""
import datetime
import json
import random
import sys
from unittest import mock
from urllib.parse import quote, urlsplit

import botocore
import botocore.auth
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FIXED_NOW = datetime.datetime(2024, 11, 23, 22, 13, 20)  # 1732400000, as in docs/PROTOCOL.md's example record

AKID = "AKIAEICDEMOALICE0001"
SECRET = "eic-demo-secret-alice"
TOKEN = ("IQoJb3JpZ2luX2VjEFAaCXVzLWVhc3QtMSJHMEUCIQD+eic/test+session+token==")

SEND_KEY_BODY = json.dumps({
    "InstanceId": "i-0123456789abcdef0",
    "InstanceOSUser": "alice",
    "SSHPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHv1q1ZkX2Fm6nW0o8wWQ2WgY3d2X3m2n5E9mZp1cQ2s alice@laptop",
    "AvailabilityZone": "us-east-1a",
}, separators=(",", ":"))

JSON_HEADERS = [
    ("Content-Type", "application/x-amz-json-1.1"),
    ("X-Amz-Target", "AWSEC2InstanceConnectService.SendSSHPublicKey"),
]

# name, method, endpoint, logical path (None: the endpoint's own), params, extra headers,
# body, token, region, service
CASES = [
    ("send-ssh-public-key", "POST", "https://ec2-instance-connect.us-east-1.amazonaws.com", "/",
     None, JSON_HEADERS, SEND_KEY_BODY, None, "us-east-1", "ec2-instance-connect"),
    ("send-ssh-public-key-session-token", "POST", "https://ec2-instance-connect.us-east-1.amazonaws.com", "/",
     None, JSON_HEADERS, SEND_KEY_BODY, TOKEN, "us-east-1", "ec2-instance-connect"),
    ("send-ssh-public-key-emulator-port", "POST", "http://127.0.0.1:8169", "/",
     None, JSON_HEADERS, SEND_KEY_BODY, None, "us-east-1", "ec2-instance-connect"),
    ("send-ssh-public-key-eu-with-user-agent", "POST", "https://ec2-instance-connect.eu-west-1.amazonaws.com",
     "/", None, JSON_HEADERS + [("User-Agent", "aws-cli/2.9.19 Python/3.11.2")], SEND_KEY_BODY, None,
     "eu-west-1", "ec2-instance-connect"),
    ("get-query-needs-encoding", "GET", "https://example.amazonaws.com", "/",
     [("b", "x y"), ("a", "1/2"), ("c", "\u00fc~*'()!"), ("Empty", ""), ("k", "2"), ("k", "1"),
      ("plus", "a+b=c&d")], [], b"", None, "us-east-1", "service"),
    ("get-raw-query-unsorted", "GET", "https://example.amazonaws.com/?Version=2&Action=Describe%20Things&flag",
     None, None, [], b"", None, "us-east-1", "service"),
    ("path-with-spaces-and-unicode", "GET", "https://example.amazonaws.com",
     "/my files/\u00e4\u00f6\u00fc/\u65e5\u672c/a~b!c(d).txt", None, [], b"", None, "us-west-2", "service"),
    ("path-dot-segments-and-double-slashes", "GET", "https://example.amazonaws.com", "/a//b/./c/../d/",
     None, [], b"", None, "us-east-1", "service"),
    ("headers-with-extra-spaces", "POST", "https://example.amazonaws.com", "/",
     None, [("My-Header1", "   value1  "), ("my-header2", "\"a   b   c\""),
            ("X-Tabbed", "one\t\ttwo  \t three"), ("Content-Type", "text/plain")],
     b"hello", None, "us-east-1", "service"),
    ("repeated-header-names", "GET", "https://example.amazonaws.com", "/",
     None, [("X-Dup", "one"), ("x-other", "z"), ("X-DUP", "  two   2 "), ("x-dup", "three")],
     b"", None, "us-east-1", "service"),
    ("post-empty-body", "POST", "https://ec2-instance-connect.us-east-1.amazonaws.com", "/",
     None, JSON_HEADERS, b"", None, "us-east-1", "ec2-instance-connect"),
    ("post-empty-body-session-token", "POST", "https://ec2-instance-connect.ap-southeast-2.amazonaws.com", "/",
     None, JSON_HEADERS, b"", TOKEN, "ap-southeast-2", "ec2-instance-connect"),
]


class RecordingSigV4Auth(SigV4Auth):
    """botocore's signer, unchanged, keeping what add_auth computed (recomputing it afterwards
    would sign the Authorization header that add_auth has just added)."""

    def canonical_request(self, request):
        self.recorded_canonical_request = super().canonical_request(request)
        return self.recorded_canonical_request

    def string_to_sign(self, request, canonical_request):
        self.recorded_string_to_sign = super().string_to_sign(request, canonical_request)
        return self.recorded_string_to_sign

    def signature(self, string_to_sign, request):
        self.recorded_signature = super().signature(string_to_sign, request)
        return self.recorded_signature


class FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED_NOW


def sign(case):
    name, method, endpoint, path, params, headers, body, token, region, service = case
    url = endpoint
    if path is not None:
        # What botocore's serializers put on the wire for a path: percent-encoded, '/' kept.
        url = endpoint + quote(path, safe="/~")
    if isinstance(body, str):
        body = body.encode("utf-8")
    request = AWSRequest(method=method, url=url, data=body, params=params)
    for hname, hvalue in headers:
        request.headers[hname] = hvalue  # HTTPHeaders appends: repeated names are kept
    signer = RecordingSigV4Auth(Credentials(AKID, SECRET, token), service, region)
    with mock.patch.object(botocore.auth.datetime, "datetime", FixedDatetime):
        signer.add_auth(request)
    canonical_request = signer.recorded_canonical_request
    string_to_sign = signer.recorded_string_to_sign
    signature = signer.recorded_signature
    authorization = request.headers["Authorization"]
    assert authorization.endswith("Signature=" + signature)

    wire = urlsplit(request.prepare().url)
    signed = [(k, v) for k, v in request.headers.items()
              if k.lower() not in SIGNED_HEADERS_BLACKLIST and k.lower() != "authorization"]
    if not any(k.lower() == "host" for k, _ in signed):
        signed.append(("Host", signer.headers_to_sign(request)["host"]))
    return {
        "name": name,
        "method": method,
        "path": wire.path,
        "query": wire.query,
        "headers": [[k, v] for k, v in signed],
        "body": body.decode("utf-8"),
        "access_key_id": AKID,
        "secret_access_key": SECRET,
        "amz_date": request.context["timestamp"],
        "region": region,
        "service": service,
        "canonical_request": canonical_request,
        "string_to_sign": string_to_sign,
        "signature": signature,
        "authorization": authorization,
    }


PATH_ALPHABET = "abcXYZ019-_.~ !$&'()*+,;=:@%/\u00e9\u00fc\u4e2d"
QUERY_ALPHABET = "abcXYZ019-_.~ !$'()*+,;:@%/?=&\u00e9\u4e2d"
HEADER_ALPHABET = "abcXYZ019-_.~!$&'()*+,;=:@%/\"<>?[]{}"


def random_text(rng, alphabet, low, high):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def random_case(rng, index):
    path = "/" + "/".join(rng.choice([random_text(rng, PATH_ALPHABET, 0, 8), ".", ".."])
                          for _ in range(rng.randint(0, 5)))
    params = [(random_text(rng, QUERY_ALPHABET, 1, 6), random_text(rng, QUERY_ALPHABET, 0, 6))
              for _ in range(rng.randint(0, 5))]
    if params and rng.random() < 0.3:
        params.append((params[0][0], random_text(rng, QUERY_ALPHABET, 0, 4)))  # a repeated key
    headers = []
    for _ in range(rng.randint(0, 5)):
        name = "X-" + random_text(rng, "abcdefXYZ-", 1, 3)
        words = [random_text(rng, HEADER_ALPHABET, 1, 5) for _ in range(rng.randint(1, 4))]
        value = "".join(rng.choice([" ", "  ", "\t", " \t "]) + w for w in words)
        headers.append((name, value + rng.choice(["", " ", "\t "])))
    method = rng.choice(["GET", "POST", "PUT", "DELETE"])
    body = random_text(rng, QUERY_ALPHABET, 0, 40) if method != "GET" else ""
    token = TOKEN if rng.random() < 0.3 else None
    region = rng.choice(["us-east-1", "eu-central-1", "cn-north-1", "us-gov-west-1"])
    return ("random-%d" % index, method, "https://host%d.example.com" % index, path, params or None,
            headers, body, token, region, rng.choice(["ec2-instance-connect", "iam", "execute-api"]))


def print_text(vector):
    # Same layout as tests/unit/sigv4_vector_tool.c.
    print("== " + vector["name"])
    print("-- canonical request")
    print(vector["canonical_request"])
    print("-- string to sign")
    print(vector["string_to_sign"])
    print("-- signature")
    print(vector["signature"])
    print("-- authorization")
    print(vector["authorization"])


def main():
    fmt = "jsonl"
    n_random = 0
    seed = 1
    for arg in sys.argv[1:]:
        if arg.startswith("--format="):
            fmt = arg.split("=", 1)[1]
        elif arg.startswith("--random="):
            n_random = int(arg.split("=", 1)[1])
        elif arg.startswith("--seed="):
            seed = int(arg.split("=", 1)[1])
        else:
            sys.exit("usage: gen_botocore_vectors.py [--format=jsonl|text] [--random=N [--seed=S]]")
    if fmt not in ("jsonl", "text"):
        sys.exit("unknown format " + fmt)
    cases = CASES
    if n_random > 0:
        rng = random.Random(seed)
        cases = [random_case(rng, i) for i in range(n_random)]
    vectors = [sign(case) for case in cases]
    if fmt == "text":
        for vector in vectors:
            print_text(vector)
        return
    print("# SigV4 test vectors made by botocore %s (SigV4Auth), signed at %s UTC." %
          (botocore.__version__, FIXED_NOW.isoformat()))
    print("# Generated by tests/data/sigv4/gen_botocore_vectors.py; regenerate, do not edit.")
    print("# One JSON object per line: inputs (path and query as on the wire, the headers that are")
    print("# signed, with their original spelling) and botocore's canonical request, string to sign,")
    print("# signature and Authorization header.")
    for vector in vectors:
        print(json.dumps(vector, ensure_ascii=False))


if __name__ == "__main__":
    main()
