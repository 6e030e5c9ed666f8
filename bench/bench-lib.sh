# shellcheck shell=bash disable=SC2154,SC2034 # variables shared with the runner (below)
# bench/bench-lib.sh — what the benchmark runners share (sourced, not run):
# their usage text, the popek and QEMU command lines for a guest kernel, one
# timed run, and why a run is not a good one.
#
# The runner sets: build_dir, popek, popek_args (array), qemu, run_timeout,
# tmp (a scratch directory) and reference_name (whose output is the
# reference, for messages); reference outputs are in $tmp/ref.<workload>.

# Prints the runner's header comment (its usage) and exits.
usage() {
    sed -n '2,/^# Environment/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

# Sets the array `cmd` and `want_status` for guest runner $1 (popek or
# qemu) and workload $2; returns 1 for another runner.
guest_command_for() {
    local runner=$1 w=$2
    case $runner in
    popek)
        cmd=("$popek" -no-reboot -kernel "$build_dir/bench_$w.elf" "${popek_args[@]}")
        want_status=1
        ;;
    qemu)
        cmd=("$qemu" -display none -serial stdio -monitor none -nic none -no-reboot
            -device "isa-debug-exit,iobase=0xf4,iosize=0x04" -kernel "$build_dir/bench_$w.elf")
        want_status=1
        ;;
    *)
        return 1
        ;;
    esac
}

# Runs "${cmd[@]}" once; sets `status` and `usec` (wall time, microseconds);
# the output is in $tmp/out, the error stream in $tmp/err. EPOCHREALTIME is
# read with no fork between it and the command.
timed_run() {
    local t0 t1
    t0=$EPOCHREALTIME
    timeout "$run_timeout" "${cmd[@]}" </dev/null >"$tmp/out" 2>"$tmp/err"
    status=$?
    t1=$EPOCHREALTIME
    usec=$((${t1/./} - ${t0/./}))
}

# Why the last run is not a good run of workload $1 (empty when it is).
check_run() {
    local w=$1
    if ((status == 124)); then
        echo "timed out after $run_timeout s"
    elif ((status != want_status)); then
        local why="exit status $status, wanted $want_status"
        if [[ -s $tmp/out ]]; then
            why+=", output '$(head -c 200 "$tmp/out" | tr '\n' ' ' | sed 's/ *$//')'"
        fi
        if [[ -s $tmp/err ]]; then
            why+=" ($(head -c 200 "$tmp/err" | tr '\n' ' ' | sed 's/ *$//'))"
        fi
        echo "$why"
    elif ! cmp -s "$tmp/out" "$tmp/ref.$w"; then
        echo "output '$(head -c 120 "$tmp/out" | tr '\n' ' ' | sed 's/ *$//')' differs from $reference_name's '$(tr -d '\n' <"$tmp/ref.$w")'"
    fi
}
