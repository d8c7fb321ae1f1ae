#!/usr/bin/python3
"""botocore (the AWS CLI's library) as the judge of eic's credential chain.

  resolve                  resolve credentials as the AWS CLI would in this environment (its
                           variables and ~/.aws files); prints "METHOD ACCESS_KEY_ID"
  push URL USER KEYFILE    resolve them, then push KEYFILE for USER with botocore's own
                           ec2-instance-connect client to URL; prints the method (for sources
                           that mint new credentials at each call: STS)
  resign RAWFILE           resolve them the same way, sign the request in RAWFILE (a request eic
                           sent, captured by emu_sigv4.py capture) again with them at the same
                           X-Amz-Date, and compare: prints "same" and exits 0 when the
                           Authorization and X-Amz-Security-Token headers are identical

botocore 1.29 has no AWS_ENDPOINT_URL_<SERVICE>: with EIC_JUDGE_STS_URL / EIC_JUDGE_SSO_URL /
EIC_JUDGE_SSO_OIDC_URL set, the STS, SSO and SSO OIDC clients botocore makes for assume-role, web
identity, SSO and the renewal of SSO tokens are pointed there (eic reads AWS_ENDPOINT_URL_STS /
_SSO / _SSO_OIDC, which the test sets to the same URLs).
"""
import datetime
import os
import sys
import types


def session():
    import botocore.session

    s = botocore.session.Session()
    endpoints = {"sts": os.environ.get("EIC_JUDGE_STS_URL"), "sso": os.environ.get("EIC_JUDGE_SSO_URL"),
                 "sso-oidc": os.environ.get("EIC_JUDGE_SSO_OIDC_URL")}
    real_create = s.create_client

    def create_client(service_name, *args, **kwargs):
        if endpoints.get(service_name) and not kwargs.get("endpoint_url"):
            kwargs["endpoint_url"] = endpoints[service_name]
        return real_create(service_name, *args, **kwargs)

    s.create_client = create_client
    return s


def resolve():
    creds = session().get_credentials()
    if creds is None:
        print("none")
        return 1
    frozen = creds.get_frozen_credentials()
    print(creds.method, frozen.access_key)
    return 0


def push(url, user, keyfile):
    s = session()
    creds = s.get_credentials()
    if creds is None:
        print("none")
        return 1
    client = s.create_client("ec2-instance-connect", region_name="us-east-1", endpoint_url=url)
    client.send_ssh_public_key(InstanceId="i-0123456789abcdef0", InstanceOSUser=user,
                               SSHPublicKey=open(keyfile).read(), AvailabilityZone="us-east-1a")
    print(creds.method)
    return 0


def parse_raw(path):
    raw = open(path, "rb").read()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return method, target, headers, body


def resign(path):
    import botocore.auth
    import botocore.awsrequest

    method, target, headers, body = parse_raw(path)
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower["authorization"]
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    region, service = scope[2], scope[3]
    when = datetime.datetime.strptime(lower["x-amz-date"], "%Y%m%dT%H%M%SZ")

    class Fixed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

    botocore.auth.datetime = types.SimpleNamespace(datetime=Fixed)
    creds = session().get_credentials()
    if creds is None:
        print("botocore found no credentials")
        return 1
    frozen = creds.get_frozen_credentials()
    keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "x-amz-target", "host")}
    req = botocore.awsrequest.AWSRequest(method=method, url="http://" + lower["host"] + target, data=body,
                                         headers=keep)
    botocore.auth.SigV4Auth(frozen, service, region).add_auth(req)
    mine = (req.headers.get("Authorization"), req.headers.get("X-Amz-Security-Token"))
    theirs = (lower.get("authorization"), lower.get("x-amz-security-token"))
    if mine != theirs:
        print("botocore (%s, %s) signs: %s" % (creds.method, frozen.access_key, mine[0]))
        print("eic sent:               %s" % theirs[0])
        print("session tokens %s" % ("equal" if mine[1] == theirs[1] else "differ"))
        return 1
    print("same")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["resolve"]:
        sys.exit(resolve())
    if sys.argv[1:2] == ["push"] and len(sys.argv) == 5:
        sys.exit(push(sys.argv[2], sys.argv[3], sys.argv[4]))
    if sys.argv[1:2] == ["resign"] and len(sys.argv) == 3:
        sys.exit(resign(sys.argv[2]))
    print(__doc__)
    sys.exit(2)
