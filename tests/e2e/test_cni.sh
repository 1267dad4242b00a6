#!/bin/bash
# The CNI chained plugin, driven the way a container runtime drives it:
# Debian's real bridge and host-local plugins, then build/xdp-egress-cni,
# each invoked with CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME/CNI_PATH
# and its config on stdin, ADD in list order with the previous result as
# prevResult, DEL in reverse order with the cached result (as libcni does).
#
#   pod ns (per pod)           host ns (the runtime's)                    world ns
#   eth0 10.231.N.x == vethXXXX -- cni0/cni1 (bridge plugin, gateway .1)
#                                  up0 192.0.2.1 (MASQUERADE) =========== eth0 192.0.2.2
#
# The world has no route to the pod subnets: a pod reaches it only through
# the bridge plugin's ipMasq (the kernel's MASQUERADE), and the world must
# see 192.0.2.1 alone. Checks: every ADD/CHECK/DEL result, traffic (ping on
# the kernel path; UDP and TCP carried by the fast path from a bridge port
# once the kernel accepted them, with the kernel's translation, and the
# world's replies through the return path), ipMasq's MASQUERADE deciding
# every flow, concurrent ADDs, DEL twice, DEL after the pod's netns is
# gone, the agent and the nft table gone with the last pod, and bad input
# (the removed NAT keys included) answered with a spec-conformant error and
# no leftovers.
set -u
source "$(dirname "$0")/../lib/topo.sh"
source "$(dirname "$0")/../lib/cni.sh"
source "$(dirname "$0")/../lib/checks.sh"

cni_cleanup() {
	local p
	# Pods first (DEL as a runtime would), so that their host-local leases
	# and iptables chains go too; topo_destroy then removes the namespaces.
	for p in "${!PODS[@]}"; do
		[ -e "$TOPO_TMP/pod$p.result" ] && pod_del "$p" >/dev/null 2>&1
	done
	topo_destroy
}
trap cni_cleanup EXIT
trap 'exit 1' INT TERM HUP
need_xe cni
cni_need cni || exit 1

topo_create 0 || { fail cni_setup "could not build the namespaces"; exit 1; }
cni_setup_bin

conflist xe-net-a cni0 10.231.0.0/24 native >"$TOPO_TMP/net-a.conflist"
conflist xe-net-b cni1 10.231.1.0/24 generic >"$TOPO_TMP/net-b.conflist"
log "conflist xe-net-a: $(jq -c . "$TOPO_TMP/net-a.conflist")"

# ---- ADD: three pods, two networks (native and generic) -------------------

for n in 1 2 3; do
	new_pod "$n" || { fail cni_setup "cannot create the pod namespaces"; exit 1; }
done
# Pods 1 and 2 are added at once: the plugin serialises attach.
pod_add 1 "$TOPO_TMP/net-a.conflist" >"$TOPO_TMP/add1.log" 2>&1 &
p1=$!
pod_add 2 "$TOPO_TMP/net-a.conflist" >"$TOPO_TMP/add2.log" 2>&1 &
p2=$!
wait "$p1"; rc1=$?
wait "$p2"; rc2=$?
if [ "$rc1" = 0 ] && [ "$rc2" = 0 ]; then
	ok cni_add_concurrent
else
	fail cni_add_concurrent "ADD of pods 1 and 2 at once: rc $rc1/$rc2: $(cat "$TOPO_TMP"/add[12].log) $(tail -5 "$TOPO_TMP/cni-stderr.log")"
fi
if pod_add 3 "$TOPO_TMP/net-b.conflist"; then
	ok cni_add_generic
else
	fail cni_add_generic "$CNI_ERR"
fi

# The result a chained plugin prints is its prevResult, unchanged.
for n in 1 2 3; do
	[ -e "$TOPO_TMP/pod$n.result" ] || continue
	if jq -e --slurpfile a "$TOPO_TMP/pod$n.r0" '. == $a[0]' "$TOPO_TMP/pod$n.result" >/dev/null; then
		ok "cni_add_result_pod$n"
	else
		fail "cni_add_result_pod$n" "xdp-egress-cni's result differs from the bridge's: $(jq -c . "$TOPO_TMP/pod$n.result")"
	fi
done

STATUS=$(xe status --json 2>/dev/null)
for n in 1 2 3; do
	[ -e "$TOPO_TMP/pod$n.result" ] || continue
	v=$(host_veth "$n")
	want=native
	[ "$n" = 3 ] && want=generic
	got=$(jq -r --arg v "$v" '.attachments[] | select(.ifname == $v) | .mode' <<<"$STATUS")
	master=$(ip -n "$TOPO_HOST" -j link show "$v" | jq -r '.[0].master // "none"')
	if [ "$got" = "$want" ] && [ "$(jq -r --arg v "$v" '.attachments[] | select(.ifname == $v) | .l3_ifname' <<<"$STATUS")" = "$master" ]; then
		ok "cni_attached_pod$n"
		log "pod$n: $(pod_ip "$n") on $v (bridge port of $master), $got mode"
	else
		fail "cni_attached_pod$n" "$v: want $want mode, routed as bridge $master, status says: $(jq -c --arg v "$v" '.attachments[] | select(.ifname == $v) | {mode, l3_ifname}' <<<"$STATUS")"
	fi
done

# CHECK: every plugin of the list, as a runtime does.
for n in 1 3; do
	if pod_cmd CHECK "$n"; then ok "cni_check_pod$n"; else fail "cni_check_pod$n" "$CNI_ERR"; fi
done

# A runtime that retries ADD (e.g. after a timeout) gets the same result.
if [ -e "$TOPO_TMP/pod2.result" ]; then
	out=$(plugin_conf "$TOPO_TMP/net-a.conflist" 1 "$TOPO_TMP/pod2.r0" |
		cni_exec ADD "/run/netns/${PODS[2]}" pod2 xdp-egress-cni 2>/dev/null)
	if [ $? = 0 ] && jq -e --slurpfile a "$TOPO_TMP/pod2.r0" '. == $a[0]' <<<"$out" >/dev/null 2>&1 &&
		[ "$(xdp_progs "$TOPO_HOST" | grep -c "^$(host_veth 2) ")" = 1 ]; then
		ok cni_add_retry
	else
		fail cni_add_retry "a repeated ADD printed: $out"
	fi
fi

# ---- traffic: ping, UDP, TCP from each pod to the world -----------------------

start_iperf_server 5201 || { fail cni_setup "iperf3 server did not start"; exit 1; }
# The host resolves its next hop once, as a live host has; the pods' first
# packets then take the fast path too.
in_host ping -c 1 -W 1 "$TOPO_WORLD_V4" >/dev/null
# Everything but the node's TCP payload: every packet from another source,
# the node's UDP, ICMP and TCP handshakes and closes.
capture_start "$TOPO_TMP/world.pcap" 'ip and (not src host 192.0.2.1 or not tcp or tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0)' ||
	{ fail cni_setup "tcpdump in the world did not start: $(cat "$TOPO_TMP/world.pcap.err")"; exit 1; }
masq_packets() {
	ip netns exec "$TOPO_HOST" iptables -t nat -L POSTROUTING -v -x -n 2>/dev/null |
		awk '$3 ~ /^CNI-/ { s += $1 } END { print s + 0 }'
}
MASQ0=$(masq_packets)

# Each pod: ping (the kernel's), UDP and TCP carried by the fast path, the
# world's ACKs through the return path (tests/lib/checks.sh).
for n in 1 2 3; do
	[ -e "$TOPO_TMP/pod$n.result" ] || continue
	FLOW_NETNS=/run/netns/${PODS[$n]}
	FLOW_IFNAME=$(host_veth "$n")
	flow "cni_pod${n}_ping" ip netns exec "${PODS[$n]}" ping -c 5 -i 0.2 -W 2 "$TOPO_WORLD_V4"
	check_ping "cni_pod${n}_ping"
	flow "cni_pod${n}_udp" ip netns exec "${PODS[$n]}" iperf3 -c "$TOPO_WORLD_V4" -u -b 50M -l 1200 -t 1 -J
	check_udp "cni_pod${n}_udp"
	flow "cni_pod${n}_tcp" ip netns exec "${PODS[$n]}" iperf3 -c "$TOPO_WORLD_V4" -t 2 -J
	check_tcp "cni_pod${n}_tcp"
done
FLOW_IFNAME=""
capture_stop
MASQ=$(($(masq_packets) - MASQ0))
from_node=$(tcpdump -n -r "$TOPO_TMP/world.pcap" 'src host 192.0.2.1' 2>/dev/null | wc -l)
from_pods=$(tcpdump -n -r "$TOPO_TMP/world.pcap" 'src net 10.231.0.0/16' 2>/dev/null | wc -l)
log "world saw $from_node packets from 192.0.2.1 and $from_pods from pod addresses; the kernel's MASQUERADE rules counted $MASQ"
if [ "$from_node" -gt 1000 ] && [ "$from_pods" = 0 ]; then
	ok cni_world_sees_node_address_only
else
	fail cni_world_sees_node_address_only "world saw $from_node packets from the node's address and $from_pods from pod addresses"
fi
# The bridge plugin's MASQUERADE decided every flow: a NAT rule sees the
# first packet of each connection (ping, iperf3's control and data, UDP:
# at least 3 a pod), whatever carries the rest.
npods=$(ls "$TOPO_TMP"/pod[123].result 2>/dev/null | wc -l)
if [ "$MASQ" -ge $((3 * npods)) ]; then
	ok cni_masquerade_decides
else
	fail cni_masquerade_decides "the kernel's MASQUERADE (ipMasq) rules counted $MASQ packets for $npods pods (want >= 3 each)"
fi

# ---- DEL -------------------------------------------------------------------

# CHECK notices a mode other than the config's: pod 1 runs native; a config
# asking for tc, auto, or nothing (auto, the default) does not match it.
for m in tc auto default; do
	out=$(plugin_conf "$(cat "$TOPO_TMP/pod1.list")" 1 "$TOPO_TMP/pod1.result" |
		jq -c --arg m "$m" 'if $m == "default" then del(.mode) else .mode = $m end' |
		cni_exec CHECK "/run/netns/${PODS[1]}" pod1 xdp-egress-cni 2>/dev/null)
	rc=$?
	want=$m
	[ "$m" = default ] && want="auto (its default)"
	check "cni_check_mode_$m" "CHECK with mode $m against pod 1's native attachment exited $rc: $out" \
		eval '[ "$rc" != 0 ] && is_cni_error "$out" 102 && grep -qF "runs xdp-egress in native mode but the config asks for $want" <<<"$out"'
done

# CHECK notices an attachment that is gone.
v1=$(host_veth 1)
xe detach --ifname "$v1" >/dev/null 2>&1
out=$(plugin_conf "$(cat "$TOPO_TMP/pod1.list")" 1 "$TOPO_TMP/pod1.result" |
	cni_exec CHECK "/run/netns/${PODS[1]}" pod1 xdp-egress-cni 2>/dev/null)
rc=$?
if [ "$rc" != 0 ] && is_cni_error "$out" 102; then
	ok cni_check_detects_detach
else
	fail cni_check_detects_detach "CHECK after a manual detach exited $rc: $out"
fi

# DEL in reverse order for every pod (pod 1's attachment is already gone:
# its DEL must succeed all the same).
for n in 3 2 1; do
	v=$(host_veth "$n")
	if pod_del "$n"; then
		if [ -z "$(xdp_progs "$TOPO_HOST" | awk -v v="$v" '$1 == v')" ] &&
			! ip -n "$TOPO_HOST" link show "$v" >/dev/null 2>&1; then
			ok "cni_del_pod$n"
		else
			fail "cni_del_pod$n" "$v still exists or runs XDP after DEL"
		fi
	else
		fail "cni_del_pod$n" "$CNI_ERR"
	fi
done
if pod_del 2 && pod_del 2; then
	ok cni_del_twice
else
	fail cni_del_twice "a repeated DEL failed: $CNI_ERR"
fi
# host-local keeps a lock and last_reserved_ip.N; a lease is a file named
# after its address.
leases() { ls "$TOPO_TMP/ipam"/xe-net-* 2>/dev/null | grep -E '^[0-9a-f.:]+$'; }
if no_xdp_anywhere && pins_gone && ns_state_gone && [ -z "$(leases)" ] &&
	[ "$(masq_packets; ip netns exec "$TOPO_HOST" iptables -t nat -S 2>/dev/null | grep -c CNI-)" = "0
0" ]; then
	ok cni_del_no_leftovers
else
	fail cni_del_no_leftovers "after DEL: XDP $(xdp_progs "$TOPO_HOST" | tr '\n' ' '), $(ns_state_brief), pins $(ls -A "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' '), leases $(leases | tr '\n' ' '), nat $(ip netns exec "$TOPO_HOST" iptables -t nat -S 2>/dev/null | grep CNI- | head -3 | tr '\n' ' ')"
fi
rm -f "$TOPO_TMP"/pod[123].result

# A pod whose netns is gone before DEL (the kubelet's usual order after a
# node problem): DEL finds the record by prevResult's interface name.
new_pod 4 && pod_add 4 "$TOPO_TMP/net-a.conflist" || fail cni_del_after_netns_gone "ADD of pod 4 failed: $CNI_ERR"
if [ -e "$TOPO_TMP/pod4.result" ]; then
	ip netns del "${PODS[4]}"
	TOPO_NS=("${TOPO_NS[@]/${PODS[4]}/}")
	TOPO_NS=($(printf '%s\n' "${TOPO_NS[@]}" | grep .))
	if pod_del 4 && no_xdp_anywhere && pins_gone; then
		ok cni_del_after_netns_gone
	else
		fail cni_del_after_netns_gone "DEL after the netns went: ${CNI_ERR:-} pins: $(ls -R "$XDP_EGRESS_BPFFS" 2>/dev/null | tr '\n' ' ')"
	fi
	rm -f "$TOPO_TMP/pod4.result"
fi
# DEL with no prevResult at all (a runtime that lost its cache).
out=$(jq -c '.plugins[1] + {cniVersion: "1.0.0", name: "xe-net-a"}' "$TOPO_TMP/net-a.conflist" |
	cni_exec DEL /run/netns/gone pod9 xdp-egress-cni 2>/dev/null)
rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then
	ok cni_del_without_prevresult
else
	fail cni_del_without_prevresult "exited $rc: $out"
fi

# ---- bad input: a spec-conformant error, exit non-zero, nothing left -----------

new_pod 5
pod_add 5 "$TOPO_TMP/net-a.conflist" >/dev/null 2>&1
xe detach --all >/dev/null 2>&1   # pod 5's veth exists; no attachment
V5=$(host_veth 5)
# bad NAME CODE ENV_ASSIGNMENTS... < conf: the plugin's ADD must fail with
# that code and leave no XDP program and no pins.
bad() {
	local name=cni_bad_$1 code=$2 out rc
	shift 2
	out=$(cni_exec ADD "/run/netns/${PODS[5]}" pod5 xdp-egress-cni "$@" 2>"$TOPO_TMP/bad.err")
	rc=$?
	if [ "$rc" != 0 ] && is_cni_error "$out" "$code" && no_xdp_anywhere && pins_gone; then
		ok "$name"
		log "$name: $(jq -c '{code, msg}' <<<"$out")"
	else
		fail "$name" "want exit != 0, error code $code, nothing attached; got exit $rc, stdout: $(tr '\n' ' ' <<<"$out"), XDP: $(xdp_progs "$TOPO_HOST" | tr '\n' ' ')"
	fi
}
GOOD=$(plugin_conf "$TOPO_TMP/net-a.conflist" 1 "$TOPO_TMP/pod5.r0")
echo '{"cniVersion": "1.0.0", "name": "x", "type": "xdp-egress-cni", "snat": ' | bad invalid_json 6
jq -c '.prevResult.interfaces |= map(select(.sandbox != null))' <<<"$GOOD" | bad prevresult_no_host_if 7
jq -c 'del(.prevResult)' <<<"$GOOD" | bad no_prevresult 7
jq -c '.modee = "native"' <<<"$GOOD" | bad unsupported_field 2
jq -c '.mode = "fast"' <<<"$GOOD" | bad invalid_mode 7
jq -c '.cniVersion = "9.9.9"' <<<"$GOOD" | bad cni_version 1
# The own NAT's keys are gone: refused, naming the host's NAT (ipMasq).
for k in snat snatPorts ctSize ctTimeouts; do
	jq -c --arg k "$k" '.[$k] = "auto"' <<<"$GOOD" | bad "removed_$k" 2
	out=$(jq -c --arg k "$k" '.[$k] = "auto"' <<<"$GOOD" | cni_exec ADD "/run/netns/${PODS[5]}" pod5 xdp-egress-cni 2>/dev/null)
	check "cni_removed_${k}_says_why" "the error for \"$k\" does not name the host's NAT: $out" \
		eval 'jq -e ".msg | test(\"ipMasq|MASQUERADE\")" <<<"$out" >/dev/null'
done
jq -c '.uplink = "nosuch0"' <<<"$GOOD" | bad no_such_uplink 100
echo "$GOOD" | bad missing_env 4 CNI_CONTAINERID= CNI_NETNS=
echo "$GOOD" | bad netns_missing 4 CNI_NETNS=/run/netns/nonexistent-xe
echo "$GOOD" | bad bad_command 4 CNI_COMMAND=ADDD
# An unknown netns / no such interface in the pod: error, nothing attached.
echo "$GOOD" | bad wrong_ifname 7 CNI_IFNAME=eth9
# The plugin's stdout is nothing but the result even when attach talks.
out=$(echo "$GOOD" | cni_exec ADD "/run/netns/${PODS[5]}" pod5 xdp-egress-cni 2>"$TOPO_TMP/add5.err")
if [ $? = 0 ] && jq -e --slurpfile a "$TOPO_TMP/pod5.r0" '. == $a[0]' <<<"$out" >/dev/null &&
	grep -q "attached xdp-egress to $V5" "$TOPO_TMP/add5.err"; then
	ok cni_stdout_only_result
else
	fail cni_stdout_only_result "stdout: $(head -c 300 <<<"$out") stderr: $(head -c 300 "$TOPO_TMP/add5.err")"
fi
# VERSION
out=$(echo '{"cniVersion":"1.0.0"}' | cni_exec VERSION "" "" xdp-egress-cni 2>/dev/null)
if jq -e '.cniVersion == "1.0.0" and (.supportedVersions | index("1.0.0") and index("0.4.0"))' <<<"$out" >/dev/null; then
	ok cni_version
else
	fail cni_version "VERSION printed: $out"
fi
pod_del 5 || fail cni_bad_cleanup "$CNI_ERR"
rm -f "$TOPO_TMP/pod5.result"
if no_xdp_anywhere && pins_gone && ns_state_gone; then ok cni_bad_no_leftovers; else fail cni_bad_no_leftovers "XDP or pins left; $(ns_state_brief)"; fi

exit $((TOPO_FAILED > 0))
