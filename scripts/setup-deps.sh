#!/usr/bin/env bash
# scripts/setup-deps.sh — install the Debian packages popek needs to build and test.
#
# Idempotent: when every package is already installed it says so and does
# nothing. Otherwise it installs the missing ones with apt-get, as root or
# through sudo, and says what it is doing. Recommends are not installed
# (qemu-system-x86 alone would pull in a desktop's worth).
set -euo pipefail

packages=(
    cmake gcc make pkg-config   # build
    gcc-multilib                # 32-bit guest-test kernels (gcc -m32)
    libzydis-dev                # decoding and re-encoding guest code
    libcapstone-dev             # disassembly in traces and tools
    libxxhash-dev               # translation-cache keys
    libcmocka-dev               # unit tests
    qemu-system-x86             # the reference oracle for guest tests
    cpio kmod                   # the Linux guest's initramfs (fetch-linux-guest.sh)
    e2fsprogs                   # checking the Linux guest test's disk image
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup-deps: all ${#packages[@]} required packages are installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "setup-deps: missing packages: ${missing[*]}" >&2
    echo "setup-deps: not root and no sudo; install them as root and run again" >&2
    exit 1
fi

echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup-deps: done"
