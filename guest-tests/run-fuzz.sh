#!/usr/bin/env bash
# guest-tests/run-fuzz.sh — runs fuzz_insns.elf under popek with many seeds.
#
#   run-fuzz.sh <popek> <fuzz_insns.elf> <runs> <rounds-per-run> [words]
#
# [words] are added to the kernel's command line ("paging": the rounds run
# with paging on and random page-table entries, see fuzz_insns.c).
#
# Each run executes <rounds> rounds of random code (fuzz_insns.c). A run
# passes when popek ends it cleanly: the guest's own exit (status 1, "PASS"),
# or a stop popek explains (status 1: triple fault, halt with interrupts
# off, time limit, unsupported instruction) — or the guest's random code
# wrote the exit port itself (any odd status). It fails when popek dies (no
# statistics written: a signal, or killed by the timeout), reports an
# internal error (status 70, the canary check), or a sanitizer complains.
set -u
popek=$1 kernel=$2 runs=$3 rounds=$4 extra=${5:-}
failures=0 clean_stops=0 completed=0 total_rounds=0 total_bounces=0
log=$(mktemp) stats=$(mktemp)
trap 'rm -f "$log" "$stats"' EXIT
total_insns=0

for seed in $(seq 1 "$runs"); do
    : >"$stats"
    timeout 120 "$popek" -m 16 -no-reboot --time-limit 20 --stats "$stats" -kernel "$kernel" \
        -append "seed=$seed rounds=$rounds $extra" >"$log" 2>&1 </dev/null
    status=$?
    done_rounds=$(grep -c '^fuzz: round' "$log")
    insns=$(grep -o '"guest_insns_translated": [0-9]*' "$stats" | grep -o '[0-9]*$')
    total_insns=$((total_insns + ${insns:-0}))
    total_rounds=$((total_rounds + done_rounds * 50))
    # popek writes --stats on every orderly end (guest exit, clean stop), and
    # only then: a missing file means it died. Exit statuses alone cannot
    # tell, since the guest's own exit port yields odd statuses up to 255.
    if ! grep -q '^}' "$stats" || grep -q "internal error" "$log" ||
        grep -q "Sanitizer\|runtime error" "$log"; then
        echo "FAIL seed $seed: popek exit status $status"
        tail -n 20 "$log"
        failures=$((failures + 1))
    elif grep -q "^PASS" "$log"; then
        completed=$((completed + 1))
    else
        clean_stops=$((clean_stops + 1))
        reason=$(grep '^popek:' "$log" | head -n 1)
        echo "seed $seed: clean stop: ${reason:-the random code wrote the exit port (status $status)}"
    fi
done
echo "fuzz: $runs runs ($completed completed all $rounds rounds, $clean_stops stopped cleanly" \
    "earlier): $total_rounds rounds, $((total_rounds * 4)) KiB of random code," \
    "$total_insns guest instructions translated"
echo "$((runs - failures)) passed, $failures failed"
[ $failures -eq 0 ]
