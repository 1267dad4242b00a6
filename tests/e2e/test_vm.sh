#!/bin/bash
# A real VM's egress through xdp-egress: qemu-system-x86_64 (KVM, or TCG
# when /dev/kvm is missing) boots a Debian kernel with a busybox initramfs
# (tests/lib/vm_guest.sh) on a tap device in the host namespace. The guest
# pings the world, sends DNS queries (UDP) and uploads over TCP (busybox nc).
# The host MASQUERADEs the VM's subnet (the world has no route to it), so
# the world sees only 192.0.2.1. `attach --tap` puts the egress program on
# the tap with the guest's address (--source) and MAC (--source-mac), which
# attach cannot read from a guest: the upload is carried by the fast path
# once the kernel accepted it (ping and each DNS query, a flow of one
# datagram, are the kernel's), with the kernel's translation, and the
# world's ACKs come back through the return path into the tap.
#
#   VM (qemu)                host ns                                world ns
#   eth0 10.232.0.2 ==tap== tapvm0 10.232.0.1
#   52:54:00:e9:00:02        up0 192.0.2.1 (MASQUERADE) ============ eth0 192.0.2.2
#                                                                    DNS :53, TCP sink :5001
#
# Native and generic mode run with the guest's checksum offload off
# (virtio-net csum=off): like a container's tx-checksumming, a partial
# checksum does not survive a native redirect, and attach cannot reach
# into a guest. tc mode (what auto runs on a tap) keeps the guest's
# default offloads: it translates partial checksums and TSO super-packets.
# Without --source a tap's every packet takes the kernel path
# (pass_spoofed): the last round shows that, and that traffic still flows.
#
# tests/run.sh's limit for this script (three VM boots of up to
# VM_TIMEOUT each, doubled under TCG):
# timeout: 1200
set -u
source "$(dirname "$0")/../lib/topo.sh"
source "$(dirname "$0")/../lib/checks.sh"
QEMU_PID=""
vm_cleanup() {
	stop_pid "$QEMU_PID" 2
	topo_destroy
}
trap vm_cleanup EXIT
trap 'exit 1' INT TERM HUP
need_xe vm
QEMU=$(command -v qemu-system-x86_64) || { fail vm_setup "qemu-system-x86_64 missing (make deps)"; exit 1; }
VM_TIMEOUT=${VM_TIMEOUT:-90}
TCP_KB=4096
TAP=tapvm0
VM_IP=10.232.0.2
VM_MAC=52:54:00:e9:00:02

# The guest: kernel and initramfs, cached in build/vm.
GUEST=$(bash "$TOPO_ROOT/tests/lib/vm_guest.sh" 2>"$TOPO_TMP/guest.err") || {
	fail vm_setup "cannot build the guest: $(cat "$TOPO_TMP/guest.err")"
	exit 1
}
KERNEL=$(sed -n 1p <<<"$GUEST")
INITRD=$(sed -n 2p <<<"$GUEST")
# KVM when /dev/kvm is there and the guest really boots on it, else TCG
# (tests/lib/vm_accel.sh; VM_ACCEL=kvm|tcg forces).
source "$TOPO_ROOT/tests/lib/vm_accel.sh"
vm_accel_choose "$QEMU" "$KERNEL" "$INITRD" "$TOPO_TMP" "XE-VM probe rc=0"
ACCEL=("${VM_ACCEL_ARGS[@]}")
[ -n "$VM_ACCEL_WHY" ] && log "$VM_ACCEL_WHY: TCG"
[ "$VM_ACCEL_NAME" = tcg ] && VM_TIMEOUT=$((VM_TIMEOUT * 2))
log "guest: $(basename "$KERNEL") ($(du -h "$KERNEL" | cut -f1)), initramfs $(du -h "$INITRD" | cut -f1), accel $VM_ACCEL_NAME"

topo_create 0 || { fail vm_setup "could not build the namespaces"; exit 1; }
ip -n "$TOPO_HOST" tuntap add dev "$TAP" mode tap || { fail vm_setup "cannot create a tap"; exit 1; }
ip -n "$TOPO_HOST" addr add 10.232.0.1/24 dev "$TAP"
ip -n "$TOPO_HOST" link set "$TAP" up
# The node's NAT: the world has no route to the VM's subnet.
in_host iptables -t nat -A POSTROUTING -s 10.232.0.0/24 -o up0 -j MASQUERADE ||
	{ fail vm_setup "cannot add the host's MASQUERADE rule"; exit 1; }

# The world's services: a DNS responder (every A query -> 198.51.100.1) and
# a TCP sink that reads the expected upload, answers "OK BYTES" and logs it.
cat >"$TOPO_TMP/world.py" <<'EOF'
import socket, sys, threading
expect = int(sys.argv[1])
log = open(sys.argv[2], "a", buffering=1)
def dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 53))
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 12:
            continue
        end = q.index(b"\0", 12) + 5            # question: name, type, class
        hdr = q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01\x00\x00\x00\x00"
        ans = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([198, 51, 100, 1])
        s.sendto(hdr + q[12:end] + ans, peer)
        log.write("dns %s\n" % peer[0])
def tcp():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5001))
    s.listen(4)
    while True:
        c, peer = s.accept()
        n = 0
        c.settimeout(30)
        try:
            while n < expect:
                b = c.recv(65536)
                if not b:
                    break
                n += len(b)
            c.sendall(b"OK %d\n" % n)
        except OSError:
            pass
        c.close()
        log.write("tcp %s %d\n" % (peer[0], n))
threading.Thread(target=dns, daemon=True).start()
tcp()
EOF
bg "$TOPO_WORLD" python3 "$TOPO_TMP/world.py" $((TCP_KB * 1024)) "$TOPO_TMP/world.log"
wait_listen "$TOPO_WORLD" 5001 || { fail vm_setup "the world's TCP sink did not start"; exit 1; }
wait_listen "$TOPO_WORLD" 53 udp || { fail vm_setup "the world's DNS responder did not start"; exit 1; }
in_host ping -c 1 -W 1 "$TOPO_WORLD_V4" >/dev/null

# boot_vm NAME DEVICE_OPTS: boots the guest on the tap, waits until it
# powers off (or VM_TIMEOUT), leaves the console in $TOPO_TMP/NAME.console.
boot_vm() {
	local name=$1 devopts=$2
	: >"$TOPO_TMP/$name.console"
	nsenter --net="/run/netns/$TOPO_HOST" "$QEMU" "${ACCEL[@]}" -m 256 -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$TOPO_TMP/$name.console" \
		-kernel "$KERNEL" -initrd "$INITRD" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1 xe.ip=$VM_IP/24 xe.gw=10.232.0.1 xe.world=$TOPO_WORLD_V4 xe.tcp_port=5001 xe.tcp_kb=$TCP_KB" \
		-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$VM_MAC$devopts" \
		>"$TOPO_TMP/$name.qemu.log" 2>&1 &
	QEMU_PID=$!
	if ! vm_wait "$QEMU_PID" "$VM_TIMEOUT"; then
		QEMU_PID=""
		VM_SECONDS="timeout"
		return 1
	fi
	QEMU_PID=""
	VM_SECONDS=$VM_WAITED
	[ "$VM_RC" = 0 ] && grep -aq "^XE-VM done" "$TOPO_TMP/$name.console"
}

# vm_step NAME: the guest's "XE-VM NAME rc=N ..." line.
vm_step() {
	grep -a "^XE-VM $2 " "$TOPO_TMP/$1.console" | tail -1 | tr -d '\r'
}

# run_vm NAME MODE [ATTACH_ARGS...] / DEVICE_OPTS in $DEVOPTS: one VM behind
# xdp-egress. ATTACH_ARGS default to the guest's --source and --source-mac;
# "none": no more options (NAME ending in _nosource: the kernel carries
# everything).
run_vm() {
	local t=vm_$1 mode=$2 s0 s1 r0 r1 rx0 rx red redb pass icmp spoofed ret step line world_node world_vm tcp_line
	shift 2
	local args=("$@")
	[ ${#args[@]} = 0 ] && args=(--source "$VM_IP" --source-mac "$VM_MAC")
	[ "${args[*]}" = none ] && args=()
	if ! xe_capture attach --tap "$TAP" --mode "$mode" --uplink up0 "${args[@]}"; then
		fail "${t}_attach" "attach --tap exited $XE_RC: $XE_ERR"
		return
	fi
	ok "${t}_attach"
	sed 's/^/#   /' <<<"$XE_OUT"
	s0=$(stats_json --tap "$TAP")
	r0=$(stats_json)
	rx0=$(ip -n "$TOPO_HOST" -j -s link show "$TAP" | jq '.[0].stats64.rx.packets')
	: >"$TOPO_TMP/world.log"
	capture_start "$TOPO_TMP/$t.pcap" ip ||
		fail "${t}_capture" "tcpdump in the world did not start: $(cat "$TOPO_TMP/$t.pcap.err")"

	if boot_vm "$t" "$DEVOPTS"; then
		ok "${t}_boot"
		log "$t: the VM ran ${VM_SECONDS} s and powered off; $(vm_step "$t" up)"
	else
		fail "${t}_boot" "the VM did not run to its end within ${VM_TIMEOUT} s ($VM_SECONDS); console: $(tail -c 600 "$TOPO_TMP/$t.console" | tr '\n' ' ') qemu: $(tail -c 300 "$TOPO_TMP/$t.qemu.log")"
	fi
	for step in ping udp tcp; do
		line=$(vm_step "$t" "$step")
		if [[ "$line" == *" rc=0"* ]]; then
			ok "${t}_$step"
			log "$line"
		else
			fail "${t}_$step" "guest says: '${line:-nothing}'; console tail: $(tail -c 400 "$TOPO_TMP/$t.console" | tr '\n' ' ')"
		fi
	done
	tcp_line=$(grep '^tcp ' "$TOPO_TMP/world.log" | tail -1)
	if [ "$(awk '{print $3}' <<<"$tcp_line")" = $((TCP_KB * 1024)) ]; then
		ok "${t}_tcp_bytes"
	else
		fail "${t}_tcp_bytes" "the world's sink logged '$tcp_line', want $((TCP_KB * 1024)) bytes"
	fi

	capture_stop
	world_node=$(tcpdump -n -r "$TOPO_TMP/$t.pcap" 'src host 192.0.2.1' 2>/dev/null | wc -l)
	world_vm=$(tcpdump -n -r "$TOPO_TMP/$t.pcap" 'src net 10.232.0.0/24' 2>/dev/null | wc -l)
	if [ "$world_node" -gt 100 ] && [ "$world_vm" = 0 ]; then
		ok "${t}_world_sees_node_address_only"
	else
		fail "${t}_world_sees_node_address_only" "the world saw $world_node packets from 192.0.2.1 and $world_vm from the VM's address"
	fi
	# The translated packets' IP and L4 checksums, as tcpdump -vv verifies
	# them (a veth never checks a checksum it was handed as partial).
	bad_csum=$(tcpdump -vv -n -r "$TOPO_TMP/$t.pcap" 'src host 192.0.2.1' 2>/dev/null | grep -c 'incorrect')
	if [ "$bad_csum" = 0 ]; then
		ok "${t}_world_checksums"
	else
		fail "${t}_world_checksums" "$bad_csum translated packets reached the world with a wrong checksum: $(tcpdump -vv -n -r "$TOPO_TMP/$t.pcap" 'src host 192.0.2.1' 2>/dev/null | grep -m1 incorrect)"
	fi

	s1=$(stats_json --tap "$TAP")
	r1=$(stats_json)
	rx=$(($(ip -n "$TOPO_HOST" -j -s link show "$TAP" | jq '.[0].stats64.rx.packets') - rx0))
	red=$(($(counter "$s1" redirected) - $(counter "$s0" redirected)))
	pass=$(($(pass_total "$s1") - $(pass_total "$s0")))
	icmp=$(($(counter "$s1" pass_icmp) - $(counter "$s0" pass_icmp)))
	spoofed=$(($(counter "$s1" pass_spoofed) - $(counter "$s0" pass_spoofed)))
	ret=$(($(return_counter "$r1" redirected) - $(return_counter "$r0" redirected)))
	redb=$(($(counter "$s1" redirected bytes) - $(counter "$s0" redirected bytes)))
	log "$t: the tap received $rx frames from the guest; XDP redirected $red ($redb bytes), passed $pass ($(counters_brief "$s1")); the return path redirected $ret into the tap"
	if [[ "$t" == *_nosource ]]; then
		# No --source: every IPv4 packet of the guest is the kernel's.
		if [ "$red" = 0 ] && [ "$spoofed" -ge $((rx * 9 / 10)) ] && [ "$ret" = 0 ]; then
			ok "${t}_kernel_path"
		else
			fail "${t}_kernel_path" "without --source: redirected $red (want 0), pass_spoofed $spoofed of $rx frames, return path $ret (want 0); $(counters_brief "$s1")"
		fi
	# The upload, but for its first packets (the handshake, those before
	# the agent promotes it); the pings, each DNS query (a flow of one
	# datagram), ARP and the guest's IPv6 chatter are the kernel's. In tc
	# mode the guest's TSO sends the upload in fewer, larger frames.
	elif [ "$redb" -ge $((TCP_KB * 1024 * 9 / 10)) ] && [ "$pass" -le 80 ] && [ "$icmp" -ge 5 ] &&
		[ "$(counter "$s1" drop_malformed)" = 0 ] && [ "$(counter "$s1" redirect_err)" = 0 ]; then
		ok "${t}_redirected"
	else
		fail "${t}_redirected" "tap received $rx frames; redirected $red ($redb bytes, want >= 90% of $((TCP_KB * 1024))), passed $pass (want <= 80), pass_icmp $icmp (want >= 5); $(counters_brief "$s1")"
	fi
	# The world's ACKs: MASQUERADE undone, delivered to the guest's MAC.
	if [[ "$t" != *_nosource ]]; then
		check "${t}_return_path" "the return path on up0 redirected $ret packets into the tap during the upload (want > 100): $(jq -c '.uplinks' <<<"$r1" | head -c 600)" \
			test "$ret" -gt 100
	fi
	xe stats --tap "$TAP" | sed 's/^/#   /'
	if xe_capture detach --tap "$TAP" && no_xdp_anywhere && pins_gone && ns_state_gone; then
		ok "${t}_detach"
	else
		fail "${t}_detach" "detach exited $XE_RC ($XE_ERR), or left XDP/pins/the agent/the nft table behind: $(ns_state_brief)"
	fi
}

# The guest's checksum offload off (csum=off, which takes its TSO with it);
# VM_DEVOPTS replaces it, e.g. VM_DEVOPTS= to see what the defaults do.
DEVOPTS=${VM_DEVOPTS-,csum=off}
for mode in ${VM_MODES:-native generic tc}; do
	if [ "$mode" != tc ]; then
		run_vm "$mode" "$mode"
		continue
	fi
	# tc mode keeps the guest's default offloads: its partial checksums
	# and TSO super-packets go out as they are, the kernel's translation
	# applied by the fast path updating the partial
	# checksum. up0 finishes them in software for this round (tx, TSO
	# and GSO off), so the world's tcpdump verifies what the translation wrote.
	up_off=$(for f in tx-checksumming tcp-segmentation-offload generic-segmentation-offload; do offload "$TOPO_HOST" up0 "$f"; done | tr '\n' ' ')
	ip netns exec "$TOPO_HOST" ethtool -K up0 tx off tso off gso off
	DEVOPTS=${VM_DEVOPTS-} run_vm tc tc
	read -r o_tx o_tso o_gso <<<"$up_off"
	ip netns exec "$TOPO_HOST" ethtool -K up0 tx "$o_tx" tso "$o_tso" gso "$o_gso"
done
# No --source (and so no --source-mac): attached, warned, everything the
# kernel's, the guest's traffic unharmed.
[ -z "${VM_MODES:-}" ] && run_vm generic_nosource generic none

# ---- the tap goes away with its VM: detach --tap cleans up after it -------
if xe_capture attach --tap "$TAP" --uplink up0 --source "$VM_IP" --source-mac "$VM_MAC"; then
	ip -n "$TOPO_HOST" link del "$TAP"
	if xe_capture detach --tap "$TAP" && no_xdp_anywhere && pins_gone && ns_state_gone; then
		ok vm_detach_after_tap_gone
	else
		fail vm_detach_after_tap_gone "detach --tap after the tap went: exit $XE_RC: $XE_ERR"
	fi
else
	fail vm_detach_after_tap_gone "attach --tap exited $XE_RC: $XE_ERR"
fi

# ---- bad input -------------------------------------------------------------
ip -n "$TOPO_HOST" tuntap add dev tunl3 mode tun
ip -n "$TOPO_HOST" link set tunl3 up
# bad NAME MENTION ARGS...: attach must fail with "xdp-egress: ..." naming
# MENTION and leave nothing behind.
bad() {
	local t=vm_bad_$1 mention=$2
	shift 2
	xe_capture attach "$@"
	check_refused "$t" "$mention" "attach $*"
}
bad no_such_tap "no tap device 'tapnope'" --tap tapnope --uplink up0
bad not_a_tap "not a tap" --tap up0
bad layer3_tun "layer-3" --tap tunl3 --uplink up0
bad tap_and_ifname "one of --ifname or --tap" --tap tunl3 --ifname up0

exit $((TOPO_FAILED > 0))
