#!/usr/bin/env bash
# Runs the whole test suite against the build in BUILD_DIR (default build):
# the unit tests (each prints PASS:/FAIL: lines) and the end-to-end scripts
# in tests/e2e (exit 0 passes, 77 skips, anything else fails). Ends with the
# line "N passed, N failed, N skipped". A unit test that runs over 10 min or
# a script over 15 min is stopped and fails, so that a hang names itself.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_unit() {
	local name=$1; shift
	timeout -k 10 600 "$@" >"$log" 2>&1
	local rc=$? p f
	p=$(grep -c '^PASS: ' "$log")
	f=$(grep -c '^FAIL: ' "$log")
	grep '^FAIL: ' "$log"
	if ((rc == 124 || rc == 137)); then
		echo "FAIL: $name timed out after 600 s or was killed (status $rc)"
		tail -20 "$log"
		f=$((f + 1))
	elif ((rc != 0 && f == 0)); then
		echo "FAIL: $name exited with status $rc"
		tail -20 "$log"
		f=1
	fi
	echo "$name: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
}

for t in "$build"/tests/test_*; do
	name=$(basename "$t")
	case $name in
	test_kernel_vectors)
		# Where both libraries implement a cipher, each must match the kernel.
		for library in openssl libgcrypt; do
			UDMCRYPT_CIPHER_LIBRARY=$library run_unit "$name ($library)" "$t" tests/vectors
		done
		run_unit "$name" "$t" tests/vectors ;;
	*) run_unit "$name" "$t" ;;
	esac
done

for script in tests/e2e/test-*.sh; do
	[ -e "$script" ] || continue
	name=$(basename "$script" .sh)
	start=$SECONDS
	timeout -k 10 900 bash "$script" "$build" >"$log" 2>&1
	rc=$?
	if ((rc == 124 || rc == 137)); then
		echo "FAIL: $name timed out after 900 s or was killed (status $rc); its last lines:"
		tail -30 "$log"
		failed=$((failed + 1))
	elif ((rc == 0)); then
		echo "PASS: $name ($((SECONDS - start)) s)"
		passed=$((passed + 1))
	elif ((rc == 77)); then
		echo "SKIP: $name: $(tail -1 "$log")"
		skipped=$((skipped + 1))
	else
		echo "FAIL: $name (exit status $rc); its failed checks:"
		grep '^FAIL: ' "$log" | head -20
		echo "and its last lines:"
		tail -30 "$log"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
