#!/bin/bash
# CPU and memory probes against sysbench memory, a STREAM-style C reference and stress-ng's
# matrixprod (docs/PERFORMANCE.md, "CPU and memory probes vs stress-ng, sysbench and STREAM").
#
#   Benchmarks/cpu-memory/run.sh [--rounds N] [--cpu-seconds S] [--quick]
#
# Builds what it needs: the probe's command line (the `probe-bench` product, release, in
# .build-bench), and stream_triad.c with gcc -O2 -fopenmp.
# Needs sysbench and stress-ng (apt). Every comparison runs N times (default 5) as a pair, back
# to back (reference first in odd rounds, probe first in even ones); the tables give the medians
# and the median of the per-round ratios, with their range.
# Raw results: .build-bench/cpu-memory/results.jsonl; table: .build-bench/cpu-memory/results.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/.build-bench/cpu-memory"
rounds=5
cpu_seconds=10
quick=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --cpu-seconds) cpu_seconds=$2; shift 2 ;;
        --quick) quick=1; rounds=1; cpu_seconds=3; shift ;;
        *) echo "usage: $0 [--rounds N] [--cpu-seconds S] [--quick]" >&2; exit 2 ;;
    esac
done
for tool in sysbench stress-ng gcc python3; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install sysbench stress-ng gcc)" >&2; exit 2; }
done
mkdir -p "$out"
cd "$repo"

# The probe's command line: the probe-bench product (Sources/probe-bench), release build.
swift build -c release --scratch-path .build-bench --product probe-bench >&2
probe=("$repo/.build-bench/release/probe-bench")
gcc -O2 -fopenmp -o "$out/stream_triad" "$here/stream_triad.c" -lm

cpus=$(nproc)
results="$out/results.jsonl"
: > "$results"
record() { python3 -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' "$@" >> "$results"; }

# STREAM: 128 MiB per array (4x this machine's 32 MiB L3; the probe's default), 50 passes.
stream_elements=$((16 * 1024 * 1024))
stream_passes=50
# sysbench blocks: 1 MiB (its usual figure; cache-resident) and 128 MiB (DRAM), scope local.
sysbench_total=$((64 * 1024))   # MiB, for both block sizes
if [ "$quick" = 1 ]; then stream_passes=5; sysbench_total=4096; fi

stream_c() {  # threads round
    OMP_NUM_THREADS=$1 OMP_PROC_BIND=true OMP_PLACES=cores \
        "$out/stream_triad" "$stream_elements" "$stream_passes" hugepages > "$out/c.txt"
    while read -r name best avg _; do
        record kind stream tool c threads "$1" kernel "$name" best "$best" avg "$avg" round "$2"
    done < "$out/c.txt"
}
stream_probe() {  # threads mode round
    "${probe[@]}" memory --threads "$2" --array-bytes $((stream_elements * 8)) --repetitions "$stream_passes" \
        --patterns none --quiet --json "$out/probe.json" > /dev/null
    python3 - "$out/probe.json" "$1" "$3" >> "$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for run in r["bandwidth"]:
    for k in run["kernels"]:
        print(json.dumps({"kind": "stream", "tool": "probe", "threads": sys.argv[2], "kernel": k["kernel"],
                          "best": k["bestMBps"], "avg": k["averageMBps"], "round": sys.argv[3]}))
PY
}
sysbench_run() {  # threads block oper round
    local line mibs
    line=$(sysbench memory --memory-block-size=${2}M --memory-total-size=${sysbench_total}M \
        --memory-scope=local --memory-oper="$3" --threads="$1" run | grep 'MiB/sec')
    mibs=$(echo "$line" | sed -E 's/.*\(([0-9.]+) MiB\/sec\).*/\1/')
    record kind sysbench tool sysbench threads "$1" kernel "$3" block "$2" \
        avg "$(python3 -c "print($mibs * 1.048576)")" round "$4"
}
# sysbench's threads run freely; so does the probe here (--free-running: passes not synchronized
# across threads, average = all bytes over the wall time), and it uses 4 KiB pages as sysbench does.
sysbench_probe() {  # threads mode block oper round
    "${probe[@]}" memory --threads "$2" --array-bytes $(($3 * $1))M --repetitions $((sysbench_total / ($3 * $1))) \
        --kernels "$4" --no-huge-pages --free-running --patterns none --quiet --json "$out/probe.json" > /dev/null
    python3 - "$out/probe.json" "$1" "$3" "$5" >> "$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
k = r["bandwidth"][0]["kernels"][0]
print(json.dumps({"kind": "sysbench", "tool": "probe", "threads": sys.argv[2], "kernel": k["kernel"],
                  "block": sys.argv[3], "avg": k["averageMBps"], "best": k["bestMBps"], "round": sys.argv[4]}))
PY
}
stress_run() {  # threads round
    local taskset=() line
    [ "$1" = 1 ] && taskset=(--taskset 0)
    line=$(stress-ng --cpu "$1" --cpu-method matrixprod "${taskset[@]}" -t "${cpu_seconds}s" --metrics-brief 2>&1 \
        | grep -E 'metrc: .* cpu +[0-9]' || true)
    record kind cpu tool stress-ng threads "$1" kernel matrixprod rate "$(echo "$line" | awk '{print $(NF-1)}')" round "$2"
}
cpu_probe() {  # threads round
    local cores kernels
    [ "$1" = 1 ] && cores=0 || cores="0-$((cpus - 1))"
    for kernels in float integer,float,vector,hash; do
        "${probe[@]}" cpu --cores "$cores" --kernels "$kernels" --duration "$cpu_seconds" --burst 1 --nice 0 \
            --quiet --json "$out/probe.json" > /dev/null
        python3 - "$out/probe.json" "$1" "$kernels" "$2" >> "$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k in r["kernels"]:
    print(json.dumps({"kind": "cpu", "tool": "probe", "threads": sys.argv[2], "kernel": k["kernel"],
                      "set": sys.argv[3], "rate": k["totalIterationsPerSecond"], "round": sys.argv[4]}))
PY
    done
}

# Each pair runs back to back; odd rounds run the reference first, even rounds the probe first.
pair() {  # round reference-command probe-command
    if [ $(($1 % 2)) = 1 ]; then eval "$2"; eval "$3"; else eval "$3"; eval "$2"; fi
}
for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds" >&2
    for threads in 1 "$cpus"; do
        [ "$threads" = 1 ] && mode=single || mode=multi
        pair "$round" "stream_c $threads $round" "stream_probe $threads $mode $round"
        for block in 1 128; do
            for oper in write read; do
                pair "$round" "sysbench_run $threads $block $oper $round" "sysbench_probe $threads $mode $block $oper $round"
            done
        done
        pair "$round" "stress_run $threads $round" "cpu_probe $threads $round"
    done
done

python3 "$here/report.py" "$results" | tee "$out/results.md"
