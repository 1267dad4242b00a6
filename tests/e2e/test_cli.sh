#!/bin/bash
# The command line itself: --help on each subcommand documents its options,
# status and stats with nothing attached print empty, valid JSON, and a pin
# root that does not exist yet is fine for read-only commands (and is not
# created by them). The removed NAT options (--snat, --snat-ports,
# --ct-timeout, --ct-size) are refused with a message that names the way
# out (the host's MASQUERADE); flush and agent with nothing attached say so.
# After an attach, stats --json has every counter of include/xdp_egress.h,
# the return path's (.uplinks) and the namespace's (.namespace: the agent),
# and status --json the attachment's contract.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe cli

topo_create 1 || { fail cli_setup "could not build the namespaces"; exit 1; }

# help SUBCOMMAND OPTION...: `SUBCOMMAND --help` exits 0 and names each OPTION.
help() {
	local cmd=$1 o missing=""
	shift
	xe_capture "$cmd" --help
	for o in "$@"; do
		grep -qe "$o" <<<"$XE_OUT $XE_ERR" || missing="$missing $o"
	done
	if [ "$XE_RC" -eq 0 ] && [ -z "$missing" ]; then
		ok "cli_help_$cmd"
	else
		fail "cli_help_$cmd" "$cmd --help exited $XE_RC, does not mention:$missing"
	fi
}
help attach --ifname --netns --pid --container-if --tap --mode native generic --uplink \
	--source --source-mac --uplink-mode
help detach --ifname --netns --pid --container-if --all
help flush --all
help agent promotes
help status --json
help stats --json --watch --ifname

# The own NAT is gone: its options are refused, naming what to use.
for o in "--snat auto" "--snat-ports 20000-29999" "--ct-timeout udp=30" "--ct-size=4096"; do
	name=cli_removed_${o%% *}
	name=${name%%=*}
	name=${name//-/}
	xe_capture attach --ifname vc1 $o
	if [ "$XE_RC" = 2 ] && [[ "$XE_ERR" == xdp-egress:* ]] && grep -q MASQUERADE <<<"$XE_ERR" &&
		grep -q -- "${o%%[ =]*}" <<<"$XE_ERR"; then
		ok "$name"
		log "attach $o: $XE_ERR"
	else
		fail "$name" "attach --ifname vc1 $o: rc $XE_RC (want 2), stderr: $XE_ERR (want 'xdp-egress: ...' naming the option and MASQUERADE)"
	fi
done
check cli_removed_leaves_nothing "a refused attach left something: pins $(ls -A "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' '); $(ns_state_brief)" \
	eval 'pins_gone && ns_state_gone && no_xdp_anywhere'

# flush and agent need an attachment in this namespace.
for c in flush agent; do
	xe_capture "$c"
	if [ "$XE_RC" != 0 ] && [[ "$XE_ERR" == xdp-egress:* ]] && grep -qi 'nothing is attached' <<<"$XE_ERR"; then
		ok "cli_${c}_nothing_attached"
	else
		fail "cli_${c}_nothing_attached" "$c with nothing attached: rc $XE_RC, stderr: $XE_ERR"
	fi
done

xe_capture status --json
if [ "$XE_RC" -eq 0 ] && jq -e '.attachments == []' <<<"$XE_OUT" >/dev/null 2>&1; then
	ok cli_status_empty
else
	fail cli_status_empty "status --json with nothing attached: rc $XE_RC, printed: $(tr -d '\n' <<<"$XE_OUT $XE_ERR")"
fi
xe_capture stats --json
if [ "$XE_RC" -eq 0 ] && jq -e '.interfaces == [] and (.total | type) == "object"' <<<"$XE_OUT" >/dev/null 2>&1; then
	ok cli_stats_empty
else
	fail cli_stats_empty "stats --json with nothing attached: rc $XE_RC, printed: $(tr -d '\n' <<<"$XE_OUT $XE_ERR")"
fi
check cli_readonly_creates_no_pins "status/stats created $XDP_EGRESS_BPFFS" pins_gone

# The counter names, from the header both sides share (EGRESS_COUNTER_NAMES).
NAMES=$(sed -n '/#define EGRESS_COUNTER_NAMES/,/^$/p' "$TOPO_ROOT/include/xdp_egress.h" |
	grep -o '"[a-z_]*"' | jq -sc .)
check cli_counter_names "cannot read EGRESS_COUNTER_NAMES from include/xdp_egress.h: $NAMES" \
	eval 'jq -e "length > 20 and index(\"pass_spoofed\") and index(\"pass_not_promoted\")" <<<"$NAMES" >/dev/null' 

# After an attach, stats --json has every counter for the interface, the
# total and the return path, each with packets and bytes as numbers.
if xe_capture attach --ifname vc1 --mode native --uplink up0; then
	s=$(stats_json)
	if jq -e --argjson names "$NAMES" '.interfaces[0] | .ifname == "vc1" and .mode == "native" and (.ifindex | type) == "number" and
		(.counters | keys) as $k | ($names - $k) == [] and
		(.counters | all(.[]; (.packets | type) == "number" and (.bytes | type) == "number"))' <<<"$s" >/dev/null 2>&1 &&
		jq -e --argjson names "$NAMES" '($names - (.total | keys)) == []' <<<"$s" >/dev/null 2>&1; then
		ok cli_stats_schema
	else
		fail cli_stats_schema "stats --json does not have every counter of $NAMES: $(tr -d '\n' <<<"$s" | head -c 1500)"
	fi
	if jq -e --argjson names "$NAMES" '(.uplinks | length) == 1 and (.uplinks[0] | .ifname == "up0" and
		(.mode == "native" or .mode == "generic" or .mode == "tc") and ($names - (.counters | keys)) == [])' <<<"$s" >/dev/null 2>&1; then
		ok cli_stats_uplinks_schema
	else
		fail cli_stats_uplinks_schema "want .uplinks [{ifname: up0, mode, counters}], stats --json: $(jq -c '.uplinks' <<<"$s" | head -c 800)"
	fi
	apid=$(jq -r '.namespace.agent_pid // 0' <<<"$s")
	if pid_alive "$apid" && jq -e '.namespace | (.promote_after | type) == "number" and (.keepalive_ms | type) == "object"' <<<"$s" >/dev/null 2>&1; then
		ok cli_stats_namespace_schema
	else
		fail cli_stats_namespace_schema "want .namespace {agent_pid (a live process), promote_after, keepalive_ms, ...}: $(jq -c '.namespace | del(.uplinks)' <<<"$s")"
	fi
	xe_capture stats
	if [ "$XE_RC" = 0 ] && grep -q "agent" <<<"$XE_OUT" && grep -q "up0" <<<"$XE_OUT"; then
		ok cli_stats_text_namespace
	else
		fail cli_stats_text_namespace "stats (text) does not name the agent and the return path on up0: $(tr '\n' ' ' <<<"$XE_OUT")"
	fi
	st=$(xe status --json 2>/dev/null)
	# What the contract promises, each item named so a mismatch says which.
	problems=$(jq -r '.attachments[0] |
		(if .ifname == "vc1" then empty else "ifname" end),
		(if (.ifindex | type) == "number" then empty else "ifindex" end),
		(if .mode == "native" then empty else "mode" end),
		(if (.mode_reason | type) == "string" then empty else "mode_reason" end),
		(if (.uplinks | type) == "array" and all(.uplinks[]; (.ifname | type) == "string")
		 then empty else "uplinks (want [{ifname, ifindex}])" end),
		(if (.container.ifname == "eth0") and ((.container.netns_ino | type) == "number")
		 then empty else "container {ifname, netns_ino}" end),
		(if .state == "attached" then empty else "state" end),
		(if (.fixes | type) == "array" and all(.fixes[]; (.offload | type) == "string"
		     and (.ifname | type) == "string" and (.was | type) == "boolean"
		     and (.why | type) == "string") then empty
		 else "fixes (want [{ifname, offload, was, now, why}])" end),
		(if (.sources | sort) == ["10.200.1.2/32", "fd00:1::2/128"] then empty
		 else "sources (want the container'"'"'s global addresses)" end),
		(if (.source_mac | type) == "string" then empty else "source_mac" end)' <<<"$st" 2>&1)
	problems+=$(jq -r 'if (.namespace.agent_pid // 0) > 0 then empty else "namespace.agent_pid" end' <<<"$st" 2>&1)
	if [ -z "$problems" ]; then
		ok cli_status_schema
	else
		fail cli_status_schema "status --json differs from the contract in: $(tr '\n' ',' <<<"$problems") printed: $(tr -d '\n\t' <<<"$st")"
	fi
	xe_capture flush
	if [ "$XE_RC" = 0 ] && grep -q 'flush:' <<<"$XE_ERR $XE_OUT"; then
		ok cli_flush
		log "flush: $XE_ERR$XE_OUT"
	else
		fail cli_flush "flush with vc1 attached: rc $XE_RC: $XE_ERR $XE_OUT"
	fi
	xe_capture agent
	if [ "$XE_RC" != 0 ] && grep -q "already serves this namespace (pid $apid)" <<<"$XE_ERR"; then
		ok cli_agent_second_refused
	else
		fail cli_agent_second_refused "a second agent: rc $XE_RC, stderr: $XE_ERR (want 'already serves ... pid $apid')"
	fi
	xe detach --ifname vc1 >/dev/null 2>&1
	check cli_detach_leaves_nothing "after detach: pins $(ls -A "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' '); $(ns_state_brief)" \
		eval 'pins_gone && ns_state_gone && no_xdp_anywhere && ! pid_alive "$apid"'
else
	fail cli_stats_schema "attach exited $XE_RC: $XE_ERR"
fi

exit $((TOPO_FAILED > 0))
