#!/bin/bash
# Bad targets and options: attach exits non-zero with a message on stderr
# that starts with "xdp-egress:" and names what was wrong, and leaves
# nothing behind: no XDP program anywhere (the uplink's included), no pins,
# offloads unchanged, no nft table and no agent. Bad --source and
# --source-mac values, --source-mac for a container (its MAC is read from
# its interface) and the removed NAT options are refused the same way.
set -u
source "$(dirname "$0")/../lib/topo.sh"
source "$(dirname "$0")/../lib/checks.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe bad_targets

topo_create 3 || { fail bad_targets_setup "could not build the namespaces"; exit 1; }
C1=${TOPO_C[1]}
C2=${TOPO_C[2]}
C3=${TOPO_C[3]}
# Not veths: a bridge (this kernel has no dummy driver) and the loopback.
ip -n "$TOPO_HOST" link add br0 type bridge || { fail bad_targets_setup "cannot make a bridge"; exit 1; }
ip -n "$TOPO_HOST" link set br0 up
# Container 2 has two veths into the host: eth0 <-> vc2, eth1 <-> vc2b.
ip -n "$TOPO_HOST" link add vc2b type veth peer name eth1 netns "$C2"
ip -n "$TOPO_HOST" link set vc2b up
ip -n "$C2" link set eth1 up
# A "stray" container whose only veth's peer lives in a third namespace,
# not in the host.
STRAY=$TOPO_PREFIX-stray
OTHER=$TOPO_PREFIX-other
ip netns add "$STRAY" && TOPO_NS+=("$STRAY")
ip netns add "$OTHER" && TOPO_NS+=("$OTHER")
ip -n "$OTHER" link add vs0 type veth peer name eth0 netns "$STRAY"
# Container 3 runs a jumbo MTU: native XDP without frags cannot take it.
ip -n "$C3" link set eth0 mtu 9000
ip -n "$TOPO_HOST" link set vc3 mtu 9000
# A PID that does not exist: one past the highest, after checking it is free.
NOPID=$(($(cat /proc/sys/kernel/pid_max) - 1))
while [ -e "/proc/$NOPID" ]; do NOPID=$((NOPID - 1)); done

snapshot() {
	local ns
	for ns in "${TOPO_NS[@]}"; do
		echo "== $ns"
		ip -n "$ns" -d -j link show | jq -c '.[] | select(.ifname != "lo") | {ifname, mtu, flags, xdp}'
		ip netns exec "$ns" sh -c 'for d in /sys/class/net/*; do
			n=${d##*/}; [ "$n" = lo ] && continue; echo "= $n"; ethtool -k "$n" 2>/dev/null; done'
	done
}
BEFORE=$(snapshot)

# bad NAME MENTION ATTACH_ARGS...: attach must fail, say "xdp-egress:" first,
# mention MENTION (an extended regex, case-insensitive), leave nothing.
bad() {
	local t=bad_$1 mention=$2 after
	shift 2
	xe_capture attach "$@"
	if xe_error_says "$mention"; then
		ok "${t}_error"
		log "attach $*: ${XE_ERR%%$'\n'*}"
	else
		fail "${t}_error" "attach $* exited $XE_RC, want non-zero and a message starting with 'xdp-egress:' that mentions /$mention/; stderr: $(tr '\n' ' ' <<<"$XE_ERR") stdout: $(tr '\n' ' ' <<<"$XE_OUT")"
	fi
	after=$(snapshot)   # (any XDP program would show in it)
	if pins_gone && [ "$after" = "$BEFORE" ] && ns_state_gone &&
		[ "$(xe status --json 2>/dev/null | jq '.attachments | length')" = 0 ]; then
		ok "${t}_nothing_left"
	else
		fail "${t}_nothing_left" "after attach $*: XDP: $(for ns in "${TOPO_NS[@]}"; do xdp_progs "$ns"; done | tr '\n' ';') pins: $(find "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ') $(ns_state_brief) changed: $(diff <(echo "$BEFORE") <(echo "$after") | grep '^[<>]' | tr '\n\t' '  ')"
		# Start the next case from a clean state.
		xe detach "$@" >/dev/null 2>&1
		for ns in "${TOPO_NS[@]}"; do
			for n in $(ip -n "$ns" -j link show | jq -r '.[] | select(.xdp) | .ifname'); do
				ip -n "$ns" link set "$n" xdp off
				ip -n "$ns" link set "$n" xdpgeneric off
			done
		done
		case $XDP_EGRESS_BPFFS in /sys/fs/bpf/"$TOPO_PREFIX"*) rm -rf "$XDP_EGRESS_BPFFS" ;; esac
		BEFORE=$(snapshot)
	fi
}

for mode in native generic; do
	bad "${mode}_no_such_ifname" 'nosuch0' --ifname nosuch0 --mode "$mode" --uplink up0
	bad "${mode}_bridge" 'veth' --ifname br0 --mode "$mode" --uplink up0
	bad "${mode}_loopback" 'veth' --ifname lo --mode "$mode" --uplink up0
	bad "${mode}_no_such_netns_name" "$TOPO_PREFIX-nosuch" --netns "$TOPO_PREFIX-nosuch" --mode "$mode" --uplink up0
	bad "${mode}_no_such_netns_path" "/proc/$NOPID/ns/net" --netns "/proc/$NOPID/ns/net" --mode "$mode" --uplink up0
	bad "${mode}_no_such_pid" "$NOPID" --pid "$NOPID" --mode "$mode" --uplink up0
	bad "${mode}_two_veths" 'container-if' --netns "$C2" --mode "$mode" --uplink up0
	bad "${mode}_no_such_container_if" 'eth7' --netns "$C1" --container-if eth7 --mode "$mode" --uplink up0
	bad "${mode}_peer_not_in_host" 'peer|namespace|netns' --netns "$STRAY" --mode "$mode" --uplink up0
	bad "${mode}_no_such_uplink" 'nosuchup' --ifname vc1 --mode "$mode" --uplink nosuchup
	bad "${mode}_uplink_is_target" 'uplink' --ifname vc1 --mode "$mode" --uplink vc1
done
bad mode_bogus 'bogus' --ifname vc1 --mode bogus --uplink up0
bad no_target 'target|--ifname|--netns|--pid' --mode native --uplink up0
bad two_targets 'target|one of|only one|--ifname|--netns|--pid' --ifname vc1 --netns "$C1" --mode native --uplink up0
bad native_mtu_9000 'mtu' --ifname vc3 --mode native --uplink up0

# --source and --source-mac: the value is named, with an example.
ip -n "$TOPO_HOST" tuntap add dev tapx mode tap && ip -n "$TOPO_HOST" link set tapx up
BEFORE=$(snapshot)
bad source_not_address "--source 'nonsense' is not an address.*e\.g\." --tap tapx --uplink up0 --source nonsense
bad source_octet "--source '10\.0\.0\.300'" --tap tapx --uplink up0 --source 10.0.0.300
bad source_prefix_too_long "--source '10\.0\.0\.0/33'" --tap tapx --uplink up0 --source 10.0.0.0/33
bad source_prefix6_too_long "--source 'fd00::/129'" --tap tapx --uplink up0 --source fd00::/129
bad source_prefix_trailing "--source '10\.0\.0\.0/24x'" --tap tapx --uplink up0 --source 10.0.0.0/24x
bad source_prefix_empty "--source '10\.0\.0\.0/'" --tap tapx --uplink up0 --source 10.0.0.0/
bad source_mac_short "--source-mac '52:54:00:12:34' is not a MAC" --tap tapx --uplink up0 --source 10.232.0.2 --source-mac 52:54:00:12:34
bad source_mac_long "--source-mac '52:54:00:12:34:56:78' is not a MAC" --tap tapx --uplink up0 --source 10.232.0.2 --source-mac 52:54:00:12:34:56:78
bad source_mac_hex "--source-mac '52:54:00:12:34:5g' is not a MAC" --tap tapx --uplink up0 --source 10.232.0.2 --source-mac 52:54:00:12:34:5g
bad source_mac_byte "--source-mac '152:54:00:12:34:56' is not a MAC" --tap tapx --uplink up0 --source 10.232.0.2 --source-mac 152:54:00:12:34:56
bad source_mac_container "--source-mac is for a VM's tap" --ifname vc1 --uplink up0 --source-mac 52:54:00:12:34:56
bad uplink_mode_bogus "--uplink-mode 'fast'" --ifname vc1 --uplink up0 --uplink-mode fast
# The removed NAT options, with a valid target: the way out is named.
bad removed_snat "--snat was removed.*MASQUERADE" --ifname vc1 --uplink up0 --snat auto
bad removed_snat_ports "--snat-ports was removed.*MASQUERADE" --ifname vc1 --uplink up0 --snat-ports 20000-29999
bad removed_ct_timeout "--ct-timeout was removed.*MASQUERADE" --ifname vc1 --uplink up0 --ct-timeout tcp=60
bad removed_ct_size "--ct-size was removed.*MASQUERADE" --ifname vc1 --uplink up0 --ct-size 65536
# A good --source and --source-mac for the tap attach, and status shows them.
if xe_capture attach --tap tapx --mode generic --uplink up0 --source 10.232.0.2 --source fd00:232::/64 --source-mac 52:54:00:E9:00:02; then
	st=$(xe status --json 2>/dev/null)
	check bad_source_good_values_recorded "status --json: $(jq -c '.attachments[0] | {sources, source_mac}' <<<"$st")" \
		eval 'jq -e ".attachments[0] | (.sources | sort) == [\"10.232.0.2/32\", \"fd00:232::/64\"] and .source_mac == \"52:54:00:e9:00:02\"" <<<"$st" >/dev/null' 
	xe detach --tap tapx >/dev/null 2>&1
else
	fail bad_source_good_values_recorded "attach --tap tapx with good --source/--source-mac exited $XE_RC: $XE_ERR"
fi
# A tap without --source: attached, with a warning that names --source.
if xe_capture attach --tap tapx --mode generic --uplink up0 && grep -q -- "--source ADDR" <<<"$XE_ERR"; then
	ok bad_tap_without_source_warns
else
	fail bad_tap_without_source_warns "attach --tap without --source: rc $XE_RC, stderr: $XE_ERR"
fi
xe detach --tap tapx >/dev/null 2>&1
ip -n "$TOPO_HOST" link del tapx
BEFORE=$(snapshot)

# The suggested way out for a jumbo container works: generic mode.
if xe_capture attach --ifname vc3 --mode generic --uplink up0; then
	ok bad_mtu_9000_generic_attaches
	xe detach --ifname vc3 >/dev/null 2>&1
else
	fail bad_mtu_9000_generic_attaches "attach --ifname vc3 --mode generic (MTU 9000) exited $XE_RC: $XE_ERR"
fi

# Without --mode (auto), the jumbo container stays on the tc path and says
# why native XDP is out of reach.
if xe_capture attach --ifname vc3 --uplink up0; then
	st=$(xe status --json 2>/dev/null)
	if jq -e '.attachments[0] | .ifname == "vc3" and .mode == "auto" and (.auto.native_blocked | test("mtu"; "i"))' <<<"$st" >/dev/null 2>&1; then
		ok bad_mtu_9000_default_falls_back
		log "default mode for MTU 9000: $(jq -r '.attachments[0].auto.native_blocked' <<<"$st")"
	else
		fail bad_mtu_9000_default_falls_back "want auto with auto.native_blocked naming the MTU, status: $(tr -d '\n\t' <<<"$st")"
	fi
	xe detach --ifname vc3 >/dev/null 2>&1
else
	fail bad_mtu_9000_default_falls_back "attach --ifname vc3 without --mode (MTU 9000) exited $XE_RC: $XE_ERR"
fi

# Other commands with bad input fail the same way.
badcmd() {
	local t=bad_$1
	shift
	xe_capture "$@"
	if [ "$XE_RC" -ne 0 ] && [[ "$XE_ERR" == xdp-egress:* ]]; then
		ok "$t"
		log "$*: ${XE_ERR%%$'\n'*}"
	else
		fail "$t" "$* exited $XE_RC, want non-zero and 'xdp-egress:' on stderr; stderr: $(tr '\n' ' ' <<<"$XE_ERR")"
	fi
}
badcmd detach_not_attached detach --ifname vc1
badcmd detach_no_such_ifname detach --ifname nosuch0
badcmd stats_no_such_ifname stats --ifname nosuch0 --json
badcmd unknown_command frobnicate
badcmd unknown_option attach --ifname vc1 --frobnicate
xe_capture
if [ "$XE_RC" -ne 0 ] && [ -n "$XE_ERR" ]; then
	ok bad_no_command
else
	fail bad_no_command "xdp-egress with no command exited $XE_RC, want non-zero and usage on stderr"
fi

exit $((TOPO_FAILED > 0))
