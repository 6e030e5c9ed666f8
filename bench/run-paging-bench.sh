#!/usr/bin/env bash
# bench/run-paging-bench.sh — times the memory-virtualization workloads side
# by side under popek and QEMU TCG, prints a table of times, ratios and
# popek's shadow-paging counters, and writes the figures as JSON to
# bench/results/paging-<date>.json.
#
#   run-paging-bench.sh [--build-dir DIR] [--runs N] [--warmup N]
#                       [--workloads "empty pf_heavy ..."] [--json FILE]
#                       [--timeout SECONDS]
#
#   --build-dir  where bench_<w>.elf are (default: <repo>/build/bench)
#   --runs       timed runs of each command (default 5)
#   --warmup     untimed runs of each command first (default 1; at least one
#                run of each command is always made to check its output)
#   --workloads  which workloads, in order (default: empty pf_heavy
#                ctx_switch pt_write; "empty" is the CPU benchmarks' empty
#                kernel, the fixed cost of a run, skipped when not built)
#   --json       where to write the JSON (default:
#                bench/results/paging-<UTC date and time>.json)
#   --timeout    bound on one run, seconds (default 600)
#
# Environment: QEMU (default qemu-system-i386), POPEK (default
# <repo>/build/cli/popek), POPEK_ARGS (extra popek options, word-split).
#
# Method. As run-cpu-bench.sh, without a native proxy (paging has none):
# whole processes are timed from outside, start-up and exit included; the
# two commands of a workload run in turn, popek qemu, popek qemu, ..., the
# qemu/popek ratio is taken within each round and its median over the
# rounds reported; times are median and minimum over the runs. QEMU is the
# reference: its first run must exit with status 1 (guest exit code 0) and
# print "<name> <8 hex digits>[ ...]", and every later run of either
# command must print exactly that line. After the timed rounds, one more
# popek run with --stats FILE gives the counters of the table (host SIGSEGVs
# and the shadow MMU's fills, prefaulted pages, unsyncs, resyncs, CR3 loads
# and address-space cache hits); that run is not timed, because collecting
# statistics costs time. A popek that is missing, fails, or prints another
# line is reported as "n/a" with the reason, not as a failure.
#
# Exit status: 0 every QEMU figure taken (popek n/a allowed); 1 a QEMU run
# gave a wrong output or exit status; 2 usage or missing builds.
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/bench-lib.sh
source "$here/bench-lib.sh"
reference_name="QEMU"

build_dir=$repo/build/bench
runs=5
warmup=1
workloads="empty pf_heavy ctx_switch pt_write"
workloads_given=0
json=
run_timeout=600

# The counters of the table, as "<group>.<name>" in popek's --stats JSON,
# and their column headings.
stat_keys="host_signals.sigsegv shadow.fills shadow.prefaulted_pages shadow.unsyncs shadow.resyncs shadow.cr3_loads shadow.space_cache_hits"
stat_heads="sigsegv fills prefaulted unsyncs resyncs cr3_loads space_hits"

while (($#)); do
    case $1 in
    --build-dir) build_dir=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --warmup) warmup=${2:?}; shift 2 ;;
    --workloads) workloads=${2:?}; workloads_given=1; shift 2 ;;
    --json) json=${2:?}; shift 2 ;;
    --timeout) run_timeout=${2:?}; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "run-paging-bench.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ && $warmup =~ ^[0-9]+$ && $run_timeout =~ ^[1-9][0-9]*$ ]] || usage

qemu=${QEMU:-qemu-system-i386}
popek=${POPEK:-$repo/build/cli/popek}
# shellcheck disable=SC2206 # POPEK_ARGS is a list of options on purpose
popek_args=(${POPEK_ARGS:-})

# The fixed-cost row is a courtesy: without the CPU benchmarks' kernel it
# is left out, unless asked for by name.
if ((!workloads_given)) && [[ ! -f $build_dir/bench_empty.elf ]]; then
    workloads=${workloads/empty /}
fi
for w in $workloads; do
    if [[ ! -f $build_dir/bench_$w.elf ]]; then
        echo "run-paging-bench.sh: $build_dir/bench_$w.elf is missing (build the bench-paging-kernels target, or give --build-dir)" >&2
        exit 2
    fi
done
if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "run-paging-bench.sh: $qemu not found (QEMU is the reference)" >&2
    exit 2
fi

stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
if [[ -z $json ]]; then
    mkdir -p "$here/results"
    json=$here/results/paging-$stamp.json
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=$tmp/data   # "<workload> <runner> <round> <seconds>" per timed run
state=$tmp/state # "<workload> <runner> ok|na|bad <reason>"
stats=$tmp/stats # "<workload> <group>.<name> <value>" from the --stats run
: >"$data"
: >"$state"
: >"$stats"
failed=0

command_for() {
    guest_command_for "$1" "$2"
}

# ---- reference outputs and first runs (untimed) ---------------------------

declare -A active # "<w> <runner>" -> 1 when it is timed
for w in $workloads; do
    command_for qemu "$w"
    timed_run
    if ((status != 1)) || [[ $(wc -l <"$tmp/out") -ne 1 ]] ||
        ! grep -qx "$w [0-9a-f]\{8\}\( .*\)\{0,1\}" "$tmp/out"; then
        echo "run-paging-bench.sh: qemu $w: exit status $status, output: $(head -c 200 "$tmp/out")" >&2
        echo "$w qemu bad reference run: exit status $status, output '$(head -c 120 "$tmp/out" | tr '\n' ' ')'" >>"$state"
        failed=1
        continue
    fi
    cp "$tmp/out" "$tmp/ref.$w"
    echo "$w qemu ok" >>"$state"
    active["$w qemu"]=1

    command_for popek "$w"
    if ! command -v "${cmd[0]}" >/dev/null 2>&1; then
        echo "$w popek na ${cmd[0]} not found" >>"$state"
        continue
    fi
    timed_run
    why=$(check_run "$w")
    if [[ -n $why ]]; then
        echo "$w popek na $why" >>"$state"
        echo "run-paging-bench.sh: popek $w: $why" >&2
        continue
    fi
    echo "$w popek ok" >>"$state"
    active["$w popek"]=1
done

# ---- warm-up and timed rounds ---------------------------------------------

for w in $workloads; do
    printf 'timing %-10s' "$w" >&2
    for ((r = 1 - warmup; r <= runs; r++)); do
        for runner in popek qemu; do
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
                echo "run-paging-bench.sh: $runner $w: $why" >&2
                unset "active[$w $runner]"
                if [[ $runner == popek ]]; then
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

# ---- one popek run with --stats per workload --------------------------------

# popek writes its --stats JSON one counter a line, "    \"<name>\": <n>",
# under "  \"<group>\": {" (monitor/stats.c); every counter of the groups
# host_signals and shadow is kept.
for w in $workloads; do
    [[ $w == empty ]] && continue
    command_for popek "$w"
    command -v "${cmd[0]}" >/dev/null 2>&1 || continue
    [[ -f $tmp/ref.$w ]] || continue
    rm -f "$tmp/stats.json"
    cmd+=(--stats "$tmp/stats.json")
    printf 'popek --stats %s\n' "$w" >&2
    timed_run
    why=$(check_run "$w")
    if [[ ! -s $tmp/stats.json ]]; then
        echo "$w stats na no statistics written${why:+ ($why)}" >>"$state"
        continue
    fi
    if [[ -n $why ]]; then
        echo "$w stats bad $why" >>"$state"
    else
        echo "$w stats ok" >>"$state"
    fi
    awk -v w="$w" '
        /^  "[^"]*": \{/ { split($0, q, "\""); group = q[2]; next }
        /^    "[^"]*": [0-9.]+,?$/ {
            split($0, q, "\""); v = $NF; sub(/,$/, "", v)
            if (group == "host_signals" || group == "shadow") print w, group "." q[2], v
        }' "$tmp/stats.json" >>"$stats"
done

# ---- table and JSON ---------------------------------------------------------

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
qemu_version=$("$qemu" --version 2>/dev/null | head -n 1)
popek_version=$("$popek" --version 2>/dev/null | head -n 1)
# The commit is read from .git directly rather than with git: the script
# must not need git (or a repository) to run.
commit_of() {
    local g=$repo/.git head ref
    if [[ -f $g ]]; then # a worktree: "gitdir: <path>"
        g=$(sed -n 's/^gitdir: //p' "$g")
        [[ $g == /* ]] || g=$repo/$g
    fi
    [[ -f $g/HEAD ]] || return 0
    head=$(<"$g/HEAD")
    if [[ $head == "ref: "* ]]; then
        ref=${head#ref: }
        [[ -f $g/commondir ]] && g=$g/$(<"$g/commondir")
        if [[ -f $g/$ref ]]; then
            head=$(<"$g/$ref")
        else
            head=$(awk -v r="$ref" '$2 == r { print $1 }' "$g/packed-refs" 2>/dev/null)
        fi
    fi
    [[ $head =~ ^[0-9a-f]{7} ]] && echo "${head:0:7}"
}
commit=$(commit_of)

awk -v workloads="$workloads" -v runs="$runs" -v warmup="$warmup" -v json="$json" \
    -v stamp="$stamp" -v cores="$(nproc)" -v cpu="$cpu_model" -v commit="${commit:-unknown}" \
    -v qemu_version="${qemu_version:-n/a}" -v popek_version="${popek_version:-n/a}" \
    -v popek_path="$popek" -v qemu_path="$qemu" -v tmp="$tmp" \
    -v stat_keys="$stat_keys" -v stat_heads="$stat_heads" '
function jstr(s) {
    gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, " ", s)
    return "\"" s "\""
}
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
FILENAME ~ /stats$/ {
    sv[$1, $2] = $3
    if (!(($1, $2) in seen)) { seen[$1, $2] = 1; skeys[$1] = skeys[$1] " " $2 }
    next
}
END {
    nw = split(workloads, W, " ")
    split("popek qemu", R, " ")
    nk = split(stat_keys, K, " ")
    split(stat_heads, KH, " ")
    for (wi = 1; wi <= nw; wi++) {
        w = W[wi]
        line = ""; getline line < (tmp "/ref." w); close(tmp "/ref." w)
        output[w] = line
        split(line, parts, " ")
        checksum[w] = parts[2]
        for (ri = 1; ri <= 2; ri++) {
            r = R[ri]; n = 0
            for (k = 1; k <= runs; k++) if (have[w, r, k]) v[++n] = t[w, r, k]
            if (n == runs) {
                med[w, r] = median(v, n); mn[w, r] = v[1]; mx[w, r] = v[n]
                list = ""
                for (k = 1; k <= runs; k++) list = list (k > 1 ? ", " : "") sprintf("%.6f", t[w, r, k])
                times[w, r] = list
            } else {
                med[w, r] = ""
                if (!((w " " r) in why) || why[w " " r] == "")
                    why[w " " r] = "only " n " of " runs " timed runs finished"
            }
        }
        n = 0
        if (med[w, "popek"] != "" && med[w, "qemu"] != "") {
            for (k = 1; k <= runs; k++) v[++n] = t[w, "qemu", k] / t[w, "popek", k]
            ratio[w] = median(v, n)
        } else ratio[w] = ""
    }
    s = 0; n = 0; total = 0
    for (wi = 1; wi <= nw; wi++) {
        w = W[wi]
        if (w == "empty") continue
        total++
        if (ratio[w] != "") { s += log(ratio[w]); n++ }
    }
    gm = (n > 0 && n == total) ? exp(s / n) : ""

    printf "\nMemory-virtualization benchmarks, %s UTC, %s, %d cores; commit %s\n", stamp, cpu, cores, commit
    printf "times: whole process, seconds, median [min] of %d runs (after %d warm-up); ratio: median of per-round ratios\n", runs, warmup
    printf "counters: one extra popek run with --stats\n\n"
    hdr = sprintf("%-10s %16s %16s %10s", "workload", "popek s", "qemu s", "qemu/popek")
    for (k = 1; k <= nk; k++) hdr = hdr sprintf(" %11s", KH[k])
    print hdr
    for (wi = 1; wi <= nw; wi++) if (W[wi] != "empty") row(W[wi])
    printf "%-10s %16s %16s %10s\n", "geomean", "", "", fmt_r(gm)
    for (wi = 1; wi <= nw; wi++) if (W[wi] == "empty") {
        printf "fixed cost of a run (start-up and exit; included in every row above):\n"
        row("empty")
    }
    printf "\noutputs (QEMU, the reference):\n"
    for (wi = 1; wi <= nw; wi++) printf "  %s\n", output[W[wi]] == "" ? W[wi] ": none" : output[W[wi]]
    notes = ""
    for (wi = 1; wi <= nw; wi++) {
        for (ri = 1; ri <= 2; ri++) {
            key = W[wi] " " R[ri]
            if (med[W[wi], R[ri]] == "") notes = notes sprintf("  %s n/a: %s\n", key, why[key])
        }
        key = W[wi] " stats"
        if (key in st && st[key] != "ok")
            notes = notes sprintf("  %s counters %s: %s\n", W[wi], st[key] == "bad" ? "from a run that failed" : "n/a", why[key])
    }
    if (notes != "") printf "\n%s", notes

    printf "{\n" > json
    printf "  \"kind\": \"paging\",\n  \"date\": %s,\n  \"commit\": %s,\n", jstr(stamp), jstr(commit) > json
    printf "  \"host\": {\"cpu\": %s, \"cores\": %d},\n", jstr(cpu), cores > json
    printf "  \"qemu\": {\"path\": %s, \"version\": %s},\n", jstr(qemu_path), jstr(qemu_version) > json
    printf "  \"popek\": {\"path\": %s, \"version\": %s},\n", jstr(popek_path), jstr(popek_version) > json
    printf "  \"method\": \"whole-process wall seconds; runners interleaved popek, qemu per round; ratio is the median of per-round qemu/popek ratios; geomean over all workloads but empty; counters from one extra popek run with --stats\",\n" > json
    printf "  \"runs\": %d,\n  \"warmup\": %d,\n  \"workloads\": [\n", runs, warmup > json
    for (wi = 1; wi <= nw; wi++) {
        w = W[wi]
        printf "    {\"name\": %s, \"checksum\": %s, \"output\": %s,\n", jstr(w), jstr(checksum[w]), jstr(output[w]) > json
        for (ri = 1; ri <= 2; ri++) {
            r = R[ri]
            if (med[w, r] != "")
                printf "     %s: {\"median\": %.6f, \"min\": %.6f, \"max\": %.6f, \"times\": [%s]},\n", jstr(r), med[w, r], mn[w, r], mx[w, r], times[w, r] > json
            else
                printf "     %s: {\"na\": %s},\n", jstr(r), jstr(why[w " " r]) > json
        }
        printf "     \"ratios\": {\"qemu/popek\": %s},\n", jnum(ratio[w], "%.4f") > json
        key = w " stats"
        if (skeys[w] != "") {
            printf "     \"popek_stats\": {\"run\": %s", jstr(st[key] == "ok" ? "ok" : "failed: " why[key]) > json
            ns = split(skeys[w], SK, " ")
            for (i = 1; i <= ns; i++) printf ", %s: %s", jstr(SK[i]), sv[w, SK[i]] > json
            printf "}}%s\n", wi < nw ? "," : "" > json
        } else {
            printf "     \"popek_stats\": null}%s\n", wi < nw ? "," : "" > json
        }
    }
    printf "  ],\n  \"geomean\": {\"qemu/popek\": %s}\n}\n", jnum(gm, "%.4f") > json
    close(json)
    printf "\nJSON: %s\n", json
}
function row(w,    line, k, x) {
    line = sprintf("%-10s %16s %16s %10s", w, cell(w, "popek"), cell(w, "qemu"), fmt_r(ratio[w]))
    for (k = 1; k <= nk; k++) {
        x = (w SUBSEP K[k]) in sv ? sv[w, K[k]] : (w == "empty" ? "" : "n/a")
        line = line sprintf(" %11s", x)
    }
    sub(/ *$/, "", line)
    print line
}
function cell(w, r) {
    return med[w, r] == "" ? "n/a" : sprintf("%.3f [%.3f]", med[w, r], mn[w, r])
}
' "$state" "$data" "$stats"

grep -q '^[^ ]* qemu bad ' "$state" && failed=1
exit $failed
