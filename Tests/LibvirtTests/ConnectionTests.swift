import Foundation
import Libvirt
import TestSupport
import Testing

@Suite("Connection")
struct ConnectionTests {
    @Test func opensTheTestDriverAndReportsConnected() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        guard case .connected(let generation) = connection.status else {
            Issue.record("status is \(connection.status)")
            return
        }
        #expect(generation == 1)
        // test:///default is shared by every connection of the process (other tests may have
        // defined domains in it); its built-in domain "test" is always there and running.
        let domains = try await connection.listDomains()
        let builtIn = try #require(domains.first { $0.name == "test" })
        #expect(builtIn.state.kind == .running)
        #expect(builtIn.id != nil)
    }

    @Test func openingAMissingSocketFailsFastWithATypedError() async throws {
        let uri = "qemu+unix:///system?socket=/nonexistent-\(UUID().uuidString)/libvirt-sock"
        let connection = Connection(uri: uri, options: ConnectionOptions(reconnect: false))
        await #expect(throws: LibvirtError.self) { try await connection.connect() }
        do {
            try await connection.connect()
        } catch {
            #expect(error.kind == .call)
            #expect(error.call == "virConnectOpen")
            #expect(error.target == uri)
            #expect(error.isConnectionFailure)
            #expect(error.description.contains("virConnectOpen"))
        }
        // While down, every call fails at once with .notConnected.
        do {
            _ = try await connection.listDomains()
            Issue.record("listDomains succeeded without a connection")
        } catch {
            #expect(error.kind == .notConnected)
            #expect(error.call == "virConnectListAllDomains")
            #expect(error.message.contains(uri))
        }
    }

    @Test func aClosedConnectionRefusesCallsAndEndsItsEventStreams() async throws {
        let connection = try await Connection.open("test:///default")
        let stream = connection.events()
        connection.close()
        #expect(connection.status == .closed)
        do {
            _ = try await connection.listDomains()
            Issue.record("call succeeded on a closed connection")
        } catch {
            #expect(error.kind == .closed)
        }
        var count = 0
        for await _ in stream { count += 1 }
        #expect(count == 0)
        await #expect(throws: LibvirtError.self) { try await connection.connect() }
    }

    @Test func anUnknownURIIsRefusedWithLibvirtsMessage() async throws {
        do {
            _ = try await Connection.open("nosuchdriver:///x", options: ConnectionOptions(reconnect: false))
            Issue.record("opened a bogus URI")
        } catch {
            #expect(error.kind == .call)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func connectionsToTheDefaultTestDriverShareItsState() async throws {
        let a = try await Connection.open("test:///default")
        let b = try await Connection.open("test:///default")
        defer {
            a.close()
            b.close()
        }
        let name = "shared-\(UUID().uuidString.prefix(8))"
        let domain = try await a.defineDomain(xml: testDomainXML(name))
        #expect(try await b.domain(named: name).uuid == domain.uuid)
        try await domain.undefine()
    }
}
