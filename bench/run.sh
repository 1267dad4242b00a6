#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# xdp-egress benchmark: a container's egress through seven paths, side by side,
# interleaved, in one run.
#
#   bench/run.sh [--quick] [--rounds N] [--only WORKLOAD[,WORKLOAD...]]
#                [--contenders NAME[,NAME...]] [--duration SEC] [--out DIR]
#
# Workloads: small (64-byte UDP, socket and live-frame generators), tcp
# (iperf3, 1 and 4 streams up, 1 down; 4 streams: the mean of 3 windows), latency (sockperf UDP/TCP ping-pong), cpu (host
# CPU ns per packet at a fixed offered rate), scale (1/16/128 containers),
# ct (xdp only, full mode: live frames with 1k and 100k flows in the
# conntrack table), connrate (short HTTP connections: wrk with "Connection:
# close" against nginx; requests/s, SYN retransmits), udprr (UDP
# request/response over 256 flows; transactions/s, lost).
# Contenders: iptables (the baseline, ratio 1.0), nftables, tc-bpf,
# xdp-native, xdp-generic, xdp-native-noflows (native with XDP_EGRESS_FLOWS=off:
# no per-flow counts or flow events; not run unless named), xe-tc (xdp-egress --mode tc: its stages as a tcx
# program, container TSO kept), xe-auto (--mode auto with `xdp-egress tune`
# switching native XDP in and out; every window gets a 2 s warm-up first).
#
# Everything runs in network namespaces named xeb-<pid>-*, made and deleted by
# this script; the machine's own namespace is never changed, and traffic only
# goes between those namespaces. Results: bench/results/latest.{md,json,svg}.

set -u -o pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
B=$BENCH/build
XDP_EGRESS=${XDP_EGRESS:-$ROOT/build/xdp-egress}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3

ARGS="$*"
QUICK=0
ROUNDS=
ONLY=
CONTENDERS=iptables,nftables,tc-bpf,xdp-native,xdp-generic,xe-tc,xe-auto
DUR=
OUT=$BENCH/results
CPU_RATE=${XEB_CPU_RATE:-150000}
WARM=0.3       # seconds of traffic before a window is measured (run_contender)
TCP_OMIT=0

usage() {
	sed -n '5,19p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--only) ONLY=${2:?}; shift ;;
	--contenders) CONTENDERS=${2:?}; shift ;;
	--duration) DUR=${2:?}; shift ;;
	--out) OUT=${2:?}; shift ;;
	-h|--help) usage 0 ;;
	*) echo "run.sh: unknown option '$1'" >&2; usage ;;
	esac
	shift
done

# ct runs in full mode only (it adds ~30 s, and quick mode is near 3 min),
# unless asked for with --only.
if [ "$QUICK" = 1 ]; then
	: "${ONLY:=small,tcp,latency,cpu,scale,connrate,udprr}"
	: "${ROUNDS:=3}" "${DUR:=0.5}"
	SCALES="1 16"
	LAT_DUR=1
	LAT_PARALLEL=1
	TCP_STREAMS="1 4"
else
	: "${ONLY:=small,tcp,latency,cpu,scale,ct,connrate,udprr}"
	: "${ROUNDS:=3}" "${DUR:=4}"
	SCALES="1 16 128"
	LAT_DUR=3
	LAT_PARALLEL=0
	TCP_STREAMS="1 4"
fi
case "$DUR" in ''|*[!0-9.]*) echo "run.sh: --duration wants seconds" >&2; exit 2 ;; esac
# iperf3 and wrk take whole seconds (connrate's window is TCP_DUR too)
TCP_DUR=$(awk -v d="$DUR" 'BEGIN { d = int(d + 0.5); print d < 1 ? 1 : d }')
secs() { awk -v d="$DUR" -v a="$2" 'BEGIN { printf "%d", d + a + 0.999 }'; }
case "$ROUNDS" in ''|*[!0-9]*) echo "run.sh: --rounds wants a number" >&2; exit 2 ;; esac

want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }
for w in ${ONLY//,/ }; do
	case "$w" in small|tcp|latency|cpu|scale|ct|connrate|udprr) ;; *)
		echo "run.sh: unknown workload '$w' (small, tcp, latency, cpu, scale, ct, connrate, udprr)" >&2; exit 2 ;;
	esac
done
for c in ${CONTENDERS//,/ }; do
	case "$c" in iptables|nftables|tc-bpf|xdp-native|xdp-generic|xe-tc|xe-auto|xdp-native-noflows) ;; *)
		echo "run.sh: unknown contender '$c'" >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root (network namespaces, BPF)" >&2
	exit 1
fi

NCONT=1
if want scale; then for s in $SCALES; do [ "$s" -gt "$NCONT" ] && NCONT=$s; done; fi

# ---------------------------------------------------------------- plumbing --
P=xeb-$$
H=$P-h                 # the host
W=$P-w                 # the world behind the uplink
TMP=$(mktemp -d /tmp/xeb-bench.XXXXXX)
RAW=$TMP/raw.jsonl
BPFFS=/sys/fs/bpf/$P   # xdp-egress pins for this run only
export XDP_EGRESS_BPFFS=$BPFFS
BG_PIDS=""
UP0_MAC=02:fe:00:00:00:01
WL0_MAC=02:fe:00:00:00:02
: > "$RAW"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

bg_start() { # bg_start OUTFILE CMD... ; sets BG_PID
	"${@:2}" > "$1" 2>&1 &
	BG_PID=$!
	BG_PIDS="$BG_PIDS $BG_PID"
}

bg_stop() { # bg_stop PID... : TERM, then KILL after 2 s, and reap
	local p i
	for p in "$@"; do
		[ -n "$p" ] || continue
		kill -TERM "$p" 2>/dev/null
		for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.02; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		BG_PIDS=$(echo " $BG_PIDS " | sed "s/ $p / /")
	done
}

netns_del_all() {
	local ns p
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
		# Processes still inside are ours (started by this script).
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	bg_stop $BG_PIDS
	if [ -x "$XDP_EGRESS" ] && [ -e "/run/netns/$H" ] && [ -d "$BPFFS" ]; then
		timeout 20 nsenter --net="/run/netns/$H" "$XDP_EGRESS" detach --all >/dev/null 2>&1
	fi
	netns_del_all
	rm -rf "$BPFFS" "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# record WORKLOAD CONTENDER ROUND METRIC VALUE : one figure into the raw file
record() {
	local v=$5
	case "$v" in ''|*[!0-9.eE+-]*) v=null ;; esac   # never write broken JSON
	printf '{"workload":"%s","contender":"%s","round":%s,"metric":"%s","value":%s}\n' \
		"$1" "$2" "$3" "$4" "$v" >> "$RAW"
}
note() { # note CONTENDER ROUND TEXT
	local t=${3//\\/\\\\}
	t=${t//\"/\\\"}
	printf '{"note":"%s","contender":"%s","round":%s}\n' "$t" "$1" "$2" >> "$RAW"
}

mac_of() { printf '02:%02x:00:00:%02x:%02x' "$1" $(($2 >> 8)) $(($2 & 255)); }

# -------------------------------------------------------------- topology --
# topo_up N: containers $P-c1..N (eth0 10.201.i.2/24, gateway 10.201.i.1 on
# host veth hv<i>), host $H (forwarding on, uplink up0 198.18.0.1/24) and
# world $W (wl0 198.18.0.2/24). The world has no route back to 10.201.0.0/16:
# the NAT contenders must translate or fail (only tc-bpf, which has no NAT,
# adds one: contender_up). Neighbours are static so that no ARP timing shows
# in any figure.
topo_up() {
	local n=$1 i ns hb=$TMP/host.batch
	for ns in $H $W $(seq -f "$P-c%g" 1 "$n"); do
		ip netns add "$ns" || return 1
		ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6;
			echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6' || return 1
	done
	ip netns exec "$H" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' || return 1
	{
		echo "link set lo up"
		echo "link add up0 address $UP0_MAC type veth peer name wl0 address $WL0_MAC netns $W"
		echo "addr add 198.18.0.1/24 dev up0"
		echo "link set up0 up"
		echo "neigh replace 198.18.0.2 lladdr $WL0_MAC dev up0 nud permanent"
		for i in $(seq "$n"); do
			echo "link add hv$i address $(mac_of 0 "$i") type veth peer name eth0 address $(mac_of 1 "$i") netns $P-c$i"
			echo "addr add 10.201.$i.1/24 dev hv$i"
			echo "link set hv$i up"
			echo "neigh replace 10.201.$i.2 lladdr $(mac_of 1 "$i") dev hv$i nud permanent"
		done
	} > "$hb"
	ip -n "$H" -batch "$hb" || return 1
	ip -n "$W" -batch - <<-EOF || return 1
		link set lo up
		link set wl0 up
		addr add 198.18.0.2/24 dev wl0
		neigh replace 198.18.0.1 lladdr $UP0_MAC dev wl0 nud permanent
	EOF
	# NAPI on wl0 without XDP: redirected frames are accepted, uplink TSO stays.
	ip netns exec "$W" ethtool -K wl0 gro on > /dev/null || return 1
	: > "$TMP/targets.all"
	for i in $(seq "$n"); do
		ip -n "$P-c$i" -batch - <<-EOF || return 1
			link set lo up
			link set eth0 up
			addr add 10.201.$i.2/24 dev eth0
			route add default via 10.201.$i.1
			neigh replace 10.201.$i.1 lladdr $(mac_of 0 "$i") dev eth0 nud permanent
		EOF
		echo "/run/netns/$P-c$i eth0 10.201.$i.2 $(mac_of 0 "$i")" >> "$TMP/targets.all"
	done
	head -n 1 "$TMP/targets.all" > "$TMP/targets.1"
}

topo_down() {
	bg_stop $BG_PIDS
	if [ -d "$BPFFS" ] && [ -e "/run/netns/$H" ]; then
		timeout 30 nsenter --net="/run/netns/$H" "$XDP_EGRESS" detach --all >/dev/null 2>&1
	fi
	netns_del_all
	rm -rf "$BPFFS"
}

# ------------------------------------------------------------- contenders --
# The xdp contenders run on top of the iptables contender's ruleset (the
# kernel's MASQUERADE and FORWARD rules decide, the fast path carries:
# "The kernel decides, the fast path carries"). latest.json records it as
# params.xe_on_kernel_rules = 1; results before (own BPF NAT, --snat auto,
# no rules) carry 0: bench/results/connrate-ownnat.*.
XE_ON_KERNEL_RULES=1

# Docker's default bridge: forward container traffic out, accept replies by
# conntrack state, masquerade behind the uplink address. The iptables
# contender, and (kernel-exact mode) the host rules under the xdp contenders.
iptables_rules_up() {
	ip netns exec "$H" iptables-restore <<-EOF
			*filter
			:INPUT ACCEPT [0:0]
			:FORWARD DROP [0:0]
			:OUTPUT ACCEPT [0:0]
			-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
			-A FORWARD -i hv+ -o up0 -j ACCEPT
			COMMIT
			*nat
			:PREROUTING ACCEPT [0:0]
			:INPUT ACCEPT [0:0]
			:OUTPUT ACCEPT [0:0]
			:POSTROUTING ACCEPT [0:0]
			-A POSTROUTING -s 10.201.0.0/16 ! -o hv+ -j MASQUERADE
			COMMIT
		EOF
}

# The host's netfilter under the xdp contenders: the iptables contender's
# rules, installed before the first attach.
xe_host_rules() {
	iptables_rules_up
}

# contender_up NAME FIRST LAST: set the contender up for containers
# FIRST..LAST. The iptables/nftables rules cover every hvN at once (FIRST 1);
# tc-bpf and xdp attach per host veth, so containers can be added later.
# All but tc-bpf translate the source to up0's address (MASQUERADE; the xdp
# contenders carry the kernel's MASQUERADE, one uplink program and one agent
# shared by every attachment of the host namespace); tc-bpf does no NAT, so
# it alone gets a route back in the world.
contender_up() {
	local c=$1 first=$2 n=$3 i
	case "$c" in
	iptables)
		[ "$first" = 1 ] || return 0
		iptables_rules_up || return 1
		;;
	nftables)
		[ "$first" = 1 ] || return 0
		ip netns exec "$H" nft -f - <<-EOF || return 1
			table ip xeb {
				chain forward {
					type filter hook forward priority filter; policy drop;
					ct state established,related accept
					iifname "hv*" oifname "up0" accept
				}
				chain postrouting {
					type nat hook postrouting priority srcnat; policy accept;
					ip saddr 10.201.0.0/16 oifname != "hv*" masquerade
				}
			}
		EOF
		;;
	tc-bpf)
		if [ "$first" = 1 ]; then
			ip -n "$W" route add 10.201.0.0/16 via 198.18.0.1 || return 1
		fi
		for i in $(seq "$first" "$n"); do
			echo "qdisc add dev hv$i clsact"
			echo "filter add dev hv$i ingress bpf direct-action obj $B/tc_fib_redirect.bpf.o sec tc"
		done > "$TMP/tc.batch"
		ip netns exec "$H" tc -batch "$TMP/tc.batch" || return 1
		;;
	xdp-native|xdp-generic|xe-tc|xe-auto|xdp-native-noflows)
		[ -x "$XDP_EGRESS" ] || { echo "no $XDP_EGRESS (run make)"; return 1; }
		if [ "$first" = 1 ]; then xe_host_rules || return 1; fi
		# xdp-native-noflows: native without per-flow counts and flow
		# events (kct_config.flows_off), the cost of `flows`/`events`.
		local mode=${c#*-} flows=on
		[ "$c" = xdp-native-noflows ] && mode=native flows=off
		for i in $(seq "$first" "$n"); do
			timeout 30 nsenter --net="/run/netns/$H" env XDP_EGRESS_FLOWS=$flows "$XDP_EGRESS" attach \
				--ifname "hv$i" --mode "$mode" --uplink up0 \
				> "$TMP/attach.out" 2>&1 || { cat "$TMP/attach.out"; return 1; }
		done
		if [ "$c" = xe-auto ] && [ "$first" = 1 ]; then
			# The tuner, as the daemon would run it (topo_down stops it).
			bg_start "$TMP/tune.out" nsenter --net="/run/netns/$H" \
				env XDP_EGRESS_BPFFS="$BPFFS" "$XDP_EGRESS" tune --interval 0.2
		fi
		;;
	esac
}

# --------------------------------------------------------------- the sink --
SINK_PID=
# The source the sink accepts for the flood: the NAT contenders' traffic must
# leave as up0's address, tc-bpf's as the containers'. Anything else is
# counted apart (wrong_src) and not as received, so an untranslated flood
# shows as loss.
src_net_of() {
	case "$1" in
	tc-bpf) echo 10.201.0.0/16 ;;
	ceiling) echo 0.0.0.0/0 ;;
	*) echo 198.18.0.1/32 ;;
	esac
}

sink_start() { # sink_start NS IFNAME HOST_NS SRC_NET
	SINK_OUT=$TMP/sink.$1.out
	bg_start "$SINK_OUT" ip netns exec "$1" "$B/xeb_sink" --ifname "$2" \
		--host-netns "/run/netns/$3" --src-net "$4"
	SINK_PID=$BG_PID
	local i
	for i in $(seq 200); do
		grep -q '^ready' "$SINK_OUT" 2>/dev/null && return 0
		kill -0 "$SINK_PID" 2>/dev/null || break
		sleep 0.025
	done
	log "sink did not start: $(head -c 300 "$SINK_OUT")"
	return 1
}

# sink_snap: prints "t_ns rx_packets rx_bytes other net_sirq_ns sink_poll_ns
# foreign_poll_ns wrong_src_packets"
sink_snap() {
	local before i
	before=$(wc -l < "$SINK_OUT")
	kill -USR1 "$SINK_PID" 2>/dev/null || return 1
	for i in $(seq 100); do
		[ "$(wc -l < "$SINK_OUT")" -gt "$before" ] && { tail -n 1 "$SINK_OUT"; return 0; }
		sleep 0.02
	done
	return 1
}

# window GEN_OUT GENCMD... : runs a generator, lets it warm up for WARM s,
# measures at the sink over the next DUR seconds, then stops it. Prints
# "rx_pps host_ns_per_pkt offered_pps foreign_ns_per_pkt wrong_src" (offered:
# the generator's own count/time; foreign: other namespaces' polls, left out;
# wrong_src: the share of the flood that arrived from an unexpected source).
window() {
	local out=$1 a b gp st0
	shift
	bg_start "$out" timeout -s INT "$(secs + 15)" "$@"
	gp=$BG_PID
	sleep "$WARM"
	a=$(sink_snap) || { bg_stop "$gp"; return 1; }
	st0=$(steal_ticks)
	sleep "$DUR" & wait $!
	b=$(sink_snap) || { bg_stop "$gp"; return 1; }
	WINDOW_STEAL_MS=$(( ($(steal_ticks) - st0) * 1000 / CLK_TCK ))
	# Both generators stop cleanly on SIGTERM and print their count.
	bg_stop "$gp"
	grep -q '"sent"' "$out" || { log "generator failed: $(head -c 300 "$out")"; return 1; }
	echo "$a $b $(grep '"sent"' "$out" | jq -r '"\(.sent) \(.elapsed_ns)"')" |
		awk '{ dt = $9 - $1; dp = $10 - $2; dw = $16 - $8;
		       host = ($13 - $14 - $15) - ($5 - $6 - $7);
		       printf "%.1f %.1f %.1f %.1f %.6f\n", dp * 1e9 / dt, dp ? host / dp : 0,
		              $18 ? $17 * 1e9 / $18 : 0, dp ? ($15 - $7) / dp : 0,
		              (dp + dw) ? dw / (dp + dw) : 0 }'
}

CLK_TCK=$(getconf CLK_TCK)
# Hypervisor steal time (all CPUs), in ticks: a window with much of it is
# suspect, since the meter measures wall-clock time spent in softirqs.
steal_ticks() { awk '/^cpu / { print $9; exit }' /proc/stat; }

gro_on_all() { # the live generator's frames need NAPI on each host veth
	local i
	for i in $(seq "$NCONT"); do echo "hv$i"; done |
		xargs -P 4 -I{} ip netns exec "$H" ethtool -K {} gro on >/dev/null 2>&1
}

# small_window NAME CONTENDER ROUND GEN TARGETS [RATE [GEN-ARGS...]] : one
# small-packet window; records pps, loss and host ns/packet.
small_window() {
	local name=$1 c=$2 r=$3 gen=$4 tg=$5 rate=${6:-0} res pps ns off fns wsrc
	shift 6 2>/dev/null || shift $#
	res=$(window "$TMP/gen.out" "$B/$gen" --targets "$tg" --dst 198.18.0.2 \
		--duration "$(secs + 5)" --rate "$rate" "$@") || { note "$c" "$r" "$name: no result"; return 1; }
	read -r pps ns off fns wsrc <<< "$res"
	record "$name" "$c" "$r" pps "$pps"
	record "$name" "$c" "$r" host_ns_per_pkt "$ns"
	record "$name" "$c" "$r" offered_pps "$off"
	record "$name" "$c" "$r" steal_ms "${WINDOW_STEAL_MS:-0}"
	record "$name" "$c" "$r" foreign_ns_per_pkt "$fns"
	record "$name" "$c" "$r" wrong_src "$wsrc"
	if awk -v w="$wsrc" 'BEGIN { exit !(w > 0) }'; then
		note "$c" "$r" "$name: $(awk -v w="$wsrc" 'BEGIN { printf "%.2f%%", w * 100 }') of the flood reached the world with a source outside $(src_net_of "$c") (counted as lost)"
		log "  $name: WARNING: $wsrc of the flood arrived with a source outside $(src_net_of "$c")"
	fi
	record "$name" "$c" "$r" loss "$(awk -v p="$pps" -v o="$off" 'BEGIN{printf "%.4f", (o > 0 && o > p) ? 1 - p / o : 0}')"
	log "  $name: $(awk -v p="$pps" -v n="$ns" -v o="$off" 'BEGIN{printf "%.3f Mpps (offered %.3f), host %.0f ns/pkt", p/1e6, o/1e6, n}')"
}

wait_listen() { # wait_listen tcp|udp PORT : a server in the world is ready (<= 3 s)
	local i
	for i in $(seq 60); do
		ip netns exec "$W" ss -Hln"${1:0:1}" "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

c1_tx() { # "tx_bytes tx_packets" of container 1's eth0
	ip -n "$P-c1" -s -j link show eth0 | jq -r '.[0].stats64.tx | "\(.bytes) \(.packets)"'
}

# iperf3's sender and receiver each on a CPU of its own (-A), the same for
# every contender: left to the scheduler, where they landed moved a round's
# figure by up to 30% (tcp 1 stream, 3 rounds, unpinned: 9.7-13.9 Gbit/s
# for the same contender), far more than any contender's difference.
TCP_PIN_CLI= TCP_PIN_SRV=
[ "$(nproc)" -ge 2 ] && TCP_PIN_CLI="-A 0" TCP_PIN_SRV="-A 1"

# cpu_split: per CPU, "cpuN busy/softirq%" from /proc/stat, since the last
# call (CPU_STAT0). Where the softirq work of a bulk transfer lands (the
# sender's CPU or the receiver's) moves its throughput more than any
# contender: logged beside every tcp window to show it.
CPU_STAT0=
cpu_split() {
	local now
	now=$(grep '^cpu[0-9]' /proc/stat)
	[ -n "$CPU_STAT0" ] && paste <(echo "$CPU_STAT0") <(echo "$now") | awk '{
		# cpuN user nice system idle iowait irq softirq ..., then the same now
		n = NF / 2
		t0 = 0; t1 = 0
		for (i = 2; i <= n; i++) t0 += $i
		for (i = n + 2; i <= NF; i++) t1 += $i
		d = t1 - t0
		idle = ($(n + 5) + $(n + 6)) - ($5 + $6)
		sirq = $(n + 8) - $8
		if (d > 0) printf "%s%s busy %.0f%% softirq %.0f%%", sep, $1, 100 * (d - idle) / d, 100 * sirq / d
		sep = ", "
	}'
	CPU_STAT0=$now
}

# The multi-stream upload is bimodal for every contender, iptables
# included: a window runs near 15 or near 30 Gbit/s depending on where the
# receiver's softirq work lands (iptables, 5 windows: 18.5 13.5 35.5 26.9
# 17.5), so one window per round made its ratio a coin flip. Each round
# runs TCP_MULTI_WINDOWS of them and records their mean (every window in
# the notes).
TCP_MULTI_WINDOWS=${XEB_TCP_MULTI_WINDOWS:-3}
[ "$QUICK" = 1 ] && TCP_MULTI_WINDOWS=${XEB_TCP_MULTI_WINDOWS:-1}
case "$TCP_MULTI_WINDOWS" in ''|0|*[!0-9]*)
	echo "run.sh: XEB_TCP_MULTI_WINDOWS wants a whole number >= 1" >&2; exit 2 ;;
esac

# tcp_window STREAMS [IPERF3_ARG...]: one iperf3 window from the container
# (an upload; -R: a download); prints "Gbit/s bytes/packet cpu-split", fails
# (with iperf3's error on stdout) when iperf3 did.
tcp_window() {
	local s=$1 tx0 gbps txb
	tx0=$(c1_tx)
	cpu_split > /dev/null
	if ! timeout "$(secs + 20)" ip netns exec "$P-c1" iperf3 -c 198.18.0.2 -p 5201 \
		-t "$TCP_DUR" -O "$TCP_OMIT" -P "$s" $TCP_PIN_CLI -J "${@:2}" > "$TMP/iperf3.json" 2>&1; then
		jq -r '.error // empty' "$TMP/iperf3.json" 2>/dev/null | head -c 200
		return 1
	fi
	gbps=$(jq -r '.end.sum_received.bits_per_second / 1e9' "$TMP/iperf3.json" 2>/dev/null)
	case "$gbps" in ''|null) echo "no sum_received in iperf3's output"; return 1 ;; esac
	# Bytes per packet leaving the container's eth0: ~65k with
	# TSO/GSO super-packets, ~1.5k when every segment goes alone.
	txb=$(echo "$tx0 $(c1_tx)" | awk '{ d = $4 - $2; printf "%.0f", (d > 0) ? ($3 - $1) / d : 0 }')
	echo "$gbps $txb $(cpu_split)"
}

run_tcp() { # run_tcp CONTENDER ROUND
	local c=$1 r=$2 s sp gbps txb split n k out all sum bsum
	bg_start "$TMP/iperf3.srv" ip netns exec "$W" iperf3 -s -B 198.18.0.2 -p 5201 $TCP_PIN_SRV
	sp=$BG_PID
	wait_listen tcp 5201
	for s in $TCP_STREAMS; do
		n=1
		[ "$s" -gt 1 ] && n=$TCP_MULTI_WINDOWS
		all= sum=0 bsum=0
		for k in $(seq "$n"); do
			if ! out=$(tcp_window "$s"); then
				note "$c" "$r" "tcp$s: iperf3 failed: $out"
				log "  tcp$s: iperf3 failed: $out"
				sum=; break
			fi
			read -r gbps txb split <<< "$out"
			note "$c" "$r" "tcp$s: $(printf '%.1f' "$gbps") Gbit/s; $split"
			log "  tcp$s: $(printf '%.2f' "$gbps") Gbit/s, container sends $txb bytes/packet; $split"
			all="$all $(printf '%.1f' "$gbps")"
			sum=$(awk -v a="$sum" -v b="$gbps" 'BEGIN { print a + b }')
			bsum=$((bsum + txb))
		done
		[ -n "$sum" ] || continue
		gbps=$(awk -v a="$sum" -v n="$n" 'BEGIN { print a / n }')
		record "tcp$s" "$c" "$r" gbps "$gbps"
		record "tcp$s" "$c" "$r" c1_tx_bytes_per_pkt "$((bsum / n))"
		[ "$n" -gt 1 ] && log "  tcp$s: mean of $n windows ($all ) $(printf '%.2f' "$gbps") Gbit/s"
	done
	# The download, 1 stream (iperf3 -R: the world sends): the return path
	# carries the data, the egress path the ACKs.
	if out=$(tcp_window 1 -R); then
		read -r gbps txb split <<< "$out"
		record tcpdown "$c" "$r" gbps "$gbps"
		note "$c" "$r" "tcpdown: $(printf '%.1f' "$gbps") Gbit/s; $split"
		log "  tcpdown: $(printf '%.2f' "$gbps") Gbit/s; $split"
	else
		note "$c" "$r" "tcpdown: iperf3 failed: $out"
		log "  tcpdown: iperf3 failed: $out"
	fi
	bg_stop "$sp"
}

# sockperf spends a fixed 2 s in its warm-up stage before every test, so quick
# mode runs the UDP and the TCP ping-pong at the same time (LAT_PARALLEL=1).
run_latency() { # run_latency CONTENDER ROUND
	local c=$1 r=$2 proto port pids="" cpids="" out p50 p99
	for proto in udp tcp; do
		port=11111
		[ "$proto" = tcp ] && port=11112
		bg_start "$TMP/sockperf.srv.$proto" ip netns exec "$W" sockperf server \
			-i 198.18.0.2 -p "$port" $([ "$proto" = tcp ] && echo --tcp)
		pids="$pids $BG_PID"
	done
	wait_listen udp 11111
	wait_listen tcp 11112
	for proto in udp tcp; do
		port=11111
		[ "$proto" = tcp ] && port=11112
		bg_start "$TMP/sockperf.$proto" timeout $((LAT_DUR + 20)) ip netns exec "$P-c1" \
			sockperf ping-pong -i 198.18.0.2 -p "$port" -t "$LAT_DUR" -m 64 --full-rtt \
			$([ "$proto" = tcp ] && echo --tcp)
		cpids="$cpids $BG_PID"
		[ "$LAT_PARALLEL" = 1 ] || { wait "$BG_PID"; }
	done
	for p in $cpids; do wait "$p"; done
	bg_stop $cpids $pids
	for proto in udp tcp; do
		out=$TMP/sockperf.$proto
		p50=$(sed -n 's/.*percentile 50.000 = *\([0-9.]*\).*/\1/p' "$out")
		p99=$(sed -n 's/.*percentile 99.000 = *\([0-9.]*\).*/\1/p' "$out")
		if [ -n "$p50" ] && [ -n "$p99" ]; then
			record "lat_$proto" "$c" "$r" p50_us "$p50"
			record "lat_$proto" "$c" "$r" p99_us "$p99"
			log "  lat_$proto: p50 $p50 us, p99 $p99 us (round trip)"
		else
			note "$c" "$r" "lat_$proto: sockperf gave no percentiles"
			log "  lat_$proto: failed: $(tail -n 2 "$out" | tr '\n' ' ' | head -c 200)"
		fi
	done
}

# The machine may be shared: other sessions' compiles and tests take CPU from
# a window. other_cpu_snap FILE notes three CPU-time totals, in ticks: all
# CPUs busy (/proc/stat user+nice+system+irq+softirq), this run's process
# group (utime+stime, plus cutime+cstime: its children reaped meanwhile) and
# the kernel threads (ksoftirqd and the like, whose work may be this run's).
# other_cpu_share BEFORE AFTER SECONDS: busy minus those two, as a share of
# all CPUs: what other processes took. Approximate (tick-sampled, and the
# softirq work that lands in another process's time slice counts as theirs),
# but it tells a quiet window from a disturbed one.
RUN_PGID=$(ps -o pgid= -p $$ | tr -d ' ')
NCPU=$(nproc)
other_cpu_snap() { # other_cpu_snap FILE
	{
		awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
		cat /proc/[0-9]*/stat 2>/dev/null
	} | awk -v pg="$RUN_PGID" 'NR == 1 { busy = $1; next }
		{ pid = $1
		  sub(/^.*\) /, "")   # then: $1 state, $2 ppid, $3 pgrp, $12-$15 times
		  if ($3 == pg) ours += $12 + $13 + $14 + $15
		  else if (pid == 2 || $2 == 2) kthreads += $12 + $13 }
		END { print busy, ours + 0, kthreads + 0 }' > "$1"
}
other_cpu_share() { # other_cpu_share BEFORE AFTER SECONDS
	awk -v hz="$CLK_TCK" -v ncpu="$NCPU" -v secs="$3" '
		FNR == NR { b = $1; o = $2; k = $3; next }
		{ d = ($1 - b) - ($2 - o) - ($3 - k)
		  if (d < 0) d = 0
		  printf "%.4f\n", (secs > 0 ? d / hz / (secs * ncpu) : 0) }' "$1" "$2"
}

# nstat_get NS COUNTER... : the counters' absolute values in namespace NS, in
# the order asked (0 for one the kernel does not show). NSTAT_HISTORY points
# at this run's temp dir and -s writes no history, so nothing is shared.
nstat_get() {
	local ns=$1
	shift
	NSTAT_HISTORY=$TMP/nstat.history ip netns exec "$ns" nstat -asz "$@" 2>/dev/null |
		awk -v want="$*" '!/^#/ { v[$1] = $2 }
			END { n = split(want, w, " ")
			      for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? " " : ""), v[w[i]] + 0
			      print "" }'
}

# udprr: UDP request/response, gen/udp_rr: 256 flows from container 1 (one
# connected socket, so one source port, each), at most 32 requests
# outstanding, 64-byte datagrams echoed by `udp_rr --server` in the world.
# The client's own warm-up (WARM) is left out of the figures; a request
# unanswered after 200 ms is lost.
RR_FLOWS=256 RR_DEPTH=32 RR_PORT=7000
run_udprr() { # run_udprr CONTENDER ROUND
	local c=$1 r=$2 sp out=$TMP/udprr.out st0 t0 share v
	bg_start "$TMP/udprr.srv" ip netns exec "$W" "$B/udp_rr" --server --bind 198.18.0.2 \
		--port "$RR_PORT"
	sp=$BG_PID
	if ! wait_listen udp "$RR_PORT"; then
		note "$c" "$r" "udprr: server did not start: $(head -c 200 "$TMP/udprr.srv")"
		bg_stop "$sp"
		return 1
	fi
	st0=$(steal_ticks)
	other_cpu_snap "$TMP/other.0"
	t0=$(date +%s.%N)
	if ! timeout "$(secs + 25)" ip netns exec "$P-c1" "$B/udp_rr" --dst 198.18.0.2 \
		--port "$RR_PORT" --flows "$RR_FLOWS" --depth "$RR_DEPTH" --size 64 \
		--warmup "$WARM" --duration "$DUR" --timeout-ms 200 > "$out" 2>&1 ||
		! grep -q '^{"transactions"' "$out"; then
		note "$c" "$r" "udprr: udp_rr failed: $(head -c 200 "$out" | tr '\n' ' ')"
		log "  udprr: failed: $(head -c 200 "$out")"
		bg_stop "$sp"
		return 1
	fi
	other_cpu_snap "$TMP/other.1"
	share=$(other_cpu_share "$TMP/other.0" "$TMP/other.1" \
		"$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')")
	bg_stop "$sp"
	record udprr "$c" "$r" steal_ms $(( ($(steal_ticks) - st0) * 1000 / CLK_TCK ))
	record udprr "$c" "$r" other_cpu_share "$share"
	for v in tps lost late send_errors recv_errors p50_us p99_us; do
		record udprr "$c" "$r" "$v" "$(grep '^{"transactions"' "$out" | jq -r ".$v")"
	done
	log "  udprr: $(grep '^{"transactions"' "$out" | jq -r '"\(.tps | floor) transactions/s, \(.lost) lost, \(.late) late, round trip p50 \(.p50_us) us, p99 \(.p99_us) us"'); other processes $(awk -v s="$share" 'BEGIN { printf "%.0f", s * 100 }')% of the CPUs"
}

# connrate: short-lived TCP connections through a real HTTP server and client.
# nginx (Debian's) in the world serves a 1 KiB file on 198.18.0.2:80, with its
# own config, pid file, logs and temp dirs under $TMP/nginx; wrk (Debian's) in
# container 1 asks for it with "Connection: close", so every request is a new
# connection: 32 at a time, on 2 threads. A first wrk run of the warm-up length
# (WARM rounded up to whole seconds) is not measured. SYN retransmissions are
# container 1's TcpExtTCPSynRetrans over the measured run (a SYN that got no
# SYN-ACK within the RTO: dropped on the way, or the port still busy in a
# translation or at the server); world_listen_drops is the server's
# TcpExtListenDrops (accept queue full, or SYNs it refused).
CONN_CONNS=32 CONN_THREADS=2 CONN_FILE_BYTES=1024
NGINX_PID=
nginx_start() {
	local d=$TMP/nginx
	rm -rf "$d"
	mkdir -p "$d/www" "$d/tmp" "$d/logs" || return 1
	head -c "$CONN_FILE_BYTES" /dev/zero | tr '\0' x > "$d/www/1k.bin"
	# user root: the worker must read $TMP (mode 0700); the namespace keeps
	# it from serving anything outside the run.
	cat > "$d/nginx.conf" <<-EOF
		daemon off;
		master_process on;
		user root root;
		worker_processes 2;
		pid $d/nginx.pid;
		error_log $d/logs/error.log warn;
		events { worker_connections 4096; }
		http {
			access_log off;
			client_body_temp_path $d/tmp/body;
			proxy_temp_path $d/tmp/proxy;
			fastcgi_temp_path $d/tmp/fastcgi;
			uwsgi_temp_path $d/tmp/uwsgi;
			scgi_temp_path $d/tmp/scgi;
			default_type application/octet-stream;
			sendfile on;
			server {
				listen 198.18.0.2:80 backlog=4096;
				root $d/www;
			}
		}
	EOF
	# -e: nginx's error log from the very start, before the config is read
	# (never the compiled-in default).
	bg_start "$d/logs/stdout" ip netns exec "$W" nginx -e "$d/logs/error.log" \
		-p "$d/" -c "$d/nginx.conf"
	NGINX_PID=$BG_PID
	wait_listen tcp 80
}

wrk_run() { # wrk_run SECONDS OUTFILE : wrk in container 1 against nginx
	timeout $(($1 + 20)) ip netns exec "$P-c1" wrk -t "$CONN_THREADS" -c "$CONN_CONNS" \
		-d "${1}s" --timeout 2s --latency -H "Connection: close" \
		-s "$BENCH/lib/wrk_json.lua" "http://198.18.0.2/1k.bin" > "$2" 2>&1
}

run_connrate() { # run_connrate CONTENDER ROUND
	local c=$1 r=$2 warm msg a b w0 w1 j st0 t0 share out=$TMP/wrk.out
	if ! nginx_start; then
		msg=$(cat "$TMP/nginx/logs/stdout" "$TMP/nginx/logs/error.log" 2>/dev/null | head -c 200 | tr '\n' ' ')
		note "$c" "$r" "connrate: nginx did not start: $msg"
		log "  connrate: nginx did not start: $msg"
		bg_stop "$NGINX_PID"
		return 1
	fi
	warm=$(awk -v w="$WARM" 'BEGIN { w = int(w + 0.999); print w < 1 ? 1 : w }')
	wrk_run "$warm" "$TMP/wrk.warm"
	a=$(nstat_get "$P-c1" TcpExtTCPSynRetrans TcpActiveOpens TcpAttemptFails)
	w0=$(nstat_get "$W" TcpExtListenDrops)
	st0=$(steal_ticks)
	other_cpu_snap "$TMP/other.0"
	t0=$(date +%s.%N)
	wrk_run "$TCP_DUR" "$out"
	other_cpu_snap "$TMP/other.1"
	share=$(other_cpu_share "$TMP/other.0" "$TMP/other.1" \
		"$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')")
	b=$(nstat_get "$P-c1" TcpExtTCPSynRetrans TcpActiveOpens TcpAttemptFails)
	w1=$(nstat_get "$W" TcpExtListenDrops)
	bg_stop "$NGINX_PID"
	j=$(grep '^{"requests"' "$out")
	if [ -z "$j" ]; then
		note "$c" "$r" "connrate: wrk failed: $(head -c 200 "$out" | tr '\n' ' ')"
		log "  connrate: wrk failed: $(head -c 300 "$out")"
		return 1
	fi
	record connrate "$c" "$r" steal_ms $(( ($(steal_ticks) - st0) * 1000 / CLK_TCK ))
	record connrate "$c" "$r" other_cpu_share "$share"
	record connrate "$c" "$r" rps "$(jq -r 'if .duration_us > 0 then .requests * 1e6 / .duration_us else 0 end' <<< "$j")"
	record connrate "$c" "$r" err_connect "$(jq -r .connect <<< "$j")"
	record connrate "$c" "$r" err_read "$(jq -r .read <<< "$j")"
	record connrate "$c" "$r" err_write "$(jq -r .write <<< "$j")"
	record connrate "$c" "$r" err_timeout "$(jq -r .timeout <<< "$j")"
	record connrate "$c" "$r" non_2xx_3xx "$(jq -r .status <<< "$j")"
	record connrate "$c" "$r" p50_us "$(jq -r .p50_us <<< "$j")"
	record connrate "$c" "$r" p99_us "$(jq -r .p99_us <<< "$j")"
	read -r -a a <<< "$a"   # syn_retrans active_opens attempt_fails
	read -r -a b <<< "$b"
	record connrate "$c" "$r" syn_retrans $((b[0] - a[0]))
	record connrate "$c" "$r" active_opens $((b[1] - a[1]))
	record connrate "$c" "$r" attempt_fails $((b[2] - a[2]))
	record connrate "$c" "$r" world_listen_drops $((w1 - w0))
	log "  connrate: $(jq -r '"\(if .duration_us > 0 then .requests * 1e6 / .duration_us | floor else 0 end) requests/s, p99 \(.p99_us) us, errors connect \(.connect) read \(.read) write \(.write) timeout \(.timeout), non-2xx/3xx \(.status)"' <<< "$j"), SYN retransmits $((b[0] - a[0])); other processes $(awk -v s="$share" 'BEGIN { printf "%.0f", s * 100 }')% of the CPUs"
}

# ct: the live-frame window with CT_FLOWS synthetic established flows in
# the kernel's conntrack table of the host namespace, for every contender:
# the kernel path looks each packet up there, xdp-egress each flow once per
# jiffy. gen/ct_fill writes them through ctnetlink with an hour's timeout
# and removes them again before scale.
CT_FLOWS="1000 100000"
ct_label() { case "$1" in *000) echo "$(( $1 / 1000 ))k" ;; *) echo "$1" ;; esac; }
run_ct() { # run_ct CONTENDER ROUND
	local c=$1 r=$2 n have=0 out
	for n in $CT_FLOWS; do
		[ "$n" -gt "$have" ] || continue
		if ! out=$(ip netns exec "$H" "$B/ct_fill" --first "$have" --count $((n - have)) \
			--nat-addr 198.18.0.1 2>&1); then
			note "$c" "$r" "ct_$(ct_label "$n"): fill failed: ${out:0:200}"
			log "  ct fill failed: $out"
			break
		fi
		have=$n
		record "ct_$(ct_label "$n")" "$c" "$r" fill_ms \
			"$(echo "$out" | jq -r '.elapsed_ns / 1e6')"
		small_window "ct_$(ct_label "$n")" "$c" "$r" xdp_live_gen "$TMP/targets.1"
	done
	[ "$have" -gt 0 ] || return 0
	# Deleting them also checks that none expired or went missing meanwhile.
	out=$(ip netns exec "$H" "$B/ct_fill" --count "$have" --delete 2>&1)
	n=$(echo "$out" | jq -r '.entries' 2>/dev/null)
	if [ "$n" != "$have" ]; then
		note "$c" "$r" "ct: $have synthetic entries written, ${n:-?} found at the end"
		log "  ct: WARNING: $have entries written, ${n:-?} found at the end"
	fi
	return 0
}

xdp_counters() { # after the windows: why packets did or did not take the fast path
	local c=$1 r=$2
	case "$c" in xdp-*|xe-*) ;; *) return 0 ;; esac
	if timeout 20 nsenter --net="/run/netns/$H" "$XDP_EGRESS" stats --json \
		> "$TMP/stats.json" 2>/dev/null; then
		printf '{"stats":%s,"contender":"%s","round":%s}\n' \
			"$(jq -c '{total}' "$TMP/stats.json" 2>/dev/null || echo null)" "$c" "$r" >> "$RAW"
	fi
}

# The machine may be shared: before each contender, the 1-minute load
# average (this run's own work counts in it) and the named network
# namespaces that are not this run's and hold a process (other sessions'
# tests; empty leftovers do not count).
record_load() { # record_load CONTENDER ROUND
	local la others=0 ns
	la=$(awk '{ print $1 }' /proc/loadavg)
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -v "^$P-"); do
		[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && others=$((others + 1))
	done
	printf '{"load":{"loadavg1":%s,"other_netns":%s},"contender":"%s","round":%s}\n' \
		"${la:-null}" "${others:-null}" "$1" "$2" >> "$RAW"
}

# One contender, one round: fresh topology, every workload, teardown.
run_contender() {
	local c=$1 r=$2 ok=0 i s t0=$SECONDS attached
	log "round $r: $c"
	# Warm-up before each window: xe-auto's tuner needs ~1.5 s to settle
	# (3 windows of 0.2 s that agree, 1 s since its last switch).
	WARM=0.3 TCP_OMIT=0
	[ "$c" = xe-auto ] && WARM=2 TCP_OMIT=2
	record_load "$c" "$r"
	if ! topo_up "$NCONT" > "$TMP/topo.out" 2>&1; then
		log "  topology failed: $(head -c 300 "$TMP/topo.out")"
		note "$c" "$r" "topology failed"
		topo_down
		return 1
	fi
	# Only container 1 has the contender at first; the scale workload adds
	# the others, so the single-container figures are not paying for 127
	# other attachments, and scale shows what N attachments cost.
	if ! contender_up "$c" 1 1 > "$TMP/contender.out" 2>&1; then
		log "  $c set-up failed: $(head -c 400 "$TMP/contender.out")"
		note "$c" "$r" "set-up failed: $(head -c 300 "$TMP/contender.out" | tr '\n' ' ')"
		topo_down
		return 1
	fi
	for i in 1 2 3; do
		ip netns exec "$P-c1" ping -c 1 -W 1 198.18.0.2 > /dev/null 2>&1 && { ok=1; break; }
	done
	if [ "$ok" != 1 ]; then
		log "  container 1 cannot reach the world through $c"
		note "$c" "$r" "no connectivity"
		topo_down
		return 1
	fi
	# What the contender left of the container's offloads (bulk TCP depends on it).
	if [ "$r" = 1 ]; then
		ip netns exec "$P-c1" ethtool -k eth0 2>/dev/null |
			awk -v c="$c" -F': ' '/^(tcp-segmentation-offload|generic-segmentation-offload|tx-checksumming|generic-receive-offload):/ {
				o = o sprintf("%s\"%s\":\"%s\"", n++ ? "," : "", $1, $2) }
				END { printf "{\"offloads\":{%s},\"contender\":\"%s\",\"round\":1}\n", o, c }' >> "$RAW"
	fi
	if [ -n "${XEB_HOLD:-}" ]; then
		# Debugging aid: keep this contender's topology up for a while.
		log "  holding $XEB_HOLD s: namespaces $P-*, targets $TMP/targets.all"
		sleep "$XEB_HOLD" & wait $!   # so that a signal's trap runs at once
	fi
	# The sink's native XDP on wl0 would take TSO/GSO away from its peer,
	# the uplink (drivers/net/veth.c, veth_xdp_set), so it is attached only
	# for the packet-rate windows; GRO on wl0 keeps NAPI there meanwhile.
	# Socket-path workloads first, with the host veths as the kernel made them.
	if want small || want cpu; then
		sink_start "$W" wl0 "$H" "$(src_net_of "$c")" || { note "$c" "$r" "sink failed"; topo_down; return 1; }
		want small && small_window small_sock "$c" "$r" udp_flood "$TMP/targets.1"
		want cpu && [ "$QUICK" = 0 ] &&
			small_window cpu_sock "$c" "$r" udp_flood "$TMP/targets.1" "$CPU_RATE"
		bg_stop "$SINK_PID"
	fi
	want tcp && run_tcp "$c" "$r"
	want latency && run_latency "$c" "$r"

	# Live-frame workloads: GRO on gives every host veth NAPI.
	if want small || want cpu || want scale || want ct; then
		sink_start "$W" wl0 "$H" "$(src_net_of "$c")" || { note "$c" "$r" "sink failed"; topo_down; return 1; }
		gro_on_all
		if want small || want scale || want ct; then
			small_window small_live "$c" "$r" xdp_live_gen "$TMP/targets.1"
		fi
		if want cpu; then
			small_window cpu_live "$c" "$r" xdp_live_gen "$TMP/targets.1" "$CPU_RATE"
		fi
		want ct && run_ct "$c" "$r"
		if want scale; then
			attached=1
			for s in $SCALES; do
				[ "$s" = 1 ] && continue
				if ! contender_up "$c" $((attached + 1)) "$s" > "$TMP/contender.out" 2>&1; then
					note "$c" "$r" "scale_$s: set-up failed: $(head -c 200 "$TMP/contender.out" | tr '\n' ' ')"
					break
				fi
				attached=$s
				head -n "$s" "$TMP/targets.all" > "$TMP/targets.$s"
				small_window "scale_$s" "$c" "$r" xdp_live_gen "$TMP/targets.$s"
			done
		fi
		if [ "$r" = 1 ] && want small && { [ "$c" = iptables ] || [ "$c" = tc-bpf ]; }; then
			# The stall DESIGN.md reports, shown on purpose: without the
			# per-run rewrite, recycled test_run pages carry the kernel's
			# in-place edits back into the next injection (iptables: NAT,
			# the flow dies at once; tc-bpf: TTL, after ~63 uses a page).
			small_window diag_no_rewrite "$c" "$r" xdp_live_gen "$TMP/targets.1" 0 \
				--no-rewrite 2>/dev/null || true
		fi
		bg_stop "$SINK_PID"
	fi
	# The request/response workloads come last, so that the TIME_WAIT
	# sockets and conntrack entries they leave weigh on no other workload;
	# udprr (256 flows) before connrate (tens of thousands).
	want udprr && run_udprr "$c" "$r"
	want connrate && run_connrate "$c" "$r"
	xdp_counters "$c" "$r"
	if [ "$c" = xe-auto ] && [ -s "$TMP/tune.out" ]; then
		note "$c" "$r" "tuner: $(grep -c ': native XDP in front' "$TMP/tune.out") switches to native, $(grep -c ': back to the tc' "$TMP/tune.out") back to tc"
		sed 's/^/    tune: /' "$TMP/tune.out" | tail -n 12 >&2
	fi
	topo_down
	log "  ($((SECONDS - t0)) s)"
}

# The generators' own ceilings: generator -> veth -> sink, nothing between.
run_ceiling() {
	local r=$1 c=ceiling
	log "round $r: generator ceilings (straight into the sink)"
	ip netns add "$P-g" && ip netns add "$P-s" || return 1
	ip -n "$P-g" link add eth0 type veth peer name sk0 netns "$P-s" || return 1
	ip -n "$P-g" -batch - <<-EOF
		link set lo up
		link set eth0 up
		addr add 198.18.1.2/24 dev eth0
		route add default via 198.18.1.1
		neigh replace 198.18.1.1 lladdr $WL0_MAC dev eth0 nud permanent
	EOF
	ip -n "$P-s" -batch - <<-EOF
		link set lo up
		link set sk0 address $WL0_MAC
		link set sk0 up
		addr add 198.18.0.2/24 dev sk0
		addr add 198.18.1.1/24 dev sk0
	EOF
	echo "/run/netns/$P-g eth0 198.18.1.2 $WL0_MAC" > "$TMP/targets.ceil"
	sink_start "$P-s" sk0 "$P-g" "$(src_net_of ceiling)" || { netns_del_all; return 1; }
	small_window small_sock "$c" "$r" udp_flood "$TMP/targets.ceil"
	small_window small_live "$c" "$r" xdp_live_gen "$TMP/targets.ceil"
	bg_stop "$SINK_PID"
	netns_del_all
}

# ------------------------------------------------------------------- main --
log "building bench helpers"
make -s -C "$BENCH" > "$TMP/make.out" 2>&1 || { cat "$TMP/make.out" >&2; exit 1; }
for t in iperf3 sockperf jq ethtool nft iptables-restore tc gnuplot nginx wrk nstat; do
	command -v "$t" > /dev/null || log "warning: $t not found (make deps / bench/README.md)"
done
if [ ! -x "$XDP_EGRESS" ]; then
	log "warning: $XDP_EGRESS missing: xdp contenders will fail (run make)"
else
	# Run a private copy: a rebuild of build/ during the run must not
	# swap or remove the binary under a contender.
	cp "$XDP_EGRESS" "$TMP/xdp-egress" && XDP_EGRESS=$TMP/xdp-egress
fi
log "rounds $ROUNDS, window ${DUR}s, workloads $ONLY, containers $NCONT, contenders $CONTENDERS"

T_START=$SECONDS
read -r -a CLIST <<< "${CONTENDERS//,/ }"
for r in $(seq "$ROUNDS"); do
	# Generator ceilings: every round in full mode, the first one in quick.
	if want small && { [ "$QUICK" = 0 ] || [ "$r" = 1 ]; }; then run_ceiling "$r"; fi
	# Rotate the order each round so no contender always runs first/last.
	n=${#CLIST[@]}
	for k in $(seq 0 $((n - 1))); do
		run_contender "${CLIST[$(((k + r - 1) % n))]}" "$r"
	done
done
ELAPSED=$((SECONDS - T_START))

mkdir -p "$OUT"
cp "$RAW" "$OUT/latest.raw.tmp"   # every raw figure, for re-running report.py (not committed)
"$PYTHON" "$BENCH/lib/report.py" --raw "$RAW" --out "$OUT" --root "$ROOT" \
	--rounds "$ROUNDS" --window "$DUR" --cpu-rate "$CPU_RATE" --elapsed "$ELAPSED" \
	--mode "$([ "$QUICK" = 1 ] && echo quick || echo full)" --scales "$SCALES" \
	--xe-on-kernel-rules "$XE_ON_KERNEL_RULES" \
	--command "bench/run.sh${ARGS:+ $ARGS}" || exit 1
log "done in ${ELAPSED}s: $OUT/latest.md"
