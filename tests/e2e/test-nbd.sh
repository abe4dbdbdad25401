#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test of the nbdkit filter nbdkit-udmcrypt-filter.so over
# nbdkit's file plugin, with servers on Unix sockets in a private directory.
# The clients are nbdcopy, qemu-img, qemu-io and the raw client
# nbd-client.py, which sends unaligned requests. What they write must read
# back the same, also through the FUSE mapping of "udmcrypt create" or
# "udmcrypt open", and leave the ciphertext that the FUSE mapping writes. Also:
# concurrent clients, flush, FUA, trim only with allow_discards, encrypted
# write zeroes, read-only exports, LUKS1, LUKS2 (with cryptsetup when it is
# installed), detached headers, plain volumes, TLS with a PSK, rate-limited
# request errors, and clear errors for bad parameters.
#
# Usage: test-nbd.sh [BUILD_DIR]   (default: build)
# Last, "udmcrypt create --nbd" and "udmcrypt open --nbd" start nbdkit with the
# filter on a Unix socket or 127.0.0.1, and "remove" and "close" stop it.
#
# Exit status: 0 pass, 1 fail, 77 skipped (nbdkit, libnbd-bin, qemu-utils or
# python3 missing, or the filter not built). Without root or /dev/fuse the
# FUSE comparisons are skipped and the rest runs.

set -u
. "$(dirname "$0")/lib.sh"

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
udm=$(realpath "$build/udmcrypt" 2>/dev/null) || udm=
filter=$(realpath "$build/nbdkit-udmcrypt-filter.so" 2>/dev/null) || filter=
client=$here/nbd-client.py

for tool in nbdkit nbdinfo nbdcopy qemu-img qemu-io python3 cmp od; do
	command -v $tool >/dev/null || skip "$tool is not installed"
done
[ -x "$udm" ] || { echo "FAIL: $build/udmcrypt not found; run make first"; exit 1; }
[ -f "$filter" ] || skip "$build/nbdkit-udmcrypt-filter.so not built (needs nbdkit-plugin-dev)"
fuse=0
[ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && fuse=1

work=$(mktemp -d /tmp/udmcrypt-nbd.XXXXXX)
chmod 700 "$work"
declare -A server_pid
ready_uri=
exports=()   # names of "udmcrypt create --nbd" exports

# udm ARGS...: the udmcrypt command on this test's mapping directory.
udm() { "$udm" "$@" --dir "$work"; }

cleanup() {
	local name
	for name in "${!server_pid[@]}"; do
		kill "${server_pid[$name]}" 2>/dev/null
		wait "${server_pid[$name]}" 2>/dev/null
	done
	for name in "${exports[@]}"; do
		udm remove "$name" >/dev/null 2>&1
	done
	remove_mappings "$udm" "$work"
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM


uri() { echo "nbd+unix:///?socket=$work/$1.sock"; }
sock() { echo "$work/$1.sock"; }

# serve NAME IMAGE [NBDKIT_OPTION... --] FILTER_PARAMETER...: starts nbdkit
# on the socket of NAME and waits until it accepts connections on $ready_uri, or on
# $(uri NAME) when that is empty. Its messages go to $work/NAME.log.
# Returns 1 when nbdkit exits instead.
serve() {
	local name=$1 image=$2 opts=()
	shift 2
	if [[ " $* " == *" -- "* ]]; then
		while [ "$1" != -- ]; do opts+=("$1"); shift; done
		shift
	fi
	rm -f "$(sock "$name")"
	nbdkit -f -U "$(sock "$name")" "${opts[@]}" --filter="$filter" file "$image" "$@" \
		2>>"$work/$name.log" &
	server_pid[$name]=$!
	for _ in $(seq 200); do
		kill -0 "${server_pid[$name]}" 2>/dev/null || { stop "$name"; return 1; }
		[ -S "$(sock "$name")" ] &&
			nbdinfo --can connect "${ready_uri:-$(uri "$name")}" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

stop() {
	kill "${server_pid[$1]}" 2>/dev/null
	wait "${server_pid[$1]}" 2>/dev/null
	unset "server_pid[$1]"
}

# serve_fails NAME IMAGE FILTER_PARAMETER...: nbdkit must exit 1 at startup;
# its messages are left in $err.
serve_fails() {
	local name=$1 image=$2
	shift 2
	rm -f "$(sock "$name")"
	err=$(timeout 30 nbdkit -f -U "$(sock "$name")" --filter="$filter" file "$image" "$@" \
		2>&1 >/dev/null)
	[ $? = 1 ]
}

info() { nbdinfo "$(uri "$1")" 2>&1; }
has_info() { [[ $(info "$1") == *"$2"* ]]; }   # has_info NAME "can_trim: false"
size_of() { nbdinfo --size "$(uri "$1")" 2>/dev/null; }
same() { cmp -s "$1" "$2"; }
# range_is FILE OFFSET LENGTH BYTE: LENGTH bytes at OFFSET are all BYTE (hex).
range_is() {
	[ "$(od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -s ' \n' '\n' | grep -v '^$' | sort -u)" = "$4" ]
}
# put FILE OFFSET < DATA: writes bytes into a reference file.
put() { dd of="$1" bs=64K seek="$2" oflag=seek_bytes conv=notrunc status=none; }

# ------------------------------------------------------------------------
# A table over the file plugin: size, data, FUSE cross-checks.

image=$work/image.img
copy=$work/fuse-copy.img
head -c $((64 << 20)) /dev/urandom > "$image"
cp "$image" "$copy"
key=$(hexkey 64)
sectors=$((64 * 2048 - 2048 - 8))
size=$((sectors * 512))
(umask 077 &&
	echo "0 $sectors crypt aes-xts-plain64 $key 0 - 2048 1 sector_size:4096" > "$work/table" &&
	echo "0 $sectors crypt aes-xts-plain64 $key 0 $copy 2048 1 sector_size:4096" \
		> "$work/table-fuse")

check "server with a table starts" serve t "$image" udmcrypt-table="$work/table"
check "size is the mapped size ($size)" [ "$(size_of t)" = "$size" ]
check "block size minimum is the sector size" has_info t "block_size_minimum: 4096"
check "multi-conn advertised" has_info t "can_multi_conn: true"
check "flush advertised" has_info t "can_flush: true"
check "fua advertised" has_info t "can_fua: true"
check "trim not advertised without allow_discards" has_info t "can_trim: false"
check "write zeroes advertised" has_info t "can_zero: true"
check "export is writable" has_info t "is_read_only: false"

# The plugin's holes are holes in the ciphertext, not zeroes in the
# plaintext, so a sparse image must still map as one data extent.
truncate -s 64M "$work/sparse.img"
serve sparse "$work/sparse.img" udmcrypt-table="$work/table"
check "extents of a sparse plugin are not passed through" \
	[ "$(nbdinfo --map "$(uri sparse)" | awk '{ print $1, $2, $3 }')" = "0 $size 0" ]
stop sparse

head -c "$size" /dev/urandom > "$work/data"
check "nbdcopy writes the whole export" nbdcopy "$work/data" "$(uri t)"
nbdcopy "$(uri t)" "$work/back"
check "nbdcopy reads back what it wrote" same "$work/data" "$work/back"
check "qemu-img compare finds the export equal" \
	qemu-img compare -q -f raw -F raw "$work/data" "$(uri t)"
qemu-img convert -f raw -O raw "$(uri t)" "$work/converted"
check "qemu-img convert copies the plaintext" same "$work/data" "$work/converted"
check "backing image holds no plaintext" not same <(tail -c +$((2048 * 512 + 1)) "$image" |
	head -c "$size") "$work/data"

# Odd offsets through qemu (which rounds to the advertised 4096 bytes).
cp "$work/data" "$work/ref"
qemu-io -f raw "$(uri t)" -c "write -P 0xab 1000 3333" -c "write -P 0xcd 8191 2" \
	-c "write -P 0x11 $((size - 7)) 7" -c "flush" >/dev/null
check "qemu-io writes at odd offsets" [ $? = 0 ]
head -c 3333 /dev/zero | tr '\0' '\253' | put "$work/ref" 1000
head -c 2 /dev/zero | tr '\0' '\315' | put "$work/ref" 8191
head -c 7 /dev/zero | tr '\0' '\021' | put "$work/ref" $((size - 7))
out=$(qemu-io -f raw "$(uri t)" -c "read -P 0xab 1000 3333" -c "read -P 0xcd 8191 2" 2>&1)
check "qemu-io reads its odd writes back" not like "$out" "*Pattern verification failed*"

# Unaligned requests reach the filter as they are from the raw client.
printf 'unaligned bytes' | python3 "$client" "$(sock t)" write 4093
printf 'unaligned bytes' | put "$work/ref" 4093
printf 'tail' | python3 "$client" "$(sock t)" write $((size - 4))
printf 'tail' | put "$work/ref" $((size - 4))
check "raw client reads an unaligned range" [ "$(python3 "$client" "$(sock t)" read 4093 15)" = \
	"unaligned bytes" ]
nbdcopy "$(uri t)" "$work/back"
check "export equals the reference after odd writes" same "$work/ref" "$work/back"

# The FUSE mapping of the same table writes the same data to a copy of the
# image. Both images must then be equal, and FUSE must read what NBD wrote.
sed "s| $copy | $image |" "$work/table-fuse" > "$work/table-fuse-image"
if ((fuse)); then
	"$udm" create fuse "$work/table-fuse" --dir "$work" >/dev/null
	check "FUSE mapping of the same table" [ $? = 0 ]
	dd if="$work/ref" of="$work/fuse" bs=1M conv=notrunc,fsync status=none
	"$udm" remove fuse --dir "$work"
	check "ciphertext is bit-exact with the FUSE path" same "$image" "$copy"
	"$udm" create fuse "$work/table-fuse-image" --dir "$work" --readonly >/dev/null
	check "FUSE reads what NBD wrote" same "$work/fuse" "$work/ref"
	"$udm" remove fuse --dir "$work"
else
	echo "skip: FUSE comparisons need root and /dev/fuse"
fi

# Several connections at once on disjoint ranges: whole blocks from qemu-io,
# and unaligned chunks sharing sectors from the raw client.
pids=()
for i in 0 1 2 3; do
	qemu-io -f raw "$(uri t)" -c "write -P $((0x40 + i)) $((i * (4 << 20))) 4M" >/dev/null &
	pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "qemu-io writer $pid"; done
ok=1
for i in 0 1 2 3; do
	qemu-io -f raw "$(uri t)" -c "read -P $((0x40 + i)) $((i * (4 << 20))) 4M" 2>&1 |
		grep -q "Pattern verification failed" && ok=0
done
check "4 parallel qemu-io writers keep their ranges" [ $ok = 1 ]

pids=()
for i in 0 1 2 3; do
	python3 "$client" "$(sock t)" interleave $i 4 8 300 2>>"$work/interleave.err" &
	pids+=($!)
done
ok=1
for pid in "${pids[@]}"; do wait "$pid" || ok=0; done
check "4 connections writing parts of the same sectors lose no write" [ $ok = 1 ]
check "their final contents are intact" python3 "$client" "$(sock t)" check-interleave 4 8 300

# Write zeroes must store encrypted zeroes, never plaintext zeroes.
qemu-io -f raw "$(uri t)" -c "write -z 1M 1M" -c "write -z -f 3M 5000" >/dev/null
out=$(qemu-io -f raw "$(uri t)" -c "read -P 0 1M 1M" -c "read -P 0 3M 5000" 2>&1)
check "write zeroes reads back zeroes" not like "$out" "*Pattern verification failed*"
check "write zeroes leaves ciphertext on the plugin" \
	not range_is "$image" $((2048 * 512 + (1 << 20))) 4096 00
out=$(qemu-io -f raw "$(uri t)" -c "write -f -P 0x77 5M 64k" -c "flush" 2>&1)
check "FUA write and flush succeed" not like "$out" "*error*"

# Trim is not advertised, so qemu-io's discard changes nothing.
qemu-io -f raw "$(uri t)" -c "discard 5M 64k" >/dev/null 2>&1
out=$(qemu-io -f raw "$(uri t)" -c "read -P 0x77 5M 64k" 2>&1)
check "discard without allow_discards keeps the data" not like "$out" "*verification failed*"
stop t

# ------------------------------------------------------------------------
# Trim with allow_discards: whole sectors become holes on the plugin.

(umask 077 && echo "0 $sectors crypt aes-xts-plain64 $key 0 - 2048 2 sector_size:4096" \
	"allow_discards" > "$work/table-discard")
check "server with allow_discards starts" serve d "$image" udmcrypt-table="$work/table-discard"
check "trim advertised with allow_discards" has_info d "can_trim: true"
qemu-io -f raw "$(uri d)" -c "write -P 0x5a 8M 1M" -c "discard 8M 1M" >/dev/null 2>&1
check "trim punches the ciphertext out" range_is "$image" $((2048 * 512 + (8 << 20))) 1048576 00
stop d

# Read-only exports.

check "read-only server starts" serve ro "$image" udmcrypt-table="$work/table" \
	udmcrypt-readonly=true
check "read-only export is advertised" has_info ro "is_read_only: true"
check "read-only export refuses nbdcopy writes" not nbdcopy "$work/data" "$(uri ro)" 2>/dev/null
out=$(qemu-io -f raw "$(uri ro)" -c "write -P 1 0 4096" 2>&1)
check "read-only export refuses qemu-io writes" like "$out" "*Permission denied*"
out=$(printf 'x' | python3 "$client" "$(sock ro)" write 0 2>&1)
check "read-only export refuses raw writes" like "$out" "*request failed*"
check "read-only export still reads" python3 "$client" "$(sock ro)" read 0 4096 >/dev/null
stop ro
check "nbdkit -r also serves read-only" serve ror "$image" -r -- udmcrypt-table="$work/table"
check "nbdkit -r export is read-only" has_info ror "is_read_only: true"
stop ror

# Request errors from the plugin reach the client and are rate-limited.
rm -f "$work/err.sock"
nbdkit -f -U "$work/err.sock" --filter="$filter" --filter=error file "$image" \
	udmcrypt-table="$work/table" error-pread=EIO error-pread-rate=100% \
	2>"$work/err.log" &
server_pid[err]=$!
for _ in $(seq 100); do nbdinfo --can connect "$(uri err)" 2>/dev/null && break; sleep 0.05; done
for i in $(seq 30); do python3 "$client" "$(sock err)" read $((i * 4096)) 4096 \
	>/dev/null 2>&1; done
out=$(python3 "$client" "$(sock err)" read 0 4096 2>&1)
check "plugin read error reaches the client" like "$out" "*request failed*"
stop err
check "read errors are reported" grep -q "read of 4096 bytes at offset .* failed" "$work/err.log"
check "request errors are rate-limited" \
	[ "$(grep -c "read of 4096 bytes at offset" "$work/err.log")" -le 10 ]

# TLS with a pre-shared key, on the same Unix socket.
if nbdkit --dump-config | grep -q "^tls=yes"; then
	(umask 077 && echo "alice:$(hexkey 32)" > "$work/psk")
	tls_uri="nbds+unix://alice@/?socket=$(sock tls)&tls-psk-file=$work/psk"
	ready_uri=$tls_uri
	check "TLS server starts" serve tls "$image" --tls=require --tls-psk="$work/psk" -- \
		udmcrypt-table="$work/table"
	ready_uri=
	check "TLS client reads the size" [ "$(nbdinfo --size "$tls_uri" 2>/dev/null)" = "$size" ]
	nbdcopy "$tls_uri" "$work/back-tls"
	serve plain-twin "$image" udmcrypt-table="$work/table" udmcrypt-readonly=true
	nbdcopy "$(uri plain-twin)" "$work/back"
	stop plain-twin
	check "TLS client reads the plaintext" same "$work/back-tls" "$work/back"
	check "client without TLS is rejected" not nbdinfo --size "$(uri tls)" 2>/dev/null
	stop tls
else
	echo "skip: this nbdkit has no TLS"
fi

# ------------------------------------------------------------------------
# LUKS volumes, unlocked once with a passphrase file.

# luks_format TYPE IMAGE PASSFILE [EXTRA...]: cryptsetup when installed, else udmcrypt.
luks_format() {
	local type=$1 img=$2 pass=$3
	shift 3
	if command -v cryptsetup >/dev/null; then
		cryptsetup luksFormat -q --type "$type" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
			--key-file="$pass" "$@" "$img"
	else
		"$udm" luksFormat -q --type "$type" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
			--key-file "$pass" "$@" "$img"
	fi
}

# fuse_open NAME IMAGE OPEN_OPTIONS...: maps IMAGE with udmcrypt open.
fuse_open() {
	local name=$1 img=$2
	shift 2
	"$udm" open "$img" "$name" --dir "$work" "$@" >/dev/null
}

printf 'correct horse\n' > "$work/pass"    # the newline is part of the passphrase
printf 'correct horse' > "$work/pass-no-newline"
for type in luks2 luks1; do
	img=$work/$type.img
	truncate -s 32M "$img"
	luks_format $type "$img" "$work/pass"
	check "$type image formatted" [ $? = 0 ]
	check "$type server starts" serve $type "$img" udmcrypt-type=luks \
		udmcrypt-passphrase-file="$work/pass"
	vsize=$(size_of $type)
	check "$type export has the payload size ($vsize)" [ -n "$vsize" ] && [ "$vsize" -gt 0 ]
	head -c "$vsize" /dev/urandom > "$work/$type.data"
	check "$type nbdcopy write" nbdcopy "$work/$type.data" "$(uri $type)"
	nbdcopy "$(uri $type)" "$work/back"
	check "$type reads back" same "$work/back" "$work/$type.data"
	stop $type
	check "$type log holds no passphrase" not grep -q "correct horse" "$work/$type.log"
	if ((fuse)); then
		fuse_open $type "$img" --key-file "$work/pass" --readonly
		check "$type FUSE open shows what NBD wrote" same "$work/$type" "$work/$type.data"
		"$udm" close $type --dir "$work"
	fi
done

check "explicit luks1 type" serve l1 "$work/luks1.img" udmcrypt-type=luks1 \
	udmcrypt-passphrase-file="$work/pass"
stop l1
check "wrong passphrase stops nbdkit" serve_fails w "$work/luks2.img" udmcrypt-type=luks \
	udmcrypt-passphrase-file="$work/pass-no-newline"
check "wrong passphrase message" like "$err" "*no key slot accepts the passphrase in*"
check "wrong passphrase message is one line" [ "$(printf '%s\n' "$err" | wc -l)" = 1 ]
check "luks1 type on a LUKS2 image fails" serve_fails w "$work/luks2.img" udmcrypt-type=luks1 \
	udmcrypt-passphrase-file="$work/pass"
check "luks1 on LUKS2 says no LUKS1 header" like "$err" "*no LUKS1 header found on the plugin*"
check "LUKS type on a plain image fails" serve_fails w "$image" udmcrypt-type=luks \
	udmcrypt-passphrase-file="$work/pass"
check "plain image says no LUKS header" like "$err" "*no LUKS header found on the plugin*"

# Key file offset and size select the passphrase inside a larger file.
{ printf 'JUNK'; cat "$work/pass"; printf 'MORE'; } > "$work/pass-embedded"
check "keyfile offset and size" serve ko "$work/luks2.img" udmcrypt-type=luks2 \
	udmcrypt-passphrase-file="$work/pass-embedded" udmcrypt-keyfile-offset=4 \
	udmcrypt-keyfile-size=14
nbdcopy "$(uri ko)" "$work/back"
check "keyfile offset and size read the volume" same "$work/back" "$work/luks2.data"
stop ko

# A detached header: the plugin contains only the payload.
truncate -s 16M "$work/payload.img"
luks_format luks2 "$work/payload.img" "$work/pass" --header "$work/header.img"
check "detached header formatted" [ -s "$work/header.img" ]
check "detached header server starts" serve hdr "$work/payload.img" udmcrypt-type=luks \
	udmcrypt-passphrase-file="$work/pass" udmcrypt-header="$work/header.img"
check "detached header maps the whole payload" [ "$(size_of hdr)" = $((16 << 20)) ]
head -c $((16 << 20)) /dev/urandom > "$work/hdr.data"
nbdcopy "$work/hdr.data" "$(uri hdr)"
stop hdr
if ((fuse)); then
	fuse_open hdr "$work/payload.img" --key-file "$work/pass" --header "$work/header.img" \
		--readonly
	check "detached header FUSE open shows what NBD wrote" same "$work/hdr" "$work/hdr.data"
	"$udm" close hdr --dir "$work"
fi

# ------------------------------------------------------------------------
# Plain volumes: a key file is the key; with udmcrypt-hash, a passphrase.

truncate -s 16M "$work/plain.img"
head -c 64 /dev/urandom > "$work/plain.key"
check "plain server with a key file" serve pk "$work/plain.img" udmcrypt-type=plain \
	udmcrypt-passphrase-file="$work/plain.key" udmcrypt-cipher=aes-xts-plain64 \
	udmcrypt-key-size=512 udmcrypt-offset=8 udmcrypt-skip=3
check "plain size is the rest after the offset" [ "$(size_of pk)" = $(((16 << 20) - 4096)) ]
head -c $(((16 << 20) - 4096)) /dev/urandom > "$work/pk.data"
nbdcopy "$work/pk.data" "$(uri pk)"
stop pk
if ((fuse)); then
	fuse_open pk "$work/plain.img" --type plain --cipher aes-xts-plain64 --key-size 512 \
		--offset 8 --skip 3 --key-file "$work/plain.key" --readonly
	check "plain key file matches udmcrypt open" same "$work/pk" "$work/pk.data"
	"$udm" close pk --dir "$work"
fi

check "plain server with a hashed passphrase" serve ph "$work/plain.img" udmcrypt-type=plain \
	udmcrypt-passphrase-file="$work/pass" udmcrypt-hash=sha256 udmcrypt-sector-size=4096
head -c $((16 << 20)) /dev/urandom > "$work/ph.data"
nbdcopy "$work/ph.data" "$(uri ph)"
stop ph
if ((fuse)); then
	fuse_open ph "$work/plain.img" --type plain --hash sha256 --sector-size 4096 \
		--key-file - --readonly < "$work/pass"
	check "plain passphrase matches udmcrypt open" same "$work/ph" "$work/ph.data"
	"$udm" close ph --dir "$work"
fi

# ------------------------------------------------------------------------
# Bad parameters: nbdkit exits 1 with one clear line.

bad() { # bad DESCRIPTION GLOB FILTER_PARAMETER...
	local what=$1 glob=$2
	shift 2
	if serve_fails b "$image" "$@" && like "$err" "$glob"; then
		pass "$what"
	else
		fail "$what: $err"
	fi
}
bad "unknown type" "*invalid udmcrypt-type 'luks3': accepted are luks, luks1, luks2 and plain*" \
	udmcrypt-type=luks3 udmcrypt-passphrase-file="$work/pass"
bad "missing passphrase file" "*cannot open passphrase file $work/nosuch: No such file*" \
	udmcrypt-type=luks udmcrypt-passphrase-file="$work/nosuch"
bad "missing table file" "*cannot open table file $work/nosuch*" \
	udmcrypt-table="$work/nosuch"
bad "table and type together" "*udmcrypt-table and udmcrypt-type cannot be used together*" \
	udmcrypt-table="$work/table" udmcrypt-type=luks udmcrypt-passphrase-file="$work/pass"
bad "neither table nor type" "*missing parameter: give udmcrypt-table=FILE*"
bad "type without passphrase" "*udmcrypt-type=luks needs udmcrypt-passphrase-file*" \
	udmcrypt-type=luks
bad "parameter given twice" "*parameter udmcrypt-table is given twice*" \
	udmcrypt-table="$work/table" udmcrypt-table="$work/table"
bad "header with plain" "*udmcrypt-header applies only to LUKS volumes*" \
	udmcrypt-type=plain udmcrypt-passphrase-file="$work/plain.key" \
	udmcrypt-header="$work/header.img"
bad "plain option with LUKS" "*udmcrypt-cipher applies only to udmcrypt-type=plain*" \
	udmcrypt-type=luks udmcrypt-passphrase-file="$work/pass" udmcrypt-cipher=aes-xts-plain64
bad "missing header file" "*cannot open udmcrypt-header file $work/nosuch*" \
	udmcrypt-type=luks udmcrypt-passphrase-file="$work/pass" udmcrypt-header="$work/nosuch"
bad "odd key size" "*invalid udmcrypt-key-size 260: expected a positive number of bits*" \
	udmcrypt-type=plain udmcrypt-passphrase-file="$work/plain.key" udmcrypt-key-size=260
bad "short key file" "*cannot read 64 bytes from key file $work/pass*" \
	udmcrypt-type=plain udmcrypt-passphrase-file="$work/pass" udmcrypt-key-size=512
: > "$work/empty"
bad "empty passphrase file" "*passphrase file $work/empty is empty*" \
	udmcrypt-type=luks udmcrypt-passphrase-file="$work/empty"
bad "unknown plain hash" "*unknown hash 'md17'*" \
	udmcrypt-type=plain udmcrypt-passphrase-file="$work/pass" udmcrypt-hash=md17
echo "0 100 crypt aes-xts-plain64 not-hex 0 - 0" > "$work/bad-table"
bad "malformed table" "*invalid table file $work/bad-table: line 1:*" \
	udmcrypt-table="$work/bad-table"
echo "0 $((sectors + 4096)) crypt aes-xts-plain64 $key 0 - 2048" > "$work/big-table"
bad "table larger than the plugin" "*line 1: device plugin is too small*" \
	udmcrypt-table="$work/big-table"
check "bad table errors hold no key" not grep -rq "$key" "$work"/*.log

# ------------------------------------------------------------------------
# A server holding keys is not dumpable: run as another user, its /proc
# files then belong to root, and that user cannot read its memory.

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	mkdir -m 0755 "$work/nobody"
	cp "$work/table" "$image" "$work/nobody/" && chown -R nobody "$work/nobody"
	chmod 0711 "$work"
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		nbdkit -f -U "$work/nobody/n.sock" --filter="$filter" file "$work/nobody/image.img" \
		udmcrypt-table="$work/nobody/table" 2>"$work/nobody.log" &
	server_pid[nobody]=$!
	for _ in $(seq 100); do [ -S "$work/nobody/n.sock" ] && break; sleep 0.05; done
	check "server as nobody starts" [ -S "$work/nobody/n.sock" ]
	check "server as nobody is not dumpable" \
		[ "$(stat -c %U "/proc/${server_pid[nobody]}/environ")" = root ]
	stop nobody
	chmod 0700 "$work"
else
	echo "skip: the dumpable check needs root, setpriv and the user nobody"
fi

# ------------------------------------------------------------------------
# The command: create --nbd and open --nbd start nbdkit, remove stops it.

export UDMCRYPT_NBDKIT_FILTER=$filter
exports=(c1 c2 c3 lk)
uri=$(udm create c1 "$work/table-fuse-image" --nbd "$work/c1.sock")
check "create --nbd exits 0" [ $? = 0 ]
check "create --nbd prints the URI" [ "$uri" = "nbd+unix:///?socket=$work/c1.sock" ]
check "create --nbd export has the mapped size" [ "$(nbdinfo --size "$uri")" = "$size" ]
serve ref "$image" udmcrypt-table="$work/table" udmcrypt-readonly=true
nbdcopy "$(uri ref)" "$work/back"
stop ref
check "create --nbd serves the same plaintext" qemu-img compare -q -f raw -F raw \
	"$work/back" "$uri"
pid=$(head -1 "$work/.udmcrypt/c1/nbd")
check "nbdkit of create --nbd runs" kill -0 "$pid"
check "nbdkit's arguments hold no key" not grep -q "$key" "/proc/$pid/cmdline"
check "nbdkit reads the table from a pipe" grep -q "udmcrypt-table=/dev/fd/3" "/proc/$pid/cmdline"
check "export record is mode 0600" [ "$(stat -c %a "$work/.udmcrypt/c1/nbd")" = 600 ]
err=$(udm create c1 "$work/table-fuse-image" --nbd "$work/c1b.sock" 2>&1)
check "create --nbd twice says already exists" [ "$err" = "udmcrypt: device c1 already exists" ]
err=$(udm create c9 "$work/table-fuse-image" --nbd "$work/c1.sock" 2>&1)
check "create --nbd on a socket in use fails" like "$err" "*is already in use*"
udm remove c1
check "remove stops the export" [ $? = 0 ]
check "remove stops nbdkit" wait_gone "$pid"
check "remove deletes the socket" [ ! -e "$work/c1.sock" ]
check "remove deletes the export record" [ ! -e "$work/.udmcrypt/c1/nbd" ]
err=$(udm remove c1 2>&1)
check "second remove says not found" [ "$err" = "udmcrypt: device c1 not found" ]
check "nbdkit log holds no key" not grep -q "$key" "$work/.udmcrypt/c1/log"

# TCP on 127.0.0.1, the table from standard input, read-only.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); \
print(s.getsockname()[1])')
uri=$(udm create c2 --nbd "$port" --readonly < "$work/table-fuse-image")
check "create --nbd PORT listens on 127.0.0.1" [ "$uri" = "nbd://127.0.0.1:$port/" ]
check "TCP export is read-only" like "$(nbdinfo "$uri" 2>&1)" "*is_read_only: true*"
check "TCP export serves the plaintext" qemu-img compare -q -f raw -F raw "$work/back" "$uri"
udm remove c2
check "remove stops the TCP export" not nbdinfo --size "$uri" 2>/dev/null

err=$(udm create c3 "$work/table-fuse-image" --nbd "host:99999" 2>&1)
check "invalid endpoint is rejected" like "$err" "*invalid NBD endpoint 'host:99999'*"
{ cat "$work/table-fuse-image"; echo "$sectors 8 linear $work/luks1.img 0"; } > "$work/two-devices"
err=$(udm create c3 "$work/two-devices" --nbd "$work/c3.sock" 2>&1)
check "two backing files are rejected" like "$err" "*the export serves one backing file*"
sed "s| - | $image |" "$work/big-table" > "$work/big-table-image"
err=$(udm create c3 "$work/big-table-image" --nbd "$work/c3.sock" 2>&1)
check "table errors name the backing file" like "$err" "*line 1: device $image is too small*"
check "failed creates leave no record" [ ! -e "$work/.udmcrypt/c3/nbd" ]
err=$(udm ls --nbd "$work/x.sock" 2>&1)
check "--nbd is rejected for ls" like "$err" "*--nbd is valid only for create and open*"

uri=$(udm open "$work/luks2.img" lk --key-file "$work/pass" --nbd "$work/lk.sock")
check "open --nbd exits 0" [ $? = 0 ]
nbdcopy "$uri" "$work/back"
check "open --nbd serves the LUKS2 plaintext" same "$work/back" "$work/luks2.data"
udm close lk
check "close stops the open --nbd export" [ ! -e "$work/lk.sock" ]
err=$(udm open "$work/luks2.img" lk --key-file "$work/pass-no-newline" --nbd "$work/lk.sock" 2>&1)
check "open --nbd with a wrong passphrase exits 2" [ $? = 2 ]
check "wrong passphrase starts no export" [ ! -e "$work/lk.sock" ]

# The ext4 filesystem that Linux dm-crypt wrote reads back through the filter.
if command -v debugfs >/dev/null && command -v xz >/dev/null; then
	xz -dc tests/data/kernel-ext4.img.xz >"$work/kext4.img"
	ktable=$(grep -v '^#' tests/data/kernel-ext4.txt | head -1)
	(umask 077 && echo "${ktable/ DEV / - }" >"$work/kext4.table")
	serve kext4 "$work/kext4.img" -r -- udmcrypt-table="$work/kext4.table"
	nbdcopy "$(uri kext4)" "$work/kext4.plain"
	stop kext4
	kernel_files_ok=true
	while read -r sum path; do
		got=$(debugfs -R "cat /$path" "$work/kext4.plain" 2>/dev/null | sha256sum)
		[ "${got%% *}" = "$sum" ] || kernel_files_ok=false
	done < <(grep -v '^#' tests/data/kernel-ext4.txt | tail -n +2)
	check "the kernel's ext4 image reads back through NBD" $kernel_files_ok
fi

finish
