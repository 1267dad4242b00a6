#!/bin/bash
# Test runner: runs every unit binary, the fuzzers' short run and every
# e2e script, counts the
# "ok NAME" / "FAIL NAME: why" lines they print, and closes with how long
# each took and "N passed, N failed". A test program that exits non-zero
# without printing a FAIL line counts as one failure, so a crash is never
# lost.
#
#   tests/run.sh [unit|fuzz|e2e|kernels] [FILTER]
#
# fuzz: tests/fuzz/run.sh, each libFuzzer harness for FUZZ_SECONDS (10)
# from its seed corpus (`make fuzz` builds them; FILTER picks harnesses).
#
# kernels: tests/kernels/run.sh, the e2e core on the host's kernel and on
# Debian 12's 6.1 in a VM (`make test-kernels` alone).
set -u
cd "$(dirname "$0")/.."
which="${1:-all}"
filter="${2:-}"
passed=0
failed=0
failed_names=()
timings=()
log_dir=$(mktemp -d /tmp/xdp-egress-tests.XXXXXX)

run_one() {
	local name=$1; shift
	local log="$log_dir/$(basename "$name").log"
	local t0=$SECONDS
	echo "=== $name"
	"$@" > >(tee "$log") 2>&1
	local rc=$?
	wait
	timings+=("$(printf '%5d s  %s' $((SECONDS - t0)) "$name")")
	local ok fail
	ok=$(grep -c '^ok ' "$log")
	fail=$(grep -c '^FAIL ' "$log")
	passed=$((passed + ok))
	failed=$((failed + fail))
	while IFS= read -r l; do failed_names+=("$l"); done < <(grep '^FAIL ' "$log")
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
if [ "$failed" -gt 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failed_names[@]}"
fi
rm -rf "$log_dir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
