import Glibc

/// A relative CPU share, the value of `cpu.weight`: 1...10000, default 100.
public struct CPUWeight: CGroupValue, Comparable, CustomStringConvertible {
    /// The weight.
    public let value: UInt64

    /// Weights the kernel accepts.
    public static let range: ClosedRange<UInt64> = 1...10000
    /// The kernel's default weight.
    public static let `default` = CPUWeight(checked: 100)

    /// A weight; refused outside 1...10000.
    public init(_ value: UInt64) throws(CGroupError) {
        guard Self.range.contains(value) else {
            throw .invalid("cpu.weight", String(value), "cpu.weight must be within 1...10000, got \(value)")
        }
        self.value = value
    }

    private init(checked value: UInt64) { self.value = value }

    /// Converts cgroup v1 `cpu.shares` (2...262144, default 1024) the way current runc does.
    ///
    /// runc (opencontainers/cgroups `ConvertCPUSharesToCgroupV2Value`, changed in 2025 by
    /// runc PR #4785 after kubernetes/kubernetes#131216) replaced the old linear map
    /// `1 + (shares - 2) * 9999 / 262142`, which sent the v1 default 1024 to 39 instead of the
    /// v2 default 100, by a curve that fits all three fixed points: with `l = log2(shares)`, the
    /// weight is `10^((l² + 125·l) / 612 − 7/34)` rounded up. Shares at or below 2 give 1, at or
    /// above 262144 give 10000; so 2 → 1, 1024 → 100, 262144 → 10000. Shares of 0 mean "unset"
    /// in the OCI spec and are refused here.
    public init(v1Shares shares: UInt64) throws(CGroupError) {
        guard shares != 0 else {
            throw .invalid("cpu.weight", "0", "cpu.shares 0 means \"unset\" and has no cpu.weight")
        }
        if shares <= 2 { self.init(checked: 1); return }
        if shares >= 262_144 { self.init(checked: 10000); return }
        let l = log2(Double(shares))
        let exponent = (l * l + 125 * l) / 612 - 7.0 / 34.0
        self.init(checked: min(10000, max(1, UInt64(pow(10, exponent).rounded(.up)))))
    }

    /// The decimal weight.
    public var fileText: String { String(value) }

    /// Parses the kernel's decimal weight.
    public init(fileText: String, file: String) throws(CGroupError) {
        let number = try UInt64(fileText: fileText, file: file)
        guard Self.range.contains(number) else {
            throw .unparsable(file, text: fileText, "a CPU weight must be within 1...10000")
        }
        value = number
    }

    public var description: String { String(value) }

    public static func < (lhs: CPUWeight, rhs: CPUWeight) -> Bool { lhs.value < rhs.value }
}
