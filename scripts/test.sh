#!/usr/bin/env bash
# Installs what the tests need, builds udmcrypt with AddressSanitizer and
# UndefinedBehaviorSanitizer, runs the test suite and then the fuzz
# harnesses briefly (scripts/fuzz.sh). Run as root for the end-to-end tests
# (FUSE mounts and loop devices); as another user they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
	scripts/install-deps.sh
fi
make -j"$(nproc)" SANITIZE=1 WERROR=1 >/dev/null
# LeakSanitizer reports leaks at exit; FUSE daemons fork, so keep going.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The suite, then every fuzz harness for FUZZ_SECONDS (default 20) each,
# from the fixed seed FUZZ_SEED (default 1) so that a failure repeats. The
# last line adds up both "N passed, N failed" lines.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
tests/run-tests.sh build-san | tee "$log" || true
suite=$(tail -1 "$log")
FUZZ_SEED=${FUZZ_SEED:-1} bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}" | tee "$log" || true
fuzz=$(tail -1 "$log")
read -r passed failed skipped < <(
	sed -nE 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\1 \2 \4/p' \
		<<<"$suite
$fuzz" | awk '{ p += $1; f += $2; s += $3 } END { print p + 0, f + 0, s + 0 }')
# A run that printed no count line failed as a whole.
[[ $suite =~ ' passed, ' ]] || failed=$((failed + 1))
[[ $fuzz =~ ' passed, ' ]] || failed=$((failed + 1))
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
