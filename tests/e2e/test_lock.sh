#!/bin/bash
# The one lock (src/sys/lock.c): the CLI, the daemon, the tuner and the CNI
# plugin of a host take the same flock, on the pin root folder.
#
# A round: with nothing attached and `xdp-egress tune` running, LOCK_PODS
# pods are ADDed at once through the CNI plugin (bridge + xdp-egress-cni,
# mode auto) in one host namespace, so the first ADDs race to create the
# namespace's shared maps, the uplink program and the agent. Each pod starts
# 64-byte UDP (iperf3, 2 Mbit/s) as soon as its ADD returns, and the tuner
# puts native XDP in front of it while the later ADDs still run. Then:
# every ADD succeeded, status lists each pod once, the tuner switched every
# pod, each pod's datagrams reached the world, DEL of all pods at once
# succeeded and left no pin, XDP program, agent or nft table.
#
# - one round with the lock: every check must pass;
# - the same round with the test hook XDP_EGRESS_TEST_NO_LOCK=1 in every
#   plugin call and in the tuner (no lock anywhere) must fail: up to
#   LOCK_NOLOCK_ROUNDS rounds (default 5) until one does, each cleaned up
#   after. LOCK_NOLOCK_ALL=1 runs them all and counts the failing ones (to
#   measure how reliable the proof is); the hook warns on stderr;
# - a pin root that is a symbolic link is refused, and a non-root user can
#   neither open nor flock the pin root (xdp-egress run as one is refused,
#   saying it needs root).
set -u
source "$(dirname "$0")/../lib/topo.sh"
source "$(dirname "$0")/../lib/cni.sh"

LOCK_PODS=${LOCK_PODS:-6}
LOCK_NOLOCK_ROUNDS=${LOCK_NOLOCK_ROUNDS:-5}
LOCK_NOLOCK_ALL=${LOCK_NOLOCK_ALL:-0}
FLOOD_S=4
PORT0=5300

lock_cleanup() {
	pods_gone
	rm -f "$XDP_EGRESS_BPFFS-link"
	rm -rf "$XDP_EGRESS_BPFFS-real"
	topo_destroy
}
trap lock_cleanup EXIT
trap 'exit 1' INT TERM HUP
need_xe lock
cni_need lock || exit 1
topo_create 0 || { fail lock_setup "could not build the namespaces"; exit 1; }
cni_setup_bin
conflist xe-lock cni0 10.232.0.0/24 auto >"$TOPO_TMP/lock.conflist"
for ((n = 1; n <= LOCK_PODS; n++)); do
	start_iperf_server $((PORT0 + n)) || { fail lock_setup "iperf3 server $((PORT0 + n)) did not start"; exit 1; }
done

# pods_gone: DEL every pod that got as far as a result (a failed ADD is
# DELed with the bridge's result, as a runtime does), then its namespace.
pods_gone() {
	local n
	for n in "${!PODS[@]}"; do
		[ ! -e "$TOPO_TMP/pod$n.result" ] && [ -e "$TOPO_TMP/pod$n.r0" ] &&
			cp "$TOPO_TMP/pod$n.r0" "$TOPO_TMP/pod$n.result"
		[ -e "$TOPO_TMP/pod$n.result" ] && pod_del "$n" >/dev/null 2>&1
		ip netns del "${PODS[$n]}" 2>/dev/null
		TOPO_NS=($(printf '%s\n' "${TOPO_NS[@]}" | grep -vxF "${PODS[$n]}"))
		rm -f "$TOPO_TMP"/pod"$n".*
	done
	PODS=()
}

# what the round found wrong, one line each (empty: all passed); R_NAMES and
# R_WHY hold every check in order for the caller to report.
R_NAMES=()
R_WHY=()
rcheck() {
	local name=$1 why=$2
	shift 2
	if "$@"; then R_NAMES+=("$name"); R_WHY+=(""); else R_NAMES+=("$name"); R_WHY+=("$why"); fi
}
round_failed() {
	local w
	for w in "${R_WHY[@]}"; do [ -n "$w" ] && return 0; done
	return 1
}

# all_native: every pod's attachment (VETHS) has native XDP in front.
all_native() {
	xe status --json 2>/dev/null | jq -e --arg v "$VETHS" '
		($v | split(" ")) as $want |
		[.attachments[] | select(.auto.state == "native") | .ifname] as $got |
		($want | length) > 0 and ($want - $got | length) == 0' >/dev/null
}
no_xe_procs() { [ -z "$(xe_procs)" ]; }
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
del_clean() { pins_gone && ns_state_gone && no_xdp_anywhere; }

# lock_round TAG: one round (see the top); fills R_NAMES/R_WHY.
lock_round() {
	local tag=$1 n p pids=() rc v st count t0 t_add sent recv s_all=0 a0 arrived
	local bad_add="" bad_status="" bad_traffic="" bad_del="" switched_by_add
	R_NAMES=()
	R_WHY=()
	rm -f "$TOPO_TMP"/add*.rc "$TOPO_TMP"/flood*.json "$TOPO_TMP/tune.log"
	for ((n = 1; n <= LOCK_PODS; n++)); do
		new_pod "$n" || { rcheck "${tag}_setup" "cannot create pod namespace $n" false; return; }
	done
	xe_tune_start
	a0=$(udp_arrived "$TOPO_WORLD")
	t0=$(date +%s.%N)
	# Every pod at once; its UDP starts when its own ADD returned.
	for ((n = 1; n <= LOCK_PODS; n++)); do
		(
			pod_add "$n" "$TOPO_TMP/lock.conflist"
			rc=$?
			echo "$rc $(tr -s '\n\t' '  ' <<<"${CNI_ERR:-}")" >"$TOPO_TMP/add$n.rc"
			[ "$rc" = 0 ] && timeout -k 2 $((FLOOD_S + 15)) ip netns exec "${PODS[$n]}" \
				iperf3 -c "$TOPO_WORLD_V4" -p $((PORT0 + n)) -u -l 64 -b 2M -t "$FLOOD_S" -J \
				>"$TOPO_TMP/flood$n.json" 2>&1
		) &
		pids+=($!)
		TOPO_PIDS+=($!)
	done
	adds_done() { [ "$(ls "$TOPO_TMP"/add*.rc 2>/dev/null | wc -l)" = "$LOCK_PODS" ]; }
	wait_until 90 adds_done
	t_add=$(since "$t0")
	switched_by_add=$(grep -c "native XDP in front" "$TOPO_TMP/tune.log" 2>/dev/null)
	for ((n = 1; n <= LOCK_PODS; n++)); do
		rc=$(cat "$TOPO_TMP/add$n.rc" 2>/dev/null || echo "none")
		[ "${rc%% *}" = 0 ] || bad_add="$bad_add pod$n: ${rc:0:300};"
	done
	rcheck "${tag}_add_all_at_once" "$LOCK_PODS ADDs at once:$bad_add $(grep -v '^xdp-egress: warning' "$TOPO_TMP/cni-stderr.log" 2>/dev/null | tail -3 | tr '\n' ' ')" \
		test -z "$bad_add"
	log "$tag: $LOCK_PODS ADDs took ${t_add} s; the tuner had switched $switched_by_add pod(s) by then"

	# status: each pod's host veth exactly once, nothing else.
	st=$(xe status --json 2>/dev/null)
	for ((n = 1; n <= LOCK_PODS; n++)); do
		[ -e "$TOPO_TMP/pod$n.result" ] || continue
		v=$(host_veth "$n")
		count=$(jq --arg v "$v" '[.attachments[] | select(.ifname == $v)] | length' <<<"$st")
		[ "$count" = 1 ] || bad_status="$bad_status $v listed $count times;"
	done
	count=$(jq '.attachments | length' <<<"$st" 2>/dev/null)
	[ "$count" = "$LOCK_PODS" ] || bad_status="$bad_status $count attachments for $LOCK_PODS pods;"
	rcheck "${tag}_status_each_pod_once" "status --json:$bad_status" test -z "$bad_status"

	VETHS=""
	for ((n = 1; n <= LOCK_PODS; n++)); do
		[ -e "$TOPO_TMP/pod$n.result" ] || { VETHS=""; break; }
		VETHS="$VETHS${VETHS:+ }$(host_veth "$n")"
	done
	[ -n "$VETHS" ] && wait_until "$FLOOD_S" all_native
	rc=$?
	rcheck "${tag}_tuner_switched_every_pod" "auto.state of the pods after $FLOOD_S s of small UDP: $(xe status --json 2>/dev/null | jq -c '[.attachments[] | .auto.state]'); tune log: $(grep -v '^tuning' "$TOPO_TMP/tune.log" | tail -2 | tr '\n' ' ')" \
		test "$rc" = 0

	# The pods' UDP: each reached the world, through the fast path or not.
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	arrived=$(($(udp_arrived "$TOPO_WORLD") - a0))
	for ((n = 1; n <= LOCK_PODS; n++)); do
		sent=$(jq -r '.end.sum.packets // 0' "$TOPO_TMP/flood$n.json" 2>/dev/null || echo 0)
		recv=$(jq -r '(.end.sum.packets // 0) - (.end.sum.lost_packets // 0)' "$TOPO_TMP/flood$n.json" 2>/dev/null || echo 0)
		s_all=$((s_all + sent))
		# iperf3's own receiver overruns on this shared machine: half is
		# plenty to tell "passes" from "blackholed".
		[ "$sent" -gt 1000 ] && [ $((recv * 2)) -ge "$sent" ] ||
			bad_traffic="$bad_traffic pod$n: $sent sent, $recv received ($(jq -r '.error // empty' "$TOPO_TMP/flood$n.json" 2>/dev/null | head -c 100));"
	done
	rcheck "${tag}_traffic_from_each_pod" "UDP:$bad_traffic" test -z "$bad_traffic"
	log "$tag: $s_all datagrams sent by $LOCK_PODS pods, $arrived reached the world's UDP layer (+$(since "$t0") s)"

	# DEL of every pod at once.
	pids=()
	for ((n = 1; n <= LOCK_PODS; n++)); do
		[ -e "$TOPO_TMP/pod$n.result" ] || continue
		(
			pod_del "$n"
			rc=$?
			echo "$rc $(tr -s '\n\t' '  ' <<<"${CNI_ERR:-}")" >"$TOPO_TMP/del$n.rc"
		) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for ((n = 1; n <= LOCK_PODS; n++)); do
		[ -e "$TOPO_TMP/del$n.rc" ] || continue
		rc=$(cat "$TOPO_TMP/del$n.rc")
		[ "${rc%% *}" = 0 ] || bad_del="$bad_del pod$n: ${rc:0:300};"
		rm -f "$TOPO_TMP/del$n.rc" "$TOPO_TMP/pod$n.result"
	done
	rcheck "${tag}_del_all_at_once" "DEL:$bad_del" test -z "$bad_del"
	log "$tag: DEL of every pod at once returned at +$(since "$t0") s"
	wait_until 5 del_clean
	rc=$?
	rcheck "${tag}_del_leaves_nothing" "after DEL of every pod: pins [$(ls -A "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ')], XDP $(for ns in "${TOPO_NS[@]}"; do xdp_progs "$ns"; done | tr '\n' ' '), $(ns_state_brief)" \
		test "$rc" = 0
	log "$tag: DEL and its checks done at +$(since "$t0") s"
	kill "$TUNE_PID" 2>/dev/null
	wait "$TUNE_PID" 2>/dev/null
}

# round_reset: whatever a failed round left (pods, records, pins, the
# agent, the uplink program, the nft table) goes before the next one.
round_reset() {
	local p
	pods_gone
	XE_TIMEOUT=20 xe detach --all >/dev/null 2>&1
	for p in $(xe_procs); do kill "$p" 2>/dev/null; done
	wait_until 2 no_xe_procs
	rm -rf "$XDP_EGRESS_BPFFS"
	in_host nft delete table inet xdp_egress 2>/dev/null
	ip -n "$TOPO_HOST" link set up0 xdp off 2>/dev/null
	ip -n "$TOPO_HOST" link set up0 xdpgeneric off 2>/dev/null
	: >"$TOPO_TMP/cni-stderr.log"
}

# ---- with the lock ----------------------------------------------------------

start=$(date +%s)
lock_round lock
for i in "${!R_NAMES[@]}"; do
	if [ -z "${R_WHY[$i]}" ]; then ok "${R_NAMES[$i]}"; else fail "${R_NAMES[$i]}" "${R_WHY[$i]}"; fi
done
log "the round with the lock took $(($(date +%s) - start)) s"
round_reset

# ---- without it (the test hook) ---------------------------------------------

export XDP_EGRESS_TEST_NO_LOCK=1 # the tuner (xe_tune_start inherits it)
CNI_ENV=(XDP_EGRESS_TEST_NO_LOCK=1)
failed_rounds=0
first_failed=0
for ((r = 1; r <= LOCK_NOLOCK_ROUNDS; r++)); do
	start=$(date +%s)
	lock_round "nolock$r"
	[ "$r" = 1 ] && check lock_test_hook_warns "no warning about XDP_EGRESS_TEST_NO_LOCK in the plugin's stderr: $(head -c 300 "$TOPO_TMP/cni-stderr.log")" \
		grep -q "XDP_EGRESS_TEST_NO_LOCK=1: running WITHOUT the lock" "$TOPO_TMP/cni-stderr.log"
	if round_failed; then
		failed_rounds=$((failed_rounds + 1))
		[ "$first_failed" = 0 ] && first_failed=$r
		for i in "${!R_NAMES[@]}"; do
			[ -n "${R_WHY[$i]}" ] && log "without the lock, round $r: ${R_NAMES[$i]}: ${R_WHY[$i]:0:400}"
		done
	else
		log "without the lock, round $r passed"
	fi
	log "round $r without the lock took $(($(date +%s) - start)) s"
	round_reset
	[ "$failed_rounds" -gt 0 ] && [ "$LOCK_NOLOCK_ALL" != 1 ] && break
done
unset XDP_EGRESS_TEST_NO_LOCK
CNI_ENV=()
log "without the lock: $failed_rounds of $((r > LOCK_NOLOCK_ROUNDS ? LOCK_NOLOCK_ROUNDS : r)) round(s) failed"
check lock_needed "all $LOCK_NOLOCK_ROUNDS rounds without the lock passed: this test cannot tell the lock is there" \
	test "$first_failed" -gt 0

# ---- the pin root: no symbolic link, root's alone ----------------------------

real=$XDP_EGRESS_BPFFS-real
mkdir -m 0700 "$real"
ln -s "$real" "$XDP_EGRESS_BPFFS-link"
XDP_EGRESS_BPFFS=$XDP_EGRESS_BPFFS-link xe_capture detach --all
check lock_symlink_root_refused "detach --all with a symlinked pin root exited $XE_RC: $XE_ERR" \
	eval '[ "$XE_RC" != 0 ] && grep -q "is a symbolic link" <<<"$XE_ERR" && [ -z "$(ls -A "$real")" ]'
rm -f "$XDP_EGRESS_BPFFS-link"
rmdir "$real"

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
mkdir -p -m 0700 "$XDP_EGRESS_BPFFS"
out=$(nobody flock -n "$XDP_EGRESS_BPFFS" true 2>&1)
rc=$?
check lock_nonroot_cannot_flock "as uid 65534, flock -n $XDP_EGRESS_BPFFS exited $rc: $out" \
	eval '[ "$rc" != 0 ] && grep -qi "permission denied" <<<"$out"'
out=$(nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$XE_BIN" detach --all 2>&1)
rc=$?
check lock_nonroot_refused "xdp-egress detach --all as uid 65534 exited $rc: $out" \
	eval '[ "$rc" != 0 ] && grep -q "root" <<<"$out"'
