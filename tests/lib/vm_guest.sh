#!/bin/bash
# Builds a tiny VM guest for tests/e2e/test_vm.sh, cached under build/vm/:
#
#   build/vm/vmlinuz             a Debian kernel (linux-image-amd64's package)
#   build/vm/initramfs.cpio.gz   busybox-static, the virtio-net modules of that
#                                kernel and tests/lib/vm_init.sh as /init
#
# The kernel is /boot/vmlinuz-VERSION when the machine has one with its
# modules; otherwise the package linux-image-amd64 depends on is fetched with
# `apt-get download` and unpacked into build/vm/kernel: nothing is installed,
# so neither /boot nor the machine's boot configuration changes.
#
#   tests/lib/vm_guest.sh [OUT_DIR]     prints the two paths on success
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/build/vm}
INIT=$ROOT/tests/lib/vm_init.sh
BUSYBOX=/bin/busybox
# The guest needs virtio-net: these modules and, from modules.dep, theirs.
WANT_MODULES="virtio_pci virtio_net"

die() { echo "vm_guest: $*" >&2; exit 1; }

# mod_path DEPFILE NAME: the path modules.dep gives module NAME (or nothing:
# built in, or absent).
mod_path() {
	awk -F: -v m="$2" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); if (n == m) { print $1; exit } }' "$1"
}
# mod_order DEPFILE NAME...: every module the names need, dependencies
# first (modules.dep lists a module's dependencies, the last one loaded first).
mod_order() {
	local dep=$1 m d seen=" "
	shift
	_visit() {
		local m=$1 d line
		case $seen in *" $m "*) return ;; esac
		seen="$seen$m "
		line=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); if (n == m) { print $2; exit } }' "$dep")
		for d in $(tr ' ' '\n' <<<"$line" | sed 's#.*/##; s/\.ko.*//' | grep . | tac); do
			_visit "$d"
		done
		[ -n "$(mod_path "$dep" "$m")" ] && echo "$m"
	}
	for m in "$@"; do _visit "$m"; done
}
mkdir -p "$OUT"

# ---- the kernel ----
kroot=""
kver=""
for k in /boot/vmlinuz-*; do
	[ -e "$k" ] || continue
	v=${k#/boot/vmlinuz-}
	if [ -e "/lib/modules/$v/modules.dep" ]; then
		kroot=/
		kver=$v
		break
	fi
done
if [ -z "$kver" ] && [ ! -e "$OUT/kernel/.unpacked" ]; then
	command -v apt-get >/dev/null || die "no /boot/vmlinuz-* and no apt-get to fetch linux-image-amd64"
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || die "apt-cache knows no linux-image-amd64 (apt-get update?)"
	rm -rf "$OUT/deb" "$OUT/kernel"
	mkdir -p "$OUT/deb"
	# _apt cannot write into build/: download as root, unsandboxed.
	(cd "$OUT/deb" && apt-get download -o APT::Sandbox::User=root "$pkg" >/dev/null 2>&1) ||
		die "apt-get download $pkg failed"
	rm -rf "$OUT/kernel.full"
	dpkg-deb -x "$OUT"/deb/*.deb "$OUT/kernel.full" || die "cannot unpack $pkg"
	rm -rf "$OUT/deb"
	# Keep the kernel and our modules (the package is 400 MB).
	v=$(ls "$OUT/kernel.full/boot" | sed -n 's/^vmlinuz-//p' | head -1)
	[ -n "$v" ] || die "$pkg has no /boot/vmlinuz-*"
	full=$(find "$OUT/kernel.full" -type d -path "*/modules/$v" | head -1)
	[ -d "$full" ] || die "$pkg has no modules for $v"
	# A package carries no modules.dep: depmod writes it (kmod).
	PATH=$PATH:/sbin:/usr/sbin depmod -b "${full%/lib/modules/$v}" "$v" ||
		die "depmod failed on $pkg"
	mkdir -p "$OUT/kernel/boot" "$OUT/kernel/lib/modules/$v"
	cp "$OUT/kernel.full/boot/vmlinuz-$v" "$OUT/kernel/boot/"
	cp "$full/modules.dep" "$OUT/kernel/lib/modules/$v/"
	for m in $(mod_order "$full/modules.dep" $WANT_MODULES); do
		f=$(mod_path "$full/modules.dep" "$m")
		mkdir -p "$OUT/kernel/lib/modules/$v/$(dirname "$f")"
		cp "$full/$f" "$OUT/kernel/lib/modules/$v/$f"
	done
	rm -rf "$OUT/kernel.full"
	touch "$OUT/kernel/.unpacked"
fi
if [ -z "$kver" ]; then
	kroot=$OUT/kernel
	k=$(ls "$kroot"/boot/vmlinuz-* 2>/dev/null | head -1)
	[ -n "$k" ] || die "no vmlinuz in $kroot/boot"
	kver=${k##*/vmlinuz-}
fi
cp "$kroot/boot/vmlinuz-$kver" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"

# ---- the initramfs ----
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (apt-get install busybox-static)"
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is not static (install busybox-static)"
command -v cpio >/dev/null || die "cpio missing (apt-get install cpio)"
stage=$(mktemp -d "$OUT/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$BUSYBOX" "$stage/bin/busybox"
cp "$INIT" "$stage/init"
chmod 0755 "$stage/init"
moddir=$kroot/lib/modules/$kver
: >"$stage/lib/modules/order"
# Built-in drivers are not in modules.dep and need nothing.
for m in $(mod_order "$moddir/modules.dep" $WANT_MODULES); do
	f=$moddir/$(mod_path "$moddir/modules.dep" "$m")
	case $f in
	*.xz) xz -dc "$f" >"$stage/lib/modules/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$stage/lib/modules/$m.ko" ;;
	*) cp "$f" "$stage/lib/modules/$m.ko" ;;
	esac
	echo "$m.ko" >>"$stage/lib/modules/order"
done
(cd "$stage" && find . -mindepth 1 | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.tmp"
mv "$OUT/initramfs.tmp" "$OUT/initramfs.cpio.gz"
echo "$OUT/vmlinuz"
echo "$OUT/initramfs.cpio.gz"
