# shellcheck shell=bash
# Sourced by every end-to-end test (and the demo): builds a private topology
# of network namespaces, runs xdp-egress in it, and prints the runner's
# "ok NAME" / "FAIL NAME: why" lines.
#
#   container ns (TOPO_C[n])          host ns (TOPO_HOST)                 world ns (TOPO_WORLD)
#   eth0 10.200.n.2/24 fd00:n::2/64 == vc<n> 10.200.n.1/24 fd00:n::1/64
#                                      up0 192.0.2.1/24 fd01::1/64 ====== eth0 192.0.2.2/24 fd01::2/64
#
# Forwarding is on in the host ns only; the world routes the container
# subnets back via 192.0.2.1 (no NAT; topo_world_no_return and
# host_nat_rules make a node that MASQUERADEs instead). Nothing in the
# machine's own namespace is touched: every name carries a per-run prefix
# (TOPO_PREFIX, "xe<pid>" unless set before sourcing) and topo_destroy
# removes it all.
#
# What `attach` starts in the host ns besides the egress program, and
# topo_destroy makes sure is gone: the return-path XDP program on each
# uplink (up0), the nftables table inet xdp_egress (conntrack on) and the
# agent process (`status --json` .namespace.agent_pid).
#
# Usage:
#   source tests/lib/topo.sh
#   trap topo_destroy EXIT
#   topo_create 2           # host, world and containers 1..2
#   xe attach --ifname vc1 --mode native --uplink up0
#   in_c 1 ping -c1 192.0.2.2; in_world nstat -az
#   ok some_check  /  fail some_check "why"

TOPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# wait_until, wait_gone, stop_pid, wait_listen, wait_quiet
source "$TOPO_ROOT/tests/lib/wait.sh"
# world_capture_start/stop (text), capture_start/stop/count (pcap)
source "$TOPO_ROOT/tests/lib/capture.sh"
XE_BIN=${XE_BIN:-$TOPO_ROOT/build/xdp-egress}
TOPO_PREFIX=${TOPO_PREFIX:-xe$$}
TOPO_HOST=$TOPO_PREFIX-host
TOPO_WORLD=$TOPO_PREFIX-world
TOPO_C=()          # TOPO_C[n] = netns name of container n
TOPO_NS=()         # every namespace this run made (topo_destroy deletes them)
TOPO_PIDS=()       # every background process this run started
TOPO_TMP=$(mktemp -d "/tmp/$TOPO_PREFIX.XXXXXX")
# A pin root of our own, so that nothing we do meets another run's state.
export XDP_EGRESS_BPFFS=${XDP_EGRESS_BPFFS:-/sys/fs/bpf/$TOPO_PREFIX}
# nstat keeps its history in a file shared by every namespace; keep ours apart.
export NSTAT_HISTORY=$TOPO_TMP/nstat.history

TOPO_WORLD_V4=192.0.2.2
TOPO_WORLD_V6=fd01::2

# ---- reporting ---------------------------------------------------------

TOPO_FAILED=0
ok() { echo "ok $1"; }
fail() {
	echo "FAIL $1: $2"
	TOPO_FAILED=$((TOPO_FAILED + 1))
}
# check NAME WHY COMMAND...: ok if COMMAND succeeds, else FAIL with WHY.
check() {
	local name=$1 why=$2
	shift 2
	if "$@"; then ok "$name"; else fail "$name" "$why"; fi
}
log() { echo "# $*"; }

# ---- running things in the namespaces ---------------------------------

in_host() { ip netns exec "$TOPO_HOST" "$@"; }
in_world() { ip netns exec "$TOPO_WORLD" "$@"; }
in_c() {
	local n=$1
	shift
	ip netns exec "${TOPO_C[$n]}" "$@"
}

# xe ARGS...: build/xdp-egress in the host ns. nsenter, not `ip netns exec`:
# the latter gives every call a private mount namespace and /sys, so bpffs
# pins made by one call would be invisible to the next.
# A call that hangs is killed after XE_TIMEOUT seconds (exit 124) so that a
# stuck CLI fails its check instead of the whole suite.
XE_TIMEOUT=${XE_TIMEOUT:-30}
xe() {
	timeout -k 5 "$XE_TIMEOUT" nsenter --net="/run/netns/$TOPO_HOST" \
		env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" "$XE_BIN" "$@"
}

# xe_tune_start: `xdp-egress tune --interval 0.2` in the host ns in the
# background, its output in $TOPO_TMP/tune.log; TUNE_PID (topo_destroy
# ends it too).
xe_tune_start() {
	nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
		"$XE_BIN" tune --interval 0.2 >>"$TOPO_TMP/tune.log" 2>&1 &
	TUNE_PID=$!
	TOPO_PIDS+=("$TUNE_PID")
}

# xe_capture ARGS...: runs xe; sets XE_RC, XE_OUT, XE_ERR.
xe_capture() {
	xe "$@" >"$TOPO_TMP/xe.out" 2>"$TOPO_TMP/xe.err"
	XE_RC=$?
	XE_OUT=$(cat "$TOPO_TMP/xe.out")
	XE_ERR=$(cat "$TOPO_TMP/xe.err")
	[ "$XE_RC" = 124 ] && XE_ERR="(killed: still running after ${XE_TIMEOUT}s) $XE_ERR"
	return $XE_RC
}

# bg NS COMMAND...: starts COMMAND in namespace NS in the background and
# remembers its PID for topo_destroy. `ip netns exec` execs the command
# itself, so $! is the command's own PID.
bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" &
	BG_PID=$!
	TOPO_PIDS+=("$BG_PID")
}

# need_xe [NAME]: fails the test (one FAIL line, exit 1) when the CLI is not
# built or a tool the tests use is missing.
need_xe() {
	local t missing=""
	for t in ip nsenter jq ethtool nstat ping iperf3 ss nft; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		fail "${1:-setup}" "missing tools:$missing (run make deps)"
		exit 1
	fi
	if [ ! -x "$XE_BIN" ]; then
		fail "${1:-setup}" "$XE_BIN not built (run make)"
		exit 1
	fi
}

# start_iperf_server [PORT]: iperf3 -s in the world ns, waits until it listens.
start_iperf_server() {
	local port=${1:-5201}
	bg "$TOPO_WORLD" iperf3 -s -p "$port" >>"$TOPO_TMP/iperf3-server.log" 2>&1
	wait_listen "$TOPO_WORLD" "$port"
}

# ---- topology -----------------------------------------------------------

_topo_ns_add() {
	ip netns add "$1" || return 1
	TOPO_NS+=("$1")
	ip -n "$1" link set lo up
}

# topo_add_container N: container ns TOPO_C[N] with eth0 10.200.N.2/24 and
# fd00:N::2/64, its peer vcN in the host ns with 10.200.N.1/24, fd00:N::1/64.
topo_add_container() {
	local n=$1 c="$TOPO_PREFIX-c$1"
	_topo_ns_add "$c" || return 1
	TOPO_C[$n]=$c
	ip netns exec "$c" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip -n "$TOPO_HOST" link add "vc$n" type veth peer name eth0 netns "$c" || return 1
	ip -n "$TOPO_HOST" addr add "10.200.$n.1/24" dev "vc$n"
	ip -n "$TOPO_HOST" addr add "fd00:$n::1/64" dev "vc$n" nodad
	ip -n "$TOPO_HOST" link set "vc$n" up
	ip -n "$c" addr add "10.200.$n.2/24" dev eth0
	ip -n "$c" addr add "fd00:$n::2/64" dev eth0 nodad
	ip -n "$c" link set eth0 up
	ip -n "$c" route add default via "10.200.$n.1"
	ip -n "$c" -6 route add default via "fd00:$n::1"
}

# topo_create [NCONTAINERS]: host, world and containers 1..NCONTAINERS (1).
topo_create() {
	local count=${1:-1} n
	_topo_ns_add "$TOPO_HOST" || return 1
	_topo_ns_add "$TOPO_WORLD" || return 1
	ip netns exec "$TOPO_HOST" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip netns exec "$TOPO_WORLD" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0
	ip -n "$TOPO_HOST" link add up0 type veth peer name eth0 netns "$TOPO_WORLD" || return 1
	ip -n "$TOPO_HOST" addr add 192.0.2.1/24 dev up0
	ip -n "$TOPO_HOST" addr add fd01::1/64 dev up0 nodad
	ip -n "$TOPO_HOST" link set up0 up
	ip -n "$TOPO_WORLD" addr add 192.0.2.2/24 dev eth0
	ip -n "$TOPO_WORLD" addr add fd01::2/64 dev eth0 nodad
	ip -n "$TOPO_WORLD" link set eth0 up
	# The uplink is the host's default route, as on a real host.
	ip -n "$TOPO_HOST" route add default via 192.0.2.2 dev up0
	ip -n "$TOPO_HOST" -6 route add default via fd01::2 dev up0
	ip -n "$TOPO_WORLD" route add 10.200.0.0/16 via 192.0.2.1
	ip -n "$TOPO_WORLD" -6 route add fd00::/16 via fd01::1
	for ((n = 1; n <= count; n++)); do
		topo_add_container "$n" || return 1
	done
	topo_settle
}

# topo_settle: waits until the host reaches the world and every container
# over IPv4 and IPv6, then forgets the neighbours it learnt doing so (the
# first packets of a test still meet an unresolved next hop, as in life).
# Without it the first IPv6 neighbour solicitation into a fresh namespace
# goes unanswered (seen here on 6.18: ~1 s until the retry), which would
# make the first ping6 of a test look slow for reasons of its own.
topo_settle() {
	local dst n
	local dsts=("$TOPO_WORLD_V4" "$TOPO_WORLD_V6")
	for n in "${!TOPO_C[@]}"; do
		dsts+=("10.200.$n.2" "fd00:$n::2")
	done
	for dst in "${dsts[@]}"; do
		wait_until 6 pings "$TOPO_HOST" "$dst" 0.2
	done
	ip -n "$TOPO_HOST" neigh flush all 2>/dev/null
	ip -n "$TOPO_HOST" -6 neigh flush all 2>/dev/null
}

# topo_destroy: stops our processes, detaches (which stops the agent and
# removes the uplink programs and the nft table), ends any xdp-egress
# process still running in our host ns (an agent whose detach failed, a
# CNI plugin's), deletes our namespaces, pins and temp files. Safe to call
# twice and from a trap.
topo_destroy() {
	local p ns
	# A second SIGTERM (tests/run.sh ends a script that outlived its limit
	# with one, a user may send more) must not cut the cleanup short.
	trap '' INT TERM HUP
	for p in "${TOPO_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${TOPO_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	TOPO_PIDS=()
	if [ -e "/run/netns/$TOPO_HOST" ]; then
		[ -d "$XDP_EGRESS_BPFFS" ] && XE_TIMEOUT=20 xe detach --all >/dev/null 2>&1
		for p in $(xe_procs); do
			kill "$p" 2>/dev/null
		done
	fi
	for ns in "${TOPO_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	TOPO_NS=()
	# Deleting the namespaces removed the devices and their XDP programs;
	# pins the tool may have left would keep maps alive, so remove them.
	case $XDP_EGRESS_BPFFS in
	/sys/fs/bpf/"$TOPO_PREFIX"*) rm -rf "$XDP_EGRESS_BPFFS" ;;
	esac
	rm -rf "$TOPO_TMP"
}

# ---- facts about the topology, for checks -------------------------------

# xdp_progs NS: prints "IFNAME PROG_ID MODE" for every XDP program in NS.
xdp_progs() {
	ip -n "$1" -d -j link show | jq -r '.[] | select(.xdp) |
		"\(.ifname) \(.xdp.prog.id // .xdp.attached[0].prog.id // "?") \(.xdp.mode)"'
}
# xdp_prog_count NS: how many XDP programs are attached in NS (all modes).
xdp_prog_count() {
	ip -n "$1" -d -j link show | jq '[.[] | .xdp // empty |
		if .attached then .attached[] else . end] | length'
}
# no_xdp_anywhere: no XDP program on any interface of any namespace we made.
no_xdp_anywhere() {
	local ns
	for ns in "${TOPO_NS[@]}"; do
		[ "$(xdp_prog_count "$ns")" = 0 ] || return 1
	done
}
# prog_gone ID: no BPF program with this id is loaded any more (the kernel
# frees a detached program after an RCU grace period: wait up to 2 s).
prog_gone() {
	wait_until 2 prog_unloaded "$1"
}
prog_unloaded() { ! bpftool prog show id "$1" >/dev/null 2>&1; }
# tcx_prog_ids NS IFNAME: the ids of the tcx ingress programs on IFNAME in
# NS, one per line (BPF_PROG_QUERY; the iproute2 and bpftool of Debian 12
# cannot list tcx). Fails when the query fails.
tcx_prog_ids() {
	ip netns exec "$1" "${PY3:-/usr/bin/python3}" - "$2" <<'TCXEOF'
import ctypes, os, socket, struct, sys
nr = {"x86_64": 321, "aarch64": 280}[os.uname().machine]  # SYS_bpf
libc = ctypes.CDLL(None, use_errno=True)
ids = (ctypes.c_uint32 * 64)()
attr = ctypes.create_string_buffer(64)
# BPF_PROG_QUERY: target_ifindex, attach_type BPF_TCX_INGRESS (46),
# query_flags, attach_flags, prog_ids, prog_cnt
struct.pack_into("=IIIIQI", attr, 0, socket.if_nametoindex(sys.argv[1]), 46, 0, 0,
                 ctypes.addressof(ids), 64)
if libc.syscall(nr, 16, attr, 64) != 0:
    sys.exit("BPF_PROG_QUERY: " + os.strerror(ctypes.get_errno()))
for i in range(struct.unpack_from("=I", attr, 24)[0]):
    print(ids[i])
TCXEOF
}
# attached_prog_id IFNAME: the program id `status --json` records for IFNAME.
attached_prog_id() {
	xe status --json 2>/dev/null |
		jq -r --arg i "$1" '[.attachments[] | select(.ifname == $i) | .prog_id][0] // 0'
}
# pins_gone: the pin root is absent or empty.
pins_gone() {
	[ ! -e "$XDP_EGRESS_BPFFS" ] || [ -z "$(ls -A "$XDP_EGRESS_BPFFS" 2>/dev/null)" ]
}
# xdp_on IFNAME [NS]: the id of the XDP program on IFNAME (NS: the host),
# empty when there is none.
xdp_on() {
	ip -n "${2:-$TOPO_HOST}" -d -j link show "$1" 2>/dev/null |
		jq -r '.[0].xdp | if . == null then empty else (.prog.id // .attached[0].prog.id // empty) end'
}
# tcx_on IFNAME: the ids of the tcx ingress programs on IFNAME in the host,
# space-separated, first in line first; empty when there is none.
tcx_on() {
	tcx_prog_ids "$TOPO_HOST" "$1" 2>/dev/null | paste -sd' ' -
}
# has_tcx: the kernel has tc links (tcx, 6.6): the return path's default on a
# veth uplink is then tc.
has_tcx() {
	tcx_prog_ids "$TOPO_HOST" lo >/dev/null 2>&1
}
# uplink_prog_on [IFNAME]: the id of the return-path program on the uplink
# (default up0) in the host: XDP (native, generic) or tcx (tc_uplink),
# empty when there is none.
uplink_prog_on() {
	local x id
	x=$(xdp_on "${1:-up0}")
	[ -n "$x" ] && { echo "$x"; return; }
	for id in $(tcx_on "${1:-up0}"); do
		[ "$(bpftool -j prog show id "$id" 2>/dev/null | jq -r .name)" = tc_uplink ] &&
			{ echo "$id"; return; }
	done
}
# xe_procs: pids of the xdp-egress processes running in our host ns that
# the test did not start itself (TOPO_PIDS, DAEMON_PID: a tuner, a daemon):
# the agents attach (or the CNI plugin, or the daemon) started. Ours, since
# nothing else runs there.
xe_procs() {
	local p
	for p in $(ip netns pids "$TOPO_HOST" 2>/dev/null); do
		case " ${TOPO_PIDS[*]} ${DAEMON_PID:-} " in *" $p "*) continue ;; esac
		case $(cat "/proc/$p/comm" 2>/dev/null) in
		xdp-egress*) echo "$p" ;;
		esac
	done
}
# agent_pid: the agent's pid as `status --json` reports it (0: none).
agent_pid() {
	xe status --json 2>/dev/null | jq -r '.namespace.agent_pid // 0'
}
# pid_alive PID: the process exists and is no zombie.
pid_alive() {
	[ -n "$1" ] && [ "$1" != 0 ] && [ -e "/proc/$1" ] &&
		! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
# nft_table_present: attach's nftables table (conntrack on) is in the host ns.
nft_table_present() {
	in_host nft list table inet xdp_egress >/dev/null 2>&1
}
# ns_state_gone: what attach leaves in the host ns besides pins is gone:
# no nft table, no xdp-egress process, no return-path program on up0.
ns_state_gone() {
	! nft_table_present && [ -z "$(xe_procs)" ] && [ -z "$(uplink_prog_on up0)" ]
}
# ns_state_brief: the same, for FAIL messages.
ns_state_brief() {
	echo "nft table: $(nft_table_present && echo present || echo gone), xdp-egress processes: [$(xe_procs | tr '\n' ' ')], up0 return path: '$(uplink_prog_on up0)'"
}

# offloads NS IFNAME: `ethtool -k`, without the "[fixed]" decorations that
# XDP itself may add, so before/after snapshots compare what can be changed.
offloads() {
	ip netns exec "$1" ethtool -k "$2"
}
# offload_snapshot: the offloads of container 1, the world and the host's
# vc1 / up0: what a detach must leave as it found them.
offload_snapshot() {
	{
		offloads "${TOPO_C[1]}" eth0
		offloads "$TOPO_WORLD" eth0
		offloads "$TOPO_HOST" vc1
		offloads "$TOPO_HOST" up0
	} 2>&1
}
# offload NS IFNAME FEATURE: on|off
offload() {
	ip netns exec "$1" ethtool -k "$2" | awk -v f="$3:" '$1 == f { print $2 }'
}
# link_gone NS IFNAME: no interface IFNAME in NS.
link_gone() {
	! ip -n "$1" link show "$2" >/dev/null 2>&1
}
# tx_packets NS IFNAME
tx_packets() {
	ip -n "$1" -j -s link show "$2" | jq '.[0].stats64.tx.packets'
}

# stats_json [TARGET...]: `xe stats --json`, empty on failure.
stats_json() {
	xe stats "$@" --json 2>/dev/null
}
# counter JSON NAME [packets|bytes]: a counter from `stats --json`'s total.
counter() {
	jq -r --arg n "$2" --arg f "${3:-packets}" '.total[$n][$f] // 0' <<<"$1"
}
# pass_total JSON: sum of every pass_* packet counter in the total.
pass_total() {
	jq '[.total | to_entries[] | select(.key | startswith("pass_")) | .value.packets] | add // 0' <<<"$1"
}
# counters_brief JSON: the non-zero counters, one line, for FAIL messages.
counters_brief() {
	jq -c '[.total | to_entries[] | select(.value.packets > 0) | "\(.key)=\(.value.packets)"]' <<<"$1" 2>/dev/null
}

# nstat_csum_errors NS: sum of every *CsumErrors counter in NS since it was
# made (absolute values: our namespaces start at zero).
nstat_csum_errors() {
	ip netns exec "$1" nstat -az 2>/dev/null | awk '$1 ~ /CsumErrors$/ { s += $2 } END { print s + 0 }'
}
# nstat_value NS NAME: one absolute counter.
nstat_value() {
	ip netns exec "$1" nstat -az "$2" 2>/dev/null | awk -v n="$2" '$1 == n { print $2 }'
}
# nstat_above NS NAME VALUE: the counter is above VALUE (for wait_until).
nstat_above() {
	local v
	v=$(nstat_value "$1" "$2")
	[ "${v:-0}" -gt "$3" ]
}

# udp_arrived NS: UDP datagrams (v4 + v6) that reached NS's UDP layer:
# delivered, or dropped there because the receiving socket's buffer was
# full (a slow reader on a busy machine, not the path).
udp_arrived() {
	ip netns exec "$1" nstat -az 2>/dev/null |
		awk '$1 ~ /^Udp6?(InDatagrams|RcvbufErrors)$/ { s += $2 } END { print s + 0 }'
}

# ---- a node that NATs: return routes, far side, traffic tools ------------
#
# A node MASQUERADEs its containers (host_nat_rules on) and the world does
# not know the container subnets (topo_world_no_return): only traffic the
# kernel translated gets an answer, and the fast path must carry the
# kernel's translation.

TOPO_SNAT_V4=192.0.2.1     # the host's uplink addresses: what MASQUERADE uses
TOPO_SNAT_V6=fd01::1
TOPO_FAR=$TOPO_PREFIX-far  # made by topo_add_far
TOPO_FAR_V4=203.0.113.2
TOPO_FAR_V6=fd02::2

# topo_world_no_return: the world forgets its routes to the containers.
topo_world_no_return() {
	ip -n "$TOPO_WORLD" route del 10.200.0.0/16 2>/dev/null
	ip -n "$TOPO_WORLD" -6 route del fd00::/16 2>/dev/null
	! ip -n "$TOPO_WORLD" route get 10.200.1.2 >/dev/null 2>&1
}

# topo_add_far MTU: a namespace behind the world, reached through a link of
# MTU bytes (203.0.113.2/24, fd02::2/64; the world forwards to it), so the
# world answers big DF packets with "fragmentation needed"/"packet too big"
# and packets with TTL 1 with "time exceeded".
topo_add_far() {
	local mtu=${1:-1280}
	_topo_ns_add "$TOPO_FAR" || return 1
	ip netns exec "$TOPO_FAR" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0
	ip netns exec "$TOPO_WORLD" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1
	ip -n "$TOPO_WORLD" link add eth1 type veth peer name eth0 netns "$TOPO_FAR" || return 1
	ip -n "$TOPO_WORLD" addr add 203.0.113.1/24 dev eth1
	ip -n "$TOPO_WORLD" addr add fd02::1/64 dev eth1 nodad
	ip -n "$TOPO_WORLD" link set eth1 mtu "$mtu" up
	ip -n "$TOPO_FAR" addr add "$TOPO_FAR_V4/24" dev eth0
	ip -n "$TOPO_FAR" addr add "$TOPO_FAR_V6/64" dev eth0 nodad
	ip -n "$TOPO_FAR" link set eth0 mtu "$mtu" up
	ip -n "$TOPO_FAR" route add default via 203.0.113.1
	ip -n "$TOPO_FAR" -6 route add default via fd02::1
	wait_until 6 pings "$TOPO_WORLD" "$TOPO_FAR_V6" 0.2
}

# topo_warm_neigh: the host resolves its next hop to the world (v4 and v6),
# so that a container's first packet finds the neighbour XDP needs.
topo_warm_neigh() {
	wait_until 6 pings "$TOPO_HOST" "$TOPO_WORLD_V4" 0.3
	wait_until 6 pings "$TOPO_HOST" "$TOPO_WORLD_V6" 0.3
}
# pings NS DST [WAIT]: one ping from NS to DST is answered within WAIT s (1).
pings() {
	ip netns exec "$1" ping -c 1 -W "${3:-1}" "$2" >/dev/null 2>&1
}

# return_counter JSON NAME [UPLINK]: a packet counter of the return-path
# program on UPLINK (default up0) from `stats --json`'s .uplinks.
return_counter() {
	jq -r --arg n "$2" --arg u "${3:-up0}" '[.uplinks[]? | select(.ifname == $u) | .counters[$n].packets][0] // 0' <<<"$1" 2>/dev/null || echo 0
}
# host_nat_rules on|off: a MASQUERADE rule for the containers in the host ns
# (v4 and v6), as Docker and CNI hosts have. off removes the nat tables
# altogether (iptables-nft): an empty table would keep its NAT hooks.
host_nat_rules() {
	if [ "$1" = on ]; then
		in_host iptables -t nat -A POSTROUTING -s 10.200.0.0/16 -o up0 -j MASQUERADE &&
			in_host ip6tables -t nat -A POSTROUTING -s fd00::/16 -o up0 -j MASQUERADE
	else
		in_host nft delete table ip nat 2>/dev/null
		in_host nft delete table ip6 nat 2>/dev/null
		return 0
	fi
}
# masquerade_packets: packets the host's IPv4 MASQUERADE rule has seen
# (the first packet of each connection the kernel translated).
masquerade_packets() {
	in_host iptables -t nat -L POSTROUTING -v -x -n 2>/dev/null |
		awk '$3 == "MASQUERADE" { s += $1 } END { print s + 0 }'
}

# snat_tools: writes the Python traffic tools to $SNAT_TOOLS; run them with
# `py_in NS SUBCOMMAND ...` (NS: ${TOPO_C[n]}, $TOPO_WORLD, ...). Subcommands:
#   server udp|tcp PORT PEERS_FILE [v4|v6 [ADDR]]
#                                        echo server (TCP: short messages);
#                                        each new peer "ADDR PORT" is
#                                        appended to PEERS_FILE (remove the
#                                        file to start a new count); bound
#                                        to ADDR if given (a UDP reply then
#                                        leaves from the address asked)
#   udp HOST PORT SPORT_MIN COUNT ROUNDS GAP
#                                        COUNT sockets bound to SPORT_MIN..,
#                                        all open at once; ROUNDS rounds of
#                                        one datagram per socket, GAP s apart
#   tcp HOST PORT COUNT HOLD_S [SPORT]   COUNT connections open at once, one
#                                        echo each, closed after HOLD_S s
#   stream HOST PORT SECONDS USER_TIMEOUT_MS
#                                        sends for SECONDS (TCP_USER_TIMEOUT
#                                        bounds a stall)
#   udpx HOST PORT SPORT COUNT GAP [ttl=N] [size=BYTES] [df=1]
#                                        one UDP flow (a connected socket
#                                        bound to SPORT): COUNT datagrams GAP
#                                        s apart, replies counted; with
#                                        ttl/size/df set on this call only.
#                                        "icmp" lists the ICMP errors the
#                                        kernel returned ([type, code, info]
#                                        from IP(V6)_RECVERR)
#   sink udp PORT [v6]                   receives, never answers
# Each client prints one JSON line.
SNAT_TOOLS=$TOPO_TMP/snat_tools.py
PY3=$(command -v /usr/bin/python3 || command -v python3)
py_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$PY3" "$SNAT_TOOLS" "$@"
}
snat_tools() {
	cat >"$SNAT_TOOLS" <<'PYEOF'
import json, os, selectors, socket, struct, sys, time

def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET

def out(d):
    print(json.dumps(d), flush=True)

def server(proto, port, peers_file, v6, addr=None):
    af = socket.AF_INET6 if v6 == "v6" else socket.AF_INET
    any_addr = addr or ("::" if v6 == "v6" else "0.0.0.0")
    state = {"seen": set(), "f": None}
    def note(peer):
        # A test starts a new count by removing the file.
        try:
            same = os.stat(peers_file).st_ino == os.fstat(state["f"].fileno()).st_ino
        except (OSError, AttributeError):
            same = False
        if not same:
            state["seen"] = set()
            state["f"] = open(peers_file, "a", buffering=1)
        key = (peer[0], peer[1])
        if key not in state["seen"]:
            state["seen"].add(key)
            state["f"].write("%s %d\n" % key)
    if proto == "udp":
        s = socket.socket(af, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((any_addr, port))
        while True:
            data, peer = s.recvfrom(2048)
            note(peer)
            try:
                s.sendto(data, peer)
            except OSError:
                pass  # no route back to an untranslated source
    sel = selectors.DefaultSelector()
    s = socket.socket(af, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((any_addr, port))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is s:
                try:
                    c, peer = s.accept()
                except OSError:
                    continue
                note(peer)
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                continue
            c = key.fileobj
            try:
                data = c.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(c)
                c.close()
            elif len(data) < 64:
                try:
                    c.send(data)
                except OSError:
                    pass

def udp(host, port, sport_min, count, rounds, gap):
    socks, bind_err = [], 0
    for i in range(count):
        s = socket.socket(fam(host), socket.SOCK_DGRAM)
        try:
            s.bind(("", sport_min + i))
        except OSError:
            bind_err += 1
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    answered, replies, send_err = set(), 0, 0
    for r in range(rounds):
        for s in socks:
            try:
                s.sendto(b"r%d" % r, (host, port))
            except OSError:
                send_err += 1
        end = time.monotonic() + gap
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(left):
                try:
                    while True:
                        key.fileobj.recv(2048)
                        replies += 1
                        answered.add(key.fileobj.getsockname()[1])
                except OSError:
                    pass
    ports = set(s.getsockname()[1] for s in socks)
    out({"sockets": len(socks), "bind_errors": bind_err, "send_errors": send_err,
         "answered": len(answered), "replies": replies,
         "unanswered_ports": sorted(ports - answered)[:10]})

def tcp(host, port, count, hold, sport):
    conns, errors, echoed = [], [], 0
    for i in range(count):
        s = socket.socket(fam(host), socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            if sport:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("", sport + i))
            s.connect((host, port))
            conns.append(s)
        except OSError as e:
            errors.append(str(e))
            s.close()
    for s in conns:
        try:
            s.send(b"x")
            if s.recv(16) == b"x":
                echoed += 1
        except OSError as e:
            errors.append(str(e))
    time.sleep(hold)
    for s in conns:
        s.close()
    out({"connected": len(conns), "echoed": echoed, "errors": errors[:5]})

def stream(host, port, seconds, user_timeout_ms):
    s = socket.socket(fam(host), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, user_timeout_ms)
    s.settimeout(5)
    t0 = time.monotonic()
    sent, err, last = 0, None, 0.0
    buf = b"z" * 65536
    try:
        s.connect((host, port))
        s.settimeout(None)
        while time.monotonic() - t0 < seconds:
            sent += s.send(buf)
            last = time.monotonic() - t0
    except OSError as e:
        err = e.strerror or str(e)
    out({"sent": sent, "elapsed": round(time.monotonic() - t0, 2),
         "last_send": round(last, 2), "error": err})

def udpx(host, port, sport, count, gap, opts):
    v6 = ":" in host
    s = socket.socket(fam(host), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", sport))
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, 25, 1)       # IPV6_RECVERR
    else:
        s.setsockopt(socket.IPPROTO_IP, 11, 1)         # IP_RECVERR
    if "ttl" in opts:
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, int(opts["ttl"]))
        else:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(opts["ttl"]))
    if opts.get("df") == "1":
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, 23, 2)   # IPV6_MTU_DISCOVER: DO
            s.setsockopt(socket.IPPROTO_IPV6, 62, 1)   # IPV6_DONTFRAG
        else:
            s.setsockopt(socket.IPPROTO_IP, 10, 2)     # IP_MTU_DISCOVER: DO
    s.connect((host, port))
    s.setblocking(False)
    payload = b"x" * int(opts.get("size", 16))
    sent, replies, errs, icmp = 0, 0, [], []
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    def drain(until):
        nonlocal replies
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            if not sel.select(left):
                continue
            try:  # an ICMP error the kernel returned (origin, type, code, info)
                _, anc, _, _ = s.recvmsg(2048, 512, socket.MSG_ERRQUEUE)
                for _, _, data in anc:
                    if len(data) >= 16:
                        e = struct.unpack_from("=IBBBBII", data)
                        icmp.append([e[2], e[3], e[5]])
                continue
            except OSError:
                pass
            try:
                s.recv(65536)
                replies += 1
            except BlockingIOError:
                time.sleep(0.002)
            except OSError as e:  # the pending error of an ICMP error
                errs.append(e.strerror or str(e))
    for i in range(count):
        try:
            s.send(payload)
            sent += 1
        except OSError as e:
            errs.append(e.strerror or str(e))
        drain(time.monotonic() + gap)
    out({"sent": sent, "replies": replies, "errors": errs[:5], "icmp": icmp[:5]})

def sink(proto, port, v6):
    af = socket.AF_INET6 if v6 == "v6" else socket.AF_INET
    s = socket.socket(af, socket.SOCK_DGRAM)
    s.bind(("::" if v6 == "v6" else "0.0.0.0", port))
    while True:
        s.recv(65536)

a = sys.argv[1:]
if a[0] == "udpx":
    udpx(a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]),
         dict(x.split("=", 1) for x in a[6:]))
elif a[0] == "sink":
    sink(a[1], int(a[2]), a[3] if len(a) > 3 else "v4")
elif a[0] == "server":
    server(a[1], int(a[2]), a[3], a[4] if len(a) > 4 else "v4", a[5] if len(a) > 5 else None)
elif a[0] == "udp":
    udp(a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]), float(a[6]))
elif a[0] == "tcp":
    tcp(a[1], int(a[2]), int(a[3]), float(a[4]), int(a[5]) if len(a) > 5 else 0)
elif a[0] == "stream":
    stream(a[1], int(a[2]), float(a[3]), int(a[4]))
PYEOF
}
# start_py_server udp|tcp PORT PEERS_FILE [v6]: a tools server in the world,
# waits until it listens.
start_py_server() {
	bg "$TOPO_WORLD" "$PY3" "$SNAT_TOOLS" server "$@" 2>>"$TOPO_TMP/py-server.err"
	wait_listen "$TOPO_WORLD" "$2" "$1"
}
