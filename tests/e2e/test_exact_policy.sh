#!/bin/bash
# The host's forward-path policy, the kernel path as the oracle, then
# xdp-egress in every mode:
# - an operator's iptables FORWARD DROP (the cloud metadata address
#   169.254.169.254, which the world owns and serves), TCP and UDP;
# - an nftables forward-chain drop (198.51.100.50 and fd03::50, owned and
#   served by the world), TCP and UDP, IPv4 and IPv6;
# - a control flow to an allowed address, carried by the fast path (so
#   the drops above are not "passed" merely because nothing is fast);
# - a rule added while a flow runs, UDP and TCP:
#     A. the DROP is inserted before anything else in FORWARD: the kernel
#        path stops the flow at once. xdp-egress carries an established
#        flow on, as the kernel's flowtable does, until `flush`; after the
#        flush the flow obeys the rule (stops);
#     B. FORWARD accepts ESTABLISHED first and the DROP is appended: the
#        kernel path carries the flow on and only new flows are dropped;
#        xdp-egress too, before and after `flush` (the flush hands the flow
#        to the kernel, which accepts it).
#   After the rules are gone, new flows are fast-pathed again.
# - attach adds the nftables table "xdp_egress" (conntrack in the host
#   namespace); the last detach removes it.
set -u
source "$(dirname "$0")/../lib/exact.sh"
trap exact_cleanup EXIT
trap 'exit 1' INT TERM HUP
exact_need policy_setup

W=$TOPO_WORLD_V4
topo_create 1 || { fail policy_setup "could not build the namespaces"; exit 1; }
C1=${TOPO_C[1]}
node_masquerade || { fail policy_setup "MASQUERADE rules failed"; exit 1; }
world_owns 169.254.169.254 198.51.100.50 fd03::50
serve "$TOPO_WORLD" world 8080 5353 || { fail policy_setup "world server did not start"; exit 1; }

# The operator's rules.
in_host iptables -I FORWARD -d 169.254.169.254 -m comment --comment "no metadata for containers" -j DROP &&
	in_host nft -f - <<'EOF' || { fail policy_setup "forward rules failed"; exit 1; }
table inet operator {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip daddr 198.51.100.50 counter drop
		ip6 daddr fd03::50 counter drop
	}
}
EOF
ok policy_setup

# ask_case CASE PROTO HOST PORT ROUNDS TIMEOUT WANT [GAP]: one flow from
# the container, compared with the kernel's. A flow that must show the
# fast path at work paces its rounds (GAP 5 ms: the programs cache a
# flow's verdict for a jiffy; the agent promotes TCP asynchronously).
ask_case() {
	local r
	r=$(py_x "$C1" ask "$2" "$3" "$4" --rounds "$5" --timeout "$6" --gap "${8:-0}")
	same_as_kernel "$1" "$(ask_outcome "$r")" "$7"
}

# midflow CASE PROTO PORT A|B FLUSH_ARGS...: the mid-flow rule cases (see
# the top).
midflow() {
	local c=$1 proto=$2 port=$3 variant=$4 f stop pid s0 s1 before after red rule
	shift 4
	f=$TOPO_TMP/stream-$c-$ROUND.json
	stop=$TOPO_TMP/stop-$c-$ROUND
	rule=(FORWARD -p "$proto" -d "$W" --dport "$port" -m comment --comment "added mid-flow" -j DROP)
	[ "$variant" = B ] && in_host iptables -I FORWARD 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	s0=$(stats_json)
	bg_x "$C1" stream "$proto" "$W" "$port" --out "$f" --interval 0.01 --seconds 40 --stop "$stop"
	pid=$BG_PID
	if ! wait_json "$f" 10 '.answered >= 60'; then
		fail "${c}_${ROUND}" "the flow never got going: $(cat "$f" 2>/dev/null)"
		touch "$stop"; wait "$pid" 2>/dev/null
		[ "$variant" = B ] && in_host iptables -D FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		return
	fi
	s1=$(stats_json)
	red=$(delta "$s0" "$s1" "$XC_REDIRECTED")
	if [ "$variant" = A ]; then in_host iptables -I "${rule[@]}"; else in_host iptables -A "${rule[@]}"; fi
	before=$(flow_progress "$f" 0.6 10)
	if [ "$ROUND" = kernel ]; then
		# Nothing changes the kernel path's view in between.
		after=$before
	else
		# The flowtable's semantics: an established flow the fast path
		# carries goes on until it ends (or is flushed).
		if [ "$variant" = A ]; then
			expect "${c}_established_goes_on_until_flush" "after the DROP was inserted the flow $before (the fast path had carried $red of its packets; want: goes on, as with the kernel's flowtable); $(cat "$f")" \
				test "$before" = "goes on"
		fi
		log "$c ($ROUND): fast path carried $red packets before the rule; after the rule the flow $before"
		if ! xe_capture flush "$@"; then
			fail "${c}_flush_$ROUND" "flush $* exited $XE_RC: $(tr '\n' ' ' <<<"$XE_ERR")"
		fi
		after=$(flow_progress "$f" 0.6 10)
	fi
	if [ "$variant" = A ]; then
		same_as_kernel "${c}_after_flush" "rule before ESTABLISHED accept: flow $after" "stopped$"
	else
		same_as_kernel "${c}_after_flush" "rule after ESTABLISHED accept: flow $after" "goes on$"
		# New flows meet the rule.
		ask_case "${c}_new_flow_dropped" "$proto" "$W" "$port" 1 0.5 "^answered=0/1 "
	fi
	touch "$stop"
	wait "$pid" 2>/dev/null
	in_host iptables -D "${rule[@]}"
	[ "$variant" = B ] && in_host iptables -D FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	# With the rules gone, a new flow is fast-pathed again.
	s0=$(stats_json)
	ask_case "${c}_new_flow_after" "$proto" "$W" "$port" 40 2 "^answered=40/40 names=world seen=192.0.2.1 error=none$" 0.005
	s1=$(stats_json)
	fast_path "${c}_new_flow_after" "$s0" "$s1" 15 15
}

for ROUND in "${EXACT_ROUNDS[@]}"; do
	exact_round_start "--ifname vc1" || continue
	warm_neigh
	R=policy
	if [ "$ROUND" != kernel ]; then
		expect ${R}_nft_table_while_attached "attach did not add the nftables table $XE_NFT_TABLE: $(in_host nft list tables | tr '\n' ';')" \
			grep -qw "$XE_NFT_TABLE" <<<"$(in_host nft list tables)"
	fi

	# The control: an allowed destination, fast-pathed.
	s0=$(stats_json)
	ask_case ${R}_allowed_tcp tcp "$W" 8080 40 2 "^answered=40/40 names=world seen=192.0.2.1 error=none$" 0.005
	ask_case ${R}_allowed_udp udp "$W" 5353 40 2 "^answered=40/40 names=world seen=192.0.2.1 error=none$" 0.005
	s1=$(stats_json)
	fast_path ${R}_allowed "$s0" "$s1" 40 40

	# The drops (side by side: each waits for its timeout).
	par_ask fwd_tcp "$C1" tcp 169.254.169.254 8080 --timeout 1
	par_ask fwd_udp "$C1" udp 169.254.169.254 5353 --rounds 2 --timeout 0.5
	par_ask nft_tcp "$C1" tcp 198.51.100.50 8080 --timeout 1
	par_ask nft_udp "$C1" udp 198.51.100.50 5353 --rounds 2 --timeout 0.5
	par_ask nft_tcp6 "$C1" tcp fd03::50 8080 --timeout 1
	par_ask nft_udp6 "$C1" udp fd03::50 5353 --rounds 2 --timeout 0.5
	par_wait
	same_as_kernel ${R}_forward_drop_tcp "$(ask_outcome "$(par_result fwd_tcp)")" "^answered=0/1 names= seen= error=timeout$"
	same_as_kernel ${R}_forward_drop_udp "$(ask_outcome "$(par_result fwd_udp)")" "^answered=0/2 names= seen= error=timeout$"
	same_as_kernel ${R}_nft_drop_tcp "$(ask_outcome "$(par_result nft_tcp)")" "^answered=0/1 names= seen= error=timeout$"
	same_as_kernel ${R}_nft_drop_udp "$(ask_outcome "$(par_result nft_udp)")" "^answered=0/2 names= seen= error=timeout$"
	same_as_kernel ${R}_nft_drop_tcp6 "$(ask_outcome "$(par_result nft_tcp6)")" "^answered=0/1 names= seen= error=timeout$"
	same_as_kernel ${R}_nft_drop_udp6 "$(ask_outcome "$(par_result nft_udp6)")" "^answered=0/2 names= seen= error=timeout$"
	n=$(in_host iptables -L FORWARD -v -x -n | awk '/169.254.169.254/ { print $1 }')
	log "FORWARD DROP counted $n packets so far; nft: $(in_host nft list chain inet operator forward | grep -o 'packets [0-9]*' | tr '\n' ' ')"

	# A rule added while a flow runs.
	midflow ${R}_midflow_udp_a udp 5353 A --all
	midflow ${R}_midflow_tcp_a tcp 8080 A
	midflow ${R}_midflow_udp_b udp 5353 B --all

	exact_round_end
	if [ "$ROUND" != kernel ]; then
		expect ${R}_nft_table_gone_after_detach "the last detach left the nftables table $XE_NFT_TABLE: $(in_host nft list tables | tr '\n' ';')" \
			test -z "$(in_host nft list tables | grep -w "$XE_NFT_TABLE")"
	fi
done

exit $((TOPO_FAILED > 0))
