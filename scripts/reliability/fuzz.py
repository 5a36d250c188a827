#!/usr/bin/env python3
"""Hostile-input fuzzer over the whole nodeagent gRPC API (Protos/nodeagent/v1/*.proto).

    fuzz.py --socket PATH --iterations N --seed S|random [--scratch DIR] [--call-timeout SECONDS]
            [--json-summary FILE] [--log FILE] [--health-every K] [--allow-real-libvirt] [--verbose]

Services and methods come from the generated descriptors (examples/python/nodeagent_api, made by
examples/python/generate.sh: `services_by_name` of every *_pb2 module); requests are built by
reflection and sent as bytes. Calls go round-robin over all methods in an order the seed
shuffles, methods with more to validate appearing up to 4 times per round. Each call takes one
generation strategy:

  random   a message from the descriptor: every field kind, nested, repeated, maps, oneofs, with
           extreme values (empty, 1 MiB strings, 0/-1/min/max of each integer width, NaN/inf,
           unknown enum numbers, XML specials, NUL and control characters, unicode, ../ and
           absolute paths, very long names, valid and invalid request ids, ids reused for other
           content); burn-in profiles from parts, garbage TOML, malformed table headers;
  mutate   a plausible request (a guest spec libvirt's test driver accepts, an existing guest,
           task, volume, ...) with one field changed (sometimes two or three);
  raw      bytes: truncated serializations, bit flips, unknown fields of every wire type, invalid
           UTF-8 in string fields, deep nesting, overlong varints, bad lengths, garbage, and every
           500th call a request of 4 MiB - 64, 4 MiB, 4 MiB + 1 or 4 MiB + 64 bytes;
  repeat   an earlier request that created a task, sent again.
Server streams (Tasks.Watch, Events.Watch, any method the descriptor marks streaming) are read
for at most 2 messages or 0.25 s, then cancelled. A given seed makes the same sequence of
requests; only values the agent handed out (task ids, guest UUIDs) differ between agents.

Checks, each failure a finding (method, strategy, request, status, message):
  status      no UNKNOWN, INTERNAL, DATA_LOSS, UNAUTHENTICATED, nor a CANCELLED the fuzzer did not
              cause; UNAVAILABLE only when the message says why in documented terms (cgroup
              hierarchy absent; libvirt unreachable: "libvirt"/a virXxx call/the URI with "not
              connected", "unreachable", ...; state store failure, "the disk is full"), and
              UNIMPLEMENTED only when it says the hypervisor does not support the operation
              (docs/API.md, reason `unsupported`); the summary counts which;
  hang        no unary call reaches --call-timeout (every call has a deadline);
  field-name  every INVALID_ARGUMENT names a field of the request by its proto name (`request_id:`,
              `spec.disks[0].path`, `(at spec)`), or the request's type for a request that does
              not decode. Findings marked "debatable" name something close: a burn-in profile key
              (`cpu.duration: ...`, which docs/API.md allows), or `map_field.KEY`;
  size-limit  a request over 4 MiB is RESOURCE_EXHAUSTED, one within it is not;
  request-id  a repeated request id answers with its first task; one reused for other content
              is ALREADY_EXISTS;
  burnin-accepted  BurnIn.Start refuses every request the fuzzer built to be refused;
  task-error  a failed task's error code is a gRPC status other than OK/UNKNOWN, with a reason;
  crash       Node.GetHealth answers every --health-every calls, after any UNAVAILABLE, INTERNAL,
              UNKNOWN or DEADLINE_EXCEEDED, and at the end; if the agent stops answering, the run
              stops and the finding names the last request sent.
The summary also lists the terminal tasks seen by kind, state and error (not checked).

Exit status: 0 no findings, 1 findings (debatable ones included), 2 usage or environment error.

Safety (the agent runs as root on a shared machine):
  - only the unix socket given is contacted (no proxy, no DNS);
  - BurnIn.Start: `disk_target` is empty or a path inside --scratch DIR (fixtures made there:
    a directory, a file, symlinks to inside DIR or to /nonexistent/x, odd names; removed at the
    end), never a /dev path, checked lexically, through symlinks and cut at NUL; `network_server`
    a loopback address or text the agent refuses before connecting; `baseline_path` unset, inside
    DIR, under /nonexistent or relative. Every profile is built to be refused (an invalid option
    of an enabled probe, or an unknown key) except at most 3 deliberate tiny ones (no probes; 1 s
    of CPU on core 0; 1 MiB of disk in DIR/sub); a built-in profile name always comes with a
    baseline_path that does not exist. Raw bytes for BurnIn.Start are sent only when no decoding
    of them names an unsafe target. Every burn-in task that starts is cancelled at once and
    waited for at the end; after 5 have started, only requests the agent must refuse are sent;
  - CGroups.SetLimits never names a cgroup.* interface file nor a valid cpuset partition type;
  - the run is refused (exit 2) when the agent's libvirt URI is not test:///... (the in-memory
    driver) unless --allow-real-libvirt is given: the fuzzer destroys and undefines guests and
    deletes volumes.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import math
import os
import pkgutil
import random
import re
import shutil
import stat
import sys
import time
import tomllib
from dataclasses import dataclass
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_CLIENT = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "python"))

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

MIB = 1024 * 1024
REQUEST_LIMIT = 4 * MIB  # docs/API.md: requests over 4 MiB are refused before they are decoded
MAX_BURNIN_TASKS = 5  # burn-in tasks a run may start (deliberate or not); all are cancelled at once
MAX_DELIBERATE_BURNINS = 3
STREAM_MESSAGES = 2  # a server stream is read this far, then cancelled
STREAM_DEADLINE = 0.25  # seconds a server stream is given

try:
    import grpc
    from google.protobuf import message_factory, text_format
    from google.protobuf.descriptor import FieldDescriptor
    from google.protobuf.message import DecodeError
except ImportError as error:  # pragma: no cover
    print(f"fuzz.py: cannot import grpc/protobuf ({error}); pip install grpcio protobuf", file=sys.stderr)
    sys.exit(EXIT_USAGE)

SC = grpc.StatusCode
ALWAYS_ALLOWED = {
    SC.OK, SC.INVALID_ARGUMENT, SC.NOT_FOUND, SC.ALREADY_EXISTS, SC.FAILED_PRECONDITION, SC.OUT_OF_RANGE,
    SC.RESOURCE_EXHAUSTED, SC.PERMISSION_DENIED, SC.ABORTED,
}
# UNAVAILABLE is allowed only for what docs/API.md gives it: these reasons, in the message.
UNAVAILABLE_REASONS = [
    ("cgroup hierarchy absent", re.compile(r"no cgroup v2 hierarchy|not a cgroup2 mount|no cgroup2 hierarchy", re.I)),
    # "libvirt ... unreachable", or a libvirt call (virXxx) / the hypervisor URI with "not connected", "no connection to"...
    ("libvirt unreachable", re.compile(r"(?=.*(?:libvirt|\bvir[A-Z]\w+|\w+(?:\+\w+)?:///?))(?=.*(?:unreachable|not connected|"
                                       r"no connection to|cannot connect|failed to connect|connection (?:lost|closed|refused|reset)))",
                                       re.I | re.S)),
    ("state store failure", re.compile(r"state store|disk is full", re.I)),
]
# UNIMPLEMENTED likewise (docs/API.md, reason `unsupported`): the hypervisor's driver lacks the operation.
UNIMPLEMENTED_REASONS = [
    ("hypervisor does not support it", re.compile(r"not supported|unsupported|does not support", re.I)),
]

# ---------------------------------------------------------------------------------------------
# The API, from the descriptors


@dataclass
class Method:
    service: str  # nodeagent.v1.Guests
    name: str  # Define
    input: Any  # Descriptor
    output: Any
    server_streaming: bool
    client_streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.service.rsplit('.', 1)[-1]}.{self.name}"


def load_api() -> list[Method]:
    if PYTHON_CLIENT not in sys.path:
        sys.path.insert(0, PYTHON_CLIENT)
    try:
        package = importlib.import_module("nodeagent_api.nodeagent.v1")
    except ImportError as error:
        raise SystemExit(usage_error(f"cannot import the generated API modules ({error}); run {PYTHON_CLIENT}/generate.sh"))
    modules = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.endswith("_pb2"):
            modules.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    methods: list[Method] = []
    for module in modules:
        for service_name in sorted(module.DESCRIPTOR.services_by_name):
            service = module.DESCRIPTOR.services_by_name[service_name]
            for m in service.methods:
                methods.append(Method(service.full_name, m.name, m.input_type, m.output_type,
                                      bool(getattr(m, "server_streaming", False)), bool(getattr(m, "client_streaming", False))))
    if not methods:
        raise SystemExit(usage_error(f"no services in the generated modules under {PYTHON_CLIENT}; run generate.sh"))
    return methods


_classes: dict[str, Any] = {}


def message_class(desc) -> Any:
    cls = _classes.get(desc.full_name)
    if cls is None:
        cls = _classes[desc.full_name] = message_factory.GetMessageClass(desc)
    return cls


def is_map(f) -> bool:
    return f.message_type is not None and f.message_type.GetOptions().map_entry


def usage_error(text: str) -> int:
    print(f"fuzz.py: {text}", file=sys.stderr)
    return EXIT_USAGE


# ---------------------------------------------------------------------------------------------
# Value pools

INT_EXTREMES = {
    FieldDescriptor.CPPTYPE_INT32: [0, 1, -1, 2**31 - 1, -(2**31), 2**31 - 2, 100, 255, 256, 65535, 65536, 86400, 86401],
    FieldDescriptor.CPPTYPE_INT64: [0, 1, -1, 2**63 - 1, -(2**63), 2**31, 2**32, 2**53 + 1, -(2**31) - 1, 1000, 1000000],
    FieldDescriptor.CPPTYPE_UINT32: [0, 1, 2**32 - 1, 2**31, 2**31 - 1, 64, 65, 100, 1024, 10000, 10001, 86400, 86401, 604801],
    FieldDescriptor.CPPTYPE_UINT64: [0, 1, 2**64 - 1, 2**63, 2**63 - 1, 2**53 + 1, 2**32, 1000, 1000000, 18446744073709551614],
}
FLOATS = [0.0, -0.0, 1.0, -1.0, float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324, 0.1, 1e-300]

XML_SPECIALS = ["<", ">", "&", "]]>", "<![CDATA[x]]>", '"', "'", "<domain type='kvm'>", "&amp;", "&#0;", "&#x1F;",
                "<!-- -->", "</name><name>evil</name>", "<?xml version='1.0'?>", "&lt;&gt;", "a&b<c>d", "\"'<>&"]
CONTROLS = ["\x00", "a\x00b", "\x01", "\x07", "\x1b[31mred", "\x7f", "\n", "\r\n", "\t", "line1\nline2", "\u0085", "\x9f",
            "trailing\n", " leading", "trailing ", "\x00" * 16]
UNICODE = ["é", "日本語", "🙂", "\u202eevil", "\ufeffbom", "\u2028", "e\u0301", "a\u200db", "\U0010fffd", "\ufffe", "\uffff",
           "Ω≈ç√∫", "ｆｕｌｌ", "İı", "ß" * 10, "\u0000é", "Z\u0351\u0352\u0353" * 20, "\U0001F600" * 50]
PATHS = ["../", "..", ".", "/", "//", "../../../../etc/passwd", "/etc/passwd", "/dev/null", "/dev/sda", "/proc/self/mem",
         "/tmp", "a/../../b", "./x", "~", "~/x", "C:\\Windows", "\\\\server\\share", "/var/lib/nodeagent/test/vmlinuz",
         "file:///etc/passwd", "a//b", "a/./b", "/nonexistent/x", "-rf", "--help", "a/" * 100]
NUMERIC = ["0", "-1", "1", "1e309", "NaN", "nan", "inf", "-inf", "18446744073709551615", "18446744073709551616",
           "9223372036854775807", "9223372036854775808", "-9223372036854775808", "0x10", "1.5", "1,5", " 1", "1 ", "+1",
           "00001", "1_000", "0.0000001", "-0"]
SIZES = ["128MiB", "0", "0B", "1", "1B", "1K", "1KiB", "64KiB", "1MiB", "128 MiB", "128mib", "128MB", "128Mi", "-128MiB",
         "1.5GiB", "1EiB", "16EiB", "17EiB", "99999999999999999999PiB", "18446744073709551615", "18446744073709551616",
         "max", "MiB", "1MiBB", "1 2", "½MiB", "1e3MiB", "0x10MiB", "  256MiB  ", "9223372036854775807", "8EiB", "1PiB",
         "4096", "4095", "1.0000000001KiB", "nan", "inf", "-0"]
FORMATS = ["%s%s%s%n", "%x%x", "{0}", "${HOME}", "$(true)", "`true`", "; true", "| true", "' OR '1'='1",
           "\"; DROP TABLE tasks; --", "%00", "\\", "\\u0000", "\\x00", "{\"a\":1}", "\"}", "null", "[]", "true"]
REQUEST_ID_INVALID = ["", " ", "a b", "é", "x" * 129, "/", "../x", "a\x00", "<id>", "id;", "{1}", "a\nb", "\u202e",
                      "x" * 1000, "x" * 4096, "%", "id/..", "tab\t", "🙂"]
NETWORK_SAFE = ["", "127.0.0.1:1", "[::1]:1", "localhost:1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
                "127.0.0.1:", "127.0.0.1:99999999999999999999", "127.0.0.1:abc", ":1", ":", "[", "[::1", "[::1]x",
                "[::1]:0", "[]:1", "127.0.0.1:1\x00", "127.0.0.1:1\n", "127.0.0.1:<&>", "127.0.0.1:" + "9" * 300,
                "[" + "x" * 300 + "]:1", "127.0.0.1:1 ", "127.0.0.1:\u0661"]

GUEST_NAME_EXTRA = ["test", "a", "-", "_", ".", "..", "a" * 255, "a" * 256, "name with space", "UPPER", "x/y", "x:y"]
UUIDS = ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "6695eb01-f6a4-8304-79aa-97f2502e193f",
         "6695EB01-F6A4-8304-79AA-97F2502E193F", "6695eb01f6a4830479aa97f2502e193f", "{6695eb01-f6a4-8304-79aa-97f2502e193f}",
         "6695eb01-f6a4-8304-79aa-97f2502e193", "6695eb01-f6a4-8304-79aa-97f2502e193fg", "not-a-uuid"]

CGROUP_FILES = ["cpu.weight", "cpu.weight.nice", "cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems",
                "cpuset.cpus.partition", "memory.min", "memory.low", "memory.high", "memory.max", "memory.swap.high",
                "memory.swap.max", "memory.zswap.max", "memory.oom.group", "io.weight", "io.max", "pids.max",
                "hugetlb.2MB.max", "hugetlb.1GB.max", "hugetlb.2MB.rsvd.max", "hugetlb.3MB.max", "hugetlb..max",
                "memory.maxx", "cpu.stat", "memory.current", "../memory.max", "/memory.max", "memory.max\x00", "",
                " memory.max", "MEMORY.MAX", "memory/max", "..", "io.max ", "pids.max\n"]
CGROUP_VALUES = ["max", "0", "1", "-1", "512M", "512MiB", "50000 100000", "max 100000", "0 0", "1 1", "100000 0",
                 "18446744073709551615", "18446744073709551616", "8:0 rbps=1M", "8:0 wbps=max", "8:0", "8:0 bogus=1",
                 "8 rbps=1", "0-1", "0", "0-65535", "1-0", "0,,1", "bogus", "1e9", "", " ", "\n", "yes", "2",
                 "10000", "10001", "-20", "20", "1.5", "max max", "50000 100000 1"]

PROFILE_NAMES = ["quick", "standard", "soak"]


# ---------------------------------------------------------------------------------------------
# Scratch directory and burn-in safety


class BurnInSafety:
    """What BurnIn.Start may name: disk targets inside the scratch directory only."""

    def __init__(self, scratch: Optional[str]):
        self.scratch = os.path.realpath(scratch) if scratch else None
        self.created: list[str] = []
        self.made_scratch = bool(self.scratch) and not os.path.exists(self.scratch)
        self.targets: list[str] = [""]
        self.baselines: list[str] = ["/nonexistent/nodeagent-fuzz-baseline", "relative/baseline", "", "baseline.json"]
        if self.scratch:
            self._fixtures()

    def _fixtures(self) -> None:
        d = self.scratch
        os.makedirs(d, exist_ok=True)

        def mk(name: str, kind: str, target: str = "") -> str:
            path = os.path.join(d, name)
            if os.path.lexists(path):
                return path
            if kind == "dir":
                os.makedirs(path, exist_ok=True)
            elif kind == "file":
                with open(path, "wb") as f:
                    f.write(b"\0" * 4096)
            elif kind == "link":
                os.symlink(target, path)
            elif kind == "report":
                with open(path, "w") as f:
                    f.write(target)
            self.created.append(path)
            return path

        mk("sub", "dir")
        mk("existing-file", "file")
        mk("link-in", "link", os.path.join(d, "sub"))
        mk("link-out", "link", "/nonexistent/x")
        mk("link-loop", "link", os.path.join(d, "link-loop"))
        mk("dir with space", "dir")
        mk("<xml>&'\"", "dir")
        mk("ü-dir", "dir")
        mk("baseline", "dir")
        mk("baseline/garbage.json", "report", "{not json")
        mk("baseline/empty.json", "report", "{}")
        mk("baseline/schema.json", "report", json.dumps({"schema": "nodeagent.burnin.report/1", "host": {}, "checks": [], "probes": []}))
        base = os.path.basename(d)
        candidates = [
            d, d + "/", d + "/sub", d + "/sub/", d + "/new-file", d + "/sub/new-file", d + "/existing-file", d + "/link-in",
            d + "/link-in/new", d + "/link-out", d + "/link-loop", d + "/nonexistent-dir/file", d + "/sub/../new2",
            d + "/sub/./x", d + "//sub", d + "/<xml>&'\"", d + "/<xml>&'\"/f", d + "/dir with space/f", d + "/ü-dir/f",
            d + "/" + "a" * 255, d + "/" + "a" * 256, d + "/" + "a/" * 2100, d + "/x\x01y", d + "/x\x00y",
            d + "/../" + base + "/sub", d + "/sub/\u202efile", d + "/-rf", d + "/.hidden",
        ]
        self.targets += [t for t in candidates if self.disk_target_ok(t)]
        self.baselines += [d + "/baseline", d + "/baseline/garbage.json", d + "/baseline/empty.json", d + "/existing-file",
                           d + "/link-out", d + "/nonexistent.json"]
        self.baselines = [b for b in self.baselines if self.baseline_ok(b)]

    def cleanup(self) -> None:
        for path in reversed(self.created):
            try:
                if os.path.islink(path) or os.path.isfile(path):
                    os.unlink(path)
                elif os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass
        if self.made_scratch:
            try:
                os.rmdir(self.scratch)  # only if empty
            except OSError:
                pass

    def _inside(self, path: str) -> bool:
        return self.scratch is not None and (path == self.scratch or path.startswith(self.scratch + "/"))

    def _path_ok(self, value: str) -> bool:
        """An absolute path that stays inside the scratch directory, read lexically, through the
        symbolic links that exist, and cut at a NUL byte (as a C call would read it); or one that
        leads under /nonexistent."""
        if self.scratch is None or not value.startswith("/"):
            return False
        for candidate in {value, value.split("\x00", 1)[0]}:
            if not candidate.startswith("/") or not self._inside(os.path.normpath(candidate)):
                return False
        try:
            real = os.path.realpath(value.split("\x00", 1)[0])
        except (OSError, ValueError):
            return False
        return self._inside(real) or real == "/nonexistent" or real.startswith("/nonexistent/")

    def disk_target_ok(self, value: str) -> bool:
        return value == "" or self._path_ok(value)

    def network_ok(self, value: str) -> bool:
        return value in NETWORK_SAFE

    def baseline_ok(self, value: str) -> bool:
        if value == "" or value.startswith("/nonexistent/"):
            return "\x00" not in value and ".." not in value
        if not value.startswith("/"):
            return True  # refused as not absolute; never a file the agent reads
        return self._path_ok(value)


# ---------------------------------------------------------------------------------------------
# Burn-in profiles


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


NAN, INF = float("nan"), float("inf")
# Per probe option: (tiny valid values, values certainly refused). [disk] options are validated
# only with a disk target, so they never count as the reason a profile is refused.
PROBE_OPTIONS: dict[str, dict[str, tuple[list, list]]] = {
    "cpu": {
        "duration": ([1, 1.0], [0, -1, 604801, 1e300, "1", True, [1], NAN, INF, 0.5]),
        "burst": ([0.5], [0.1, 3601, "x", -1.0]),
        "kernels": ([["integer"], "integer"], [["nope"], [], [1], "", ["integer", "bogus"]]),
        "cores": ([[0], 0], [[-1], [65536], "0", [], [0.5], [[0]]]),
        "slow_threshold": ([15], [0, 91, "x"]),
        "nice": ([19], [-21, 20, 1.5, "0"]),
        "rt_priority": ([], [0, 100, "1"]),
        "durtion": ([], [1]),
    },
    "memory": {
        "bandwidth": ([False], ["no", 0, [True]]),
        "bandwidth_passes": ([2], [1, 10001, 2.5, "2"]),
        "array_size": ([], ["1KiB", -1, "abc", "2TiB", "1EiB", 1.5]),
        "threads": ([["single"]], [["none"], [], 1]),
        "pattern_size": (["1MiB"], ["91%", "101%", "0%", "-5%", "abc%", "1EiB", -1, "2PiB", "100%", "%"]),
        "pattern_passes": ([1], [0, 10001]),
        "pattern_pass_limit": ([1], [0, 1001]),
        "patterns": ([["solid-bits"]], [["bogus"], []]),
        "lock": ([False], ["false"]),
        "cores": ([[0]], [[-1]]),
    },
    "network": {
        "server": (["127.0.0.1:1"], ["127.0.0.1:0", "127.0.0.1:65536", "[::1", ":1", "", 5]),
        "duration": ([0.1], [0, 86401, "1"]),
        "streams": ([1], [0, 1025, [], ["1"]]),
        "directions": ([["client-to-server"]], [["sideways"], []]),
        "message_size": ([1], [0, "17MiB"]),
        "receive_spin_us": ([0], [10001, -1, 0.5]),
        "rtt": ([False], ["yes"]),
        "rtt_duration": ([0.1], [0.05, 3601]),
        "udp": ([False], [1]),
        "udp_rate": ([], [999, 4e12]),
        "udp_duration": ([0.1], [0, 86401]),
        "connect_timeout": ([0.1], [0.05, 601]),
    },
    "health": {  # never valid: a [health] section always carries a refused option
        "smart": ([], ["yes", 1]),
        "devices": ([], [[], [""], 5]),
        "smartctl_timeout": ([], [0, 601, "30"]),
    },
    "disk": {
        "size": (["1MiB"], ["1KiB", 0, -1, "2EiB", "abc"]),
        "phase_duration": ([0.1], [0, 86401]),
        "phases": ([["seq_write"]], [["bogus"], []]),
        "fsync_duration": ([0.1], [0]),
        "seq_block_size": ([4096], [4095, "128MiB"]),
        "seq_queue_depth": ([1], [0, 1025]),
        "rand_block_size": ([4096], [1000]),
        "rand_queue_depth": ([1], [0]),
        "engine": (["psync"], ["fast"]),
        "direct": ([False], ["no"]),
    },
}
CHECK_METRICS = ["disk.seq_write.throughput", "cpu.total.throughput", "memory.triad.bandwidth", "network.rtt.latency_p99",
                 "health.smart.devices", "cpu.errors"]
DELIBERATE_PROFILES = [
    ('name = "fuzz-empty"\ndescription = "no probes"\n', False),
    ('name = "fuzz-cpu"\n[cpu]\nduration = 1\nkernels = ["integer"]\ncores = [0]\n', False),
    ('name = "fuzz-disk"\n[disk]\nsize = "1MiB"\nphase_duration = 0.1\nphases = ["seq_write"]\ndirect = false\n'
     'engine = "psync"\nseq_queue_depth = 1\n', True),
]
POISON_KEY = "fuzz_unknown_key = 1\n"


def toml_potentially_valid(text: str) -> bool:
    """Whether the agent might accept this profile text: it parses (as Python reads TOML) and has a
    non-empty string name. Text that does not parse is taken as refused."""
    try:
        table = tomllib.loads(text.removeprefix("\ufeff"))  # the agent's TOML reader skips a byte order mark
    except Exception:  # TOMLDecodeError, RecursionError, ...
        return False
    name = table.get("name")
    return isinstance(name, str) and name != ""


# ---------------------------------------------------------------------------------------------
# The world the fuzzer learns: what exists on the agent


class World:
    def __init__(self) -> None:
        self.guests: list[str] = ["test"]  # libvirt's test driver defines "test"
        self.tasks: list[str] = []
        self.task_request_ids: list[str] = []
        self.task_state: dict[str, int] = {}
        self.task_kind: dict[str, str] = {}
        self.volumes: list[str] = []
        self.pools: list[str] = ["default-pool"]
        self.cgroups: list[str] = [""]
        self.sequence = 0
        self.burnin_tasks: list[str] = []
        self.outcomes: dict[str, tuple] = {}  # task id -> (kind, state, error code, reason, message) once terminal

    @staticmethod
    def _add(items: list, value: str, cap: int = 300) -> None:
        if value and value not in items:
            items.append(value)
            if len(items) > cap:
                del items[0]

    def learn(self, message) -> None:
        """Walks a response message and remembers guests, tasks, volumes, cgroups, sequences."""
        name = message.DESCRIPTOR.full_name
        if name == "nodeagent.v1.Task":
            self._add(self.tasks, message.id)
            self._add(self.task_request_ids, message.request_id)
            if message.id:
                self.task_state[message.id] = message.state
                self.task_kind[message.id] = message.kind
        elif name == "nodeagent.v1.Guest":
            self._add(self.guests, message.name, 100)
            self._add(self.guests, message.uuid, 100)
        elif name == "nodeagent.v1.Volume":
            self._add(self.volumes, message.name, 100)
            self._add(self.pools, message.pool, 20)
        elif name == "nodeagent.v1.Pool":
            self._add(self.pools, message.name, 20)
        elif name in ("nodeagent.v1.CGroupEntry", "nodeagent.v1.CGroupStats"):
            self._add(self.cgroups, message.path, 100)
        elif name == "nodeagent.v1.Event":
            self.sequence = max(self.sequence, message.sequence)
        if name == "nodeagent.v1.Task" and message.id and message.state in (3, 4, 5):
            error = message.error
            self.outcomes[message.id] = (message.kind, message.state, error.code, error.reason, error.message[:300])
        for f, value in message.ListFields():
            if f.message_type is None or is_map(f):
                continue
            if f.is_repeated:
                for item in value:
                    self.learn(item)
            else:
                self.learn(value)


# ---------------------------------------------------------------------------------------------
# Generation


@dataclass
class Request:
    method: Method
    strategy: str
    payload: bytes
    message: Any = None  # the message when the strategy built one
    detail: str = ""
    deliberate_burnin: bool = False
    poisoned_burnin: bool = False  # a burn-in request built to be refused
    request_id: Optional[str] = None
    content: Optional[bytes] = None  # the request without its request_id, for the request-id checks

    def text(self, limit: int = 500) -> str:
        if self.message is not None:
            body = short_text(self.message)
        else:
            head = self.payload[:160].hex()
            body = f"hex:{head}{'...' if len(self.payload) > 160 else ''} ({len(self.payload)} bytes)"
            try:  # what a decoder makes of it, when one can
                decoded = message_class(self.method.input).FromString(self.payload)
                body += f" = {short_text(decoded)[:300]}"
            except Exception:
                pass
        return body if len(body) <= limit else body[:limit] + "..."


def short_text(message) -> str:
    copy = type(message)()
    copy.CopyFrom(message)
    _shorten(copy)
    return text_format.MessageToString(copy, as_one_line=True, as_utf8=True) or "(empty)"


def _short(value: str) -> str:
    return value if len(value) <= 120 else f"{value[:60]}...(+{len(value) - 60} chars)"


def _shorten(message) -> None:
    for f, value in message.ListFields():
        if is_map(f):
            items = list(value.items())
            message.ClearField(f.name)
            target = getattr(message, f.name)
            value_field = f.message_type.fields_by_name["value"]
            for k, v in items[:20]:
                k = _short(k) if isinstance(k, str) else k
                if value_field.message_type is not None:
                    target[k].CopyFrom(v)
                    _shorten(target[k])
                else:
                    target[k] = _short(v) if isinstance(v, str) else v
        elif f.message_type is not None:
            if f.is_repeated:
                if len(value) > 20:
                    del value[20:]
                for item in value:
                    _shorten(item)
            else:
                _shorten(value)
        elif f.type == FieldDescriptor.TYPE_STRING:
            if f.is_repeated:
                items = [_short(v) for v in value[:20]]
                del value[:]
                value.extend(items)
            else:
                setattr(message, f.name, _short(value))
        elif f.is_repeated and len(value) > 20:
            del value[20:]


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint((number << 3) | wire)


def length_delimited(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


class Generator:
    def __init__(self, rng: random.Random, world: World, safety: BurnInSafety, seed: int):
        self.rng = rng
        # Choices among what the agent answered (guests, tasks, volumes...) draw from their own
        # stream, so the sequence of requests a seed makes does not depend on the agent's answers.
        self.wrng = random.Random(seed * 7919 + 1)
        self.world = world
        self.safety = safety
        self.seed = seed
        self.counter = 0
        self.used_request_ids: list[str] = []
        self.huge_budget = 0
        self._big: dict[tuple[str, int], str] = {}
        self.profiles_refused: set[str] = set()  # profile texts built to be refused

    # -- small helpers
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items):
        return items[self.rng.randrange(len(items))]

    def wpick(self, items, fallback):
        """One of what the agent answered, or `fallback` when there is none."""
        items = items or fallback
        return items[int(self.wrng.random() * len(items))]

    def big(self, n: int, ch: str = "a") -> str:
        k = (ch, n)
        if k not in self._big:
            self._big[k] = ch * n
        return self._big[k]

    def fresh_id(self, prefix: str = "fz") -> str:
        self.counter += 1
        rid = f"{prefix}-{self.seed}-{self.counter}"
        self.used_request_ids.append(rid)
        if len(self.used_request_ids) > 500:
            del self.used_request_ids[0]
        return rid

    def request_id(self) -> str:
        r = self.rng.random()
        if r < 0.78 or not self.used_request_ids:
            return self.fresh_id()
        if r < 0.88:
            return self.pick(self.used_request_ids)  # reused, probably for other content
        if r < 0.9:
            return "x" * 128  # the longest valid id
        return self.pick(REQUEST_ID_INVALID)

    def nasty_string(self) -> str:
        r = self.rng.random()
        if r < 0.14:
            return self.pick(XML_SPECIALS)
        if r < 0.26:
            return self.pick(CONTROLS)
        if r < 0.40:
            return self.pick(UNICODE)
        if r < 0.52:
            return self.pick(PATHS)
        if r < 0.60:
            return self.pick(NUMERIC)
        if r < 0.66:
            return self.pick(FORMATS)
        if r < 0.72:
            return ""
        if r < 0.88:
            return self.big(self.pick([255, 256, 1024, 4095, 4096, 4097, 65535, 65536]), self.pick(["a", "/", "é", "<", "\x01"]))
        if r < 0.91 and self.huge_budget > 0:
            self.huge_budget -= 1
            return self.big(self.pick([MIB - 1, MIB, MIB + 1]), self.pick(["a", "é"]))
        # a mix
        parts = [self.pick(XML_SPECIALS + CONTROLS + UNICODE + PATHS) for _ in range(self.rng.randint(2, 6))]
        return "".join(parts)

    # -- values by field
    def string_for(self, f, plausible: bool) -> str:
        """A string for field `f`: plausible for its name, or hostile."""
        if not plausible and self.chance(0.55):
            return self.nasty_string()
        name = f.name
        owner = f.containing_type.full_name
        w = self.world
        if name == "request_id":
            return self.request_id() if not plausible else (self.fresh_id() if self.chance(0.95) else self.pick(self.used_request_ids or ["x"]))
        if name == "guest":
            return self.wpick(w.guests, ["test"]) if self.chance(0.85) else self.pick(GUEST_NAME_EXTRA + UUIDS)
        if owner == "nodeagent.v1.GuestSpec":
            if name == "name":
                return f"fz{self.seed}-g{self.counter}-{self.rng.randrange(10**6)}" if plausible else self.pick(GUEST_NAME_EXTRA)
            if name == "uuid":
                return "" if plausible else self.pick(UUIDS)
            if name == "memory":
                return "128MiB" if plausible else self.pick(SIZES)
            if name == "domain_type":
                return self.pick(["", "test"]) if plausible else self.pick(["kvm", "qemu", "test", "xen", "lxc", "KVM", "bogus"])
            if name == "serial_log":
                return "" if plausible else self.pick(["/var/log/x.log", "relative.log", "/dev/null"] + PATHS)
        if owner == "nodeagent.v1.GuestSpec.Boot":
            return {"mode": "kernel", "kernel": "/var/lib/nodeagent/test/vmlinuz", "initrd": "", "cmdline": "console=ttyS0"}[name] \
                if plausible else self.pick({"mode": ["kernel", "bios", "uefi", "direct", "KERNEL", ""],
                                             "kernel": PATHS, "initrd": PATHS, "cmdline": ["console=ttyS0", "a" * 4097, "\n"]}[name])
        if owner == "nodeagent.v1.GuestSpec.Disk.Source":
            if name == "pool":
                return self.wpick(w.pools, ["default-pool"]) if self.chance(0.8) else "nope"
            if name == "volume":
                return self.wpick(w.volumes, ["vol"]) if self.chance(0.8) else "nope"
            table = {"type": ["volume", "file", "block", "network", "bogus"], "path": ["/var/lib/nodeagent/test/disk.img"] + PATHS}
            return self.pick(table[name])
        if owner == "nodeagent.v1.GuestSpec.Disk":
            table = {"format": ["qcow2", "raw", "vmdk", "iso", ""], "target": ["vda", "vdb", "sda", "hda", "vd", "vdaaaa", "xvda"],
                     "bus": ["virtio", "sata", "scsi", "ide", "usb", "xen"], "cache": ["none", "writeback", "writethrough", "unsafe", "bogus"]}
            return self.pick(table.get(name, SIZES))
        if owner == "nodeagent.v1.GuestSpec.Disk.IOTune":
            return self.pick(SIZES)
        if owner == "nodeagent.v1.GuestSpec.NIC":
            table = {"type": ["network", "bridge", "user", "direct", "bogus"], "network": ["default", "nope"],
                     "bridge": ["br0", "virbr0"], "model": ["virtio", "e1000", "rtl8139", "bogus"],
                     "mac": ["52:54:00:12:34:56", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "52:54:00:12:34", "zz:zz:zz:zz:zz:zz",
                             "52-54-00-12-34-56", ""]}
            return self.pick(table[name])
        if owner == "nodeagent.v1.Tunables.Memory":
            return self.pick(["256MiB", "64MiB", "max", "unlimited"] + SIZES) if not plausible else "256MiB"
        if name in ("pool", "target_pool"):
            known = plausible or self.chance(0.5)
            return self.wpick(w.pools, ["default-pool"]) if known else self.pick(["nope", "a/b", "..", "default-pool\x00"])
        if owner in ("nodeagent.v1.CreateVolumeRequest", "nodeagent.v1.CloneVolumeRequest") and name == "name":
            if plausible:
                return f"fz{self.seed}-v{self.counter}.img"
            return self.pick(["a/b", "..", "x" * 256, "vol"]) if self.chance(0.8) else self.wpick(w.volumes, ["vol"])
        if owner in ("nodeagent.v1.DeleteVolumeRequest", "nodeagent.v1.ResizeVolumeRequest") and name == "name":
            return self.wpick(w.volumes, ["nope.img"])
        if name == "source":
            return self.wpick(w.volumes, ["nope.img"])
        if name in ("capacity", "allocation"):
            return self.pick(["1MiB", "16MiB", "64KiB"]) if plausible else self.pick(SIZES)
        if name == "format":
            return self.pick(["qcow2", "raw", ""]) if plausible else self.pick(["vmdk", "QCOW2", "iso", "bogus"])
        if owner.startswith("nodeagent.v1.") and "CGroup" in owner and name == "path":
            return self.wpick(w.cgroups, [""]) if plausible else self.pick(["/", "..", "a/../b", "a//b", "/a/", "a\x00b", "nope", "."] + PATHS)
        if name == "settings":
            return self.cgroup_setting(plausible)
        if name in ("id", "task_id"):
            known = plausible or self.chance(0.5)
            invented = self.pick(["nope", "x" * 129] + UUIDS)
            return self.wpick(w.tasks + w.task_request_ids, [invented]) if known else invented
        if name == "kinds":
            return self.pick(["guest.", "guest.start", "volume.", "burnin.run", "cgroup.set", "", ".", "guest", "x" * 65])
        if name == "target":
            return self.pick(["", "host", "/", "default-pool/x", self.wpick(w.guests, ["test"])])
        if name == "profile_name":
            return self.pick(["quick", "standard", "soak", "Quick", "quick ", "nope", "", "../quick", "/etc/passwd"])
        if name == "profile_toml":
            return self.profile_text()
        if name == "disk_target":
            return self.pick(self.safety.targets)
        if name == "network_server":
            return self.pick(NETWORK_SAFE)
        if name == "baseline_path":
            return self.pick(self.safety.baselines)
        if name == "name":
            return f"fz{self.seed}-{self.counter}"
        return self.pick(["x", "default", "1"]) if plausible else self.nasty_string()

    def cgroup_setting(self, plausible: bool) -> str:
        if plausible:
            return self.pick(["memory.max=512M", "pids.max=64", "cpu.max=50000 100000", "cpu.weight=100", "memory.high=max",
                              "io.weight=100", "memory.low=0"])
        r = self.rng.random()
        if r < 0.6:
            return f"{self.pick(CGROUP_FILES)}={self.pick(CGROUP_VALUES)}"
        if r < 0.8:
            return self.pick(["", "=", "memory.max", "memory.max==1", "=1", "memory.max =1", "memory.max= 1 "])
        return f"{self.pick(CGROUP_FILES)}={self.nasty_string()}"

    def int_for(self, f, plausible: bool) -> int:
        name = f.name
        if plausible:
            table = {"vcpus": 1, "grace_seconds": 1, "depth": self.pick([0, 1, 2]), "limit": self.pick([0, 10]),
                     "after_sequence": self.pick([0, max(0, self.world.sequence - 3)]), "shares": 512, "period": 100000,
                     "quota": 50000, "emulator_period": 100000, "emulator_quota": 50000, "weight": 500, "stats_period": 10}
            if name in table:
                return table[name]
        if name == "states" or (f.enum_type is not None):
            return self.enum_value(f)
        extremes = INT_EXTREMES[f.cpp_type]
        special = {"vcpus": [0, 1, 255, 256, 4096], "grace_seconds": [0, 86400, 86401], "depth": [64, 65],
                   "limit": [10000, 10001], "weight": [0, 1, 10, 1000, 10000, 10001], "shares": [0, 1, 2, 262144, 262145],
                   "period": [0, 999, 1000, 1000000, 1000001], "after_sequence": [self.world.sequence, self.world.sequence + 10**6]}
        pool = extremes + special.get(name, [])
        return self.pick(pool)

    def enum_value(self, f) -> int:
        known = [v.number for v in f.enum_type.values]
        return self.pick(known + [999, -1, 2**31 - 1, -(2**31), max(known) + 1])

    def scalar(self, f, plausible: bool):
        t = f.cpp_type
        if t == FieldDescriptor.CPPTYPE_STRING:
            if f.type == FieldDescriptor.TYPE_BYTES:
                return self.rng.randbytes(self.pick([0, 1, 16, 4096]))
            return self.string_for(f, plausible)
        if t == FieldDescriptor.CPPTYPE_BOOL:
            if plausible and f.name in ("force", "no_destroy", "delete_volumes", "allow_shrink"):
                return self.chance(0.2)
            return self.chance(0.5)
        if t in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
            v = self.pick(FLOATS)
            if t == FieldDescriptor.CPPTYPE_FLOAT and math.isfinite(v) and abs(v) > 3e38:
                v = math.copysign(3e38, v)
            return v
        if t == FieldDescriptor.CPPTYPE_ENUM:
            if plausible:
                return self.pick([v.number for v in f.enum_type.values])
            return self.enum_value(f)
        return self.int_for(f, plausible)

    # -- messages
    def set_field(self, msg, f, plausible: bool, depth: int) -> None:
        if is_map(f):
            target = getattr(msg, f.name)
            key_field = f.message_type.fields_by_name["key"]
            value_field = f.message_type.fields_by_name["value"]
            n = self.pick([0, 1, 2, 3, 50]) if not plausible else self.pick([0, 1, 2])
            for _ in range(n):
                k = self.scalar(key_field, plausible) if not plausible else self.pick(["suite", "role", "owner.team", "a"])
                if value_field.message_type is not None:
                    target[k].CopyFrom(self.message(value_field.message_type, plausible, depth + 1))
                else:
                    target[k] = self.scalar(value_field, plausible) if not plausible else self.pick(["fuzz", "x", ""])
            return
        if f.is_repeated:
            n = self.pick([0, 1, 2, 3, 10, 200]) if not plausible else self.pick([1, 1, 2])
            target = getattr(msg, f.name)
            for _ in range(n):
                if f.message_type is not None:
                    target.add().CopyFrom(self.message(f.message_type, plausible, depth + 1))
                else:
                    target.append(self.scalar(f, plausible))
            return
        if f.message_type is not None:
            getattr(msg, f.name).CopyFrom(self.message(f.message_type, plausible, depth + 1))
            return
        setattr(msg, f.name, self.scalar(f, plausible))

    def message(self, desc, plausible: bool, depth: int = 0):
        cls = message_class(desc)
        msg = cls()
        if desc.full_name == "nodeagent.v1.GuestSpec" and plausible:
            return self.guest_spec()
        if desc.full_name == "nodeagent.v1.Tunables" and plausible:
            return self.tunables()
        if desc.full_name.startswith("google.protobuf.") and plausible:
            return msg
        if depth > 5:
            return msg
        oneofs_done: set[str] = set()
        for f in desc.fields:
            if f.containing_oneof is not None and len(f.containing_oneof.fields) > 1:
                group = f.containing_oneof.name
                if group in oneofs_done:
                    continue
                oneofs_done.add(group)
                if plausible or self.chance(0.75):
                    members = list(f.containing_oneof.fields)
                    rich = [m for m in members if m.name == "profile_toml"]  # the member with the most to parse
                    member = rich[0] if rich and self.chance(0.75) else self.pick(members)
                    self.set_field(msg, member, plausible, depth)
                continue
            if plausible:
                if self.plausible_wants(f, depth):
                    self.set_field(msg, f, True, depth)
            elif depth == 0 and f.name in ("request_id", "guest", "spec", "pool", "id", "task_id") and self.chance(0.85):
                # The fields every call checks first: mostly present, so the rest gets looked at.
                self.set_field(msg, f, self.chance(0.6), depth)
            elif self.chance(0.6 if depth == 0 else 0.45):
                self.set_field(msg, f, False, depth)
        return msg

    def plausible_wants(self, f, depth: int) -> bool:
        name = f.name
        if name in ("request_id", "guest", "pool", "name", "capacity", "id", "task_id", "settings", "source", "spec"):
            return True
        if name == "tunables":
            return True
        if name in ("path",) and depth == 0:
            return True
        if name in ("disks", "nics", "iotune", "memballoon", "labels", "initrd", "cmdline"):
            return self.chance(0.3)
        if f.message_type is not None and not is_map(f):
            return self.chance(0.5)
        return self.chance(0.35)

    def tunables(self):
        """One to three values libvirt's limits accept."""
        t = message_class(_desc_by_name["nodeagent.v1.Tunables"])()
        setters = [
            lambda: setattr(t.cpu, "shares", self.pick([2, 512, 1024, 262144])),
            lambda: (setattr(t.cpu, "period", 100000), setattr(t.cpu, "quota", self.pick([-1, 1000, 50000]))),
            lambda: setattr(t.cpu, "emulator_period", 100000),
            lambda: setattr(t.memory, "hard_limit", self.pick(["256MiB", "128MiB"])),
            lambda: setattr(t.memory, "soft_limit", "64MiB"),
            lambda: setattr(t.memory, "swap_hard_limit", "512MiB"),
            lambda: setattr(t.blkio, "weight", self.pick([100, 500, 1000])),
        ]
        for setter in self.rng.sample(setters, self.rng.randint(1, 3)):
            setter()
        return t

    def guest_spec(self):
        spec = message_class(_desc_by_name["nodeagent.v1.GuestSpec"])()
        spec.name = f"fz{self.seed}-g{self.counter}-{self.rng.randrange(10**6)}"
        self.counter += 1
        spec.memory = "128MiB"
        spec.vcpus = 1
        spec.boot.mode = "kernel"
        spec.boot.kernel = "/var/lib/nodeagent/test/vmlinuz"
        spec.labels["suite"] = "fuzz"
        if self.chance(0.2):
            spec.tunables.cpu.shares = 512
        if self.chance(0.15):
            spec.memballoon.stats_period = 10
        return spec

    # -- burn-in profiles
    def profile_text(self) -> str:
        r = self.rng.random()
        if r < 0.65:
            text = self.structured_profile()
        elif r < 0.85:
            text = self.garbage_profile()
        else:
            text = self.mutate_text(self.structured_profile())
        return self.refuse_profile(text)

    def structured_profile(self) -> str:
        """A profile from parts, each valid and tiny or certainly refused; one that could be
        accepted gets an unknown option in an enabled section."""
        rng = self.rng
        refused = False
        top: list[tuple[str, Any]] = []
        r = rng.random()
        if r < 0.8:
            top.append(("name", self.pick(["fuzz", "x", self.nasty_string() or "x"])))
        elif r < 0.9:
            top.append(("name", self.pick(["", 5, True, ["a"]])))
            refused = True
        else:
            refused = True  # no name
        if self.chance(0.4):
            top.append(("description", self.pick(["", "d", self.nasty_string()])))
        if self.chance(0.1):
            top.append((self.pick(["nmae", "probes", "Name", "check_", "version"]), 1))
            refused = True
        sections: dict[str, dict[str, Any]] = {}
        for probe in rng.sample(sorted(PROBE_OPTIONS), rng.randint(0, 4)):
            options: dict[str, Any] = {}
            if probe == "health":
                refused_here = True
            else:
                refused_here = False
            for opt in rng.sample(sorted(PROBE_OPTIONS[probe]), rng.randint(0, 3)):
                good, bad = PROBE_OPTIONS[probe][opt]
                if good and self.chance(0.5):
                    options[opt] = self.pick(good)
                else:
                    options[opt] = self.pick(bad)
                    if probe != "disk":
                        refused_here = True
            if probe == "health" and not any(opt in options for opt in PROBE_OPTIONS["health"]):
                options["smart"] = "yes"
            if self.chance(0.1):
                options["enabled"] = self.pick([True, "yes", 1])
                if options["enabled"] is not True:
                    refused = True
            if refused_here:
                refused = True
            sections[probe] = options
        if self.chance(0.05):
            sections[self.pick(["gpu", "Disk", "net"])] = {"x": 1}
            refused = True
        checks: list[dict[str, Any]] = []
        for _ in range(rng.choice([0, 0, 1, 2])):
            check: dict[str, Any] = {"metric": self.pick(CHECK_METRICS)}
            k = rng.random()
            if k < 0.3:
                check["min"] = self.pick([0, 1.5, -1, 1e308])
            elif k < 0.5:
                check["min_baseline_ratio"] = self.pick([0.9, 1])
            elif k < 0.6:
                check["min_baseline_ratio"] = self.pick([0, 1.5, -0.1, NAN])
                refused = True
            elif k < 0.7:
                check["metric"] = self.pick(["bogus", "", "gpu.x", "cpu", 5])
                refused = True
            elif k < 0.8:
                check["bogus_key"] = 1
                refused = True
            elif k < 0.85:
                del check["metric"]
                refused = True
            checks.append(check)
        if not refused:
            enabled = [p for p in ("cpu", "memory", "network") if p in sections]
            probe = self.pick(enabled) if enabled else "cpu"
            sections.setdefault(probe, {})
            sections[probe].pop("enabled", None)
            sections[probe]["fuzz_unknown_option"] = 1
        lines = [f"{k} = {toml_value(v)}" for k, v in top]
        for probe, options in sections.items():
            if self.chance(0.03):
                lines.append(f"{probe} = 5")  # not a table
                continue
            lines.append(f"[{probe}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in options.items()]
        for check in checks:
            lines.append("[[check]]")
            lines += [f"{k} = {toml_value(v)}" for k, v in check.items()]
        text = "\n".join(lines) + "\n"
        self.profiles_refused.add(text)
        return text

    def garbage_profile(self) -> str:
        n = self.pick([10, 1000, 20000, 60000])
        return self.pick([
            "", " ", "\n", "name", "name =", "name = ", 'name = "x"\nname = "y"\n', "[cpu", "[[check]", 'name = "x"\n[cpu]\n[cpu]\n',
            'name = """', "name = '\x00'", "\ufeffname = \"x\"\n", 'name = "x"\r\n[cpu]\r\nduration = 1\r\n',
            "a = " + "[" * min(n, 30000) + "]" * min(n, 30000), "a = " + "[" * n, "a = " + "{b = " * min(n, 6000) + "1" + "}" * min(n, 6000),
            "[" + "a." * min(n, 30000) + "a]", "name = 1979-05-27T07:32:00Z", "name = 0x7fffffffffffffffff", "name = 1e99999",
            "x" * (64 * 1024), "x" * (64 * 1024 + 1), "é" * (32 * 1024 + 1), "# " + "c" * 70000, self.nasty_string(),
            'name = "x"\n[cpu]\nduration = 1\n' + "[cpu.deeper]\n",  # a sub-table as an option
            'name = "x"\n[cpu.x]\n', 'name = "x"\ncheck = 5\n', 'name = "x"\n[[check]]\n', '[[cpu]]\nname="x"\n',
            'name = "' + "\\u0000" + '"\n', 'name = "\\uD800"\n', 'name = "x"\n[network]\nserver = "127.0.0.1:1"\nenabled = "no"\n',
        ]) if self.chance(0.7) else self.pick([
            # malformed table headers and values: a key or a value that cannot start
            'name = "x"\n[}cpu]\n', "[\n", "[[=", "[.a]", "a = [}", "a = {b = [}}", 'name = "x"\n[cpu]\nkernels = [}\n',
            "a..b = 1", "a = {,}", "a = [1,,2]", "[a b]", "a = 1979-13-45", "[ ]", "[[ ]]", 'a = {b = 1,}', "a = [,]",
        ])

    def mutate_text(self, text: str) -> str:
        if not text:
            return self.nasty_string()
        chars = list(text)
        for _ in range(self.rng.randint(1, 4)):
            i = self.rng.randrange(len(chars) + 1)
            op = self.rng.random()
            if op < 0.33 and chars:
                del chars[min(i, len(chars) - 1)]
            elif op < 0.66:
                chars.insert(i, self.pick(["[", "]", "=", '"', "\n", "\x00", ".", "#", "é", "'", "{", "}", ","]))
            elif chars:
                chars[min(i, len(chars) - 1)] = self.pick(["x", "1", " ", "\\"])
        return "".join(chars)

    def refuse_profile(self, text: str) -> str:
        """Profile text the agent must refuse: if it might be accepted, an unknown top-level key."""
        if text in self.profiles_refused or not toml_potentially_valid(text):
            return text
        poisoned = POISON_KEY + text
        self.profiles_refused.add(poisoned)
        return poisoned

    # -- sanitizing (safety)
    def sanitize(self, msg, deliberate: bool = False) -> bool:
        """Makes a message safe to send; returns whether it is a burn-in request built to be refused."""
        name = msg.DESCRIPTOR.full_name
        if name == "nodeagent.v1.SetCGroupLimitsRequest":
            fixed = []
            for s in msg.settings:
                file, sep, value = s.partition("=")
                if file.strip().lower().startswith("cgroup.") or "cgroup." in file:
                    file = file.replace("cgroup.", "cgroupx.")
                if file.strip() == "cpuset.cpus.partition" and value.strip().lower() in ("root", "isolated", "member"):
                    value = "bogus"
                fixed.append(file + sep + value)
            del msg.settings[:]
            msg.settings.extend(fixed)
            return False
        if name != "nodeagent.v1.StartBurnInRequest":
            return False
        s = self.safety
        if not s.disk_target_ok(msg.disk_target):
            msg.disk_target = self.pick(s.targets)
        if not s.network_ok(msg.network_server):
            msg.network_server = self.pick(NETWORK_SAFE)
        if msg.HasField("baseline_path") and not s.baseline_ok(msg.baseline_path):
            msg.baseline_path = self.pick(s.baselines)
        if not s.disk_target_ok(msg.disk_target) or not s.network_ok(msg.network_server):
            raise AssertionError("burn-in request not safe after sanitizing")
        if deliberate:
            return False
        which = msg.WhichOneof("profile")
        if which == "profile_name" and msg.profile_name in PROFILE_NAMES:
            # A built-in profile would run for a minute or more: refused through its baseline.
            msg.baseline_path = "/nonexistent/nodeagent-fuzz-baseline"
        elif which == "profile_toml":
            msg.profile_toml = self.refuse_profile(msg.profile_toml)
        return True

    # -- strategies
    def build(self, method: Method, strategy: str, deliberate: bool = False) -> Request:
        self.huge_budget = 1 if self.chance(0.04) else 0
        if strategy == "random":
            msg = self.message(method.input, plausible=False)
            detail = ""
        elif strategy == "mutate":
            msg = self.message(method.input, plausible=True)
            if deliberate:
                detail = "deliberate tiny burn-in"
                self.deliberate_profile(msg)
            else:
                detail = "; ".join(self.mutate(msg) for _ in range(1 if self.chance(0.8) else self.rng.randint(2, 3)))
        else:
            raise ValueError(strategy)
        poisoned = self.sanitize(msg, deliberate=deliberate)
        return self.finish(method, strategy, msg, detail, deliberate=deliberate, poisoned=poisoned)

    def finish(self, method, strategy, msg, detail, deliberate=False, poisoned=False) -> Request:
        payload = msg.SerializeToString(deterministic=True)
        rid = None
        content = None
        if "request_id" in msg.DESCRIPTOR.fields_by_name:
            rid = msg.request_id
            copy = type(msg)()
            copy.CopyFrom(msg)
            copy.ClearField("request_id")
            content = copy.SerializeToString(deterministic=True)
        return Request(method, strategy, payload, message=msg, detail=detail, deliberate_burnin=deliberate,
                       poisoned_burnin=poisoned, request_id=rid, content=content)

    def deliberate_profile(self, msg) -> None:
        usable = [p for p in DELIBERATE_PROFILES if not p[1] or self.safety.scratch]
        text, needs_disk = usable[self.deliberate_index % len(usable)]
        self.deliberate_index += 1
        msg.profile_toml = text
        msg.force = False
        msg.network_server = ""
        msg.ClearField("baseline_path")
        msg.disk_target = (self.safety.scratch + "/sub") if needs_disk else ""
        msg.request_id = self.fresh_id("fz-burnin")

    deliberate_index = 0

    def slots(self, msg, prefix: str = "", depth: int = 0) -> list[tuple[Any, Any, str]]:
        """Every field of `msg` and of its set sub-messages: (parent, field, path)."""
        out = []
        for f in msg.DESCRIPTOR.fields:
            path = f"{prefix}{f.name}"
            out.append((msg, f, path))
            if depth < 4 and f.message_type is not None and not is_map(f):
                if f.is_repeated:
                    for i, item in enumerate(getattr(msg, f.name)):
                        out += self.slots(item, f"{path}[{i}].", depth + 1)
                elif msg.HasField(f.name):
                    out += self.slots(getattr(msg, f.name), path + ".", depth + 1)
        return out

    def mutate(self, msg) -> str:
        slots = self.slots(msg)
        if not slots:
            return "nothing to mutate"
        parent, f, path = self.pick(slots)
        op = self.rng.random()
        if f.name == "request_id" and self.used_request_ids and op < 0.5:
            parent.request_id = self.pick(self.used_request_ids)
            return f"{path} reused"
        if op < 0.15:
            parent.ClearField(f.name)
            return f"{path} cleared"
        if is_map(f) or f.is_repeated:
            if op < 0.3:
                target = getattr(parent, f.name)
                if is_map(f):
                    for i in range(self.pick([100, 1000])):
                        kf = f.message_type.fields_by_name["key"]
                        vf = f.message_type.fields_by_name["value"]
                        k = f"k{i}" if kf.cpp_type == FieldDescriptor.CPPTYPE_STRING else i
                        if vf.message_type is None:
                            target[k] = self.scalar(vf, False) if vf.cpp_type != FieldDescriptor.CPPTYPE_STRING else "v"
                    return f"{path} many entries"
                n = self.pick([100, 1000, 10000]) if f.message_type is None else self.pick([20, 100])
                for _ in range(n):
                    if f.message_type is not None:
                        target.add()
                    else:
                        target.append(self.scalar(f, True))
                return f"{path} x{n}"
            self.set_field(parent, f, False, 2)
            return f"{path} hostile elements"
        if f.message_type is not None:
            if op < 0.3:
                getattr(parent, f.name).SetInParent()
                getattr(parent, f.name).Clear()
                getattr(parent, f.name).SetInParent()
                return f"{path} empty message"
            getattr(parent, f.name).CopyFrom(self.message(f.message_type, False, 2))
            return f"{path} random message"
        value = self.scalar(f, False)
        setattr(parent, f.name, value)
        shown = repr(value)
        return f"{path}={shown if len(shown) < 60 else shown[:60] + '...'}"

    # -- raw bytes
    def string_paths(self, desc, prefix=(), depth=0) -> list[tuple[int, ...]]:
        out = []
        for f in desc.fields:
            if f.type == FieldDescriptor.TYPE_STRING:
                out.append(prefix + (f.number,))
            elif f.message_type is not None and depth < 4:
                if is_map(f):
                    out.append(prefix + (f.number, 1))  # the map key (a string in this API)
                    vf = f.message_type.fields_by_name["value"]
                    if vf.type == FieldDescriptor.TYPE_STRING:
                        out.append(prefix + (f.number, 2))
                elif not f.message_type.full_name.startswith("google.protobuf."):
                    out += self.string_paths(f.message_type, prefix + (f.number,), depth + 1)
        return out

    def nest(self, path: tuple[int, ...], payload: bytes) -> bytes:
        data = payload
        for number in reversed(path):
            data = length_delimited(number, data)
        return data

    def raw(self, method: Method) -> Request:
        base_msg = self.message(method.input, plausible=self.chance(0.7))
        self.sanitize(base_msg)
        base = base_msg.SerializeToString(deterministic=True)
        rng = self.rng
        ops = ["truncate", "bitflip", "unknown", "utf8", "nesting", "garbage", "varint", "wiretype", "duplicate",
               "empty", "length"]
        op = self.pick(ops)
        data = base
        detail = op
        if op == "truncate" and len(base) >= 2:
            data = base[: rng.randrange(1, len(base))]
        elif op == "bitflip" and base:
            buf = bytearray(base)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(buf))
                buf[i] ^= 1 << rng.randrange(8)
            data = bytes(buf)
        elif op == "unknown":
            number = self.pick([15, 99, 1000, 19000, 19999, 536870911, 16, 2**28])
            wire = self.pick([0, 1, 2, 3, 5, 6, 7])
            if wire == 0:
                extra = key(number, 0) + varint(self.pick([0, 1, 2**64 - 1, 2**63]))
            elif wire == 1:
                extra = key(number, 1) + rng.randbytes(8)
            elif wire == 2:
                extra = length_delimited(number, rng.randbytes(self.pick([0, 1, 100, 5000])))
            elif wire == 3:
                extra = key(number, 3) + key(1, 0) + b"\x01" + key(number, 4)
            elif wire == 5:
                extra = key(number, 5) + rng.randbytes(4)
            else:
                extra = key(number, wire) + rng.randbytes(4)
            data = base + extra if self.chance(0.7) else extra + base
            detail = f"unknown field {number} wire type {wire}"
        elif op == "utf8":
            paths = self.string_paths(method.input)
            bad = self.pick([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"ok\xfe", b"\x80",
                             b"abc\xe2\x82"])
            if paths:
                p = self.pick(paths)
                data = base + self.nest(p, bad)
                detail = f"invalid UTF-8 at field path {'.'.join(map(str, p))}"
            else:
                data = base + length_delimited(15, bad)
        elif op == "nesting":
            depth = self.pick([50, 100, 101, 1000, 20000, 200000])
            kind = self.pick(["group", "length"])
            if kind == "group":
                n = self.pick([15, 1000])
                data = base + key(n, 3) * depth + key(n, 4) * depth
            else:
                inner = b""
                for _ in range(min(depth, 20000)):
                    inner = length_delimited(15, inner)
                data = base + inner
            paths = [p for p in self.string_paths(method.input) if len(p) > 1]
            if paths and self.chance(0.3):
                p = self.pick(paths)[:-1]
                data = base + self.nest(p * self.pick([10, 100]), b"")
                kind = "known message path repeated"
            detail = f"nesting {kind} x{depth}"
        elif op == "garbage":
            data = rng.randbytes(self.pick([1, 2, 7, 64, 4096, 65536]))
        elif op == "varint":
            data = base + key(self.pick([1, 2, 3, 4]), 0) + b"\xff" * self.pick([10, 11, 20])
            detail = "overlong varint"
        elif op == "wiretype":
            fields = method.input.fields
            if fields:
                f = self.pick(fields)
                wire = self.pick([0, 1, 2, 5])
                payload = {0: varint(7), 1: b"\x01" * 8, 2: varint(3) + b"abc", 5: b"\x01" * 4}[wire]
                data = base + key(f.number, wire) + payload
                detail = f"field {f.name} as wire type {wire}"
        elif op == "duplicate":
            fields = [f for f in method.input.fields if f.type == FieldDescriptor.TYPE_STRING]
            if fields:
                f = self.pick(fields)
                data = base + length_delimited(f.number, b"dup") * self.pick([2, 1000, 100000])
                detail = f"field {f.name} repeated many times"
        elif op == "empty":
            data = b""
        elif op == "length":
            fields = [f for f in method.input.fields if f.type == FieldDescriptor.TYPE_STRING or f.message_type is not None]
            number = self.pick(fields).number if fields else 15
            claimed = self.pick([2**31, 2**32 + 3, 2**63, 2**64 - 1, 1000])
            data = base + key(number, 2) + varint(claimed) + b"abc"
            detail = f"length {claimed} on field {number}"
        return Request(method, "raw", data, detail=f"raw {detail}")

    def oversize(self, method: Method, size: int) -> Request:
        """A request of exactly `size` bytes: the first top-level string field (or unknown field 15) filled."""
        strings = [f for f in method.input.fields if f.type == FieldDescriptor.TYPE_STRING and f.name not in
                   ("disk_target", "network_server", "baseline_path", "profile_toml", "profile_name")]
        number = strings[0].number if strings else 15
        overhead = len(key(number, 2))
        n = size - overhead - len(varint(size))
        while overhead + len(varint(n)) + n != size:
            n += size - (overhead + len(varint(n)) + n)
        data = key(number, 2) + varint(n) + self.big(n, "a").encode()
        assert len(data) == size
        return Request(method, "raw", data, detail=f"oversize {size} bytes (limit {REQUEST_LIMIT}) in field {number}")


_desc_by_name: dict[str, Any] = {}


def index_descriptors(methods: list[Method]) -> None:
    def walk(desc):
        if desc.full_name in _desc_by_name:
            return
        _desc_by_name[desc.full_name] = desc
        for f in desc.fields:
            if f.message_type is not None:
                walk(f.message_type)
        for nested in desc.nested_types:
            walk(nested)

    for m in methods:
        walk(m.input)
        walk(m.output)


# ---------------------------------------------------------------------------------------------
# Burn-in raw safety: bytes the agent could decode into an unsafe request are never sent


def raw_burnin_safe(data: bytes, safety: BurnInSafety) -> bool:
    cls = message_class(_desc_by_name["nodeagent.v1.StartBurnInRequest"])
    try:
        msg = cls.FromString(data)
        return (safety.disk_target_ok(msg.disk_target) and safety.network_ok(msg.network_server)
                and (not msg.HasField("baseline_path") or safety.baseline_ok(msg.baseline_path)))
    except DecodeError:
        pass
    except Exception:
        return False
    # Python refuses it; check whatever a more lenient decoder could take from it.
    checks = {4: safety.disk_target_ok, 6: safety.network_ok, 7: safety.baseline_ok}
    pos = 0
    while pos < len(data):
        try:
            k, pos = read_varint(data, pos)
        except IndexError:
            return True
        number, wire = k >> 3, k & 7
        if wire == 0:
            try:
                _, pos = read_varint(data, pos)
            except IndexError:
                return True
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            try:
                n, pos = read_varint(data, pos)
            except IndexError:
                return True
            if pos + n > len(data):
                return True
            payload = data[pos: pos + n]
            pos += n
            if number in checks:
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if not checks[number](text):
                    return False
        else:
            return True
    return True


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise IndexError("varint too long")


# ---------------------------------------------------------------------------------------------
# Checks


TOKEN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]\n]{0,80}\])*(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]\n]{0,80}\])*)*")


def resolves(desc, components: list[str]) -> str:
    """"full" when the dotted path names fields of `desc` all the way, "map-key" when it names a map
    field and then one more component (a key written as a path step), "" otherwise."""
    d = desc
    after_map = False
    for i, c in enumerate(components):
        if d is None:
            return "map-key" if after_map and i == len(components) - 1 else ""
        f = d.fields_by_name.get(c)
        if f is None:
            return "full" if i == len(components) - 1 and c in d.oneofs_by_name else ""
        after_map = is_map(f)
        if f.message_type is not None:
            d = f.message_type.fields_by_name["value"].message_type if is_map(f) else f.message_type
        else:
            d = None
    return "full"


def names_a_field(desc, message: str) -> str:
    """Whether an INVALID_ARGUMENT message names a field of the request `desc` by its proto name
    (`request_id: ...`, `spec.disks[0].path: ...`, `... (at spec)`), or the request's type: "yes",
    "map-key" (only as `map_field.KEY`), or ""."""
    if desc.full_name in message or re.search(r"(?<![\w.])" + re.escape(desc.name) + r"(?!\w)", message):
        return "yes"
    partial = ""
    for m in TOKEN_RE.finditer(message):
        token = m.group(0)
        components = re.sub(r"\[[^\]]*\]", "", token).split(".")
        how = resolves(desc, components)
        if not how:
            continue
        structured = len(components) > 1 or "[" in token
        rest = message[m.end():]
        before = message[max(0, m.start() - 4): m.start()]
        if structured or rest.lstrip(" ").startswith(":") or before.endswith("at ") or before.endswith("`"):
            if how == "full":
                return "yes"
            partial = how
    return partial


PROFILE_KEY_RE = re.compile(r"(?:^|; )(?:(?:health|cpu|memory|disk|network)(?:\.\w+)?|check\[\d+\](?:\.\w+)?|name|description|\w+): ")


def unavailable_reason(message: str, reasons=UNAVAILABLE_REASONS) -> Optional[str]:
    for reason, pattern in reasons:
        if pattern.search(message):
            return reason
    return None


def collapse(text: str, limit: int = 2000) -> str:
    """A message as shown: runs of one character shortened, then cut."""
    text = re.sub(r"(.)\1{15,}", lambda m: f"{m.group(1) * 3}…(×{len(m.group(0))})", text, flags=re.S)
    return text if len(text) <= limit else text[:limit] + f"…(+{len(text) - limit} chars)"


def string_values(message, out: Optional[list] = None) -> list:
    out = [] if out is None else out
    if message is None:
        return out
    for f, value in message.ListFields():
        if is_map(f):
            for k, v in value.items():
                out.append(str(k))
                if isinstance(v, str):
                    out.append(v)
                elif hasattr(v, "ListFields"):
                    string_values(v, out)
        elif f.message_type is not None:
            for item in (value if f.is_repeated else [value]):
                string_values(item, out)
        elif f.type == FieldDescriptor.TYPE_STRING:
            out += list(value) if f.is_repeated else [value]
    return out


def template(message: str, values: tuple = ()) -> str:
    """A message with the request's own values and numbers taken out, to group findings."""
    for v in sorted(set(values), key=len, reverse=True):
        if len(v) >= 2 and v in message:
            message = message.replace(v, "<value>")
        elif len(v) == 1 and message.startswith(v + ":"):
            message = "<value>" + message[1:]
    t = re.sub(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<uuid>", message)
    t = re.sub(r'"(?:[^"\\]|\\.)*"', '"…"', t)
    t = re.sub(r"\d+", "N", t)
    return t[:220]


@dataclass
class Outcome:
    code: Any
    details: str
    responses: list
    elapsed: float
    ours: bool = False  # a CANCELLED/DEADLINE_EXCEEDED the fuzzer caused (streams)


# ---------------------------------------------------------------------------------------------
# The run


class Fuzzer:
    def __init__(self, args, methods: list[Method], seed: int):
        self.args = args
        self.methods = methods
        self.by_label = {m.label: m for m in methods}
        self.seed = seed
        self.rng = random.Random(seed)
        self.world = World()
        self.safety = BurnInSafety(args.scratch)
        self.gen = Generator(self.rng, self.world, self.safety, seed)
        self.channel = grpc.insecure_channel(
            "unix:" + os.path.abspath(args.socket),
            options=[("grpc.max_send_message_length", 64 * MIB), ("grpc.max_receive_message_length", 256 * MIB),
                     ("grpc.enable_http_proxy", 0), ("grpc.enable_retries", 0)])
        self.unary: dict[str, Any] = {}
        self.stream: dict[str, Any] = {}
        ident = lambda b: b  # noqa: E731
        for m in methods:
            if m.client_streaming:
                factory = self.channel.stream_stream if m.server_streaming else self.channel.stream_unary
            else:
                factory = self.channel.unary_stream if m.server_streaming else self.channel.unary_unary
            (self.stream if m.server_streaming else self.unary)[m.path] = factory(
                m.path, request_serializer=ident, response_deserializer=ident)
        self.calls: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.status_totals: collections.Counter = collections.Counter()
        self.strategy_totals: collections.Counter = collections.Counter()
        self.unavailable: collections.Counter = collections.Counter()
        self.slowest: dict[str, float] = collections.defaultdict(float)
        self.findings: dict[tuple, dict] = {}
        self.notes: list[str] = []
        self.recent: collections.deque = collections.deque(maxlen=6)
        self.first_use: dict[str, tuple[str, bytes, str]] = {}  # request_id -> (method path, content, task id)
        self.replayable: list[Request] = []
        self.burnins_started = 0
        self.deliberate_done = 0
        self.burnin_calls = 0
        self.crashed = False
        self.calls_made = 0
        self.log = open(args.log, "w") if args.log else None
        self.task_errors_checked: set[str] = set()
        self.task_requests: dict[str, str] = {}  # task id -> the request that made it
        self.last_request: Optional[Request] = None

    # -- calling
    def invoke(self, method: Method, payload: bytes) -> Outcome:
        start = time.monotonic()
        timeout = self.args.call_timeout
        if not method.server_streaming:
            fn = self.unary[method.path]
            try:
                arg = iter([payload]) if method.client_streaming else payload
                response = fn(arg, timeout=timeout)
                return Outcome(SC.OK, "", [response], time.monotonic() - start)
            except grpc.RpcError as error:
                return Outcome(error.code(), error.details() or "", [], time.monotonic() - start)
        call = self.stream[method.path](iter([payload]) if method.client_streaming else payload,
                                        timeout=min(STREAM_DEADLINE, timeout))
        responses = []
        try:
            for response in call:
                responses.append(response)
                if len(responses) >= STREAM_MESSAGES:
                    call.cancel()
                    return Outcome(SC.CANCELLED, "cancelled by the fuzzer", responses, time.monotonic() - start, ours=True)
            return Outcome(call.code() or SC.OK, call.details() or "", responses, time.monotonic() - start)
        except grpc.RpcError as error:
            code = error.code()
            return Outcome(code, error.details() or "", responses, time.monotonic() - start,
                           ours=code == SC.DEADLINE_EXCEEDED)

    def finding(self, check: str, req: Request, outcome: Optional[Outcome], message: str = "", debatable: str = "") -> None:
        status = outcome.code.name if outcome is not None else "-"
        raw_text = message or (outcome.details if outcome else "")
        text = collapse(raw_text)
        values = tuple(string_values(req.message)) if req is not None else ()
        # Debatable findings of one kind are one group, whatever the message.
        k = (check, req.method.label if req else "-", status, debatable or template(raw_text, values))
        entry = self.findings.get(k)
        if entry is None:
            entry = self.findings[k] = {"check": check, "method": req.method.label if req else "-", "status": status,
                                        "message": text[:2000], "count": 0, "examples": [], "debatable": debatable}
        entry["count"] += 1
        if len(entry["examples"]) < 3:
            entry["examples"].append({"strategy": req.strategy if req else "-", "detail": req.detail if req else "",
                                      "request": req.text() if req else "", "message": text[:600]})
        if self.args.verbose:
            print(f"  FINDING [{check}] {k[1]} {status}: {text[:200]}", file=sys.stderr)

    def check(self, req: Request, outcome: Outcome) -> None:
        code = outcome.code
        method = req.method
        if code in ALWAYS_ALLOWED:
            pass
        elif code in (SC.UNAVAILABLE, SC.UNIMPLEMENTED):
            reason = unavailable_reason(outcome.details, UNAVAILABLE_REASONS if code == SC.UNAVAILABLE else UNIMPLEMENTED_REASONS)
            if reason:
                self.unavailable[f"{method.label}: {code.name} {reason}"] += 1
            else:
                self.finding("status", req, outcome)
        elif code == SC.DEADLINE_EXCEEDED:
            if not (method.server_streaming and outcome.ours):
                hang = outcome.elapsed >= self.args.call_timeout * 0.9
                self.finding("hang" if hang else "status", req, outcome,
                             f"no answer within {self.args.call_timeout:g}s" if hang else "")
        elif code == SC.CANCELLED:
            if not outcome.ours:
                self.finding("status", req, outcome)
        else:
            self.finding("status", req, outcome)
        named = names_a_field(method.input, outcome.details) if code == SC.INVALID_ARGUMENT else "yes"
        if named != "yes":
            debatable = ""
            if named == "map-key":
                debatable = "names a map field and then a key as a path step (map_field.KEY), not map_field[KEY]"
            elif method.input.full_name == "nodeagent.v1.StartBurnInRequest" and PROFILE_KEY_RE.search(outcome.details):
                debatable = ("names the profile key inside profile_toml/profile_name (docs/API.md allows 'the field or the "
                             "profile key') but no field of the request")
            self.finding("field-name", req, outcome, debatable=debatable)
        size = len(req.payload)
        if req.detail.startswith("raw oversize") or size > REQUEST_LIMIT - 1024:
            if size > REQUEST_LIMIT and code != SC.RESOURCE_EXHAUSTED:
                self.finding("size-limit", req, outcome, f"a {size}-byte request (over {REQUEST_LIMIT}) answered "
                                                         f"{code.name}: {outcome.details[:300]}")
            if size <= REQUEST_LIMIT and code == SC.RESOURCE_EXHAUSTED:
                self.finding("size-limit", req, outcome, f"a {size}-byte request (within {REQUEST_LIMIT}) refused: {outcome.details[:300]}",
                             debatable="the limit is documented as 4 MiB; whether exactly 4 MiB is allowed is not said"
                             if size == REQUEST_LIMIT else "")
        if outcome.elapsed > 3 and not method.server_streaming:
            self.notes.append(f"slow call: {method.label} took {outcome.elapsed:.1f}s ({req.strategy} {req.detail})")

    def check_request_id(self, req: Request, outcome: Outcome, task) -> None:
        """A repeated request id answers with its first task; one reused for other content is ALREADY_EXISTS."""
        rid = req.request_id
        if not rid or req.content is None:
            return
        first = self.first_use.get(rid)
        if first is None:
            if outcome.code == SC.OK and task is not None and task.id:
                self.first_use[rid] = (req.method.path, req.content, task.id)
                if len(self.replayable) < 400:
                    self.replayable.append(req)
            return
        path, content, task_id = first
        same = path == req.method.path and content == req.content
        if same:
            if outcome.code != SC.OK:
                self.finding("request-id", req, outcome, f"a repeat of request_id {rid!r} (task {task_id}) answered "
                                                         f"{outcome.code.name}: {outcome.details[:300]}")
            elif task is not None and task.id != task_id:
                self.finding("request-id", req, outcome, f"a repeat of request_id {rid!r} made task {task.id}, "
                                                         f"not the first call's {task_id}")
        else:
            if outcome.code == SC.OK:
                self.finding("request-id", req, outcome,
                             f"request_id {rid!r} (first used for task {task_id}, {path}) reused for other content was "
                             f"accepted: task {task.id if task is not None else '?'}")
            elif outcome.code != SC.ALREADY_EXISTS:
                self.finding("request-id", req, outcome,
                             f"request_id {rid!r} (first used for task {task_id}) reused for other content answered "
                             f"{outcome.code.name}, not ALREADY_EXISTS: {outcome.details[:300]}")

    def check_task_errors(self) -> None:
        """docs/API.md: a task's error code is a gRPC status number, and an expected failure is never UNKNOWN."""
        for task_id, (kind, state, code, reason, message) in self.world.outcomes.items():
            if state != 4 or task_id in self.task_errors_checked:
                continue
            self.task_errors_checked.add(task_id)
            if code in (0, 2) or not (0 < code < 17) or not reason:
                method = self.by_label.get("Tasks.Get")
                req = Request(method, "task", b"", detail=f"task {task_id} ({kind})")
                self.finding("task-error", req, None, f"task {task_id} ({kind}) FAILED with error code {code} reason {reason!r}: {message}")

    def learn(self, req: Request, outcome: Outcome) -> Any:
        """Parses responses, remembers what they name; returns the Task of a unary Task response."""
        cls = message_class(req.method.output)
        task = None
        for raw in outcome.responses:
            try:
                response = cls.FromString(raw)
            except Exception as error:  # the agent sent something that does not decode
                self.finding("response", req, outcome, f"response does not decode as {req.method.output.full_name}: {error}")
                continue
            before = len(self.world.outcomes)
            self.world.learn(response)
            if len(self.world.outcomes) != before:
                self.check_task_errors()
            if req.method.output.full_name == "nodeagent.v1.Task" and not req.method.server_streaming:
                task = response
        return task

    def call(self, req: Request) -> Outcome:
        if req.strategy != "harness":
            self.last_request = req
        outcome = self.invoke(req.method, req.payload)
        self.calls_made += 1
        label = req.method.label
        self.calls[label][outcome.code.name] += 1
        self.status_totals[outcome.code.name] += 1
        self.strategy_totals[req.strategy] += 1
        self.slowest[label] = max(self.slowest[label], outcome.elapsed)
        self.recent.append(f"{label} {req.strategy} {req.detail}: {req.text(200)} -> {outcome.code.name}")
        self.check(req, outcome)
        task = self.learn(req, outcome)
        if task is not None and task.id and task.id not in self.task_requests and req.strategy != "harness":
            self.task_requests[task.id] = f"{label} {req.text(300)}"
        if self.log is not None:
            self.log.write(json.dumps({"n": self.calls_made, "method": label, "strategy": req.strategy, "detail": req.detail,
                                       "request": req.text(300), "bytes": len(req.payload), "status": outcome.code.name,
                                       "message": collapse(outcome.details, 500), "seconds": round(outcome.elapsed, 4),
                                       "responses": len(outcome.responses), "task": task.id if task is not None else None},
                                      ensure_ascii=False) + "\n")
        self.check_request_id(req, outcome, task)
        if req.method.input.full_name == "nodeagent.v1.StartBurnInRequest" and outcome.code == SC.OK and task is not None:
            self.burnin_accepted(req, task)
        if outcome.code in (SC.UNAVAILABLE, SC.DEADLINE_EXCEEDED, SC.INTERNAL, SC.UNKNOWN) and not req.method.server_streaming:
            if not self.health(f"after {label} answered {outcome.code.name}"):
                self.crashed = True
        return outcome

    def harness(self, label: str, **fields) -> Optional[Outcome]:
        """A call the fuzzer needs (health, cancel, refresh), checked like the others."""
        method = self.by_label.get(label)
        if method is None:
            return None
        msg = message_class(method.input)()
        for name, value in fields.items():
            if name in method.input.fields_by_name:
                setattr(msg, name, value)
        return self.call(Request(method, "harness", msg.SerializeToString(), message=msg, detail="harness"))

    def burnin_accepted(self, req: Request, task) -> None:
        if task.id in self.world.burnin_tasks:
            return  # a repeat answered with an earlier burn-in's task
        self.world.burnin_tasks.append(task.id)
        self.burnins_started += 1
        self.harness("Tasks.Cancel", id=task.id)
        if req.deliberate_burnin:
            return
        if req.poisoned_burnin and req.strategy in ("random", "mutate"):
            self.finding("burnin-accepted", req, None,
                         f"BurnIn.Start accepted a request built to be refused (task {task.id}, cancelled at once)")
        else:
            self.notes.append(f"a {req.strategy} BurnIn.Start request was accepted (task {task.id}, cancelled at once): {req.text(300)}")

    def health(self, why: str = "") -> bool:
        method = self.by_label.get("Node.GetHealth")
        if method is None:
            return True
        for attempt in range(4):
            outcome = self.invoke(method, b"")
            if outcome.code == SC.OK:
                return True
            time.sleep([0.5, 1, 2, 0][attempt])
        # The finding names the last request sent before the agent stopped answering.
        culprit = self.last_request or Request(method, "health", b"", detail=why)
        self.finding("crash", culprit, outcome,
                     f"the agent stopped answering: Node.GetHealth {outcome.code.name} ({outcome.details[:200]}) {why}; "
                     f"last calls: " + " | ".join(self.recent))
        return False

    def refresh(self) -> None:
        self.harness("Guests.List")
        self.harness("Tasks.List", limit=50)
        for pool in self.world.pools[:2]:
            self.harness("Volumes.List", pool=pool)
        self.harness("CGroups.List", path="", depth=2)

    # -- strategy choice
    def next_request(self, method: Method, i: int) -> Request:
        req = self.generate(method, i)
        # Now and then an earlier request that made a task, sent again instead. The choice draws
        # from the stream of agent-dependent choices, after the request was generated, so that
        # which requests made tasks (which can depend on timing) never shifts the main sequence.
        candidates = [old for old in self.replayable if old.method is method]
        if (self.gen.wrng.random() < 0.04 and candidates and not req.deliberate_burnin
                and not req.detail.startswith("raw oversize")):
            old = self.gen.wpick(candidates, candidates)
            if not (method.input.full_name == "nodeagent.v1.StartBurnInRequest" and self.burnins_started >= MAX_BURNIN_TASKS):
                return Request(method, "repeat", old.payload, message=old.message, detail="same request again",
                               request_id=old.request_id, content=old.content, poisoned_burnin=old.poisoned_burnin)
        return req

    def generate(self, method: Method, i: int) -> Request:
        is_burnin = method.input.full_name == "nodeagent.v1.StartBurnInRequest"
        if is_burnin:
            self.burnin_calls += 1
            if (self.burnin_calls % 10 == 3 and self.deliberate_done < MAX_DELIBERATE_BURNINS
                    and self.burnins_started < MAX_BURNIN_TASKS):
                self.deliberate_done += 1
                return self.gen.build(method, "mutate", deliberate=True)
        if i % 500 == 250:  # around the 4 MiB limit
            sizes = [REQUEST_LIMIT - 64, REQUEST_LIMIT, REQUEST_LIMIT + 1, REQUEST_LIMIT + 64]
            return self.gen.oversize(method, sizes[(i // 500) % len(sizes)])
        r = self.rng.random()
        raw_ok = not (is_burnin and self.burnins_started >= MAX_BURNIN_TASKS)
        if r < 0.32 or (not method.input.fields and r < 0.5):
            return self.gen.build(method, "random")
        if r < 0.72 or not raw_ok:
            return self.gen.build(method, "mutate")
        for _ in range(20):
            req = self.gen.raw(method)
            if not is_burnin or raw_burnin_safe(req.payload, self.safety):
                return req
        return self.gen.build(method, "mutate")

    @staticmethod
    def weight(method: Method) -> int:
        """Methods with more to validate get more calls: 1 + one per 6 fields of the request
        (nested ones counted, a repeated or map field as 3), at most 4."""
        def count(desc, depth=0):
            n = 0
            for f in desc.fields:
                n += 3 if f.is_repeated else 1
                if f.message_type is not None and not is_map(f) and depth < 4:
                    n += count(f.message_type, depth + 1)
            return n
        return 1 + min(3, count(method.input) // 6)

    def run(self) -> None:
        order = [m for m in sorted(self.methods, key=lambda m: m.path) for _ in range(self.weight(m))]
        self.rng.shuffle(order)
        started = time.monotonic()
        every = self.args.health_every
        for i in range(self.args.iterations):
            method = order[i % len(order)]
            try:
                req = self.next_request(method, i)
            except RecursionError:
                continue
            self.call(req)
            if self.crashed:
                break
            if every and (i + 1) % every == 0 and not self.health(f"(periodic check after call {i + 1})"):
                self.crashed = True
                break
            if (i + 1) % 97 == 0:
                self.refresh()
                if self.crashed:
                    break
        if not self.crashed:
            self.settle_burnins()
            if not self.health("(final check)"):
                self.crashed = True
        self.elapsed = time.monotonic() - started

    def settle_burnins(self) -> None:
        """Every burn-in task this run started ends terminal (they were cancelled at once)."""
        deadline = time.monotonic() + 20
        pending = list(self.world.burnin_tasks)
        while pending and time.monotonic() < deadline:
            still = []
            for task_id in pending:
                outcome = self.harness("Tasks.Get", id=task_id)
                if outcome is None or outcome.code != SC.OK:
                    continue
                task = message_class(_desc_by_name["nodeagent.v1.Task"]).FromString(outcome.responses[0])
                if task.state in (1, 2):  # QUEUED, RUNNING
                    still.append(task_id)
            pending = still
            if pending:
                for task_id in pending:
                    self.harness("Tasks.Cancel", id=task_id)
                time.sleep(0.5)
        for task_id in pending:
            self.notes.append(f"burn-in task {task_id} still not terminal 20 s after it was cancelled")

    # -- report
    def summary(self) -> dict:
        findings = sorted(self.findings.values(), key=lambda f: (f["check"], f["method"], -f["count"]))
        return {
            "seed": self.seed,
            "iterations": self.args.iterations,
            "calls": self.calls_made,
            "elapsed_seconds": round(getattr(self, "elapsed", 0.0), 1),
            "crashed": self.crashed,
            "calls_per_method": {k: dict(v) for k, v in sorted(self.calls.items())},
            "status_totals": dict(self.status_totals.most_common()),
            "strategies": dict(self.strategy_totals),
            "unavailable_documented": dict(self.unavailable),
            "slowest_call_seconds": {k: round(v, 3) for k, v in sorted(self.slowest.items())},
            "burnin_tasks_started": self.burnins_started,
            "burnin_tasks": self.world.burnin_tasks,
            "findings_distinct": len(findings),
            "findings_total": sum(f["count"] for f in findings),
            "findings": findings,
            "notes": sorted(set(self.notes))[:100],
            "task_outcomes": self.task_outcomes(),
        }

    def task_outcomes(self) -> list[dict]:
        """Terminal tasks seen, by kind, state and error (tasks are not checked: information)."""
        states = {3: "SUCCEEDED", 4: "FAILED", 5: "CANCELLED"}
        groups: dict[tuple, dict] = {}
        for task_id, (kind, state, code, reason, message) in self.world.outcomes.items():
            k = (kind, states.get(state, str(state)), code, reason)
            request = self.task_requests.get(task_id, "")
            g = groups.setdefault(k, {"kind": kind, "state": k[1], "code": code, "reason": reason, "count": 0, "example": message,
                                      "request": request, "messages": set()})
            g["messages"].add(template(message)[:160])
            if len(message) < len(g["example"]):
                g["example"], g["request"] = message, request
        for g in groups.values():
            g["messages"] = sorted(g["messages"])[:30]
            g["count"] += 1
        return sorted(groups.values(), key=lambda g: (g["kind"], g["state"], -g["count"]))

    def print_summary(self, s: dict) -> None:
        out = sys.stdout
        print(f"\n== nodeagent fuzz: seed {s['seed']}, {s['iterations']} iterations, {s['calls']} calls in "
              f"{s['elapsed_seconds']}s{' — AGENT STOPPED ANSWERING' if s['crashed'] else ''}", file=out)
        codes = [c for c, _ in self.status_totals.most_common()]
        width = max(len(k) for k in s["calls_per_method"]) if s["calls_per_method"] else 10
        print("\ncalls per method (status counts):", file=out)
        for label, counts in s["calls_per_method"].items():
            total = sum(counts.values())
            parts = ", ".join(f"{c} {counts[c]}" for c in codes if c in counts)
            print(f"  {label:<{width}} {total:5d}  {parts}", file=out)
        print("\nstatus totals: " + ", ".join(f"{k} {v}" for k, v in s["status_totals"].items()), file=out)
        print("(CANCELLED and DEADLINE_EXCEEDED of server streams are the fuzzer's own: it reads "
              f"{STREAM_MESSAGES} messages or waits {STREAM_DEADLINE}s, then cancels)", file=out)
        print("strategies: " + ", ".join(f"{k} {v}" for k, v in sorted(s["strategies"].items())), file=out)
        if s["unavailable_documented"]:
            print("UNAVAILABLE/UNIMPLEMENTED with a documented reason: " + ", ".join(f"{k} ({v})" for k, v in s["unavailable_documented"].items()), file=out)
        print(f"burn-in tasks started (all cancelled at once): {s['burnin_tasks_started']}", file=out)
        for note in s["notes"][:20]:
            print(f"note: {note}", file=out)
        print("\nterminal tasks seen (not checked; FAILED ones by error):", file=out)
        for g in s["task_outcomes"]:
            error = f" code {g['code']} {g['reason']}: {collapse(g['example'], 160)}" if g["state"] == "FAILED" else ""
            print(f"  {g['kind']:<15} {g['state']:<9} x{g['count']}{error}", file=out)
            if g["state"] == "FAILED" and g["request"]:
                print(f"  {'':<25} from {collapse(g['request'], 200)}", file=out)
        debatable = sum(1 for f in s["findings"] if f["debatable"])
        print(f"\nfindings: {s['findings_distinct']} distinct ({debatable} debatable), {s['findings_total']} in all", file=out)
        for f in s["findings"]:
            tag = " (debatable: " + f["debatable"] + ")" if f["debatable"] else ""
            print(f"\n[{f['check']}] {f['method']} -> {f['status']} x{f['count']}{tag}", file=out)
            print(f"    message: {f['message'][:400]}", file=out)
            for ex in f["examples"][:2]:
                print(f"    e.g. {ex['strategy']} {ex['detail']}: {ex['request'][:300]}", file=out)
                if ex["message"] != f["message"]:
                    print(f"         -> {ex['message'][:300]}", file=out)


# ---------------------------------------------------------------------------------------------
# Main


def libvirt_uri(fuzzer: Fuzzer) -> Optional[str]:
    info = fuzzer.by_label.get("Node.GetInfo")
    if info is not None:
        outcome = fuzzer.invoke(info, b"")
        if outcome.code == SC.OK:
            return message_class(info.output).FromString(outcome.responses[0]).libvirt_uri
    health = fuzzer.by_label.get("Node.GetHealth")
    if health is not None:
        outcome = fuzzer.invoke(health, b"")
        if outcome.code == SC.OK:
            for check in message_class(health.output).FromString(outcome.responses[0]).checks:
                m = re.search(r"(\w+(?:\+\w+)?:///?\S*)", check.message)
                if check.name == "libvirt" and m:
                    return m.group(1)
    return None


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(
        prog="fuzz.py", description="Hostile-input fuzzer over the whole nodeagent gRPC API.",
        epilog="Exit status: 0 no findings, 1 findings, 2 usage or environment error.")
    parser.add_argument("--socket", required=True, help="the agent's unix socket (api.unix_socket)")
    parser.add_argument("--iterations", required=True, type=int, help="fuzzed calls to make")
    parser.add_argument("--seed", required=True, help="an integer, or 'random' (printed for replay)")
    parser.add_argument("--scratch", help="a directory the burn-in disk probe may write in (created if missing); "
                                          "without it disk_target is always empty")
    parser.add_argument("--call-timeout", type=float, default=10.0, help="deadline of each unary call, seconds (10)")
    parser.add_argument("--json-summary", help="also write the summary as JSON to this file")
    parser.add_argument("--health-every", type=int, default=50, help="Node.GetHealth after every K calls (50)")
    parser.add_argument("--allow-real-libvirt", action="store_true",
                        help="fuzz even when the agent's libvirt URI is not test:///... (guests and volumes get destroyed)")
    parser.add_argument("--verbose", action="store_true", help="print findings as they happen")
    parser.add_argument("--log", help="write every call (method, strategy, request, status, message) to this file, JSON lines")
    args = parser.parse_args(argv)
    if args.iterations < 0:
        parser.error("--iterations must be 0 or more")
    if not (args.call_timeout > 0):
        parser.error("--call-timeout must be positive")
    if args.health_every < 0:
        parser.error("--health-every must be 0 or more")
    if args.seed == "random":
        args.seed_value = random.SystemRandom().randrange(1, 2**31)
    else:
        try:
            args.seed_value = int(args.seed)
        except ValueError:
            parser.error("--seed must be an integer or 'random'")
    if args.scratch:
        real = os.path.realpath(args.scratch)
        forbidden = {"/", "/tmp", "/var", "/var/tmp", "/home", "/root", "/usr", "/boot", "/run", "/srv", "/opt", "/mnt", "/media"}
        if real in forbidden or any(real == p or real.startswith(p + "/") for p in ("/dev", "/sys", "/proc", "/etc", "/usr", "/boot")):
            parser.error(f"--scratch {args.scratch}: use a directory of its own (e.g. /tmp/fuzzwork/scratch), not {real}")
        if os.path.exists(real) and not os.path.isdir(real):
            parser.error(f"--scratch {args.scratch}: not a directory")
    if args.json_summary:
        parent = os.path.dirname(os.path.abspath(args.json_summary))
        if not os.path.isdir(parent):
            parser.error(f"--json-summary {args.json_summary}: no directory {parent}")
    try:
        mode = os.stat(args.socket).st_mode
    except OSError as error:
        parser.error(f"--socket {args.socket}: {error.strerror}")
    if not stat.S_ISSOCK(mode):
        parser.error(f"--socket {args.socket}: not a unix socket")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    seed = args.seed_value
    print(f"seed={seed} (replay with --seed {seed})", flush=True)
    methods = load_api()
    index_descriptors(methods)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    fuzzer = Fuzzer(args, methods, seed)
    try:
        # The agent must answer before anything is fuzzed.
        deadline = time.monotonic() + 10
        health = fuzzer.by_label.get("Node.GetHealth")
        while health is not None:
            outcome = fuzzer.invoke(health, b"")
            if outcome.code == SC.OK:
                break
            if time.monotonic() > deadline:
                return usage_error(f"the agent at {args.socket} does not answer Node.GetHealth: {outcome.code.name} {outcome.details}")
            time.sleep(0.5)
        uri = libvirt_uri(fuzzer)
        if not (uri or "").startswith("test:") and not args.allow_real_libvirt:
            return usage_error(f"the agent's libvirt URI is {uri or 'unknown'}, not test:///...: the fuzzer destroys and undefines "
                               "guests and deletes volumes; use an agent on libvirt's test driver, or --allow-real-libvirt")
        print(f"fuzzing {len(methods)} methods of {len({m.service for m in methods})} services at {args.socket} "
              f"(libvirt {uri}), {args.iterations} iterations", flush=True)
        fuzzer.run()
    finally:
        fuzzer.safety.cleanup()
        fuzzer.channel.close()
        if fuzzer.log is not None:
            fuzzer.log.close()
    summary = fuzzer.summary()
    fuzzer.print_summary(summary)
    if args.json_summary:
        with open(args.json_summary, "w") as f:
            json.dump(summary, f, indent=2, ensure_ascii=False, default=str)
    return EXIT_FINDINGS if summary["findings"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
