import Foundation
import Libvirt
import TestSupport
import Testing

@Suite("Storage on the test driver")
struct StorageTests {
    func volumeXML(_ name: String, capacityMiB: Int) -> String {
        "<volume><name>\(name)</name><capacity unit='MiB'>\(capacityMiB)</capacity><target><format type='raw'/></target></volume>"
    }

    @Test func createsClonesAndDeletesVolumes() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        let pools = try await connection.listStoragePools()
        let defaultPool = try #require(pools.first { $0.name == "default-pool" })
        #expect(defaultPool.state == .running)
        #expect(defaultPool.capacity > 0)

        let pool = try await connection.storagePool(named: "default-pool")
        let name = "vol-\(UUID().uuidString.prefix(8))"
        let volume = try await pool.createVolume(xml: volumeXML(name, capacityMiB: 64))
        #expect(volume.info.capacity == 64 << 20)
        #expect(volume.path.hasSuffix("/\(name)"))
        #expect(try await pool.volumes().contains { $0.name == name })

        // The test driver cannot resize (virStorageVolResize is unsupported there); resizing
        // is exercised against the private libvirtd in the integration tests.
        let clone = try await pool.createVolume(xml: volumeXML(name + "-clone", capacityMiB: 64), cloning: volume)
        #expect(clone.info.capacity == 64 << 20)
        let found = try #require(try await connection.storageVolume(path: clone.path))
        #expect(found.pool == "default-pool")
        #expect(found.name == name + "-clone")

        try await pool.refresh()
        try await clone.delete()
        try await volume.delete()
        #expect(try await pool.volumes().contains { $0.name.hasPrefix(name) } == false)
        #expect(try await connection.storageVolume(path: volume.path) == nil)
    }

    @Test func aMissingPoolOrVolumeIsNamedInTheError() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        do {
            _ = try await connection.storagePool(named: "no-such-pool")
            Issue.record("found a missing pool")
        } catch {
            #expect(error.code == .noStoragePool)
            #expect(error.target == "no-such-pool")
        }
        let pool = try await connection.storagePool(named: "default-pool")
        do {
            _ = try await pool.volume(named: "no-such-volume")
            Issue.record("found a missing volume")
        } catch {
            #expect(error.code == .noStorageVolume)
            #expect(error.target == "default-pool/no-such-volume")
        }
    }

    @Test func definesStartsAndRemovesAPool() async throws {
        try await withTemporaryDirectory { dir in
            let path = try dir.write("node.xml", manyDomainsNodeXML(count: 1))
            let connection = try await Connection.open("test://\(path)")
            defer { connection.close() }
            let pool = try await connection.defineStoragePool(
                xml: "<pool type='dir'><name>scratch</name><target><path>/scratch</path></target></pool>")
            #expect(try await pool.info().state == .inactive)
            try await pool.start()
            #expect(try await pool.info().state == .running)
            try await pool.stop()
            try await pool.undefine()
            #expect(try await connection.listStoragePools().map(\.name) == ["images"])
        }
    }
}
