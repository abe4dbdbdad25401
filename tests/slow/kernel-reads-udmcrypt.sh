#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Slow check, not part of the suite: udmcrypt makes ext4 filesystems on
# three mappings (different ciphers, IV generators and sector sizes), then
# the real Linux dm-crypt opens the same images with the same tables, in a
# qemu machine run by kernel-dmcrypt, and checks the files. Needs root and
# ../shared/tools/kernel-dmcrypt; takes about a minute.
#
# Usage: kernel-reads-udmcrypt.sh [BUILD_DIR]

set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
udm=$(realpath "$build/udmcrypt")
kdm=${KERNEL_DMCRYPT:-$(realpath ../shared/tools/kernel-dmcrypt)}

work=$(mktemp -d /tmp/udmcrypt-kread.XXXXXX)
cleanup() {
	mountpoint -q "$work/mnt" && umount "$work/mnt"
	for n in 0 1 2; do "$udm" remove "k$n" --dir "$work/run" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/mnt"

hexkey() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
specs=(
	"aes-xts-plain64 $(hexkey 64) 0 DEV 2048 1 sector_size:4096"
	"serpent-cbc-essiv:sha256 $(hexkey 32) 0 DEV 0"
	"twofish-xts-plain64 $(hexkey 64) 32 DEV 8 2 sector_size:4096 iv_large_sectors"
)
vm_script=$work/vm.sh
: >"$vm_script"
letters=(a b c)

for n in 0 1 2; do
	img=$work/disk$n.img
	truncate -s 16M "$img"
	offset=$(awk '{ print $5 }' <<<"${specs[n]}")
	len=$((16 * 2048 - offset))
	table="0 $len crypt ${specs[n]}"
	(umask 077 && echo "${table/ DEV / $img }" >"$work/table$n")
	loop=$("$udm" create "k$n" "$work/table$n" --dir "$work/run")
	mkfs.ext4 -q "$loop"
	mount "$loop" "$work/mnt"
	echo "written by udmcrypt, mapping $n" >"$work/mnt/note.txt"
	head -c 3M /dev/urandom >"$work/mnt/random.bin"
	(cd "$work/mnt" && sha256sum note.txt random.bin) >"$work/sums$n"
	umount "$work/mnt"
	"$udm" remove "k$n" --dir "$work/run"

	cat >>"$vm_script" <<VM
echo "${table/ DEV / /dev/vd${letters[n]} }" | dmsetup create k$n && dmsetup mknodes k$n || exit 1
mkdir -p /mnt/k$n && mount -o ro /dev/mapper/k$n /mnt/k$n || exit 1
(cd /mnt/k$n && sha256sum note.txt random.bin) | sed 's/^/k$n /'
umount /mnt/k$n && dmsetup remove k$n
VM
done

"$kdm" run "$vm_script" "$work"/disk0.img "$work"/disk1.img "$work"/disk2.img >"$work/vm.out"
failures=0
for n in 0 1 2; do
	if diff <(sed -n "s/^k$n //p" "$work/vm.out") "$work/sums$n" >/dev/null; then
		echo "ok: Linux read the files udmcrypt wrote through: ${specs[n]%% *}"
	else
		echo "FAIL: mapping $n (${specs[n]%% *}): Linux read other files"
		failures=$((failures + 1))
	fi
done
exit $((failures > 0))
