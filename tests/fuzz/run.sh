#!/bin/bash
# The libFuzzer harnesses (tests/fuzz/fuzz_*.c, built by `make fuzz` under
# build/fuzz/). Each run starts from its seed corpus (tests/fuzz/corpus/NAME,
# read only: what a run finds goes to a temporary folder) and prints the
# runner's "ok fuzz_NAME" or "FAIL fuzz_NAME: why", with libFuzzer's
# figures (executions, cov, ft).
#
#   tests/fuzz/run.sh [NAME...]              a short run of each (FUZZ_SECONDS, 10)
#   tests/fuzz/run.sh --long SECONDS NAME    one long run (nice -n 19); new
#                                            inputs are kept in build/fuzz/corpus/NAME
#   tests/fuzz/run.sh --merge NAME           add to the seeds of NAME what a long
#                                            run found that adds coverage (-merge=1)
#
# A finding (crash, leak, sanitizer report, timeout) is a FAIL naming the
# reproducer, kept in /tmp/xe-fuzz.*: `build/fuzz/fuzz_NAME FILE` replays it.
# The harnesses touch no network, interface or pin.
set -u
cd "$(dirname "$0")/../.." || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
work=$(mktemp -d /tmp/xe-fuzz.XXXXXX)
keep=0
trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT

dict_of() {
	case $1 in
	cli) echo tests/fuzz/cli.dict ;;
	*) echo tests/fuzz/json.dict ;;
	esac
}

# run NAME SECONDS NEW_DIR [NICE]: one libFuzzer run; its log in $work/NAME.log.
run() {
	local name=$1 secs=$2 new=$3 bin=build/fuzz/fuzz_$1
	local log=$work/$name.log last rc
	shift 3
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz_$name: $bin not built (run make fuzz)"
		return 1
	fi
	mkdir -p "$new" "$work/$name.artifacts"
	# -close_fd_mask=3: the product's messages (stdout, stderr) are muted;
	# libFuzzer and the sanitizers report on their own copy of stderr.
	"$@" "$bin" "$new" "tests/fuzz/corpus/$name" -dict="$(dict_of "$name")" \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-close_fd_mask=3 -print_final_stats=1 \
		-artifact_prefix="$work/$name.artifacts/" >"$log" 2>&1
	rc=$?
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	if [ "$rc" -ne 0 ]; then
		keep=1
		echo "FAIL fuzz_$name: exit $rc: $(grep -m1 -E 'ERROR|runtime error|Sanitizer|timeout|leak' "$log")" \
		     "(reproducer: $(ls "$work/$name.artifacts/"* 2>/dev/null | head -1); log $log)"
		return 1
	fi
	echo "ok fuzz_$name (${secs} s: $(echo "$last" | sed -E 's/^#([0-9]+).*(cov: [0-9]+ ft: [0-9]+).*exec\/s: ([0-9]+).*/\1 executions, \2, \3 exec\/s/'))"
}

case ${1:-} in
--long)
	[ $# -eq 3 ] || { echo "usage: $0 --long SECONDS NAME" >&2; exit 2; }
	run "$3" "$2" "build/fuzz/corpus/$3" nice -n 19
	rc=$?
	grep -E '^#[0-9]+|stat::' "$work/$3.log" | tail -8
	exit $rc
	;;
--merge)
	[ $# -eq 2 ] || { echo "usage: $0 --merge NAME" >&2; exit 2; }
	# Into the seeds (named, kept) only what adds coverage.
	mkdir -p "build/fuzz/corpus/$2"
	"build/fuzz/fuzz_$2" -merge=1 -close_fd_mask=3 "tests/fuzz/corpus/$2" \
		"build/fuzz/corpus/$2" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files'
	exit 0
	;;
esac

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		f=${f##*/fuzz_}
		names+=("${f%.c}")
	done
fi
failed=0
for name in "${names[@]}"; do
	run "$name" "$FUZZ_SECONDS" "$work/$name.new" || failed=1
done
exit $failed
