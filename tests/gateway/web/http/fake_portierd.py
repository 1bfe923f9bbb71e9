#!/usr/bin/python3
"""A stand-in for portierd's control socket, for web_server_curl_test.sh: frames of a 4-byte
big-endian length and a control.Request, answered with a hand-encoded control.Response.
redeem_pairing answers OK for the code ABCD-EFGH and NOT_FOUND for any other; web_announce OK;
everything else UNAVAILABLE. Each request is logged as one line: METHOD COMMAND-FIELD [DETAIL].
Usage: fake_portierd.py SOCKET LOG"""
import os
import socket
import struct
import sys
import threading


def varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(data):
    """Top-level fields: number -> bytes (length-delimited) or int."""
    out = {}
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        number, kind = key >> 3, key & 7
        if kind == 0:
            out[number], i = varint(data, i)
        elif kind == 2:
            n, i = varint(data, i)
            out[number] = data[i:i + n]
            i += n
        else:
            raise ValueError("unexpected wire type")
    return out


def answer(request, log):
    f = fields(request)
    method = f.get(1, b"").decode()
    if 23 in f:  # redeem_pairing { code = 1 }
        code = fields(f[23]).get(1, b"").decode()
        log.write(f"{method} redeem_pairing {code}\n")
        return b"\xba\x01\x00" if code == "ABCD-EFGH" else b"\x08\x02"
    if 24 in f:  # web_announce { urls = 1; fingerprint_sha256 = 2 }
        i, detail = 0, []
        body = f[24]
        while i < len(body):
            key, i = varint(body, i)
            n, i = varint(body, i)
            detail.append(body[i:i + n].decode())
            i += n
        log.write(f"{method} web_announce {' '.join(detail)}\n")
        return b"\xc2\x01\x00"
    command = [n for n in f if n != 1]
    log.write(f"{method} {command[0] if command else 'none'}\n")
    return b"\x08\x04"


def serve(conn, log, lock):
    with conn:
        head = conn.recv(4, socket.MSG_WAITALL)
        if len(head) < 4:
            return
        (n,) = struct.unpack(">I", head)
        body = conn.recv(n, socket.MSG_WAITALL) if n else b""
        with lock:
            reply = answer(body, log)
            log.flush()
        conn.sendall(struct.pack(">I", len(reply)) + reply)


def main():
    path, log_path = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    lock = threading.Lock()
    with open(log_path, "a") as log:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=serve, args=(conn, log, lock), daemon=True).start()


if __name__ == "__main__":
    main()
