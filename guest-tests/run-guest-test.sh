#!/usr/bin/env bash
# guest-tests/run-guest-test.sh — runs one guest-test kernel under QEMU or
# popek and checks it: the guest must exit through the debug-exit port with
# code 0 (process status (0 << 1) | 1 = 1) — or, for a test whose .run says
# so, power the machine off (ACPI soft-off: both runners exit 0) — and its
# COM1 output must equal the golden file byte for byte. Prints a diff on
# mismatch and one verdict line.
#
#   run-guest-test.sh qemu  <kernel.elf> <golden.expected>
#   POPEK=build/cli/popek POPEK_ARGS="--mode te" \
#       run-guest-test.sh popek <kernel.elf> <golden.expected>
#   run-guest-test.sh --print qemu|popek <kernel.elf>
#       (just run: guest output on stdout, exit with the runner's status)
#
# Environment: QEMU (default qemu-system-i386), POPEK (required for popek),
# POPEK_ARGS (extra popek options, word-split).
#
# Per-test settings: if guest-tests/<name>.run exists it is sourced and may
# set qemu_args=(...) and popek_args=(...) (extra options for one runner),
# expected_status=0 (the kernel ends by powering the machine off), and
# define disk_create IMG and disk_check IMG: the runner then makes a fresh
# image with disk_create for each run, gives it to the guest as
# `-drive file=IMG,format=raw,index=0` (primary master) and, after the
# guest exits, fails the run unless disk_check IMG succeeds (it prints what
# is wrong).
#
# The runner's stdin is /dev/null, or, when guest-tests/<name>.input exists,
# that file through a pipe (what `printf ... | popek` gives: COM1 input).
#
# QEMU runs with -display none -serial stdio -monitor none, not -nographic:
# with -nographic there is no VGA, so SeaBIOS and the iPXE option ROM print
# their banners (with terminal escape sequences and "\r") on the serial port
# before the kernel starts, and the monitor is multiplexed onto stdio. This
# way stdout holds exactly what the guest wrote to COM1. -nic none drops the
# network card and its option ROM (faster, and nothing a test uses).
# Exit status 77 means "skipped" (no QEMU).
set -u

usage() {
    echo "usage: $0 qemu|popek <kernel.elf> <golden.expected>" >&2
    echo "       $0 --print qemu|popek <kernel.elf>" >&2
    exit 2
}

print_only=0
if [[ ${1:-} == --print ]]; then
    print_only=1
    shift
    [[ $# -eq 2 ]] || usage
else
    [[ $# -eq 3 ]] || usage
fi
runner=$1
kernel=$2
golden=${3:-}
name=$(basename "$kernel" .elf)
here=$(cd "$(dirname "$0")" && pwd)

qemu_args=()
popek_args=()
expected_status=1
if [[ -f $here/$name.run ]]; then
    # shellcheck disable=SC1090 # per-test settings, see above
    source "$here/$name.run"
fi
has_disk=0
if declare -F disk_create >/dev/null; then
    has_disk=1
fi

case $runner in
qemu)
    qemu=${QEMU:-qemu-system-i386}
    if ! command -v "$qemu" >/dev/null 2>&1; then
        echo "SKIP $name: $qemu not found"
        exit 77
    fi
    cmd=("$qemu" -display none -serial stdio -monitor none -nic none -no-reboot
        -device "isa-debug-exit,iobase=0xf4,iosize=0x04" -kernel "$kernel" "${qemu_args[@]}")
    ;;
popek)
    if [[ -z ${POPEK:-} ]]; then
        echo "FAIL $name: POPEK is not set to the popek binary" >&2
        exit 2
    fi
    # shellcheck disable=SC2206 # POPEK_ARGS is a list of options on purpose
    cmd=("$POPEK" -no-reboot -kernel "$kernel" "${popek_args[@]}" ${POPEK_ARGS:-})
    ;;
*)
    usage
    ;;
esac

if [[ ! -f $kernel ]]; then
    echo "FAIL $name ($runner): $kernel does not exist"
    exit 1
fi

disk=""
if ((has_disk)); then
    disk=$(mktemp --suffix=.img)
    if ! disk_create "$disk"; then
        echo "FAIL $name ($runner): disk_create failed" >&2
        rm -f "$disk"
        exit 2
    fi
    cmd+=(-drive "file=$disk,format=raw,index=0")
fi

# A hang timeout, not a speed check: GUEST_TEST_TIMEOUT seconds (default 60).
hang_timeout=${GUEST_TEST_TIMEOUT:-60}

# Runs the command with its stdin: /dev/null, or <name>.input through a pipe.
input=$here/$name.input
run() {
    if [[ -f $input ]]; then
        timeout "$hang_timeout" "${cmd[@]}" < <(cat "$input")
    else
        timeout "$hang_timeout" "${cmd[@]}" </dev/null
    fi
}

# Checks the disk image after a run: 0 when fine (or there is none).
check_disk() {
    ((has_disk)) || return 0
    disk_check "$disk"
}

if ((print_only)); then
    run
    status=$?
    if ! check_disk >&2; then
        echo "disk image check failed after the run" >&2
        status=3
    fi
    [[ -n $disk ]] && rm -f "$disk"
    exit $status
fi

if [[ ! -f $golden ]]; then
    echo "FAIL $name ($runner): golden file $golden does not exist (see bless.sh)"
    exit 1
fi

out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err" ${disk:+"$disk"}' EXIT

run >"$out" 2>"$err"
status=$?
disk_problem=$(check_disk 2>&1)
disk_status=$?

problems=()
case $status in
"$expected_status") ;;
124) problems+=("timed out after $hang_timeout s") ;;
0) problems+=("exit status 0 (the machine powered off; wanted $expected_status)") ;;
*)
    if ((expected_status == 0)); then
        problems+=("exit status $status (wanted 0: the machine powered off)")
    elif ((status & 1)); then
        problems+=("exit status $status (guest exit code $((status >> 1)), wanted 0)")
    else
        problems+=("exit status $status (not a debug-exit status; wanted 1)")
    fi
    ;;
esac
if ((disk_status != 0)); then
    problems+=("disk image check failed: ${disk_problem:-disk_check returned $disk_status}")
fi
same=1
if ! cmp -s "$golden" "$out"; then
    same=0
    problems+=("output differs from $(basename "$golden")")
fi

if ((${#problems[@]} == 0)); then
    echo "PASS $name ($runner)"
    exit 0
fi

if ((same == 0)); then
    diff -u --label "expected: $golden" --label "actual: $runner" "$golden" "$out"
fi
if [[ -s $err ]]; then
    echo "--- stderr of $runner:"
    cat "$err"
fi
printf -v joined '%s; ' "${problems[@]}"
echo "FAIL $name ($runner): ${joined%; }"
exit 1
