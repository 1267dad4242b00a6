#!/bin/bash
# Crash safety: attach and detach are killed (SIGKILL) at random points,
# again and again, and after each kill a detach, or an attach then a
# detach, must leave the host exactly as it was: the offloads of every
# device involved, the XDP and tc programs, the nftables ruleset, the
# sysctls, the pins, the container map entries and the agent.
#
# Two phases: with nothing else attached (the kill can land while the
# namespace's shared state is made or released), and with a second
# container attached in native mode on the same uplink (its fixes and the
# uplink's program must survive; an uplink peer's fix is handed over).
# Every mode in turn. XE_CRASH_KILLS sets the number of kills per phase
# (default 25: 50 in all). Where each kill landed (the record's phase
# right after it) is counted; the test fails if too few land mid-way.
#
# tests/run.sh's limit for this script (50 kills, each followed by a
# full check of the host):
# timeout: 1200
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe crash

KILLS=${XE_CRASH_KILLS:-25}
MODES=(native generic tc auto)
topo_create 2 || { fail crash_setup "could not build the namespaces"; exit 1; }
C1=${TOPO_C[1]}
C2=${TOPO_C[2]}

# The xdp-egress process itself (nsenter and env exec it), so that $! is
# what SIGKILL hits.
xe_bg() {
	nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
		"$XE_BIN" "$@" >>"$TOPO_TMP/killed.log" 2>&1 &
	XE_BG=$!
}

# Everything attach may change, and detach must restore.
snapshot() {
	local d
	for d in "$C1 eth0" "$C2 eth0" "$TOPO_WORLD eth0" "$TOPO_HOST vc1" \
		 "$TOPO_HOST vc2" "$TOPO_HOST up0"; do
		echo "== offloads $d"
		offloads $d
	done
	echo "== xdp"
	ip -n "$TOPO_HOST" -d -j link show | jq -r '.[] |
		"\(.ifname) \(.xdp.mode // "-") \(.xdp.prog.id // .xdp.attached[0].prog.id // "-")"'
	echo "== tc vc1"
	tcx_prog_ids "$TOPO_HOST" vc1
	tc -n "$TOPO_HOST" qdisc show dev vc1
	tc -n "$TOPO_HOST" filter show dev vc1 ingress
	echo "== nft"
	in_host nft list ruleset
	echo "== sysctl"
	for ns in "$TOPO_HOST" "$C1"; do
		ip netns exec "$ns" sysctl -a 2>/dev/null |
			grep -E '^net\.(ipv4\.conf|ipv6\.conf|netfilter|core\.bpf)' |
			grep -vE 'nf_conntrack_count|stable_secret'
	done
	echo "== pins"
	[ -d "$XDP_EGRESS_BPFFS" ] && (cd "$XDP_EGRESS_BPFFS" && find . -mindepth 1 | sort)
	for d in "$XDP_EGRESS_BPFFS"/ns*; do
		[ -e "$d/containers" ] || continue
		echo "== containers map"
		bpftool map dump pinned "$d/containers" -j | jq -c 'map(.key) | sort'
		bpftool map dump pinned "$d/container_ports" -j | jq -c 'map(.key) | sort'
	done
	echo "== processes"
	xe_procs | sort
}

# The phase of vc1's record now: none (no folder), no-record (a folder
# without its record), attaching, attached or detaching.
VC1_IDX=$(ip -n "$TOPO_HOST" -j link show vc1 | jq -r '.[0].ifindex')
record_phase() {
	local d
	d=$(ls -d "$XDP_EGRESS_BPFFS"/ns*/if"$VC1_IDX" 2>/dev/null | head -1)
	if [ -z "$d" ]; then
		echo none
	elif [ ! -e "$d/meta" ]; then
		echo no-record
	else
		xe status --json 2>/dev/null |
			jq -r '[.attachments[] | select(.ifname == "vc1") | .phase][0] // "unreadable"'
	fi
}

# measure PHASE MODE: how long a whole attach and a whole detach take (s),
# and the system calls each makes (strace), in $TOPO_TMP/st.PHASE.MODE.*
measure() {
	local t0 t1 t2 st=$TOPO_TMP/st.$1.$2
	t0=$(date +%s.%N)
	xe_strace "$st.attach" attach --ifname vc1 --mode "$2" --uplink up0 || return 1
	t1=$(date +%s.%N)
	xe_strace "$st.detach" detach --ifname vc1 || return 1
	t2=$(date +%s.%N)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
	     "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')" \
	     "$(wc -l <"$st.attach")" "$(wc -l <"$st.detach")"
}
# kill_point TRACE FROM: a system call chosen at random in TRACE from the
# first line matching FROM on (where the changes begin), as strace's
# "NAME:when=K" (its K-th call of NAME: strace counts per system call).
kill_point() {
	local n from total
	total=$(wc -l <"$1")
	from=$(grep -n -m1 -E "$2" "$1" | cut -d: -f1)
	from=${from:-1}
	n=$(( from + (RANDOM * 32768 + RANDOM) % (total - from + 1) ))
	head -n "$n" "$1" | awk -F'(' '{ name = $1 } END { print name }' |
		while read -r name; do
			echo "$name:when=$(head -n "$n" "$1" | grep -c "^$name(")"
		done
}
# xe_strace OUT ARGS...: xdp-egress under strace (no kill), its calls in OUT.
xe_strace() {
	local out=$1
	shift
	nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
		strace -qq -o "$out" "$XE_BIN" "$@" >>"$TOPO_TMP/killed.log" 2>&1
}

declare -A landed
declare -A tattach tdetach
n_kill=0

# kill_once PHASE I: one kill of attach or detach of vc1, then recovery,
# then the comparison with the phase's snapshot (BASELINE).
kill_once() {
	local phase=$1 i=$2 mode what delay at before after rc n
	mode=${MODES[$((i % ${#MODES[@]}))]}
	what=$([ $((i / ${#MODES[@]} % 2)) = 0 ] && echo attach || echo detach)
	# (i % 4 < 2: killed by strace at a system call, else by time)
	before=$BASELINE
	if [ "$what" = detach ] &&
	   ! xe_capture attach --ifname vc1 --mode "$mode" --uplink up0; then
		fail "crash_${phase}_${i}_setup" "attach ($mode) exited $XE_RC: $XE_ERR"
		return
	fi
	set -- "$what" --ifname vc1
	[ "$what" = attach ] && set -- "$@" --mode "$mode" --uplink up0
	if [ $((i % 4)) -lt 2 ]; then
		# SIGKILL on entering one of its system calls, chosen at
		# random among all it makes (strace injects it).
		# From where it begins to change things: attach's first
		# folder, detach's mark on the record.
		n=$(kill_point "$TOPO_TMP/st.$phase.$mode.$what" \
			"$([ "$what" = attach ] && echo '^mkdir\(.*/ns' || echo '^bpf\(BPF_MAP_UPDATE_ELEM')")
		delay="syscall $n"
		{ nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
			strace -qq -o /dev/null -e inject="${n%%:*}":signal=KILL:"${n#*:}" \
			"$XE_BIN" "$@" >>"$TOPO_TMP/killed.log" 2>&1; } 2>/dev/null
	else
		# SIGKILL from outside after a random time.
		delay=$(awk -v s="$RANDOM" -v t="$([ "$what" = attach ] && echo "${tattach[$mode]}" || echo "${tdetach[$mode]}")" \
			'BEGIN { printf "%.3f", s / 32767 * t * 1.1 }')
		xe_bg "$@" 2>/dev/null
		# Not a wait for a condition: the random time to kill at.
		sleep "$delay"
		{ kill -9 "$XE_BG"; wait "$XE_BG"; } 2>/dev/null
		delay="${delay}s"
	fi
	n_kill=$((n_kill + 1))
	at=$(record_phase)
	[ "$at" = none ] && { [ "$what" = attach ] && at=before-record || at=after-record; }
	landed["$what:$at"]=$((${landed["$what:$at"]:-0} + 1))
	# Recovery: every other time a detach, else an attach then a detach.
	if [ $((i % 2)) = 0 ]; then
		xe_capture detach --ifname vc1
		rc=$XE_RC
		# Nothing to detach is an answer too (the kill came before the
		# record, or after it was gone): it still releases what is left.
		if [ "$rc" != 0 ] && ! grep -q "is not attached" <<<"$XE_ERR"; then
			fail "crash_${phase}_${i}" "$what ($mode) killed at ${delay} (record: $at); detach exited $rc: $XE_ERR"
			return
		fi
	else
		# An attach killed after it finished is attached: the next one
		# must say so.
		if ! xe_capture attach --ifname vc1 --mode "$mode" --uplink up0 &&
		   ! { [ "$at" = attached ] && grep -q "is already attached" <<<"$XE_ERR"; }; then
			fail "crash_${phase}_${i}" "$what ($mode) killed at ${delay} (record: $at); the next attach exited $XE_RC: $XE_ERR"
			xe detach --ifname vc1 >/dev/null 2>&1
			return
		fi
		if ! xe_capture detach --ifname vc1; then
			fail "crash_${phase}_${i}" "$what ($mode) killed at ${delay} (record: $at); attach, then detach exited $XE_RC: $XE_ERR"
			return
		fi
	fi
	after=$(snapshot 2>&1)
	if [ "$before" = "$after" ]; then
		ok "crash_${phase}_${i}"
		log "$what ($mode) killed at ${delay}, record: $at; restored by $([ $((i % 2)) = 0 ] && echo detach || echo attach+detach)"
	else
		fail "crash_${phase}_${i}" "$what ($mode) killed at ${delay} (record: $at); left changed: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -8 | tr '\n' ' ')"
	fi
}

# measure_all PHASE: the windows to kill in, for every mode.
measure_all() {
	local mode a d na nd
	for mode in "${MODES[@]}"; do
		read -r a d na nd < <(measure "$1" "$mode") || true
		if [ -z "${nd:-}" ]; then
			fail "crash_setup_${1}_$mode" "a whole attach/detach in $mode mode failed: $(tail -3 "$TOPO_TMP/killed.log")"
			exit 1
		fi
		tattach[$mode]=$a
		tdetach[$mode]=$d
		log "$1, $mode: attach takes ${a}s and $na system calls, detach ${d}s and $nd"
	done
}

# Phase 1: vc1 alone.
measure_all alone
BASELINE=$(snapshot 2>&1)
for ((i = 0; i < KILLS; i++)); do
	kill_once alone "$i"
done

# Phase 2: vc2 attached (native, the uplink peer's GRO fix is shared).
if xe_capture attach --ifname vc2 --mode native --uplink up0; then
	ok crash_neighbour_attached
	measure_all shared
	BASELINE=$(snapshot 2>&1)
	for ((i = 0; i < KILLS; i++)); do
		kill_once shared "$i"
	done
	vc2_prog=$(xdp_on vc2)
	check crash_neighbour_untouched "vc2's program is '$vc2_prog', recorded $(attached_prog_id vc2)" \
		test -n "$vc2_prog" -a "$vc2_prog" = "$(attached_prog_id vc2)"
	xe detach --ifname vc2 >/dev/null 2>&1
else
	fail crash_neighbour_attached "attach vc2 exited $XE_RC: $XE_ERR"
fi

summary=$(for k in "${!landed[@]}"; do echo "$k=${landed[$k]}"; done | sort | tr '\n' ' ')
log "$n_kill kills; where they landed: $summary"
mid_attach=$(( ${landed["attach:attaching"]:-0} + ${landed["attach:no-record"]:-0} ))
mid_detach=$(( ${landed["detach:detaching"]:-0} + ${landed["detach:no-record"]:-0} ))
check crash_kills_landed_midway "of $n_kill kills, $mid_attach landed mid-attach and $mid_detach mid-detach (want 5 each): $summary" \
	test "$mid_attach" -ge 5 -a "$mid_detach" -ge 5
check crash_clean_at_end "after the last detach: $(ns_state_brief); pins: $(find "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ')" \
	eval 'ns_state_gone && pins_gone && [ "$(xdp_prog_count "$TOPO_HOST")" = 0 ]'
