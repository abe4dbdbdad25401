#!/usr/bin/env bash
# Regenerate the dm-crypt known-answer vectors in this folder from the real
# Linux kernel: plaintext.bin (8192 random bytes, kept if it exists),
# kernel.tsv (name, result, table) and kernel-ciphertext.bin (8192 bytes per
# "ok" vector, in file order). The kernel runs in qemu through the
# kernel-dmcrypt tool, all mappings in one boot. A full run takes about
# 3 minutes (2 min 22 s measured on a 2-core machine under qemu software
# emulation), and CI does not run it.
#
# Usage: gen-kernel-vectors.sh [OUTDIR]      (default: the folder of this script)
# Environment: KERNEL_DMCRYPT  path of the kernel-dmcrypt tool
#              ONLY            extended regex; generate only the vectors whose name matches
#              VM_LOG          file to copy the machine's output to (dmsetup errors, kernel messages)
#
# Keys are fresh random bytes on each run, so the ciphertext changes, but the
# list of tables (names, ciphers, key lengths, offsets, options) is fixed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
only=${ONLY:-}

tool=${KERNEL_DMCRYPT:-}
if [[ -z $tool ]]; then
    if [[ -x $here/../../../shared/tools/kernel-dmcrypt ]]; then
        tool=$here/../../../shared/tools/kernel-dmcrypt
    else
        tool=kernel-dmcrypt
    fi
fi
command -v "$tool" >/dev/null || { echo "kernel-dmcrypt not found: set KERNEL_DMCRYPT" >&2; exit 1; }

sectors=16              # mapping length in 512-byte sectors (the whole plaintext)
region_sectors=32       # each vector gets its own 16 KiB region of the output disk
export KERNEL_DMCRYPT_TIMEOUT=${KERNEL_DMCRYPT_TIMEOUT:-3000}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# random_hex N: N random bytes as lowercase hex.
random_hex() {
    od -An -v -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

names=() specs=() keys=() ivoffsets=() offsets=() options=()

# add NAME SPEC KEYBYTES IV_OFFSET DEVICE_OFFSET [OPTIONAL_PARAMS]
# KEYBYTES "-" gives the key "-", which dm-crypt reads as an empty key.
add() {
    local name=$1 spec=$2 keybytes=$3 ivoffset=$4 offset=$5 opts=${6:-}
    if [[ -n $only ]] && ! [[ $name =~ $only ]]; then
        return
    fi
    local n
    for n in "${names[@]}"; do
        [[ $n != "$name" ]] || { echo "duplicate vector name: $name" >&2; exit 1; }
    done
    names+=("$name")
    specs+=("$spec")
    if [[ $keybytes == - ]]; then
        keys+=(-)
    else
        keys+=("$(random_hex "$keybytes")")
    fi
    ivoffsets+=("$ivoffset")
    offsets+=("$offset")
    options+=("$opts")
}

# Cipher name, key bytes, block bytes and vector name prefix. The prefix is the
# cipher and its key size in bits, with "_" before the bits when the cipher
# name ends in a digit.
ciphers=(
    "aes 32 16 aes256"
    "serpent 32 16 serpent256"
    "twofish 32 16 twofish256"
    "camellia 32 16 camellia256"
    "cast5 16 8 cast5_128"
    "blowfish 16 8 blowfish128"
    "des 8 8 des64"
    "des3_ede 24 8 des3_ede192"
)
ivmodes=(plain plain64 plain64be essiv:sha256 benbi null lmk tcw eboiv elephant)

# mode_key_bytes MODE CIPHER_KEY_BYTES: key bytes of the chaining mode alone
# (xts takes two cipher keys, lrw a cipher key and a 16-byte tweak key).
mode_key_bytes() {
    case $1 in
    xts) echo $(($2 * 2)) ;;
    lrw) echo $(($2 + 16)) ;;
    *)   echo "$2" ;;
    esac
}

# iv_key_bytes IVMODE MODE_KEY_BYTES BLOCK_BYTES: key bytes of the whole table
# (tcw appends an IV seed of the IV size and a 16-byte whitening key, and
# elephant appends a key as long as the rest).
iv_key_bytes() {
    case $1 in
    tcw)      echo $(($2 + $3 + 16)) ;;
    elephant) echo $(($2 * 2)) ;;
    *)        echo "$2" ;;
    esac
}

s4096="1 sector_size:4096"
s4096_large="2 sector_size:4096 iv_large_sectors"

# Every cipher with every chaining mode and IV generator, 512-byte sectors.
for entry in "${ciphers[@]}"; do
    read -r cipher keylen blocklen prefix <<<"$entry"
    add "$prefix-ecb-s512" "$cipher-ecb" "$keylen" 0 0
    add "$prefix-ecb-plain64-s512" "$cipher-ecb-plain64" "$keylen" 0 0
    add "$prefix-ecb-null-s512" "$cipher-ecb-null" "$keylen" 0 0
    for mode in cbc xts lrw ctr pcbc; do
        modekey=$(mode_key_bytes "$mode" "$keylen")
        for iv in "${ivmodes[@]}"; do
            add "$prefix-$mode-${iv/:/_}-s512" "$cipher-$mode-$iv" \
                "$(iv_key_bytes "$iv" "$modekey" "$blocklen")" 0 0
        done
    done
done

# AES-128 and AES-192 next to the AES-256 vectors above.
for bits in 128 192; do
    add "aes$bits-cbc-essiv_sha256-s512" aes-cbc-essiv:sha256 $((bits / 8)) 0 0
    add "aes$bits-cbc-plain64-s512" aes-cbc-plain64 $((bits / 8)) 0 0
    add "aes$bits-xts-plain64-s512" aes-xts-plain64 $((bits / 4)) 0 0
done

# Larger sectors, without and with iv_large_sectors.
for entry in "${ciphers[@]}"; do
    read -r cipher keylen blocklen prefix <<<"$entry"
    add "$prefix-cbc-plain64-s4096" "$cipher-cbc-plain64" "$keylen" 0 0 "$s4096"
    add "$prefix-cbc-plain64-s4096-ivlarge" "$cipher-cbc-plain64" "$keylen" 0 0 "$s4096_large"
    add "$prefix-xts-plain64-s4096" "$cipher-xts-plain64" $((keylen * 2)) 0 0 "$s4096"
    add "$prefix-xts-plain64-s4096-ivlarge" "$cipher-xts-plain64" $((keylen * 2)) 0 0 "$s4096_large"
done
for entry in "cbc essiv:sha256 32" "cbc benbi 32" "cbc plain 32" "cbc eboiv 32" \
             "cbc elephant 64" "xts plain64be 64" "ctr plain64 32" "lrw benbi 48"; do
    read -r mode iv keybytes <<<"$entry"
    add "aes256-$mode-${iv/:/_}-s4096" "aes-$mode-$iv" "$keybytes" 0 0 "$s4096"
    add "aes256-$mode-${iv/:/_}-s4096-ivlarge" "aes-$mode-$iv" "$keybytes" 0 0 "$s4096_large"
done
for size in 1024 2048; do
    add "aes256-xts-plain64-s$size" aes-xts-plain64 64 0 0 "1 sector_size:$size"
    add "aes256-xts-plain64-s$size-ivlarge" aes-xts-plain64 64 0 0 "2 sector_size:$size iv_large_sectors"
done

# Key counts: the key is split into keycount equal subkeys, one per cipher instance.
add aes256x2-cbc-plain64-s512 aes:2-cbc-plain64 64 0 0
add aes256x4-cbc-essiv_sha256-s512 aes:4-cbc-essiv:sha256 128 0 0
add aes256x2-xts-plain64-s512 aes:2-xts-plain64 128 0 0
add aes256x4-cbc-plain64-s4096 aes:4-cbc-plain64 128 0 0 "$s4096"
add aes128x64-cbc-lmk-s512 aes:64-cbc-lmk $((64 * 16)) 0 0
add aes128x64-cbc-lmk_seed-s512 aes:64-cbc-lmk $((65 * 16)) 0 0
add serpent256x2-cbc-plain-s512 serpent:2-cbc-plain 64 0 0

# IV offsets and device offsets. 4294967280 + 16 crosses 2^32, where plain
# (32-bit sector number) and plain64 differ.
for entry in "cbc-plain64 32" "xts-plain 64" "xts-plain64 64" "cbc-essiv:sha256 32"; do
    read -r spec keybytes <<<"$entry"
    base="aes256-${spec/:/_}"
    add "$base-s512-iv4294967280" "aes-$spec" "$keybytes" 4294967280 0
    add "$base-s512-iv12345-off8" "aes-$spec" "$keybytes" 12345 8
    add "$base-s4096-iv4294967288" "aes-$spec" "$keybytes" 4294967288 0 "$s4096"
    add "$base-s4096-ivlarge-iv4294967288" "aes-$spec" "$keybytes" 4294967288 0 "$s4096_large"
    add "$base-s4096-iv12344-off8" "aes-$spec" "$keybytes" 12344 8 "$s4096"
    add "$base-s4096-ivlarge-iv12344-off8" "aes-$spec" "$keybytes" 12344 8 "$s4096_large"
done

# TrueCrypt-style tcw, and IV generators that allow only 512-byte sectors.
add aes256x2-cbc-tcw-s512 aes:2-cbc-tcw $((64 + 16 + 16)) 0 0
add aes256-cbc-tcw-s4096 aes-cbc-tcw 64 0 0 "$s4096"
add aes256-cbc-lmk-s4096 aes-cbc-lmk 32 0 0 "$s4096"

# Elephant with AES-128. The base vectors give xts and lrw an elephant key
# longer than 32 bytes, which the kernel rejects, so aes128-xts-elephant has a
# 32-byte one.
add aes128-cbc-elephant-s512 aes-cbc-elephant 32 0 0
add aes128-xts-elephant-s512 aes-xts-elephant 64 0 0

# Kernel crypto API names ("capi:" format).
add capi_cbc_aes-plain64-s512 "capi:cbc(aes)-plain64" 32 0 0
add capi_xts_aes-plain64-s512 "capi:xts(aes)-plain64" 64 0 0
add capi_cbc_aes-essiv_sha256-s512 "capi:cbc(aes)-essiv:sha256" 32 0 0
add capi_ecb_cipher_null-s512 "capi:ecb(cipher_null)-" - 0 0
add capi_ecb_cipher_null-null-s512 "capi:ecb(cipher_null)-null" - 0 0
add cipher_null-ecb-s512 cipher_null-ecb - 0 0
add capi_ctr_aes-plain64-s512 "capi:ctr(aes)-plain64" 32 0 0
add capi_cbc_twofish-plain64-s512 "capi:cbc(twofish)-plain64" 32 0 0

# ESSIV with other hashes. The digest becomes the ESSIV cipher's key, so it
# must be a valid AES key length.
for hash in sha1 sha512 md5 rmd160 wp512; do
    add "aes256-cbc-essiv_$hash-s512" "aes-cbc-essiv:$hash" 32 0 0
done

# Legacy short forms: a bare cipher, and "plain" as the chaining mode.
add aes256-s512 aes 32 0 0
add aes256-plain-s512 aes-plain 32 0 0

# Tables the kernel should reject.
add foo-cbc-plain64-s512 foo-cbc-plain64 32 0 0
add aes256-cbc-bogus-s512 aes-cbc-bogus 32 0 0
add aes256-cbc-s512 aes-cbc 32 0 0
add aes160-cbc-plain64-s512 aes-cbc-plain64 20 0 0
add aes256x3-cbc-plain64-s512 aes:3-cbc-plain64 96 0 0
add aes256-xts-plain64-s3000 aes-xts-plain64 64 0 0 "1 sector_size:3000"
add aes256-xts-plain64-s4096-iv12345 aes-xts-plain64 64 12345 0 "$s4096"

count=${#names[@]}
((count > 0)) || { echo "no vector matches ONLY=$only" >&2; exit 1; }

# table INDEX DEVICE OFFSET: the table line of vector INDEX.
table() {
    local i=$1 line
    line="0 $sectors crypt ${specs[i]} ${keys[i]} ${ivoffsets[i]} $2 $3"
    [[ -z ${options[i]} ]] || line+=" ${options[i]}"
    echo "$line"
}

mkdir -p "$out"
if [[ ! -f $out/plaintext.bin ]]; then
    head -c $((sectors * 512)) /dev/urandom >"$out/plaintext.bin"
fi
(($(stat -c %s "$out/plaintext.bin") == sectors * 512)) ||
    { echo "$out/plaintext.bin must be $((sectors * 512)) bytes" >&2; exit 1; }
cp "$out/plaintext.bin" "$work/plain.img"
disk=$work/out.img
truncate -s $((count * region_sectors * 512)) "$disk"

# Inside the machine /dev/vda is the plaintext and /dev/vdb the output disk.
# For each vector the script prints "R INDEX RESULT", then "E INDEX ..." lines
# with what dmsetup printed and "D INDEX ..." lines with new kernel messages.
# After the write it drops the page cache and reads the mapping back. A result
# of readback-mismatch still counts as ok in kernel.tsv, because the kernel
# accepted the table and wrote the ciphertext. In Linux 6.1 it happens with
# lmk over modes other than cbc, because on reads lmk decrypts with a zero IV
# and then XORs only the first block (crypt_iv_lmk_gen and crypt_iv_lmk_post
# in drivers/md/dm-crypt.c), which undoes the IV only for cbc.
# The machine has no /sbin/modprobe, so the script points the kernel's module
# autoloader at busybox modprobe, as on an installed system.
cat >"$work/prologue.sh" <<'EOF'
echo /bin/modprobe >/proc/sys/kernel/modprobe
echo "KERNEL $(busybox uname -r)"
busybox dmesg -c >/dev/null
v() {
    if dmsetup create "kv$1" --table "$2" >/tmp/err 2>&1; then
        dmsetup mknodes "kv$1"
        if dd if=/dev/vda of="/dev/mapper/kv$1" bs=4096 count=2 conv=fsync 2>>/tmp/err; then
            echo 3 >/proc/sys/vm/drop_caches
            if cmp -s /dev/vda "/dev/mapper/kv$1"; then r=ok; else r=readback-mismatch; fi
        else
            r=write-failed
        fi
        dmsetup remove "kv$1" >>/tmp/err 2>&1 || r="$r,remove-failed"
    else
        r=rejected
    fi
    echo "R $1 $r"
    sed "s/^/E $1 /" /tmp/err
    busybox dmesg -c | sed "s/^/D $1 /"
}
EOF

script=$work/vectors.sh
cp "$work/prologue.sh" "$script"
for ((i = 0; i < count; i++)); do
    echo "v $i '$(table "$i" /dev/vdb $((i * region_sectors + offsets[i])))'" >>"$script"
done
echo "booting the kernel for $count vectors" >&2
log=$work/vm.log
"$tool" run "$script" "$work/plain.img" "$disk" >"$log"
[[ -z ${VM_LOG:-} ]] || cp "$log" "$VM_LOG"
kernel=$(sed -n 's/^KERNEL //p' "$log" | head -n 1)

: >"$work/ciphertext.bin"
: >"$work/rows.tsv"
ok=0 rejected=0 mismatches=()
for ((i = 0; i < count; i++)); do
    result=$(awk -v i="$i" '$1 == "R" && $2 == i { print $3 }' "$log")
    # Kernel messages of this vector, without the timestamps and the routine ones.
    messages=$(awk -v i="$i" '$1 == "D" && $2 == i { sub(/^D [0-9]+ \[ *[0-9.]+\] /, ""); print }' "$log" |
        grep -v -e 'drop_caches' -e 'error adding target to table' -e '^alg: No test for' |
        paste -s -d '|' - || true)
    vm_result=$result
    case $result in
    ok | readback-mismatch)
        if [[ $result == readback-mismatch ]]; then
            mismatches+=("${names[i]}")
            result=ok
        fi
        dd if="$disk" bs=512 skip=$((i * region_sectors + offsets[i])) count="$sectors" \
            status=none >>"$work/ciphertext.bin"
        ok=$((ok + 1))
        ;;
    rejected)
        rejected=$((rejected + 1))
        ;;
    *)
        echo "vector ${names[i]}: unexpected result '${result:-none}'; messages:" >&2
        grep -E "^[RED] $i " "$log" >&2 || true
        exit 1
        ;;
    esac
    printf '%s\t%s\t%s\n' "${names[i]}" "$result" "$(table "$i" DEV "${offsets[i]}")" >>"$work/rows.tsv"
    printf '%-40s %-17s %s\n' "${names[i]}" "$vm_result" "$messages"
done

{
    printf '# name\tresult\ttable. Known-answer vectors from Linux %s dm-crypt, run through kernel-dmcrypt by gen-kernel-vectors.sh.' "$kernel"
    printf ' result: ok (the kernel accepted the table, and kernel-ciphertext.bin holds the %d bytes it wrote at backing offset <offset>*512 for plaintext.bin, one block per ok line in file order)' $((sectors * 512))
    printf ' or rejected (dmsetup create failed). DEV stands for the backing device.'
    if ((${#mismatches[@]})); then
        printf ' The kernel read back different data than it wrote for: %s.' "${mismatches[*]}"
    fi
    printf '\n'
    cat "$work/rows.tsv"
} >"$out/kernel.tsv"
mv "$work/ciphertext.bin" "$out/kernel-ciphertext.bin"
echo "$count vectors from Linux $kernel: $ok ok, $rejected rejected" >&2
if ((${#mismatches[@]})); then
    echo "ok, but the kernel read back other data than it was given: ${mismatches[*]}" >&2
fi
