#!/bin/bash
# attach makes (and prints) the fixes the kernel needs, detach undoes every
# one of them: native mode turns the container's tx-checksumming off and the
# uplink peer's GRO on, generic mode turns the container's TSO off, every
# mode turns the container's GRO on (the return path redirects into its
# veth), and the return path's native XDP on the uplink turns the uplink
# peer's tx-checksumming off (generic: its TSO). attach also makes
# conntrack run (nft table inet xdp_egress), puts the return-path program
# on the uplink and starts the agent. After detach: no XDP program (the
# uplink's included), no pins, no nft table, no agent, and `ethtool -k` of
# the container's eth0, the host's veth and the uplink's peer exactly as
# before attach, also when they were not at their defaults before. Also:
# detach after the container vanished.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe detach

topo_create 2 || { fail detach_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
W=$TOPO_WORLD

# round NAME MODE [ATTACH_ARGS...]: attach, check the fixes and their
# report, detach, check everything is as before.
round() {
	local t=$1 mode=$2 c_before w_before h_before fixes st apid upmode=tc
	shift 2
	# up0 is a veth: the return path runs tc (tcx) unless told otherwise,
	# generic XDP on a kernel without tcx.
	has_tcx || upmode=generic
	[[ " $* " == *" --uplink-mode native "* ]] && upmode=native
	[[ " $* " == *" --uplink-mode generic "* ]] && upmode=generic
	c_before=$(offloads "$C" eth0)
	w_before=$(offloads "$W" eth0)
	h_before=$(offloads "$TOPO_HOST" vc1)
	if ! xe_capture attach --ifname vc1 --mode "$mode" --uplink up0 "$@"; then
		fail "${t}_attach" "attach exited $XE_RC: $XE_ERR"
		return
	fi
	ok "${t}_attach"
	sed 's/^/#   /' <<<"$XE_OUT"
	st=$(xe status --json 2>/dev/null)
	fixes=$(jq -r '.attachments[0].fixes | map(if type == "string" then . else "\(.offload // "") of \(.ifname // "") \(if .now then "on" else "off" end)" end) | join("; ")' <<<"$st" 2>/dev/null)
	log "status fixes: $fixes"
	apid=$(jq -r '.namespace.agent_pid // 0' <<<"$st")
	check "${t}_agent_runs" "status names agent '$apid'; $(ns_state_brief)" pid_alive "$apid"
	check "${t}_conntrack_table" "no nft table inet xdp_egress while attached" nft_table_present
	want_xmode=1
	[ "$upmode" = generic ] && want_xmode=2
	[ "$upmode" = tc ] && want_xmode=0
	check "${t}_return_path_$upmode" "up0's XDP mode is '$(ip -n "$TOPO_HOST" -d -j link show up0 | jq -r '.[0].xdp.mode // "none"')' (want $want_xmode), its tcx programs '$(tcx_on up0)', the record's return path '$(jq -r '.attachments[0].return_path' <<<"$st")'" \
		eval 'test "$(ip -n "$TOPO_HOST" -d -j link show up0 | jq -r ".[0].xdp.mode // 0")" = "$want_xmode" &&
			test "$(jq -r ".attachments[0].return_path" <<<"$st")" = "$upmode" &&
			if [ "$upmode" = tc ]; then [ -n "$(tcx_on up0)" ]; else [ -z "$(tcx_on up0)" ]; fi'
	check "${t}_container_gro_on" "container eth0 GRO is $(offload "$C" eth0 generic-receive-offload): the return path redirects into its veth" \
		test "$(offload "$C" eth0 generic-receive-offload)" = on
	if [ "$upmode" = native ]; then
		check "${t}_uplink_peer_txcsum_off" "the uplink's peer (world eth0) has tx-checksumming $(offload "$W" eth0 tx-checksumming) under native XDP on up0" \
			test "$(offload "$W" eth0 tx-checksumming)" = off
	elif [ "$upmode" = generic ]; then
		check "${t}_uplink_peer_tso_off" "the uplink's peer (world eth0) has TSO $(offload "$W" eth0 tcp-segmentation-offload) under generic XDP on up0" \
			test "$(offload "$W" eth0 tcp-segmentation-offload)" = off
	else
		check "${t}_uplink_peer_offloads_kept" "the uplink's peer (world eth0) has TSO $(offload "$W" eth0 tcp-segmentation-offload), tx-checksumming $(offload "$W" eth0 tx-checksumming) under the tc return path (want both as before)" \
			test "$(offload "$W" eth0 tcp-segmentation-offload) $(offload "$W" eth0 tx-checksumming)" = \
			     "$(awk '$1 == "tcp-segmentation-offload:" { t = $2 } $1 == "tx-checksumming:" { c = $2 } END { print t, c }' <<<"$w_before")"
	fi

	if [ "$mode" = native ]; then
		if [ "$(offload "$C" eth0 tx-checksumming)" = off ]; then
			ok "${t}_container_txcsum_off"
		else
			fail "${t}_container_txcsum_off" "container eth0 tx-checksumming is $(offload "$C" eth0 tx-checksumming) while native XDP is attached"
		fi
		if [ "$(offload "$W" eth0 generic-receive-offload)" = on ]; then
			ok "${t}_uplink_peer_gro_on"
		else
			fail "${t}_uplink_peer_gro_on" "the uplink's peer (world eth0) has GRO $(offload "$W" eth0 generic-receive-offload)"
		fi
		# Report each change made, and only changes made.
		if [ "$(grep -o 'tx-checksumming: on' <<<"$c_before")" ]; then
			check "${t}_reports_txcsum" "attach output does not mention the checksum change: $(tr '\n' ' ' <<<"$XE_OUT $XE_ERR")" \
				grep -qiE 'checksum' <<<"$XE_OUT $XE_ERR $fixes"
		fi
		if [ "$(grep -o 'generic-receive-offload: off' <<<"$w_before")" ]; then
			check "${t}_reports_gro" "attach output does not mention the GRO change: $(tr '\n' ' ' <<<"$XE_OUT $XE_ERR")" \
				grep -qiE 'gro|generic-receive' <<<"$XE_OUT $XE_ERR $fixes"
		fi
	elif [ "$mode" = tc ]; then
		check "${t}_container_keeps_tso_csum" "container eth0: TSO $(offload "$C" eth0 tcp-segmentation-offload), tx-checksumming $(offload "$C" eth0 tx-checksumming) (tc mode keeps both)" \
			test "$(offload "$C" eth0 tcp-segmentation-offload) $(offload "$C" eth0 tx-checksumming)" = "on on"
	else
		if [ "$(offload "$C" eth0 tcp-segmentation-offload)" = off ]; then
			ok "${t}_container_tso_off"
		else
			fail "${t}_container_tso_off" "container eth0 TSO is $(offload "$C" eth0 tcp-segmentation-offload) while generic XDP is attached"
		fi
		if [ "$(grep -o 'tcp-segmentation-offload: on' <<<"$c_before")" ]; then
			check "${t}_reports_tso" "attach output does not mention the TSO change: $(tr '\n' ' ' <<<"$XE_OUT $XE_ERR")" \
				grep -qiE 'tso|segmentation' <<<"$XE_OUT $XE_ERR $fixes"
		fi
	fi

	if ! xe_capture detach --ifname vc1; then
		fail "${t}_detach" "detach exited $XE_RC: $XE_ERR"
		return
	fi
	sed 's/^/#   /' <<<"$XE_OUT"
	if [ "$(xdp_prog_count "$TOPO_HOST")" = 0 ] && [ -z "$(tcx_prog_ids "$TOPO_HOST" vc1)" ]; then
		ok "${t}_no_xdp"
	else
		fail "${t}_no_xdp" "after detach: XDP $(xdp_progs "$TOPO_HOST" | tr '\n' ';') tcx on vc1: $(tcx_prog_ids "$TOPO_HOST" vc1 | tr '\n' ' ')"
	fi
	check "${t}_agent_stopped" "agent $apid still runs after detach; $(ns_state_brief)" \
		eval '! pid_alive "$apid" && [ -z "$(xe_procs)" ]'
	check "${t}_conntrack_table_removed" "the nft table inet xdp_egress is still there after detach" \
		eval '! nft_table_present'
	check "${t}_status_empty" "status --json after detach: $(xe status --json 2>&1 | tr -d '\n')" \
		eval '[ "$(xe status --json 2>/dev/null | jq -c "[(.attachments | length), .namespace]")" = "[0,null]" ]'

	if [ ! -e "$XDP_EGRESS_BPFFS" ]; then
		ok "${t}_pins_removed"
	elif pins_gone; then
		ok "${t}_pins_removed"
		log "pin root $XDP_EGRESS_BPFFS left behind, empty"
	else
		fail "${t}_pins_removed" "pins left under $XDP_EGRESS_BPFFS: $(find "$XDP_EGRESS_BPFFS" | tr '\n' ' ')"
	fi
	if [ "$(offloads "$C" eth0)" = "$c_before" ]; then
		ok "${t}_container_offloads_restored"
	else
		fail "${t}_container_offloads_restored" "ethtool -k eth0 in the container differs (before/after): $(diff <(echo "$c_before") <(offloads "$C" eth0) | grep '^[<>]' | tr '\n\t' '  ')"
	fi
	if [ "$(offloads "$W" eth0)" = "$w_before" ]; then
		ok "${t}_uplink_peer_offloads_restored"
	else
		fail "${t}_uplink_peer_offloads_restored" "ethtool -k eth0 in the world differs (before/after): $(diff <(echo "$w_before") <(offloads "$W" eth0) | grep '^[<>]' | tr '\n\t' '  ')"
	fi
	if [ "$(offloads "$TOPO_HOST" vc1)" = "$h_before" ]; then
		ok "${t}_host_veth_offloads_restored"
	else
		fail "${t}_host_veth_offloads_restored" "ethtool -k vc1 differs (before/after): $(diff <(echo "$h_before") <(offloads "$TOPO_HOST" vc1) | grep '^[<>]' | tr '\n\t' '  ')"
	fi
}

# From the defaults.
round detach_native native
round detach_generic generic
round detach_tc tc
round detach_native_uplink_native native --uplink-mode native
round detach_tc_uplink_native tc --uplink-mode native
round detach_tc_uplink_generic tc --uplink-mode generic

# From non-default states: what was already off stays off, what was already
# on stays on (restore means "as before", not "to the default").
in_c 1 ethtool -K eth0 tx off >/dev/null 2>&1
in_world ethtool -K eth0 gro on >/dev/null 2>&1
round detach_native_preset native
in_c 1 ethtool -K eth0 tx on tso off >/dev/null 2>&1
in_world ethtool -K eth0 gro off >/dev/null 2>&1
round detach_generic_preset generic
in_c 1 ethtool -K eth0 tso on >/dev/null 2>&1

# A table inet xdp_egress that was there before attach (an operator's, with
# a chain of its own) is not ours to remove: attach adds only its conntrack
# chain, and the last detach removes only that.
in_host nft add table inet xdp_egress
in_host nft add chain inet xdp_egress operators_own
if xe_capture attach --ifname vc1 --mode tc --uplink up0 && xe_capture detach --ifname vc1; then
	check detach_preexisting_table_kept "detach removed the table inet xdp_egress (or its chain operators_own) that existed before attach" \
		in_host nft list chain inet xdp_egress operators_own
	check detach_own_chain_removed "detach left its chain inet xdp_egress conntrack behind" \
		eval '! in_host nft list chain inet xdp_egress conntrack >/dev/null 2>&1'
else
	fail detach_preexisting_table_kept "attach/detach with a table inet xdp_egress already there: rc $XE_RC: $XE_ERR"
fi
in_host nft delete table inet xdp_egress

# The container goes away while attached (its netns is deleted, the veth pair
# with it). detach by the host veth's name must still clean up the pins and
# the uplink peer's GRO.
w_before=$(offloads "$W" eth0)
if xe_capture attach --ifname vc2 --mode native --uplink up0; then
	ip netns del "${TOPO_C[2]}"
	# The kernel destroys the namespace's devices (the veth pair) after
	# the netns is deleted, in a work queue.
	wait_until 5 link_gone "$TOPO_HOST" vc2 ||
		fail detach_vanished_container_setup "vc2 still exists 5 s after its container's netns was deleted"
	xe_capture detach --ifname vc2
	log "detach of a vanished container: rc $XE_RC: $(tr '\n' ' ' <<<"$XE_OUT $XE_ERR")"
	if pins_gone && [ "$(xe status --json 2>/dev/null | jq '.attachments | length')" = 0 ]; then
		ok detach_vanished_container_pins
	else
		fail detach_vanished_container_pins "after the container's netns was deleted, detach --ifname vc2 exited $XE_RC ($(tr '\n' ' ' <<<"$XE_ERR")) and left pins: $(find "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ') status: $(xe status --json 2>&1 | tr -d '\n')"
	fi
	if [ "$(offloads "$W" eth0)" = "$w_before" ]; then
		ok detach_vanished_container_gro_restored
	else
		fail detach_vanished_container_gro_restored "the uplink peer's offloads differ after the vanished container's detach: $(diff <(echo "$w_before") <(offloads "$W" eth0) | grep '^[<>]' | tr '\n\t' '  ')"
	fi
	check detach_vanished_container_ns_state "after the vanished container's detach: $(ns_state_brief)" ns_state_gone
else
	fail detach_vanished_container_pins "attach --ifname vc2 exited $XE_RC: $XE_ERR"
fi

exit $((TOPO_FAILED > 0))
