#!/bin/bash
# A hostile neighbour and a hostile world against a victim container, the
# kernel path as the oracle, then xdp-egress in every mode. The victim (c1)
# holds an idle TCP connection and a UDP flow to the world, from one source
# port, IPv4 and IPv6, carried by the fast path (checked). Then:
# - the neighbour (c2) sends with the victim's source address (UDP and an
#   exact-sequence RST and FIN that a neighbour able to see the flow would
#   forge), with the victim's MAC and address, with the victim's MAC and its
#   own address, and an RST to the victim posing as the world;
# - the world sends an RST inside the window but not at its edge (the
#   victim's TCP answers with a challenge ACK, RFC 5961);
# - the world sends RST and FIN to the victim's translated address and port
#   with a wrong sequence number (2^30 away), with one beyond the right edge
#   of every receive window the victim advertised, and (RST) a stale one
#   behind the window; IPv4 and IPv6 RST. (Beyond by 1 MiB: just beyond the
#   victim's edge is not enough for the kernel path itself: conntrack
#   judges with slack, accepted such an IPv6 RST here, forwarded it and
#   moved its idea of the world's sequence past the real one, so that the
#   world's next data was INVALID and the connection stalled under
#   kube-proxy's INVALID DROP).
# None of it may have any effect: after each group the victim's kernel
# conntrack entries (TCP and UDP, both families) keep their state, their
# translated port and their timeout (not shortened, beyond what the kernel
# path itself does: out-of-window FIN/RST and the victim's duplicate ACKs
# make conntrack lower an ESTABLISHED timeout to 300 s; an xdp-egress round
# must do no worse than the kernel path, entry by entry); in the end the
# victim's connection and flow still work, no reset reached it, no forged
# datagram came back to it and none left with its translated port. In the
# xdp-egress rounds every spoofed frame was counted pass_spoofed.
#
# The node filters reverse paths strictly in raw PREROUTING (iptables and
# ip6tables -m rpfilter, as firewalld does), before conntrack: the sysctl
# rp_filter acts at routing, after conntrack has already taken a spoofed
# RST into account, so with the sysctl alone the kernel path itself would
# let a neighbour close the victim's entry. kube-proxy's INVALID DROP is in
# FORWARD and the node drops INVALID in INPUT too (as firewalld and ufw
# do): otherwise a forged FIN that conntrack finds INVALID is delivered to
# the node itself, whose "no such socket" RST resets the real peer.
set -u
source "$(dirname "$0")/../lib/exact.sh"
trap exact_cleanup EXIT
trap 'exit 1' INT TERM HUP
exact_need hostile_setup

W=$TOPO_WORLD_V4
W6=$TOPO_WORLD_V6
V=10.200.1.2
V6=fd00:1::2
topo_create 2 || { fail hostile_setup "could not build the namespaces"; exit 1; }
C1=${TOPO_C[1]}
C2=${TOPO_C[2]}
node_masquerade || { fail hostile_setup "MASQUERADE rules failed"; exit 1; }
in_host sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 &&
	in_host iptables -t raw -A PREROUTING -m rpfilter --invert -j DROP &&
	in_host ip6tables -t raw -A PREROUTING -m rpfilter --invert -j DROP &&
	in_host iptables -I FORWARD -m conntrack --ctstate INVALID -j DROP &&
	in_host ip6tables -I FORWARD -m conntrack --ctstate INVALID -j DROP &&
	in_host iptables -I INPUT -m conntrack --ctstate INVALID -j DROP &&
	in_host ip6tables -I INPUT -m conntrack --ctstate INVALID -j DROP ||
	{ fail hostile_setup "rpfilter / INVALID rules failed"; exit 1; }
serve "$TOPO_WORLD" world 9998 9999 || { fail hostile_setup "world server did not start"; exit 1; }
scapyd_start world "$TOPO_WORLD" && scapyd_start neighbour "$C2" ||
	{ fail hostile_setup "scapy services did not start: $(cat "$TOPO_TMP"/scapyd-*.err | tail -3)"; exit 1; }
C1_MAC=$(mac_of "$C1" eth0)
VC2_MAC=$(host_mac vc2)
ok hostile_setup

# victim_cmd DIR CMD: tells a victim process to do something and waits
# until it did.
victim_cmd() {
	local n
	n=$(jq -r '.cmds' "$1/state.json")
	echo "$2" >"$1/cmd.tmp" && mv "$1/cmd.tmp" "$1/cmd"
	wait_json "$1/state.json" 15 ".cmds > $n"
}

# Entries watched: "PROTO SPORT FAMILY SRC", their state/timeout/port just
# before a group of attacks. One conntrack dump per look (both families).
declare -A CT0_STATE CT0_TIMEOUT CT0_PORT CT0_T
ct_dump() { in_host conntrack -L 2>/dev/null; }
# ct_get DUMP KEY: "STATE TIMEOUT REPLY_DPORT" of KEY's entry, or nothing.
ct_get() {
	local p sp fam src
	read -r p sp fam src <<<"$2"
	awk -v p="$p" -v sp="$sp" -v src="$src" '$1 == p {
		n = 0; st = "-"; s = ""; o = ""; rd = ""
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "src") n++
			if (n == 1 && kv[1] == "src") s = kv[2]
			if (n == 1 && kv[1] == "sport") o = kv[2]
			if (n == 2 && kv[1] == "dport") rd = kv[2]
		}
		if ($4 ~ /^[A-Z_]+$/) st = $4
		if (s == src && o == sp) { print st, $3, rd; exit }
	}' <<<"$1"
}
ct_snapshot() {
	local k d st to port
	d=$(ct_dump)
	for k in "$@"; do
		read -r st to port <<<"$(ct_get "$d" "$k")"
		CT0_STATE[$k]=$st
		CT0_TIMEOUT[$k]=${to:-0}
		CT0_PORT[$k]=$port
		CT0_T[$k]=$EPOCHREALTIME
	done
}
# ct_verdict KEY [DUMP]: how the entry fared since ct_snapshot: "kept"
# (state, translated port and timeout as they were), "lowered" (same state
# and port, timeout cut to no less than 250 s: the kernel's own reaction
# to out-of-window FIN/RST, nf_tcp_handle_invalid, and to duplicate ACKs),
# "shortened" (cut below that: e.g. 10 s, an entry about to die),
# "changed" (state or port) or "gone".
ct_verdict() {
	local k=$1 d=${2:-} l st to port el
	[ -n "$d" ] || d=$(ct_dump)
	l=$(ct_get "$d" "$k")
	[ -n "$l" ] || { echo "gone"; return; }
	read -r st to port <<<"$l"
	el=$(awk -v a="${CT0_T[$k]}" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", b - a + 3 }')
	if [ "$st" != "${CT0_STATE[$k]}" ] || [ "$port" != "${CT0_PORT[$k]}" ]; then
		echo "changed: $st timeout=$to port=$port (was ${CT0_STATE[$k]} timeout=${CT0_TIMEOUT[$k]} port=${CT0_PORT[$k]})"
	elif [ "$to" -ge $((CT0_TIMEOUT[$k] - el)) ]; then
		echo kept
	elif [ "$to" -ge 250 ]; then
		echo "lowered: timeout=$to (was ${CT0_TIMEOUT[$k]})"
	else
		echo "shortened: timeout=$to (was ${CT0_TIMEOUT[$k]})"
	fi
}
# ct_changed KEYS...: true as soon as one entry fared worse than "lowered".
ct_changed() {
	local k d
	d=$(ct_dump)
	for k in "$@"; do
		case $(ct_verdict "$k" "$d") in kept | lowered*) ;; *) return 0 ;; esac
	done
	return 1
}
# before_group KEYS...: the snapshot a group is judged against.
before_group() {
	ct_snapshot "$@"
	GROUP_S0=$(stats_json)
}
# after_group NAME KEYS...: waits up to 0.3 s for a change (an effect shows
# at once; its absence needs the window), then compares with the kernel.
after_group() {
	local c=$1 k o="" d
	shift
	wait_until 0.3 ct_changed "$@"
	d=$(ct_dump)
	for k in "$@"; do
		o+="$(cut -d' ' -f1,3 <<<"$k" | tr ' ' '/') $(ct_verdict "$k" "$d"); "
	done
	log "$c ($ROUND): victim v4 $(jq -c '{tcp_error, tcp_eof}' "$D4/state.json"), v6 $(jq -c '{tcp_error, tcp_eof}' "$D6/state.json")"
	[ "$ROUND" = kernel ] || log "$c ($ROUND): counters grew $(counters_delta_brief "$GROUP_S0" "$(stats_json)")"
	not_worse_than_kernel "$c" "${o%; }" "^[^;]* (kept|lowered)[^;]*; [^;]* (kept|lowered)[^;]*; [^;]* (kept|lowered)[^;]*; [^;]* (kept|lowered)[^;]*$"
}

idx=0
for ROUND in "${EXACT_ROUNDS[@]}"; do
	exact_round_start "--ifname vc1" "--ifname vc2" || continue
	warm_neigh
	R=hostile
	VP=$((45000 + idx * 10))
	VP6=$((VP + 1))
	idx=$((idx + 1))
	D4=$TOPO_TMP/victim4-$ROUND
	D6=$TOPO_TMP/victim6-$ROUND
	mkdir -p "$D4" "$D6"
	cap=$TOPO_TMP/victim-$ROUND.pcap
	bg "$TOPO_WORLD" tcpdump --immediate-mode -ni eth0 -s 128 -U -w "$cap" "tcp port 9998" 2>"$TOPO_TMP/cap.err"
	cap_pid=$BG_PID
	wait_until 5 grep -q "listening on" "$TOPO_TMP/cap.err"
	wline=$(srv_lines world)
	bg_x "$C1" victim "$W" 9998 9999 --sport "$VP" --dir "$D4" 2>"$D4/err"
	v4pid=$BG_PID
	bg_x "$C1" victim "$W6" 9998 9999 --sport "$VP6" --dir "$D6" 2>"$D6/err"
	v6pid=$BG_PID
	wait_json "$D4/state.json" 10 '.ready or .connect_error'
	wait_json "$D6/state.json" 10 '.ready or .connect_error'
	if ! jq -e .ready "$D4/state.json" >/dev/null 2>&1 || ! jq -e .ready "$D6/state.json" >/dev/null 2>&1; then
		fail "${R}_victim_$ROUND" "the victim's flows did not start: $(cat "$D4/state.json" "$D4/err" "$D6/state.json" "$D6/err" 2>/dev/null | tr '\n' ' ')"
		kill "$v4pid" "$v6pid" "$cap_pid" 2>/dev/null
		exact_round_end
		continue
	fi
	# Twenty more rounds: in an xdp-egress round the fast path carries them.
	s0=$(stats_json)
	victim_cmd "$D4" "ping 20"
	victim_cmd "$D6" "ping 20"
	s1=$(stats_json)
	fast_path ${R}_victim_flows "$s0" "$s1" 40 40
	kill "$cap_pid" 2>/dev/null
	wait "$cap_pid" 2>/dev/null

	K=("tcp $VP ipv4 $V" "udp $VP ipv4 $V" "tcp $VP6 ipv6 $V6" "udp $VP6 ipv6 $V6")
	ct_snapshot "${K[@]}"
	TP=${CT0_PORT["${K[0]}"]}
	UP=${CT0_PORT["${K[1]}"]}
	TP6=${CT0_PORT["${K[2]}"]}
	UP6=${CT0_PORT["${K[3]}"]}
	log "victim entries ($ROUND): $(for k in "${K[@]}"; do echo -n "$k: ${CT0_STATE[$k]} timeout=${CT0_TIMEOUT[$k]} port=${CT0_PORT[$k]}; "; done)"
	sq=$(scapy_call world "$(jq -nc --arg p "$cap" --arg n4 "$NODE_V4" --arg n6 "$NODE_V6" --arg w "$W" --arg w6 "$W6" \
		--arg tp "${TP:-0}" --arg tp6 "${TP6:-0}" '{op: "tcpseq", pcap: $p, quads: [$n4, $tp, $w, "9998", $n6, $tp6, $w6, "9998"]}')")
	sq4=$(jq -c '.lines[0] // {}' <<<"$sq")
	sq6=$(jq -c '.lines[1] // {}' <<<"$sq")
	vn=$(jq -r '.a.next_seq // 0' <<<"$sq4")
	wn=$(jq -r '.b.next_seq // 0' <<<"$sq4")
	ve=$(jq -r '.a.edge // 0' <<<"$sq4")
	vn6=$(jq -r '.a.next_seq // 0' <<<"$sq6")
	wn6=$(jq -r '.b.next_seq // 0' <<<"$sq6")
	ve6=$(jq -r '.a.edge // 0' <<<"$sq6")
	log "sequence numbers seen by the world: v4 $sq4; v6 $sq6"

	# The neighbour.
	jq -n --arg v "$V" --arg v6 "$V6" --arg w "$W" --arg w6 "$W6" --argjson vp "$VP" --argjson vp6 "$VP6" \
		--argjson vn "$vn" --argjson wn "$wn" --argjson vn6 "$vn6" --arg smac "$C1_MAC" --arg dmac "$VC2_MAC" '[
		{what: "udp, victim address", proto: "udp", src: $v, sport: $vp, dst: $w, dport: 9999, payload: "EVIL-ip", count: 2},
		{what: "udp, victim MAC and address", proto: "udp", src: $v, sport: $vp, dst: $w, dport: 9999, payload: "EVIL-ipmac", count: 2,
		 iface: "eth0", smac: $smac, dmac: $dmac},
		{what: "udp, victim MAC, own address", proto: "udp", src: "10.200.2.2", sport: $vp, dst: $w, dport: 9999, payload: "EVIL-mac", count: 2,
		 iface: "eth0", smac: $smac, dmac: $dmac},
		{what: "RST at the exact sequence, victim address", proto: "tcp", src: $v, sport: $vp, dst: $w, dport: 9998, flags: "R", seq: $vn},
		{what: "RST at the exact sequence, victim MAC and address", proto: "tcp", src: $v, sport: $vp, dst: $w, dport: 9998, flags: "R", seq: $vn,
		 iface: "eth0", smac: $smac, dmac: $dmac},
		{what: "FIN at the exact sequence, victim address", proto: "tcp", src: $v, sport: $vp, dst: $w, dport: 9998, flags: "FA", seq: $vn, ack: $wn},
		{what: "RST to the victim posing as the world", proto: "tcp", src: $w, sport: 9998, dst: $v, dport: $vp, flags: "R", seq: $wn},
		{what: "udp6, victim address", proto: "udp", src: $v6, sport: $vp6, dst: $w6, dport: 9999, payload: "EVIL-ip6", count: 2},
		{what: "RST6 at the exact sequence, victim address", proto: "tcp", src: $v6, sport: $vp6, dst: $w6, dport: 9998, flags: "R", seq: $vn6}
		]' >"$TOPO_TMP/neigh.json"
	nspoof=$(jq '[.[] | .count // 1] | add' "$TOPO_TMP/neigh.json")
	s0=$(stats_json)
	before_group "${K[@]}"
	fr=$(scapy_call neighbour "$(jq -c '{op: "forge", spec: .}' "$TOPO_TMP/neigh.json")")
	[ "$(jq -r '.sent' <<<"$fr" 2>/dev/null)" = "$nspoof" ] || log "forge (neighbour) sent $(jq -r .sent <<<"$fr" 2>/dev/null) of $nspoof: $fr"
	after_group ${R}_neighbour_spoofing "${K[@]}"
	s1=$(stats_json)
	if [ "$ROUND" != kernel ]; then
		n=$(delta "$s0" "$s1" "$XC_PASS_SPOOFED")
		expect ${R}_spoofed_counted "the neighbour sent $nspoof frames with a source not its own; $XC_PASS_SPOOFED grew by $n; grew: $(counters_delta_brief "$s0" "$s1")" \
			test "$n" -ge "$nspoof"
	fi

	# The world, an RST inside the window but not at its edge.
	jq -n --arg n4 "$NODE_V4" --arg w "$W" --argjson tp "${TP:-0}" --argjson wn "$wn" '[
		{what: "RST in the window, not at its edge", proto: "tcp", src: $w, sport: 9998, dst: $n4, dport: $tp, flags: "R", seq: ($wn + 100)}
		]' >"$TOPO_TMP/world-inwin.json"
	before_group "${K[@]}"
	scapy_call world "$(jq -c '{op: "forge", spec: .}' "$TOPO_TMP/world-inwin.json")" >/dev/null
	after_group ${R}_world_in_window_rst "${K[@]}"

	# The world, blind: wrong and just-out-of-window sequence numbers.
	jq -n --arg n4 "$NODE_V4" --arg n6 "$NODE_V6" --arg w "$W" --arg w6 "$W6" --argjson tp "${TP:-0}" --argjson tp6 "${TP6:-0}" \
		--argjson vn "$vn" --argjson wn "$wn" --argjson ve "$ve" --argjson wn6 "$wn6" --argjson ve6 "$ve6" '[
		{what: "RST, wrong sequence", proto: "tcp", src: $w, sport: 9998, dst: $n4, dport: $tp, flags: "R", seq: ($wn + 1073741824)},
		{what: "RST, beyond every window", proto: "tcp", src: $w, sport: 9998, dst: $n4, dport: $tp, flags: "R", seq: ($ve + 1048576)},
		{what: "RST, stale (behind the window)", proto: "tcp", src: $w, sport: 9998, dst: $n4, dport: $tp, flags: "R", seq: ($wn - 70000)},
		{what: "FIN, wrong sequence", proto: "tcp", src: $w, sport: 9998, dst: $n4, dport: $tp, flags: "FA", seq: ($wn + 1073741824), ack: $vn},
		{what: "FIN, beyond every window", proto: "tcp", src: $w, sport: 9998, dst: $n4, dport: $tp, flags: "FA", seq: ($ve + 1048576), ack: $vn},
		{what: "RST6, wrong sequence", proto: "tcp", src: $w6, sport: 9998, dst: $n6, dport: $tp6, flags: "R", seq: ($wn6 + 1073741824)},
		{what: "RST6, beyond every window", proto: "tcp", src: $w6, sport: 9998, dst: $n6, dport: $tp6, flags: "R", seq: ($ve6 + 1048576)},
		{what: "RST6, stale (behind the window)", proto: "tcp", src: $w6, sport: 9998, dst: $n6, dport: $tp6, flags: "R", seq: ($wn6 - 70000)}
		]' >"$TOPO_TMP/world-oow.json"
	before_group "${K[@]}"
	fr=$(scapy_call world "$(jq -c '{op: "forge", spec: .}' "$TOPO_TMP/world-oow.json")")
	[ "$(jq -r '.sent' <<<"$fr" 2>/dev/null)" = 8 ] || log "forge (world) said: $fr"
	after_group ${R}_world_out_of_window "${K[@]}"

	# The victim: still connected, nothing forged reached it or left as it.
	victim_cmd "$D4" "ping 5"
	victim_cmd "$D6" "ping 5"
	vo() { jq -r '"tcp \(.tcp_rounds) fail=\(.tcp_fail) error=\(.tcp_error // "none") eof=\(.tcp_eof), udp \(.udp_rounds) fail=\(.udp_fail) unexpected=\(.unexpected_udp | length)"' "$1/state.json"; }
	forged=$(srv_events world "$wline" "(.ev == \"odd\") and ((.peer == \"$NODE_V4\" and .port == ${UP:-0}) or (.peer == \"$NODE_V6\" and .port == ${UP6:-0}))" | wc -l)
	same_as_kernel ${R}_victim_unaffected "v4: $(vo "$D4"); v6: $(vo "$D6"); forged datagrams the world got from the victim's ports: $forged" \
		"^v4: tcp 45 fail=0 error=none eof=false, udp 45 fail=0 unexpected=0; v6: tcp 45 fail=0 error=none eof=false, udp 45 fail=0 unexpected=0; forged datagrams the world got from the victim's ports: 0$"
	log "the world's server: $(srv_events world "$wline" '.ev == "tcp_error"' | tr '\n' ' ')"
	log "what the world's server got that was not a request: $(srv_events world "$wline" '.ev == "odd"' | jq -r '"\(.peer):\(.port) \(.data)"' | sort | uniq -c | tr -s ' \n' ' ')"
	echo exit >"$D4/cmd"
	echo exit >"$D6/cmd"
	wait "$v4pid" "$v6pid" 2>/dev/null
	exact_round_end
done

exit $((TOPO_FAILED > 0))
