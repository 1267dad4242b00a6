#!/bin/bash
# Everything the fast path does not carry goes to the kernel (XDP_PASS, or
# TC_ACT_OK in tc mode) under its own counter, and the kernel then does
# exactly what it does without xdp-egress. A first round runs every case
# with nothing attached and records what the kernel did (replies, the ICMP
# errors it returned, what the world received): the oracle. Then each mode
# (native, generic, tc) runs the same cases; each must grow its counter and
# end as the oracle did.
#
# Stages, in the order the program judges a packet:
# - parse: ARP (pass_non_ip), fragments, IP options, an unknown protocol,
#   a VLAN tag; malformed frames are dropped (and counted);
# - admit: a group MAC (broadcast ping: pass_local), a frame to another
#   MAC (pass_not_routed), a source that is not the container's own
#   (pass_spoofed, hand-made frames: another container's address riding
#   its established flow, v4 and v6, and the container's own flow from
#   another MAC), ICMP (pass_icmp);
# - the kernel's verdict: a new flow (pass_new_flow), a one-way UDP flow
#   (carried from its second datagram: the confirmed entry is the verdict),
#   a flow's first reply (pass_not_established on the return path), SYN/FIN
#   (pass_tcp_control), a flow `flush` gave
#   back to the kernel (pass_kernel_only), an established TCP flow while
#   no agent promotes it (pass_not_promoted: the agent is killed; the kernel
#   carries the transfer, and a restarted `xdp-egress agent` promotes again);
# - routing, reached only by packets of an established flow (UDP
#   request/response first): TTL 1 (pass_ttl: time exceeded), a next hop
#   the host has not resolved (pass_no_neigh), larger than the uplink's MTU
#   with DF (pass_too_big: frag needed / packet too big), an unreachable
#   route (pass_fib_fail), a host-local destination (pass_local), another
#   container's veth (pass_not_uplink);
# - the return path on the uplink: a world-initiated flow to the attached
#   container is carried into its veth (redirected), one to a container
#   that is not attached is the kernel's (pass_not_container).
# A frame shorter than an Ethernet header cannot be sent into a veth at
# all, so the runt case is left to the unit tests. In tc mode a tagged
# frame reaches the program with its tag already taken out by the stack
# (skb_vlan_untag()), a case only this test sees. The tc round also checks
# that the container keeps its offloads; every round ends with a detach
# that frees the program and stops the agent. XE_TIMING=1 logs the time
# each case took.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe pass_reasons
PY=/usr/bin/python3
[ -x "$PY" ] || { fail pass_reasons_setup "$PY is missing (make deps)"; exit 1; }
command -v conntrack >/dev/null || { fail pass_reasons_setup "conntrack is missing (make deps)"; exit 1; }

topo_create 2 || { fail pass_reasons_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
W4=$TOPO_WORLD_V4
W6=$TOPO_WORLD_V6
VC1_MAC=$(ip -n "$TOPO_HOST" -j link show vc1 | jq -r '.[0].address')
C_MAC=$(ip -n "$C" -j link show eth0 | jq -r '.[0].address')

# Services. UDP echo: the world on 7 (v4) and 8 (v6), the host's own
# addresses, container 1 and container 2 (7); UDP sinks that never answer
# on the world's 9 and 10; a TCP echo on the world's 7000; iperf3.
snat_tools
start_py_server udp 7 "$TOPO_TMP/peers4" &&
	start_py_server udp 8 "$TOPO_TMP/peers6" v6 &&
	start_py_server tcp 7000 "$TOPO_TMP/peers-tcp" &&
	start_iperf_server 5201 || { fail pass_reasons_setup "the world's servers did not start"; exit 1; }
bg "$TOPO_WORLD" "$PY3" "$SNAT_TOOLS" sink udp 9
bg "$TOPO_WORLD" "$PY3" "$SNAT_TOOLS" sink udp 10 v6
# Bound to each address, so that a reply leaves from the address asked.
bg "$TOPO_HOST" "$PY3" "$SNAT_TOOLS" server udp 7 "$TOPO_TMP/peers-host4" v4 10.200.1.1
bg "$TOPO_HOST" "$PY3" "$SNAT_TOOLS" server udp 7 "$TOPO_TMP/peers-host4u" v4 192.0.2.1
bg "$TOPO_HOST" "$PY3" "$SNAT_TOOLS" server udp 8 "$TOPO_TMP/peers-host6" v6 fd01::1
bg "$C" "$PY3" "$SNAT_TOOLS" server udp 7 "$TOPO_TMP/peers-c1"
bg "${TOPO_C[2]}" "$PY3" "$SNAT_TOOLS" server udp 7 "$TOPO_TMP/peers-c2"
for l in "$TOPO_WORLD 9" "$TOPO_WORLD 10" "$TOPO_HOST 7" "$TOPO_HOST 8" "$C 7" "${TOPO_C[2]} 7"; do
	wait_listen $l udp || { fail pass_reasons_setup "a UDP service ($l) did not start"; exit 1; }
done

ORACLE=$TOPO_TMP/oracle
mkdir -p "$ORACLE"

# signature OUT RC: what the kernel made of a case, to compare with the
# oracle: for udpx the replies and the ICMP errors (type, code), for the
# TCP client what connected and echoed, for "world_rx=N" itself, else rc.
signature() {
	local s
	s=$(jq -ce 'if type != "object" then error
		elif has("sent") then {replies, icmp: ([.icmp[] | [.[0], .[1]]] | unique)}
		elif has("connected") then {connected, echoed}
		else error end' <<<"$1" 2>/dev/null) && { echo "$s"; return; }
	grep -m1 -oE '^world_rx=[0-9]+' <<<"$1" && return
	echo "rc=$2"
}

# reason NAME COUNTER MIN EXPECT COMMAND...: runs COMMAND. EXPECT must hold
# for its result: "ok" (exit 0), "fails" (non-zero), "any", or an extended
# regex its output must match. In the kernel round (nothing attached) the
# result's signature is recorded; in the others COUNTER must grow by at
# least MIN (COUNTER "return:NAME": the uplink's return-path counter) and
# the signature must be the kernel's.
reason() {
	local name=$1 ctr=$2 min=$3 expect=$4 s0 s1 d out rc good=1 why="" sig want t
	shift 4
	t=${ROUND}_$name
	local t0=$(date +%s%N)
	[ "$ROUND" = kernel ] || s0=$(stats_json)
	out=$("$@" 2>&1)
	rc=$?
	sig=$(signature "$out" "$rc")
	if [ "$ROUND" != kernel ]; then
		s1=$(stats_json)
		if [ "${ctr#return:}" != "$ctr" ]; then
			d=$(($(return_counter "$s1" "${ctr#return:}") - $(return_counter "$s0" "${ctr#return:}")))
		else
			d=$(($(counter "$s1" "$ctr") - $(counter "$s0" "$ctr")))
		fi
		if [ "$d" -lt "$min" ]; then
			good=0
			why="$ctr grew by $d, want >= $min (counters now: $(counters_brief "$s1"); return path: $(jq -c '[.uplinks[]?.counters | to_entries[] | select(.value.packets > 0) | "\(.key)=\(.value.packets)"]' <<<"$s1"))"
		fi
		# (no oracle for what the kernel round does not run)
		want=$(cat "$ORACLE/$name" 2>/dev/null || echo "$sig")
		if [ "$sig" != "$want" ]; then
			good=0
			why="$why; the kernel alone gave $want, now $sig"
		fi
	else
		echo "$sig" >"$ORACLE/$name"
	fi
	case $expect in
	any) ;;
	ok) [ "$rc" -eq 0 ] || { good=0; why="$why; command failed (rc $rc): $(tail -2 <<<"$out" | tr '\n' ' ')"; } ;;
	fails) [ "$rc" -ne 0 ] || { good=0; why="$why; command succeeded but should not"; } ;;
	*) grep -qiE -- "$expect" <<<"$out" || { good=0; why="$why; output does not match /$expect/: $(tail -3 <<<"$out" | tr '\n' ' ')"; } ;;
	esac
	[ -n "${XE_TIMING:-}" ] && log "$t: $((($(date +%s%N) - t0) / 1000000)) ms"
	if [ "$good" = 1 ]; then
		ok "$t"
	else
		fail "$t" "${why#; }"
	fi
}

# udp N HOST PORT SPORT COUNT GAP [OPT=V...]: one UDP flow from container N.
udp() {
	local n=$1
	shift
	py_in "${TOPO_C[$n]}" udpx "$@"
}
# established: replies to each of COUNT datagrams (JSON from udpx).
replied() { jq -e --argjson n "$2" '.replies == $n' <<<"$1" >/dev/null 2>&1; }

# frame KIND...: hand-made frames from the container's eth0 to vc1, through
# an AF_PACKET socket (standard library only).
frame() {
	in_c 1 "$PY" - "$C_MAC" "$VC1_MAC" "$@" <<'EOF'
import socket, struct, sys
src, dst = bytes.fromhex(sys.argv[1].replace(":", "")), bytes.fromhex(sys.argv[2].replace(":", ""))
def ip4(ihl=5, tot=None, payload=b"x" * 20):
    hdr_len = ihl * 4
    tot = tot if tot is not None else 20 + 8 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, 1, 0x4000, 64, 17, 0,
                    socket.inet_aton("10.200.1.2"), socket.inet_aton("192.0.2.2"))
    udp = struct.pack("!HHHH", 5555, 9, 8 + len(payload), 0)
    return h + udp + payload
eth = lambda et: dst + src + struct.pack("!H", et)
def csum(b):
    b += b"\0" * (len(b) & 1)
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
def udp4(saddr, sport, dport, payload=b"xdp-egress"):
    sa, da = socket.inet_aton(saddr), socket.inet_aton("192.0.2.2")
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    u = u[:6] + struct.pack("!H", csum(sa + da + struct.pack("!BBH", 0, 17, len(u)) + u) or 0xFFFF) + u[8:]
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 1, 0x4000, 64, 17, 0, sa, da)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + u
def udp6(saddr, sport, dport, payload=b"xdp-egress"):
    sa, da = socket.inet_pton(socket.AF_INET6, saddr), socket.inet_pton(socket.AF_INET6, "fd01::2")
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    u = u[:6] + struct.pack("!H", csum(sa + da + struct.pack("!IxxxB", len(u), 17) + u) or 0xFFFF) + u[8:]
    return struct.pack("!IHBB", 0x60000000, len(u), 17, 64) + sa + da + u
other_src, other_dst = bytes.fromhex("020000000077"), bytes.fromhex("020000000088")
frames = {
    # container 2's address and the ports of its established flow
    "spoof_ip4": eth(0x0800) + udp4("10.200.2.2", 5108, 7),
    "spoof_ip6": eth(0x86DD) + udp6("fd00:2::2", 5109, 8),
    # container 1's own established flow, from another MAC
    "spoof_mac": dst + other_src + struct.pack("!H", 0x0800) + udp4("10.200.1.2", 5103, 7),
    # the same, to a MAC that is not the host's (bridged, never routed)
    "other_mac": other_dst + src + struct.pack("!H", 0x0800) + udp4("10.200.1.2", 5103, 7),
    "vlan": dst + src + struct.pack("!HHH", 0x8100, 10, 0x0800) + ip4(),
    "trunc4": eth(0x0800) + ip4()[:10],
    "badihl": eth(0x0800) + ip4(ihl=4),
    "badlen": eth(0x0800) + ip4(tot=1000),
    "trunc6": eth(0x86DD) + bytes([0x60]) + bytes(19),
}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for kind in sys.argv[3:]:
    s.send(frames[kind])
EOF
}

# world_rx FAMILY COMMAND...: runs COMMAND (which sends at most one
# datagram to the world), then a sentinel datagram to the world's sink
# along the kernel path; prints "world_rx=N": the datagrams the world
# received besides the sentinel (the sentinel's arrival bounds the wait).
world_rx() {
	local fam=$1 ctr=UdpInDatagrams dst=$W4 port=9 r0 r1
	shift
	[ "$fam" = 6 ] && ctr=Udp6InDatagrams dst=$W6 port=10
	r0=$(nstat_value "$TOPO_WORLD" "$ctr")
	"$@" >/dev/null 2>&1
	py_in "$C" udpx "$dst" "$port" 5199 1 0 >/dev/null
	wait_until 3 nstat_above "$TOPO_WORLD" "$ctr" "${r0:-0}"
	# The sentinel arrived, so what was sent before it has too; 50 ms of
	# margin for a datagram still crossing the other path.
	sleep 0.05
	r1=$(nstat_value "$TOPO_WORLD" "$ctr")
	echo "world_rx=$((${r1:-0} - ${r0:-0} - 1))"
}

# Raw IPv4 packet with protocol 253 (RFC 3692 experimental) to the world;
# prints how many the world counted as IpInUnknownProtos (waits for one).
proto253() {
	local u0 u1
	u0=$(nstat_value "$TOPO_WORLD" IpInUnknownProtos)
	in_c 1 "$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253); s.sendto(b"xdp-egress", ("192.0.2.2", 0))'
	wait_until 2 nstat_above "$TOPO_WORLD" IpInUnknownProtos "${u0:-0}"
	u1=$(nstat_value "$TOPO_WORLD" IpInUnknownProtos)
	echo "world_rx=$((${u1:-0} - ${u0:-0}))"
}

AGENT_BG=""
# agent_restart: `xdp-egress agent` in the foreground, in the background.
agent_restart() {
	nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
		"$XE_BIN" agent >>"$TOPO_TMP/agent.log" 2>&1 &
	AGENT_BG=$!
	TOPO_PIDS+=("$AGENT_BG")
	wait_until 5 eval '[ "$(agent_pid)" = "$AGENT_BG" ]'
}
tcp_bulk() { in_c 1 iperf3 -c "$W4" -t 1 -J; }

for ROUND in kernel native generic tc; do
	round_t0=$(date +%s.%N)
	rerr_bulk=0
	if [ "$ROUND" != kernel ]; then
		if ! xe_capture attach --ifname vc1 --mode "$ROUND" --uplink up0; then
			fail "${ROUND}_attach" "attach exited $XE_RC: $XE_ERR"
			continue
		fi
		ok "${ROUND}_attach"
		prog=$(attached_prog_id vc1)
	fi
	# No entry of an earlier round decides for this one.
	in_host conntrack -F >/dev/null 2>&1
	in_host conntrack -F -f ipv6 >/dev/null 2>&1

	# ---- parse ----
	ip -n "$C" neigh flush all
	ip -n "$TOPO_HOST" neigh flush all
	reason non_ip_arp pass_non_ip 1 ok in_c 1 ping -c 2 -i 0.05 -W 2 "$W4"
	reason fragment4 pass_fragment 4 ok in_c 1 ping -c 2 -i 0.05 -W 2 -s 3000 "$W4"
	reason fragment6 pass_fragment 4 ok in_c 1 ping -6 -c 2 -i 0.05 -W 2 -s 3000 "$W6"
	reason ip_options pass_ip_options 2 'RR:' in_c 1 ping -R -c 2 -i 0.05 -W 2 "$W4"
	reason l4_other pass_l4_other 1 'world_rx=1' proto253
	reason vlan pass_vlan 1 ok frame vlan
	if [ "$ROUND" != kernel ]; then
		reason malformed drop_malformed 4 ok frame trunc4 badihl badlen trunc6
	fi

	# ---- admit ----
	reason local_broadcast pass_local 2 any in_c 1 ping -b -c 2 -i 0.05 -W 0.3 10.200.1.255
	reason icmp4 pass_icmp 3 ok in_c 1 ping -c 3 -i 0.05 -W 2 "$W4"
	reason icmp6 pass_icmp 3 ok in_c 1 ping -6 -c 3 -i 0.05 -W 2 "$W6"
	# Flows the spoofed frames below try to ride: container 2's (v4, v6)
	# and container 1's own.
	reason established_c2_4 any 0 '"replies": 3' udp 2 "$W4" 7 5108 3 0.05
	reason established_c2_6 any 0 '"replies": 3' udp 2 "$W6" 8 5109 3 0.05
	reason established4 redirected 2 '"replies": 4' udp 1 "$W4" 7 5103 4 0.05
	reason spoofed_ip4 pass_spoofed 1 world_rx=1 world_rx 4 frame spoof_ip4
	reason spoofed_ip6 pass_spoofed 1 world_rx=1 world_rx 6 frame spoof_ip6
	reason spoofed_mac pass_spoofed 1 world_rx=1 world_rx 4 frame spoof_mac
	reason not_routed pass_not_routed 1 world_rx=0 world_rx 4 frame other_mac

	# ---- the kernel's verdict ----
	reason new_flow pass_new_flow 1 '"replies": 1' udp 1 "$W4" 7 5101 1 0.1
	# One-way UDP (port 9 answers nothing): the confirmed entry is the
	# kernel's verdict, the second and third datagram are carried; the
	# first reply of a flow is the kernel's (pass_not_established on the
	# return path), as the kernel has not seen a reply yet.
	reason one_way_udp redirected 2 '"replies": 0' udp 1 "$W4" 9 5102 3 0.05
	reason first_reply return:pass_not_established 1 '"replies": 1' udp 1 "$W4" 7 5112 1 0.1
	reason tcp_control pass_tcp_control 2 '"echoed": 1' py_in "$C" tcp "$W4" 7000 1 0
	reason before_flush redirected 2 '"replies": 3' udp 1 "$W4" 7 5110 3 0.05
	if [ "$ROUND" != kernel ]; then
		xe_capture flush
		check "${ROUND}_flush" "flush exited $XE_RC: $XE_ERR" test "$XE_RC" = 0
		log "flush: $XE_ERR $XE_OUT"
	fi
	reason kernel_only pass_kernel_only 2 '"replies": 3' udp 1 "$W4" 7 5110 3 0.05
	if [ "$ROUND" != kernel ]; then
		apid=$(agent_pid)
		kill "$apid" 2>/dev/null
		check "${ROUND}_agent_killed" "agent $apid still runs after kill, or status still names it ($(agent_pid))" \
			wait_until 3 eval '! pid_alive "$apid" && [ "$(agent_pid)" = 0 ]'
	fi
	# (bulk TCP may overrun the uplink's queue: its redirect errors are
	# load, not passes; counted apart)
	[ "$ROUND" = kernel ] || rerr0=$(counter "$(stats_json)" redirect_err)
	reason not_promoted pass_not_promoted 100 ok tcp_bulk
	if [ "$ROUND" != kernel ]; then
		check "${ROUND}_agent_restarts" "xdp-egress agent did not register: status says $(agent_pid); log: $(tail -2 "$TOPO_TMP/agent.log" | tr '\n' ' ')" \
			agent_restart
		reason promoted_again redirected 1000 ok tcp_bulk
		rerr_bulk=$(($(counter "$(stats_json)" redirect_err) - rerr0))
		[ "$rerr_bulk" -gt 0 ] && log "bulk TCP: $rerr_bulk redirect errors"
	fi

	# ---- routing: established flows whose later packets meet a condition ----
	# (new flows: `flush` above gave every flow that existed to the kernel)
	reason established_route4 redirected 2 '"replies": 4' udp 1 "$W4" 7 5120 4 0.05
	reason established_route6 redirected 2 '"replies": 4' udp 1 "$W6" 8 5121 4 0.05
	reason ttl4 pass_ttl 2 any udp 1 "$W4" 7 5120 2 0.1 ttl=1
	reason ttl6 pass_ttl 2 any udp 1 "$W6" 8 5121 2 0.1 ttl=1
	ip -n "$TOPO_HOST" neigh flush dev up0
	reason no_neigh4 pass_no_neigh 1 '"replies": 3' udp 1 "$W4" 7 5120 3 0.1
	ip -n "$TOPO_HOST" -6 neigh flush dev up0
	reason no_neigh6 pass_no_neigh 1 '"replies": 3' udp 1 "$W6" 8 5121 3 0.1
	# The uplink's MTU drops to 1280: a 1400-byte DF datagram must get an
	# ICMP error from the host's kernel, not vanish.
	ip -n "$TOPO_HOST" link set up0 mtu 1280
	ip -n "$TOPO_WORLD" link set eth0 mtu 1280
	reason too_big4 pass_too_big 1 any udp 1 "$W4" 7 5120 2 0.2 size=1400 df=1
	reason too_big6 pass_too_big 1 any udp 1 "$W6" 8 5121 2 0.2 size=1400 df=1
	ip -n "$TOPO_HOST" link set up0 mtu 1500
	ip -n "$TOPO_WORLD" link set eth0 mtu 1500
	ip -n "$C" route flush cache
	ip -n "$C" -6 route flush cache
	ip -n "$TOPO_HOST" route add unreachable "$W4/32"
	ip -n "$TOPO_HOST" -6 route add unreachable "$W6/128"
	reason fib_fail4 pass_fib_fail 1 any udp 1 "$W4" 7 5120 2 0.1
	reason fib_fail6 pass_fib_fail 1 any udp 1 "$W6" 8 5121 2 0.1
	ip -n "$TOPO_HOST" route del unreachable "$W4/32"
	ip -n "$TOPO_HOST" -6 route del unreachable "$W6/128"
	reason local4 pass_local 2 '"replies": 4' udp 1 10.200.1.1 7 5105 4 0.05
	reason local4_uplink_addr pass_local 2 '"replies": 4' udp 1 192.0.2.1 7 5105 4 0.05
	reason local6 pass_local 2 '"replies": 4' udp 1 fd01::1 8 5105 4 0.05
	reason not_uplink pass_not_uplink 2 '"replies": 4' udp 1 10.200.2.2 7 5106 4 0.1

	# ---- the return path (world-initiated flows) ----
	reason return_to_container return:redirected 2 '"replies": 4' py_in "$TOPO_WORLD" udpx 10.200.1.2 7 5107 4 0.05
	reason return_not_container return:pass_not_container 2 '"replies": 4' py_in "$TOPO_WORLD" udpx 10.200.2.2 7 5107 4 0.05

	if [ "$ROUND" = kernel ]; then log "round kernel: $(awk -v a="$round_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"; continue; fi
	# After all that, plain traffic is still carried.
	reason still_redirects redirected 3 '"replies": 5' udp 1 "$W4" 7 5111 5 0.05
	s=$(stats_json)
	check "${ROUND}_no_redirect_errors" "redirect_err is $(counter "$s" redirect_err), $rerr_bulk of them during bulk TCP" \
		test "$(($(counter "$s" redirect_err) - rerr_bulk))" = 0
	if [ "$ROUND" = tc ]; then
		tso=$(offload "$C" eth0 tcp-segmentation-offload)
		csum=$(offload "$C" eth0 tx-checksumming)
		check "${ROUND}_container_keeps_offloads" "container eth0: tcp-segmentation-offload $tso, tx-checksumming $csum (tc mode must leave both on)" \
			test "$tso" = on -a "$csum" = on
	fi
	if xe_capture detach --ifname vc1; then
		check "${ROUND}_detach" "detach left program ${prog:-?} loaded, an XDP program, pins, the agent or the nft table behind: $(ns_state_brief)" \
			eval 'prog_gone "$prog" && no_xdp_anywhere && pins_gone && ns_state_gone'
	else
		fail "${ROUND}_detach" "detach exited $XE_RC: $XE_ERR"
	fi
	# The agent started by hand ends with the last detach.
	if [ -n "$AGENT_BG" ]; then
		check "${ROUND}_detach_stops_agent" "the agent started with \`xdp-egress agent\` (pid $AGENT_BG) still runs after the last detach" \
			eval '! pid_alive "$AGENT_BG"'
		wait "$AGENT_BG" 2>/dev/null
		AGENT_BG=""
	fi
	log "round $ROUND: $(awk -v a="$round_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
done

exit $((TOPO_FAILED > 0))
