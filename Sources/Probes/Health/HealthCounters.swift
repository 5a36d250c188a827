import Glibc

/// The outcome of one health input (a counter source, a disk's SMART data, the whole health
/// probe). Its meaning is the probe's suggestion; the burn-in profile may apply its own
/// thresholds to the numbers next to it.
public enum HealthCheckStatus: String, Sendable, Codable, Equatable, Comparable {
    /// Read, and nothing in it suggests a problem.
    case ok
    /// Read, and something deserves attention (corrected errors, throttling, wear).
    case warning
    /// Read, and something is wrong (uncorrected errors, SMART failed, media errors).
    case failed
    /// Could not be read here (no such file, tool or device); never a failure. The reason is
    /// next to it.
    case skipped

    private var rank: Int {
        switch self {
        case .skipped: 0
        case .ok: 1
        case .warning: 2
        case .failed: 3
        }
    }

    /// Orders by severity: skipped < ok < warning < failed.
    public static func < (a: HealthCheckStatus, b: HealthCheckStatus) -> Bool { a.rank < b.rank }
}

/// Where a set of counters comes from.
public enum HealthCounterSource: String, Sendable, Codable, Equatable {
    /// Memory controller error counters: `/sys/devices/system/edac/mc/mc*/{ce,ue}_count` and
    /// per-DIMM `dimm*/dimm_{ce,ue}_count`.
    case edac
    /// Thermal throttling events per CPU: `/sys/devices/system/cpu/cpu*/thermal_throttle/*_count`
    /// (Intel; absent on most AMD systems and in virtual machines).
    case thermalThrottle = "thermal-throttle"
    /// Machine checks: the `MCE` row of `/proc/interrupts` (machine-check exceptions, summed
    /// over CPUs) and the AMD threshold-block `error_count` files under
    /// `/sys/devices/system/machinecheck/machinecheck*/`.
    case machineCheck = "machine-check"
}

/// One counter's value at one moment.
public struct HealthCounter: Sendable, Codable, Equatable {
    /// Short name, unique within its source, e.g. `mc0/ue_count`, `mc0/dimm1/dimm_ce_count`,
    /// `cpu3/core_throttle_count`, `interrupts/MCE`.
    public var name: String
    /// The file it was read from (under the configured sysfs or proc root).
    public var path: String
    /// The counter's value.
    public var value: UInt64
    /// A label the kernel gives the thing counted, if any (EDAC's `dimm_label`, e.g.
    /// `CPU_SrcID#0_MC#0_Chan#1_DIMM#0`).
    public var label: String?

    public init(name: String, path: String, value: UInt64, label: String? = nil) {
        self.name = name
        self.path = path
        self.value = value
        self.label = label
    }
}

/// A source's counters read at one moment, or why they could not be read.
public struct HealthCounterSnapshot: Sendable, Codable, Equatable {
    /// Which counters these are.
    public var source: HealthCounterSource
    /// `skipped` when the source is absent here; otherwise the suggestion from the values
    /// themselves (they count since boot): EDAC uncorrected errors → `failed`, corrected
    /// errors, throttling events or machine checks → `warning`, all zero → `ok`.
    public var status: HealthCheckStatus
    /// Why the source was skipped, or what made it a warning or failure.
    public var reason: String?
    /// The counters, in a stable order (natural order of their names).
    public var counters: [HealthCounter]
    /// When they were read, seconds since the Unix epoch.
    public var takenAt: Double

    public init(
        source: HealthCounterSource, status: HealthCheckStatus, reason: String?, counters: [HealthCounter],
        takenAt: Double
    ) {
        self.source = source
        self.status = status
        self.reason = reason
        self.counters = counters
        self.takenAt = takenAt
    }
}

/// How one counter changed between two snapshots.
public struct HealthCounterChange: Sendable, Codable, Equatable {
    /// The counter's name (see `HealthCounter.name`).
    public var name: String
    /// The file it was read from.
    public var path: String
    /// Its value before, `nil` if it did not exist then.
    public var before: UInt64?
    /// Its value after, `nil` if it no longer existed.
    public var after: UInt64?
    /// `after - before` when both exist (negative if the counter was reset).
    public var delta: Int64?
    /// The kernel's label, if any (see `HealthCounter.label`).
    public var label: String?
}

/// A source's counters before and after a probe ran.
public struct HealthCounterComparison: Sendable, Codable, Equatable {
    /// Which counters these are.
    public var source: HealthCounterSource
    /// `skipped` when the source is absent (before or after); otherwise the suggestion from the
    /// increases during the run: an EDAC uncorrected count that grew → `failed`; corrected
    /// errors, throttling events or machine checks that grew → `warning`; nothing grew → `ok`.
    public var status: HealthCheckStatus
    /// Why it was skipped, or which counters grew.
    public var reason: String?
    /// Every counter seen before or after.
    public var changes: [HealthCounterChange]
    /// The names of the counters that grew.
    public var increased: [String]
    /// When the first snapshot was taken, seconds since the Unix epoch.
    public var beforeAt: Double
    /// When the second snapshot was taken, seconds since the Unix epoch.
    public var afterAt: Double

    /// Compares two snapshots of the same source.
    public init(before: HealthCounterSnapshot, after: HealthCounterSnapshot) {
        source = before.source
        beforeAt = before.takenAt
        afterAt = after.takenAt
        if before.status == .skipped || after.status == .skipped {
            status = .skipped
            reason = (before.status == .skipped ? before.reason : after.reason) ?? "not readable"
            changes = []
            increased = []
            return
        }
        var old: [String: HealthCounter] = [:]
        for counter in before.counters { old[counter.name] = counter }
        var new: [String: HealthCounter] = [:]
        for counter in after.counters { new[counter.name] = counter }
        let names = Set(old.keys).union(new.keys).sorted(by: HealthFiles.naturalOrder)
        changes = names.map { name in
            let b = old[name]
            let a = new[name]
            var delta: Int64?
            if let b, let a {
                delta = a.value >= b.value ? Int64(clamping: a.value - b.value) : -Int64(clamping: b.value - a.value)
            }
            return HealthCounterChange(
                name: name, path: (a ?? b)?.path ?? "", before: b?.value, after: a?.value, delta: delta,
                label: (a ?? b)?.label)
        }
        increased = changes.filter { ($0.delta ?? 0) > 0 }.map(\.name)
        let grown = changes.filter { ($0.delta ?? 0) > 0 }
        let severe = grown.filter { HealthCounterReader.isUncorrected(source: before.source, name: $0.name) }
        if !severe.isEmpty {
            status = .failed
        } else if !grown.isEmpty {
            status = .warning
        } else {
            status = .ok
        }
        reason =
            grown.isEmpty
            ? nil
            : "grew during the run: " + grown.map { "\($0.name) +\($0.delta ?? 0)" }.joined(separator: ", ")
    }
}

/// Reads the counter sources from a (possibly fake) sysfs and procfs root.
public struct HealthCounterReader: Sendable {
    /// The sysfs mount, `/sys` unless testing.
    public var sysfsRoot: String
    /// The procfs mount, `/proc` unless testing.
    public var procRoot: String

    public init(sysfsRoot: String = "/sys", procRoot: String = "/proc") {
        self.sysfsRoot = sysfsRoot
        self.procRoot = procRoot
    }

    /// Reads one source now.
    public func snapshot(_ source: HealthCounterSource) -> HealthCounterSnapshot {
        switch source {
        case .edac: edac()
        case .thermalThrottle: thermalThrottle()
        case .machineCheck: machineCheck()
        }
    }

    /// EDAC: every memory controller's `ce_count`, `ue_count`, `ce_noinfo_count`,
    /// `ue_noinfo_count`, and its DIMMs' (or, on old drivers, chip-select rows') counts.
    public func edac() -> HealthCounterSnapshot {
        let base = sysfsRoot + "/devices/system/edac/mc"
        let now = HealthFiles.wallClockSeconds()
        guard let entries = HealthFiles.list(base) else {
            return HealthCounterSnapshot(
                source: .edac, status: .skipped,
                reason: "no EDAC driver loaded: \(HealthFiles.whyUnreadable(base))", counters: [], takenAt: now)
        }
        var counters: [HealthCounter] = []
        let controllers = entries.filter { $0.hasPrefix("mc") && HealthFiles.isDirectory(base + "/" + $0) }
        for mc in controllers {
            let dir = base + "/" + mc
            for file in ["ce_count", "ue_count", "ce_noinfo_count", "ue_noinfo_count"] {
                if let value = HealthFiles.unsigned(dir + "/" + file) {
                    counters.append(HealthCounter(name: "\(mc)/\(file)", path: dir + "/" + file, value: value))
                }
            }
            for sub in HealthFiles.list(dir) ?? [] {
                let subdir = dir + "/" + sub
                if sub.hasPrefix("dimm") || sub.hasPrefix("rank") {
                    let label = HealthFiles.trimmed(subdir + "/dimm_label").flatMap { $0.isEmpty ? nil : $0 }
                    for file in ["dimm_ce_count", "dimm_ue_count"] {
                        if let value = HealthFiles.unsigned(subdir + "/" + file) {
                            counters.append(
                                HealthCounter(
                                    name: "\(mc)/\(sub)/\(file)", path: subdir + "/" + file, value: value,
                                    label: label))
                        }
                    }
                } else if sub.hasPrefix("csrow") {
                    for file in ["ce_count", "ue_count"] {
                        if let value = HealthFiles.unsigned(subdir + "/" + file) {
                            counters.append(
                                HealthCounter(name: "\(mc)/\(sub)/\(file)", path: subdir + "/" + file, value: value))
                        }
                    }
                }
            }
        }
        guard !counters.isEmpty else {
            return HealthCounterSnapshot(
                source: .edac, status: .skipped,
                reason: "\(base) has no memory controller with readable counters", counters: [], takenAt: now)
        }
        return judged(.edac, counters, now)
    }

    /// Thermal throttling: every `*_count` file in each CPU's `thermal_throttle` directory
    /// (`core_throttle_count`, `package_throttle_count`, `core_power_limit_count`, ...).
    public func thermalThrottle() -> HealthCounterSnapshot {
        let base = sysfsRoot + "/devices/system/cpu"
        let now = HealthFiles.wallClockSeconds()
        guard let entries = HealthFiles.list(base) else {
            return HealthCounterSnapshot(
                source: .thermalThrottle, status: .skipped, reason: HealthFiles.whyUnreadable(base), counters: [],
                takenAt: now)
        }
        var counters: [HealthCounter] = []
        for cpu in entries where HealthCounterReader.isCPUDirectory(cpu) {
            let dir = "\(base)/\(cpu)/thermal_throttle"
            for file in HealthFiles.list(dir) ?? [] where file.hasSuffix("_count") {
                if let value = HealthFiles.unsigned(dir + "/" + file) {
                    counters.append(HealthCounter(name: "\(cpu)/\(file)", path: dir + "/" + file, value: value))
                }
            }
        }
        guard !counters.isEmpty else {
            return HealthCounterSnapshot(
                source: .thermalThrottle, status: .skipped,
                reason:
                    "no \(base)/cpu*/thermal_throttle/*_count files (the kernel exposes them for Intel CPUs on bare metal)",
                counters: [], takenAt: now)
        }
        return judged(.thermalThrottle, counters, now)
    }

    /// Machine checks: the `MCE` row of `/proc/interrupts` summed over CPUs, and any
    /// `error_count` file under `machinecheck*` (AMD threshold blocks, e.g.
    /// `machinecheck0/northbridge/misc0/error_count`).
    public func machineCheck() -> HealthCounterSnapshot {
        let now = HealthFiles.wallClockSeconds()
        var counters: [HealthCounter] = []
        let interrupts = procRoot + "/interrupts"
        if let text = HealthFiles.read(interrupts), let total = HealthCounterReader.interruptTotal(text, row: "MCE") {
            counters.append(HealthCounter(name: "interrupts/MCE", path: interrupts, value: total))
        }
        let base = sysfsRoot + "/devices/system/machinecheck"
        for mc in (HealthFiles.list(base) ?? []) where mc.hasPrefix("machinecheck") {
            collectErrorCounts(dir: base + "/" + mc, name: mc, depth: 0, into: &counters)
        }
        guard !counters.isEmpty else {
            return HealthCounterSnapshot(
                source: .machineCheck, status: .skipped,
                reason:
                    "no MCE row in \(interrupts) and no error_count under \(base) (machine-check reporting is not exposed here)",
                counters: [], takenAt: now)
        }
        return judged(.machineCheck, counters, now)
    }

    private func collectErrorCounts(dir: String, name: String, depth: Int, into counters: inout [HealthCounter]) {
        guard depth < 3, let entries = HealthFiles.list(dir) else { return }
        for entry in entries {
            let path = dir + "/" + entry
            if entry == "error_count" {
                if let value = HealthFiles.unsigned(path) {
                    counters.append(HealthCounter(name: name + "/error_count", path: path, value: value))
                }
            } else if !entry.hasPrefix("bank"), HealthFiles.isDirectory(path) {
                var info = stat()
                // Do not follow symlinks (sysfs links back to subsystem and driver directories).
                if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                    collectErrorCounts(dir: path, name: name + "/" + entry, depth: depth + 1, into: &counters)
                }
            }
        }
    }

    private func judged(_ source: HealthCounterSource, _ counters: [HealthCounter], _ now: Double)
        -> HealthCounterSnapshot
    {
        let nonZero = counters.filter { $0.value > 0 }
        let severe = nonZero.filter { HealthCounterReader.isUncorrected(source: source, name: $0.name) }
        let status: HealthCheckStatus = !severe.isEmpty ? .failed : (!nonZero.isEmpty ? .warning : .ok)
        let reason =
            nonZero.isEmpty
            ? nil : "non-zero since boot: " + nonZero.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
        return HealthCounterSnapshot(source: source, status: status, reason: reason, counters: counters, takenAt: now)
    }

    /// Whether a counter counts uncorrected (fatal) errors.
    static func isUncorrected(source: HealthCounterSource, name: String) -> Bool {
        source == .edac && (name.hasSuffix("ue_count") || name.hasSuffix("ue_noinfo_count"))
    }

    /// `cpu0`, `cpu12` (not `cpufreq`, `cpuidle`).
    static func isCPUDirectory(_ name: String) -> Bool {
        name.hasPrefix("cpu") && name.count > 3 && name.dropFirst(3).allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// The sum of the per-CPU columns of one `/proc/interrupts` row (`MCE:`, `TRM:`).
    static func interruptTotal(_ text: String, row: String) -> UInt64? {
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first, first == row + ":" else { continue }
            var total: UInt64 = 0
            for field in fields.dropFirst() {
                guard let n = UInt64(field) else { break }
                total &+= n
            }
            return total
        }
        return nil
    }
}

extension HealthFiles {
    /// Seconds since the Unix epoch (the wall clock, for report timestamps).
    static func wallClockSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// A monotonic clock in nanoseconds (for measuring intervals).
    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
