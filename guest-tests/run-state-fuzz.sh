#!/usr/bin/env bash
# guest-tests/run-state-fuzz.sh — hostile state files: a machine saved
# halfway (snapshot_resume at its marker), then ROUNDS copies of the file
# each with one section damaged behind a correct checksum
# (tests/snapshot_mutate.c), each resumed by popek for at most 2 s. popek
# may refuse the file (status 2, one message naming it) or run the guest
# into whatever the damage makes of it (it stops, exits or runs out of
# time), but it must never crash, hang, report an internal error (70) or,
# under sanitizers, report one.
#
#   run-state-fuzz.sh <popek> <snapshot_mutate> <snapshot_resume.elf> <rounds> [first seed]
set -u
popek=$1 mutate=$2 kernel=$3 rounds=$4 seed=${5:-1}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if ! "$popek" -kernel "$kernel" -m 64 --save-state "$dir/base.state" \
    --save-when "snapshot point" >/dev/null 2>"$dir/err" </dev/null; then
    cat "$dir/err"
    echo "FAIL: could not save the base state"
    exit 1
fi
failures=0 refused=0 ran=0
for ((i = seed; i < seed + rounds; i++)); do
    what=$("$mutate" "$dir/base.state" "$dir/f.state" "$i") || {
        echo "FAIL seed $i: snapshot_mutate failed"
        failures=$((failures + 1))
        continue
    }
    timeout 30 "$popek" -incoming "file:$dir/f.state" -m 64 --time-limit 2 \
        >/dev/null 2>"$dir/err" </dev/null
    status=$?
    if ((status == 2)) && [[ $(grep -c '^popek: ' "$dir/err") -eq 1 ]] &&
        grep -q "f.state" "$dir/err"; then
        refused=$((refused + 1))
    elif ((status < 64)) && [[ $status -ne 2 ]] &&
        ! grep -qE 'AddressSanitizer|runtime error|internal error' "$dir/err"; then
        ran=$((ran + 1))
    else
        echo "FAIL seed $i ($what): status $status"
        tail -n 20 "$dir/err"
        cp "$dir/f.state" "$dir/../popek-state-fuzz-seed-$i.state" 2>/dev/null
        failures=$((failures + 1))
    fi
done
echo "$rounds damaged files: $refused refused, $ran resumed, $failures failures"
if ((failures == 0)); then
    echo PASS
    exit 0
fi
echo "FAIL ($failures failures)"
exit 1
