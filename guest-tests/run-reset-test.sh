#!/usr/bin/env bash
# guest-tests/run-reset-test.sh — a triple fault resets the machine, or
# stops it with -no-reboot (QEMU's behaviour); so does a write to the
# PIIX3's reset control register at 0xCF9 (-append cf9), except that with
# -no-reboot that is an exit with status 0 (QEMU's behaviour too).
#   run-reset-test.sh <popek> <triple_fault.elf>
set -u
popek=$1 kernel=$2
out=$(mktemp) stats=$(mktemp)
trap 'rm -f "$out" "$stats"' EXIT
failures=0

"$popek" -no-reboot -kernel "$kernel" >"$out" 2>&1 </dev/null
status=$?
if [ $status -eq 1 ] && [ "$(grep -c '^triple_fault: booted' "$out")" -eq 1 ] &&
    grep -q 'guest triple fault' "$out" && grep -q '^EIP=' "$out"; then
    echo "ok   -no-reboot: one boot, stopped with a register dump (status 1)"
else
    echo "FAIL -no-reboot: status $status"; cat "$out"; failures=$((failures + 1))
fi

"$popek" --time-limit 2 --stats "$stats" -kernel "$kernel" >"$out" 2>&1 </dev/null
boots=$(grep -c '^triple_fault: booted' "$out")
resets=$(grep -o '"machine_resets": [0-9]*' "$stats" | grep -o '[0-9]*$')
if [ "$boots" -ge 3 ] && [ "${resets:-0}" -ge $((boots - 1)) ] && [ "${resets:-0}" -le "$boots" ] && ! grep -q 'still running' "$out"; then
    echo "ok   without -no-reboot: $boots boots, $resets resets in 2 s"
else
    echo "FAIL without -no-reboot: $boots boots, resets=${resets:-none}"; tail -n 5 "$out"
    failures=$((failures + 1))
fi
"$popek" -no-reboot -kernel "$kernel" -append cf9 >"$out" 2>&1 </dev/null
status=$?
if [ $status -eq 0 ] && [ "$(grep -c '^triple_fault: booted' "$out")" -eq 1 ] &&
    ! grep -q 'still running' "$out"; then
    echo "ok   0xcf9 with -no-reboot: one boot, exit status 0"
else
    echo "FAIL 0xcf9 with -no-reboot: status $status"; cat "$out"; failures=$((failures + 1))
fi

"$popek" --time-limit 2 --stats "$stats" -kernel "$kernel" -append cf9 >"$out" 2>&1 </dev/null
boots=$(grep -c '^triple_fault: booted' "$out")
resets=$(grep -o '"machine_resets": [0-9]*' "$stats" | grep -o '[0-9]*$')
if [ "$boots" -ge 3 ] && [ "${resets:-0}" -ge $((boots - 1)) ] && [ "${resets:-0}" -le "$boots" ] && ! grep -q 'still running' "$out"; then
    echo "ok   0xcf9 without -no-reboot: $boots boots, $resets resets in 2 s"
else
    echo "FAIL 0xcf9 without -no-reboot: $boots boots, resets=${resets:-none}"; tail -n 5 "$out"
    failures=$((failures + 1))
fi
echo "$((4 - failures)) passed, $failures failed"
[ $failures -eq 0 ]
