#!/usr/bin/env bash
# bench/run-linux-bench.sh — boots the Linux guest (Debian's i386 kernel and
# the busybox initramfs of scripts/fetch-linux-guest.sh) under popek and
# under QEMU TCG, times its boot and two jobs side by side, prints a table
# of times and ratios and writes the figures as JSON to
# bench/results/linux-<date>.json.
#
#   run-linux-bench.sh [--guest-dir DIR] [--runs N] [--warmup N]
#                      [--json FILE] [--timeout SECONDS]
#
#   --guest-dir  where the guest is built (default: <repo>/build/linux; the
#                fetch script is run first, quick when it is up to date)
#   --runs       timed boots under each runner (default 3)
#   --warmup     untimed boots of each first (default 0)
#   --json       where to write the JSON (default:
#                bench/results/linux-<UTC date and time>.json)
#   --timeout    bound on one boot, seconds (default 900)
#
# Environment: QEMU (default qemu-system-i386), POPEK (default
# <repo>/build/cli/popek), POPEK_ARGS (extra popek options, word-split).
#
# What is timed, in each boot (linux/bench.sh is the guest's side):
#   boot      process start to the console line /init prints when it starts
#             /run.sh: firmware or loader, kernel start-up, unpacking the
#             initramfs, loading the disk and ext4 modules
#   sha256    sha256sum of 64 MiB made in the guest (in the page cache)
#   fork-exec 500 times a fork, an exec of /bin/true (busybox), exit, wait
#   total     process start to process exit (powering off included)
# Each time is taken on the host, from when the line arrives on the VMM's
# standard output: no guest clock is trusted. The two runners boot in turn,
# popek qemu, popek qemu, ...; each ratio (qemu/popek: above 1 popek is
# faster) is the median of the per-round ratios, times are median [min].
# Every boot's results are checked: the checksum equals the host's over the
# same bytes, all 500 processes ran, and the guest powered off (status 1
# after /init's debug-exit write, or 0 after an ACPI power off). A popek that
# is missing or cannot boot Linux yet is reported as n/a with the reason,
# not as a failure. After the timed boots popek boots once more with
# --stats and -d stats (untimed: counting costs time), and its summary is
# printed; then once more with no fork+exec at all, and the difference of
# the two boots' counters divided by the 500 is printed as popek's work per
# fork+exec (host signals and mapping calls, exits, callouts): exact
# counts, where the times of these shared machines drift.
#
# Exit status: 0 every QEMU figure taken (popek n/a allowed); 1 a QEMU boot
# failed or gave a wrong result; 2 usage, or the guest could not be built.
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/bench-lib.sh
source "$here/bench-lib.sh"

# The work: CHUNKS copies of the first CHUNK_BYTES bytes of `seq CHUNK_LINES`
# (64 MiB), FORKS processes.
chunk_lines=200000
chunk_bytes=$((1024 * 1024))
chunks=64
forks=500

guest_dir=$repo/build/linux
runs=3
warmup=0
json=
run_timeout=900
while (($#)); do
    case $1 in
    --guest-dir) guest_dir=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --warmup) warmup=${2:?}; shift 2 ;;
    --json) json=${2:?}; shift 2 ;;
    --timeout) run_timeout=${2:?}; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "run-linux-bench.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ && $warmup =~ ^[0-9]+$ && $run_timeout =~ ^[1-9][0-9]*$ ]] || usage

qemu=${QEMU:-qemu-system-i386}
popek=${POPEK:-$repo/build/cli/popek}
# shellcheck disable=SC2206 # POPEK_ARGS is a list of options on purpose
popek_args=(${POPEK_ARGS:-})

if ! "$repo/scripts/fetch-linux-guest.sh" "$guest_dir" >/dev/null; then
    echo "run-linux-bench.sh: could not build the Linux guest in $guest_dir" >&2
    exit 2
fi

stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
if [[ -z $json ]]; then
    mkdir -p "$here/results"
    json=$here/results/linux-$stamp.json
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=$tmp/data   # "<runner> <round> <boot> <sha256> <fork-exec> <total>" per timed boot
state=$tmp/state # "<runner> ok|na|bad <reason>"
: >"$data"
: >"$state"
failed=0

# ---- the guest's script, and the host's checksum ----------------------------

for ((i = 0; i < chunks; i++)); do
    seq "$chunk_lines" | head -c "$chunk_bytes"
done | sha256sum | cut -d' ' -f1 >"$tmp/want_sha256"
want_sha256=$(cat "$tmp/want_sha256")
mkdir "$tmp/extra"
cp "$here/linux/bench.sh" "$tmp/extra/run.sh"
cat >"$tmp/extra/bench.env" <<EOF
CHUNK_LINES=$chunk_lines
CHUNK_BYTES=$chunk_bytes
CHUNKS=$chunks
FORKS=$forks
EOF
(cd "$tmp/extra" && printf '%s\n' run.sh bench.env | cpio -o -H newc -R 0:0 --quiet) |
    gzip -n >"$tmp/extra.cpio.gz"
cat "$guest_dir/initramfs.cpio.gz" "$tmp/extra.cpio.gz" >"$tmp/initrd"
# The same boot without the processes, for popek's counters per fork+exec.
sed 's/^FORKS=.*/FORKS=0/' "$tmp/extra/bench.env" >"$tmp/extra/bench.env.0"
mv "$tmp/extra/bench.env.0" "$tmp/extra/bench.env"
(cd "$tmp/extra" && printf '%s\n' run.sh bench.env | cpio -o -H newc -R 0:0 --quiet) |
    gzip -n >"$tmp/extra0.cpio.gz"
cat "$guest_dir/initramfs.cpio.gz" "$tmp/extra0.cpio.gz" >"$tmp/initrd0"
initrd=$tmp/initrd

# ---- one boot -----------------------------------------------------------------

# Each line of standard input, prefixed with the time it arrived.
stamp_lines() {
    local line
    while IFS= read -r line || [[ -n $line ]]; do
        printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
    done
}

# Boots under runner $1 with extra VMM options $2...; sets `status`, `t0`,
# `t1` (process start and end); the stamped console output is in $tmp/out,
# the error stream in $tmp/err.
boot() {
    local runner=$1
    shift
    local args=()
    [[ $runner == qemu ]] && args=(--qemu)
    t0=$EPOCHREALTIME
    QEMU=$qemu POPEK=$popek timeout "$run_timeout" "$repo/scripts/run-linux-guest.sh" "${args[@]}" \
        --kernel "$guest_dir/vmlinuz" --initrd "$initrd" -- "$@" \
        </dev/null 2>"$tmp/err" | stamp_lines >"$tmp/out"
    status=${PIPESTATUS[0]}
    t1=$EPOCHREALTIME
}

# The arrival time of the first console line starting with $1 (empty if none).
line_time() {
    awk -v m="$1" 'index(substr($0, length($1) + 2), m) == 1 { print $1; exit }' "$tmp/out"
}
# The rest of that line after $1.
line_rest() {
    awk -v m="$1" '{ l = substr($0, length($1) + 2) } index(l, m) == 1 { print substr(l, length(m) + 1); exit }' "$tmp/out"
}

# Checks the last boot; sets `why` (empty when it is good) and `figures`
# ("<boot> <sha256> <fork-exec> <total>" seconds).
check_boot() {
    local t_run t_sb t_se t_fb t_fe
    why=
    figures=
    if ((status == 124)); then
        why="timed out after $run_timeout s"
    elif ! { ((status == 1)) && grep -q ' POPEK-INIT: no ACPI: powering off through the debug-exit port$' "$tmp/out"; } &&
        ! { ((status == 0)) && grep -q 'reboot: Power down$' "$tmp/out"; }; then
        why="exit status $status without powering off"
    elif [[ $(line_rest "POPEK-BENCH: sha256 end ") != "$want_sha256" ]]; then
        why="sha256 '$(line_rest "POPEK-BENCH: sha256 end ")', the host's is $want_sha256"
    elif [[ $(line_rest "POPEK-BENCH: fork-exec end ") != "${expect_forks:-$forks}" ]]; then
        why="fork-exec ran '$(line_rest "POPEK-BENCH: fork-exec end ")' of ${expect_forks:-$forks}"
    elif [[ -z $(line_time "POPEK-INIT: /run.sh exited with status 0") ]]; then
        why="/run.sh did not exit with status 0"
    fi
    if [[ -n $why ]]; then
        local last
        last=$(grep -v '^$' "$tmp/out" | tail -n 1 | cut -d' ' -f2- | head -c 160)
        [[ -n $last ]] && why+=", last console line '$last'"
        [[ -s $tmp/err ]] && why+=" ($(head -c 200 "$tmp/err" | tr '\n' ' ' | sed 's/ *$//'))"
        return
    fi
    t_run=$(line_time "POPEK-INIT: run /run.sh")
    t_sb=$(line_time "POPEK-BENCH: sha256 begin")
    t_se=$(line_time "POPEK-BENCH: sha256 end ")
    t_fb=$(line_time "POPEK-BENCH: fork-exec begin")
    t_fe=$(line_time "POPEK-BENCH: fork-exec end ")
    figures=$(awk -v t0="$t0" -v t1="$t1" -v r="$t_run" -v sb="$t_sb" -v se="$t_se" \
        -v fb="$t_fb" -v fe="$t_fe" 'BEGIN { printf "%.6f %.6f %.6f %.6f", r - t0, se - sb, fe - fb, t1 - t0 }')
}

# ---- timed boots ----------------------------------------------------------------

declare -A active=([popek]=1 [qemu]=1)
if [[ ! -x $popek ]]; then
    echo "popek na $popek not found" >>"$state"
    unset 'active[popek]'
fi
if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "qemu bad $qemu not found" >>"$state"
    echo "run-linux-bench.sh: $qemu not found" >&2
    unset 'active[qemu]'
    failed=1
fi

for ((r = 1 - warmup; r <= runs; r++)); do
    for runner in popek qemu; do
        [[ -n ${active[$runner]:-} ]] || continue
        printf 'boot %d of %d (%s): %s\n' $((r + warmup)) $((runs + warmup)) \
            "$( ((r >= 1)) && echo timed || echo warm-up)" "$runner" >&2
        if [[ $runner == popek ]]; then
            boot popek "${popek_args[@]}"
        else
            boot qemu
        fi
        check_boot
        if [[ -n $why ]]; then
            echo "run-linux-bench.sh: $runner: $why" >&2
            unset "active[$runner]"
            if [[ $runner == popek ]]; then
                echo "$runner na $why" >>"$state"
            else
                echo "$runner bad $why" >>"$state"
                failed=1
            fi
            continue
        fi
        if ((r >= 1)); then
            echo "$runner $r $figures" >>"$data"
        fi
    done
done
for runner in popek qemu; do
    [[ -n ${active[$runner]:-} ]] && echo "$runner ok" >>"$state"
done

# ---- popek's counters -------------------------------------------------------------

stats_note=
if [[ -n ${active[popek]:-} ]]; then
    echo "boot with --stats: popek" >&2
    boot popek "${popek_args[@]}" --stats "$tmp/stats.json" -d stats -D "$tmp/stats.txt"
    check_boot
    [[ -n $why ]] && stats_note="from a boot that failed: $why"
    if [[ -z $why ]]; then
        echo "boot with --stats and no fork+exec: popek" >&2
        initrd=$tmp/initrd0 expect_forks=0
        boot popek "${popek_args[@]}" -d stats -D "$tmp/stats0.txt"
        check_boot
        initrd=$tmp/initrd expect_forks=
        if [[ -n $why ]]; then
            echo "run-linux-bench.sh: popek without fork+exec: $why" >&2
            rm -f "$tmp/stats0.txt"
        fi
    fi
else
    stats_note="popek did not boot the guest"
fi

# ---- table and JSON -----------------------------------------------------------------

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
qemu_version=$("$qemu" --version 2>/dev/null | head -n 1)
popek_version=$("$popek" --version 2>/dev/null | head -n 1)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null)
guest=$(sed -n 's/^kernel: *//p' "$guest_dir/guest.txt" 2>/dev/null)
[[ -s $tmp/stats.json ]] || : >"$tmp/stats.json"

awk -v runs="$runs" -v warmup="$warmup" -v json="$json" -v stamp="$stamp" -v cores="$(nproc)" \
    -v cpu="$cpu_model" -v commit="${commit:-unknown}" -v guest="${guest:-unknown}" \
    -v qemu_version="${qemu_version:-n/a}" -v popek_version="${popek_version:-n/a}" \
    -v popek_path="$popek" -v qemu_path="$qemu" -v sha="$want_sha256" -v forks="$forks" \
    -v mib=$((chunks * chunk_bytes / 1048576)) -v stats_note="$stats_note" '
function jstr(s) {
    gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, " ", s)
    return "\"" s "\""
}
function median(v, n,    i, j, x) {
    for (i = 2; i <= n; i++) {
        x = v[i]
        for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]
        v[j + 1] = x
    }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function cell(m, r) { return med[m, r] == "" ? "n/a" : sprintf("%.3f [%.3f]", med[m, r], mn[m, r]) }
function fmt_r(x) { return x == "" ? "n/a" : sprintf("%.2fx", x) }
function jnum(x) { return x == "" ? "null" : sprintf("%.6f", x) }
FILENAME ~ /state$/ {
    st[$1] = $2
    reason = ""
    for (i = 3; i <= NF; i++) reason = reason (i > 3 ? " " : "") $i
    why[$1] = reason
    next
}
FILENAME ~ /data$/ {
    for (k = 1; k <= 4; k++) t[$1, $2, k] = $(k + 2)
    have[$1, $2] = 1
    next
}
FILENAME ~ /stats\.json$/ { stats_json = stats_json $0 "\n"; next }
END {
    split("boot sha256 fork-exec total", M, " ")
    label["boot"] = "boot to /run.sh"
    label["sha256"] = "sha256 " mib " MiB"
    label["fork-exec"] = "fork-exec x" forks
    label["total"] = "whole boot"
    split("popek qemu", R, " ")
    for (mi = 1; mi <= 4; mi++) for (ri = 1; ri <= 2; ri++) {
        r = R[ri]; n = 0; list = ""
        for (k = 1; k <= runs; k++) if (have[r, k]) {
            v[++n] = t[r, k, mi]
            list = list (n > 1 ? ", " : "") t[r, k, mi]
        }
        times[mi, r] = list
        if (n == runs) {
            med[mi, r] = median(v, n); mn[mi, r] = v[1]
        } else {
            med[mi, r] = ""; mn[mi, r] = ""
            if (st[r] == "ok" || why[r] == "") why[r] = "only " n " of " runs " timed boots finished"
        }
    }
    for (mi = 1; mi <= 4; mi++) {
        n = 0
        if (med[mi, "popek"] != "" && med[mi, "qemu"] != "") {
            for (k = 1; k <= runs; k++) v[++n] = t["qemu", k, mi] / t["popek", k, mi]
            ratio[mi] = median(v, n)
        } else ratio[mi] = ""
    }

    printf "\nLinux guest benchmarks, %s UTC, %s, %d cores; commit %s\n", stamp, cpu, cores, commit
    printf "guest: %s\n", guest
    printf "seconds from host-side timestamps of console lines, median [min] of %d boots (after %d warm-up); ratio: median of per-boot ratios\n\n", runs, warmup
    printf "%-18s %18s %18s %11s\n", "measure", "popek s", "qemu s", "qemu/popek"
    for (mi = 1; mi <= 4; mi++)
        printf "%-18s %18s %18s %11s\n", label[M[mi]], cell(mi, "popek"), cell(mi, "qemu"), fmt_r(ratio[mi])
    notes = ""
    for (ri = 1; ri <= 2; ri++) if (med[1, R[ri]] == "") notes = notes sprintf("  %s n/a: %s\n", R[ri], why[R[ri]])
    if (notes != "") printf "\n%s", notes

    printf "{\n" > json
    printf "  \"kind\": \"linux\",\n  \"date\": %s,\n  \"commit\": %s,\n  \"guest\": %s,\n", jstr(stamp), jstr(commit), jstr(guest) > json
    printf "  \"host\": {\"cpu\": %s, \"cores\": %d},\n", jstr(cpu), cores > json
    printf "  \"qemu\": {\"path\": %s, \"version\": %s},\n", jstr(qemu_path), jstr(qemu_version) > json
    printf "  \"popek\": {\"path\": %s, \"version\": %s},\n", jstr(popek_path), jstr(popek_version) > json
    printf "  \"method\": \"host-side arrival times of console lines; boot = process start to POPEK-INIT run line, total = process start to exit; runners interleaved popek, qemu per round; ratio is the median of per-round qemu/popek ratios\",\n" > json
    printf "  \"runs\": %d,\n  \"warmup\": %d,\n  \"sha256\": %s,\n  \"forks\": %d,\n  \"measures\": [\n", runs, warmup, jstr(sha), forks > json
    for (mi = 1; mi <= 4; mi++) {
        printf "    {\"name\": %s,\n", jstr(M[mi]) > json
        for (ri = 1; ri <= 2; ri++) {
            r = R[ri]
            if (med[mi, r] != "")
                printf "     %s: {\"median\": %.6f, \"min\": %.6f, \"times\": [%s]},\n", jstr(r), med[mi, r], mn[mi, r], times[mi, r] > json
            else
                printf "     %s: {\"na\": %s},\n", jstr(r), jstr(why[r]) > json
        }
        printf "     \"qemu/popek\": %s}%s\n", jnum(ratio[mi]), mi < 4 ? "," : "" > json
    }
    printf "  ],\n" > json
    printf "  \"popek_stats_note\": %s,\n", jstr(stats_note) > json
    printf "  \"popek_stats\": %s\n}\n", stats_json == "" ? "null" : stats_json > json
    close(json)
}
' "$state" "$data" "$tmp/stats.json"

if [[ -s $tmp/stats.txt ]]; then
    echo
    echo "popek --stats (one more boot, untimed${stats_note:+; $stats_note}):"
    cat "$tmp/stats.txt"
elif [[ -n $stats_note ]]; then
    echo
    echo "popek --stats: n/a ($stats_note)"
fi
if [[ -s $tmp/stats.txt && -s $tmp/stats0.txt ]]; then
    echo
    echo "popek's work per fork+exec (the two --stats boots' difference / $forks; counters moving by 1 or more):"
    awk -v forks="$forks" '
    /^  [a-z0-9_]+:$/ { section = substr($1, 1, length($1) - 1); next }
    /^    [a-z0-9_]+ +[0-9.]+$/ && $1 !~ /rate$/ {
        key = section "." $1
        if (FILENAME == ARGV[1]) base[key] = $2
        else if (!(key in seen)) { seen[key] = 1; order[++n] = key; val[key] = $2 }
    }
    END {
        for (i = 1; i <= n; i++) {
            k = order[i]; d = (val[k] - base[k]) / forks
            if (d >= 1 || d <= -1) printf "    %-40s %10.1f\n", k, d
        }
    }' "$tmp/stats0.txt" "$tmp/stats.txt"
fi
echo "JSON: $json"

grep -q ' bad ' "$state" && failed=1
exit $failed
