#!/usr/bin/python3
"""A test client for eicd's socket (wire format: lib/base/eic_proto.h), for what the real clients
never send: requests from arbitrary users, malformed and oversized messages, clients that stall.

  eicd_client.py SOCKET keys USER [FINGERPRINT]   print "CODE FIELD..." of the answer
  eicd_client.py SOCKET resolve NAME
  eicd_client.py SOCKET account USER
  eicd_client.py SOCKET session USER FINGERPRINT
  eicd_client.py SOCKET raw HEX                   send these bytes, print the answer or "closed"
  eicd_client.py SOCKET stall SECONDS             connect, send half a header, hold it open
"""
import socket
import struct
import sys
import time

VERSION = 1


def message(code, fields):
    body = b"".join(struct.pack(">H", len(f)) + f for f in (x.encode() for x in fields))
    return struct.pack(">IHH", 8 + len(body), VERSION, code) + body


def read_answer(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    if len(data) < 8:
        return None
    length, version, code = struct.unpack(">IHH", data[:8])
    if length != len(data) or version != VERSION:
        raise SystemExit("bad answer: %r" % data[:64])
    fields, pos = [], 8
    while pos < length:
        (n,) = struct.unpack(">H", data[pos:pos + 2])
        fields.append(data[pos + 2:pos + 2 + n].decode())
        pos += 2 + n
    return code, fields


def main():
    path, what = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    if what == "stall":
        s.sendall(struct.pack(">I", 64))
        time.sleep(float(sys.argv[3]))
        return
    if what == "keys":
        s.sendall(message(1, [sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else ""]))
    elif what == "resolve":
        s.sendall(message(2, [sys.argv[3]]))
    elif what == "account":
        s.sendall(message(3, [sys.argv[3]]))
    elif what == "session":
        s.sendall(message(4, [sys.argv[3], sys.argv[4]]))
    elif what == "raw":
        s.sendall(bytes.fromhex(sys.argv[3]))
    answer = read_answer(s)
    if answer is None:
        print("closed")
    else:
        print(" ".join([str(answer[0])] + answer[1]))


if __name__ == "__main__":
    main()
