#!/bin/bash
# `flows`, `events` and `top` against known traffic: a TCP connection and a
# UDP flow from container 1 (fixed source ports) through the host's
# MASQUERADE to the world (which has no route back: an untranslated packet
# gets no answer), attached in tc mode.
# - flows --json: each flow with its tuple before NAT (the container's) and
#   after (the host's address, the port the kernel chose, read back with
#   `conntrack -L`), on the fast path once carried, with fast-path packets
#   counted and conntrack's own (acct) for the kernel's share; the text
#   listing; a TARGET filter; an unattached TARGET refused.
# - events --json: the TCP flow's start (with its translation) and its end
#   at the FIN; the UDP flow's end when its kernel entry is deleted.
# - top in a detached tmux session: the container's line with a non-zero
#   rate while traffic runs; q ends it.
# nf_conntrack_acct and _timestamp are turned on in the test's host
# namespace only.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe flows_setup
for t in tmux conntrack python3; do
	command -v "$t" >/dev/null || { fail flows_setup "missing $t (run make deps)"; exit 1; }
done

C=10.200.1.2
W=$TOPO_WORLD_V4
TP=5001 # TCP port in the world
UP=5002 # UDP port in the world
TS=40001 # the container's TCP source port
US=40002 # and UDP's

topo_create 1 || { fail flows_setup "could not build the namespaces"; exit 1; }
topo_world_no_return && host_nat_rules on ||
	{ fail flows_setup "MASQUERADE set-up failed"; exit 1; }
in_host sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1 ||
	{ fail flows_setup "conntrack acct/timestamp sysctls in the host namespace"; exit 1; }
topo_warm_neigh
xe_capture attach --ifname vc1 --mode tc --uplink up0 ||
	{ fail flows_setup "attach: $XE_ERR"; exit 1; }

# The world: a TCP sink and a UDP sink.
cat >"$TOPO_TMP/sink.py" <<'EOF'
import socket, sys, threading
tp, up = int(sys.argv[1]), int(sys.argv[2])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", up))
def udp():
    while True:
        d, a = u.recvfrom(2048)
        u.sendto(b"ack", a)  # a reply: the flow is seen both ways
threading.Thread(target=udp, daemon=True).start()
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", tp))
t.listen(8)
def drain(c):
    while c.recv(65536):
        pass
    c.close()
while True:
    c, _ = t.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
EOF
# The container: sends on both until the stop file appears (60 s at most),
# then closes the TCP connection (FIN).
cat >"$TOPO_TMP/send.py" <<'EOF'
import os, socket, sys, time
dst, tp, up, ts, us, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", ts))
t.connect((dst, tp))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", us))
u.setblocking(False)
end = time.time() + 60
while time.time() < end and not os.path.exists(stop):
    t.sendall(b"x" * 1000)
    u.sendto(b"y" * 200, (dst, up))
    try:
        u.recv(64)
    except BlockingIOError:
        pass
    time.sleep(0.002)
t.close()
EOF
bg "$TOPO_WORLD" python3 "$TOPO_TMP/sink.py" "$TP" "$UP"
wait_listen "$TOPO_WORLD" "$TP" || { fail flows_setup "the world's sink did not listen"; exit 1; }

# events from before the first packet on.
nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
	"$XE_BIN" events --json >"$TOPO_TMP/events.json" 2>"$TOPO_TMP/events.err" &
EV_PID=$!
TOPO_PIDS+=("$EV_PID")
wait_until 5 grep -q "flow starts and ends" "$TOPO_TMP/events.err" ||
	{ fail flows_setup "events did not start: $(cat "$TOPO_TMP/events.err")"; exit 1; }

STOP=$TOPO_TMP/stop
bg "${TOPO_C[1]}" python3 "$TOPO_TMP/send.py" "$W" "$TP" "$UP" "$TS" "$US" "$STOP"
SEND_PID=$BG_PID
ok flows_setup

# flow_json PROTO SPORT: the flow's object from `flows --json`.
flow_json() {
	xe flows --json 2>/dev/null |
		jq -c --arg p "$1" --argjson s "$2" '.[] | select(.proto == $p and .original.sport == $s)' 2>/dev/null
}
flow_fast() {
	local j
	j=$(flow_json "$1" "$2")
	[ "$(jq -r '.path' <<<"$j")" = fast ] && [ "$(jq -r '.packets.fast' <<<"$j")" -gt 0 ]
}

for proto in tcp udp; do
	sport=$TS dport=$TP
	[ $proto = udp ] && sport=$US dport=$UP
	if wait_until 15 flow_fast $proto $sport; then
		ok "flows_${proto}_fast"
	else
		fail "flows_${proto}_fast" "not on the fast path after 15 s: $(flow_json $proto $sport); stats: $(counters_brief "$(stats_json)")"
	fi
	J=$(flow_json $proto $sport)
	# What the kernel chose: its reply tuple's destination port.
	ct=$(in_host conntrack -L -p $proto --orig-port-src $sport 2>/dev/null | head -1)
	nat_port=$(sed -n 's/.*dport=\([0-9]*\) .*/\1/p' <<<"${ct#*src=$W }" | head -1)
	want_orig="$C $sport $W $dport"
	want_nat="192.0.2.1 ${nat_port:-?} $W $dport"
	got_orig=$(jq -r '.original | "\(.src) \(.sport) \(.dst) \(.dport)"' <<<"$J")
	got_nat=$(jq -r '.nat | "\(.src) \(.sport) \(.dst) \(.dport)"' <<<"$J")
	if [ "$got_orig" = "$want_orig" ] && [ "$got_nat" = "$want_nat" ] &&
		[ "$(jq -r '.snat' <<<"$J")" = true ] && [ "$(jq -r '.container_if' <<<"$J")" = vc1 ]; then
		ok "flows_${proto}_tuple"
	else
		fail "flows_${proto}_tuple" "want '$want_orig' -> '$want_nat' on vc1, got '$got_orig' -> '$got_nat' ($J; conntrack: $ct)"
	fi
	# conntrack's acct is on: the kernel's share is a number (the first
	# packets at least), the total adds both.
	if jq -e '(.packets.kernel | type) == "number" and .packets.kernel > 0 and
		.packets.total == .packets.fast + .packets.kernel and .bytes.fast > 0 and
		(.age_s | type) == "number"' <<<"$J" >/dev/null 2>&1; then
		ok "flows_${proto}_counts"
	else
		fail "flows_${proto}_counts" "packets/bytes/age not as expected: $J"
	fi
done

# The text listing: one line per flow, both tuples and the path.
xe_capture flows
if grep -q "^tcp .*vc1 .*$C:$TS > $W:$TP .*192.0.2.1:[0-9]* > $W:$TP .* fast" <<<"$XE_OUT" &&
	grep -q "^udp .*vc1 .*$C:$US > $W:$UP .*192.0.2.1:[0-9]* > $W:$UP .* fast" <<<"$XE_OUT"; then
	ok flows_text
else
	fail flows_text "rc $XE_RC, listing: $XE_OUT $XE_ERR"
fi
# TARGET: the same flows; an unattached device refused with why.
n=$(xe flows --ifname vc1 --json 2>/dev/null | jq '[.[] | select(.original.sport == '$TS' or .original.sport == '$US')] | length')
xe_capture flows --ifname up0
if [ "$n" = 2 ] && [ "$XE_RC" != 0 ] && grep -q "up0 is not attached" <<<"$XE_ERR"; then
	ok flows_target
else
	fail flows_target "--ifname vc1 listed $n of our 2 flows; --ifname up0: rc $XE_RC, '$XE_ERR'"
fi
# --watch --count: listings one after the other, each a JSON array.
n=$(xe flows --watch --count 2 --json 2>/dev/null | jq -s 'map(type == "array") | length')
check flows_watch "flows --watch --count 2 --json gave $n arrays" [ "$n" = 2 ]

# top in a detached tmux session of our own (its own socket), in the host
# namespace, while the traffic runs.
TMUX_SOCK=$TOPO_TMP/tmux.sock
tmux -S "$TMUX_SOCK" new-session -d -s top -x 160 -y 30 \
	"nsenter --net=/run/netns/$TOPO_HOST env XDP_EGRESS_BPFFS=$XDP_EGRESS_BPFFS $XE_BIN top --interval 0.5; sleep 30" ||
	fail top_runs "tmux could not start"
# top_rate: the screen's vc1 line with a packet rate above 0.
top_rate() {
	tmux -S "$TMUX_SOCK" capture-pane -p -t top >"$TOPO_TMP/screen.txt" 2>/dev/null &&
		awk '$1 == "vc1" && $2 ~ "^'$C'(/32)?$" && $4 ~ /^[0-9.]+[kM]?$/ && $4 + 0 > 0 { f = 1 } END { exit !f }' "$TOPO_TMP/screen.txt"
}
if wait_until 10 top_rate; then
	ok top_screen
else
	fail top_screen "no vc1 line with a rate on the screen: $(tr '\n' '|' <"$TOPO_TMP/screen.txt")"
fi
if grep -q "^xdp-egress top .* q quits" "$TOPO_TMP/screen.txt" && grep -q "PASS REASONS" "$TOPO_TMP/screen.txt" &&
	awk '$1 == "vc1" { f = ($3 == "tc") } END { exit !f }' "$TOPO_TMP/screen.txt"; then
	ok top_mode
else
	fail top_mode "header or mode tc missing: $(tr '\n' '|' <"$TOPO_TMP/screen.txt")"
fi
tmux -S "$TMUX_SOCK" send-keys -t top q
# After q the pane runs `sleep 30`: top's own screen is gone (it restored
# the shell's), so the header disappears; then the session is killed.
top_gone() {
	tmux -S "$TMUX_SOCK" capture-pane -p -t top 2>/dev/null | grep -q "xdp-egress top" && return 1
	! pgrep -f "$XE_BIN top" -P "$(tmux -S "$TMUX_SOCK" list-panes -t top -F '#{pane_pid}' 2>/dev/null | head -1)" >/dev/null 2>&1
}
check top_quits "top still running 5 s after q" wait_until 5 top_gone
tmux -S "$TMUX_SOCK" kill-server 2>/dev/null

# The end of both flows: the TCP connection closes (FIN), the UDP flow's
# kernel entry is deleted (as a timeout would).
touch "$STOP"
wait "$SEND_PID" 2>/dev/null
wait_until 5 [ -z "$(in_c 1 ss -Htn state established "( sport = :$TS )" 2>/dev/null)" ]
in_host conntrack -D -p udp --orig-port-src $US >/dev/null 2>&1
ev() { jq -c "select($1)" "$TOPO_TMP/events.json" 2>/dev/null | head -1; }
ev_tcp_end() { [ -n "$(ev ".event == \"end\" and .proto == \"tcp\" and .original.sport == $TS")" ]; }
ev_udp_end() { [ -n "$(ev ".event == \"end\" and .proto == \"udp\" and .original.sport == $US")" ]; }
wait_until 5 ev_tcp_end
wait_until 5 ev_udp_end
S=$(ev ".event == \"start\" and .proto == \"tcp\" and .original.sport == $TS")
E=$(ev ".event == \"end\" and .proto == \"tcp\" and .original.sport == $TS")
if jq -e '.original.src == "'$C'" and .original.dst == "'$W'" and .original.dport == '$TP' and
	.nat.src == "192.0.2.1" and .nat.dst == "'$W'" and .container_if == "vc1"' <<<"$S" >/dev/null 2>&1; then
	ok events_tcp_start
else
	fail events_tcp_start "start event: '$S'; all: $(head -c 600 "$TOPO_TMP/events.json")"
fi
if jq -e '.reason == "fin" and .fast_packets > 0' <<<"$E" >/dev/null 2>&1; then
	ok events_tcp_end
else
	fail events_tcp_end "end event: '$E'; all: $(head -c 600 "$TOPO_TMP/events.json")"
fi
S=$(ev ".event == \"start\" and .proto == \"udp\" and .original.sport == $US")
E=$(ev ".event == \"end\" and .proto == \"udp\" and .original.sport == $US")
if [ -n "$S" ] && jq -e '.reason == "gone" and .fast_packets > 0' <<<"$E" >/dev/null 2>&1; then
	ok events_udp
else
	fail events_udp "start '$S', end '$E'"
fi
# Never per packet: a handful of events for thousands of carried packets.
n=$(wc -l <"$TOPO_TMP/events.json")
if jq -e . "$TOPO_TMP/events.json" >/dev/null 2>&1 && [ "$n" -le 8 ]; then
	ok events_json
else
	fail events_json "$n lines, or not JSON: $(head -c 400 "$TOPO_TMP/events.json")"
fi
[ "$TOPO_FAILED" = 0 ]
