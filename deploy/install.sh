#!/bin/sh
# Installs xdp-egress on a node. The DaemonSet's init container runs it with
# the node's directories mounted under HOST_ROOT
# (deploy/xdp-egress-daemonset.yaml); tests/e2e/test_deploy.sh runs it into a
# scratch directory.
#
#   [HOST_ROOT=/host] [PREFIX=/opt/xdp-egress] [CNI_BIN_DIR=/opt/cni/bin]
#   [CNI_CONF_DIR=/etc/cni/net.d] install.sh SRC_BIN_DIR [CONFLIST]
#
# PREFIX, CNI_BIN_DIR and CNI_CONF_DIR are paths as the node sees them; the
# files are written under HOST_ROOT. The binaries link libbpf, libmnl,
# libcjson, libnetfilter_conntrack (the agent's ctnetlink, flush) and
# libnftables (attach makes conntrack run), which a node need not have:
# every shared library they load, with their own dependencies (libnftnl,
# libnfnetlink, libxtables, libjansson, libgmp...), goes
# to PREFIX/lib with the dynamic loader itself, and patchelf points the
# binaries' interpreter and rpath there, so the node's own libraries (glibc
# included) never matter and /proc/self/exe stays the binary (the daemon
# re-executes itself). Each file is replaced atomically (copy, then rename):
# a runtime calling the plugin meanwhile runs the old one or the new one.
set -eu
SRC=${1:?usage: install.sh SRC_BIN_DIR [CONFLIST]}
CONFLIST=${2:-}
HOST_ROOT=${HOST_ROOT-/host}
PREFIX=${PREFIX:-/opt/xdp-egress}
CNI_BIN_DIR=${CNI_BIN_DIR:-/opt/cni/bin}
CNI_CONF_DIR=${CNI_CONF_DIR:-/etc/cni/net.d}

put() { # put SRC DEST MODE [patch]: atomic copy, optionally relinked
	cp "$1" "$2.tmp.$$"
	chmod "$3" "$2.tmp.$$"
	if [ "${4:-}" = patch ]; then
		# DT_RPATH (--force-rpath), unlike RUNPATH, also serves the
		# libraries libbpf loads (libelf, libz).
		patchelf --force-rpath --set-interpreter "$PREFIX/lib/$loader" \
			--set-rpath "$PREFIX/lib" "$2.tmp.$$"
	fi
	mv -f "$2.tmp.$$" "$2"
}

mkdir -p "$HOST_ROOT$PREFIX/bin" "$HOST_ROOT$PREFIX/lib" "$HOST_ROOT$CNI_BIN_DIR"
loader=""
for b in xdp-egress xdp-egress-cni; do
	# ldd prints "libx.so.1 => /path (addr)" and the loader as "/path (addr)".
	for lib in $(ldd "$SRC/$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		case $lib in
		*/ld-linux*) loader=$(basename "$lib") ;;
		esac
		put "$lib" "$HOST_ROOT$PREFIX/lib/$(basename "$lib")" 0755
	done
done
[ -n "$loader" ] || { echo "install.sh: ldd found no dynamic loader for $SRC/xdp-egress" >&2; exit 1; }
# What the kernel-exact path needs at run time must be in the bundle.
for lib in libnetfilter_conntrack.so libnftables.so; do
	ls "$HOST_ROOT$PREFIX/lib/$lib".* >/dev/null 2>&1 ||
		{ echo "install.sh: $SRC/xdp-egress does not link $lib: built without it?" >&2; exit 1; }
done
put "$SRC/xdp-egress" "$HOST_ROOT$PREFIX/bin/xdp-egress" 0755 patch
put "$SRC/xdp-egress-cni" "$HOST_ROOT$CNI_BIN_DIR/xdp-egress-cni" 0755 patch
if [ -n "$CONFLIST" ]; then
	mkdir -p "$HOST_ROOT$CNI_CONF_DIR"
	put "$CONFLIST" "$HOST_ROOT$CNI_CONF_DIR/$(basename "$CONFLIST")" 0644
fi
echo "install.sh: $CNI_BIN_DIR/xdp-egress-cni, $PREFIX/bin/xdp-egress and their libraries in $PREFIX/lib${CONFLIST:+, $CNI_CONF_DIR/$(basename "$CONFLIST")}${HOST_ROOT:+ (under $HOST_ROOT)}"
