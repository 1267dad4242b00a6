#!/bin/bash
# A real dockerd in the host namespace (tests/lib/engines.sh): Docker's own
# netfilter decides, the kernel path is the oracle, then xdp-egress in
# every mode attached by `attach --docker c1`:
# - an operator's DOCKER-USER DROP of the cloud metadata address
#   169.254.169.254 (which the world owns and serves), TCP and UDP;
# - Docker's network isolation: c1 (default bridge) cannot reach c3 on a
#   user network (DOCKER-ISOLATION-STAGE-*), TCP and UDP;
# - a published port (-p 18080:8080 on c1, Docker's DNAT) reached from the
#   world;
# - Docker's MASQUERADE: c1's TCP and UDP to the world are answered, the
#   world sees the node's address, and the fast path carries them.
set -u
source "$(dirname "$0")/../lib/exact.sh"
source "$(dirname "$0")/../lib/engines.sh"
trap exact_cleanup EXIT
trap 'exit 1' INT TERM HUP
exact_on_exit eng_cleanup
exact_need docker_exact_setup
engines_need docker_exact_setup dockerd "$DOCKER_CLI"

W=$TOPO_WORLD_V4
topo_create 0 || { fail docker_exact_setup "could not build the namespaces"; exit 1; }
topo_world_no_return >/dev/null
docker_up || exit 1
world_owns 169.254.169.254
serve "$TOPO_WORLD" world 8080 5353 || { fail docker_exact_setup "world server did not start"; exit 1; }

pid_of() { dk inspect -f '{{.State.Pid}}' "$1"; }
ip_of() { dk inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
dk network create --subnet 10.212.0.0/24 xenet >/dev/null &&
	dk run -d --name c1 -p 18080:8080 -p 18080:8080/udp local/bb sleep 3600 >/dev/null &&
	dk run -d --name c3 --network xenet local/bb sleep 3600 >/dev/null ||
	{ fail docker_exact_setup "docker run failed: $(tail -3 "$DOCKER_D/dockerd.log" | tr '\n' ' ')"; exit 1; }
C1_NS=/proc/$(pid_of c1)/ns/net
C3_NS=/proc/$(pid_of c3)/ns/net
C3_IP=$(ip_of c3)
serve "$C1_NS" c1 8080 8080 &&
	serve "$C3_NS" c3 8080 5353 ||
	{ fail docker_exact_setup "container servers did not start"; exit 1; }
in_host iptables -I DOCKER-USER -d 169.254.169.254 -m comment --comment "no metadata for containers" -j DROP ||
	{ fail docker_exact_setup "DOCKER-USER rule failed"; exit 1; }
ok docker_exact_setup
log "c1 $(ip_of c1) on docker0 ($(hostif_of_pid "$(pid_of c1)")), c3 $C3_IP on xenet"

for ROUND in "${EXACT_ROUNDS[@]}"; do
	exact_round_start "--docker c1" || continue
	warm_neigh
	R=docker

	# Docker's MASQUERADE, fast-pathed.
	s0=$(stats_json)
	r=$(py_x "$C1_NS" ask tcp "$W" 8080 --rounds 40 --gap 0.005)
	same_as_kernel ${R}_world_tcp "$(ask_outcome "$r")" "^answered=40/40 names=world seen=192.0.2.1 error=none$"
	r=$(py_x "$C1_NS" ask udp "$W" 5353 --rounds 40 --gap 0.005)
	same_as_kernel ${R}_world_udp "$(ask_outcome "$r")" "^answered=40/40 names=world seen=192.0.2.1 error=none$"
	s1=$(stats_json)
	fast_path ${R}_world "$s0" "$s1" 40 40

	# The drops: DOCKER-USER and the isolation between networks.
	par_ask du_tcp "$C1_NS" tcp 169.254.169.254 8080 --timeout 1
	par_ask du_udp "$C1_NS" udp 169.254.169.254 5353 --rounds 2 --timeout 0.5
	par_ask iso_tcp "$C1_NS" tcp "$C3_IP" 8080 --timeout 1
	par_ask iso_udp "$C1_NS" udp "$C3_IP" 5353 --rounds 2 --timeout 0.5
	par_wait
	same_as_kernel ${R}_docker_user_drop_tcp "$(ask_outcome "$(par_result du_tcp)")" "^answered=0/1 names= seen= error=timeout$"
	same_as_kernel ${R}_docker_user_drop_udp "$(ask_outcome "$(par_result du_udp)")" "^answered=0/2 names= seen= error=timeout$"
	same_as_kernel ${R}_isolation_tcp "$(ask_outcome "$(par_result iso_tcp)")" "^answered=0/1 names= seen= error=timeout$"
	same_as_kernel ${R}_isolation_udp "$(ask_outcome "$(par_result iso_udp)")" "^answered=0/2 names= seen= error=timeout$"
	log "DOCKER-USER drop counted $(in_host iptables -L DOCKER-USER -v -x -n | awk '/169.254.169.254/ { print $1 }') packets so far"

	# A published port, from the world (Docker's DNAT; the reply leaves
	# from the container).
	s0=$(stats_json)
	r=$(py_x "$TOPO_WORLD" ask tcp "$NODE_V4" 18080 --rounds 30 --gap 0.005)
	same_as_kernel ${R}_published_port_tcp "$(ask_outcome "$r")" "^answered=30/30 names=c1 seen=192.0.2.2 error=none$"
	r=$(py_x "$TOPO_WORLD" ask udp "$NODE_V4" 18080 --rounds 30 --gap 0.005)
	same_as_kernel ${R}_published_port_udp "$(ask_outcome "$r")" "^answered=30/30 names=c1 seen=192.0.2.2 error=none$"
	s1=$(stats_json)
	[ "$ROUND" != kernel ] && log "published port ($ROUND): $(counters_delta_brief "$s0" "$s1")"
	exact_round_end
done

exit $((TOPO_FAILED > 0))
