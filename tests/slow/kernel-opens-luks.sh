#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Slow check, not part of the suite: udmcrypt formats LUKS1 and LUKS2
# volumes (several ciphers and sector sizes), changes their key slots, and
# writes ext4 filesystems through them; then Linux opens each volume with
# cryptsetup and dm-crypt in a qemu machine run by kernel-dmcrypt, with
# every passphrase that should work and one that should not, and checks
# the files. Needs root and ../shared/tools/kernel-dmcrypt; about a minute.
#
# Usage: kernel-opens-luks.sh [BUILD_DIR]

set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
udm=$(realpath "$build/udmcrypt")
kdm=${KERNEL_DMCRYPT:-$(realpath ../shared/tools/kernel-dmcrypt)}

work=$(mktemp -d /tmp/udmcrypt-kluks.XXXXXX)
cleanup() {
	mountpoint -q "$work/mnt" && umount "$work/mnt"
	for n in 0 1 2 3; do "$udm" close "v$n" --dir "$work/run" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/mnt"
fast=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode)
formats=(
	"--type luks1 --cipher aes-xts-plain64 --key-size 512"
	"--type luks2 --cipher aes-xts-plain64 --key-size 512 --sector-size 4096"
	"--type luks2 --cipher serpent-xts-plain64 --key-size 256 --sector-size 512"
	"--type luks1 --cipher twofish-cbc-essiv:sha256 --key-size 256"
)
letters=(a b c d)
vm=$work/vm.sh
: >"$vm"

for n in 0 1 2 3; do
	img=$work/disk$n.img
	truncate -s 24M "$img"
	printf 'first-%s' "$n" >"$work/pass$n.a"
	printf 'second-%s' "$n" >"$work/pass$n.b"
	printf 'removed-%s' "$n" >"$work/pass$n.c"
	# shellcheck disable=SC2086
	"$udm" luksFormat "${fast[@]}" ${formats[n]} "$img" "$work/pass$n.a"
	"$udm" luksAddKey "${fast[@]}" --key-file "$work/pass$n.a" "$img" "$work/pass$n.c"
	"$udm" luksAddKey "${fast[@]}" --key-file "$work/pass$n.a" "$img" "$work/pass$n.b"
	"$udm" luksRemoveKey --batch-mode "$img" "$work/pass$n.c"
	loop=$("$udm" open --key-file "$work/pass$n.b" "$img" "v$n" --dir "$work/run")
	mkfs.ext4 -q "$loop"
	mount "$loop" "$work/mnt"
	echo "volume $n written by udmcrypt" >"$work/mnt/note.txt"
	head -c 2M /dev/urandom >"$work/mnt/random.bin"
	(cd "$work/mnt" && sha256sum note.txt random.bin) >"$work/sums$n"
	umount "$work/mnt"
	"$udm" close "v$n" --dir "$work/run"

	dev=/dev/vd${letters[n]}
	cat >>"$vm" <<VM
for pass in first-$n second-$n; do
	printf %s "\$pass" | cryptsetup open --key-file=- $dev v$n || { echo "v$n \$pass refused"; continue; }
	mount -o ro /dev/mapper/v$n /mnt && (cd /mnt && sha256sum note.txt random.bin) | sed "s/^/v$n \$pass /"
	umount /mnt; cryptsetup close v$n
done
if printf removed-$n | cryptsetup open --test-passphrase --key-file=- $dev; then
	echo "v$n removed accepted"
fi
VM
done

"$kdm" run "$vm" "$work"/disk0.img "$work"/disk1.img "$work"/disk2.img "$work"/disk3.img \
	>"$work/vm.out"
failures=0
for n in 0 1 2 3; do
	for pass in first second; do
		if diff <(sed -n "s/^v$n $pass-$n //p" "$work/vm.out") "$work/sums$n" >/dev/null; then
			echo "ok: Linux opened volume $n (${formats[n]}) with the $pass passphrase"
		else
			echo "FAIL: volume $n (${formats[n]}): the $pass passphrase"
			failures=$((failures + 1))
		fi
	done
	if grep -q "^v$n removed accepted" "$work/vm.out"; then
		echo "FAIL: volume $n: Linux accepted the removed passphrase"
		failures=$((failures + 1))
	fi
done
exit $((failures > 0))
