#!/bin/bash
# Builds the guest of `make test-kernels` for one Debian kernel package,
# under build/kernels/PKG/ (the kernel part is cached between runs):
#
#   vmlinuz          the package's kernel
#   modules/         the package's network modules (netfilter, nf_tables,
#                    iptables, conntrack, NAT, sched, veth, tun, bridge, and
#                    whatever they depend on) with modules.dep and
#                    modules.alias from depmod, so that the guest's kernel
#                    autoloads them through a real modprobe as on a host
#   initramfs.cpio   a root file system in memory: busybox for the basics,
#                    and the real programs the core needs, copied from this
#                    Debian machine with their shared libraries (ldd): bash,
#                    iproute2, nft, iptables-nft and its xtables modules,
#                    conntrack, ethtool, iperf3, jq, bpftool, kmod,
#                    coreutils..., the project's build/xdp-egress and
#                    build/kernels/xk-tool, tests/lib/topo.sh (wait.sh,
#                    capture.sh) and
#                    tests/kernels/core.sh at the same paths under /xe, and
#                    tests/kernels/guest_init.sh as /init
#
# The package is fetched with `apt-get download` and unpacked with dpkg-deb:
# nothing is installed, /boot and the machine's boot configuration stay as
# they are.
#
#   tests/kernels/guest.sh PKG      prints "KERNEL INITRD VERSION" on success
#   PKG: a Debian kernel package (linux-image-6.1.0-57-amd64), a metapackage
#        (linux-image-6.12-amd64: the image it depends on), or "debian12"
#        for linux-image-amd64 (Debian 12's stock kernel, 6.1)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PKG=${1:-debian12}
OUT_BASE=$ROOT/build/kernels
export PATH=$PATH:/sbin:/usr/sbin

die() { echo "guest.sh: $*" >&2; exit 1; }

# A metapackage (linux-image-amd64, linux-image-6.12-amd64) stands for the
# image package it depends on.
image_of() {
	apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }'
}
[ "$PKG" = debian12 ] && PKG=linux-image-amd64
if ! apt-cache show "$PKG" >/dev/null 2>&1; then
	apt-get update -qq >/dev/null 2>&1 || true
	apt-cache show "$PKG" >/dev/null 2>&1 || die "apt-cache knows no $PKG (apt-get update?)"
fi
while dep=$(image_of "$PKG") && [ -n "$dep" ]; do
	PKG=$dep
done
OUT=$OUT_BASE/$PKG
mkdir -p "$OUT"

# The modules the guest gets: these folders of the package, and what they
# depend on (modules.dep).
MOD_DIRS="kernel/net/netfilter kernel/net/ipv4 kernel/net/ipv6 kernel/net/sched
	kernel/net/bridge kernel/net/llc kernel/net/802 kernel/net/core
	kernel/drivers/net/veth.ko* kernel/drivers/net/tun.ko*
	kernel/crypto kernel/arch/x86/crypto kernel/lib"

# ---- the kernel and its modules (cached) ----
if [ ! -e "$OUT/.kernel-ready" ]; then
	rm -rf "$OUT/deb" "$OUT/full" "$OUT/modules" "$OUT/vmlinuz"
	mkdir -p "$OUT/deb"
	# _apt cannot write into build/: download as root, unsandboxed.
	(cd "$OUT/deb" && apt-get download -o APT::Sandbox::User=root "$PKG" >/dev/null 2>&1) ||
		die "apt-get download $PKG failed"
	dpkg-deb -x "$OUT"/deb/*.deb "$OUT/full" || die "cannot unpack $PKG"
	rm -rf "$OUT/deb"
	v=$(ls "$OUT/full/boot" | sed -n 's/^vmlinuz-//p' | head -1)
	[ -n "$v" ] || die "$PKG has no /boot/vmlinuz-*"
	full=$(find "$OUT/full" -maxdepth 4 -type d -path "*/modules/$v" | head -1)
	[ -d "$full" ] || die "$PKG has no modules for $v"
	depmod -b "${full%/lib/modules/$v}" "$v" || die "depmod failed on $PKG"
	# (a .ko, or .ko.xz as Debian's 6.12 packages have them)
	mods=$(cd "$full" && for d in $MOD_DIRS; do [ -e "$d" ] && find "$d" -name '*.ko*'; done | sort -u)
	# Dependencies, transitively (modules.dep lists them all already).
	deps=$(awk -F: -v want="$(tr '\n' ' ' <<<"$mods")" '
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
		keep[$1] { m = split($2, d, " "); for (i = 1; i <= m; i++) print d[i] }' "$full/modules.dep")
	mkdir -p "$OUT/modules/lib/modules/$v"
	for f in $mods $deps; do
		mkdir -p "$OUT/modules/lib/modules/$v/$(dirname "$f")"
		cp -n "$full/$f" "$OUT/modules/lib/modules/$v/$f"
	done
	cp "$full"/modules.builtin* "$full"/modules.order "$OUT/modules/lib/modules/$v/" 2>/dev/null || true
	depmod -b "$OUT/modules" "$v" || die "depmod failed on the guest's modules"
	cp "$OUT/full/boot/vmlinuz-$v" "$OUT/vmlinuz"
	cp "$OUT/full/boot/config-$v" "$OUT/config" 2>/dev/null || true
	echo "$v" >"$OUT/version"
	rm -rf "$OUT/full"
	touch "$OUT/.kernel-ready"
fi
KVER=$(cat "$OUT/version")

# ---- the initramfs (rebuilt every time: it carries the current build) ----
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 || die "$BUSYBOX missing or not static (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio missing (apt-get install cpio)"
[ -x "$ROOT/build/xdp-egress" ] || die "build/xdp-egress not built (make)"
[ -x "$ROOT/build/kernels/xk-tool" ] || die "build/kernels/xk-tool not built (make build/kernels/xk-tool)"

# The userland and the modules (base.cpio) are cached: they change only
# with this script or the machine's packages. The project's part
# (project.cpio: the build, the scripts, /init) is made every time; the
# kernel reads the two archives one after the other (a concatenated
# initramfs), the second adding to the first.
stage=$(mktemp -d "$OUT/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# add PATH...: copies each file to the same path in the stage, following
# symlinks (each link of a chain is recreated as a link).
add() {
	local p t
	for p in "$@"; do
		while [ -L "$p" ]; do
			[ -e "$stage$p" ] || [ -L "$stage$p" ] || {
				mkdir -p "$stage$(dirname "$p")"
				ln -s "$(readlink "$p")" "$stage$p"
			}
			t=$(readlink "$p")
			case $t in /*) p=$t ;; *) p=$(dirname "$p")/$t ;; esac
		done
		[ -e "$stage$p" ] && continue
		mkdir -p "$stage$(dirname "$p")"
		cp "$p" "$stage$p"
	done
}
# add_libs PATH...: the shared libraries each program needs.
add_libs() {
	local p
	for p in "$@"; do
		add $(ldd "$p" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
	done
}
# add_elf PATH...: a program or library and every shared library it needs.
add_elf() {
	add "$@"
	add_libs "$@"
}

# The project's programs need libraries from the machine's packages: they
# go into base.cpio too (the project's archive holds only /xe and /init,
# so that it never replaces a directory of the base with its own).
PROJ_BINS="$ROOT/build/xdp-egress $ROOT/build/kernels/xk-tool"
base_key="$(sha256sum "$0" | cut -c1-16) $(stat -c %Y /var/lib/dpkg/status) $(ldd $PROJ_BINS | awk '$2 == "=>" { print $3 }' | sort -u | md5sum | cut -c1-16)"
if [ ! -e "$OUT/base.cpio" ] || [ "$(cat "$OUT/base.key" 2>/dev/null)" != "$base_key" ]; then
	mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,tmp,run,etc,root,xe}
	# Debian 12's merged /usr, so that every path ldd prints resolves.
	ln -s usr/bin "$stage/bin"
	ln -s usr/sbin "$stage/sbin"
	ln -s usr/lib "$stage/lib"
	ln -s usr/lib64 "$stage/lib64"
	mkdir -p "$stage/var"
	ln -s ../run "$stage/var/run"

	PROGS="bash ip tc nft xtables-nft-multi conntrack ethtool iperf3 jq nstat ss ping
		nsenter unshare timeout bpftool kmod mawk sed grep mktemp sysctl date sleep seq
		cat rm mkdir ls tr cut head tail wc sort uniq tee env stat readlink basename
		dirname diff pgrep pkill ps xargs find cp mv ln touch chmod printf expr true false
		test mount umount dmesg uname id nproc"
	for p in $PROGS; do
		f=$(type -P "$p") || die "$p missing on this machine (make deps)"
		add_elf "$f"
	done
	# The multi-call programs' other names (as the Debian packages link them).
	for n in iptables ip6tables iptables-save iptables-restore ip6tables-save ip6tables-restore \
		iptables-nft ip6tables-nft; do
		ln -sf xtables-nft-multi "$stage/usr/sbin/$n"
	done
	for n in modprobe insmod rmmod lsmod depmod modinfo; do
		ln -sf ../bin/kmod "$stage/usr/sbin/$n"
	done
	ln -sf mawk "$stage/usr/bin/awk"
	# iptables' matches and targets (dlopen()ed, so ldd does not see them).
	for f in /usr/lib/x86_64-linux-gnu/xtables/*.so; do
		add_elf "$f"
	done
	add /etc/protocols /etc/services /etc/ethertypes
	[ -d /etc/iproute2 ] && cp -r /etc/iproute2 "$stage/etc/"
	[ -d /usr/share/iproute2 ] && mkdir -p "$stage/usr/share" && cp -r /usr/share/iproute2 "$stage/usr/share/"
	printf 'root:x:0:0:root:/root:/bin/bash\n' >"$stage/etc/passwd"
	printf 'root:x:0:\n' >"$stage/etc/group"
	# busybox for everything else (not over the real programs).
	cp "$BUSYBOX" "$stage/usr/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ -e "$stage/usr/bin/$a" ] || [ -e "$stage/usr/sbin/$a" ] || ln -s busybox "$stage/usr/bin/$a"
	done
	add_libs $PROJ_BINS
	# The kernel's modules.
	cp -a "$OUT/modules/lib/modules" "$stage/usr/lib/"
	(cd "$stage" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$OUT/base.tmp"
	mv "$OUT/base.tmp" "$OUT/base.cpio"
	echo "$base_key" >"$OUT/base.key"
	rm -rf "$stage"
	mkdir -p "$stage"
fi
# The project: the same relative paths as in the tree.
mkdir -p "$stage/xe/build/kernels" "$stage/xe/tests/lib" "$stage/xe/tests/kernels"
cp "$ROOT/build/xdp-egress" "$stage/xe/build/"
cp "$ROOT/build/kernels/xk-tool" "$stage/xe/build/kernels/"
cp "$ROOT/tests/lib/topo.sh" "$ROOT/tests/lib/wait.sh" "$ROOT/tests/lib/capture.sh" "$stage/xe/tests/lib/"
cp "$ROOT/tests/kernels/core.sh" "$stage/xe/tests/kernels/"
cp "$ROOT/tests/kernels/guest_init.sh" "$stage/init"
chmod 0755 "$stage/init"

{
	cat "$OUT/base.cpio"
	(cd "$stage" && find . -mindepth 1 | cpio -o -H newc --quiet)
} >"$OUT/initramfs.tmp"
mv "$OUT/initramfs.tmp" "$OUT/initramfs.cpio"
echo "$OUT/vmlinuz $OUT/initramfs.cpio $KVER"
