#!/bin/bash
# Attaching twice (same form, another form, another mode: native, generic
# and tc, each on top of each) is an error that says "already attached" (or
# a no-op saying so): never a second program (XDP or tcx), never a replaced
# program (the uplink's return-path program included), and the first
# attach's fixes, its agent and its nft table stay in place and traffic
# keeps flowing on the fast path. In tc mode the container keeps TSO and
# tx-checksumming. Detach frees the programs and stops the agent; detaching
# what is not attached is a clear error.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe attach_twice

topo_create 1 || { fail attach_twice_setup "could not build the namespaces"; exit 1; }
C=${TOPO_C[1]}
snat_tools
start_py_server udp 7 "$TOPO_TMP/peers" || { fail attach_twice_setup "the world's UDP echo did not start"; exit 1; }
SPORT=5000

# vc1_progs: the programs on vc1, XDP and tcx: "xdp ID|none tcx ID,..."
vc1_progs() {
	echo "xdp $(ip -n "$TOPO_HOST" -d -j link show vc1 | jq -r '.[0].xdp.prog.id // "none"')" \
		"tcx $(tcx_prog_ids "$TOPO_HOST" vc1 2>&1 | paste -sd, -)"
}

for mode in native generic tc; do
	t=attach_twice_$mode
	c_before=$(offloads "$C" eth0)
	w_before=$(offloads "$TOPO_WORLD" eth0)
	if ! xe_capture attach --ifname vc1 --mode "$mode" --uplink up0; then
		fail "${t}_first" "attach exited $XE_RC: $XE_ERR"
		continue
	fi
	ok "${t}_first"
	prog=$(attached_prog_id vc1)
	progs=$(vc1_progs)
	up_prog=$(uplink_prog_on up0)
	apid=$(agent_pid)
	# Where the program is: XDP on vc1, or tcx ingress (and no XDP on vc1);
	# plus the return path on up0 (tc there where the kernel has tcx, else
	# generic XDP).
	if [ "$mode" = tc ]; then want="xdp none tcx $prog"; nxdp=0; else want="xdp $prog tcx "; nxdp=1; fi
	has_tcx || nxdp=$((nxdp + 1))
	check "${t}_first_program" "status records program $prog, vc1 has: $progs (want: $want); XDP in the host: $(xdp_progs "$TOPO_HOST" | tr '\n' ';')" \
		test "$progs" = "$want" -a "$(xdp_prog_count "$TOPO_HOST")" = "$nxdp" -a -n "$up_prog"
	c_fixed=$(offloads "$C" eth0)
	w_fixed=$(offloads "$TOPO_WORLD" eth0)
	if [ "$mode" = tc ]; then
		tso=$(offload "$C" eth0 tcp-segmentation-offload)
		csum=$(offload "$C" eth0 tx-checksumming)
		# Only GRO changes (on: the return path redirects into the veth).
		check "${t}_container_keeps_offloads" "container eth0: tcp-segmentation-offload $tso, tx-checksumming $csum (tc mode must leave both on); offload changes: $(diff <(echo "$c_before") <(echo "$c_fixed") | grep '^[<>]' | tr '\n\t' '  ')" \
			test "$tso" = on -a "$csum" = on -a "$(grep -v generic-receive-offload <<<"$c_fixed")" = "$(grep -v generic-receive-offload <<<"$c_before")"
	fi

	for again in same netns native generic tc; do
		case $again in
		same) args=(--ifname vc1 --mode "$mode" --uplink up0) ;;
		netns) args=(--netns "$C" --mode "$mode" --uplink up0) ;;
		"$mode") continue ;;
		*) args=(--ifname vc1 --mode "$again" --uplink up0); again=mode_$again ;;
		esac
		xe_capture attach "${args[@]}"
		msg="$XE_OUT $XE_ERR"
		if { [ "$XE_RC" -ne 0 ] && [[ "$XE_ERR" == xdp-egress:* ]] && grep -qi 'already' <<<"$XE_ERR"; } ||
			{ [ "$XE_RC" -eq 0 ] && grep -qi 'already' <<<"$msg"; }; then
			ok "${t}_${again}_says_already"
		else
			fail "${t}_${again}_says_already" "second attach ${args[*]} exited $XE_RC and said: $(tr '\n' ' ' <<<"$msg")"
		fi
		if [ "$(xdp_prog_count "$TOPO_HOST")" = "$nxdp" ] && [ "$(vc1_progs)" = "$progs" ] &&
			[ "$(uplink_prog_on up0)" = "$up_prog" ]; then
			ok "${t}_${again}_one_program"
		else
			fail "${t}_${again}_one_program" "want only program $prog on vc1 ($progs) and $up_prog on up0, vc1 has: $(vc1_progs); XDP in the host: $(xdp_progs "$TOPO_HOST" | tr '\n' ';')"
		fi
		# A refused attach must not undo what the first one set up.
		if [ "$(offloads "$C" eth0)" = "$c_fixed" ] && [ "$(offloads "$TOPO_WORLD" eth0)" = "$w_fixed" ] &&
			[ "$(xe status --json 2>/dev/null | jq '.attachments | length')" = 1 ] &&
			[ "$(agent_pid)" = "$apid" ] && pid_alive "$apid" && nft_table_present; then
			ok "${t}_${again}_state_kept"
		else
			fail "${t}_${again}_state_kept" "the refused attach changed offloads, status, the agent ($apid, now $(agent_pid)) or the nft table: $(diff <(echo "$c_fixed") <(offloads "$C" eth0) | tr '\n' ' ') status: $(xe status --json 2>&1 | tr -d '\n' | head -c 600); $(ns_state_brief)"
		fi
	done

	# A UDP request/response flow: its first datagram is the kernel's, the
	# rest are carried once the reply made the kernel's entry established.
	s0=$(counter "$(stats_json)" redirected)
	SPORT=$((SPORT + 1))
	out=$(py_in "$C" udpx "$TOPO_WORLD_V4" 7 "$SPORT" 5 0.05)
	if jq -e '.replies == 5' <<<"$out" >/dev/null 2>&1 &&
		[ "$(counter "$(stats_json)" redirected)" -ge $((s0 + 3)) ]; then
		ok "${t}_still_redirects"
	else
		fail "${t}_still_redirects" "after the refused attaches a UDP flow got $out or was not redirected: $(counters_brief "$(stats_json)")"
	fi

	if xe_capture detach --ifname vc1 && no_xdp_anywhere && pins_gone && prog_gone "$prog" && ns_state_gone &&
		[ "$(vc1_progs)" = "xdp none tcx " ] &&
		[ "$(offloads "$C" eth0)" = "$c_before" ] && [ "$(offloads "$TOPO_WORLD" eth0)" = "$w_before" ]; then
		ok "${t}_detach"
	else
		fail "${t}_detach" "detach rc $XE_RC ($XE_ERR); vc1: $(vc1_progs); program $prog $(prog_gone "$prog" && echo gone || echo 'still loaded'); $(ns_state_brief); XDP: $(xdp_progs "$TOPO_HOST" | tr '\n' ';') pins: $(ls -A "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ') container offloads diff: $(diff <(echo "$c_before") <(offloads "$C" eth0) | tr '\n' ' ')"
	fi

	xe_capture detach --ifname vc1
	if [ "$XE_RC" -ne 0 ] && [[ "$XE_ERR" == xdp-egress:* ]] && grep -qiE 'not attached|no attachment|nothing' <<<"$XE_ERR"; then
		ok "${t}_detach_again_errors"
	else
		fail "${t}_detach_again_errors" "second detach exited $XE_RC and said: $(tr '\n' ' ' <<<"$XE_OUT $XE_ERR")"
	fi
	if [ "$(offloads "$C" eth0)" = "$c_before" ] && [ "$(offloads "$TOPO_WORLD" eth0)" = "$w_before" ] && pins_gone; then
		ok "${t}_detach_again_harmless"
	else
		fail "${t}_detach_again_harmless" "the second detach changed offloads or left pins"
	fi
done

exit $((TOPO_FAILED > 0))
