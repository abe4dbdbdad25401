#!/usr/bin/env bash
# The udmcrypt benchmark: the crypto ceiling, the engine alone, the FUSE
# frontend, the nbdkit filter and its peers (nbdkit's luks filter, qemu-nbd
# with qemu's LUKS driver), side by side on this machine, in one run.
#
# Usage, as root, from anywhere in a clone:
#   bench/run.sh                 full run (about 15 minutes on 2 cores)
#   QUICK=1 bench/run.sh         small sizes, to check the script (< 2 minutes)
# Environment:
#   RUNS=N       runs per cell, medians quoted (default 3; 1 with QUICK=1)
#   THREADS=N    the "N threads" of the engine cells (default: nproc)
#   OUT=DIR      where the results go (default bench/results)
#   WORKDIR=DIR  where the images go (default: /dev/shm when it has room,
#                else /var/tmp)
#   FOREIGN_MAX=P  a run during which other processes used more than P% of
#                the CPUs is run again, at most twice (default 10)
#
# Writes OUT/RESULTS.md, OUT/results.csv, OUT/chart.png, OUT/raw-runs.csv
# and OUT/run.log, and prints the tables at the end. Every server listens
# on a Unix socket in the work directory only, and is stopped on exit, as
# are the FUSE mappings and their loop devices.
set -Eeuo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	RUNS=${RUNS:-1}
else
	RUNS=${RUNS:-3}
fi
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-$BENCH/results}
PY=/usr/bin/python3	# Debian's, where python3-matplotlib installs

MiB=$((1024 * 1024))
if [[ $QUICK == 1 ]]; then
	SEQ_MIB=64		# sequential size, and the size of every image
	RAND_TIME=1		# seconds per random cell
	NBD_SEQ_CAP=5		# seconds at most for one sequential NBD cell
	CRYPTO_SECS=0.2		# seconds per ceiling and engine cell
	ENGINE_MIB=64
	RSS_TIME=2
else
	SEQ_MIB=1024
	RAND_TIME=4
	NBD_SEQ_CAP=15
	CRYPTO_SECS=1
	ENGINE_MIB=512
	RSS_TIME=10
fi
NBD_SEQ_QD=4
FOREIGN_MAX=${FOREIGN_MAX:-10}
# Repeated runs, and seconds spent waiting for other processes to calm
# down, over the whole benchmark at most.
RETRY_BUDGET=40
QUIET_BUDGET=240
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)
WORKLOADS=(seq-write seq-read rand-read-qd1 rand-read-qd32 rand-write-qd1 rand-write-qd32)
# The FUSE file also gets sequential O_DIRECT runs, which bypass the page cache
# whose fresh pages make the buffered runs noisy on some virtual machines.
FUSE_WORKLOADS=("${WORKLOADS[@]}" seq-write-direct seq-read-direct)

die() {
	echo "bench: $*" >&2
	exit 1
}

log() {
	printf '[%s] %s\n' "$(date +%T)" "$*" | tee -a "$LOG" >&2
}

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "invalid RUNS=$RUNS: expected a positive integer"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "invalid THREADS=$THREADS: expected a positive integer"
[[ $FOREIGN_MAX =~ ^[0-9]+$ ]] ||
	die "invalid FOREIGN_MAX=$FOREIGN_MAX: expected a percentage, as an integer"
[[ $(id -u) == 0 ]] || die "run as root: it installs packages, drops caches and maps loop devices"

mkdir -p "$OUT"
LOG=$OUT/run.log
RAW=$OUT/raw-runs.csv
: >"$LOG"
echo "section,config,workload,run,mbps,iops,foreign_pct" >"$RAW"
START_TIME=$(date +%s)

# ---------------------------------------------------------------- setup

install_packages() {
	local missing=() cmd pkg
	bash "$ROOT/scripts/install-deps.sh"
	for pair in fio:fio nbdkit:nbdkit nbdcopy:libnbd-bin nbdinfo:libnbd-bin \
		qemu-nbd:qemu-utils qemu-img:qemu-utils cryptsetup:cryptsetup-bin; do
		cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done
	dpkg -s nbdkit-plugin-dev >/dev/null 2>&1 || missing+=(nbdkit-plugin-dev)
	"$PY" -c 'import matplotlib' >/dev/null 2>&1 || missing+=(python3-matplotlib)
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq "${missing[@]}" >>"$LOG" 2>&1
	fi
}

build() {
	log "building udmcrypt"
	make -C "$ROOT" -j"$(nproc)" >>"$LOG" 2>&1 || die "make failed; see $LOG"
	mkdir -p "$ROOT/build/bench"
	local libs
	libs=$(pkg-config --libs libcrypto libgcrypt fuse3 zlib libargon2 json-c)
	cc -O2 -g -std=gnu11 -Wall -Wextra -I"$ROOT/include" -o "$ROOT/build/bench/engine" \
		"$BENCH/engine.c" "$ROOT/build/libudmcrypt.a" $libs -lpthread >>"$LOG" 2>&1 ||
		die "cannot build bench/engine.c; see $LOG"
	cc -O2 -g -std=gnu11 -Wall -Wextra -o "$ROOT/build/bench/ceiling" "$BENCH/ceiling.c" \
		$(pkg-config --libs libcrypto libgcrypt) >>"$LOG" 2>&1 ||
		die "cannot build bench/ceiling.c; see $LOG"
	UDM=$ROOT/build/udmcrypt
	ENGINE=$ROOT/build/bench/engine
	CEILING=$ROOT/build/bench/ceiling
	FILTER=
	local f
	for f in "$ROOT/build/nbdkit-udmcrypt-filter.so" "$ROOT"/build/*udmcrypt*filter*.so; do
		if [[ -f $f ]]; then
			FILTER=$f
			break
		fi
	done
}

# Images need room for the largest phase (two images of SEQ_MIB) plus a margin.
pick_workdir() {
	local need_kib=$(((2 * SEQ_MIB + 2048) * 1024)) avail
	if [[ -n ${WORKDIR:-} ]]; then
		mkdir -p "$WORKDIR"
		WORK=$(mktemp -d "$WORKDIR/udmcrypt-bench.XXXXXX")
	else
		avail=$(df -k --output=avail /dev/shm 2>/dev/null | tail -1 | tr -d ' ')
		if [[ -n $avail ]] && ((avail > need_kib)); then
			WORK=$(mktemp -d /dev/shm/udmcrypt-bench.XXXXXX)
		else
			WORK=$(mktemp -d /var/tmp/udmcrypt-bench.XXXXXX)
		fi
	fi
	WORK_FS="$(df --output=fstype "$WORK" | tail -1) ($(df --output=target "$WORK" | tail -1))"
	mkdir -p "$WORK/map" "$WORK/fio"
	log "images in $WORK, on $WORK_FS"
}

# ---------------------------------------------------------------- cleanup

MAPPINGS=()
SERVER_PIDS=()

cleanup() {
	local name pid
	set +e
	for pid in "${SERVER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for name in "${MAPPINGS[@]}"; do
		timeout 30 "$UDM" remove --dir "$WORK/map" "$name" >>"$LOG" 2>&1
	done
	if [[ -n ${WORK:-} && -d $WORK ]]; then
		if grep -q " $WORK/" /proc/mounts; then
			echo "bench: something is still mounted under $WORK; left in place" >&2
		else
			rm -rf "$WORK"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# record SECTION CONFIG WORKLOAD RUN MBPS IOPS: one line of raw-runs.csv,
# with the share of the CPUs that other processes used during the run.
record() {
	echo "$1,$2,$3,$4,$5,$6,$FOREIGN" >>"$RAW"
}

# own_jiffies: prints the CPU time (in clock ticks) of this script and its
# reaped children, plus that of the running server and FUSE daemon.
own_jiffies() {
	local pid total ticks
	# Fields 14 to 17 of /proc/PID/stat: utime, stime, cutime, cstime.
	total=$(awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' /proc/$$/stat)
	for pid in ${SERVER_PID:-} ${DAEMON_PID:-}; do
		ticks=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || ticks=0
		total=$((total + ${ticks:-0}))
	done
	echo "$total"
}

# cpu_snapshot: sets SNAP_BUSY (busy clock ticks of all CPUs since boot),
# SNAP_OWN (own_jiffies) and SNAP_NS (the time).
cpu_snapshot() {
	local -a cpu
	read -r -a cpu </proc/stat
	# The cpu line: user nice system idle iowait irq softirq steal ...
	SNAP_BUSY=$((cpu[1] + cpu[2] + cpu[3] + cpu[6] + cpu[7]))
	SNAP_OWN=$(own_jiffies)
	SNAP_NS=$(date +%s%N)
}

# foreign_since: prints the percentage of all CPUs' time since the last
# cpu_snapshot that went to processes other than this script's. Kernel
# threads count as other processes.
foreign_since() {
	local busy0=$SNAP_BUSY own0=$SNAP_OWN ns0=$SNAP_NS wall foreign
	cpu_snapshot
	wall=$(((SNAP_NS - ns0) * CLK_TCK / 1000000000 * NCPU))
	foreign=$(((SNAP_BUSY - busy0) - (SNAP_OWN - own0)))
	if ((wall <= 0 || foreign <= 0)); then
		echo 0
	else
		echo $((100 * foreign / wall))
	fi
}

# guarded LABEL OUTPUT COMMAND...: runs COMMAND with its standard output in
# OUTPUT. While other processes used more than FOREIGN_MAX% of the CPUs
# during it, it runs COMMAND again, at most twice. Sets FOREIGN to that
# share in the last attempt and returns COMMAND's exit status.
guarded() {
	local label=$1 output=$2 attempt
	shift 2
	for ((attempt = 1; ; attempt++)); do
		cpu_snapshot
		"$@" >"$output" || return
		FOREIGN=$(foreign_since)
		if ((FOREIGN <= FOREIGN_MAX || attempt >= 3 || RETRY_BUDGET <= 0)); then
			return 0
		fi
		RETRY_BUDGET=$((RETRY_BUDGET - 1))
		log "  $label: other processes used ${FOREIGN}% of the CPUs; running it again"
		wait_quiet
	done
}

# wait_quiet: waits until other processes use at most FOREIGN_MAX% of the
# CPUs during one second: 30 s at most, and QUIET_BUDGET seconds in all.
wait_quiet() {
	local i share
	for ((i = 0; i < 30 && QUIET_BUDGET > 0; i++)); do
		cpu_snapshot
		sleep 1
		share=$(foreign_since)
		if ((share <= FOREIGN_MAX)); then
			return 0
		fi
		QUIET_BUDGET=$((QUIET_BUDGET - 1))
	done
	log "  other processes still use ${share:-?}% of the CPUs; going on"
}

new_key() {
	head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# make_image PATH MIB: an image whose pages are all written, so that the
# first benchmark write does not also pay for allocation.
make_image() {
	rm -f "$1"
	dd if=/dev/zero of="$1" bs=1M count="$2" status=none
}

# write_table PATH CIPHER DEVICE MIB [SECTOR]: a crypt table over the
# whole DEVICE, aes-xts-plain64 with a fresh 512-bit key or cipher_null.
write_table() {
	local path=$1 cipher=$2 device=$3 mib=$4 sector=${5:-4096}
	local sectors=$((mib * 2048))
	(
		umask 077
		if [[ $cipher == null ]]; then
			echo "0 $sectors crypt cipher_null-ecb - 0 $device 0" >"$path"
		else
			echo "0 $sectors crypt aes-xts-plain64 $(new_key) 0 $device 0 1 sector_size:$sector" >"$path"
		fi
	)
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# logged COMMAND...: runs COMMAND with its standard error in the log.
logged() {
	"$@" 2>>"$LOG"
}

# fuse_fio JSON_OUT ARGS...: run_fio after dropping the page cache, so that
# reads go to the daemon.
fuse_fio() {
	drop_caches
	run_fio "$@"
}

# run_fio JSON_OUT ARGS...: one fio run, bounded in time.
run_fio() {
	local out=$1
	shift
	timeout --kill-after=10 $((NBD_SEQ_CAP + RAND_TIME + 120)) \
		fio --output-format=json --output="$out" "$@" >>"$LOG" 2>&1
}

# fio_result JSON: prints "MB/s IOPS" (read and write added up).
fio_result() {
	"$PY" "$BENCH/report.py" fio "$1"
}

# fio_args FRONTEND WORKLOAD: the job for one workload on the frontend
# "fuse" (FILE is the mapping's file) or "nbd" (URI is the server's).
fio_args() {
	local frontend=$1 workload=$2 size=$((SEQ_MIB * MiB))
	local -a a=(--name=bench --size="$size" --randrepeat=0 --norandommap)
	if [[ $frontend == fuse ]]; then
		a+=(--filename="$FILE" --fallocate=none)
	else
		a+=(--ioengine=nbd --uri="$URI")
	fi
	case $workload in
	seq-*)
		if [[ $workload == seq-write* ]]; then
			a+=(--bs=1M --rw=write)
		else
			a+=(--bs=1M --rw=read)
		fi
		if [[ $frontend == fuse && $workload == *-direct ]]; then
			a+=(--ioengine=psync --direct=1)
		elif [[ $frontend == fuse ]]; then
			# Through the page cache, as dd would: direct=0, one call at a time.
			a+=(--ioengine=psync --direct=0)
			if [[ $workload == seq-write ]]; then
				a+=(--end_fsync=1)
			fi
		else
			a+=(--iodepth=$NBD_SEQ_QD --runtime=$NBD_SEQ_CAP)
		fi
		;;
	rand-*)
		local rw=${workload#rand-} qd=${workload##*-qd}
		rw=${rw%-qd*}
		a+=(--bs=4k --rw=rand$rw --iodepth="$qd" --time_based --runtime="$RAND_TIME")
		if [[ $frontend == fuse ]]; then
			a+=(--ioengine=libaio --direct=1)
		fi
		;;
	esac
	printf '%s\n' "${a[@]}"
}

# bench_workloads SECTION CONFIG FRONTEND: RUNS runs of every workload of
# the frontend.
bench_workloads() {
	local section=$1 config=$2 frontend=$3 workload run json res runner=run_fio
	local -a args workloads=("${WORKLOADS[@]}")
	if [[ $frontend == fuse ]]; then
		workloads=("${FUSE_WORKLOADS[@]}")
		runner=fuse_fio
	fi
	for workload in "${workloads[@]}"; do
		mapfile -t args < <(fio_args "$frontend" "$workload")
		for ((run = 1; run <= RUNS; run++)); do
			json=$WORK/fio/$section-$config-$workload-$run.json
			if ! guarded "$section $config $workload run $run" /dev/null \
				"$runner" "$json" "${args[@]}"; then
				log "fio failed: $section $config $workload run $run (see $LOG)"
				continue
			fi
			res=$(fio_result "$json")
			record "$section" "$config" "$workload" "$run" ${res}
		done
		log "  $section $config $workload: $(median_of "$section" "$config" "$workload")"
	done
}

median_of() {
	"$PY" "$BENCH/report.py" median "$RAW" "$1" "$2" "$3"
}

# background_busy PHASE: records in machine.txt the share of CPU time that
# other processes used during one second before the phase, while this
# script was idle. A high value means the phase's numbers are disturbed.
background_busy() {
	local -a before after
	read -r -a before < <(head -1 /proc/stat)
	sleep 1
	read -r -a after < <(head -1 /proc/stat)
	local total=0 idle i
	for ((i = 1; i < ${#after[@]}; i++)); do
		total=$((total + after[i] - before[i]))
	done
	# Fields 4 and 5 of the cpu line are idle and iowait.
	idle=$((after[4] - before[4] + after[5] - before[5]))
	echo "busy_before_$1=$((total > 0 ? 100 * (total - idle) / total : 0))" >>"$OUT/machine.txt"
}

# ---------------------------------------------------------------- phases

phase_ceiling() {
	local run line
	log "crypto ceiling: OpenSSL and libgcrypt AES-256-XTS, one core, ${CRYPTO_SECS}s per cell"
	for ((run = 1; run <= RUNS; run++)); do
		guarded "ceiling run $run" "$WORK/ceiling.out" logged "$CEILING" "$CRYPTO_SECS" ||
			die "ceiling failed; see $LOG"
		while IFS=, read -r _ lib sector op mbps; do
			record ceiling "$lib" "$op-$sector" "$run" "$mbps" ""
		done <"$WORK/ceiling.out"
	done
}

phase_engine() {
	local img=$WORK/engine.img size=$((ENGINE_MIB * MiB)) run cipher sector op t backing
	local -a threads=(1) cargs
	if ((THREADS > 1)); then
		threads+=("$THREADS")
	fi
	log "engine alone: udm_device_pread/pwrite, 1 MiB calls, ${ENGINE_MIB} MiB image, ${CRYPTO_SECS}s per cell"
	make_image "$img" "$ENGINE_MIB"
	for cipher in aes null; do
		for sector in 512 4096; do
			[[ $cipher == null && $sector == 512 ]] && continue
			for backing in tmpfs none; do
				[[ $cipher == null && $backing == none ]] && continue
				if [[ $backing == tmpfs ]]; then
					cargs=(--image "$img")
				else
					cargs=(--no-backing --size "$size")
				fi
				for op in write read; do
					for t in "${threads[@]}"; do
						for ((run = 1; run <= RUNS; run++)); do
							guarded "engine $cipher $sector $backing $op t=$t run $run" \
								"$WORK/engine.out" logged "$ENGINE" "${cargs[@]}" \
								--cipher "$cipher" --sector "$sector" --threads "$t" \
								--op "$op" --seconds "$CRYPTO_SECS" ||
								die "engine failed; see $LOG"
							record engine "$cipher-$sector-$backing" \
								"$([[ $op == write ]] && echo encrypt || echo decrypt)-t$t" \
								"$run" "$(cat "$WORK/engine.out")" ""
						done
					done
				done
			done
		done
	done
	rm -f "$img"
}

# fuse_create NAME TABLE: creates the mapping NAME and sets FILE and DAEMON_PID.
fuse_create() {
	local name=$1 table=$2
	MAPPINGS+=("$name")
	timeout 60 "$UDM" create --dir "$WORK/map" "$name" "$table" >>"$LOG" 2>&1 ||
		die "udmcrypt create $name failed; see $LOG and $WORK/map/.udmcrypt/$name/log"
	FILE=$WORK/map/$name
	DAEMON_PID=$(timeout 30 "$UDM" info --dir "$WORK/map" "$name" | awk '/^Daemon PID:/ { print $3 }')
	[[ -n $DAEMON_PID ]] || die "daemon PID of mapping $name not found in 'udmcrypt info'"
}

fuse_remove() {
	timeout 60 "$UDM" remove --dir "$WORK/map" "$1" >>"$LOG" 2>&1 ||
		die "udmcrypt remove $1 failed; see $LOG"
	DAEMON_PID=
	local -a kept=()
	local name
	for name in "${MAPPINGS[@]}"; do
		if [[ $name != "$1" ]]; then
			kept+=("$name")
		fi
	done
	MAPPINGS=("${kept[@]}")
}

vm_kib() { # PID FIELD
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

phase_fuse() {
	local img=$WORK/fuse.img cipher
	log "FUSE frontend: ${SEQ_MIB} MiB image on $WORK_FS; sequential through the page cache," \
		"random on the FUSE file with O_DIRECT and libaio"
	make_image "$img" "$SEQ_MIB"
	for cipher in aes null; do
		write_table "$WORK/fuse-$cipher.table" "$cipher" "$img" "$SEQ_MIB" 4096
		fuse_create "bench-$cipher" "$WORK/fuse-$cipher.table"
		bench_workloads fuse "$cipher" fuse
		echo "fuse_${cipher}_hwm_kib=$(vm_kib "$DAEMON_PID" VmHWM)" >>"$OUT/rss.txt"
		fuse_remove "bench-$cipher"
	done
	rm -f "$img"
}

# start_server NAME COMMAND...: starts a server on the socket $WORK/NAME.sock
# in the background and sets SERVER_PID and URI once nbdinfo can connect.
start_server() {
	local name=$1 i
	shift
	local sock=$WORK/$name.sock
	rm -f "$sock"
	"$@" >>"$WORK/$name.log" 2>&1 &
	SERVER_PID=$!
	SERVER_PIDS+=("$SERVER_PID")
	URI="nbd+unix:///?socket=$sock"
	for ((i = 0; i < 150; i++)); do
		if [[ -S $sock ]] && timeout 5 nbdinfo --size "$URI" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/$name.log" >>"$LOG"
	die "server $name did not start within 15 s; see $LOG"
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
	rm -f "${URI#*socket=}"
}

phase_nbd() {
	local raw=$WORK/raw.img luks=$WORK/luks.img pass=$WORK/passphrase cipher
	local -a nbdkit=(nbdkit -f --exit-with-parent -U)
	log "NBD: fio's nbd engine on Unix sockets; sequential with iodepth $NBD_SEQ_QD" \
		"(at most ${NBD_SEQ_CAP}s), images on $WORK_FS"
	make_image "$raw" "$SEQ_MIB"
	# One LUKS1 volume for udmcrypt's filter and both peers: aes-xts-plain64,
	# 512-bit key, sha256, 512-byte sectors, a payload of SEQ_MIB.
	make_image "$luks" $((SEQ_MIB + 2))
	(umask 077 && printf '%s' "bench-passphrase-$RANDOM$RANDOM" >"$pass")
	cryptsetup luksFormat -q --type luks1 --cipher aes-xts-plain64 --key-size 512 --hash sha256 \
		--pbkdf-force-iterations 1000 --key-file "$pass" "$luks" >>"$LOG" 2>&1 ||
		die "cryptsetup luksFormat failed; see $LOG"

	if [[ -n $FILTER ]]; then
		for cipher in aes null; do
			write_table "$WORK/nbd-$cipher.table" "$cipher" "$raw" "$SEQ_MIB" 4096
			start_server "udm-$cipher" "${nbdkit[@]}" "$WORK/udm-$cipher.sock" \
				--filter="$FILTER" file file="$raw" udmcrypt-table="$WORK/nbd-$cipher.table"
			bench_workloads nbd "udm-$cipher" nbd
			stop_server
		done
		start_server udm-luks1 "${nbdkit[@]}" "$WORK/udm-luks1.sock" --filter="$FILTER" \
			file file="$luks" udmcrypt-type=luks1 udmcrypt-passphrase-file="$pass"
		bench_workloads nbd udm-luks1 nbd
		stop_server
	else
		log "no udmcrypt nbdkit filter in build/: its cells are left out"
	fi

	start_server nbdkit-luks "${nbdkit[@]}" "$WORK/nbdkit-luks.sock" --filter=luks \
		file file="$luks" passphrase=+"$pass"
	bench_workloads nbd nbdkit-luks nbd
	stop_server

	start_server qemu-luks qemu-nbd --persistent --socket="$WORK/qemu-luks.sock" \
		--object secret,id=sec0,file="$pass" \
		--image-opts "driver=luks,key-secret=sec0,file.driver=file,file.filename=$luks"
	bench_workloads nbd qemu-luks nbd
	stop_server

	start_server nbdkit-file "${nbdkit[@]}" "$WORK/nbdkit-file.sock" file file="$raw"
	bench_workloads nbd nbdkit-file nbd
	stop_server
	rm -f "$raw" "$luks" "$pass"
}

# The daemon's memory while it serves a 1 TiB sparse image under reads.
phase_rss() {
	local img=$WORK/sparse-1t.img samples=$WORK/rss-samples sampler idle
	log "daemon memory: 1 TiB sparse image, ${RSS_TIME}s of random and sequential reads"
	truncate -s 1T "$img"
	write_table "$WORK/rss.table" aes "$img" $((1024 * 1024)) 4096
	fuse_create bench-rss "$WORK/rss.table"
	idle=$(vm_kib "$DAEMON_PID" VmRSS)

	: >"$samples"
	(
		while kill -0 "$DAEMON_PID" 2>/dev/null; do
			vm_kib "$DAEMON_PID" VmRSS >>"$samples"
			sleep 0.2
		done
	) &
	sampler=$!

	# Two jobs at once: 4 KiB random reads at queue depth 32 over the whole
	# TiB, and 1 MiB sequential reads through the page cache over its first
	# 4 GiB (so that the page cache stays small).
	drop_caches
	run_fio "$WORK/fio/rss.json" --time_based --runtime="$RSS_TIME" \
		--filename="$FILE" --fallocate=none --randrepeat=0 --norandommap \
		--name=rand --size=1T --rw=randread --bs=4k --ioengine=libaio --direct=1 --iodepth=32 \
		--name=seq --size=4G --rw=read --bs=1M --ioengine=psync --direct=0 ||
		log "fio failed during the memory measurement (see $LOG)"

	{
		echo "rss_idle_kib=$idle"
		echo "rss_max_kib=$(sort -n "$samples" | tail -1)"
		echo "rss_hwm_kib=$(vm_kib "$DAEMON_PID" VmHWM)"
		echo "rss_samples=$(wc -l <"$samples")"
		echo "rss_workload_mbps_iops=$(fio_result "$WORK/fio/rss.json")"
	} >>"$OUT/rss.txt"
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	fuse_remove bench-rss
	rm -f "$img"
}

machine_info() {
	local v p
	{
		echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
		echo "cpu_family_model=$(awk -F': ' '/^cpu family/ { f = $2 } /^model\t/ { m = $2 }
			END { print f "/" m }' /proc/cpuinfo)"
		echo "cores=$(nproc)"
		echo "cpu_flags=$(grep -m1 -ow -E 'aes|vaes|vpclmulqdq|avx2|avx512f' /proc/cpuinfo |
			sort -u | tr '\n' ' ')"
		echo "memory=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
		echo "kernel=$(uname -r)"
		echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
		echo "compiler=$(cc --version | head -1)"
		for p in libssl3 libgcrypt20 libfuse3-3 fio nbdkit libnbd0 qemu-utils cryptsetup-bin; do
			v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo "not installed")
			echo "pkg_$p=$v"
		done
		echo "udmcrypt=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
			[[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] && echo ' (with uncommitted changes)')"
		echo "nbd_filter=${FILTER:+${FILTER#$ROOT/}}"
		echo "workdir=$WORK_FS"
		echo "quick=$QUICK"
		echo "runs=$RUNS"
		echo "threads=$THREADS"
		echo "foreign_max=$FOREIGN_MAX"
		echo "seq_mib=$SEQ_MIB"
		echo "rand_time=$RAND_TIME"
		echo "nbd_seq_qd=$NBD_SEQ_QD"
		echo "nbd_seq_cap=$NBD_SEQ_CAP"
		echo "crypto_secs=$CRYPTO_SECS"
		echo "engine_mib=$ENGINE_MIB"
		echo "rss_time=$RSS_TIME"
		echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
		# Free page reporting hands freed guest pages back to the host, which
		# must fault them in again when the guest reuses them.
		if [[ -r /sys/module/page_reporting/parameters/page_reporting_order ]]; then
			echo "page_reporting_order=$(cat /sys/module/page_reporting/parameters/page_reporting_order)"
		fi
		if [[ -d /sys/bus/virtio/drivers/virtio_balloon ]]; then
			echo "virtio_balloon=yes"
		fi
	} >"$OUT/machine.txt"
}

# ---------------------------------------------------------------- main

install_packages
build
pick_workdir
: >"$OUT/rss.txt"
machine_info
for phase in ceiling engine fuse nbd rss; do
	wait_quiet
	background_busy "$phase"
	"phase_$phase"
done
echo "elapsed_s=$(($(date +%s) - START_TIME))" >>"$OUT/machine.txt"
echo "retries_left=$RETRY_BUDGET" >>"$OUT/machine.txt"
echo "quiet_wait_left_s=$QUIET_BUDGET" >>"$OUT/machine.txt"
"$PY" "$BENCH/report.py" report "$RAW" "$OUT/machine.txt" "$OUT/rss.txt" "$OUT" ||
	die "the report failed; see $LOG"
log "done in $(($(date +%s) - START_TIME)) s: $OUT/RESULTS.md, $OUT/results.csv, $OUT/chart.png"
