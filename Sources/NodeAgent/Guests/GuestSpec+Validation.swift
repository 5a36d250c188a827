import Foundation

extension GuestSpec {
    /// Guest memory bounds.
    public static let memoryRange: ClosedRange<ByteSize> = .mib(16)...(.tib(16))
    /// vCPU bounds.
    public static let vcpuRange: ClosedRange<Int> = 1...512
    /// Most network interfaces on one guest.
    public static let maxNICs = 32
    /// Longest volume name, in characters (a file name).
    public static let maxVolumeNameLength = 255
    /// Longest bridge name, in characters (Linux `IFNAMSIZ` - 1).
    public static let maxBridgeNameLength = 15
    /// Largest I/O limit QEMU accepts (`THROTTLE_VALUE_MAX`); libvirt refuses more at start.
    public static let maxIOTuneValue: Int64 = 1_000_000_000_000_000
    /// `<cputune>` shares bounds (libvirt).
    public static let cpuSharesRange: ClosedRange<Int> = 2...262_144
    /// `<cputune>` period bounds in µs (libvirt).
    public static let cpuPeriodRange: ClosedRange<Int> = 1000...1_000_000
    /// `<cputune>` quota bounds in µs besides -1 (libvirt).
    public static let cpuQuotaRange: ClosedRange<Int64> = 1000...17_592_186_044_415
    /// `<blkiotune>` weight bounds (libvirt).
    public static let blkioWeightRange: ClosedRange<Int> = 100...1000
    /// Balloon statistics period bounds in seconds.
    public static let statsPeriodRange: ClosedRange<Int> = 0...86_400

    /// Checks every rule of the spec format and throws all problems found, each naming its field
    /// path (`disks[1].source.path`), the offending value and the reason. Rules and limits are
    /// listed in `docs/GUEST-SPEC.md`.
    public func validate() throws(GuestSpecError) {
        var check = GuestSpecValidator()
        collectProblems(into: &check)
        try check.finish()
    }

    func collectProblems(into check: inout GuestSpecValidator) {
        check.name(name, field: "name")
        if let uuid, uuid.uuidString == "00000000-0000-0000-0000-000000000000" {
            check.add("uuid", uuid.uuidString, .invalidValue, "must not be the nil UUID")
        }
        check.range(vcpus, Self.vcpuRange, field: "vcpus")
        check.size(memory, Self.memoryRange, alignment: 1 << 20, field: "memory")
        checkBoot(&check)
        checkDisks(&check)
        checkNICs(&check)
        if let serialLog, check.path(serialLog, field: "serial_log") {
            let diskPaths = disks.compactMap(\.source.hostPath).map(Self.normalized)
            if diskPaths.contains(Self.normalized(serialLog)) {
                check.add("serial_log", serialLog, .conflict, "must not be the path of a disk")
            }
        }
        checkTunables(&check)
        check.range(memballoon.statsPeriod, Self.statsPeriodRange, field: "memballoon.stats_period", unit: " s")
        check.labels(labels, field: "labels")
    }

    private func checkBoot(_ check: inout GuestSpecValidator) {
        switch boot {
        case .kernel(let kernel):
            check.path(kernel.kernel, field: "boot.kernel")
            if let initrd = kernel.initrd { check.path(initrd, field: "boot.initrd") }
            if let cmdline = kernel.cmdline {
                let length = cmdline.unicodeScalars.count
                if length > GuestSpecValidator.maxCmdlineLength {
                    check.add(
                        "boot.cmdline", cmdline, .tooLong,
                        "must be at most \(GuestSpecValidator.maxCmdlineLength) characters, not \(length)")
                } else if !TextRules.isPrintableASCII(cmdline) {
                    check.add(
                        "boot.cmdline", cmdline, .invalidCharacters,
                        "must be printable ASCII without control characters")
                }
            }
        case .disk:
            if disks.isEmpty {
                check.add("disks", nil, .missing, "boot mode \"disk\" needs at least one disk")
            }
        }
    }

    private func checkDisks(_ check: inout GuestSpecValidator) {
        var sources: [String: Int] = [:]
        for (index, disk) in disks.enumerated() {
            let field = "disks[\(index)]"
            let sourceKey: String?
            let sourceField: String
            switch disk.source {
            case .volume(let pool, let volume):
                let poolOK = check.name(pool, field: "\(field).source.pool", what: "pool name")
                let volumeOK = check.name(
                    volume, field: "\(field).source.volume", maxLength: Self.maxVolumeNameLength, what: "volume name")
                sourceKey = poolOK && volumeOK ? "volume:\(pool)/\(volume)" : nil
                sourceField = "\(field).source.volume"
            case .file(let path), .block(let path):
                sourceKey = check.path(path, field: "\(field).source.path") ? "path:" + Self.normalized(path) : nil
                sourceField = "\(field).source.path"
            }
            if let sourceKey {
                if let first = sources[sourceKey] {
                    check.add(sourceField, disk.source.displayName, .duplicate, "same source as disks[\(first)]")
                } else {
                    sources[sourceKey] = index
                }
            }
            if let iotune = disk.iotune { checkIOTune(iotune, field: "\(field).iotune", &check) }
        }
        checkTargets(&check)
    }

    private func checkTargets(_ check: inout GuestSpecValidator) {
        var seen: [String: Int] = [:]
        for (index, disk) in disks.enumerated() {
            guard let target = disk.target else { continue }
            let field = "disks[\(index)].target"
            let scalars = Array(target.unicodeScalars)
            let wellFormed =
                scalars.count == 3 && (target.hasPrefix("vd") || target.hasPrefix("sd"))
                && ("a"..."z").contains(scalars[2])
            if !wellFormed {
                check.add(field, target, .invalidValue, "must be vd[a-z] or sd[a-z]")
            } else if !target.hasPrefix(disk.bus.targetPrefix) {
                check.add(
                    field, target, .conflict,
                    "bus \(disk.bus.rawValue) needs a target \(disk.bus.targetPrefix)[a-z]")
            } else if let first = seen[target] {
                check.add(field, target, .duplicate, "same target as disks[\(first)]")
            } else {
                seen[target] = index
            }
        }
        for (index, target) in resolvedTargets().enumerated() where target == nil {
            check.add(
                "disks[\(index)].target", nil, .tooMany,
                "no free \(disks[index].bus.targetPrefix)[a-z] target left for bus \(disks[index].bus.rawValue)")
        }
    }

    private func checkIOTune(_ iotune: IOTune, field: String, _ check: inout GuestSpecValidator) {
        let bytes: [(String, ByteSize?)] = [
            ("total_bytes_sec", iotune.totalBytesSec), ("read_bytes_sec", iotune.readBytesSec),
            ("write_bytes_sec", iotune.writeBytesSec),
        ]
        let iops: [(String, Int64?)] = [
            ("total_iops_sec", iotune.totalIopsSec), ("read_iops_sec", iotune.readIopsSec),
            ("write_iops_sec", iotune.writeIopsSec),
        ]
        for (key, value) in bytes.map({ ($0.0, $0.1?.bytes) }) + iops {
            if let value { check.range(value, 0...Self.maxIOTuneValue, field: "\(field).\(key)") }
        }
        if iotune.totalBytesSec != nil, iotune.readBytesSec != nil || iotune.writeBytesSec != nil {
            check.add(
                "\(field).total_bytes_sec", nil, .conflict, "cannot be combined with read_bytes_sec or write_bytes_sec")
        }
        if iotune.totalIopsSec != nil, iotune.readIopsSec != nil || iotune.writeIopsSec != nil {
            check.add(
                "\(field).total_iops_sec", nil, .conflict, "cannot be combined with read_iops_sec or write_iops_sec")
        }
    }

    private func checkNICs(_ check: inout GuestSpecValidator) {
        if nics.count > Self.maxNICs {
            check.add("nics", nil, .tooMany, "at most \(Self.maxNICs) interfaces, not \(nics.count)")
        }
        var macs: [String: Int] = [:]
        for (index, nic) in nics.enumerated() {
            let field = "nics[\(index)]"
            switch nic.attachment {
            case .user: break
            case .network(let name): check.name(name, field: "\(field).network", what: "network name")
            case .bridge(let name):
                check.name(name, field: "\(field).bridge", maxLength: Self.maxBridgeNameLength, what: "bridge name")
            }
            guard let mac = nic.mac else { continue }
            guard let octets = Self.macOctets(mac) else {
                check.add("\(field).mac", mac, .invalidValue, "must be six hex pairs like 52:54:00:12:34:56")
                continue
            }
            if octets[0] & 1 == 1 {
                check.add("\(field).mac", mac, .invalidValue, "must be a unicast address (first octet even)")
            } else if octets.allSatisfy({ $0 == 0 }) {
                check.add("\(field).mac", mac, .invalidValue, "must not be all zeros")
            } else if let first = macs[mac.lowercased()] {
                check.add("\(field).mac", mac, .duplicate, "same MAC as nics[\(first)]")
            } else {
                macs[mac.lowercased()] = index
            }
        }
    }

    private func checkTunables(_ check: inout GuestSpecValidator) {
        Self.checkTunables(tunables, memory: memory, &check)
    }

    /// Validates tunables on their own (changing a defined guest's limits), for a guest of
    /// `memory`. Field paths start at `tunables.`.
    public static func validate(tunables: Tunables, memory: ByteSize) throws(GuestSpecError) {
        var check = GuestSpecValidator()
        checkTunables(tunables, memory: memory, &check)
        try check.finish()
    }

    private static func checkTunables(_ tunables: Tunables, memory guestMemory: ByteSize, _ check: inout GuestSpecValidator) {
        let cpu = tunables.cpu
        if let shares = cpu.shares { check.range(shares, Self.cpuSharesRange, field: "tunables.cpu.shares") }
        if let period = cpu.period {
            check.range(period, Self.cpuPeriodRange, field: "tunables.cpu.period", unit: " µs")
        }
        if let period = cpu.emulatorPeriod {
            check.range(period, Self.cpuPeriodRange, field: "tunables.cpu.emulator_period", unit: " µs")
        }
        for (key, quota) in [("quota", cpu.quota), ("emulator_quota", cpu.emulatorQuota)] {
            guard let quota, quota != -1, !Self.cpuQuotaRange.contains(quota) else { continue }
            check.add(
                "tunables.cpu.\(key)", String(quota), .outOfRange,
                "must be -1 (no limit) or in \(Self.cpuQuotaRange.lowerBound)...\(Self.cpuQuotaRange.upperBound) µs")
        }
        let memory = tunables.memory
        let limits = [
            ("hard_limit", memory.hardLimit), ("soft_limit", memory.softLimit),
            ("swap_hard_limit", memory.swapHardLimit),
        ]
        for case (let key, let value?) in limits {
            check.size(
                value, ByteSize.kib(1)...ByteSize(bytes: .max)!, alignment: 1024, field: "tunables.memory.\(key)")
        }
        if let hard = memory.hardLimit, hard < guestMemory {
            check.add(
                "tunables.memory.hard_limit", String(hard.bytes), .conflict,
                "must be at least the guest's memory (\(guestMemory)), or the guest is killed")
        }
        if let hard = memory.hardLimit, let soft = memory.softLimit, soft > hard {
            check.add("tunables.memory.soft_limit", String(soft.bytes), .conflict, "must not exceed hard_limit")
        }
        if let hard = memory.hardLimit, let swap = memory.swapHardLimit, swap < hard {
            check.add("tunables.memory.swap_hard_limit", String(swap.bytes), .conflict, "must be at least hard_limit")
        }
        if let weight = tunables.blkio.weight {
            check.range(weight, Self.blkioWeightRange, field: "tunables.blkio.weight")
        }
    }

    /// Each disk's target: its own, or the first free name of its bus in listing order; nil
    /// when the bus has no free name left.
    func resolvedTargets() -> [String?] {
        var used = Set(disks.compactMap(\.target))
        return disks.map { disk in
            if let target = disk.target { return target }
            for letter in "abcdefghijklmnopqrstuvwxyz" {
                let candidate = disk.bus.targetPrefix + String(letter)
                if used.insert(candidate).inserted { return candidate }
            }
            return nil
        }
    }

    /// The six octets of `xx:xx:xx:xx:xx:xx`, or nil when malformed.
    static func macOctets(_ mac: String) -> [UInt8]? {
        let parts = mac.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        let octets = parts.compactMap { part in
            part.count == 2 && part.allSatisfy(\.isHexDigit) && part.allSatisfy(\.isASCII)
                ? UInt8(part, radix: 16) : nil
        }
        return octets.count == 6 ? octets : nil
    }

    /// `path` without empty and `.` components, to compare paths.
    static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }
}

extension GuestSpec.Disk.Source {
    /// The host path of a file or block source.
    var hostPath: String? {
        switch self {
        case .volume: nil
        case .file(let path), .block(let path): path
        }
    }

    /// `pool/volume` or the path, for error messages.
    var displayName: String {
        switch self {
        case .volume(let pool, let volume): "\(pool)/\(volume)"
        case .file(let path), .block(let path): path
        }
    }
}
