#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test of open --type plain: the crypt table udmcrypt builds must
# be the one cryptsetup 2.6 would load. cryptsetup cannot show a plain table
# without device-mapper, because it rejects --test-passphrase for plain. So
# the expected keys come from its algorithm (cryptsetup(8), "NOTES ON
# PASSPHRASE PROCESSING", and lib/crypt_plain.c of cryptsetup), computed here
# with Python's hashlib. The passphrase is hashed, and for a key longer than
# the digest, round i hashes i letters 'A' and then the passphrase. "hash:N"
# keeps N bytes and zero-fills the rest, "plain" copies the passphrase and
# zero-fills it, and a key file is the key itself. OpenSSL then decrypts a
# sector written through a mapping with --offset and --skip.
#
# Usage: test-plain.sh [BUILD_DIR]   (default: build)
# Exit status: 0 pass, 1 fail, 77 skipped (FUSE not usable, no python3).

set -u
. "$(dirname "$0")/lib.sh"

build=${1:-build}
udm=$(realpath "$build/udmcrypt" 2>/dev/null) || udm=

[ -c /dev/fuse ] || skip "/dev/fuse is missing"
[ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "no access to /dev/fuse for $(id -un)"
[ "$(id -u)" = 0 ] || command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
python3 -c 'import hashlib; hashlib.new("ripemd160")' 2>/dev/null ||
	skip "Python's hashlib has no ripemd160"
[ -x "$udm" ] || { echo "FAIL: $build/udmcrypt not found; run make first"; exit 1; }

work=$(mktemp -d /tmp/udmcrypt-plain.XXXXXX)
maps=$work/maps
mkdir "$maps"

cleanup() {
	remove_mappings "$udm" "$maps"
	release_under "$work"
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

fail() {
	checks=$((checks + 1))
	failures=$((failures + 1))
	echo "FAIL: $*"
	[ -s "$work/err" ] && sed 's/^/  last standard error: /' "$work/err"
}

udm() { "$udm" "$@" --dir "$maps"; }
# The key in hex of the mapping p, from its table.
table_key() { udm table --showkeys p | cut -d' ' -f5; }
run() { "$@" >"$work/out" 2>"$work/err"; rc=$?; }
failed_with() { [ "$rc" = "$1" ] && [ "$(wc -l <"$work/err")" = 1 ]; }

# The plain key of cryptsetup 2.6 for HASH_SPEC, the passphrase in the file
# PASS_FILE and KEY_BYTES, in hex.
expected_key() { # expected_key HASH_SPEC PASS_FILE KEY_BYTES
	python3 - "$@" <<'EOF'
import hashlib, sys
spec, pass_file, key_len = sys.argv[1], sys.argv[2], int(sys.argv[3])
passphrase = open(pass_file, 'rb').read()
name, _, count = spec.partition(':')
hashed = int(count) if count else key_len
if name == 'plain':
    key = passphrase[:hashed]
else:
    key, rounds = b'', 0
    while len(key) < hashed:
        key += hashlib.new(name, b'A' * rounds + passphrase).digest()
        rounds += 1
    key = key[:hashed]
print((key + bytes(key_len))[:key_len].hex())
EOF
}

device=$work/data.img
truncate -s 8M "$device"
sectors=$((8 * 1024 * 1024 / 512))

# open_case DESCRIPTION PASSPHRASE HASH_SPEC KEY_BYTES EXPECTED_TAIL OPTIONS...
# Opens with the passphrase on a pipe and compares the table: the key from
# HASH_SPEC, and after it EXPECTED_TAIL (IV offset, device, offset, options).
open_case() {
	local what=$1 passphrase=$2 spec=$3 bytes=$4 tail=$5 cipher=aes-cbc-essiv:sha256 key
	local size=$sectors arg
	shift 5
	for arg in "$@"; do
		case $arg in
		--cipher=*) cipher=${arg#--cipher=} ;;
		--size=*) size=${arg#--size=} ;;
		--offset=*) size=$((sectors - ${arg#--offset=})) ;;
		esac
	done
	printf '%s' "$passphrase" >"$work/pass"
	key=$(expected_key "$spec" "$work/pass" "$bytes")
	run udm open --type plain "$@" "$device" p <<<"$passphrase"
	check "open $what" [ "$rc" = 0 ]
	check "table of $what" \
		[ "$(udm table --showkeys p)" = "0 $size crypt $cipher $key $tail" ]
	udm close p
}

open_case "with the defaults (ripemd160, 256 bits)" secret ripemd160 32 "0 $device 0"
open_case "with --hash sha256" secret sha256 32 "0 $device 0" --hash sha256
open_case "with --hash sha256:16" secret sha256:16 32 "0 $device 0" -h sha256:16
open_case "with --hash plain" 0123456789abcdef0123456789abcdef plain 32 "0 $device 0" \
	--hash plain
open_case "with --hash plain and a short passphrase" short plain 32 "0 $device 0" --hash plain
open_case "with --hash sha512 and 512 bits" secret sha512 64 "0 $device 0" \
	--hash sha512 -s 512 --cipher=aes-xts-plain64
open_case "with --hash sha256 and 512 bits (two rounds)" secret sha256 64 "0 $device 0" \
	--hash=sha256 --key-size=512 --cipher=aes-xts-plain64
open_case "with ripemd160 and 512 bits (four rounds)" 'pass phrase' ripemd160 64 \
	"0 $device 0" -s 512 --cipher=aes-xts-plain64
open_case "with --offset, --skip and --size" secret ripemd160 32 "3 $device 8" \
	--offset=8 --skip=3 --size=100
open_case "with --sector-size 4096" secret ripemd160 32 \
	"0 $device 0 1 sector_size:4096" --sector-size 4096
open_case "with --hash sha1" secret sha1 32 "0 $device 0" -h sha1

# plainOpen is the alias of open --type plain.
printf 'secret\n' | udm plainOpen "$device" p >/dev/null
check "plainOpen maps" [ $? = 0 ]
printf 'secret' >"$work/pass"
check "plainOpen uses the plain defaults" \
	[ "$(table_key)" = "$(expected_key ripemd160 "$work/pass" 32)" ]
udm close p

# Only the newline that ends a line from a pipe is dropped.
printf 'secret\r\n' | udm open --type plain -h sha256 "$device" p >/dev/null
printf 'secret\r' >"$work/pass"
check "a carriage return stays in the passphrase" \
	[ "$(table_key)" = "$(expected_key sha256 "$work/pass" 32)" ]
udm close p

# --key-file -: all of standard input, newline included, hashed.
printf 'line one\nline two\n' | udm open --type plain -h sha256 --key-file - "$device" p >/dev/null
printf 'line one\nline two\n' >"$work/pass"
check "--key-file - hashes all of standard input" \
	[ "$(table_key)" = "$(expected_key sha256 "$work/pass" 32)" ]
udm close p

# A key file is the key: no hash, cut to the key size.
head -c 100 /dev/urandom >"$work/keyfile"
udm open --type plain --key-file "$work/keyfile" -s 512 -c aes-xts-plain64 "$device" p \
	>/dev/null
check "a key file gives the key bytes" \
	[ "$(table_key)" = "$(head -c 64 "$work/keyfile" | od -An -tx1 | tr -d ' \n')" ]
udm close p
run udm open --type plain --key-file "$work/keyfile" --keyfile-offset 10 --keyfile-size 16 \
	"$device" p
check "--keyfile-offset applies to a key file" \
	[ "$(table_key)" = \
	  "$(dd if="$work/keyfile" bs=1 skip=10 count=32 status=none | od -An -tx1 |
		tr -d ' \n')" ]
check "--keyfile-size is ignored with a warning, as cryptsetup" grep -q "keyfile-size" "$work/err"
udm close p
run udm open --type plain --key-file "$work/keyfile" -h sha256 "$device" p
check "--hash with a key file warns" grep -q "ignored" "$work/err"
udm close p

# OpenSSL decrypts what the mapping wrote: with --offset 8 and --skip 3, the
# first mapped sector lies at sector 8 of the device and has IV sector 3.
if command -v openssl >/dev/null; then
	head -c 512 /dev/urandom >"$work/sector.plain"
	printf 'secret\n' | udm open --type plain -h sha256 --offset 8 --skip 3 "$device" p \
		>/dev/null
	dd if="$work/sector.plain" of="$maps/p" bs=512 count=1 conv=notrunc status=none
	udm close p
	printf 'secret' >"$work/pass"
	key=$(expected_key sha256 "$work/pass" 32)
	salt=$(python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$key" |
		openssl dgst -sha256 -binary | od -An -tx1 | tr -d ' \n')
	iv=$(printf '\003\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' |
		openssl enc -aes-256-ecb -K "$salt" -nopad | od -An -tx1 | tr -d ' \n')
	dd if="$device" bs=512 skip=8 count=1 status=none |
		openssl enc -d -aes-256-cbc -K "$key" -iv "$iv" -nopad >"$work/sector.decrypted"
	check "openssl decrypts sector 8 with the IV of sector 3" \
		cmp -s "$work/sector.plain" "$work/sector.decrypted"
else
	echo "skip: openssl is not installed: no decryption check"
fi

# Bad input: one error line and exit status 1; nothing is mapped.
before=$(sha256sum "$device")
expect_fail() { # expect_fail DESCRIPTION COMMAND...
	local what=$1
	shift
	run "$@" <<<"secret"
	check "$what exits 1 with one error line" failed_with 1
}
expect_fail "--test-passphrase with plain" udm open --type plain --test-passphrase "$device"
expect_fail "plain open without a name" udm open --type plain "$device"
expect_fail "unknown hash" udm open --type plain -h nosuchhash "$device" p
expect_fail "hash length above the key size" udm open --type plain -h sha256:33 "$device" p
expect_fail "--hash plain:16 with a short passphrase" \
	udm open --type plain -h plain:16 "$device" p
expect_fail "key size not a multiple of 8" udm open --type plain -s 100 "$device" p
expect_fail "key file shorter than the key" \
	udm open --type plain --key-file "$work/keyfile" -s 1024 "$device" p
expect_fail "offset beyond the device" udm open --type plain -o 99999 "$device" p
expect_fail "--header with plain" udm open --type plain --header "$work/keyfile" "$device" p
expect_fail "plainOpen with --type luks" udm plainOpen --type luks "$device" p
check "failed opens map nothing" [ "$(udm ls)" = "No devices found" ]
check "failed opens leave the device as it was" [ "$(sha256sum "$device")" = "$before" ]

finish
