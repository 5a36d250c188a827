// The memory probe as a burn-in runs it (docs/BURNIN.md, probe options).
import Foundation
import Glibc

/// `[memory]`: bandwidth, bandwidth_passes, array_size, threads, pattern_size, pattern_passes,
/// pattern_pass_limit, patterns, lock, cores.
public struct MemoryBurnInProbe: BurnInProbe {
    public let name = "memory"
    public init() {}

    enum Threads: String { case single, multi, both }

    func configuration(_ settings: ProbeSettings) throws(BurnInSetupError) -> MemoryProbe.Configuration {
        var o = ProbeOptions(probe: name, settings)
        var c = MemoryProbe.Configuration()
        let available = BurnInProbes.availableMemory()
        if let bandwidth = try o.bool("bandwidth") { c.bandwidth = bandwidth }
        if let passes = try o.integer("bandwidth_passes", range: 2...10_000) { c.repetitions = passes }
        if let size = try o.size("array_size", range: 1 << 20...(1 << 40)) { c.arrayBytes = Int(size) }
        if let threads = try o.names("threads", of: Threads.self, allowed: [.single, .multi, .both]) {
            c.singleThreaded = threads[0] != .multi
            c.multiThreaded = threads[0] != .single
        }
        if let size = try o.size("pattern_size", range: 0...(1 << 50), percentOf: available) { c.patternBytes = Int(size) }
        if let rounds = try o.integer("pattern_passes", range: 1...10_000) { c.patternRounds = rounds }
        if let limit = try o.integer("pattern_pass_limit", range: 1...1000) { c.patternPassLimit = limit }
        if let patterns = try o.names("patterns", of: MemoryPattern.self, allowed: MemoryPattern.allCases) { c.patterns = patterns }
        if let lock = try o.bool("lock") { c.lockMemory = lock }
        if let cores = try o.integers("cores", range: 0...65535) { c.cores = cores }
        try o.finish()
        if available > 0 && UInt64(c.patternBytes) > available * 9 / 10 {
            throw BurnInSetupError(
                probe: name, key: "memory.pattern_size",
                reason: "\(Units.format(Double(c.patternBytes), "B")) is more than 90% of the memory available now (\(Units.format(Double(available), "B"))): the host would swap or kill processes; use a percentage like \"25%\"")
        }
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
            let result = try await MemoryProbe(configuration: configuration).run { p in
                progress(
                    BurnInProgress(
                        probe: "memory", step: p.failures > 0 ? "\(p.phase) (\(p.failures) errors)" : p.phase, fraction: p.fractionComplete,
                        rate: Units.format(p.currentMBps * 1_000_000, "B/s")))
            }
            return Self.outcome(result, started: started)
        } catch {
            return BurnInProbes.failed(name, started: started, "\(error)")
        }
    }

    static func outcome(_ result: MemoryResult, started: Date) -> ProbeOutcome {
        var measurements: [Metric] = []
        var best: [MemoryBandwidthKernel: Double] = [:]
        var series: [Series] = []
        for run in result.bandwidth {
            for kernel in run.kernels {
                best[kernel.kernel] = max(best[kernel.kernel] ?? 0, kernel.bestMBps * 1_000_000)
                if run.threads == 1 {
                    measurements.append(Metric("memory.single.\(kernel.kernel.rawValue).bandwidth", kernel.bestMBps * 1_000_000, unit: "B/s"))
                }
                if kernel.kernel == .triad, !kernel.samplesMBps.isEmpty {
                    series.append(
                        Series(
                            name: "memory.triad.bandwidth, \(run.threads) thread(s), per pass", unit: "B/s",
                            points: kernel.samplesMBps.enumerated().map { .init(t: Double($0.offset + 1), value: $0.element * 1_000_000) }))
                }
            }
        }
        for kernel in MemoryBandwidthKernel.allCases {
            if let value = best[kernel] { measurements.append(Metric("memory.\(kernel.rawValue).bandwidth", value, unit: "B/s")) }
        }
        measurements.append(Metric("memory.pattern.errors", Double(result.memoryErrors), unit: "count", higherIsBetter: false))
        if let patterns = result.patterns {
            measurements.append(Metric("memory.pattern.bytes_tested", Double(patterns.bytesTested), unit: "B"))
        }
        var findings: [Finding] = []
        if let patterns = result.patterns {
            for failure in patterns.failures.prefix(20) {
                findings.append(
                    Finding(
                        .fail, kind: "memory-error",
                        "\(failure.pattern.rawValue) pass \(failure.pass): wrote \(failure.expected), read \(failure.actual) (bits \(failure.differingBits)) on cpu \(failure.core)",
                        location: "offset \(failure.offset)" + (failure.physicalAddress.map { ", physical \($0)" } ?? "")))
            }
            if patterns.totalFailures > min(20, patterns.failures.count) {
                findings.append(Finding(.fail, kind: "memory-error", "\(patterns.totalFailures) words read back wrong in all; the first 20 are listed"))
            }
            if let lockError = patterns.lockError {
                findings.append(Finding(.warn, kind: "not-locked", "the pattern region was not locked in RAM: \(lockError)"))
            }
        }
        for run in result.bandwidth where run.validated == false {
            findings.append(
                Finding(.fail, kind: "memory-error", "bandwidth arrays hold wrong values after the run: \(run.validationError ?? "")", location: "\(run.threads) thread(s)"))
        }
        if result.edac.status == .failed || result.edac.status == .warning {
            findings.append(Finding(result.edac.status == .failed ? .fail : .warn, kind: "edac", result.edac.reason ?? "EDAC counters grew"))
        }
        let bars = MemoryBandwidthKernel.allCases.compactMap { k in best[k].map { Distribution.Bar(label: k.rawValue, value: $0) } }
        var notes: [String] = []
        if let patterns = result.patterns { notes.append("patterns over \(Units.format(Double(patterns.bytesTested), "B"))") }
        if let cache = result.lastLevelCache.bytes, let array = result.bandwidth.first?.arrayBytes {
            notes.append("arrays of \(Units.format(Double(array), "B")) (last-level cache \(Units.format(Double(cache), "B")))")
        }
        if result.edac.status == .skipped { notes.append("EDAC skipped: \(result.edac.reason ?? "absent")") }
        return BurnInProbes.outcome(
            "memory", started: started, interrupted: result.interrupted, reason: notes.joined(separator: "; "), measurements: measurements,
            findings: findings, series: series,
            distributions: bars.isEmpty ? [] : [Distribution(name: "best bandwidth per kernel", unit: "B/s", bars: bars)], detail: .memory(result))
    }
}
