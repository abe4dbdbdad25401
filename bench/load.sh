#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Load test: eight NBD clients and one FUSE reader/writer at once, doing
# random I/O on one LUKS2 volume, then a check of every byte by checksum.
#
# Usage, as root, from anywhere in a clone:
#   bench/load.sh [SECONDS]      default 600
# Environment:
#   BUILD=DIR     the build to use (default build; made with make if missing)
#   REGION_MIB=N  each client's region in MiB (default 64)
#   OUT=DIR       where load.md goes (default bench/results)
#   WORKDIR=DIR   where the image goes (default /dev/shm when it has room,
#                 else /var/tmp)
#
# The volume is served twice at once: nbdkit with the udmcrypt filter
# (multi-conn, one connection per NBD client) and a FUSE mapping from
# "udmcrypt open". Each server has its own read-modify-write locking for
# partial sectors, so each client has its own region, aligned to the
# volume's 4096-byte sectors: regions 0 to 7 for the NBD clients, 8 for
# FUSE. Each client checks every read against what it wrote
# (bench/load-client.py). Afterwards both servers stop, a fresh read-only
# FUSE mapping reads each region back, and its SHA-256 must equal the
# client's. Prints ops, MB/s, errors and the verification result, and
# writes them to OUT/load.md.
set -Eeuo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
SECONDS_RUN=${1:-600}
BUILD=${BUILD:-$ROOT/build}
REGION_MIB=${REGION_MIB:-64}
OUT=${OUT:-$BENCH/results}
NBD_CLIENTS=8

die() {
	echo "load: $*" >&2
	exit 1
}

[[ $SECONDS_RUN =~ ^[1-9][0-9]*$ ]] || die "invalid duration '$SECONDS_RUN': expected seconds"
[[ $REGION_MIB =~ ^[1-9][0-9]*$ ]] || die "invalid REGION_MIB=$REGION_MIB: expected MiB"
[[ $(id -u) == 0 ]] || die "run as root: the FUSE mapping attaches a loop device"
for tool in nbdkit python3 sha256sum; do
	command -v $tool >/dev/null || die "$tool is not installed"
done
if [[ ! -x $BUILD/udmcrypt || ! -f $BUILD/nbdkit-udmcrypt-filter.so ]]; then
	make -s -C "$ROOT" >/dev/null || die "make failed"
fi
udm=$(realpath "$BUILD/udmcrypt")
filter=$(realpath "$BUILD/nbdkit-udmcrypt-filter.so")

regions=$((NBD_CLIENTS + 1))
payload_mib=$((regions * REGION_MIB))
image_mib=$((payload_mib + 16))   # the LUKS2 header takes 16 MiB
if [[ -z ${WORKDIR:-} ]]; then
	WORKDIR=/var/tmp
	free_mib=$(df -m --output=avail /dev/shm 2>/dev/null | tail -1 | tr -d ' ')
	((${free_mib:-0} > image_mib * 2)) && WORKDIR=/dev/shm
fi
work=$(mktemp -d "$WORKDIR/udmcrypt-load.XXXXXX")
chmod 700 "$work"
nbdkit_pid=
client_pids=()

cleanup() {
	local pid loop backing
	for pid in "${client_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	[[ -n $nbdkit_pid ]] && kill "$nbdkit_pid" 2>/dev/null
	for name in load check; do "$udm" close "$name" --dir "$work" >/dev/null 2>&1 || true; done
	for loop in /sys/block/loop*; do
		backing=$(cat "$loop/loop/backing_file" 2>/dev/null) || continue
		[[ $backing == "$work"/* ]] && losetup -d "/dev/${loop##*/}"
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

echo "load: $NBD_CLIENTS NBD clients and 1 FUSE client, $REGION_MIB MiB each, for" \
	"$SECONDS_RUN s, in $work"
printf 'load test passphrase' > "$work/pass"
truncate -s "${image_mib}M" "$work/img"
"$udm" luksFormat -q --type luks2 --sector-size 4096 --pbkdf pbkdf2 \
	--pbkdf-force-iterations 1000 --key-file "$work/pass" "$work/img"

nbdkit -f -U "$work/nbd.sock" --threads 16 --filter="$filter" file "$work/img" \
	udmcrypt-type=luks udmcrypt-passphrase-file="$work/pass" 2>"$work/nbdkit.log" &
nbdkit_pid=$!
for _ in $(seq 200); do [[ -S $work/nbd.sock ]] && break; sleep 0.05; done
[[ -S $work/nbd.sock ]] || die "nbdkit did not start: $(cat "$work/nbdkit.log")"
"$udm" open "$work/img" load --key-file "$work/pass" --dir "$work" >/dev/null

region=$((REGION_MIB << 20))
start=$(date +%s.%N)
for i in $(seq 0 $((regions - 1))); do
	if ((i < NBD_CLIENTS)); then target=nbd:$work/nbd.sock; else target=fuse:$work/load; fi
	python3 "$BENCH/load-client.py" "$target" $((i * region)) "$region" "$SECONDS_RUN" \
		"$((RANDOM + i))" "$work/client$i.json" 2>"$work/client$i.err" &
	client_pids+=($!)
done
client_failures=0
for pid in "${client_pids[@]}"; do wait "$pid" || client_failures=$((client_failures + 1)); done
client_pids=()
elapsed=$(echo "$(date +%s.%N) - $start" | bc)

kill "$nbdkit_pid"
wait "$nbdkit_pid" || true
nbdkit_pid=
"$udm" close load --dir "$work"

# A fresh read-only mapping reads every region back.
"$udm" open "$work/img" check --key-file "$work/pass" --readonly --dir "$work" >/dev/null
for i in $(seq 0 $((regions - 1))); do
	dd if="$work/check" bs=1M skip=$((i * REGION_MIB)) count="$REGION_MIB" status=none |
		sha256sum | cut -d' ' -f1 > "$work/region$i.sha256"
done
"$udm" close check --dir "$work"

mkdir -p "$OUT"
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] && commit="$commit (with uncommitted changes)"
python3 - "$work" "$regions" "$elapsed" "$client_failures" "$OUT/load.md" "$commit" \
	"$SECONDS_RUN" "$REGION_MIB" "$(nproc)" "$WORKDIR" <<'EOF'
import json, sys, time
work, regions, elapsed, client_failures, out, commit, planned, region_mib, ncpu, workdir = sys.argv[1:]
rows, ok = [], int(client_failures) == 0
totals = {"reads": 0, "writes": 0, "bytes_read": 0, "bytes_written": 0, "errors": 0,
          "mismatches": 0}
for i in range(int(regions)):
    try:
        with open("%s/client%d.json" % (work, i)) as f:
            r = json.load(f)
    except (OSError, ValueError):
        rows.append("| %d | ? | no result | | | | | | |" % i)
        ok = False
        continue
    with open("%s/region%d.sha256" % (work, i)) as f:
        checksum_ok = f.read().strip() == r["sha256"]
    verified = checksum_ok and r["final_ok"] and not r["mismatches"] and not r["errors"]
    ok = ok and verified
    for key in totals:
        totals[key] += r[key]
    ops = r["reads"] + r["writes"]
    mbs = (r["bytes_read"] + r["bytes_written"]) / r["seconds"] / 1e6
    rows.append("| %d | %s | %d | %d | %d | %.1f | %d | %d | %s |" % (
        i, r["kind"], ops, r["reads"], r["writes"], mbs, r["errors"], r["mismatches"],
        "ok" if verified else "FAILED" + ("" if checksum_ok else " (checksum)")))
secs = float(elapsed)
total_ops = totals["reads"] + totals["writes"]
lines = [
    "# Load test",
    "",
    "Made by `bench/load.sh %s` on %s UTC, udmcrypt commit %s, %s CPUs, image on %s." %
    (planned, time.strftime("%Y-%m-%d %H:%M", time.gmtime()), commit, ncpu, workdir),
    "",
    "One LUKS2 volume (aes-xts-plain64, 512-bit key, 4096-byte sectors) served at once by "
    "nbdkit with the udmcrypt filter (8 connections) and by a FUSE mapping "
    "(`udmcrypt open`). Each client does random reads and writes (512 B to 256 KiB, half "
    "of them unaligned) on its own %s MiB region, checks every read against what it "
    "wrote, and syncs every 64 writes. Afterwards a fresh read-only FUSE mapping reads "
    "each region, and its SHA-256 must equal the client's." % region_mib,
    "",
    "| client | kind | ops | reads | writes | MB/s | errors | read mismatches | verified |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---|",
] + rows + [
    "",
    "Total: %d ops in %.0f s (%.0f ops/s), %.1f MB read, %.1f MB written, %.1f MB/s, "
    "%d errors, %d read mismatches. Verification: %s." % (
        total_ops, secs, total_ops / secs, totals["bytes_read"] / 1e6,
        totals["bytes_written"] / 1e6,
        (totals["bytes_read"] + totals["bytes_written"]) / secs / 1e6,
        totals["errors"], totals["mismatches"], "passed" if ok else "FAILED"),
]
text = "\n".join(lines) + "\n"
with open(out, "w") as f:
    f.write(text)
print(text, end="")
sys.exit(0 if ok else 1)
EOF
