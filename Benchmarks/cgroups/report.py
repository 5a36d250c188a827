#!/usr/bin/env python3
"""Summarise the RESULT lines of run.sh into the benchmark's table.

    report.py RESULTS

Each input line is `TREE RESULT tool=T mode=M ns=N groups=G files=F bytes=B`, one per timed pass.
Per tree, tool and mode: the median (and min/max) of the passes, as time per group; then the
library's ratios to the floor (same tree, same mode; walk+parse is compared with the floor's
walk+read, since the floor does not parse; also as the ratio of the fastest passes, which
contention on a shared machine disturbs least) and to cgroupspy (same mode); and the library's read
against the floor's read-at, which resolves the same relative paths from the root's descriptor.
"""
import collections
import statistics
import sys

TOOLS = ["floor", "library", "cgroupspy"]
MODES = ["read", "read-at", "walk+read", "walk+parse"]
GOAL = 1.5


def load(path):
    runs = collections.defaultdict(list)
    shapes = collections.defaultdict(set)
    order = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1] != "RESULT":
                continue
            tree = parts[0]
            fields = dict(p.split("=", 1) for p in parts[2:])
            key = (tree, fields["tool"], fields["mode"])
            groups = int(fields["groups"])
            runs[key].append(int(fields["ns"]) / groups / 1000.0)
            shapes[(tree, fields["mode"])].add((groups, int(fields["files"])))
            if tree not in order:
                order.append(tree)
    return runs, shapes, order


def main():
    runs, shapes, trees = load(sys.argv[1])
    failed = False
    for tree in trees:
        groups = sorted({g for (t, _), s in shapes.items() if t == tree for g, _ in s})
        files = sorted({f for (t, _), s in shapes.items() if t == tree for _, f in s})
        print()
        print("%s tree: %s groups, %s files per pass" % (tree, "/".join(map(str, groups)), "/".join(map(str, files))))
        for (t, mode), s in sorted(shapes.items()):
            if t == tree and len(s) > 1:
                print("  WARNING: tools disagree on groups/files for %s: %s" % (mode, sorted(s)))
                failed = True
        print("  %-10s %-11s %5s %12s %10s %10s %9s %11s %13s" % (
            "tool", "mode", "runs", "median µs/gr", "min", "max", "÷floor", "(of mins)", "÷cgroupspy"))
        for tool in TOOLS:
            for mode in MODES:
                samples = runs.get((tree, tool, mode))
                if not samples:
                    continue
                median = statistics.median(samples)
                floor_mode = "walk+read" if mode == "walk+parse" else mode
                floor = runs.get((tree, "floor", floor_mode))
                spy = runs.get((tree, "cgroupspy", mode))
                vs_floor = vs_floor_min = vs_spy = ""
                if tool != "floor" and floor:
                    ratio = median / statistics.median(floor)
                    vs_floor = "%.2fx" % ratio
                    vs_floor_min = "%.2fx" % (min(samples) / min(floor))
                    if tool == "library" and mode != "walk+parse":
                        vs_floor += " ok" if ratio <= GOAL else " MISS"
                if tool == "library" and spy:
                    vs_spy = "%.2fx" % (median / statistics.median(spy))
                print("  %-10s %-11s %5d %12.2f %10.2f %10.2f %9s %11s %13s" % (
                    tool, mode, len(samples), median, min(samples), max(samples), vs_floor, vs_floor_min, vs_spy))
        library = runs.get((tree, "library", "read"))
        floor_at = runs.get((tree, "floor", "read-at"))
        if library and floor_at:
            print("  library read ÷ floor read-at (same path resolution as the library): %.2fx" % (
                statistics.median(library) / statistics.median(floor_at)))
    print()
    print("goal: library read and walk+read <= %.1fx the floor of the same mode (walk+parse: informative)" % GOAL)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
