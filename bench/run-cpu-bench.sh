#!/usr/bin/env bash
# bench/run-cpu-bench.sh — times the CPU workloads side by side under the
# native proxy, popek and QEMU TCG, prints a table of times and ratios and
# writes the figures as JSON to bench/results/cpu-<date>.json.
#
#   run-cpu-bench.sh [--build-dir DIR] [--runs N] [--warmup N]
#                    [--workloads "empty crc32 ..."] [--json FILE]
#                    [--timeout SECONDS]
#
#   --build-dir  where bench_<w>.elf and bench_<w>_native are
#                (default: <repo>/build/bench)
#   --runs       timed runs of each command (default 5)
#   --warmup     untimed runs of each command first (default 1; at least one
#                run of each command is always made to check its output)
#   --workloads  which workloads, in order (default: all, empty first)
#   --json       where to write the JSON (default:
#                bench/results/cpu-<UTC date and time>.json)
#   --timeout    bound on one run, seconds (default 300)
#
# Environment: QEMU (default qemu-system-i386), POPEK (default
# <repo>/build/cli/popek), POPEK_ARGS (extra popek options, word-split).
#
# Method. Whole processes are timed from outside, start-up and exit included
# (nothing is subtracted; the "empty" workload's row shows that fixed cost).
# The three commands of a workload run in turn, native popek qemu, native
# popek qemu, ..., and each ratio is taken within one such round and then
# the median over the rounds is reported: these machines are shared and
# their speed drifts, and pairing keeps a ratio meaningful when it does.
# Times are reported as median and minimum over the runs. Every run's output
# must equal the native proxy's line "<name> <checksum>" and its exit status
# must be the expected one (native 0; guest exit code 0, i.e. process status
# 1); a popek that is missing or cannot run a kernel yet is reported as "n/a"
# with the reason, not as a failure.
#
# Exit status: 0 every native and QEMU figure taken (popek n/a allowed, and a
# popek run that crashes or prints a wrong line only makes its cell n/a); 1 a
# native or QEMU run gave a wrong output or exit status; 2 usage or missing
# builds.
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/bench-lib.sh
source "$here/bench-lib.sh"
reference_name="the native proxy"

build_dir=$repo/build/bench
runs=5
warmup=1
workloads="empty crc32 qsort recursion indirect"
json=
run_timeout=300

while (($#)); do
    case $1 in
    --build-dir) build_dir=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --warmup) warmup=${2:?}; shift 2 ;;
    --workloads) workloads=${2:?}; shift 2 ;;
    --json) json=${2:?}; shift 2 ;;
    --timeout) run_timeout=${2:?}; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "run-cpu-bench.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ && $warmup =~ ^[0-9]+$ && $run_timeout =~ ^[1-9][0-9]*$ ]] || usage

qemu=${QEMU:-qemu-system-i386}
popek=${POPEK:-$repo/build/cli/popek}
# shellcheck disable=SC2206 # POPEK_ARGS is a list of options on purpose
popek_args=(${POPEK_ARGS:-})

for w in $workloads; do
    for f in "$build_dir/bench_$w.elf" "$build_dir/bench_${w}_native"; do
        if [[ ! -f $f ]]; then
            echo "run-cpu-bench.sh: $f is missing (build the bench-kernels and bench-native targets, or give --build-dir)" >&2
            exit 2
        fi
    done
done

stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
if [[ -z $json ]]; then
    mkdir -p "$here/results"
    json=$here/results/cpu-$stamp.json
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=$tmp/data  # "<workload> <runner> <round> <seconds>" per timed run
state=$tmp/state # "<workload> <runner> ok|na|bad <reason>"
: >"$data"
: >"$state"
failed=0

# Sets the array `cmd` and `want_status` for runner $1 and workload $2.
command_for() {
    if [[ $1 == native ]]; then
        cmd=("$build_dir/bench_${2}_native")
        want_status=0
    else
        guest_command_for "$1" "$2"
    fi
}

# ---- reference outputs and first runs (untimed) ---------------------------

declare -A active # "<w> <runner>" -> 1 when it is timed
for w in $workloads; do
    command_for native "$w"
    timed_run
    if ((status != 0)) || ! grep -qx "$w [0-9a-f]\{8\}" "$tmp/out"; then
        echo "run-cpu-bench.sh: native $w: exit status $status, output: $(head -c 200 "$tmp/out")" >&2
        exit 1
    fi
    if [[ $w != empty ]] && grep -qx "$w 00000000" "$tmp/out"; then
        echo "run-cpu-bench.sh: native $w: checksum 0, the workload's self-check failed" >&2
        exit 1
    fi
    cp "$tmp/out" "$tmp/ref.$w"
    echo "$w native ok" >>"$state"
    active["$w native"]=1

    for runner in popek qemu; do
        command_for "$runner" "$w"
        if ! command -v "${cmd[0]}" >/dev/null 2>&1; then
            echo "$w $runner na ${cmd[0]} not found" >>"$state"
            continue
        fi
        timed_run
        why=$(check_run "$w")
        if [[ -n $why ]]; then
            if [[ $runner == popek ]]; then
                echo "$w $runner na $why" >>"$state"
            else
                echo "$w $runner bad $why" >>"$state"
                echo "run-cpu-bench.sh: $runner $w: $why" >&2
                failed=1
            fi
            continue
        fi
        echo "$w $runner ok" >>"$state"
        active["$w $runner"]=1
    done
done

# ---- warm-up and timed rounds ---------------------------------------------

for w in $workloads; do
    printf 'timing %-10s' "$w" >&2
    for ((r = 1 - warmup; r <= runs; r++)); do
        for runner in native popek qemu; do
            [[ -n ${active["$w $runner"]:-} ]] || continue
            command_for "$runner" "$w"
            timed_run
            why=$(check_run "$w")
            if [[ -n $why ]]; then
                if ((r >= 1)); then
                    why="timed run $r: $why"
                else
                    why="warm-up run: $why"
                fi
                echo >&2
                echo "run-cpu-bench.sh: $runner $w: $why" >&2
                unset "active[$w $runner]"
                if [[ $runner == popek ]]; then
                    # popek is work in progress: a crash is a figure it cannot give yet
                    echo "$w $runner na $why" >>"$state"
                else
                    echo "$w $runner bad $why" >>"$state"
                    failed=1
                fi
                continue
            fi
            if ((r >= 1)); then
                printf '%s %s %d %d.%06d\n' "$w" "$runner" "$r" $((usec / 1000000)) $((usec % 1000000)) >>"$data"
            fi
        done
        printf '.' >&2
    done
    echo >&2
done

# ---- table and JSON ---------------------------------------------------------

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
qemu_version=$("$qemu" --version 2>/dev/null | head -n 1)
popek_version=$("$popek" --version 2>/dev/null | head -n 1)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null)

awk -v workloads="$workloads" -v runs="$runs" -v warmup="$warmup" -v json="$json" \
    -v stamp="$stamp" -v cores="$(nproc)" -v cpu="$cpu_model" -v commit="${commit:-unknown}" \
    -v qemu_version="${qemu_version:-n/a}" -v popek_version="${popek_version:-n/a}" \
    -v popek_path="$popek" -v qemu_path="$qemu" -v tmp="$tmp" '
function jstr(s) {
    gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, " ", s)
    return "\"" s "\""
}
# median and min of the n values in v[1..n] (sorts v)
function sortv(v, n,    i, j, x) {
    for (i = 2; i <= n; i++) {
        x = v[i]
        for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]
        v[j + 1] = x
    }
}
function median(v, n) {
    sortv(v, n)
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function fmt_t(x) { return x == "" ? "n/a" : sprintf("%.3f", x) }
function fmt_r(x) { return x == "" ? "n/a" : sprintf("%.2fx", x) }
function jnum(x, f) { return x == "" ? "null" : sprintf(f, x) }

FILENAME ~ /state$/ {
    key = $1 " " $2
    st[key] = $3
    reason = ""
    for (i = 4; i <= NF; i++) reason = reason (i > 4 ? " " : "") $i
    if ($3 != "ok") why[key] = reason
    next
}
FILENAME ~ /data$/ {
    t[$1, $2, $3] = $4
    have[$1, $2, $3] = 1
    next
}
END {
    nw = split(workloads, W, " ")
    split("native popek qemu", R, " ")
    split("popek/native qemu/native qemu/popek", RN, " ")
    for (wi = 1; wi <= nw; wi++) {
        w = W[wi]
        line = ""; getline line < (tmp "/ref." w); close(tmp "/ref." w)
        split(line, parts, " ")
        checksum[w] = parts[2]
        for (ri = 1; ri <= 3; ri++) {
            r = R[ri]; n = 0
            for (k = 1; k <= runs; k++) if (have[w, r, k]) v[++n] = t[w, r, k]
            cnt[w, r] = n
            if (n == runs) {
                med[w, r] = median(v, n); mn[w, r] = v[1]; mx[w, r] = v[n]
                list = ""
                for (k = 1; k <= runs; k++) list = list (k > 1 ? ", " : "") sprintf("%.6f", t[w, r, k])
                times[w, r] = list
            } else {
                med[w, r] = ""; mn[w, r] = ""; mx[w, r] = ""
                if (!((w " " r) in why) || why[w " " r] == "")
                    why[w " " r] = "only " n " of " runs " timed runs finished"
            }
        }
        for (q = 1; q <= 3; q++) {
            split(RN[q], ab, "/"); a = ab[1]; b = ab[2]; n = 0
            if (med[w, a] != "" && med[w, b] != "") {
                for (k = 1; k <= runs; k++) v[++n] = t[w, a, k] / t[w, b, k]
                ratio[w, q] = median(v, n)
            } else ratio[w, q] = ""
        }
    }
    # geometric means of the median ratios, over the real workloads (not empty)
    for (q = 1; q <= 3; q++) {
        s = 0; n = 0; total = 0
        for (wi = 1; wi <= nw; wi++) {
            w = W[wi]
            if (w == "empty") continue
            total++
            if (ratio[w, q] != "") { s += log(ratio[w, q]); n++ }
        }
        gm[q] = (n > 0 && n == total) ? exp(s / n) : ""
        gmn[q] = n
    }

    printf "\nCPU benchmarks, %s UTC, %s, %d cores; commit %s\n", stamp, cpu, cores, commit
    printf "times: whole process, seconds, median [min] of %d runs (after %d warm-up); ratios: median of per-round ratios\n\n", runs, warmup
    printf "%-10s %16s %16s %16s %13s %12s %11s\n", "workload", "native s", "popek s", "qemu s", "popek/native", "qemu/native", "qemu/popek"
    for (wi = 1; wi <= nw; wi++) {
        w = W[wi]
        if (w == "empty") continue
        row(w)
    }
    printf "%-10s %16s %16s %16s %13s %12s %11s\n", "geomean", "", "", "", fmt_r(gm[1]), fmt_r(gm[2]), fmt_r(gm[3])
    for (wi = 1; wi <= nw; wi++) if (W[wi] == "empty") {
        printf "fixed cost of a run (start-up and exit; included in every row above):\n"
        row("empty")
    }
    notes = ""
    for (wi = 1; wi <= nw; wi++) for (ri = 1; ri <= 3; ri++) {
        key = W[wi] " " R[ri]
        if (med[W[wi], R[ri]] == "") notes = notes sprintf("  %s n/a: %s\n", key, why[key])
    }
    if (notes != "") printf "\n%s", notes
    printf "\nproject targets: popek/native <= 1.30x, qemu/popek >= 3.00x\n"

    # JSON
    printf "{\n" > json
    printf "  \"kind\": \"cpu\",\n  \"date\": %s,\n  \"commit\": %s,\n", jstr(stamp), jstr(commit) > json
    printf "  \"host\": {\"cpu\": %s, \"cores\": %d},\n", jstr(cpu), cores > json
    printf "  \"qemu\": {\"path\": %s, \"version\": %s},\n", jstr(qemu_path), jstr(qemu_version) > json
    printf "  \"popek\": {\"path\": %s, \"version\": %s},\n", jstr(popek_path), jstr(popek_version) > json
    printf "  \"method\": \"whole-process wall seconds; runners interleaved native, popek, qemu per round; ratios are medians of per-round ratios; geomeans over all workloads but empty\",\n" > json
    printf "  \"runs\": %d,\n  \"warmup\": %d,\n  \"workloads\": [\n", runs, warmup > json
    for (wi = 1; wi <= nw; wi++) {
        w = W[wi]
        printf "    {\"name\": %s, \"checksum\": %s,\n", jstr(w), jstr(checksum[w]) > json
        for (ri = 1; ri <= 3; ri++) {
            r = R[ri]
            if (med[w, r] != "")
                printf "     %s: {\"median\": %.6f, \"min\": %.6f, \"max\": %.6f, \"times\": [%s]},\n", jstr(r), med[w, r], mn[w, r], mx[w, r], times[w, r] > json
            else
                printf "     %s: {\"na\": %s},\n", jstr(r), jstr(why[w " " r]) > json
        }
        printf "     \"ratios\": {\"popek/native\": %s, \"qemu/native\": %s, \"qemu/popek\": %s}}%s\n", jnum(ratio[w, 1], "%.4f"), jnum(ratio[w, 2], "%.4f"), jnum(ratio[w, 3], "%.4f"), wi < nw ? "," : "" > json
    }
    printf "  ],\n  \"geomean\": {\"popek/native\": %s, \"qemu/native\": %s, \"qemu/popek\": %s}\n}\n", jnum(gm[1], "%.4f"), jnum(gm[2], "%.4f"), jnum(gm[3], "%.4f") > json
    close(json)
    printf "JSON: %s\n", json
}
function row(w) {
    printf "%-10s %16s %16s %16s %13s %12s %11s\n", w, cell(w, "native"), cell(w, "popek"), cell(w, "qemu"), fmt_r(ratio[w, 1]), fmt_r(ratio[w, 2]), fmt_r(ratio[w, 3])
}
function cell(w, r) {
    return med[w, r] == "" ? "n/a" : sprintf("%.3f [%.3f]", med[w, r], mn[w, r])
}
' "$state" "$data"

grep -q ' bad ' "$state" && failed=1
exit $failed
