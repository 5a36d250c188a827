import Foundation
import Libvirt
import TestSupport
import Testing

@Suite("Events and bulk stats on the test driver")
struct EventAndStatsTests {
    @Test func deliversLifecycleEventsInOrder() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        let recorder = EventRecorder(connection)
        let name = "events-\(UUID().uuidString.prefix(8))"
        let domain = try await connection.defineDomain(xml: testDomainXML(name))
        try await domain.start()
        try await domain.suspend()
        try await domain.resume()
        try await domain.destroy()
        try await domain.undefine()
        try await recorder.waitForDomain(name, .undefined)
        let kinds = recorder.domainEvents(name).compactMap(\.kind)
        #expect(kinds == [.defined, .started, .suspended, .resumed, .stopped, .undefined])
        let stopped = try #require(recorder.domainEvents(name).first { $0.kind == .stopped })
        #expect(stopped.detailName == "destroyed")
        #expect(stopped.domainUUID == domain.uuid)
    }

    @Test func aConsumerThatStopsIsForgotten() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        #expect(connection.subscriberCount == 0)
        do {
            let stream = connection.events()
            #expect(connection.subscriberCount == 1)
            let consumer = Task { for await _ in stream {} }
            consumer.cancel()
            await consumer.value
        }
        try await waitUntil("the stopped consumer to be removed", timeout: .seconds(10)) { connection.subscriberCount == 0 }
        // The connection keeps working and delivers to new consumers.
        let recorder = EventRecorder(connection)
        #expect(connection.subscriberCount == 1)
        let name = "after-\(UUID().uuidString.prefix(8))"
        _ = try await connection.defineDomain(xml: testDomainXML(name))
        try await recorder.waitForDomain(name, .defined)
        try await connection.domain(named: name).undefine()
    }

    @Test func bulkStatsOfTheTestDriverCarryState() async throws {
        let connection = try await Connection.open("test:///default")
        defer { connection.close() }
        let stats = try await connection.allDomainStats()
        let builtIn = try #require(stats.first { $0.name == "test" })
        #expect(builtIn.state?.kind == .running)
        #expect(builtIn.unknown.isEmpty)
    }

    @Test func decodesEveryGroupOfARealGuestAndKeepsUnknownFields() throws {
        // Fields as a QEMU guest with one disk, one NIC and a stats-enabled balloon reports them.
        let parameters: [TypedParameter] = [
            .init(name: "state.state", value: .int(1)), .init(name: "state.reason", value: .int(1)),
            .init(name: "cpu.time", value: .ullong(5_123_456_789)), .init(name: "cpu.user", value: .ullong(3_000_000_000)),
            .init(name: "cpu.system", value: .ullong(1_500_000_000)),
            .init(name: "cpu.haltpoll.success.time", value: .ullong(42)),
            .init(name: "balloon.current", value: .ullong(262_144)), .init(name: "balloon.maximum", value: .ullong(262_144)),
            .init(name: "balloon.unused", value: .ullong(200_000)), .init(name: "balloon.available", value: .ullong(250_000)),
            .init(name: "balloon.rss", value: .ullong(180_000)), .init(name: "balloon.last-update", value: .ullong(1_700_000_000)),
            .init(name: "vcpu.current", value: .uint(2)), .init(name: "vcpu.maximum", value: .uint(2)),
            .init(name: "vcpu.0.state", value: .int(1)), .init(name: "vcpu.0.time", value: .ullong(2_000_000_000)),
            .init(name: "vcpu.0.wait", value: .ullong(0)), .init(name: "vcpu.0.delay", value: .ullong(7)),
            .init(name: "vcpu.1.state", value: .int(1)), .init(name: "vcpu.1.time", value: .ullong(1_000_000_000)),
            .init(name: "vcpu.1.halted", value: .bool(true)),
            .init(name: "net.count", value: .uint(1)), .init(name: "net.0.name", value: .string("vnet0")),
            .init(name: "net.0.rx.bytes", value: .ullong(1000)), .init(name: "net.0.rx.pkts", value: .ullong(10)),
            .init(name: "net.0.tx.bytes", value: .ullong(2000)), .init(name: "net.0.tx.drop", value: .ullong(1)),
            .init(name: "block.count", value: .uint(1)), .init(name: "block.0.name", value: .string("vda")),
            .init(name: "block.0.path", value: .string("/var/lib/libvirt/images/a.qcow2")),
            .init(name: "block.0.rd.reqs", value: .ullong(120)), .init(name: "block.0.rd.bytes", value: .ullong(4_194_304)),
            .init(name: "block.0.wr.bytes", value: .ullong(0)), .init(name: "block.0.capacity", value: .ullong(67_108_864)),
            .init(name: "block.0.threshold", value: .ullong(1)),
        ]
        let uuid = UUID()
        let stats = DomainStats(name: "g", uuid: uuid, parameters: parameters)
        #expect(stats.state == DomainState(kind: .running, reason: 1))
        #expect(stats.cpu?.time == 5_123_456_789)
        #expect(stats.cpu?.system == 1_500_000_000)
        #expect(stats.balloon?.current == 262_144)
        #expect(stats.balloon?.rss == 180_000)
        #expect(stats.balloon?.lastUpdate == 1_700_000_000)
        #expect(stats.vcpu?.current == 2)
        #expect(stats.vcpu?.vcpus.map(\.index) == [0, 1])
        #expect(stats.vcpu?.vcpus[0].delay == 7)
        #expect(stats.net.count == 1)
        #expect(stats.net[0].name == "vnet0")
        #expect(stats.net[0].txDrops == 1)
        #expect(stats.block.count == 1)
        #expect(stats.block[0].name == "vda")
        #expect(stats.block[0].readBytes == 4_194_304)
        #expect(stats.block[0].capacity == 67_108_864)
        // Fields without a typed property are kept verbatim.
        #expect(
            stats.unknown == [
                "cpu.haltpoll.success.time": .ullong(42), "vcpu.1.halted": .bool(true),
                "block.0.threshold": .ullong(1),
            ])
    }

    @Test func listsAndReadsStatsOfHundredsOfDomainsFromANodeFile() async throws {
        try await withTemporaryDirectory { dir in
            let path = try dir.write("node.xml", manyDomainsNodeXML(count: 300))
            let connection = try await Connection.open("test://\(path)")
            defer { connection.close() }
            let domains = try await connection.listDomains()
            #expect(domains.count == 300)
            #expect(domains.filter { $0.state.kind == .shutoff }.count == 100)
            #expect(domains.filter { $0.state.kind == .running }.count == 200)
            let stats = try await connection.allDomainStats()
            #expect(stats.count == 300)
            #expect(Set(stats.map(\.uuid)) == Set(domains.map(\.uuid)))
            let active = try await connection.allDomainStats(activeOnly: true)
            #expect(active.count == 200)
            let one = try await connection.domain(named: "guest-0299")
            #expect(try await one.info().vcpus == 4)
            #expect(try await connection.listStoragePools().map(\.name) == ["images"])
        }
    }
}
