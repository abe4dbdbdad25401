#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Crash test of the key slot verbs: luksAddKey, luksRemoveKey, luksChangeKey
# and luksHeaderRestore on LUKS1 and LUKS2 volumes, each run many times from
# the same starting image and killed with SIGKILL after a random delay. The
# delay is drawn up to 1.2 times the verb's measured run time, so that kills
# land before, during and after its writes. Afterwards the volume must open
# with the old or the new passphrase, never with neither, and a passphrase
# that the verb does not touch must still open it.
#
# A kill counts as "before" when the header area is unchanged, "during" when
# it changed but the verb was killed, and "after" when the verb exited first.
#
# Usage: test-crash-keyslots.sh [BUILD_DIR] (default: build)
# Environment: ROUNDS (kills per verb and format, default 20), SEED.
# Exit status: 0 pass, 1 fail.

set -u
. "$(dirname "$0")/lib.sh"

build=${1:-build}
udm=$(realpath "$build/udmcrypt" 2>/dev/null) || udm=
rounds=${ROUNDS:-20}
use_seed "${SEED:-$$}"

[ -x "$udm" ] || { echo "FAIL: $build/udmcrypt not found; run make first"; exit 1; }

# /tmp, not tmpfs: the verbs' fsync calls then take real time, which widens
# the windows between their writes.
work=$(mktemp -d /tmp/udmcrypt-keycrash.XXXXXX)
chmod 700 "$work"
verb_pid=

cleanup() {
	[ -n "$verb_pid" ] && kill -KILL "$verb_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM


fast=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)
for word in old new keep; do printf '%s passphrase' "$word" > "$work/$word"; done
img=$work/img

# opens PASSFILE: the image opens with the passphrase in PASSFILE.
opens() { "$udm" open --test-passphrase --key-file "$1" "$img" 2>/dev/null; }

now_ms() { date +%s%3N; }
header_bytes=0   # compared before and after each kill

# prepare TYPE VERB: makes $work/start.img, the image before the verb, and
# the files the verb needs. The header area is the first $header_bytes.
prepare() {
	local type=$1 verb=$2
	rm -f "$work/start.img" "$work/backup"
	if [ "$type" = luks1 ]; then header_bytes=$((2 << 20)); else header_bytes=$((16 << 20)); fi
	truncate -s $((header_bytes + (1 << 20))) "$img"
	"$udm" luksFormat -q --type "$type" "${fast[@]}" --key-file "$work/old" "$img" || return 1
	"$udm" luksAddKey "${fast[@]}" --key-file "$work/old" "$img" "$work/keep" || return 1
	case $verb in
	luksHeaderRestore)
		# The backup opens with "old". The image then gets "new" in its
		# place: in another key slot on LUKS1, in the same one on LUKS2.
		"$udm" luksHeaderBackup "$img" --header-backup-file "$work/backup" || return 1
		"$udm" luksChangeKey "${fast[@]}" --key-file "$work/old" "$img" "$work/new" ||
			return 1 ;;
	esac
	cp "$img" "$work/start.img"
}

# run_verb VERB: starts the verb on $img in the background, in $verb_pid.
run_verb() {
	case $1 in
	luksAddKey)
		"$udm" luksAddKey "${fast[@]}" --key-file "$work/old" "$img" "$work/new" & ;;
	luksRemoveKey)
		"$udm" luksRemoveKey --key-file "$work/old" "$img" & ;;
	luksChangeKey)
		"$udm" luksChangeKey "${fast[@]}" --key-file "$work/old" "$img" "$work/new" & ;;
	luksHeaderRestore)
		"$udm" luksHeaderRestore -q "$img" --header-backup-file "$work/backup" & ;;
	esac
	verb_pid=$!
}

# Which passphrases open the image after the verb completed and before it
# started, and which one must always open it.
#   verb              before          after          always
#   luksAddKey        old keep        old new keep   old keep
#   luksRemoveKey     old keep        keep           keep
#   luksChangeKey     old keep        new keep       keep
#   luksHeaderRestore new keep        old keep       keep
old_side() { [ "$1" = luksHeaderRestore ] && echo new || echo old; }
new_side() {
	case $1 in
	luksAddKey) echo new ;;
	luksRemoveKey) echo none ;;
	luksChangeKey) echo new ;;
	luksHeaderRestore) echo old ;;
	esac
}

# crash_verb TYPE VERB: $rounds kills of VERB on a TYPE volume.
crash_verb() {
	local type=$1 verb=$2 what="$1 $2" i start ms delay status
	local before=0 during=0 after=0 neither=0 lost_keep=0 lost_old=0 failed=0
	local old new keep_ok old_ok new_ok
	old=$(old_side "$verb")
	new=$(new_side "$verb")
	prepare "$type" "$verb" || { fail "$what: prepare the volume"; return; }
	check "$what: starting image opens" opens "$work/$old"

	# The verb's run time without a kill.
	start=$(now_ms)
	run_verb "$verb"
	wait "$verb_pid"
	status=$?
	ms=$(($(now_ms) - start))
	verb_pid=
	check "$what: completes without a kill" [ "$status" = 0 ]
	if [ "$new" = none ]; then
		check "$what: removed passphrase fails" not opens "$work/old"
	else
		check "$what: new passphrase opens" opens "$work/$new"
	fi

	for i in $(seq "$rounds"); do
		cp "$work/start.img" "$img"
		delay=$((RANDOM % (ms * 12 / 10 + 1)))
		run_verb "$verb"
		sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
		kill -KILL "$verb_pid" 2>/dev/null
		wait "$verb_pid" 2>/dev/null
		status=$?
		verb_pid=
		if [ "$status" != 137 ]; then
			after=$((after + 1))
			# A verb that fails cleanly (say, ENOSPC on a shared disk) is
			# no crash-safety fault; it is reported, and the checks below
			# still apply.
			[ "$status" = 0 ] || { failed=$((failed + 1))
				echo "$what: round $i: the verb exited with status $status"; }
		elif cmp -s -n "$header_bytes" "$img" "$work/start.img"; then
			before=$((before + 1))
		else
			during=$((during + 1))
		fi
		opens "$work/keep" && keep_ok=1 || keep_ok=0
		opens "$work/$old" && old_ok=1 || old_ok=0
		new_ok=0
		[ "$new" != none ] && opens "$work/$new" && new_ok=1
		if ((!keep_ok)); then
			lost_keep=$((lost_keep + 1))
			echo "$what: round $i (delay $delay ms, status $status): keep fails"
		fi
		# luksRemoveKey has no new passphrase: "keep" alone is its new state.
		if [ "$new" != none ] && ((!old_ok && !new_ok)); then
			neither=$((neither + 1))
			echo "$what: round $i (delay $delay ms, status $status): neither opens"
		fi
		if [ "$verb" = luksAddKey ] && ((!old_ok)); then
			lost_old=$((lost_old + 1))
		fi
	done
	echo "$what: $rounds kills in 0 to $((ms * 12 / 10)) ms: $before before," \
		"$during during and $after after the verb's writes"
	check "$what: old or new opens" [ "$neither" = 0 ]
	check "$what: untouched passphrase opens" [ "$lost_keep" = 0 ]
	((failed == 0)) || echo "$what: the verb failed by itself $failed times"
	[ "$verb" = luksAddKey ] && check "$what: old passphrase survives" [ "$lost_old" = 0 ]
	total_during=$((total_during + during))
	total_kills=$((total_kills + before + during))
}

total_during=0
total_kills=0
for type in luks1 luks2; do
	for verb in luksAddKey luksRemoveKey luksChangeKey luksHeaderRestore; do
		crash_verb "$type" "$verb"
	done
done
echo "all verbs: $total_kills kills, $total_during of them during the writes"
check "some kills land during writes" [ "$total_during" -gt 0 ]

finish
