#!/bin/bash
# xdp-egress demo: the kernel decides, the fast path carries.
#
#   demo/demo.sh [--mode auto|native|generic|tc] [--no-build]
#
# Builds first (`make deps && make`, both no-ops when done already), unless
# --no-build is given or it runs under make (`make demo` has built already),
# then makes three network namespaces, named per run (xedemo-<pid>-host,
# -world, -c1):
#
#   xedemo-<pid>-c1                 xedemo-<pid>-host                  xedemo-<pid>-world
#   eth0 10.200.1.2 fd00:1::2 ===== vc1 10.200.1.1 (XDP/tc here)
#                                   up0 192.0.2.1 fd01::1 ============ eth0 192.0.2.2 fd01::2
#                                   MASQUERADE 10.200.0.0/16           lo 169.254.169.254
#                                   FORWARD -d 169.254.169.254 DROP
#
# The host is a node as it would be in production: its own netfilter NATs
# the container (MASQUERADE; the world has no route back to it) and an
# operator's FORWARD rule blocks the metadata address. It attaches
# xdp-egress to vc1 (the container's egress is vc1's receive) in the
# default mode, auto, with `xdp-egress tune` running, and shows:
# - ping: ICMP always takes the kernel path;
# - a small-packet UDP flow (the tuner puts native XDP in front) and an
#   iperf3 TCP transfer (back to the tc path, which keeps the container's
#   TSO): their first packets cross the kernel, whose conntrack entry holds
#   the MASQUERADE translation; the rest is carried by the fast path with
#   that translation;
# - the FORWARD DROP rule still blocks 169.254.169.254 with xdp-egress
#   attached: the kernel decides every new flow;
# - `xdp-egress stats`, then detach (which also stops the agent and removes
#   the nftables table attach made).
# Everything it made is removed, also on failure or Ctrl-C. Nothing in the
# machine's own network namespace changes. Exits non-zero if any flow
# failed, the drop rule was bypassed, or the traffic was not carried by the
# fast path.
set -u
cd "$(dirname "$0")/.."

mode=auto
build=1
while [ $# -gt 0 ]; do
	case $1 in
	--mode) mode=${2:-}; shift 2 ;;
	--mode=*) mode=${1#--mode=}; shift ;;
	--no-build) build=0; shift ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo: unknown option $1 (try --help)" >&2; exit 2 ;;
	esac
done
case $mode in auto | native | generic | tc) ;; *) echo "demo: --mode must be auto, native, generic or tc, not '$mode'" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, BPF)" >&2; exit 2; }

if [ "$build" = 1 ] && [ -z "${MAKELEVEL:-}" ]; then
	make deps || exit 1
	make || exit 1
fi

TOPO_PREFIX=xedemo-$$
source tests/lib/topo.sh
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
[ -x "$XE_BIN" ] || { echo "demo: $XE_BIN is missing; run make" >&2; exit 1; }

bad=0
if [ -t 1 ]; then
	step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	step() { printf '\n== %s\n' "$*"; }
fi
say() { echo "   $*"; }
run() { echo "\$ $*"; }
# show COMMAND...: print the command like a shell would, then run it.
xe_show() { run "xdp-egress $*"; xe "$@"; }

step "1. Namespaces: $TOPO_HOST, $TOPO_WORLD, ${TOPO_PREFIX}-c1"
topo_create 1 || { echo "demo: could not build the namespaces" >&2; exit 1; }
C=${TOPO_C[1]}
topo_world_no_return >/dev/null
ip -n "$TOPO_WORLD" addr add 169.254.169.254/32 dev lo
say "container ${C}: eth0 10.200.1.2/24 fd00:1::2/64, default route via the host"
say "host ${TOPO_HOST}: vc1 (container's peer) 10.200.1.1, up0 (uplink) 192.0.2.1, forwarding on"
say "world ${TOPO_WORLD}: eth0 192.0.2.2/24 fd01::2/64 and 169.254.169.254; no route back to 10.200.0.0/16"
start_iperf_server 5201 || { echo "demo: iperf3 server did not start" >&2; exit 1; }
ip netns exec "$TOPO_WORLD" nstat -n

step "2. The host's own rules: NAT for the container, an operator's drop rule"
run "iptables -t nat -A POSTROUTING -s 10.200.0.0/16 -o up0 -j MASQUERADE   (and ip6tables for fd00::/16)"
host_nat_rules on || { echo "demo: cannot add the MASQUERADE rules" >&2; exit 1; }
run "iptables -A FORWARD -d 169.254.169.254 -j DROP"
in_host iptables -A FORWARD -d 169.254.169.254 -j DROP || { echo "demo: cannot add the drop rule" >&2; exit 1; }
say "the world answers only what the host translated: the container's address is unknown there"

step "3. Attach xdp-egress to the container's host veth ($mode mode)"
margs=(--mode "$mode")
[ "$mode" = auto ] && margs=()   # the default
xe_show attach --ifname vc1 "${margs[@]}" --uplink up0 || { echo "demo: attach failed" >&2; exit 1; }
echo
xe_show status
prog=$(attached_prog_id vc1)
apid=$(agent_pid)
say "(no --snat: the NAT is the host's; the agent, pid $apid, promotes established TCP flows)"
run "nft list table inet xdp_egress    # attach made conntrack run in this namespace"
in_host nft list table inet xdp_egress | sed 's/^/   /'
# auto_now: the one line of status that says which path runs now.
auto_now() { xe status | grep -E '^  auto: now' | sed 's/^  /   /'; }
# wait_auto STATE: up to 3 s for the tuner to settle on STATE.
wait_auto() {
	local i
	for i in $(seq 30); do
		[ "$(xe status --json | jq -r '.attachments[0].auto.state')" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
if [ "$mode" = auto ]; then
	echo
	run "xdp-egress tune --interval 0.2 &    # what the daemon does every second"
	xe_tune_start   # topo_destroy ends it
fi

tx0=$(tx_packets "$C" eth0)
step "4. ping from the container to the world (IPv4, then IPv6): ICMP is the kernel's"
run "ping -c 5 192.0.2.2"
out=$(in_c 1 ping -c 5 -i 0.2 -W 2 "$TOPO_WORLD_V4") || bad=1
grep -E 'packets transmitted|rtt' <<<"$out" | sed 's/^/   /'
run "ping -6 -c 5 fd01::2"
out=$(in_c 1 ping -6 -c 5 -i 0.2 -W 2 "$TOPO_WORLD_V6") || bad=1
grep -E 'packets transmitted|rtt' <<<"$out" | sed 's/^/   /'

step "5. Small packets: iperf3 -u, 64-byte datagrams, 30 Mbit/s (~58k a second) for 4 s"
run "iperf3 -c 192.0.2.2 -u -b 30M -l 64 -t 4"
out=$(in_c 1 iperf3 -c "$TOPO_WORLD_V4" -u -b 30M -l 64 -t 4) || bad=1
grep -E 'Interval|sender|receiver' <<<"$out" | sed 's/^/   /' | tail -3
if [ "$mode" = auto ]; then
	wait_auto native || say "(the tuner has not switched yet: a busy machine)"
	tail -n 1 "$TOPO_TMP/tune.log" | sed 's/^/   tune: /'
	auto_now
fi

step "6. TCP: iperf3, 5 s, one stream"
run "iperf3 -c 192.0.2.2 -t 5"
out=$(in_c 1 iperf3 -c "$TOPO_WORLD_V4" -t 5) || bad=1
grep -E 'Interval|sender|receiver' <<<"$out" | sed 's/^/   /' | tail -3
if [ "$mode" = auto ]; then
	wait_auto tc || say "(the tuner has not switched yet: a busy machine)"
	tail -n 1 "$TOPO_TMP/tune.log" | sed 's/^/   tune: /'
	auto_now
fi
run "conntrack -L -p tcp --dport 5201    # the kernel's entries: the fast path applied their translation"
in_host conntrack -L -p tcp --dport 5201 2>/dev/null | sed 's/^/   /'
masq=$(masquerade_packets)
say "the MASQUERADE rule counted $masq packets: each flow's first; the kernel's conntrack translated the rest, the fast path applied it"

step "7. The operator's drop rule still applies: TCP to 169.254.169.254"
run "iperf3 -c 169.254.169.254 --connect-timeout 1000 -t 1"
drop0=$(in_host iptables -L FORWARD -v -x -n | awk '$3 == "DROP" && $9 == "169.254.169.254" { print $1 }')
if in_c 1 iperf3 -c 169.254.169.254 --connect-timeout 1000 -t 1 >/dev/null 2>&1; then
	say "FAILED: the container reached 169.254.169.254 past the FORWARD DROP rule"
	bad=1
else
	drop1=$(in_host iptables -L FORWARD -v -x -n | awk '$3 == "DROP" && $9 == "169.254.169.254" { print $1 }')
	say "blocked: the connection timed out; the DROP rule counted $((${drop1:-0} - ${drop0:-0})) SYNs (new flows are the kernel's to decide)"
	[ "$((${drop1:-0} - ${drop0:-0}))" -ge 1 ] || { say "FAILED: the DROP rule saw nothing"; bad=1; }
fi

step "8. What the fast path did with it"
xe_show stats --ifname vc1
s=$(stats_json --ifname vc1)
tx=$(($(tx_packets "$C" eth0) - tx0))
red=$(counter "$s" redirected)
pass=$(pass_total "$s")
drop=$(counter "$s" drop_malformed)
rerr=$(counter "$s" redirect_err)
csum=$(nstat_csum_errors "$TOPO_WORLD")
insegs=$(nstat_value "$TOPO_WORLD" TcpInSegs)
echo
say "the container sent $tx frames (a TSO super-packet counts once); the fast path redirected $red of them to up0 and passed $pass to the kernel"
say "(passed: $(jq -r '[.total | to_entries[] | select((.key | startswith("pass_")) and .value.packets > 0) | "\(.key) \(.value.packets)"] | join(", ")' <<<"$s"):"
say " the pings (pass_icmp), each flow's first packets until the kernel's conntrack"
say " accepted it (pass_new_flow, pass_not_established, the handshake as pass_tcp_control,"
say " pass_not_promoted until the agent promoted the TCP flow), the blocked SYNs, ARP and ND)"
say "dropped as malformed: $drop, redirect errors: $rerr"
say "world: ${insegs:-0} TCP segments in (counted after GRO), $csum checksum errors (nstat *CsumErrors)"
if [ "$bad" = 0 ] && [ "$tx" -gt 0 ] && [ $((red * 100)) -ge $((tx * 95)) ] &&
	[ "$drop" = 0 ] && [ "$rerr" = 0 ] && [ "$csum" = 0 ]; then
	say "=> $(awk -v r="$red" -v t="$tx" 'BEGIN { printf "%.4f", 100 * r / t }')% of the container's egress frames were carried by the fast path"
else
	say "=> FAILED: a flow failed, or the egress was not carried by the fast path"
	bad=1
fi

step "9. Detach"
xe_show detach --ifname vc1 || bad=1
if [ "$(xdp_prog_count "$TOPO_HOST")" = 0 ] && pins_gone && prog_gone "$prog" && ns_state_gone && ! pid_alive "$apid"; then
	say "no XDP or tc program of ours on any host interface (the uplink's return path included),"
	say "pins under $XDP_EGRESS_BPFFS removed, the agent stopped, the nftables table inet xdp_egress removed"
else
	say "FAILED: detach left something behind: $(ns_state_brief)"
	bad=1
fi

step "10. Clean up: namespaces ${TOPO_PREFIX}-* removed"
[ "$bad" = 0 ] && echo "demo: OK ($mode mode)" || echo "demo: FAILED ($mode mode)"
exit "$bad"
