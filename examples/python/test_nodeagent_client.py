"""Checks nodeagent_client.py against a fake agent served in-process on a unix socket.

    examples/python/generate.sh
    python3 -m unittest discover -s examples/python -v

The fake answers like the API's contract says (tasks returned at once, Tasks.Watch streaming
until terminal, status codes for refusals); the real agent is tested by the Swift suites.
"""

import contextlib
import io
import json
import os
import sys
import tempfile
import threading
import unittest
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
from google.protobuf import timestamp_pb2  # noqa: E402

import nodeagent_client  # noqa: E402
from nodeagent_api.nodeagent.v1 import (  # noqa: E402
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

WEB1 = common_pb2.Guest(name="web-1", uuid="3f2504e0-4f89-41d3-9a0c-0305e82c3301", state=common_pb2.GUEST_STATE_RUNNING, managed=True)


def task(task_id, state, progress=0.0, message="", error=None, kind="guest.start"):
    value = common_pb2.Task(id=task_id, kind=kind, target=WEB1.uuid, state=state, progress=progress, message=message)
    if error:
        value.error.CopyFrom(error)
    return value


# Each task id's history as Tasks.Watch reports it.
HISTORIES = {
    "t-ok": [
        task("t-ok", common_pb2.TASK_STATE_QUEUED),
        task("t-ok", common_pb2.TASK_STATE_RUNNING, 0.5, "starting"),
        task("t-ok", common_pb2.TASK_STATE_SUCCEEDED, 1.0, "running"),
    ],
    "t-refused": [
        task("t-refused", common_pb2.TASK_STATE_RUNNING, 0.1, "checking"),
        task(
            "t-refused",
            common_pb2.TASK_STATE_FAILED,
            1.0,
            error=common_pb2.TaskError(code=9, reason="refused", message="web-1 is protected; use force"),
            kind="guest.destroy",
        ),
    ],
    "t-burnin": [
        task("t-burnin", common_pb2.TASK_STATE_QUEUED, kind="burnin.run"),
        task("t-burnin", common_pb2.TASK_STATE_RUNNING, 0.3, "cpu kernels 60% 12.2 k ops/s", kind="burnin.run"),
        common_pb2.Task(
            id="t-burnin",
            kind="burnin.run",
            target="host",
            state=common_pb2.TASK_STATE_SUCCEEDED,
            progress=1.0,
            message="burn-in tiny: WARN",
            result=common_pb2.TaskResult(
                summary="burn-in tiny: WARN",
                burnin=common_pb2.BurnInResult(
                    verdict=common_pb2.BURN_IN_VERDICT_WARN,
                    profile="tiny",
                    report_json_path="/var/lib/nodeagent/burnin/t-burnin.json",
                    report_html_path="/var/lib/nodeagent/burnin/t-burnin.html",
                    checks_passed=2,
                    checks_warned=1,
                ),
            ),
        ),
    ],
}

BURNIN_REPORT = burnin_pb2.BurnInReport(
    task_id="t-burnin",
    verdict=common_pb2.BURN_IN_VERDICT_WARN,
    summary_table="burn-in tiny on fake-node: WARN\n  WARN  disk.seq_write.throughput  150 MiB/s (< 200 MiB/s)",
    report_json='{"schema": "nodeagent.burnin.report/1", "verdict": "WARN"}',
    report_json_path="/var/lib/nodeagent/burnin/t-burnin.json",
    report_html_path="/var/lib/nodeagent/burnin/t-burnin.html",
)


class FakeAgent(
    node_pb2_grpc.NodeServicer,
    guests_pb2_grpc.GuestsServicer,
    tasks_pb2_grpc.TasksServicer,
    events_pb2_grpc.EventsServicer,
    burnin_pb2_grpc.BurnInServicer,
):
    def __init__(self):
        self.requests = []
        self.events_cancelled = threading.Event()

    def GetInfo(self, request, context):
        return node_pb2.NodeInfo(hostname="fake-node", logical_cpus=2, capabilities=["guests", "tasks"])

    def GetHealth(self, request, context):
        return node_pb2.Health(status=node_pb2.Health.STATUS_SERVING, guests=1)

    def List(self, request, context):
        if isinstance(request, guests_pb2.ListGuestsRequest):
            return guests_pb2.ListGuestsResponse(guests=[WEB1])
        self.requests.append(request)
        tasks = [history[-1] for history in HISTORIES.values()]
        return tasks_pb2.ListTasksResponse(tasks=[t for t in tasks if not request.states or t.state in request.states])

    def Get(self, request, context):
        if isinstance(request, guests_pb2.GetGuestRequest):
            if request.guest in (WEB1.name, WEB1.uuid):
                return WEB1
            context.abort(grpc.StatusCode.NOT_FOUND, f"no guest named {request.guest}")
        if request.id in HISTORIES:
            return HISTORIES[request.id][-1]
        context.abort(grpc.StatusCode.NOT_FOUND, f"no task {request.id}")

    def Define(self, request, context):
        self.requests.append(request)
        if request.spec.vcpus > 512:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "vcpus: at most 512")
        return HISTORIES["t-ok"][0]

    def Start(self, request, context):
        self.requests.append(request)
        if isinstance(request, burnin_pb2.StartBurnInRequest):
            if "durtion" in request.profile_toml:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "cpu.durtion: unknown option of the cpu probe")
            return HISTORIES["t-burnin"][0]
        return HISTORIES["t-ok"][0]

    def GetReport(self, request, context):
        if request.task_id in ("t-burnin", "b-1"):
            return BURNIN_REPORT
        context.abort(grpc.StatusCode.NOT_FOUND, f"task_id: no task or request {request.task_id}")

    def Destroy(self, request, context):
        self.requests.append(request)
        return HISTORIES["t-refused"][0]

    def Shutdown(self, request, context):
        self.requests.append(request)
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "web-1 is a foreign guest; use force")

    def Watch(self, request, context):
        if isinstance(request, tasks_pb2.WatchTaskRequest):
            yield from HISTORIES[request.id]
            return
        for sequence in range(request.after_sequence + 1, request.after_sequence + 4):
            event = events_pb2.Event(sequence=sequence, time=timestamp_pb2.Timestamp(seconds=1_700_000_000 + sequence))
            event.guest.guest.CopyFrom(WEB1)
            event.guest.event = "started"
            event.guest.detail = "booted"
            yield event
        # A live stream: stays open until the client cancels.
        context.add_callback(self.events_cancelled.set)
        self.events_cancelled.wait(30)

    def Cancel(self, request, context):
        return task(request.id, common_pb2.TASK_STATE_CANCELLED)


class ClientTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        cls.target = f"unix:{cls.directory.name}/agent.sock"
        cls.agent = FakeAgent()
        cls.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        node_pb2_grpc.add_NodeServicer_to_server(cls.agent, cls.server)
        guests_pb2_grpc.add_GuestsServicer_to_server(cls.agent, cls.server)
        tasks_pb2_grpc.add_TasksServicer_to_server(cls.agent, cls.server)
        events_pb2_grpc.add_EventsServicer_to_server(cls.agent, cls.server)
        burnin_pb2_grpc.add_BurnInServicer_to_server(cls.agent, cls.server)
        cls.server.add_insecure_port(cls.target)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(None)
        cls.directory.cleanup()

    def run_cli(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = nodeagent_client.main(["--target", self.target, *args])
        return status, out.getvalue(), err.getvalue()

    def test_info_as_json(self):
        status, out, _ = self.run_cli("--json", "info")
        self.assertEqual(status, 0)
        info = json.loads(out)
        self.assertEqual(info["hostname"], "fake-node")
        self.assertEqual(info["capabilities"], ["guests", "tasks"])

    def test_list_and_get(self):
        status, out, _ = self.run_cli("list")
        self.assertEqual(status, 0)
        self.assertIn("web-1", out)
        self.assertIn("running", out)
        status, out, _ = self.run_cli("get", "web-1")
        self.assertEqual(status, 0)
        self.assertIn("uuid: 3f2504e0-4f89-41d3-9a0c-0305e82c3301", out)

    def test_not_found_exits_2(self):
        status, _, err = self.run_cli("get", "nope")
        self.assertEqual(status, 2)
        self.assertIn("NOT_FOUND: no guest named nope", err)

    def test_refusal_before_a_task_exits_3(self):
        status, _, err = self.run_cli("shutdown", "web-1")
        self.assertEqual(status, 3)
        self.assertIn("FAILED_PRECONDITION: web-1 is a foreign guest; use force", err)

    def test_start_waits_for_the_task(self):
        status, out, err = self.run_cli("start", "web-1", "--request-id", "req-1")
        self.assertEqual(status, 0)
        self.assertIn("succeeded", out)
        self.assertIn("starting", err)  # progress
        request = self.agent.requests[-1]
        self.assertEqual((request.guest, request.request_id), ("web-1", "req-1"))

    def test_default_request_id_is_a_uuid4(self):
        status, out, err = self.run_cli("--json", "start", "web-1", "--no-wait")
        self.assertEqual(status, 0)
        self.assertEqual(json.loads(out)["state"], "TASK_STATE_QUEUED")
        request_id = self.agent.requests[-1].request_id
        self.assertRegex(request_id, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertIn(request_id, err)

    def test_failed_task_exits_by_its_error_code(self):
        status, _, err = self.run_cli("destroy", "web-1", "--force")
        self.assertEqual(status, 3)
        self.assertIn("refused: web-1 is protected; use force", err)
        self.assertTrue(self.agent.requests[-1].force)

    def test_define_from_the_json_form_of_the_spec(self):
        spec = {
            "name": "web-1",
            "vcpus": 2,
            "memory": 2147483648,
            "disks": [{"source": {"type": "volume", "pool": "images", "volume": "root.qcow2"}, "iotune": {"total_bytes_sec": 1000, "total_iops_sec": 4000}}],
            "tunables": {"cpu": {"shares": 2048}, "memory": {"hard_limit": "3G"}},
            "labels": {"team": "storage"},
        }
        path = os.path.join(self.directory.name, "spec.json")
        with open(path, "w") as file:
            json.dump(spec, file)
        status, _, _ = self.run_cli("define", path, "--protected")
        self.assertEqual(status, 0)
        request = self.agent.requests[-1]
        self.assertTrue(request.protected)
        self.assertEqual(request.spec.memory, "2147483648")
        self.assertEqual(request.spec.disks[0].iotune.total_bytes_sec, "1000")
        self.assertEqual(request.spec.disks[0].iotune.total_iops_sec, 4000)
        self.assertEqual(request.spec.tunables.cpu.shares, 2048)
        self.assertEqual(dict(request.spec.labels), {"team": "storage"})

        spec["vcpus"] = 999
        with open(path, "w") as file:
            json.dump(spec, file)
        status, _, err = self.run_cli("define", path)
        self.assertEqual(status, 65)
        self.assertIn("INVALID_ARGUMENT: vcpus", err)

        spec["vcpu"] = 2
        with open(path, "w") as file:
            json.dump(spec, file)
        status, _, err = self.run_cli("define", path)
        self.assertEqual(status, 1)
        self.assertIn("vcpu", err)

    def test_define_from_toml(self):
        path = os.path.join(self.directory.name, "spec.toml")
        with open(path, "w") as file:
            file.write('name = "db-1"\nmemory = "1GiB"\n[boot]\nmode = "disk"\n')
        status, _, _ = self.run_cli("define", path, "--no-wait")
        self.assertEqual(status, 0)
        self.assertEqual(self.agent.requests[-1].spec.memory, "1GiB")

    def test_tasks_wait_and_cancel(self):
        status, out, _ = self.run_cli("tasks", "--state", "failed")
        self.assertEqual(status, 0)
        self.assertIn("t-refused", out)
        self.assertNotIn("t-ok", out)
        self.assertEqual(list(self.agent.requests[-1].states), [common_pb2.TASK_STATE_FAILED])
        status, out, _ = self.run_cli("wait", "t-ok")
        self.assertEqual(status, 0)
        status, out, _ = self.run_cli("cancel", "t-ok")
        self.assertEqual(status, 0)
        self.assertIn("cancelled", out)

    def test_events_stop_after_count(self):
        status, out, _ = self.run_cli("events", "--after", "10", "--count", "2")
        self.assertEqual(status, 0)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertIn("11", lines[0])
        self.assertIn("guest web-1", lines[0])
        self.assertIn("started/booted", lines[1])

    def test_burnin_start_sends_a_profile_file_as_text_and_follows_the_task(self):
        path = os.path.join(self.directory.name, "tiny.toml")
        text = 'name = "tiny"\n[cpu]\nduration = 2\n'
        with open(path, "w") as file:
            file.write(text)
        status, out, err = self.run_cli(
            "--json", "burnin", "start", "--profile", path, "--disk-target", "/var/tmp", "--request-id", "b-1"
        )
        self.assertEqual(status, 0, err)
        finished = json.loads(out)
        self.assertEqual(finished["result"]["burnin"]["verdict"], "BURN_IN_VERDICT_WARN")
        self.assertIn("cpu kernels 60%", err)  # progress
        request = self.agent.requests[-1]
        self.assertEqual(request.WhichOneof("profile"), "profile_toml")
        self.assertEqual((request.profile_toml, request.disk_target, request.request_id), (text, "/var/tmp", "b-1"))
        self.assertFalse(request.HasField("baseline_path"))

        status, _, _ = self.run_cli("burnin", "start", "--profile", "standard", "--server", "10.0.0.2:5201", "--baseline", "/srv/fleet", "--no-wait")
        self.assertEqual(status, 0)
        request = self.agent.requests[-1]
        self.assertEqual((request.WhichOneof("profile"), request.profile_name), ("profile_name", "standard"))
        self.assertEqual((request.network_server, request.baseline_path), ("10.0.0.2:5201", "/srv/fleet"))

    def test_burnin_report(self):
        status, out, _ = self.run_cli("burnin", "report", "t-burnin")
        self.assertEqual(status, 0)
        self.assertIn("burn-in tiny on fake-node: WARN", out)
        self.assertIn("report: /var/lib/nodeagent/burnin/t-burnin.json, /var/lib/nodeagent/burnin/t-burnin.html", out)
        status, out, _ = self.run_cli("burnin", "report", "b-1", "--raw")
        self.assertEqual(json.loads(out)["schema"], "nodeagent.burnin.report/1")
        status, out, _ = self.run_cli("--json", "burnin", "report", "t-burnin")
        self.assertEqual(json.loads(out)["verdict"], "BURN_IN_VERDICT_WARN")
        status, _, err = self.run_cli("burnin", "report", "nope")
        self.assertEqual(status, 2)
        self.assertIn("NOT_FOUND", err)

    def test_burnin_bad_profile_exits_65(self):
        path = os.path.join(self.directory.name, "typo.toml")
        with open(path, "w") as file:
            file.write('name = "typo"\n[cpu]\ndurtion = 2\n')
        status, _, err = self.run_cli("burnin", "start", "--profile", path)
        self.assertEqual(status, 65)
        self.assertIn("INVALID_ARGUMENT: cpu.durtion", err)

    def test_unavailable_exits_69(self):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = nodeagent_client.main(["--target", f"unix:{self.directory.name}/none.sock", "--timeout", "2", "health"])
        self.assertEqual(status, 69)
        self.assertIn("UNAVAILABLE", err.getvalue())


if __name__ == "__main__":
    unittest.main()
