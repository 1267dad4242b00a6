#!/bin/bash
# Container egress: the kernel decides, the fast path carries. In every
# mode (native and generic XDP, tc, and auto: the default, no --mode):
# - attach starts the agent (`status --json` .namespace.agent_pid, a live
#   process), makes conntrack run (nft table inet xdp_egress) and puts the
#   return-path program on the uplink; detach removes all three;
# - ping (v4, v6) always takes the kernel path: it works, and counts as
#   pass_icmp, never as redirected;
# - UDP (v4, v6) and TCP (v4, v6) from the container reach the world, and
#   the fast path carries them once the kernel's conntrack has accepted the
#   flow: redirected grows by (almost) every frame the container sent, the
#   few kernel-path frames being the flow's first packets (new flow, the
#   handshake, the ~8 packets before the agent promotes a TCP flow), ARP
#   and ND; replies (the world's ACKs) take the return path on the uplink;
# - nothing is dropped as malformed, no redirect fails, and the world sees
#   no checksum errors (nstat);
# - tc mode: the container keeps TSO and checksum offload, and its GSO
#   super-packets take the fast path whole (redirected_gso).
set -u
source "$(dirname "$0")/../lib/topo.sh"
source "$(dirname "$0")/../lib/checks.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe traffic

topo_create 1 || { fail traffic_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
FLOW_NETNS=/run/netns/$C
start_iperf_server 5201 || { fail traffic_setup "iperf3 server did not start"; exit 1; }

for mode in native generic tc auto; do
	t=traffic_$mode
	margs=(--mode "$mode")
	[ "$mode" = auto ] && margs=()   # the default
	if ! xe_capture attach --ifname vc1 "${margs[@]}" --uplink up0; then
		fail "${t}_attach" "attach exited $XE_RC: $XE_ERR"
		continue
	fi
	ok "${t}_attach"
	sed 's/^/#   /' <<<"$XE_OUT"
	prog=$(attached_prog_id vc1)
	st=$(xe status --json 2>/dev/null)
	[ "$mode" = auto ] && check "${t}_default_is_auto" "status says mode '$(jq -r '.attachments[0].mode' <<<"$st")'" \
		test "$(jq -r '.attachments[0].mode' <<<"$st")" = auto
	apid=$(jq -r '.namespace.agent_pid // 0' <<<"$st")
	check "${t}_agent_runs" "status --json .namespace.agent_pid is '$apid'; xdp-egress processes in the host ns: $(xe_procs | tr '\n' ' ')" \
		eval 'pid_alive "$apid" && xe_procs | grep -qx "$apid"'
	check "${t}_conntrack_table" "no nft table inet xdp_egress in the host ns while attached: $(in_host nft list tables 2>&1 | tr '\n' ' ')" \
		nft_table_present
	check "${t}_return_path_attached" "no XDP program on up0; status: $(jq -c '.namespace.uplinks // .' <<<"$st" | head -c 300)" \
		test -n "$(uplink_prog_on up0)"
	ip netns exec "$TOPO_WORLD" nstat -n
	csum0=$(nstat_csum_errors "$TOPO_WORLD")

	flow "${t}_ping4" in_c 1 ping -c 5 -i 0.2 -W 2 "$TOPO_WORLD_V4"
	check_ping "${t}_ping4"
	flow "${t}_ping6" in_c 1 ping -6 -c 5 -i 0.2 -W 2 "$TOPO_WORLD_V6"
	check_ping "${t}_ping6"
	flow "${t}_udp4" in_c 1 iperf3 -c "$TOPO_WORLD_V4" -u -b 100M -l 1200 -t 1 -J
	check_udp "${t}_udp4"
	flow "${t}_udp6" in_c 1 iperf3 -6 -c "$TOPO_WORLD_V6" -u -b 100M -l 1200 -t 1 -J
	check_udp "${t}_udp6"
	flow "${t}_tcp4" in_c 1 iperf3 -c "$TOPO_WORLD_V4" -t 2 -J
	check_tcp "${t}_tcp4"
	flow "${t}_tcp6" in_c 1 iperf3 -6 -c "$TOPO_WORLD_V6" -t 2 -J
	check_tcp "${t}_tcp6"
	# Either direction may hand a flow to the agent: the container's
	# segments (egress) or the world's ACKs (the return path).
	promoted=$(($(counter "$S1" promote_requests) + $(return_counter "$S1" promote_requests)))
	check "${t}_tcp_promoted" "promote_requests (egress + return path) is $promoted after the TCP flows (want >= 2: each data connection is handed to the agent)" \
		test "$promoted" -ge 2
	if [ "$mode" = tc ]; then
		tso=$(offload "$C" eth0 tcp-segmentation-offload)
		csum=$(offload "$C" eth0 tx-checksumming)
		check "${t}_container_keeps_offloads" "container eth0: tcp-segmentation-offload $tso, tx-checksumming $csum (tc mode must leave both on)" \
			test "$tso" = on -a "$csum" = on
		gso=$(counter "$(stats_json)" redirected_gso)
		check "${t}_gso_redirected" "redirected_gso is ${gso:-?} after TCP: the container's super-packets did not take the fast path whole" \
			test "${gso:-0}" -gt 100
		log "redirected_gso: $gso super-packets"
	fi

	ip netns exec "$TOPO_WORLD" nstat -az | grep -E 'CsumErrors|TcpInSegs|UdpInDatagrams|Udp6InDatagrams' | sed 's/^/#   world nstat: /'
	csum=$(($(nstat_csum_errors "$TOPO_WORLD") - csum0))
	if [ "$csum" -eq 0 ]; then
		ok "${t}_world_checksums"
	else
		fail "${t}_world_checksums" "the world counted $csum checksum errors (TcpInCsumErrors/UdpInCsumErrors/...)"
	fi

	xe stats --ifname vc1 | sed 's/^/#   /'
	if xe_capture detach --ifname vc1; then
		if no_xdp_anywhere && pins_gone && prog_gone "$prog"; then
			ok "${t}_detach"
		else
			fail "${t}_detach" "detach left an XDP program, pins or program $prog behind"
		fi
		check "${t}_detach_stops_agent" "agent $apid still runs after the last detach; $(ns_state_brief)" \
			eval '! pid_alive "$apid" && [ -z "$(xe_procs)" ]'
		check "${t}_detach_removes_conntrack_table" "the nft table inet xdp_egress is still there after the last detach" \
			eval '! nft_table_present'
	else
		fail "${t}_detach" "detach exited $XE_RC: $XE_ERR"
	fi
done

exit $((TOPO_FAILED > 0))
