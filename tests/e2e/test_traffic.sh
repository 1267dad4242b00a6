#!/bin/bash
# Container egress carried by the fast path, in native and generic XDP mode
# and in tc mode (where the container keeps TSO: GSO super-packets must be
# redirected whole, the redirected_gso counter shows them):
# ping (v4, v6), UDP (v4, v6) and TCP (v4, v6) from the container reach the
# world; for each flow the redirected counter grows by (almost) every frame
# the container sent, the pass counters stay near zero (a few ARP/ND and
# first-packet-before-neighbour frames), nothing is dropped as malformed,
# no redirect fails, and the world sees no checksum errors (nstat).
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe traffic

# Frames of a flow that may take the kernel path: ARP/ND, the first packet
# while the host resolves the next hop, an occasional neighbour probe.
SLACK=10
MIN_TCP_MBPS=100

topo_create 1 || { fail traffic_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
start_iperf_server 5201 || { fail traffic_setup "iperf3 server did not start"; exit 1; }

# flow NAME COMMAND...: runs one flow from the container and checks that
# XDP redirected it. The flow's own result is checked by the caller from
# FLOW_OUT / FLOW_RC.
flow() {
	local name=$1 s0 s1 tx0 tx1 tx red pass drop rerr
	shift
	s0=$(stats_json)
	tx0=$(tx_packets "$C" eth0)
	FLOW_OUT=$(in_c 1 "$@" 2>&1)
	FLOW_RC=$?
	s1=$(stats_json)
	tx1=$(tx_packets "$C" eth0)
	if [ -z "$s0" ] || [ -z "$s1" ]; then
		fail "${name}_redirected" "stats --json failed or printed nothing"
		return
	fi
	tx=$((tx1 - tx0))
	red=$(($(counter "$s1" redirected) - $(counter "$s0" redirected)))
	pass=$(($(pass_total "$s1") - $(pass_total "$s0")))
	drop=$(counter "$s1" drop_malformed)
	rerr=$(counter "$s1" redirect_err)
	log "$name: container sent $tx frames, redirected $red, passed $pass"
	if [ "$tx" -gt 0 ] && [ "$red" -ge $((tx - SLACK)) ] && [ "$pass" -le "$SLACK" ]; then
		ok "${name}_redirected"
	else
		fail "${name}_redirected" "container sent $tx frames but redirected grew by $red and pass by $pass (allowed $SLACK); now $(counters_brief "$s1")"
	fi
	if [ "$drop" -eq 0 ] && [ "$rerr" -eq 0 ]; then
		ok "${name}_no_drops"
	else
		fail "${name}_no_drops" "drop_malformed=$drop redirect_err=$rerr"
	fi
}

check_ping() {
	local name=$1
	if [ "$FLOW_RC" -eq 0 ] && grep -q ' 0% packet loss' <<<"$FLOW_OUT"; then
		ok "$name"
		log "$(grep -E 'packet loss|rtt' <<<"$FLOW_OUT" | tr '\n' ' ')"
	else
		fail "$name" "ping failed (rc $FLOW_RC): $(grep -E 'packet loss' <<<"$FLOW_OUT")"
	fi
}

check_udp() {
	local name=$1 sent lost pct
	sent=$(jq -r '.end.sum.packets // 0' <<<"$FLOW_OUT" 2>/dev/null)
	lost=$(jq -r '.end.sum.lost_packets // 0' <<<"$FLOW_OUT" 2>/dev/null)
	pct=$(jq -r '.end.sum.lost_percent // 100 | floor' <<<"$FLOW_OUT" 2>/dev/null)
	# Loss here is the receiving socket on a shared 2-core machine, not the
	# path (the redirect and checksum checks below are about the path); a
	# lossy path would show far more than this.
	if [ "$FLOW_RC" -eq 0 ] && [ "${sent:-0}" -gt 1000 ] && [ "${pct:-100}" -lt 20 ]; then
		ok "$name"
		log "$name: $sent datagrams, $lost lost"
	else
		fail "$name" "iperf3 -u rc $FLOW_RC, datagrams ${sent:-?}, lost ${lost:-?} (${pct:-?}%): $(jq -r '.error // empty' <<<"$FLOW_OUT" 2>/dev/null)"
	fi
}

check_tcp() {
	local name=$1 mbps
	mbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' <<<"$FLOW_OUT" 2>/dev/null)
	if [ "$FLOW_RC" -eq 0 ] && [ "${mbps:-0}" -ge "$MIN_TCP_MBPS" ]; then
		ok "$name"
		log "$name: $mbps Mbit/s received, $(jq -r '.end.sum_sent.retransmits' <<<"$FLOW_OUT") retransmits"
	else
		fail "$name" "iperf3 rc $FLOW_RC, ${mbps:-?} Mbit/s (want >= $MIN_TCP_MBPS): $(jq -r '.error // empty' <<<"$FLOW_OUT" 2>/dev/null)"
	fi
}

for mode in native generic tc; do
	t=traffic_$mode
	if ! xe_capture attach --ifname vc1 --mode "$mode" --uplink up0; then
		fail "${t}_attach" "attach exited $XE_RC: $XE_ERR"
		continue
	fi
	ok "${t}_attach"
	sed 's/^/#   /' <<<"$XE_OUT"
	prog=$(attached_prog_id vc1)
	ip netns exec "$TOPO_WORLD" nstat -n
	csum0=$(nstat_csum_errors "$TOPO_WORLD")

	flow "${t}_ping4" ping -c 5 -i 0.2 -W 2 "$TOPO_WORLD_V4"
	check_ping "${t}_ping4"
	flow "${t}_ping6" ping -6 -c 5 -i 0.2 -W 2 "$TOPO_WORLD_V6"
	check_ping "${t}_ping6"
	flow "${t}_udp4" iperf3 -c "$TOPO_WORLD_V4" -u -b 100M -l 1200 -t 3 -J
	check_udp "${t}_udp4"
	flow "${t}_udp6" iperf3 -6 -c "$TOPO_WORLD_V6" -u -b 100M -l 1200 -t 1 -J
	check_udp "${t}_udp6"
	flow "${t}_tcp4" iperf3 -c "$TOPO_WORLD_V4" -t 3 -J
	check_tcp "${t}_tcp4"
	flow "${t}_tcp6" iperf3 -6 -c "$TOPO_WORLD_V6" -t 2 -J
	check_tcp "${t}_tcp6"
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
	else
		fail "${t}_detach" "detach exited $XE_RC: $XE_ERR"
	fi
done

exit $((TOPO_FAILED > 0))
