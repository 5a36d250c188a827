import Foundation
import Libvirt
import NodeAgent
import TestSupport
import Testing

/// Guests under a real QEMU (TCG) in a private libvirtd. One shared daemon, tests one at a
/// time: TCG guests need the CPU.
@Suite(
    "Real guests in a private libvirtd", .serialized,
    .enabled(if: Integration.enabled, "needs root, libvirtd, QEMU and NODEAGENT_GUEST_IMAGE: run scripts/test.sh"))
struct RealGuestTests {
    @Test func aGuestRunsItsWholeLifecycle() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let connection = try await Connection.open(daemon.uri)
        defer { connection.close() }
        let recorder = EventRecorder(connection)
        try await guests.ensurePool(connection)
        let manager = GuestManager(connection: connection, owner: "integration")
        let volumes = VolumeManager(connection: connection)
        let name = "life-\(UUID().uuidString.prefix(6))"
        let disk = "\(name).qcow2"
        _ = try await volumes.create(in: "images", VolumeSpec(name: disk, capacity: .mib(64)))
        try await withCleanup {
            try await lifecycle(name, disk, guests, connection, manager, volumes, recorder)
        } cleanup: {
            _ = try? await manager.undefine(name, deleteVolumes: true, force: true)
        }
    }

    private func lifecycle(
        _ name: String, _ disk: String, _ guests: RealGuests, _ connection: Connection, _ manager: GuestManager,
        _ volumes: VolumeManager, _ recorder: EventRecorder
    ) async throws {
        try await manager.define(guests.spec(name, volume: disk))
        let clock = ContinuousClock()
        let startedAt = clock.now
        try await manager.start(name)
        try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")
        print("[measure] start-to-marker of \(name): \(seconds(clock.now - startedAt))")
        try await guests.waitForMarker(name, "NODEAGENT-DISK-OK vda")
        try await recorder.waitForDomain(name, .started)

        // Bulk stats of a real guest: every group present. The balloon driver reports its
        // statistics every 2 s once the guest has loaded it.
        let stats = try await eventually("balloon statistics of \(name)", timeout: .seconds(60), poll: .milliseconds(500)) {
            let all = try await connection.allDomainStats()
            return all.first { $0.name == name && $0.balloon?.available != nil }
        }
        #expect(stats.state?.kind == .running)
        #expect((stats.cpu?.time ?? 0) > 0)
        #expect(stats.vcpu?.current == 1)
        #expect(stats.vcpu?.vcpus.count == 1)
        #expect((stats.vcpu?.vcpus.first?.time ?? 0) > 0)
        let vda = try #require(stats.block.first { $0.name == "vda" })
        #expect((vda.readBytes ?? 0) > 0)
        #expect(vda.capacity == 64 << 20)
        #expect(stats.balloon?.current == 256 * 1024)
        #expect(stats.balloon?.maximum == 256 * 1024)

        // Suspend and resume, seen as state and as events.
        let mark = recorder.all.count
        #expect(try await manager.suspend(name).state.kind == .paused)
        try await recorder.waitForDomain(name, .suspended, from: mark)
        #expect(try await manager.resume(name).state.kind == .running)
        try await recorder.waitForDomain(name, .resumed, from: mark)

        // Graceful shutdown: the guest powers itself off on the ACPI request.
        let outcome = try await manager.stop(name, policy: ShutdownPolicy(grace: .seconds(120), retryInterval: .seconds(10)))
        guard case .shutDown = outcome else {
            Issue.record("a guest that honours ACPI ended as \(outcome)")
            return
        }
        try await guests.waitForMarker(name, "NODEAGENT-GUEST-POWEROFF", timeout: .seconds(5))
        #expect(try await manager.inspect(name).guest.state.reasonName == "shutdown")

        // Undefine with its qcow2 volume.
        let removed = try await manager.undefine(name, deleteVolumes: true)
        #expect(removed.deletedVolumes.count == 1)
        #expect(removed.deletedVolumes.first?.hasSuffix("/\(disk)") == true)
        #expect(try await volumes.volumes(in: "images").contains { $0.name == disk } == false)
        #expect(try await connection.listDomains().contains { $0.name == name } == false)
    }

    @Test func aGuestThatIgnoresACPIIsDestroyedAfterItsGracePeriod() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let connection = try await Connection.open(daemon.uri)
        defer { connection.close() }
        let manager = GuestManager(connection: connection, owner: "integration")
        let name = "deaf-\(UUID().uuidString.prefix(6))"
        try await withCleanup {
            try await ignoringACPI(name, guests, manager)
        } cleanup: {
            _ = try? await manager.undefine(name, force: true)
        }
    }

    private func ignoringACPI(_ name: String, _ guests: RealGuests, _ manager: GuestManager) async throws {
        try await manager.define(guests.spec(name, ignoreACPI: true), protected: true)
        try await manager.start(name)
        try await guests.waitForMarker(name, "NODEAGENT-ACPI-IGNORED")
        try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")
        let policy = ShutdownPolicy(grace: .seconds(6), retryInterval: .seconds(2))

        // Protected: after the grace period the guest is left running and the stop fails.
        do throws(AgentError) {
            _ = try await manager.stop(name, policy: policy)
            Issue.record("stop of a protected guest that ignores ACPI succeeded")
        } catch {
            #expect(error.code == .timedOut)
            #expect(error.message.contains("protected"))
        }
        #expect(try await manager.inspect(name).guest.state.kind == .running)

        // Unprotected (or forced): destroyed after the grace period, having been asked repeatedly.
        try await manager.setProtected(name, false)
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try await manager.stop(name, policy: policy)
        guard case .destroyed(let requests, _) = outcome else {
            Issue.record("a guest that ignores ACPI ended as \(outcome)")
            return
        }
        #expect(requests >= 3)
        #expect(clock.now - start >= .seconds(6))
        let state = try await manager.inspect(name).guest.state
        #expect(state.kind == .shutoff)
        #expect(state.reasonName == "destroyed")
        let log = try String(contentsOfFile: guests.serialLog(name), encoding: .isoLatin1)
        #expect(!log.contains("NODEAGENT-GUEST-POWEROFF"))
    }

    @Test func volumesAreCreatedResizedClonedRefreshedAndDeleted() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let connection = try await Connection.open(daemon.uri)
        defer { connection.close() }
        try await RealGuests(daemon).ensurePool(connection)
        let volumes = VolumeManager(connection: connection)
        let name = "vol-\(UUID().uuidString.prefix(6)).qcow2"
        let created = try await volumes.create(in: "images", VolumeSpec(name: name, capacity: .mib(32)))
        #expect(created.capacity == 32 << 20)
        #expect(FileManager.default.fileExists(atPath: created.path))

        let grown = try await volumes.resize("images", name, to: .mib(96))
        #expect(grown.capacity == 96 << 20)
        do throws(AgentError) {
            _ = try await volumes.resize("images", name, to: .mib(16))
            Issue.record("shrank without --shrink")
        } catch {
            #expect(error.code == .invalidArgument)
        }

        let clone = try await volumes.clone("images", name, to: "clone-" + name)
        #expect(clone.capacity == 96 << 20)
        let header = try #require(FileManager.default.contents(atPath: clone.path)?.prefix(4))
        #expect(Array(header) == [0x51, 0x46, 0x49, 0xFB])  // "QFI\xfb": a qcow2 image

        // A file made behind libvirt's back appears after a refresh.
        let stray = URL(fileURLWithPath: created.path).deletingLastPathComponent().appendingPathComponent("stray-\(name)").path
        try run("/usr/bin/qemu-img", ["create", "-q", "-f", "qcow2", stray, "8M"])
        try await volumes.refresh("images")
        #expect(try await volumes.volumes(in: "images").contains { $0.name == "stray-\(name)" })

        for volume in [name, "clone-" + name, "stray-\(name)"] { try await volumes.delete("images", volume) }
        #expect(!FileManager.default.fileExists(atPath: created.path))
        #expect(!FileManager.default.fileExists(atPath: stray))
    }
}
