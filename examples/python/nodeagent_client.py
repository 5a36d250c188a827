#!/usr/bin/env python3
"""A small client of the nodeagent gRPC API, as a library and a command line tool.

The API is defined by Protos/nodeagent/v1/*.proto; generate its Python modules first:

    pip install -r examples/python/requirements.txt
    examples/python/generate.sh

Library use (with examples/python on sys.path):

    from nodeagent_client import NodeAgentClient, TaskFailed

    with NodeAgentClient("unix:/run/nodeagent/nodeagent.sock") as agent:
        task = agent.start("web-1")              # returns at once with a Task
        task = agent.wait(task.id)               # follows Tasks.Watch until it is terminal
        agent.check(task)                        # raises TaskFailed unless it succeeded

Every mutating call takes a request id (a fresh uuid4 when not given). Sending the same call
again with the same id returns the first call's task instead of acting twice, also after a
reconnect or an agent restart: keep the id until you have seen the task's outcome.

A burn-in of the agent's host is a task too:

        task = agent.start_burnin("quick", disk_target="/var/tmp")   # or profile_toml=TEXT
        task = agent.wait(task.id)               # progress: "disk seq_write 43% 1.20 GiB/s"
        report = agent.burnin_report(task.id)    # verdict, summary table, report JSON, paths

Command line: `nodeagent_client.py --help`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
import uuid
from typing import Callable, Iterator, Optional

import grpc
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

try:
    from nodeagent_api.nodeagent.v1 import (
        burnin_pb2,
        burnin_pb2_grpc,
        common_pb2,
        events_pb2,
        events_pb2_grpc,
        guests_pb2,
        guests_pb2_grpc,
        node_pb2,
        node_pb2_grpc,
        tasks_pb2,
        tasks_pb2_grpc,
    )
except ImportError as error:  # pragma: no cover - a setup problem, explained to the user
    sys.exit(
        f"cannot import the generated API modules ({error}); run "
        f"{os.path.join(os.path.dirname(os.path.abspath(__file__)), 'generate.sh')} first"
    )

DEFAULT_TARGET = "unix:/run/nodeagent/nodeagent.sock"

TERMINAL_STATES = frozenset(
    {common_pb2.TASK_STATE_SUCCEEDED, common_pb2.TASK_STATE_FAILED, common_pb2.TASK_STATE_CANCELLED}
)

# Exit codes of the command line tool (sysexits.h where one fits).
EXIT_CODES = {
    grpc.StatusCode.NOT_FOUND: 2,
    grpc.StatusCode.FAILED_PRECONDITION: 3,
    grpc.StatusCode.INVALID_ARGUMENT: 65,  # EX_DATAERR
    grpc.StatusCode.UNAVAILABLE: 69,  # EX_UNAVAILABLE
}
STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class TaskFailed(Exception):
    """A task that ended FAILED or CANCELLED."""

    def __init__(self, task: common_pb2.Task):
        self.task = task
        state = task_state_name(task.state)
        if task.HasField("error"):
            text = f"task {task.id} ({task.kind}) {state}: {task.error.reason}: {task.error.message}"
        else:
            text = f"task {task.id} ({task.kind}) {state}"
        super().__init__(text)

    @property
    def status_code(self) -> Optional[grpc.StatusCode]:
        """The gRPC status code the same failure gets when detected before a task exists."""
        return STATUS_BY_NUMBER.get(self.task.error.code) if self.task.HasField("error") else None


# ---------------------------------------------------------------------------------------------
# The client library
# ---------------------------------------------------------------------------------------------


class NodeAgentClient:
    """A connection to one nodeagent.

    target: "unix:/path/to/socket" (local admins), or "host:port" for TCP. TCP needs mutual
    TLS (ca, cert, key: PEM file paths; server_name when the certificate does not name the
    host you dial) unless insecure=True (plaintext, for tests only).
    timeout: seconds for each unary call (streams have none).
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        ca: Optional[str] = None,
        cert: Optional[str] = None,
        key: Optional[str] = None,
        server_name: Optional[str] = None,
        insecure: bool = False,
        timeout: float = 30.0,
    ):
        self.target = target
        self.timeout = timeout
        self.channel = _open_channel(target, ca, cert, key, server_name, insecure)
        self.node = node_pb2_grpc.NodeStub(self.channel)
        self.guests = guests_pb2_grpc.GuestsStub(self.channel)
        self.tasks = tasks_pb2_grpc.TasksStub(self.channel)
        self.events = events_pb2_grpc.EventsStub(self.channel)
        self.burnin = burnin_pb2_grpc.BurnInStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "NodeAgentClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- node --

    def info(self) -> node_pb2.NodeInfo:
        return self.node.GetInfo(node_pb2.GetNodeInfoRequest(), timeout=self.timeout)

    def health(self) -> node_pb2.Health:
        return self.node.GetHealth(node_pb2.GetHealthRequest(), timeout=self.timeout)

    # -- guests: reads --

    def list_guests(self, managed_only: bool = False) -> list[common_pb2.Guest]:
        request = guests_pb2.ListGuestsRequest(managed_only=managed_only)
        return list(self.guests.List(request, timeout=self.timeout).guests)

    def get_guest(self, guest: str) -> common_pb2.Guest:
        return self.guests.Get(guests_pb2.GetGuestRequest(guest=guest), timeout=self.timeout)

    # -- guests: mutations (each returns the Task at once) --

    def define(
        self, spec: guests_pb2.GuestSpec | dict, *, protected: bool = False, request_id: Optional[str] = None
    ) -> common_pb2.Task:
        if isinstance(spec, dict):
            spec = spec_from_dict(spec)
        request = guests_pb2.DefineGuestRequest(request_id=request_id or new_request_id(), spec=spec, protected=protected)
        return self.guests.Define(request, timeout=self.timeout)

    def start(self, guest: str, **options) -> common_pb2.Task:
        return self._action(self.guests.Start, guest, **options)

    def destroy(self, guest: str, **options) -> common_pb2.Task:
        return self._action(self.guests.Destroy, guest, **options)

    def reboot(self, guest: str, **options) -> common_pb2.Task:
        return self._action(self.guests.Reboot, guest, **options)

    def suspend(self, guest: str, **options) -> common_pb2.Task:
        return self._action(self.guests.Suspend, guest, **options)

    def resume(self, guest: str, **options) -> common_pb2.Task:
        return self._action(self.guests.Resume, guest, **options)

    def shutdown(
        self,
        guest: str,
        *,
        force: bool = False,
        grace_seconds: int = 0,
        no_destroy: bool = False,
        request_id: Optional[str] = None,
    ) -> common_pb2.Task:
        request = guests_pb2.ShutdownGuestRequest(
            request_id=request_id or new_request_id(),
            guest=guest,
            force=force,
            grace_seconds=grace_seconds,
            no_destroy=no_destroy,
        )
        return self.guests.Shutdown(request, timeout=self.timeout)

    def undefine(
        self, guest: str, *, force: bool = False, delete_volumes: bool = False, request_id: Optional[str] = None
    ) -> common_pb2.Task:
        request = guests_pb2.UndefineGuestRequest(
            request_id=request_id or new_request_id(), guest=guest, force=force, delete_volumes=delete_volumes
        )
        return self.guests.Undefine(request, timeout=self.timeout)

    def _action(self, method, guest: str, *, force: bool = False, request_id: Optional[str] = None):
        request = guests_pb2.GuestActionRequest(request_id=request_id or new_request_id(), guest=guest, force=force)
        return method(request, timeout=self.timeout)

    # -- burn-in --

    def start_burnin(
        self,
        profile: str = "",
        *,
        profile_toml: Optional[str] = None,
        disk_target: str = "",
        force: bool = False,
        network_server: str = "",
        baseline_path: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> common_pb2.Task:
        """Starts a burn-in of the agent's host (a burnin.run task; one at a time per host).

        `profile` names a built-in profile (quick, standard, soak); `profile_toml` sends your own
        profile's TOML text instead. `disk_target` and `baseline_path` are paths on the agent's
        host; without a disk target the disk probe is skipped, without `network_server`
        ("HOST:PORT" of `nodeagent burnin net-server`) the network probe is. The task succeeds
        whatever the verdict: the verdict is its result (task.result.burnin).
        """
        request = burnin_pb2.StartBurnInRequest(
            request_id=request_id or new_request_id(),
            disk_target=disk_target,
            force=force,
            network_server=network_server,
        )
        if profile_toml is not None:
            request.profile_toml = profile_toml
        else:
            request.profile_name = profile or "quick"
        if baseline_path is not None:
            request.baseline_path = baseline_path
        return self.burnin.Start(request, timeout=self.timeout)

    def burnin_report(self, task_id: str) -> burnin_pb2.BurnInReport:
        """The report of a finished (or cancelled) burn-in, by task id or request id.

        FAILED_PRECONDITION while it still runs; NOT_FOUND when there is no report.
        """
        return self.burnin.GetReport(burnin_pb2.GetBurnInReportRequest(task_id=task_id), timeout=self.timeout)

    # -- tasks --

    def get_task(self, task_id: str) -> common_pb2.Task:
        """A task by id, or by the request id it was created with."""
        return self.tasks.Get(tasks_pb2.GetTaskRequest(id=task_id), timeout=self.timeout)

    def list_tasks(
        self, states: tuple[int, ...] = (), kinds: tuple[str, ...] = (), target: str = "", limit: int = 0
    ) -> list[common_pb2.Task]:
        request = tasks_pb2.ListTasksRequest(states=states, kinds=kinds, target=target, limit=limit)
        return list(self.tasks.List(request, timeout=self.timeout).tasks)

    def cancel(self, task_id: str) -> common_pb2.Task:
        return self.tasks.Cancel(tasks_pb2.CancelTaskRequest(id=task_id), timeout=self.timeout)

    def watch(self, task_id: str) -> Iterator[common_pb2.Task]:
        """The task now, then every change until it is terminal."""
        yield from self.tasks.Watch(tasks_pb2.WatchTaskRequest(id=task_id))

    def wait(
        self,
        task_id: str,
        on_update: Optional[Callable[[common_pb2.Task], None]] = None,
        reconnect_for: float = 60.0,
    ) -> common_pb2.Task:
        """Follows a task until it is terminal and returns its last state.

        If the agent becomes unreachable (restart, upgrade), the watch is opened again for up
        to `reconnect_for` seconds: tasks are persisted, so the same id still answers.
        """
        last: Optional[common_pb2.Task] = None
        deadline = None
        while True:
            try:
                for task in self.watch(task_id):
                    deadline = None
                    last = task
                    if on_update:
                        on_update(task)
                    if task.state in TERMINAL_STATES:
                        return task
                # The stream ended without a terminal state: ask once more.
                task = self.get_task(task_id)
                if task.state in TERMINAL_STATES:
                    if on_update and (last is None or task != last):
                        on_update(task)
                    return task
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                deadline = deadline or time.monotonic() + reconnect_for
                if time.monotonic() >= deadline:
                    raise
            time.sleep(0.5)

    def run(self, task: common_pb2.Task, on_update=None) -> common_pb2.Task:
        """Waits for a task returned by a mutating call and raises TaskFailed unless it succeeded."""
        return self.check(self.wait(task.id, on_update))

    @staticmethod
    def check(task: common_pb2.Task) -> common_pb2.Task:
        if task.state != common_pb2.TASK_STATE_SUCCEEDED:
            raise TaskFailed(task)
        return task

    # -- events --

    def watch_events(self, after_sequence: int = 0, from_oldest: bool = False):
        """Retained events after `after_sequence` (0: live only), then live ones, without end.

        Returns the call: iterate it for events, `.cancel()` it to stop.
        """
        return self.events.Watch(events_pb2.WatchEventsRequest(after_sequence=after_sequence, from_oldest=from_oldest))


def new_request_id() -> str:
    return str(uuid.uuid4())


def _open_channel(target, ca, cert, key, server_name, insecure) -> grpc.Channel:
    if target.startswith("unix:") or target.startswith("unix-abstract:"):
        return grpc.insecure_channel(target)
    if insecure:
        return grpc.insecure_channel(target)
    if not (ca and cert and key):
        raise ValueError(
            f"{target}: TCP needs mutual TLS (--ca, --cert and --key), or --insecure for a plaintext test listener"
        )
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(ca), private_key=_read(key), certificate_chain=_read(cert)
    )
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.secure_channel(target, credentials, options=options)


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def spec_from_dict(value: dict) -> guests_pb2.GuestSpec:
    """A GuestSpec from the JSON/TOML form of docs/GUEST-SPEC.md.

    That form writes sizes as a number of bytes or a string ("2GiB"); the API carries sizes as
    strings, so numbers given for string fields are converted. Unknown keys are refused.
    """
    return json_format.ParseDict(_numbers_to_strings(value, guests_pb2.GuestSpec.DESCRIPTOR), guests_pb2.GuestSpec())


def _numbers_to_strings(value, descriptor):
    if not isinstance(value, dict):
        return value
    fields = {**descriptor.fields_by_name, **{f.json_name: f for f in descriptor.fields}}
    converted = {}
    for name, item in value.items():
        field = fields.get(name)
        if field is None:
            converted[name] = item  # ParseDict reports it
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            if isinstance(item, list):
                converted[name] = [_numbers_to_strings(element, field.message_type) for element in item]
            else:
                converted[name] = _numbers_to_strings(item, field.message_type)
        elif field.type == FieldDescriptor.TYPE_STRING and isinstance(item, int) and not isinstance(item, bool):
            converted[name] = str(item)
        else:
            converted[name] = item
    return converted


# ---------------------------------------------------------------------------------------------
# Text output
# ---------------------------------------------------------------------------------------------


def task_state_name(state: int) -> str:
    return common_pb2.TaskState.Name(state).removeprefix("TASK_STATE_").lower()


def guest_state_name(state: int) -> str:
    return common_pb2.GuestState.Name(state).removeprefix("GUEST_STATE_").lower().replace("_", "-")


def to_dict(message: Message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def describe_task(task: common_pb2.Task) -> str:
    line = f"{task.id}  {task.kind:<16} {task_state_name(task.state):<9} {task.progress * 100:3.0f}%"
    if task.target:
        line += f"  {task.target}"
    if task.message:
        line += f"  {task.message}"
    if task.HasField("error"):
        line += f"  error: {task.error.reason}: {task.error.message}"
    elif task.HasField("result") and task.result.summary and task.result.summary != task.message:
        line += f"  result: {task.result.summary}"
    return line


def burnin_verdict_name(verdict: int) -> str:
    return common_pb2.BurnInVerdict.Name(verdict).removeprefix("BURN_IN_VERDICT_")


def describe_burnin_report(report: burnin_pb2.BurnInReport) -> str:
    return f"{report.summary_table}\nreport: {report.report_json_path}, {report.report_html_path}"


def describe_guest(guest: common_pb2.Guest) -> str:
    flags = []
    if not guest.managed:
        flags.append("foreign")
    if guest.protected:
        flags.append("protected")
    if guest.metadata_problem:
        flags.append(f"metadata problem: {guest.metadata_problem}")
    return f"{guest.name:<24} {guest.uuid}  {guest_state_name(guest.state):<13} {', '.join(flags)}".rstrip()


def describe_event(event: events_pb2.Event) -> str:
    head = f"{event.sequence:>8}  {event.time.ToJsonString() if event.HasField('time') else '-'}"
    kind = event.WhichOneof("payload")
    if kind == "guest":
        guest = event.guest.guest
        return f"{head}  guest {guest.name} ({guest.uuid}) {event.guest.event}/{event.guest.detail}"
    if kind == "task":
        return f"{head}  task {describe_task(event.task)}"
    if kind == "state_report":
        report = event.state_report
        libvirt = "connected" if report.libvirt_connected else "DISCONNECTED"
        return (
            f"{head}  state report: {len(report.guests)} guest(s), "
            f"{len(report.unfinished_tasks)} unfinished task(s), libvirt {libvirt}"
        )
    if kind == "gap":
        return f"{head}  gap: events after {event.gap.requested_after} before {event.gap.first_retained} were pruned"
    return f"{head}  (unknown event)"


def print_fields(message: Message) -> None:
    """Every field of a message, one `name: value` line each (nested messages as JSON)."""
    for name, value in to_dict(message).items():
        text = value if isinstance(value, str) else json.dumps(value)
        print(f"{name}: {text}")


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

GUEST_ACTIONS = ("start", "shutdown", "destroy", "reboot", "suspend", "resume", "undefine")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodeagent_client.py",
        description="Drive a nodeagent over gRPC.",
        epilog="Exit codes: 0 ok; 1 other failure or failed task; 2 NOT_FOUND; 3 FAILED_PRECONDITION; "
        "65 INVALID_ARGUMENT; 69 UNAVAILABLE (a failed task maps its error code the same way).",
    )
    connection = parser.add_argument_group("connection")
    connection.add_argument(
        "--target",
        default=os.environ.get("NODEAGENT_TARGET", DEFAULT_TARGET),
        help=f"unix:/path or host:port (default: $NODEAGENT_TARGET or {DEFAULT_TARGET})",
    )
    connection.add_argument("--ca", help="CA certificate (PEM) that signed the agent's certificate")
    connection.add_argument("--cert", help="client certificate (PEM) for mutual TLS")
    connection.add_argument("--key", help="client private key (PEM)")
    connection.add_argument("--server-name", help="name to check the agent's certificate against")
    connection.add_argument("--insecure", action="store_true", help="plaintext TCP (test listeners only)")
    connection.add_argument("--timeout", type=float, default=30.0, help="seconds per unary call (default 30)")
    parser.add_argument("--json", action="store_true", help="print JSON (google.protobuf.json_format)")

    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("info", help="what this host is")
    commands.add_parser("health", help="whether the agent can do its job")
    listing = commands.add_parser("list", help="guests")
    listing.add_argument("--managed-only", action="store_true", help="leave out foreign guests")
    get = commands.add_parser("get", help="one guest")
    get.add_argument("guest", metavar="GUEST", help="UUID or name")

    define = commands.add_parser("define", help="define a guest from a spec file (docs/GUEST-SPEC.md)")
    define.add_argument("spec", metavar="SPEC", help="spec file, .json or .toml")
    define.add_argument("--protected", action="store_true", help="refuse destroy/undefine without --force")
    _mutation_options(define)

    for action in GUEST_ACTIONS:
        sub = commands.add_parser(action, help=f"{action} a guest")
        sub.add_argument("guest", metavar="GUEST", help="UUID or name")
        sub.add_argument("--force", action="store_true", help="act on a foreign or protected guest")
        if action == "shutdown":
            sub.add_argument("--grace", type=int, default=0, help="seconds before destroying (0: agent default)")
            sub.add_argument("--no-destroy", action="store_true", help="leave a guest that ignores the request")
        if action == "undefine":
            sub.add_argument("--delete-volumes", action="store_true", help="delete its volume-backed disks")
        _mutation_options(sub)

    wait = commands.add_parser("wait", help="follow a task until it is terminal")
    wait.add_argument("task", metavar="TASK_ID", help="task id or request id")
    tasks = commands.add_parser("tasks", help="recent tasks, newest first")
    tasks.add_argument(
        "--state",
        action="append",
        default=[],
        choices=["queued", "running", "succeeded", "failed", "cancelled"],
        help="only tasks in this state (repeatable)",
    )
    tasks.add_argument("--kind", action="append", default=[], help="kind (guest.start) or prefix (guest.)")
    tasks.add_argument("--on", dest="task_target", default="", metavar="TARGET", help="only tasks acting on this target")
    tasks.add_argument("--limit", type=int, default=0, help="at most this many (0: agent default, 100)")
    cancel = commands.add_parser("cancel", help="cancel a task")
    cancel.add_argument("task", metavar="TASK_ID", help="task id or request id")

    events = commands.add_parser("events", help="follow the event stream")
    events.add_argument("--after", type=int, default=0, help="replay retained events after this sequence (0: live only)")
    events.add_argument("--from-oldest", action="store_true", help="replay from the oldest retained event")
    events.add_argument("--count", type=int, default=0, help="stop after this many events (0: until interrupted)")

    burnin = commands.add_parser("burnin", help="burn-in of the agent's host (docs/BURNIN.md)")
    burnin_commands = burnin.add_subparsers(dest="burnin_command", required=True, metavar="BURNIN_COMMAND")
    start = burnin_commands.add_parser("start", help="start a burn-in task and follow it")
    start.add_argument(
        "--profile",
        default="quick",
        metavar="NAME_OR_FILE",
        help="a built-in profile (quick, standard, soak) or a local TOML file, sent as text (default quick)",
    )
    start.add_argument("--disk-target", default="", metavar="PATH", help="disk probe target on the agent's host (none: skipped)")
    start.add_argument("--force", action="store_true", help="write to a block device that holds a filesystem")
    start.add_argument("--server", default="", metavar="HOST:PORT", help="network probe peer (none: skipped)")
    start.add_argument("--baseline", metavar="PATH", help="fleet baseline on the agent's host (directory of reports, or one)")
    _mutation_options(start)
    report = burnin_commands.add_parser("report", help="a burn-in's report: summary table and where its files are")
    report.add_argument("task", metavar="TASK_ID", help="task id or request id")
    report.add_argument("--raw", action="store_true", help="print the report document (JSON, nodeagent.burnin.report/1)")
    return parser


def _mutation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--request-id", help="idempotency key (default: a new uuid4, printed to stderr)")
    parser.add_argument("--no-wait", action="store_true", help="print the task and return without waiting")


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        client = NodeAgentClient(
            args.target,
            ca=args.ca,
            cert=args.cert,
            key=args.key,
            server_name=args.server_name,
            insecure=args.insecure,
            timeout=args.timeout,
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        with client:
            return run_command(client, args)
    except grpc.RpcError as error:
        print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
        return EXIT_CODES.get(error.code(), 1)
    except TaskFailed as failure:
        print(f"error: {failure}", file=sys.stderr)
        return EXIT_CODES.get(failure.status_code, 1)
    except (OSError, ValueError, json_format.ParseError, tomllib.TOMLDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run_command(client: NodeAgentClient, args: argparse.Namespace) -> int:
    def show(message: Message, describe: Callable[[Message], str]) -> None:
        print(json.dumps(to_dict(message), indent=2) if args.json else describe(message))

    command = args.command
    if command in ("info", "health"):
        message = client.info() if command == "info" else client.health()
        if args.json:
            print(json.dumps(to_dict(message), indent=2))
        else:
            print_fields(message)
        return 0
    if command == "list":
        guests = client.list_guests(managed_only=args.managed_only)
        if args.json:
            print(json.dumps([to_dict(guest) for guest in guests], indent=2))
        else:
            for guest in guests:
                print(describe_guest(guest))
        return 0
    if command == "get":
        guest = client.get_guest(args.guest)
        if args.json:
            print(json.dumps(to_dict(guest), indent=2))
        else:
            print_fields(guest)
        return 0
    if command == "define" or command in GUEST_ACTIONS:
        return run_mutation(client, args, show)
    if command == "wait":
        return finish(client.wait(args.task, on_update=progress_printer()), args.json)
    if command == "tasks":
        states = tuple(common_pb2.TaskState.Value("TASK_STATE_" + state.upper()) for state in args.state)
        tasks = client.list_tasks(states=states, kinds=tuple(args.kind), target=args.task_target, limit=args.limit)
        if args.json:
            print(json.dumps([to_dict(task) for task in tasks], indent=2))
        else:
            for task in tasks:
                print(describe_task(task))
        return 0
    if command == "cancel":
        show(client.cancel(args.task), describe_task)
        return 0
    if command == "events":
        return follow_events(client, args)
    if command == "burnin":
        return run_burnin(client, args, show)
    raise AssertionError(command)


def run_burnin(client: NodeAgentClient, args: argparse.Namespace, show) -> int:
    if args.burnin_command == "report":
        report = client.burnin_report(args.task)
        if args.raw:
            print(report.report_json)
        else:
            show(report, describe_burnin_report)
        return 0
    request_id = args.request_id or new_request_id()
    if not args.request_id:
        print(f"request id: {request_id}", file=sys.stderr)
    profile, text = args.profile, None
    if os.path.isfile(profile):
        with open(profile, encoding="utf-8") as file:
            profile, text = "", file.read()
    task = client.start_burnin(
        profile,
        profile_toml=text,
        disk_target=args.disk_target,
        force=args.force,
        network_server=args.server,
        baseline_path=args.baseline,
        request_id=request_id,
    )
    if args.no_wait:
        show(task, describe_task)
        return 0
    return finish(client.wait(task.id, on_update=progress_printer()), args.json)


def run_mutation(client: NodeAgentClient, args: argparse.Namespace, show) -> int:
    request_id = args.request_id or new_request_id()
    if not args.request_id:
        print(f"request id: {request_id}", file=sys.stderr)
    if args.command == "define":
        task = client.define(load_spec(args.spec), protected=args.protected, request_id=request_id)
    elif args.command == "shutdown":
        task = client.shutdown(
            args.guest, force=args.force, grace_seconds=args.grace, no_destroy=args.no_destroy, request_id=request_id
        )
    elif args.command == "undefine":
        task = client.undefine(args.guest, force=args.force, delete_volumes=args.delete_volumes, request_id=request_id)
    else:
        task = getattr(client, args.command)(args.guest, force=args.force, request_id=request_id)
    if args.no_wait:
        show(task, describe_task)
        return 0
    return finish(client.wait(task.id, on_update=progress_printer()), args.json)


def finish(task: common_pb2.Task, as_json: bool) -> int:
    """Prints the terminal task; raises TaskFailed (exit status by its error code) unless it succeeded."""
    print(json.dumps(to_dict(task), indent=2) if as_json else describe_task(task))
    NodeAgentClient.check(task)
    return 0


def progress_printer() -> Callable[[common_pb2.Task], None]:
    """Prints each change of a task's state, progress or message to stderr."""
    seen = set()

    def update(task: common_pb2.Task) -> None:
        key = (task.state, round(task.progress, 2), task.message)
        if key not in seen:
            seen.add(key)
            print(f"  {task_state_name(task.state):<9} {task.progress * 100:3.0f}%  {task.message}", file=sys.stderr)

    return update


def load_spec(path: str) -> dict:
    with open(path, "rb") as file:
        if path.endswith(".toml"):
            return tomllib.load(file)
        return json.load(file)


def follow_events(client: NodeAgentClient, args: argparse.Namespace) -> int:
    call = client.watch_events(after_sequence=args.after, from_oldest=args.from_oldest)
    received = 0
    try:
        for event in call:
            print(json.dumps(to_dict(event)) if args.json else describe_event(event), flush=True)
            received += 1
            if args.count and received >= args.count:
                break
    finally:
        call.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(main())
