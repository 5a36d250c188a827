import AgentAPI
import Foundation
import GRPCCore
import Libvirt
import NodeAgent
import TestSupport
import Testing

/// `nodeagent serve` against a private libvirtd with real TCG guests: a full lifecycle over the
/// API, then what happens to a running task when the agent is stopped (SIGTERM) or killed (-9).
@Suite(
    "nodeagent serve with real guests", .serialized,
    .enabled(if: Integration.enabled, "needs root, libvirtd, QEMU and NODEAGENT_GUEST_IMAGE: run scripts/test.sh"))
struct DaemonGuestTests {
    func agentConfig(_ daemon: PrivateLibvirtd, libvirt: String = "", tasks: String = "") -> String {
        """
        [libvirt]
        uri = "\(daemon.uri)"
        \(libvirt)
        [guests]
        shutdown_retry_interval = 2
        [tasks]
        drain_timeout = 2
        retry_base_delay = 0.2
        \(tasks)
        """
    }

    @Test func aControllerRunsARealGuestThroughTheAgent() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let name = "api-\(UUID().uuidString.prefix(6).lowercased())"
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path, config: agentConfig(daemon))
            try await withCleanup {
                try await agent.client { client in
                    let defined = try await succeed(client) { try await $0.guests.define(defineRequest(try guests.spec(name).message())) }
                    #expect(defined.result.guest.managed)
                    try await succeed(client) { try await $0.guests.start(action(name)) }
                    let boot = try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")
                    print("start to marker through the agent: \(seconds(boot))")
                    var shutdown = Nodeagent_V1_ShutdownGuestRequest()
                    shutdown.requestID = requestID()
                    shutdown.guest = name
                    shutdown.graceSeconds = 120
                    let stopped = try await succeed(client) { [shutdown] in try await $0.guests.shutdown(shutdown) }
                    #expect(stopped.result.guest.state == .shutOff)
                    #expect(stopped.result.summary.contains("shut-down"), "a guest that honours ACPI is not destroyed: \(stopped.result.summary)")
                    try await succeed(client) { try await $0.guests.undefine(undefineRequest(name)) }
                }
            } cleanup: {
                await forceRemove(name, daemon)
            }
        }
    }

    @Test func aPythonControllerRunsARealGuestThroughTheAgent() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let name = "py-\(UUID().uuidString.prefix(6).lowercased())"
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path, config: agentConfig(daemon))
            let python = PythonClient(socket: agent.socketPath)
            // The spec file an operator would write (docs/GUEST-SPEC.md), as JSON.
            let spec = dir.file("\(name).json")
            try guests.spec(name).jsonData().write(to: URL(fileURLWithPath: spec))
            try await withCleanup {
                let defined = try python.run(["define", spec])
                #expect(defined.status == 0, "\(defined.stderr)")
                let started = try python.run(["start", name])
                #expect(started.status == 0, "\(started.stderr)")
                try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")
                let stopped = try python.run(["shutdown", name, "--grace", "120"])
                #expect(stopped.status == 0, "\(stopped.stderr)")
                let summary = (stopped.json?["result"] as? [String: Any])?["summary"] as? String
                #expect(summary?.contains("shut-down") == true, "\(String(describing: summary))")
                let removed = try python.run(["undefine", name])
                #expect(removed.status == 0, "\(removed.stderr)")
            } cleanup: {
                await forceRemove(name, daemon)
            }
        }
    }

    @Test func aRunningTaskIsSettledWhenTheAgentStopsOrDiesAndTheGuestKeepsRunning() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let name = "stubborn-\(UUID().uuidString.prefix(6).lowercased())"
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path, config: agentConfig(daemon))
            try await withCleanup {
                try await agent.client { client in
                    try await succeed(client) { try await $0.guests.define(defineRequest(try guests.spec(name, ignoreACPI: true).message())) }
                    try await succeed(client) { try await $0.guests.start(action(name)) }
                }
                try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")
                let qemu = try #require(guests.qemuPID(name))

                // 1. SIGTERM while a shutdown (600 s grace) runs: drained within drain_timeout,
                //    recorded as interrupted by the stop, guest untouched.
                let first = try await startLongShutdown(agent, name)
                let clock = ContinuousClock()
                let began = clock.now
                #expect(agent.stop() == 0, "log:\n\(agent.log.suffix(3000))")
                let drained = clock.now - began
                #expect(drained < .seconds(20), "SIGTERM took \(seconds(drained))")
                try agent.start()
                try await agent.ready()
                let afterStop = try await task(agent, first.id)
                #expect(afterStop.state == .failed && afterStop.error.reason == "agent-stopped", "\(afterStop)")
                #expect(afterStop.error.code == Int32(RPCError.Code.aborted.rawValue))
                #expect(kill(qemu, 0) == 0, "the guest survived the agent's stop")

                // 2. kill -9 while a shutdown runs: at restart the task is failed with a reason
                //    saying the agent restarted; the guest is still running.
                let second = try await startLongShutdown(agent, name)
                agent.crash()
                #expect(kill(qemu, 0) == 0, "the guest survived the agent's death")
                try agent.start()
                try await agent.ready()
                let afterCrash = try await task(agent, second.id)
                #expect(afterCrash.state == .failed && afterCrash.error.reason == "agent-restarted", "\(afterCrash)")
                #expect(afterCrash.error.message.contains("restarted"), "\(afterCrash.error.message)")
                let guest = try await agent.client { client in
                    var get = Nodeagent_V1_GetGuestRequest()
                    get.guest = name
                    return try await client.guests.get(get)
                }
                #expect(guest.state == .running && guest.managed, "adopted again after the restart: \(guest)")
                #expect(kill(qemu, 0) == 0)

                // 3. Cancel reaches the running step: the shutdown stops asking, the guest is left.
                let third = try await startLongShutdown(agent, name)
                let cancelled = try await agent.client { client in
                    var cancel = Nodeagent_V1_CancelTaskRequest()
                    cancel.id = third.id
                    _ = try await client.tasks.cancel(cancel)
                    return try await client.wait(for: third)
                }
                #expect(cancelled.state == .cancelled && cancelled.error.reason == "cancelled", "\(cancelled)")
                #expect(kill(qemu, 0) == 0, "a cancelled shutdown leaves the guest running")
            } cleanup: {
                await forceRemove(name, daemon)
            }
        }
    }

    @Test func aTaskSubmittedWhileLibvirtdIsDownIsRetriedUntilItComesBack() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let name = "retry-\(UUID().uuidString.prefix(6).lowercased())"
        try await withTemporaryDirectory { dir in
            let config = agentConfig(
                daemon, libvirt: "reconnect_max_delay = 1\ncall_timeout = 5", tasks: "max_attempts = 40\nretry_max_delay = 1")
            let agent = try await AgentProcess(directory: dir.path, config: config)
            try await withCleanup {
                try daemon.stopDaemon()
                let task = try await agent.client { client in
                    let submitted = try await client.guests.define(defineRequest(try guests.spec(name).message()))
                    // While libvirtd is down the task keeps retrying, saying so.
                    let retrying = try await eventually("the define task retries", timeout: .seconds(60)) {
                        var get = Nodeagent_V1_GetTaskRequest()
                        get.id = submitted.id
                        let now = try await client.tasks.get(get)
                        return now.state == .running && now.message.contains("retrying") ? now : nil
                    }
                    #expect(retrying.attempts >= 1)
                    let health = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                    #expect(health.status == .degraded)
                    try daemon.startDaemon()
                    return try await client.wait(for: submitted)
                }
                #expect(task.state == .succeeded && task.attempts > 1, "\(task)")
                _ = try await agent.client { client in
                    try await succeed(client) { try await $0.guests.undefine(undefineRequest(name)) }
                }
            } cleanup: {
                if daemon.daemonPID() == nil { try? daemon.startDaemon() }
                await forceRemove(name, daemon)
            }
        }
    }

    /// Submits a shutdown with a long grace to a guest that ignores ACPI and waits until it runs.
    private func startLongShutdown(_ agent: AgentProcess, _ name: String) async throws -> Nodeagent_V1_Task {
        try await agent.client { client in
            var shutdown = Nodeagent_V1_ShutdownGuestRequest()
            shutdown.requestID = requestID("shutdown")
            shutdown.guest = name
            shutdown.graceSeconds = 600
            let task = try await client.guests.shutdown(shutdown)
            return try await eventually("the shutdown task runs and has asked the guest", timeout: .seconds(60)) {
                var get = Nodeagent_V1_GetTaskRequest()
                get.id = task.id
                let now = try await client.tasks.get(get)
                return now.state == .running && now.message.contains("shut down") ? now : nil
            }
        }
    }

    private func task(_ agent: AgentProcess, _ id: String) async throws -> Nodeagent_V1_Task {
        try await agent.client { client in
            var get = Nodeagent_V1_GetTaskRequest()
            get.id = id
            return try await client.tasks.get(get)
        }
    }
}

func undefineRequest(_ guest: String, force: Bool = false) -> Nodeagent_V1_UndefineGuestRequest {
    var request = Nodeagent_V1_UndefineGuestRequest()
    request.requestID = requestID("undefine")
    request.guest = guest
    request.force = force
    return request
}

/// Destroys and undefines a test guest directly through libvirt, whatever state it is in.
func forceRemove(_ name: String, _ daemon: PrivateLibvirtd) async {
    guard let connection = try? await Connection.open(daemon.uri) else { return }
    defer { connection.close() }
    guard let domain = try? await connection.domain(named: name) else { return }
    try? await domain.destroy()
    try? await domain.undefine()
}
