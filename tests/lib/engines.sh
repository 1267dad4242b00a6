# shellcheck shell=bash
# Sourced after topo.sh by the Docker and podman tests: a real dockerd or
# podman API service started inside the host namespace (TOPO_HOST), with its
# data, state, sockets and cgroups of its own; containers from a local
# busybox-static rootfs (no registry) that borrow the host's /usr read-only
# (ENG_USR_VOLUME) for iperf3; captures of what the world receives; and
# helpers to run the xdp-egress daemon. The engines' own MASQUERADE does
# the NAT (the world has no route to their subnets); the fast path carries
# what the kernel translated.
#
#   source tests/lib/topo.sh; source tests/lib/engines.sh
#   trap 'eng_cleanup; topo_destroy' EXIT
#   topo_create 0; docker_up || exit 1
#   dk run -d --name web local/bb sleep 3600
#
# What the engines make outside our folders, and how it is undone:
#   dockerd: /etc/docker/key.json (its identity; no flag moves it) and
#            /run/docker/plugins: removed when this run created them;
#            cgroups under /TOPO_PREFIX-docker (--cgroup-parent): removed.
#   podman:  /run/containers/networks (netavark's IPAM for rootful podman,
#            fixed path), /run/netns/netns-* (removed by `podman rm`),
#            cgroups under /TOPO_PREFIX-podman and libpod_parent/conmon:
#            removed when this run created them.
# Their iptables rules live in the host namespace and die with it.

ENG_DIR=$TOPO_TMP/e            # short: unix socket paths stay < 108 bytes
DOCKER_CLI=/usr/bin/docker     # Debian's docker.io client, by full path
DOCKER_D=$ENG_DIR/docker
PODMAN_D=$ENG_DIR/podman
DOCKER_BIP=10.210.0.1/24       # not routed by the world: Docker's MASQUERADE translates
PODMAN_SUBNET=10.211.0.0/24
DOCKERD_PID=""
PODMAN_SVC_PID=""
DAEMON_PID=""
ENG_CLEAN_PATHS=()             # machine paths this run created, to remove
ENG_CGROUPS=()                 # cgroup names under every hierarchy
mkdir -p "$ENG_DIR"

# engines_need NAME TOOL...: one FAIL line and exit when a tool is missing.
engines_need() {
	local name=$1 t missing=""
	shift
	for t in "$@" python3 tcpdump busybox; do
		command -v "$t" >/dev/null || [ -x "$t" ] || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		fail "$name" "missing:$missing (run make deps)"
		exit 1
	fi
}

# (wait_until SECONDS COMMAND...: topo.sh)

# remember_created PATH: PATH will be removed at cleanup if it does not
# exist now (the engine is about to create it).
remember_created() {
	[ -e "$1" ] || ENG_CLEAN_PATHS+=("$1")
}

# eng_rootfs: ENG_DIR/rootfs (busybox-static and its applets) and
# ENG_DIR/bb.tar, the image's content. lib and lib64 point into /usr, so a
# container run with ENG_USR_VOLUME can also run the host's iperf3 (Debian
# 12 has a merged /usr).
ENG_USR_VOLUME=(-v /usr:/usr:ro)
eng_rootfs() {
	local a r=$ENG_DIR/rootfs
	[ -f "$ENG_DIR/bb.tar" ] && return 0
	mkdir -p "$r/bin" "$r/tmp" "$r/etc" "$r/usr" || return 1
	chmod 1777 "$r/tmp"
	ln -s usr/lib "$r/lib" && ln -s usr/lib64 "$r/lib64" || return 1
	cp "$(command -v busybox)" "$r/bin/busybox" || return 1
	for a in sh ping nc sleep dd cat echo seq usleep ip ls true wc; do
		ln -sf busybox "$r/bin/$a"
	done
	tar -C "$r" -cf "$ENG_DIR/bb.tar" . || return 1
}

# hostif_of_pid PID: the host-side veth (in TOPO_HOST) of the eth0 of PID's
# network namespace, found by the peer ifindex eth0 names.
hostif_of_pid() {
	local idx
	idx=$(nsenter --net="/proc/$1/ns/net" ip -j link show eth0 2>/dev/null | jq '.[0].link_index // empty')
	[ -n "$idx" ] || return 1
	ip -n "$TOPO_HOST" -j link show | jq -r --argjson i "$idx" '.[] | select(.ifindex == $i) | .ifname'
}

# ---- Docker ------------------------------------------------------------

dk() { timeout -k 5 120 "$DOCKER_CLI" "$@"; }

# docker_up: dockerd in TOPO_HOST; exports DOCKER_HOST (read by the client
# and by xdp-egress) and imports the image local/bb.
docker_up() {
	eng_rootfs || { fail docker_setup "cannot build the busybox rootfs"; return 1; }
	mkdir -p "$DOCKER_D"
	remember_created /etc/docker/key.json
	remember_created /run/docker/plugins
	remember_created /run/docker
	ENG_CGROUPS+=("$TOPO_PREFIX-docker")
	export DOCKER_HOST=unix://$DOCKER_D/docker.sock
	dockerd_start || return 1
	if ! dk import "$ENG_DIR/bb.tar" local/bb >/dev/null; then
		fail docker_setup "docker import of the busybox rootfs failed"
		return 1
	fi
}

# dockerd_start: (re)starts dockerd on the same folders.
dockerd_start() {
	nsenter --net="/run/netns/$TOPO_HOST" dockerd \
		--data-root "$DOCKER_D/data" --exec-root "$DOCKER_D/x" \
		-H "unix://$DOCKER_D/docker.sock" --pidfile "$DOCKER_D/docker.pid" \
		--bip "$DOCKER_BIP" --cgroup-parent "/$TOPO_PREFIX-docker" \
		--shutdown-timeout 2 --log-level warn >>"$DOCKER_D/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	if ! wait_until 60 dk version >/dev/null 2>&1; then
		fail docker_setup "dockerd did not answer on $DOCKER_HOST within 60 s: $(tail -5 "$DOCKER_D/dockerd.log" | tr '\n' ' ')"
		return 1
	fi
}

docker_down() {
	local ids
	[ -n "$DOCKERD_PID" ] || return 0
	ids=$(dk ps -aq 2>/dev/null)
	[ -n "$ids" ] && dk rm -f $ids >/dev/null 2>&1
	dockerd_stop
}

# dockerd_stop: SIGTERM (it stops its containers), SIGKILL after 30 s.
dockerd_stop() {
	local m
	[ -n "$DOCKERD_PID" ] || return 0
	if ! stop_pid "$DOCKERD_PID" 30; then
		# its containerd would outlive it
		m=$(cat "$DOCKER_D/x/containerd/containerd.pid" 2>/dev/null)
		[ -n "$m" ] && kill -KILL "$m" 2>/dev/null
	fi
	wait "$DOCKERD_PID" 2>/dev/null
	DOCKERD_PID=""
}

# ---- podman ------------------------------------------------------------

# pm ARGS...: podman with every path of its own (see RECIPES.md for why
# runc, cgroupfs, the file events backend and the limits). CONTAINER_HOST
# would turn the client remote, so it is cleared here.
pm() {
	env -u CONTAINER_HOST timeout -k 5 120 nsenter --net="/run/netns/$TOPO_HOST" \
		podman --root "$PODMAN_D/root" --runroot "$PODMAN_D/run" \
		--tmpdir "$PODMAN_D/tmp" --network-config-dir "$PODMAN_D/net" \
		--cgroup-manager cgroupfs --events-backend file --runtime runc "$@"
}

# pm_run NAME ARGS... -- on network xenet, from the busybox rootfs.
pm_run() {
	local name=$1
	shift
	# NET_RAW: podman leaves it out by default; ping needs it.
	pm run -d --name "$name" --network xenet --cgroup-parent "/$TOPO_PREFIX-podman" \
		--cap-add NET_RAW \
		--ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$@" \
		--rootfs "$ENG_DIR/rootfs" sleep 3600
}

# podman_up: `podman system service` in TOPO_HOST on PODMAN_SOCK and a
# network xenet (PODMAN_SUBNET).
podman_up() {
	eng_rootfs || { fail podman_setup "cannot build the busybox rootfs"; return 1; }
	mkdir -p "$PODMAN_D/net"
	remember_created /run/containers
	remember_created /run/containers/networks
	ENG_CGROUPS+=("$TOPO_PREFIX-podman")
	[ -e /sys/fs/cgroup/memory/libpod_parent ] || ENG_CGROUPS+=(libpod_parent)
	PODMAN_SOCK=$PODMAN_D/podman.sock
	env -u CONTAINER_HOST nsenter --net="/run/netns/$TOPO_HOST" \
		podman --root "$PODMAN_D/root" --runroot "$PODMAN_D/run" \
		--tmpdir "$PODMAN_D/tmp" --network-config-dir "$PODMAN_D/net" \
		--cgroup-manager cgroupfs --events-backend file --runtime runc \
		system service --time=0 "unix://$PODMAN_SOCK" >"$PODMAN_D/service.log" 2>&1 &
	PODMAN_SVC_PID=$!
	if ! wait_until 30 test -S "$PODMAN_SOCK"; then
		fail podman_setup "podman system service made no socket in 30 s: $(tail -5 "$PODMAN_D/service.log" | tr '\n' ' ')"
		return 1
	fi
	if ! pm network create --subnet "$PODMAN_SUBNET" xenet >/dev/null; then
		fail podman_setup "podman network create failed"
		return 1
	fi
}

podman_down() {
	local n
	local keys
	[ -n "$PODMAN_SVC_PID" ] || return 0
	# The namespaces of this podman's own containers (its root is ours
	# alone), so that another run's podman keeps its namespaces.
	keys=$(pm ps -aq 2>/dev/null)
	[ -n "$keys" ] && keys=$(pm inspect -f '{{.NetworkSettings.SandboxKey}}' $keys 2>/dev/null)
	pm rm -f -a -t 0 >/dev/null 2>&1
	pm network rm -f xenet >/dev/null 2>&1
	stop_pid "$PODMAN_SVC_PID" 10
	PODMAN_SVC_PID=""
	# Those podman made and did not remove.
	for n in $keys; do
		case $n in /run/netns/netns-*) ;; *) continue ;; esac
		[ -e "$n" ] || continue
		umount "$n" 2>/dev/null
		rm -f "$n"
	done
}

# ---- the xdp-egress daemon ----------------------------------------------

DAEMON_RUN=$ENG_DIR/xe-run
DAEMON_LOG=$ENG_DIR/xe-daemon.log

# daemon_start ARGS...: `xdp-egress daemon --run-dir DAEMON_RUN ARGS` in
# TOPO_HOST, logging to DAEMON_LOG; waits until it follows the events.
daemon_start() {
	local from
	from=$(wc -l <"$DAEMON_LOG" 2>/dev/null || echo 0)
	nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
		"$XE_BIN" daemon --run-dir "$DAEMON_RUN" "$@" 2>>"$DAEMON_LOG" &
	DAEMON_PID=$!
	wait_until 20 daemon_log_since "$from" "following .* events"
}

# daemon_log_since LINE REGEX: REGEX appears in the log after line LINE.
daemon_log_since() {
	tail -n +"$(($1 + 1))" "$DAEMON_LOG" 2>/dev/null | grep -qE "$2"
}

# daemon_stop: SIGTERM; returns its exit status (124 if it hung).
daemon_stop() {
	local rc
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	if ! wait_gone "$DAEMON_PID" 5; then
		kill -KILL "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_PID=""
		return 124
	fi
	wait "$DAEMON_PID"
	rc=$?
	DAEMON_PID=""
	return $rc
}

# attached_ifnames: the ifnames `status --json` lists, one a line.
attached_ifnames() {
	xe status --json 2>/dev/null | jq -r '.attachments[]?.ifname'
}
is_attached() { attached_ifnames | grep -qx "$1"; }
not_attached() { ! is_attached "$1"; }

# ---- the world side -----------------------------------------------------

# world_servers PREFIX: iperf3 (5201) and a UDP echo (7, the tools of
# snat_tools) in the world; a FAIL PREFIX_setup when one does not start.
world_servers() {
	start_iperf_server 5201 || { fail "$1_setup" "iperf3 server did not start in the world"; return 1; }
	snat_tools
	start_py_server udp 7 "$ENG_DIR/peers" || { fail "$1_setup" "the world's UDP echo did not start"; return 1; }
}
# udp_flow PID SPORT COUNT GAP: one UDP request/response flow to the
# world's echo from the container of PID (its network namespace), printing
# udpx's JSON.
udp_flow() { nsenter --net="/proc/$1/ns/net" "$PY3" "$SNAT_TOOLS" udpx "$TOPO_WORLD_V4" 7 "$2" "$3" "$4"; }
# restart_flow_start PREFIX PID IFNAME COUNT (needs tests/lib/checks.sh):
# a UDP request/response flow (udp_flow, COUNT datagrams 0.1 s apart) from
# the container of PID, in the background (RESTART_FLOW_PID; its JSON in
# $ENG_DIR/restart-flow.json; RESTART_R0: IFNAME's redirected before it).
# Checks PREFIX_flow_carried: the fast path carries it.
restart_flow_start() {
	RESTART_R0=$(counter "$(stats_json --ifname "$3")" redirected)
	udp_flow "$2" 5302 "$4" 0.1 >"$ENG_DIR/restart-flow.json" 2>&1 &
	RESTART_FLOW_PID=$!
	check "$1_flow_carried" "the flow from $3: redirected did not grow by 5 within 5 s of its start (from $RESTART_R0)" \
		wait_until 5 redirected_reached --ifname "$3" $((RESTART_R0 + 5))
}
# restart_flow_goes_on PREFIX IFNAME: checks PREFIX_away_flow_carried: with
# the daemon stopped, the fast path goes on carrying the flow (or the flow
# is over already: a daemon slow to stop on a busy machine; its end is
# checked as a whole after the restart).
restart_flow_goes_on() {
	local r
	r=$(counter "$(stats_json --ifname "$2")" redirected)
	check "$1_away_flow_carried" "with the daemon stopped, the flow from $2 goes on but redirected did not grow by 5 within 5 s (from $r)" \
		wait_until 5 restart_flow_progressed "$2" $((r + 5))
}
restart_flow_progressed() {
	pid_gone "$RESTART_FLOW_PID" || redirected_reached --ifname "$1" "$2"
}

# ping_source NAME EXEC...: PING_SRC, the source address(es) the world
# sees on two pings run by EXEC (`dk exec c1`), one line; checks
# NAME_capture.
ping_source() {
	local name=$1 f=$ENG_DIR/$1.pcap
	shift
	check "${name}_capture" "tcpdump in the world did not start: $(cat "$f.err" 2>/dev/null)" \
		capture_start "$f" icmp
	"$@" ping -c 2 -W 2 "$TOPO_WORLD_V4" >/dev/null
	capture_stop
	PING_SRC=$(tcpdump -nr "$f" 'icmp[icmptype] = icmp-echo' 2>/dev/null | awk '{print $3}' | sort -u | tr '\n' ' ')
}

# ---- cleanup ------------------------------------------------------------

# eng_cleanup: daemon, containers, engines, their mounts, cgroups and the
# machine paths this run created. Safe to call twice and from a trap.
eng_cleanup() {
	local m cg p
	trap '' INT TERM HUP # the cleanup runs to its end (see topo_destroy)
	daemon_stop >/dev/null 2>&1
	# A failed run shows what the daemon said.
	if [ "$TOPO_FAILED" -gt 0 ] && [ -s "$DAEMON_LOG" ]; then
		echo "# the daemon's log (last 80 lines):"
		tail -n 80 "$DAEMON_LOG" | sed 's/^/#   /'
	fi
	docker_down
	podman_down
	# Anything still mounted below our folder (overlays, shm, netns).
	for m in $(findmnt -rn -o TARGET 2>/dev/null | grep "^$ENG_DIR/" | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	for cg in "${ENG_CGROUPS[@]}"; do
		for p in /sys/fs/cgroup/*/"$cg"; do
			[ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	done
	ENG_CGROUPS=()
	for p in "${ENG_CLEAN_PATHS[@]}"; do
		case $p in
		/etc/docker/key.json) rm -f "$p" ;;
		*) rm -rf "$p" ;;
		esac
	done
	ENG_CLEAN_PATHS=()
	findmnt -rn -o TARGET 2>/dev/null | grep -q "^$ENG_DIR/" || rm -rf "$ENG_DIR"
}
