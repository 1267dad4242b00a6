#!/bin/bash
# Captures real inputs for the fuzz corpora (tests/fuzz/corpus/), in
# namespaces of its own (tests/lib/topo.sh), and writes them as seeds:
#   cni     the configs a runtime hands xdp-egress-cni (deploy's conflist,
#           an entry with the real bridge plugin's prevResult for ADD)
#   record  attachment records (each mode) and an uplink's record, as
#           pinned in meta maps; the daemon's containers.json
# Not part of make test: run it again (as root) when the formats change,
# then minimize (see tests/fuzz/run.sh --merge).
#   tests/fuzz/capture_seeds.sh
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
CORPUS=$TOPO_ROOT/tests/fuzz/corpus
CNI_PLUGIN_DIR=${CNI_PLUGIN_DIR:-/usr/lib/cni}
need_xe capture
topo_create 3 || { fail capture "could not build the namespaces"; exit 1; }

# seed DIR NAME SELECTOR FILE: SELECTOR (a byte, for the harnesses that pick
# a reader by the first byte; "" for none) followed by FILE's bytes.
seed() {
	{ [ -n "$3" ] && printf "\\x$3"; cat "$4"; } >"$CORPUS/$1/$2"
}

# Attachment records: the meta map's value is what status --json shows
# without the two keys it adds.
xe attach --ifname vc1 --mode native --uplink up0 >/dev/null
xe attach --ifname vc2 --mode auto >/dev/null
xe attach --ifname vc3 --mode generic --source 10.200.3.0/24 --uplink-mode generic --tc-hook clsact >/dev/null
xe status --json >"$TOPO_TMP/status.json"
for i in 0 1 2; do
	jq -c ".attachments[$i] | del(.state, .pins)" "$TOPO_TMP/status.json" >"$TOPO_TMP/rec$i"
	seed record "meta-$(jq -r .mode "$TOPO_TMP/rec$i")" 02 "$TOPO_TMP/rec$i"
done
jq -c '.namespace.uplinks[0] | del(.counters)' "$TOPO_TMP/status.json" >"$TOPO_TMP/up"
seed record meta-uplink 02 "$TOPO_TMP/up"
xe detach --all >/dev/null

# The daemon's record, in state_save()'s form.
cat >"$TOPO_TMP/containers.json" <<JSON
{
	"containers":	[{
			"id":	"4f2a9c1e0b7d3a8e6f5c4b3a2918070605040302010f0e0d0c0b0a0908070605",
			"name":	"web",
			"ifname":	"veth3a1b2c4",
			"ifindex":	17
		}, {
			"id":	"77aa",
			"name":	"db",
			"ifname":	"veth0",
			"ifindex":	4
		}]
}
JSON
seed record containers-json 00 "$TOPO_TMP/containers.json"
cat >"$TOPO_TMP/daemon.json" <<JSON
{"networks": ["xe-net"], "options": {"mode": "tc", "uplink": ["up0"]}, "labels": ["mode", "uplink"]}
JSON
seed record daemon-config 01 "$TOPO_TMP/daemon.json"

# CNI: the deploy conflist, and the ADD input with the real bridge plugin's
# result (the way tests/e2e/test_cni.sh drives them).
seed cni conflist-deploy "" "$TOPO_ROOT/deploy/10-xdp-egress.conflist"
mkdir -p "$TOPO_TMP/ipam"
pod=$TOPO_PREFIX-pod1
ip netns add "$pod" && TOPO_NS+=("$pod")
cat >"$TOPO_TMP/bridge.json" <<JSON
{"cniVersion": "1.0.0", "name": "xe-net", "type": "bridge", "bridge": "cni0",
 "isGateway": true, "ipMasq": true,
 "ipam": {"type": "host-local", "dataDir": "$TOPO_TMP/ipam", "ranges": [[{"subnet": "10.231.0.0/24"}]]}}
JSON
nsenter --net="/run/netns/$TOPO_HOST" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	CNI_COMMAND=ADD CNI_CONTAINERID=pod1 CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0 \
	CNI_PATH="$CNI_PLUGIN_DIR" "$CNI_PLUGIN_DIR/bridge" <"$TOPO_TMP/bridge.json" >"$TOPO_TMP/prev.json" ||
	{ fail capture "the bridge plugin failed: $(cat "$TOPO_TMP/prev.json")"; exit 1; }
jq -c --slurpfile prev "$TOPO_TMP/prev.json" -n \
	'{cniVersion: "1.0.0", name: "xe-net", type: "xdp-egress-cni", mode: "auto", uplink: "up0", prevResult: $prev[0]}' \
	>"$TOPO_TMP/add.json"
seed cni add-bridge-prevresult "" "$TOPO_TMP/add.json"
jq -c '.cniVersion = "0.4.0" | .uplink = ["up0", "eth1"] | .uplinkMode = "generic" | .mode = "native"' \
	"$TOPO_TMP/add.json" >"$TOPO_TMP/add2.json"
seed cni add-0.4.0-list "" "$TOPO_TMP/add2.json"
nsenter --net="/run/netns/$TOPO_HOST" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	CNI_COMMAND=DEL CNI_CONTAINERID=pod1 CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0 \
	CNI_PATH="$CNI_PLUGIN_DIR" "$CNI_PLUGIN_DIR/bridge" <"$TOPO_TMP/bridge.json" >/dev/null
ok capture
