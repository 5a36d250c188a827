#!/usr/bin/env python3
"""Many callers on ONE gRPC channel (one HTTP/2 connection), as a controller multiplexes its calls.

    load.py --socket PATH [--callers 1000] [--seconds 60] [--guests N] [--json FILE]

grpcio's asyncio client (the C core, the client a Python controller uses). Each caller loops
until the time is up; one caller in twenty writes (Guests.SetProtection of guest load-(i % N), a
new request id each time: a task stored by the agent), the others read in turn Node.GetHealth,
Guests.Get, Guests.List and Tasks.List (the newest 100 tasks). Every call has a 60 s deadline.
Prints the reads' and the writes' count and latency percentiles and every error by status code,
and writes them as JSON to --json. Exit 0 when no call failed, 1 otherwise.

The generated modules come from examples/python/generate.sh (examples/python/nodeagent_api).
"""

import argparse
import asyncio
import json
import os
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "python"))

import grpc  # noqa: E402
from nodeagent_api.nodeagent.v1 import (  # noqa: E402
    guests_pb2,
    guests_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    tasks_pb2,
    tasks_pb2_grpc,
)


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def run(socket, callers, seconds, guests):
    # grpc.aio keeps calls beyond the agent's SETTINGS_MAX_CONCURRENT_STREAMS queued on its side.
    async with grpc.aio.insecure_channel("unix:" + socket) as channel:
        node = node_pb2_grpc.NodeStub(channel)
        guest_stub = guests_pb2_grpc.GuestsStub(channel)
        task_stub = tasks_pb2_grpc.TasksStub(channel)
        deadline = time.monotonic() + seconds
        reads, writes, errors = [], [], {}

        async def caller(index):
            step = index
            name = "load-%d" % (index % guests)
            while time.monotonic() < deadline:
                step += 1
                start = time.monotonic()
                try:
                    if index % 20 == 0:
                        await guest_stub.SetProtection(
                            guests_pb2.SetProtectionRequest(
                                request_id="load-%s" % uuid.uuid4(), guest=name, protected=step % 2 == 0),
                            timeout=60)
                        writes.append(time.monotonic() - start)
                        continue
                    kind = step % 4
                    if kind == 0:
                        await node.GetHealth(node_pb2.GetHealthRequest(), timeout=60)
                    elif kind == 1:
                        await guest_stub.Get(guests_pb2.GetGuestRequest(guest=name), timeout=60)
                    elif kind == 2:
                        await guest_stub.List(guests_pb2.ListGuestsRequest(), timeout=60)
                    else:
                        await task_stub.List(tasks_pb2.ListTasksRequest(), timeout=60)
                    reads.append(time.monotonic() - start)
                except grpc.RpcError as error:
                    key = "%s: %s" % (error.code().name, (error.details() or "")[:100])
                    errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(caller(i) for i in range(callers)))
        return reads, writes, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--guests", type=int, default=20, help="guests load-0 .. load-(N-1), managed by the agent")
    parser.add_argument("--json")
    args = parser.parse_args()
    reads, writes, errors = asyncio.run(run(args.socket, args.callers, args.seconds, args.guests))

    def summary(values):
        return {
            "calls": len(values),
            "p50_ms": round(percentile(values, 0.50) * 1000, 2) if values else None,
            "p99_ms": round(percentile(values, 0.99) * 1000, 2) if values else None,
        }

    result = {"callers": args.callers, "seconds": args.seconds, "reads": summary(reads), "writes": summary(writes), "errors": errors}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
