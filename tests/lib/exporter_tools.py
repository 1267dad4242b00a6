#!/usr/bin/env python3
"""Helpers of tests/e2e/test_exporter.sh.

  exporter_tools.py compare BEFORE.json METRICS AFTER.json IFNAME CONTAINER
      `stats --json` before and after one scrape (METRICS, the exposition
      text): every counter the exporter serves for IFNAME (egress, by
      reason) and for the uplinks (return path) must lie between the two,
      and equal them where they agree. Prints what differs; exit 1 then.
  exporter_tools.py hostile HOST PORT KIND
      One hostile client; prints what the server answered (its status line,
      "closed" or "timeout"). KIND: garbage, huge_header, post, not_found,
      head.
  exporter_tools.py slowloris HOST PORT N READY_FILE
      Opens N connections that each send half a request and then nothing;
      writes READY_FILE once all are open, then waits until the server
      closes each one and prints "closed N after S s" (or "open" for those
      still open after 20 s).
"""
import json
import re
import socket
import sys
import time

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError('not a sample line: %r' % line)
        labels = tuple(sorted(LABEL.findall(m.group(3) or '')))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def compare(before_path, metrics_path, after_path, ifname, container):
    before = json.load(open(before_path))
    after = json.load(open(after_path))
    metrics = parse_metrics(open(metrics_path).read())
    bad, checked = [], 0

    def bracket(what, got, lo, hi):
        nonlocal checked
        checked += 1
        if got is None:
            bad.append('%s: missing' % what)
        elif not lo <= got <= hi:
            bad.append('%s: exporter %s, stats --json %s before and %s after'
                       % (what, got, lo, hi))

    def iface(doc):
        return next(i for i in doc['interfaces'] if i['ifname'] == ifname)

    for reason, b in iface(before)['counters'].items():
        if reason in ('redirected_gso', 'redirect_err', 'promote_requests'):
            continue
        a = iface(after)['counters'][reason]
        for field in ('packets', 'bytes'):
            key = ('xdp_egress_%s_total' % field,
                   (('container', container), ('ifname', ifname),
                    ('reason', reason)))
            bracket('%s %s %s' % (ifname, reason, field), metrics.get(key),
                    b[field], a[field])
    for dev, b, a in [(ifname, iface(before), iface(after))] + [
            (u['ifname'], u, next(x for x in after['uplinks']
                                  if x['ifname'] == u['ifname']))
            for u in before.get('uplinks', [])]:
        key = ('xdp_egress_redirect_errors_total', (('ifname', dev),))
        bracket('%s redirect errors' % dev, metrics.get(key),
                b['counters']['redirect_err']['packets'],
                a['counters']['redirect_err']['packets'])
    for up in before.get('uplinks', []):
        up_after = next(u for u in after['uplinks']
                        if u['ifname'] == up['ifname'])
        for reason in ('redirected', 'pass_local', 'pass_not_container'):
            for field in ('packets', 'bytes'):
                key = ('xdp_egress_return_%s_total' % field,
                       (('ifname', up['ifname']), ('reason', reason)))
                bracket('return %s %s %s' % (up['ifname'], reason, field),
                        metrics.get(key), up['counters'][reason][field],
                        up_after['counters'][reason][field])
    for line in bad:
        print(line)
    print('%d counters compared' % checked)
    return 1 if bad or not checked else 0


def status_line(s):
    data = b''
    try:
        while b'\r\n' not in data:
            chunk = s.recv(4096)
            if not chunk:
                return data.decode(errors='replace') or 'closed'
            data += chunk
    except socket.timeout:
        return 'timeout'
    except ConnectionResetError:
        return 'closed (reset)'
    return data.split(b'\r\n')[0].decode(errors='replace')


def hostile(host, port, kind):
    s = socket.create_connection((host, int(port)), timeout=10)
    req = {
        'garbage': b'\x00\xff\x16\x03\x01 this is no HTTP at all\r\n\r\n',
        'huge_header': b'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ' +
                       b'A' * (1 << 20) + b'\r\n\r\n',
        'post': b'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
                b'Connection: close\r\n\r\nhello',
        'not_found': b'GET /etc/passwd HTTP/1.1\r\nHost: x\r\n'
                     b'Connection: close\r\n\r\n',
        'head': b'HEAD /metrics HTTP/1.1\r\nHost: x\r\n'
                b'Connection: close\r\n\r\n',
    }[kind]
    try:
        s.sendall(req)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server gave up on it early: also an answer
    print(status_line(s))
    s.close()
    return 0


def slowloris(host, port, n, ready):
    socks = []
    for _ in range(int(n)):
        s = socket.create_connection((host, int(port)), timeout=20)
        s.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ')
        socks.append(s)
    open(ready, 'w').close()
    t0 = time.monotonic()
    closed, last = 0, 0.0
    for s in socks:
        try:
            while s.recv(4096):
                pass
            closed += 1
            last = time.monotonic() - t0
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed += 1
            last = time.monotonic() - t0
        s.close()
    if closed == len(socks):
        print('closed %d after %.1f s' % (closed, last))
    else:
        print('open: %d of %d still open after 20 s' % (len(socks) - closed,
                                                        len(socks)))
    return 0


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'compare':
        sys.exit(compare(*sys.argv[2:7]))
    if cmd == 'hostile':
        sys.exit(hostile(*sys.argv[2:5]))
    if cmd == 'slowloris':
        sys.exit(slowloris(*sys.argv[2:6]))
    sys.exit('unknown command %s' % cmd)
