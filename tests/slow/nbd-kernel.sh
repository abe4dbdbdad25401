#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Slow check, not part of the suite: data written through the nbdkit filter
# (nbdcopy, plus unaligned writes from the raw test client) must be what the
# real Linux dm-crypt reads, in a qemu machine run by kernel-dmcrypt. Covers
# a 4096-byte-sector table with a payload offset, and a LUKS2 volume that
# the machine's cryptsetup opens with the passphrase. Needs nbdkit, nbdcopy,
# python3 and ../shared/tools/kernel-dmcrypt; takes about a minute.
#
# Usage: nbd-kernel.sh [BUILD_DIR]
# Exit status: 0 pass, 1 fail, 77 skipped (a tool is missing).

set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
udm=$(realpath "$build/udmcrypt")
filter=$(realpath "$build/nbdkit-udmcrypt-filter.so")
client=$(realpath tests/e2e/nbd-client.py)
kdm=${KERNEL_DMCRYPT:-$(realpath ../shared/tools/kernel-dmcrypt 2>/dev/null || true)}

for tool in nbdkit nbdcopy python3 sha256sum; do
	command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ -x "$kdm" ] || { echo "SKIP: kernel-dmcrypt not found"; exit 77; }

work=$(mktemp -d /tmp/udmcrypt-nbd-kernel.XXXXXX)
server=
cleanup() {
	[ -z "$server" ] || { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT

# serve IMAGE FILTER_PARAMETER...: nbdkit on $work/sock until stop_server.
serve() {
	local image=$1
	shift
	rm -f "$work/sock"
	nbdkit -f -U "$work/sock" --filter="$filter" file "$image" "$@" &
	server=$!
	for _ in $(seq 100); do
		nbdinfo --can connect "nbd+unix:///?socket=$work/sock" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "FAIL: nbdkit did not start"
	exit 1
}
stop_server() { kill "$server"; wait "$server" || true; server=; }

# fill SIZE PLAIN: writes random data through the export, then unaligned
# patches with the raw client, and keeps the expected plaintext in PLAIN.
fill() {
	local size=$1 plain=$2 offset
	head -c "$size" /dev/urandom > "$plain"
	nbdcopy "$plain" "nbd+unix:///?socket=$work/sock"
	for offset in 1 4093 8191 $((size - 7)); do
		printf 'patch at %d!' "$offset" | head -c 7 > "$work/patch"
		python3 "$client" "$work/sock" write "$offset" < "$work/patch"
		dd if="$work/patch" of="$plain" bs=7 seek="$offset" oflag=seek_bytes conv=notrunc \
			status=none
	done
}

failures=0
result() { # result DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}

# A table with 4096-byte sectors and a payload offset of 1 MiB.
key=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
truncate -s 5M "$work/table.img"
spec="0 8192 crypt aes-xts-plain64 $key 16 DEV 2048 1 sector_size:4096"
(umask 077 && echo "${spec/ DEV / - }" > "$work/table")
serve "$work/table.img" udmcrypt-table="$work/table"
fill $((8192 * 512)) "$work/table.plain"
stop_server
"$kdm" decrypt "$spec" "$work/table.img" "$work/table.kernel"
result "Linux reads the table written through NBD" cmp -s "$work/table.kernel" "$work/table.plain"

# A LUKS2 volume: the machine's cryptsetup unlocks it with the passphrase.
printf 'kernel check passphrase' > "$work/pass"
truncate -s 20M "$work/luks.img"
"$udm" luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$work/pass" "$work/luks.img"
serve "$work/luks.img" udmcrypt-type=luks udmcrypt-passphrase-file="$work/pass"
fill $((4 << 20)) "$work/luks.plain"
stop_server
cat > "$work/vm.sh" <<'VM'
printf 'kernel check passphrase' > /tmp/pass
cryptsetup open --key-file /tmp/pass /dev/vda k || exit 1
head -c 4194304 /dev/mapper/k | sha256sum | sed 's/^/sum /'
cryptsetup close k
VM
"$kdm" run "$work/vm.sh" "$work/luks.img" > "$work/vm.out"
expected=$(sha256sum < "$work/luks.plain" | cut -d' ' -f1)
result "Linux opens the LUKS2 volume written through NBD" \
	grep -q "^sum $expected" "$work/vm.out"

exit $((failures > 0))
