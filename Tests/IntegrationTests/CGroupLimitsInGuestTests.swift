import Foundation
import Libvirt
import NodeAgent
import TestSupport
import Testing

/// Real cgroup v2 limits, inside a TCG guest: the host has no usable v2 controllers, the guest
/// mounts cgroup2 with all of them. `nodeagent-guestcheck` (CGroups library, static Swift
/// stdlib) runs in the guest and prints one NODEAGENT-CHECK line per check on the serial console.
@Suite(
    "cgroup v2 limits inside a guest", .serialized,
    .enabled(
        if: Integration.enabled && (ProcessInfo.processInfo.environment["NODEAGENT_CGROUP_GUEST_IMAGE"] != nil || Integration.required),
        "needs NODEAGENT_CGROUP_GUEST_IMAGE (scripts/test.sh builds it with scripts/build-guest-tools.sh)"))
struct CGroupLimitsInGuestTests {
    @Test func everyLimitTakesEffectAndFreezeAndKillWork() async throws {
        guard let imageDir = ProcessInfo.processInfo.environment["NODEAGENT_CGROUP_GUEST_IMAGE"] else {
            throw IntegrationUnavailable(reason: "NODEAGENT_CGROUP_GUEST_IMAGE is not set")
        }
        let daemon = try PrivateLibvirtd.shared()
        var guests = try RealGuests(daemon)
        guests.image = try Integration.guestImage(at: imageDir)
        let connection = try await Connection.open(daemon.uri)
        defer { connection.close() }
        try await guests.ensurePool(connection)
        let manager = GuestManager(connection: connection, owner: "integration")
        let volumes = VolumeManager(connection: connection)
        let name = "cgcheck-\(UUID().uuidString.prefix(6))"
        let disk = "\(name).raw"
        _ = try await volumes.create(in: "images", VolumeSpec(name: disk, capacity: .mib(64), format: .raw))

        try await withCleanup {
            var spec = guests.spec(name, volume: disk)
            spec.disks[0].format = .raw
            spec.memory = .mib(512)
            spec.boot = .kernel(.init(kernel: guests.image.kernel, initrd: guests.image.initrd, cmdline: "console=ttyS0 panic=-1 nodeagent.run=/cgroup-limits.sh"))
            try await manager.define(spec)
            try await manager.start(name)
            try await guests.waitForMarker(name, "NODEAGENT-CHECK-DONE", timeout: .seconds(300))
            let log = try String(contentsOfFile: guests.serialLog(name), encoding: .isoLatin1)
            var results: [String: String] = [:]
            for line in log.split(whereSeparator: \.isNewline) where line.contains("NODEAGENT-CHECK name=") {
                let fields = line[line.range(of: "NODEAGENT-CHECK ")!.upperBound...].split(separator: " ")
                var values: [String: String] = [:]
                for field in fields {
                    let pair = field.split(separator: "=", maxSplits: 1)
                    if pair.count == 2 { values[String(pair[0])] = String(pair[1]) }
                }
                if let check = values["name"] { results[check] = values["result"] }
            }
            for line in log.split(whereSeparator: \.isNewline) where line.contains("NODEAGENT-CHECK") {
                print("[measure] \(line.drop { $0 != "N" })")
            }
            for check in ["enable", "memory.max", "cpu.max", "pids.max", "io.max", "freeze", "kill", "cleanup"] {
                #expect(results[check] == "PASS", "\(check): \(log.split(whereSeparator: \.isNewline).filter { $0.contains("name=\(check) ") })")
            }
            #expect(log.contains("NODEAGENT-CHECK-DONE rc=0"))
        } cleanup: {
            _ = try? await manager.undefine(name, deleteVolumes: true, force: true)
        }
    }
}
