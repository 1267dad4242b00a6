#!/bin/bash
# `make test-kernels`: the e2e core (tests/kernels/core.sh) on the kernels
# users run. The host's own kernel runs it natively (in namespaces, as every
# test does); each kernel of XK_KERNELS runs it unchanged inside a qemu VM
# booted with that Debian kernel package (tests/kernels/guest.sh: fetched
# with apt-get download, unpacked under build/kernels/, never installed),
# under KVM when the guest boots there, else TCG (tests/lib/vm_accel.sh).
# The guest has no network device at all: its namespaces are its own.
#
# Prints each check as "ok NAME@KERNEL" / "FAIL NAME@KERNEL: why", then
# "kernel VERSION: N passed, N failed" per kernel, the features each kernel
# showed (core.sh's "# feature" lines), and closes with "N passed, N
# failed"; exits non-zero on any failure.
#
#   tests/kernels/run.sh
#   XK_KERNELS="debian12 linux-image-6.12-amd64"   Debian packages to boot
#                                    (debian12: what linux-image-amd64 of
#                                    Debian 12 depends on, its stock 6.1)
#   XK_HOST=0                        skip the host's kernel (the default
#                                    under CI=true: the suite's e2e scripts
#                                    cover the host's kernel in every mode,
#                                    and the CI budget is 30 min)
#   XK_ROUNDS="kernel auto"          core.sh's rounds (default: all)
#   XK_VM_TIMEOUT=900                seconds a guest may run (TCG)
#
# tests/run.sh's limit for this script: the host's core (380 s on a busy
# machine), building the guest's image when build/kernels has none (779 s
# there), a TCG guest of up to XK_VM_TIMEOUT (900):
# timeout: 2400
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
KERNELS=(${XK_KERNELS:-debian12})
VM_TIMEOUT=${XK_VM_TIMEOUT:-900}
WORK=$(mktemp -d /tmp/xe-kernels.XXXXXX)
QEMU_PID=""
T_ALL=$EPOCHREALTIME
passed=0
failed=0
summary=()
features=()

source tests/lib/wait.sh

cleanup() {
	stop_pid "$QEMU_PID" 2
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }'; }

# report KVER LOG SECONDS HOW: the core's lines, named for the kernel, and
# the kernel's counts.
report() {
	local kver=$1 log=$2 secs=$3 how=$4 ok fl
	sed -E "s/^ok ([^ ]+)/ok \\1@$kver/; s/^FAIL ([^:]+):/FAIL \\1@$kver:/" "$log"
	ok=$(grep -c '^ok ' "$log")
	fl=$(grep -c '^FAIL ' "$log")
	passed=$((passed + ok))
	failed=$((failed + fl))
	summary+=("kernel $kver: $ok passed, $fl failed ($how, ${secs} s)")
	while IFS= read -r l; do
		features+=("$kver: ${l#\# feature }")
	done < <(grep '^# feature ' "$log" | sort -u)
	echo "kernel $kver: $ok passed, $fl failed"
	echo "# kernel $kver took ${secs} s ($how)"
}

# ---- the host's kernel, natively ----
if [ "${CI:-}" = true ]; then : "${XK_HOST:=0}"; fi
if [ "${XK_HOST:-1}" = 1 ]; then
	t0=$EPOCHREALTIME
	echo "# ==== host kernel $(uname -r): natively ===="
	XK_ROUNDS=${XK_ROUNDS:-} bash tests/kernels/core.sh >"$WORK/host.log" 2>&1
	rc=$?
	if [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$WORK/host.log"; then
		echo "FAIL core: exited $rc without reporting a failure" >>"$WORK/host.log"
	fi
	report "$(uname -r)" "$WORK/host.log" "$(elapsed "$t0")" "native"
fi

# ---- each guest kernel, in qemu ----
QEMU=$(command -v qemu-system-x86_64)
source tests/lib/vm_accel.sh
for pkg in "${KERNELS[@]}"; do
	t0=$EPOCHREALTIME
	echo "# ==== guest kernel package $pkg ===="
	if [ -z "$QEMU" ]; then
		echo "FAIL boot@$pkg: qemu-system-x86_64 missing (make deps)"
		failed=$((failed + 1))
		summary+=("kernel $pkg: 0 passed, 1 failed (not booted)")
		continue
	fi
	if ! out=$(bash tests/kernels/guest.sh "$pkg" 2>"$WORK/guest.err"); then
		echo "FAIL boot@$pkg: cannot build the guest: $(tail -3 "$WORK/guest.err" | tr '\n' ' ')"
		failed=$((failed + 1))
		summary+=("kernel $pkg: 0 passed, 1 failed (not booted)")
		continue
	fi
	read -r kernel initrd kver <<<"$out"
	echo "# guest: $kver, kernel $(du -h "$kernel" | cut -f1), initramfs $(du -h "$initrd" | cut -f1), built in $(elapsed "$t0") s"
	vm_accel_choose "$QEMU" "$kernel" "$initrd" "$WORK" "XE-KERNEL probe rc=0"
	[ -n "$VM_ACCEL_WHY" ] && echo "# $VM_ACCEL_WHY: TCG"
	smp=$(nproc)
	[ "$smp" -gt 4 ] && smp=4
	: >"$WORK/$kver.ttyS0"
	: >"$WORK/$kver.ttyS1"
	t1=$EPOCHREALTIME
	"$QEMU" "${VM_ACCEL_ARGS[@]}" -m 1024 -smp "$smp" -nodefaults -no-user-config \
		-display none -no-reboot \
		-serial "file:$WORK/$kver.ttyS0" -serial "file:$WORK/$kver.ttyS1" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1${XK_ROUNDS:+ xe.rounds=${XK_ROUNDS// /,}}" \
		>"$WORK/$kver.qemu.log" 2>&1 &
	QEMU_PID=$!
	timed_out=0
	vm_wait "$QEMU_PID" "$VM_TIMEOUT" || timed_out=1
	QEMU_PID=""
	tr -d '\r' <"$WORK/$kver.ttyS1" | grep -av '^XE-KERNEL ' >"$WORK/$kver.log"
	done_line=$(tr -d '\r' <"$WORK/$kver.ttyS1" | grep -a '^XE-KERNEL done' | tail -1)
	if [ -z "$done_line" ]; then
		why="the guest did not finish"
		[ "$timed_out" = 1 ] && why="the guest was still running after $VM_TIMEOUT s (XK_VM_TIMEOUT)"
		echo "FAIL boot: $why; last output: $(tail -c 300 "$WORK/$kver.ttyS1" | tr '\n' ' '); console: $(tail -c 600 "$WORK/$kver.ttyS0" | tr '\n' ' '); qemu: $(tail -c 200 "$WORK/$kver.qemu.log")" >>"$WORK/$kver.log"
	elif [ "$done_line" != "XE-KERNEL done rc=0" ] && ! grep -q '^FAIL ' "$WORK/$kver.log"; then
		echo "FAIL core: $done_line without reporting a failure" >>"$WORK/$kver.log"
	fi
	report "$kver" "$WORK/$kver.log" "$(elapsed "$t0")" "qemu $VM_ACCEL_NAME, $smp vCPUs, boot to power-off $(elapsed "$t1") s"
done

echo
echo "# features by kernel (what each kernel did, from core.sh's '# feature' lines):"
printf '#   %s\n' "${features[@]}"
printf '%s\n' "${summary[@]}"
echo "# test-kernels took $(elapsed "$T_ALL") s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
