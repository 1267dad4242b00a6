#!/usr/bin/python3
"""A UDP stream with sequence numbers, to count what a change loses.

  send HOST PORT --rate PPS --stop FILE
      64-byte datagrams numbered 0, 1, 2... at PPS until FILE exists, then
      an end marker (a few times); prints {"sent": N} on stdout.
  recv PORT --out FILE [--timeout S]
      Counts the numbered datagrams until the end marker (or S seconds
      without one) and writes {"received", "unique", "max", "missing",
      "gaps"} to FILE: "missing" numbers below the highest received
      (the datagrams lost in the middle of the stream), "gaps" the first
      few missing ranges.
"""
import argparse
import json
import os
import socket
import struct
import time

END = 0xFFFFFFFFFFFFFFFF


def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def cmd_send(a):
    s = socket.socket(fam(a.host), socket.SOCK_DGRAM)
    s.connect((a.host, a.port))
    pad = b"\0" * 56
    n = 0
    t0 = time.monotonic()
    while not os.path.exists(a.stop):
        # Catch up with the schedule, in bursts of at most 32.
        due = int((time.monotonic() - t0) * a.rate)
        burst = min(due - n, 32)
        for _ in range(burst):
            try:
                s.send(struct.pack("!Q", n) + pad)
                n += 1
            except (BlockingIOError, ConnectionRefusedError):
                break
        time.sleep(0.001)
    for _ in range(5):
        try:
            s.send(struct.pack("!Q", END) + pad)
        except OSError:  # the receiver ended at the first one
            break
        time.sleep(0.05)
    print(json.dumps({"sent": n}), flush=True)


def cmd_recv(a):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("::", a.port))
    s.settimeout(a.timeout)
    seen = set()
    received = 0
    try:
        while True:
            b = s.recv(2048)
            if len(b) < 8:
                continue
            (k,) = struct.unpack("!Q", b[:8])
            if k == END:
                break
            received += 1
            seen.add(k)
    except socket.timeout:
        pass
    top = max(seen) if seen else -1
    missing = [k for k in range(top + 1) if k not in seen]
    gaps = []
    for k in missing:
        if gaps and gaps[-1][1] == k - 1:
            gaps[-1][1] = k
        elif len(gaps) < 10:
            gaps.append([k, k])
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"received": received, "unique": len(seen), "max": top,
                   "missing": len(missing), "gaps": gaps}, f)
    os.replace(tmp, a.out)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--rate", type=float, default=3000)
    s.add_argument("--stop", required=True)
    s = sub.add_parser("recv")
    s.add_argument("port", type=int)
    s.add_argument("--out", required=True)
    s.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    {"send": cmd_send, "recv": cmd_recv}[a.cmd](a)


if __name__ == "__main__":
    main()
