# shellcheck shell=bash
# Sourced after topo.sh by the tests that drive the CNI plugin the way a
# container runtime does (test_cni.sh, test_lock.sh): Debian's bridge and
# host-local plugins, then build/xdp-egress-cni, each invoked with
# CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME/CNI_PATH and its config on
# stdin; ADD in list order with the previous result as prevResult, DEL in
# reverse order with the cached result (as libcni does).
#
#   cni_need NAME || exit 1      the plugins and build/xdp-egress-cni exist
#   topo_create 0; cni_setup_bin  $CNI_PATH_DIR with the three plugins
#   conflist NAME BRIDGE SUBNET MODE >FILE
#   new_pod N; pod_add N FILE; pod_cmd CHECK N; pod_del N
CNI_PLUGIN_DIR=${CNI_PLUGIN_DIR:-/usr/lib/cni}
CNI_BIN=${CNI_BIN:-$TOPO_ROOT/build/xdp-egress-cni}
PODS=()   # pod netns names, index = pod number
CNI_ENV=() # VAR=VALUE added to every plugin call (cni_exec)

# cni_need NAME: FAIL NAME_setup (and return 1) when a plugin is missing.
cni_need() {
	local f
	for f in bridge host-local; do
		if [ ! -x "$CNI_PLUGIN_DIR/$f" ]; then
			fail "${1:-cni}_setup" "$CNI_PLUGIN_DIR/$f missing (apt-get install containernetworking-plugins; make deps)"
			return 1
		fi
	done
	[ -x "$CNI_BIN" ] || { fail "${1:-cni}_setup" "$CNI_BIN not built (run make)"; return 1; }
}

# cni_setup_bin: the runtime's CNI_PATH, $CNI_PATH_DIR (after topo_create).
cni_setup_bin() {
	CNI_PATH_DIR=$TOPO_TMP/cni-bin
	mkdir -p "$CNI_PATH_DIR" "$TOPO_TMP/ipam"
	ln -s "$CNI_PLUGIN_DIR/bridge" "$CNI_PLUGIN_DIR/host-local" "$CNI_PATH_DIR/"
	ln -s "$CNI_BIN" "$CNI_PATH_DIR/xdp-egress-cni"
}

# conflist NAME BRIDGE SUBNET MODE: a runtime's network, as in deploy/.
conflist() {
	cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$1",
  "plugins": [
    {
      "type": "bridge", "bridge": "$2", "isGateway": true,
      "isDefaultGateway": true, "ipMasq": true, "hairpinMode": false,
      "ipam": { "type": "host-local", "dataDir": "$TOPO_TMP/ipam",
                "ranges": [[{ "subnet": "$3" }]] }
    },
    {
      "type": "xdp-egress-cni", "mode": "$4", "uplink": "up0"
    }
  ]
}
EOF
}

# plugin_conf CONFLIST INDEX [PREVRESULT_FILE]: plugin INDEX's config as the
# runtime hands it over: cniVersion and name merged in, prevResult added.
plugin_conf() {
	if [ -n "${3:-}" ]; then
		jq -c --argjson i "$2" --slurpfile prev "$3" \
			'. as $l | .plugins[$i] + {cniVersion: $l.cniVersion, name: $l.name, prevResult: $prev[0]}' "$1"
	else
		jq -c --argjson i "$2" '. as $l | .plugins[$i] + {cniVersion: $l.cniVersion, name: $l.name}' "$1"
	fi
}

# cni_exec COMMAND NETNS CONTAINERID TYPE [ENV...] < conf: one plugin
# call in the host ns (nsenter, so that bpffs pins persist between calls),
# with CNI_ENV's and then ENV's VAR=VALUE added to its environment.
cni_exec() {
	local cmd=$1 netns=$2 id=$3 type=$4
	shift 4
	timeout -k 5 60 nsenter --net="/run/netns/$TOPO_HOST" env -i \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
		CNI_COMMAND="$cmd" CNI_CONTAINERID="$id" CNI_NETNS="$netns" \
		CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH_DIR" "${CNI_ENV[@]}" "$@" \
		"$CNI_PATH_DIR/$type"
}

# pod_add N CONFLIST: ADD every plugin in order; the last result is cached
# in $TOPO_TMP/podN.result. Sets CNI_ERR to the failing plugin's output.
pod_add() {
	local n=$1 list=$2 i count type prev="" out rc
	count=$(jq '.plugins | length' "$list")
	echo "$list" >"$TOPO_TMP/pod$n.list"
	for ((i = 0; i < count; i++)); do
		type=$(jq -r ".plugins[$i].type" "$list")
		out=$(plugin_conf "$list" "$i" $prev | cni_exec ADD "/run/netns/${PODS[$n]}" "pod$n" "$type" 2>>"$TOPO_TMP/cni-stderr.log")
		rc=$?
		if [ "$rc" -ne 0 ]; then
			CNI_ERR="$type ADD exited $rc: $out"
			return 1
		fi
		echo "$out" >"$TOPO_TMP/pod$n.r$i"
		prev=$TOPO_TMP/pod$n.r$i
	done
	cp "$prev" "$TOPO_TMP/pod$n.result"
}

# pod_cmd COMMAND N: CHECK (list order) or DEL (reverse order) with the
# cached result as prevResult.
pod_cmd() {
	local cmd=$1 n=$2 list i count type out rc order
	list=$(cat "$TOPO_TMP/pod$n.list")
	count=$(jq '.plugins | length' "$list")
	if [ "$cmd" = DEL ]; then order=$(seq $((count - 1)) -1 0); else order=$(seq 0 $((count - 1))); fi
	for i in $order; do
		type=$(jq -r ".plugins[$i].type" "$list")
		out=$(plugin_conf "$list" "$i" "$TOPO_TMP/pod$n.result" |
			cni_exec "$cmd" "/run/netns/${PODS[$n]}" "pod$n" "$type" 2>>"$TOPO_TMP/cni-stderr.log")
		rc=$?
		if [ "$rc" -ne 0 ] || { [ "$cmd" = DEL ] && [ -n "$out" ]; }; then
			CNI_ERR="$type $cmd exited $rc: $out"
			return 1
		fi
	done
}
pod_del() { pod_cmd DEL "$1"; }

# new_pod N: the namespace of pod N (PODS[N]); topo_destroy removes it.
new_pod() {
	local n=$1 ns="$TOPO_PREFIX-pod$1"
	ip netns add "$ns" || return 1
	TOPO_NS+=("$ns")
	PODS[$n]=$ns
}

# host_veth N: the pod's host-side interface from its cached result.
host_veth() {
	jq -r '.interfaces[] | select(.sandbox == null and (.name | startswith("veth"))) | .name' "$TOPO_TMP/pod$1.result"
}
pod_ip() {
	jq -r '.ips[0].address | split("/")[0]' "$TOPO_TMP/pod$1.result"
}

# is_cni_error JSON CODE: a spec-conformant error object with that code.
is_cni_error() {
	jq -e --argjson code "$2" '
		type == "object" and (.cniVersion | type) == "string" and
		.code == $code and (.msg | type) == "string" and (.msg | length) > 0 and
		((.details // "") | type) == "string" and
		(keys - ["cniVersion", "code", "msg", "details"] | length) == 0' \
		>/dev/null 2>&1 <<<"$1"
}
