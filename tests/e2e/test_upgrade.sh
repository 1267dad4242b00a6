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
# Takes 70-110 s on the 2-core CI machine (make next included).
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

# One container per mode, all upgraded by one `upgrade`: attachments of
# every mode side by side, as on a host that changed modes over time.
MODES=(${XE_UPGRADE_MODES:-native generic tc tc-clsact auto})
N=${#MODES[@]}
topo_create "$N" || { fail upgrade_setup "could not build the namespaces"; exit 1; }
serve "$TOPO_WORLD" w 8000 0 || { fail upgrade_setup "the world's TCP server did not start"; exit 1; }

# ---- facts ----
# rec_of IFNAME FIELD / rec FIELD (the first attachment): from its record,
# as `status --json` shows it now, or in the snapshot STATUS (snap) while
# there is one.
STATUS=""
snap() { STATUS=$(xe status --json 2>/dev/null); }
rec_of() {
	if [ -n "$STATUS" ]; then echo "$STATUS"; else xe status --json 2>/dev/null; fi |
		jq -r --arg i "$1" "[.attachments[] | select(.ifname == \$i)][0].$2 // empty"
}
rec() { xe status --json 2>/dev/null | jq -r ".attachments[0].$1 // empty"; }
pins_dir() { rec pins; }
link_id() { bpftool link show pinned "$1" -j 2>/dev/null | jq -r '.id // empty'; }
map_id() { bpftool map show pinned "$1" -j 2>/dev/null | jq -r '.id // empty'; }
prog_tag() { bpftool prog show id "$1" -j 2>/dev/null | jq -r '.tag // empty'; }
prog_uses_map() { bpftool prog show id "$1" -j 2>/dev/null | jq -e --argjson m "$2" '.map_ids | index($m)' >/dev/null; }
uplink_link() { link_id "$(dirname "$1")/up$(in_host cat /sys/class/net/up0/ifindex)/link"; }
# clsact_filter IFNAME: "HANDLE PRIO PROG_ID" of our filter on its ingress.
clsact_filter() {
	in_host tc filter show dev "$1" ingress |
		awk '/handle 0x7865/ { for (i = 1; i <= NF; i++) { if ($i == "pref") p = $(i + 1); if ($i == "id") id = $(i + 1) } print "0x7865", p, id }'
}
# attached_prog IFNAME MODE: the program the kernel runs there now.
attached_prog() {
	case $2 in
	native | generic) xdp_on "$1" ;;
	tc-clsact) clsact_filter "$1" | awk '{ print $3 }' ;;
	*) tcx_prog_ids "$TOPO_HOST" "$1" | head -1 ;;
	esac
}
# hook_of IFNAME MODE: what holds the program: the link's id, or the
# clsact filter's handle and priority.
hook_of() {
	case $2 in
	tc-clsact) clsact_filter "$1" | awk '{ print $1, $2 }' ;;
	*) link_id "$(rec_of "$1" pins)/link" ;;
	esac
}
tcp_answered() { jq -r '.answered // 0' "$1" 2>/dev/null || echo 0; }
tcp_error() { jq -r '.error // empty' "$1" 2>/dev/null; }
auto_native() { [ "$(rec_of "$1" auto.state)" = native ]; }

# stream_recv NAME PORT: the world's receiver of a numbered UDP stream.
# stream_send NAME NETNS PORT RATE [tcp]: its sender in NETNS and, with
# tcp, a TCP connection asking every 10 ms; both stop when
# $TOPO_TMP/stop-NAME exists (stream_stop), SEND_PIDS[NAME], TCP_PIDS[NAME].
declare -A SEND_PIDS TCP_PIDS
stream_recv() {
	rm -f "$TOPO_TMP/stop-$1" "$TOPO_TMP/recv-$1.json"
	bg "$TOPO_WORLD" python3 "$UDP_SEQ" recv "$2" --out "$TOPO_TMP/recv-$1.json" --timeout 120
}
stream_send() {
	local name=$1 ns=$2 port=$3 rate=$4
	_in_ns "$ns" python3 "$UDP_SEQ" send "$TOPO_WORLD_V4" "$port" --rate "$rate" \
		--stop "$TOPO_TMP/stop-$name" >"$TOPO_TMP/send-$name.json" 2>&1 &
	SEND_PIDS[$name]=$!
	TOPO_PIDS+=("$!")
	if [ -n "${5:-}" ]; then
		bg_x "$ns" stream tcp "$TOPO_WORLD_V4" 8000 --out "$TOPO_TMP/tcp-$name.json" \
			--interval 0.01 --seconds 300 --stop "$TOPO_TMP/stop-$name"
		TCP_PIDS[$name]=$BG_PID
	fi
}
stream_stop() { touch "$TOPO_TMP/stop-$1"; }
# stream_result NAME: waits for the stopped stream's end; LOST = sent -
# received, UDP_BRIEF for messages.
stream_result() {
	local name=$1 sent got
	wait "${SEND_PIDS[$name]}" 2>/dev/null
	[ -n "${TCP_PIDS[$name]:-}" ] && wait "${TCP_PIDS[$name]}" 2>/dev/null
	wait_until 10 test -e "$TOPO_TMP/recv-$name.json"
	sent=$(jq -r '.sent // -1' "$TOPO_TMP/send-$name.json" 2>/dev/null)
	got=$(jq -r '.unique // 0' "$TOPO_TMP/recv-$name.json" 2>/dev/null)
	LOST=$((${sent:--1} - ${got:-0}))
	UDP_BRIEF="sent $sent, received $got (lost $LOST; gaps $(jq -c '.gaps' "$TOPO_TMP/recv-$name.json" 2>/dev/null))"
}
# if_counter JSON IFNAME NAME / if_passed JSON IFNAME: one interface's
# counter in `stats --json`, and the sum of its pass_* counters.
if_counter() { jq -r --arg i "$2" --arg n "$3" '[.interfaces[] | select(.ifname == $i)][0].counters[$n].packets // 0' <<<"$1"; }
if_passed() {
	jq --arg i "$2" '[[.interfaces[] | select(.ifname == $i)][0].counters | to_entries[] |
		select(.key | startswith("pass_")) | .value.packets] | add // 0' <<<"$1"
}
# flowing I REDIRECTED TCP [STATS]: container I's stream was redirected
# more than REDIRECTED times since RED_BASE[mode], its TCP connection
# answered more than TCP times since TCP_BASE[mode]. all_flowing: every
# container's.
declare -A RED_BASE TCP_BASE
flowing() {
	local m=${MODES[$1 - 1]} st=${4:-$(stats_json)}
	[ "$(if_counter "$st" "vc$1" redirected)" -gt $((${RED_BASE[$m]:-0} + $2)) ] &&
		[ "$(tcp_answered "$TOPO_TMP/tcp-$m.json")" -gt $((${TCP_BASE[$m]:-0} + $3)) ]
}
all_flowing() {
	local st i
	st=$(stats_json)
	for ((i = 1; i <= N; i++)); do
		flowing "$i" "$1" "$2" "$st" || return 1
	done
}

# ---- every mode, upgraded at once with traffic running ----
T=$SECONDS
declare -A P0 P1 F0 F1 TAG0 H0 M0 R0 TCP0 XL0 XP0 PROBLEMS
for ((i = 1; i <= N; i++)); do
	m=${MODES[i - 1]}
	args=(--ifname "vc$i" --uplink up0)
	case $m in
	tc-clsact) args+=(--mode tc --tc-hook clsact) ;;
	*) args+=(--mode "$m") ;;
	esac
	xe_capture attach "${args[@]}" || fail "upgrade_${m}_attach" "$XE_ERR"
	stream_recv "$m" $((7000 + i))
done
for ((i = 1; i <= N; i++)); do
	m=${MODES[i - 1]}
	wait_listen "$TOPO_WORLD" $((7000 + i)) udp || fail "upgrade_${m}_stream" "the UDP receiver did not start"
	# auto's tuner wants >= 2000 small packets a second for native XDP.
	stream_send "$m" "${TOPO_C[$i]}" $((7000 + i)) "$([ "$m" = auto ] && echo 3000 || echo 1000)" tcp
done
# The fast path carries them all: the datagrams are redirected, and the
# TCP connections go on answering while the kernel path sees almost
# nothing more (the pass_* counters stay).
wait_until 15 all_flowing 300 20
s0=$(stats_json)
for m in "${MODES[@]}"; do TCP_BASE[$m]=$(tcp_answered "$TOPO_TMP/tcp-$m.json"); done
wait_until 10 all_flowing 300 50
s1=$(stats_json)
for ((i = 1; i <= N; i++)); do
	m=${MODES[i - 1]}
	tf=$TOPO_TMP/tcp-$m.json
	if [ "$(if_counter "$s1" "vc$i" redirected)" -le 300 ] || [ "$(tcp_answered "$tf")" -le $((TCP_BASE[$m] + 50)) ] ||
		[ $(($(if_passed "$s1" "vc$i") - $(if_passed "$s0" "vc$i"))) -gt 10 ]; then
		fail "upgrade_${m}_fastpath" "before the upgrade: redirected $(if_counter "$s1" "vc$i" redirected), TCP $(cat "$tf" 2>/dev/null), passed to the kernel: $(if_passed "$s0" "vc$i") -> $(if_passed "$s1" "vc$i")"
	fi
	if [ "$m" = auto ]; then
		# Native XDP in front of the tc program: the tuner puts it
		# there for small packets.
		xe_tune_start
		wait_until 15 auto_native "vc$i" || PROBLEMS[$m]+="the tuner did not put native XDP in front: $(rec_of "vc$i" auto.why); "
		kill "$TUNE_PID" 2>/dev/null
		wait "$TUNE_PID" 2>/dev/null
		XL0[$m]=$(link_id "$(rec_of "vc$i" pins)/xdp_link")
		XP0[$m]=$(xdp_on "vc$i")
		[ -n "${XP0[$m]}" ] || PROBLEMS[$m]+="no native XDP on vc$i in auto's native state; "
	fi
done
snap
st=$(stats_json)
for ((i = 1; i <= N; i++)); do
	m=${MODES[i - 1]}
	P0[$m]=$(rec_of "vc$i" prog_id)
	F0[$m]=$(attached_prog "vc$i" "$m")
	TAG0[$m]=$(prog_tag "${P0[$m]}")
	H0[$m]=$(hook_of "vc$i" "$m")
	M0[$m]=$(map_id "$(rec_of "vc$i" pins)/egress_stats")
	R0[$m]=$(if_counter "$st" "vc$i" redirected)
	TCP0[$m]=$(tcp_answered "$TOPO_TMP/tcp-$m.json")
done
DIR1=$(rec_of vc1 pins)
STATUS=""
UP0=$(uplink_prog_on up0)
UL0=$(uplink_link "$DIR1")
AGENT0=$(agent_pid)
# upgrade gives each new program its own tx_ports, filled from the record,
# and pins that: a stray or stale pin there (here an empty devmap) is
# never reused (checked below).
rm -f "$DIR1/tx_ports"
bpftool map create "$DIR1/tx_ports" type devmap_hash key 4 value 8 entries 64 name tx_ports ||
	fail upgrade_old_tx_ports "could not pin an empty devmap_hash as tx_ports"
FAKE_TX=$(map_id "$DIR1/tx_ports")
t0=$(date +%s.%N)
xe_new upgrade >"$TOPO_TMP/up.out" 2>&1
rc=$?
UPGRADE_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
log "upgrade --all of $N attachments took $UPGRADE_S s: $(tr '\n' ' ' <"$TOPO_TMP/up.out")"
[ "$rc" = 0 ] || fail upgrade_run "upgrade exited $rc: $(tr '\n' ' ' <"$TOPO_TMP/up.out")"
UP1=$(uplink_prog_on up0)
UL1=$(uplink_link "$DIR1")
check upgrade_uplink "uplink up0: program $UP0 -> $UP1, link $UL0 -> $UL1" \
	eval '[ -n "$UP1" ] && [ "$UP1" != "$UP0" ] && [ -n "$UL0" ] && [ "$UL1" = "$UL0" ]'
AGENT1=$(agent_pid)
check upgrade_agent_restarted "the agent was not restarted from the new binary: pid $AGENT0 -> $AGENT1 ($(readlink "/proc/$AGENT1/exe" 2>/dev/null))" \
	eval '[ "$AGENT1" != "$AGENT0" ] && [ "$(readlink "/proc/$AGENT1/exe")" = "$NEW" ]'
snap
st=$(stats_json)
for ((i = 1; i <= N; i++)); do
	m=${MODES[i - 1]}
	dir=$(rec_of "vc$i" pins)
	p1=$(rec_of "vc$i" prog_id)
	f1=$(attached_prog "vc$i" "$m")
	tag1=$(prog_tag "$p1")
	h1=$(hook_of "vc$i" "$m")
	r1=$(if_counter "$st" "vc$i" redirected)
	RED_BASE[$m]=$r1
	TCP_BASE[$m]=$(tcp_answered "$TOPO_TMP/tcp-$m.json")
	P1[$m]=$p1
	[ -n "${H0[$m]}" ] && [ "$h1" = "${H0[$m]}" ] || PROBLEMS[$m]+="the link (or clsact filter) changed: '${H0[$m]}' -> '$h1'; "
	[ -n "$p1" ] && [ "$p1" != "${P0[$m]}" ] && [ "$f1" = "$p1" ] ||
		PROBLEMS[$m]+="program: recorded ${P0[$m]} -> $p1, attached ${F0[$m]} -> $f1; "
	[ -n "$tag1" ] && [ "$tag1" != "${TAG0[$m]}" ] ||
		PROBLEMS[$m]+="the new program's tag '$tag1' is the old one's (${TAG0[$m]}): the binaries do not differ; "
	prog_gone "${P0[$m]}" || PROBLEMS[$m]+="the old program ${P0[$m]} is still loaded; "
	[ "$(map_id "$dir/egress_stats")" = "${M0[$m]}" ] && prog_uses_map "$p1" "${M0[$m]}" ||
		PROBLEMS[$m]+="the counters' map changed or the new program does not use it (${M0[$m]}); "
	[ "$r1" -ge "${R0[$m]}" ] || PROBLEMS[$m]+="the counters went back: redirected ${R0[$m]} -> $r1; "
	# The XDP program redirects through it (the tc program by ifindex).
	case $m in
	native | generic) xp=$p1 ;;
	auto) xp=$(bpftool prog show pinned "$dir/xdp_prog" -j | jq .id) ;;
	*) xp="" ;;
	esac
	[ "$(map_id "$dir/tx_ports")" != "$FAKE_TX" ] &&
		{ [ -z "$xp" ] || prog_uses_map "$xp" "$(map_id "$dir/tx_ports")"; } ||
		PROBLEMS[$m]+="tx_ports is not the new XDP program's devmap: $(bpftool map show pinned "$dir/tx_ports" 2>&1 | head -1) (the stale pin was $FAKE_TX), program '$xp'; "
	if [ "$m" = auto ]; then
		a1=$(xdp_on "vc$i")
		[ "$(link_id "$dir/xdp_link")" = "${XL0[$m]}" ] && [ -n "$a1" ] && [ "$a1" != "${XP0[$m]}" ] &&
			[ "$(bpftool prog show pinned "$dir/xdp_prog" -j | jq .id)" = "$a1" ] ||
			PROBLEMS[$m]+="auto's native XDP: program ${XP0[$m]} -> $a1, link ${XL0[$m]} -> $(link_id "$dir/xdp_link"); "
	fi
done
STATUS=""
# Traffic goes on through the new programs.
wait_until 5 all_flowing 300 50
st=$(stats_json)
for ((i = 1; i <= N; i++)); do
	m=${MODES[i - 1]}
	flowing "$i" 300 50 "$st" || PROBLEMS[$m]+="the fast path stopped after the upgrade: redirected ${RED_BASE[$m]} -> $(if_counter "$st" "vc$i" redirected), TCP ${TCP_BASE[$m]} -> $(tcp_answered "$TOPO_TMP/tcp-$m.json"); "
done
xe_new upgrade >"$TOPO_TMP/up2.out" 2>&1
check upgrade_again_nothing_to_do "a second upgrade: $(tr '\n' ' ' <"$TOPO_TMP/up2.out")" \
	eval '[ "$(rec_of vc1 prog_id)" = "${P1[${MODES[0]}]}" ] && grep -q "already run this build" "$TOPO_TMP/up2.out" && ! grep -q "^upgraded" "$TOPO_TMP/up2.out"'
for m in "${MODES[@]}"; do stream_stop "$m"; done
for ((i = 1; i <= N; i++)); do
	m=${MODES[i - 1]}
	stream_result "$m"
	[ "$LOST" = 0 ] || PROBLEMS[$m]+="UDP across the upgrade: $UDP_BRIEF; "
	[ -z "$(tcp_error "$TOPO_TMP/tcp-$m.json")" ] ||
		PROBLEMS[$m]+="the TCP connection broke: $(cat "$TOPO_TMP/tcp-$m.json"); "
	log "$m: UDP $UDP_BRIEF; TCP $(jq -c '{sent, answered, error}' "$TOPO_TMP/tcp-$m.json"); program ${P0[$m]} -> ${P1[$m]} (tag ${TAG0[$m]} -> $(prog_tag "${P1[$m]}")), held by ${H0[$m]}"
	if [ -z "${PROBLEMS[$m]:-}" ]; then
		ok "upgrade_$m"
	else
		fail "upgrade_$m" "${PROBLEMS[$m]}"
	fi
done
xe_capture detach --all || fail upgrade_detach_new_binary "the new binary's detach failed: $XE_ERR"
check upgrade_clean "left behind: $(ns_state_brief); pins: $(ls -R "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ')" \
	eval 'wait_until 3 ns_state_gone && pins_gone'
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
# The layout this binary writes.
LAYOUT=$(awk '/define XE_LAYOUT_VERSION/ { print $3 }' "$(dirname "$0")/../../include/xdp_egress.h")
ns_layout() { bpftool map lookup pinned "$1/layout" key 0 0 0 0 -j 2>/dev/null | jq -r '.value[0] // empty' | xargs printf '%d' 2>/dev/null; }

xe_capture attach --ifname vc1 --uplink up0 --mode tc || fail upgrade_layout_attach "$XE_ERR"
dir=$(pins_dir)
ns=$(dirname "$dir")
# Unversioned pins (layout 1): the record without "layout" and "build",
# no layout map in the namespace folder.
meta_edit "$dir" 'del(.layout, .build)' >/dev/null && rm -f "$ns/layout"
p0=$(rec prog_id)
# status reads them, says how they migrate, and changes nothing.
if xe_capture status && [[ $XE_ERR == *"holds pins of layout 1; this xdp-egress writes layout $LAYOUT"* ]] &&
	[ -z "$(rec layout)" ] && [ ! -e "$ns/layout" ]; then
	ok upgrade_layout1_status
else
	fail upgrade_layout1_status "status on unversioned pins: rc $XE_RC, '$XE_ERR', layout '$(rec layout)'"
fi
if XE_BIN=$NEW xe_capture upgrade && [ "$(rec layout)" = "$LAYOUT" ] && [ "$(ns_layout "$ns")" = "$LAYOUT" ] &&
	[ "$(rec prog_id)" != "$p0" ] && [ "$(rec build)" != "" ]; then
	ok upgrade_layout1_stamped
else
	fail upgrade_layout1_stamped "upgrade over unversioned pins: rc $XE_RC, '$XE_ERR'; record layout '$(rec layout)', namespace layout '$(ns_layout "$ns")'"
fi
# A newer layout: everything refuses (attach, detach, status, upgrade, the
# CNI plugin), nothing changes.
p0=$(rec prog_id)
bpftool map update pinned "$ns/layout" key 0 0 0 0 value 99 0 0 0
problems=()
for cmd in "status" "attach --ifname vc1 --mode tc" "detach --all" "upgrade"; do
	XE_BIN=$NEW xe_capture $cmd
	case $XE_ERR in
	*"holds pins of layout 99, newer than this xdp-egress"*"it writes layout $LAYOUT"*"Run the xdp-egress that made them"*) ;;
	*) problems+=("$cmd: rc $XE_RC, '$XE_ERR'") ;;
	esac
	[ "$XE_RC" != 0 ] || problems+=("$cmd exited 0")
done
# The CNI plugin's ADD of another pod (vc2) goes through the same check.
cni_conf=$(jq -nc --arg c "/run/netns/${TOPO_C[2]}" '{cniVersion: "1.0.0", name: "n", type: "xdp-egress-cni",
	mode: "tc", prevResult: {cniVersion: "1.0.0", interfaces: [{name: "vc2"}, {name: "eth0", sandbox: $c}], ips: []}}')
cni_out=$(timeout -k 5 60 nsenter --net="/run/netns/$TOPO_HOST" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" XDP_EGRESS_CNI_LOCK="$TOPO_TMP/cni.lock" CNI_COMMAND=ADD \
	CNI_CONTAINERID=u2 CNI_NETNS="/run/netns/${TOPO_C[2]}" CNI_IFNAME=eth0 CNI_PATH="$TOPO_ROOT/build" \
	"$TOPO_ROOT/build/xdp-egress-cni" <<<"$cni_conf" 2>/dev/null)
cni_rc=$?
case $(jq -r '"\(.msg) \(.details)"' <<<"$cni_out" 2>/dev/null) in
*"holds pins of layout 99"*) [ "$cni_rc" != 0 ] && [ -z "$(xdp_on vc2)" ] || problems+=("CNI ADD: rc $cni_rc, vc2 XDP '$(xdp_on vc2)'") ;;
*) problems+=("CNI ADD: rc $cni_rc, '$cni_out'") ;;
esac
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
u0=$(uplink_prog_on up0)
xe_capture upgrade
if [ "$mv_ok" = 1 ] && [ "$XE_RC" != 0 ] && [ "$(rec prog_id)" = "$p0" ] && [ "$(uplink_prog_on up0)" = "$u0" ] &&
	[[ $XE_ERR == *"egress_stats is a percpu_array of key 4, value 8 bytes, 4 entries"*"Nothing was changed"* ]]; then
	ok upgrade_map_mismatch_refused
	log "map mismatch: $XE_ERR"
else
	fail upgrade_map_mismatch_refused "rc $XE_RC, '$XE_ERR'; program $p0 -> $(rec prog_id), uplink $u0 -> $(uplink_prog_on up0)"
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
PORT=$((7000 + N + 1))
stream_recv daemon "$PORT"
wait_listen "$TOPO_WORLD" "$PORT" udp || fail upgrade_daemon_stream "the UDP receiver did not start"
stream_send daemon "/proc/$U1_PID/ns/net" "$PORT" 3000
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
stream_result daemon
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
