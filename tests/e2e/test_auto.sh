#!/bin/bash
# attach --mode auto, and `xdp-egress tune` switching it, on a node that
# MASQUERADEs its containers (iptables in the host ns) with a world that
# has no route back to them: only traffic the kernel translated is
# answered, and the fast path carries the kernel's translation:
# - attach puts the tc program on vc1 alone; the container keeps TSO and
#   tx-checksumming; without a tuner it stays so under any traffic;
# - with `tune` running, a small-packet UDP flood puts native XDP in front
#   (status says why, the container's checksum offload goes off, the
#   datagrams arrive, the world sees only the node's address, no checksum
#   errors in the world);
# - a packet native XDP passes to the kernel (a new flow) is judged once:
#   the tc program behind leaves it alone (pass_new_flow +1, one conntrack
#   entry, the world receives it once, translated);
# - bulk TCP takes it back to tc alone (TSO back on, GSO super-packets on
#   the fast path, the transfer runs at full speed);
# - ICMP (kernel-path traffic) with native XDP in front: back to tc;
# - detach while native XDP is in front removes both programs, every pin,
#   and restores every offload;
# - a container whose MTU native XDP cannot take: auto stays on tc and
#   status says why;
# - bad tune input fails with a clear message.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe auto

MIN_TCP_MBPS=100

topo_create 1 || { fail auto_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
W=$TOPO_WORLD
topo_world_no_return || { fail auto_setup "the world still routes 10.200.0.0/16"; exit 1; }
host_nat_rules on || { fail auto_setup "cannot add the host's MASQUERADE rules"; exit 1; }
start_iperf_server 5201 || { fail auto_setup "iperf3 server did not start"; exit 1; }
snat_tools
bg "$W" "$PY3" "$SNAT_TOOLS" sink udp 9
wait_listen "$W" 9 udp || { fail auto_setup "the world's UDP sink did not start"; exit 1; }

auto_state() {
	xe status --json 2>/dev/null | jq -r '.attachments[0].auto.state // "none"'
}
# wait_state WANT SECONDS: poll the record until auto.state is WANT.
wait_state() {
	wait_until "$2" auto_state_is "$1"
}
auto_state_is() { [ "$(auto_state)" = "$1" ]; }
xdp_on_vc1() {
	ip -n "$TOPO_HOST" -d -j link show vc1 | jq -r '.[0].xdp.mode // 0'
}
udp_small() { # udp_small SECONDS: 64-byte datagrams at ~58k a second (30 Mbit/s):
	# above the tuner's 2000 pps, below what the world's receiver drops
	in_c 1 iperf3 -c "$TOPO_WORLD_V4" -u -l 64 -b 30M -t "$1" -J 2>&1
}
tune_stop() {
	kill "$TUNE_PID" 2>/dev/null
	wait "$TUNE_PID" 2>/dev/null
}

before=$(offload_snapshot)
topo_warm_neigh
if ! xe_capture attach --ifname vc1 --mode auto --uplink up0; then
	fail auto_attach "attach --mode auto exited $XE_RC: $XE_ERR"
	exit 1
fi
ok auto_attach
sed 's/^/#   /' <<<"$XE_OUT"
st=$(xe status --json)
tc_prog=$(jq -r '.attachments[0].prog_id' <<<"$st")
check auto_status_mode "status --json: mode $(jq -r '.attachments[0].mode' <<<"$st"), auto.state $(jq -r '.attachments[0].auto.state' <<<"$st"), state '$(jq -r '.attachments[0].state' <<<"$st")'" \
	test "$(jq -r '.attachments[0] | "\(.mode) \(.auto.state) \(.state)"' <<<"$st")" = "auto tc attached"
check auto_starts_without_xdp "vc1 has an XDP program ($(xdp_on_vc1)) right after attach --mode auto" \
	test "$(xdp_on_vc1)" = 0
check auto_container_keeps_offloads "container eth0: tso $(offload "$C" eth0 tcp-segmentation-offload), tx-checksumming $(offload "$C" eth0 tx-checksumming)" \
	test "$(offload "$C" eth0 tcp-segmentation-offload) $(offload "$C" eth0 tx-checksumming)" = "on on"

# No tuner: small packets change nothing.
out=$(udp_small 2)
check auto_no_tuner_stays_tc "without a tuner the state became $(auto_state) (udp: $(jq -r '.end.sum.packets // .error' <<<"$out"))" \
	test "$(auto_state)" = tc

csum0=$(nstat_csum_errors "$W")
world_capture_start "ip and src net 10.200.0.0/16" || { fail auto_setup "tcpdump in the world did not start"; exit 1; }
m0=$(masquerade_packets)
xe_tune_start
s0=$(stats_json)
a0=$(udp_arrived "$W")
out=$(udp_small 4)
arrived=$(($(udp_arrived "$W") - a0))
sent=$(jq -r '.end.sum.packets // 0' <<<"$out")
pct=$(jq -r '.end.sum.lost_percent // 100 | floor' <<<"$out")
check auto_small_to_native "state $(auto_state) after 4 s of 64-byte UDP ($sent datagrams); tune log: $(tail -2 "$TOPO_TMP/tune.log" | tr '\n' ' ')" \
	wait_state native 2
check auto_native_xdp_attached "vc1's XDP mode is '$(xdp_on_vc1)' with auto.state native" \
	test "$(xdp_on_vc1)" = 1
check auto_native_csum_off "container tx-checksumming is $(offload "$C" eth0 tx-checksumming) with native XDP in front" \
	test "$(offload "$C" eth0 tx-checksumming)" = off
# The switch must not break the flow: the datagrams reach the world's UDP
# layer. (What iperf3 counts lost beyond that is its receiving socket
# overrun on this shared 2-core machine.)
check auto_small_delivered "UDP: $sent datagrams sent, $arrived reached the world's UDP layer (want >= 90%), iperf3 counted $pct% lost" \
	test "${sent:-0}" -gt 1000 -a $((arrived * 10)) -ge $((sent * 9))
log "UDP across the switch: $sent sent, $arrived arrived at the world, iperf3: $pct% lost"
why=$(xe status --json | jq -r '.attachments[0].auto.why')
check auto_status_why "auto.why is '$why'" grep -q "small packets" <<<"$why"
log "auto.why: $why"
# The text says since when, in seconds of this test (the switch writes a
# fractional time; once that printed the whole epoch).
line=$(xe status | grep -E '^  auto: now')
age=$(sed -nE 's/.*, for ([0-9]+)s$/\1/p' <<<"$line")
check auto_status_since "status says '$line' (want 'for N s' with N below 600)" \
	test -n "$age" -a "${age:-600}" -lt 600
# Traffic while native XDP is in front: translated, checksums right.
out=$(udp_small 2)
s1=$(stats_json)
red=$(($(counter "$s1" redirected) - $(counter "$s0" redirected)))
check auto_native_redirects "redirected grew by $red over two UDP floods" test "$red" -gt 10000
world_capture_stop
n_c=$(grep -c 'IP ' "$TOPO_TMP/capture.txt")
check auto_world_sees_node_address_only "the world received $n_c packets from a container address: $(grep -m2 'IP ' "$TOPO_TMP/capture.txt" | tr '\n' ' ')" \
	test "$n_c" = 0
m1=$(masquerade_packets)
log "MASQUERADE rule: $((m1 - m0)) packets (each flow's first), fast path: $red"
check auto_masquerade_decides "the host's MASQUERADE rule counted $((m1 - m0)) packets: the flows' first packets must meet it" \
	test $((m1 - m0)) -ge 1

out=$(in_c 1 iperf3 -c "$TOPO_WORLD_V4" -t 5 -J 2>&1)
mbps=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' <<<"$out")
check auto_bulk_to_tc "state $(auto_state) after 5 s of bulk TCP ($mbps Mbit/s); tune log: $(tail -2 "$TOPO_TMP/tune.log" | tr '\n' ' ')" \
	wait_state tc 2
# Back to tc on the first bulk window, with no dwell: native XDP costs a
# bulk sender its TSO for every window it stays.
why=$(xe status --json | jq -r '.attachments[0].auto.why')
check auto_bulk_one_window "auto.why is '$why' (want bulk after 1 window)" \
	grep -q "bulk, MTU-sized frames: .* over the last 1 window of" <<<"$why"
check auto_tc_no_xdp "vc1 still has XDP ($(xdp_on_vc1)) back on tc" test "$(xdp_on_vc1)" = 0
check auto_tc_offloads_back "container eth0: tso $(offload "$C" eth0 tcp-segmentation-offload), tx-checksumming $(offload "$C" eth0 tx-checksumming) back on tc" \
	test "$(offload "$C" eth0 tcp-segmentation-offload) $(offload "$C" eth0 tx-checksumming)" = "on on"
check auto_bulk_tcp "TCP: ${mbps:-?} Mbit/s (want >= $MIN_TCP_MBPS)" test "${mbps:-0}" -ge "$MIN_TCP_MBPS"
out=$(in_c 1 iperf3 -c "$TOPO_WORLD_V4" -t 2 -J 2>&1)
gso0=$(counter "$s1" redirected_gso)
gso1=$(counter "$(stats_json)" redirected_gso)
check auto_tc_gso "redirected_gso grew by $((gso1 - gso0)) over bulk TCP on tc" test $((gso1 - gso0)) -gt 100

# Back to native. Then traffic the kernel path takes (ICMP is never
# fast-pathed; short connections and new flows are alike): native XDP only
# passes it, turning every frame into an XDP buffer and back, so auto goes
# back to tc at once. Then native again, and detach while it is there.
udp_small 4 >/dev/null
check auto_native_again "state $(auto_state) after another UDP flood" wait_state native 2
pings=$(in_c 1 ping -f -q -w 2 "$TOPO_WORLD_V4" 2>&1 | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')
check auto_kernel_path_to_tc "state $(auto_state) after 2 s of ping -f (${pings:-?} echo requests); tune log: $(tail -2 "$TOPO_TMP/tune.log" | tr '\n' ' ')" \
	wait_state tc 2
why=$(xe status --json | jq -r '.attachments[0].auto.why')
check auto_kernel_path_why "auto.why is '$why'" grep -q "the kernel path took .* over the last 1 window of" <<<"$why"
udp_small 4 >/dev/null
check auto_native_after_kernel_path "state $(auto_state) after a UDP flood" wait_state native 2
tune_stop
# A frame native XDP passes must be judged once: the first datagram of a
# new flow goes to the kernel from XDP (pass_new_flow), marked so that the
# tc program behind leaves it alone: counted once, one conntrack entry,
# the world receives it once, translated by the kernel.
world_capture_start "udp and dst port 9"
s0=$(stats_json)
py_in "$C" udpx "$TOPO_WORLD_V4" 9 45123 1 0 >/dev/null
wait_until 3 grep -q '192.0.2.1' "$TOPO_TMP/capture.txt"
world_capture_stop
nf=$(($(counter "$(stats_json)" pass_new_flow) - $(counter "$s0" pass_new_flow)))
ct=$(in_host conntrack -L -p udp --sport 45123 2>/dev/null | grep -c 'dport=9 ')
got=$(grep -c '192.0.2.1\.[0-9]* > 192.0.2.2\.9:' "$TOPO_TMP/capture.txt")
check auto_native_pass_judged_once "one datagram of a new flow with native XDP in front: pass_new_flow +$nf (want 1), conntrack entries $ct (want 1), the world received $got from 192.0.2.1 (want 1): $(tr '\n' ' ' <"$TOPO_TMP/capture.txt")" \
	test "$nf" = 1 -a "$ct" = 1 -a "$got" = 1
xdp_prog=$(bpftool net show dev vc1 2>/dev/null | sed -nE 's/.*id ([0-9]+).*/\1/p' | head -1)
[ -n "$xdp_prog" ] || xdp_prog=$(ip -n "$TOPO_HOST" -d -j link show vc1 | jq -r '.[0].xdp.prog.id // 0')
cw=$(($(nstat_csum_errors "$W") - csum0))
check auto_world_checksums "the world counted $cw checksum errors across the switches" test "$cw" -eq 0
if xe_capture detach --ifname vc1; then
	ok auto_detach
	sed 's/^/#   /' <<<"$XE_OUT"
else
	fail auto_detach "detach exited $XE_RC: $XE_ERR"
fi
check auto_detach_no_xdp "an XDP program is left on a namespace of ours" no_xdp_anywhere
check auto_detach_ns_state "after detach: $(ns_state_brief)" ns_state_gone
check auto_detach_progs_gone "program $tc_prog (tc) or $xdp_prog (xdp) is still loaded" \
	eval 'prog_gone "$tc_prog" && prog_gone "${xdp_prog:-0}"'
check auto_detach_pins_gone "pins left under $XDP_EGRESS_BPFFS" pins_gone
after=$(offload_snapshot)
check auto_detach_restores_offloads "offloads differ after detach: $(diff <(echo "$before") <(echo "$after") | head -4 | tr '\n' ' ')" \
	test "$before" = "$after"

# A container MTU native XDP cannot take: auto stays on tc, and says why.
ip -n "$C" link set eth0 mtu 9000
ip -n "$TOPO_HOST" link set vc1 mtu 9000
if xe_capture attach --ifname vc1 --mode auto --uplink up0; then
	ok auto_mtu9000_attach
	xe_tune_start
	udp_small 3 >/dev/null
	tune_stop
	blocked=$(xe status --json | jq -r '.attachments[0].auto.native_blocked // empty')
	check auto_mtu9000_stays_tc "state $(auto_state), native_blocked '$blocked'" \
		test "$(auto_state)" = tc -a -n "$blocked"
	xe status | grep -q "stays on tc" && ok auto_mtu9000_status_says || fail auto_mtu9000_status_says "status does not say why auto stays on tc"
	xe_capture detach --ifname vc1 || fail auto_mtu9000_detach "detach exited $XE_RC: $XE_ERR"
else
	fail auto_mtu9000_attach "attach --mode auto with MTU 9000 exited $XE_RC: $XE_ERR"
fi
ip -n "$C" link set eth0 mtu 1500
ip -n "$TOPO_HOST" link set vc1 mtu 1500

# Bad input.
xe_capture tune --interval 0
check auto_tune_bad_interval "tune --interval 0: rc $XE_RC, '$XE_ERR'" \
	eval '[ "$XE_RC" = 2 ] && grep -q "between 0.05" <<<"$XE_ERR"'
xe_capture attach --ifname vc1 --mode fast
check auto_bad_mode "attach --mode fast: rc $XE_RC, '$XE_ERR'" \
	eval '[ "$XE_RC" = 2 ] && grep -q "tc or auto" <<<"$XE_ERR"'
xe_capture tune --interval 0.1 --count 3
check auto_tune_nothing_to_do "tune with no auto attachment: rc $XE_RC, '$XE_ERR'" test "$XE_RC" = 0

exit $((TOPO_FAILED > 0))
