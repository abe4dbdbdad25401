#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs the unit tests and a few commands under valgrind's memcheck, on the
# build without sanitizers (make), and fails on any invalid access, use of
# uninitialized memory, or definite or indirect leak. Prints PASS or FAIL
# for each item and ends with "N passed, N failed"; a failing item's
# valgrind report is in the log it names.
#
# Usage: scripts/valgrind.sh [-k N]
#   -k N  run the kernel vector test on the first N vectors only (default:
#         all of them)
# The commands run on files in a temporary directory. "create" and "remove"
# need a FUSE daemon, which valgrind would have to follow through fork and
# fusermount3, so they are not run here.

set -u
cd "$(dirname "$0")/.."

vectors=
while getopts k: opt; do
	case $opt in
	k) vectors=$OPTARG ;;
	*) echo "usage: $0 [-k N]" >&2; exit 2 ;;
	esac
done

command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
make >/dev/null || { echo "make failed" >&2; exit 2; }

work=$(mktemp -d /tmp/udmcrypt-valgrind.XXXXXX)
logs=${VALGRIND_LOGS:-$work/logs}
mkdir -p "$logs"
trap 'rm -rf "$work/files" "$work/vectors"' EXIT
passed=0 failed=0

# vg NAME COMMAND...: runs COMMAND under memcheck. Exit status 99 marks a
# memcheck error, so that a command's own failure (such as isLuks on a
# non-LUKS file) is distinguished from it.
vg() {
	local name=$1
	shift
	valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=99 --track-origins=yes --log-file="$logs/$name.log" \
		"$@" >"$logs/$name.out" 2>&1
}

result() { # result NAME OK
	if [ "$2" = 0 ]; then
		echo "PASS: $1"
		passed=$((passed + 1))
	else
		echo "FAIL: $1 (see $logs/$1.log and $logs/$1.out)"
		failed=$((failed + 1))
	fi
}

# A unit test passes when memcheck finds nothing and the test itself passes.
for t in build/tests/test_*; do
	name=$(basename "$t")
	args=()
	if [ "$name" = test_kernel_vectors ]; then
		args=(tests/vectors)
		if [ -n "$vectors" ]; then
			mkdir -p "$work/vectors"
			cp tests/vectors/*.bin "$work/vectors/"
			head -n "$vectors" tests/vectors/kernel.tsv >"$work/vectors/kernel.tsv"
			args=("$work/vectors")
		fi
	fi
	start=$SECONDS
	vg "$name" "$t" "${args[@]}"
	rc=$?
	result "$name" "$rc"
	echo "  $((SECONDS - start)) s, $(grep -c '^PASS' "$logs/$name.out") checks passed"
done

# Commands: each must end without a memcheck error, with its usual status.
udm=build/udmcrypt
files=$work/files
mkdir -p "$files"
printf 'valgrind-pass' >"$files/pass"
truncate -s 20M "$files/luks2.img" "$files/luks1.img"
head -c 4096 /dev/zero >"$files/plain.img"
fast=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000 -q -d "$files/pass")

command_item() { # command_item NAME EXPECTED_STATUS ARGS...
	local name=$1 expected=$2 rc
	shift 2
	vg "$name" "$udm" "$@"
	rc=$?
	[ "$rc" = "$expected" ]
	result "$name" $?
}

command_item luksFormat-luks2 0 luksFormat --type luks2 "${fast[@]}" "$files/luks2.img"
command_item luksFormat-luks1 0 luksFormat --type luks1 "${fast[@]}" "$files/luks1.img"
command_item luksDump-luks2 0 luksDump "$files/luks2.img"
command_item luksDump-json 0 luksDump --dump-json-metadata "$files/luks2.img"
command_item luksDump-luks1 0 luksDump "$files/luks1.img"
command_item test-passphrase 0 open --test-passphrase -d "$files/pass" "$files/luks2.img"
printf 'wrong' >"$files/wrong"
command_item wrong-passphrase 2 open --test-passphrase -d "$files/wrong" "$files/luks1.img"
command_item isLuks 0 isLuks "$files/luks2.img"
command_item isLuks-plain-file 1 isLuks "$files/plain.img"
command_item luksAddKey 0 luksAddKey "${fast[@]}" --new-keyfile "$files/pass" "$files/luks2.img"
command_item luksKillSlot 0 luksKillSlot -q "$files/luks2.img" 1
command_item luksUUID 0 luksUUID "$files/luks2.img"
command_item luksHeaderBackup 0 luksHeaderBackup "$files/luks2.img" \
	--header-backup-file "$files/backup"
command_item create-invalid-table 1 create bad "$files/missing-table" --dir "$files/maps"
command_item ls-no-mappings 0 ls --dir "$files"

echo "$passed passed, $failed failed"
((failed == 0))
