import Foundation
import Libvirt
import NodeAgent
import TestSupport
import Testing

/// What happens to the agent's connection when libvirtd goes away, hangs and comes back.
/// Uses a libvirtd of its own: stopping the shared one would disturb other tests.
@Suite(
    "libvirtd restarts and hangs", .serialized,
    .enabled(if: Integration.enabled, "needs root, libvirtd, QEMU and NODEAGENT_GUEST_IMAGE: run scripts/test.sh"))
struct DaemonRestartTests {
    @Test func guestsSurviveALibvirtdRestartAndTheConnectionAndEventsComeBack() async throws {
        let daemon = try PrivateLibvirtd.start("restart")
        defer { daemon.stop() }
        let guests = try RealGuests(daemon)
        let options = ConnectionOptions(
            keepAliveInterval: 1, keepAliveCount: 3, callTimeout: .seconds(20),
            reconnectInitialDelay: .milliseconds(100), reconnectMaxDelay: .seconds(1))
        let connection = try await Connection.open(daemon.uri, options: options)
        defer { connection.close() }
        let recorder = EventRecorder(connection)
        let manager = GuestManager(connection: connection, owner: "integration")
        let name = "survivor"

        try await manager.define(guests.spec(name))
        try await manager.start(name)
        try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")
        let qemu = try #require(guests.qemuPID(name))

        // libvirtd goes away: the loss is reported, calls fail at once with a typed error.
        try daemon.stopDaemon()
        try await recorder.wait("disconnected event", timeout: .seconds(30)) {
            if case .disconnected = $0 { return true }
            return false
        }
        let clock = ContinuousClock()
        let before = clock.now
        do throws(LibvirtError) {
            _ = try await connection.listDomains()
            Issue.record("listDomains succeeded while libvirtd was down")
        } catch {
            #expect(error.kind == .notConnected)
            #expect(error.isConnectionFailure)
        }
        #expect(clock.now - before < .seconds(30), "a call while libvirtd is down must not wait for it")
        do throws(AgentError) {
            _ = try await manager.list()
            Issue.record("list succeeded while libvirtd was down")
        } catch {
            #expect(error.code == .unavailable)
        }
        // The guest does not depend on libvirtd.
        #expect(kill(qemu, 0) == 0)

        // libvirtd comes back: the connection reopens by itself and events flow again.
        try daemon.startDaemon()
        try await recorder.wait("reconnection", timeout: .seconds(60)) { $0 == .connected(generation: 2) }
        #expect(connection.status == .connected(generation: 2))
        let guest = try #require(try await manager.list().first { $0.name == name })
        #expect(guest.state.kind == .running)
        #expect(guest.isManaged)
        #expect(guests.qemuPID(name) == qemu)
        let mark = recorder.all.count
        try await manager.suspend(name)
        try await recorder.waitForDomain(name, .suspended, from: mark, timeout: .seconds(30))
        try await manager.resume(name)
        try await recorder.waitForDomain(name, .resumed, from: mark, timeout: .seconds(30))

        // libvirtd hangs (SIGSTOP): a call returns a timeout instead of blocking its caller.
        let pid = try #require(daemon.daemonPID())
        let patient = try await Connection.open(
            daemon.uri, options: ConnectionOptions(keepAliveInterval: 0, callTimeout: .seconds(2), reconnect: false))
        defer { patient.close() }
        kill(pid, SIGSTOP)
        let frozenAt = clock.now
        do throws(LibvirtError) {
            _ = try await patient.listDomains()
            Issue.record("a call to a frozen libvirtd returned")
        } catch {
            #expect(error.kind == .timeout)
        }
        #expect(clock.now - frozenAt < .seconds(60), "the 2 s call timeout must end the wait")
        kill(pid, SIGCONT)
        #expect(try await eventually("libvirtd answering after SIGCONT", timeout: .seconds(30)) {
            try? await patient.listDomains().count
        } == 1)

        _ = try await manager.stop(name, policy: ShutdownPolicy(grace: .seconds(60), retryInterval: .seconds(5)))
        _ = try await manager.undefine(name)
    }
}
