#!/usr/bin/env bash
# guest-tests/run-snapshot-test.sh — saving a running machine and resuming
# it: run 1 saves at the marker (--save-state S --save-when MARKER) and
# exits 0 with "popek: state saved to S"; run 2 resumes (-incoming file:S).
# Run 1's output followed by run 2's must equal one uninterrupted run's,
# byte for byte, and run 2 must end with the uninterrupted run's status;
# so must a chain of three runs (a resumed machine saved again).
# Then every way a user can get it wrong gets one message and status 2: a
# different -m, a missing COM1, an extra disk, a truncated file, a flipped
# byte, a file that is not a state file, an unwritable --save-state path;
# and a --save-when text the guest never prints saves nothing, says so and
# does not exit 0.
#
#   run-snapshot-test.sh <popek> <kernel.elf> <marker>
#
# Prints one line per check and a closing "PASS" or "FAIL (n failures)".
set -u
popek=$1 kernel=$2 marker=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
mem=64

check() { # check <ok?> <description> [details file]
    if [ "$1" = yes ]; then
        echo "ok   $2"
    else
        echo "FAIL $2"
        [ -n "${3:-}" ] && [ -f "$3" ] && sed 's/^/     | /' "$3" | tail -n 20
        failures=$((failures + 1))
    fi
}

"$popek" -kernel "$kernel" -m $mem >"$dir/full.out" 2>"$dir/full.err" </dev/null
full_status=$?
grep -q "^$marker" "$dir/full.out" && ok=yes || ok=no
check $ok "the uninterrupted run prints the marker (status $full_status)" "$dir/full.out"

"$popek" -kernel "$kernel" -m $mem --save-state "$dir/m.state" --save-when "$marker" \
    >"$dir/part1.out" 2>"$dir/part1.err" </dev/null
status=$?
[ $status -eq 0 ] && grep -qx "popek: state saved to $dir/m.state" "$dir/part1.err" &&
    [ -s "$dir/m.state" ] && [ ! -e "$dir/m.state.tmp" ] && ok=yes || ok=no
check $ok "run 1 saves at the marker and exits 0 (status $status)" "$dir/part1.err"

"$popek" -incoming "file:$dir/m.state" -m $mem >"$dir/part2.out" 2>"$dir/part2.err" </dev/null
status=$?
check "$([ $status -eq $full_status ] && echo yes || echo no)" \
    "run 2 resumes and ends with the uninterrupted run's status ($status)" "$dir/part2.err"
cat "$dir/part1.out" "$dir/part2.out" >"$dir/joined.out"
if cmp -s "$dir/joined.out" "$dir/full.out"; then
    check yes "run 1 + run 2 print exactly what one run prints ($(wc -c <"$dir/full.out") bytes)"
else
    diff "$dir/full.out" "$dir/joined.out" >"$dir/diff"
    check no "run 1 + run 2 print exactly what one run prints" "$dir/diff"
fi

# A state file resumes as often as one likes: the file is not consumed.
"$popek" -incoming "file:$dir/m.state" -m $mem >"$dir/again.out" 2>&1 </dev/null
check "$(cmp -s "$dir/again.out" "$dir/part2.out" && echo yes || echo no)" \
    "a second resume from the same file prints the same" "$dir/again.out"

# A resumed machine saved again at a later point, and resumed from there:
# three runs print what one prints.
"$popek" -incoming "file:$dir/m.state" -m $mem --save-state "$dir/m2.state" \
    --save-when "phase 6:" >"$dir/chain2.out" 2>"$dir/chain2.err" </dev/null
status=$?
"$popek" -incoming "file:$dir/m2.state" -m $mem >"$dir/chain3.out" 2>&1 </dev/null
cat "$dir/part1.out" "$dir/chain2.out" "$dir/chain3.out" >"$dir/chain.out"
[ $status -eq 0 ] && cmp -s "$dir/chain.out" "$dir/full.out" && ok=yes || ok=no
check $ok "saved again after a resume: three runs print what one prints" "$dir/chain2.err"
# ...and the state saved from the resumed machine still names the kernel a
# reset would boot, though the resumed run had no -kernel of its own: the
# path is in both files as often (the loader's copies in guest RAM, and the
# machine section's record).
n1=$(grep -aoF "$kernel" "$dir/m.state" | wc -l)
n2=$(grep -aoF "$kernel" "$dir/m2.state" | wc -l)
check "$([ "$n1" -gt 0 ] && [ "$n2" -eq "$n1" ] && echo yes || echo no)" \
    "a state saved after a resume records the kernel ($n2 of $n1 copies of its path)"

refused() { # refused <description> <message regex> <popek args...>
    local what=$1 want=$2
    shift 2
    "$popek" "$@" >"$dir/bad.out" 2>&1 </dev/null
    local st=$?
    if [ $st -eq 2 ] && [ "$(grep -c '^popek: ' "$dir/bad.out")" -eq 1 ] &&
        grep -Eq "$want" "$dir/bad.out"; then
        check yes "$what: status 2, $(grep '^popek: ' "$dir/bad.out" | cut -c1-90)"
    else
        check no "$what: status $st" "$dir/bad.out"
    fi
}

refused "another -m" "saved with -m ${mem}M; this one has -m 32M" \
    -incoming "file:$dir/m.state" -m 32
refused "no COM1" "COM1" -incoming "file:$dir/m.state" -m $mem -serial none
head -c 1 /dev/zero >"$dir/disk.img"
truncate -s 1M "$dir/disk.img"
refused "an extra disk" "section 'ata'.*disk" -incoming "file:$dir/m.state" -m $mem \
    -drive "file=$dir/disk.img,format=raw,index=0"
size=$(wc -c <"$dir/m.state")
head -c $((size / 2)) "$dir/m.state" >"$dir/cut.state"
refused "a truncated file" "cut.state' is truncated" -incoming "file:$dir/cut.state" -m $mem
cp "$dir/m.state" "$dir/flip.state"
printf '\xa5' | dd of="$dir/flip.state" bs=1 seek=$((size - 100)) conv=notrunc 2>/dev/null
refused "a flipped byte" "flip.state' is corrupt" -incoming "file:$dir/flip.state" -m $mem
refused "not a state file" "not a popek state file" -incoming "file:$kernel" -m $mem
refused "a missing file" "cannot open state file" -incoming "file:$dir/none.state" -m $mem
refused "an unwritable --save-state" "cannot write state file" -kernel "$kernel" -m $mem \
    --save-state "$dir/no/such/dir/m.state" --save-when "$marker"

# Text the guest never prints: no file, a message, a status that is not 0.
"$popek" -kernel "$kernel" -m $mem --save-state "$dir/never.state" --save-when "never printed" \
    >/dev/null 2>"$dir/never.err" </dev/null
status=$?
[ $status -ne 0 ] && [ ! -e "$dir/never.state" ] && grep -q "nothing saved" "$dir/never.err" &&
    ok=yes || ok=no
check $ok "text never printed: nothing saved, status $status" "$dir/never.err"

if [ $failures -eq 0 ]; then
    echo PASS
    exit 0
fi
echo "FAIL ($failures failures)"
exit 1
