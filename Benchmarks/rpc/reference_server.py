#!/usr/bin/env python3
"""The RPC benchmark's reference: grpcio (gRPC's C core) serving the agent's own protos.

    reference_server.py --socket PATH [--workers N] [--generated DIR] [--state FILE]

Serves on unix:PATH, from a thread pool of N workers (default 64), the calls rpc-bench makes:

- nodeagent.v1.Node/GetHealth: a constant Health shaped like the agent's (SERVING, the
  libvirt and state-store checks, one guest);
- nodeagent.v1.Guests/Get: a constant Guest shaped like the agent's answer for the test
  driver's domain "test"; an empty name is refused with INVALID_ARGUMENT (as the agent does,
  before any work), any other name but "test" or its UUID with NOT_FOUND;
- nodeagent.v1.Guests/List: that guest alone;
- nodeagent.v1.Guests/SetProtection: the same work as the agent's acceptance of a task, so the
  write's ratio is like for like: the task row inserted into SQLite (WAL, one writer
  connection behind a lock, `synchronous = FULL` so the commit is on the disk before the answer,
  the request id deduplicated by a unique index, the existing task read back on a repeat), in
  --state (default: a temporary file removed at exit).

Nothing else is computed per call but the (de)serialization grpcio does, so rpc-bench's ratio
agent / reference is what the agent's stack and work cost relative to the standard gRPC
implementation. DIR holds the modules grpc_tools.protoc generated from Protos/ (run.sh makes
them; the default is .build-bench/rpc-py). Prints "ready" on stdout once it serves; SIGTERM or
SIGINT stop it.
"""

import argparse
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from concurrent import futures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", required=True, help="unix socket path to serve on")
    parser.add_argument("--workers", type=int, default=64, help="thread pool size (default 64)")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument(
        "--generated",
        default=os.path.join(here, "..", "..", ".build-bench", "rpc-py"),
        help="directory of the generated nodeagent/v1/*_pb2*.py modules",
    )
    parser.add_argument("--state", help="SQLite file for the tasks SetProtection stores (default: a temporary one)")
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.generated))
    temporary = None
    if not args.state:
        temporary = tempfile.mkdtemp(prefix="rpc-reference.")
        args.state = os.path.join(temporary, "state.sqlite")
    database = sqlite3.connect(args.state, check_same_thread=False, isolation_level=None)
    database.execute("PRAGMA journal_mode = WAL")
    database.execute("PRAGMA synchronous = FULL")
    database.execute(
        "CREATE TABLE IF NOT EXISTS tasks (sequence INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
        "target TEXT NOT NULL, request_id TEXT, state TEXT NOT NULL, message TEXT NOT NULL, created_at INTEGER NOT NULL, "
        "input BLOB NOT NULL)")
    database.execute("CREATE UNIQUE INDEX IF NOT EXISTS tasks_request_id ON tasks (request_id) WHERE request_id IS NOT NULL")
    writer = threading.Lock()

    import grpc
    from nodeagent.v1 import common_pb2, guests_pb2, guests_pb2_grpc, node_pb2, node_pb2_grpc

    guest = common_pb2.Guest(
        name="test",
        uuid="6695eb01-f6a4-8304-79aa-97f2502e193f",
        state=common_pb2.GUEST_STATE_RUNNING,
        state_reason="booted",
        managed=False,
    )
    listed = guests_pb2.ListGuestsResponse(guests=[guest])
    queued = common_pb2.Task(
        id="00000000-0000-0000-0000-000000000001", kind="guest.protect", queue="guest", target=guest.uuid,
        state=common_pb2.TASK_STATE_QUEUED, message="queued")
    health = node_pb2.Health(
        status=node_pb2.Health.STATUS_SERVING,
        checks=[
            node_pb2.Health.Check(name="libvirt", ok=True, message="connected to test:///default"),
            node_pb2.Health.Check(name="state-store", ok=True, message="state.sqlite answers"),
        ],
        guests=1,
        uptime_seconds=1,
    )

    class Node(node_pb2_grpc.NodeServicer):
        def GetHealth(self, request, context):
            return health

    class Guests(guests_pb2_grpc.GuestsServicer):
        def Get(self, request, context):
            if not request.guest:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "guest: required: a guest name or UUID")
            if request.guest != guest.name and request.guest != guest.uuid:
                context.abort(grpc.StatusCode.NOT_FOUND, "no guest %r" % request.guest)
            return guest

        def List(self, request, context):
            return listed

        def SetProtection(self, request, context):
            if not request.request_id:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request_id: required")
            task_id = str(uuid.uuid4())
            with writer:
                database.execute("BEGIN IMMEDIATE")
                cursor = database.execute(
                    "INSERT INTO tasks (id, kind, target, request_id, state, message, created_at, input) "
                    "VALUES (?, 'guest.protect', ?, ?, 'queued', 'queued', ?, ?) ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING",
                    (task_id, guest.uuid, request.request_id, int(time.time() * 1000), request.SerializeToString()))
                if cursor.rowcount != 1:
                    task_id = database.execute("SELECT id FROM tasks WHERE request_id = ?", (request.request_id,)).fetchone()[0]
                database.execute("COMMIT")
            answer = common_pb2.Task()
            answer.CopyFrom(queued)
            answer.id = task_id
            return answer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers))
    node_pb2_grpc.add_NodeServicer_to_server(Node(), server)
    guests_pb2_grpc.add_GuestsServicer_to_server(Guests(), server)
    server.add_insecure_port("unix:" + args.socket)
    server.start()

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    server.stop(grace=None).wait()
    database.close()
    if temporary:
        for name in os.listdir(temporary):
            os.unlink(os.path.join(temporary, name))
        os.rmdir(temporary)


if __name__ == "__main__":
    main()
