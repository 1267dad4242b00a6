#!/bin/bash
# Pins of layout 1 (what every xdp-egress before layout versions made) are
# migrated to this binary's layout (2 and later): the namespace folder was named by
# its inode number (ns<INODE>, now ns<COOKIE>), records had no "phase" and
# said who needs a fix only in its "why" text, without netns cookies.
#
# The layout-1 pins are made from a real attachment: attach (native, so
# that the container's and the uplink peer's offloads change), then turn
# the folder and the record back into layout 1's form. Then: status reads
# them and says upgrade migrates them; the next attach (another container)
# migrates them (folder renamed, fixes given their role and cookies); the
# agent serves the renamed folder; detach --all restores every offload and
# leaves nothing.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe layout1

LAYOUT=$(awk '/define XE_LAYOUT_VERSION/ { print $3 }' "$(dirname "$0")/../../include/xdp_egress.h")
topo_create 2 || { fail layout1_setup "could not build the namespaces"; exit 1; }

# meta_json DIR: the record in DIR/meta. meta_put DIR JSON: write it back.
meta_json() {
	bpftool map dump pinned "$1/meta" -j |
		"${PY3:-python3}" -c 'import json, sys
v = json.load(sys.stdin)[0]["value"]
b = bytes(int(x, 16) for x in v)
print(b.split(b"\0", 1)[0].decode())'
}
meta_put() {
	local hex
	hex=$("${PY3:-python3}" -c 'import sys
b = sys.argv[1].encode()
b += b"\0" * (4096 - len(b))
print(" ".join("%02x" % x for x in b))' "$2")
	# shellcheck disable=SC2086
	bpftool map update pinned "$1/meta" key 0 0 0 0 value hex $hex
}

before=$(offload_snapshot)
if ! xe_capture attach --ifname vc1 --mode native --uplink up0; then
	fail layout1_attach "attach exited $XE_RC: $XE_ERR"
	exit 1
fi
ns_new=$(ls -d "$XDP_EGRESS_BPFFS"/ns* | head -1)
ino=$(stat -L -c %i "/run/netns/$TOPO_HOST")
ns_old="$XDP_EGRESS_BPFFS/ns$ino"
dir="$ns_new/if$(ip -n "$TOPO_HOST" -j link show vc1 | jq -r '.[0].ifindex')"
rec=$(meta_json "$dir")
n_fixes=$(jq '.fixes | length' <<<"$rec")
log "record as attached: $n_fixes fixes, roles $(jq -c '[.fixes[].role]' <<<"$rec")"

# Back to layout 1: no phase, layout or build, fixes without role, uplink
# and cookies, the container without a cookie, no layout map, and the
# folder named by the namespace's inode number. The agent is stopped first
# (layout 1's agent served the folder by that name).
agent=$(agent_pid)
kill "$agent" 2>/dev/null
wait_until 5 eval '! pid_alive "$agent"'
old=$(jq -c 'del(.phase, .layout, .build, .container.netns_cookie) |
	.fixes |= map(del(.role, .uplink, .netns_cookie))' <<<"$rec")
meta_put "$dir" "$old"
for up in "$ns_new"/up*; do
	[ -e "$up/meta" ] && meta_put "$up" "$(meta_json "$up" | jq -c 'del(.layout, .build)')"
done
# Layout 1 had neither the layout map nor the flow maps (its programs
# keep theirs, unpinned).
rm -f "$ns_new/layout" "$ns_new/flows" "$ns_new/flow_events"
mv "$ns_new" "$ns_old"
check layout1_fixture "layout-1 pins: $(ls "$ns_old" | tr '\n' ' ')" \
	eval '[ -d "$ns_old" ] && [ ! -e "$ns_old/layout" ] && [ "$(meta_json "$ns_old/${dir##*/}" | jq -r ".fixes[0].role // \"none\"")" = none ]'

# status reads layout 1 and says how to migrate, changing nothing.
xe_capture status
check layout1_status_reads "status exited $XE_RC: $XE_OUT $XE_ERR" \
	eval '[ "$XE_RC" = 0 ] && grep -q vc1 <<<"$XE_OUT" && grep -q "layout 1" <<<"$XE_ERR"'
check layout1_status_changes_nothing "after status: $(ls -d "$XDP_EGRESS_BPFFS"/ns*)" test -d "$ns_old"

# The next attach migrates.
if xe_capture attach --ifname vc2 --mode generic --uplink up0; then
	ok layout1_attach_migrates
else
	fail layout1_attach_migrates "attach exited $XE_RC: $XE_ERR"
fi
log "$(grep -i migrat <<<"$XE_OUT $XE_ERR" | head -2)"
check layout1_folder_renamed "folders now: $(ls "$XDP_EGRESS_BPFFS" | tr '\n' ' ')" \
	eval '[ -d "$ns_new" ] && [ ! -e "$ns_old" ] && [ -e "$ns_new/layout" ]'
rec2=$(meta_json "$dir" 2>/dev/null)
check layout1_roles_restored "record after migration: $(jq -c '{phase, layout, roles: [.fixes[] | [.role, .uplink, .netns_cookie]]}' <<<"$rec2" 2>&1)" \
	eval '[ "$(jq -c "[.phase, .layout, [.fixes[] | [.role, (.uplink // null)]]]" <<<"$rec2")" = "$(jq -c "[\"attached\", $LAYOUT, [.fixes[] | [.role, (.uplink // null)]]]" <<<"$rec")" ] &&
	      [ "$(jq "[.fixes[] | select(.netns_cookie > 0)] | length" <<<"$rec2")" = "$n_fixes" ]'
apid=$(agent_pid)
check layout1_agent_serves "agent pid '$apid' after migration" pid_alive "$apid"

# detach --all undoes layout 1's fixes as well as the new attachment's.
if xe_capture detach --all; then
	ok layout1_detach_all
else
	fail layout1_detach_all "detach --all exited $XE_RC: $XE_ERR"
fi
after=$(offload_snapshot)
check layout1_offloads_restored "offloads differ: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -6 | tr '\n' ' ')" \
	test "$before" = "$after"
check layout1_nothing_left "$(ns_state_brief); pins: $(find "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ')" \
	eval 'ns_state_gone && pins_gone && [ "$(xdp_prog_count "$TOPO_HOST")" = 0 ]'
