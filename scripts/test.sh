#!/usr/bin/env bash
# Installs what the tests need, builds udmcrypt with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs the test suite. Run as root for the
# end-to-end tests (FUSE mounts and loop devices); as another user they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
	scripts/install-deps.sh
fi
make -j"$(nproc)" SANITIZE=1 WERROR=1 >/dev/null
# LeakSanitizer reports leaks at exit; FUSE daemons fork, so keep going.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
tests/run-tests.sh build-san
