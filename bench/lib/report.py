#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns run.sh's raw figures (one JSON object a line) into
results/latest.json, latest.md and latest.svg (gnuplot).

Every ratio is taken within a round (contender / iptables of the same
round) and the median over rounds is reported, so drift between rounds on
a shared machine cancels out. Spread is (max - min) / median over rounds.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

BASE = "iptables"
CONTENDERS = ["iptables", "nftables", "tc-bpf", "xdp-native", "xdp-generic", "xe-tc", "xe-auto",
              "xdp-native-noflows"]

# figures whose ratio to iptables means nothing
NO_RATIO = {"loss", "c1_tx_bytes_per_pkt", "host_cpu_share", "steal_ms", "wrong_src",
            "syn_retrans", "socket_errors", "non_2xx_3xx", "attempt_fails",
            "world_listen_drops", "lost", "late", "other_cpu_share"}
# figures that are event counts (printed as whole numbers)
COUNTS = {"syn_retrans", "socket_errors", "non_2xx_3xx", "attempt_fails",
          "world_listen_drops", "lost", "late"}

# the source address the sink accepts for each contender's flood (run.sh)
EXPECTED_SRC = {"iptables": "198.18.0.1", "nftables": "198.18.0.1", "tc-bpf": "10.201.0.0/16",
                "xdp-native": "198.18.0.1", "xdp-generic": "198.18.0.1", "xe-tc": "198.18.0.1",
                "xe-auto": "198.18.0.1", "xdp-native-noflows": "198.18.0.1"}

# short names for the chart's x axis
SHORT = {"small_sock": "small-sock", "small_live": "small-live", "tcp1": "tcp-1",
         "tcp4": "tcp-4", "tcpdown": "tcp-down", "lat_udp": "lat-udp-p99", "lat_tcp": "lat-tcp-p99",
         "cpu_sock": "cpu-sock", "cpu_live": "cpu-live", "connrate": "connrate",
         "udprr": "udp-rr"}

# workload -> (primary metric, higher is better, label, unit, scale)
PRIMARY = {
    "small_sock": ("pps", True, "small, socket sender", "Mpps", 1e-6),
    "small_live": ("pps", True, "small, live frames", "Mpps", 1e-6),
    "tcp1": ("gbps", True, "tcp, 1 stream", "Gbit/s", 1),
    "tcp4": ("gbps", True, "tcp, 4 streams", "Gbit/s", 1),
    "tcpdown": ("gbps", True, "tcp download, 1 stream", "Gbit/s", 1),
    "lat_udp": ("p99_us", False, "latency UDP p99", "us", 1),
    "lat_tcp": ("p99_us", False, "latency TCP p99", "us", 1),
    "cpu_sock": ("host_ns_per_pkt", False, "cpu/pkt, socket sender", "ns", 1),
    "cpu_live": ("host_ns_per_pkt", False, "cpu/pkt, live frames", "ns", 1),
    "connrate": ("rps", True, "connrate: HTTP, Connection: close (wrk, 32 conns)", "req/s", 1),
    "udprr": ("tps", True, "udprr: UDP request/response (256 flows, 32 deep)", "trans/s", 1),
}
# secondary figures shown in the table too
SECONDARY = [
    ("small_sock", "host_ns_per_pkt", False, "small, socket: host cpu/pkt", "ns", 1),
    ("small_sock", "loss", False, "small, socket: loss", "%", 100),
    ("small_live", "host_ns_per_pkt", False, "small, live: host cpu/pkt", "ns", 1),
    ("small_live", "loss", False, "small, live: loss", "%", 100),
    ("lat_udp", "p50_us", False, "latency UDP p50", "us", 1),
    ("lat_tcp", "p50_us", False, "latency TCP p50", "us", 1),
    ("tcp1", "c1_tx_bytes_per_pkt", True, "tcp 1: container bytes/packet", "B", 1),
    ("small_live", "host_cpu_share", False, "small, live: host path share of a CPU", "%", 100),
    ("cpu_sock", "pps", True, "cpu, socket: rate held", "Mpps", 1e-6),
    ("cpu_live", "pps", True, "cpu, live: rate held", "Mpps", 1e-6),
    ("connrate", "syn_retrans", False, "connrate: SYN retransmits in the window", "", 1),
    ("connrate", "socket_errors", False,
     "connrate: wrk socket errors (connect/read/write/timeout)", "", 1),
    ("connrate", "non_2xx_3xx", False, "connrate: responses with status >= 400", "", 1),
    ("connrate", "p99_us", False, "connrate: request latency p99", "us", 1),
    ("connrate", "world_listen_drops", False, "connrate: server ListenDrops", "", 1),
    ("udprr", "lost", False, "udprr: lost (no reply in 200 ms)", "", 1),
    ("udprr", "p99_us", False, "udprr: round trip p99 (32 outstanding)", "us", 1),
    ("connrate", "other_cpu_share", False,
     "connrate: other processes' share of the CPUs (disturbance)", "%", 100),
    ("udprr", "other_cpu_share", False,
     "udprr: other processes' share of the CPUs (disturbance)", "%", 100),
]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except Exception:
        return ""


def med(v):
    return statistics.median(v) if v else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--window", type=float, required=True)
    ap.add_argument("--cpu-rate", type=int, required=True)
    ap.add_argument("--elapsed", type=int, required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--scales", default="1")
    ap.add_argument("--command", default="bench/run.sh")
    ap.add_argument("--xe-on-kernel-rules", type=int, default=0,
                    help="1: the xdp contenders ran without --snat on the iptables "
                         "contender's rules (run.sh XE_ON_KERNEL_RULES)")
    a = ap.parse_args()

    figs, notes, stats, offloads, load = {}, [], {}, {}, []
    for line in open(a.raw):
        line = line.strip()
        if not line:
            continue
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if "note" in o:
            notes.append(o)
        elif "load" in o:
            load.append(dict(o["load"], contender=o["contender"], round=o["round"]))
        elif "offloads" in o:
            offloads[o["contender"]] = o["offloads"]
        elif "stats" in o:
            # the last round's totals only, non-zero counters only: small file
            tot = (o["stats"] or {}).get("total", {})
            stats[o["contender"]] = {k: v for k, v in tot.items()
                                     if isinstance(v, dict) and v.get("packets")}
        elif o.get("value") is not None:
            figs.setdefault(o["workload"], {}).setdefault(o["contender"], {}) \
                .setdefault(o["metric"], {})[o["round"]] = o["value"]

    # Derived: the share of one CPU the host path used (pps x ns/pkt). With
    # the live generator everything runs on the generator's CPU, so this
    # says how much of that CPU the path took, the rest being generator+sink.
    for c, d in figs.get("small_live", {}).items():
        pps, ns = d.get("pps", {}), d.get("host_ns_per_pkt", {})
        d["host_cpu_share"] = {r: pps[r] * ns[r] / 1e9 for r in pps if r in ns}
    # Derived: wrk's socket errors of every kind, per round.
    for c, d in figs.get("connrate", {}).items():
        kinds = [d.get("err_" + k, {}) for k in ("connect", "read", "write", "timeout")]
        d["socket_errors"] = {r: sum(k.get(r) or 0 for k in kinds) for r in kinds[0]}

    scales = [s for s in a.scales.split() if s != "1"]
    primary = dict(PRIMARY)
    for s in scales:
        primary["scale_%s" % s] = ("pps", True, "scale, %s containers" % s, "Mpps", 1e-6)
    secondary = list(SECONDARY)
    for s in scales:
        secondary.append(("scale_%s" % s, "host_ns_per_pkt", False,
                          "scale %s: host cpu/pkt" % s, "ns", 1))
    # ct: live frames (1 container) with N synthetic flows in the table, xdp only
    for n in ("1k", "100k"):
        primary["ct_%s" % n] = ("pps", True, "ct, %s flows in table (live, 1 container)" % n,
                                "Mpps", 1e-6)
        secondary.append(("ct_%s" % n, "host_ns_per_pkt", False,
                          "ct %s: host cpu/pkt" % n, "ns", 1))
    contenders = [c for c in CONTENDERS if any(c in figs.get(w, {}) for w in figs)]

    def summary(w, c, m, higher):
        per_round = figs.get(w, {}).get(c, {}).get(m, {})
        vals = list(per_round.values())
        if not vals:
            return None
        md = med(vals)
        base = figs.get(w, {}).get(BASE, {}).get(m, {})
        ratios = [per_round[r] / base[r] for r in per_round
                  if r in base and base[r] and per_round[r] is not None]
        return {
            "rounds": {str(k): v for k, v in sorted(per_round.items())},
            "median": md, "min": min(vals), "max": max(vals),
            "spread": (max(vals) - min(vals)) / md if md else None,
            "ratio_to_iptables": med(ratios),
            "higher_is_better": higher,
        }

    results = {}
    for w, (m, hi, *_r) in primary.items():
        for c in contenders + ["ceiling"]:
            s = summary(w, c, m, hi)
            if s:
                results.setdefault(w, {}).setdefault(c, {})[m] = s
    for w, m, hi, *_r in secondary:
        for c in contenders + ["ceiling"]:
            s = summary(w, c, m, hi)
            if s:
                results.setdefault(w, {}).setdefault(c, {})[m] = s
    # the sink's source check: per contender, the largest share of a flood
    # window that arrived from an unexpected source (0: all translated)
    wrong = {}
    for w, d in figs.items():
        if w == "diag_no_rewrite":
            continue
        for c, m in d.items():
            for r, v in m.get("wrong_src", {}).items():
                if c in EXPECTED_SRC:
                    wrong[c] = max(wrong.get(c, 0), v or 0)
    diag = {}
    for c, d in figs.get("diag_no_rewrite", {}).items():
        diag[c] = {k: list(v.values())[0] for k, v in d.items()}

    commit = sh("git -C '%s' rev-parse --short HEAD" % a.root)
    dirty = sh("git -C '%s' status --porcelain -- src bpf include bench" % a.root)
    cpu = sh("awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo")
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": a.command,
        "mode": a.mode,
        "git_commit": commit + ("-dirty" if dirty else ""),
        "machine": {"cpu": cpu, "cpus": os.cpu_count(), "arch": platform.machine(),
                    "kernel": platform.release(),
                    "os": sh(". /etc/os-release && echo $PRETTY_NAME")},
        "tools": {"iptables": sh("iptables -V"), "nft": sh("nft -v"),
                  "iperf3": sh("iperf3 -v | head -1"), "sockperf": sh("sockperf -v | head -1"),
                  "nginx": sh("nginx -v 2>&1"), "wrk": sh("wrk -v 2>&1 | head -1"),
                  "clang": sh("clang --version | head -1")},
        "params": {"rounds": a.rounds, "window_s": a.window, "cpu_rate_pps": a.cpu_rate,
                   "elapsed_s": a.elapsed, "baseline": BASE,
                   "xe_on_kernel_rules": a.xe_on_kernel_rules},
        "definitions": {
            "pps": "UDP packets/s received in the world namespace (XDP sink)",
            "host_ns_per_pkt": "NET_RX+NET_TX softirq ns on all CPUs, minus the "
                               "sink device's own NAPI polls, per received packet",
            "loss": "1 - received / offered (generator's count over its whole run)",
            "wrong_src": "share of the flood that reached the sink with a source other "
                         "than expected (NAT contenders: 198.18.0.1, tc-bpf: 10.201/16); "
                         "such packets are not counted as received",
            "gbps": "iperf3 sum_received, container -> world (tcpdown: world -> "
                    "container, iperf3 -R)",
            "p50_us/p99_us": "sockperf ping-pong round trip, 64-byte messages",
            "ceiling": "generator -> veth -> sink with nothing between",
            "rps": "connrate: wrk's completed requests / its run time; every request a new "
                   "TCP connection (Connection: close), 1 KiB from nginx in the world, 32 "
                   "connections, 2 threads; the window is iperf3's whole seconds, after an "
                   "unmeasured wrk run of the warm-up length",
            "syn_retrans": "connrate: container 1's TcpExtTCPSynRetrans over the measured "
                           "wrk run (nstat, absolute counters, difference)",
            "socket_errors": "connrate: wrk's connect + read + write + timeout errors "
                             "(each also as err_* in the rounds)",
            "non_2xx_3xx": "connrate: wrk's responses with a status above 399",
            "world_listen_drops": "connrate: the world's TcpExtListenDrops over the window",
            "tps": "udprr: answered requests / window; 256 flows (own source port each, "
                   "connected UDP sockets), 64-byte datagrams, at most 32 outstanding",
            "lost": "udprr: requests sent in the window with no reply within 200 ms",
            "other_cpu_share": "connrate/udprr: CPU time of processes outside the run's "
                               "process group (kernel threads left out) during the window, "
                               "as a share of all CPUs: other sessions' work, a disturbance",
            "ratio_to_iptables": "median over rounds of (contender / iptables) "
                                 "in the same round",
        },
        "results": results,
        "diag_no_rewrite": diag,
        "source_check": {c: {"expected_src": EXPECTED_SRC[c], "max_wrong_src_share": v}
                         for c, v in wrong.items()},
        "xdp_egress_stats_last_round": stats,
        "container_eth0_offloads": offloads,
        "load_before_each_contender": load,
        "notes": notes,
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")

    # ---------------------------------------------------------- markdown --
    def cell(w, c, m, unit, scale):
        s = results.get(w, {}).get(c, {}).get(m)
        if not s:
            return "-"
        v = s["median"] * scale
        if m in COUNTS or m == "other_cpu_share":
            txt = "%.0f" % v
        else:
            txt = ("%.3f" % v) if abs(v) < 10 else ("%.1f" % v) if abs(v) < 100 else ("%.0f" % v)
        if m == "socket_errors":
            d = figs.get(w, {}).get(c, {})
            txt += " (%s)" % "/".join(
                "%.0f" % (med([x for x in d.get("err_" + k, {}).values() if x is not None]) or 0)
                for k in ("connect", "read", "write", "timeout"))
        if s["spread"] is not None and len(s["rounds"]) > 1:
            txt += " ±%.0f%%" % (50 * s["spread"])
        if c != BASE and c != "ceiling" and s["ratio_to_iptables"] is not None \
                and m not in NO_RATIO:
            txt += " (%.2fx)" % s["ratio_to_iptables"]
        return txt

    cols = contenders
    L = []
    L.append("# xdp-egress benchmark: %s run" % a.mode)
    L.append("")
    L.append("`%s` on %s, %s, %d CPUs, kernel %s, commit %s, %s; %d rounds, %gs windows, "
             "%d s in all." % (a.command, doc["machine"]["os"], cpu, os.cpu_count(),
                               platform.release(), doc["git_commit"], doc["date"],
                               a.rounds, a.window, a.elapsed))
    L.append("")
    L.append("Median over rounds, ±half the spread (max-min) in %; (ratio) = contender / "
             "iptables in the same round, median over rounds. For Mpps, Gbit/s, req/s and trans/s "
             "higher is better; for us, ns, loss and counts (retransmits, errors, lost) lower "
             "is better.")
    L.append("")
    L.append("| workload | unit | " + " | ".join(cols) + " |")
    L.append("|---|---|" + "---|" * len(cols))
    for w, (m, hi, label, unit, scale) in primary.items():
        if w in results:
            L.append("| %s | %s | %s |" % (label, unit, " | ".join(cell(w, c, m, unit, scale) for c in cols)))
    for w, m, hi, label, unit, scale in secondary:
        if w in results and any(m in results[w].get(c, {}) for c in cols):
            L.append("| %s | %s | %s |" % (label, unit, " | ".join(cell(w, c, m, unit, scale) for c in cols)))
    L.append("")
    ce = results.get("small_sock", {}).get("ceiling") or results.get("small_live", {}).get("ceiling")
    if ce:
        L.append("Generator ceilings (generator -> veth -> sink, nothing between; sink cost per "
                 "packet is excluded from every host figure):")
        L.append("")
        for w, name in (("small_sock", "udp_flood (sendmmsg socket)"),
                        ("small_live", "xdp_live_gen (BPF_F_TEST_XDP_LIVE_FRAMES, XDP_TX)")):
            s = results.get(w, {}).get("ceiling", {}).get("pps")
            h = results.get(w, {}).get("ceiling", {}).get("host_ns_per_pkt")
            if s:
                L.append("- %s: %.3f Mpps (rounds %s); meter residue %.1f ns/pkt" % (
                    name, s["median"] / 1e6,
                    ", ".join("%.3f" % (v / 1e6) for v in s["rounds"].values()),
                    h["median"] if h else float("nan")))
        L.append("")
    if diag:
        L.append("Live frames without the per-run rewrite (round 1): " + "; ".join(
            "%s %.3f Mpps of %.3f offered" % (c, d.get("pps", 0) / 1e6, d.get("offered_pps", 0) / 1e6)
            for c, d in diag.items()) + ".")
        L.append("")
    if offloads:
        L.append("Container eth0 offloads under each contender: " + "; ".join(
            "%s: tso %s, tx-csum %s" % (c, o.get("tcp-segmentation-offload", "?"),
                                         o.get("tx-checksumming", "?"))
            for c, o in offloads.items()) + ".")
        L.append("")
    if any(c in cols for c in ("iptables", "nftables", "xdp-native", "xdp-generic", "xe-tc", "xe-auto")):
        nat = [c for c in cols if c != "tc-bpf"]
        xe_nat = ("xdp-egress attached without --snat on top of the iptables contender's "
                  "rules, MASQUERADE deciding and the fast path carrying"
                  if a.xe_on_kernel_rules else
                  "xdp-egress `attach --snat auto` in a host namespace without NAT rules, its "
                  "replies coming back through the XDP program on the uplink")
        L.append("Same job: %s translate the containers' source to the uplink's 198.18.0.1 "
                 "(iptables/nftables MASQUERADE; %s), and the world has no route "
                 "back to the containers, so an untranslated flow fails." % (", ".join(nat), xe_nat)
                 + (" **tc-bpf does no NAT**: it forwards the containers' own addresses and "
                    "the world routes 10.201.0.0/16 back to the host for it alone, so its "
                    "figures are for routing without translation." if "tc-bpf" in cols else ""))
        L.append("")
    if wrong:
        L.append("Source check at the sink (every flood window): " + "; ".join(
            "%s %s" % (c, "all from %s" % EXPECTED_SRC[c] if not wrong[c] else
                       "up to %.2f%% from elsewhere (not counted)" % (100 * wrong[c]))
            for c in cols if c in wrong) + ".")
        L.append("")
    la = [x["loadavg1"] for x in load if x.get("loadavg1") is not None]
    on = [x["other_netns"] for x in load if x.get("other_netns") is not None]
    fr = [v for w, d in figs.items() for c, m in d.items()
          for v in m.get("foreign_ns_per_pkt", {}).values() if v is not None]
    if la:
        L.append("Machine load before each contender: 1-min load average median %.2f, max %.2f "
                 "(this run's own work included); other sessions' network "
                 "namespaces with processes in them %s%s." % (
                     med(la), max(la),
                     "never" if not any(on) else "before %d of %d contenders (up to %d)" % (
                         sum(1 for x in on if x), len(on), max(on)),
                     "; their NAPI polls left out of host cpu/pkt: median %.1f, max %.1f "
                     "ns/pkt" % (med(fr), max(fr)) if fr else ""))
        L.append("")
    if "connrate" in figs or "udprr" in figs:
        def rounds_of(w, c, m, fmt, scale=1):
            v = figs.get(w, {}).get(c, {}).get(m, {})
            return "/".join(fmt % (v[r] * scale) if v[r] is not None else "-"
                            for r in sorted(v)) or "-"
        L.append("Request/response per round (r1/r2/...): " + "; ".join(
            "%s: %s" % (c, ", ".join(x for x in (
                "connrate %s req/s, SYN retransmits %s, other CPU %s%%" % (
                    rounds_of("connrate", c, "rps", "%.0f"),
                    rounds_of("connrate", c, "syn_retrans", "%.0f"),
                    rounds_of("connrate", c, "other_cpu_share", "%.0f", 100))
                if c in figs.get("connrate", {}) else "",
                "udprr %s trans/s, lost %s, other CPU %s%%" % (
                    rounds_of("udprr", c, "tps", "%.0f"), rounds_of("udprr", c, "lost", "%.0f"),
                    rounds_of("udprr", c, "other_cpu_share", "%.0f", 100))
                if c in figs.get("udprr", {}) else "") if x))
            for c in cols if c in figs.get("connrate", {}) or c in figs.get("udprr", {})) + ".")
        L.append("")
    if notes:
        L.append("Notes: " + "; ".join("%s r%s: %s" % (n["contender"], n["round"], n["note"]) for n in notes))
        L.append("")
    L.append(("cpu workloads offer %d pps (the live generator reaches a little less: its "
              "test_run calls have a fixed cost). " % a.cpu_rate
              if "cpu_sock" in results or "cpu_live" in results else "") +
             "Chart: latest.svg (speed-up vs iptables, "
             ">1 is better, lower-is-better figures inverted).")
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write("\n".join(L) + "\n")

    # ------------------------------------------------------------- chart --
    rows = []
    for w, (m, hi, label, unit, scale) in primary.items():
        if w not in results:
            continue
        vals = []
        for c in cols:
            s = results[w].get(c, {}).get(m)
            r = s and s["ratio_to_iptables"]
            vals.append((r if hi else 1 / r) if r else float("nan"))
        if any(v == v for v in vals):   # not rows with no ratio (ct: xdp only)
            rows.append((SHORT.get(w, w.replace("_", "-")), vals))
    if rows and not any(v == v for _l, vals in rows for v in vals):
        print("report: no ratio to iptables to chart (was iptables run?)", file=sys.stderr)
        rows = []
    if rows:
        dat = os.path.join(a.out, ".chart.dat.tmp")
        with open(dat, "w") as f:
            f.write("workload " + " ".join(cols) + "\n")
            for label, vals in rows:
                f.write(label + " " + " ".join("%.4f" % v if v == v else "NaN" for v in vals) + "\n")
        svg = os.path.join(a.out, "latest.svg")
        gp = """
set terminal svg size 1100,480 dynamic font 'sans,11'
set output '%s'
set title 'xdp-egress bench (%s, %s): speed-up vs iptables (>1 better; latency and cpu inverted)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set yrange [0.125:16]
set ytics ('1/8' 0.125, '1/4' 0.25, '1/2' 0.5, '1' 1, '2' 2, '4' 4, '8' 8, '16' 16)
set grid ytics
set key top left horizontal
set xtics scale 0 font ',10'
set ylabel 'x iptables (log scale)'
set datafile missing 'NaN'
plot %s
""" % (svg, a.mode, doc["date"][:10],
            ", ".join("'%s' using %d:xtic(1) title columnheader(%d)" % (dat, i + 2, i + 2)
                      for i in range(len(cols))))
        try:
            subprocess.run(["gnuplot"], input=gp, text=True, check=True, timeout=60,
                           capture_output=True)
        except subprocess.CalledProcessError as e:
            print("report: gnuplot failed: %s" % (e.stderr or e), file=sys.stderr)
        except Exception as e:
            print("report: gnuplot failed: %s" % e, file=sys.stderr)
        finally:
            os.unlink(dat)
    print("\n".join(L))


if __name__ == "__main__":
    main()
