# shellcheck shell=bash
# Sourced by tests/lib/topo.sh (and by scripts that do not build a
# topology): every wait of the suite is a wait for a condition, bounded by
# a timeout measured with the clock. A fixed `sleep` only stays where the
# time itself is what a test is about (traffic for a measured duration, a
# timeout that must expire), with a comment saying so.
#
# The clock is /proc/uptime: monotonic, read without a fork, in the
# guests of tests/kernels too.

# uptime_cs: the monotonic clock in hundredths of a second, into UPTIME_CS.
uptime_cs() {
	local up _
	read -r up _ </proc/uptime
	UPTIME_CS=$((10#${up/./}))
}

# seconds_cs SECONDS: SECONDS (may have a fraction: 2, 0.5, 1.25) in
# hundredths, into SECONDS_CS.
seconds_cs() {
	local whole=${1%%.*} frac=
	[[ $1 == *.* ]] && frac=${1#*.}
	frac=${frac}00
	SECONDS_CS=$((10#${whole:-0} * 100 + 10#${frac:0:2}))
}

# wait_until SECONDS COMMAND...: runs COMMAND every WAIT_POLL seconds (0.1)
# until it succeeds (0) or SECONDS have passed by the clock (1; COMMAND
# ran at least once, the last time at or after the deadline). SECONDS may have a
# fraction.
wait_until() {
	local end
	seconds_cs "$1"
	shift
	uptime_cs
	end=$((UPTIME_CS + SECONDS_CS))
	until "$@"; do
		uptime_cs
		[ "$UPTIME_CS" -ge "$end" ] && return 1
		sleep "${WAIT_POLL:-0.1}"
	done
}

# pid_gone PID: no process PID (or only its zombie; none when PID is
# empty or 0).
pid_gone() {
	[ -z "$1" ] || [ "$1" = 0 ] || ! kill -0 "$1" 2>/dev/null ||
		grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
# wait_gone PID SECONDS: waits until PID has exited.
wait_gone() {
	wait_until "$2" pid_gone "$1"
}
# stop_pid PID [GRACE]: SIGTERM, and SIGKILL when PID still runs GRACE
# seconds later (5), so that its own cleanup (traps, children) gets to
# run first. Reaps it when it is our child. 0 when TERM was enough.
stop_pid() {
	local pid=$1 rc=0
	[ -n "$pid" ] && [ "$pid" != 0 ] || return 0
	kill -TERM "$pid" 2>/dev/null
	if ! wait_gone "$pid" "${2:-5}"; then
		kill -KILL "$pid" 2>/dev/null
		rc=1
	fi
	wait "$pid" 2>/dev/null
	return $rc
}

# listening NS PORT [tcp|udp]: a socket listens on PORT in netns NS (a
# name, or a path: /proc/PID/ns/net).
listening() {
	local flag=-ltn
	[ "${3:-tcp}" = udp ] && flag=-lun
	case $1 in
	/*) nsenter --net="$1" ss -H $flag "sport = :$2" ;;
	*) ip netns exec "$1" ss -H $flag "sport = :$2" ;;
	esac 2>/dev/null | grep -q ":$2"
}
# wait_listen NS PORT [tcp|udp] [SECONDS]: waits (5 s) for a listener.
wait_listen() {
	wait_until "${4:-5}" listening "$1" "$2" "${3:-tcp}"
}

# file_has FILE REGEX: FILE exists and has a line matching REGEX (grep -E).
file_has() {
	grep -qE "$2" "$1" 2>/dev/null
}

# file_quiet FILE: FILE's size has not changed for 0.3 s, by the polls of
# the wait_quiet that calls it (a writer that has caught up: a capture
# that has written every packet it was given).
declare -gA _FILE_SIZE _FILE_SINCE
file_quiet() {
	local size
	size=$(stat -c %s "$1" 2>/dev/null || echo -1)
	uptime_cs
	if [ "${_FILE_SIZE[$1]:-none}" != "$size" ]; then
		_FILE_SIZE[$1]=$size
		_FILE_SINCE[$1]=$UPTIME_CS
		return 1
	fi
	[ $((UPTIME_CS - _FILE_SINCE[$1])) -ge 30 ]
}
# wait_quiet FILE [SECONDS]: waits (up to 3 s) until FILE stops growing;
# fails when it still grows.
wait_quiet() {
	unset '_FILE_SIZE[$1]' '_FILE_SINCE[$1]'
	wait_until "${2:-3}" file_quiet "$1"
}
