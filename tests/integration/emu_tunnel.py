#!/usr/bin/python3
"""A small, independent WebSocket client for the emulator's OpenTunnel (RFC 6455 written out
here, not eic's codec), with the URL presigned by botocore's SigV4QueryAuth exactly as the AWS
CLI's `ec2-instance-connect open-tunnel` does (service ec2-instance-connect, GET, 60 s).

  emu_tunnel.py presign --host H --path P --query Q --akid A --secret S [--token T] --date YYYYmmddTHHMMSSZ
      print botocore's presigned query string (for comparison with eic's signer)
  emu_tunnel.py open URL [options]
      presign, send the upgrade request, print "status N" and the error "type"; with --send TEXT
      write TEXT as one binary frame and print what comes back ("recv ..."), then close
"""
import argparse
import base64
import datetime
import os
import socket
import struct
import sys
import urllib.parse

import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest


def presigned_url(base, host, query, akid, secret, token, expires, date=None, region="us-east-1",
                  service="ec2-instance-connect"):
    if date is not None:
        fixed = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ")

        class FixedDatetime(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return fixed

            @classmethod
            def now(cls, tz=None):
                return fixed.replace(tzinfo=tz) if tz else fixed

        botocore.auth.datetime.datetime = FixedDatetime
    creds = botocore.credentials.Credentials(akid, secret, token)
    req = AWSRequest(method="GET", url=f"{base}?{query}" if query else base, headers={"host": host})
    botocore.auth.SigV4QueryAuth(creds, service, region, expires=expires).add_auth(req)
    return req.url


def cmd_presign(a):
    url = presigned_url(f"wss://{a.host}{a.path}", a.host, a.query, a.akid, a.secret, a.token, a.expires, a.date,
                        a.region, a.service)
    print(urllib.parse.urlsplit(url).query)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def frame(opcode, payload, fin=True, mask=True, length_override=None):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload) if length_override is None else length_override
    mbit = 0x80 if mask else 0
    if n <= 125:
        head += bytes([mbit | n])
    elif n <= 0xFFFF:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(sock):
    b0, b1 = recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(sock, 8))[0]
    if b1 & 0x80:
        raise ValueError("the server masked a frame")
    return b0 & 0x0F, b0 & 0x80 != 0, recv_exact(sock, n)


def cmd_open(a):
    u = urllib.parse.urlsplit(a.url)
    host = u.netloc
    params = {"instanceConnectEndpointId": a.endpoint_id, "remotePort": a.remote_port,
              "privateIpAddress": a.address}
    if a.duration is not None:
        params["maxTunnelDuration"] = a.duration
    query = urllib.parse.urlencode(params)
    url = presigned_url(f"wss://{host}/openTunnel", host, query, a.akid, a.secret, a.token, a.expires, a.date)
    target = urllib.parse.urlsplit(url)
    path_query = f"{target.path}?{target.query}"
    if a.tamper:
        path_query = path_query.replace("remotePort=", "remotePort=0", 1) if a.tamper == "port" else \
            path_query[:-1] + ("0" if path_query[-1] != "0" else "1")
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path_query} HTTP/1.1", f"Host: {host}"]
    if not a.no_upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                  "Sec-WebSocket-Version: 13"]
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    status_line, _, rest = head.decode(errors="replace").partition("\r\n")
    status = int(status_line.split()[1]) if len(status_line.split()) > 1 else 0
    print(f"status {status}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in rest.split("\r\n") if h)}
    if status != 101:
        length = int(headers.get("content-length", "0"))
        body = recv_exact(sock, length).decode(errors="replace") if length else ""
        print(f"body {body}")
        return
    import hashlib
    expected = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    print("accept " + ("ok" if headers.get("sec-websocket-accept") == expected.decode() else "BAD"))
    if a.send is not None:
        data = a.send.encode()
        if a.fragment:
            half = len(data) // 2
            sock.sendall(frame(0x2, data[:half], fin=False) + frame(0x9, b"mid") + frame(0x0, data[half:]))
        else:
            sock.sendall(frame(0x2, data))
    for raw in a.raw_frame or []:
        op, fin, mask, n = raw.split(":")
        sock.sendall(frame(int(op, 16), b"x" * min(int(n), 200), fin == "1", mask == "1",
                           length_override=int(n)))
    if a.ping:
        sock.sendall(frame(0x9, b"are you there"))
    got = b""
    try:
        while True:
            op, fin, payload = read_frame(sock)
            if op == 0x2 or op == 0x0:
                got += payload
                if a.expect and len(got) >= a.expect:
                    print(f"recv {got.decode(errors='replace')}")
                    got = b""
                    sock.sendall(frame(0x8, struct.pack(">H", 1000)))
            elif op == 0xA:
                print(f"pong {payload.decode(errors='replace')}")
                if not a.expect and a.send is None:
                    sock.sendall(frame(0x8, struct.pack(">H", 1000)))
            elif op == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                if got:
                    print(f"recv {got.decode(errors='replace')}")
                print(f"close {code}")
                break
    except (EOFError, socket.timeout, ValueError) as e:
        print(f"ended {e}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("presign")
    s.add_argument("--host", required=True)
    s.add_argument("--path", default="/openTunnel")
    s.add_argument("--query", default="")
    s.add_argument("--date", required=True)
    s.add_argument("--region", default="us-east-1")
    s.add_argument("--service", default="ec2-instance-connect")
    o = sub.add_parser("open")
    o.add_argument("url")
    o.add_argument("--endpoint-id", default="eice-0e1c0de5e1c0de502")
    o.add_argument("--address", default="127.0.0.1")
    o.add_argument("--remote-port", default="22")
    o.add_argument("--duration")
    o.add_argument("--date", help="sign as of this time (YYYYmmddTHHMMSSZ)")
    o.add_argument("--tamper", choices=["port", "signature"])
    o.add_argument("--no-upgrade", action="store_true")
    o.add_argument("--send")
    o.add_argument("--fragment", action="store_true", help="send --send as two fragments with a ping between")
    o.add_argument("--expect", type=int, help="bytes to wait for before closing")
    o.add_argument("--ping", action="store_true")
    o.add_argument("--raw-frame", action="append", help="OPCODE:FIN:MASK:LENGTH, e.g. 1:1:1:5 (a text frame)")
    for q in (s, o):
        q.add_argument("--akid", default="AKIAEICDEMOALICE0001")
        q.add_argument("--secret", default="eic-demo-secret-alice")
        q.add_argument("--token")
        q.add_argument("--expires", type=int, default=60)
    a = p.parse_args()
    {"presign": cmd_presign, "open": cmd_open}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
