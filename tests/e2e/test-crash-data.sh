#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Crash test of the data path: SIGKILL the FUSE daemon of a mapping, and
# nbdkit with the udmcrypt filter, at random moments during a random-write
# workload with periodic syncs (crash-workload.py). After each kill, the
# mapping is removed (or nbdkit restarted) and the volume is mapped again.
# Every unit must then contain a write that the journal allows: the last
# write acknowledged before the last completed sync, or a later one, and
# never anything else. A killed daemon must leave nothing that "udmcrypt remove"
# cannot clean up.
#
# Usage: test-crash-data.sh [BUILD_DIR] (default: build)
# Environment: KILLS (kills per server, default 50), SEED (random seed).
# Exit status: 0 pass, 1 fail, 77 skipped (no python3, or neither FUSE as
# root nor nbdkit with the filter).

set -u
. "$(dirname "$0")/lib.sh"

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
udm=$(realpath "$build/udmcrypt" 2>/dev/null) || udm=
filter=$(realpath "$build/nbdkit-udmcrypt-filter.so" 2>/dev/null) || filter=
workload=$here/crash-workload.py
kills=${KILLS:-50}
use_seed "${SEED:-$$}"

command -v python3 >/dev/null || skip "python3 is not installed"
[ -x "$udm" ] || { echo "FAIL: $build/udmcrypt not found; run make first"; exit 1; }
fuse=0
[ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && fuse=1
nbd=0
command -v nbdkit >/dev/null && [ -f "$filter" ] && nbd=1
((fuse || nbd)) || skip "needs FUSE as root, or nbdkit and the filter"

work=$(mktemp -d /tmp/udmcrypt-crash.XXXXXX)
chmod 700 "$work"
nbdkit_pid=
workload_pid=

udm() { "$udm" "$@" --dir "$work"; }

# Leaves no server, mapping, mount or loop device behind.
cleanup() {
	[ -n "$workload_pid" ] && kill "$workload_pid" 2>/dev/null
	[ -n "$nbdkit_pid" ] && kill -KILL "$nbdkit_pid" 2>/dev/null
	remove_mappings "$udm" "$work"
	release_under "$work"
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM


units=8192   # 4 MiB of 512-byte units
totals() { # totals LOG: sums the counts of the "verified:" lines
	awk '/^verified:/ { bad += $4; newer += $6; older += $12; writes += $19;
		acked += $21; syncs += $23 }
		END { printf "%d bad units, %d writes (%d acknowledged), %d syncs, " \
			"%d units newer than the last sync, %d older than their last " \
			"acknowledged write\n", bad, writes, acked, syncs, newer, older }' "$1"
}
# landed LOG: kills that stopped the workload after its first write, and before.
landed() {
	awk '/^stopped:/ { if ($(NF - 4) > 0) during++; else before++ }
		END { printf "%d during writes, %d before the first write\n", during, before }' "$1"
}

# wait_ready FILE: waits up to 20 s for the workload to create FILE.
wait_ready() {
	for _ in $(seq 400); do
		[ -e "$1" ] && return 0
		kill -0 "$workload_pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# random_sleep: 10 to 200 ms.
random_sleep() { sleep "$(printf '0.%03d' $((10 + RANDOM % 191)))"; }

# crash_loop NAME START KILL STOP TARGET: runs the kill cycle $kills times.
# START maps the volume, KILL sends SIGKILL to its server, STOP cleans up
# after the kill, TARGET is the workload's target. Output goes to $work/NAME.log.
crash_loop() {
	local name=$1 start=$2 killer=$3 stop=$4 target=$5 i log=$work/$1.log
	local cycle_failures=0 stop_failures=0
	$start || { fail "$name: first map"; return; }
	timeout 60 python3 "$workload" "$target" init $units "$work/$name.state" >>"$log" 2>&1 ||
		{ fail "$name: workload init"; $stop; return; }
	$stop

	for i in $(seq "$kills"); do
		$start || { fail "$name: map in cycle $i"; cycle_failures=$((cycle_failures + 1)); break; }
		rm -f "$work/ready"
		timeout 60 python3 "$workload" "$target" cycle "$work/$name.state" \
			"$work/$name.journal" "$RANDOM" "$work/ready" >>"$log" 2>&1 &
		workload_pid=$!
		if wait_ready "$work/ready"; then
			random_sleep
		fi
		$killer
		wait "$workload_pid" || { cycle_failures=$((cycle_failures + 1))
			echo "FAIL: $name: cycle $i: workload failed"; tail -5 "$log"; }
		workload_pid=
		$stop || stop_failures=$((stop_failures + 1))
		((cycle_failures == 0)) || break
	done

	if $start; then
		timeout 60 python3 "$workload" "$target" verify "$work/$name.state" \
			"$work/$name.journal" >>"$log" 2>&1 || cycle_failures=$((cycle_failures + 1))
		$stop
	else
		fail "$name: last map"
	fi

	grep '^lost:' "$log" | head -10
	echo "$name: $((i)) kills, $(landed "$log"); $(totals "$log")"
	check "$name: $i kills done" [ "$i" = "$kills" ]
	check "$name: no synced write lost" [ "$cycle_failures" = 0 ]
	check "$name: cleanup after each kill" [ "$stop_failures" = 0 ]
	check "$name: no garbage units" [ "$(grep -c '^lost:' "$log")" = 0 ]
}

# ------------------------------------------------------------------------
# The FUSE daemon: the table maps 4 MiB with 4096-byte sectors, so the
# workload's 512-byte units also test read-modify-write of partial sectors.

key=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
truncate -s 4M "$work/fuse.img"
(umask 077 && echo "0 $((units)) crypt aes-xts-plain64 $key 0 $work/fuse.img 0 1" \
	"sector_size:4096" > "$work/table")
daemon_pid=
fuse_start() {
	udm create f "$work/table" >/dev/null || return 1
	daemon_pid=$(udm info f | awk '/Daemon PID/ { print $3 }')
	[ -n "$daemon_pid" ]
}
# The daemon is not our child, so wait_gone also accepts a zombie.
fuse_kill() {
	kill -KILL "$daemon_pid"
	wait_gone "$daemon_pid"
}
fuse_stop() {
	udm remove f || return 1
	[ ! -e "$work/f" ] && ! grep -q " $work/f " /proc/self/mountinfo
}
if ((fuse)); then
	crash_loop fuse fuse_start fuse_kill fuse_stop "fuse:$work/f"
else
	echo "skip: FUSE kills need root and /dev/fuse"
fi

# ------------------------------------------------------------------------
# nbdkit with the filter over a LUKS2 volume with 512-byte sectors.

if ((nbd)); then
	printf 'crash test passphrase' > "$work/pass"
	truncate -s $((4 + 16))M "$work/nbd.img"
	"$udm" luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 -q \
		--key-file "$work/pass" "$work/nbd.img"
	check "nbd: luksFormat the volume" [ $? = 0 ]
	nbd_start() {
		local _
		rm -f "$work/nbd.sock"
		nbdkit -f -U "$work/nbd.sock" --filter="$filter" file "$work/nbd.img" \
			udmcrypt-type=luks udmcrypt-passphrase-file="$work/pass" 2>>"$work/nbdkit.log" &
		nbdkit_pid=$!
		for _ in $(seq 200); do
			[ -S "$work/nbd.sock" ] && return 0
			kill -0 "$nbdkit_pid" 2>/dev/null || return 1
			sleep 0.02
		done
		return 1
	}
	nbd_kill() { kill -KILL "$nbdkit_pid"; }
	nbd_stop() {
		kill "$nbdkit_pid" 2>/dev/null
		wait "$nbdkit_pid" 2>/dev/null
		nbdkit_pid=
		return 0
	}
	crash_loop nbd nbd_start nbd_kill nbd_stop "nbd:$work/nbd.sock"
else
	echo "skip: NBD kills need nbdkit and $build/nbdkit-udmcrypt-filter.so"
fi

finish
