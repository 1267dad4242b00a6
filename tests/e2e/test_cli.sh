#!/bin/bash
# The command line itself: --help on each subcommand documents its options,
# status and stats with nothing attached print empty, valid JSON, and a pin
# root that does not exist yet is fine for read-only commands (and is not
# created by them).
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
help attach --ifname --netns --pid --container-if --mode native generic --uplink
help detach --ifname --netns --pid --container-if
help status --json
help stats --json --watch --ifname

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

# After an attach, stats --json has every counter of the contract for the
# interface (later issues may add more), each with packets and bytes as
# numbers.
if xe_capture attach --ifname vc1 --mode native --uplink up0; then
	s=$(stats_json)
	if jq -e '.interfaces[0] | .ifname == "vc1" and .mode == "native" and (.ifindex | type) == "number" and
		(.counters | keys) as $k | (["redirected","pass_non_ip","pass_vlan","pass_no_neigh","pass_local",
		"pass_fragment","pass_ip_options","pass_ttl","pass_too_big","pass_fib_fail","pass_not_uplink",
		"pass_l4_other","drop_malformed","redirect_err"] - $k) == [] and
		(.counters | all(.[]; (.packets | type) == "number" and (.bytes | type) == "number"))' <<<"$s" >/dev/null 2>&1; then
		ok cli_stats_schema
	else
		fail cli_stats_schema "stats --json does not match the contract: $(tr -d '\n' <<<"$s")"
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
		 else "fixes (want [{ifname, offload, was, now, why}])" end)' <<<"$st" 2>&1)
	if [ -z "$problems" ]; then
		ok cli_status_schema
	else
		fail cli_status_schema "status --json differs from the contract in: $(tr '\n' ',' <<<"$problems") printed: $(tr -d '\n\t' <<<"$st")"
	fi
	xe detach --ifname vc1 >/dev/null 2>&1
else
	fail cli_stats_schema "attach exited $XE_RC: $XE_ERR"
fi

exit $((TOPO_FAILED > 0))
