import Foundation
import Testing

@testable import NodeAgent

/// Reading spec files: TOML and JSON, defaults, unknown keys and refused values by field path,
/// and the examples in docs/GUEST-SPEC.md.
@Suite struct GuestSpecDecodingTests {
    static func json(_ text: String) throws(GuestSpecError) -> GuestSpec {
        try GuestSpec(json: Data(text.utf8))
    }

    @Test func minimalSpecTakesEveryDefault() throws {
        let spec = try Self.json(
            #"{"name": "a", "memory": "256M", "disks": [{"source": {"type": "file", "path": "/d"}}]}"#)
        #expect(spec.uuid == nil)
        #expect(spec.domainType == .qemu)
        #expect(spec.vcpus == 1)
        #expect(spec.memory == .mib(256))
        #expect(spec.boot == .disk)
        #expect(
            spec.disks == [.init(source: .file(path: "/d"), format: .raw, target: nil, bus: .virtio, readonly: false)])
        #expect(spec.nics == [])
        #expect(spec.serialLog == nil)
        #expect(spec.tunables == .init())
        #expect(spec.memballoon.statsPeriod == 2)
        #expect(spec.labels == [:])
    }

    @Test func goldenTOMLDecodesEveryField() throws {
        let spec = try GuestSpecFixtures.goldenSpec("all-tunables")
        #expect(spec.uuid == UUID(uuidString: "9c1d7c8a-7b0e-4f3c-8a1d-5e6f70819203"))
        #expect(spec.vcpus == 4)
        #expect(spec.memory == .gib(4))
        #expect(spec.disks[0].source == .volume(pool: "fast", volume: "db-2-root.qcow2"))
        #expect(spec.disks[0].iotune == .init(totalBytesSec: .mib(200), totalIopsSec: 5000))
        #expect(spec.disks[1] == .init(source: .block(path: "/dev/vg0/db-2-data"), bus: .scsi, cache: .directsync))
        #expect(
            spec.disks[2].iotune
                == .init(readBytesSec: .mib(100), writeBytesSec: .mib(50), readIopsSec: 2000, writeIopsSec: 1000))
        #expect(spec.nics == [.init(.network("backend"), model: .e1000, mac: "52:54:00:AB:CD:EF")])
        #expect(
            spec.tunables
                == .init(
                    cpu: .init(
                        shares: 2048, period: 100_000, quota: 200_000, emulatorPeriod: 100_000, emulatorQuota: -1),
                    memory: .init(hardLimit: .gib(5), softLimit: .gib(4), swapHardLimit: .gib(6)),
                    blkio: .init(weight: 800)))
        #expect(spec.memballoon.statsPeriod == 10)
        try spec.validate()
    }

    @Test(arguments: GuestSpecFixtures.goldenNames)
    func jsonEncodingRoundTrips(name: String) throws {
        let spec = try GuestSpecFixtures.goldenSpec(name)
        #expect(try GuestSpec(json: spec.jsonData()) == spec)
    }

    // MARK: Refused input names the field

    @Test(arguments: [
        (#"{"name": "a"}"#, "memory", GuestSpecError.Code.missing),
        (#"{"memory": 1}"#, "name", .missing),
        (#"{"name": "a", "memory": "1G", "vcpu": 2}"#, "vcpu", .unknownKey),
        (#"{"name": "a", "memory": "1G", "vcpus": "2"}"#, "vcpus", .invalidType),
        (#"{"name": "a", "memory": "1G", "domain_type": "xen"}"#, "domain_type", .invalidValue),
        (#"{"name": "a", "memory": "-1G"}"#, "memory", .invalidValue),
        (#"{"name": "a", "memory": "1G", "uuid": "not-a-uuid"}"#, "uuid", .invalidValue),
        (#"{"name": "a", "memory": "1G", "boot": {}}"#, "boot.mode", .missing),
        (#"{"name": "a", "memory": "1G", "boot": {"mode": "pxe"}}"#, "boot.mode", .invalidValue),
        (#"{"name": "a", "memory": "1G", "boot": {"mode": "kernel"}}"#, "boot.kernel", .missing),
        (#"{"name": "a", "memory": "1G", "boot": {"mode": "disk", "cmdline": "x"}}"#, "boot.cmdline", .conflict),
        (
            #"{"name": "a", "memory": "1G", "disks": [{"source": {"type": "file", "path": "/a"}}, {"sourc": {}}]}"#,
            "disks[1].sourc", .unknownKey
        ),
        (
            #"{"name": "a", "memory": "1G", "disks": [{"source": {"type": "file", "path": "/a"}}, {"source": {"type": "nbd"}}]}"#,
            "disks[1].source.type", .invalidValue
        ),
        (#"{"name": "a", "memory": "1G", "disks": [{"source": {"type": "file"}}]}"#, "disks[0].source.path", .missing),
        (
            #"{"name": "a", "memory": "1G", "disks": [{"source": {"type": "file", "path": "/a", "pool": "p"}}]}"#,
            "disks[0].source.pool", .conflict
        ),
        (
            #"{"name": "a", "memory": "1G", "disks": [{"source": {"type": "file", "path": "/a"}, "bus": "ide"}]}"#,
            "disks[0].bus", .invalidValue
        ),
        (
            #"{"name": "a", "memory": "1G", "disks": [{"source": {"type": "file", "path": "/a"}, "iotune": {"total_bytes_sec": "1.5G"}}]}"#,
            "disks[0].iotune.total_bytes_sec", .invalidValue
        ),
        (#"{"name": "a", "memory": "1G", "nics": [{"type": "bridge"}]}"#, "nics[0].bridge", .missing),
        (#"{"name": "a", "memory": "1G", "nics": [{"type": "user", "bridge": "br0"}]}"#, "nics[0].bridge", .conflict),
        (
            #"{"name": "a", "memory": "1G", "nics": [{"type": "user", "model": "ne2k"}]}"#, "nics[0].model",
            .invalidValue
        ),
        (#"{"name": "a", "memory": "1G", "tunables": {"cpu": {"share": 5}}}"#, "tunables.cpu.share", .unknownKey),
        (
            #"{"name": "a", "memory": "1G", "tunables": {"memory": {"hard_limit": "lots"}}}"#,
            "tunables.memory.hard_limit", .invalidValue
        ),
        (#"{"name": "a", "memory": "1G", "labels": {"k": 1}}"#, "labels[\"k\"]", .invalidType),
        (#"{"name": "a", "memory": "1G", "memballoon": {"period": 1}}"#, "memballoon.period", .unknownKey),
        (#"{"name": "a", "#, "", .invalidType),
    ])
    func refusedJSONNamesTheField(json: String, field: String, code: GuestSpecError.Code) {
        let error = #expect(throws: GuestSpecError.self) { try Self.json(json) }
        #expect(error?.problem(at: field)?.code == code, "\(error?.description ?? "no error")")
    }

    @Test func everyUnknownKeyIsListed() {
        let error = #expect(throws: GuestSpecError.self) {
            try Self.json(#"{"name": "a", "memory": "1G", "cpus": 1, "ram": 2}"#)
        }
        #expect(error?.problems.map(\.field) == ["cpus", "ram"])
        #expect(error?.problems[0].reason.contains("expected one of: name, uuid, domain_type, vcpus") == true)
    }

    @Test(arguments: [
        ("name = \"a\"\nmemory = \"1G\"\nvcpu = 2\n", "vcpu", GuestSpecError.Code.unknownKey),
        ("name = \"a\"\nmemory = -5\n", "memory", .outOfRange),
        (
            "name = \"a\"\nmemory = \"1G\"\n[[disks]]\nsource = { type = \"file\", path = \"/a\" }\n[[disks]]\nsource = { type = \"file\", path = \"/b\" }\nformat = \"vmdk\"\n",
            "disks[1].format", .invalidValue
        ),
        ("name = \"a\"\nmemory = \"1G\"\n[tunables.cpu]\nshares = \"many\"\n", "tunables.cpu.shares", .invalidType),
        ("name = \"a\"\nmemory = \"1G\"\n[labels]\n\"Bad Key\" = 1\n", "labels[\"Bad Key\"]", .invalidType),
        ("name = \"a\"\nmemory = ", "", .invalidType),
    ])
    func refusedTOMLNamesTheField(toml: String, field: String, code: GuestSpecError.Code) {
        let error = #expect(throws: GuestSpecError.self) { try GuestSpec(toml: toml) }
        #expect(error?.problem(at: field)?.code == code, "\(error?.description ?? "no error")")
    }

    @Test func tomlSyntaxErrorGivesTheLine() {
        let error = #expect(throws: GuestSpecError.self) { try GuestSpec(toml: "name = \"a\"\nmemory = = 3\n") }
        #expect(error?.problems[0].reason.contains("line 2") == true, "\(error?.description ?? "")")
    }

    // MARK: docs/GUEST-SPEC.md

    static func documentationBlocks(_ language: String) throws -> [String] {
        let docs = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/GUEST-SPEC.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        return text.components(separatedBy: "```\(language)\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
    }

    @Test func documentedTOMLAndJSONExamplesDescribeTheSameValidGuest() throws {
        let toml = try #require(try Self.documentationBlocks("toml").first)
        let json = try #require(try Self.documentationBlocks("json").first)
        let fromTOML = try GuestSpec(toml: toml)
        let fromJSON = try GuestSpec(json: Data(json.utf8))
        #expect(fromTOML == fromJSON)
        try fromTOML.validate()
        #expect(fromTOML.disks.count == 2)
        #expect(fromTOML.nics.count == 2)
        #expect(fromTOML.tunables.cpu.quota != nil)
        _ = try fromTOML.domainXML(metadata: GuestMetadata(owner: "controller-1"))
    }
}
