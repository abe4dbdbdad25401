#!/usr/bin/env bash
# Installs the Debian packages udmcrypt builds and tests with (run as root).
set -euo pipefail
packages=(
	build-essential pkg-config
	libssl-dev libgcrypt20-dev libfuse3-dev zlib1g-dev libargon2-dev libjson-c-dev
	fuse3 e2fsprogs util-linux xz-utils kmod cryptsetup-bin qemu-utils
	nbdkit nbdkit-plugin-dev libnbd-bin python3
	clang libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
