#!/usr/bin/env bash
# The disk benchmark: the disk probe (Sources/Probes/Disk) against fio, same file, same
# parameters, same engine.
#
#   Benchmarks/disk/run.sh [--runtime SECONDS] [--rounds N] [--dir DIR] [--size BYTES] [--fio-hugepages]
#
# Builds probe-bench in release mode under .build-bench (or uses $PROBE_BENCH if set), lays out
# one file (default 1 GiB in /var/tmp) with fio, then runs N rounds (default 3; fio first in odd
# rounds, the probe first in even ones) of four workloads, each for SECONDS (default 10):
#   seqwrite  1 MiB blocks, queue depth 16      seqread   1 MiB blocks, queue depth 16
#   randread  4 KiB blocks, queue depth 32      randwrite 4 KiB blocks, queue depth 32
# all with O_DIRECT through io_uring with registered buffers and file (fio: direct=1
# ioengine=io_uring fixedbufs=1 registerfiles=1). The probe also writes its block headers and
# checksums and verifies every block it reads, as it always does. Prints the median of the
# rounds with the ratios probe/fio (goal: >= 0.95 for throughput and IOPS, p99 within 15 %;
# latency is fio's total latency, lat_ns, against the probe's submission-to-completion time).
# The probe's buffers are 2 MiB aligned with MADV_HUGEPAGE (transparent huge pages), fio's are
# malloc'd (its default): a 1 MiB buffer of 4 KiB pages is 256 segments, and a device that takes
# fewer per request (virtio-blk here: max_segments 254) gets each 1 MiB I/O of fio's as two
# requests. --fio-hugepages adds a third contender, fio with mem=mmaphuge, the like-for-like one
# for the 1 MiB phases: it raises vm.nr_hugepages by 32 (64 MiB) for the run and puts the old
# value back afterwards. p99: the probe's may be at most 1.15x fio's (lower is flagged, not failed).
# The file is removed afterwards, also on failure or Ctrl-C. Results: docs/PERFORMANCE.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
scratch="$repo/.build-bench"
runtime=10
rounds=3
dir=/var/tmp
size=1G
fio_huge=0

while [ $# -gt 0 ]; do
    case "$1" in
        --runtime) runtime=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --fio-hugepages) fio_huge=1; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$rounds" -ge 1 ] || { echo "run.sh: --rounds must be >= 1" >&2; exit 2; }
command -v fio >/dev/null || { echo "run.sh: fio is missing (apt-get install fio)" >&2; exit 1; }

file="$dir/nodeagent-disk-bench-$$.dat"
results="$scratch/disk-bench-results"
hugepages_before=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    rm -f -- "$file"
    if [ -n "$hugepages_before" ]; then
        echo "$hugepages_before" >/proc/sys/vm/nr_hugepages || echo "run.sh: could not restore vm.nr_hugepages=$hugepages_before" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- build -----------------------------------------------------------------------------------
mkdir -p "$scratch"
if [ -n "${PROBE_BENCH:-}" ]; then
    probe=$PROBE_BENCH
else
    echo "building probe-bench (swift build -c release)" >&2
    (cd "$repo" && swift build -c release --scratch-path "$scratch" --product probe-bench >&2)
    probe="$scratch/release/probe-bench"
fi
rm -rf "$results"
mkdir -p "$results"

# --- the file --------------------------------------------------------------------------------
echo "laying out $file ($size)" >&2
fio --name=layout --filename="$file" --size="$size" --rw=write --bs=1M --direct=1 --ioengine=io_uring \
    --iodepth=16 --output=/dev/null

if [ "$fio_huge" = 1 ]; then
    hugepages_before=$(cat /proc/sys/vm/nr_hugepages)
    echo $((hugepages_before + 32)) >/proc/sys/vm/nr_hugepages
    got=$(cat /proc/sys/vm/nr_hugepages)
    [ "$got" -ge $((hugepages_before + 16)) ] || { echo "run.sh: only $got huge pages available" >&2; exit 1; }
fi

# run_fio ROUND NAME [extra fio options]
run_fio() {
    local round=$1 name=$2
    shift 2
    fio --output-format=json --output="$results/$name-$round.json" --filename="$file" --size="$size" "$@" \
        --direct=1 --ioengine=io_uring --fixedbufs=1 --registerfiles=1 --lat_percentiles=1 \
        --time_based --runtime="$runtime" \
        --name=seqwrite --rw=write --bs=1M --iodepth=16 \
        --name=seqread --stonewall --rw=read --bs=1M --iodepth=16 \
        --name=randread --stonewall --rw=randread --bs=4k --iodepth=32 \
        --name=randwrite --stonewall --rw=randwrite --bs=4k --iodepth=32
}

run_probe() {
    # --force: the file exists (fio laid it out); the probe uses it and leaves it in place.
    "$probe" disk --target "$file" --force --size "$size" --phases seqwrite,seqread,randread,randwrite \
        --runtime "$runtime" --seq-bs 1M --seq-qd 16 --rand-bs 4k --rand-qd 32 --json >"$results/probe-$1.json"
}

contenders="fio probe"
[ "$fio_huge" = 0 ] || contenders="fio probe fio-huge"
for round in $(seq 1 "$rounds"); do
    # Alternate the order: the first contender of a round runs on a file the last one just wrote.
    if [ $((round % 2)) -eq 1 ]; then order=$contenders; else order=$(echo "$contenders" | tr ' ' '\n' | tac | tr '\n' ' '); fi
    for tool in $order; do
        echo "round $round/$rounds: $tool" >&2
        case "$tool" in
            fio) run_fio "$round" fio ;;
            fio-huge) run_fio "$round" fio-huge --mem=mmaphuge ;;
            probe) run_probe "$round" ;;
        esac
    done
done

python3 "$here/report.py" "$results" "$rounds" fio
[ "$fio_huge" = 0 ] || python3 "$here/report.py" "$results" "$rounds" fio-huge
echo "raw results: $results" >&2
