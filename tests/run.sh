#!/bin/bash
# Test runner: runs every unit binary, the fuzzers' short run and every
# e2e script, counts the
# "ok NAME" / "FAIL NAME: why" lines they print, and closes with how long
# each took, the slowest five and "N passed, N failed". A test program that
# exits non-zero without printing a FAIL line counts as one failure, so a
# crash is never lost.
#
#   tests/run.sh [unit|fuzz|e2e|kernels] [FILTER]
#
# fuzz: tests/fuzz/run.sh, each libFuzzer harness for FUZZ_SECONDS (10)
# from its seed corpus (`make fuzz` builds them; FILTER picks harnesses).
#
# kernels: tests/kernels/run.sh, the e2e core on the host's kernel and on
# Debian 12's 6.1 in a VM (`make test-kernels` alone).
#
# Time limit: each program runs in a process group of its own and may take
# RUN_TIMEOUT seconds (600), or what a "# timeout: N" line among a script's
# first 30 lines says. One that takes longer is a "FAIL NAME: exceeded N s":
# its group gets SIGTERM (so that its cleanup traps run: namespaces, pins,
# daemons), and SIGKILL RUN_GRACE seconds (30) later if it still runs.
set -u
cd "$(dirname "$0")/.." || exit 1
which="${1:-all}"
filter="${2:-}"
passed=0
failed=0
failed_names=()
timings=()
log_dir=$(mktemp -d /tmp/xdp-egress-tests.XXXXXX)

source tests/lib/wait.sh
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
RUN_GRACE=${RUN_GRACE:-30}

# time_limit FILE: the seconds FILE may run: its "# timeout: N" line, else
# RUN_TIMEOUT.
time_limit() {
	local n=""
	case $1 in
	*.sh) n=$(head -n 30 "$1" | sed -n 's/^# timeout: *\([0-9][0-9]*\) *$/\1/p' | head -n 1) ;;
	esac
	echo "${n:-$RUN_TIMEOUT}"
}

# run_limited LIMIT LOG COMMAND...: COMMAND in a process group of its own,
# its output into LOG and shown as it comes; ends the group when COMMAND
# outlives LIMIT seconds. Sets RUN_RC (COMMAND's exit status) and
# RUN_TIMED_OUT (empty, or how the group was ended: TERM or KILL).
run_limited() {
	local limit=$1 log=$2 pid tailer
	shift 2
	: >"$log"
	set -m # job control: the job's pid is its process group's id
	"$@" >"$log" 2>&1 </dev/null &
	pid=$!
	set +m
	RUN_PGID=$pid
	tail -n +1 -s 0.2 --pid="$pid" -f "$log" &
	tailer=$!
	RUN_TIMED_OUT=""
	if ! WAIT_POLL=0.2 wait_until "$limit" pid_gone "$pid"; then
		RUN_TIMED_OUT=TERM
		kill -TERM -- "-$pid" 2>/dev/null
		if ! WAIT_POLL=0.5 wait_until "$RUN_GRACE" pid_gone "$pid"; then
			RUN_TIMED_OUT=KILL
			kill -KILL -- "-$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
	RUN_RC=$?
	wait "$tailer"
	# What the program started and left running (its group outlives it;
	# a member that is only exiting gets a second to go).
	if ! wait_until 1 group_gone "$pid"; then
		echo "# run.sh: $(pgrep -g "$pid" | wc -l) processes it started still ran after it: ended them ($(pgrep -g "$pid" -l | tr '\n' ' '))"
		kill -TERM -- "-$pid" 2>/dev/null
		WAIT_POLL=0.2 wait_until 5 group_gone "$pid" ||
			kill -KILL -- "-$pid" 2>/dev/null
	fi
}

group_gone() { ! pgrep -g "$1" >/dev/null 2>&1; }

# The program runs in a group of its own, which a ^C at the terminal does
# not reach: hand the runner's INT/TERM/HUP on to it, so that its cleanup
# runs, then stop.
RUN_PGID=""
stop_running() {
	trap - INT TERM HUP
	if [ -n "$RUN_PGID" ] && ! pid_gone "$RUN_PGID"; then
		echo "# run.sh: interrupted: ending the running program (SIGTERM to its group)"
		kill -TERM -- "-$RUN_PGID" 2>/dev/null
		WAIT_POLL=0.5 wait_until "$RUN_GRACE" pid_gone "$RUN_PGID" ||
			kill -KILL -- "-$RUN_PGID" 2>/dev/null
	fi
	rm -rf "$log_dir"
	exit 130
}
trap stop_running INT TERM HUP

run_one() {
	local name=$1; shift
	local log="$log_dir/$(basename "$name").log"
	local t0=$SECONDS limit
	limit=$(time_limit "$name")
	echo "=== $name"
	run_limited "$limit" "$log" "$@"
	local rc=$RUN_RC
	timings+=("$(printf '%5d s  %s' $((SECONDS - t0)) "$name")")
	local ok fail
	ok=$(grep -c '^ok ' "$log")
	fail=$(grep -c '^FAIL ' "$log")
	passed=$((passed + ok))
	failed=$((failed + fail))
	while IFS= read -r l; do failed_names+=("$l"); done < <(grep '^FAIL ' "$log")
	if [ -n "$RUN_TIMED_OUT" ]; then
		failed=$((failed + 1))
		failed_names+=("FAIL $name: exceeded $limit s")
		echo "FAIL $name: exceeded $limit s (its process group got SIGTERM$([ "$RUN_TIMED_OUT" = KILL ] && echo ", then SIGKILL after $RUN_GRACE s"); raise its \"# timeout:\" line if it needs longer)"
		return
	fi
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		failed=$((failed + 1))
		failed_names+=("FAIL $name: exited $rc without reporting a failure")
		echo "FAIL $name: exited $rc without reporting a failure"
	fi
	if [ "$rc" -eq 0 ] && [ "$ok" -eq 0 ] && [ "$fail" -eq 0 ]; then
		failed=$((failed + 1))
		failed_names+=("FAIL $name: ran no check")
		echo "FAIL $name: ran no check"
	fi
}

if [ "$which" = all ] || [ "$which" = unit ]; then
	for t in build/tests/test_*; do
		[ -x "$t" ] || continue
		[ -n "$filter" ] && [[ "$t" != *"$filter"* ]] && continue
		run_one "$t" "$t"
	done
fi
if [ "$which" = all ] || [ "$which" = fuzz ]; then
	fuzz_names=()
	for t in tests/fuzz/fuzz_*.c; do
		t=${t##*/fuzz_}
		t=${t%.c}
		[ -n "$filter" ] && [[ "fuzz_$t" != *"$filter"* ]] && continue
		fuzz_names+=("$t")
	done
	[ ${#fuzz_names[@]} -gt 0 ] &&
		run_one tests/fuzz/run.sh bash tests/fuzz/run.sh "${fuzz_names[@]}"
fi
if [ "$which" = all ] || [ "$which" = e2e ]; then
	for t in tests/e2e/test_*.sh; do
		[ -n "$filter" ] && [[ "$t" != *"$filter"* ]] && continue
		run_one "$t" bash "$t"
	done
fi

if [ "$which" = all ] || [ "$which" = kernels ]; then
	if [ -z "$filter" ] || [[ tests/kernels/run.sh == *"$filter"* ]]; then
		run_one tests/kernels/run.sh bash tests/kernels/run.sh
	fi
fi

echo
echo "Time per program (total $SECONDS s):"
printf '  %s\n' "${timings[@]}"
echo "Slowest five:"
printf '%s\n' "${timings[@]}" | sort -rn | head -n 5 | sed 's/^/  /'
if [ "$failed" -gt 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failed_names[@]}"
fi
rm -rf "$log_dir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
