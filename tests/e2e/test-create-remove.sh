#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test of create, table, status, ls, info and remove as root.
# An ext4 file system on the loop device must survive remove and create.
# A mounted or open device is busy, and a killed daemon is cleaned up.
# Read-only mappings reject writes, and bad input fails with one error line.
#
# Usage: test-create-remove.sh [BUILD_DIR]   (default: build)
# Exit status: 0 pass, 1 fail, 77 skipped (not root, no FUSE, no mkfs.ext4).

set -u
. "$(dirname "$0")/lib.sh"

build=${1:-build}
udm=$(realpath "$build/udmcrypt" 2>/dev/null) || udm=

[ "$(id -u)" = 0 ] || skip "loop devices need root"
[ -c /dev/fuse ] || skip "/dev/fuse is missing"
[ -e /dev/loop-control ] || skip "/dev/loop-control is missing"
for tool in mkfs.ext4 e2fsck blockdev sha256sum; do
	command -v $tool >/dev/null || skip "$tool is not installed"
done
[ -x "$udm" ] || { echo "FAIL: $build/udmcrypt not found; run make first"; exit 1; }

work=$(mktemp -d /tmp/udmcrypt-e2e.XXXXXX)
mnt=$work/mnt
mkdir "$mnt"

# Leaves no mount, loop device or daemon behind, whatever failed before.
cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	remove_mappings "$udm" "$work"
	release_under "$work"
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM


matches() { [[ $1 =~ $2 ]]; }   # matches STRING REGEX
loop_over() { grep -qsx "$1" /sys/block/loop*/loop/backing_file; }
mounted() { grep -q " $1 " /proc/self/mountinfo; }

udm() { "$udm" "$@" --dir "$work"; }

image=$work/image
table=$work/table
truncate -s 64M "$image"
key=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
zero_key=$(printf '0%.0s' $(seq 128))
line="0 131072 crypt aes-xts-plain64 $key 0 $image 0 1 sector_size:4096"
masked="0 131072 crypt aes-xts-plain64 $zero_key 0 $image 0 1 sector_size:4096"
(umask 077 && echo "$line" > "$table")

# Creation and the read-only commands.

loop=$(udm create c1 "$table")
check "create exits 0" [ $? = 0 ]
check "create prints a loop device ($loop)" matches "$loop" '^/dev/loop[0-9]+$'
check "device file has 64 MiB" [ "$(stat -c %s "$work/c1")" = 67108864 ]
check "device file is mode 0600" [ "$(stat -c %a "$work/c1")" = 600 ]
check "device file block size is 4096" [ "$(stat -c %o "$work/c1")" = 4096 ]
check "loop logical block size is 4096" [ "$(blockdev --getss "$loop")" = 4096 ]
check "control socket is mode 0600" [ "$(stat -c %a "$work/.udmcrypt/c1/control")" = 600 ]
check "state directory is mode 0700" [ "$(stat -c %a "$work/.udmcrypt")" = 700 ]

out=$(udm table c1)
check "table masks the key" [ "$out" = "$masked" ]
out=$(udm table c1 --showkeys)
check "table --showkeys shows the key" [ "$out" = "$line" ]
out=$(udm table)
check "table without name prefixes the name" [ "$out" = "c1: $masked" ]
out=$(udm status c1)
check "status starts with the target line" like "$out" "0 131072 crypt*"
out=$(udm status)
check "status without name prefixes the name" like "$out" "c1: 0 131072 crypt*"
out=$(udm ls)
check "ls shows the loop device" [ "$out" = "$(printf 'c1\t(%s)' "$loop")" ]
out=$(udm info c1)
check "info shows the state" like "$out" "*State:*ACTIVE*"
check "info shows the daemon" like "$out" "*Daemon PID:*"

# A file system on the loop device.

mkfs.ext4 -q -F "$loop" >/dev/null 2>&1
check "mkfs.ext4 on $loop" [ $? = 0 ]
mount "$loop" "$mnt"
check "mount $loop" [ $? = 0 ]
head -c 5M /dev/urandom > "$mnt/random"
echo "udmcrypt end-to-end test" > "$mnt/text"
mkdir "$mnt/dir" && head -c 12345 /dev/urandom > "$mnt/dir/odd"
(cd "$mnt" && sha256sum random text dir/odd) > "$work/sums"

err=$(udm remove c1 2>&1)
check "remove while mounted exits 1" [ $? = 1 ]
check "remove while mounted says busy" [ "$err" = "udmcrypt: device c1 is busy" ]
check "device file still there after busy remove" [ -f "$work/c1" ]
echo "still writable" > "$mnt/after-busy"
sync
check "mount still works after busy remove" grep -q writable "$mnt/after-busy"
out=$(udm ls)
check "ls still shows the mapping after busy remove" [ "$out" = "$(printf 'c1\t(%s)' "$loop")" ]

umount "$mnt"
e2fsck -fn "$loop" >"$work/fsck.log" 2>&1
check "e2fsck finds the file system clean" [ $? = 0 ]

exec 3<"$work/c1"
err=$(udm remove c1 2>&1)
check "remove with the device file open says busy" [ "$err" = "udmcrypt: device c1 is busy" ]
check "loop device kept after busy remove" [ "$(udm ls)" = "$(printf 'c1\t(%s)' "$loop")" ]
exec 3<&-

udm remove c1
check "remove exits 0" [ $? = 0 ]
check "remove deletes the device file" [ ! -e "$work/c1" ]
check "remove deletes the control socket" [ ! -e "$work/.udmcrypt/c1/control" ]
check "remove leaves no mount" not mounted "$work/c1"
check "remove detaches the loop device" not loop_over "$work/c1"
check "ls prints No devices found" [ "$(udm ls)" = "No devices found" ]
check "daemon logged its stop" grep -q "stopped" "$work/.udmcrypt/c1/log"
check "log holds no key" not grep -q "$key" "$work/.udmcrypt/c1/log"

# The data survives; this time the table comes from standard input.

loop=$(udm create c1 < "$table")
check "create from standard input" matches "$loop" '^/dev/loop[0-9]+$'
mount "$loop" "$mnt"
check "mount again" [ $? = 0 ]
(cd "$mnt" && sha256sum --quiet -c "$work/sums")
check "files intact after remove and create" [ $? = 0 ]
umount "$mnt"

err=$(udm create c1 "$table" 2>&1)
check "create twice exits 1" [ $? = 1 ]
check "create twice says already exists" [ "$err" = "udmcrypt: device c1 already exists" ]
udm remove c1
check "second remove exits 0" [ $? = 0 ]

# Bad input.

bad=$work/bad-table
echo "0 131072 crypt aes-xts-plain64 not-hex 0 $image 0" > "$bad"
err=$(udm create bad "$bad" 2>&1 >/dev/null)
check "malformed table exits 1" [ $? = 1 ]
check "malformed table gives one error line ($err)" \
	[ "$(printf '%s\n' "$err" | wc -l)" = 1 -a "${err#udmcrypt: }" != "$err" ]
check "malformed table creates no file" [ ! -e "$work/bad" ]
check "malformed table leaves no mapping" [ "$(udm ls)" = "No devices found" ]

err=$(udm create big "$work/missing-table" 2>&1)
check "missing table file exits 1" [ $? = 1 ]
check "missing table file names the file" like "$err" "*$work/missing-table*"

err=$(udm remove nosuch 2>&1)
check "remove unknown exits 1" [ $? = 1 ]
check "remove unknown says not found" [ "$err" = "udmcrypt: device nosuch not found" ]
err=$(udm table nosuch 2>&1)
check "table unknown says not found" [ "$err" = "udmcrypt: device nosuch not found" ]

for name in "" ".hidden" "a/b" "$(printf 'x%.0s' $(seq 128))" "$(printf 'tab\tname')"; do
	udm create "$name" "$table" >/dev/null 2>&1
	check "invalid name '$name' exits 1" [ $? = 1 ]
done
check "invalid names create nothing" [ "$(udm ls)" = "No devices found" ]

"$udm" frobnicate >/dev/null 2>&1
check "unknown command exits 1" [ $? = 1 ]
"$udm" ls --bogus >/dev/null 2>&1
check "unknown option exits 1" [ $? = 1 ]
"$udm" --help | grep -q "^Usage: udmcrypt"
check "--help prints the usage" [ $? = 0 ]
check "--version prints 0.1.0" [ "$("$udm" --version)" = "udmcrypt 0.1.0" ]

# Read-only mappings.

loop=$(udm create ro "$table" --readonly)
check "read-only create" matches "$loop" '^/dev/loop[0-9]+$'
check "read-only loop device" [ "$(blockdev --getro "$loop")" = 1 ]
check "read-only device file is mode 0400" [ "$(stat -c %a "$work/ro")" = 400 ]
dd if=/dev/zero of="$work/ro" bs=4096 count=1 conv=notrunc 2>/dev/null
check "write to the read-only device file fails" [ $? != 0 ]
dd if=/dev/zero of="$loop" bs=4096 count=1 oflag=direct 2>/dev/null
check "write to the read-only loop device fails" [ $? != 0 ]
mount -o ro "$loop" "$mnt" 2>/dev/null
check "read-only mount" [ $? = 0 ]
(cd "$mnt" && sha256sum --quiet -c "$work/sums")
check "files readable on the read-only mapping" [ $? = 0 ]
umount "$mnt"
udm remove ro
check "remove read-only" [ $? = 0 ]

# Signals and killed daemons.

loop=$(udm create sig "$table")
pid=$(udm info sig | awk '/Daemon PID/ { print $3 }')
losetup -d "$loop"
kill -TERM "$pid"
for _ in $(seq 50); do [ -e "$work/sig" ] || break; sleep 0.1; done
check "SIGTERM removes the device file" [ ! -e "$work/sig" ]
check "SIGTERM removes the control socket" [ ! -e "$work/.udmcrypt/sig/control" ]
check "SIGTERM unmounts" not mounted "$work/sig"
check "SIGTERM is logged" grep -q "stopping on signal" "$work/.udmcrypt/sig/log"

loop=$(udm create killed "$table")
pid=$(udm info killed | awk '/Daemon PID/ { print $3 }')
kill -KILL "$pid"
check "killed daemon ends" wait_gone "$pid"
udm ls 2>"$work/ls.err" >/dev/null
check "ls warns about a stale mapping" grep -q "device killed is stale" "$work/ls.err"
udm remove killed
check "remove cleans up a killed daemon" [ $? = 0 ]
check "stale device file removed" [ ! -e "$work/killed" ]
check "stale mount removed" not mounted "$work/killed"
check "stale loop device detached" not loop_over "$work/killed"

# Options before the verb, as dmsetup accepts them.
loop=$("$udm" --dir "$work" create front "$table")
check "options before the verb" [ -n "$loop" ] && [ -e "$work/front" ]
"$udm" --dir "$work" table front --sh >"$work/sh.out" 2>"$work/sh.err"
check "--showkeys must be spelled out" [ $? = 1 ] && [ ! -s "$work/sh.out" ]
check "abbreviated --showkeys prints no key" not grep -q "${key:0:32}" "$work/sh.out"
"$udm" crate >/dev/null 2>"$work/crate.err"
check "unknown verb: error and one hint line" [ "$(wc -l <"$work/crate.err")" = 2 ]
udm remove front

finish
