#!/usr/bin/env bash
# The cgroup read benchmark: the CGroups library against a C floor and cgroupspy.
#
#   Benchmarks/cgroups/run.sh [--groups N] [--repeat R] [--nested] [--fake-only]
#
# Builds what it needs (floor.c with gcc -O2, cgroup-bench in release mode under .build-bench,
# cgroupspy in a venv under .build-bench/venv), creates N groups (default 1000; --nested: ten
# parents with the groups spread over them) in a temporary cgroupfs-like tree and, where
# /sys/fs/cgroup/unified is a writable cgroup2 mount, on the real hierarchy as
# nodeagent-bench-<random>/g0000..., reads every stat file of every group with the three readers
# (R timed passes each, default 10, in 5 interleaved rounds), prints a table of the median time
# per group with the ratios, and removes everything it created, also on failure or Ctrl-C.
# Only the unified (v2) hierarchy is ever written; never v1, never anything named process_api.
# Results: docs/PERFORMANCE.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
scratch="$repo/.build-bench"
unified=/sys/fs/cgroup/unified
count=1000
repeat=10
rounds=5
nested=()
fake_only=0

while [ $# -gt 0 ]; do
    case "$1" in
        --groups) count=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --nested) nested=(--nested); shift ;;
        --fake-only) fake_only=1; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$count" -ge 1 ] && [ "$repeat" -ge 1 ] || { echo "run.sh: --groups and --repeat must be >= 1" >&2; exit 2; }
[ "$rounds" -le "$repeat" ] || rounds=$repeat
per_round=$(( (repeat + rounds - 1) / rounds ))

# Every stat (read-only, kernel-generated) interface file of a v2 group; each tree reads those it has.
stat_files=(cgroup.events cgroup.stat cgroup.stat.local cpu.stat cpu.stat.local cpu.pressure
    memory.current memory.peak memory.stat memory.events memory.events.local memory.swap.current
    memory.pressure io.stat io.pressure irq.pressure pids.current pids.peak pids.events
    hugetlb.2MB.current hugetlb.2MB.events)

fake_dir=""
real_base=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    if [ -n "$real_base" ] && [ -d "$real_base" ]; then
        case "$real_base" in
            "$unified"/nodeagent-bench-*) ;;
            *) echo "run.sh: refusing to remove $real_base" >&2; exit 1 ;;
        esac
        # Children before parents; a cgroup directory is removed with rmdir only.
        find "$real_base" -depth -type d -exec rmdir {} + || echo "run.sh: could not remove all of $real_base" >&2
        [ -d "$real_base" ] || echo "removed $real_base" >&2
    fi
    [ -z "$fake_dir" ] || rm -rf -- "$fake_dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- build -----------------------------------------------------------------------------------
mkdir -p "$scratch"
echo "building floor (gcc -O2)" >&2
gcc -O2 -Wall -Wextra -Werror -o "$scratch/cgroup-floor" "$here/floor.c"
if [ ! -x "$scratch/venv/bin/python" ] || ! "$scratch/venv/bin/python" -c 'import cgroupspy' 2>/dev/null; then
    echo "installing cgroupspy into $scratch/venv" >&2
    python3 -m venv "$scratch/venv"
    "$scratch/venv/bin/pip" install --quiet cgroupspy
fi
echo "building cgroup-bench (swift build -c release)" >&2
(cd "$repo" && swift build -c release --scratch-path "$scratch" --product cgroup-bench >&2)
library="$scratch/release/cgroup-bench"
floor="$scratch/cgroup-floor"
spy=("$scratch/venv/bin/python" "$here/cgroupspy_bench.py")

results="$scratch/cgroup-bench-results.txt"
: > "$results"

# Files of `stat_files` present in the group directory $1.
present_files() {
    local f
    for f in "${stat_files[@]}"; do [ -f "$1/$f" ] && echo "$f"; done
}

# run_tree LABEL ROOT GROUP FIRST_GROUP_DIR: the three readers in interleaved rounds.
run_tree() {
    local label=$1 root=$2 group=$3 first=$4
    local files
    mapfile -t files < <(present_files "$first")
    echo "$label: $root/$group, ${#files[@]} files per group: ${files[*]}" >&2
    local round
    for round in $(seq 1 "$rounds"); do
        echo "  round $round/$rounds" >&2
        "$floor" "$root" "$group" "$per_round" 1 "${files[@]}" | sed "s/^/$label /" >> "$results"
        "$library" --root "$root" --group "$group" --repeat "$per_round" --warmup 1 "${files[@]}" \
            | sed "s/^/$label /" >> "$results"
        "${spy[@]}" "$root" "$group" "$per_round" 1 "${files[@]}" | sed "s/^/$label /" >> "$results"
    done
}

bench_name="nodeagent-bench-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
first_group="g0000"
[ ${#nested[@]} -eq 0 ] || first_group="p00/g0000"

# --- (a) temporary cgroupfs-like tree ----------------------------------------------------------
fake_dir=$(mktemp -d -p "${BENCH_TMPDIR:-/dev/shm}" cgroup-bench.XXXXXX)
echo "fake tree: creating $count groups under $fake_dir/$bench_name" >&2
python3 "$here/make_tree.py" "$fake_dir" "$bench_name" "$count" "${nested[@]}"
run_tree fake "$fake_dir" "$bench_name" "$fake_dir/$bench_name/$first_group"
rm -rf -- "$fake_dir"
fake_dir=""

# --- (b) the real unified hierarchy -------------------------------------------------------------
if [ "$fake_only" -eq 1 ]; then
    echo "real hierarchy: skipped (--fake-only)" >&2
elif [ "$(stat -f -c %T "$unified" 2>/dev/null)" != "cgroup2fs" ]; then
    echo "real hierarchy: skipped ($unified is not a cgroup2 mount)" >&2
elif [ ! -w "$unified" ]; then
    echo "real hierarchy: skipped ($unified is not writable)" >&2
else
    real_base="$unified/$bench_name"
    echo "real hierarchy: creating $count groups under $real_base" >&2
    python3 "$here/make_tree.py" "$unified" "$bench_name" "$count" "${nested[@]}" --dirs-only
    run_tree real "$unified" "$bench_name" "$real_base/$first_group"
fi

# --- report ------------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "machine: $(nproc) cores ($cpu), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "fake tree on $(stat -f -c %T "${BENCH_TMPDIR:-/dev/shm}"); $((rounds * per_round)) timed passes per tool and mode in $rounds rounds of $per_round (+1 warm-up pass per process)"
python3 "$here/report.py" "$results"
echo "raw results: $results"
