#!/bin/busybox sh
# /init of the test VM's initramfs (tests/lib/vm_guest.sh builds it): load
# virtio-net, configure eth0 from the kernel command line, send ping, UDP
# (DNS queries) and TCP (a bulk upload with nc) to the world, print one
# "XE-VM NAME rc=N ..." line per step on the serial console, power off.
#
# Kernel command line: xe.ip=ADDR/LEN xe.gw=ADDR xe.world=ADDR
#                      xe.tcp_port=PORT xe.tcp_kb=KIB xe.mtu=MTU [xe.probe=1]
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" || echo "XE-VM insmod $m failed"
done
for w in $(cat /proc/cmdline); do
	case $w in
	xe.*=*) k=${w%%=*}; k=${k#xe.}; eval "XE_$k=\${w#*=}" ;;
	esac
done
# xe.probe=1: only show that the guest boots (the test's accelerator probe).
if [ -n "${XE_probe:-}" ]; then
	echo "XE-VM probe rc=0"
	poweroff -f
fi
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ip link set lo up
ip link set eth0 mtu "${XE_mtu:-1500}" up
ip addr add "$XE_ip" dev eth0
ip route add default via "$XE_gw"
echo "XE-VM up rc=0 $(ip -o -4 addr show eth0 | awk '{print $4}') via $XE_gw, kernel $(uname -r)"

ping -c 5 -i 0.2 -W 2 "$XE_world" >/tmp/ping 2>&1
echo "XE-VM ping rc=$? $(grep -o '[0-9]* packets received' /tmp/ping)"

answers=0
for i in 1 2 3 4 5; do
	nslookup "probe$i.xe.test" "$XE_world" >/tmp/dns 2>&1 && grep -q 198.51.100.1 /tmp/dns && answers=$((answers + 1))
done
[ "$answers" = 5 ]
echo "XE-VM udp rc=$? answers=$answers/5"

reply=$(dd if=/dev/zero bs=1024 count="$XE_tcp_kb" 2>/dev/null | nc -w 10 "$XE_world" "$XE_tcp_port")
rc=$?
echo "XE-VM tcp rc=$rc reply=$reply"
echo "XE-VM done"
sync
poweroff -f
