#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test of reads and writes through the device file at offsets
# and lengths that are not multiples of the encryption sector. Every write
# also goes to a plain reference file, and the two must stay equal. Four
# concurrent writers on separate ranges must not disturb each other. Runs as
# any user who may use FUSE; it does not use the loop device.
#
# Usage: test-partial-io.sh [BUILD_DIR]   (default: build)
# Exit status: 0 pass, 1 fail, 77 skipped (FUSE not usable).

set -u
. "$(dirname "$0")/lib.sh"

build=${1:-build}
udm=$(realpath "$build/udmcrypt" 2>/dev/null) || udm=

[ -c /dev/fuse ] || skip "/dev/fuse is missing"
[ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "no access to /dev/fuse for $(id -un)"
[ "$(id -u)" = 0 ] || command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
[ -x "$udm" ] || { echo "FAIL: $build/udmcrypt not found; run make first"; exit 1; }

work=$(mktemp -d /tmp/udmcrypt-io.XXXXXX)

cleanup() {
	local loop backing
	"$udm" remove io --dir "$work" >/dev/null 2>&1
	if [ "$(id -u)" = 0 ]; then
		for loop in /sys/block/loop*; do
			backing=$(cat "$loop/loop/backing_file" 2>/dev/null) || continue
			[ "$backing" = "$work/io" ] && losetup -d "/dev/${loop##*/}"
		done
	fi
	if grep -q " $work/io " /proc/self/mountinfo; then
		if [ "$(id -u)" = 0 ]; then umount -l "$work/io"; else fusermount3 -u -z "$work/io"; fi
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM


size=$((8 << 20))
dev=$work/io
ref=$work/reference
image=$work/image
truncate -s $size "$image"
key=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 &&
	echo "0 $((size / 512)) crypt aes-xts-plain64 $key 0 $image 0 1 sector_size:4096" \
		> "$work/table")

"$udm" create io "$work/table" --dir "$work" >/dev/null
check "create" [ $? = 0 ]
check "device file has 8 MiB" [ "$(stat -c %s "$dev")" = $size ]

# Start from known content: random data written with whole, aligned blocks.
head -c $size /dev/urandom > "$ref"
dd if="$ref" of="$dev" bs=1M conv=notrunc,fsync status=none
check "aligned fill matches" cmp -s "$dev" "$ref"

# write_both OFFSET LENGTH BLOCK_SIZE: the same random bytes into both files.
write_both() {
	local offset=$1 length=$2 bs=$3 chunk=$work/chunk
	head -c "$length" /dev/urandom > "$chunk"
	dd if="$chunk" of="$ref" bs="$bs" seek="$offset" oflag=seek_bytes conv=notrunc \
		status=none
	dd if="$chunk" of="$dev" bs="$bs" seek="$offset" oflag=seek_bytes conv=notrunc \
		status=none
}

# read_matches OFFSET LENGTH: the device and the reference agree on a range.
read_matches() {
	cmp -s <(dd if="$dev" bs=4099 skip="$1" count="$2" iflag=skip_bytes,count_bytes \
			status=none) \
		<(dd if="$ref" bs=4099 skip="$1" count="$2" iflag=skip_bytes,count_bytes \
			status=none)
}

# Offset, length and dd block size; bs=1 makes one write request per byte.
while read -r offset length bs; do
	write_both "$offset" "$length" "$bs"
	check "write of $length bytes at $offset (bs=$bs)" read_matches "$offset" "$length"
done <<EOF
1 777 1
4095 2 1
4097 4094 4094
12283 10000 65536
$((512 * 7 + 3)) 1 1
$((1 << 20)) 1 1
$(((3 << 20) - 1)) 1048579 1048579
$((size - 100)) 100 7
0 1 1
$((size - 1)) 1 1
EOF
check "whole device matches after partial writes" cmp -s "$dev" "$ref"

for range in "1 1" "4095 2" "4096 4096" "123456 654321" "$((size - 5)) 5"; do
	check "read of range $range" read_matches $range
done

# As on a block device: no writes past the end, no size changes.
dd if=/dev/zero of="$dev" bs=1 seek=$size count=1 conv=notrunc status=none 2>/dev/null
check "write at the end fails" [ $? != 0 ]
truncate -s 1M "$dev" 2>/dev/null
check "truncate fails" [ $? != 0 ]
check "size unchanged" [ "$(stat -c %s "$dev")" = $size ]
head -c 8 /dev/zero | dd of="$dev" bs=8 seek=$((size - 4)) oflag=seek_bytes conv=notrunc \
	status=none 2>"$work/dd.err"
check "write across the end fails with ENOSPC" grep -q "No space left" "$work/dd.err"
dd if=/dev/zero of="$ref" bs=4 count=1 seek=$((size - 4)) oflag=seek_bytes conv=notrunc \
	status=none
check "write across the end fills up to the end" read_matches $((size - 4)) 4

# Four concurrent writers, each on its own unaligned range of 1.5 MiB.
pids=()
for i in 0 1 2 3; do
	offset=$((i * (2 << 20) + 13 * (i + 1)))
	head -c $((3 << 19)) /dev/urandom > "$work/writer$i"
	dd if="$work/writer$i" of="$dev" bs=4097 seek=$offset oflag=seek_bytes conv=notrunc \
		status=none &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait "$pid" || fail "concurrent writer $pid"
done
for i in 0 1 2 3; do
	offset=$((i * (2 << 20) + 13 * (i + 1)))
	dd if="$work/writer$i" of="$ref" bs=4097 seek=$offset oflag=seek_bytes conv=notrunc \
		status=none
	check "concurrent writer $i range" \
		cmp -s "$work/writer$i" <(dd if="$dev" bs=1M skip=$offset count=$((3 << 19)) \
			iflag=skip_bytes,count_bytes status=none)
done
check "whole device matches after concurrent writes" cmp -s "$dev" "$ref"

# The data is in the image: it survives remove and create.
"$udm" remove io --dir "$work"
check "remove" [ $? = 0 ]
"$udm" create io "$work/table" --dir "$work" >/dev/null
check "create again" [ $? = 0 ]
check "whole device matches after create again" cmp -s "$dev" "$ref"
check "image holds no plaintext" not cmp -s "$image" "$ref"
"$udm" remove io --dir "$work"
check "remove again" [ $? = 0 ]

finish
