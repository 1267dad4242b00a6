#!/bin/bash
# deploy/: the Kubernetes DaemonSet and the example conflist are valid and
# agree with the plugin. No Kubernetes runs here, so: the YAML parses
# (python3-yaml) into a ConfigMap and a DaemonSet whose fields a node needs
# (hostNetwork, privileged, the bpffs, /run/netns, /opt/cni/bin and
# /etc/cni/net.d mounts, every mount backed by a volume), the ConfigMap's
# conflist is deploy/10-xdp-egress.conflist, and the plugin's own validator
# (xdp-egress-cni --validate, the same parser ADD uses) accepts its entry and
# refuses a broken copy (the removed NAT keys included). install.sh, run
# into a scratch root, gives a plugin that answers VERSION through its
# bundled libraries, libnetfilter_conntrack and libnftables among them,
# and a CLI that, running on that bundle in a namespace topology
# (tests/lib/topo.sh), attaches, makes conntrack run (nftables), starts its
# agent (ctnetlink), carries a flow and detaches.
set -u
source "$(dirname "$0")/../lib/topo.sh"
ROOT=$TOPO_ROOT
DEPLOY=$ROOT/deploy
CNI_BIN=${CNI_BIN:-$ROOT/build/xdp-egress-cni}
TMP=$(mktemp -d /tmp/xe-deploy.XXXXXX)
trap 'topo_destroy; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP

if ! python3 -c 'import yaml' 2>/dev/null; then
	fail deploy_setup "python3-yaml missing (make deps)"
	exit 1
fi
[ -x "$CNI_BIN" ] || { fail deploy_setup "$CNI_BIN not built (run make)"; exit 1; }

# The manifest, checked with a YAML parser; prints ok/FAIL lines itself and
# writes the ConfigMap's conflist to $TMP/configmap.conflist.
python3 - "$DEPLOY/xdp-egress-daemonset.yaml" "$TMP/configmap.conflist" <<'EOF'
import sys, yaml
path, out = sys.argv[1], sys.argv[2]
def ok(n): print("ok " + n)
def fail(n, why): print("FAIL %s: %s" % (n, why))
try:
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
except yaml.YAMLError as e:
    fail("deploy_yaml_parses", str(e).replace("\n", " "))
    sys.exit(0)
ok("deploy_yaml_parses")
kinds = {d.get("kind"): d for d in docs}
if set(kinds) != {"ConfigMap", "DaemonSet"}:
    fail("deploy_yaml_kinds", "want a ConfigMap and a DaemonSet, got %s" % list(kinds))
    sys.exit(0)
ok("deploy_yaml_kinds")
cm, ds = kinds["ConfigMap"], kinds["DaemonSet"]
problems = []
if ds.get("apiVersion") != "apps/v1":
    problems.append("DaemonSet apiVersion is %r, want apps/v1" % ds.get("apiVersion"))
spec = ds["spec"]
tmpl = spec["template"]
labels = tmpl["metadata"]["labels"]
for k, v in spec["selector"]["matchLabels"].items():
    if labels.get(k) != v:
        problems.append("selector %s=%s does not match the template's labels" % (k, v))
pod = tmpl["spec"]
if pod.get("hostNetwork") is not True:
    problems.append("hostNetwork is not true: the plugin and the CLI must see the node's interfaces")
volumes = {v["name"]: v for v in pod.get("volumes", [])}
host_paths = {v["hostPath"]["path"]: n for n, v in volumes.items() if "hostPath" in v}
for p in ("/sys/fs/bpf", "/run/netns", "/opt/cni/bin", "/etc/cni/net.d"):
    if p not in host_paths:
        problems.append("no hostPath volume for %s" % p)
containers = pod.get("initContainers", []) + pod.get("containers", [])
for c in containers:
    if not c.get("securityContext", {}).get("privileged"):
        problems.append("container %s is not privileged" % c["name"])
    for m in c.get("volumeMounts", []):
        if m["name"] not in volumes:
            problems.append("container %s mounts undefined volume %s" % (c["name"], m["name"]))
main = pod["containers"][0]
mounted = {volumes[m["name"]].get("hostPath", {}).get("path"): m for m in main.get("volumeMounts", [])
           if m["name"] in volumes}
bpffs = mounted.get("/sys/fs/bpf")
if not bpffs or bpffs.get("mountPropagation") != "Bidirectional":
    problems.append("the main container must mount /sys/fs/bpf with Bidirectional propagation")
if "/run/netns" not in mounted:
    problems.append("the main container does not mount /run/netns")
init = pod.get("initContainers", [])
if not init or not any("install.sh" in a for a in init[0].get("command", [])):
    problems.append("no init container running install.sh")
else:
    init_dests = {m["mountPath"] for m in init[0].get("volumeMounts", [])}
    for d in ("/host/opt/cni/bin", "/host/etc/cni/net.d"):
        if d not in init_dests:
            problems.append("the init container does not mount %s" % d)
    cm_vol = [n for n, v in volumes.items() if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    if not cm_vol:
        problems.append("no volume of ConfigMap %s" % cm["metadata"]["name"])
if problems:
    fail("deploy_daemonset_fields", "; ".join(problems))
else:
    ok("deploy_daemonset_fields")
data = cm.get("data", {})
if "10-xdp-egress.conflist" not in data:
    fail("deploy_configmap_conflist", "ConfigMap has no 10-xdp-egress.conflist")
else:
    open(out, "w").write(data["10-xdp-egress.conflist"])
    ok("deploy_configmap_conflist")
EOF

# The conflist: JSON, bridge first, and the same in the ConfigMap.
CONF=$DEPLOY/10-xdp-egress.conflist
if jq -e '.plugins[0].type == "bridge" and .plugins[0].ipam.type == "host-local" and
	(.plugins | map(.type) | index("xdp-egress-cni")) > 0' "$CONF" >/dev/null 2>&1; then
	ok deploy_conflist_parses
else
	fail deploy_conflist_parses "$CONF is not JSON with bridge (host-local) followed by xdp-egress-cni"
fi
if [ -s "$TMP/configmap.conflist" ] && jq -e --slurpfile a "$CONF" '. == $a[0]' "$TMP/configmap.conflist" >/dev/null 2>&1; then
	ok deploy_configmap_matches_conflist
else
	fail deploy_configmap_matches_conflist "the ConfigMap's conflist differs from $CONF"
fi

# The plugin's own schema: the real parser ADD runs.
for f in "$CONF" "$TMP/configmap.conflist"; do
	name=deploy_validate_conflist
	[ "$f" = "$CONF" ] || name=deploy_validate_configmap
	out=$("$CNI_BIN" --validate "$f" 2>&1)
	if [ $? = 0 ] && grep -q '^ok ' <<<"$out"; then
		ok "$name"
		echo "# $out"
	else
		fail "$name" "xdp-egress-cni --validate $f: $out"
	fi
done
# The validator is not a rubber stamp: a typo, a bad value, a wrong place.
refused() {
	local name=$1 code=$2 filter=$3 out
	out=$(jq "$filter" "$CONF" | "$CNI_BIN" --validate - 2>/dev/null)
	if [ $? != 0 ] && jq -e --argjson c "$code" '.code == $c and (.msg | length) > 0' <<<"$out" >/dev/null 2>&1; then
		ok "deploy_validate_refuses_$name"
	else
		fail "deploy_validate_refuses_$name" "want error code $code, got: $out"
	fi
}
refused typo 2 '.plugins[1].mdoe = .plugins[1].mode'
refused bad_mode 7 '.plugins[1].mode = "fast"'
refused bad_uplink_mode 7 '.plugins[1].uplinkMode = "fast"'
refused removed_snat 2 '.plugins[1].snat = "auto"'
refused removed_snat_ports 2 '.plugins[1].snatPorts = "16384-32767"'
refused first_in_chain 7 '.plugins |= reverse'
refused version 1 '.cniVersion = "2.0.0"'
# Neither the conflist nor the ConfigMap carries a key of the own NAT.
if ! grep -qiE '"(snat|snatPorts|ctSize|ctTimeouts)"' "$CONF" "$DEPLOY/xdp-egress-daemonset.yaml"; then
	ok deploy_no_nat_keys
else
	fail deploy_no_nat_keys "$(grep -niE '"(snat|snatPorts|ctSize|ctTimeouts)"' "$CONF" "$DEPLOY/xdp-egress-daemonset.yaml" | tr '\n' ' ')"
fi

# install.sh into a scratch root: the installed plugin runs on its bundled
# libraries and validates the installed conflist.
if ! command -v patchelf >/dev/null; then
	fail deploy_install "patchelf missing (make deps)"
else
	out=$(HOST_ROOT= PREFIX="$TMP/opt/xdp-egress" CNI_BIN_DIR="$TMP/opt/cni/bin" \
		CNI_CONF_DIR="$TMP/etc/cni/net.d" "$DEPLOY/install.sh" "$(dirname "$CNI_BIN")" "$CONF" 2>&1)
	rc=$?
	inst=$TMP/opt/cni/bin/xdp-egress-cni
	inst_xe=$TMP/opt/xdp-egress/bin/xdp-egress
	ver=$(CNI_COMMAND=VERSION "$inst" 2>/dev/null </dev/null)
	libs=0
	for b in "$inst" "$inst_xe"; do
		libs=$((libs + $(ldd "$b" 2>/dev/null | awk '$2 == "=>" && $1 !~ /^\// { print $3 }' | grep -vc "^$TMP/opt/xdp-egress/lib/")))
	done
	if [ "$rc" = 0 ] && jq -e '.supportedVersions | index("1.0.0")' <<<"$ver" >/dev/null 2>&1 &&
		[ "$libs" = 0 ] && "$inst" --validate "$TMP/etc/cni/net.d/10-xdp-egress.conflist" >/dev/null 2>&1 &&
		"$inst_xe" --help >/dev/null; then
		ok deploy_install
	else
		fail deploy_install "install.sh rc $rc ($out); VERSION: $ver; libraries from outside the bundle: $libs"
	fi
	bundled=$(ldd "$inst_xe" 2>/dev/null | awk '$2 == "=>" { print $3 }')
	check deploy_install_bundles_kernel_exact_libs "the installed CLI does not load libnetfilter_conntrack and libnftables from the bundle: $(tr '\n' ' ' <<<"$bundled")" \
		eval 'grep -q "^$TMP/opt/xdp-egress/lib/libnetfilter_conntrack.so" <<<"$bundled" && grep -q "^$TMP/opt/xdp-egress/lib/libnftables.so" <<<"$bundled"'

	# The installed CLI at work: attach (nftables: conntrack on), its
	# agent (ctnetlink), a UDP flow carried, detach.
	if topo_create 1; then
		XE_BIN=$inst_xe
		snat_tools
		start_py_server udp 7 "$TOPO_TMP/peers"
		if xe_capture attach --ifname vc1 --mode tc --uplink up0; then
			apid=$(agent_pid)
			out=$(py_in "${TOPO_C[1]}" udpx "$TOPO_WORLD_V4" 7 5001 5 0.05)
			red=$(counter "$(stats_json)" redirected)
			check deploy_installed_cli_works "installed CLI: agent '$apid', nft table $(nft_table_present && echo present || echo missing), UDP flow $out, redirected $red (want >= 3)" \
				eval 'pid_alive "$apid" && nft_table_present && jq -e ".replies == 5" <<<"$out" >/dev/null && [ "$red" -ge 3 ]'
			xe_capture detach --ifname vc1
			check deploy_installed_cli_detach "installed CLI's detach: rc $XE_RC; $(ns_state_brief)" \
				eval '[ "$XE_RC" = 0 ] && ns_state_gone && pins_gone'
		else
			fail deploy_installed_cli_works "attach with the installed CLI exited $XE_RC: $XE_ERR"
		fi
	else
		fail deploy_installed_cli_works "could not build the namespaces"
	fi
fi

exit $((TOPO_FAILED > 0))
