#!/bin/bash
# attach --snat, in native, generic and tc mode, with a world that has no
# route back to the containers (only translated traffic can be answered):
# - ping, UDP and TCP (iperf3, both directions), IPv4 and IPv6 (NAT66) work;
#   the egress program redirects them, the uplink's return path redirects
#   the answers (its "redirected" grows), no checksum errors on either end;
# - the world sees only the SNAT addresses: iperf3's and a Python server's
#   view of the peer, and tcpdump in the world for any container address;
# - also for the first packet of a flow while the host has not resolved its
#   next hop yet (that packet takes the kernel path);
# - ICMP errors about translated flows reach the container translated back:
#   fragmentation needed / packet too big from a router with a smaller MTU
#   (and TCP path-MTU discovery through it), time exceeded for TTL 2;
# - the host's own connections through the same uplink are untouched (TCP,
#   TCP from a port inside the SNAT range, ping);
# - with --uplink-mode generic the return path carries TCP too;
# - detach leaves no XDP, no pins, no program, and every offload as before.
# tc mode: the container keeps TSO and tx-checksumming, so it sends GSO
# super-packets with partial checksums, whose pseudo-header sums SNAT must
# update (bpf/skb_nat.h); redirected_gso must grow in the TCP flows. For
# "no checksum errors" to mean anything there, the host's uplink up0 does
# the checksums and the segmentation in software for that round (tx, tso,
# gso off): a wrong pseudo-header sum then becomes a wrong checksum on the
# wire, which the world's nstat counts (veth to veth, a partial checksum
# would otherwise be delivered as "unnecessary" and never verified).
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe snat_traffic

SLACK=10
MIN_TCP_MBPS=100
V4=$TOPO_SNAT_V4
V6=$TOPO_SNAT_V6

topo_create 1 || { fail snat_traffic_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
W=$TOPO_WORLD
topo_world_no_return || { fail snat_traffic_setup "the world still routes 10.200.0.0/16"; exit 1; }
# The far side sits behind the world's 1280-byte link; its own link keeps
# 1500, so TCP towards it negotiates a 1460-byte MSS and needs path-MTU
# discovery (frag-needed from the world) to get through.
topo_add_far 1280 || { fail snat_traffic_setup "could not build the far namespace"; exit 1; }
ip -n "$TOPO_FAR" link set eth0 mtu 1500
snat_tools
start_iperf_server 5201 || { fail snat_traffic_setup "iperf3 server did not start"; exit 1; }
start_py_server udp 9999 "$TOPO_TMP/peers.udp4" &&
	start_py_server udp 9997 "$TOPO_TMP/peers.udp6" v6 &&
	start_py_server tcp 9998 "$TOPO_TMP/peers.tcp4" ||
	{ fail snat_traffic_setup "Python servers did not start"; exit 1; }
bg "$TOPO_FAR" "$PY3" "$SNAT_TOOLS" server tcp 9998 "$TOPO_TMP/peers.far" v6
wait_listen "$TOPO_FAR" 9998 || { fail snat_traffic_setup "far server did not start"; exit 1; }


# flow NAME COMMAND...: runs COMMAND in the container; checks that the
# egress program redirected what the container sent and the return path
# what it received. FLOW_OUT / FLOW_RC / FLOW_GSO (redirected_gso's growth)
# for the caller.
flow() {
	local name=$1 s0 s1 tx0 tx1 rx0 rx1 tx rx red ret pass
	shift
	FLOW_GSO=0
	s0=$(stats_json)
	tx0=$(tx_packets "$C" eth0)
	rx0=$(ip -n "$C" -j -s link show eth0 | jq '.[0].stats64.rx.packets')
	FLOW_OUT=$(in_c 1 "$@" 2>&1)
	FLOW_RC=$?
	s1=$(stats_json)
	tx1=$(tx_packets "$C" eth0)
	rx1=$(ip -n "$C" -j -s link show eth0 | jq '.[0].stats64.rx.packets')
	if [ -z "$s0" ] || [ -z "$s1" ]; then
		fail "${name}_counters" "stats --json failed or printed nothing"
		return
	fi
	tx=$((tx1 - tx0))
	rx=$((rx1 - rx0))
	red=$(($(counter "$s1" redirected) - $(counter "$s0" redirected)))
	pass=$(($(pass_total "$s1") - $(pass_total "$s0")))
	ret=$(($(return_counter "$s1" redirected) - $(return_counter "$s0" redirected)))
	FLOW_GSO=$(($(counter "$s1" redirected_gso) - $(counter "$s0" redirected_gso)))
	log "$name: container sent $tx frames (egress redirected $red of them, $FLOW_GSO GSO super-packets; passed $pass), received $rx (return path redirected $ret)"
	if [ "$tx" -gt 0 ] && [ "$red" -ge $((tx - SLACK)) ] && [ "$pass" -le "$SLACK" ] &&
		[ "$rx" -gt 0 ] && [ "$ret" -ge $((rx - SLACK)) ]; then
		ok "${name}_counters"
	else
		fail "${name}_counters" "sent $tx frames: egress redirected +$red, passed +$pass; received $rx: return path redirected +$ret (allowed slack $SLACK); now $(counters_brief "$s1") return $(jq -c '.snat.return_paths[0].counters | map_values(.packets)' <<<"$s1")"
	fi
}

check_ping() {
	if [ "$FLOW_RC" -eq 0 ] && grep -q ' 0% packet loss' <<<"$FLOW_OUT"; then
		ok "$1"
	else
		fail "$1" "ping failed (rc $FLOW_RC): $(grep -E 'packet loss' <<<"$FLOW_OUT")"
	fi
}
check_udp() {
	local sent lost pct
	sent=$(jq -r '.end.sum.packets // 0' <<<"$FLOW_OUT" 2>/dev/null)
	lost=$(jq -r '.end.sum.lost_packets // 0' <<<"$FLOW_OUT" 2>/dev/null)
	pct=$(jq -r '.end.sum.lost_percent // 100 | floor' <<<"$FLOW_OUT" 2>/dev/null)
	if [ "$FLOW_RC" -eq 0 ] && [ "${sent:-0}" -gt 1000 ] && [ "${pct:-100}" -lt 5 ]; then
		ok "$1"
		log "$1: $sent datagrams, $lost lost"
	else
		fail "$1" "iperf3 -u rc $FLOW_RC, datagrams ${sent:-?}, lost ${lost:-?} (${pct:-?}%): $(jq -r '.error // empty' <<<"$FLOW_OUT" 2>/dev/null)"
	fi
}
check_tcp() {
	local mbps
	mbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' <<<"$FLOW_OUT" 2>/dev/null)
	if [ "$FLOW_RC" -eq 0 ] && [ "${mbps:-0}" -ge "$MIN_TCP_MBPS" ]; then
		ok "$1"
		log "$1: $mbps Mbit/s received, $(jq -r '.end.sum_sent.retransmits' <<<"$FLOW_OUT") retransmits"
	else
		fail "$1" "iperf3 rc $FLOW_RC, ${mbps:-?} Mbit/s (want >= $MIN_TCP_MBPS): $(jq -r '.error // empty' <<<"$FLOW_OUT" 2>/dev/null)"
	fi
}

# peers_ok NAME FILE...: every peer address the servers saw is a SNAT
# address, and both families were seen.
peers_ok() {
	local name=$1 all bad
	shift
	all=$(cat "$@" 2>/dev/null | awk '{ print $1 }' | sort | uniq -c | tr '\n' ' ')
	bad=$(cat "$@" 2>/dev/null | awk -v a="$V4" -v b="$V6" '$1 != a && $1 != b' | head -5 | tr '\n' ' ')
	log "$name: peers seen by the world's servers (count address): $all"
	if [ -z "$bad" ] && grep -q "^$V4 " <<<"$(cat "$@")" && grep -q "^$V6 " <<<"$(cat "$@")"; then
		ok "$name"
	else
		fail "$name" "the world's servers saw peers other than $V4/$V6 (or not both): ${bad:-none other}; all: $all"
	fi
}

# iperf3_peers FROM_LINE: "ADDR PORT" of every connection in the iperf3
# server log from line FROM_LINE on.
iperf3_peers() {
	tail -n +"$1" "$TOPO_TMP/iperf3-server.log" |
		sed -nE 's/.*Accepted connection from ([^,]+), port ([0-9]+).*/\1 \2/p; s/.*connected to ([^ ]+) port ([0-9]+).*/\1 \2/p'
}

# check_gso NAME: in tc mode, the flow's super-packets took the fast path
# whole (the container's TSO is on; up0 segments them after the redirect).
check_gso() {
	[ "$mode" = tc ] || return 0
	check "${1}_gso_redirected" "redirected_gso grew by $FLOW_GSO in this TCP flow: the container's GSO super-packets did not take the fast path whole" \
		test "$FLOW_GSO" -gt 100
}

round=0
for mode in native generic tc; do
	t=snat_$mode
	# Source ports of this round's Python flows: a 5-tuple of an earlier
	# round may still sit in the kernel's conntrack (detach hands live flows
	# over), and the egress program leaves such flows to the kernel.
	pbase=$((41000 + round * 2000))
	round=$((round + 1))
	if [ "$mode" = generic ]; then snat_args=(--snat "$V4" --snat "$V6"); else snat_args=(--snat auto); fi
	# PMTU learnt in the previous round would spare this one the ICMP.
	ip -n "$C" route flush cache 2>/dev/null
	ip -n "$C" -6 route flush cache 2>/dev/null
	if [ "$mode" = tc ]; then
		# Checksums and segmentation in software on up0 for this round
		# (see the top); the snapshot is taken after, so detach is
		# still held to restoring exactly what attach found.
		up0_orig=$(offloads "$TOPO_HOST" up0)
		up0_restore=(tx "$(offload "$TOPO_HOST" up0 tx-checksumming)"
			tso "$(offload "$TOPO_HOST" up0 tcp-segmentation-offload)"
			gso "$(offload "$TOPO_HOST" up0 generic-segmentation-offload)")
		in_host ethtool -K up0 tx off tso off gso off >/dev/null 2>&1
	fi
	before=$(offload_snapshot)
	if ! xe_capture attach --ifname vc1 --mode "$mode" --uplink up0 "${snat_args[@]}"; then
		fail "${t}_attach" "attach ${snat_args[*]} exited $XE_RC: $XE_ERR"
		[ "$mode" = tc ] && in_host ethtool -K up0 "${up0_restore[@]}" >/dev/null 2>&1
		continue
	fi
	ok "${t}_attach"
	prog1=$(attached_prog_id vc1)
	if [ "$mode" = tc ]; then
		tso=$(offload "$C" eth0 tcp-segmentation-offload)
		csum=$(offload "$C" eth0 tx-checksumming)
		check "${t}_container_keeps_offloads" "container eth0 with SNAT: tcp-segmentation-offload $tso, tx-checksumming $csum (tc mode must leave both on)" \
			test "$tso" = on -a "$csum" = on
		up=$(offloads "$TOPO_HOST" up0 | grep -E '^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload):' | tr -d '\t' | tr '\n' ' ')
		check "${t}_uplink_checksums_in_software" "up0 while attached: $up(want all three off: attach must not turn them on, or the world's checksum counters verify nothing)" \
			test "$up" = "tx-checksumming: off tcp-segmentation-offload: off generic-segmentation-offload: off "
	fi
	sed 's/^/#   /' <<<"$XE_OUT"
	st=$(xe status --json 2>/dev/null)
	got=$(jq -r '.attachments[0].snat | "\(.ipv4) \(.ipv6)"' <<<"$st" 2>/dev/null)
	check "${t}_status_addresses" "status --json .attachments[0].snat says '$got', want '$V4 $V6' (${snat_args[*]})" \
		test "$got" = "$V4 $V6"

	topo_warm_neigh
	csum_w0=$(nstat_csum_errors "$W")
	csum_c0=$(nstat_csum_errors "$C")
	log0=$(($(wc -l <"$TOPO_TMP/iperf3-server.log") + 1))
	rm -f "$TOPO_TMP"/peers.udp4 "$TOPO_TMP"/peers.udp6 "$TOPO_TMP"/peers.tcp4
	touch "$TOPO_TMP"/peers.udp4 "$TOPO_TMP"/peers.udp6 "$TOPO_TMP"/peers.tcp4
	# Everything from a container address, plus translated echo requests
	# as a sign that the capture works.
	world_capture_start "src net 10.200.0.0/16 or src net fd00::/16 or (src host $V4 and icmp[icmptype] == icmp-echo) or (src host $V6 and icmp6 and ip6[40] == 128)" ||
		fail "${t}_capture" "tcpdump in the world did not start: $(cat "$TOPO_TMP/capture.err")"

	flow "${t}_ping4" ping -c 5 -i 0.2 -W 2 "$TOPO_WORLD_V4"
	check_ping "${t}_ping4"
	flow "${t}_ping6" ping -6 -c 5 -i 0.2 -W 2 "$TOPO_WORLD_V6"
	check_ping "${t}_ping6"
	flow "${t}_udp4" iperf3 -c "$TOPO_WORLD_V4" -u -b 100M -l 1200 -t 1 -J
	check_udp "${t}_udp4"
	flow "${t}_udp6" iperf3 -6 -c "$TOPO_WORLD_V6" -u -b 100M -l 1200 -t 1 -J
	check_udp "${t}_udp6"
	flow "${t}_tcp4" iperf3 -c "$TOPO_WORLD_V4" -t 2 -J
	check_tcp "${t}_tcp4"
	check_gso "${t}_tcp4"
	flow "${t}_tcp4_reverse" iperf3 -c "$TOPO_WORLD_V4" -t 2 -R -J
	check_tcp "${t}_tcp4_reverse"
	flow "${t}_tcp6" iperf3 -6 -c "$TOPO_WORLD_V6" -t 2 -J
	check_tcp "${t}_tcp6"
	check_gso "${t}_tcp6"
	flow "${t}_tcp6_reverse" iperf3 -6 -c "$TOPO_WORLD_V6" -t 2 -R -J
	check_tcp "${t}_tcp6_reverse"
	# Plain sockets: the world's Python servers record the peer.
	r4=$(py_in "$C" udp "$TOPO_WORLD_V4" 9999 "$pbase" 20 2 0.3)
	r6=$(py_in "$C" udp "$TOPO_WORLD_V6" 9997 "$pbase" 20 2 0.3)
	rt=$(py_in "$C" tcp "$TOPO_WORLD_V4" 9998 10 0)
	if [ "$(jq .answered <<<"$r4")" = 20 ] && [ "$(jq .answered <<<"$r6")" = 20 ] &&
		[ "$(jq .echoed <<<"$rt")" = 10 ]; then
		ok "${t}_python_flows"
	else
		fail "${t}_python_flows" "udp4 $r4; udp6 $r6; tcp $rt"
	fi
	world_capture_stop

	# The world's view.
	iperf3_peers "$log0" >"$TOPO_TMP/peers.iperf3"
	peers_ok "${t}_world_sees_only_snat_address" "$TOPO_TMP"/peers.iperf3 "$TOPO_TMP"/peers.udp4 "$TOPO_TMP"/peers.udp6 "$TOPO_TMP"/peers.tcp4
	leaked=$(grep -cE '(IP |IP6 )(10\.200\.|fd00:)' "$TOPO_TMP/capture.txt")
	seen=$(grep -cE "IP6? ($V4|$V6) > " "$TOPO_TMP/capture.txt")
	if [ "$leaked" -eq 0 ] && [ "$seen" -gt 0 ]; then
		ok "${t}_tcpdump_no_container_address"
		log "tcpdump in the world: $seen translated echo requests, no packet from a container address"
	else
		fail "${t}_tcpdump_no_container_address" "tcpdump in the world saw $leaked packets from a container address ($seen translated echo requests as control): $(grep -E '(IP |IP6 )(10\.200\.|fd00:)' "$TOPO_TMP/capture.txt" | head -3 | tr '\n' ';')"
	fi

	# ICMP errors about translated flows, translated back. PMTU first: a
	# TCP stream to the far side through the 1280-byte hop (the container
	# learns it from a frag-needed only if the return path translates it).
	s0=$(stats_json)
	rs=$(py_in "$C" stream "$TOPO_FAR_V4" 9998 1 4000)
	sent=$(jq -r '.sent // 0' <<<"$rs")
	check "${t}_tcp_pmtu_discovery" "TCP to $TOPO_FAR_V4 behind a 1280-byte hop: $rs (a stall means the frag-needed never reached the container)" \
		test "$(jq -r '.error' <<<"$rs")" = null -a "${sent:-0}" -gt 1000000
	log "TCP through the 1280-byte hop: $rs; container's route: $(ip -n "$C" route get "$TOPO_FAR_V4" | tr -s ' \n' ' ')"
	ip -n "$C" route flush cache
	out4=$(in_c 1 ping -c 2 -i 0.3 -W 1 -M "do" -s 1400 "$TOPO_FAR_V4" 2>&1)
	out6=$(in_c 1 ping -6 -c 2 -i 0.3 -W 1 -M "do" -s 1400 "$TOPO_FAR_V6" 2>&1)
	check "${t}_icmp_frag_needed" "ping -M do -s 1400 shows no frag-needed with mtu 1280: $(tr '\n' ' ' <<<"$out4")" \
		grep -qE 'mtu ?[=:] ?1280' <<<"$out4"
	check "${t}_icmp6_packet_too_big" "ping -6 -M do -s 1400 shows no packet-too-big with mtu 1280: $(tr '\n' ' ' <<<"$out6")" \
		grep -qE 'mtu ?[=:] ?1280' <<<"$out6"
	out4=$(in_c 1 ping -c 1 -W 1 -t 2 "$TOPO_FAR_V4" 2>&1)
	out6=$(in_c 1 ping -6 -c 1 -W 1 -t 2 "$TOPO_FAR_V6" 2>&1)
	check "${t}_icmp_time_exceeded" "ping -t 2 (the world is the second hop) shows no time exceeded: $(tr '\n' ' ' <<<"$out4")" \
		grep -qiE "From $TOPO_WORLD_V4 .*(time to live exceeded|ttl exceeded)" <<<"$out4"
	check "${t}_icmp6_time_exceeded" "ping -6 -t 2 shows no time exceeded: $(tr '\n' ' ' <<<"$out6")" \
		grep -qiE "From $TOPO_WORLD_V6 .*(exceeded)" <<<"$out6"
	s1=$(stats_json)
	n=$(($(return_counter "$s1" icmp_error_translated) - $(return_counter "$s0" icmp_error_translated)))
	check "${t}_icmp_error_translated_counted" "icmp_error_translated grew by $n, want >= 5 (TCP frag-needed, 2 frag-needed/too-big, 2 time exceeded)" \
		test "$n" -ge 5
	log "icmp_error_translated +$n"

	# Checksums on both ends, after all of the above.
	cw=$(($(nstat_csum_errors "$W") - csum_w0))
	cc=$(($(nstat_csum_errors "$C") - csum_c0))
	ip netns exec "$W" nstat -az | grep -E 'CsumErrors' | awk '$2 > 0' | sed 's/^/#   world nstat: /'
	ip netns exec "$C" nstat -az | grep -E 'CsumErrors' | awk '$2 > 0' | sed 's/^/#   container nstat: /'
	check "${t}_checksums" "checksum errors (TcpInCsumErrors, UdpInCsumErrors, Icmp(6)InCsumErrors...): world +$cw, container +$cc" \
		test "$cw" -eq 0 -a "$cc" -eq 0

	# The host's own traffic through the same uplink: untouched.
	s0=$(stats_json)
	log1=$(($(wc -l <"$TOPO_TMP/iperf3-server.log") + 1))
	hout=$(in_host iperf3 -c "$TOPO_WORLD_V4" -t 1 -J 2>&1)
	hmbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' <<<"$hout" 2>/dev/null)
	check "${t}_host_tcp" "iperf3 from the host ns while SNAT is attached: ${hmbps:-?} Mbit/s $(jq -r '.error // empty' <<<"$hout" 2>/dev/null)" \
		test "${hmbps:-0}" -ge "$MIN_TCP_MBPS"
	# A source port inside the SNAT range (16384-32767): the return path
	# must leave the answers to the host.
	hout=$(in_host iperf3 -c "$TOPO_WORLD_V4" -t 1 --cport 20500 -J 2>&1)
	hmbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' <<<"$hout" 2>/dev/null)
	hport=$(iperf3_peers "$log1" | awk '$2 == 20500' | head -1)
	check "${t}_host_tcp_port_in_snat_range" "iperf3 --cport 20500 from the host: ${hmbps:-?} Mbit/s, server saw '${hport:-no connection from port 20500}' $(jq -r '.error // empty' <<<"$hout" 2>/dev/null)" \
		test "${hmbps:-0}" -ge "$MIN_TCP_MBPS" -a "$hport" = "$V4 20500"
	hr=$(py_in "$TOPO_HOST" tcp "$TOPO_WORLD_V4" 9998 3 0 20600)
	check "${t}_host_python_tcp_port_in_snat_range" "3 connections from host ports 20600-20602: $hr" \
		test "$(jq -r .echoed <<<"$hr")" = 3
	p4=$(in_host ping -c 3 -i 0.2 -W 1 "$TOPO_WORLD_V4" 2>&1)
	p6=$(in_host ping -6 -c 3 -i 0.2 -W 1 "$TOPO_WORLD_V6" 2>&1)
	check "${t}_host_ping" "ping from the host ns: $(grep -h 'packet loss' <<<"$p4$p6" | tr '\n' ' ')" \
		test "$(grep -c ' 0% packet loss' <<<"$p4
$p6")" = 2
	s1=$(stats_json)
	n=$(($(return_counter "$s1" pass_not_translated) - $(return_counter "$s0" pass_not_translated)))
	m=$(($(return_counter "$s1" redirected) - $(return_counter "$s0" redirected)))
	check "${t}_host_traffic_passed_untouched" "the return path passed +$n packets of the host's own traffic untranslated and redirected +$m (want many passed, none redirected)" \
		test "$n" -gt 1000 -a "$m" -eq 0
	log "host's own traffic: return path pass_not_translated +$n, redirected +$m"

	# The first packet of a flow while the host's next hop is unresolved
	# takes the kernel path (pass_no_neigh). Without a NAT rule in the host
	# namespace the kernel forwards it as it is: the world must still not
	# see a container address.
	in_host ip neigh flush dev up0 2>/dev/null
	in_host ip -6 neigh flush dev up0 2>/dev/null
	s0=$(stats_json)
	world_capture_start "src net 10.200.0.0/16 or src net fd00::/16"
	py_in "$C" udp "$TOPO_WORLD_V4" 9999 $((pbase + 1000)) 1 1 0.3 >/dev/null
	py_in "$C" udp "$TOPO_WORLD_V6" 9997 $((pbase + 1000)) 1 1 0.3 >/dev/null
	world_capture_stop
	s1=$(stats_json)
	nn=$(($(counter "$s1" pass_no_neigh) - $(counter "$s0" pass_no_neigh)))
	leaked=$(grep -cE '(IP |IP6 )(10\.200\.|fd00:)' "$TOPO_TMP/capture.txt")
	if [ "$leaked" -eq 0 ]; then
		ok "${t}_first_packet_unresolved_neigh_not_leaked"
	else
		fail "${t}_first_packet_unresolved_neigh_not_leaked" "with the host's neighbour to the world unresolved, $nn packets took pass_no_neigh and the world saw $leaked untranslated: $(head -2 "$TOPO_TMP/capture.txt" | cut -c1-110 | tr '\n' ';')"
	fi
	topo_warm_neigh

	xe stats | sed 's/^/#   /'

	# The return path in generic mode on the uplink. --uplink-mode is read
	# when the uplink program is made, so attach anew.
	xe_capture detach --ifname vc1 >/dev/null
	prog2=0
	if xe_capture attach --ifname vc1 --mode "$mode" --uplink up0 "${snat_args[@]}" --uplink-mode generic; then
		prog2=$(attached_prog_id vc1)
		rp=$(stats_json | jq -r '.snat.return_paths[0].mode')
		g0=$(stats_json)
		FLOW_OUT=$(in_c 1 iperf3 -c "$TOPO_WORLD_V4" -t 2 -R -J 2>&1)
		FLOW_RC=$?
		g1=$(stats_json)
		mbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' <<<"$FLOW_OUT" 2>/dev/null)
		gr=$(($(return_counter "$g1" redirected) - $(return_counter "$g0" redirected)))
		if [ "$FLOW_RC" -eq 0 ] && [ "${mbps:-0}" -ge "$MIN_TCP_MBPS" ]; then
			ok "${t}_uplink_generic_tcp4_reverse"
			log "${t}_uplink_generic_tcp4_reverse: $mbps Mbit/s"
		else
			fail "${t}_uplink_generic_tcp4_reverse" "iperf3 -R with the return path in generic mode: rc $FLOW_RC, ${mbps:-?} Mbit/s (want >= $MIN_TCP_MBPS) though the return path counted +$gr redirected; the world's eth0 (uplink peer) sends GSO super-packets: $(offloads "$W" eth0 | grep -E '^tcp-segmentation-offload:' | tr -d '\n\t')"
		fi
		FLOW_OUT=$(in_c 1 iperf3 -c "$TOPO_WORLD_V4" -t 1 -J 2>&1)
		FLOW_RC=$?
		check_tcp "${t}_uplink_generic_tcp4"
		log "return path mode: $rp, its counters $(stats_json | jq -c '.snat.return_paths[0].counters | map_values(.packets)'); world eth0: $(offloads "$W" eth0 | grep -E '^(tx-checksumming|tcp-segmentation-offload|generic-receive-offload):' | tr '\n\t' '  ')"
	else
		fail "${t}_uplink_generic_attach" "attach --uplink-mode generic exited $XE_RC: $XE_ERR"
	fi

	if xe_capture detach --ifname vc1; then
		sed 's/^/#   /' <<<"$XE_OUT"
		after=$(offload_snapshot)
		if no_xdp_anywhere && pins_gone && prog_gone "$prog1" && prog_gone "$prog2" &&
			[ "$after" = "$before" ]; then
			ok "${t}_detach_restores"
		else
			fail "${t}_detach_restores" "after detach: XDP $(for ns in "${TOPO_NS[@]}"; do xdp_progs "$ns"; done | tr '\n' ';') pins $(find "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ') programs $prog1 $prog2: $(prog_gone "$prog1" && prog_gone "$prog2" && echo freed || echo 'not both freed') offloads diff: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | tr '\n\t' '  ')"
		fi
	else
		fail "${t}_detach_restores" "detach exited $XE_RC: $XE_ERR"
	fi
	if [ "$mode" = tc ]; then
		in_host ethtool -K up0 "${up0_restore[@]}" >/dev/null 2>&1
		check "${t}_uplink_offloads_restored" "up0 after the round differs from before it: $(diff <(echo "$up0_orig") <(offloads "$TOPO_HOST" up0) | grep '^[<>]' | tr '\n\t' '  ')" \
			test "$(offloads "$TOPO_HOST" up0)" = "$up0_orig"
	fi
done

exit $((TOPO_FAILED > 0))
