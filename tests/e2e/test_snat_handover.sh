#!/bin/bash
# SNAT and the kernel's own NAT, native, generic and tc mode, with a world
# that has no route back to the containers:
# - a flow the kernel started before attach (iptables MASQUERADE in the host
#   ns, as Docker has) is not half-translated: it keeps working, its packets
#   count as pass_kernel_flow; new connections are translated by XDP (the
#   MASQUERADE rule sees none of them);
# - detach during a TCP transfer with the MASQUERADE rule: detach hands the
#   live flows to the kernel's conntrack ("handed N of N live flows") with
#   the mapping XDP gave them, and the transfer goes on without a stall;
# - detach during a TCP transfer without any NAT rule: defined as "the flow
#   ends" (the kernel has no NAT to carry it on, the world cannot answer the
#   container's own address). TCP would retry for ~15 minutes by default
#   (tcp_retries2); the test's client sets TCP_USER_TIMEOUT 3 s and checks
#   that the flow ends with ETIMEDOUT, bounded, instead of hanging or going
#   on half-translated;
# - attach again after such a detach: a flow with the same 5-tuple is
#   translated again, not left to the kernel;
# - a flow the kernel translated and a new XDP flow never share a
#   translated (address, port) towards the same server;
# - after each detach the host is exactly as before (no XDP, no pins, the
#   program freed, offloads of the container, the uplink and its peer as
#   before); in tc mode the container keeps TSO and tx-checksumming while
#   attached.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe snat_handover

V4=$TOPO_SNAT_V4
V6=$TOPO_SNAT_V6
STALL_BOUND=12    # seconds a stalled flow may take to end (TCP_USER_TIMEOUT 3 s)

topo_create 2 || { fail snat_handover_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
W=$TOPO_WORLD
topo_world_no_return || { fail snat_handover_setup "the world still routes 10.200.0.0/16"; exit 1; }
snat_tools
start_iperf_server 5201 || { fail snat_handover_setup "iperf3 server did not start"; exit 1; }
start_py_server udp 9999 "$TOPO_TMP/peers.udp4" &&
	start_py_server tcp 9998 "$TOPO_TMP/peers.tcp4" ||
	{ fail snat_handover_setup "Python servers did not start"; exit 1; }
topo_warm_neigh
host_nat_rules off

snapshot() {
	{
		offloads "$C" eth0
		offloads "$W" eth0
		offloads "$TOPO_HOST" vc1
		offloads "$TOPO_HOST" up0
		in_host nft -s list ruleset
		in_host sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding
	} 2>&1
}
# host_as_before NAME BEFORE: no XDP, no pins, the last attach's program
# freed, the snapshot unchanged.
host_as_before() {
	local after
	after=$(snapshot)
	if no_xdp_anywhere && pins_gone && prog_gone "$prog" && [ "$after" = "$2" ]; then
		ok "$1"
	else
		fail "$1" "after detach: XDP $(for ns in "${TOPO_NS[@]}"; do xdp_progs "$ns"; done | tr '\n' ';') pins $(find "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ') program $prog $(prog_gone "$prog" && echo freed || echo 'still loaded') changes: $(diff <(echo "$2") <(echo "$after") | grep '^[<>]' | head -6 | tr '\n\t' '  ')"
	fi
}
# attach1: attach with SNAT in this round's mode; prog is its program.
attach1() {
	xe_capture attach --ifname vc1 --mode "$mode" --uplink up0 --snat "$V4" --snat "$V6" || return
	prog=$(attached_prog_id vc1)
}
# intervals JSON: "min max" Mbit/s over iperf3 -J's intervals.
intervals() {
	jq -r '[.intervals[].sum.bits_per_second / 1e6 | floor] | "\(min) \(max) \(length)"' <<<"$1" 2>/dev/null
}
iperf3_log_lines() { wc -l <"$TOPO_TMP/iperf3-server.log"; }

round=0
prog=0
for mode in native generic tc; do
	t=snat_handover_$mode
	pb=$((46000 + round * 1000))
	round=$((round + 1))

	# ==== without any NAT rule in the host =============================
	host_nat_rules off
	before=$(snapshot)
	if ! attach1; then
		fail "${t}_attach" "attach exited $XE_RC: $XE_ERR"
		continue
	fi
	ok "${t}_attach"
	if [ "$mode" = tc ]; then
		tso=$(offload "$C" eth0 tcp-segmentation-offload)
		csum=$(offload "$C" eth0 tx-checksumming)
		check "${t}_container_keeps_offloads" "container eth0 with SNAT: tcp-segmentation-offload $tso, tx-checksumming $csum (tc mode must leave both on)" \
			test "$tso" = on -a "$csum" = on
	fi
	# A UDP flow that is live at detach (for the re-attach check below).
	ru=$(py_in "$C" udp "$TOPO_WORLD_V4" 9999 "$pb" 5 1 0.3)
	bg "$C" "$PY3" "$SNAT_TOOLS" stream "$TOPO_WORLD_V4" 9998 20 3000 >"$TOPO_TMP/stream.json"
	spid=$BG_PID
	sleep 1
	s0=$(stats_json)
	xe_capture detach --ifname vc1
	drc=$XE_RC
	sed 's/^/#   /' <<<"$XE_OUT$XE_ERR"
	check "${t}_nonat_detach" "detach during a transfer, no NAT rule: rc $drc: $XE_ERR" test "$drc" = 0
	log "stream translated before detach: snat_new_flows $(counter "$s0" snat_new_flows), conntrack entries $(snat_ct_entries "$s0")"
	for ((i = 0; i < STALL_BOUND * 10; i++)); do
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$spid" 2>/dev/null; then
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		fail "${t}_nonat_flow_ends" "the TCP stream was still running ${STALL_BOUND}s after a detach without NAT in the host (TCP_USER_TIMEOUT 3 s): $(cat "$TOPO_TMP/stream.json")"
	else
		wait "$spid" 2>/dev/null
		rs=$(cat "$TOPO_TMP/stream.json")
		log "without NAT, the stream after detach: $rs (detach at ~1 s)"
		check "${t}_nonat_flow_ends" "the stream should end by its TCP_USER_TIMEOUT (Connection timed out) a few seconds after the detach, it ended: $rs" \
			test "$(jq -r .error <<<"$rs")" = "Connection timed out"
	fi
	host_as_before "${t}_nonat_host_as_before" "$before"

	# Attach again: the flows detach handed to the kernel (with no NAT to
	# carry them) must not keep the fast path from translating the same
	# 5-tuple. The UDP flow from ports $pb.. was live at detach.
	if attach1; then
		s0=$(stats_json)
		rr=$(py_in "$C" udp "$TOPO_WORLD_V4" 9999 "$pb" 5 1 0.3)
		s1=$(stats_json)
		kf=$(($(counter "$s1" pass_kernel_flow) - $(counter "$s0" pass_kernel_flow)))
		nf=$(($(counter "$s1" snat_new_flows) - $(counter "$s0" snat_new_flows)))
		log "before detach: $(jq -c '{answered}' <<<"$ru"); same 5 flows after re-attach: $(jq -c '{answered}' <<<"$rr"), pass_kernel_flow +$kf, snat_new_flows +$nf; kernel conntrack: $(in_host grep -c "sport=$pb " /proc/net/nf_conntrack) entries for port $pb"
		check "${t}_reattach_translates_same_flow" "after a detach without NAT and a new attach, the same UDP 5-tuples: $(jq -c '{answered}' <<<"$rr") of 5, pass_kernel_flow +$kf, snat_new_flows +$nf (the kernel's conntrack still holds the entries detach handed over, so the egress program leaves the flows to a kernel that cannot translate them)" \
			test "$(jq .answered <<<"$rr")" = 5 -a "$kf" = 0
		xe_capture detach --ifname vc1
	else
		fail "${t}_reattach" "attach exited $XE_RC: $XE_ERR"
	fi

	# ==== with MASQUERADE in the host, as Docker ========================
	host_nat_rules on || fail "${t}_masquerade_rule" "could not add the MASQUERADE rules"
	before=$(snapshot)
	# A TCP transfer and a UDP flow the kernel starts, then attach.
	bg "$C" iperf3 -c "$TOPO_WORLD_V4" -t 4 -i 0.5 -J >"$TOPO_TMP/pre.json" 2>&1
	ipid=$BG_PID
	bg "$C" "$PY3" "$SNAT_TOOLS" udp "$TOPO_WORLD_V4" 9999 $((pb + 100)) 10 16 0.25 >"$TOPO_TMP/preudp.json"
	upid=$BG_PID
	sleep 1.5
	s0=$(stats_json)
	if ! attach1; then
		fail "${t}_masq_attach" "attach exited $XE_RC: $XE_ERR"
		kill "$ipid" "$upid" 2>/dev/null
		host_nat_rules off
		continue
	fi
	wait "$ipid"
	irc=$?
	wait "$upid"
	s1=$(stats_json)
	pre=$(cat "$TOPO_TMP/pre.json")
	read -r imin imax in <<<"$(intervals "$pre")"
	kf=$(($(counter "$s1" pass_kernel_flow) - $(counter "$s0" pass_kernel_flow)))
	log "kernel-started TCP across attach: rc $irc, $in intervals, min ${imin:-?} max ${imax:-?} Mbit/s; UDP $(cat "$TOPO_TMP/preudp.json"); pass_kernel_flow +$kf"
	check "${t}_kernel_flow_survives_attach" "iperf3 started before attach: rc $irc, intervals min ${imin:-?} Mbit/s (want > 0, no stall) $(jq -r '.error // empty' <<<"$pre" 2>/dev/null)" \
		test "$irc" = 0 -a "${imin:-0}" -gt 0
	check "${t}_kernel_udp_flow_survives_attach" "UDP flow started before attach (10 sockets, 16 rounds): $(cat "$TOPO_TMP/preudp.json") (want 10 answered, >= 150 replies)" \
		test "$(jq .answered "$TOPO_TMP/preudp.json")" = 10 -a "$(jq .replies "$TOPO_TMP/preudp.json")" -ge 150
	check "${t}_kernel_flow_counted" "pass_kernel_flow grew by $kf while the kernel's flows went on (want > 1000)" \
		test "$kf" -gt 1000

	# New connections: XDP's, not the MASQUERADE rule's.
	m0=$(masquerade_packets)
	s0=$(stats_json)
	out=$(in_c 1 iperf3 -c "$TOPO_WORLD_V4" -t 1 -J 2>&1)
	s1=$(stats_json)
	m1=$(masquerade_packets)
	nf=$(($(counter "$s1" snat_new_flows) - $(counter "$s0" snat_new_flows)))
	red=$(($(counter "$s1" redirected) - $(counter "$s0" redirected)))
	mb=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' <<<"$out" 2>/dev/null)
	log "new connection after attach: $mb Mbit/s, snat_new_flows +$nf, redirected +$red, MASQUERADE +$((m1 - m0))"
	check "${t}_new_flow_translated_by_xdp" "iperf3 after attach: ${mb:-?} Mbit/s, snat_new_flows +$nf (want >= 2: control and data), redirected +$red, MASQUERADE rule +$((m1 - m0)) (want 0)" \
		test "${mb:-0}" -gt 0 -a "$nf" -ge 2 -a "$red" -gt 1000 -a "$m1" = "$m0"

	# Detach during an XDP-translated transfer: the kernel carries it on.
	l0=$(($(iperf3_log_lines) + 1))
	bg "$C" iperf3 -c "$TOPO_WORLD_V4" -t 4 -i 0.5 -J >"$TOPO_TMP/across.json" 2>&1
	ipid=$BG_PID
	sleep 1.5
	s0=$(stats_json)
	xe_capture detach --ifname vc1
	drc=$XE_RC
	sed 's/^/#   /' <<<"$XE_OUT$XE_ERR"
	handed=$(sed -nE 's/.*handed ([0-9]+) of ([0-9]+) live flows.*/\1 \2/p' <<<"$XE_OUT")
	read -r hn hm <<<"${handed:-0 -1}"
	check "${t}_detach_hands_over" "detach rc $drc during a transfer (XDP had $(counter "$s0" snat_new_flows) new flows): '$(grep -i handed <<<"$XE_OUT$XE_ERR" | tr -s ' ')' (want 'handed N of N live flows', N >= 2)" \
		test "$drc" = 0 -a "$hn" = "$hm" -a "$hn" -ge 2
	wait "$ipid"
	irc=$?
	across=$(cat "$TOPO_TMP/across.json")
	read -r imin imax in <<<"$(intervals "$across")"
	log "XDP-translated TCP across detach: rc $irc, $in intervals, min ${imin:-?} max ${imax:-?} Mbit/s"
	check "${t}_flow_survives_detach" "iperf3 across detach (MASQUERADE present): rc $irc, intervals min ${imin:-?} Mbit/s (want > 0: no stall) $(jq -r '.error // empty' <<<"$across" 2>/dev/null)" \
		test "$irc" = 0 -a "${imin:-0}" -gt 0
	# The kernel kept XDP's mapping: its conntrack entry for the data
	# connection answers on the port the world has been talking to.
	lport=$(jq -r '.start.connected[0].local_port // empty' <<<"$across" 2>/dev/null)
	wport=$(tail -n +"$l0" "$TOPO_TMP/iperf3-server.log" | sed -nE "s/.*connected to $V4 port ([0-9]+).*/\1/p" | tail -1)
	kline=$(in_host grep -E "src=10\.200\.1\.2 dst=$TOPO_WORLD_V4 sport=$lport dport=5201 " /proc/net/nf_conntrack 2>/dev/null | head -1)
	kport=$(sed -nE 's/.* src=[^ ]+ dst=[^ ]+ sport=5201 dport=([0-9]+).*/\1/p' <<<"$kline")
	log "data connection: container port $lport, world saw $V4:$wport, kernel conntrack: $(tr -s ' ' <<<"$kline")"
	check "${t}_handover_keeps_mapping" "container port ${lport:-?}: the world saw port ${wport:-?}, the kernel's conntrack maps it to ${kport:-nothing}" \
		test -n "$wport" -a "$wport" = "$kport"
	host_as_before "${t}_masq_host_as_before" "$before"

	# A kernel-translated flow and a new XDP flow to the same server, from
	# the same source port (inside the SNAT range) in two containers:
	# MASQUERADE keeps the port when its own table has it free, XDP keeps
	# it when its table has it free; they must not both take it.
	cp=$((23000 + round))
	rm -f "$TOPO_TMP/peers.udp4"
	touch "$TOPO_TMP/peers.udp4"
	bg "${TOPO_C[2]}" "$PY3" "$SNAT_TOOLS" udp "$TOPO_WORLD_V4" 9999 "$cp" 1 12 0.25 >"$TOPO_TMP/k.json"
	kpid=$BG_PID
	sleep 0.6
	if attach1; then
		rx=$(py_in "$C" udp "$TOPO_WORLD_V4" 9999 "$cp" 1 6 0.25)
		wait "$kpid"
		rk=$(cat "$TOPO_TMP/k.json")
		peers=$(sort -u "$TOPO_TMP/peers.udp4" | tr '\n' ' ')
		log "container 2 (kernel NAT, port $cp): $(jq -c '{replies}' <<<"$rk"); container 1 (XDP, port $cp): $(jq -c '{replies}' <<<"$rx"); the world saw: $peers"
		check "${t}_kernel_and_xdp_ports_distinct" "two flows from port $cp (container 2 through MASQUERADE, container 1 through XDP) reached the world as: $peers (want 2 distinct pairs); replies: kernel flow $(jq .replies <<<"$rk") for 12 datagrams, XDP flow $(jq .replies <<<"$rx") for 6 (more than 6: the return path delivered container 2's answers to container 1)" \
			test "$(sort -u "$TOPO_TMP/peers.udp4" | wc -l)" = 2 -a "$(jq .replies <<<"$rk")" -ge 11 -a "$(jq .replies <<<"$rx")" -ge 5
		xe_capture detach --ifname vc1
	else
		wait "$kpid"
		fail "${t}_collision_attach" "attach exited $XE_RC: $XE_ERR"
	fi
	host_nat_rules off
done

exit $((TOPO_FAILED > 0))
