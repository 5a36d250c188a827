import Foundation

/// A pass/fail rule of a profile on one measurement: absolute bounds, a warning band, and/or a
/// bound relative to the fleet baseline's median for the same measurement.
public struct Check: Sendable, Codable, Equatable {
    /// The measurement's name, e.g. `disk.seq_write.throughput`.
    public var metric: String
    /// FAIL below / above (base units of the measurement).
    public var min: Double?
    public var max: Double?
    /// WARN below / above (when not failing).
    public var warnBelow: Double?
    public var warnAbove: Double?
    /// FAIL when worse than this fraction of the baseline median (0.9: 10% worse fails). For a
    /// lower-is-better measurement, worse means above median / fraction.
    public var minBaselineRatio: Double?

    public init(
        metric: String, min: Double? = nil, max: Double? = nil, warnBelow: Double? = nil, warnAbove: Double? = nil,
        minBaselineRatio: Double? = nil
    ) {
        self.metric = metric
        self.min = min
        self.max = max
        self.warnBelow = warnBelow
        self.warnAbove = warnAbove
        self.minBaselineRatio = minBaselineRatio
    }

    enum CodingKeys: String, CodingKey {
        case metric, min, max
        case warnBelow = "warn_below"
        case warnAbove = "warn_above"
        case minBaselineRatio = "min_baseline_ratio"
    }
}

/// PASS, WARN, FAIL, or SKIP (not measured: its probe was skipped).
public enum Verdict: String, Sendable, Codable, Comparable {
    case pass = "PASS"
    case skip = "SKIP"
    case warn = "WARN"
    case fail = "FAIL"

    private var rank: Int {
        switch self {
        case .pass: 0
        case .skip: 1
        case .warn: 2
        case .fail: 3
        }
    }

    public static func < (a: Verdict, b: Verdict) -> Bool { a.rank < b.rank }
}

/// The outcome of one check, with the reason in words.
public struct CheckResult: Sendable, Codable, Equatable {
    public var check: String
    public var verdict: Verdict
    public var value: Double?
    public var unit: String
    public var reason: String
}

public enum CheckEvaluator {
    /// Evaluates `checks` on the outcomes. A check whose measurement is missing is SKIP when its
    /// probe was skipped, FAIL otherwise (a probe that ran must produce what the profile asks).
    /// Every finding becomes a check result too (`finding:<kind>`), FAIL or WARN by severity;
    /// a probe that could not run is FAIL. `baseline` maps measurement names to the fleet's
    /// median.
    public static func evaluate(_ checks: [Check], outcomes: [ProbeOutcome], baseline: [String: Double] = [:]) -> [CheckResult] {
        var results: [CheckResult] = []
        for outcome in outcomes where outcome.status == .error {
            results.append(
                CheckResult(check: "probe:\(outcome.probe)", verdict: .fail, value: nil, unit: "", reason: "could not run: \(outcome.reason)"))
        }
        for outcome in outcomes {
            for finding in outcome.findings {
                results.append(
                    CheckResult(
                        check: "finding:\(outcome.probe).\(finding.kind)", verdict: finding.severity == .fail ? .fail : .warn, value: nil,
                        unit: "", reason: finding.location.isEmpty ? finding.message : "\(finding.location): \(finding.message)"))
            }
        }
        for check in checks {
            let probe = String(check.metric.prefix { $0 != "." })
            let outcome = outcomes.first { $0.probe == probe }
            guard let measurement = outcome?.measurement(check.metric) else {
                let skipped = outcome == nil || outcome?.status == .skipped || outcome?.status == .interrupted
                results.append(
                    CheckResult(
                        check: check.metric, verdict: skipped ? .skip : .fail, value: nil, unit: "",
                        reason: skipped
                            ? "not measured: the \(probe) probe \(outcome.map { "was \($0.status.rawValue)\($0.reason.isEmpty ? "" : " (\($0.reason))")" } ?? "did not run")"
                            : "the \(probe) probe ran but did not measure \(check.metric)"))
                continue
            }
            results.append(evaluate(check, measurement, baseline: baseline[check.metric]))
        }
        return results
    }

    static func evaluate(_ check: Check, _ m: Metric, baseline: Double?) -> CheckResult {
        let shown = Units.format(m.value, m.unit)
        func result(_ verdict: Verdict, _ reason: String) -> CheckResult {
            CheckResult(check: check.metric, verdict: verdict, value: m.value, unit: m.unit, reason: reason)
        }
        if let min = check.min, m.value < min { return result(.fail, "\(shown) is below the minimum \(Units.format(min, m.unit))") }
        if let max = check.max, m.value > max { return result(.fail, "\(shown) is above the maximum \(Units.format(max, m.unit))") }
        if let ratio = check.minBaselineRatio {
            guard let baseline, baseline > 0 else {
                return result(.warn, "\(shown); no baseline to compare with (min_baseline_ratio \(ratio))")
            }
            let relative = m.higherIsBetter ? m.value / baseline : baseline / Swift.max(m.value, .leastNonzeroMagnitude)
            if relative < ratio {
                return result(
                    .fail,
                    "\(shown) is \(Units.percent(1 - relative)) worse than the baseline median \(Units.format(baseline, m.unit)) (allowed \(Units.percent(1 - ratio)))"
                )
            }
        }
        if let warn = check.warnBelow, m.value < warn { return result(.warn, "\(shown) is below \(Units.format(warn, m.unit))") }
        if let warn = check.warnAbove, m.value > warn { return result(.warn, "\(shown) is above \(Units.format(warn, m.unit))") }
        var bounds: [String] = []
        if let min = check.min { bounds.append("≥ \(Units.format(min, m.unit))") }
        if let max = check.max { bounds.append("≤ \(Units.format(max, m.unit))") }
        if let ratio = check.minBaselineRatio, let baseline { bounds.append("≥ \(ratio)× baseline \(Units.format(baseline, m.unit))") }
        return result(.pass, bounds.isEmpty ? shown : "\(shown) (\(bounds.joined(separator: ", ")))")
    }

    /// The verdict of a whole run: the worst of its checks; SKIP alone does not fail a run.
    public static func overall(_ results: [CheckResult], interrupted: Bool) -> Verdict {
        let worst = results.map(\.verdict).filter { $0 != .skip }.max() ?? .pass
        if interrupted && worst == .pass { return .warn }
        return worst
    }
}

/// Human formatting of base units.
public enum Units {
    public static func format(_ value: Double, _ unit: String) -> String {
        switch unit {
        case "B/s": return scaled(value, ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"], 1024)
        case "B": return scaled(value, ["B", "KiB", "MiB", "GiB", "TiB"], 1024)
        case "bit/s": return scaled(value, ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"], 1000)
        case "us":
            if value >= 1_000_000 { return String(format: "%.2f s", value / 1_000_000) }
            if value >= 1000 { return String(format: "%.2f ms", value / 1000) }
            return String(format: "%.1f µs", value)
        case "%": return String(format: "%.1f%%", value)
        case "ratio": return String(format: "%.3f", value)
        case "count" where value == value.rounded() && abs(value) < 1e15: return String(Int64(value))
        case "IOPS", "ops/s", "count", "": return scaled(value, ["", "k", "M", "G"], 1000) + (unit.isEmpty ? "" : " \(unit)")
        default: return String(format: "%.3g %@", value, unit)
        }
    }

    static func scaled(_ value: Double, _ units: [String], _ step: Double) -> String {
        var value = value
        var index = 0
        while abs(value) >= step && index < units.count - 1 {
            value /= step
            index += 1
        }
        let text = abs(value) >= 100 || index == 0 && value == value.rounded() ? String(format: "%.0f", value) : String(format: "%.2f", value)
        return units[index].isEmpty ? text : "\(text) \(units[index])".replacingOccurrences(of: "  ", with: " ")
    }

    static func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }
}
