#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test of backing device errors: a full backing file system
# (ENOSPC) and I/O errors must reach the client as failed writes, reads and
# syncs, within a timeout, and must never change data that the client did
# not write.
#
# NBD: nbdkit's error filter under the udmcrypt filter fails every write
# or read, or a random share of them while crash-workload.py writes. A
# clean server then verifies every unit.
# As root, three more backing stores. An image file on a full tmpfs makes
# FUSE writes fail with ENOSPC. An ext4 file system whose loop device sits
# on a full tmpfs takes writes into the page cache, then fails FUSE fsync
# and NBD flush. The device file of a second mapping whose table has an
# "error" target fails FUSE reads and writes with EIO.
#
# Usage: test-io-errors.sh [BUILD_DIR] (default: build)
# Exit status: 0 pass, 1 fail, 77 skipped (no python3, or neither part can run).

set -u
. "$(dirname "$0")/lib.sh"

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
udm=$(realpath "$build/udmcrypt" 2>/dev/null) || udm=
filter=$(realpath "$build/nbdkit-udmcrypt-filter.so" 2>/dev/null) || filter=
workload=$here/crash-workload.py
client=$here/nbd-client.py
use_seed "${SEED:-$$}"

command -v python3 >/dev/null || skip "python3 is not installed"
[ -x "$udm" ] || { echo "FAIL: $build/udmcrypt not found; run make first"; exit 1; }
fuse=0
[ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && command -v mkfs.ext4 >/dev/null && fuse=1
nbd=0
command -v nbdkit >/dev/null && [ -f "$filter" ] && nbd=1
((fuse || nbd)) || skip "needs FUSE as root with mkfs.ext4, or nbdkit and the filter"

work=$(mktemp -d /tmp/udmcrypt-ioerr.XXXXXX)
chmod 700 "$work"
nbdkit_pid=

udm() { "$udm" "$@" --dir "$work"; }

# Leaves no server, mapping, mount or loop device behind: the mappings
# first, then the file systems under them, innermost first.
cleanup() {
	local name
	[ -n "$nbdkit_pid" ] && kill "$nbdkit_pid" 2>/dev/null
	for name in top errdev full ext; do
		"$udm" remove "$name" --dir "$work" >/dev/null 2>&1
	done
	release_under "$work"
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM


# ------------------------------------------------------------------------
# NBD: nbdkit's error filter below the udmcrypt filter.

units=8192   # 4 MiB of 512-byte units
image=$work/nbd.img
truncate -s 4M "$image"
key=$(hexkey 64)
(umask 077 && echo "0 $units crypt aes-xts-plain64 $key 0 - 0 1 sector_size:4096" \
	> "$work/table")

# serve ERROR_FILTER_PARAMETER...: starts nbdkit on $work/nbd.sock, with
# the error filter when parameters are given.
serve() {
	local errors=() _
	[ $# -gt 0 ] && errors=(--filter=error)
	rm -f "$work/nbd.sock"
	nbdkit -f -U "$work/nbd.sock" --filter="$filter" "${errors[@]}" file "$image" \
		udmcrypt-table="$work/table" "$@" 2>>"$work/nbdkit.log" &
	nbdkit_pid=$!
	for _ in $(seq 200); do
		[ -S "$work/nbd.sock" ] && return 0
		kill -0 "$nbdkit_pid" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}
unserve() {
	kill "$nbdkit_pid" 2>/dev/null
	wait "$nbdkit_pid" 2>/dev/null
	nbdkit_pid=
}
# nbd_request OP OFFSET [LENGTH]: one request by the raw client, 20 s at most.
# Its error message is left in $out.
nbd_request() {
	case $1 in
	read) out=$(timeout 20 python3 "$client" "$work/nbd.sock" read "$2" "$3" 2>&1 >/dev/null) ;;
	write) out=$(head -c "$3" /dev/urandom |
		timeout 20 python3 "$client" "$work/nbd.sock" write "$2" 2>&1) ;;
	esac
}
# nbd_flush: sends NBD_CMD_FLUSH and prints the error number, 0 on success.
nbd_flush() {
	timeout 20 python3 - "$work/nbd.sock" "$client" <<-'EOF'
	import importlib.util, sys
	spec = importlib.util.spec_from_file_location("client", sys.argv[2])
	client = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(client)
	c = client.Client(sys.argv[1])
	try:
	    c._request(3, 0, 0)
	    print(0)
	except OSError as e:
	    print(e.errno)
	EOF
}

if ((nbd)); then
	serve
	timeout 60 python3 "$workload" "nbd:$work/nbd.sock" init $units "$work/nbd.state" >/dev/null
	check "nbd: workload init" [ $? = 0 ]
	unserve

	check "nbd: server with ENOSPC writes" serve error-pwrite=ENOSPC error-pwrite-rate=100%
	nbd_request write 0 65536
	check "nbd: full write fails" [ $? != 0 ]
	check "nbd: full write says ENOSPC" like "$out" "*Errno 28*"
	nbd_request write 1000 100
	check "nbd: partial write fails" [ $? != 0 ]
	check "nbd: partial write says ENOSPC" like "$out" "*Errno 28*"
	nbd_request read 0 65536
	check "nbd: reads still work" [ $? = 0 ]
	unserve

	check "nbd: server with EIO reads" serve error-pread=EIO error-pread-rate=100%
	nbd_request read 4096 4096
	check "nbd: read fails" [ $? != 0 ]
	check "nbd: read says EIO" like "$out" "*Errno 5*"
	nbd_request write 1000 100
	check "nbd: read-modify-write fails" like "$out" "*Errno 5*"
	unserve

	# A share of all requests fails; whatever was acknowledged and synced
	# must read back on a clean server, and no unit may hold anything else.
	check "nbd: server with random errors" serve error-pwrite=EIO error-pwrite-rate=20% \
		error-pread=EIO error-pread-rate=10%
	timeout 60 python3 "$workload" "nbd:$work/nbd.sock" errors "$work/nbd.state" \
		"$work/nbd.journal" "$RANDOM" 1500 >"$work/random.log" 2>&1
	check "nbd: workload with errors ends" [ $? = 0 ]
	cat "$work/random.log"
	check "nbd: some requests failed" grep -q '^failed: [1-9]' "$work/random.log"
	unserve
	serve
	timeout 60 python3 "$workload" "nbd:$work/nbd.sock" verify "$work/nbd.state" \
		"$work/nbd.journal" >"$work/verify.log" 2>&1
	check "nbd: no unit corrupted by errors" [ $? = 0 ]
	cat "$work/verify.log"
	unserve
	check "nbd: errors are logged" grep -q "failed: Input/output error" "$work/nbdkit.log"
else
	echo "skip: NBD errors need nbdkit and $build/nbdkit-udmcrypt-filter.so"
fi

# ------------------------------------------------------------------------
# FUSE, as root.

if ((fuse)); then
	# The image file on a 2 MiB tmpfs: writes fail with ENOSPC once it is full.
	mkdir "$work/small" "$work/ext4"
	mount -t tmpfs -o size=2m,mode=700 udmcrypt-test "$work/small"
	check "fuse: small tmpfs mounted" mountpoint -q "$work/small"
	truncate -s 8M "$work/small/img"
	(umask 077 && echo "0 16384 crypt aes-xts-plain64 $key 0 $work/small/img 0" \
		> "$work/table-full")
	udm create full "$work/table-full" >/dev/null
	check "fuse: map the image on tmpfs" [ $? = 0 ]
	head -c 8M /dev/urandom > "$work/data"
	timeout 60 dd if="$work/data" of="$work/full" bs=64K conv=notrunc 2>"$work/dd.err"
	check "fuse: write to a full device fails" [ $? = 1 ]
	check "fuse: write says no space left" grep -q "No space left on device" "$work/dd.err"
	written=$(awk -F+ '/records out/ { print $1; exit }' "$work/dd.err")
	check "fuse: some writes succeed first" [ "${written:-0}" -gt 0 ]
	timeout 20 python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDWR))' \
		"$work/full"
	check "fuse: fsync after ENOSPC returns" [ $? != 124 ]
	udm remove full
	check "fuse: remove the full mapping" [ $? = 0 ]
	udm create full "$work/table-full" --readonly >/dev/null
	check "fuse: acknowledged writes read back" \
		cmp -s -n $((written * 65536)) "$work/data" "$work/full"
	udm remove full
	rm -f "$work/small/img"

	# ext4 on a loop device on a 2 MiB tmpfs: writes land in the page
	# cache, and the loop device fails them on writeback, so fsync fails.
	truncate -s 32M "$work/small/lower"
	mkfs.ext4 -q -F -O ^has_journal "$work/small/lower" &&
		mount -o loop,errors=continue "$work/small/lower" "$work/ext4"
	check "fuse: ext4 on a full tmpfs mounted" mountpoint -q "$work/ext4"
	truncate -s 16M "$work/ext4/img"
	(umask 077 && echo "0 32768 crypt aes-xts-plain64 $key 0 $work/ext4/img 0" \
		> "$work/table-ext")
	udm create ext "$work/table-ext" >/dev/null
	check "fuse: map the image on ext4" [ $? = 0 ]
	timeout 60 dd if="$work/data" of="$work/ext" bs=64K conv=notrunc,fsync \
		2>"$work/dd.err"
	rc=$?
	check "fuse: dd with fsync fails" [ "$rc" = 1 ]
	check "fuse: fsync fails with ENOSPC" grep -q "fsync failed.*No space left" "$work/dd.err"
	check "fuse: flush error is logged" grep -q "flush .* failed" "$work/.udmcrypt/ext/log"
	udm remove ext
	check "fuse: remove after failed fsync" [ $? = 0 ]

	# nbdkit 1.32's error filter cannot fail flushes, but the file
	# plugin's fdatasync on this ext4 fails the same way.
	if ((nbd)); then
		rm -f "$work/ext4/img" && truncate -s 4M "$work/ext4/img"
		image=$work/ext4/img
		serve
		nbd_request write 0 $((1 << 20))
		check "nbd: write to the ext4 image" [ $? = 0 ]
		check "nbd: flush fails with ENOSPC" [ "$(nbd_flush)" = 28 ]
		unserve
		check "nbd: flush error is logged" grep -q "flush .* failed" "$work/nbdkit.log"
	fi
	umount "$work/ext4"

	# The second mapping reads and writes the device file of the first,
	# whose second half is an "error" target.
	truncate -s 4M "$work/lower.img"
	printf '0 4096 linear %s 0\n4096 4096 error\n' "$work/lower.img" > "$work/table-errdev"
	udm create errdev "$work/table-errdev" >/dev/null
	check "fuse: map a device with errors" [ $? = 0 ]
	(umask 077 && echo "0 8192 crypt aes-xts-plain64 $key 0 $work/errdev 0 1" \
		"sector_size:4096" > "$work/table-top")
	udm create top "$work/table-top" >/dev/null
	check "fuse: map a volume over it" [ $? = 0 ]
	timeout 20 dd if="$work/data" of="$work/top" bs=64K count=16 conv=notrunc,fsync \
		status=none
	check "fuse: write to the good half works" [ $? = 0 ]
	timeout 20 dd if="$work/top" of="$work/back" bs=64K count=16 status=none
	check "fuse: read of the good half works" cmp -s -n 1M "$work/data" "$work/back"
	timeout 20 dd if="$work/data" of="$work/top" bs=64K seek=48 count=1 conv=notrunc \
		2>"$work/dd.err"
	check "fuse: write to the error half fails" [ $? = 1 ]
	check "fuse: write says I/O error" grep -q "Input/output error" "$work/dd.err"
	timeout 20 dd if="$work/data" of="$work/top" bs=1000 seek=$((3 << 20)) count=1 \
		oflag=seek_bytes conv=notrunc 2>"$work/dd.err"
	check "fuse: partial write there fails" grep -q "Input/output error" "$work/dd.err"
	timeout 20 dd if="$work/top" of=/dev/null bs=64K skip=48 count=1 iflag=direct \
		2>"$work/dd.err"
	check "fuse: read of the error half fails" grep -q "Input/output error" "$work/dd.err"
	check "fuse: errors are logged" grep -q "failed: Input/output error" \
		"$work/.udmcrypt/top/log"
	udm remove top
	udm remove errdev
	check "fuse: remove both mappings" [ $? = 0 ]
else
	echo "skip: FUSE errors need root, /dev/fuse and mkfs.ext4"
fi

finish
