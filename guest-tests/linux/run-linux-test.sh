#!/usr/bin/env bash
# guest-tests/linux/run-linux-test.sh — boots the Linux guest
# (scripts/fetch-linux-guest.sh) under QEMU or popek with boot-test.sh as
# /run.sh and an IDE disk, and checks what it did. Prints the guest's
# console output and one verdict line.
#
#   run-linux-test.sh qemu|popek [GUEST_DIR]    (default <repo>/build/linux)
#
# Environment: QEMU (default qemu-system-i386), POPEK (default
# <repo>/build/cli/popek), LINUX_TEST_TIMEOUT (seconds, default 600).
#
# What it checks:
#   - the guest's checks (boot-test.sh): the sha256 of 4 MiB made in the
#     guest equals the host's of the same bytes; 300 fork+exec of /bin/true;
#     the data written to an ext2 file system on the disk and read back
#     after dropping the page cache; each prints "POPEK-TEST: <check> ok";
#   - under popek, that /proc/cpuinfo names popek's CPU;
#   - /init ran the script and saw it exit with status 0, and the guest
#     powered off: exit status 1 with /init's line saying it powers off
#     through the debug-exit port (no ACPI: popek, and QEMU as
#     scripts/run-linux-guest.sh runs it), or 0 with the kernel's
#     "reboot: Power down" (ACPI);
#   - the disk image afterwards: e2fsck finds the file system clean and
#     debugfs reads the same bytes back from /data.
# Exit status: 0 pass, 1 fail, 77 skipped (no QEMU).
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# The work: the first DATA_BYTES bytes of `seq DATA_LINES`, FORKS processes.
data_lines=1000000
data_bytes=$((4 * 1024 * 1024))
forks=300
disk_size=32M

runner=${1:-}
guest_dir=${2:-$repo/build/linux}
case $runner in
qemu)
    qemu=${QEMU:-qemu-system-i386}
    if ! command -v "$qemu" >/dev/null 2>&1; then
        echo "SKIP linux ($runner): $qemu not found"
        exit 77
    fi
    run_args=(--qemu)
    ;;
popek)
    export POPEK=${POPEK:-$repo/build/cli/popek}
    if [[ ! -x $POPEK ]]; then
        echo "FAIL linux ($runner): $POPEK is not an executable (set POPEK)"
        exit 1
    fi
    run_args=()
    ;;
*)
    sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
for f in vmlinuz initramfs.cpio.gz; do
    if [[ ! -f $guest_dir/$f ]]; then
        echo "FAIL linux ($runner): $guest_dir/$f is missing (run scripts/fetch-linux-guest.sh $guest_dir)"
        exit 1
    fi
done
for tool in cpio gzip e2fsck debugfs; do
    if ! command -v "$tool" >/dev/null 2>&1 && ! [[ -x /sbin/$tool ]]; then
        echo "FAIL linux ($runner): $tool not found (scripts/setup-deps.sh installs it)"
        exit 1
    fi
done
PATH=$PATH:/sbin:/usr/sbin

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the guest's inputs ---------------------------------------------------

seq "$data_lines" | head -c "$data_bytes" >"$tmp/data"
data_sha256=$(sha256sum "$tmp/data" | cut -d' ' -f1)

mkdir "$tmp/extra"
cp "$here/boot-test.sh" "$tmp/extra/run.sh"
cat >"$tmp/extra/test.env" <<EOF
DATA_LINES=$data_lines
DATA_BYTES=$data_bytes
DATA_SHA256=$data_sha256
FORKS=$forks
EOF
# The kernel unpacks each archive of a concatenation in turn, the later
# ones adding to (or replacing files of) the earlier.
(cd "$tmp/extra" && printf '%s\n' run.sh test.env | cpio -o -H newc -R 0:0 --quiet) |
    gzip -n >"$tmp/extra.cpio.gz"
cat "$guest_dir/initramfs.cpio.gz" "$tmp/extra.cpio.gz" >"$tmp/initrd"
truncate -s "$disk_size" "$tmp/disk.img"

# ---- run ------------------------------------------------------------------

timeout=${LINUX_TEST_TIMEOUT:-600}
timeout "$timeout" "$repo/scripts/run-linux-guest.sh" "${run_args[@]}" \
    --kernel "$guest_dir/vmlinuz" --initrd "$tmp/initrd" --disk "$tmp/disk.img" \
    </dev/null >"$tmp/raw" 2>"$tmp/err"
status=$?
tr -d '\r' <"$tmp/raw" >"$tmp/out"
cat "$tmp/out"
if [[ -s $tmp/err ]]; then
    echo "--- stderr of $runner:"
    cat "$tmp/err"
fi
echo "---"

# ---- verdict -----------------------------------------------------------------

problems=()
has_line() { grep -qxF "$1" "$tmp/out"; }
case $status in
0)
    grep -q 'reboot: Power down$' "$tmp/out" ||
        problems+=("exit status 0 without the kernel powering off (a reboot or a panic?)")
    ;;
1)
    has_line "POPEK-INIT: no ACPI: powering off through the debug-exit port" ||
        problems+=("exit status 1 without the guest's debug-exit write")
    ;;
124) problems+=("timed out after $timeout s") ;;
*) problems+=("exit status $status") ;;
esac
for line in "POPEK-INIT: run /run.sh" "POPEK-TEST: sha256 ok" "POPEK-TEST: fork-exec ok ($forks)" \
    "POPEK-TEST: disk ok" "POPEK-TEST: done" "POPEK-INIT: /run.sh exited with status 0"; do
    has_line "$line" || problems+=("no line '$line'")
done
while IFS= read -r line; do
    problems+=("guest: ${line#POPEK-TEST: }")
done < <(grep '^POPEK-TEST: FAIL' "$tmp/out")

# The guest sees the CPU its VMM offers: popek's CPUID brand string.
if [[ $runner == popek ]] && ! grep -q '^model name[[:space:]]*: popek virtual CPU$' "$tmp/out"; then
    problems+=("/proc/cpuinfo does not name popek's CPU ('popek virtual CPU')")
fi

# The disk, as the guest left it.
if has_line "POPEK-TEST: disk ok"; then
    if ! e2fsck -fn "$tmp/disk.img" >"$tmp/fsck" 2>&1; then
        cat "$tmp/fsck"
        problems+=("e2fsck finds the disk's file system damaged")
    fi
    if ! debugfs -R "cat /data" "$tmp/disk.img" 2>/dev/null | cmp -s - "$tmp/data"; then
        problems+=("the disk's /data differs from the data")
    fi
fi

if ((${#problems[@]} == 0)); then
    echo "PASS linux ($runner)"
    exit 0
fi
printf -v joined '%s; ' "${problems[@]}"
echo "FAIL linux ($runner): ${joined%; }"
exit 1
