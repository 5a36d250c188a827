/// A CPU bandwidth limit, the value of `cpu.max`: at most `quota` µs of CPU time in each
/// `period` µs, written as `"$QUOTA $PERIOD"` (`"max 100000"` for no limit).
///
/// The kernel's ranges: the period is 1000...1000000 µs (1 ms to 1 s); a quota is at least
/// 1000 µs (1 ms) and at most 2^44 - 1 µs, or `max`.
public struct CPUMax: CGroupValue, CustomStringConvertible {
    /// CPU time allowed per period, in µs, or `max`.
    public let quota: CGroupLimit<UInt64>
    /// The period in µs.
    public let period: UInt64

    /// Periods the kernel accepts, in µs.
    public static let periodRange: ClosedRange<UInt64> = 1_000...1_000_000
    /// Quotas the kernel accepts, in µs (the upper end is the kernel's `max_cfs_runtime`).
    public static let quotaRange: ClosedRange<UInt64> = 1_000...((1 << 44) - 1)
    /// The kernel's default period, in µs.
    public static let defaultPeriod: UInt64 = 100_000
    /// No limit with the default period: the kernel's default `cpu.max`.
    public static let unlimited = CPUMax(checkedQuota: .max, period: defaultPeriod)

    /// A limit of `quota` µs per `period` µs; refused outside the kernel's ranges.
    public init(quota: CGroupLimit<UInt64>, period: UInt64 = CPUMax.defaultPeriod) throws(CGroupError) {
        let text = "\(quota.fileText) \(period)"
        guard Self.periodRange.contains(period) else {
            throw .invalid("cpu.max", text, "the cpu.max period must be within 1000...1000000 µs, got \(period)")
        }
        if case .value(let microseconds) = quota, !Self.quotaRange.contains(microseconds) {
            throw .invalid(
                "cpu.max", text,
                "the cpu.max quota must be max or within 1000...\(Self.quotaRange.upperBound) µs, got \(microseconds)")
        }
        self.quota = quota
        self.period = period
    }

    /// A limit of `cpus` CPUs' worth of time (1.5 = one and a half CPUs, 0.25 = a quarter,
    /// i.e. 25 %) per `period`; the quota is rounded to the nearest µs and must reach 1000 µs.
    public init(cpus: Double, period: UInt64 = CPUMax.defaultPeriod) throws(CGroupError) {
        guard cpus.isFinite, cpus > 0, cpus * Double(period) < Double(Self.quotaRange.upperBound) else {
            throw .invalid("cpu.max", "\(cpus) CPUs", "a CPU count must be a finite number above 0, got \(cpus)")
        }
        try self.init(quota: .value(UInt64((cpus * Double(period)).rounded())), period: period)
    }

    /// Converts cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` as runc does: a quota
    /// of -1 (v1's "no limit") or 0 ("unset") becomes `max`; a period of 0 ("unset") becomes
    /// the default 100000 µs. Other negative quotas are refused, the rest range-checked.
    public init(v1Quota: Int64, v1Period: UInt64) throws(CGroupError) {
        guard v1Quota >= -1 else {
            throw .invalid("cpu.max", String(v1Quota), "cpu.cfs_quota_us must be -1 or a number of µs, got \(v1Quota)")
        }
        try self.init(
            quota: v1Quota <= 0 ? .max : .value(UInt64(v1Quota)),
            period: v1Period == 0 ? Self.defaultPeriod : v1Period)
    }

    private init(checkedQuota quota: CGroupLimit<UInt64>, period: UInt64) {
        self.quota = quota
        self.period = period
    }

    /// How many CPUs' worth of time the limit allows (quota / period), nil for `max`.
    public var cpus: Double? { quota.limit.map { Double($0) / Double(period) } }

    /// `"$QUOTA $PERIOD"`, e.g. `"50000 100000"` or `"max 100000"`.
    public var fileText: String { "\(quota.fileText) \(period)" }

    /// Parses the kernel's `"$QUOTA $PERIOD"`.
    public init(fileText: String, file: String) throws(CGroupError) {
        let fields = fileText.trimmingASCIIWhitespace().split(separator: " ")
        guard fields.count == 2 else {
            throw .unparsable(file, text: fileText, "expected \"$QUOTA $PERIOD\" such as \"max 100000\"")
        }
        let quota = try CGroupLimit<UInt64>(fileText: String(fields[0]), file: file)
        let period = try UInt64(fileText: String(fields[1]), file: file)
        self.init(checkedQuota: quota, period: period)
    }

    public var description: String { fileText }
}
