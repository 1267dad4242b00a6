#!/bin/bash
# Prometheus metrics: `xdp-egress exporter` in the host ns, a container's
# TCP and UDP through an attachment, then:
# - every egress counter the exporter serves (per reason, packets and
#   bytes) and the return path's lie between `stats --json` just before and
#   just after the scrape; the container label is the container's netns
#   and interface (no daemon here); mode, auto state, fast-path ratio,
#   conntrack occupancy, agent and redirect-error series are there;
# - `promtool check metrics` accepts the output;
# - a real Prometheus server in the world ns (its own config, storage and
#   port in this run's temp dir) scrapes the exporter across the uplink,
#   and /api/v1/query answers with the redirected series at the value
#   `stats --json` has;
# - hostile clients (garbage, a 1 MB header, POST, a wrong path, 20
#   slowloris connections held open) get 4xx or a closed connection, never
#   a crash, and a scrape while the slowloris connections are held answers
#   at once; the server cuts them after its timeout;
# - bad --listen values are refused with what to give.
set -u
source "$(dirname "$0")/../lib/topo.sh"
trap topo_destroy EXIT
trap 'exit 1' INT TERM HUP
need_xe exporter

TOOLS="$TOPO_ROOT/tests/lib/exporter_tools.py"
PORT=9473
ADDR=192.0.2.1   # the host's address on up0: the world scrapes across it
URL="http://$ADDR:$PORT/metrics"
PROM_PORT=9090   # inside the world ns only

for t in promtool prometheus curl python3; do
	command -v "$t" >/dev/null || { fail exporter_setup "$t missing (run make deps: Debian's prometheus, curl)"; exit 1; }
done

topo_create 1 || { fail exporter_setup "could not build the namespaces"; exit 1; }

# Bad --listen: refused before anything starts, saying what to give.
xe_capture exporter --listen 192.0.2.1
check exporter_listen_no_port "want exit 1 and an ADDR:PORT example, got $XE_RC: $XE_ERR" \
	bash -c '[ "$1" = 1 ] && grep -q "is not ADDR:PORT; give e.g. 127.0.0.1:9473" <<<"$2"' _ "$XE_RC" "$XE_ERR"
xe_capture exporter --listen nohost:80
check exporter_listen_bad_host "want an error naming the address, got $XE_RC: $XE_ERR" \
	bash -c '[ "$1" = 1 ] && grep -q "nohost.* is not an IP address" <<<"$2"' _ "$XE_RC" "$XE_ERR"
xe_capture exporter
check exporter_listen_required "want exit 2 and 'give --listen', got $XE_RC: $XE_ERR" \
	bash -c '[ "$1" = 2 ] && grep -q "give --listen ADDR:PORT" <<<"$2"' _ "$XE_RC" "$XE_ERR"

start_iperf_server 5201 || { fail exporter_setup "iperf3 server did not start"; exit 1; }
xe attach --ifname vc1 --uplink up0 >/dev/null 2>"$TOPO_TMP/attach.err" ||
	{ fail exporter_setup "attach failed: $(cat "$TOPO_TMP/attach.err")"; exit 1; }

nsenter --net="/run/netns/$TOPO_HOST" env XDP_EGRESS_BPFFS="$XDP_EGRESS_BPFFS" \
	"$XE_BIN" exporter --listen "$ADDR:$PORT" >>"$TOPO_TMP/exporter.log" 2>&1 &
EXPORTER_PID=$!
TOPO_PIDS+=("$EXPORTER_PID")
wait_listen "$TOPO_HOST" "$PORT" || { fail exporter_listen "not listening on $PORT: $(cat "$TOPO_TMP/exporter.log")"; exit 1; }
# A second one on the same port: refused, saying so.
xe_capture exporter --listen "$ADDR:$PORT"
check exporter_listen_busy "want 'cannot listen ... Address already in use', got $XE_RC: $XE_ERR" \
	bash -c '[ "$1" = 1 ] && grep -q "cannot listen on .*Address already in use; choose another" <<<"$2"' _ "$XE_RC" "$XE_ERR"

scrape() { in_world curl -sS -m 5 -o "$1" -w '%{http_code}' "$URL"; }

# Traffic: bulk TCP (promoted, then redirected; auto mode stays on tc),
# then small UDP datagrams, which make the tuner put native XDP in front:
# one switch, which the record counts.
xe_tune_start
in_c 1 iperf3 -c "$TOPO_WORLD_V4" -t 2 >/dev/null 2>&1 || fail exporter_traffic "iperf3 TCP failed"
in_c 1 iperf3 -c "$TOPO_WORLD_V4" -u -l 64 -b 30M -t 3 >/dev/null 2>&1 || fail exporter_traffic "iperf3 UDP failed"
native_now() { scrape "$TOPO_TMP/m.txt" >/dev/null && grep -q '^xdp_egress_auto_state{.*state="native"} 1$' "$TOPO_TMP/m.txt"; }
check exporter_auto_native "auto_state native never 1: $(grep "^xdp_egress_auto_state" "$TOPO_TMP/m.txt" 2>/dev/null | tr '\n' ' ') tune log: $(tail -2 "$TOPO_TMP/tune.log" | tr '\n' ' ')" \
	wait_until 5 native_now
# The tuner stops here, so that nothing switches while counters are read.
kill "$TUNE_PID" 2>/dev/null
wait "$TUNE_PID" 2>/dev/null

# The same counters as stats --json, bracketed by a reading before and after.
C_LABEL="${TOPO_C[1]}/eth0"
compared=""
for try in 1 2 3; do
	stats_json >"$TOPO_TMP/before.json"
	code=$(scrape "$TOPO_TMP/metrics.txt")
	stats_json >"$TOPO_TMP/after.json"
	if [ "$code" = 200 ] && python3 "$TOOLS" compare "$TOPO_TMP/before.json" \
		"$TOPO_TMP/metrics.txt" "$TOPO_TMP/after.json" vc1 "$C_LABEL" >"$TOPO_TMP/compare.out"; then
		compared=1
		break
	fi
done
if [ -n "$compared" ]; then
	ok exporter_matches_stats
	log "$(tail -1 "$TOPO_TMP/compare.out")"
else
	fail exporter_matches_stats "HTTP $code; $(head -5 "$TOPO_TMP/compare.out" | tr '\n' ';')"
fi
RED=$(jq '.interfaces[] | select(.ifname == "vc1") | .counters.redirected.packets' "$TOPO_TMP/after.json")
check exporter_traffic_redirected "the fast path carried nothing (redirected $RED): no counter to check" \
	test "${RED:-0}" -gt 1000
M="$TOPO_TMP/metrics.txt"
has() { grep -qE "$1" "$M"; }
check exporter_container_label "no series with container=\"$C_LABEL\"" \
	has "^xdp_egress_packets_total\{ifname=\"vc1\",container=\"$C_LABEL\",reason=\"redirected\"\} [1-9]"
check exporter_mode_series "want mode auto = 1, auto_state native = 1, tc = 0, switches = 1: $(grep -E '^xdp_egress_(mode|auto)' "$M" | tr '\n' ' ')" \
	bash -c 'grep -q "^xdp_egress_mode{.*mode=\"auto\"} 1$" "$1" &&
		grep -q "^xdp_egress_mode{.*mode=\"native\"} 0$" "$1" &&
		grep -q "^xdp_egress_auto_state{.*state=\"native\"} 1$" "$1" &&
		grep -q "^xdp_egress_auto_state{.*state=\"tc\"} 0$" "$1" &&
		grep -q "^xdp_egress_auto_switches_total{ifname=\"vc1\".*} 1$" "$1" &&
		grep -q "^xdp_egress_attached{ifname=\"vc1\".*} 1$" "$1"' _ "$M"
check exporter_ratio "xdp_egress_fast_path_ratio not in (0.5, 1]: $(grep '^xdp_egress_fast_path_ratio' "$M")" \
	awk '/^xdp_egress_fast_path_ratio\{/ { found = 1; ok = $2 > 0.5 && $2 <= 1 } END { exit !(found && ok) }' "$M"
CT=$(in_host cat /proc/sys/net/netfilter/nf_conntrack_count)
check exporter_conntrack "want conntrack entries (the host ns has $CT), max, promote/kernel_only maps and the agent up" \
	bash -c 'grep -qE "^xdp_egress_conntrack_entries [1-9]" "$1" &&
		grep -qE "^xdp_egress_conntrack_entries_max [1-9]" "$1" &&
		grep -qE "^xdp_egress_promote_tracked_flows [0-9]" "$1" &&
		grep -qE "^xdp_egress_kernel_only_flows 0$" "$1" &&
		grep -qE "^xdp_egress_agent_up 1$" "$1"' _ "$M"
check exporter_redirect_errors "want a redirect-error series for vc1 and up0: $(grep '^xdp_egress_redirect_errors' "$M" | tr '\n' ' ')" \
	bash -c 'grep -q "^xdp_egress_redirect_errors_total{ifname=\"vc1\"} 0$" "$1" &&
		grep -q "^xdp_egress_redirect_errors_total{ifname=\"up0\"} 0$" "$1"' _ "$M"
[ -n "${EXPORTER_KEEP:-}" ] && cp "$M" "$EXPORTER_KEEP"
if promtool check metrics <"$M" >"$TOPO_TMP/promtool.out" 2>&1; then
	ok exporter_promtool
else
	fail exporter_promtool "$(head -5 "$TOPO_TMP/promtool.out" | tr '\n' ';')"
fi

# A real Prometheus in the world ns scrapes it every second.
mkdir -p "$TOPO_TMP/prom"
cat >"$TOPO_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: xdp-egress
    static_configs:
      - targets: ['$ADDR:$PORT']
EOF
bg "$TOPO_WORLD" prometheus --config.file="$TOPO_TMP/prometheus.yml" \
	--storage.tsdb.path="$TOPO_TMP/prom" --web.listen-address="127.0.0.1:$PROM_PORT" \
	>"$TOPO_TMP/prometheus.log" 2>&1
query() {
	in_world curl -sS -m 3 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1" 2>/dev/null
}
# redirected is still where stats --json left it (the container is idle).
prom_has_value() {
	local v
	v=$(query "xdp_egress_packets_total{ifname=\"vc1\",reason=\"redirected\",job=\"xdp-egress\"}" |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null)
	PROM_VALUE=$v
	[ -n "$v" ] && [ "$v" = "$RED" ]
}
PROM_VALUE=""
t0=$SECONDS
if wait_until 30 prom_has_value; then
	ok exporter_prometheus_query
	log "Prometheus answered $PROM_VALUE (stats --json: $RED) $((SECONDS - t0)) s after it started"
else
	fail exporter_prometheus_query "Prometheus answered '${PROM_VALUE}' for redirected (stats --json: $RED); up: $(query up | jq -c .data.result 2>/dev/null); log: $(tail -3 "$TOPO_TMP/prometheus.log" | tr '\n' ';')"
fi

# Hostile clients, each answered (or cut), then a normal scrape.
hostile() { in_world python3 "$TOOLS" hostile "$ADDR" "$PORT" "$1" 2>&1; }
r=$(hostile garbage)
log "garbage: $r"
check exporter_garbage "garbage: want 400 or a closed connection, got '$r'" \
	bash -c '[[ "$1" == "HTTP/1.1 400"* || "$1" == closed* ]]' _ "$r"
r=$(hostile huge_header)
log "huge_header: $r"
check exporter_huge_header "1 MB header: want 431/413/400 or a closed connection, got '$r'" \
	bash -c '[[ "$1" =~ ^HTTP/1\.1\ (431|413|400) || "$1" == closed* ]]' _ "$r"
r=$(hostile post)
log "post: $r"
check exporter_post "POST: want 405, got '$r'" bash -c '[[ "$1" == "HTTP/1.1 405"* ]]' _ "$r"
r=$(hostile not_found)
log "not_found: $r"
check exporter_not_found "GET /etc/passwd: want 404, got '$r'" bash -c '[[ "$1" == "HTTP/1.1 404"* ]]' _ "$r"
r=$(hostile head)
log "head: $r"
check exporter_head "HEAD /metrics: want 200, got '$r'" bash -c '[[ "$1" == "HTTP/1.1 200"* ]]' _ "$r"

# Slowloris: 20 connections that never finish their request.
ready="$TOPO_TMP/slowloris.ready"
bg "$TOPO_WORLD" python3 "$TOOLS" slowloris "$ADDR" "$PORT" 20 "$ready" >"$TOPO_TMP/slowloris.out" 2>&1
SLOW_PID=$BG_PID
if wait_until 10 test -e "$ready"; then
	t0=$(date +%s.%N)
	code=$(scrape "$TOPO_TMP/metrics2.txt")
	dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	check exporter_scrape_during_slowloris "with 20 slowloris connections held: HTTP $code after ${dt}s (want 200 within 2 s)" \
		bash -c '[ "$1" = 200 ] && awk -v d="$2" "BEGIN { exit !(d < 2) }"' _ "$code" "$dt"
	log "scrape with 20 slowloris connections held: HTTP $code in ${dt} s"
	wait "$SLOW_PID"
	r=$(cat "$TOPO_TMP/slowloris.out")
	check exporter_slowloris_cut "want the server to close all 20 after its 5 s timeout, got '$r'" \
		bash -c '[[ "$1" == "closed 20 after"* ]]' _ "$r"
	log "slowloris: $r"
else
	fail exporter_scrape_during_slowloris "the slowloris client did not connect: $(cat "$TOPO_TMP/slowloris.out")"
fi
code=$(scrape "$TOPO_TMP/metrics3.txt")
check exporter_serves_after_hostile "after the hostile clients: HTTP $code, exporter $(pid_alive "$EXPORTER_PID" && echo alive || echo dead)" \
	bash -c '[ "$1" = 200 ] && grep -q "^xdp_egress_packets_total" "$2"' _ "$code" "$TOPO_TMP/metrics3.txt"
# Prometheus kept scraping through all of it.
check exporter_prometheus_up "Prometheus's up{job=\"xdp-egress\"}: $(query 'up{job="xdp-egress"}' | jq -c .data.result 2>/dev/null)" \
	bash -c '[ "$(jq -r ".data.result[0].value[1]" <<<"$1")" = 1 ]' _ "$(query 'up{job="xdp-egress"}')"

kill "$EXPORTER_PID" 2>/dev/null
wait "$EXPORTER_PID" 2>/dev/null
rc=$?
check exporter_sigterm "exporter exited $rc on SIGTERM (want 0): $(tail -2 "$TOPO_TMP/exporter.log")" test "$rc" = 0
exit 0
