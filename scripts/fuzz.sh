#!/usr/bin/env bash
# Builds the libFuzzer harnesses (make fuzz, into build-fuzz/) and runs each
# one: first on every input in fuzz/regressions/NAME/ once, then for
# SECONDS_PER_HARNESS seconds (default 30) on a copy of its seed corpus
# fuzz/corpus/NAME/, so the committed corpus never grows. Prints each run's
# executions, coverage (cov: edges, ft: features) and crashes, one line
# "PASS: fuzz-NAME (...)" or "FAIL: fuzz-NAME (...)" per harness, and ends
# with "N passed, N failed". Inputs that crash, leak or time out are kept in
# build-fuzz/artifacts/NAME/ and fail the harness. Inputs that libFuzzer
# reports as slow (over 10 s, often a stall of the machine) are kept there
# too but only counted. One fuzzer runs at a time, in one process.
#
# FUZZ_SEED sets libFuzzer's random seed, so that a run can be repeated.
# It defaults to 0, a new seed each run; the seed used is printed.
#
# Usage: [FUZZ_SEED=N] scripts/fuzz.sh [SECONDS_PER_HARNESS]
set -u
cd "$(dirname "$0")/.."
seconds=${1:-30}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
	echo "usage: scripts/fuzz.sh [SECONDS_PER_HARNESS]: expected a positive number of seconds, got '$seconds'" >&2
	exit 2
fi
seed=${FUZZ_SEED:-0}
if ! [[ $seed =~ ^[0-9]+$ ]]; then
	echo "scripts/fuzz.sh: invalid FUZZ_SEED '$seed': expected a number, 0 for a new seed each run" >&2
	exit 2
fi

# libFuzzer comes with clang's runtime libraries: Debian's libclang-rt-14-dev.
if ! command -v clang >/dev/null || ! clang -print-file-name=libclang_rt.fuzzer-x86_64.a |
	grep -q /; then
	if [ "$(id -u)" = 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq && apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
	fi
fi

passed=0 failed=0
if ! make -j"$(nproc)" fuzz >build-fuzz.log 2>&1; then
	tail -30 build-fuzz.log
	echo "FAIL: make fuzz (the whole log is in build-fuzz.log)"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -f build-fuzz.log

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Replays the committed crash inputs of harness $1 once each; 0 when none fails.
replay_regressions() {
	local name=$1 bin=$2 dir=fuzz/regressions/$1 inputs
	inputs=("$dir"/*)
	[ -e "${inputs[0]}" ] || return 0
	if ! "$bin" -runs=0 "${inputs[@]}" >"$work/$name.replay" 2>&1; then
		echo "regressions of fuzz-$name: an input of $dir fails again:"
		grep -E 'ERROR|runtime error|Running:' "$work/$name.replay" | tail -5
		return 1
	fi
	echo "regressions of fuzz-$name: ${#inputs[@]} inputs replayed, no failure"
}

# Runs harness $1 for $seconds seconds on a copy of its corpus.
fuzz_one() {
	local name=$1 bin=$2 log=$work/$1.log corpus=$work/$1.corpus artifacts=build-fuzz/artifacts/$1
	local rc execs cov ft crashes slow start=$SECONDS
	rm -rf "$artifacts"
	mkdir -p "$corpus" "$artifacts"
	cp -r "fuzz/corpus/$name/." "$corpus/"
	"$bin" -seed="$seed" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
	crashes=$(find "$artifacts" -type f ! -name 'slow-unit-*' | wc -l)
	slow=$(find "$artifacts" -type f -name 'slow-unit-*' | wc -l)
	echo "fuzz-$name: ${execs:-0} executions in $((SECONDS - start)) s, ${cov:-cov: ? ft: ?}," \
		"$crashes crashes, seed $(sed -n 's/.*Seed: \([0-9]*\).*/\1/p' "$log" | head -1)"
	if ((slow != 0)); then
		echo "  $slow inputs took over 10 s once; they are kept in $artifacts/"
	fi
	if ((rc != 0 || crashes != 0)); then
		grep -E 'ERROR:|runtime error|SUMMARY' "$log" | head -5
		echo "  inputs: $artifacts/; log: $artifacts/fuzz.log"
		cp "$log" "$artifacts/fuzz.log"
		return 1
	fi
	((slow != 0)) || rmdir "$artifacts"
	summary="${execs:-0} executions, ${cov:-no coverage}"
}

for bin in build-fuzz/fuzz-*; do
	name=${bin#build-fuzz/fuzz-}
	summary=
	if replay_regressions "$name" "$bin" && fuzz_one "$name" "$bin"; then
		echo "PASS: fuzz-$name ($seconds s, $summary)"
		passed=$((passed + 1))
	else
		echo "FAIL: fuzz-$name"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
((failed == 0))
