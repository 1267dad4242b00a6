#!/bin/bash
# NAT is whatever the host's netfilter does: a plain MASQUERADE (v4 and v6)
# for the pods, the world without a route to them. The kernel path is the
# oracle; xdp-egress in every mode must give the same outcomes, and the
# ports the world sees must be exactly the ones the kernel chose (the
# reply tuples of its conntrack entries), for every flow, in every round:
# - two containers, the same source port, the same destination (UDP): the
#   second flow is remapped by the kernel; both get every answer;
# - a host socket bound to 192.0.2.1:P talking to the same destination
#   first, then a container flow from source port P (UDP and TCP): the
#   kernel remaps the container's flow; neither steals the other's answers;
# - a host server listening on 192.0.2.1:P (TCP and UDP) while a container
#   flow uses source port P: the world reaches the host server (not the
#   container), and the container's flow keeps all its answers;
# - the same for IPv6 (two containers, one source port).
# Also: attach refuses the removed own-NAT options (--snat, --snat-ports,
# --ct-timeout, --ct-size) and points at MASQUERADE.
set -u
source "$(dirname "$0")/../lib/exact.sh"
trap exact_cleanup EXIT
trap 'exit 1' INT TERM HUP
exact_need nat_setup

W=$TOPO_WORLD_V4
W6=$TOPO_WORLD_V6
topo_create 2 || { fail nat_setup "could not build the namespaces"; exit 1; }
C1=${TOPO_C[1]}
C2=${TOPO_C[2]}
node_masquerade || { fail nat_setup "MASQUERADE rules failed"; exit 1; }
serve "$TOPO_WORLD" world 9998 9999 || { fail nat_setup "world server did not start"; exit 1; }
ok nat_setup

# The removed own NAT: refused, with the way to go instead.
if [ "${XE_ORACLE_ONLY:-0}" != 1 ]; then
	for opt in "--snat auto" "--snat-ports 20000-29999" "--ct-timeout 30" "--ct-size 1024"; do
		name=nat_attach_refuses_${opt%% *}
		name=${name//-/_}
		# shellcheck disable=SC2086
		xe_capture attach --ifname vc1 --uplink up0 $opt
		if [ "$XE_RC" != 0 ] && grep -qi masquerade <<<"$XE_ERR" && no_xdp_anywhere; then
			ok "${name/__/_}"
			log "attach $opt: $(head -1 <<<"$XE_ERR")"
		else
			fail "${name/__/_}" "attach $opt exited $XE_RC (want non-zero with a message naming MASQUERADE, nothing attached): $(tr '\n' ' ' <<<"$XE_ERR") XDP: $(xdp_progs "$TOPO_HOST" | tr '\n' ';')"
			xe detach --all >/dev/null 2>&1
		fi
	done
fi

# ct_has PROTO SPORT SRC [FAMILY]: the kernel has an entry from SRC:SPORT.
ct_has() { ct_lines "$1" "$2" "${4:-ipv4}" | grep -q "src=$3 "; }

# parity FAMILY WORLD_FROM_LINE: every peer the world's server saw since
# WORLD_FROM_LINE is the reply destination of one of the kernel's entries
# towards it, and every such entry was seen. Prints "N flows, M remapped,
# peers == conntrack: yes|no (...)".
parity() {
	local fam=$1 from=$2 dst=$W seen ct diff
	[ "$fam" = ipv6 ] && dst=$W6
	seen=$(srv_events world "$from" '.ev == "accept" or .ev == "udp"' |
		jq -r '"\(if .ev == "accept" then "tcp" else "udp" end) \(.peer) \(.port)"' | sort -u)
	ct=$(in_host conntrack -L -f "$fam" -d "$dst" 2>/dev/null | awk '$1 == "tcp" || $1 == "udp"' |
		while read -r l; do
			echo "$(awk '{ print $1 }' <<<"$l") $(ct_field "$l" reply_dst) $(ct_field "$l" reply_dport)"
		done | sort -u)
	REMAPPED=$(in_host conntrack -L -f "$fam" -d "$dst" 2>/dev/null | awk '$1 == "tcp" || $1 == "udp"' |
		while read -r l; do
			[ "$(ct_field "$l" orig_sport)" != "$(ct_field "$l" reply_dport)" ] && echo x
		done | wc -l)
	diff=$(diff <(echo "$seen") <(echo "$ct") | grep '^[<>]' | head -6 | tr '\n' ';')
	# (parity runs in $(...): the detail goes through a file)
	echo "world saw: $(tr '\n' ';' <<<"$seen") conntrack replies: $(tr '\n' ';' <<<"$ct")" >"$TOPO_TMP/parity.detail"
	echo "$(grep -c . <<<"$ct") flows, $REMAPPED remapped, peers == conntrack: $([ -z "$diff" ] && echo yes || echo "no ($diff)")"
}

# two ASK_A_NS ASK_A_ARGS -- ASK_B_NS ASK_B_ARGS -- WAIT_PROTO WAIT_SPORT
# WAIT_SRC [FAMILY]: flow A in the background; once the kernel has its
# entry, flow B in the foreground; prints "A=x/y B=x/y".
two() {
	local nsa=$1 a=() b=() nsb wp ws wsrc wf pid ra rb
	shift
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	nsb=$1
	shift
	while [ "$1" != -- ]; do b+=("$1"); shift; done
	shift
	wp=$1 ws=$2 wsrc=$3 wf=${4:-ipv4}
	py_x "$nsa" ask "${a[@]}" >"$TOPO_TMP/two-a.json" 2>&1 &
	pid=$!
	wait_until 5 ct_has "$wp" "$ws" "$wsrc" "$wf" || log "no conntrack entry from $wsrc:$ws yet"
	rb=$(py_x "$nsb" ask "${b[@]}")
	wait "$pid"
	ra=$(cat "$TOPO_TMP/two-a.json")
	echo "A=$(jq -r '"\(.answered)/\(.rounds)"' <<<"$ra") B=$(jq -r '"\(.answered)/\(.rounds)"' <<<"$rb")"
}

idx=0
for ROUND in "${EXACT_ROUNDS[@]}"; do
	exact_round_start "--ifname vc1" "--ifname vc2" || continue
	warm_neigh
	R=nat
	# Source ports of this round (a client's TIME_WAIT of an earlier round
	# must not meet this one's).
	P=$((40000 + idx * 100))
	idx=$((idx + 1))
	from=$(srv_lines world)

	# Two containers, one source port.
	s0=$(stats_json)
	o=$(two "$C1" udp "$W" 9999 --sport "$P" --rounds 30 --gap 0.01 -- \
		"$C2" udp "$W" 9999 --sport "$P" --rounds 30 --gap 0.005 -- udp "$P" 10.200.1.2)
	s1=$(stats_json)
	same_as_kernel ${R}_udp_two_containers_same_port "$o" "^A=30/30 B=30/30$"
	fast_path ${R}_udp_two_containers_same_port "$s0" "$s1" 40 40

	# A host socket first, then a container from the same port.
	o=$(two "$TOPO_HOST" udp "$W" 9999 --src "$NODE_V4" --sport $((P + 1)) --rounds 30 --gap 0.01 -- \
		"$C1" udp "$W" 9999 --sport $((P + 1)) --rounds 30 -- udp $((P + 1)) "$NODE_V4")
	same_as_kernel ${R}_udp_host_socket_then_container "$o" "^A=30/30 B=30/30$"
	o=$(two "$TOPO_HOST" tcp "$W" 9998 --src "$NODE_V4" --sport $((P + 2)) --rounds 30 --gap 0.01 -- \
		"$C1" tcp "$W" 9998 --sport $((P + 2)) --rounds 30 -- tcp $((P + 2)) "$NODE_V4")
	same_as_kernel ${R}_tcp_host_socket_then_container "$o" "^A=30/30 B=30/30$"

	# A host server on a port a container flow uses as its source.
	serve "$TOPO_HOST" "node$idx" $((P + 3)) $((P + 3)) || fail "${R}_host_server_$ROUND" "the host server on $((P + 3)) did not start"
	py_x "$C1" ask tcp "$W" 9998 --sport $((P + 3)) --rounds 40 --gap 0.02 >"$TOPO_TMP/c-tcp.json" 2>&1 &
	p1=$!
	py_x "$C1" ask udp "$W" 9999 --sport $((P + 3)) --rounds 40 --gap 0.02 >"$TOPO_TMP/c-udp.json" 2>&1 &
	p2=$!
	wait_until 5 ct_has udp $((P + 3)) 10.200.1.2
	wait_until 5 ct_has tcp $((P + 3)) 10.200.1.2
	wt=$(py_x "$TOPO_WORLD" ask tcp "$NODE_V4" $((P + 3)) --rounds 5)
	wu=$(py_x "$TOPO_WORLD" ask udp "$NODE_V4" $((P + 3)) --sport 7777 --rounds 5)
	wait "$p1" "$p2"
	ct_port=$(ct_field "$(ct_lines udp $((P + 3)))" reply_dport)
	odd=$(srv_events "node$idx" 0 '.ev != "accept" and .ev != "udp" or .peer != "192.0.2.2" or (.ev == "udp" and .port != 7777)' | wc -l)
	o="world->node: tcp $(ask_outcome "$wt" | sed "s/names=node$idx/names=node/"), udp $(ask_outcome "$wu" | sed "s/names=node$idx/names=node/"); container: tcp $(jq -r '"\(.answered)/\(.rounds)"' "$TOPO_TMP/c-tcp.json") udp $(jq -r '"\(.answered)/\(.rounds)"' "$TOPO_TMP/c-udp.json"); the host server got $odd of the container's packets"
	same_as_kernel ${R}_host_server_on_container_port "$o" \
		"^world->node: tcp answered=5/5 names=node seen=192.0.2.2 error=none, udp answered=5/5 names=node seen=192.0.2.2 error=none; container: tcp 40/40 udp 40/40; the host server got 0 "
	log "container flow from :$((P + 3)) masqueraded to :$ct_port (the host server listens on $((P + 3)))"
	kill "$SERVE_PID" 2>/dev/null

	# Every port the world saw is the one the kernel chose.
	o=$(parity ipv4 "$from")
	same_as_kernel ${R}_ports_as_kernel_chose "$o" "remapped, peers == conntrack: yes$"
	[[ $o == *yes ]] || log "$(cat "$TOPO_TMP/parity.detail")"

	# IPv6: two containers, one source port; ports as the kernel chose.
	from=$(srv_lines world)
	s0=$(stats_json)
	o=$(two "$C1" udp "$W6" 9999 --sport $((P + 4)) --rounds 30 --gap 0.01 -- \
		"$C2" udp "$W6" 9999 --sport $((P + 4)) --rounds 30 --gap 0.005 -- udp $((P + 4)) fd00:1::2 ipv6)
	s1=$(stats_json)
	same_as_kernel ${R}_udp6_two_containers_same_port "$o" "^A=30/30 B=30/30$"
	fast_path ${R}_udp6_two_containers_same_port "$s0" "$s1" 40 40
	o=$(two "$C1" tcp "$W6" 9998 --sport $((P + 5)) --rounds 30 --gap 0.01 -- \
		"$C2" tcp "$W6" 9998 --sport $((P + 5)) --rounds 30 -- tcp $((P + 5)) fd00:1::2 ipv6)
	same_as_kernel ${R}_tcp6_two_containers_same_port "$o" "^A=30/30 B=30/30$"
	o=$(parity ipv6 "$from")
	same_as_kernel ${R}_ports6_as_kernel_chose "$o" "remapped, peers == conntrack: yes$"
	[[ $o == *yes ]] || log "$(cat "$TOPO_TMP/parity.detail")"

	exact_round_end
done

exit $((TOPO_FAILED > 0))
