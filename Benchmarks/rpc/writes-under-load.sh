#!/usr/bin/env bash
# Writes under load: the latency of task submissions while other callers keep the agent busy
# with reads (docs/PERFORMANCE.md, "Writes under load"; issue 11's goal: p99 under 100 ms).
#
#   Benchmarks/rpc/writes-under-load.sh [--readers N] [--writers N] [--reads N] [--writes N]
#
# Builds nodeagent and rpc-bench in release mode (--scratch-path .build-bench, as run.sh), starts
# `nodeagent serve` on its embedded default (test:///default, a temporary state directory and
# socket), defines one managed guest through the CLI, then runs two rpc-bench processes at once
# on their own HTTP/2 connections: --readers callers (default 190) of Guests/Get and --writers
# callers (default 10) of Guests/SetProtection, each write a new request id, so a task stored in
# SQLite with its acceptance flushed to disk. Prints both summaries and the agent's memory. The
# agent is stopped by PID and the directory removed on exit, failure or Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
scratch="$repo/.build-bench"
readers=190
writers=10
reads=80000
writes=3000
while [ $# -gt 0 ]; do
    case "$1" in
        --readers) readers=$2; shift 2 ;;
        --writers) writers=$2; shift 2 ;;
        --reads) reads=$2; shift 2 ;;
        --writes) writes=$2; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "writes-under-load.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

tmp=""
agent_pid=""
reader_pid=""
cleanup() {
    [ -z "$reader_pid" ] || kill "$reader_pid" 2>/dev/null || true
    if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
        kill -TERM "$agent_pid" 2>/dev/null || true
        wait "$agent_pid" 2>/dev/null || true
    fi
    [ -z "$tmp" ] || rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "building nodeagent and rpc-bench (swift build -c release --scratch-path .build-bench)" >&2
(cd "$repo" && swift build -c release --scratch-path "$scratch" --product nodeagent >&2)
(cd "$repo" && swift build -c release --scratch-path "$scratch" --product rpc-bench >&2)
agent_bin="$scratch/release/nodeagent"
bench="$scratch/release/rpc-bench"

tmp=$(mktemp -d /tmp/writes-under-load.XXXXXX)
config=()
if [ -e /etc/nodeagent/nodeagent.toml ]; then
    : > "$tmp/empty.toml"
    config=(--config "$tmp/empty.toml" --uri test:///default)
fi
"$agent_bin" serve "${config[@]}" --state-dir "$tmp/state" --socket "$tmp/agent.sock" --log-level warning \
    > "$tmp/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 600); do [ -S "$tmp/agent.sock" ] && break; sleep 0.1; done
[ -S "$tmp/agent.sock" ] || { echo "writes-under-load.sh: the agent did not start" >&2; cat "$tmp/agent.log" >&2; exit 1; }

cat > "$tmp/guest.toml" <<'SPEC'
name = "bench-writes"
memory = "128MiB"
vcpus = 1
[boot]
mode = "kernel"
kernel = "/var/lib/nodeagent/bench/vmlinuz"
SPEC
"$agent_bin" guest define "$tmp/guest.toml" --socket "$tmp/agent.sock" --request-id bench-writes-define > /dev/null

"$bench" --target "unix:$tmp/agent.sock" --call get-guest --concurrency "$readers" --calls "$reads" --warmup 100 \
    --label readers > "$tmp/readers.txt" 2>&1 &
reader_pid=$!
sleep 1
"$bench" --target "unix:$tmp/agent.sock" --call write --guest bench-writes --concurrency "$writers" --calls "$writes" \
    --warmup 50 --label writers 2>&1 | grep -v "^rpc-bench"
echo "agent while the readers run: VmRSS $(awk '$1 == "VmRSS:" { print $2 }' "/proc/$agent_pid/status") kB"
wait "$reader_pid"
reader_pid=""
grep -v "^rpc-bench" "$tmp/readers.txt"
echo "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
