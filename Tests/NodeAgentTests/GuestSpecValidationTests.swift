import Foundation
import Testing

@testable import NodeAgent

/// Every validation rule, each refusal asserted by its field path and code.
@Suite struct GuestSpecValidationTests {
    /// A spec that uses every section and passes validation.
    static func valid() -> GuestSpec {
        GuestSpec(
            name: "web-1", uuid: UUID(uuidString: "3f2504e0-4f89-41d3-9a0c-0305e82c3301"), vcpus: 2, memory: .gib(1),
            boot: .disk,
            disks: [
                .init(source: .volume(pool: "images", volume: "web-1.qcow2"), format: .qcow2),
                .init(
                    source: .file(path: "/srv/data.raw"), bus: .sata, readonly: true, iotune: .init(totalIopsSec: 100)),
                .init(source: .block(path: "/dev/vg0/web"), bus: .scsi, cache: .uncached),
            ],
            nics: [.init(.user), .init(.bridge("br0"), mac: "52:54:00:12:34:56"), .init(.network("backend"))],
            serialLog: "/var/log/web-1.log",
            tunables: .init(
                cpu: .init(shares: 1024, period: 100_000, quota: -1, emulatorPeriod: 1000, emulatorQuota: 1000),
                memory: .init(hardLimit: .gib(2), softLimit: .gib(1), swapHardLimit: .gib(3)), blkio: .init(weight: 500)
            ),
            labels: ["team": "storage", "app.kubernetes.io/name": "web"])
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var field: String
        var code: GuestSpecError.Code
        var mutate: @Sendable (inout GuestSpec) -> Void

        init(
            _ label: String, _ field: String, _ code: GuestSpecError.Code,
            _ mutate: @escaping @Sendable (inout GuestSpec) -> Void
        ) {
            self.label = label
            self.field = field
            self.code = code
            self.mutate = mutate
        }

        var testDescription: String { label }
    }

    static let fourKiB = String(repeating: "a", count: 4096)

    static let refusals: [Case] = [
        // Names
        Case("empty name", "name", .missing) { $0.name = "" },
        Case("hostile name", "name", .invalidCharacters) { $0.name = "a'b<c>&\"" },
        Case("path as name", "name", .invalidCharacters) { $0.name = "../../etc" },
        Case("4 KiB name", "name", .tooLong) { $0.name = fourKiB },
        Case("65-character name", "name", .tooLong) { $0.name = String(repeating: "n", count: 65) },
        Case("name starting with dot", "name", .invalidCharacters) { $0.name = ".hidden" },
        Case("name starting with dash", "name", .invalidCharacters) { $0.name = "-rf" },
        Case("name with space", "name", .invalidCharacters) { $0.name = "web 1" },
        Case("name with NUL", "name", .invalidCharacters) { $0.name = "web\u{0}1" },
        Case("non-ASCII name", "name", .invalidCharacters) { $0.name = "wéb" },
        Case("nil UUID", "uuid", .invalidValue) { $0.uuid = UUID(uuidString: "00000000-0000-0000-0000-000000000000") },
        // Sizes and counts
        Case("zero vcpus", "vcpus", .outOfRange) { $0.vcpus = 0 },
        Case("negative vcpus", "vcpus", .outOfRange) { $0.vcpus = -4 },
        Case("513 vcpus", "vcpus", .outOfRange) { $0.vcpus = 513 },
        Case("memory below 16 MiB", "memory", .outOfRange) { $0.memory = .mib(15) },
        Case("memory above 16 TiB", "memory", .outOfRange) { $0.memory = .tib(17) },
        Case("absurd memory", "memory", .outOfRange) { $0.memory = ByteSize(bytes: .max)! },
        Case("memory not whole MiB", "memory", .misaligned) { $0.memory = ByteSize(bytes: (1 << 30) + 512)! },
        // Boot
        Case("disk boot without disks", "disks", .missing) { $0.disks = [] },
        Case("relative kernel", "boot.kernel", .notAbsolute) { $0.boot = .kernel(.init(kernel: "vmlinuz")) },
        Case("kernel escaping upwards", "boot.kernel", .parentReference) {
            $0.boot = .kernel(.init(kernel: "/var/lib/../../etc/shadow"))
        },
        Case("empty kernel", "boot.kernel", .missing) { $0.boot = .kernel(.init(kernel: "")) },
        Case("initrd with newline", "boot.initrd", .invalidCharacters) {
            $0.boot = .kernel(.init(kernel: "/k", initrd: "/i\nx"))
        },
        Case("cmdline with control character", "boot.cmdline", .invalidCharacters) {
            $0.boot = .kernel(.init(kernel: "/k", cmdline: "console=ttyS0\u{1B}[2J"))
        },
        Case("cmdline with newline", "boot.cmdline", .invalidCharacters) {
            $0.boot = .kernel(.init(kernel: "/k", cmdline: "a\nb"))
        },
        Case("non-ASCII cmdline", "boot.cmdline", .invalidCharacters) {
            $0.boot = .kernel(.init(kernel: "/k", cmdline: "quiet ü"))
        },
        Case("2049-character cmdline", "boot.cmdline", .tooLong) {
            $0.boot = .kernel(.init(kernel: "/k", cmdline: String(repeating: "x", count: 2049)))
        },
        // Disks
        Case("relative disk path", "disks[1].source.path", .notAbsolute) {
            $0.disks[1].source = .file(path: "../../etc")
        },
        Case("disk path with ..", "disks[1].source.path", .parentReference) {
            $0.disks[1].source = .file(path: "/srv/../etc/passwd")
        },
        Case("disk path ending in ..", "disks[2].source.path", .parentReference) {
            $0.disks[2].source = .block(path: "/dev/..")
        },
        Case("disk path with NUL", "disks[1].source.path", .invalidCharacters) {
            $0.disks[1].source = .file(path: "/srv/a\u{0}b")
        },
        Case("disk path with DEL", "disks[1].source.path", .invalidCharacters) {
            $0.disks[1].source = .file(path: "/srv/a\u{7F}")
        },
        Case("disk path over 4096 bytes", "disks[1].source.path", .tooLong) {
            $0.disks[1].source = .file(path: "/" + fourKiB)
        },
        Case("hostile pool", "disks[0].source.pool", .invalidCharacters) {
            $0.disks[0].source = .volume(pool: "a'b<c>&\"", volume: "v")
        },
        Case("hostile volume", "disks[0].source.volume", .invalidCharacters) {
            $0.disks[0].source = .volume(pool: "p", volume: "../../etc")
        },
        Case("empty volume", "disks[0].source.volume", .missing) {
            $0.disks[0].source = .volume(pool: "p", volume: "")
        },
        Case("duplicate file source", "disks[1].source.path", .duplicate) {
            $0.disks[0].source = .file(path: "/srv/data.raw")
        },
        Case("duplicate source spelled differently", "disks[2].source.path", .duplicate) {
            $0.disks[2].source = .block(path: "/srv//./data.raw")
        },
        Case("duplicate volume", "disks[1].source.volume", .duplicate) {
            $0.disks[1].source = .volume(pool: "images", volume: "web-1.qcow2")
        },
        Case("malformed target", "disks[0].target", .invalidValue) { $0.disks[0].target = "hda" },
        Case("hostile target", "disks[0].target", .invalidValue) { $0.disks[0].target = "vd'a" },
        Case("target for another bus", "disks[0].target", .conflict) { $0.disks[0].target = "sdz" },
        Case("duplicate target", "disks[2].target", .duplicate) {
            $0.disks[1].target = "sdb"
            $0.disks[2].target = "sdb"
        },
        Case("27th virtio disk", "disks[26].target", .tooMany) {
            $0.disks = (0..<27).map { .init(source: .file(path: "/srv/d\($0).raw")) }
        },
        Case("negative iops", "disks[1].iotune.total_iops_sec", .outOfRange) {
            $0.disks[1].iotune = .init(totalIopsSec: -1)
        },
        Case("iops above QEMU's limit", "disks[1].iotune.read_iops_sec", .outOfRange) {
            $0.disks[1].iotune = .init(readIopsSec: Int64.max)
        },
        Case("bytes above QEMU's limit", "disks[1].iotune.write_bytes_sec", .outOfRange) {
            $0.disks[1].iotune = .init(writeBytesSec: .tib(1024))
        },
        Case("total with read bytes", "disks[1].iotune.total_bytes_sec", .conflict) {
            $0.disks[1].iotune = .init(totalBytesSec: .mib(1), readBytesSec: .mib(1))
        },
        Case("total with write iops", "disks[1].iotune.total_iops_sec", .conflict) {
            $0.disks[1].iotune = .init(totalIopsSec: 10, writeIopsSec: 5)
        },
        // NICs
        Case("hostile network", "nics[2].network", .invalidCharacters) {
            $0.nics[2].attachment = .network("a'b<c>&\"")
        },
        Case("bridge name too long", "nics[1].bridge", .tooLong) {
            $0.nics[1].attachment = .bridge("br-0123456789abc")
        },
        Case("malformed MAC", "nics[1].mac", .invalidValue) { $0.nics[1].mac = "52:54:00:12:34" },
        Case("MAC with bad digits", "nics[1].mac", .invalidValue) { $0.nics[1].mac = "52:54:00:12:34:zz" },
        Case("MAC with dashes", "nics[1].mac", .invalidValue) { $0.nics[1].mac = "52-54-00-12-34-56" },
        Case("multicast MAC", "nics[1].mac", .invalidValue) { $0.nics[1].mac = "01:00:5e:00:00:01" },
        Case("broadcast MAC", "nics[1].mac", .invalidValue) { $0.nics[1].mac = "ff:ff:ff:ff:ff:ff" },
        Case("zero MAC", "nics[1].mac", .invalidValue) { $0.nics[1].mac = "00:00:00:00:00:00" },
        Case("duplicate MAC", "nics[2].mac", .duplicate) { $0.nics[2].mac = "52:54:00:12:34:56".uppercased() },
        Case("33 NICs", "nics", .tooMany) { $0.nics = Array(repeating: .init(.user), count: 33) },
        // Serial log
        Case("relative serial log", "serial_log", .notAbsolute) { $0.serialLog = "log/serial" },
        Case("serial log over a disk", "serial_log", .conflict) { $0.serialLog = "/srv/data.raw" },
        // Tunables
        Case("shares below 2", "tunables.cpu.shares", .outOfRange) { $0.tunables.cpu.shares = 1 },
        Case("shares above 262144", "tunables.cpu.shares", .outOfRange) { $0.tunables.cpu.shares = 262_145 },
        Case("period below 1000", "tunables.cpu.period", .outOfRange) { $0.tunables.cpu.period = 999 },
        Case("period above 1000000", "tunables.cpu.period", .outOfRange) { $0.tunables.cpu.period = 1_000_001 },
        Case("emulator period", "tunables.cpu.emulator_period", .outOfRange) { $0.tunables.cpu.emulatorPeriod = 0 },
        Case("quota 0", "tunables.cpu.quota", .outOfRange) { $0.tunables.cpu.quota = 0 },
        Case("quota -2", "tunables.cpu.quota", .outOfRange) { $0.tunables.cpu.quota = -2 },
        Case("quota 999", "tunables.cpu.quota", .outOfRange) { $0.tunables.cpu.quota = 999 },
        Case("quota above libvirt's max", "tunables.cpu.quota", .outOfRange) {
            $0.tunables.cpu.quota = 17_592_186_044_416
        },
        Case("emulator quota", "tunables.cpu.emulator_quota", .outOfRange) {
            $0.tunables.cpu.emulatorQuota = Int64.min
        },
        Case("hard limit below memory", "tunables.memory.hard_limit", .conflict) {
            $0.tunables.memory.hardLimit = .mib(512)
        },
        Case("soft above hard", "tunables.memory.soft_limit", .conflict) { $0.tunables.memory.softLimit = .gib(3) },
        Case("swap below hard", "tunables.memory.swap_hard_limit", .conflict) {
            $0.tunables.memory.swapHardLimit = .gib(1)
        },
        Case("limit not whole KiB", "tunables.memory.soft_limit", .misaligned) {
            $0.tunables.memory.softLimit = ByteSize(bytes: 1_000_000)!
        },
        Case("zero limit", "tunables.memory.soft_limit", .outOfRange) {
            $0.tunables.memory.softLimit = ByteSize(bytes: 0)!
        },
        Case("blkio weight 99", "tunables.blkio.weight", .outOfRange) { $0.tunables.blkio.weight = 99 },
        Case("blkio weight 1001", "tunables.blkio.weight", .outOfRange) { $0.tunables.blkio.weight = 1001 },
        // Balloon
        Case("negative stats period", "memballoon.stats_period", .outOfRange) { $0.memballoon.statsPeriod = -1 },
        Case("stats period over a day", "memballoon.stats_period", .outOfRange) { $0.memballoon.statsPeriod = 86_401 },
        // Labels
        Case("upper-case label key", "labels[\"Team\"]", .invalidCharacters) { $0.labels["Team"] = "x" },
        Case("hostile label key", "labels[\"a'b<c>&\\\"\"]", .invalidCharacters) { $0.labels["a'b<c>&\""] = "x" },
        Case("label key starting with dot", "labels[\".a\"]", .invalidCharacters) { $0.labels[".a"] = "x" },
        Case("empty label key", "labels[\"\"]", .missing) { $0.labels[""] = "x" },
        Case("64-character label key", "labels[\"\(String(repeating: "k", count: 64))\"]", .tooLong) {
            $0.labels[String(repeating: "k", count: 64)] = "x"
        },
        Case("label value with control character", "labels[\"team\"]", .invalidCharacters) { $0.labels["team"] = "a\u{7}b" },
        Case("label value with U+FFFE", "labels[\"team\"]", .invalidCharacters) { $0.labels["team"] = "a\u{FFFE}" },
        Case("257-character label value", "labels[\"team\"]", .tooLong) {
            $0.labels["team"] = String(repeating: "v", count: 257)
        },
        Case("65 labels", "labels", .tooMany) { spec in
            for index in 0..<65 { spec.labels["k\(index)"] = "v" }
        },
    ]

    @Test func validSpecPasses() throws {
        try Self.valid().validate()
    }

    @Test(arguments: refusals)
    func refusalNamesTheField(_ refusal: Case) {
        var spec = Self.valid()
        refusal.mutate(&spec)
        let error = #expect(throws: GuestSpecError.self) { try spec.validate() }
        let problem = error?.problem(at: refusal.field)
        #expect(problem?.code == refusal.code, "\(refusal.label): \(error?.description ?? "no error")")
    }

    @Test(arguments: [
        "a", "A1", "9", "web-1.prod_2", String(repeating: "x", count: 64),
    ])
    func acceptedNames(name: String) throws {
        var spec = Self.valid()
        spec.name = name
        try spec.validate()
    }

    @Test func boundaryValuesAreAccepted() throws {
        var spec = Self.valid()
        spec.vcpus = 512
        spec.memory = .mib(16)
        spec.tunables = .init(
            cpu: .init(shares: 262_144, period: 1_000_000, quota: 17_592_186_044_415, emulatorQuota: -1),
            memory: .init(hardLimit: .mib(16)), blkio: .init(weight: 1000))
        spec.memballoon.statsPeriod = 0
        spec.labels = [String(repeating: "k", count: 63): String(repeating: "v", count: 256), "x": ""]
        spec.disks[1].iotune = .init(readBytesSec: ByteSize(bytes: GuestSpec.maxIOTuneValue), writeIopsSec: 0)
        spec.boot = .kernel(
            .init(kernel: "/" + String(repeating: "k", count: 4095), cmdline: String(repeating: "c", count: 2048)))
        try spec.validate()
        spec.vcpus = 1
        spec.memory = .tib(16)
        spec.tunables.memory.hardLimit = nil
        try spec.validate()
    }

    @Test func volumeNamesMayLookLikeFileNames() throws {
        var spec = Self.valid()
        spec.disks[0].source = .volume(pool: "default", volume: "web-1.root.qcow2")
        try spec.validate()
    }

    @Test func everyProblemIsReportedAtOnce() {
        var spec = Self.valid()
        spec.name = ""
        spec.vcpus = 0
        spec.disks[1].source = .file(path: "relative")
        spec.labels["BAD"] = "x"
        let error = #expect(throws: GuestSpecError.self) { try spec.validate() }
        #expect(error?.problems.map(\.field) == ["name", "vcpus", "disks[1].source.path", "labels[\"BAD\"]"])
    }

    @Test func errorShowsHostileValuesEscapedAndTruncated() {
        var spec = Self.valid()
        spec.name = "a\u{1B}[31m\"red\"\n" + Self.fourKiB
        let error = #expect(throws: GuestSpecError.self) { try spec.validate() }
        let value = error?.problems[0].value ?? ""
        #expect(value.hasPrefix(#""a\u{1B}[31m\"red\"\naaaa"#))
        #expect(value.hasSuffix("…\" (4108 bytes)"))
        #expect(!value.contains("\n"))
        #expect(!value.contains("\u{1B}"))
        #expect(error?.description.hasPrefix("invalid guest spec: name: \"a\\u{1B}") == true)
    }

    @Test func errorDescriptionListsEveryProblemOnItsOwnLine() {
        var spec = Self.valid()
        spec.vcpus = 0
        spec.memory = .mib(1)
        let error = #expect(throws: GuestSpecError.self) { try spec.validate() }
        #expect(
            error?.description == """
                invalid guest spec (2 problems):
                  vcpus: "0": must be in 1...512
                  memory: "1048576": must be in 16 MiB...16 TiB
                """)
    }

    @Test func targetsAreResolvedPerBus() {
        var spec = Self.valid()
        spec.disks.append(.init(source: .file(path: "/srv/x.raw"), bus: .scsi))
        #expect(spec.resolvedTargets() == ["vda", "sda", "sdb", "sdc"])
    }
}
