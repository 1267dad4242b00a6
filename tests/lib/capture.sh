# shellcheck shell=bash
# Sourced by tests/lib/topo.sh: tcpdump in the world namespace, started
# once it listens and stopped once it has written what it was given.
# --immediate-mode: libpcap's TPACKET_V3 ring otherwise hands packets over
# a block at a time, up to a second late (seen here: a ping written 0.96 s
# after it was answered), and a capture stopped once its file stopped
# growing would miss them.

# world_capture_start FILTER: tcpdump in the world on eth0, one line per
# packet matching FILTER, into $TOPO_TMP/capture.txt. world_capture_stop
# ends it; then capture.txt holds what was seen.
world_capture_start() {
	: >"$TOPO_TMP/capture.txt"
	bg "$TOPO_WORLD" tcpdump -l -nn -i eth0 -s 128 --immediate-mode "$1" >"$TOPO_TMP/capture.txt" 2>"$TOPO_TMP/capture.err"
	CAPTURE_PID=$BG_PID
	wait_until 5 file_has "$TOPO_TMP/capture.err" 'listening on'
}
# world_capture_stop: once tcpdump has printed all it was given.
world_capture_stop() {
	wait_quiet "$TOPO_TMP/capture.txt"
	stop_pid "$CAPTURE_PID" 2
}

# capture_start FILE FILTER: tcpdump in TOPO_WORLD of what eth0 receives
# (headers only, written packet by packet: keep FILTER to what a check
# counts, as every packet costs a write) into the pcap FILE; returns
# once it listens (1 if it did not within 5 s: FILE.err says why).
# CAPTURE_PIDS collects them for capture_stop.
CAPTURE_PIDS=()
CAPTURE_FILES=()
capture_start() {
	bg "$TOPO_WORLD" tcpdump -ni eth0 -Q in -s 128 -U --immediate-mode -w "$1" "$2" 2>"$1.err"
	CAPTURE_PIDS+=("$BG_PID")
	CAPTURE_FILES+=("$1")
	wait_until 5 file_has "$1.err" 'listening on'
}
# capture_stop: every capture_start's tcpdump, once its file stops growing.
capture_stop() {
	local p f
	for f in "${CAPTURE_FILES[@]}"; do
		wait_quiet "$f"
	done
	for p in "${CAPTURE_PIDS[@]}"; do
		stop_pid "$p" 2
	done
	CAPTURE_PIDS=()
	CAPTURE_FILES=()
}
# capture_count FILE FILTER: packets in FILE matching a tcpdump FILTER.
capture_count() {
	tcpdump -nr "$1" "$2" 2>/dev/null | wc -l
}
