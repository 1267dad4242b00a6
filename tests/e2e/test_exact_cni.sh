#!/bin/bash
# CNI as a Kubernetes node runs it: Debian's reference bridge plugin with
# ipMasq (its per-pod CNI-* MASQUERADE chains) and host-local IPAM, and
# kube-proxy's iptables-mode rules (tests/lib/exact.sh, kp_*) with
# br_netfilter on, as Kubernetes requires. The kernel round runs the
# bridge plugin alone (the oracle); each xdp-egress round chains
# xdp-egress-cni after it (mode native, generic, tc, or none: auto), the
# way a runtime calls plugins (ADD in order with prevResult, DEL in
# reverse). Two pods per round; pod1 talks:
# - to the world (TCP, UDP): answered, the world sees the node's address,
#   the fast path carries the flow (in the xdp-egress rounds);
# - to a ClusterIP whose backend is in the world (the world OWNS the
#   ClusterIP too: a decoy answers a fast path that forgot the DNAT);
# - to a ClusterIP whose backend is pod2 on the same bridge.
set -u
source "$(dirname "$0")/../lib/exact.sh"
trap exact_cleanup EXIT
trap 'exit 1' INT TERM HUP
exact_need cni_exact_setup
source "$(dirname "$0")/../lib/cni.sh"
for f in bridge host-local; do
	[ -x "$CNI_PLUGIN_DIR/$f" ] || { fail cni_exact_setup "$CNI_PLUGIN_DIR/$f missing (make deps)"; exit 1; }
done
if [ "${XE_ORACLE_ONLY:-0}" != 1 ] && [ ! -x "$CNI_BIN" ]; then
	fail cni_exact_setup "$CNI_BIN not built (run make)"
	exit 1
fi

W=$TOPO_WORLD_V4
PODNET=10.231.0.0/24
KP_CLUSTER_CIDR=10.231.0.0/16
topo_create 0 || { fail cni_exact_setup "could not build the namespaces"; exit 1; }
in_host sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 ||
	{ fail cni_exact_setup "br_netfilter sysctls failed"; exit 1; }
world_owns 10.96.0.10 10.96.0.20
kp_base || { fail cni_exact_setup "kube-proxy base rules failed"; exit 1; }
serve "$TOPO_WORLD" world 8080 5353 &&
	serve "$TOPO_WORLD" decoy10 80 53 10.96.0.10 &&
	serve "$TOPO_WORLD" decoy20 80 53 10.96.0.20 ||
	{ fail cni_exact_setup "world servers did not start"; exit 1; }

CNI_PATH_DIR=$TOPO_TMP/cni-bin
mkdir -p "$CNI_PATH_DIR" "$TOPO_TMP/ipam"
ln -s "$CNI_PLUGIN_DIR/bridge" "$CNI_PLUGIN_DIR/host-local" "$CNI_PATH_DIR/"
ln -s "$CNI_BIN" "$CNI_PATH_DIR/xdp-egress-cni"

# conflist ROUND: the network of a round: the bridge plugin (ipMasq), and
# in an xdp-egress round xdp-egress-cni chained after it.
conflist() {
	local xe=""
	case $1 in
	kernel) ;;
	auto) xe=', { "type": "xdp-egress-cni", "uplink": "up0" }' ;;
	*) xe=', { "type": "xdp-egress-cni", "mode": "'"$1"'", "uplink": "up0" }' ;;
	esac
	cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "xe-exact",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true,
      "isDefaultGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$TOPO_TMP/ipam",
                "ranges": [[{ "subnet": "$PODNET" }]] }
    }$xe
  ]
}
EOF
}
# plugin_conf and cni_exec: tests/lib/cni.sh (its pod_add and pod_del
# are replaced below: these pods are named, and checked against a kernel
# round).
# pod_add NAME CONFLIST: a pod namespace and ADD of every plugin in order;
# its result in $TOPO_TMP/NAME.result. CNI_ERR on failure.
PODS_ADDED=()
pod_add() {
	local n=$1 list=$2 i count type prev="" out
	ip netns add "$n" || return 1
	TOPO_NS+=("$n")
	ip -n "$n" link set lo up
	cp "$list" "$TOPO_TMP/$n.list"
	PODS_ADDED+=("$n")
	count=$(jq '.plugins | length' "$list")
	for ((i = 0; i < count; i++)); do
		type=$(jq -r ".plugins[$i].type" "$list")
		if ! out=$(plugin_conf "$list" "$i" $prev | cni_exec ADD "/run/netns/$n" "$n" "$type" 2>>"$TOPO_TMP/cni-stderr.log"); then
			CNI_ERR="$type ADD: $out $(tail -2 "$TOPO_TMP/cni-stderr.log" | tr '\n' ' ')"
			return 1
		fi
		echo "$out" >"$TOPO_TMP/$n.r$i"
		prev=$TOPO_TMP/$n.r$i
	done
	cp "$prev" "$TOPO_TMP/$n.result"
}
# pod_del NAME: DEL in reverse order, then the namespace goes.
pod_del() {
	local n=$1 list=$TOPO_TMP/$1.list i count type
	if [ -e "$TOPO_TMP/$n.result" ]; then
		count=$(jq '.plugins | length' "$list")
		for ((i = count - 1; i >= 0; i--)); do
			type=$(jq -r ".plugins[$i].type" "$list")
			plugin_conf "$list" "$i" "$TOPO_TMP/$n.result" |
				cni_exec DEL "/run/netns/$n" "$n" "$type" >/dev/null 2>>"$TOPO_TMP/cni-stderr.log"
		done
		rm -f "$TOPO_TMP/$n.result"
	fi
	ip netns del "$n" 2>/dev/null
}
pods_cleanup() {
	local n
	for n in "${PODS_ADDED[@]}"; do
		pod_del "$n"
	done
	PODS_ADDED=()
}
exact_on_exit pods_cleanup
pod_ip() { jq -r '.ips[0].address | split("/")[0]' "$TOPO_TMP/$1.result"; }
host_veth() {
	jq -r '.interfaces[] | select(.sandbox == null and (.name | startswith("veth"))) | .name' "$TOPO_TMP/$1.result"
}
ok cni_exact_setup

for ROUND in "${EXACT_ROUNDS[@]}"; do
	R=cni
	conflist "$ROUND" >"$TOPO_TMP/net-$ROUND.conflist"
	P1=$TOPO_PREFIX-p1-$ROUND
	P2=$TOPO_PREFIX-p2-$ROUND
	# The runtime's ADD attaches (no exact_round_start targets).
	exact_round_start
	if ! pod_add "$P1" "$TOPO_TMP/net-$ROUND.conflist" || ! pod_add "$P2" "$TOPO_TMP/net-$ROUND.conflist"; then
		fail "${R}_add_$ROUND" "$CNI_ERR"
		pods_cleanup
		continue
	fi
	ok "${R}_add_$ROUND"
	IP1=$(pod_ip "$P1")
	IP2=$(pod_ip "$P2")
	if [ "$ROUND" != kernel ]; then
		st=$(xe status --json 2>/dev/null)
		att=$(jq -r '[.attachments[]? | "\(.ifname):\(.mode)"] | sort | join(" ")' <<<"$st")
		want=$(for n in "$P1" "$P2"; do echo "$(host_veth "$n"):$ROUND"; done | sort | tr '\n' ' ')
		expect ${R}_attached_by_plugin "xdp-egress-cni attached '$att', want '${want% }'" test "$att" = "${want% }"
	fi
	kp_reset
	kp_service default/svc-pod:http 10.96.0.10 tcp 80 0 "$IP2:8080"
	kp_service default/svc-pod:dns 10.96.0.10 udp 53 0 "$IP2:5353"
	kp_service default/svc-world:http 10.96.0.20 tcp 80 0 192.0.2.2:8080
	kp_service default/svc-world:dns 10.96.0.20 udp 53 0 192.0.2.2:5353
	kp_apply || fail "${R}_kube_proxy_$ROUND" "iptables-restore of the Services failed"
	serve "$P1" "pod1-$ROUND" 8080 5353 && serve "$P2" "pod2-$ROUND" 8080 5353 ||
		fail "${R}_servers_$ROUND" "pod servers did not start"
	warm_neigh
	norm() { ask_outcome "$1" | sed -e "s/-$ROUND//g; s/$IP1/POD1/g; s/$IP2/POD2/g"; }

	s0=$(stats_json)
	r=$(py_x "$P1" ask tcp "$W" 8080 --rounds 40 --gap 0.005)
	same_as_kernel ${R}_world_tcp "$(norm "$r")" "^answered=40/40 names=world seen=192.0.2.1 error=none$"
	r=$(py_x "$P1" ask udp "$W" 5353 --rounds 40 --gap 0.005)
	same_as_kernel ${R}_world_udp "$(norm "$r")" "^answered=40/40 names=world seen=192.0.2.1 error=none$"
	s1=$(stats_json)
	fast_path ${R}_world "$s0" "$s1" 40 40
	r=$(py_x "$P1" ask tcp 10.96.0.20 80 --rounds 20 --gap 0.005)
	same_as_kernel ${R}_clusterip_world_tcp "$(norm "$r")" "^answered=20/20 names=world seen=192.0.2.1 error=none$"
	r=$(py_x "$P1" ask udp 10.96.0.20 53 --rounds 20 --gap 0.005)
	same_as_kernel ${R}_clusterip_world_udp "$(norm "$r")" "^answered=20/20 names=world seen=192.0.2.1 error=none$"
	r=$(py_x "$P1" ask tcp 10.96.0.10 80 --rounds 20)
	same_as_kernel ${R}_clusterip_pod_tcp "$(norm "$r")" "^answered=20/20 names=pod2 seen=POD1 error=none$"
	r=$(py_x "$P1" ask udp 10.96.0.10 53 --rounds 20)
	same_as_kernel ${R}_clusterip_pod_udp "$(norm "$r")" "^answered=20/20 names=pod2 seen=POD1 error=none$"
	dec=$(cat "$TOPO_TMP"/srv-decoy*.log 2>/dev/null | wc -l)
	same_as_kernel ${R}_no_decoy_reached "decoy events: $dec" "^decoy events: 0$"
	[ "$dec" = 0 ] || : >"$TOPO_TMP/srv-decoy10.log" >"$TOPO_TMP/srv-decoy20.log"
	masq=$(in_host iptables -t nat -L POSTROUTING -v -x -n | awk '$3 ~ /^CNI-/ { s += $1 } END { print s + 0 }')
	log "the bridge plugin's ipMasq chains counted $masq packets so far ($ROUND)"

	pods_cleanup
	exact_round_end
	if [ "$ROUND" != kernel ]; then
		expect ${R}_del_detached "after DEL: attachments $(xe status --json 2>/dev/null | jq -c '[.attachments[]?.ifname]'), XDP $(xdp_progs "$TOPO_HOST" | tr '\n' ' ')" \
			test "$(xe status --json 2>/dev/null | jq '[.attachments[]?] | length')" = 0
	fi
done

exit $((TOPO_FAILED > 0))
