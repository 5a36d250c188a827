import Foundation
import Libvirt
@testable import NodeAgent
import TestSupport
import Testing

/// A kernel-boot guest on volume `disk` of pool `images`; the test driver does not boot it.
func sampleSpec(_ name: String, disks: [GuestSpec.Disk] = [], labels: [String: String] = ["team": "storage"]) -> GuestSpec {
    GuestSpec(
        name: name, vcpus: 2, memory: .mib(256),
        boot: .kernel(.init(kernel: "/boot/vmlinuz", initrd: "/boot/initrd.img", cmdline: "console=ttyS0")),
        disks: disks, nics: [.init(.user)], serialLog: "/tmp/\(name).log", labels: labels)
}

func volumeXML(_ name: String) -> String {
    "<volume><name>\(name)</name><capacity unit='MiB'>16</capacity><target><format type='qcow2'/></target></volume>"
}

@Suite("GuestManager on the test driver")
struct GuestManagerTests {
    @Test func definesAManagedGuestWhoseMetadataLivesInLibvirt() async throws {
        try await withIsolatedTestDriver { connection in
            let manager = GuestManager(connection: connection, owner: "controller-7")
            let uuid = UUID()
            var spec = sampleSpec("web-1")
            spec.uuid = uuid
            let guest = try await manager.define(spec, protected: true)
            #expect(guest.uuid == uuid)
            #expect(guest.state.kind == .shutoff)
            #expect(guest.isManaged)
            #expect(guest.isProtected)
            #expect(guest.metadata?.owner == "controller-7")
            #expect(guest.metadata?.labels == ["team": "storage"])

            // A second manager (an agent that lost all its own state) reads the same truth.
            let other = GuestManager(connection: connection, owner: "someone-else")
            let seen = try #require(try await other.list().first { $0.name == "web-1" })
            #expect(seen.isManaged && seen.isProtected)
            #expect(seen.metadata?.owner == "controller-7")

            let details = try await manager.inspect(uuid.uuidString)
            #expect(details.description?.vcpus == 2)
            #expect(details.description?.memoryBytes == 256 << 20)
            #expect(details.description?.kernel == "/boot/vmlinuz")
            #expect(details.description?.serialLogPath == "/tmp/web-1.log")
            #expect(details.info.vcpus == 2)
        }
    }

    @Test func refusesAnInvalidSpecAndDefinesNothing() async throws {
        try await withIsolatedTestDriver { connection in
            let manager = GuestManager(connection: connection)
            for bad in ["a'b<c>&\"", "../../etc", String(repeating: "n", count: 4096), ""] {
                do throws(AgentError) {
                    try await manager.define(sampleSpec(bad))
                    Issue.record("defined a guest named \(bad.prefix(20))")
                } catch {
                    #expect(error.code == .invalidArgument)
                    #expect(error.spec?.field == "name")
                }
            }
            var hostile = sampleSpec("ok-name", labels: ["owner": "x</label><evil/>"])
            hostile.memory = .mib(1)
            do throws(AgentError) {
                try await manager.define(hostile)
                Issue.record("defined a guest with 1 MiB of memory")
            } catch {
                #expect(error.spec?.problem(at: "memory") != nil)
            }
            let remaining = try await connection.listDomains()
            #expect(remaining.isEmpty)
        }
    }

    @Test func refusesADuplicateNameOrUUID() async throws {
        try await withIsolatedTestDriver { connection in
            let manager = GuestManager(connection: connection)
            let first = try await manager.define(sampleSpec("dup"))
            await #expect(throws: AgentError.self) { try await manager.define(sampleSpec("dup")) }
            var sameUUID = sampleSpec("other-name")
            sameUUID.uuid = first.uuid
            do throws(AgentError) {
                try await manager.define(sameUUID)
                Issue.record("redefined a UUID under another name")
            } catch {
                #expect(error.code == .alreadyExists)
            }
        }
    }

    @Test func powerOperationsAreIdempotentAndCheckTheState() async throws {
        try await withIsolatedTestDriver { connection in
            let manager = GuestManager(connection: connection)
            try await manager.define(sampleSpec("power"))
            await #expect(throws: AgentError.self) { try await manager.suspend("power") }
            #expect(try await manager.start("power").state.kind == .running)
            #expect(try await manager.start("power").state.kind == .running)
            #expect(try await manager.suspend("power").state.kind == .paused)
            #expect(try await manager.suspend("power").state.kind == .paused)
            do throws(AgentError) {
                try await manager.reboot("power")
                Issue.record("rebooted a paused guest")
            } catch {
                #expect(error.code == .wrongState)
            }
            #expect(try await manager.resume("power").state.kind == .running)
            #expect(try await manager.reboot("power").state.kind == .running)
            let outcome = try await manager.stop("power")
            guard case .shutDown(let requests, _) = outcome else {
                Issue.record("stop ended as \(outcome)")
                return
            }
            #expect(requests == 1)
            #expect(try await manager.stop("power") == .alreadyStopped)
            try await manager.start("power")
            #expect(try await manager.destroy("power").state.kind == .shutoff)
            #expect(try await manager.destroy("power").state.kind == .shutoff)
        }
    }

    @Test func leavesForeignGuestsAloneUnlessForced() async throws {
        try await withIsolatedTestDriver { connection in
            let manager = GuestManager(connection: connection)
            let foreign = try await connection.defineDomain(xml: testDomainXML("foreign"))
            for operation in ["start", "destroy", "protect", "undefine"] {
                do throws(AgentError) {
                    switch operation {
                    case "start": try await manager.start("foreign")
                    case "destroy": try await manager.destroy("foreign")
                    case "protect": try await manager.setProtected("foreign", true)
                    default: _ = try await manager.undefine("foreign")
                    }
                    Issue.record("\(operation) acted on a foreign guest")
                } catch {
                    #expect(error.code == .refused)
                    #expect(error.message.contains("foreign"))
                }
            }
            #expect(try await foreign.state().kind == .shutoff)
            #expect(try await manager.list().first { $0.name == "foreign" }?.isManaged == false)
            // --force acts, and protecting a foreign guest adopts it.
            try await manager.start("foreign", force: true)
            let adopted = try await manager.setProtected("foreign", true, force: true)
            #expect(adopted.isManaged && adopted.isProtected)
        }
    }

    @Test func protectionRefusesDestroyAndUndefineUntilForcedOrRemoved() async throws {
        try await withIsolatedTestDriver { connection in
            let manager = GuestManager(connection: connection)
            try await manager.define(sampleSpec("precious"), protected: true)
            try await manager.start("precious")
            for attempt in [{ _ = try await manager.destroy("precious") }, { _ = try await manager.undefine("precious", force: false) }] {
                do {
                    try await attempt()
                    Issue.record("a protected guest was destroyed or undefined")
                } catch let error as AgentError {
                    #expect(error.code == .refused)
                    #expect(error.message.contains("protected"))
                }
            }
            // Protection on a running guest is written to both its live and persistent definitions.
            #expect(try await manager.setProtected("precious", false).isProtected == false)
            try await manager.destroy("precious")
            try await manager.start("precious")
            try await manager.setProtected("precious", true)
            #expect(try await manager.destroy("precious", force: true).state.kind == .shutoff)
            let removed = try await manager.undefine("precious", force: true)
            #expect(removed.guest == "precious")
            #expect(try await connection.listDomains().isEmpty)
        }
    }

    @Test func undefineDeletesWritableVolumesAndKeepsSharedOnes() async throws {
        try await withIsolatedTestDriver { connection in
            let manager = GuestManager(connection: connection)
            let pool = try await connection.storagePool(named: "images")
            let root = try await pool.createVolume(xml: volumeXML("root.qcow2"))
            let data = try await pool.createVolume(xml: volumeXML("data.qcow2"))
            let base = try await pool.createVolume(xml: volumeXML("base.qcow2"))
            try await manager.define(
                sampleSpec(
                    "with-disks",
                    disks: [
                        .init(source: .volume(pool: "images", volume: "root.qcow2"), format: .qcow2),
                        .init(source: .file(path: data.path), format: .qcow2),
                        .init(source: .volume(pool: "images", volume: "base.qcow2"), format: .qcow2, readonly: true),
                        .init(source: .file(path: "/srv/not-a-volume.raw")),
                    ]))
            try await manager.start("with-disks")
            do throws(AgentError) {
                _ = try await manager.undefine("with-disks", deleteVolumes: true)
                Issue.record("undefined a running guest without --force")
            } catch {
                #expect(error.code == .wrongState)
            }
            _ = try await manager.stop("with-disks")
            let result = try await manager.undefine("with-disks", deleteVolumes: true)
            #expect(Set(result.deletedVolumes) == [root.path, data.path])
            #expect(result.keptDisks.map(\.disk) == ["vdd"])
            #expect(try await pool.volumes().map(\.name) == ["base.qcow2"])
            _ = base
        }
    }

    @Test func listsHundredsOfGuestsFromANodeFile() async throws {
        try await withIsolatedTestDriver(domains: 300) { connection in
            let manager = GuestManager(connection: connection)
            try await manager.define(sampleSpec("managed-one"))
            let guests = try await manager.list()
            #expect(guests.count == 301)
            #expect(guests.filter(\.isManaged).map(\.name) == ["managed-one"])
            #expect(guests.filter { $0.state.kind == .running }.count == 200)
        }
    }

    @Test func aVolumeInUseIsNotDeletedWithoutForce() async throws {
        try await withIsolatedTestDriver { connection in
            let guests = GuestManager(connection: connection)
            let volumes = VolumeManager(connection: connection)
            _ = try await volumes.create(in: "images", VolumeSpec(name: "busy.qcow2", capacity: .mib(64)))
            try await guests.define(sampleSpec("user", disks: [.init(source: .volume(pool: "images", volume: "busy.qcow2"), format: .qcow2)]))
            do throws(AgentError) {
                try await volumes.delete("images", "busy.qcow2")
                Issue.record("deleted a disk of a defined guest")
            } catch {
                #expect(error.code == .refused)
                #expect(error.message.contains("user"))
            }
            #expect(try await volumes.show("images", "busy.qcow2").users == ["user"])
            try await volumes.delete("images", "busy.qcow2", force: true)
            #expect(try await volumes.volumes(in: "images").isEmpty)
        }
    }
}
