#!/bin/bash
# Kubernetes Services through kube-proxy's iptables-mode rules (kp_* in
# tests/lib/exact.sh, as kube-proxy 1.28 writes them), the kernel path as
# the oracle, then xdp-egress in every mode: both pods attached in the
# native, generic and tc rounds, the client pod alone in the auto round
# (a backend pod on the node that xdp-egress does not know):
#
#   pod1 (c1, client) 10.200.1.2 == vc1   node (host ns)           up0 == world 192.0.2.2
#   pod2 (c2, backend) 10.200.2.2 == vc2  192.0.2.1, MASQUERADE    (no route to the pods;
#                                         for pods leaving 10.200/16   it OWNS the ClusterIPs:
#                                                                       decoy servers there)
#
#   svc-pod   10.96.0.10  tcp/80 udp/53 -> pod2:8080 / pod2:5353 (a pod on the node)
#   svc-world 10.96.0.20  tcp/80 udp/53 -> 192.0.2.2:8080 / :5353 (beyond the uplink)
#   svc-two   10.96.0.40  tcp/80 -> pod2:8080 and 192.0.2.2:8080 (statistic)
#   svc-empty 10.96.0.30  tcp/80 udp/53, no endpoints: REJECT
#   NodePort 192.0.2.1:30080/tcp -> pod1:8080 (hairpin onto itself),
#            192.0.2.1:30053/udp -> pod2:5353 (hairpin onto a neighbour),
#            and 30080 from the world.
#
# A fast path that forgot the DNAT reaches the decoy ("decoy" answers) or
# the host's own decoy servers on the NodePorts; one that forgot the SNAT
# gets nothing (the world has no route to the pods). Where the flow is
# carried beyond the uplink, the counters must show the fast path carried
# its established part (redirected grew on egress and on the uplink).
set -u
source "$(dirname "$0")/../lib/exact.sh"
trap exact_cleanup EXIT
trap 'exit 1' INT TERM HUP
exact_need services_setup

ROUNDS_TCP=40
ROUNDS_UDP=40

topo_create 2 || { fail services_setup "could not build the namespaces"; exit 1; }
C1=${TOPO_C[1]}
C2=${TOPO_C[2]}
node_masquerade || { fail services_setup "MASQUERADE rules failed"; exit 1; }
world_owns 10.96.0.10 10.96.0.20 10.96.0.30 10.96.0.40

kp_base || { fail services_setup "kube-proxy base rules failed (iptables-restore)"; exit 1; }
kp_service default/svc-pod:http 10.96.0.10 tcp 80 0 10.200.2.2:8080
kp_service default/svc-pod:dns 10.96.0.10 udp 53 0 10.200.2.2:5353
kp_service default/svc-world:http 10.96.0.20 tcp 80 0 192.0.2.2:8080
kp_service default/svc-world:dns 10.96.0.20 udp 53 0 192.0.2.2:5353
kp_service default/svc-two:http 10.96.0.40 tcp 80 0 10.200.2.2:8080 192.0.2.2:8080
kp_service default/svc-empty:http 10.96.0.30 tcp 80 0
kp_service default/svc-empty:dns 10.96.0.30 udp 53 0
kp_service default/np-self:http 10.96.0.50 tcp 80 30080 10.200.1.2:8080
kp_service default/np-other:dns 10.96.0.60 udp 53 30053 10.200.2.2:5353

serve "$C1" pod1 8080 5353 &&
	serve "$C2" pod2 8080 5353 &&
	serve "$TOPO_WORLD" world 8080 5353 &&
	serve "$TOPO_WORLD" decoy10 80 53 10.96.0.10 &&
	serve "$TOPO_WORLD" decoy20 80 53 10.96.0.20 &&
	serve "$TOPO_WORLD" decoy30 80 53 10.96.0.30 &&
	serve "$TOPO_WORLD" decoy40 80 53 10.96.0.40 &&
	serve "$TOPO_HOST" node-decoy 30080 30053 ||
	{ fail services_setup "servers did not start: $(cat "$TOPO_TMP"/srv-*.err 2>/dev/null | tail -3)"; exit 1; }
# The decoys work: before kube-proxy's Service rules exist, a ClusterIP
# is answered by the world's decoy (so a fast path that forgot the DNAT
# gets a wrong answer, not none). Rules are written just after.
r=$(py_x "$C1" ask tcp 10.96.0.20 80 --timeout 2)
check services_decoy_answers_without_dnat "before the Service rules, 10.96.0.20:80 gave: $(ask_outcome "$r")" \
	test "$(ask_outcome "$r")" = "answered=1/1 names=decoy20 seen=192.0.2.1 error=none"
: >"$TOPO_TMP/srv-decoy20.log"
kp_apply || { fail services_setup "kube-proxy Service rules failed: $(head -c 300 "$TOPO_TMP/kube-proxy.rules")"; exit 1; }
log "kube-proxy rules: $(in_host iptables-save -t nat | grep -c '^-A KUBE') nat, $(in_host iptables-save -t filter | grep -c '^-A KUBE') filter"
ok services_setup

# svc CASE PROTO HOST PORT ROUNDS WANT [EGRESS_MIN UPLINK_MIN]: one flow of
# ROUNDS request/answer rounds from pod1; compared with the kernel's.
svc() {
	local c=$1 proto=$2 host=$3 port=$4 rounds=$5 want=$6 emin=${7:-} umin=${8:-0} s0 s1 r gap=0
	# A flow that must show the fast path at work paces its rounds (5 ms:
	# the programs cache a flow's verdict for a jiffy, and the agent
	# promotes a TCP flow asynchronously).
	[ -n "$emin" ] && gap=0.005
	s0=$(stats_json)
	r=$(py_x "$C1" ask "$proto" "$host" "$port" --rounds "$rounds" --timeout 2 --gap "$gap")
	s1=$(stats_json)
	same_as_kernel "$c" "$(ask_outcome "$r")" "$want"
	if [ -n "$emin" ]; then
		fast_path "$c" "$s0" "$s1" "$emin" "$umin"
	elif [ "$ROUND" != kernel ]; then
		log "$c ($ROUND): $(counters_delta_brief "$s0" "$s1")"
	fi
}

for ROUND in "${EXACT_ROUNDS[@]}"; do
	if [ "$ROUND" = auto ]; then
		exact_round_start "--ifname vc1" || continue
		pod_min=""
	else
		exact_round_start "--ifname vc1" "--ifname vc2" || continue
		pod_min=10
	fi
	warm_neigh
	R=services

	# A pod on the node: DNAT only (pod sources are not masqueraded). An
	# attached backend gets the established flow straight into its veth.
	svc ${R}_clusterip_pod_tcp tcp 10.96.0.10 80 $ROUNDS_TCP "^answered=$ROUNDS_TCP/$ROUNDS_TCP names=pod2 seen=10.200.1.2 error=none$" $pod_min
	svc ${R}_clusterip_pod_udp udp 10.96.0.10 53 $ROUNDS_UDP "^answered=$ROUNDS_UDP/$ROUNDS_UDP names=pod2 seen=10.200.1.2 error=none$" $pod_min
	# A backend beyond the uplink: DNAT and the node's MASQUERADE; the
	# established part must be carried by the fast path both ways.
	svc ${R}_clusterip_world_tcp tcp 10.96.0.20 80 $ROUNDS_TCP "^answered=$ROUNDS_TCP/$ROUNDS_TCP names=world seen=192.0.2.1 error=none$" 10 10
	svc ${R}_clusterip_world_udp udp 10.96.0.20 53 $ROUNDS_UDP "^answered=$ROUNDS_UDP/$ROUNDS_UDP names=world seen=192.0.2.1 error=none$" 20 20
	# No endpoints: REJECT in filter KUBE-SERVICES.
	svc ${R}_clusterip_no_endpoints_tcp tcp 10.96.0.30 80 1 "^answered=0/1 names= seen= error=Connection refused$"
	svc ${R}_clusterip_no_endpoints_udp udp 10.96.0.30 53 3 "^answered=0/3 names= seen= error=Connection refused$"

	# Two endpoints chosen at random per connection: each connection
	# stays with the backend the kernel chose for it.
	flows=""
	for i in 1 2 3 4 5 6; do
		r=$(py_x "$C1" ask tcp 10.96.0.40 80 --rounds 10 --timeout 2)
		flows+="$(jq -r '"\(.answered) \(.names | join(",")) \([.seen[] | split(" ")[0]] | unique | join(","))"' <<<"$r")
"
	done
	bad=$(awk 'NF && !(($1 == 10 && $2 == "pod2" && $3 == "10.200.1.2") || ($1 == 10 && $2 == "world" && $3 == "192.0.2.1"))' <<<"$flows" | head -3 | tr '\n' ';')
	same_as_kernel ${R}_clusterip_two_endpoints "each connection answered by one backend: $([ -z "$bad" ] && echo yes || echo "no: $bad")" "^each connection answered by one backend: yes$"
	log "svc-two backends per connection ($ROUND): $(awk 'NF { print $2 }' <<<"$flows" | sort | uniq -c | tr -s ' \n' ' ')"

	# NodePort hairpins: masqueraded to the node's address on the pod's
	# own link (KUBE-MARK-MASQ in KUBE-EXT-* and KUBE-SEP-*).
	svc ${R}_nodeport_hairpin_self_tcp tcp "$NODE_V4" 30080 20 "^answered=20/20 names=pod1 seen=10.200.1.1 error=none$"
	svc ${R}_nodeport_hairpin_other_udp udp "$NODE_V4" 30053 20 "^answered=20/20 names=pod2 seen=10.200.2.1 error=none$"
	# The same NodePort from the world: the uplink program must leave
	# (or carry exactly as the kernel does) a flow the world started.
	r=$(py_x "$TOPO_WORLD" ask tcp "$NODE_V4" 30080 --rounds 20 --timeout 2)
	same_as_kernel ${R}_nodeport_from_world_tcp "$(ask_outcome "$r")" "^answered=20/20 names=pod1 seen=10.200.1.1 error=none$"

	# Nothing may ever have reached a decoy.
	dec=$(cat "$TOPO_TMP"/srv-decoy*.log "$TOPO_TMP"/srv-node-decoy.log 2>/dev/null | wc -l)
	same_as_kernel ${R}_no_decoy_reached "decoy events: $dec" "^decoy events: 0$"
	if [ "$dec" != 0 ]; then
		log "decoy events: $(cat "$TOPO_TMP"/srv-decoy*.log "$TOPO_TMP"/srv-node-decoy.log | head -3 | tr '\n' ' ')"
		: >"$TOPO_TMP/srv-decoy10.log"; : >"$TOPO_TMP/srv-decoy20.log"
		: >"$TOPO_TMP/srv-decoy30.log"; : >"$TOPO_TMP/srv-decoy40.log"; : >"$TOPO_TMP/srv-node-decoy.log"
	fi
	exact_round_end
done

exit $((TOPO_FAILED > 0))
