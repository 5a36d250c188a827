import Foundation
import NodeAgent
import TestSupport
import Testing

/// The Python grpcio client generated from Protos/ drives the real agent: the contract works
/// from another language, not only from the Swift stubs.
@Suite(
    "Python grpcio client against nodeagent serve", .serialized,
    .enabled(if: PythonClient.available || Integration.required, "run examples/python/generate.sh (scripts/test.sh does)"))
struct PythonClientTests {
    @Test func aPythonControllerDrivesAFullGuestLifecycle() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            let python = PythonClient(socket: agent.socketPath)
            let spec = try dir.write(
                "py.json", #"{"name": "py-1", "memory": "128MiB", "vcpus": 2, "boot": {"mode": "kernel", "kernel": "/boot/vmlinuz"}, "labels": {"via": "python"}}"#)

            let info = try python.run(["info"])
            #expect(info.status == 0 && (info.json?["libvirt_uri"] as? String) == "test:///default", "\(info)")
            let defined = try python.run(["define", spec, "--request-id", "py-define-1"])
            #expect(defined.status == 0, "\(defined.stderr)")
            #expect(defined.json?["state"] as? String == "TASK_STATE_SUCCEEDED")
            let guest = (defined.json?["result"] as? [String: Any])?["guest"] as? [String: Any]
            #expect(guest?["name"] as? String == "py-1" && guest?["managed"] as? Bool == true)
            let repeated = try python.run(["define", spec, "--request-id", "py-define-1"])
            #expect(repeated.json?["id"] as? String == defined.json?["id"] as? String, "a repeat returns the first task")

            for (command, state) in [("start", "GUEST_STATE_RUNNING"), ("suspend", "GUEST_STATE_PAUSED"), ("resume", "GUEST_STATE_RUNNING")] {
                let result = try python.run([command, "py-1"])
                let after = ((result.json?["result"] as? [String: Any])?["guest"] as? [String: Any])?["state"] as? String
                #expect(result.status == 0 && after == state, "\(command): \(result)")
            }
            let stopped = try python.run(["shutdown", "py-1", "--grace", "30"])
            #expect(stopped.status == 0, "\(stopped.stderr)")
            let listed = try python.run(["list"])
            let names = listed.list?.compactMap { $0["name"] as? String } ?? []
            #expect(names.contains("py-1") && names.contains("test"), "\(listed)")
            // Errors come back as exit codes with the gRPC status named.
            let missing = try python.run(["get", "no-such-guest"])
            #expect(missing.status == 2 && missing.stderr.contains("NOT_FOUND"), "\(missing)")
            let foreign = try python.run(["destroy", "test"])
            #expect(foreign.status == 3 && foreign.stderr.contains("FAILED_PRECONDITION"), "\(foreign)")
            let removed = try python.run(["undefine", "py-1"])
            #expect(removed.status == 0, "\(removed.stderr)")
            let tasks = try python.run(["tasks"])
            let kinds = tasks.list?.compactMap { $0["kind"] as? String } ?? []
            #expect(kinds.contains("guest.undefine") && kinds.contains("guest.define"), "\(tasks)")
        }
    }
}
