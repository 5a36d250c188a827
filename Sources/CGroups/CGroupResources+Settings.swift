import Foundation

/// `CGroupResources` from `file=value` settings as an operator types them
/// (`nodeagent cgroup set vm1 memory.max=512M cpu.max="50000 100000" pids.max=100`).
///
/// Byte sizes take binary suffixes (`512M`, `2G`); every value is validated by its typed
/// value before anything is written; an unknown file is refused with the list of known ones.
extension CGroupResources {
    /// The interface files `init(settings:)` understands.
    public static let settableFiles = [
        "cpu.weight", "cpu.weight.nice", "cpu.max", "cpu.max.burst", "cpu.idle",
        "cpuset.cpus", "cpuset.mems", "cpuset.cpus.partition",
        "memory.min", "memory.low", "memory.high", "memory.max", "memory.swap.high", "memory.swap.max",
        "memory.zswap.max", "memory.oom.group",
        "io.weight", "io.max",
        "pids.max",
        "hugetlb.<size>.max",
    ]

    public init(settings: [(file: String, value: String)]) throws(CGroupError) {
        self.init()
        for (file, raw) in settings {
            let value = raw.trimmingCharacters(in: .whitespaces)
            switch file {
            case "cpu.weight": cpuResources.weight = try CPUWeight(try Self.number(value, file))
            case "cpu.weight.nice": cpuResources.weightNice = try CPUWeightNice(fileText: value, file: file)
            case "cpu.max": cpuResources.max = try CPUMax(fileText: value, file: file)
            case "cpu.max.burst": cpuResources.maxBurst = try Self.number(value, file)
            case "cpu.idle": cpuResources.idle = try Self.flag(value, file)
            case "cpuset.cpus": cpusetResources.cpus = try CPUSetList(parsing: value, file: file)
            case "cpuset.mems": cpusetResources.mems = try CPUSetList(parsing: value, file: file)
            case "cpuset.cpus.partition": cpusetResources.partition = try CPUSetPartition(fileText: value, file: file)
            case "memory.min": memoryResources.min = try Self.bytes(value, file)
            case "memory.low": memoryResources.low = try Self.bytes(value, file)
            case "memory.high": memoryResources.high = try Self.bytes(value, file)
            case "memory.max": memoryResources.max = try Self.bytes(value, file)
            case "memory.swap.high": memoryResources.swapHigh = try Self.bytes(value, file)
            case "memory.swap.max": memoryResources.swapMax = try Self.bytes(value, file)
            case "memory.zswap.max": memoryResources.zswapMax = try Self.bytes(value, file)
            case "memory.oom.group": memoryResources.oomGroup = try Self.flag(value, file)
            case "io.weight": ioResources.weight = try IOWeight(try Self.number(value, file))
            case "io.max": ioResources.max.append(try IODeviceLimit(settingText: value, file: file))
            case "pids.max": pidsResources.max = try CGroupLimit<UInt64>(fileText: value, file: file)
            default:
                if file.hasPrefix("hugetlb."), file.hasSuffix(".max"), !file.hasSuffix(".rsvd.max") {
                    let size: HugePageSize
                    do throws(CGroupError) {
                        size = try HugePageSize(name: String(file.dropFirst("hugetlb.".count).dropLast(".max".count)))
                    } catch {
                        throw CGroupError(.invalidValue, path: "", file: file, value: value, message: error.message)
                    }
                    hugetlbResources.limits[size] = try Self.bytes(value, file)
                } else {
                    throw CGroupError(
                        .invalidValue, path: "", file: file, value: value,
                        message: "not a settable file; known: \(Self.settableFiles.joined(separator: ", "))")
                }
            }
        }
    }

    private static func bytes(_ text: String, _ file: String) throws(CGroupError) -> CGroupLimit<ByteSize> {
        text == "max" ? .max : .value(try ByteSize(parsing: text, file: file))
    }

    private static func number(_ text: String, _ file: String) throws(CGroupError) -> UInt64 {
        guard let number = UInt64(text) else {
            throw CGroupError(.invalidValue, path: "", file: file, value: text, message: "must be a non-negative integer")
        }
        return number
    }

    private static func flag(_ text: String, _ file: String) throws(CGroupError) -> Bool {
        switch text {
        case "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw CGroupError(.invalidValue, path: "", file: file, value: text, message: "must be 0 or 1")
        }
    }

    // Mutable views that create a controller's resources on first use.
    private var cpuResources: CPUController.Resources {
        get { cpu ?? .init() }
        set { cpu = newValue }
    }
    private var cpusetResources: CPUSetController.Resources {
        get { cpuset ?? .init() }
        set { cpuset = newValue }
    }
    private var memoryResources: MemoryController.Resources {
        get { memory ?? .init() }
        set { memory = newValue }
    }
    private var ioResources: IOController.Resources {
        get { io ?? .init() }
        set { io = newValue }
    }
    private var pidsResources: PIDsController.Resources {
        get { pids ?? .init() }
        set { pids = newValue }
    }
    private var hugetlbResources: HugeTLBController.Resources {
        get { hugetlb ?? .init() }
        set { hugetlb = newValue }
    }
}

extension IODeviceLimit {
    /// `MAJ:MIN rbps=N wbps=N riops=N wiops=N` (values a number, a size like `10M`, or `max`).
    init(settingText text: String, file: String) throws(CGroupError) {
        let words = text.split(separator: " ").map(String.init)
        guard let first = words.first else {
            throw CGroupError(.invalidValue, path: "", file: file, value: text, message: "expected MAJ:MIN key=value ...")
        }
        self.init(device: try DeviceNumber(fileText: first, file: file))
        for word in words.dropFirst() {
            let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else {
                throw CGroupError(.invalidValue, path: "", file: file, value: text, message: "\"\(word)\" is not key=value")
            }
            let limit: CGroupLimit<UInt64> = pair[1] == "max" ? .max : .value(try ByteSize(parsing: pair[1], file: file).bytes)
            switch pair[0] {
            case "rbps": readBytesPerSecond = limit
            case "wbps": writeBytesPerSecond = limit
            case "riops": readIOPS = limit
            case "wiops": writeIOPS = limit
            default:
                throw CGroupError(.invalidValue, path: "", file: file, value: text, message: "unknown key \(pair[0]); use rbps, wbps, riops, wiops")
            }
        }
    }
}
