#!/usr/bin/env bash
# guest-tests/linux/run-linux-snapshot-test.sh — the CI use of snapshots
# with the Linux guest (scripts/fetch-linux-guest.sh): boot once to the
# shell prompt and save (--save-when on /init's shell marker), then resume
# from the file and run a command script typed into the console; the
# script's output must equal what the same script prints in one
# uninterrupted boot, and both must power off the same way. The guest has
# an IDE disk in both runs (the resume must name the same image).
#
#   run-linux-snapshot-test.sh <popek> [GUEST_DIR]   (default <repo>/build/linux)
#
# Exit status: 0 pass, 1 fail, 77 skipped (no Linux guest fetched).
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
popek=$1
guest_dir=${2:-$repo/build/linux}
marker="POPEK-INIT: shell (exit it to power off)"
for f in vmlinuz initramfs.cpio.gz; do
    if [[ ! -f $guest_dir/$f ]]; then
        echo "SKIP linux snapshot: $guest_dir/$f is missing (scripts/fetch-linux-guest.sh)"
        exit 77
    fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
truncate -s 8M "$tmp/disk.img"
printf 'popek snapshot disk\n' | dd of="$tmp/disk.img" conv=notrunc 2>/dev/null

machine=(-m 256 -nographic -no-reboot -drive "file=$tmp/disk.img,format=raw,index=0")
boot=(-kernel "$guest_dir/vmlinuz" -initrd "$guest_dir/initramfs.cpio.gz"
    -append "console=ttyS0 panic=-1")
# The script: only deterministic output between the two marker lines.
script='echo SNAP-BEGIN; seq 1 20000 | sha256sum; head -c 20 /dev/sda; '\
'dd if=/dev/zero bs=1k count=2048 2>/dev/null | md5sum; sleep 1; echo $((6 * 7)); '\
'ls /; echo SNAP-END; exit'
timeout=${LINUX_TEST_TIMEOUT:-600}
problems=()

printf '%s\n' "$script" | timeout "$timeout" "$popek" "${boot[@]}" "${machine[@]}" \
    >"$tmp/full.raw" 2>"$tmp/full.err"
full_status=$?
timeout "$timeout" "$popek" "${boot[@]}" "${machine[@]}" --save-state "$tmp/linux.state" \
    --save-when "$marker" </dev/null >"$tmp/part1.raw" 2>"$tmp/part1.err"
status=$?
if [[ $status -ne 0 ]] || ! grep -qx "popek: state saved to $tmp/linux.state" "$tmp/part1.err"; then
    problems+=("the boot to the prompt was not saved (status $status: $(tail -n 1 "$tmp/part1.err"))")
fi
printf '%s\n' "$script" | timeout "$timeout" "$popek" -incoming "file:$tmp/linux.state" \
    "${machine[@]}" >"$tmp/part2.raw" 2>"$tmp/part2.err"
resumed_status=$?

# The script's lines: between the markers, without kernel messages.
script_lines() {
    tr -d '\r' <"$1" | sed -n '/^SNAP-BEGIN$/,/^SNAP-END$/p' | grep -v '^\['
}
script_lines "$tmp/full.raw" >"$tmp/full.lines"
script_lines "$tmp/part2.raw" >"$tmp/part2.lines"
echo "--- the script after the resume:"
cat "$tmp/part2.lines"
echo "---"
[[ $(wc -l <"$tmp/full.lines") -eq 7 ]] || problems+=("the uninterrupted run did not run the script (status $full_status)")
if ! cmp -s "$tmp/full.lines" "$tmp/part2.lines"; then
    diff "$tmp/full.lines" "$tmp/part2.lines"
    problems+=("the resumed guest's script output differs from the uninterrupted run's")
fi
[[ $resumed_status -eq $full_status ]] ||
    problems+=("the resumed guest ended with status $resumed_status, the uninterrupted one with $full_status")
if grep -q '^\[.*unstable' "$tmp/part2.raw"; then
    grep '^\[.*unstable' "$tmp/part2.raw"
    problems+=("the resumed kernel found its clocks disagreeing")
fi
if ((${#problems[@]} == 0)); then
    echo "PASS linux snapshot: saved at the prompt, resumed, the script printed the same (status $resumed_status)"
    exit 0
fi
printf -v joined '%s; ' "${problems[@]}"
echo "FAIL linux snapshot: ${joined%; }"
[[ -s $tmp/part2.err ]] && cat "$tmp/part2.err"
exit 1
