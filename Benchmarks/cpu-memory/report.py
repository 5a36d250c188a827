#!/usr/bin/env python3
"""Markdown tables from Benchmarks/cpu-memory/run.sh's results.jsonl.

Medians over the rounds, and for each comparison the median of the per-round ratios (probe over
reference, both measured back to back in the same round) with their range: on a shared machine
whose bandwidth drifts from minute to minute, the paired ratio is the figure to read.
"""
import json
import statistics
import sys
from collections import defaultdict


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    values = defaultdict(dict)  # key -> {round: value}
    for r in rows:
        key = (r["kind"], r["tool"], r["threads"], r["kernel"], r.get("block", ""), r.get("set", ""))
        for field in ("best", "avg", "rate"):
            if field in r and r[field] not in ("", None):
                values[key + (field,)][r.get("round", "1")] = float(r[field])
    rounds = max((len(v) for v in values.values()), default=0)

    def med(*key):
        v = values.get(key)
        return statistics.median(v.values()) if v else None

    def paired(probe_key, reference_key):
        p, r = values.get(probe_key, {}), values.get(reference_key, {})
        ratios = [p[k] / r[k] for k in p if k in r and r[k] > 0]
        if not ratios:
            return "-"
        if len(ratios) == 1:
            return f"{ratios[0]:.2f}"
        return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"

    def fmt(x, digits=0):
        return "-" if x is None else f"{x:,.{digits}f}"

    threads = sorted({r["threads"] for r in rows}, key=int)
    print(f"Medians of {rounds} round(s); ratio = median of the per-round ratios probe/reference (range). MB = 10^6 bytes.\n")

    print("**Bandwidth, STREAM-style** (3 arrays of 128 MiB, first pass not counted; best = bytes over the fastest pass, avg = over the average pass)\n")
    print("| threads | kernel | C best MB/s | probe best MB/s | ratio (best) | C avg MB/s | probe avg MB/s | ratio (avg) |")
    print("|---|---|---|---|---|---|---|---|")
    for t in threads:
        for k in ("copy", "scale", "add", "triad"):
            key = lambda tool, f: ("stream", tool, t, k, "", "", f)
            print(f"| {t} | {k} | {fmt(med(*key('c', 'best')))} | {fmt(med(*key('probe', 'best')))} | "
                  f"{paired(key('probe', 'best'), key('c', 'best'))} | {fmt(med(*key('c', 'avg')))} | "
                  f"{fmt(med(*key('probe', 'avg')))} | {paired(key('probe', 'avg'), key('c', 'avg'))} |")

    print("\n**Bandwidth against sysbench memory** (same block per thread, same total; sysbench's MiB/s in MB/s; probe = bytes over the average pass)\n")
    print("| threads | block | operation | sysbench MB/s | probe MB/s | ratio |")
    print("|---|---|---|---|---|---|")
    for t in threads:
        for block in ("1", "128"):
            for op in ("write", "read"):
                s, p = ("sysbench", "sysbench", t, op, block, "", "avg"), ("sysbench", "probe", t, op, block, "", "avg")
                print(f"| {t} | {block} MiB | {op} | {fmt(med(*s))} | {fmt(med(*p))} | {paired(p, s)} |")

    print("\n**CPU: stress-ng matrixprod and the probe's kernels** (different work and units: reference figures side by side, not a ratio)\n")
    print("| threads | stress-ng matrixprod bogo ops/s | = M multiply-adds/s (128³ per op) | probe float it/s (float alone) | = M multiply-adds/s (64³ per it) | probe it/s, all four kernels: integer / float / vector / hash |")
    print("|---|---|---|---|---|---|")
    for t in threads:
        s = med("cpu", "stress-ng", t, "matrixprod", "", "", "rate")
        f = med("cpu", "probe", t, "float", "", "float", "rate")
        every = [med("cpu", "probe", t, k, "", "integer,float,vector,hash", "rate") for k in ("integer", "float", "vector", "hash")]
        print(f"| {t} | {fmt(s)} | {fmt(s and s * 128**3 / 1e6)} | {fmt(f)} | {fmt(f and f * 64**3 / 1e6)} | "
              + " / ".join(fmt(x) for x in every) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
