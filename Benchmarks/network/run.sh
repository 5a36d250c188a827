#!/usr/bin/env bash
# The network benchmark: the network probe's TCP throughput against iperf3, both on loopback.
#
#   Benchmarks/network/run.sh [--duration S] [--rounds R] [--streams "1 4"]
#                             [--directions "client-to-server server-to-client bidirectional"] [--pin]
#                             [--receive-spin-us N]
#
# --pin runs both servers on the last CPU and both clients on the first (taskset), the same
# placement for both tools, so that the scheduler putting sender and receiver on one core in some
# rounds and not in others does not decide the ratio.
# --receive-spin-us passes the probe's receive spin (default: the probe's, 50 µs); 0 makes its
# receivers sleep as soon as their socket runs dry, as iperf3's do.
# Builds the probe's command line (`probe-bench network server|client ...`, NetworkProbeCommandLine)
# in release mode under .build-bench. Starts
# one iperf3 server (`iperf3 -s -B 127.0.0.1`) and one probe server (`probe-bench network server --bind
# 127.0.0.1`) on free ports, then for every number of streams and direction runs R rounds
# (default 3) of both clients with the same parameters, alternating which goes first:
#
#   iperf3 -c 127.0.0.1 -p PORT -t S -P N [-R | --bidir] -J
#   probe-bench network client 127.0.0.1 --port PORT --streams N --directions DIR --duration S --no-rtt --json
#
# Both use 128 KiB writes and the kernel's default socket buffers. The figure compared is what
# the receiver measured (iperf3: end.sum_received, plus end.sum_received_bidir_reverse for
# --bidir; probe: the sum of its transfers' bitsPerSecond). Also the CPU time both ends used
# (the client's user + system time from /usr/bin/time, the server's from /proc/PID/stat before
# and after) per GB received: on a loaded machine throughput follows the CPU a run got, the cost
# per byte much less. Prints a table of the medians, the ratios probe / iperf3 and the range of
# the per-round throughput ratios. Both servers are stopped by PID on exit, failure, Ctrl-C or
# SIGTERM. Raw results: .build-bench/network-bench-results.jsonl.
# Results: docs/PERFORMANCE.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
scratch="$repo/.build-bench"
duration=10
rounds=3
streams_list="1 4"
directions="client-to-server server-to-client bidirectional"
pin=0
spin=()

while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --streams) streams_list=$2; shift 2 ;;
        --directions) directions=$2; shift 2 ;;
        --pin) pin=1; shift ;;
        --receive-spin-us) spin=(--receive-spin-us "$2"); shift 2 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$rounds" -ge 1 ] || { echo "run.sh: --rounds must be >= 1" >&2; exit 2; }
server_pin=()
client_pin=()
if [ "$pin" = 1 ]; then
    last=$(($(nproc) - 1))
    [ "$last" -ge 1 ] || { echo "run.sh: --pin needs at least 2 CPUs" >&2; exit 2; }
    server_pin=(taskset -c "$last")
    client_pin=(taskset -c 0)
fi
command -v iperf3 >/dev/null || { echo "run.sh: iperf3 is missing (apt-get install iperf3)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "run.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d /tmp/network-bench.XXXXXX)
pids=()
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf -- "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- build -----------------------------------------------------------------------------------
mkdir -p "$scratch"
echo "building probe-bench (swift build -c release)" >&2
(cd "$repo" && swift build -c release --scratch-path "$scratch" --product probe-bench >&2)
probe=("$scratch/release/probe-bench" network)

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- servers ---------------------------------------------------------------------------------
iperf_port=$(free_port)
"${server_pin[@]}" iperf3 -s -B 127.0.0.1 -p "$iperf_port" > "$work/iperf3-server.log" 2>&1 &
iperf_pid=$!
pids+=("$iperf_pid")
probe_port=$(free_port)
"${server_pin[@]}" "${probe[@]}" server --bind 127.0.0.1 --port "$probe_port" --quiet > "$work/probe-server.log" 2>&1 &
probe_pid=$!
pids+=("$probe_pid")
ticks=$(getconf CLK_TCK)
# CPU time (user + system, clock ticks, all threads) a server has used so far.
server_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}
for _ in $(seq 100); do
    if grep -q "listening on" "$work/probe-server.log" && ss -Htln | grep -q "127.0.0.1:$iperf_port "; then break; fi
    sleep 0.1
done
grep -q "listening on" "$work/probe-server.log" || { echo "run.sh: the probe server did not start:" >&2; cat "$work/probe-server.log" >&2; exit 1; }

results="$scratch/network-bench-results.jsonl"
: > "$results"
echo "iperf3 $(iperf3 --version | head -1 | cut -d' ' -f2), probe ${probe[*]}; ${duration} s per run, $rounds rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

run_iperf3() {  # streams direction round
    local flag=()
    case "$2" in
        server-to-client) flag=(-R) ;;
        bidirectional) flag=(--bidir) ;;
    esac
    local command=("${client_pin[@]}" iperf3 -c 127.0.0.1 -p "$iperf_port" -t "$duration" -P "$1" "${flag[@]}" -J)
    echo "  ${command[*]}" >&2
    local before
    before=$(server_ticks "$iperf_pid")
    /usr/bin/time -f '%U %S' -o "$work/time" "${command[@]}" > "$work/iperf3.json"
    local server_cpu
    server_cpu=$(( $(server_ticks "$iperf_pid") - before ))
    python3 - "$work/iperf3.json" "$1" "$2" "$3" "$work/time" "$server_cpu" "$ticks" >> "$results" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
user, system = map(float, open(sys.argv[5]).read().split()[-2:])
cpu = user + system + int(sys.argv[6]) / int(sys.argv[7])
if "error" in d:
    sys.exit("iperf3: " + d["error"])
end = d["end"]
c2s = s2c = None
if sys.argv[3] == "client-to-server":
    c2s = end["sum_received"]["bits_per_second"]
elif sys.argv[3] == "server-to-client":
    s2c = end["sum_received"]["bits_per_second"]
else:
    c2s = end["sum_received"]["bits_per_second"]
    s2c = end["sum_received_bidir_reverse"]["bits_per_second"]
received = end["sum_received"]["bytes"] + (end["sum_received_bidir_reverse"]["bytes"] if "sum_received_bidir_reverse" in end else 0)
print(json.dumps({"tool": "iperf3", "streams": int(sys.argv[2]), "direction": sys.argv[3], "round": int(sys.argv[4]),
                  "bps": (c2s or 0) + (s2c or 0), "c2s": c2s, "s2c": s2c, "bytes": received, "cpu": cpu}))
EOF
}

run_probe() {  # streams direction round
    local command=("${client_pin[@]}" "${probe[@]}" client 127.0.0.1 --port "$probe_port" --streams "$1" --directions "$2" --duration "$duration" --no-rtt "${spin[@]}" --json)
    echo "  ${command[*]}" >&2
    local before
    before=$(server_ticks "$probe_pid")
    /usr/bin/time -f '%U %S' -o "$work/time" "${command[@]}" > "$work/probe.json"
    local server_cpu
    server_cpu=$(( $(server_ticks "$probe_pid") - before ))
    python3 - "$work/probe.json" "$1" "$2" "$3" "$work/time" "$server_cpu" "$ticks" >> "$results" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
user, system = map(float, open(sys.argv[5]).read().split()[-2:])
cpu = user + system + int(sys.argv[6]) / int(sys.argv[7])
t = d["tcp"][0]
c2s = t["clientToServer"]["bitsPerSecond"] if t.get("clientToServer") else None
s2c = t["serverToClient"]["bitsPerSecond"] if t.get("serverToClient") else None
received = sum(t[k]["bytesReceived"] for k in ("clientToServer", "serverToClient") if t.get(k))
print(json.dumps({"tool": "probe", "streams": int(sys.argv[2]), "direction": sys.argv[3], "round": int(sys.argv[4]),
                  "bps": (c2s or 0) + (s2c or 0), "c2s": c2s, "s2c": s2c, "bytes": received, "cpu": cpu}))
EOF
}

# --- rounds ----------------------------------------------------------------------------------
for streams in $streams_list; do
    for direction in $directions; do
        echo "$streams stream(s), $direction" >&2
        for round in $(seq "$rounds"); do
            if [ $((round % 2)) -eq 1 ]; then
                run_iperf3 "$streams" "$direction" "$round"
                run_probe "$streams" "$direction" "$round"
            else
                run_probe "$streams" "$direction" "$round"
                run_iperf3 "$streams" "$direction" "$round"
            fi
        done
    done
done

echo >&2
python3 "$here/report.py" "$results"
