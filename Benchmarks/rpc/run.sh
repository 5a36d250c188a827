#!/usr/bin/env bash
# The RPC benchmark: `nodeagent serve` against a grpcio reference server, and the agent's memory.
#
#   Benchmarks/rpc/run.sh [--calls N] [--warmup N] [--rounds R] [--concurrency "1 16 64"]
#                         [--call "health get-guest list-guests refused"] [--connections K]
#
# Builds nodeagent and rpc-bench in release mode (swift build -c release --scratch-path
# .build-bench), grpcio 1.85.1 into a venv (.build-bench/rpc-venv, from
# examples/python/requirements.txt) and the Python modules of Protos/ (.build-bench/rpc-py).
# Starts `nodeagent serve` with the embedded default configuration (libvirt test:///default,
# state directory and socket in a temporary directory, --log-level warning) and
# reference_server.py (grpcio, a thread pool, constant answers; its writes stored in SQLite and
# flushed like the agent's) on a unix socket. Then, for every
# call and concurrency (a point), runs rpc-bench against both servers with the same number of
# calls: N timed calls (default 10,000) after N/10 warm-up calls (default 1,000), split into R
# interleaved rounds (default 5; agent then reference, reference then agent, ...), each a new
# rpc-bench process whose callers share one HTTP/2 connection (unless --connections).
# Prints one table (medians over the rounds of p50, p99 and throughput for both servers,
# agent ÷ reference with the range of the per-round ratios), a table of CPU time per call (each
# server's from /proc/PID/stat, rpc-bench's own from getrusage) and the agent's VmRSS and VmHWM at rest after start-up (before any call)
# and after each point (the first one: N timed + warm-up calls). Both servers are stopped by PID
# and the temporary directory is removed on exit, failure, Ctrl-C or SIGTERM.
# Raw results: .build-bench/rpc-bench-results.jsonl and rpc-bench-memory.txt.
# Results: docs/PERFORMANCE.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
scratch="$repo/.build-bench"
calls=10000
warmup=1000
concurrency="1 16 64"
call_list="health get-guest list-guests refused write"
connections=1
rounds=5

while [ $# -gt 0 ]; do
    case "$1" in
        --calls) calls=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --concurrency) concurrency=$2; shift 2 ;;
        --call) call_list=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$calls" -ge 1 ] && [ "$rounds" -ge 1 ] && [ "$warmup" -ge 0 ] && [ "$calls" -ge "$rounds" ] \
    || { echo "run.sh: need --calls >= --rounds >= 1 and --warmup >= 0" >&2; exit 2; }

tmp=""
agent_pid=""
ref_pid=""
bench_pid=""
# Stops one server we started: SIGTERM, up to 10 s to drain, then SIGKILL.
stop_pid() {
    local pid=$1 name=$2 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    echo "run.sh: $name ($pid) ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    [ -z "$bench_pid" ] || stop_pid "$bench_pid" rpc-bench
    [ -z "$agent_pid" ] || stop_pid "$agent_pid" nodeagent
    [ -z "$ref_pid" ] || stop_pid "$ref_pid" reference_server.py
    if [ -n "$tmp" ] && [ -d "$tmp" ]; then
        if [ "$status" -ne 0 ] && [ -s "$tmp/agent.log" ]; then
            echo "run.sh: the agent's log:" >&2
            tail -n 20 "$tmp/agent.log" >&2
        fi
        rm -rf -- "$tmp"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- build -----------------------------------------------------------------------------------
mkdir -p "$scratch"
echo "building nodeagent and rpc-bench (swift build -c release --scratch-path .build-bench)" >&2
(cd "$repo" && swift build -c release --scratch-path "$scratch" --product nodeagent >&2)
(cd "$repo" && swift build -c release --scratch-path "$scratch" --product rpc-bench >&2)
agent_bin="$scratch/release/nodeagent"
bench="$scratch/release/rpc-bench"

venv="$scratch/rpc-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import grpc, grpc_tools' 2>/dev/null; then
    echo "installing grpcio and grpcio-tools into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r "$repo/examples/python/requirements.txt"
fi
generated="$scratch/rpc-py"
rm -rf "$generated"
mkdir -p "$generated"
"$venv/bin/python" -m grpc_tools.protoc --proto_path="$repo/Protos" \
    --python_out="$generated" --grpc_python_out="$generated" "$repo"/Protos/nodeagent/v1/*.proto

# --- servers ---------------------------------------------------------------------------------
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/rpc-bench.XXXXXX)
results="$tmp/results.jsonl"
: > "$results"

config=()
if [ -e /etc/nodeagent/nodeagent.toml ]; then
    # Measure the embedded default, not this host's configuration: an empty file has its values.
    : > "$tmp/empty.toml"
    config=(--config "$tmp/empty.toml" --uri test:///default)
fi
"$agent_bin" serve "${config[@]}" --state-dir "$tmp/state" --socket "$tmp/agent.sock" --log-level warning \
    > "$tmp/agent.log" 2>&1 &
agent_pid=$!
"$venv/bin/python" "$here/reference_server.py" --socket "$tmp/reference.sock" --generated "$generated" \
    --state "$tmp/reference-state.sqlite" > "$tmp/reference.log" 2>&1 &
ref_pid=$!

# wait_for SOCKET PID NAME: up to 60 s for the socket to appear while the process lives.
wait_for() {
    local i
    for i in $(seq 1 600); do
        [ -S "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || { echo "run.sh: $3 exited before serving" >&2; return 1; }
        sleep 0.1
    done
    echo "run.sh: $3 did not create $1 within 60 s" >&2
    return 1
}
wait_for "$tmp/agent.sock" "$agent_pid" nodeagent
wait_for "$tmp/reference.sock" "$ref_pid" reference_server.py

# status_kb PID FIELD: a field of /proc/PID/status in kB (VmRSS, VmHWM, ...).
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status"; }
# cpu_ticks PID: utime + stime of the process (all its threads), in clock ticks.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)

# Memory: "start" is 2 s after the socket appeared; "rest" 15 s after, once the agent has
# handed back the pages only its start used (10 s after the start: RELIABILITY.md, Memory).
sleep 2
memory="$tmp/memory.txt"
echo "start calls=0 rss=$(status_kb "$agent_pid" VmRSS) hwm=$(status_kb "$agent_pid" VmHWM) threads=$(threads "$agent_pid") ref_rss=$(status_kb "$ref_pid" VmRSS)" > "$memory"
sleep 13
echo "rest calls=0 rss=$(status_kb "$agent_pid" VmRSS) hwm=$(status_kb "$agent_pid" VmHWM) threads=$(threads "$agent_pid") ref_rss=$(status_kb "$ref_pid" VmRSS)" >> "$memory"

# The write call acts on a guest the agent manages (the reference answers any name).
cat > "$tmp/bench-writes.toml" <<'SPEC'
name = "bench-writes"
memory = "128MiB"
vcpus = 1
[boot]
mode = "kernel"
kernel = "/var/lib/nodeagent/bench/vmlinuz"
SPEC
if [[ " $call_list " == *" write "* ]]; then
    "$agent_bin" guest define "$tmp/bench-writes.toml" --socket "$tmp/agent.sock" --request-id bench-writes-define > /dev/null
fi

per_round=$(( (calls + rounds - 1) / rounds ))
warmup_per_round=$(( (warmup + rounds - 1) / rounds ))
agent_calls=0
for call in $call_list; do
    for c in $concurrency; do
        for round in $(seq 1 "$rounds"); do
            # Alternate which server goes first, so that neither always follows the other.
            if [ $((round % 2)) -eq 1 ]; then sides="agent reference"; else sides="reference agent"; fi
            for side in $sides; do
                if [ "$side" = agent ]; then pid=$agent_pid; sock="$tmp/agent.sock"; else pid=$ref_pid; sock="$tmp/reference.sock"; fi
                before=$(cpu_ticks "$pid")
                # In the background and waited for, so that a signal to this script acts at once.
                guest=()
                [ "$call" != write ] || guest=(--guest bench-writes)
                "$bench" --target "unix:$sock" --call "$call" --concurrency "$c" --connections "$connections" \
                    --calls "$per_round" --warmup "$warmup_per_round" --label "$side" "${guest[@]}" --json > "$tmp/line" &
                bench_pid=$!
                wait "$bench_pid"
                bench_pid=""
                line=$(cat "$tmp/line")
                after=$(cpu_ticks "$pid")
                # The server's CPU time (clock ticks) over the probe, warm-up and timed calls.
                echo "${line%\}}, \"round\": $round, \"server_ticks\": $((after - before)), \"hz\": $hz, \"server_calls\": $((per_round + warmup_per_round + 1))}" >> "$results"
                echo "  $side $call c=$c round $round/$rounds: $(tail -n 1 "$results" | cut -d, -f9-14)" >&2
                [ "$side" = reference ] || agent_calls=$((agent_calls + per_round + warmup_per_round + 1))
            done
        done
        echo "after-$call-c$c calls=$agent_calls rss=$(status_kb "$agent_pid" VmRSS) hwm=$(status_kb "$agent_pid" VmHWM) threads=$(threads "$agent_pid") ref_rss=$(status_kb "$ref_pid" VmRSS)" >> "$memory"
    done
done
sleep 2
echo "end calls=$agent_calls rss=$(status_kb "$agent_pid" VmRSS) hwm=$(status_kb "$agent_pid" VmHWM) threads=$(threads "$agent_pid") ref_rss=$(status_kb "$ref_pid" VmRSS)" >> "$memory"
# 70 s later: the agent quiet for a whole 30 s interval of its memory service, so malloc's free
# memory is trimmed and the file pages the calls touched are handed back.
sleep 70
echo "rested calls=$agent_calls rss=$(status_kb "$agent_pid" VmRSS) hwm=$(status_kb "$agent_pid" VmHWM) threads=$(threads "$agent_pid") ref_rss=$(status_kb "$ref_pid" VmRSS)" >> "$memory"

cp "$results" "$scratch/rpc-bench-results.jsonl"
cp "$memory" "$scratch/rpc-bench-memory.txt"
python3 "$here/report.py" "$results" "$memory"
echo
echo "$(nproc) cores; load average (1/5/15 min) $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
