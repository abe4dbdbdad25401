#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test of the cryptsetup-style verbs on LUKS1 and LUKS2 images:
# luksFormat from key files and pipes, open and close through FUSE, the key
# slot verbs, isLuks, luksUUID, luksDump, header backup and restore, detached
# headers and volume key files. Volumes are cross-checked with cryptsetup
# (luksDump, open --test-passphrase, luksDump --dump-volume-key) and with
# OpenSSL, which decrypts the first payload sector with the dumped volume key.
# Volumes made by cryptsetup and by qemu-img must open in udmcrypt. As root,
# an ext4 file system on the loop device must survive close and open.
#
# Usage: test-luks-cli.sh [BUILD_DIR]   (default: build)
# Exit status: 0 pass, 1 fail, 77 skipped (FUSE not usable). Parts that need
# cryptsetup, qemu-img, openssl, python3 or root print "skip:" and are left
# out.

set -u
. "$(dirname "$0")/lib.sh"

build=${1:-build}
udm=$(realpath "$build/udmcrypt" 2>/dev/null) || udm=

[ -c /dev/fuse ] || skip "/dev/fuse is missing"
[ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "no access to /dev/fuse for $(id -un)"
[ "$(id -u)" = 0 ] || command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
for tool in sha256sum; do
	command -v $tool >/dev/null || skip "$tool is not installed"
done
[ -x "$udm" ] || { echo "FAIL: $build/udmcrypt not found; run make first"; exit 1; }

have() { command -v "$1" >/dev/null; }
is_root() { [ "$(id -u)" = 0 ]; }

work=$(mktemp -d /tmp/udmcrypt-luks.XXXXXX)
maps=$work/maps
mnt=$work/mnt
mkdir "$maps" "$mnt"

# Leaves no mount, loop device or daemon behind, whatever failed before.
cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
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
note() { echo "skip: $*"; }
matches() { [[ $1 =~ $2 ]]; }   # matches STRING REGEX

udm() { "$udm" "$@" --dir "$maps"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
# Runs a command, keeping its exit status in rc and standard error in err.
run() { "$@" >"$work/out" 2>"$work/err"; rc=$?; err=$(cat "$work/err"); }
one_line() { [ "$(wc -l <"$work/err")" = 1 ]; }
# Checks the exit status kept by run and that it printed one error line.
failed_with() { [ "$rc" = "$1" ] && one_line; }
# The hex volume key from a "luksDump --dump-volume-key" listing.
volume_key() {
	awk '/^MK dump:/ { sub(/^MK dump:/, ""); on = 1 }
	     on && /^[A-Za-z]/ && !/^MK dump/ { on = 0 }
	     on { gsub(/[ \t]/, ""); printf "%s", $0 }'
}
udm_key() { # udm_key IMAGE PASSPHRASE
	printf '%s' "$2" | "$udm" luksDump -q --dump-volume-key --key-file - "$1" | volume_key
}
cs_key() { # cs_key IMAGE PASSPHRASE
	printf '%s' "$2" | cryptsetup luksDump -q --dump-volume-key --key-file - "$1" | volume_key
}
# The payload offset in bytes, from either tool's luksDump.
data_offset() {
	cryptsetup luksDump "$1" 2>/dev/null | awk '
		/^Payload offset:/ { print $3 * 512; exit }
		/^Data segments:/ { seg = 1 }
		seg && /offset:/ { print $2; exit }'
}

fast=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)
argon=(--pbkdf argon2id --pbkdf-memory 32 --iter-time 10)
have cryptsetup || note "cryptsetup is not installed: no cross-checks with it"
have openssl || note "openssl is not installed: no decryption of payload sectors"
have python3 || note "python3 is not installed: no terminal, JSON or payload checks"

head -c 1M /dev/urandom >"$work/plaintext"

# Formats, open and close, and cross-checks for each combination.

# Decrypts the first payload sector of an aes-cbc-essiv:sha256 volume with
# OpenSSL and compares it with the plaintext written through the mapping. The
# IV of sector 0 is sector number 0 encrypted with the SHA-256 of the key.
check_payload() { # check_payload IMAGE KEY SECTOR_SIZE
	local image=$1 key=$2 sector=$3 offset salt iv
	offset=$(data_offset "$image")
	dd if="$image" of="$work/sector" bs=512 skip=$((offset / 512)) count=$((sector / 512)) \
		status=none
	salt=$(unhex "$key" | openssl dgst -sha256 -binary | od -An -tx1 | tr -d ' \n')
	iv=$(head -c 16 /dev/zero | openssl enc -aes-256-ecb -K "$salt" -nopad |
		od -An -tx1 | tr -d ' \n')
	openssl enc -d "-aes-$(( ${#key} * 4 ))-cbc" -K "$key" -iv "$iv" -nopad \
		-in "$work/sector" -out "$work/sector.plain" &&
		cmp -s -n "$sector" "$work/sector.plain" "$work/plaintext"
}
unhex() { python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$1"; }

format_case() { # format_case TYPE CIPHER KEY_BITS SECTOR_SIZE INPUT
	local type=$1 cipher=$2 bits=$3 sector=$4 input=$5
	local image=$work/$type-$cipher-$sector.img
	local what="$type $cipher $bits-bit $sector B ($input)"
	local extra=() uk ck
	truncate -s 40M "$image"
	[ "$sector" != 512 ] && extra=(--sector-size "$sector")
	[ "$type" = luks2 ] && [ "$sector" = 512 ] && extra=(--sector-size 512)
	if [ "$input" = pipe ]; then
		printf 'pass-%s\n' "$type" |
			udm luksFormat -q --type "$type" -c "$cipher" -s "$bits" "${fast[@]}" \
				"${extra[@]}" "$image"
	else
		printf 'pass-%s' "$type" >"$work/keyfile"
		udm luksFormat -q --type "$type" -c "$cipher" -s "$bits" "${fast[@]}" \
			"${extra[@]}" "$image" "$work/keyfile"
	fi
	check "luksFormat $what" [ $? = 0 ]
	check "isLuks $what" udm isLuks "$image"

	printf 'pass-%s' "$type" | udm open --test-passphrase --key-file - "$image"
	check "open --test-passphrase $what" [ $? = 0 ]
	before=$(sum "$image")
	run udm open --test-passphrase "$image" <<<"wrong"
	check "wrong passphrase exits 2 ($what)" failed_with 2
	check "wrong passphrase leaves the image ($what)" [ "$(sum "$image")" = "$before" ]

	printf 'pass-%s' "$type" | udm open --key-file - "$image" vol >/dev/null
	check "open $what" [ $? = 0 ]
	dd if="$work/plaintext" of="$maps/vol" bs=64k conv=notrunc status=none
	check "write through the mapping ($what)" [ $? = 0 ]
	udm close vol
	check "close $what" [ $? = 0 ]
	printf 'pass-%s\n' "$type" | udm open "$image" vol >/dev/null
	check "reopen from a pipe ($what)" [ $? = 0 ]
	check "data survives close and open ($what)" \
		cmp -s -n 1048576 "$maps/vol" "$work/plaintext"
	udm close vol

	uk=$(udm_key "$image" "pass-$type")
	check "dump-volume-key prints a $bits-bit key ($what)" [ "${#uk}" = $((bits / 4)) ]
	if have cryptsetup; then
		cryptsetup luksDump "$image" >/dev/null 2>&1
		check "cryptsetup luksDump reads $what" [ $? = 0 ]
		case $cipher in
		aes-*)
			printf 'pass-%s' "$type" |
				cryptsetup open --test-passphrase --key-file=- "$image" 2>/dev/null
			check "cryptsetup accepts the passphrase ($what)" [ $? = 0 ]
			ck=$(cs_key "$image" "pass-$type")
			check "both tools dump the same volume key ($what)" [ "$uk" = "$ck" ]
			;;
		esac
	fi
	if have openssl && have cryptsetup && have python3 &&
		[ "$cipher" = aes-cbc-essiv:sha256 ]; then
		check "openssl decrypts the first payload sector ($what)" \
			check_payload "$image" "$uk" "$sector"
	fi
}

format_case luks2 aes-xts-plain64 512 4096 keyfile
format_case luks2 aes-xts-plain64 256 512 pipe
format_case luks2 aes-cbc-essiv:sha256 256 4096 pipe
format_case luks2 serpent-xts-plain64 512 512 keyfile
format_case luks1 aes-xts-plain64 512 512 pipe
format_case luks1 aes-cbc-essiv:sha256 256 512 keyfile
format_case luks1 twofish-cbc-plain64 256 512 pipe

# Argon2id key slots.
image=$work/argon.img
truncate -s 20M "$image"
printf 'argon' | udm luksFormat -q "${argon[@]}" "$image" -
check "luksFormat with argon2id" [ $? = 0 ]
printf 'argon' | udm open --test-passphrase --key-file - "$image"
check "argon2id slot unlocks" [ $? = 0 ]
if have cryptsetup; then
	printf 'argon' | cryptsetup open --test-passphrase --key-file=- "$image" 2>/dev/null
	check "cryptsetup unlocks the argon2id slot" [ $? = 0 ]
fi

# A file system, as root on the loop device.

if is_root && have mkfs.ext4; then
	image=$work/fs.img
	truncate -s 64M "$image"
	printf 'fs-pass' | udm luksFormat -q "${fast[@]}" "$image" -
	loop=$(printf 'fs-pass' | udm open --key-file - "$image" fs)
	check "open as root prints a loop device ($loop)" matches "$loop" '^/dev/loop[0-9]+$'
	mkfs.ext4 -q -F "$loop" >/dev/null 2>&1
	check "mkfs.ext4 on $loop" [ $? = 0 ]
	mount "$loop" "$mnt"
	check "mount $loop" [ $? = 0 ]
	head -c 3M /dev/urandom >"$mnt/random"
	echo "udmcrypt luks test" >"$mnt/text"
	(cd "$mnt" && sha256sum random text) >"$work/sums"
	run udm close fs
	check "close while mounted exits 5" [ "$rc" = 5 ]
	umount "$mnt"
	udm close fs
	check "close after umount" [ $? = 0 ]
	check "close detaches the loop device" \
		[ -z "$(grep -lsx "$maps/fs" /sys/block/loop*/loop/backing_file)" ]
	loop=$(printf 'fs-pass' | udm open --key-file - "$image" fs)
	mount "$loop" "$mnt"
	(cd "$mnt" && sha256sum --quiet -c "$work/sums")
	check "files intact after reopen" [ $? = 0 ]
	umount "$mnt"
	loop=$(printf 'fs-pass' | udm open --readonly --key-file - "$image" fsro 2>&1)
	check "a second mapping of the same image, read-only" matches "$loop" '^/dev/loop[0-9]+$'
	udm close fsro
	udm close fs
else
	note "file system part needs root and mkfs.ext4"
fi

# Key slots: add, change, remove, kill.

image=$work/keys.img
for type in luks1 luks2; do
	truncate -s 20M "$image"
	printf 'first' | udm luksFormat -q --type "$type" "${fast[@]}" "$image" -
	printf 'first\nsecond\n' | udm luksAddKey "${fast[@]}" "$image"
	check "$type luksAddKey from a pipe" [ $? = 0 ]
	printf 'second' | udm open --test-passphrase -S 1 --key-file - "$image"
	check "$type new passphrase is in slot 1" [ $? = 0 ]
	printf 'third' >"$work/new"
	printf 'second' | udm luksAddKey "${fast[@]}" -S 5 --key-file - "$image" "$work/new"
	check "$type luksAddKey with key files into slot 5" [ $? = 0 ]
	printf 'third' | udm open --test-passphrase -S 5 --key-file - "$image"
	check "$type slot 5 opens with the new key file" [ $? = 0 ]
	printf 'xxfourthyy' >"$work/new2"
	printf 'third' | udm luksAddKey "${fast[@]}" --key-file - --new-keyfile "$work/new2" \
		--new-keyfile-offset 2 --new-keyfile-size 6 "$image"
	check "$type luksAddKey with --new-keyfile-offset and -size" [ $? = 0 ]
	printf 'fourth' | udm open --test-passphrase --key-file - "$image"
	check "$type the cut new key file unlocks" [ $? = 0 ]

	before=$(sum "$image")
	run udm luksAddKey "${fast[@]}" -S 5 --key-file "$work/new" "$image" "$work/new2"
	check "$type luksAddKey into a used slot exits 1" [ "$rc" = 1 ]
	printf 'wrong\nnew\n' | udm luksAddKey "${fast[@]}" "$image" 2>/dev/null
	check "$type luksAddKey with a wrong passphrase exits 2" [ $? = 2 ]
	check "$type wrong passphrase leaves the image" [ "$(sum "$image")" = "$before" ]

	printf 'second\nchanged\n' | udm luksChangeKey "${fast[@]}" "$image"
	check "$type luksChangeKey" [ $? = 0 ]
	printf 'second' | udm open --test-passphrase --key-file - "$image" 2>/dev/null
	check "$type old passphrase no longer opens" [ $? = 2 ]
	if [ "$type" = luks2 ]; then
		printf 'changed' | udm open --test-passphrase -S 1 --key-file - "$image"
		check "luks2 luksChangeKey keeps slot 1, as cryptsetup" [ $? = 0 ]
	else
		printf 'changed' | udm open --test-passphrase -S 3 --key-file - "$image"
		check "luks1 luksChangeKey moves to the first free slot 3, as cryptsetup" [ $? = 0 ]
	fi
	if have cryptsetup; then
		for pass in first changed third fourth; do
			printf '%s' "$pass" |
				cryptsetup open --test-passphrase --key-file=- "$image" 2>/dev/null
			check "$type cryptsetup accepts the slot of '$pass'" [ $? = 0 ]
		done
	fi

	printf 'fourth\n' | udm luksRemoveKey "$image"
	check "$type luksRemoveKey" [ $? = 0 ]
	printf 'fourth' | udm open --test-passphrase --key-file - "$image" 2>/dev/null
	check "$type removed passphrase no longer opens" [ $? = 2 ]
	printf 'first' | udm luksKillSlot "$image" 5
	check "$type luksKillSlot 5 with a remaining passphrase" [ $? = 0 ]
	printf 'third' | udm open --test-passphrase --key-file - "$image" 2>/dev/null
	check "$type killed slot no longer opens" [ $? = 2 ]
	before=$(sum "$image")
	run udm luksKillSlot --key-file "$work/new" "$image" 0
	check "$type luksKillSlot with a wrong passphrase exits 2" [ "$rc" = 2 ]
	check "$type refused kill leaves the image" [ "$(sum "$image")" = "$before" ]
	run udm luksKillSlot "$image" 5 </dev/null
	check "$type luksKillSlot of an inactive slot exits 1" [ "$rc" = 1 ]
	udm luksKillSlot "$image" 0 </dev/null 2>/dev/null
	check "$type luksKillSlot with empty input skips the check, as cryptsetup" [ $? = 0 ]
	printf 'first' | udm open --test-passphrase --key-file - "$image" 2>/dev/null
	check "$type killed slot 0 no longer opens" [ $? = 2 ]
done

# isLuks, luksUUID, luksDump.

image=$work/info.img
truncate -s 20M "$image"
printf 'info' | udm luksFormat -q "${fast[@]}" --label mylabel --subsystem mysub "$image" -
run udm isLuks "$work/plaintext"
check "isLuks of a non-LUKS file exits 1" [ "$rc" = 1 ]
check "isLuks of a non-LUKS file is silent" [ -z "$err" ]
run udm isLuks -v "$work/plaintext"
check "isLuks -v says why" failed_with 1
run udm isLuks --type luks1 "$image"
check "isLuks --type luks1 of LUKS2 exits 1" [ "$rc" = 1 ]
run udm isLuks -v "$image"
check "isLuks -v prints Command successful." [ "$(cat "$work/out")" = "Command successful." ]
uuid=01234567-89ab-cdef-0123-456789abcdef
udm luksUUID "$image" --uuid "$uuid"
check "luksUUID --uuid" [ $? = 0 ]
check "luksUUID prints the new UUID" [ "$(udm luksUUID "$image")" = "$uuid" ]
if have cryptsetup; then
	check "cryptsetup reads the new UUID" [ "$(cryptsetup luksUUID "$image")" = "$uuid" ]
fi
before=$(sum "$image")
run udm luksUUID "$image" --uuid not-a-uuid
check "invalid UUID exits 1" failed_with 1
check "invalid UUID leaves the image" [ "$(sum "$image")" = "$before" ]
udm luksDump "$image" >"$work/dump"
check "luksDump shows the label" grep -q "^Label:.*mylabel" "$work/dump"
check "luksDump shows the subsystem" grep -q "^Subsystem:.*mysub" "$work/dump"
if have cryptsetup; then
	cryptsetup luksDump "$image" >"$work/cs-dump"
	check "luksDump equals cryptsetup's" cmp -s "$work/dump" "$work/cs-dump"
fi
if have python3; then
	udm luksDump --dump-json-metadata "$image" |
		python3 -c 'import json, sys; json.load(sys.stdin)'
	check "luksDump --dump-json-metadata prints JSON" [ $? = 0 ]
fi
printf 'info' | udm luksDump -q --dump-volume-key --key-file - "$image" >"$work/vk"
check "luksDump --dump-volume-key -q" grep -q "^MK dump:" "$work/vk"
printf 'nope' | udm luksDump -q --dump-volume-key --key-file - "$image" >/dev/null 2>&1
check "luksDump --dump-volume-key with a wrong passphrase exits 2" [ $? = 2 ]

# Header backup and restore.

image=$work/backup.img
truncate -s 20M "$image"
printf 'bk' | udm luksFormat -q "${fast[@]}" "$image" -
udm luksHeaderBackup "$image" --header-backup-file "$work/hdr.bak"
check "luksHeaderBackup" [ $? = 0 ]
check "header backup is mode 0600" [ "$(stat -c %a "$work/hdr.bak")" = 600 ]
run udm luksHeaderBackup "$image" --header-backup-file "$work/hdr.bak"
check "backup onto an existing file exits 1" failed_with 1
run udm luksHeaderBackup "$work/plaintext" --header-backup-file "$work/none.bak"
check "backup of a non-LUKS file exits 1" failed_with 1
check "backup of a non-LUKS file creates no file" [ ! -e "$work/none.bak" ]
run udm luksHeaderBackup "$image"
check "backup without --header-backup-file exits 1" failed_with 1
# Both binary headers of the default LUKS2 layout: 16 KiB each.
dd if=/dev/zero of="$image" bs=4096 count=8 conv=notrunc status=none
check "zeroed headers are not LUKS" not udm isLuks "$image"
before=$(sum "$image")
run udm luksHeaderRestore -q "$image" --header-backup-file "$work/plaintext"
check "restore from a non-LUKS file exits 1" failed_with 1
check "refused restore leaves the image" [ "$(sum "$image")" = "$before" ]
udm luksHeaderRestore -q "$image" --header-backup-file "$work/hdr.bak"
check "luksHeaderRestore" [ $? = 0 ]
printf 'bk' | udm open --test-passphrase --key-file - "$image"
check "restored header opens" [ $? = 0 ]
if have cryptsetup; then
	cryptsetup luksHeaderBackup "$image" --header-backup-file "$work/cs.bak"
	check "cryptsetup's header backup equals udmcrypt's" cmp -s "$work/cs.bak" "$work/hdr.bak"
fi

# Detached header and volume key files.

data=$work/detached.img
truncate -s 20M "$data"
udm luksFormat -q "${fast[@]}" --header "$work/detached.hdr" "$data" "$work/keyfile"
check "luksFormat --header creates the header file" [ -s "$work/detached.hdr" ]
check "detached header file is mode 0600" [ "$(stat -c %a "$work/detached.hdr")" = 600 ]
run udm isLuks "$data"
check "data device of a detached header is not LUKS" [ "$rc" = 1 ]
udm open --test-passphrase --header "$work/detached.hdr" --key-file "$work/keyfile" "$data"
check "open --test-passphrase --header" [ $? = 0 ]
udm open --header "$work/detached.hdr" --key-file "$work/keyfile" "$data" det >/dev/null
check "open --header" [ $? = 0 ]
udm table det | grep -q " $data "
check "table of the detached header maps the data device" [ $? = 0 ]
udm close det
if have cryptsetup; then
	cryptsetup open --test-passphrase --header "$work/detached.hdr" \
		--key-file "$work/keyfile" "$data" 2>/dev/null
	check "cryptsetup opens the detached header" [ $? = 0 ]
	# cryptsetup 2.6 puts the payload at offset 0 with --header.
	offset=$(data_offset "$work/detached.hdr")
	check "detached header payload at offset 0, as cryptsetup" [ "$offset" = 0 ]
fi

head -c 64 /dev/urandom >"$work/vk.bin"
image=$work/vkfile.img
truncate -s 20M "$image"
printf 'vk' | udm luksFormat -q "${fast[@]}" --volume-key-file "$work/vk.bin" "$image" -
check "luksFormat --volume-key-file" [ $? = 0 ]
check "the volume key is the file's" \
	[ "$(udm_key "$image" vk)" = "$(od -An -tx1 "$work/vk.bin" | tr -d ' \n')" ]
udm open --volume-key-file "$work/vk.bin" "$image" vkopen </dev/null >/dev/null
check "open --volume-key-file" [ $? = 0 ]
udm close vkopen
printf 'other\n' | udm luksAddKey "${fast[@]}" --volume-key-file "$work/vk.bin" "$image"
check "luksAddKey --volume-key-file" [ $? = 0 ]
printf 'other' | udm open --test-passphrase --key-file - "$image"
check "key slot added with the volume key opens" [ $? = 0 ]
head -c 64 /dev/urandom >"$work/wrong.bin"
run udm open --volume-key-file "$work/wrong.bin" --test-passphrase "$image"
check "a wrong volume key file exits 2" failed_with 2

# Volumes made by cryptsetup and by qemu-img.

if have cryptsetup; then
	for type in luks1 luks2; do
		image=$work/cs-$type.img
		truncate -s 20M "$image"
		printf 'cs-pass' | cryptsetup luksFormat -q --type "$type" "${fast[@]}" \
			-c aes-cbc-essiv:sha256 -s 256 "$image" -
		printf 'cs-pass' | udm open --test-passphrase --key-file - "$image"
		check "cryptsetup's $type volume unlocks in udmcrypt" [ $? = 0 ]
		check "both tools dump the same key of cryptsetup's $type volume" \
			[ "$(udm_key "$image" cs-pass)" = "$(cs_key "$image" cs-pass)" ]
		udm luksDump "$image" >"$work/dump"
		cryptsetup luksDump "$image" >"$work/cs-dump"
		check "luksDump of cryptsetup's $type volume equals cryptsetup's" \
			cmp -s "$work/dump" "$work/cs-dump"
		printf 'cs-pass' | udm open --key-file - "$image" csvol >/dev/null
		dd if="$work/plaintext" of="$maps/csvol" bs=64k conv=notrunc status=none
		udm close csvol
		if have openssl && have python3; then
			check "openssl decrypts what udmcrypt wrote on cryptsetup's $type volume" \
				check_payload "$image" "$(cs_key "$image" cs-pass)" \
				"$( [ $type = luks2 ] && cryptsetup luksDump "$image" |
					awk '/sector:/ { print $2; exit }' || echo 512)"
		fi
	done
	image=$work/cs-argon.img
	truncate -s 20M "$image"
	printf 'cs-argon' | cryptsetup luksFormat -q --pbkdf argon2id --pbkdf-memory 32 \
		--pbkdf-force-iterations 4 "$image" -
	printf 'cs-argon' | udm open --test-passphrase --key-file - "$image"
	check "cryptsetup's argon2id volume unlocks in udmcrypt" [ $? = 0 ]
fi

# NOTE: qemu-img 7.2 sometimes fails its PBKDF benchmark on a busy or
# virtual machine ("Unable to get accurate CPU usage"); that skips this part.
if have qemu-img; then
	image=$work/qemu.img
	if qemu-img convert -f raw -O luks --object secret,id=sec0,data=qemu-pass \
		-o key-secret=sec0,iter-time=10 "$work/plaintext" "$image" >/dev/null \
		2>"$work/qemu.err"; then
		printf 'qemu-pass' | udm open --key-file - "$image" qvol >/dev/null
		check "qemu-img's volume opens in udmcrypt" [ $? = 0 ]
		check "udmcrypt reads qemu-img's data" \
			cmp -s -n 1048576 "$maps/qvol" "$work/plaintext"
		udm close qvol
	else
		note "qemu-img convert -O luks failed: $(cat "$work/qemu.err")"
	fi
else
	note "qemu-img is not installed: no qemu LUKS image"
fi

# Prompts on a terminal, through a pseudo-terminal that answers each prompt
# (output that ends in ": ") with the next ANSWER.
cat >"$work/answer_tty.py" <<'PYTHON'
import os, pty, select, sys, time
split = sys.argv.index('--')
answers = [a.encode() + b'\n' for a in sys.argv[1:split]]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[split + 1], sys.argv[split + 1:])
transcript, pending, deadline = b'', b'', time.time() + 60
while time.time() < deadline:
    if not select.select([fd], [], [], 0.5)[0]:
        if answers and pending.endswith(b': '):
            os.write(fd, answers.pop(0))
            pending = b''
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    transcript += data
    pending += data
sys.stdout.write(transcript.decode(errors='replace').replace('\r\n', '\n'))
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
PYTHON
on_tty() { # on_tty ANSWER... -- COMMAND...: the transcript in $work/tty, status in rc
	python3 "$work/answer_tty.py" "$@" >"$work/tty" 2>"$work/err"
	rc=$?
}
has() { grep -qF -- "$1" "$work/tty"; }

terminal_checks() {
	image=$work/tty.img
	truncate -s 20M "$image"
	on_tty YES tty-secret tty-secret -- "$udm" luksFormat "${fast[@]}" "$image"
	check "luksFormat on a terminal" [ "$rc" = 0 ]
	check "luksFormat asks Are you sure?" has "Are you sure? (Type 'yes' in capital letters): "
	check "luksFormat names the device" has "This will overwrite data on $image irrevocably."
	check "luksFormat prompts for the passphrase" has "Enter passphrase for $image: "
	check "luksFormat asks to verify" has "Verify passphrase: "
	check "the passphrase is not echoed" not has "tty-secret"

	before=$(sum "$image")
	on_tty YES one two -- "$udm" luksFormat "${fast[@]}" "$image"
	check "mismatched passphrases exit 2" [ "$rc" = 2 ]
	check "mismatched passphrases are reported" has "Passphrases do not match."
	check "the existing LUKS header is reported" \
		has "WARNING: Device $image already contains a 'crypto_LUKS' superblock signature."
	on_tty yes -- "$udm" luksFormat "${fast[@]}" "$image"
	check "an answer other than YES exits 1" [ "$rc" = 1 ]
	check "an answer other than YES aborts" has "Operation aborted."
	check "aborted luksFormat leaves the image" [ "$(sum "$image")" = "$before" ]

	on_tty wrong wrong tty-secret -- "$udm" open --test-passphrase "$image"
	check "open on a terminal allows three tries" [ "$rc" = 0 ]
	check "each wrong try is reported" [ "$(grep -c "No key available" "$work/tty")" = 2 ]
	on_tty wrong -- "$udm" open --test-passphrase --tries 1 "$image"
	check "open --tries 1 gives up after one" [ "$rc" = 2 ]

	on_tty no -- "$udm" luksKillSlot "$image" 0
	check "refusing to kill the last slot exits 2" [ "$rc" = 2 ]
	check "refusing to kill the last slot says so" \
		has "Operation aborted, the keyslot was NOT wiped."
	check "the last slot is kept" [ "$(sum "$image")" = "$before" ]
	on_tty YES tty-secret -- "$udm" luksDump --dump-volume-key "$image"
	check "luksDump --dump-volume-key confirms, then asks" has "MK dump:"
}

if have python3; then
	terminal_checks
fi

# Bad input: one error line, the right exit status, nothing written.

image=$work/bad.img
truncate -s 20M "$image"
printf 'bad' | udm luksFormat -q "${fast[@]}" "$image" -
before=$(sum "$image")
expect() { # expect STATUS DESCRIPTION COMMAND...
	local status=$1 what=$2
	shift 2
	run "$@" </dev/null
	check "$what exits $status with one error line" failed_with "$status"
}
expect 1 "unknown option" udm luksDump --frobnicate "$image"
expect 1 "missing argument" udm luksKillSlot "$image"
expect 1 "missing option value" udm luksDump "$image" --key-file
expect 1 "key size not a multiple of 8" udm luksFormat -q -s 100 "${fast[@]}" "$image"
expect 1 "unknown PBKDF" udm luksFormat -q --pbkdf scrypt "$image"
expect 1 "unknown type" udm luksFormat -q --type luks3 "${fast[@]}" "$image"
expect 1 "unknown type for open" udm open --type tcrypt "$image" x
expect 1 "key slot 32 for LUKS2" udm luksFormat -q -S 32 "${fast[@]}" "$image"
expect 1 "key slot 8 for LUKS1" udm luksFormat -q --type luks1 -S 8 "${fast[@]}" "$image"
expect 1 "key slot 40 for open" udm open --test-passphrase -S 40 "$image"
expect 1 "key slot 'x' for luksKillSlot" udm luksKillSlot "$image" x
expect 1 "option not allowed with the verb" udm luksDump --key-size 256 "$image"
expect 1 "--iter-time with --pbkdf-force-iterations" \
	udm luksFormat -q -i 10 --pbkdf-force-iterations 1000 "$image"
expect 1 "open of a non-LUKS file" udm open --key-file "$work/keyfile" "$work/plaintext" x
expect 4 "nonexistent device" udm open --key-file "$work/keyfile" "$work/nosuch" x
expect 4 "luksDump of a nonexistent device" udm luksDump "$work/nosuch"
expect 4 "close of an unknown name" udm close nosuch
expect 1 "empty standard input" udm open --test-passphrase "$image"
check "bad input left the image as it was" [ "$(sum "$image")" = "$before" ]
printf 'bad' | udm open --key-file - "$image" taken >/dev/null
run udm open --key-file "$work/keyfile" "$image" taken
check "open of an existing name exits 5" failed_with 5
udm close taken
printf 'YES\n' | udm luksFormat "${fast[@]}" --key-file "$work/nosuch" "$image" >/dev/null 2>&1
check "luksFormat with a missing key file fails" [ $? = 1 ]
check "failed luksFormat left the image as it was" [ "$(sum "$image")" = "$before" ]
"$udm" --help | grep -q "aes-xts-plain64"
check "--help shows the LUKS defaults" [ $? = 0 ]
"$udm" luksFormat -? | grep -q "ripemd160"
check "-? shows the plain defaults" [ $? = 0 ]

finish
