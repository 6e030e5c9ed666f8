#!/usr/bin/env bash
# guest-tests/bless.sh — regenerates golden files (<name>.expected) from
# QEMU, the oracle.
#
#   guest-tests/bless.sh <build-dir> [name...]
#
# <build-dir> is the top-level build directory or its guest-tests/ subdir;
# without names every built kernel is blessed. A kernel is blessed only if it
# exits with code 0 (or, when its <name>.run sets expected_status=0, powers
# the machine off: QEMU status 0) and its last line is exactly "PASS": a
# golden file must record a run whose self-checks passed. Every change is
# printed as a diff (a new file is printed whole) — read it before keeping
# it: the golden file is what popek will be held to.
set -u

here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -lt 1 ]]; then
    echo "usage: $0 <build-dir> [name...]" >&2
    exit 2
fi
build=$1
shift
if [[ -d $build/guest-tests ]]; then
    build=$build/guest-tests
fi

names=("$@")
if ((${#names[@]} == 0)); then
    for elf in "$build"/*.elf; do
        [[ -e $elf ]] && names+=("$(basename "$elf" .elf)")
    done
fi
if ((${#names[@]} == 0)); then
    echo "no kernels in $build: build the guest-kernels target first" >&2
    exit 1
fi

rc=0
for name in "${names[@]}"; do
    elf=$build/$name.elf
    golden=$here/$name.expected
    out=$(mktemp)
    "$here/run-guest-test.sh" --print qemu "$elf" >"$out"
    status=$?
    last=$(tail -n 1 "$out")
    expected=1
    if [[ -f $here/$name.run ]]; then
        # shellcheck disable=SC2016 # expanded by the inner shell
        expected=$(bash -c 'expected_status=1; source "$1" >/dev/null; echo "$expected_status"' \
            _ "$here/$name.run")
    fi
    if [[ $status -ne $expected || $last != PASS ]]; then
        echo "NOT BLESSED $name: exit status $status, last line \"$last\""
        tail -n 20 "$out" | sed 's/^/    /'
        rc=1
    elif [[ -f $golden ]] && cmp -s "$golden" "$out"; then
        echo "unchanged   $name"
    elif [[ -f $golden ]]; then
        diff -u --label "old $name.expected" --label "new $name.expected" "$golden" "$out"
        cat "$out" >"$golden"
        echo "UPDATED     $name — read the diff above"
    else
        sed 's/^/    /' "$out"
        cat "$out" >"$golden"
        echo "NEW         $name ($(wc -l <"$golden") lines, printed above) — read it"
    fi
    rm -f "$out"
done
exit $rc
