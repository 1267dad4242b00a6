#!/bin/bash
# Two containers attached at once (one native, one generic): status lists
# both with their modes, stats counts each apart and the total is their sum,
# stats TARGET shows only that interface. They share the namespace's agent,
# nft table and the return-path program on the uplink: detaching one leaves
# the other attached and working with all three, detaching the last removes
# them and the pins.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe multi

topo_create 2 || { fail multi_setup "could not build the namespaces"; exit 1; }
snat_tools
start_py_server udp 7 "$TOPO_TMP/peers" || { fail multi_setup "the world's UDP echo did not start"; exit 1; }
# udp_flow N SPORT COUNT: one UDP request/response flow from container N;
# succeeds when every datagram was answered. Its first datagram is the
# kernel's (a new flow), the others are carried.
udp_flow() {
	py_in "${TOPO_C[$1]}" udpx "$TOPO_WORLD_V4" 7 "$2" "$3" 0.05 | jq -e --argjson n "$3" '.replies == $n' >/dev/null
}

if xe_capture attach --ifname vc1 --mode native --uplink up0 &&
	xe_capture attach --netns "${TOPO_C[2]}" --mode generic --uplink up0; then
	ok multi_attach_both
else
	fail multi_attach_both "attach exited $XE_RC: $XE_ERR"
	exit 1
fi

st=$(xe status --json 2>/dev/null)
if jq -e '(.attachments | length) == 2 and
	(.attachments | map({(.ifname): .mode}) | add) == {"vc1": "native", "vc2": "generic"}' <<<"$st" >/dev/null 2>&1; then
	ok multi_status
else
	fail multi_status "want vc1 native and vc2 generic, status --json: $(tr -d '\n' <<<"$st")"
fi
# The human-readable forms work too.
xe_capture status
if [ "$XE_RC" -eq 0 ] && grep -q vc1 <<<"$XE_OUT" && grep -q vc2 <<<"$XE_OUT"; then
	ok multi_status_text
else
	fail multi_status_text "status (text) exited $XE_RC or does not name both veths: $(tr '\n' ' ' <<<"$XE_OUT $XE_ERR")"
fi
xe_capture stats
if [ "$XE_RC" -eq 0 ] && grep -qi redirect <<<"$XE_OUT"; then
	ok multi_stats_text
else
	fail multi_stats_text "stats (text) exited $XE_RC or does not show the redirected counter: $(tr '\n' ' ' <<<"$XE_OUT $XE_ERR")"
fi

APID=$(agent_pid)
UP_PROG=$(uplink_prog_on up0)
check multi_shared_state "one agent ($APID) and one return-path program on up0 ($UP_PROG) for both: $(ns_state_brief)" \
	eval 'pid_alive "$APID" && [ "$(xe_procs)" = "$APID" ] && [ -n "$UP_PROG" ] && nft_table_present'

udp_flow 1 5001 7
udp_flow 2 5002 3

s=$(stats_json)
r1=$(jq '.interfaces[] | select(.ifname == "vc1") | .counters.redirected.packets' <<<"$s" 2>/dev/null)
r2=$(jq '.interfaces[] | select(.ifname == "vc2") | .counters.redirected.packets' <<<"$s" 2>/dev/null)
if [ "${r1:-0}" -ge 5 ] && [ "${r1:-0}" -le 6 ] && [ "${r2:-0}" -ge 1 ] && [ "${r2:-0}" -le 2 ]; then
	ok multi_stats_per_interface
else
	fail multi_stats_per_interface "want vc1 5..6 and vc2 1..2 redirected (flows of 7 and 3 datagrams, the first of each the kernel's), got vc1=${r1:-?} vc2=${r2:-?}: $(tr -d '\n' <<<"$s")"
fi
# Every counter of the total is the sum over the interfaces.
if jq -e '. as $s | [$s.interfaces[].counters | to_entries[]] | group_by(.key) |
	all(.[0].key as $k | (map(.value.packets) | add) == $s.total[$k].packets and
	                     (map(.value.bytes) | add) == $s.total[$k].bytes)' <<<"$s" >/dev/null 2>&1 &&
	jq -e '(["redirected","pass_non_ip","pass_vlan","pass_no_neigh","pass_local","pass_fragment",
		"pass_ip_options","pass_ttl","pass_too_big","pass_fib_fail","pass_not_uplink","pass_l4_other",
		"drop_malformed","redirect_err"] - (.total | keys)) == []' <<<"$s" >/dev/null 2>&1; then
	ok multi_stats_total_is_sum
else
	fail multi_stats_total_is_sum "total is not the per-interface sum (or lacks some of the contract's 14 counters): $(tr -d '\n\t' <<<"$s")"
fi

s1=$(stats_json --ifname vc1)
if jq -e '(.interfaces | length) == 1 and .interfaces[0].ifname == "vc1"' <<<"$s1" >/dev/null 2>&1; then
	ok multi_stats_target
else
	fail multi_stats_target "stats --ifname vc1 --json should show only vc1: $(tr -d '\n' <<<"$s1")"
fi
s2=$(stats_json --netns "${TOPO_C[2]}")
if jq -e '(.interfaces | length) == 1 and .interfaces[0].ifname == "vc2"' <<<"$s2" >/dev/null 2>&1; then
	ok multi_stats_target_netns
else
	fail multi_stats_target_netns "stats --netns C2 --json should show only vc2: $(tr -d '\n' <<<"$s2")"
fi

# --watch keeps printing until stopped.
out=$(XE_TIMEOUT=3.5 xe stats --ifname vc1 --watch 1 2>&1)
rc=$?
n=$(grep -c '^ *vc1\b' <<<"$out")
if [ "$rc" = 124 ] && [ "$n" -ge 2 ]; then
	ok multi_stats_watch
else
	fail multi_stats_watch "stats --ifname vc1 --watch 1 for 3.5 s: rc $rc (want 124, killed by timeout), printed a vc1 line $n times (want >= 2): $(tr '\n' ' ' <<<"$out")"
fi

if xe_capture detach --ifname vc1; then
	st=$(xe status --json 2>/dev/null)
	v2=$(counter "$(stats_json --ifname vc2)" redirected)
	if jq -e '.attachments | length == 1 and .[0].ifname == "vc2"' <<<"$st" >/dev/null 2>&1 &&
		[ "$(xdp_progs "$TOPO_HOST" | cut -d' ' -f1 | sort | tr '\n' ' ')" = "$(has_tcx || echo -n 'up0 ')vc2 " ] &&
		[ "$(uplink_prog_on up0)" = "$UP_PROG" ] && [ "$(agent_pid)" = "$APID" ] && pid_alive "$APID" &&
		nft_table_present && udp_flow 2 5003 4 &&
		[ "$(counter "$(stats_json --ifname vc2)" redirected)" -ge $((v2 + 3)) ]; then
		ok multi_detach_one_keeps_other
	else
		fail multi_detach_one_keeps_other "after detaching vc1: status $(tr -d '\n' <<<"$st" | head -c 500), XDP $(xdp_progs "$TOPO_HOST" | tr '\n' ';') (up0 had $UP_PROG), agent $(agent_pid) (was $APID), $(ns_state_brief), vc2 counters $(counters_brief "$(stats_json --ifname vc2)")"
	fi
else
	fail multi_detach_one_keeps_other "detach --ifname vc1 exited $XE_RC: $XE_ERR"
fi

if xe_capture detach --netns "${TOPO_C[2]}" && no_xdp_anywhere && pins_gone && ns_state_gone && ! pid_alive "$APID"; then
	ok multi_detach_last
else
	fail multi_detach_last "detach --netns C2: rc $XE_RC ($XE_ERR); XDP $(xdp_progs "$TOPO_HOST" | tr '\n' ';'), pins $(find "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' '), $(ns_state_brief)"
fi

# detach --all (docs/usage.md) removes every attachment and restores every fix.
c1_before=$(offloads "${TOPO_C[1]}" eth0)
c2_before=$(offloads "${TOPO_C[2]}" eth0)
w_before=$(offloads "$TOPO_WORLD" eth0)
if xe_capture attach --ifname vc1 --mode native --uplink up0 &&
	xe_capture attach --ifname vc2 --mode native --uplink up0; then
	if xe_capture detach --all && no_xdp_anywhere && pins_gone && ns_state_gone &&
		[ "$(offloads "${TOPO_C[1]}" eth0)" = "$c1_before" ] &&
		[ "$(offloads "${TOPO_C[2]}" eth0)" = "$c2_before" ] &&
		[ "$(offloads "$TOPO_WORLD" eth0)" = "$w_before" ]; then
		ok multi_detach_all
	else
		fail multi_detach_all "detach --all: rc $XE_RC ($XE_ERR); XDP $(xdp_progs "$TOPO_HOST" | tr '\n' ';'), $(ns_state_brief), pins $(find "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' '), world GRO $(offload "$TOPO_WORLD" eth0 generic-receive-offload)"
	fi
else
	fail multi_detach_all "attach for detach --all exited $XE_RC: $XE_ERR"
fi

exit $((TOPO_FAILED > 0))
