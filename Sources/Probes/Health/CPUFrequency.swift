/// Where CPU frequencies were read.
public enum CPUFrequencySource: String, Sendable, Codable, Equatable {
    /// `/sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq` (kHz, converted to MHz).
    case scalingCurFreq = "scaling_cur_freq"
    /// The `cpu MHz` lines of `/proc/cpuinfo` (used when cpufreq is absent, e.g. in a VM).
    case procCPUInfo = "proc-cpuinfo"
}

/// One CPU's frequency at one moment.
public struct CPUFrequencyReading: Sendable, Codable, Equatable {
    /// The logical CPU number.
    public var core: Int
    /// Its current frequency in MHz.
    public var mhz: Double

    public init(core: Int, mhz: Double) {
        self.core = core
        self.mhz = mhz
    }
}

/// Every CPU's frequency at one moment, or why it could not be read.
public struct CPUFrequencySnapshot: Sendable, Codable, Equatable {
    /// `ok` when read, `skipped` (with `reason`) when neither cpufreq nor /proc/cpuinfo gives it.
    public var status: HealthCheckStatus
    /// Why it was skipped.
    public var reason: String?
    /// Where the numbers come from.
    public var source: CPUFrequencySource?
    /// One reading per CPU, by CPU number.
    public var cores: [CPUFrequencyReading]
    /// When they were read, seconds since the Unix epoch.
    public var takenAt: Double
}

/// One CPU's frequency before, during and after a probe.
public struct CPUFrequencyChange: Sendable, Codable, Equatable {
    /// The logical CPU number.
    public var core: Int
    /// MHz before the probe started.
    public var beforeMHz: Double?
    /// MHz near the end of the load (at 90% of the run), if it was read.
    public var underLoadMHz: Double?
    /// MHz after the probe stopped.
    public var afterMHz: Double?
}

/// CPU frequencies around a probe run.
public struct CPUFrequencyReport: Sendable, Codable, Equatable {
    /// `ok` when readable, `skipped` (with `reason`) otherwise. Frequencies alone never fail a
    /// run; the report shows them next to the throughput.
    public var status: HealthCheckStatus
    /// Why it was skipped.
    public var reason: String?
    /// Where the numbers come from.
    public var source: CPUFrequencySource?
    /// Per CPU.
    public var cores: [CPUFrequencyChange]

    /// Puts together the snapshots taken before, under load (optional) and after.
    public init(before: CPUFrequencySnapshot, underLoad: CPUFrequencySnapshot?, after: CPUFrequencySnapshot) {
        guard before.status != .skipped else {
            status = .skipped
            reason = before.reason
            source = nil
            cores = []
            return
        }
        status = .ok
        reason = nil
        source = before.source
        var all = Set(before.cores.map(\.core))
        all.formUnion(after.cores.map(\.core))
        func mhz(_ s: CPUFrequencySnapshot?, _ core: Int) -> Double? {
            s?.cores.first { $0.core == core }?.mhz
        }
        cores = all.sorted().map { core in
            CPUFrequencyChange(
                core: core, beforeMHz: mhz(before, core), underLoadMHz: mhz(underLoad, core), afterMHz: mhz(after, core))
        }
    }
}

/// Reads CPU frequencies from a (possibly fake) sysfs and procfs root.
public struct CPUFrequencyReader: Sendable {
    /// The sysfs mount, `/sys` unless testing.
    public var sysfsRoot: String
    /// The procfs mount, `/proc` unless testing.
    public var procRoot: String

    public init(sysfsRoot: String = "/sys", procRoot: String = "/proc") {
        self.sysfsRoot = sysfsRoot
        self.procRoot = procRoot
    }

    /// Every CPU's frequency now: cpufreq's `scaling_cur_freq` where present, else
    /// `/proc/cpuinfo`.
    public func snapshot() -> CPUFrequencySnapshot {
        let now = HealthFiles.wallClockSeconds()
        let base = sysfsRoot + "/devices/system/cpu"
        var readings: [CPUFrequencyReading] = []
        for cpu in (HealthFiles.list(base) ?? []) where HealthCounterReader.isCPUDirectory(cpu) {
            if let khz = HealthFiles.unsigned("\(base)/\(cpu)/cpufreq/scaling_cur_freq"), let n = Int(cpu.dropFirst(3)) {
                readings.append(CPUFrequencyReading(core: n, mhz: Double(khz) / 1000))
            }
        }
        if !readings.isEmpty {
            return CPUFrequencySnapshot(
                status: .ok, reason: nil, source: .scalingCurFreq, cores: readings, takenAt: now)
        }
        let cpuinfo = procRoot + "/cpuinfo"
        if let text = HealthFiles.read(cpuinfo) {
            readings = CPUFrequencyReader.parseCPUInfo(text)
            if !readings.isEmpty {
                return CPUFrequencySnapshot(status: .ok, reason: nil, source: .procCPUInfo, cores: readings, takenAt: now)
            }
        }
        return CPUFrequencySnapshot(
            status: .skipped,
            reason: "no \(base)/cpu*/cpufreq/scaling_cur_freq and no \"cpu MHz\" in \(cpuinfo)",
            source: nil, cores: [], takenAt: now)
    }

    /// The `processor` / `cpu MHz` pairs of `/proc/cpuinfo`.
    static func parseCPUInfo(_ text: String) -> [CPUFrequencyReading] {
        var readings: [CPUFrequencyReading] = []
        var processor: Int?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = HealthFiles.trim(String(parts[0]))
            let value = HealthFiles.trim(String(parts[1]))
            if key == "processor" {
                processor = Int(value)
            } else if key == "cpu MHz", let processor, let mhz = Double(value) {
                readings.append(CPUFrequencyReading(core: processor, mhz: mhz))
            }
        }
        return readings
    }
}
