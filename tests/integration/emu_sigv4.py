#!/usr/bin/python3
"""Helpers for the emulator's integration tests (run with /usr/bin/python3, which has botocore).

  send URL [options]            sign a request with botocore's SigV4 (or not) and send it;
                                prints "STATUS" then the response body on the next line
  capture PORTFILE OUTFILE      one-shot HTTP server: writes its port to PORTFILE, records the
                                first request's raw bytes in OUTFILE, answers a push success
  replay URL RAWFILE            send a captured request byte for byte; prints STATUS and body
  mutate URL RAWFILE            replay it unaltered (must be 200), then with every single byte of
                                the body, of every signed header value and of the signature
                                altered in turn (each must be refused); prints a summary
  parallel URL N KEYFILE USER   N concurrent signed pushes; prints the status counts
  slowloris URL SECONDS         trickle one header byte a second for SECONDS on one connection
  raw URL                       send stdin's bytes as they are; prints the response's status line
  idle URL                      send half a request line, then wait; prints the seconds until the
                                server closed the connection
"""
import argparse
import datetime
import http.client
import json
import socket
import sys
import threading
import time
import types
import urllib.parse

TARGET = "AWSEC2InstanceConnectService.SendSSHPublicKey"


def split_url(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80


def signed_request(url, body, target, region, service, akid, secret, token, skew, extra_headers, sign=True):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    for h in extra_headers:
        name, _, value = h.partition(":")
        headers[name.strip()] = value.strip()
    req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body, headers=headers)
    if sign:
        if skew:
            real = datetime.datetime

            class Shifted(real):
                @classmethod
                def utcnow(cls):
                    return real.utcnow() + datetime.timedelta(seconds=skew)

            botocore.auth.datetime = types.SimpleNamespace(datetime=Shifted)
        creds = botocore.credentials.Credentials(akid, secret, token)
        botocore.auth.SigV4Auth(creds, service, region).add_auth(req)
    return req


def send(url, req):
    host, port = split_url(url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = req.body if isinstance(req.body, (bytes, bytearray)) else (req.body or "").encode()
    conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
    have_host = False
    for k, v in req.headers.items():
        if k.lower() == "host":
            have_host = True
        conn.putheader(k, v)
    if not have_host:
        conn.putheader("Host", f"{host}:{port}")
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    headers = dict((k.lower(), v) for k, v in resp.getheaders())
    conn.close()
    return resp.status, data, headers


def push_body(args):
    if args.body is not None:
        return args.body.encode()
    doc = {}
    if args.instance:
        doc["InstanceId"] = args.instance
    if args.user is not None:
        doc["InstanceOSUser"] = args.user
    if args.key_file:
        with open(args.key_file) as f:
            doc["SSHPublicKey"] = f.read()
    if args.zone:
        doc["AvailabilityZone"] = args.zone
    return json.dumps(doc).encode()


def cmd_send(args):
    body = push_body(args)
    req = signed_request(args.url, body, args.target, args.region, args.service, args.akid, args.secret,
                         args.token, args.skew, args.header, sign=not args.no_sign)
    if args.authorization is not None:
        if "Authorization" in req.headers:
            del req.headers["Authorization"]  # botocore's headers append on assignment
        req.headers["Authorization"] = args.authorization
    status, data, headers = send(args.url, req)
    print(status)
    print(data.decode(errors="replace"))
    if args.show_headers:
        for k, v in sorted(headers.items()):
            print(f"{k}: {v}")


def read_request(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def cmd_capture(args):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    with open(args.portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os
    os.rename(args.portfile + ".tmp", args.portfile)
    srv.settimeout(60)
    conn, _ = srv.accept()
    raw = read_request(conn)
    with open(args.outfile, "wb") as f:
        f.write(raw)
    body = b'{"RequestId":"00000000-0000-4000-8000-000000000000","Success":true}'
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: "
                 + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    conn.close()
    srv.close()


def raw_exchange(url, raw):
    host, port = split_url(url)
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(raw)
    resp = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
        head, sep, rest = resp.partition(b"\r\n\r\n")
        if sep:
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length is not None and len(rest) >= length:
                break
    s.close()
    status_line = resp.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split(" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return status, resp.partition(b"\r\n\r\n")[2]


def cmd_replay(args):
    with open(args.rawfile, "rb") as f:
        raw = f.read()
    status, body = raw_exchange(args.url, raw)
    print(status)
    print(body.decode(errors="replace"))


def alter(c, hex_only=False):
    """A different byte that keeps the request well-formed HTTP."""
    if hex_only:
        digits = "0123456789abcdef"
        return digits[(digits.index(c) + 1) % 16]
    if c.isdigit():
        return "0" if c == "9" else chr(ord(c) + 1)
    if "a" <= c <= "z":
        return "a" if c == "z" else chr(ord(c) + 1)
    if "A" <= c <= "Z":
        return "A" if c == "Z" else chr(ord(c) + 1)
    return "y" if c == "x" else "x"


def cmd_mutate(args):
    with open(args.rawfile, "rb") as f:
        raw = f.read().decode("latin-1")
    head, _, body = raw.partition("\r\n\r\n")
    lines = head.split("\r\n")
    # Offsets of every header value in the raw text.
    values = []  # (lower name, start, end)
    pos = len(lines[0]) + 2
    for line in lines[1:]:
        name, _, _ = line.partition(":")
        vstart = pos + len(name) + 1
        while raw[vstart] == " ":
            vstart += 1
        values.append((name.strip().lower(), vstart, pos + len(line)))
        pos += len(line) + 2
    body_start = len(head) + 4
    auth = [v for v in values if v[0] == "authorization"][0]
    auth_text = raw[auth[1]:auth[2]]
    signed = auth_text.split("SignedHeaders=")[1].split(",")[0].strip().split(";")
    sig_at = auth[1] + auth_text.index("Signature=") + len("Signature=")

    positions = []  # (what, index, hex_only)
    positions += [("body", i, False) for i in range(body_start, len(raw))]
    for name, start, end in values:
        if name in signed:
            positions += [("header " + name, i, False) for i in range(start, end)]
    positions += [("signature", i, True) for i in range(sig_at, sig_at + 64)]

    status, resp = raw_exchange(args.url, raw.encode("latin-1"))
    if status != 200:
        print(f"unaltered request answered {status}: {resp[:300]!r}")
        return 1
    accepted = []
    counts = {}
    for what, i, hex_only in positions:
        altered = raw[:i] + alter(raw[i], hex_only) + raw[i + 1:]
        status, resp = raw_exchange(args.url, altered.encode("latin-1"))
        counts[status] = counts.get(status, 0) + 1
        if status == 200:
            accepted.append((what, i, raw[i]))
    status, resp = raw_exchange(args.url, raw.encode("latin-1"))
    print(f"signed headers: {';'.join(signed)}")
    print(f"alterations: {len(positions)} (body {len(raw) - body_start}), answers: {counts}")
    if accepted:
        print(f"ACCEPTED altered requests: {accepted[:20]}")
        return 1
    if status != 200:
        print(f"the unaltered request was refused at the end: {status}")
        return 1
    print("every altered request was refused; the unaltered one accepted before and after")
    return 0


def cmd_parallel(args):
    results = []
    lock = threading.Lock()
    with open(args.keyfile) as f:
        key = f.read()

    def one():
        body = json.dumps({"InstanceId": args.instance, "InstanceOSUser": args.user, "SSHPublicKey": key})
        try:
            req = signed_request(args.url, body.encode(), TARGET, "us-east-1", "ec2-instance-connect",
                                 args.akid, args.secret, None, 0, [])
            status, _, _ = send(args.url, req)
        except Exception as e:  # noqa: BLE001 - any failure counts
            status = repr(e)
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one) for _ in range(args.n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = {}
    for r in results:
        counts[r] = counts.get(r, 0) + 1
    print(json.dumps({str(k): v for k, v in counts.items()}))


def cmd_slowloris(args):
    host, port = split_url(args.url)
    s = socket.create_connection((host, port), timeout=30)
    req = b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    deadline = time.time() + args.seconds
    i = 0
    try:
        while time.time() < deadline and i < len(req):
            s.sendall(req[i:i + 1])
            i += 1
            time.sleep(1)
        print(f"sent {i} bytes slowly, connection still open")
    except OSError as e:
        print(f"server closed the slow connection after {i} bytes: {e}")
    s.close()


def cmd_raw(args):
    host, port = split_url(args.url)
    data = sys.stdin.buffer.read()
    s = socket.create_connection((host, port), timeout=10)
    resp = b""
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
    except OSError:
        pass
    s.close()
    print(resp.split(b"\r\n", 1)[0].decode(errors="replace"))


def cmd_idle(args):
    host, port = split_url(args.url)
    s = socket.create_connection((host, port), timeout=60)
    start = time.time()
    s.sendall(b"GET /latest/meta-data/inst")
    try:
        data = s.recv(100)
    except OSError:
        data = b""
    print(f"{time.time() - start:.1f} {len(data)}")
    s.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("url")
    s.add_argument("--body")
    s.add_argument("--instance", default="i-0123456789abcdef0")
    s.add_argument("--user")
    s.add_argument("--key-file")
    s.add_argument("--zone")
    s.add_argument("--target", default=TARGET)
    s.add_argument("--region", default="us-east-1")
    s.add_argument("--service", default="ec2-instance-connect")
    s.add_argument("--akid", default="AKIAEICDEMOALICE0001")
    s.add_argument("--secret", default="eic-demo-secret-alice")
    s.add_argument("--token")
    s.add_argument("--skew", type=int, default=0)
    s.add_argument("--header", action="append", default=[])
    s.add_argument("--authorization")
    s.add_argument("--no-sign", action="store_true")
    s.add_argument("--show-headers", action="store_true")
    c = sub.add_parser("capture")
    c.add_argument("portfile")
    c.add_argument("outfile")
    r = sub.add_parser("replay")
    r.add_argument("url")
    r.add_argument("rawfile")
    m = sub.add_parser("mutate")
    m.add_argument("url")
    m.add_argument("rawfile")
    pa = sub.add_parser("parallel")
    pa.add_argument("url")
    pa.add_argument("n", type=int)
    pa.add_argument("keyfile")
    pa.add_argument("user")
    pa.add_argument("--instance", default="i-0123456789abcdef0")
    pa.add_argument("--akid", default="AKIAEICDEMOALICE0001")
    pa.add_argument("--secret", default="eic-demo-secret-alice")
    sl = sub.add_parser("slowloris")
    sl.add_argument("url")
    sl.add_argument("seconds", type=int)
    rw = sub.add_parser("raw")
    rw.add_argument("url")
    i = sub.add_parser("idle")
    i.add_argument("url")
    args = p.parse_args()
    rc = {"send": cmd_send, "capture": cmd_capture, "replay": cmd_replay, "mutate": cmd_mutate,
          "parallel": cmd_parallel, "raw": cmd_raw, "slowloris": cmd_slowloris, "idle": cmd_idle}[args.cmd](args)
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
