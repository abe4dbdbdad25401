#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Maps an image whose ext4 filesystem Linux dm-crypt wrote (tests/data,
# made by gen-kernel-ext4.sh with kernel-dmcrypt) and checks its files:
# read-only through the FUSE file with debugfs, then as root mounted from
# the loop device.
#
# Usage: test-kernel-ext4.sh [BUILD_DIR]   (default: build)
# Exit status: 0 pass, 1 fail, 77 skipped (no FUSE or no debugfs).

set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
udm=$(realpath "$build/udmcrypt")
data=tests/data

skip() { echo "SKIP: $*"; exit 77; }
[ -c /dev/fuse ] || skip "/dev/fuse is missing"
for tool in debugfs xz sha256sum; do
	command -v $tool >/dev/null || skip "$tool is not installed"
done

work=$(mktemp -d /tmp/udmcrypt-kext4.XXXXXX)
name=kext4-$$
failures=0
cleanup() {
	mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
	"$udm" remove "$name" --dir "$work/run" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

xz -dc "$data/kernel-ext4.img.xz" >"$work/disk.img"
sha256sum "$work/disk.img" >"$work/image.sum"
table=$(grep -v '^#' "$data/kernel-ext4.txt" | head -1)
(umask 077 && echo "${table/ DEV / $work/disk.img }" >"$work/table")
grep -v '^#' "$data/kernel-ext4.txt" | tail -n +2 >"$work/expected"

"$udm" create "$name" "$work/table" --dir "$work/run" --readonly >"$work/create.out" ||
	{ echo "FAIL: create"; exit 1; }

# debugfs reads the filesystem from the FUSE file, with no mount.
while read -r sum path; do
	got=$(debugfs -R "cat /$path" "$work/run/$name" 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$got" = "$sum" ] || fail "debugfs: $path has sha256 $got, expected $sum"
done <"$work/expected"
echo "debugfs read $(wc -l <"$work/expected") files"

if [ "$(id -u)" = 0 ]; then
	loop=$(head -1 "$work/create.out")
	mkdir "$work/mnt"
	if mount -o ro "$loop" "$work/mnt"; then
		(cd "$work/mnt" && sha256sum -c --quiet "$work/expected") ||
			fail "files in the mounted filesystem differ"
		umount "$work/mnt"
	else
		fail "mount -o ro $loop"
	fi
fi

"$udm" remove "$name" --dir "$work/run" || fail "remove"
sha256sum -c --quiet "$work/image.sum" || fail "the image changed on a read-only mapping"
exit $((failures > 0))
