# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers shared by the end-to-end tests, which source this file. A test
# counts its checks with pass, fail and check, and ends with finish, whose
# exit status is the test's.

checks=0
failures=0

skip() { echo "SKIP: $*"; exit 77; }
pass() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
not() { ! "$@"; }
like() { [[ $1 == $2 ]]; }   # like STRING GLOB
hexkey() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }   # hexkey BYTES
# running PID: true while the process exists and is not a zombie. A killed
# process stays a zombie until its parent, often PID 1, reaps it.
running() { [ -d "/proc/$1" ] && ! grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null; }
# wait_gone PID: waits up to 10 s for the process to end.
wait_gone() {
	local _
	for _ in $(seq 200); do running "$1" || return 0; sleep 0.05; done
	return 1
}
# use_seed SEED: seeds $RANDOM and prints the seed. SEED=N repeats a run's
# random choices, though not the timing of its kills.
use_seed() { RANDOM=$1; echo "seed: $1 (repeat with SEED=$1)"; }

# Prints the count of checks and returns 1 when any failed.
finish() {
	echo "$((checks - failures)) passed, $failures failed"
	[ "$failures" = 0 ]
}

# remove_mappings UDMCRYPT DIR: removes every mapping that "udmcrypt ls"
# lists in DIR.
remove_mappings() {
	local name
	while IFS= read -r name; do
		[ "$name" = "No devices found" ] || [ -z "$name" ] ||
			"$1" remove "$name" --dir "$2" >/dev/null 2>&1
	done < <("$1" ls --dir "$2" 2>/dev/null | cut -f1)
}

# release_under DIR: unmounts what is mounted below DIR, deepest first, and
# as root detaches the loop devices whose backing file is below DIR.
release_under() {
	local loop backing
	awk -v dir="$1/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r point; do
			if [ "$(id -u)" = 0 ]; then umount -l "$point"; else fusermount3 -u -z "$point"; fi
		done
	[ "$(id -u)" = 0 ] || return 0
	for loop in /sys/block/loop*; do
		backing=$(cat "$loop/loop/backing_file" 2>/dev/null) || continue
		case $backing in
		"$1"/*) losetup -d "/dev/${loop##*/}" ;;
		esac
	done
}
