import CLibvirt
public import Foundation

/// Which groups `virConnectGetAllDomainStats` collects (`virDomainStatsTypes`).
public struct StatsGroups: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let state = StatsGroups(rawValue: 1 << 0)
    public static let cpuTotal = StatsGroups(rawValue: 1 << 1)
    public static let balloon = StatsGroups(rawValue: 1 << 2)
    public static let vcpu = StatsGroups(rawValue: 1 << 3)
    public static let interface = StatsGroups(rawValue: 1 << 4)
    public static let block = StatsGroups(rawValue: 1 << 5)
    public static let perf = StatsGroups(rawValue: 1 << 6)
    public static let iothread = StatsGroups(rawValue: 1 << 7)
    public static let memory = StatsGroups(rawValue: 1 << 8)
    /// The groups the agent's telemetry reads every cycle.
    public static let standard: StatsGroups = [.state, .cpuTotal, .balloon, .vcpu, .interface, .block]
}

/// One domain's record from `virConnectGetAllDomainStats`, decoded into typed groups.
///
/// Every field libvirt returned that is not decoded into a typed property is kept, verbatim,
/// in `unknown`; nothing is dropped.
public struct DomainStats: Sendable, Equatable, Codable {
    public struct CPU: Sendable, Equatable, Codable {
        /// Total CPU time used by the domain, nanoseconds (`cpu.time`).
        public var time: UInt64?
        public var user: UInt64?
        public var system: UInt64?
    }

    public struct Balloon: Sendable, Equatable, Codable {
        /// Current balloon size, KiB (`balloon.current`).
        public var current: UInt64?
        public var maximum: UInt64?
        public var swapIn: UInt64?
        public var swapOut: UInt64?
        public var majorFault: UInt64?
        public var minorFault: UInt64?
        /// KiB the guest leaves unused (`balloon.unused`).
        public var unused: UInt64?
        /// KiB of memory the guest sees (`balloon.available`).
        public var available: UInt64?
        public var usable: UInt64?
        /// Resident set size of the emulator, KiB (`balloon.rss`).
        public var rss: UInt64?
        public var diskCaches: UInt64?
        /// Seconds since the epoch of the guest's last stats update (`balloon.last-update`).
        public var lastUpdate: UInt64?
    }

    public struct VCPU: Sendable, Equatable, Codable {
        public var index: Int
        /// `virVcpuState`: 0 offline, 1 running, 2 blocked.
        public var state: Int64?
        /// CPU time of this vCPU, nanoseconds.
        public var time: UInt64?
        public var wait: UInt64?
        public var delay: UInt64?
    }

    public struct VCPUs: Sendable, Equatable, Codable {
        public var current: UInt64?
        public var maximum: UInt64?
        public var vcpus: [VCPU]
    }

    public struct Block: Sendable, Equatable, Codable {
        public var index: Int
        /// Target device name (vda).
        public var name: String?
        public var path: String?
        public var backingIndex: UInt64?
        public var readRequests: UInt64?
        public var readBytes: UInt64?
        public var readTimeNanoseconds: UInt64?
        public var writeRequests: UInt64?
        public var writeBytes: UInt64?
        public var writeTimeNanoseconds: UInt64?
        public var flushRequests: UInt64?
        public var flushTimeNanoseconds: UInt64?
        public var errors: UInt64?
        public var allocation: UInt64?
        public var capacity: UInt64?
        public var physical: UInt64?
    }

    public struct Interface: Sendable, Equatable, Codable {
        public var index: Int
        public var name: String?
        public var rxBytes: UInt64?
        public var rxPackets: UInt64?
        public var rxErrors: UInt64?
        public var rxDrops: UInt64?
        public var txBytes: UInt64?
        public var txPackets: UInt64?
        public var txErrors: UInt64?
        public var txDrops: UInt64?
    }

    public var name: String
    public var uuid: UUID
    public var state: DomainState?
    public var cpu: CPU?
    public var balloon: Balloon?
    public var vcpu: VCPUs?
    public var block: [Block]
    public var net: [Interface]
    /// Fields libvirt returned that have no typed property above, by libvirt's name.
    public var unknown: [String: TypedValue]

    /// Decodes a record from its typed parameters, as libvirt names them.
    public init(name: String, uuid: UUID, parameters: [TypedParameter]) {
        var fields = FieldBag(parameters)
        self.name = name
        self.uuid = uuid

        if let raw = fields.take("state.state")?.signed {
            state = DomainState(rawState: Int32(clamping: raw), reason: Int32(clamping: fields.take("state.reason")?.signed ?? 0))
        }
        if fields.has(prefix: "cpu.") {
            cpu = CPU(
                time: fields.unsigned("cpu.time"), user: fields.unsigned("cpu.user"),
                system: fields.unsigned("cpu.system"))
        }
        if fields.has(prefix: "balloon.") {
            balloon = Balloon(
                current: fields.unsigned("balloon.current"), maximum: fields.unsigned("balloon.maximum"),
                swapIn: fields.unsigned("balloon.swap_in"), swapOut: fields.unsigned("balloon.swap_out"),
                majorFault: fields.unsigned("balloon.major_fault"),
                minorFault: fields.unsigned("balloon.minor_fault"), unused: fields.unsigned("balloon.unused"),
                available: fields.unsigned("balloon.available"), usable: fields.unsigned("balloon.usable"),
                rss: fields.unsigned("balloon.rss"), diskCaches: fields.unsigned("balloon.disk_caches"),
                lastUpdate: fields.unsigned("balloon.last-update"))
        }
        if fields.has(prefix: "vcpu.") {
            let current = fields.unsigned("vcpu.current")
            let maximum = fields.unsigned("vcpu.maximum")
            let vcpus = fields.indices(prefix: "vcpu.").map { i in
                VCPU(
                    index: i, state: fields.take("vcpu.\(i).state")?.signed,
                    time: fields.unsigned("vcpu.\(i).time"), wait: fields.unsigned("vcpu.\(i).wait"),
                    delay: fields.unsigned("vcpu.\(i).delay"))
            }
            vcpu = VCPUs(current: current, maximum: maximum, vcpus: vcpus)
        }
        _ = fields.take("block.count")
        block = fields.indices(prefix: "block.").map { i in
            let p = "block.\(i)."
            return Block(
                index: i, name: fields.take(p + "name")?.string, path: fields.take(p + "path")?.string,
                backingIndex: fields.unsigned(p + "backingIndex"),
                readRequests: fields.unsigned(p + "rd.reqs"), readBytes: fields.unsigned(p + "rd.bytes"),
                readTimeNanoseconds: fields.unsigned(p + "rd.times"),
                writeRequests: fields.unsigned(p + "wr.reqs"), writeBytes: fields.unsigned(p + "wr.bytes"),
                writeTimeNanoseconds: fields.unsigned(p + "wr.times"),
                flushRequests: fields.unsigned(p + "fl.reqs"),
                flushTimeNanoseconds: fields.unsigned(p + "fl.times"), errors: fields.unsigned(p + "errors"),
                allocation: fields.unsigned(p + "allocation"), capacity: fields.unsigned(p + "capacity"),
                physical: fields.unsigned(p + "physical"))
        }
        _ = fields.take("net.count")
        net = fields.indices(prefix: "net.").map { i in
            let p = "net.\(i)."
            return Interface(
                index: i, name: fields.take(p + "name")?.string, rxBytes: fields.unsigned(p + "rx.bytes"),
                rxPackets: fields.unsigned(p + "rx.pkts"), rxErrors: fields.unsigned(p + "rx.errs"),
                rxDrops: fields.unsigned(p + "rx.drop"), txBytes: fields.unsigned(p + "tx.bytes"),
                txPackets: fields.unsigned(p + "tx.pkts"), txErrors: fields.unsigned(p + "tx.errs"),
                txDrops: fields.unsigned(p + "tx.drop"))
        }
        unknown = fields.remaining
    }
}

/// The fields of one record; decoding takes them out, what is left is `unknown`.
private struct FieldBag {
    private var fields: [String: TypedValue]

    init(_ parameters: [TypedParameter]) {
        fields = Dictionary(parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    mutating func take(_ key: String) -> TypedValue? { fields.removeValue(forKey: key) }

    /// Takes an unsigned field; a field of another type stays in `unknown`.
    mutating func unsigned(_ key: String) -> UInt64? {
        guard let value = fields[key], let number = value.unsigned else { return nil }
        fields.removeValue(forKey: key)
        return number
    }

    func has(prefix: String) -> Bool { fields.keys.contains { $0.hasPrefix(prefix) } }

    /// The indices N of keys shaped `PREFIX<N>.<field>`, sorted.
    func indices(prefix: String) -> [Int] {
        var found = Set<Int>()
        for key in fields.keys where key.hasPrefix(prefix) {
            let rest = key.dropFirst(prefix.count)
            if let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]) { found.insert(index) }
        }
        return found.sorted()
    }

    var remaining: [String: TypedValue] { fields }
}

extension Connection {
    /// Statistics of every domain in one call (`virConnectGetAllDomainStats`).
    ///
    /// With `nowait` (the default) libvirt skips a domain whose job lock is held by a stuck
    /// operation instead of waiting for it, so one sick guest cannot stall the others; such a
    /// domain appears with fewer groups.
    public func allDomainStats(
        _ groups: StatsGroups = .standard, activeOnly: Bool = false, nowait: Bool = true
    ) async throws(LibvirtError) -> [DomainStats] {
        var flags: UInt32 = 0
        if nowait { flags |= UInt32(VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT.rawValue) }
        if activeOnly { flags |= UInt32(VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE.rawValue) }
        let requestFlags = flags
        let stats = try await withConnection("virConnectGetAllDomainStats") { conn throws(LibvirtError) in
            var records: UnsafeMutablePointer<virDomainStatsRecordPtr?>?
            let count = virConnectGetAllDomainStats(conn, groups.rawValue, &records, requestFlags)
            guard count >= 0, let records else { throw LibvirtError.last(call: "virConnectGetAllDomainStats") }
            defer { virDomainStatsRecordListFree(records) }
            var result: [DomainStats] = []
            result.reserveCapacity(Int(count))
            for i in 0..<Int(count) {
                guard let record = records[i], let domain = record.pointee.dom else { continue }
                let id = try identity(domain, call: "virConnectGetAllDomainStats")
                let parameters = TypedParameter.decode(record.pointee.params, count: record.pointee.nparams)
                result.append(DomainStats(name: id.name, uuid: id.uuid, parameters: parameters))
            }
            return result
        }
        return stats.sorted { $0.name < $1.name }
    }
}
