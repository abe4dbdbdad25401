#!/usr/bin/env bash
# The built-in example: builds udmcrypt, maps a 64 MiB image file with
# aes-xts-plain64 and a random key, makes ext4 on the loop device, mounts
# it, writes and reads files, unmounts, removes the mapping, maps it again
# from the same table and checks the files. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: run as root: it attaches a loop device and mounts ext4" >&2
	exit 1
fi
scripts/install-deps.sh
make -j"$(nproc)" >/dev/null
udmcrypt=$PWD/build/udmcrypt

work=$(mktemp -d /tmp/udmcrypt-demo.XXXXXX)
name=demo-$$
cleanup() {
	mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
	"$udmcrypt" remove "$name" --dir "$work/run" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== image file and table"
truncate -s 64M "$work/disk.img"
key=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && echo "0 131072 crypt aes-xts-plain64 $key 0 $work/disk.img 0 1 sector_size:4096" \
	>"$work/table")
unset key
"$udmcrypt" create "$name" "$work/table" --dir "$work/run" >"$work/loopdev"
loop=$(cat "$work/loopdev")
echo "mapping $name: file $work/run/$name, block device $loop"
"$udmcrypt" table "$name" --dir "$work/run"

echo "== ext4 on $loop"
mkfs.ext4 -q "$loop"
mkdir "$work/mnt"
mount "$loop" "$work/mnt"
echo "hello from udmcrypt" >"$work/mnt/hello.txt"
head -c 8M /dev/urandom >"$work/mnt/random.bin"
(cd "$work/mnt" && sha256sum hello.txt random.bin) >"$work/sums"
df -h "$work/mnt" | tail -1
umount "$work/mnt"
"$udmcrypt" remove "$name" --dir "$work/run"

echo "== the image holds no plaintext"
if grep -q "hello from udmcrypt" "$work/disk.img"; then
	echo "demo.sh: plaintext found in the image" >&2
	exit 1
fi
echo "no trace of hello.txt in $work/disk.img"

echo "== map again and check the files"
loop=$("$udmcrypt" create "$name" "$work/table" --dir "$work/run")
mount "$loop" "$work/mnt"
(cd "$work/mnt" && sha256sum -c "$work/sums")
cat "$work/mnt/hello.txt"
umount "$work/mnt"
"$udmcrypt" remove "$name" --dir "$work/run"
echo "== done"
