#!/usr/bin/env bash
# Rebuilds the seed corpora in fuzz/corpus/ from the repository's test
# data: the kernel's known-answer tables and the LUKS1 and LUKS2 test
# images, cut to their headers. It adds small volumes that build/udmcrypt
# formats with the harnesses' passphrase "fuzz" and cheap PBKDF costs.
# Needs "make" (build/udmcrypt) and xz. Run from anywhere; it replaces
# fuzz/corpus/ as a whole.
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus
udmcrypt=build/udmcrypt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x "$udmcrypt" ] || { echo "make-corpus.sh: run make first: $udmcrypt is missing" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"/{table,luks1,luks2,luks2-json,plain,control,nbd-options}

# Tables: every line of the kernel's vectors, on the harness's device.
tail -n +2 tests/vectors/kernel.tsv | while IFS=$'\t' read -r name result table; do
	printf '%s\n' "${table//DEV/fuzzdev}" >"$out/table/kernel-$name"
done
printf '0 16 crypt aes-xts-plain64 %s 0 fuzzdev 0 3 allow_discards sector_size:4096 iv_large_sectors\n16 8 linear fuzzdev 16\n24 8 zero\n32 8 error\n' \
	"$(printf '%064d' 0)" >"$out/table/mixed-targets"
printf '# comment\n\n0 128 crypt aes-cbc-essiv:sha256 %s 7 fuzzdev 0 2 same_cpu_crypt submit_from_crypt_cpus\n' \
	"$(printf '%032d' 1)" >"$out/table/comment-and-options"
printf '0 64 crypt aes-xts-plain64 :64:logon:key 0 fuzzdev 0\n' >"$out/table/keyring-key"
printf '0 64 crypt capi:xts(aes)-plain64 %s 0 fuzzdev 0 1 integrity:28:aead\n' \
	"$(printf '%064d' 2)" >"$out/table/capi-integrity"

# The harnesses read a LUKS image as a 32 MiB device whose bytes past the
# input are zeros, so the images of cryptsetup's tests are cut to their
# headers: the first 4 KiB of LUKS1, both metadata copies of LUKS2. The
# volumes formatted here keep their key slots, so that the passphrase
# "fuzz" unlocks them.
for xz in tests/data/luks1/*.xz; do
	name=$(basename "$xz" .xz)
	xz -dc "$xz" >"$work/image"
	head -c 4096 "$work/image" >"$out/luks1/${name%.img}"
done

hdr_size() {
	od -An -tu8 --endian=big -j8 -N8 "$1" | tr -d ' '
}

for xz in tests/data/luks2/*.xz; do
	name=$(basename "$xz" .xz)
	name=${name%.img}
	xz -dc "$xz" >"$work/image"
	size=$(hdr_size "$work/image")
	dd if="$work/image" bs=1 skip=4096 count=$((size - 4096)) 2>/dev/null | tr -d '\0' \
		>"$out/luks2-json/$name.json"
	# Both 4 MiB copies of luks2_mda_4096 would make an 8 MiB seed.
	((size <= 65536)) && head -c $((2 * size)) "$work/image" >"$out/luks2/$name"
done

format() {
	local type=$1 target=$2
	shift 2
	truncate -s 4M "$target"
	printf fuzz >"$work/pass"
	"$udmcrypt" luksFormat --batch-mode --type "$type" --key-file "$work/pass" \
		"$@" "$target" >/dev/null
}

# LUKS1 with a 128-bit key: the header and key slot 0 end below 68 KiB.
format luks1 "$work/l1" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --cipher aes-cbc-essiv:sha256 --key-size 128 --hash sha256
head -c 69632 "$work/l1" >"$out/luks1/fuzz-pass-aes-cbc-essiv"

# LUKS2 with 16 KiB metadata copies and a 128 KiB key slots area.
format luks2 "$work/l2" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --cipher aes-xts-plain64 --key-size 256 \
	--luks2-metadata-size 16k --luks2-keyslots-size 128k
head -c 163840 "$work/l2" >"$out/luks2/fuzz-pass-pbkdf2"
format luks2 "$work/l2a" --pbkdf argon2id --pbkdf-force-iterations 4 --pbkdf-memory 64 \
	--pbkdf-parallel 1 \
	--cipher aes-cbc-essiv:sha256 --key-size 128 --luks2-metadata-size 16k \
	--luks2-keyslots-size 128k
head -c 163840 "$work/l2a" >"$out/luks2/fuzz-pass-argon2id"
for image in l2 l2a; do
	dd if="$work/$image" bs=1 skip=4096 count=12288 2>/dev/null | tr -d '\0' \
		>"$out/luks2-json/fuzz-$image.json"
done

# Plain mode: cipher, hash, key size in bytes, offset, skip, size,
# sector size, then the passphrase (one per line).
plain() {
	printf '%s\n' "$@" >"$out/plain/$1-$2-$3"
}
plain aes-cbc-essiv:sha256 ripemd160 32 0 0 0 512 fuzz
plain aes-xts-plain64 sha256 64 8 16 0 4096 fuzz
plain aes-xts-plain64 sha512:32 64 0 0 64 512 fuzz
plain serpent-cbc-plain plain 16 1 1 32 512 0123456789abcdef
plain twofish-xts-plain64 whirlpool 64 0 0 0 1024 fuzz
plain aes-cbc-lmk sha1 32 0 0 0 2048 fuzz

# Control socket requests, and "info" reply bodies.
for request in table table-keys status info remove unknown; do
	printf '%s\n' "$request" >"$out/control/request-$request"
done
printf 'info\npid 42\nsize 1048576\nblock_size 4096\nreadonly 0\nopen_count 1\n' \
	>"$out/control/info-reply"

# nbdkit filter parameters: key=value lines, an empty line, then the secret.
nbd() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$out/nbd-options/$name"
}
nbd table udmcrypt-table=t.table '' \
	"0 16 crypt aes-xts-plain64 $(printf '%064d' 0) 0 /dev/sdb 0" '8 8 linear x 0'
nbd plain-hash udmcrypt-type=plain udmcrypt-passphrase-file=p udmcrypt-hash=sha256 \
	udmcrypt-cipher=aes-xts-plain64 udmcrypt-key-size=512 udmcrypt-offset=8 \
	udmcrypt-skip=8 udmcrypt-size=64 udmcrypt-sector-size=4096 '' fuzz
nbd plain-key udmcrypt-type=plain udmcrypt-passphrase-file=p udmcrypt-keyfile-offset=2 \
	udmcrypt-readonly=true '' '0123456789abcdef0123456789abcdef'
nbd luks udmcrypt-type=luks2 udmcrypt-passphrase-file=p udmcrypt-keyfile-size=4 '' fuzz

du -sh "$out"
