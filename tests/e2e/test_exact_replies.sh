#!/bin/bash
# Replies, ICMP errors and IPv6 through the node's MASQUERADE, the kernel
# path as the oracle, then xdp-egress in every mode:
#
#   c1, c2 == vc1, vc2 (vc2: MTU 1400)   node   up0 == world ==(MTU 1280)== far 203.0.113.2
#
# - fragmented replies: UDP answers of 3000 bytes, fragmented by the world
#   (IPv4 and IPv6), on an established flow; fragmented requests from the
#   container;
# - ICMP errors towards the container: port unreachable on an established
#   UDP flow whose server went away (v4, v6); fragmentation needed / packet
#   too big from the world's 1280-byte hop (ping -M do, and a TCP upload
#   that needs path-MTU discovery, v4 and v6); time exceeded for TTL 1, 2
#   and port unreachable at TTL 3 (a traceroute's view, v4 and v6);
# - ICMP errors from the container's side: its closed port answers the
#   world's datagrams (the world must get port unreachable, translated:
#   about the node's address); the node's own frag-needed / packet too big
#   towards the world when a download into c2 meets vc2's 1400 bytes;
# - IPv6 through MASQUERADE (ip6tables): UDP and TCP request/answer, the
#   world sees the node's address, the fast path carries them; ping v4/v6.
set -u
source "$(dirname "$0")/../lib/exact.sh"
trap exact_cleanup EXIT
trap 'exit 1' INT TERM HUP
exact_need replies_setup ping

W=$TOPO_WORLD_V4
W6=$TOPO_WORLD_V6
F=$TOPO_FAR_V4
F6=$TOPO_FAR_V6
topo_create 2 || { fail replies_setup "could not build the namespaces"; exit 1; }
C1=${TOPO_C[1]}
C2=${TOPO_C[2]}
node_masquerade || { fail replies_setup "MASQUERADE rules failed"; exit 1; }
# The far side behind a 1280-byte hop; its own link keeps 1500, so TCP to it
# negotiates a 1460-byte MSS and needs path-MTU discovery.
topo_add_far 1280 || { fail replies_setup "could not build the far namespace"; exit 1; }
ip -n "$TOPO_FAR" link set eth0 mtu 1500
ip -n "$TOPO_HOST" link set vc2 mtu 1400
serve "$TOPO_WORLD" world 9998 9999 &&
	serve "$TOPO_FAR" far 9998 9999 ||
	{ fail replies_setup "servers did not start"; exit 1; }
ok replies_setup

# world_got_icmp FROM_LINE PEER: the world's server logged an ICMP error
# about PEER since FROM_LINE.
world_got_icmp() {
	[ -n "$(srv_events world "$1" ".ev == \"icmp\" and .peer == \"$2\"")" ]
}

# flush_pmtu: what earlier rounds taught the ends about path MTUs.
flush_pmtu() {
	local ns
	for ns in "$C1" "$C2" "$TOPO_WORLD" "$TOPO_FAR"; do
		ip -n "$ns" route flush cache 2>/dev/null
		ip -n "$ns" -6 route flush cache 2>/dev/null
	done
}

for ROUND in "${EXACT_ROUNDS[@]}"; do
	exact_round_start "--ifname vc1" "--ifname vc2" || continue
	warm_neigh
	flush_pmtu
	R=replies

	# IPv6 (and v4) request/answer through MASQUERADE, fast-pathed.
	s0=$(stats_json)
	r=$(py_x "$C1" ask udp "$W6" 9999 --rounds 40 --gap 0.005)
	same_as_kernel ${R}_udp6_masquerade "$(ask_outcome "$r")" "^answered=40/40 names=world seen=fd01::1 error=none$"
	r=$(py_x "$C1" ask tcp "$W6" 9998 --rounds 40 --gap 0.005)
	same_as_kernel ${R}_tcp6_masquerade "$(ask_outcome "$r")" "^answered=40/40 names=world seen=fd01::1 error=none$"
	s1=$(stats_json)
	fast_path ${R}_ipv6_masquerade "$s0" "$s1" 50 50
	p4=$(in_c 1 ping -c 3 -i 0.2 -W 2 "$W" 2>&1 | grep -o '[0-9]*% packet loss')
	p6=$(in_c 1 ping -6 -c 3 -i 0.2 -W 2 "$W6" 2>&1 | grep -o '[0-9]*% packet loss')
	same_as_kernel ${R}_ping "v4 $p4, v6 $p6" "^v4 0% packet loss, v6 0% packet loss$"

	# Fragmented replies on an established flow, and fragmented requests.
	s0=$(stats_json)
	r4=$(py_x "$C1" ask udp "$W" 9999 --rounds 20 --big 3000 --gap 0.005)
	r6=$(py_x "$C1" ask udp "$W6" 9999 --rounds 20 --big 3000 --gap 0.005)
	s1=$(stats_json)
	same_as_kernel ${R}_fragmented_replies "v4 $(jq -r '"\(.answered)/\(.rounds) \(.reply_bytes) bytes"' <<<"$r4"), v6 $(jq -r '"\(.answered)/\(.rounds) \(.reply_bytes) bytes"' <<<"$r6")" \
		"^v4 20/20 60000 bytes, v6 20/20 60000 bytes$"
	[ "$ROUND" != kernel ] && log "fragmented replies ($ROUND): uplink $(counters_delta_brief "$s0" "$s1")"
	r4=$(py_x "$C1" ask udp "$W" 9999 --rounds 10 --size 3000 --gap 0.005)
	r6=$(py_x "$C1" ask udp "$W6" 9999 --rounds 10 --size 3000 --gap 0.005)
	same_as_kernel ${R}_fragmented_requests "v4 $(ask_outcome "$r4"), v6 $(ask_outcome "$r6")" \
		"^v4 answered=10/10 names=world seen=192.0.2.1 error=none, v6 answered=10/10 names=world seen=fd01::1 error=none$"

	# Port unreachable on an established UDP flow whose server went away.
	serve "$TOPO_WORLD" "gone$ROUND" 0 9995 || fail "${R}_port_unreachable_$ROUND" "the short-lived server did not start"
	gone_pid=$SERVE_PID
	f4=$TOPO_TMP/pu4-$ROUND.json
	f6=$TOPO_TMP/pu6-$ROUND.json
	bg_x "$C1" stream udp "$W" 9995 --out "$f4" --interval 0.01 --seconds 20 --stop "$TOPO_TMP/pu-stop-$ROUND"
	sp4=$BG_PID
	bg_x "$C1" stream udp "$W6" 9995 --out "$f6" --interval 0.01 --seconds 20 --stop "$TOPO_TMP/pu-stop-$ROUND"
	sp6=$BG_PID
	wait_json "$f4" 5 '.answered >= 30'
	wait_json "$f6" 5 '.answered >= 30'
	kill "$gone_pid"
	wait "$gone_pid" 2>/dev/null
	wait_json "$f4" 3 '.error != null'
	wait_json "$f6" 3 '.error != null'
	touch "$TOPO_TMP/pu-stop-$ROUND"
	wait "$sp4" "$sp6" 2>/dev/null
	same_as_kernel ${R}_port_unreachable_established "v4: $(jq -r '"answered>=30: \(.answered >= 30), then \(.error)"' "$f4"); v6: $(jq -r '"answered>=30: \(.answered >= 30), then \(.error)"' "$f6")" \
		"^v4: answered>=30: true, then Connection refused; v6: answered>=30: true, then Connection refused$"

	# Port unreachable from the container's side: the world's pushes meet
	# a closed port; the world must learn it, about the node's address.
	from=$(srv_lines world)
	r4=$(py_x "$C1" pushrecv "$W" 9999 --count 20 --close-after 3)
	r6=$(py_x "$C1" pushrecv "$W6" 9999 --count 20 --close-after 3)
	wait_until 3 world_got_icmp "$from" 192.0.2.1
	wait_until 3 world_got_icmp "$from" fd01::1
	i4=$(srv_events world "$from" '.ev == "icmp" and .peer == "192.0.2.1"' | jq -r '"type \(.type) code \(.code) from \(.offender)"' | sort -u | tr '\n' ',')
	i6=$(srv_events world "$from" '.ev == "icmp" and .peer == "fd01::1"' | jq -r '"type \(.type) code \(.code) from \(.offender)"' | sort -u | tr '\n' ',')
	same_as_kernel ${R}_port_unreachable_from_container "container took $(jq -r .received <<<"$r4")+$(jq -r .received <<<"$r6"); the world got v4: ${i4:-nothing} v6: ${i6:-nothing}" \
		"^container took 3\+3; the world got v4: type 3 code 3 from 192.0.2.1, v6: type 1 code 4 from fd01::1,$"

	# Fragmentation needed / packet too big from the 1280-byte hop.
	flush_pmtu
	in_c 1 ping -c 1 -W 1 -M do -s 1400 "$F" >"$TOPO_TMP/fn4" 2>&1 &
	fp=$!
	o6=$(in_c 1 ping -6 -c 1 -W 1 -M do -s 1400 "$F6" 2>&1 | grep -oE 'mtu ?[=:] ?[0-9]+' | head -1 | tr -d ' ')
	wait "$fp"
	o4=$(grep -oE 'mtu ?[=:] ?[0-9]+' "$TOPO_TMP/fn4" | head -1 | tr -d ' ')
	same_as_kernel ${R}_frag_needed_ping "v4 ${o4:-none}, v6 ${o6:-none}" "^v4 mtu[=:]1280, v6 mtu[=:]1280$"
	flush_pmtu
	s0=$(stats_json)
	u4=$(py_x "$C1" bulk "$F" 9998 up 3000000 --timeout 8)
	u6=$(py_x "$C1" bulk "$F6" 9998 up 3000000 --timeout 8)
	s1=$(stats_json)
	same_as_kernel ${R}_pmtu_tcp_upload "v4 $(jq -r '"md5_ok=\(.md5_ok) end=\(.end) error=\(.error // "none")"' <<<"$u4"), v6 $(jq -r '"md5_ok=\(.md5_ok) end=\(.end) error=\(.error // "none")"' <<<"$u6")" \
		"^v4 md5_ok=true end=fin error=none, v6 md5_ok=true end=fin error=none$"
	fast_path ${R}_pmtu_tcp_upload "$s0" "$s1" 1000000 0 bytes
	log "container's route to the far side ($ROUND): $(ip -n "$C1" route get "$F" | grep -o 'mtu [0-9]*'), $(ip -n "$C1" -6 route get "$F6" | grep -o 'mtu [0-9]*')"

	# A traceroute's view: TTL 1 and 2 expire (node, world), TTL 3 arrives.
	o=""
	for fam in 4 6; do
		dst=$F
		[ $fam = 6 ] && dst=$F6
		for ttl in 1 2 3; do
			r=$(py_x "$C1" ttlprobe "$dst" 33434 --ttl $ttl --timeout 1)
			o+="v$fam ttl$ttl $(jq -r '"\(.icmp) from \(.from)"' <<<"$r"); "
		done
	done
	same_as_kernel ${R}_ttl_expiry "${o%; }" \
		"^v4 ttl1 time-exceeded from 10.200.1.1; v4 ttl2 time-exceeded from 192.0.2.2; v4 ttl3 unreachable from 203.0.113.2; v6 ttl1 time-exceeded from fd00:1::1; v6 ttl2 time-exceeded from fd01::2; v6 ttl3 unreachable from fd02::2$"

	# The node's own frag-needed / packet too big towards the world: a
	# download into c2, whose vc2 takes 1400 bytes.
	s0=$(stats_json)
	d4=$(py_x "$C2" bulk "$W" 9998 down 5000000 --timeout 8)
	d6=$(py_x "$C2" bulk "$W6" 9998 down 5000000 --timeout 8)
	s1=$(stats_json)
	same_as_kernel ${R}_too_big_toward_world "v4 $(jq -r '"md5_ok=\(.md5_ok) end=\(.end) error=\(.error // "none")"' <<<"$d4"), v6 $(jq -r '"md5_ok=\(.md5_ok) end=\(.end) error=\(.error // "none")"' <<<"$d6")" \
		"^v4 md5_ok=true end=fin error=none, v6 md5_ok=true end=fin error=none$"
	[ "$ROUND" != kernel ] && log "download into c2 over vc2's 1400 bytes ($ROUND): $(counters_delta_brief "$s0" "$s1")"
	log "the world's route to the node ($ROUND): $(in_world ip route get "$NODE_V4" | grep -o 'mtu [0-9]*'), $(in_world ip -6 route get "$NODE_V6" | grep -o 'mtu [0-9]*')"
	exact_round_end
done

exit $((TOPO_FAILED > 0))
