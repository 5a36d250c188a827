import Foundation

/// A compact view of one group: what `nodeagent cgroup tree` prints per node and what
/// telemetry samples. Fields are nil when the controller is not enabled (the file is absent).
public struct CGroupSummary: Sendable, Hashable {
    public var path: String
    /// Total CPU time, µs (`cpu.stat` usage_usec).
    public var cpuUsageMicroseconds: UInt64?
    /// Periods throttled by `cpu.max` (`cpu.stat` nr_throttled).
    public var cpuThrottledPeriods: UInt64?
    /// Bytes charged now (`memory.current`).
    public var memoryCurrent: UInt64?
    /// Bytes limit (`memory.max`; nil for "max" or absent).
    public var memoryMax: UInt64?
    /// Processes and threads now (`pids.current`).
    public var pidsCurrent: UInt64?
    /// Processes in the group itself (`cgroup.procs`).
    public var processes: Int
    /// `some avg10` of cpu, memory and io pressure, percent.
    public var cpuPressure: Double?
    public var memoryPressure: Double?
    public var ioPressure: Double?
    public var frozen: Bool?
    public var populated: Bool?
}

extension CGroup {
    /// Reads the summary. Missing files (disabled controllers, no PSI) leave fields nil; a file
    /// that exists but cannot be read or parsed is an error.
    public func summary() throws(CGroupError) -> CGroupSummary {
        func number(_ file: String) throws(CGroupError) -> UInt64? {
            guard let text = try readIfPresent(file) else { return nil }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed == "max" { return nil }
            guard let value = UInt64(trimmed) else {
                throw CGroupError(.unparsable, path: path, file: file, message: "expected a number, got \"\(trimmed)\"")
            }
            return value
        }
        func pressure(_ file: String) throws(CGroupError) -> Double? {
            guard let text = try readIfPresent(file) else { return nil }
            return try Pressure(parsing: text, file: file).some?.avg10
        }
        let cpu = try readIfPresent("cpu.stat").map { (text: String) throws(CGroupError) in try CPUStat(parsing: text) }
        let events = try readIfPresent("cgroup.events").map { (text: String) throws(CGroupError) in try CGroupEvents(parsing: text) }
        return CGroupSummary(
            path: path, cpuUsageMicroseconds: cpu?.usageUsec, cpuThrottledPeriods: cpu?.throttledPeriods,
            memoryCurrent: try number("memory.current"), memoryMax: try number("memory.max"),
            pidsCurrent: try number("pids.current"), processes: isRoot ? 0 : (try procs.count),
            cpuPressure: try pressure("cpu.pressure"), memoryPressure: try pressure("memory.pressure"),
            ioPressure: try pressure("io.pressure"), frozen: events?.frozen, populated: events?.populated)
    }
}
