#!/usr/bin/env python3
"""The cgroupspy side of the cgroup read benchmark.

    cgroupspy_bench.py ROOT GROUP REPEAT WARMUP FILE...

Reads the same interface files as floor.c and cgroup-bench through cgroupspy's node objects.

cgroupspy (CloudSigma, v1 only) builds a tree of `Node`s from the directories beneath a root, and
gives a node a controller when the directory right below the root is named after a v1 controller
(`cpu`, `memory`, `cpuacct`, ...). A cgroup v2 hierarchy has no per-controller directories, so no
node would get a controller and nothing could be read. The smallest change that keeps its own
machinery: register the benchmark's top group as a "controller root" mapped to the base
`Controller` class. Every node below it then carries a `Controller` whose `get_property(file)`
opens the node's file, reads it (text mode) and strips it; that is cgroupspy's way of reading any
file. Its typed controllers (`CpuAcctController`, `MemoryController`, `BlkIOController`) name v1
files (cpuacct.usage, memory.usage_in_bytes, blkio.throttle.*) that do not exist in v2, so the
typed variant uses cgroupspy's own value interfaces where the v2 format fits them (`DictFile` for
flat-keyed files such as cpu.stat and memory.stat, `IntegerFile` for single values such as
memory.current) and a small parser of the same style for the nested-keyed files it has no
interface for (io.stat, the PSI files).

Modes, each timed REPEAT times after WARMUP untimed passes, one RESULT line per timed pass:
  read        nodes built before the clock starts (cgroupspy's Tree); get_property of every file
  walk+read   the clock also covers building the Tree (cgroupspy lists every directory)
  walk+parse  walk+read, and each file's text turned into Python values
"""
import os
import sys
import time

from cgroupspy import trees
from cgroupspy.controllers import Controller
from cgroupspy.interfaces import DictFile, IntegerFile
from cgroupspy.nodes import Node

DICT = DictFile("flat-keyed")
INTEGER = IntegerFile("single-value")


def nested_keyed(text):
    """`254:0 rbytes=1 wbytes=2` and `some avg10=0.00 ... total=1` lines into dicts."""
    result = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        values = {}
        for field in parts[1:]:
            key, _, value = field.partition("=")
            values[key] = float(value) if "." in value else int(value)
        result[parts[0]] = values
    return result


def parse(name, text):
    if not text:
        return {}
    if name == "io.stat" or name.endswith(".pressure"):
        return nested_keyed(text)
    if "\n" not in text and " " not in text:
        return INTEGER.sanitize_get(text)
    return DICT.sanitize_get(text)


def build_tree(root, group):
    tree = trees.Tree(root_path=root.encode(), groups=[group.encode()])
    (top,) = tree.root.children
    # Every node below the benchmark group, in cgroupspy's pre-order walk.
    return [node for node in tree.walk(top) if node is not top]


def main():
    root, group = sys.argv[1], sys.argv[2]
    repeat, warmup = int(sys.argv[3]), int(sys.argv[4])
    files = sys.argv[5:]
    encoded = [f.encode() for f in files]
    Node.CONTROLLERS[group.encode()] = Controller

    def read(nodes, parse_values):
        count = size = 0
        for node in nodes:
            controller = node.controller
            for name, raw in zip(files, encoded):
                text = controller.get_property(raw)
                if parse_values:
                    parse(name, text)
                count += 1
                size += len(text)
        return count, size

    nodes = build_tree(root, group)
    for n in range(warmup + repeat):
        results = []
        t0 = time.perf_counter_ns()
        count, size = read(nodes, False)
        results.append(("read", time.perf_counter_ns() - t0, len(nodes), count, size))

        t0 = time.perf_counter_ns()
        walked = build_tree(root, group)
        count, size = read(walked, False)
        results.append(("walk+read", time.perf_counter_ns() - t0, len(walked), count, size))

        t0 = time.perf_counter_ns()
        walked = build_tree(root, group)
        count, size = read(walked, True)
        results.append(("walk+parse", time.perf_counter_ns() - t0, len(walked), count, size))
        if n >= warmup:
            for mode, ns, groups, count, size in results:
                # bytes: characters after cgroupspy's strip(), so a little below the floor's count.
                print("RESULT tool=cgroupspy mode=%s ns=%d groups=%d files=%d bytes=%d" % (mode, ns, groups, count, size))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
