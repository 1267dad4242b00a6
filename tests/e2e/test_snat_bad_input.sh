#!/bin/bash
# attach --snat with bad input, in native and generic mode: each attempt
# fails with a clear "xdp-egress:" error naming the problem, and leaves
# nothing behind: no XDP program on any device (a foreign program on the
# uplink stays exactly as it was), no pins, every offload as before.
# Unusable SNAT addresses (0.0.0.0, multicast, broadcast, link-local, not on
# this host, not an address), port ranges that are empty, malformed or
# overlap the host's ip_local_port_range, an uplink that does not exist, is
# down, or has no address for --snat auto, a foreign XDP program on the
# uplink, bad --ct-timeout/--ct-size, SNAT options without --snat.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe snat_bad_input

topo_create 1 || { fail snat_bad_input_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
W=$TOPO_WORLD
topo_world_no_return
# Two more host devices: updown0 stays down; upnoaddr0 is up, no address.
ip -n "$TOPO_HOST" link add updown0 type veth peer name updown1
ip -n "$TOPO_HOST" link add upnoaddr0 type veth peer name upnoaddr1
ip -n "$TOPO_HOST" link set upnoaddr1 up
ip -n "$TOPO_HOST" link set upnoaddr0 up

# A foreign XDP program for the uplink, built here.
cat >"$TOPO_TMP/foreign.c" <<'EOF'
/* No headers: <linux/bpf.h> wants the host's asm/types.h under -target bpf. */
__attribute__((section("xdp"), used)) int foreign_pass(void *ctx)
{
	return 2; /* XDP_PASS */
}
char _license[] __attribute__((section("license"), used)) = "GPL";
EOF
FOREIGN=""
if clang -O2 -g -target bpf -c "$TOPO_TMP/foreign.c" -o "$TOPO_TMP/foreign.o" 2>"$TOPO_TMP/clang.err"; then
	FOREIGN=$TOPO_TMP/foreign.o
fi

snapshot() {
	{
		for ns in "${TOPO_NS[@]}"; do xdp_progs "$ns"; done
		offloads "$C" eth0
		offloads "$W" eth0
		offloads "$TOPO_HOST" vc1
		offloads "$TOPO_HOST" up0
		in_host nft -s list ruleset
	} 2>&1
}

# bad NAME REGEX ARGS...: `attach --ifname vc1 --mode $mode ARGS` must fail
# with an "xdp-egress:" error matching REGEX (case-insensitive) and leave
# the host as it was.
bad() {
	local name=${t}_$1 re=$2 before after
	shift 2
	before=$(snapshot)
	xe_capture attach --ifname vc1 --mode "$mode" "$@"
	after=$(snapshot)
	if [ "$XE_RC" != 0 ] && [ "$XE_RC" != 124 ] && grep -q '^xdp-egress: ' <<<"$XE_ERR" &&
		grep -qiE "$re" <<<"$XE_ERR"; then
		ok "${name}_error"
		log "$* -> $(grep '^xdp-egress: ' <<<"$XE_ERR" | head -1)"
	else
		fail "${name}_error" "attach $* exited $XE_RC, want an 'xdp-egress:' error matching /$re/; stderr: $(tr '\n' ' ' <<<"$XE_ERR") stdout: $(tr '\n' ' ' <<<"$XE_OUT")"
	fi
	if [ "$after" = "$before" ] && pins_gone; then
		ok "${name}_nothing_left"
	else
		fail "${name}_nothing_left" "after the failed attach: pins $(find "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ') changes: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -6 | tr '\n\t' '  ')"
	fi
	# Whatever happened, start the next case from a clean host.
	[ "$XE_RC" = 0 ] && xe detach --ifname vc1 >/dev/null 2>&1
}

for mode in native generic; do
	t=snat_bad_$mode
	bad addr_zero 'not a usable source address' --uplink up0 --snat 0.0.0.0
	bad addr_multicast 'not a usable source address' --uplink up0 --snat 224.0.0.1
	bad addr_broadcast 'not a usable source address' --uplink up0 --snat 255.255.255.255
	bad addr_loopback 'not a usable source address' --uplink up0 --snat 127.0.0.1
	bad addr6_linklocal 'not a usable IPv6' --uplink up0 --snat fe80::1
	bad addr6_multicast 'not a usable IPv6' --uplink up0 --snat ff02::1
	bad addr_not_on_host '198\.51\.100\.7.*not an address of this host' --uplink up0 --snat 198.51.100.7
	bad addr_garbage "'garbage' is neither an IPv4 nor an IPv6" --uplink up0 --snat garbage
	bad addr_two_v4 'two IPv4' --uplink up0 --snat 192.0.2.1 --snat 192.0.2.1
	bad addr_three 'at most twice' --uplink up0 --snat 192.0.2.1 --snat fd01::1 --snat auto
	bad auto_no_address 'no global address on uplink upnoaddr0' --uplink upnoaddr0 --snat auto
	bad ports_empty '5000-4000 is empty' --uplink up0 --snat auto --snat-ports 5000-4000
	bad ports_zero 'empty or outside 1-65535' --uplink up0 --snat auto --snat-ports 0-100
	bad ports_too_high 'empty or outside 1-65535' --uplink up0 --snat auto --snat-ports 60000-70000
	bad ports_overlap 'overlap .*ephemeral ports 32768-60999' --uplink up0 --snat auto --snat-ports 40000-50000
	bad ports_garbage 'snat-ports expects MIN-MAX' --uplink up0 --snat auto --snat-ports abc
	bad ports_without_snat 'add --snat' --uplink up0 --snat-ports 20000-30000
	bad ct_timeout_without_snat 'add --snat' --uplink up0 --ct-timeout udp=5
	bad ct_timeout_bogus "ct-timeout 'bogus=1'" --uplink up0 --snat auto --ct-timeout bogus=1
	bad ct_timeout_zero "ct-timeout 'udp=0'" --uplink up0 --snat auto --ct-timeout udp=0
	bad ct_size_small 'ct-size' --uplink up0 --snat auto --ct-size 8
	bad uplink_mode_bogus 'uplink-mode' --uplink up0 --snat auto --uplink-mode fast
	bad uplink_missing "uplink 'missing0' does not exist" --uplink missing0 --snat auto
	bad uplink_down "uplink 'updown0' is down" --uplink updown0 --snat auto
	# The uplink already runs someone else's XDP program.
	if [ -z "$FOREIGN" ]; then
		fail "${t}_foreign_xdp" "could not build the foreign XDP program: $(cat "$TOPO_TMP/clang.err")"
		continue
	fi
	xdpmode=xdpdrv
	[ "$mode" = generic ] && xdpmode=xdpgeneric
	if in_host ip link set dev up0 "$xdpmode" obj "$FOREIGN" sec xdp 2>"$TOPO_TMP/ip.err"; then
		fid=$(xdp_progs "$TOPO_HOST" | awk '$1 == "up0" { print $2 }')
		log "foreign program $fid on up0 ($xdpmode)"
		bad foreign_xdp_on_uplink "up0 already runs an XDP program .*$fid" --uplink up0 --snat auto
		check "${t}_foreign_xdp_untouched" "the foreign program on up0 should still be $fid: $(xdp_progs "$TOPO_HOST" | tr '\n' ';')" \
			test "$(xdp_progs "$TOPO_HOST" | awk '$1 == "up0" { print $2 }')" = "$fid"
		in_host ip link set dev up0 "$xdpmode" off
	else
		fail "${t}_foreign_xdp" "ip link set dev up0 $xdpmode obj: $(cat "$TOPO_TMP/ip.err")"
	fi
done

# After all that, a good attach still works and detaches cleanly.
topo_warm_neigh
if xe_capture attach --ifname vc1 --uplink up0 --snat auto && in_c 1 ping -c 2 -i 0.2 -W 1 "$TOPO_WORLD_V4" >/dev/null &&
	xe_capture detach --ifname vc1 && no_xdp_anywhere && pins_gone; then
	ok snat_bad_then_good
else
	fail snat_bad_then_good "attach --snat auto after the bad cases, a ping, detach: rc $XE_RC $XE_ERR"
fi

exit $((TOPO_FAILED > 0))
