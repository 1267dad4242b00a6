# shellcheck shell=bash
# Sourced by the kernel-exact tests (tests/e2e/test_exact_*.sh), after
# nothing else: it sources topo.sh itself. What it adds:
#
# - node-like set-ups: the world that does not route the container subnets
#   (only MASQUERADEd traffic is answered), kube-proxy iptables-mode rules
#   written as kube-proxy writes them (kp_*), decoy hosts in the world that
#   OWN the ClusterIP addresses (a fast path that forgot the DNAT gets a
#   wrong answer, not none);
# - the oracle pattern. Every script loops over EXACT_ROUNDS: the round
#   "kernel" runs each case without xdp-egress and records its observable
#   outcome; the rounds native, generic, tc and auto run the same cases with
#   xdp-egress attached in that mode (auto: no --mode) and compare:
#
#       for ROUND in "${EXACT_ROUNDS[@]}"; do
#           exact_round_start --ifname vc1 --ifname vc2 || continue
#           s0=$(stats_json); r=$(py_x "${TOPO_C[1]}" ask tcp ...); s1=$(stats_json)
#           same_as_kernel svc_pod_tcp "$(ask_outcome "$r")" '^answered=30/30 '
#           fast_path svc_pod_tcp "$s0" "$s1" 20 20
#           exact_round_end
#       done
#
#   same_as_kernel prints "ok CASE_kernel" (or FAIL when the kernel itself
#   did not give the expected outcome: then the set-up is wrong) and, in
#   the other rounds, "ok CASE_ROUND" / "FAIL CASE_ROUND: kernel path: X;
#   xdp-egress ROUND: Y; counters ...". not_worse_than_kernel does the same
#   for outcomes ranked item by item (kept < lowered < shortened < changed
#   < gone). fast_path checks that "redirected" grew (egress, uplink).
# - XE_ORACLE_ONLY=1 runs the kernel round alone (no xdp-egress at all);
#   XE_EXACT_MODES="native tc" picks the xdp-egress rounds.
# - traffic tools (tests/lib/exact_tools.py) run with py_x / bg_x /
#   par_ask; scapy (crafted packets, sequence numbers from a capture) as a
#   service per namespace: scapyd_start / scapy_call.
# - conntrack helpers reading the host namespace's kernel table.

source "$(dirname "${BASH_SOURCE[0]}")/topo.sh"

EXACT_TOOLS=$TOPO_ROOT/tests/lib/exact_tools.py
PY3=/usr/bin/python3   # scapy lives in Debian's python3-scapy

# ---- counter names: the one place to fix when the implementation names
# a counter differently (egress and uplink programs share the names). ----
XC_REDIRECTED=redirected
XC_REDIRECTED_GSO=redirected_gso
XC_PASS_SPOOFED=pass_spoofed
XC_PASS_NEW_FLOW=pass_new_flow
XC_PASS_NOT_ESTABLISHED=pass_not_established
XC_PASS_TCP_CONTROL=pass_tcp_control
XC_PASS_NOT_PROMOTED=pass_not_promoted
XC_PASS_KERNEL_ONLY=pass_kernel_only
XC_PASS_FRAGMENT=pass_fragment
XC_PASS_ICMP=pass_icmp
XC_PASS_TOO_BIG=pass_too_big
XC_PASS_NOT_CONTAINER=pass_not_container
XC_DROP_MALFORMED=drop_malformed
XC_DROP_OUT_OF_WINDOW=drop_out_of_window
XC_REDIRECT_ERR=redirect_err
XC_PROMOTE_REQUESTS=promote_requests
# The nftables table attach adds so that conntrack runs in the namespace.
XE_NFT_TABLE=xdp_egress

# ---- rounds -------------------------------------------------------------

EXACT_MODES=(${XE_EXACT_MODES:-native generic tc auto})
if [ "${XE_ORACLE_ONLY:-0}" = 1 ]; then
	EXACT_ROUNDS=(kernel)
else
	EXACT_ROUNDS=(kernel "${EXACT_MODES[@]}")
fi
ROUND=kernel
ORACLE_DIR=$TOPO_TMP/oracle
mkdir -p "$ORACLE_DIR"
EXACT_T0=$(date +%s.%N)

# exact_need NAME TOOL...: one FAIL line and exit when a tool is missing.
exact_need() {
	local name=$1 t missing=""
	shift
	for t in ip nsenter jq conntrack iptables ip6tables nft tcpdump "$PY3" "$@"; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	"$PY3" -c 'import scapy' 2>/dev/null || missing="$missing python3-scapy"
	if [ -n "$missing" ]; then
		fail "$name" "missing:$missing (run make deps)"
		exit 1
	fi
	if [ "${XE_ORACLE_ONLY:-0}" != 1 ] && [ ! -x "$XE_BIN" ]; then
		fail "$name" "$XE_BIN not built (run make)"
		exit 1
	fi
}

# Cleanup: functions registered with exact_on_exit run first (newest
# first), then every attachment is detached (so the product stops what it
# started, its agent included), then topo_destroy.
EXACT_EXIT_HOOKS=()
exact_on_exit() { EXACT_EXIT_HOOKS=("$1" "${EXACT_EXIT_HOOKS[@]}"); }
exact_cleanup() {
	trap '' INT TERM HUP # the cleanup runs to its end (see topo_destroy)
	local h
	for h in "${EXACT_EXIT_HOOKS[@]}"; do
		"$h" >/dev/null 2>&1
	done
	EXACT_EXIT_HOOKS=()
	if [ "${XE_ORACLE_ONLY:-0}" != 1 ] && [ -e "/run/netns/$TOPO_HOST" ]; then
		xe detach --all >/dev/null 2>&1
	fi
	log "took $(awk -v a="$EXACT_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	topo_destroy
}

# mode_args ROUND: the attach options of a round (auto: none, the default).
mode_args() {
	case $1 in
	auto) ;;
	*) echo "--mode $1" ;;
	esac
}

# exact_round_start TARGET...: begins round $ROUND (set by the caller's
# loop). Each TARGET is one attach target's options as one word, e.g.
# "--ifname vc1" or "--docker c1". The kernel's conntrack table of the host
# namespace is emptied first, so that no entry of an earlier round decides
# for this one. Kernel round: nothing attached. Returns non-zero (after a
# FAIL line) when an attach failed; the round is then skipped.
EXACT_ATTACHED=()
exact_round_start() {
	local t
	in_host conntrack -F >/dev/null 2>&1
	in_host conntrack -F -f ipv6 >/dev/null 2>&1
	EXACT_ATTACHED=()
	EXACT_ROUND_T0=$EPOCHREALTIME
	log "---- round $ROUND ----"
	[ "$ROUND" = kernel ] && return 0
	for t in "$@"; do
		# shellcheck disable=SC2086
		if ! xe_capture attach $t $(mode_args "$ROUND") --uplink up0; then
			fail "attach_${ROUND}" "attach $t $(mode_args "$ROUND") --uplink up0 exited $XE_RC: $(tr '\n' ' ' <<<"$XE_ERR")"
			exact_round_end >/dev/null
			return 1
		fi
		EXACT_ATTACHED+=("$t")
	done
	log "attached ${EXACT_ATTACHED[*]} ($ROUND): $(xe status --json 2>/dev/null | jq -c '[.attachments[]? | {ifname, mode}]')"
}

# exact_round_end: detaches what the round attached (the last detach also
# removes the product's nftables table and stops its agent).
exact_round_end() {
	local t
	log "round $ROUND took $(awk -v a="${EXACT_ROUND_T0:-$EPOCHREALTIME}" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
	[ "$ROUND" = kernel ] && return 0
	if [ "$TOPO_FAILED" -gt 0 ]; then
		log "counters at the end of round $ROUND: $(counters_brief "$(stats_json)") uplinks $(uplink_brief "$(stats_json)")"
	fi
	for t in "${EXACT_ATTACHED[@]}"; do
		# shellcheck disable=SC2086
		xe detach $t >/dev/null 2>&1
	done
	EXACT_ATTACHED=()
}

# ---- the oracle ------------------------------------------------------------

# same_as_kernel CASE OUTCOME [WANT_REGEX]: see the top. WANT_REGEX is what
# the kernel path must give (bash =~); a kernel outcome that does not match
# it is a broken set-up, reported as "FAIL CASE_kernel".
same_as_kernel() {
	local c=$1 got=$2 want=${3:-} f=$ORACLE_DIR/$1 kern
	if [ "$ROUND" = kernel ]; then
		printf '%s' "$got" >"$f"
		if [ -n "$want" ] && ! [[ $got =~ $want ]]; then
			fail "${c}_kernel" "the kernel path itself gave '$got' (want /$want/): the set-up is wrong"
			return 1
		fi
		ok "${c}_kernel"
		log "$c (kernel): $got"
		return 0
	fi
	if [ ! -e "$f" ]; then
		fail "${c}_$ROUND" "no kernel outcome to compare with (the kernel round was skipped or failed); xdp-egress $ROUND: $got"
		return 1
	fi
	kern=$(cat "$f")
	if [ "$got" = "$kern" ]; then
		ok "${c}_$ROUND"
		return 0
	fi
	fail "${c}_$ROUND" "kernel path: '$kern'; xdp-egress $ROUND: '$got'; counters $(counters_brief "$(stats_json)") uplinks $(uplink_brief "$(stats_json)")"
	return 1
}

# not_worse_than_kernel CASE OUTCOME [WANT_REGEX]: like same_as_kernel
# for outcomes made of items "WHAT VERDICT ..." joined by "; ", where the
# first word of VERDICT ranks how badly WHAT was hit: kept < lowered <
# shortened < changed < gone. Each item of an xdp-egress round must rank
# no worse than the same item on the kernel path.
_verdict_rank() {
	case $1 in
	kept) echo 0 ;; lowered) echo 1 ;; shortened) echo 2 ;; changed) echo 3 ;; *) echo 4 ;;
	esac
}
not_worse_than_kernel() {
	local c=$1 got=$2 want=${3:-} f=$ORACLE_DIR/$1 kern worse="" i k g
	if [ "$ROUND" = kernel ] || [ ! -e "$f" ]; then
		same_as_kernel "$@"
		return
	fi
	kern=$(cat "$f")
	local -a K G
	IFS=';' read -ra K <<<"$kern"
	IFS=';' read -ra G <<<"$got"
	if [ ${#K[@]} != ${#G[@]} ]; then
		worse="different items"
	else
		for i in "${!K[@]}"; do
			read -r _ k _ <<<"${K[$i]}"
			read -r _ g _ <<<"${G[$i]}"
			[ "$(_verdict_rank "${g%:}")" -le "$(_verdict_rank "${k%:}")" ] || worse+="${G[$i]# } (kernel path: ${K[$i]# }); "
		done
	fi
	if [ -z "$worse" ]; then
		ok "${c}_$ROUND"
		[ "$got" = "$kern" ] || log "$c ($ROUND): $got (kernel path: $kern)"
	else
		fail "${c}_$ROUND" "worse than the kernel path: ${worse%; }; counters $(counters_brief "$(stats_json)") uplinks $(uplink_brief "$(stats_json)")"
	fi
}

# expect CASE WHY COMMAND...: check, named CASE_ROUND.
expect() {
	local c=$1 why=$2
	shift 2
	check "${c}_$ROUND" "$why" "$@"
}

# ---- counters ---------------------------------------------------------------

# delta S0 S1 NAME [packets|bytes]: growth of a total counter.
delta() {
	echo $(($(counter "$2" "$3" "${4:-packets}") - $(counter "$1" "$3" "${4:-packets}")))
}
# uplink_counter JSON NAME [packets|bytes]: summed over every uplink entry.
uplink_counter() {
	jq -r --arg n "$2" --arg f "${3:-packets}" '[.uplinks[]?.counters[$n][$f] // 0] | add // 0' <<<"$1" 2>/dev/null || echo 0
}
uplink_delta() {
	echo $(($(uplink_counter "$2" "$3" "${4:-packets}") - $(uplink_counter "$1" "$3" "${4:-packets}")))
}
uplink_brief() {
	jq -c '[.uplinks[]? | {(.ifname): [.counters | to_entries[] | select(.value.packets > 0) | "\(.key)=\(.value.packets)"]}]' <<<"$1" 2>/dev/null
}
# counters_delta_brief S0 S1: the counters that grew, one line.
counters_delta_brief() {
	jq -nc --argjson a "${1:-{\}}" --argjson b "${2:-{\}}" '
		def d(x; y): [y | to_entries[] | select(.value.packets > ((x[.key].packets) // 0)) |
			"\(.key)+\(.value.packets - ((x[.key].packets) // 0))"];
		{egress: d($a.total // {}; $b.total // {}),
		 uplink: d(([$a.uplinks[]?.counters] | add) // {}; ([$b.uplinks[]?.counters] | add) // {})}' 2>/dev/null
}

# fast_path CASE S0 S1 EGRESS_MIN [UPLINK_MIN [packets|bytes]]: in an
# xdp-egress round, the fast path carried the established part of the
# case: "redirected" grew by at least EGRESS_MIN on the egress programs and
# UPLINK_MIN on the uplink's (0 or empty: not checked). Kernel round: no
# check at all.
fast_path() {
	local c=$1 s0=$2 s1=$3 emin=$4 umin=${5:-0} unit=${6:-packets} e u
	[ "$ROUND" = kernel ] && return 0
	e=$(delta "$s0" "$s1" "$XC_REDIRECTED" "$unit")
	u=$(uplink_delta "$s0" "$s1" "$XC_REDIRECTED" "$unit")
	if [ -z "$s0" ] || [ -z "$s1" ]; then
		fail "${c}_fastpath_$ROUND" "stats --json failed or printed nothing"
	elif [ "$e" -ge "$emin" ] && [ "$u" -ge "$umin" ]; then
		ok "${c}_fastpath_$ROUND"
		log "$c ($ROUND): redirected egress +$e uplink +$u $unit"
	else
		fail "${c}_fastpath_$ROUND" "the fast path did not carry the established flow: redirected egress +$e (want >= $emin), uplink +$u (want >= $umin) $unit; grew: $(counters_delta_brief "$s0" "$s1")"
	fi
}

# ---- traffic tools ------------------------------------------------------------

# py_x NS ARGS...: exact_tools.py in namespace NS (a name under /run/netns
# or /proc/PID/ns/net).
py_x() {
	local ns=$1
	shift
	_in_ns "$ns" "$PY3" "$EXACT_TOOLS" "$@"
}
_in_ns() {
	local ns=$1
	shift
	case $ns in
	/proc/*) nsenter --net="$ns" "$@" ;;
	*) ip netns exec "$ns" "$@" ;;
	esac
}
# bg_x NS ARGS...: the same in the background; BG_PID, killed at the end.
bg_x() {
	local ns=$1
	shift
	case $ns in
	/proc/*) nsenter --net="$ns" "$PY3" "$EXACT_TOOLS" "$@" & BG_PID=$! ;;
	*) ip netns exec "$ns" "$PY3" "$EXACT_TOOLS" "$@" & BG_PID=$! ;;
	esac
	TOPO_PIDS+=("$BG_PID")
}

# scapyd_start KEY NS: a scapy service in NS (exact_tools.py scapyd), for
# scapy_call KEY; waits until scapy is loaded.
declare -A SCAPYD_DIR
scapyd_start() {
	SCAPYD_DIR[$1]=$TOPO_TMP/scapyd-$1
	bg_x "$2" scapyd "${SCAPYD_DIR[$1]}" 2>>"$TOPO_TMP/scapyd-$1.err"
	wait_until 20 test -e "${SCAPYD_DIR[$1]}/ready"
}
# scapy_call KEY REQUEST_JSON: one request; prints the answer (10 s).
# (Usually called in $(...): the request id must not rely on a shell
# variable, which the subshell would not carry back.)
scapy_call() {
	local d=${SCAPYD_DIR[$1]} n
	n=${EPOCHREALTIME/./}-$BASHPID
	printf '%s' "$2" >"$d/tmp-req-$n" && mv "$d/tmp-req-$n" "$d/req-$n.json"
	wait_until 10 test -e "$d/res-$n.json" || { echo '{"error": "scapyd did not answer"}'; return 1; }
	cat "$d/res-$n.json"
	rm -f "$d/res-$n.json"
}

# serve NS NAME TCP_PORT UDP_PORT [BIND]: an identity server (see
# exact_tools.py) logging to $TOPO_TMP/srv-NAME.log; waits until it listens.
serve() {
	local ns=$1 name=$2 tp=$3 up=$4 bind=${5:-}
	local args=(serve "$name" --log "$TOPO_TMP/srv-$name.log")
	[ "$tp" != 0 ] && args+=(--port "$tp")
	[ "$up" != 0 ] && args+=(--udp-port "$up")
	[ -n "$bind" ] && args+=(--bind "$bind")
	bg_x "$ns" "${args[@]}" 2>>"$TOPO_TMP/srv-$name.err"
	SERVE_PID=$BG_PID
	{ [ "$tp" = 0 ] || wait_listen "$ns" "$tp" tcp; } &&
		{ [ "$up" = 0 ] || wait_listen "$ns" "$up" udp; }
}
# srv_log NAME: the server's event log path.
srv_log() { echo "$TOPO_TMP/srv-$1.log"; }
srv_lines() { wc -l <"$(srv_log "$1")" 2>/dev/null || echo 0; }
# srv_events NAME FROM_LINE JQ_FILTER: the server's events after FROM_LINE
# (a count from srv_lines) that match a jq select filter, compact.
srv_events() {
	tail -n +"$(($2 + 1))" "$(srv_log "$1")" 2>/dev/null | jq -c "select($3)" 2>/dev/null
}

# ask_outcome JSON: an `ask` result as the oracle compares it: answered
# count, the names of who answered, the addresses they saw us as, the
# error (ports are left out: the kernel may choose them anew each time).
ask_outcome() {
	jq -r '"answered=\(.answered)/\(.rounds) names=\(.names | join(",")) seen=\([.seen[] | split(" ")[0]] | unique | join(",")) error=\(.error // "none")"' <<<"$1" 2>/dev/null ||
		echo "unparsable: $1"
}

# par_ask KEY NS ASK_ARGS...: an `ask` in the background (cases that only
# wait for a timeout run side by side); par_wait waits for all of them;
# par_result KEY prints one's JSON.
PAR_PIDS=()
par_ask() {
	local k=$1 ns=$2
	shift 2
	py_x "$ns" ask "$@" >"$TOPO_TMP/ask-$k.json" 2>"$TOPO_TMP/ask-$k.err" &
	PAR_PIDS+=($!)
}
par_wait() {
	[ ${#PAR_PIDS[@]} -gt 0 ] && wait "${PAR_PIDS[@]}" 2>/dev/null
	PAR_PIDS=()
}
par_result() { cat "$TOPO_TMP/ask-$1.json" 2>/dev/null; }

# wait_json FILE SECONDS JQ_EXPR: polls until FILE satisfies JQ_EXPR.
wait_json() {
	WAIT_POLL=0.05 wait_until "$2" json_holds "$1" "$3"
}
json_holds() { jq -e "$2" "$1" >/dev/null 2>&1; }

# flow_progress FILE WINDOW_S MIN: after a `stream` writes FILE, does it
# still get answers? Waits up to WINDOW_S for MIN more answers: prints
# "goes on" (as soon as they came) or "stopped" (none or too few in the
# window: observing that a flow stopped needs the whole window).
flow_progress() {
	local f=$1 win=$2 min=$3 a0
	a0=$(jq -r '.answered' "$f" 2>/dev/null || echo 0)
	if WAIT_POLL=0.05 wait_until "$win" json_holds "$f" ".answered >= $((a0 + min))"; then
		echo "goes on"
	else
		echo "stopped"
	fi
}

# ---- the node: addresses, NAT, decoys -------------------------------------

NODE_V4=192.0.2.1    # the node's own address (uplink up0)
NODE_V6=fd01::1
POD_CIDR=10.200.0.0/16
POD_CIDR6=fd00::/16

# node_masquerade [CIDR [CIDR6]]: the node's MASQUERADE for pod traffic
# leaving the pod network (what the CNI bridge's ipMasq does), v4 and v6;
# the world forgets its routes to the containers.
node_masquerade() {
	local c4=${1:-$POD_CIDR} c6=${2:-$POD_CIDR6}
	topo_world_no_return >/dev/null
	in_host iptables -t nat -A POSTROUTING -s "$c4" ! -d "$c4" -m comment --comment "node masquerade" -j MASQUERADE &&
		in_host ip6tables -t nat -A POSTROUTING -s "$c6" ! -d "$c6" -m comment --comment "node masquerade" -j MASQUERADE
}

# world_owns ADDR...: the world owns these addresses (on its lo) and
# answers from them even to sources it has no route to (policy routing by
# source: table 100 sends to the pod networks via the node). A decoy.
world_owns() {
	local a
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			in_world ip -6 addr add "$a/128" dev lo nodad 2>/dev/null
			in_world ip -6 rule add from "$a" lookup 100 2>/dev/null
		else
			in_world ip addr add "$a/32" dev lo 2>/dev/null
			in_world ip rule add from "$a" lookup 100 2>/dev/null
		fi
	done
	in_world ip route replace 10.0.0.0/8 via "$NODE_V4" table 100
	in_world ip -6 route replace fd00::/16 via "$NODE_V6" table 100
}

# host_rp_filter_strict: strict reverse-path filtering in the host ns for
# IPv4 (sysctl) and IPv6 (the rpfilter match in raw PREROUTING, as
# firewalld does it): a source that would not be routed back out of the
# interface it came in on is dropped by the kernel path.
host_rp_filter_strict() {
	in_host sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 &&
		in_host ip6tables -t raw -A PREROUTING -m rpfilter --invert -j DROP
}

# ---- kube-proxy, iptables mode --------------------------------------------
#
# kp_base: the rules kube-proxy (1.28, iptables mode, masqueradeAll=false,
# clusterCIDR=$POD_CIDR) installs whatever the Services: filter INPUT,
# FORWARD and OUTPUT jumps, KUBE-FORWARD with the INVALID drop and the
# 0x4000 mark accept, KUBE-FIREWALL, nat PREROUTING/OUTPUT -> KUBE-SERVICES,
# POSTROUTING -> KUBE-POSTROUTING (MASQUERADE --random-fully of marked
# packets), KUBE-MARK-MASQ. Then kp_service ... per Service port and
# kp_apply, which (re)writes the Service chains with iptables-restore
# --noflush (declared chains are flushed and refilled: run it again after
# endpoints change).
KP_SVC_RULES=""
KP_NAT_CHAINS=""
KP_FILTER_SVC=""
KP_NODEPORT_RULES=""
KP_CLUSTER_CIDR=$POD_CIDR

kp_base() {
	in_host iptables-restore --noflush <<'EOF'
*filter
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-CANARY - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SERVICES - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
COMMIT
EOF
}

# _kp_hash TEXT: kube-proxy's chain-name suffix (base32 of a sha256, 16).
_kp_hash() {
	printf '%s' "$1" | sha256sum | cut -c1-40 | xxd -r -p | base32 | cut -c1-16
}

# kp_reset: forget the Services declared so far (kp_apply writes none).
kp_reset() {
	KP_SVC_RULES=""
	KP_NAT_CHAINS=""
	KP_FILTER_SVC=""
	KP_NODEPORT_RULES=""
}

# kp_service NS/NAME:PORTNAME CLUSTER_IP PROTO PORT NODEPORT ENDPOINT...:
# one Service port; NODEPORT 0 for none; ENDPOINT is IP:PORT. With no
# endpoint kube-proxy REJECTs in filter KUBE-SERVICES (and for a NodePort
# in KUBE-EXTERNAL-SERVICES).
kp_service() {
	local svc=$1 cip=$2 proto=$3 port=$4 np=$5
	shift 5
	local h svc_chain ext_chain n=$# i=0 ep sep left prob
	h=$(_kp_hash "$svc$proto")
	svc_chain=KUBE-SVC-$h
	ext_chain=KUBE-EXT-$h
	if [ "$n" = 0 ]; then
		KP_FILTER_SVC+="-A KUBE-SERVICES -d $cip/32 -p $proto -m comment --comment \"$svc has no endpoints\" -m $proto --dport $port -j REJECT --reject-with icmp-port-unreachable
"
		return
	fi
	KP_NAT_CHAINS+=":$svc_chain - [0:0]
"
	KP_SVC_RULES+="-A KUBE-SERVICES -d $cip/32 -p $proto -m comment --comment \"$svc cluster IP\" -m $proto --dport $port -j $svc_chain
-A $svc_chain ! -s $KP_CLUSTER_CIDR -d $cip/32 -p $proto -m comment --comment \"$svc cluster IP\" -m $proto --dport $port -j KUBE-MARK-MASQ
"
	if [ "$np" != 0 ]; then
		KP_NAT_CHAINS+=":$ext_chain - [0:0]
"
		KP_NODEPORT_RULES+="-A KUBE-NODEPORTS -p $proto -m comment --comment \"$svc\" -m $proto --dport $np -j $ext_chain
-A $ext_chain -m comment --comment \"masquerade traffic for $svc external destinations\" -j KUBE-MARK-MASQ
-A $ext_chain -j $svc_chain
"
	fi
	for ep in "$@"; do
		i=$((i + 1))
		sep=KUBE-SEP-$(_kp_hash "$svc$proto$ep")
		KP_NAT_CHAINS+=":$sep - [0:0]
"
		left=$((n - i + 1))
		if [ "$left" -gt 1 ]; then
			prob=$(awk -v l="$left" 'BEGIN { printf "%.11f", 1 / l }')
			KP_SVC_RULES+="-A $svc_chain -m comment --comment \"$svc -> $ep\" -m statistic --mode random --probability $prob -j $sep
"
		else
			KP_SVC_RULES+="-A $svc_chain -m comment --comment \"$svc -> $ep\" -j $sep
"
		fi
		KP_SVC_RULES+="-A $sep -s ${ep%:*}/32 -m comment --comment \"$svc\" -j KUBE-MARK-MASQ
-A $sep -p $proto -m comment --comment \"$svc\" -m $proto -j DNAT --to-destination $ep
"
	done
}

# kp_apply: writes the declared Services (kube-proxy's "sync").
kp_apply() {
	{
		echo "*filter"
		echo ":KUBE-SERVICES - [0:0]"
		printf '%s' "$KP_FILTER_SVC"
		echo "COMMIT"
		echo "*nat"
		echo ":KUBE-SERVICES - [0:0]"
		echo ":KUBE-NODEPORTS - [0:0]"
		printf '%s' "$KP_NAT_CHAINS"
		printf '%s' "$KP_SVC_RULES"
		printf '%s' "$KP_NODEPORT_RULES"
		echo '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS'
		echo "COMMIT"
	} >"$TOPO_TMP/kube-proxy.rules"
	in_host iptables-restore --noflush <"$TOPO_TMP/kube-proxy.rules"
}

# ---- conntrack (the host namespace's kernel table) -------------------------

# ct_lines PROTO SPORT [ipv4|ipv6 [SRC]]: the entries whose original source
# port is SPORT (and source address SRC).
ct_lines() {
	if [ -n "${4:-}" ]; then
		in_host conntrack -L -f "${3:-ipv4}" -p "$1" --orig-port-src "$2" -s "$4" 2>/dev/null
	else
		in_host conntrack -L -f "${3:-ipv4}" -p "$1" --orig-port-src "$2" 2>/dev/null
	fi
}
# ct_field LINE FIELD: state | timeout | orig_src | orig_dst | orig_sport |
# orig_dport | reply_src | reply_dst | reply_sport | reply_dport | assured.
ct_field() {
	awk -v f="$2" '{
		n = 0
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "src") { n++; k = (n == 1 ? "orig_" : "reply_"); v[k "src"] = kv[2] }
			else if (kv[1] == "dst") v[k "dst"] = kv[2]
			else if (kv[1] == "sport") v[k "sport"] = kv[2]
			else if (kv[1] == "dport") v[k "dport"] = kv[2]
			else if ($i == "[ASSURED]") v["assured"] = "yes"
		}
		v["timeout"] = $3
		v["state"] = ($4 ~ /^[A-Z_]+$/) ? $4 : "-"
		print v[f]
		exit
	}' <<<"$1"
}
# ct_brief LINE: "STATE timeout=T reply=ADDR:PORT".
ct_brief() {
	[ -n "$1" ] || { echo "no entry"; return; }
	echo "$(ct_field "$1" state) timeout=$(ct_field "$1" timeout) reply=$(ct_field "$1" reply_dst):$(ct_field "$1" reply_dport)"
}
# ct_invalid: the host namespace's conntrack "invalid" statistic, all CPUs.
ct_invalid() {
	in_host conntrack -S 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^invalid=/) { split($i, a, "="); s += a[2] } } END { print s + 0 }'
}
# ipt_rule_packets FAMILY TABLE CHAIN PATTERN: packets counted by the rules
# of CHAIN whose iptables -S form matches PATTERN (grep -E).
ipt_rule_packets() {
	local cmd=iptables
	[ "$1" = 6 ] && cmd=ip6tables
	in_host "$cmd" -t "$2" -S "$3" -v 2>/dev/null | grep -E -- "$4" |
		awk '{ for (i = 1; i <= NF; i++) if ($i == "-c") { s += $(i + 1) } } END { print s + 0 }'
}

# ---- misc --------------------------------------------------------------------

# mac_of NS IFNAME
mac_of() { _in_ns "$1" cat "/sys/class/net/$2/address"; }
# host_mac IFNAME: a host-side interface's MAC.
host_mac() { in_host cat "/sys/class/net/$1/address"; }

# warm_neigh: the host knows its next hop to the world (both families).
warm_neigh() { topo_warm_neigh; }
