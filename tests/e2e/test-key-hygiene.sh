#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Key hygiene: the passphrase and the volume key of a LUKS2 volume, and the
# key of a table given to "create", must not appear in the argument list or
# the environment of the FUSE daemon or of nbdkit, or in the daemon's log.
# Nor may they appear in "table" (without --showkeys), "status" and "info"
# output, or in error messages. The memory of the running daemon that a
# core dump would contain must not have them either, nor a core dump taken
# with gcore, because key memory is marked MADV_DONTDUMP, which gdb's gcore
# honours.
#
# Usage: test-key-hygiene.sh [BUILD_DIR]   (default: build)
# Exit status: 0 pass, 1 fail, 77 skipped (FUSE not usable). The memory
# checks need root, gcore also gdb and a build without AddressSanitizer, the
# NBD checks nbdkit; without them they print "skip:".

set -u
. "$(dirname "$0")/lib.sh"

build=${1:-build}
udm=$(realpath "$build/udmcrypt" 2>/dev/null) || udm=

[ -c /dev/fuse ] || skip "/dev/fuse is missing"
[ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "no access to /dev/fuse for $(id -un)"
[ "$(id -u)" = 0 ] || command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
[ -x "$udm" ] || { echo "FAIL: $build/udmcrypt not found; run make first"; exit 1; }

work=$(mktemp -d /tmp/udmcrypt-hygiene.XXXXXX)
maps=$work/maps
mkdir "$maps"

cleanup() {
	local name
	for name in vol tab nbd; do
		"$udm" remove "$name" --dir "$maps" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

note() { echo "skip: $*"; }

# The secrets: a passphrase, a 64-byte volume key and a table key.
passphrase="Hygiene-Pass-7f3a9c"
printf %s "$passphrase" >"$work/pass"
head -c 64 /dev/urandom >"$work/vk"
vk_hex=$(od -An -tx1 -v "$work/vk" | tr -d ' \n')
head -c 64 /dev/urandom >"$work/tk"
tk_hex=$(od -An -tx1 -v "$work/tk" | tr -d ' \n')

# Prints how many of the secrets FILE contains: each key as hex (either case),
# as bytes, and each 32-byte half of it as bytes, and the passphrase.
secrets_in() {
	python3 - "$1" "$work/vk" "$work/tk" "$passphrase" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
needles = [sys.argv[4].encode()]
for path in sys.argv[2:4]:
    key = open(path, 'rb').read()
    needles += [key.hex().encode(), key.hex().upper().encode(), key[:32], key[32:]]
print(sum(1 for n in needles if n in data))
EOF
}

# check_clean WHAT FILE: FILE contains none of the secrets.
check_clean() {
	local found
	found=$(secrets_in "$2")
	if [ "$found" = 0 ]; then pass "$1 contains no key or passphrase"; else
		fail "$1 contains $found of the secrets"; fi
}

check_process() { # check_process WHAT PID
	cat "/proc/$2/cmdline" >"$work/cmdline" 2>/dev/null
	check_clean "$1 argv" "$work/cmdline"
	if cat "/proc/$2/environ" >"$work/environ" 2>/dev/null; then
		check_clean "$1 environment" "$work/environ"
	else
		note "cannot read the environment of $1"
	fi
}

# Prints how many secrets the memory of PID contains that a core dump would
# contain: every readable mapping not marked MADV_DONTDUMP ("dd" in the
# VmFlags of /proc/PID/smaps), except AddressSanitizer's shadow memory and
# other mappings larger than 256 MiB, which hold no allocations of their own.
# NOTE: each 32-byte half of an XTS key is not searched for, because the
# AES key schedules of OpenSSL and libgcrypt start with it and live in
# their heap. The daemon therefore disables its core dumps (prctl
# PR_SET_DUMPABLE), which a core taken by root with gcore bypasses.
dumpable_secrets_in() {
	python3 - "$1" "$work/vk" "$work/tk" "$passphrase" <<'EOF2'
import re, sys
pid = sys.argv[1]
needles = [sys.argv[4].encode()]
for path in sys.argv[2:4]:
    key = open(path, 'rb').read()
    needles += [key.hex().encode(), key.hex().upper().encode(), key]
regions, current = [], None
for line in open(f'/proc/{pid}/smaps'):
    m = re.match(r'([0-9a-f]+)-([0-9a-f]+) (\S+)', line)
    if m:
        current = [int(m[1], 16), int(m[2], 16), m[3][0] == 'r', False]
        regions.append(current)
    elif line.startswith('VmFlags:') and ' dd' in line:
        current[3] = True
found = set()
with open(f'/proc/{pid}/mem', 'rb', buffering=0) as mem:
    for start, end, readable, dontdump in regions:
        if not readable or dontdump or end - start > 256 << 20:
            continue
        try:
            mem.seek(start)
            data = mem.read(end - start)
        except (OSError, OverflowError):
            continue
        found.update(i for i, n in enumerate(needles) if n in data)
print(len(found))
EOF2
}

# check_core WHAT PID: neither the dumpable memory of the running process
# nor, for a build without AddressSanitizer (whose cores are terabytes of
# sparse shadow), a gcore core dump of it contains a secret.
check_core() {
	local found
	if [ "$(id -u)" != 0 ]; then
		note "memory and core dump of $1 (needs root)"
		return
	fi
	found=$(dumpable_secrets_in "$2")
	if [ "$found" = 0 ]; then pass "dumpable memory of $1 contains no key or passphrase"; else
		fail "dumpable memory of $1 contains ${found:-an unknown number} of the secrets"; fi
	if grep -q -a __asan_init "$udm" || ! command -v gcore >/dev/null; then
		note "gcore of $1 (needs gdb and a build without AddressSanitizer)"
		return
	fi
	rm -f "$work"/core.*
	if ! gcore -o "$work/core" "$2" >"$work/gcore.log" 2>&1 || [ ! -s "$work/core.$2" ]; then
		fail "gcore of $1 failed: $(tail -1 "$work/gcore.log")"
		return
	fi
	core_secrets=$(python3 - "$work/core.$2" "$work/vk" "$work/tk" "$passphrase" <<'EOF2'
import mmap, sys
with open(sys.argv[1], 'rb') as f:
    data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    needles = [sys.argv[4].encode()]
    for path in sys.argv[2:4]:
        key = open(path, 'rb').read()
        needles += [key.hex().encode(), key.hex().upper().encode(), key]
    print(sum(1 for n in needles if data.find(n) >= 0))
EOF2
)
	if [ "$core_secrets" = 0 ]; then pass "core dump of $1 contains no whole key or passphrase"; else
		fail "core dump of $1 contains ${core_secrets:-an unknown number} of the secrets"; fi
	rm -f "$work"/core.*
}

daemon_pid() { "$udm" info "$1" --dir "$maps" | awk -F': *' '/^Daemon PID/ { print $2 }'; }

# A LUKS2 volume opened with a passphrase from a key file.
truncate -s 24M "$work/img"
"$udm" luksFormat --type luks2 -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--volume-key-file "$work/vk" -d "$work/pass" "$work/img" >"$work/out" 2>&1 ||
	{ echo "FAIL: luksFormat: $(cat "$work/out")"; exit 1; }
check_clean "luksFormat output" "$work/out"
"$udm" luksDump "$work/img" >"$work/out" 2>&1
check_clean "luksDump output" "$work/out"

if "$udm" open -d "$work/pass" "$work/img" vol --dir "$maps" >"$work/out" 2>&1; then
	pass "open"
	check_clean "open output" "$work/out"
	pid=$(daemon_pid vol)
	check_process "daemon of open" "$pid"
	"$udm" table vol --dir "$maps" >"$work/out" 2>&1
	check_clean "table" "$work/out"
	"$udm" status vol --dir "$maps" >"$work/out" 2>&1
	check_clean "status" "$work/out"
	"$udm" info vol --dir "$maps" >"$work/out" 2>&1
	check_clean "info" "$work/out"
	"$udm" table vol --showkeys --dir "$maps" >"$work/out" 2>&1
	if grep -q "$vk_hex" "$work/out"; then pass "table --showkeys shows the key"; else
		fail "table --showkeys lacks the key"; fi
	check_core "daemon of open" "$pid"
	cat "$maps/.udmcrypt/vol/log" >"$work/out" 2>/dev/null
	"$udm" close vol --dir "$maps" >>"$work/out" 2>&1
	check_clean "daemon log and close output" "$work/out"
else
	fail "open: $(cat "$work/out")"
fi

# Error messages: a wrong passphrase that shares a prefix with the right one.
printf %s "${passphrase}X" >"$work/wrong"
"$udm" open --test-passphrase -d "$work/wrong" "$work/img" >"$work/out" 2>&1
rc=$?
if [ $rc = 2 ]; then pass "wrong passphrase exit status 2"; else
	fail "wrong passphrase exit status $rc"; fi
check_clean "wrong passphrase message" "$work/out"
echo "0 8 crypt aes-xts-plain64 ${tk_hex} 0 $work/img 0 1 bogus_option" |
	"$udm" create bad --dir "$maps" >"$work/out" 2>&1
check_clean "invalid table message" "$work/out"

# A table with a key, from standard input.
table="0 8192 crypt aes-xts-plain64 $tk_hex 0 $work/img 32768"
if echo "$table" | "$udm" create tab --dir "$maps" >"$work/out" 2>&1; then
	pass "create"
	pid=$(daemon_pid tab)
	check_process "daemon of create" "$pid"
	"$udm" table tab --dir "$maps" >"$work/out" 2>&1
	"$udm" status tab --dir "$maps" >>"$work/out" 2>&1
	"$udm" table --dir "$maps" >>"$work/out" 2>&1
	check_clean "table and status of create" "$work/out"
	check_core "daemon of create" "$pid"
	cat "$maps/.udmcrypt/tab/log" >"$work/out" 2>/dev/null
	"$udm" remove tab --dir "$maps" >>"$work/out" 2>&1
	check_clean "daemon log and remove output" "$work/out"
else
	fail "create: $(cat "$work/out")"
fi

# nbdkit gets the table through a pipe.
if command -v nbdkit >/dev/null; then
	if echo "$table" | "$udm" create nbd --nbd "$work/nbd.sock" --dir "$maps" \
		>"$work/out" 2>&1; then
		pass "create --nbd"
		pid=$(head -1 "$maps/.udmcrypt/nbd/nbd" 2>/dev/null)
		if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
			check_process "nbdkit" "$pid"
		else
			fail "no nbdkit process recorded for the export"
		fi
		"$udm" remove nbd --dir "$maps" >>"$work/out" 2>&1
		check_clean "NBD create and remove output" "$work/out"
	else
		fail "create --nbd: $(cat "$work/out")"
	fi
else
	note "nbdkit is not installed"
fi

finish
