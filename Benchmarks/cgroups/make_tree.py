#!/usr/bin/env python3
"""Lay out a temporary cgroupfs-like tree for the cgroup read benchmark.

    make_tree.py ROOT GROUP COUNT [--nested] [--real /sys/fs/cgroup/unified] [--dirs-only]

Creates ROOT/GROUP and COUNT groups beneath it (flat: gNNNN; --nested: ten parents pNN with the
groups spread over them), each holding every interface file of a cgroup v2 group with all
controllers enabled (sample-group/, next to this script). Where the real unified hierarchy has a
file of the same name its contents are used instead (for flat-keyed files, the real keys come first
and the sample's missing keys are appended: a root cpu.stat without the cpu controller lacks
nr_periods and the throttling counters that a group with it shows).

With --dirs-only only the directories are made: on a real cgroup2 mount the kernel fills them.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "sample-group")
# Files whose contents come from the kernel (statistics) rather than from configuration.
REAL_CANDIDATES = {"cpu.stat", "cpu.pressure", "io.pressure", "memory.pressure", "cgroup.stat"}


def flat_keyed(text):
    lines = [line for line in text.splitlines() if line]
    return all(len(line.split()) == 2 for line in lines) and bool(lines)


def merged(sample, real):
    if not (flat_keyed(sample) and flat_keyed(real)):
        return real
    keys = {line.split()[0] for line in real.splitlines() if line}
    extra = [line for line in sample.splitlines() if line and line.split()[0] not in keys]
    return real.rstrip("\n") + "\n" + "".join(line + "\n" for line in extra)


def group_files(real_root):
    files = {}
    for name in sorted(os.listdir(SAMPLE)):
        with open(os.path.join(SAMPLE, name)) as f:
            files[name] = f.read()
    sources = {}
    if real_root:
        for name in REAL_CANDIDATES:
            try:
                with open(os.path.join(real_root, name)) as f:
                    real = f.read()
            except OSError:
                continue
            if real.strip():
                files[name] = merged(files[name], real)
                sources[name] = os.path.join(real_root, name)
    return files, sources


def write_group(path, files):
    os.mkdir(path)
    for name, text in files.items():
        with open(os.path.join(path, name), "w") as f:
            f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("group")
    parser.add_argument("count", type=int)
    parser.add_argument("--nested", action="store_true")
    parser.add_argument("--real", default="/sys/fs/cgroup/unified")
    parser.add_argument("--dirs-only", action="store_true")
    args = parser.parse_args()

    if args.dirs_only:
        files, sources = {}, {}
    else:
        real = args.real if os.path.isfile(os.path.join(args.real, "cgroup.controllers")) else None
        files, sources = group_files(real)
    base = os.path.join(args.root, args.group)
    write_group(base, files)
    for i in range(args.count):
        if args.nested:
            parent = os.path.join(base, "p%02d" % (i % 10))
            if not os.path.isdir(parent):
                write_group(parent, files)
            write_group(os.path.join(parent, "g%04d" % i), files)
        else:
            write_group(os.path.join(base, "g%04d" % i), files)
    for name, source in sorted(sources.items()):
        print("make_tree: %s from %s" % (name, source), file=sys.stderr)


if __name__ == "__main__":
    main()
