#!/usr/bin/env bash
# scripts/run-linux-guest.sh — boots the Linux guest (scripts/fetch-linux-guest.sh)
# under popek or, for comparison, under QEMU TCG, with the console on
# standard input and output.
#
#   run-linux-guest.sh [--qemu] [--kernel FILE] [--initrd FILE] [--disk IMG]
#                      [--append "CMDLINE"] [-m MiB] [--print] [-- EXTRA...]
#
#   --qemu     boot under qemu-system-i386 instead of popek
#   --kernel   default <repo>/build/linux/vmlinuz
#   --initrd   default <repo>/build/linux/initramfs.cpio.gz
#   --disk     a raw disk image for the primary master of the IDE controller
#   --append   default "console=ttyS0 panic=-1"
#   -m         guest RAM in MiB (default 256)
#   --print    print the command line instead of running it
#   EXTRA      more options for popek or QEMU (e.g. --stats FILE, -d stats)
#
# Environment: POPEK (default <repo>/build/cli/popek), QEMU (default
# qemu-system-i386).
#
# The one place the test (guest-tests/linux/), the benchmark
# (bench/run-linux-bench.sh) and `make run-linux` take these command lines
# from. Both runners get -no-reboot: a reboot, or a panic (panic=-1 reboots
# at once), ends the process.
#
# popek: the disk is given as -hda IMG, QEMU's spelling.
#
# QEMU: the PC popek models, as near as QEMU's options go: a pc machine
# (i440FX, PIIX3) with ACPI, local APIC and I/O APIC as popek has them
# (QEMU adds its PIIX4 power-management function at 01.3 and an HPET, which
# popek does not model), -nodefaults (no VGA function, no CD-ROM drive);
# the CPU model closest to popek's CPUID (emul/cpuid.c: family 6 model 15
# stepping 1 with FPU DE PSE TSC MSR CX8 APIC SEP PGE CMOV PAT CLFLUSH MMX
# FXSR SSE SSE2, and no PAE, MTRR, MCE, MCA, PSE36 or VME, basic leaves up
# to 2, extended up to the brand string: QEMU's pentium3 with those changes
# and its own brand); no display and no network; the serial port on stdio
# with signal=off, so Ctrl-C reaches the guest. The guest powers off
# through ACPI (status 0); isa-debug-exit at 0xf4 stays for an initramfs
# booted with acpi=off, which then ends with status (0 << 1) | 1 = 1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

usage() {
    sed -n '2,/^# Environment/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

runner=popek
kernel=$repo/build/linux/vmlinuz
initrd=$repo/build/linux/initramfs.cpio.gz
disk=
append="console=ttyS0 panic=-1"
memory=256
print=0
extra=()
while (($#)); do
    case $1 in
    --qemu) runner=qemu; shift ;;
    --kernel) kernel=${2:?}; shift 2 ;;
    --initrd) initrd=${2:?}; shift 2 ;;
    --disk) disk=${2:?}; shift 2 ;;
    --append) append=${2:?}; shift 2 ;;
    -m) memory=${2:?}; shift 2 ;;
    --print) print=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) usage ;;
    *) echo "run-linux-guest.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

for f in "$kernel" "$initrd" ${disk:+"$disk"}; do
    if [[ ! -f $f ]]; then
        echo "run-linux-guest.sh: $f does not exist (scripts/fetch-linux-guest.sh makes the guest)" >&2
        exit 2
    fi
done

case $runner in
popek)
    popek=${POPEK:-$repo/build/cli/popek}
    cmd=("$popek" -kernel "$kernel" -initrd "$initrd" -append "$append" -m "$memory"
        -nographic -no-reboot)
    if [[ -n $disk ]]; then
        cmd+=(-hda "$disk")
    fi
    ;;
qemu)
    qemu=${QEMU:-qemu-system-i386}
    cpu=pentium3,family=6,model=15,stepping=1,level=2,xlevel=0x80000004
    cpu+=",model-id=QEMU TCG CPU like popek's,+sse2,+clflush"
    cpu+=,-pae,-mtrr,-mce,-mca,-pse36,-vme
    # shellcheck disable=SC2054 # commas inside QEMU's option values
    cmd=("$qemu" -machine pc -cpu "$cpu" -m "$memory" -nodefaults -display none
        -chardev stdio,id=console,signal=off -serial chardev:console -monitor none -no-reboot
        -device isa-debug-exit,iobase=0xf4,iosize=0x04
        -kernel "$kernel" -initrd "$initrd" -append "$append")
    if [[ -n $disk ]]; then
        cmd+=(-drive "file=$disk,format=raw,if=ide,index=0,media=disk")
    fi
    ;;
esac
cmd+=("${extra[@]}")

if ((print)); then
    printf '%q ' "${cmd[@]}"
    echo
    exit 0
fi
exec "${cmd[@]}"
