#!/bin/bash
# /init of the `make test-kernels` guest (tests/kernels/guest.sh builds it):
# sets up what a Debian host has at boot (proc, sys, devtmpfs, bpffs, tmpfs
# /run and /tmp, a real modprobe for the kernel's module autoloading), runs
# the core (tests/kernels/core.sh, unchanged, in namespaces of its own as on
# the host) with its output on the second serial port (ttyS1: the kernel's
# messages stay on ttyS0), then "XE-KERNEL done rc=N" and powers off.
#
# Kernel command line: xe.script=PATH (default /xe/tests/kernels/core.sh)
#                      xe.rounds=R1,R2 (core.sh's XK_ROUNDS)
#                      xe.probe=1 (only show that the guest boots)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
echo /sbin/modprobe >/proc/sys/kernel/modprobe
# What udev makes (bash's process substitution needs /dev/fd).
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
# What systemd's kmod-static-nodes makes on a host: the tun device node,
# whose first open loads the module.
mkdir -p /dev/net
[ -e /dev/net/tun ] || mknod /dev/net/tun c 10 200
hostname xe-guest
ip link set lo up
out=/dev/ttyS1
[ -e $out ] || out=/dev/console

XE_script=/xe/tests/kernels/core.sh
for w in $(cat /proc/cmdline); do
	case $w in
	xe.*=*) k=${w%%=*}; k=${k#xe.}; eval "XE_$k=\${w#*=}" ;;
	esac
done
if [ -n "${XE_probe:-}" ]; then
	echo "XE-KERNEL probe rc=0" >$out
	poweroff -f
fi
echo "# guest: kernel $(uname -r), $(nproc) CPU(s), $(awk '/MemTotal/ { print $2 / 1024 " MiB" }' /proc/meminfo)" >$out
[ -n "${XE_rounds:-}" ] && export XK_ROUNDS=${XE_rounds//,/ }
cd /xe || exit 1
bash "$XE_script" >$out 2>&1 </dev/null
rc=$?
echo "XE-KERNEL done rc=$rc" >$out
sync
poweroff -f
