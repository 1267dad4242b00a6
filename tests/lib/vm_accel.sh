# shellcheck shell=bash
# Sourced by the tests that boot a VM (tests/e2e/test_vm.sh,
# tests/kernels/run.sh): chooses KVM when the guest really boots on it,
# TCG otherwise.
#
# A guest that makes no progress under KVM is no rarity in nested
# virtualisation (seen here: the kernel's decompressor crawling for minutes
# under a KVM nested in another hypervisor, while TCG boots in 8 s), so a
# short boot decides. `-cpu host` without arch-capabilities: some nested
# KVMs refuse to set MSR 0x10a, which aborts qemu. VM_ACCEL=kvm|tcg forces.
#
#   vm_accel_choose QEMU KERNEL INITRD WORKDIR MARKER
#       boots KERNEL/INITRD with "xe.probe=1" on the command line (the
#       guest's /init prints MARKER on a serial port and powers off), two
#       serial ports into WORKDIR/probe.ttyS0 and probe.ttyS1. Sets
#       VM_ACCEL_NAME (kvm|tcg), VM_ACCEL_ARGS (qemu's options for it) and
#       VM_ACCEL_WHY (why TCG, when TCG).
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"
VM_KVM_ARGS=(-accel kvm -cpu host,-arch-capabilities)
VM_TCG_ARGS=(-accel tcg,thread=multi -cpu max)
KVM_PROBE_S=${KVM_PROBE_S:-20}

# vm_wait PID SECONDS: wait for the qemu PID to exit; 0 with its exit status
# in VM_RC, 1 (and the process killed) when it still runs after SECONDS.
# VM_WAITED: the seconds it took.
vm_wait() {
	local pid=$1 t0
	uptime_cs
	t0=$UPTIME_CS
	wait_gone "$pid" "$2"
	uptime_cs
	VM_WAITED=$(((UPTIME_CS - t0) / 100))
	if ! pid_gone "$pid"; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null
	VM_RC=$?
	return 0
}

vm_accel_probe_kvm() {
	local qemu=$1 kernel=$2 initrd=$3 dir=$4 marker=$5 pid
	"$qemu" "${VM_KVM_ARGS[@]}" -m 256 -smp 1 -nodefaults -no-user-config -display none \
		-no-reboot -serial "file:$dir/probe.ttyS0" -serial "file:$dir/probe.ttyS1" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1 xe.probe=1" >"$dir/probe.log" 2>&1 &
	pid=$!
	if ! vm_wait "$pid" "$KVM_PROBE_S"; then
		VM_ACCEL_WHY="the guest did not boot within ${KVM_PROBE_S} s under KVM"
		return 1
	fi
	cat "$dir/probe.ttyS0" "$dir/probe.ttyS1" 2>/dev/null | grep -aq "$marker" && return 0
	VM_ACCEL_WHY="qemu with KVM failed: $(grep -v warning "$dir/probe.log" | tail -1)"
	return 1
}

vm_accel_choose() {
	VM_ACCEL_WHY=""
	case ${VM_ACCEL:-} in
	kvm) VM_ACCEL_NAME=kvm ;;
	tcg) VM_ACCEL_NAME=tcg VM_ACCEL_WHY="VM_ACCEL=tcg" ;;
	*)
		if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
			VM_ACCEL_NAME=tcg VM_ACCEL_WHY="no usable /dev/kvm"
		elif vm_accel_probe_kvm "$@"; then
			VM_ACCEL_NAME=kvm
		else
			VM_ACCEL_NAME=tcg
		fi
		;;
	esac
	if [ "$VM_ACCEL_NAME" = kvm ]; then
		VM_ACCEL_ARGS=("${VM_KVM_ARGS[@]}")
	else
		VM_ACCEL_ARGS=("${VM_TCG_ARGS[@]}")
	fi
}
