import Foundation
import Libvirt
import TestSupport
import Testing

@Suite("Domain operations on the test driver")
struct DomainTests {
    let metadataURI = "https://nodeagent.dev/xmlns/test/1"

    @Test func definesLooksUpAndReadsADomain() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        let uuid = UUID()
        let defined = try await connection.defineDomain(xml: testDomainXML("alpha", uuid: uuid, memoryMiB: 256, vcpus: 2))
        #expect(defined.name == "alpha")
        #expect(defined.uuid == uuid)

        let byName = try await connection.domain(named: "alpha")
        let byUUID = try await connection.domain(uuid: uuid)
        #expect(byName == byUUID)

        let info = try await byName.info()
        #expect(info.state.kind == .shutoff)
        #expect(info.maxMemoryKiB == 256 * 1024)
        #expect(info.vcpus == 2)
        #expect(info.persistent)
        #expect(info.id == nil)

        let xml = try await byName.xml()
        #expect(xml.contains("<name>alpha</name>"))
        #expect(xml.contains(uuid.uuidString.lowercased()))
    }

    @Test func runsTheWholeLifecycle() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        let domain = try await connection.defineDomain(xml: testDomainXML("life"))
        try await domain.start()
        #expect(try await domain.state().kind == .running)
        #expect(try await domain.info().id != nil)
        try await domain.suspend()
        #expect(try await domain.state().kind == .paused)
        try await domain.resume()
        #expect(try await domain.state().kind == .running)
        try await domain.reboot()
        #expect(try await domain.state().kind == .running)
        try await domain.shutdown()
        let afterShutdown = try await domain.state()
        #expect(afterShutdown.kind == .shutoff)
        #expect(afterShutdown.reasonName == "shutdown")
        try await domain.start()
        try await domain.destroy()
        let afterDestroy = try await domain.state()
        #expect(afterDestroy.kind == .shutoff)
        #expect(afterDestroy.reasonName == "destroyed")
        #expect(try await domain.hasManagedSaveImage() == false)
        try await domain.undefine([.managedSave, .snapshotsMetadata])
        do {
            _ = try await connection.domain(named: "life")
            Issue.record("domain still defined")
        } catch {
            #expect(error.code == .noDomain)
            #expect(error.call == "virDomainLookupByName")
            #expect(error.target == "life")
        }
    }

    @Test func refusesOperationsInTheWrongStateWithLibvirtsCode() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        let domain = try await connection.defineDomain(xml: testDomainXML("wrong-state"))
        do {
            try await domain.suspend()
            Issue.record("suspended a shut-off domain")
        } catch {
            // The test driver says "internal error: domain not running"; QEMU says operation-invalid.
            #expect(error.kind == .call)
            #expect(error.message.contains("not running"))
            #expect(error.call == "virDomainSuspend")
            #expect(error.target == "wrong-state")
        }
        try await domain.start()
        await #expect(throws: LibvirtError.self) { try await domain.start() }
    }

    @Test func anOperationOnAnUndefinedDomainSaysNoDomain() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        let domain = try await connection.defineDomain(xml: testDomainXML("gone"))
        try await domain.undefine()
        do {
            try await domain.start()
            Issue.record("started an undefined domain")
        } catch {
            #expect(error.code == .noDomain)
            #expect(!error.isConnectionFailure)
        }
    }

    @Test func anUndefineFlagTheDriverLacksIsRefusedNotIgnored() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        let domain = try await connection.defineDomain(xml: testDomainXML("flags-\(UUID().uuidString.prefix(8))"))
        do {
            try await domain.undefine([.nvram])
            Issue.record("test driver accepted the NVRAM flag")
        } catch {
            #expect(error.code == .invalidArgument)
        }
        try await domain.undefine()
    }

    @Test func invalidXMLIsRefusedByValidation() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        do {
            _ = try await connection.defineDomain(xml: "<domain type='test'><name>x</name><bogus/></domain>")
            Issue.record("accepted invalid XML")
        } catch {
            #expect(error.call == "virDomainDefineXMLFlags")
            #expect(error.code == .xmlInvalidSchema || error.code == .xmlError || error.code == .xmlDetail)
        }
    }

    @Test func storesReadsAndRemovesMetadataInItsOwnNamespace() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        let domain = try await connection.defineDomain(xml: testDomainXML("meta"))
        #expect(try await domain.metadata(uri: metadataURI) == nil)
        try await domain.setMetadata("<guest><owner>ops &amp; co</owner></guest>", key: "na", uri: metadataURI)
        let stored = try #require(try await domain.metadata(uri: metadataURI))
        #expect(stored.contains("<owner>ops &amp; co</owner>"))
        #expect(try await domain.xml().contains(metadataURI))
        try await domain.setMetadata(nil, key: "na", uri: metadataURI)
        #expect(try await domain.metadata(uri: metadataURI) == nil)
    }
}
