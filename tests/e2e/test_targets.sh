#!/bin/bash
# Every TARGET form names the same attachment: --ifname HOSTVETH,
# --netns NAME, --netns /proc/PID/ns/net and --pid PID, in native and generic
# mode. status --json shows it with its mode; detach by the same form
# removes it. Also: the uplink defaults to the host's default-route device,
# and --container-if picks one of two container interfaces.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe targets

topo_create 2 || { fail targets_setup "could not build the namespaces"; exit 1; }
snat_tools
start_py_server udp 7 "$TOPO_TMP/peers" || { fail targets_setup "the world's UDP echo did not start"; exit 1; }
C1=${TOPO_C[1]}
C2=${TOPO_C[2]}
# Container 2 gets a second interface, eth1 <-> vc2b.
ip -n "$TOPO_HOST" link add vc2b type veth peer name eth1 netns "$C2"
ip -n "$TOPO_HOST" link set vc2b up
ip -n "$C2" link set eth1 up
# A process living in container 1, for --pid and /proc/PID/ns/net.
bg "$C1" sleep 600
SLEEP_PID=$BG_PID

ifindex_of() { ip -n "$TOPO_HOST" -j link show "$1" | jq '.[0].ifindex'; }
VC1_IFINDEX=$(ifindex_of vc1)

# The part of an attachment that must not depend on how it was named.
# uplinks may be names or {ifname, ...} objects; the container's interface
# may be .container_if or .container.ifname: the contract leaves room.
project='.attachments | map({ifname, ifindex, mode,
	uplinks: [.uplinks[]? | if type == "object" then .ifname else . end],
	container_if: (.container_if // .container.ifname)})'
uplinks_are='[.attachments[0].uplinks[]? | if type == "object" then .ifname else . end] == $want'

# attach_detach LABEL MODE WANT_IFNAME TARGET...: attach by TARGET, check
# status and the kernel's view, detach by the same TARGET.
attach_detach() {
	local label=$1 mode=$2 want=$3 st n got_if got_mode kmode want_kmode
	shift 3
	local t="targets_${mode}_$label"
	ATTACHMENT=""
	if ! xe_capture attach "$@" --mode "$mode" --uplink up0; then
		fail "${t}_attach" "attach $* --mode $mode exited $XE_RC: $XE_ERR"
		return
	fi
	ok "${t}_attach"

	st=$(xe status --json 2>/dev/null)
	n=$(jq '.attachments | length' <<<"$st" 2>/dev/null)
	got_if=$(jq -r '.attachments[0].ifname' <<<"$st" 2>/dev/null)
	got_mode=$(jq -r '.attachments[0].mode' <<<"$st" 2>/dev/null)
	if [ "$n" = 1 ] && [ "$got_if" = "$want" ] && [ "$got_mode" = "$mode" ] &&
		jq -e --argjson want '["up0"]' "$uplinks_are" <<<"$st" >/dev/null 2>&1 &&
		[ -n "$(jq -r '.attachments[0].mode_reason // empty' <<<"$st")" ]; then
		ok "${t}_status"
		ATTACHMENT=$(jq -c "$project" <<<"$st")
	else
		fail "${t}_status" "want one attachment on $want in mode $mode with uplink up0 and a mode_reason, status --json printed: $(tr -d '\n' <<<"$st")"
	fi

	want_kmode=1
	[ "$mode" = generic ] && want_kmode=2
	kmode=$(ip -n "$TOPO_HOST" -d -j link show "$want" | jq '.[0].xdp.mode // 0')
	# The egress XDP program on $want, and the return path on up0 (tc
	# where the kernel has tcx, else a second XDP program).
	nxdp=1
	has_tcx || nxdp=2
	if [ "$(xdp_prog_count "$TOPO_HOST")" = "$nxdp" ] && [ "$kmode" = "$want_kmode" ] && [ -n "$(uplink_prog_on up0)" ]; then
		ok "${t}_kernel"
	else
		fail "${t}_kernel" "want $nxdp XDP programs, on $want in kernel mode $want_kmode (and on up0 without tcx), the return path on up0 ('$(uplink_prog_on up0)'); ip -d link shows: $(xdp_progs "$TOPO_HOST" | tr '\n' ';')"
	fi

	if ! xe_capture detach "$@"; then
		fail "${t}_detach" "detach $* exited $XE_RC: $XE_ERR"
		return
	fi
	if no_xdp_anywhere && pins_gone && ns_state_gone &&
		[ "$(xe status --json 2>/dev/null | jq '.attachments | length')" = 0 ]; then
		ok "${t}_detach"
	else
		fail "${t}_detach" "after detach $*: XDP programs: $(xdp_progs "$TOPO_HOST" | tr '\n' ';') pins: $(ls -A "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ') $(ns_state_brief) status: $(xe status --json 2>&1 | tr -d '\n')"
	fi
}

for mode in native generic; do
	ref=""
	for form in ifname netns_name netns_path pid; do
		case $form in
		ifname) args=(--ifname vc1) ;;
		netns_name) args=(--netns "$C1") ;;
		netns_path) args=(--netns "/proc/$SLEEP_PID/ns/net") ;;
		pid) args=(--pid "$SLEEP_PID") ;;
		esac
		attach_detach "$form" "$mode" vc1 "${args[@]}"
		[ -z "$ATTACHMENT" ] && continue
		if [ -z "$ref" ]; then
			ref=$ATTACHMENT
			if jq -e --argjson i "$VC1_IFINDEX" '.[0].ifindex == $i' <<<"$ref" >/dev/null; then
				ok "targets_${mode}_ifindex"
			else
				fail "targets_${mode}_ifindex" "status ifindex is not vc1's ($VC1_IFINDEX): $ref"
			fi
		elif [ "$ATTACHMENT" = "$ref" ]; then
			ok "targets_${mode}_${form}_same"
		else
			fail "targets_${mode}_${form}_same" "--${form%%_*} gave $ATTACHMENT, --ifname gave $ref"
		fi
	done
	# --container-if picks one of container 2's two interfaces.
	attach_detach container_if_eth1 "$mode" vc2b --netns "$C2" --container-if eth1
	attach_detach container_if_eth0 "$mode" vc2 --netns "$C2" --container-if eth0
done

# Without --mode: auto (the tc path; native XDP in front only when a
# tuner asks), and status says why.
if xe_capture attach --ifname vc1 --uplink up0; then
	st=$(xe status --json 2>/dev/null)
	if jq -e '.attachments[0] | .mode == "auto" and .auto.state == "tc" and (.auto.native_blocked == null) and (.mode_reason | test("default"))' <<<"$st" >/dev/null 2>&1; then
		ok targets_default_mode
		log "default mode: $(jq -r '.attachments[0] | "\(.mode): \(.mode_reason)"' <<<"$st")"
	else
		fail targets_default_mode "want auto (state tc, native possible) with a mode_reason, status: $(tr -d '\n\t' <<<"$st")"
	fi
	xe detach --ifname vc1 >/dev/null 2>&1
else
	fail targets_default_mode "attach --ifname vc1 without --mode exited $XE_RC: $XE_ERR"
fi

# Without --uplink the uplink is the device of the host's default route.
if xe_capture attach --ifname vc1 --mode native; then
	st=$(xe status --json 2>/dev/null)
	if jq -e --argjson want '["up0"]' "$uplinks_are" <<<"$st" >/dev/null 2>&1; then
		ok targets_default_uplink
	else
		fail targets_default_uplink "want uplinks [\"up0\"] (the default route's device), status: $(tr -d '\n' <<<"$st")"
	fi
	# A UDP request/response flow: carried once the kernel saw the reply.
	out=$(py_in "$C1" udpx "$TOPO_WORLD_V4" 7 5001 5 0.05)
	if jq -e '.replies == 5' <<<"$out" >/dev/null 2>&1 &&
		[ "$(counter "$(stats_json)" redirected)" -ge 3 ]; then
		ok targets_default_uplink_traffic
	else
		fail targets_default_uplink_traffic "a UDP flow through the default uplink got $out or was not redirected: $(counters_brief "$(stats_json)")"
	fi
	xe detach --ifname vc1 >/dev/null 2>&1
else
	fail targets_default_uplink "attach --ifname vc1 without --uplink exited $XE_RC: $XE_ERR"
fi

exit $((TOPO_FAILED > 0))
