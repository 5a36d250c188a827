#!/usr/bin/env python3
"""Table of the network benchmark: iperf3 against the probe, from run.sh's JSON lines.

Each line: {"tool": "iperf3"|"probe", "streams": N, "direction": D, "round": R, "bps": bits/s
received (both directions summed for bidirectional), "c2s"/"s2c": bits/s per direction or null,
"bytes": bytes received, "cpu": CPU seconds of client and server}. For every point the table gives
the median over the rounds of each tool's throughput, the ratio of the medians (probe / iperf3),
the range of the per-round ratios, and the median CPU cost per GB received of both tools with
their ratio (lower is cheaper).
"""
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
points = []
for row in rows:
    key = (row["streams"], row["direction"])
    if key not in points:
        points.append(key)

print(f"{'streams':>7}  {'direction':<17} {'iperf3 Gbit/s':>13} {'probe Gbit/s':>12} {'probe÷iperf3':>12}  {'per round':<11}"
      f" {'iperf3 CPU ms/GB':>16} {'probe CPU ms/GB':>15} {'probe÷iperf3':>12}")
worst = None
for streams, direction in points:
    def select(tool):
        return {r["round"]: r for r in rows if r["tool"] == tool and r["streams"] == streams and r["direction"] == direction}
    iperf, probe = select("iperf3"), select("probe")
    if not iperf or not probe:
        continue
    mi = statistics.median(r["bps"] for r in iperf.values())
    mp = statistics.median(r["bps"] for r in probe.values())
    ratio = mp / mi
    per_round = [probe[n]["bps"] / iperf[n]["bps"] for n in sorted(iperf) if n in probe]
    worst = ratio if worst is None else min(worst, ratio)
    ci = statistics.median(r["cpu"] / r["bytes"] * 1e12 for r in iperf.values())  # ms per GB
    cp = statistics.median(r["cpu"] / r["bytes"] * 1e12 for r in probe.values())
    print(f"{streams:>7}  {direction:<17} {mi / 1e9:>13.2f} {mp / 1e9:>12.2f} {ratio:>11.2f}×  "
          f"{min(per_round):.2f}–{max(per_round):.2f}  {ci:>16.0f} {cp:>15.0f} {cp / ci:>11.2f}×")
if worst is not None:
    print(f"\nlowest throughput ratio of medians: {worst:.2f}× (goal >= 0.95×)")
