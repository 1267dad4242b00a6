#!/bin/bash
# Everything the program cannot finish goes to the kernel (XDP_PASS, or
# TC_ACT_OK in tc mode) under its own counter, and the kernel then does the
# right thing with it, in native, generic and tc mode: host-local
# destinations answer, TTL 1 gets "time exceeded", fragments and IP options
# still reach the world, a packet too big for the uplink gets "frag needed" /
# "packet too big", an unreachable
# route gets "unreachable", an unknown protocol reaches the world, traffic
# to another container is routed by the kernel, ARP and unresolved
# neighbours work. Only malformed frames are dropped (and counted); a frame
# shorter than an Ethernet header cannot be sent into a veth at all, so the
# runt case is left to the unit tests. In tc mode a tagged frame reaches the
# program with its tag already taken out by the stack (skb_vlan_untag()), a
# case the unit tests cannot build: only this test sees it. The tc round also
# checks that the container keeps its offloads and that detach frees the
# program.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe pass_reasons
PY=/usr/bin/python3
[ -x "$PY" ] || { fail pass_reasons_setup "$PY is missing (make deps)"; exit 1; }

topo_create 2 || { fail pass_reasons_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
ip -n "$TOPO_HOST" route add unreachable 198.51.100.0/24
ip -n "$TOPO_HOST" -6 route add unreachable 2001:db8:dead::/48
VC1_MAC=$(ip -n "$TOPO_HOST" -j link show vc1 | jq -r '.[0].address')
C_MAC=$(ip -n "$C" -j link show eth0 | jq -r '.[0].address')

# reason NAME COUNTER MIN EXPECT COMMAND...: runs COMMAND;
# COUNTER must grow by at least MIN, and EXPECT must hold for the command's
# result: "ok" (exit 0), "fails" (non-zero), or an extended regex its output
# must match.
reason() {
	local t=$1 ctr=$2 min=$3 expect=$4 s0 s1 d out rc good=1 why=""
	shift 4
	s0=$(stats_json)
	out=$("$@" 2>&1)
	rc=$?
	s1=$(stats_json)
	d=$(($(counter "$s1" "$ctr") - $(counter "$s0" "$ctr")))
	if [ "$d" -lt "$min" ]; then
		good=0
		why="$ctr grew by $d, want >= $min (counters now: $(counters_brief "$s1"))"
	fi
	case $expect in
	ok) [ "$rc" -eq 0 ] || { good=0; why="$why; command failed (rc $rc): $(tail -2 <<<"$out" | tr '\n' ' ')"; } ;;
	fails) [ "$rc" -ne 0 ] || { good=0; why="$why; command succeeded but should not"; } ;;
	*) grep -qiE -- "$expect" <<<"$out" || { good=0; why="$why; output does not match /$expect/: $(tail -3 <<<"$out" | tr '\n' ' ')"; } ;;
	esac
	if [ "$good" = 1 ]; then
		ok "$t"
	else
		fail "$t" "${why#; }"
	fi
}

# frame KIND: one hand-made frame from the container's eth0 to vc1, through
# an AF_PACKET socket (standard library only).
frame() {
	in_c 1 "$PY" - "$1" "$C_MAC" "$VC1_MAC" <<'EOF'
import socket, struct, sys
kind, src, dst = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), bytes.fromhex(sys.argv[3].replace(":", ""))
def ip4(ihl=5, tot=None, payload=b"x" * 20):
    hdr_len = ihl * 4
    tot = tot if tot is not None else 20 + 8 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, 1, 0x4000, 64, 17, 0,
                    socket.inet_aton("10.200.1.2"), socket.inet_aton("192.0.2.2"))
    udp = struct.pack("!HHHH", 5555, 9, 8 + len(payload), 0)
    return h + udp + payload
eth = lambda et: dst + src + struct.pack("!H", et)
frames = {
    "vlan": dst + src + struct.pack("!HHH", 0x8100, 10, 0x0800) + ip4(),
    "trunc4": eth(0x0800) + ip4()[:10],
    "badihl": eth(0x0800) + ip4(ihl=4),
    "badlen": eth(0x0800) + ip4(tot=1000),
    "trunc6": eth(0x86DD) + bytes([0x60]) + bytes(19),
}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.send(frames[kind])
EOF
}

# Raw IPv4 packet with protocol 253 (RFC 3692 experimental) to the world.
proto253() {
	in_c 1 "$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253); s.sendto(b"xdp-egress", ("192.0.2.2", 0))'
}

for mode in native generic tc; do
	t=pass_$mode
	if ! xe_capture attach --ifname vc1 --mode "$mode" --uplink up0; then
		fail "${t}_attach" "attach exited $XE_RC: $XE_ERR"
		continue
	fi
	ok "${t}_attach"
	prog=$(attached_prog_id vc1)

	# ARP for the gateway, then a next hop the host has not resolved yet.
	ip -n "$C" neigh flush all
	ip -n "$TOPO_HOST" neigh flush all
	reason "${t}_non_ip_arp" pass_non_ip 1 ok in_c 1 ping -c 2 -i 0.2 -W 2 "$TOPO_WORLD_V4"
	ip -n "$TOPO_HOST" neigh flush all
	reason "${t}_no_neigh4" pass_no_neigh 1 ok in_c 1 ping -c 2 -i 0.2 -W 2 "$TOPO_WORLD_V4"
	ip -n "$TOPO_HOST" -6 neigh flush all
	reason "${t}_no_neigh6" pass_no_neigh 1 ok in_c 1 ping -6 -c 2 -i 0.2 -W 2 "$TOPO_WORLD_V6"

	reason "${t}_local4" pass_local 3 ok in_c 1 ping -c 3 -i 0.2 -W 2 10.200.1.1
	reason "${t}_local4_uplink_addr" pass_local 3 ok in_c 1 ping -c 3 -i 0.2 -W 2 192.0.2.1
	reason "${t}_local6" pass_local 3 ok in_c 1 ping -6 -c 3 -i 0.2 -W 2 fd01::1

	reason "${t}_ttl4" pass_ttl 1 'time to live exceeded' in_c 1 ping -c 1 -t 1 -W 1 "$TOPO_WORLD_V4"
	reason "${t}_ttl6" pass_ttl 1 'time exceeded|hop limit' in_c 1 ping -6 -c 1 -t 1 -W 1 "$TOPO_WORLD_V6"

	reason "${t}_fragment4" pass_fragment 6 ok in_c 1 ping -c 3 -i 0.2 -W 2 -s 3000 "$TOPO_WORLD_V4"
	reason "${t}_fragment6" pass_fragment 6 ok in_c 1 ping -6 -c 3 -i 0.2 -W 2 -s 3000 "$TOPO_WORLD_V6"
	reason "${t}_ip_options" pass_ip_options 2 'RR:' in_c 1 ping -R -c 2 -i 0.2 -W 2 "$TOPO_WORLD_V4"

	# The first packet finds no neighbour yet (pass_no_neigh), the rest are
	# routed to vc2, which is not an uplink.
	reason "${t}_not_uplink" pass_not_uplink 2 ok in_c 1 ping -c 3 -i 0.2 -W 2 10.200.2.2
	reason "${t}_unreachable4" pass_fib_fail 1 'unreachable' in_c 1 ping -c 1 -W 1 198.51.100.1
	reason "${t}_unreachable6" pass_fib_fail 1 'unreachable' in_c 1 ping -6 -c 1 -W 1 2001:db8:dead::1

	u0=$(nstat_value "$TOPO_WORLD" IpInUnknownProtos)
	reason "${t}_l4_other" pass_l4_other 1 ok proto253
	sleep 0.2
	u1=$(nstat_value "$TOPO_WORLD" IpInUnknownProtos)
	check "${t}_l4_other_delivered" "the world's IpInUnknownProtos did not grow (${u0:-0} -> ${u1:-0}): the passed packet was not forwarded" \
		test "${u1:-0}" -gt "${u0:-0}"

	# The uplink's MTU drops to 1280: a 1400-byte DF packet must get an ICMP
	# error from the host's kernel, not vanish.
	ip -n "$TOPO_HOST" link set up0 mtu 1280
	ip -n "$TOPO_WORLD" link set eth0 mtu 1280
	reason "${t}_too_big4" pass_too_big 1 'frag needed|mtu = 1280|message too long' in_c 1 ping -c 2 -i 0.3 -W 1 -M do -s 1400 "$TOPO_WORLD_V4"
	reason "${t}_too_big6" pass_too_big 1 'packet too big|mtu = 1280|message too long' in_c 1 ping -6 -c 2 -i 0.3 -W 1 -M do -s 1400 "$TOPO_WORLD_V6"
	ip -n "$TOPO_HOST" link set up0 mtu 1500
	ip -n "$TOPO_WORLD" link set eth0 mtu 1500
	ip -n "$C" route flush cache
	ip -n "$C" -6 route flush cache

	reason "${t}_vlan" pass_vlan 1 ok frame vlan
	for f in trunc4 badihl badlen trunc6; do
		reason "${t}_malformed_$f" drop_malformed 1 ok frame "$f"
	done

	# After all that, plain traffic is still redirected.
	reason "${t}_still_redirects" redirected 3 ok in_c 1 ping -c 3 -i 0.2 -W 2 "$TOPO_WORLD_V4"
	s=$(stats_json)
	check "${t}_no_redirect_errors" "redirect_err is $(counter "$s" redirect_err)" test "$(counter "$s" redirect_err)" = 0
	if [ "$mode" = tc ]; then
		tso=$(offload "$C" eth0 tcp-segmentation-offload)
		csum=$(offload "$C" eth0 tx-checksumming)
		check "${t}_container_keeps_offloads" "container eth0: tcp-segmentation-offload $tso, tx-checksumming $csum (tc mode must leave both on)" \
			test "$tso" = on -a "$csum" = on
	fi
	if xe_capture detach --ifname vc1; then
		check "${t}_detach" "detach left program ${prog:-?} loaded, an XDP program or pins behind" \
			eval 'prog_gone "$prog" && no_xdp_anywhere && pins_gone'
	else
		fail "${t}_detach" "detach exited $XE_RC: $XE_ERR"
	fi
done

exit $((TOPO_FAILED > 0))
