#!/usr/bin/env bash
# guest-tests/run-reset-test.sh — a guest that resets the machine: a triple
# fault, or a device pulling the reset line (the PIIX3's 0xCF9, the 8042,
# port 0x92). Without -no-reboot popek resets and boots the kernel again.
# With -no-reboot a triple fault stops popek with a register dump (status
# 1); a device's reset — a reboot the guest asked for — ends the run with
# status 0, as under QEMU, and a message naming the device. When QEMU is
# available the kernel is also run there with -no-reboot, where a reset
# ends the run with status 0: proof that the kernel really resets a PC.
#
#   run-reset-test.sh <popek> <kernel.elf> triple|device <boot line> <stop message> [append]
#
# <boot line> is what the kernel prints first (a regex anchored at the line
# start), <stop message> what popek's -no-reboot message must contain;
# [append] is the kernel command line. Environment: QEMU (default
# qemu-system-i386).
set -u
popek=$1 kernel=$2 kind=$3 boot=$4 stop=$5 append=${6:-}
out=$(mktemp) stats=$(mktemp)
trap 'rm -f "$out" "$stats"' EXIT
failures=0 checks=2

"$popek" -no-reboot -kernel "$kernel" -append "$append" >"$out" 2>&1 </dev/null
status=$?
if [ "$kind" = triple ]; then
    want_status=1 dump=yes
else
    want_status=0 dump=no
fi
if grep -q '^EIP=' "$out"; then dumped=yes; else dumped=no; fi
# popek's own lines (the dump, the message) on stderr come after the guest's
# console output before them, though the console is buffered: both go to
# one file here, as they do in a log of `popek ... 2>&1`.
first_own=$(grep -n -m1 -e '^EIP=' -e "$stop" "$out" | cut -d: -f1)
boot_line=$(grep -n -m1 "^$boot" "$out" | cut -d: -f1)
if [ $status -eq $want_status ] && [ "$(grep -c "^$boot" "$out")" -eq 1 ] && grep -q "$stop" "$out" &&
    [ $dumped = $dump ] && [ "${boot_line:-0}" -lt "${first_own:-0}" ] &&
    ! grep -q 'still running' "$out"; then
    echo "ok   -no-reboot: one boot, status $status: $(grep -o "guest.*" "$out")"
else
    echo "FAIL -no-reboot: status $status (wanted $want_status, register dump: $dump;" \
        "boot line at line ${boot_line:-none}, popek's first at ${first_own:-none})"
    cat "$out"
    failures=$((failures + 1))
fi

"$popek" --time-limit 2 --stats "$stats" -kernel "$kernel" -append "$append" >"$out" 2>&1 </dev/null
boots=$(grep -c "^$boot" "$out")
resets=$(grep -o '"machine_resets": [0-9]*' "$stats" | grep -o '[0-9]*$')
device_resets=$(grep -o '"device_resets": [0-9]*' "$stats" | grep -o '[0-9]*$')
if [ "$kind" = device ]; then want_device=${resets:-0}; else want_device=0; fi
if [ "$boots" -ge 3 ] && [ "${resets:-0}" -ge $((boots - 1)) ] && [ "${resets:-0}" -le "$boots" ] &&
    [ "${device_resets:-x}" = "$want_device" ] && ! grep -q 'still running' "$out"; then
    echo "ok   without -no-reboot: $boots boots, $resets resets ($device_resets by devices) in 2 s"
else
    echo "FAIL without -no-reboot: $boots boots, resets=${resets:-none}, device_resets=${device_resets:-none}"
    tail -n 5 "$out"
    failures=$((failures + 1))
fi

qemu=${QEMU:-qemu-system-i386}
if command -v "$qemu" >/dev/null 2>&1; then
    checks=3
    timeout 60 "$qemu" -display none -serial stdio -monitor none -nic none -no-reboot \
        -device "isa-debug-exit,iobase=0xf4,iosize=0x04" -kernel "$kernel" -append "$append" \
        >"$out" 2>&1 </dev/null
    status=$?
    if [ $status -eq 0 ] && [ "$(grep -c "^$boot" "$out")" -eq 1 ] && ! grep -q 'still running' "$out"; then
        echo "ok   QEMU -no-reboot: one boot, the reset ended the run (status 0)"
    else
        echo "FAIL QEMU -no-reboot: status $status"; cat "$out"; failures=$((failures + 1))
    fi
fi
echo "$((checks - failures)) passed, $failures failed"
[ $failures -eq 0 ]
