// The CPU probe as a burn-in runs it (docs/BURNIN.md, probe options).
import Foundation
import Glibc

/// `[cpu]`: duration, burst, kernels, cores, slow_threshold (percent), nice, rt_priority.
public struct CPUBurnInProbe: BurnInProbe {
    public let name = "cpu"
    public init() {}

    func configuration(_ settings: ProbeSettings) throws(BurnInSetupError) -> CPUProbe.Configuration {
        var o = ProbeOptions(probe: name, settings)
        var c = CPUProbe.Configuration()
        if let d = try o.number("duration", range: 1...604_800) { c.durationSeconds = d }
        if let b = try o.number("burst", range: 0.5...3600) { c.burstSeconds = b }
        if let kernels = try o.names("kernels", of: CPUKernel.self, allowed: CPUKernel.allCases) { c.kernels = kernels }
        if let cores = try o.integers("cores", range: 0...65535) { c.cores = cores }
        if let t = try o.number("slow_threshold", range: 1...90) { c.slowCoreThresholdPercent = t }
        c.threadNice = try o.integer("nice", range: -20...19)
        c.realTimePriority = try o.integer("rt_priority", range: 1...99)
        try o.finish()
        c.burstSeconds = min(c.burstSeconds, max(c.durationSeconds / 3, 0.5))
        return c
    }

    public func validate(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) {
        _ = try configuration(settings)
    }

    public func run(
        _ settings: ProbeSettings, context: BurnInContext, progress: @escaping @Sendable (BurnInProgress) -> Void
    ) async -> ProbeOutcome {
        let started = Date()
        do {
            let configuration = try self.configuration(settings)
            let result = try await CPUProbe(configuration: configuration).run { p in
                let total = p.rates.reduce(0) { $0 + $1.iterationsPerSecond }
                progress(
                    BurnInProgress(
                        probe: "cpu", step: p.wrongAnswers > 0 ? "kernels (\(p.wrongAnswers) wrong answers)" : "kernels",
                        fraction: p.fractionComplete, rate: Units.format(total, "ops/s")))
            }
            return Self.outcome(result, started: started)
        } catch {
            return BurnInProbes.failed(name, started: started, "\(error)")
        }
    }

    static func outcome(_ result: CPUResult, started: Date) -> ProbeOutcome {
        var measurements: [Metric] = []
        for kernel in result.kernels {
            measurements.append(Metric("cpu.\(kernel.kernel.rawValue).throughput", kernel.totalIterationsPerSecond, unit: "ops/s"))
        }
        measurements.append(Metric("cpu.total.throughput", result.totalIterationsPerSecond, unit: "ops/s"))
        if let ratio = result.slowestCoreRatio { measurements.append(Metric("cpu.slowest_core_ratio", ratio, unit: "ratio")) }
        if let ratio = result.sustainedRatio { measurements.append(Metric("cpu.sustained_ratio", ratio, unit: "ratio")) }
        measurements.append(Metric("cpu.errors", Double(result.wrongAnswers), unit: "count", higherIsBetter: false))
        measurements.append(Metric("cpu.cores_tested", Double(result.cores.filter { $0.error == nil }.count), unit: "count"))
        if let events = result.throttleEvents {
            measurements.append(Metric("cpu.throttle_events", Double(events), unit: "count", higherIsBetter: false))
        }
        var findings: [Finding] = []
        for core in result.cores {
            if core.wrongAnswers > 0 {
                let first = core.errors.first.map { " (first: \($0.kernel.rawValue) iteration \($0.iteration) input \($0.input): expected \($0.expected), got \($0.actual))" } ?? ""
                findings.append(Finding(.fail, kind: "wrong-answer", "\(core.wrongAnswers) wrong answer(s)\(first)", location: "cpu \(core.core)"))
            }
            if core.slow, let score = core.score {
                findings.append(
                    Finding(
                        .warn, kind: "slow-core",
                        "runs at \(Units.percent(score)) of the median core (threshold \(Int(result.configuration.slowCoreThresholdPercent))% slower)",
                        location: "cpu \(core.core)"))
            }
            if let error = core.error { findings.append(Finding(.warn, kind: "untested-core", error, location: "cpu \(core.core)")) }
        }
        for excluded in result.excludedCores {
            findings.append(Finding(.warn, kind: "untested-core", excluded.reason, location: "cpu \(excluded.core)"))
        }
        if result.throttle.status == .warning || result.throttle.status == .failed {
            findings.append(Finding(.warn, kind: "throttling", result.throttle.reason ?? "thermal throttling during the run"))
        }
        // Throughput over time: per kernel, the sum over cores of each sample interval.
        var series: [Series] = []
        for (k, kernel) in result.configuration.kernels.enumerated() {
            var sums: [Int: (t: Double, value: Double)] = [:]
            for core in result.cores where core.error == nil && k < core.kernels.count {
                for (i, sample) in core.kernels[k].samples.enumerated() {
                    let previous = sums[i] ?? (sample.time, 0)
                    sums[i] = (max(previous.t, sample.time), previous.value + sample.iterationsPerSecond)
                }
            }
            if !sums.isEmpty {
                series.append(
                    Series(
                        name: "cpu.\(kernel.rawValue).throughput", unit: "ops/s",
                        points: sums.keys.sorted().map { .init(t: sums[$0]!.t, value: sums[$0]!.value) }))
            }
        }
        let perCore = result.cores.filter { $0.error == nil }.map { core in
            Distribution.Bar(label: "cpu \(core.core)", value: core.score ?? 1)
        }
        var distributions = [Distribution(name: "throughput per core, relative to the median core", unit: "ratio", bars: perCore)]
        if result.frequency.status == .ok {
            distributions.append(
                Distribution(
                    name: "frequency under load", unit: "MHz",
                    bars: result.frequency.cores.compactMap { c in (c.underLoadMHz ?? c.afterMHz).map { .init(label: "cpu \(c.core)", value: $0) } }))
        }
        return BurnInProbes.outcome(
            "cpu", started: started, interrupted: result.interrupted,
            reason: "\(result.cores.count) core(s), \(result.configuration.kernels.map(\.rawValue).joined(separator: ", ")) kernels, \(Int(result.elapsedSeconds)) s",
            measurements: measurements, findings: findings, series: series, distributions: distributions, detail: .cpu(result))
    }
}
