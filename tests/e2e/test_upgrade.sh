#!/bin/bash
# Upgrades without loss. The "new binary" is the same sources built a
# second time with salted programs (make next: build/next/xdp-egress, whose
# programs' tags differ). In every mode (native, generic, tc through tcx, tc
# as a clsact filter, auto with native XDP in front), with a numbered UDP
# stream (3000 datagrams a second) and a long-lived TCP connection running
# from the container through the fast path, `upgrade` with the new binary:
# - loses no datagram (tests/lib/udp_seq.py counts them), the TCP
#   connection goes on answering;
# - keeps the link (same id) or the clsact filter (same handle and
#   priority), swaps the program (new id, another tag; the old one is
#   freed), keeps the counters (the same egress_stats map, used by the new
#   program, still growing), the uplink's link with a new program, and
#   restarts the agent from the new binary;
# - a second upgrade finds nothing to do.
# Then the layouts: pins without a version (layout 1, as every binary
# before versions made them) are read by status and stamped by upgrade; a
# namespace of a newer layout is refused by attach, detach, status and
# upgrade with what was found and what to do, changing nothing; a pinned map
# of another shape is refused by upgrade before anything changes.
# Last, the daemon: restarted from the new binary it upgrades the container
# it attached (same UDP count: no loss), and restarted again keeps it.
set -u
source "$(dirname "$0")/../lib/exact.sh"
source "$(dirname "$0")/../lib/engines.sh"
trap 'eng_cleanup; exact_cleanup' EXIT
trap 'exit 1' INT TERM HUP
need_xe upgrade

NEW=$TOPO_ROOT/build/next/xdp-egress
UDP_SEQ=$TOPO_ROOT/tests/lib/udp_seq.py
RATE=3000
if ! make -s -C "$TOPO_ROOT" next >"$TOPO_TMP/make-next.log" 2>&1; then
	fail upgrade_setup "make next failed: $(tail -3 "$TOPO_TMP/make-next.log" | tr '\n' ' ')"
	exit 1
fi
xe_new() { XE_BIN=$NEW xe "$@"; }

topo_create 1 || { fail upgrade_setup "could not build the namespaces"; exit 1; }
serve "$TOPO_WORLD" w 8000 0 || { fail upgrade_setup "the world's TCP server did not start"; exit 1; }

# ---- facts ----
pins_dir() { xe status --json 2>/dev/null | jq -r '.attachments[0].pins // empty'; }
rec() { xe status --json 2>/dev/null | jq -r ".attachments[0].$1 // empty"; }
link_id() { bpftool link show pinned "$1" -j 2>/dev/null | jq -r '.id // empty'; }
map_id() { bpftool map show pinned "$1" -j 2>/dev/null | jq -r '.id // empty'; }
prog_tag() { bpftool prog show id "$1" -j 2>/dev/null | jq -r '.tag // empty'; }
prog_uses_map() { bpftool prog show id "$1" -j 2>/dev/null | jq -e --argjson m "$2" '.map_ids | index($m)' >/dev/null; }
redirected() { counter "$(stats_json --ifname vc1)" redirected; }
uplink_link() { link_id "$(dirname "$(pins_dir)")/up$(in_host cat /sys/class/net/up0/ifindex)/link"; }
# clsact_filter: "HANDLE PRIO PROG_ID" of our filter on vc1's ingress.
clsact_filter() {
	in_host tc filter show dev vc1 ingress |
		awk '/handle 0x7865/ { for (i = 1; i <= NF; i++) { if ($i == "pref") p = $(i + 1); if ($i == "id") id = $(i + 1) } print "0x7865", p, id }'
}
# attached_prog MODE TC_HOOK: the program the kernel runs on vc1 now.
attached_prog() {
	case $1/$2 in
	native/* | generic/*) xdp_on vc1 ;;
	*/clsact) clsact_filter | awk '{ print $3 }' ;;
	*) tcx_prog_ids "$TOPO_HOST" vc1 | head -1 ;;
	esac
}
tcp_answered() { jq -r '.answered // 0' "$1" 2>/dev/null || echo 0; }
tcp_error() { jq -r '.error // empty' "$1" 2>/dev/null; }
grew_past() { [ "$("$1")" -gt "$2" ]; }
tcp_grew_past() { [ "$(tcp_answered "$1")" -gt "$2" ]; }
auto_native() { [ "$(rec auto.state)" = native ]; }

# stream_start NAME NETNS_PATH_OR_NAME PORT: the numbered UDP stream (the
# world receives) and, with a 4th argument, a TCP connection asking every
# 10 ms; both stop when $TOPO_TMP/stop-NAME exists.
stream_start() {
	local name=$1 ns=$2 port=$3
	rm -f "$TOPO_TMP/stop-$name" "$TOPO_TMP/recv-$name.json"
	bg "$TOPO_WORLD" python3 "$UDP_SEQ" recv "$port" --out "$TOPO_TMP/recv-$name.json" --timeout 60
	wait_listen "$TOPO_WORLD" "$port" udp || return 1
	_in_ns "$ns" python3 "$UDP_SEQ" send "$TOPO_WORLD_V4" "$port" --rate "$RATE" \
		--stop "$TOPO_TMP/stop-$name" >"$TOPO_TMP/send-$name.json" 2>&1 &
	SEND_PID=$!
	TOPO_PIDS+=("$SEND_PID")
	if [ -n "${4:-}" ]; then
		bg_x "$ns" stream tcp "$TOPO_WORLD_V4" 8000 --out "$TOPO_TMP/tcp-$name.json" \
			--interval 0.01 --seconds 120 --stop "$TOPO_TMP/stop-$name"
		TCP_PID=$BG_PID
	fi
}
# stream_stop NAME: stops it; LOST = sent - received, UDP_BRIEF for messages.
stream_stop() {
	local name=$1 sent got
	touch "$TOPO_TMP/stop-$name"
	wait "$SEND_PID" 2>/dev/null
	[ -n "${TCP_PID:-}" ] && wait "$TCP_PID" 2>/dev/null
	TCP_PID=""
	wait_until 10 test -e "$TOPO_TMP/recv-$name.json"
	sent=$(jq -r '.sent // -1' "$TOPO_TMP/send-$name.json" 2>/dev/null)
	got=$(jq -r '.unique // 0' "$TOPO_TMP/recv-$name.json" 2>/dev/null)
	LOST=$((${sent:--1} - ${got:-0}))
	UDP_BRIEF="sent $sent, received $got (lost $LOST; gaps $(jq -c '.gaps' "$TOPO_TMP/recv-$name.json" 2>/dev/null))"
}

# ---- the upgrade in each mode ----
PORT=7000
upgrade_round() {
	local name=$1 mode=$2 hook=${3:-}
	local args=(--ifname vc1 --uplink up0 --mode "$mode") dir t0 r0 r1 a0 a1 ll0 ll1 ul0 ul1 p0 p1 tag0 tag1 up0 up1 m0 tcp0 f0 f1 problems=()
	[ -n "$hook" ] && args+=(--tc-hook "$hook")
	PORT=$((PORT + 1))
	if ! xe_capture attach "${args[@]}"; then
		fail "upgrade_${name}_attach" "$XE_ERR"
		return
	fi
	dir=$(pins_dir)
	stream_start "$name" "${TOPO_C[1]}" "$PORT" tcp || { fail "upgrade_${name}_stream" "the UDP receiver did not start"; return; }
	# The fast path carries both: the datagrams are redirected, and the
	# TCP connection goes on answering while the kernel path sees almost
	# nothing more (the pass_* counters stay).
	wait_until 10 grew_past redirected 1000 && wait_until 10 tcp_grew_past "$TOPO_TMP/tcp-$name.json" 50
	s0=$(stats_json --ifname vc1)
	tcp0=$(tcp_answered "$TOPO_TMP/tcp-$name.json")
	wait_until 10 tcp_grew_past "$TOPO_TMP/tcp-$name.json" $((tcp0 + 100))
	s1=$(stats_json --ifname vc1)
	if [ "$(counter "$s1" redirected)" -lt 1000 ] || [ "$(tcp_answered "$TOPO_TMP/tcp-$name.json")" -le $((tcp0 + 100)) ] ||
		[ $(($(pass_total "$s1") - $(pass_total "$s0"))) -gt 10 ]; then
		fail "upgrade_${name}_fastpath" "before the upgrade: redirected $(counter "$s1" redirected), TCP $(cat "$TOPO_TMP/tcp-$name.json" 2>/dev/null), passed to the kernel meanwhile: $(counters_delta_brief "$s0" "$s1")"
	fi
	if [ "$mode" = auto ]; then
		# Native XDP in front of the tc program: the tuner puts it
		# there for small packets.
		xe_tune_start
		wait_until 15 auto_native || problems+=("the tuner did not put native XDP in front: $(rec auto.why)")
		kill "$TUNE_PID" 2>/dev/null
		wait "$TUNE_PID" 2>/dev/null
		[ -n "$(xdp_on vc1)" ] || problems+=("no native XDP on vc1 in auto's native state")
		ll0=$(link_id "$dir/xdp_link")
		a0=$(xdp_on vc1)
	fi
	p0=$(rec prog_id)
	f0=$(attached_prog "$mode" "$hook")
	tag0=$(prog_tag "$p0")
	m0=$(map_id "$dir/egress_stats")
	up0=$(xdp_on up0)
	ul0=$(uplink_link)
	[ "$hook" != clsact ] && l0=$(link_id "$dir/link")
	[ "$hook" = clsact ] && l0=$(clsact_filter | awk '{ print $1, $2 }')
	AGENT0=$(agent_pid)
	r0=$(redirected)
	tcp0=$(tcp_answered "$TOPO_TMP/tcp-$name.json")
	t0=$(date +%s.%N)
	xe_new upgrade >"$TOPO_TMP/up.out" 2>&1
	rc=$?
	UPGRADE_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	r1=$(redirected)
	p1=$(rec prog_id)
	f1=$(attached_prog "$mode" "$hook")
	tag1=$(prog_tag "$p1")
	up1=$(xdp_on up0)
	ul1=$(uplink_link)
	[ "$hook" != clsact ] && l1=$(link_id "$dir/link")
	[ "$hook" = clsact ] && l1=$(clsact_filter | awk '{ print $1, $2 }')
	[ "$rc" = 0 ] || problems+=("upgrade exited $rc: $(tr '\n' ' ' <"$TOPO_TMP/up.out")")
	[ -n "$l0" ] && [ "$l1" = "$l0" ] || problems+=("the link (or clsact filter) changed: '$l0' -> '$l1'")
	[ -n "$p1" ] && [ "$p1" != "$p0" ] && [ "$f1" = "$p1" ] ||
		problems+=("program: recorded $p0 -> $p1, attached $f0 -> $f1")
	[ -n "$tag1" ] && [ "$tag1" != "$tag0" ] || problems+=("the new program's tag $tag1 is the old one's ($tag0): the binaries do not differ")
	prog_gone "$p0" || problems+=("the old program $p0 is still loaded")
	[ "$(map_id "$dir/egress_stats")" = "$m0" ] && prog_uses_map "$p1" "$m0" ||
		problems+=("the counters' map changed or the new program does not use it ($m0)")
	[ "$r1" -ge "$r0" ] || problems+=("the counters went back: redirected $r0 -> $r1")
	[ -n "$up1" ] && [ "$up1" != "$up0" ] && [ "$(uplink_link)" = "$ul0" ] ||
		problems+=("uplink: program $up0 -> $up1, link $ul0 -> $ul1")
	if [ "$mode" = auto ]; then
		a1=$(xdp_on vc1)
		[ "$(link_id "$dir/xdp_link")" = "$ll0" ] && [ -n "$a1" ] && [ "$a1" != "$a0" ] &&
			[ "$(bpftool prog show pinned "$dir/xdp_prog" -j | jq .id)" = "$a1" ] ||
			problems+=("auto's native XDP: program $a0 -> $a1, link $ll0 -> $(link_id "$dir/xdp_link")")
	fi
	AGENT1=$(agent_pid)
	[ "$AGENT1" != "$AGENT0" ] && [ "$(readlink "/proc/$AGENT1/exe")" = "$NEW" ] ||
		problems+=("the agent was not restarted from the new binary: pid $AGENT0 -> $AGENT1 ($(readlink "/proc/$AGENT1/exe"))")
	# Traffic goes on through the new programs.
	wait_until 5 grew_past redirected $((r1 + 1000)) ||
		problems+=("the fast path stopped after the upgrade: redirected $r1 -> $(redirected)")
	wait_until 5 tcp_grew_past "$TOPO_TMP/tcp-$name.json" $((tcp0 + 50)) ||
		problems+=("TCP stopped answering after the upgrade: $(cat "$TOPO_TMP/tcp-$name.json")")
	xe_new upgrade >"$TOPO_TMP/up2.out" 2>&1
	[ "$(rec prog_id)" = "$p1" ] && grep -q 'already run this build' "$TOPO_TMP/up2.out" ||
		problems+=("a second upgrade did not find everything current: $(tr '\n' ' ' <"$TOPO_TMP/up2.out")")
	stream_stop "$name"
	[ "$LOST" = 0 ] || problems+=("UDP across the upgrade: $UDP_BRIEF")
	[ -z "$(tcp_error "$TOPO_TMP/tcp-$name.json")" ] ||
		problems+=("the TCP connection broke: $(cat "$TOPO_TMP/tcp-$name.json")")
	log "$name: upgrade took ${UPGRADE_S} s; UDP $UDP_BRIEF; TCP $(jq -c '{sent, answered, error}' "$TOPO_TMP/tcp-$name.json"); program $p0 -> $p1 (tag $tag0 -> $tag1), link $l0, redirected $r0 -> $(redirected)"
	if [ ${#problems[@]} = 0 ]; then
		ok "upgrade_$name"
	else
		fail "upgrade_$name" "$(printf '%s; ' "${problems[@]}")"
	fi
	xe_capture detach --all || fail "upgrade_${name}_detach" "the new binary's detach failed: $XE_ERR"
	check "upgrade_${name}_clean" "left behind: $(ns_state_brief); pins: $(ls -R "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ')" \
		eval 'wait_until 3 ns_state_gone && pins_gone'
}

T=$SECONDS
for round in ${XE_UPGRADE_MODES:-native generic tc tc-clsact auto}; do
	case $round in
	tc-clsact) upgrade_round tc_clsact tc clsact ;;
	*) upgrade_round "$round" "$round" ;;
	esac
done

log "the upgrades in each mode took $((SECONDS - T)) s"
T=$SECONDS

# ---- layouts ----
# meta_edit DIR JQ: rewrites the record DIR/meta through jq (as a binary
# of another layout would have written it).
meta_edit() {
	local js hex
	js=$(bpftool map lookup pinned "$1/meta" key 0 0 0 0 -j | jq -r '.value | map(ltrimstr("0x")) | join("")' |
		xxd -r -p | tr -d '\0' | jq -c "$2") || return 1
	hex=$(printf '%s' "$js" | head -c 4095 | xxd -p -c 0 | sed 's/../& /g')
	bpftool map update pinned "$1/meta" key 0 0 0 0 value hex $hex $(printf '00 %.0s' $(seq $((4096 - ${#js})))) 2>&1
}
ns_layout() { bpftool map lookup pinned "$1/layout" key 0 0 0 0 -j 2>/dev/null | jq -r '.value[0] // empty' | xargs printf '%d' 2>/dev/null; }

xe_capture attach --ifname vc1 --uplink up0 --mode tc || fail upgrade_layout_attach "$XE_ERR"
dir=$(pins_dir)
ns=$(dirname "$dir")
# Unversioned pins (layout 1): the record without "layout" and "build",
# no layout map in the namespace folder.
meta_edit "$dir" 'del(.layout, .build)' >/dev/null && rm -f "$ns/layout"
p0=$(rec prog_id)
if xe_capture status && [ -z "$XE_ERR" ] && [ -z "$(rec layout)" ] && [ ! -e "$ns/layout" ]; then
	ok upgrade_layout1_status
else
	fail upgrade_layout1_status "status on unversioned pins: rc $XE_RC, '$XE_ERR', layout '$(rec layout)'"
fi
if XE_BIN=$NEW xe_capture upgrade && [ "$(rec layout)" = 1 ] && [ "$(ns_layout "$ns")" = 1 ] &&
	[ "$(rec prog_id)" != "$p0" ] && [ "$(rec build)" != "" ]; then
	ok upgrade_layout1_stamped
else
	fail upgrade_layout1_stamped "upgrade over unversioned pins: rc $XE_RC, '$XE_ERR'; record layout '$(rec layout)', namespace layout '$(ns_layout "$ns")'"
fi
# A newer layout: everything refuses, nothing changes.
p0=$(rec prog_id)
bpftool map update pinned "$ns/layout" key 0 0 0 0 value 99 0 0 0
problems=()
for cmd in "status" "attach --ifname vc1 --mode tc" "detach --all" "upgrade"; do
	XE_BIN=$NEW xe_capture $cmd
	case $XE_ERR in
	*"holds pins of layout 99, newer than this xdp-egress"*"it writes layout 1"*"Run the xdp-egress that made them"*) ;;
	*) problems+=("$cmd: rc $XE_RC, '$XE_ERR'") ;;
	esac
	[ "$XE_RC" != 0 ] || problems+=("$cmd exited 0")
done
bpftool map update pinned "$ns/layout" key 0 0 0 0 value 1 0 0 0
[ "$(rec prog_id)" = "$p0" ] && [ -e "$dir/link" ] || problems+=("something changed: program $p0 -> $(rec prog_id)")
if [ ${#problems[@]} = 0 ]; then
	ok upgrade_newer_layout_refused
	log "newer layout: $XE_ERR"
else
	fail upgrade_newer_layout_refused "$(printf '%s; ' "${problems[@]}")"
fi
# A pinned map of another shape (a layout change nobody wrote a migration
# for): upgrade refuses before changing anything, the uplink included.
mv_ok=1
rm -f "$dir/egress_stats" && bpftool map create "$dir/egress_stats" type percpu_array key 4 value 8 entries 4 name egress_stats || mv_ok=0
p0=$(rec prog_id)
u0=$(xdp_on up0)
xe_capture upgrade
if [ "$mv_ok" = 1 ] && [ "$XE_RC" != 0 ] && [ "$(rec prog_id)" = "$p0" ] && [ "$(xdp_on up0)" = "$u0" ] &&
	[[ $XE_ERR == *"egress_stats is a percpu_array of key 4, value 8 bytes, 4 entries"*"Nothing was changed"* ]]; then
	ok upgrade_map_mismatch_refused
	log "map mismatch: $XE_ERR"
else
	fail upgrade_map_mismatch_refused "rc $XE_RC, '$XE_ERR'; program $p0 -> $(rec prog_id), uplink $u0 -> $(xdp_on up0)"
fi
xe_capture detach --all || fail upgrade_layout_detach "$XE_ERR"

log "the layout checks took $((SECONDS - T)) s"
T=$SECONDS

# ---- the daemon restarted from the new binary ----
engines_need upgrade_daemon docker dockerd "$DOCKER_CLI"
docker_up || exit 1
dk run -d --name u1 --label xdp-egress.enable=true --label xdp-egress.mode=tc "${ENG_USR_VOLUME[@]}" local/bb sleep 3600 >/dev/null ||
	{ fail upgrade_daemon "docker run failed"; exit 1; }
U1_PID=$(dk inspect -f '{{.State.Pid}}' u1)
U1_IF=$(hostif_of_pid "$U1_PID")
daemon_start || fail upgrade_daemon_start "the daemon did not start: $(tail -3 "$DAEMON_LOG" | tr '\n' ' ')"
wait_until 20 is_attached "$U1_IF" || fail upgrade_daemon_attach "the daemon did not attach to $U1_IF"
PORT=$((PORT + 1))
stream_start daemon "/proc/$U1_PID/ns/net" "$PORT"
wait_until 10 eval '[ "$(counter "$(stats_json --ifname "$U1_IF")" redirected)" -gt 1000 ]' ||
	fail upgrade_daemon_fastpath "the container's stream is not on the fast path: $(counters_brief "$(stats_json)")"
p0=$(rec prog_id)
daemon_stop
from=$(wc -l <"$DAEMON_LOG")
XE_BIN=$NEW daemon_start || fail upgrade_daemon_restart "the new daemon did not start: $(tail -3 "$DAEMON_LOG" | tr '\n' ' ')"
p1=$(rec prog_id)
AGENT1=$(agent_pid)
r1=$(counter "$(stats_json --ifname "$U1_IF")" redirected)
wait_until 5 eval '[ "$(counter "$(stats_json --ifname "$U1_IF")" redirected)" -gt $((r1 + 1000)) ]'
daemon_stop
from2=$(wc -l <"$DAEMON_LOG")
XE_BIN=$NEW daemon_start
p2=$(rec prog_id)
stream_stop daemon
log "daemon restart with the new binary: UDP $UDP_BRIEF; program $p0 -> $p1"
if [ "$LOST" = 0 ] && [ -n "$p1" ] && [ "$p1" != "$p0" ] && [ "$(readlink "/proc/$AGENT1/exe")" = "$NEW" ] &&
	daemon_log_since "$from" "upgraded $U1_IF"; then
	ok upgrade_daemon_restart_new_binary
else
	fail upgrade_daemon_restart_new_binary "UDP $UDP_BRIEF; program $p0 -> $p1; agent $(readlink "/proc/$AGENT1/exe"); log: $(tail -n +"$((from + 1))" "$DAEMON_LOG" | head -8 | tr '\n' ' ')"
fi
if [ "$p2" = "$p1" ] && daemon_log_since "$from2" "already run this build"; then
	ok upgrade_daemon_restart_same_binary
else
	fail upgrade_daemon_restart_same_binary "program $p1 -> $p2; log: $(tail -n +"$((from2 + 1))" "$DAEMON_LOG" | head -8 | tr '\n' ' ')"
fi
daemon_stop
log "the daemon checks took $((SECONDS - T)) s"
