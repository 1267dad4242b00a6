#!/bin/bash
# TCP flows end as they do on the kernel path, with kube-proxy's
# `-m conntrack --ctstate INVALID -j DROP` in FORWARD (v4 and v6) and the
# node's MASQUERADE. The kernel tracks TCP windows only from what it sees;
# after a fast-pathed stretch a FIN or RST that goes through it could be
# judged INVALID and dropped: the connection would hang instead of closing.
# In every round (kernel first, then xdp-egress in each mode):
# - upload and download of 30 MB (IPv6: 20 MB), each ending with FINs:
#   the data arrives whole (MD5), both ends see a clean close, the kernel's
#   conntrack entry ends in the state it ends in on the kernel path
#   (TIME_WAIT), and no packet was INVALID: neither `conntrack -S`'s invalid
#   count nor the INVALID DROP rules' counters grew;
# - an abort: the container closes with unread data in the middle of a
#   download (its kernel sends an RST): the world's sender sees the reset
#   as on the kernel path, and the entry ends as on the kernel path.
# The fast path must have carried the bulk (redirected bytes).
set -u
source "$(dirname "$0")/../lib/exact.sh"
trap exact_cleanup EXIT
trap 'exit 1' INT TERM HUP
exact_need tcp_close_setup

W=$TOPO_WORLD_V4
W6=$TOPO_WORLD_V6
SIZE=30000000
SIZE6=20000000
topo_create 1 || { fail tcp_close_setup "could not build the namespaces"; exit 1; }
C1=${TOPO_C[1]}
node_masquerade || { fail tcp_close_setup "MASQUERADE rules failed"; exit 1; }
in_host iptables -I FORWARD -m conntrack --ctstate INVALID -m comment --comment "kube-proxy: drop INVALID" -j DROP &&
	in_host ip6tables -I FORWARD -m conntrack --ctstate INVALID -m comment --comment "kube-proxy: drop INVALID" -j DROP ||
	{ fail tcp_close_setup "INVALID DROP rules failed"; exit 1; }
serve "$TOPO_WORLD" world 9998 0 || { fail tcp_close_setup "world server did not start"; exit 1; }
ok tcp_close_setup

invalid_drops() { echo $(($(ipt_rule_packets 4 filter FORWARD INVALID) + $(ipt_rule_packets 6 filter FORWARD INVALID))); }

# ct_end SPORT FAMILY: waits (5 s) until the entry from SPORT is in a
# closing end state (TIME_WAIT or CLOSE) or gone; prints its state.
ct_end() {
	wait_until 5 ct_closed "$1" "$2"
	echo "$CT_STATE"
}
# ct_closed SPORT FAMILY: ct_end's condition; CT_STATE: the state seen.
ct_closed() {
	local l
	l=$(ct_lines tcp "$1" "$2")
	CT_STATE=$(ct_field "$l" state)
	[ -z "$l" ] && CT_STATE=gone
	case $CT_STATE in TIME_WAIT | CLOSE | gone) return 0 ;; esac
	return 1
}

# world_end TPORT: the world server's end of the connection from the
# translated port TPORT: "fin", "reset" or "none" (waits up to 5 s).
world_end() {
	local e
	wait_until 5 world_event "$1"
	e=$WORLD_EVENT
	if [ -z "$e" ]; then echo none; return; fi
	case $(jq -r '"\(.end) \(.error)"' <<<"$e") in
	"fin null") echo fin ;;
	*"reset by peer"* | *"Broken pipe"*) echo reset ;;
	*) echo "other ($(jq -c . <<<"$e"))" ;;
	esac
}

# world_event TPORT: world_end's condition; WORLD_EVENT: the server's last
# event for the connection from TPORT (empty: none yet).
world_event() {
	WORLD_EVENT=$(srv_events world 0 "(.ev == \"up\" or .ev == \"down\") and .port == $1" | tail -1)
	[ -n "$WORLD_EVENT" ]
}

# transfer CASE FAMILY HOST up|down BYTES SPORT: one transfer ending with
# FINs; compared with the kernel's; the fast path carried the bulk.
transfer() {
	local c=$1 fam=$2 host=$3 op=$4 n=$5 sp=$6 s0 s1 r tport st we
	s0=$(stats_json)
	r=$(py_x "$C1" bulk "$host" 9998 "$op" "$n" --sport "$sp" --timeout 10)
	s1=$(stats_json)
	st=$(ct_end "$sp" "$fam")
	tport=$(ct_field "$(ct_lines tcp "$sp" "$fam")" reply_dport)
	we=$(world_end "${tport:-0}")
	same_as_kernel "$c" "client: $(jq -r '"bytes=\(.bytes) md5_ok=\(.md5_ok) end=\(.end) error=\(.error // "none")"' <<<"$r"); world: $we; conntrack: $st" \
		"^client: bytes=$n md5_ok=true end=fin error=none; world: fin; conntrack: TIME_WAIT$"
	if [ "$op" = up ]; then
		fast_path "$c" "$s0" "$s1" $((n / 2)) 0 bytes
	else
		fast_path "$c" "$s0" "$s1" 0 $((n / 2)) bytes
	fi
	log "$c ($ROUND): $(jq -c . <<<"$r"); grew $(counters_delta_brief "$s0" "$s1")"
}

idx=0
for ROUND in "${EXACT_ROUNDS[@]}"; do
	exact_round_start "--ifname vc1" || continue
	warm_neigh
	R=tcp_close
	P=$((42000 + idx * 10))
	idx=$((idx + 1))
	inv0=$(ct_invalid)
	drop0=$(invalid_drops)

	transfer ${R}_upload "ipv4" "$W" up "$SIZE" "$P"
	transfer ${R}_download "ipv4" "$W" down "$SIZE" $((P + 1))
	transfer ${R}_upload6 "ipv6" "$W6" up "$SIZE6" $((P + 2))
	transfer ${R}_download6 "ipv6" "$W6" down "$SIZE6" $((P + 3))
	inv=$(($(ct_invalid) - inv0))
	drop=$(($(invalid_drops) - drop0))
	same_as_kernel ${R}_nothing_invalid "conntrack invalid +$inv, INVALID DROP rules +$drop" "^conntrack invalid \+0, INVALID DROP rules \+0$"

	# The abort: close with unread data in the middle of a download.
	inv0=$(ct_invalid)
	drop0=$(invalid_drops)
	r=$(py_x "$C1" bulk "$W" 9998 down "$SIZE" --sport $((P + 4)) --abort-after 2000000 --timeout 10)
	st=$(ct_end $((P + 4)) ipv4)
	tport=$(ct_field "$(ct_lines tcp $((P + 4)))" reply_dport)
	we=$(world_end "${tport:-0}")
	same_as_kernel ${R}_abort_rst "client: $(jq -r '"end=\(.end) error=\(.error // "none")"' <<<"$r"); world: $we; conntrack: $st" \
		"^client: end=abort error=none; world: reset; conntrack: CLOSE$"
	inv=$(($(ct_invalid) - inv0))
	drop=$(($(invalid_drops) - drop0))
	log "${R}_abort_rst ($ROUND): conntrack invalid +$inv, INVALID DROP rules +$drop (the sender's packets in flight after the reset)"
	exact_round_end
done

exit $((TOPO_FAILED > 0))
