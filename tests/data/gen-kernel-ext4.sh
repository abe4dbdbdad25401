#!/usr/bin/env bash
# Regenerate kernel-ext4.img.xz and kernel-ext4.txt in this folder: a 16 MiB
# image on which the real Linux dm-crypt (in qemu, through the kernel-dmcrypt
# tool) wrote an ext4 filesystem that contains a few files. The mapping is
# aes-xts-plain64 with 4096-byte sectors and starts 1 MiB into the image.
# kernel-ext4.txt gets the table (device field DEV) and the sha256sum lines of
# the files, relative to the filesystem root. A run takes about 15 seconds
# (11 s measured on a 2-core machine), and CI does not run it. The key is
# fresh random bytes on each run.
#
# Usage: gen-kernel-ext4.sh [OUTDIR]       (default: the folder of this script)
# Environment: KERNEL_DMCRYPT  path of the kernel-dmcrypt tool
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}

tool=${KERNEL_DMCRYPT:-}
if [[ -z $tool ]]; then
    if [[ -x $here/../../../shared/tools/kernel-dmcrypt ]]; then
        tool=$here/../../../shared/tools/kernel-dmcrypt
    else
        tool=kernel-dmcrypt
    fi
fi
command -v "$tool" >/dev/null || { echo "kernel-dmcrypt not found: set KERNEL_DMCRYPT" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

image_sectors=$((16 * 2048))    # 16 MiB in 512-byte sectors
payload_offset=2048             # the mapping starts 1 MiB into the image
key=$(od -An -v -tx1 -N64 /dev/urandom | tr -d ' \n')
table="0 $((image_sectors - payload_offset)) crypt aes-xts-plain64 $key 0 DEV $payload_offset 1 sector_size:4096"

truncate -s $((image_sectors * 512)) "$work/kernel-ext4.img"

# The script runs inside the machine with the image as /dev/vda. Lines that
# start with "SHA " carry the sha256sum output, "KERNEL " the kernel release.
# lazy_journal_init=1 leaves the 4 MiB journal unwritten (mkfs.ext4 would
# otherwise zero it through the mapping), which shrank the .xz from 5.3 MB to
# 1.2 MB in one run. A cleanly unmounted journal is not replayed, so its
# unwritten blocks are never read.
cat >"$work/ext4.sh" <<EOF
set -e
echo "KERNEL \$(busybox uname -r)"
dmsetup create kext4 --table "${table/DEV//dev/vda}"
dmsetup mknodes kext4
mkfs.ext4 -q -E lazy_journal_init=1 /dev/mapper/kext4
mkdir -p /mnt/fs
mount -t ext4 /dev/mapper/kext4 /mnt/fs
printf 'hello from the kernel\n' >/mnt/fs/hello.txt
mkdir /mnt/fs/sub
busybox yes udmcrypt | head -c 1048576 >/mnt/fs/sub/udmcrypt.txt
cd /mnt/fs
sha256sum hello.txt sub/udmcrypt.txt | sed 's/^/SHA /'
cd /
umount /mnt/fs
e2fsck -fn /dev/mapper/kext4
debugfs -R stats /dev/mapper/kext4 2>/dev/null | grep -E '^(Block size|Filesystem features):'
dmsetup remove kext4
EOF

"$tool" run "$work/ext4.sh" "$work/kernel-ext4.img" >"$work/vm.log" ||
    { cat "$work/vm.log" >&2; exit 1; }
grep -v -e '^SHA ' -e '^KERNEL ' "$work/vm.log" >&2 || true
kernel=$(sed -n 's/^KERNEL //p' "$work/vm.log")

# The file contents are fixed, so their hashes can be checked here too.
expected=$(
    cd "$work" && mkdir -p sub &&
    printf 'hello from the kernel\n' >hello.txt &&
    { yes udmcrypt | head -c 1048576 >sub/udmcrypt.txt || true; } &&
    sha256sum hello.txt sub/udmcrypt.txt
)
actual=$(sed -n 's/^SHA //p' "$work/vm.log")
if [[ $actual != "$expected" ]]; then
    printf 'the file hashes from the machine differ from the expected ones:\n%s\n' "$actual" >&2
    exit 1
fi

{
    echo "# Linux $kernel dm-crypt wrote kernel-ext4.img (16 MiB, xz-compressed) through the table on the next line, with the image as DEV. The filesystem is ext4 from mkfs.ext4 -q -E lazy_journal_init=1. The lines after the table are sha256sum output for its files, with paths relative to its root. Made by gen-kernel-ext4.sh."
    echo "$table"
    echo "$actual"
} >"$work/kernel-ext4.txt"
xz -9 -T1 -c "$work/kernel-ext4.img" >"$work/kernel-ext4.img.xz"
mkdir -p "$out"
mv "$work/kernel-ext4.img.xz" "$work/kernel-ext4.txt" "$out/"
echo "wrote $out/kernel-ext4.img.xz and $out/kernel-ext4.txt (Linux $kernel)" >&2
