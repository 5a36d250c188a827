#!/usr/bin/env python3
"""Prints run.sh's results as Markdown: one table of both servers with the ratios, and memory.

    report.py RESULTS.jsonl MEMORY.txt

RESULTS.jsonl: one rpc-bench --json object per line (label "agent" or "reference"), with run.sh's
round, server_ticks (the server's utime+stime over that rpc-bench process), hz and
server_calls (probe + warm-up + timed calls). MEMORY.txt: lines "NAME calls=N rss=KB hwm=KB
threads=N ref_rss=KB" (the agent's /proc/PID/status, and the reference server's VmRSS).

Per point (call, callers): the median over the rounds of each figure; the ratio agent ÷
reference of those medians, with the smallest and largest ratio of one round's pair in
parentheses for p50 and throughput; server CPU is all the rounds' ticks over all their calls.
Above 1 the agent takes longer (latency, CPU); below 1 it serves fewer calls per second.
"""

import json
import statistics
import sys


def ratio(a, b):
    return "%.2f×" % (a / b) if b else "–"


def spread(agent, reference, key):
    pairs = {r["round"]: r[key] for r in reference}
    ratios = [a[key] / pairs[a["round"]] for a in agent if pairs.get(a["round"])]
    if not ratios:
        return ""
    return " (%.2f–%.2f)" % (min(ratios), max(ratios))


def main():
    results_path, memory_path = sys.argv[1], sys.argv[2]
    points = {}
    order = []
    with open(results_path) as f:
        for line in f:
            r = json.loads(line)
            key = (r["call"], r["concurrency"])
            if key not in points:
                points[key] = {"agent": [], "reference": []}
                order.append(key)
            points[key][r["label"]].append(r)

    first = points[order[0]]["agent"]
    rounds = len(first)
    print(
        "%d timed calls per point and server (%d rounds of %d, each after %d warm-up calls); "
        "callers share %s. Latency in µs, medians over the rounds; ratios agent ÷ reference "
        "(range of the rounds' ratios)." % (
            sum(r["calls"] for r in first), rounds, first[0]["calls"], first[0]["warmup"],
            "one HTTP/2 connection" if first[0]["connections"] == 1 else "%d connections" % first[0]["connections"],
        )
    )
    print()
    print("| call | callers | p50 agent | p50 ref | × | p99 agent | p99 ref | × | calls/s agent | calls/s ref | × |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    cpu_rows = []
    for key in order:
        a, r = points[key]["agent"], points[key]["reference"]

        def med(side, field):
            return statistics.median(x[field] for x in side)

        def server_cpu(side):
            ticks = sum(x["server_ticks"] for x in side)
            calls = sum(x["server_calls"] for x in side)
            return ticks * 1e6 / side[0]["hz"] / calls

        cells = [key[0], str(key[1])]
        for field in ("p50_us", "p99_us", "throughput"):
            ma, mr = med(a, field), med(r, field)
            cells += ["%.0f" % ma, "%.0f" % mr, ratio(ma, mr) + (spread(a, r, field) if field != "p99_us" else "")]
        print("| " + " | ".join(cells) + " |")
        ca, cr = server_cpu(a), server_cpu(r)
        cpu_rows.append([
            key[0], str(key[1]), "%.0f" % ca, "%.0f" % cr, ratio(ca, cr),
            "%.0f" % med(a, "client_cpu_us_per_call"), "%.0f" % med(r, "client_cpu_us_per_call"),
        ])

    print()
    print("CPU time per call, µs: the server's (utime+stime over all the rounds' calls, warm-up included) "
          "and rpc-bench's own (getrusage over the timed calls, median of the rounds).")
    print()
    print("| call | callers | server: agent | server: reference | × | client, against the agent | client, against the reference |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in cpu_rows:
        print("| " + " | ".join(row) + " |")

    memory = []
    with open(memory_path) as f:
        for line in f:
            name, *fields = line.split()
            values = dict(field.split("=", 1) for field in fields)
            memory.append((name, {k: int(v) for k, v in values.items()}))

    def mib(kb):
        return "%.1f MiB" % (kb / 1024)

    print()
    print("| agent (nodeagent serve) | calls so far | VmRSS | VmHWM | threads | reference VmRSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, v in memory:
        print("| %s | %d | %s | %s | %d | %s |" % (
            name, v["calls"], mib(v["rss"]), mib(v["hwm"]), v["threads"], mib(v["ref_rss"])))


if __name__ == "__main__":
    main()
