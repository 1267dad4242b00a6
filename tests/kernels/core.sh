#!/bin/bash
# The e2e core that `make test-kernels` runs on every kernel: natively on the
# host's kernel, and unchanged inside a VM booted with another kernel
# (Debian 12's 6.1). Everything happens in namespaces of its own
# (tests/lib/topo.sh), as in every test:
#
#   container c1 10.200.1.2 == vc1   host (node)                 up0 == world 192.0.2.2
#               fd00:1::2            MASQUERADE 10.200/16,        fd01::2, no route back
#                                      fd00::/16                  to the containers
#                                    DNAT 10.96.0.20:80,53        owns 198.51.100.50
#                                      -> 192.0.2.2:8080,5353     servers: xk-tool :8080/:5353,
#                                    FORWARD DROP 198.51.100.50            iperf3 :5201
#
# Rounds: "kernel" (no xdp-egress: the set-up itself must give the expected
# outcomes), then xdp-egress attached in the default mode (auto, no --mode)
# and in native, generic and tc mode; on a kernel with tcx also tc through
# a clsact filter (--tc-hook clsact). Each round checks:
#   - attach, and how the program went in (tcx or clsact; XDP mode);
#   - status --json (mode, state "attached");
#   - ping; UDP and TCP (iperf3; TCP over IPv6 too) through the fast path:
#     the world received them from the node's address only (192.0.2.1,
#     fd01::1), redirected grew by the flow's established part, and no
#     checksum error in the world or the container (nstat);
#   - the kernel-exact cases: a Service ClusterIP DNATed by iptables to the
#     world (TCP and UDP, answered by the backend, carried by the fast path
#     both ways), a FORWARD DROP (TCP and UDP stay unanswered), MASQUERADE
#     (the world's own counter of packets from 10.200/16 and to the
#     ClusterIP stays 0);
#   - stats --json and stats;
#   - detach: no XDP program, no tc filter (nor a clsact qdisc attach
#     made), no pins, the programs unloaded, no nftables table
#     inet xdp_egress, the agent gone, every offload as before.
# The auto round also runs `xdp-egress tune` under small UDP packets
# (native XDP goes in front of the tc program) and detaches from there.
# Then: native XDP on a tap, and on a kernel without tcx, --tc-hook tcx and
# --uplink-mode tc refused with what is missing and since when.
#
# Lines "# feature NAME: VALUE" record what this kernel did (docs/kernels.md's
# table of features by kernel is filled from them).
#
#   XK_ROUNDS="kernel auto native" bash tests/kernels/core.sh
set -u
source "$(dirname "$0")/../lib/topo.sh"
XK=$TOPO_ROOT/build/kernels/xk-tool
KREL=$(uname -r)
T0=$EPOCHREALTIME

core_cleanup() {
	[ -e "/run/netns/$TOPO_HOST" ] && xe detach --all >/dev/null 2>&1
	topo_destroy
}
trap core_cleanup EXIT
trap 'exit 1' INT TERM HUP
need_xe core
for t in iptables nft tc bpftool conntrack; do
	command -v "$t" >/dev/null || { fail core "missing tool: $t (make deps)"; exit 1; }
done
[ -x "$XK" ] || { fail core "$XK not built (make test-kernels builds it)"; exit 1; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
log "kernel $KREL on $(nproc) CPU(s)"
feature() { echo "# feature $1: $2"; }

# The kernel has tcx (6.6): the answer the test expects from attach.
KV=$(uname -r | awk -F. '{ printf "%d", $1 * 1000 + $2 }')
HAS_TCX=0
[ "$KV" -ge 6006 ] && HAS_TCX=1
ROUNDS=(${XK_ROUNDS:-kernel auto native generic tc})
[ -z "${XK_ROUNDS:-}" ] && [ "$HAS_TCX" = 1 ] && ROUNDS+=(tc-clsact)

# ---- the node ----
topo_create 1 || { fail core_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
W=$TOPO_WORLD
CLUSTER_IP=10.96.0.20
BLOCKED=198.51.100.50
topo_world_no_return || { fail core_setup "the world still routes 10.200.0.0/16"; exit 1; }
in_world ip addr add "$BLOCKED/32" dev lo
if ! { in_host iptables -t nat -A POSTROUTING -s 10.200.0.0/16 ! -d 10.200.0.0/16 -j MASQUERADE &&
	in_host ip6tables -t nat -A POSTROUTING -s fd00::/16 ! -d fd00::/16 -j MASQUERADE &&
	in_host iptables -t nat -A PREROUTING -d "$CLUSTER_IP" -p tcp --dport 80 -j DNAT --to-destination 192.0.2.2:8080 &&
	in_host iptables -t nat -A PREROUTING -d "$CLUSTER_IP" -p udp --dport 53 -j DNAT --to-destination 192.0.2.2:5353 &&
	in_host iptables -A FORWARD -d "$BLOCKED" -j DROP; }; then
	fail core_setup "the node's iptables rules failed"
	exit 1
fi
# The world counts what it must never see: a container's own address (a
# flow the fast path did not masquerade) or the ClusterIP (not DNATed).
in_world nft -f - <<'EOF' || { fail core_setup "the world's nftables counters failed"; exit 1; }
table inet xk_world {
	counter untranslated { }
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip saddr 10.200.0.0/16 counter name untranslated
		ip6 saddr fd00::/16 counter name untranslated
		ip daddr 10.96.0.0/16 counter name untranslated
	}
}
EOF
bg "$W" "$XK" serve world 8080 5353 2>"$TOPO_TMP/xk-serve.err"
bg "$W" iperf3 -s -J -p 5201 >"$TOPO_TMP/iperf3-server.json" 2>&1
{ wait_listen "$W" 8080 && wait_listen "$W" 5353 udp && wait_listen "$W" 5201; } ||
	{ fail core_setup "the world's servers did not start"; exit 1; }
ok core_setup
log "setup took $(elapsed "$T0") s"

# ---- helpers ----
untranslated() {
	in_world nft -j list counter inet xk_world untranslated 2>/dev/null |
		jq '[.nftables[] | .counter? // empty | .packets] | add // 0'
}
csum_errors() { echo $(($(nstat_csum_errors "$W") + $(nstat_csum_errors "$C"))); }
fwd_drop_packets() {
	in_host iptables -L FORWARD -v -x -n | awk -v d="$BLOCKED" '$3 == "DROP" && $9 == d { s += $1 } END { print s + 0 }'
}
status_json() { xe status --json 2>/dev/null; }
att() { jq -r ".attachments[0].$1 // empty" <<<"$ST"; }
xdp_mode_of() { # the XDP mode on IFNAME in the host ns: none, drv, skb
	case $(ip -n "$TOPO_HOST" -d -j link show "$1" | jq -r '.[0].xdp.mode // 0') in
	1) echo drv ;; 2) echo skb ;; 0) echo none ;; *) echo other ;;
	esac
}
tc_filter_ours() { in_host tc filter show dev vc1 ingress 2>/dev/null | grep -c 'tc_egress'; }
clsact_present() { in_host tc qdisc show dev vc1 | grep -c clsact; }
# delta NAME [packets|bytes] S0 S1 / uplink_delta: redirected on the egress
# programs / on the uplink's return path.
cdelta() { echo $(($(counter "$4" "$1" "$2") - $(counter "$3" "$1" "$2"))); }
udelta() {
	local a b
	a=$(jq -r --arg n "$1" --arg f "$2" '[.uplinks[]?.counters[$n][$f] // 0] | add // 0' <<<"$3")
	b=$(jq -r --arg n "$1" --arg f "$2" '[.uplinks[]?.counters[$n][$f] // 0] | add // 0' <<<"$4")
	echo $((b - a))
}
ask() { in_c 1 "$XK" ask "$@" 2>&1; }
jq_true() { jq -e "$@" >/dev/null 2>&1; }
# auto_state_is STATE: the first attachment's auto.state is STATE
# (AUTO_STATE: what it is).
auto_state_is() {
	AUTO_STATE=$(status_json | jq -r '.attachments[0].auto.state // "none"')
	[ "$AUTO_STATE" = "$1" ]
}

# iperf_flow NAME ARGS...: one iperf3 flow from the container to the world;
# checks it ran, that the world saw only 192.0.2.1, and in an xdp-egress
# round that the fast path carried it (at least MIN_SHARE % of its bytes).
iperf_flow() {
	local name=$1 s0 s1 out rc seen bytes red ured share dst=$TOPO_WORLD_V4 want=192.0.2.1
	shift
	if [ "$1" = -6 ]; then
		dst=$TOPO_WORLD_V6
		want=fd01::1
	fi
	s0=$(stats_json)
	out=$(in_c 1 iperf3 -c "$dst" -p 5201 -J --get-server-output "$@" 2>&1)
	rc=$?
	s1=$(stats_json)
	seen=$(jq -r '[.server_output_json.start.connected[]?.remote_host] | unique | join(",")' <<<"$out" 2>/dev/null)
	bytes=$(jq -r '.end.sum_sent.bytes // .end.sum.bytes // 0 | floor' <<<"$out" 2>/dev/null)
	if [ "$rc" = 0 ] && [ "${bytes:-0}" -gt 0 ] && [ "$seen" = "$want" ]; then
		ok "${name}_$ROUND"
		log "$name ($ROUND): $(jq -r 'if .end.sum.packets then "\(.end.sum.packets) datagrams, \(.end.sum.lost_percent | floor)% lost" else "\(.end.sum_received.bits_per_second / 1e6 | floor) Mbit/s, \(.end.sum_sent.retransmits) retransmits" end' <<<"$out" 2>/dev/null), the world saw $seen"
	else
		fail "${name}_$ROUND" "iperf3 $* rc $rc, $bytes bytes, the world saw '${seen}' (want $want only): $(jq -r '.error // empty' <<<"$out" 2>/dev/null | head -c 200)"
	fi
	[ "$ROUND" = kernel ] && return
	red=$(cdelta redirected bytes "$s0" "$s1")
	ured=$(udelta redirected packets "$s0" "$s1")
	share=$((bytes > 0 ? red * 100 / bytes : 0))
	if [ "$share" -ge "$MIN_SHARE" ] && [ "$(counter "$s1" drop_malformed)" = 0 ]; then
		ok "${name}_fastpath_$ROUND"
		log "$name ($ROUND): redirected $red of $bytes bytes ($share%), return path +$ured packets"
	else
		fail "${name}_fastpath_$ROUND" "redirected grew by $red bytes of the flow's $bytes ($share%, want >= $MIN_SHARE%); now $(counters_brief "$s1")"
	fi
}

# svc_case NAME PROTO: 30 request/answer rounds to the ClusterIP (DNAT to
# the world's server), 5 ms apart (the programs cache a verdict per jiffy;
# the agent promotes TCP asynchronously).
svc_case() {
	local name=$1 proto=$2 port s0 s1 r e u
	port=80
	[ "$proto" = udp ] && port=53
	s0=$(stats_json)
	r=$(ask "$proto" "$CLUSTER_IP" "$port" 30 5 2000)
	s1=$(stats_json)
	check "${name}_$ROUND" "ClusterIP $CLUSTER_IP:$port/$proto gave '$r' (want all 30 answered by the world's server, which saw 192.0.2.1)" \
		test "$r" = "answered=30/30 names=world seen=192.0.2.1 error=none"
	[ "$ROUND" = kernel ] && return
	e=$(cdelta redirected packets "$s0" "$s1")
	u=$(udelta redirected packets "$s0" "$s1")
	check "${name}_fastpath_$ROUND" "redirected egress +$e, return path +$u (want >= 10 each): $(counters_brief "$s1")" \
		test "$e" -ge 10 -a "$u" -ge 10
	log "$name ($ROUND): redirected egress +$e return path +$u packets"
}

# ---- a round ----
round() {
	local args=() t0=$EPOCHREALTIME want_filters before qd0 csum0 un0 fwd0 prog xprog="" agent hook want_hook mode s r1 r2 s0 s1 st
	ROUND=$1
	log "---- round $ROUND ----"
	case $ROUND in
	kernel | auto) ;;
	tc-clsact) args=(--mode tc --tc-hook clsact) ;;
	*) args=(--mode "$ROUND") ;;
	esac
	MIN_SHARE=80
	in_host conntrack -F >/dev/null 2>&1
	before=$(offload_snapshot)
	qd0=$(clsact_present)
	ip netns exec "$W" nstat -n
	csum0=$(csum_errors)
	un0=$(untranslated)
	fwd0=$(fwd_drop_packets)
	topo_warm_neigh

	if [ "$ROUND" != kernel ]; then
		if ! xe_capture attach --ifname vc1 --uplink up0 "${args[@]}"; then
			fail "attach_$ROUND" "attach ${args[*]} exited $XE_RC: $(tr '\n' ' ' <<<"$XE_ERR")"
			return
		fi
		ok "attach_$ROUND"
		sed 's/^/#   /' <<<"$XE_OUT"
		ST=$(status_json)
		prog=$(att prog_id)
		agent=$(jq -r '.namespace.agent_pid // 0' <<<"$ST")
		mode=$(att mode)
		check "status_$ROUND" "status --json: mode '$mode', state '$(att state)' (want ${ROUND%-clsact}, attached)" \
			test "$mode" = "${ROUND%-clsact}" -a "$(att state)" = attached
		# What attach found in the kernel, as status tells it.
		check "status_kernel_$ROUND" "status --json .kernel: $(jq -c '.attachments[0].kernel' <<<"$ST") (want release $KREL, tcx $HAS_TCX, the conntrack kfuncs found)" \
			jq_true --arg r "$KREL" --argjson t "$HAS_TCX" '.attachments[0].kernel | .release == $r and (.tcx | if . then 1 else 0 end) == $t and .conntrack_kfuncs != "absent" and .config_hz > 0' <<<"$ST"
		feature "conntrack kfuncs" "$(jq -r '.attachments[0].kernel.conntrack_kfuncs' <<<"$ST")"
		feature "CONFIG_HZ" "$(jq -r '.attachments[0].kernel | "\(.config_hz), \(.config_hz_from)"' <<<"$ST")"
		case $ROUND in
		auto | tc | tc-clsact)
			hook=$(att tc_hook)
			want_hook=clsact
			[ "$HAS_TCX" = 1 ] && [ "$ROUND" != tc-clsact ] && want_hook=tcx
			# A tcx link is invisible to tc; a clsact filter is ours.
			want_filters=0
			[ "$want_hook" = clsact ] && want_filters=1
			if [ "$hook" = "$want_hook" ] && [ "$(tc_filter_ours)" = "$want_filters" ]; then
				ok "tc_hook_$ROUND"
				log "the tc program went in through $hook: $(att mode_reason | sed 's/.*; the tc program //')"
			else
				fail "tc_hook_$ROUND" "status says tc_hook '$hook' (want $want_hook on $KREL), tc filter show lists $(tc_filter_ours) tc_egress filter(s): $(in_host tc filter show dev vc1 ingress | tr '\n' ' ')"
			fi
			[ "$ROUND" = tc-clsact ] || feature "tc program hook (auto, tc)" "$hook"
			[ "$ROUND" = tc-clsact ] && feature "clsact (--tc-hook clsact)" "attached"
			;;
		native | generic)
			want_hook=drv
			[ "$ROUND" = generic ] && want_hook=skb
			check "xdp_mode_$ROUND" "vc1's XDP mode is '$(xdp_mode_of vc1)' (want $want_hook)" \
				test "$(xdp_mode_of vc1)" = "$want_hook"
			feature "XDP $ROUND on veth (bpf_link)" "$(xdp_mode_of vc1)"
			;;
		esac
		feature "return path on a veth uplink" "$(jq -r '.namespace.uplinks[0].mode // "?"' <<<"$ST")"
		feature "redirect error tracepoints" "$(att redirect_errors)"
	fi

	# Ping: always the kernel's (ICMP), translated by MASQUERADE.
	r1=$(in_c 1 ping -c 3 -i 0.2 -W 2 "$TOPO_WORLD_V4" 2>&1)
	check "ping_$ROUND" "ping the world: $(grep -E 'packet loss' <<<"$r1")" grep -q ' 0% packet loss' <<<"$r1"

	iperf_flow udp -u -b 20M -l 1200 -t 2
	iperf_flow tcp -t 2
	iperf_flow tcp6 -6 -t 1

	svc_case svc_dnat_tcp tcp
	svc_case svc_dnat_udp udp

	# The FORWARD DROP (side by side: each waits for its timeout).
	ask tcp "$BLOCKED" 8080 1 0 1500 >"$TOPO_TMP/drop-tcp" &
	r1=$!
	ask udp "$BLOCKED" 5353 3 0 500 >"$TOPO_TMP/drop-udp" &
	r2=$!
	wait "$r1" "$r2"
	r1=$(cat "$TOPO_TMP/drop-tcp")
	r2=$(cat "$TOPO_TMP/drop-udp")
	check "fwd_drop_tcp_$ROUND" "TCP to $BLOCKED (FORWARD DROP) gave '$r1' (want no answer)" \
		test "$r1" = "answered=0/1 names= seen= error=timeout"
	check "fwd_drop_udp_$ROUND" "UDP to $BLOCKED (FORWARD DROP) gave '$r2' (want no answer)" \
		test "$r2" = "answered=0/3 names= seen= error=timeout"
	log "FORWARD DROP counted $(($(fwd_drop_packets) - fwd0)) packets this round"

	# MASQUERADE: every answered flow above was translated (the world has
	# no route back); and the world never saw a container address.
	check "masquerade_$ROUND" "the world counted $(($(untranslated) - un0)) packets from 10.200.0.0/16 or to the ClusterIP (want 0)" \
		test "$(($(untranslated) - un0))" = 0
	check "checksums_$ROUND" "$(($(csum_errors) - csum0)) checksum errors in the world and the container (nstat *CsumErrors)" \
		test "$(($(csum_errors) - csum0))" = 0

	if [ "$ROUND" = kernel ]; then
		log "round $ROUND took $(elapsed "$t0") s"
		return
	fi
	s=$(stats_json)
	check "stats_json_$ROUND" "stats --json: $(head -c 200 <<<"$s")" \
		jq_true '.total.redirected.packets > 0 and .total.redirected.bytes > 0 and (.interfaces | length) == 1 and (.uplinks | length) == 1' <<<"$s"
	st=$(xe stats 2>&1)
	check "stats_$ROUND" "stats printed: $(head -c 200 <<<"$st")" grep -qE '^ +redirected +[1-9]' <<<"$st"

	if [ "$ROUND" = auto ]; then
		auto_tune
		xprog=$(ip -n "$TOPO_HOST" -d -j link show vc1 | jq -r '.[0].xdp.prog.id // empty')
	fi

	if xe_capture detach --ifname vc1; then
		ok "detach_$ROUND"
	else
		fail "detach_$ROUND" "detach exited $XE_RC: $(tr '\n' ' ' <<<"$XE_ERR")"
	fi
	check "detach_no_xdp_$ROUND" "an XDP program is left: $(for ns in "${TOPO_NS[@]}"; do xdp_progs "$ns"; done | tr '\n' ' ')" no_xdp_anywhere
	check "detach_no_tc_$ROUND" "tc filter show dev vc1 ingress still lists tc_egress, or a clsact qdisc attach made is left ($(in_host tc qdisc show dev vc1 | tr '\n' ' '))" \
		test "$(tc_filter_ours)" = 0 -a "$(clsact_present)" = "$qd0"
	check "detach_progs_gone_$ROUND" "program $prog ${xprog:+or $xprog }is still loaded" \
		eval 'prog_gone "$prog" && { [ -z "$xprog" ] || prog_gone "$xprog"; }'
	check "detach_pins_gone_$ROUND" "pins left under $XDP_EGRESS_BPFFS: $(ls -R "$XDP_EGRESS_BPFFS" 2>/dev/null | head -5 | tr '\n' ' ')" pins_gone
	check "detach_nft_table_gone_$ROUND" "the nftables table inet xdp_egress is left: $(in_host nft list tables | tr '\n' ' ')" \
		eval '! in_host nft list tables | grep -qw xdp_egress'
	check "detach_agent_gone_$ROUND" "the agent (pid $agent) still runs" \
		wait_gone "$agent" 3
	check "detach_offloads_$ROUND" "offloads differ after detach: $(diff <(echo "$before") <(offload_snapshot) | grep '^[<>]' | head -4 | tr '\n' ' ')" \
		test "$before" = "$(offload_snapshot)"
	log "round $ROUND took $(elapsed "$t0") s"
}

# auto mode's tuner under small UDP packets: native XDP goes in front of the
# tc program (XDP metadata marks what it passes), and the datagrams still
# arrive, translated. 2 Mbit/s of 64-byte datagrams: ~3900 a second,
# above the tuner's 2000, and what a TCG guest on a busy machine receives
# without loss of its own (4 Mbit/s lost 24% there).
auto_tune() {
	local state out sent pct s0 s1 red
	s0=$(stats_json)
	xe_tune_start
	out=$(in_c 1 iperf3 -c "$TOPO_WORLD_V4" -p 5201 -u -l 64 -b 2M -t 4 -J 2>&1)
	wait_until 3 auto_state_is native
	state=$AUTO_STATE
	s1=$(stats_json)
	sent=$(jq -r '.end.sum.packets // 0' <<<"$out")
	pct=$(jq -r '.end.sum.lost_percent // 100 | floor' <<<"$out")
	red=$(cdelta redirected packets "$s0" "$s1")
	check auto_tune_native "auto.state '$state' after 4 s of 64-byte UDP ($sent datagrams, $pct% lost; tune: $(tail -2 "$TOPO_TMP/tune.log" | tr '\n' ' '))" \
		test "$state" = native
	check auto_tune_xdp_in_front "vc1's XDP mode is '$(xdp_mode_of vc1)' with auto.state native (want drv)" \
		test "$(xdp_mode_of vc1)" = drv
	check auto_tune_delivered "UDP: $sent datagrams, $pct% lost, redirected +$red (want > 1000 datagrams, < 20% lost, most redirected)" \
		test "${sent:-0}" -gt 1000 -a "${pct:-100}" -lt 20 -a "$red" -gt $((sent / 2))
	feature "native XDP in front of the tc program (auto)" "$state"
	kill "$TUNE_PID" 2>/dev/null
	wait "$TUNE_PID" 2>/dev/null
}

for r in "${ROUNDS[@]}"; do
	round "$r"
done

# ---- native XDP on a tap (a VM's egress) ----
if in_host ip tuntap add dev tapk mode tap && in_host ip link set tapk up; then
	if xe_capture attach --tap tapk --mode native --uplink up0 --source 10.231.0.2; then
		check tap_native "tapk's XDP mode is '$(xdp_mode_of tapk)' (want drv)" test "$(xdp_mode_of tapk)" = drv
		feature "native XDP on a tap" "$(xdp_mode_of tapk)"
		xe_capture detach --tap tapk || fail tap_native_detach "detach --tap exited $XE_RC: $XE_ERR"
		check tap_native_detach "an XDP program is left on tapk" test "$(xdp_mode_of tapk)" = none
	else
		fail tap_native "attach --tap tapk --mode native exited $XE_RC: $(tr '\n' ' ' <<<"$XE_ERR")"
		feature "native XDP on a tap" "refused"
	fi
	in_host ip link del tapk
else
	fail tap_native "cannot create a tap in the host namespace"
fi

# ---- a kernel without tcx: --tc-hook tcx says what is missing ----
if [ "$HAS_TCX" = 0 ]; then
	xe_capture attach --ifname vc1 --uplink up0 --mode tc --tc-hook tcx
	if [ "$XE_RC" != 0 ] && grep -q "no tcx" <<<"$XE_ERR" && grep -q "6.6" <<<"$XE_ERR" &&
		! grep -qi "invalid argument" <<<"$XE_ERR" && pins_gone && [ "$(tc_filter_ours)" = 0 ]; then
		ok tcx_refused_clearly
		log "attach --tc-hook tcx: $XE_ERR"
	else
		fail tcx_refused_clearly "attach --tc-hook tcx exited $XE_RC (want an error naming tcx and 6.6, nothing left): $(tr '\n' ' ' <<<"$XE_ERR")"
	fi
	# The return path as a tc program needs tcx too (auto runs generic
	# XDP on a veth uplink there instead).
	xe_capture attach --ifname vc1 --uplink up0 --mode tc --uplink-mode tc
	if [ "$XE_RC" != 0 ] && grep -q "uplink-mode tc needs tc links (tcx, kernel 6.6)" <<<"$XE_ERR" &&
		! grep -qi "invalid argument" <<<"$XE_ERR" && pins_gone && [ "$(tc_filter_ours)" = 0 ] &&
		no_xdp_anywhere; then
		ok uplink_tc_refused_clearly
		log "attach --uplink-mode tc: $XE_ERR"
	else
		fail uplink_tc_refused_clearly "attach --uplink-mode tc exited $XE_RC (want an error naming tcx and 6.6, nothing left): $(tr '\n' ' ' <<<"$XE_ERR")"
	fi
	feature "tcx" "absent"
else
	feature "tcx" "present"
fi
log "core took $(elapsed "$T0") s on $KREL"
exit $((TOPO_FAILED > 0))
