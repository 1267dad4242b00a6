#!/usr/bin/python3
"""Traffic tools of the kernel-exact tests (tests/e2e/test_exact_*.sh).

Run inside a namespace with `py_x NS SUBCOMMAND ...` (tests/lib/exact.sh).
Every client prints exactly one JSON line on stdout; servers log one JSON
line per event to --log. Nothing here talks to anything but the addresses it
is given.

  serve NAME [--port P] [--udp-port P] [--bind ADDR] [--log FILE]
      TCP and UDP identity/echo server on both families (dual-stack unless
      --bind names an address). A request line/datagram "q..." is answered
      with "NAME PEERADDR PEERPORT" (padded to big=N bytes if the request
      says so). TCP commands "UP n" (read n bytes, answer "GOT n MD5", then
      wait for the peer's FIN and close) and "DOWN n" (send n bytes, then
      close: FIN, or the error the peer's RST caused). UDP "PUSH k": k
      datagrams to the peer, 50 ms apart; ICMP errors that come back for
      them are logged ({"ev": "icmp", ...}). Any other datagram is logged
      as {"ev": "odd"} and echoed.
  ask tcp|udp HOST PORT [--rounds N] [--sport P] [--src ADDR] [--timeout T]
      [--gap S] [--size N] [--big N]
      N request/response rounds on one socket.
  bulk HOST PORT up|down BYTES [--sport P] [--abort-after N] [--timeout T]
      One TCP transfer ending with a FIN (or, with --abort-after, a close
      with unread data: an RST).
  pushrecv HOST PORT [--count K] [--close-after N]
      Asks a server for K datagrams ("PUSH K"), takes N and closes: the
      rest meet a closed port.
  stream tcp|udp HOST PORT --out FILE [--interval S] [--seconds S]
      [--sport P] [--stop FILE]
      A request every interval; FILE always holds the latest progress
      {"sent", "answered", "last_answer_age", "error"}.
  victim HOST TCP_PORT UDP_PORT --sport P --dir DIR
      Holds one TCP connection and one UDP flow from source port P. Does 20
      rounds on each, then idles; "DIR/cmd" containing "ping N" makes it do
      N more rounds. DIR/state.json: rounds done, failures, unexpected
      datagrams, TCP errors (a reset shows here).
  forge tcp|udp --src A --sport P --dst B --dport Q [--flags F] [--seq N]
      [--ack N] [--payload S] [--iface IF --smac M --dmac M] [--count N]
      Crafted packets (scapy): L3 unless --iface is given.
  scapyd DIR
      forge and tcpseq as a service (scapy starts once): requests are
      files DIR/req-N.json, answers DIR/res-N.json (scapy_call in exact.sh).
  tcpseq PCAP A PA B PB [A PA B PB ...]
      From a capture: for each A:PA <-> B:PB connection (one JSON line
      each), each side's next sequence number, last ack, window in bytes
      (scaled) and the furthest right edge of the windows it advertised.
  ttlprobe HOST PORT --ttl N
      One UDP datagram with that TTL/hop limit; reports the ICMP error that
      came back (IP_RECVERR): its type and who sent it.
"""
import argparse
import hashlib
import json
import os
import select
import socket
import struct
import sys
import threading
import time


def out(d):
    print(json.dumps(d), flush=True)


def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def norm(addr):
    return addr[7:] if addr.startswith("::ffff:") else addr


def pattern(n, seed=7):
    """n bytes of a fixed pattern (fast, reproducible)."""
    block = hashlib.sha256(b"xdp-egress-%d" % seed).digest() * 2048  # 64 KiB
    reps, rest = divmod(n, len(block))
    return block, reps, rest


class Log:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1) if path else None

    def __call__(self, **kw):
        if not self.f:
            return
        kw["t"] = round(time.time(), 3)
        with self.lock:
            self.f.write(json.dumps(kw) + "\n")


# ---- server ---------------------------------------------------------------

def reply_for(name, req, peer):
    words = req.split()
    text = "%s %s %d" % (name, norm(peer[0]), peer[1])
    big = 0
    for w in words[1:]:
        if w.startswith("big="):
            big = int(w[4:])
    data = text.encode()
    if big > len(data) + 1:
        data = data + b" " + b"F" * (big - len(data) - 1)
    return data


def tcp_conn(c, peer, name, log):
    f = c.makefile("rb")
    try:
        while True:
            line = f.readline()
            if not line:
                break
            req = line.decode(errors="replace").strip()
            if req.startswith("UP "):
                n = int(req.split()[1])
                h, got = hashlib.md5(), 0
                while got < n:
                    b = f.read1(min(1 << 20, n - got)) if hasattr(f, "read1") else f.read(min(65536, n - got))
                    if not b:
                        break
                    h.update(b)
                    got += len(b)
                c.sendall(b"GOT %d %s\n" % (got, h.hexdigest().encode()))
                rest = f.read()  # the peer's FIN
                log(ev="up", peer=norm(peer[0]), port=peer[1], got=got, md5=h.hexdigest(),
                    after=len(rest or b""), end="fin")
                break
            if req.startswith("DOWN "):
                n = int(req.split()[1])
                block, reps, rest = pattern(n)
                sent, err = 0, None
                try:
                    for _ in range(reps):
                        c.sendall(block)
                        sent += len(block)
                    c.sendall(block[:rest])
                    sent += rest
                    c.shutdown(socket.SHUT_WR)
                    tail = f.read()
                    end = "fin"
                except OSError as e:
                    err, end = errname(e), "error"
                    tail = b""
                log(ev="down", peer=norm(peer[0]), port=peer[1], sent=sent, end=end, error=err,
                    after=len(tail or b""))
                break
            if req.startswith("q"):
                c.sendall(reply_for(name, req, peer) + b"\n")
                continue
            log(ev="odd", proto="tcp", peer=norm(peer[0]), port=peer[1], data=req[:40])
    except OSError as e:
        log(ev="tcp_error", peer=norm(peer[0]), port=peer[1], error=os.strerror(e.errno) if e.errno else str(e))
    finally:
        c.close()


def tcp_server(name, s, log):
    while True:
        c, peer = s.accept()
        log(ev="accept", peer=norm(peer[0]), port=peer[1])
        threading.Thread(target=tcp_conn, args=(c, peer, name, log), daemon=True).start()


SOL_IP, IP_RECVERR = 0, 11
SOL_IPV6, IPV6_RECVERR = 41, 25


def read_errqueue(s, log):
    while True:
        try:
            data, anc, flags, addr = s.recvmsg(2048, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        for lvl, typ, cd in anc:
            if len(cd) >= 16:
                errno_, origin, itype, icode = struct.unpack_from("=IBBB", cd, 0)
                offender = ""
                off = cd[16:]
                if len(off) >= 8:
                    fam_ = struct.unpack_from("=H", off, 0)[0]
                    if fam_ == socket.AF_INET:
                        offender = socket.inet_ntop(socket.AF_INET, off[4:8])
                    elif fam_ == socket.AF_INET6 and len(off) >= 24:
                        offender = socket.inet_ntop(socket.AF_INET6, off[8:24])
                log(ev="icmp", peer=norm(addr[0]) if addr else "", port=addr[1] if addr else 0,
                    errno=os.strerror(errno_), type=itype, code=icode, origin=origin,
                    offender=norm(offender))


def udp_server(name, s, log):
    lock = threading.Lock()

    def push(peer, k):
        for i in range(k):
            try:
                with lock:
                    s.sendto(b"p%d" % i, peer)
            except OSError:
                pass
            time.sleep(0.05)

    while True:
        r, _, x = select.select([s], [], [s], 1.0)
        if not r and not x:
            continue
        try:
            data, peer = s.recvfrom(65535)
        except BlockingIOError:
            continue
        except OSError:
            read_errqueue(s, log)
            continue
        req = data.decode(errors="replace")
        if req.startswith("q"):
            with lock:
                try:
                    s.sendto(reply_for(name, req.split("|")[0], peer), peer)
                except OSError as e:
                    log(ev="send_error", peer=norm(peer[0]), port=peer[1], error=str(e))
            log(ev="udp", peer=norm(peer[0]), port=peer[1], size=len(data))
        elif req.startswith("PUSH"):
            log(ev="push", peer=norm(peer[0]), port=peer[1])
            threading.Thread(target=push, args=(peer, int(req.split()[1])), daemon=True).start()
        else:
            log(ev="odd", proto="udp", peer=norm(peer[0]), port=peer[1], data=req[:40])
            with lock:
                try:
                    s.sendto(data, peer)
                except OSError:
                    pass


def listen_sock(kind, bind, port):
    af = fam(bind) if bind else socket.AF_INET6
    s = socket.socket(af, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if af == socket.AF_INET6 and not bind:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    if kind == socket.SOCK_DGRAM:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        if af == socket.AF_INET6:
            s.setsockopt(SOL_IPV6, IPV6_RECVERR, 1)
        s.setsockopt(SOL_IP, IP_RECVERR, 1)
    s.bind((bind or "::", port))
    if kind == socket.SOCK_STREAM:
        s.listen(256)
    return s


def cmd_serve(a):
    log = Log(a.log)
    threads = []
    if a.port:
        s = listen_sock(socket.SOCK_STREAM, a.bind, a.port)
        threads.append(threading.Thread(target=tcp_server, args=(a.name, s, log), daemon=True))
    if a.udp_port:
        s = listen_sock(socket.SOCK_DGRAM, a.bind, a.udp_port)
        threads.append(threading.Thread(target=udp_server, args=(a.name, s, log), daemon=True))
    for t in threads:
        t.start()
    while True:
        time.sleep(3600)


# ---- clients --------------------------------------------------------------

def client_sock(kind, host, sport, src):
    s = socket.socket(fam(host), kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sport or src:
        s.bind((src or "", sport or 0))
    return s


def errname(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    return os.strerror(e.errno) if getattr(e, "errno", None) else str(e)


def cmd_ask(a):
    kind = socket.SOCK_STREAM if a.proto == "tcp" else socket.SOCK_DGRAM
    res = {"rounds": a.rounds, "answered": 0, "names": [], "seen": [], "error": None,
           "reply_bytes": 0, "sport": None}
    names, seen = set(), set()
    s = client_sock(kind, a.host, a.sport, a.src)
    s.settimeout(a.timeout)
    try:
        s.connect((a.host, a.port))
        res["sport"] = s.getsockname()[1]
        f = s.makefile("rb") if kind == socket.SOCK_STREAM else None
        for i in range(a.rounds):
            req = "q%d" % i + (" big=%d" % a.big if a.big else "")
            if kind == socket.SOCK_STREAM:
                s.sendall((req + "\n").encode())
                line = f.readline()
                if not line:
                    raise ConnectionError("connection closed by the peer")
                data = line.rstrip(b"\n")
            else:
                payload = req.encode()
                if a.size > len(payload):
                    payload = payload + b"|" + b"S" * (a.size - len(payload) - 1)
                s.send(payload)
                data = s.recv(65535)
            res["answered"] += 1
            res["reply_bytes"] += len(data)
            w = data.decode(errors="replace").split()
            if len(w) >= 3:
                names.add(w[0])
                seen.add("%s %s" % (w[1], w[2]))
            if a.gap:
                time.sleep(a.gap)
    except (OSError, ConnectionError) as e:
        res["error"] = errname(e)
    finally:
        s.close()
    res["names"] = sorted(names)
    res["seen"] = sorted(seen)
    out(res)


def cmd_bulk(a):
    res = {"op": a.op, "bytes": 0, "end": None, "error": None, "md5_ok": None, "sport": None}
    s = client_sock(socket.SOCK_STREAM, a.host, a.sport, None)
    s.settimeout(a.timeout)
    try:
        s.connect((a.host, a.port))
        res["sport"] = s.getsockname()[1]
        if a.op == "up":
            s.sendall(b"UP %d\n" % a.bytes)
            block, reps, rest = pattern(a.bytes)
            h = hashlib.md5()
            for _ in range(reps):
                s.sendall(block)
                h.update(block)
            s.sendall(block[:rest])
            h.update(block[:rest])
            res["bytes"] = a.bytes
            s.shutdown(socket.SHUT_WR)
            buf = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                buf += b
            w = buf.decode().split()
            res["md5_ok"] = len(w) == 3 and int(w[1]) == a.bytes and w[2] == h.hexdigest()
            res["server_said"] = buf.decode().strip()
            res["end"] = "fin"
        else:
            s.sendall(b"DOWN %d\n" % a.bytes)
            h = hashlib.md5()
            got = 0
            if a.abort_after:
                while got < a.abort_after:
                    b = s.recv(65536)
                    if not b:
                        break
                    got += len(b)
                # Let the receive queue fill, then close with it unread: RST.
                time.sleep(0.3)
                res["bytes"] = got
                res["end"] = "abort"
                s.close()
                out(res)
                return
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                got += len(b)
            res["bytes"] = got
            block, reps, rest = pattern(a.bytes)
            e = hashlib.md5()
            for _ in range(reps):
                e.update(block)
            e.update(block[:rest])
            res["md5_ok"] = got == a.bytes and h.hexdigest() == e.hexdigest()
            res["end"] = "fin"
    except OSError as e:
        res["error"] = errname(e)
    finally:
        try:
            s.close()
        except OSError:
            pass
    out(res)


def cmd_pushrecv(a):
    """Asks the server for COUNT datagrams, takes CLOSE_AFTER of them and
    closes the socket: the rest meet a closed port (port unreachable goes
    back from this side)."""
    s = socket.socket(fam(a.host), socket.SOCK_DGRAM)
    s.settimeout(2)
    res = {"received": 0, "error": None, "sport": None}
    try:
        s.connect((a.host, a.port))
        res["sport"] = s.getsockname()[1]
        s.send(b"PUSH %d" % a.count)
        while res["received"] < a.close_after:
            s.recv(2048)
            res["received"] += 1
    except OSError as e:
        res["error"] = errname(e)
    s.close()
    out(res)


def cmd_stream(a):
    kind = socket.SOCK_STREAM if a.proto == "tcp" else socket.SOCK_DGRAM
    st = {"sent": 0, "answered": 0, "last_answer_age": None, "error": None, "sport": None,
          "done": False}
    last = [None]

    def dump():
        st["last_answer_age"] = None if last[0] is None else round(time.monotonic() - last[0], 3)
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(st))
        os.replace(tmp, a.out)

    s = client_sock(kind, a.host, a.sport, None)
    s.settimeout(3)
    t0 = time.monotonic()
    try:
        s.connect((a.host, a.port))
        st["sport"] = s.getsockname()[1]
        s.setblocking(False)
        buf = b""
        nxt = time.monotonic()
        while time.monotonic() - t0 < a.seconds and not (a.stop and os.path.exists(a.stop)):
            now = time.monotonic()
            if now >= nxt:
                try:
                    if kind == socket.SOCK_STREAM:
                        s.send(b"q%d\n" % st["sent"])
                    else:
                        s.send(b"q%d" % st["sent"])
                    st["sent"] += 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    if kind == socket.SOCK_STREAM:
                        raise
                    st["error"] = errname(e)
                nxt = now + a.interval
            r, _, _ = select.select([s], [], [], max(0.0, min(nxt - time.monotonic(), 0.05)))
            if r:
                try:
                    b = s.recv(65535)
                except (BlockingIOError, InterruptedError):
                    b = None
                except OSError as e:
                    if kind == socket.SOCK_STREAM:
                        raise
                    st["error"] = errname(e)
                    b = None
                if b == b"" and kind == socket.SOCK_STREAM:
                    raise ConnectionError("closed by the peer")
                if b:
                    if kind == socket.SOCK_STREAM:
                        buf += b
                        n = buf.count(b"\n")
                        buf = buf[buf.rfind(b"\n") + 1:]
                    else:
                        n = 1
                    st["answered"] += n
                    last[0] = time.monotonic()
            dump()
    except (OSError, ConnectionError) as e:
        st["error"] = errname(e)
    st["done"] = True
    dump()
    s.close()


def cmd_victim(a):
    """One TCP connection and one UDP flow from --sport, kept open."""
    st = {"tcp_rounds": 0, "udp_rounds": 0, "tcp_fail": 0, "udp_fail": 0,
          "unexpected_udp": [], "tcp_error": None, "tcp_eof": False, "ready": False,
          "sport": a.sport, "cmds": 0}
    state = os.path.join(a.dir, "state.json")
    cmdf = os.path.join(a.dir, "cmd")

    def dump():
        tmp = state + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(st))
        os.replace(tmp, state)

    t = client_sock(socket.SOCK_STREAM, a.host, a.sport, None)
    t.settimeout(3)
    try:
        t.connect((a.host, a.tcp_port))
    except OSError as e:
        st["connect_error"] = errname(e)
        dump()
        return
    u = client_sock(socket.SOCK_DGRAM, a.host, a.sport, None)
    u.connect((a.host, a.udp_port))
    u.settimeout(1)

    def rounds(n):
        for i in range(n):
            try:
                t.settimeout(2)
                t.sendall(b"q%d\n" % i)
                line = b""
                while not line.endswith(b"\n"):
                    b = t.recv(256)
                    if not b:
                        st["tcp_eof"] = True
                        raise ConnectionError("eof")
                    line += b
                st["tcp_rounds"] += 1
            except (OSError, ConnectionError) as e:
                st["tcp_fail"] += 1
                st["tcp_error"] = st["tcp_error"] or errname(e)
            try:
                u.send(b"q%d" % i)
                while True:
                    d = u.recv(2048)
                    if len(d.split()) >= 3 and not d.startswith(b"EVIL"):
                        break
                    st["unexpected_udp"].append(d[:30].decode(errors="replace"))
                st["udp_rounds"] += 1
            except OSError as e:
                st["udp_fail"] += 1
                st["udp_error"] = errname(e)
        dump()

    rounds(20)
    st["ready"] = True
    dump()
    t.setblocking(False)
    u.setblocking(False)
    watch = [t, u]
    while True:
        r, _, _ = select.select(watch, [], [], 0.05)
        for s in r:
            try:
                d = s.recv(2048)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                if s is t:
                    st["tcp_error"] = st["tcp_error"] or errname(e)
                    watch.remove(t)
                else:
                    st["udp_error"] = errname(e)
                dump()
                continue
            if s is t:
                if d == b"":
                    st["tcp_eof"] = True
                    watch.remove(t)
                else:
                    st["unexpected_tcp"] = d[:30].decode(errors="replace")
            else:
                st["unexpected_udp"].append(d[:30].decode(errors="replace"))
            dump()
        try:
            with open(cmdf) as f:
                cmd = f.read().split()
            os.unlink(cmdf)
        except OSError:
            cmd = []
        if cmd and cmd[0] == "ping":
            t.setblocking(True)
            u.setblocking(True)
            rounds(int(cmd[1]))
            st["cmds"] += 1
            dump()
            t.setblocking(False)
            u.setblocking(False)
        if cmd and cmd[0] == "exit":
            dump()
            return


def cmd_forge(a):
    """Send the packets a JSON list describes (one scapy start for all)."""
    specs = json.load(open(a.spec)) if a.spec != "-" else json.load(sys.stdin)
    out(forge(specs))


def forge(specs):
    from scapy.all import IP, IPv6, TCP, UDP, Ether, Raw, send, sendp, conf  # noqa
    conf.verb = 0
    done = []
    for p in specs:
        if ":" in p["dst"]:
            l3 = IPv6(src=p["src"], dst=p["dst"])
        else:
            l3 = IP(src=p["src"], dst=p["dst"])
        if p.get("proto", "tcp") == "tcp":
            l4 = TCP(sport=p["sport"], dport=p["dport"], flags=p.get("flags", "R"),
                     seq=p.get("seq", 0) % (1 << 32), ack=p.get("ack", 0) % (1 << 32),
                     window=p.get("window", 0))
        else:
            l4 = UDP(sport=p["sport"], dport=p["dport"])
        pkt = l3 / l4
        if p.get("payload"):
            pkt = pkt / Raw(p["payload"].encode())
        n = p.get("count", 1)
        if p.get("iface"):
            sendp(Ether(src=p["smac"], dst=p["dmac"]) / pkt, iface=p["iface"], count=n)
        else:
            send(pkt, count=n)
        done.append({"what": p.get("what", ""), "sent": n, "summary": pkt.summary()})
    return {"sent": sum(d["sent"] for d in done), "packets": done}


def cmd_scapyd(a):
    """Serves forge and tcpseq requests from files, so that scapy starts
    once per namespace: DIR/req-N.json ({"op": "forge", "spec": [...]} or
    {"op": "tcpseq", "pcap": P, "quads": [...]}) is answered in
    DIR/res-N.json (forge: its result; tcpseq: {"lines": [...]})."""
    import glob
    import io
    import contextlib
    import importlib
    importlib.import_module("scapy.all")  # the slow part, once
    os.makedirs(a.dir, exist_ok=True)
    open(os.path.join(a.dir, "ready"), "w").close()
    while True:
        reqs = sorted(glob.glob(os.path.join(a.dir, "req-*.json")))
        if not reqs:
            time.sleep(0.01)
            continue
        for r in reqs:
            try:
                q = json.load(open(r))
            except (OSError, ValueError):
                continue  # still being written
            try:
                if q["op"] == "forge":
                    res = forge(q["spec"])
                elif q["op"] == "tcpseq":
                    buf = io.StringIO()
                    with contextlib.redirect_stdout(buf):
                        cmd_tcpseq(argparse.Namespace(pcap=q["pcap"], quads=q["quads"]))
                    res = {"lines": [json.loads(x) for x in buf.getvalue().splitlines()]}
                elif q["op"] == "exit":
                    os.unlink(r)
                    return
                else:
                    res = {"error": "unknown op"}
            except Exception as e:  # report, keep serving
                res = {"error": str(e)}
            n = os.path.basename(r)[4:]
            tmp = os.path.join(a.dir, "tmp-" + n)
            with open(tmp, "w") as f:
                f.write(json.dumps(res))
            os.replace(tmp, os.path.join(a.dir, "res-" + n))
            os.unlink(r)


def cmd_tcpseq(a):
    """Sequence space of connections as a capture saw them: one JSON line
    per quad A PA B PB given. For each side
    (a: A:PA -> B:PB, b: the other way): next_seq (what it sends next),
    ack, window (scaled), and edge: the right edge of the receive window it
    ever advertised (max of ack + window): a segment from the other side
    beyond edge is beyond every window this side offered."""
    from scapy.all import rdpcap, IP, IPv6, TCP  # noqa
    cap = rdpcap(a.pcap)
    q = a.quads
    for i in range(0, len(q) - 3, 4):
        a.a, a.pa, a.b, a.pb = q[i], int(q[i + 1]), q[i + 2], int(q[i + 3])
        tcpseq_one(a, cap, IP, IPv6, TCP)


def tcpseq_one(a, cap, IP, IPv6, TCP):
    sides, wscale, edge = {}, {}, {}
    pkts = []
    for p in cap:
        ip = p[IP] if IP in p else (p[IPv6] if IPv6 in p else None)
        if ip is None or TCP not in p:
            continue
        t = p[TCP]
        key = (ip.src, t.sport, ip.dst, t.dport)
        if key == (a.a, a.pa, a.b, a.pb):
            side = "a"
        elif key == (a.b, a.pb, a.a, a.pa):
            side = "b"
        else:
            continue
        if int(t.flags) & 0x02:
            for o in t.options:
                if o[0] == "WScale":
                    wscale[side] = o[1]
        plen = (ip.len - ip.ihl * 4 if IP in p else ip.plen) - t.dataofs * 4
        pkts.append((side, t, plen))
    scaled = "a" in wscale and "b" in wscale
    for side, t, plen in pkts:
        flags = int(t.flags)
        nxt = (t.seq + plen + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF
        win = t.window if flags & 0x02 else t.window << (wscale.get(side, 0) if scaled else 0)
        sides[side] = {"next_seq": nxt, "ack": t.ack, "win_raw": t.window, "window": win, "flags": flags}
        if flags & 0x10:
            e = (t.ack + win) & 0xFFFFFFFF
            # the furthest edge, in sequence-space order
            if side not in edge or ((e - edge[side]) & 0xFFFFFFFF) < (1 << 31):
                edge[side] = e
    for side in sides:
        sides[side]["edge"] = edge.get(side, sides[side]["ack"])
    out(sides)


def cmd_ttlprobe(a):
    af = fam(a.host)
    s = socket.socket(af, socket.SOCK_DGRAM)
    if af == socket.AF_INET:
        s.setsockopt(SOL_IP, IP_RECVERR, 1)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, a.ttl)
    else:
        s.setsockopt(SOL_IPV6, IPV6_RECVERR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, a.ttl)
    s.connect((a.host, a.port))
    res = {"ttl": a.ttl, "icmp": "none", "from": None}
    s.send(b"probe")
    end = time.monotonic() + a.timeout
    while time.monotonic() < end:
        r, _, x = select.select([s], [], [s], 0.1)
        if r or x:
            try:
                s.recv(2048)
                res["icmp"] = "answer"
                break
            except OSError:
                pass
            try:
                data, anc, flags, addr = s.recvmsg(2048, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            except OSError:
                continue
            for lvl, typ, cd in anc:
                if len(cd) >= 16:
                    errno_, origin, itype, icode = struct.unpack_from("=IBBB", cd, 0)
                    off = cd[16:]
                    offender = None
                    fam_ = struct.unpack_from("=H", off, 0)[0] if len(off) >= 2 else 0
                    if fam_ == socket.AF_INET:
                        offender = socket.inet_ntop(socket.AF_INET, off[4:8])
                    elif fam_ == socket.AF_INET6:
                        offender = socket.inet_ntop(socket.AF_INET6, off[8:24])
                    names = {(4, 11): "time-exceeded", (4, 3): "unreachable",
                             (6, 3): "time-exceeded", (6, 1): "unreachable"}
                    v = 4 if af == socket.AF_INET else 6
                    res["icmp"] = names.get((v, itype), "type%d" % itype)
                    res["code"] = icode
                    res["from"] = norm(offender) if offender else None
                    res["errno"] = os.strerror(errno_)
            break
    out(res)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("name")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--udp-port", type=int, default=0)
    s.add_argument("--bind", default="")
    s.add_argument("--log", default="")
    s = sub.add_parser("ask")
    s.add_argument("proto", choices=["tcp", "udp"])
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--rounds", type=int, default=1)
    s.add_argument("--sport", type=int, default=0)
    s.add_argument("--src", default="")
    s.add_argument("--timeout", type=float, default=2.0)
    s.add_argument("--gap", type=float, default=0.0)
    s.add_argument("--size", type=int, default=0)
    s.add_argument("--big", type=int, default=0)
    s = sub.add_parser("bulk")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("op", choices=["up", "down"])
    s.add_argument("bytes", type=int)
    s.add_argument("--sport", type=int, default=0)
    s.add_argument("--abort-after", type=int, default=0)
    s.add_argument("--timeout", type=float, default=10.0)
    s = sub.add_parser("pushrecv")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--count", type=int, default=20)
    s.add_argument("--close-after", type=int, default=3)
    s = sub.add_parser("stream")
    s.add_argument("proto", choices=["tcp", "udp"])
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--out", required=True)
    s.add_argument("--interval", type=float, default=0.02)
    s.add_argument("--seconds", type=float, default=30)
    s.add_argument("--sport", type=int, default=0)
    s.add_argument("--stop", default="")
    s = sub.add_parser("victim")
    s.add_argument("host")
    s.add_argument("tcp_port", type=int)
    s.add_argument("udp_port", type=int)
    s.add_argument("--sport", type=int, required=True)
    s.add_argument("--dir", required=True)
    s = sub.add_parser("forge")
    s.add_argument("spec", help="JSON list of packets, or - for stdin")
    s = sub.add_parser("scapyd")
    s.add_argument("dir")
    s = sub.add_parser("tcpseq")
    s.add_argument("pcap")
    s.add_argument("quads", nargs="+", help="A PA B PB [A PA B PB ...]")
    s = sub.add_parser("ttlprobe")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--ttl", type=int, required=True)
    s.add_argument("--timeout", type=float, default=2.0)
    a = p.parse_args()
    {"serve": cmd_serve, "ask": cmd_ask, "bulk": cmd_bulk, "stream": cmd_stream,
     "pushrecv": cmd_pushrecv, "scapyd": cmd_scapyd,
     "victim": cmd_victim, "forge": cmd_forge, "tcpseq": cmd_tcpseq,
     "ttlprobe": cmd_ttlprobe}[a.cmd](a)


if __name__ == "__main__":
    main()
