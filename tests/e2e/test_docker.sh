#!/bin/bash
# Docker: a real dockerd in the host namespace, containers from a local
# busybox rootfs on docker0 (the host veth is a bridge port) and Docker's own
# MASQUERADE, which does the NAT: the world has no route to docker0's
# subnet. The CLI attaches by container name: ping takes the kernel path
# (pass_icmp), UDP and TCP reach the world carried by the fast path once
# the kernel accepted them (redirected grows; the world's replies take the
# return path into the bridge port), the world sees only the node's address
# (Docker's MASQUERADE, applied by the fast path), stats show the redirects,
# detach restores everything. Bad inputs fail with a clear message and leave
# nothing. Then the daemon: reconcile at start, attach on start by label or
# config network, detach on stop, a lock against a second daemon, a restart
# that does not interrupt a carried flow, and what changed while it was
# away.
set -u
source "$(dirname "$0")/../lib/topo.sh"
source "$(dirname "$0")/../lib/engines.sh"
source "$(dirname "$0")/../lib/checks.sh"
trap 'eng_cleanup; topo_destroy' EXIT
trap 'exit 1' INT TERM HUP
need_xe docker
engines_need docker dockerd "$DOCKER_CLI"

topo_create 0 || { fail docker_setup "could not build the namespaces"; exit 1; }
docker_up || exit 1
ok docker_setup
W=$TOPO_WORLD_V4
UPLINK_ADDR=192.0.2.1
GW=${DOCKER_BIP%/*}

run_c() { dk run -d --name "$1" "${@:2}" "${ENG_USR_VOLUME[@]}" local/bb sleep 3600 >/dev/null; }
run_img() { dk run -d --name "$1" "${ENG_USR_VOLUME[@]}" "$2" sleep 3600 >/dev/null; }
pid_of() { dk inspect -f '{{.State.Pid}}' "$1"; }
prog_id() { ip -n "$TOPO_HOST" -d -j link show "$1" | jq '.[0].xdp.prog.id // .[0].xdp.attached[0].prog.id // 0'; }
in_cns() { local p=$1; shift; nsenter --net="/proc/$p/ns/net" "$@"; }

run_c c1 || { fail docker_setup "docker run c1 failed"; exit 1; }
C1_PID=$(pid_of c1)
C1_IF=$(hostif_of_pid "$C1_PID")
C1_ID=$(dk inspect -f '{{.Id}}' c1)
world_servers docker || exit 1

# ---- Docker's own NAT first: what the world sees without xdp-egress ----
ping_source docker_kernel dk exec c1
KERNEL_SRC=$PING_SRC
KERNEL_TCP=$(dk exec c1 iperf3 -c "$W" -t 3 -J 2>/dev/null | jq '.end.sum_received.bits_per_second // 0')
log "Docker's MASQUERADE: world sees source $KERNEL_SRC; TCP $(awk -v b="$KERNEL_TCP" 'BEGIN{printf "%.2f", b/1e9}') Gbit/s"

BEFORE_OFFLOADS=$(in_cns "$C1_PID" ethtool -k eth0)

# ---- attach by name ----
if xe_capture attach --docker c1 --mode native; then
	ok docker_attach_by_name
else
	fail docker_attach_by_name "attach --docker c1 exited $XE_RC: $XE_ERR"
fi
st=$(xe status --json 2>/dev/null)
if [ "$(jq -r '.attachments[0].ifname' <<<"$st")" = "$C1_IF" ] &&
	[ "$(ip -n "$TOPO_HOST" -j link show "$C1_IF" | jq -r '.[0].master')" = docker0 ]; then
	ok docker_attached_to_bridge_port
else
	fail docker_attached_to_bridge_port "want the attachment on $C1_IF, a port of docker0; status: $(tr -d '\n\t' <<<"$st"); link: $(ip -n "$TOPO_HOST" -br link show "$C1_IF")"
fi
if xe stats --docker "${C1_ID:0:12}" --json >/dev/null 2>&1; then
	ok docker_stats_by_id_prefix
else
	fail docker_stats_by_id_prefix "stats --docker ${C1_ID:0:12} failed"
fi

# ---- traffic: the gateway's ARP goes to the bridge; ping, UDP, TCP ----
in_cns "$C1_PID" ip neigh flush all
ip -n "$TOPO_HOST" neigh flush all
check docker_capture_world "tcpdump in the world did not start: $(cat "$ENG_DIR/other.pcap.err" "$ENG_DIR/nat.pcap.err")" \
	eval 'capture_start "$ENG_DIR/other.pcap" "ip and not src host $UPLINK_ADDR and not src host $W" &&
		capture_start "$ENG_DIR/nat.pcap" "src host $UPLINK_ADDR and (icmp or udp or tcp[tcpflags] & tcp-syn != 0)"'
s0=$(stats_json --docker c1)
if dk exec c1 ping -c 3 -W 2 "$W" >/dev/null; then
	ok docker_ping
else
	fail docker_ping "ping from c1 to the world failed: $(counters_brief "$(stats_json --docker c1)")"
fi
s1=$(stats_json --docker c1)
if in_cns "$C1_PID" ip neigh show "$GW" | grep -q lladdr &&
	[ "$(counter "$s1" pass_non_ip)" -ge 1 ]; then
	ok docker_gateway_arp_via_bridge
else
	fail docker_gateway_arp_via_bridge "c1 has no neighbour entry for $GW or no ARP was passed: $(in_cns "$C1_PID" ip neigh) $(counters_brief "$s1")"
fi
if [ "$(($(counter "$s1" pass_icmp) - $(counter "$s0" pass_icmp)))" -ge 3 ] &&
	[ "$(counter "$s1" redirected)" = "$(counter "$s0" redirected)" ]; then
	ok docker_ping_kernel_path
else
	fail docker_ping_kernel_path "want pass_icmp +3 and no redirect for 3 pings (ICMP is the kernel's): $(counters_brief "$s1")"
fi

FLOW_NETNS=/proc/$C1_PID/ns/net
FLOW_STATS=(--docker c1)
flow docker_udp dk exec c1 iperf3 -c "$W" -u -b 20M -l 1000 -t 2 -J
check_udp docker_udp
# The world's ACKs: MASQUERADE undone and delivered into the bridge port.
flow docker_tcp dk exec c1 iperf3 -c "$W" -t 3 -J
check_tcp docker_tcp
log "xdp-egress: TCP $(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e7 | floor / 100' <<<"$FLOW_OUT") Gbit/s (Docker's NAT: $(awk -v b="$KERNEL_TCP" 'BEGIN{printf "%.2f", b/1e9}'))"
capture_stop

# ---- what the world saw ----
n_other=$(capture_count "$ENG_DIR/other.pcap" "")
n_icmp=$(capture_count "$ENG_DIR/nat.pcap" icmp)
n_udp=$(capture_count "$ENG_DIR/nat.pcap" udp)
n_syn=$(capture_count "$ENG_DIR/nat.pcap" tcp)
if [ "$n_other" = 0 ] && [ "$n_icmp" -ge 3 ] && [ "$n_udp" -ge 1000 ] && [ "$n_syn" -ge 1 ]; then
	ok docker_world_sees_only_node_address
else
	fail docker_world_sees_only_node_address "from $UPLINK_ADDR: $n_icmp ICMP, $n_udp UDP, $n_syn SYN; from other sources: $n_other ($(tcpdump -nr "$ENG_DIR/other.pcap" 2>/dev/null | head -3 | tr '\n' ' '))"
fi
XDP_SRC=$(tcpdump -nr "$ENG_DIR/nat.pcap" 'icmp[icmptype] = icmp-echo' 2>/dev/null | awk '{print $3}' | sort -u | tr '\n' ' ')
if [ -n "$XDP_SRC" ] && [ "$XDP_SRC" = "$KERNEL_SRC" ]; then
	ok docker_same_source_as_without
else
	fail docker_same_source_as_without "without xdp-egress Docker's MASQUERADE gave '$KERNEL_SRC', with it '$XDP_SRC'"
fi
# The UDP datagrams the fast path carried left with one source port, the
# one Docker's MASQUERADE gave the flow in the kernel's conntrack entry.
UDP_SRC=$(tcpdump -nr "$ENG_DIR/nat.pcap" udp 2>/dev/null | awk '{print $3}' | sort | uniq -c | sort -rn | head -1 | awk '{print $2}')
check docker_udp_kernel_translation "the carried UDP flow left as '$UDP_SRC'; want $UPLINK_ADDR and a port" \
	eval '[[ "$UDP_SRC" == "$UPLINK_ADDR".* ]]'


# ---- detach by name ----
if xe_capture detach --docker c1 && no_xdp_anywhere && pins_gone && ns_state_gone &&
	[ "$(in_cns "$C1_PID" ethtool -k eth0)" = "$BEFORE_OFFLOADS" ]; then
	ok docker_detach_by_name
else
	fail docker_detach_by_name "detach --docker c1 exited $XE_RC ($XE_ERR); XDP: $(xdp_progs "$TOPO_HOST" | tr '\n' ';') pins: $(ls -A "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ') $(ns_state_brief) offloads changed: $(diff <(echo "$BEFORE_OFFLOADS") <(in_cns "$C1_PID" ethtool -k eth0) | grep '^[<>]' | tr '\n\t' '  ')"
fi
if dk exec c1 ping -c 2 -W 2 "$W" >/dev/null; then
	ok docker_kernel_path_after_detach
else
	fail docker_kernel_path_after_detach "c1 cannot reach the world through Docker's NAT after detach"
fi

# Generic mode on the same bridge port.
if xe_capture attach --docker c1 --mode generic; then
	flow docker_generic_tcp dk exec c1 iperf3 -c "$W" -t 3 -J
	check_tcp docker_generic_tcp
	xe detach --docker c1 >/dev/null 2>&1
else
	fail docker_generic_tcp "attach --docker c1 --mode generic exited $XE_RC: $XE_ERR"
fi

# ---- bad inputs ----
# bad NAME MENTION [VAR=VALUE...] -- XE ARGS: fails, says so, leaves nothing.
bad() {
	local t=docker_bad_$1 mention=$2 envs=()
	shift 2
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	# Assignments before a function call reach the commands it runs.
	if [ ${#envs[@]} -gt 0 ]; then
		eval "${envs[*]} xe_capture \"\$@\""
	else
		xe_capture "$@"
	fi
	check_refused "$t" "$mention" "${envs[*]} $*"
}
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$ENG_DIR/refusing.sock"
dk create --name stopped local/bb sleep 3600 >/dev/null
dk run -d --name hostnet --network host local/bb sleep 3600 >/dev/null
bad no_such_container "no container 'nosuch'" -- attach --docker nosuch
bad socket_missing "no Docker socket at" "DOCKER_HOST=unix://$ENG_DIR/none.sock" -- attach --docker c1
bad socket_refusing "refuses connections" "DOCKER_HOST=unix://$ENG_DIR/refusing.sock" -- attach --docker c1
bad tcp_docker_host "unix socket" "DOCKER_HOST=tcp://127.0.0.1:2375" -- attach --docker c1
bad not_running "not running" -- attach --docker stopped
bad host_network "host's network" -- attach --docker hostnet
bad bad_name "not a container name" -- attach --docker "c1/../x"
bad stats_no_such_container "no container 'nosuch'" -- stats --docker nosuch
bad detach_not_attached "not attached" -- detach --docker c1
dk rm -f stopped hostnet >/dev/null

# The daemon's own bad inputs: a config it cannot use stops it at once; an
# engine that is not there yet is waited for.
# bad_config NAME JSON MESSAGE: the daemon refuses config JSON at once,
# saying MESSAGE.
bad_config() {
	local out rc
	printf '%s\n' "$2" >"$ENG_DIR/$1.json"
	out=$(timeout 10 nsenter --net="/run/netns/$TOPO_HOST" "$XE_BIN" daemon \
		--run-dir "$ENG_DIR/bad-run" --config "$ENG_DIR/$1.json" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF "$3" <<<"$out"; then
		ok "$1"
		log "daemon --config $1.json: $out"
	else
		fail "$1" "exit $rc: $out"
	fi
}
bad_config docker_daemon_bad_config '{"networks": "xenet"}' '"networks" must be an array'
bad_config docker_daemon_bad_metrics_config '{"metrics": 9473}' '"metrics" must be a string ADDR:PORT'
bad_config docker_daemon_bad_labels_config '{"labels": ["mode", "ct-size"]}' \
	'"labels" may name only attach options (mode, uplink, uplink-mode, container-if), not ct-size'
DOCKER_HOST=unix://$ENG_DIR/none.sock nsenter --net="/run/netns/$TOPO_HOST" "$XE_BIN" daemon \
	--run-dir "$ENG_DIR/bad-run" 2>"$ENG_DIR/wait.log" &
WAIT_PID=$!
if wait_until 10 grep -q "retrying every" "$ENG_DIR/wait.log" && grep -q "no Docker socket at" "$ENG_DIR/wait.log" &&
	kill -0 "$WAIT_PID" 2>/dev/null; then
	ok docker_daemon_waits_for_engine
else
	fail docker_daemon_waits_for_engine "with no engine the daemon $(kill -0 "$WAIT_PID" 2>/dev/null && echo runs || echo exited) and said: $(tr '\n' ' ' <"$ENG_DIR/wait.log")"
fi
kill -TERM "$WAIT_PID" 2>/dev/null
wait "$WAIT_PID"
check docker_daemon_sigterm_while_waiting "the waiting daemon did not exit 0 on SIGTERM" [ "$?" = 0 ]

# ---- the daemon ----
dk network create --subnet 10.212.0.0/24 xenet >/dev/null
printf '{"networks": ["xenet"], "options": {"mode": "native"}, "metrics": "127.0.0.1:9474"}\n' >"$ENG_DIR/daemon.json"
run_c lab0 --label xdp-egress.enable=true   # runs before the daemon starts
if daemon_start --config "$ENG_DIR/daemon.json"; then
	ok docker_daemon_starts
else
	fail docker_daemon_starts "no 'following ... events' in its log: $(tail -5 "$DAEMON_LOG" | tr '\n' ' ')"
fi
LAB0_IF=$(hostif_of_pid "$(pid_of lab0)")
check docker_daemon_reconcile_attach "lab0 (labelled, running before the daemon) is not attached: $(attached_ifnames | tr '\n' ' ')" \
	wait_until 10 is_attached "$LAB0_IF"
# The daemon's exporter ("metrics" in its config) names lab0 as Docker does.
lab0_metrics() {
	in_host curl -sS -m 3 http://127.0.0.1:9474/metrics 2>/dev/null |
		grep -q "^xdp_egress_packets_total{ifname=\"$LAB0_IF\",container=\"lab0\",reason=\"redirected\"}"
}
check docker_daemon_metrics "no xdp_egress_packets_total series with container=\"lab0\" on the daemon's http://127.0.0.1:9474/metrics: $(in_host curl -sS -m 3 http://127.0.0.1:9474/metrics 2>&1 | grep -m3 -E 'container=|curl' | tr '\n' ' ')" \
	wait_until 10 lab0_metrics

run_c lab1 --label xdp-egress.enable=true --label xdp-egress.mode=generic
LAB1_PID=$(pid_of lab1)
LAB1_IF=$(hostif_of_pid "$LAB1_PID")
check docker_daemon_attach_on_start "lab1 (labelled) was not attached within 10 s: $(tail -5 "$DAEMON_LOG" | tr '\n' ' ')" \
	wait_until 10 is_attached "$LAB1_IF"
st=$(xe status --json 2>/dev/null)
if jq -e --arg i "$LAB1_IF" '.attachments[] | select(.ifname == $i) | .mode == "generic"' <<<"$st" >/dev/null 2>&1; then
	ok docker_daemon_label_options
else
	fail docker_daemon_label_options "want lab1 in generic mode (label): $(jq -c --arg i "$LAB1_IF" '.attachments[] | select(.ifname == $i)' <<<"$st")"
fi

# Labels are untrusted: an image whose LABELs name another container's
# veth as its uplink (and options that do not exist) gets attached with the
# config's options only, and the daemon says what it ignored.
if dk import --change "LABEL xdp-egress.enable=true" --change "LABEL xdp-egress.uplink=$LAB0_IF" \
	--change "LABEL xdp-egress.ct-size=16" --change "LABEL xdp-egress.mode=generic" \
	"$ENG_DIR/bb.tar" local/bb-labels >/dev/null; then
	run_img lab2 local/bb-labels
	LAB2_IF=$(hostif_of_pid "$(pid_of lab2)")
	check docker_daemon_image_labels_attach "lab2 (image labelled enable=true) was not attached within 10 s" \
		wait_until 10 is_attached "$LAB2_IF"
	a2=$(jq -c --arg i "$LAB2_IF" '.attachments[] | select(.ifname == $i)' <<<"$(xe status --json 2>/dev/null)")
	if [ -n "$a2" ] && ! jq -e --arg u "$LAB0_IF" '[.. | strings] | index($u)' <<<"$a2" >/dev/null &&
		jq -e '.mode == "generic"' <<<"$a2" >/dev/null; then
		ok docker_daemon_image_label_uplink_ignored
	else
		fail docker_daemon_image_label_uplink_ignored "want lab2 in generic mode (an allowed label) without $LAB0_IF anywhere: $a2"
	fi
	check docker_daemon_image_label_logged "the daemon did not log the ignored uplink and ct-size labels: $(tail -5 "$DAEMON_LOG" | tr '\n' ' ')" \
		eval 'grep -q "ignoring label xdp-egress.uplink=$LAB0_IF: the daemon.s config does not let labels set --uplink" "$DAEMON_LOG" &&
			grep -q "ignoring label xdp-egress.ct-size" "$DAEMON_LOG"'
else
	fail docker_daemon_image_labels_attach "docker import of a labelled image failed"
fi

run_c net1 --network xenet
NET1_IF=$(hostif_of_pid "$(pid_of net1)")
check docker_daemon_config_network "net1 (on config network xenet) was not attached within 10 s" \
	wait_until 10 is_attached "$NET1_IF"
if jq -e --arg i "$NET1_IF" '.attachments[] | select(.ifname == $i) | .mode == "native"' <<<"$(xe status --json 2>/dev/null)" >/dev/null; then
	ok docker_daemon_config_options
else
	fail docker_daemon_config_options "want net1 in native mode (config options)"
fi
run_c net2 --network xenet --label xdp-egress.enable=false
run_c plain
# The daemon takes the engine's events in order: once a labelled container
# started after net2 and plain is attached, it has passed over both.
run_c after --label xdp-egress.enable=true
check docker_daemon_events_in_order "after (labelled, started after net2 and plain) was not attached within 10 s" \
	wait_until 10 is_attached "$(hostif_of_pid "$(pid_of after)")"
NET2_IF=$(hostif_of_pid "$(pid_of net2)")
PLAIN_IF=$(hostif_of_pid "$(pid_of plain)")
check docker_daemon_label_opt_out "net2 (xdp-egress.enable=false on a config network) got attached" not_attached "$NET2_IF"
check docker_daemon_ignores_unlabelled "plain (no label, default network) got attached" not_attached "$PLAIN_IF"
if dk exec net1 ping -c 2 -W 2 "$W" >/dev/null && dk exec lab0 ping -c 2 -W 2 "$W" >/dev/null; then
	ok docker_daemon_attached_containers_reach_world
else
	fail docker_daemon_attached_containers_reach_world "net1 or lab0 cannot reach the world: $(counters_brief "$(stats_json)")"
fi
# A flow of a daemon-attached container on a user network (its bridge is
# not docker0; Docker MASQUERADEs it too) is carried.
r0=$(counter "$(stats_json --ifname "$NET1_IF")" redirected)
out=$(udp_flow "$(pid_of net1)" 5301 5 0.05)
r1=$(counter "$(stats_json --ifname "$NET1_IF")" redirected)
check docker_daemon_user_network_carried "net1's UDP flow: $out; redirected $r0 -> $r1 (want +3)" \
	eval 'jq -e ".replies == 5" <<<"$out" >/dev/null && [ $((r1 - r0)) -ge 3 ]'


# A second daemon with the same run dir is refused by the lock.
out=$(timeout 10 nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
	"$XE_BIN" daemon --run-dir "$DAEMON_RUN" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "another xdp-egress daemon (pid $DAEMON_PID)" <<<"$out"; then
	ok docker_daemon_lock
	log "second daemon: $out"
else
	fail docker_daemon_lock "a second daemon exited $rc: $out"
fi

# Restart the daemon while lab1 sends: nothing is interrupted. A UDP
# request/response flow, 40 datagrams 0.1 s apart: all but its first
# carried by the fast path, all answered.
PROG_BEFORE=$(prog_id "$LAB1_IF")
restart_flow_start docker_daemon "$LAB1_PID" "$LAB1_IF" 40
r0=$RESTART_R0
daemon_stop
rc=$?
if [ "$rc" = 0 ] && [ ! -e "$DAEMON_RUN/daemon.pid" ] && grep -q "attachments stay" "$DAEMON_LOG"; then
	ok docker_daemon_sigterm
else
	fail docker_daemon_sigterm "SIGTERM: exit $rc, pid file $(ls "$DAEMON_RUN" 2>&1 | tr '\n' ' ')"
fi
if is_attached "$LAB0_IF" && is_attached "$LAB1_IF" && is_attached "$NET1_IF" &&
	[ "$(prog_id "$LAB1_IF")" = "$PROG_BEFORE" ]; then
	ok docker_daemon_exit_keeps_attachments
else
	fail docker_daemon_exit_keeps_attachments "after the daemon exited: attached $(attached_ifnames | tr '\n' ' '), lab1 prog $(prog_id "$LAB1_IF") (was $PROG_BEFORE)"
fi
# With the daemon away the fast path goes on carrying the flow.
restart_flow_goes_on docker_daemon "$LAB1_IF"
from=$(wc -l <"$DAEMON_LOG")
daemon_start --config "$ENG_DIR/daemon.json"
wait "$RESTART_FLOW_PID"
r1=$(counter "$(stats_json --ifname "$LAB1_IF")" redirected)
if jq -e '.replies == 40' "$ENG_DIR/restart-flow.json" >/dev/null 2>&1 && [ "$((r1 - r0))" -ge 36 ] &&
	[ "$(prog_id "$LAB1_IF")" = "$PROG_BEFORE" ] &&
	daemon_log_since "$from" "lab1 .*attached already"; then
	ok docker_daemon_restart_no_interruption
else
	fail docker_daemon_restart_no_interruption "UDP flow across the restart: $(cat "$ENG_DIR/restart-flow.json"); redirected $((r1 - r0)) (want >= 36); prog $(prog_id "$LAB1_IF") (was $PROG_BEFORE); log: $(tail -n +"$((from + 1))" "$DAEMON_LOG" | head -5 | tr '\n' ' ')"
fi

# Detach on stop: the veth is gone, the record finds the attachment.
dk stop -t 0 lab1 >/dev/null
check docker_daemon_detach_on_stop "lab1 still attached 10 s after docker stop: $(attached_ifnames | tr '\n' ' ')" \
	wait_until 10 not_attached "$LAB1_IF"
if ! jq -e --arg i "$LAB1_IF" '.containers[] | select(.ifname == $i)' "$DAEMON_RUN/containers.json" >/dev/null 2>&1; then
	ok docker_daemon_record_updated
else
	fail docker_daemon_record_updated "containers.json still lists $LAB1_IF"
fi

# Restarted container: new veth, attached again; the old one detached.
dk restart -t 0 lab0 >/dev/null
LAB0_NEW_IF=$(hostif_of_pid "$(pid_of lab0)")
if wait_until 10 is_attached "$LAB0_NEW_IF" && not_attached "$LAB0_IF"; then
	ok docker_daemon_container_restart
else
	fail docker_daemon_container_restart "after docker restart lab0: attached $(attached_ifnames | tr '\n' ' '), want $LAB0_NEW_IF and not $LAB0_IF"
fi

# Stopped while the daemon was away: reconciled at its next start.
daemon_stop
dk stop -t 0 net1 >/dev/null
daemon_start --config "$ENG_DIR/daemon.json"
check docker_daemon_reconcile_detach "net1 (stopped while the daemon was down) is still attached" \
	wait_until 10 not_attached "$NET1_IF"

# dockerd restarts under the daemon (its containers stop with it): the
# daemon detaches them, waits for the engine, reconnects and goes on.
LAB0_IF=$LAB0_NEW_IF
from=$(wc -l <"$DAEMON_LOG")
dockerd_stop
if wait_until 10 daemon_log_since "$from" "lost Docker's event stream" &&
	wait_until 10 not_attached "$LAB0_IF" && kill -0 "$DAEMON_PID" 2>/dev/null; then
	ok docker_daemon_engine_gone
else
	fail docker_daemon_engine_gone "after dockerd stopped: daemon alive: $(kill -0 "$DAEMON_PID" 2>/dev/null && echo yes || echo no); attached: $(attached_ifnames | tr '\n' ' '); log: $(tail -n +"$((from + 1))" "$DAEMON_LOG" | head -4 | tr '\n' ' ')"
fi
dockerd_start
dk start lab0 >/dev/null
LAB0_IF=$(hostif_of_pid "$(pid_of lab0)")
if wait_until 20 daemon_log_since "$from" "following Docker's events again" &&
	wait_until 10 is_attached "$LAB0_IF"; then
	ok docker_daemon_reconnects
else
	fail docker_daemon_reconnects "after dockerd came back: attached $(attached_ifnames | tr '\n' ' '), want $LAB0_IF; log: $(tail -n +"$((from + 1))" "$DAEMON_LOG" | tail -4 | tr '\n' ' ')"
fi
daemon_stop

# Everything the daemon attached can be detached; nothing else is left.
xe detach --all >/dev/null 2>&1
check docker_nothing_left "XDP programs, pins, the agent or the nft table left after detach --all: $(ns_state_brief)" \
	eval 'no_xdp_anywhere && pins_gone && ns_state_gone'
log "daemon log: $(grep -c . "$DAEMON_LOG") lines"

exit $((TOPO_FAILED > 0))
