// Each probe as a burn-in runs it: profile options in (docs/BURNIN.md lists them), the probe's
// own result out as measurements, findings, series and distributions, with the full result
// kept as the outcome's `detail`.
import Foundation
import Glibc

extension BurnInProbes {
    /// The probes of this agent, by the name profiles use.
    public static var all: [any BurnInProbe] {
        [HealthBurnInProbe(), CPUBurnInProbe(), MemoryBurnInProbe(), DiskBurnInProbe(), NetworkBurnInProbe()]
    }
}

/// Namespace of the built-in probe adapters.
public enum BurnInProbes {
    static func outcome(
        _ probe: String, started: Date, interrupted: Bool, reason: String = "", measurements: [Metric], findings: [Finding],
        series: [Series] = [], distributions: [Distribution] = [], detail: ProbeDetail?
    ) -> ProbeOutcome {
        var outcome = ProbeOutcome(
            probe: probe, status: interrupted ? .interrupted : .completed,
            reason: interrupted ? ([reason, "interrupted: what ran until then is reported"].filter { !$0.isEmpty }.joined(separator: "; ")) : reason,
            started: started, seconds: Date().timeIntervalSince(started), measurements: measurements, findings: findings,
            series: series, distributions: distributions)
        outcome.detail = detail
        return outcome
    }

    static func failed(_ probe: String, started: Date, _ reason: String) -> ProbeOutcome {
        ProbeOutcome(
            probe: probe, status: Task.isCancelled ? .interrupted : .error, reason: reason, started: started,
            seconds: Date().timeIntervalSince(started))
    }

    /// Bytes of memory available without swapping (MemAvailable), 0 if unreadable.
    static func availableMemory(procRoot: String = "/proc") -> UInt64 {
        let text = (try? String(contentsOfFile: procRoot + "/meminfo", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = UInt64(fields[1]) { return kib * 1024 }
        }
        return 0
    }
}

// MARK: - Disk

/// `[disk]`: size, phase_duration, phases, seq_block_size, seq_queue_depth, rand_block_size,
/// rand_queue_depth, fsync_duration, engine, direct. The target comes from the command line.
public struct DiskBurnInProbe: BurnInProbe {
    public let name = "disk"
    public init() {}

    static let phaseNames: [(String, DiskPhase)] = [
        ("seq_write", .sequentialWrite), ("seq_read", .sequentialRead), ("rand_read", .randomRead),
        ("rand_write", .randomWrite), ("fsync", .fsync), ("verify", .verify),
    ]
    static func name(of phase: DiskPhase) -> String { phaseNames.first { $0.1 == phase }!.0 }

    struct PhaseName: RawRepresentable {
        var rawValue: String
        init?(rawValue: String) {
            guard DiskBurnInProbe.phaseNames.contains(where: { $0.0 == rawValue }) else { return nil }
            self.rawValue = rawValue
        }
    }

    func configuration(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) -> DiskProbe.Configuration {
        var o = ProbeOptions(probe: name, settings)
        guard let path = context.diskTarget, !path.isEmpty else {
            throw BurnInSetupError(probe: name, key: "target", reason: "no disk target (--target PATH: a directory, a new file or a block device)")
        }
        var info = stat()
        let kind: DiskTarget.Kind = stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFBLK ? .blockDevice : .file
        var c = DiskProbe.Configuration(target: DiskTarget(kind: kind, path: path))
        c.force = context.force
        c.size = try o.size("size", range: 1 << 20...(1 << 60)) ?? (kind == .file ? 1 << 30 : nil)
        if let phases = try o.names("phases", of: PhaseName.self, allowed: Self.phaseNames.compactMap { PhaseName(rawValue: $0.0) }) {
            c.phases = phases.compactMap { p in Self.phaseNames.first { $0.0 == p.rawValue }?.1 }
        }
        if let d = try o.number("phase_duration", range: 0.1...86_400) {
            for phase in [DiskPhase.sequentialWrite, .sequentialRead, .randomRead, .randomWrite] { set(&c, phase) { $0.duration = d } }
            set(&c, .fsync) { $0.duration = min(d, 10) }
        }
        if let d = try o.number("fsync_duration", range: 0.1...86_400) { set(&c, .fsync) { $0.duration = d } }
        let maxBlock = UInt64(64 << 20)
        if let bs = try o.size("seq_block_size", range: 4096...maxBlock) {
            for phase in [DiskPhase.sequentialWrite, .sequentialRead, .verify] { set(&c, phase) { $0.blockSize = Int(bs) } }
        }
        if let qd = try o.integer("seq_queue_depth", range: 1...1024) {
            for phase in [DiskPhase.sequentialWrite, .sequentialRead, .verify] { set(&c, phase) { $0.queueDepth = qd } }
        }
        if let bs = try o.size("rand_block_size", range: 4096...maxBlock) {
            for phase in [DiskPhase.randomRead, .randomWrite] { set(&c, phase) { $0.blockSize = Int(bs) } }
        }
        if let qd = try o.integer("rand_queue_depth", range: 1...1024) {
            for phase in [DiskPhase.randomRead, .randomWrite] { set(&c, phase) { $0.queueDepth = qd } }
        }
        if let engine = try o.names("engine", of: DiskEngine.self, allowed: [.auto, .ioUring, .psync]) { c.engine = engine[0] }
        if let direct = try o.bool("direct") { c.directIO = direct }
        try o.finish()
        for phase in c.phases {
            let w = c.workload(phase)
            if w.blockSize % 4096 != 0 {
                throw BurnInSetupError(probe: name, key: "disk", reason: "\(Self.name(of: phase)) block size \(w.blockSize) is not a multiple of 4096")
            }
        }
        return c
    }

    private func set(_ c: inout DiskProbe.Configuration, _ phase: DiskPhase, _ change: (inout DiskWorkload) -> Void) {
        switch phase {
        case .sequentialWrite: change(&c.sequentialWrite)
        case .sequentialRead: change(&c.sequentialRead)
        case .randomRead: change(&c.randomRead)
        case .randomWrite: change(&c.randomWrite)
        case .fsync: change(&c.fsync)
        case .verify: change(&c.verify)
        }
    }

    /// Checks the options, and that the target can be used: a block device that is mounted, in
    /// use or holds data, or an existing file, is refused here unless forced, before any probe
    /// runs. (The probe checks again when it opens the target.) No target is not an error: the
    /// probe is then skipped.
    public func validate(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) {
        guard context.diskTarget != nil else { return }
        let c = try configuration(settings, context: context)
        let path = c.target.path
        func refuse(_ reasons: [DiskRefusal]) -> BurnInSetupError {
            BurnInSetupError(
                probe: name, key: "target",
                reason: "\(path): refused: \(reasons.map(\.description).joined(separator: "; ")) (--force overrides)")
        }
        var info = stat()
        if c.target.kind == .blockDevice {
            // Mounts, swap and holders need only the device number; signatures need its first bytes.
            guard stat(path, &info) == 0 else {
                throw BurnInSetupError(probe: name, key: "target", reason: "\(path): \(String(cString: strerror(errno)))")
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            let openError = fd < 0 ? String(cString: strerror(errno)) : nil
            let firstBytes = fd >= 0 ? DiskSignatures.read(fd: fd) : []
            if fd >= 0 { close(fd) }
            let reasons = DiskTargetSafety.refusals(
                path: path, major: DiskFS.major(UInt64(info.st_rdev)), minor: DiskFS.minor(UInt64(info.st_rdev)), firstBytes: firstBytes,
                mountInfo: DiskFS.readTextFile("/proc/self/mountinfo"), swaps: DiskFS.readTextFile("/proc/swaps"))
            if !reasons.isEmpty && !c.force { throw refuse(reasons) }
            if let openError { throw BurnInSetupError(probe: name, key: "target", reason: "\(path): cannot open: \(openError)") }
        } else if stat(path, &info) == 0 {
            let kind = info.st_mode & S_IFMT
            if kind == S_IFREG && !c.force { throw refuse([DiskRefusal(kind: .existingFile, device: path, detail: "existing file")]) }
            if kind != S_IFREG && kind != S_IFDIR {
                throw BurnInSetupError(probe: name, key: "target", reason: "\(path): neither a directory, a regular file nor a block device")
            }
        } else {
            let parent = (path as NSString).deletingLastPathComponent
            var dir = stat()
            guard stat(parent.isEmpty ? "." : parent, &dir) == 0, dir.st_mode & S_IFMT == S_IFDIR else {
                throw BurnInSetupError(probe: name, key: "target", reason: "\(path): no such directory \(parent.isEmpty ? "." : parent)")
            }
        }
    }

    public func run(
        _ settings: ProbeSettings, context: BurnInContext, progress: @escaping @Sendable (BurnInProgress) -> Void
    ) async -> ProbeOutcome {
        let started = Date()
        guard context.diskTarget != nil else {
            return ProbeOutcome(
                probe: name, status: .skipped, reason: "no disk target (--target PATH: a directory, a new file or a block device)",
                started: started, seconds: 0)
        }
        let configuration: DiskProbe.Configuration
        do {
            configuration = try self.configuration(settings, context: context)
        } catch {
            return BurnInProbes.failed(name, started: started, error.description)
        }
        let result: DiskResult
        do {
            result = try await DiskProbe(configuration: configuration).run { p in
                let fraction = (Double(p.phaseIndex) + p.fraction) / Double(max(p.phaseCount, 1))
                let rate = p.phase == .randomRead || p.phase == .randomWrite || p.phase == .fsync
                    ? "\(Units.format(p.iops, "IOPS"))" : "\(Units.format(p.bytesPerSecond, "B/s"))"
                progress(BurnInProgress(probe: "disk", step: Self.name(of: p.phase), fraction: fraction, rate: rate))
            }
        } catch {
            let refusals = error.refusals.map(\.description)
            return BurnInProbes.failed(
                name, started: started,
                refusals.isEmpty ? error.description : "\(error.description) (\(refusals.joined(separator: "; ")); --force overrides)")
        }
        return Self.outcome(result, started: started)
    }

    static func outcome(_ result: DiskResult, started: Date) -> ProbeOutcome {
        var measurements: [Metric] = []
        var series: [Series] = []
        var distributions: [Distribution] = []
        var findings: [Finding] = []
        for phase in result.phases {
            let key = "disk.\(name(of: phase.phase))"
            if phase.phase != .fsync {
                measurements.append(Metric("\(key).throughput", phase.bytesPerSecond, unit: "B/s"))
            }
            measurements.append(Metric("\(key).iops", phase.iops, unit: "IOPS"))
            let l = phase.latency
            for (suffix, value) in [("p50", l.p50), ("p90", l.p90), ("p99", l.p99), ("p999", l.p999), ("max", l.maximum)] {
                measurements.append(Metric("\(key).latency_\(suffix)", value, unit: "us", higherIsBetter: false))
            }
            if !phase.samples.isEmpty {
                series.append(
                    Series(
                        name: "\(key).throughput", unit: "B/s",
                        points: phase.samples.map { .init(t: $0.start + $0.duration, value: $0.bytesPerSecond) }))
            }
            if !l.histogram.isEmpty {
                distributions.append(
                    Distribution(
                        name: "\(key) latency", unit: "count",
                        bars: l.histogram.map { .init(label: "≤\(Units.format($0.upperBound, "us"))", value: Double($0.count)) }))
            }
            if phase.ioErrors > 0 {
                findings.append(
                    Finding(.fail, kind: "io-error", "\(phase.ioErrors) I/O error(s) in \(name(of: phase.phase)): \(phase.firstIOError ?? "")", location: result.target))
            }
        }
        let integrity = result.integrity
        measurements.append(Metric("disk.integrity.errors", Double(integrity.badBlockCount), unit: "count", higherIsBetter: false))
        measurements.append(Metric("disk.integrity.verified_blocks", Double(integrity.verifiedBlocks), unit: "count"))
        measurements.append(Metric("disk.io_errors", Double(result.phases.reduce(0) { $0 + $1.ioErrors }), unit: "count", higherIsBetter: false))
        let shown = 20
        for bad in integrity.badBlocks.prefix(shown) {
            let kind: String
            let message: String
            switch bad.kind {
            case .corruption:
                kind = "corruption"
                message = "block contents do not match their checksum (found by \(name(of: bad.phase)); written as \(bad.expected))"
            case .misdirectedWrite:
                kind = "misdirected-write"
                message = "holds the block written for offset \(bad.foundOffset.map(String.init) ?? "?") (found by \(name(of: bad.phase)))"
            case .lostWrite:
                kind = "lost-write"
                message = "holds \(bad.found.map { "generation \($0)" } ?? "zeros") instead of the last write \(bad.expected) (found by \(name(of: bad.phase)))"
            }
            findings.append(Finding(.fail, kind: kind, message, location: "\(result.target) offset \(bad.offset)"))
        }
        if integrity.badBlockCount > UInt64(min(shown, integrity.badBlocks.count)) {
            findings.append(
                Finding(
                    .fail, kind: "corruption",
                    "\(integrity.badBlockCount) bad 4 KiB blocks in all (\(integrity.corruptions) corrupted, \(integrity.misdirectedWrites) misdirected, \(integrity.lostWrites) lost writes); the first \(min(shown, integrity.badBlocks.count)) are listed",
                    location: result.target))
        }
        var notes = result.notes
        notes.insert("\(result.targetKind == .blockDevice ? "device" : "file") \(result.target), \(Units.format(Double(result.size), "B")), \(result.engine.rawValue)\(result.directIO ? ", O_DIRECT" : "")", at: 0)
        return BurnInProbes.outcome(
            "disk", started: started, interrupted: result.interrupted, reason: notes.joined(separator: "; "), measurements: measurements,
            findings: findings, series: series, distributions: distributions, detail: .disk(result))
    }
}

// MARK: - CPU

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

// MARK: - Memory

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

// MARK: - Network

/// `[network]`: duration, streams, directions, message_size, rtt, rtt_duration, udp, udp_rate,
/// udp_duration, server, connect_timeout. The peer (`--server`) wins over `server`.
public struct NetworkBurnInProbe: BurnInProbe {
    public let name = "network"
    public init() {}

    func configuration(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) -> NetworkProbe.Configuration {
        var o = ProbeOptions(probe: name, settings)
        let configured = try o.string("server")
        let duration = try o.number("duration", range: 0.1...86_400)
        let streams = try o.integers("streams", range: 1...1024)
        let directions = try o.names("directions", of: NetworkDirection.self, allowed: NetworkDirection.allCases)
        let messageSize = try o.size("message_size", range: 1...(16 << 20))
        let rtt = try o.bool("rtt")
        let rttDuration = try o.number("rtt_duration", range: 0.1...3600)
        let udp = try o.bool("udp")
        let udpRate = try o.number("udp_rate", range: 1000...400e9)
        let udpDuration = try o.number("udp_duration", range: 0.1...86_400)
        let timeout = try o.number("connect_timeout", range: 0.1...600)
        try o.finish()
        guard let peer = context.networkPeer ?? configured, !peer.isEmpty else {
            throw BurnInSetupError(
                probe: name, key: "server",
                reason: "no network peer (--server HOST[:PORT] of `nodeagent burnin net-server` on another node)")
        }
        let (host, port) = try Self.parsePeer(peer)
        var c = NetworkProbe.Configuration(host: host, port: port)
        if let duration { c.duration = duration }
        if let streams {
            // The single-stream figure is always worth having next to the parallel one.
            c.streams = Array(Set(streams + [1])).sorted()
        }
        c.directions = directions ?? [.clientToServer, .serverToClient]
        if let messageSize { c.messageSize = Int(messageSize) }
        if rtt == false {
            c.rtt = nil
        } else if let rttDuration {
            c.rtt = NetworkProbe.RTTTest(duration: rttDuration)
        }
        if udp == true || udpRate != nil {
            var test = NetworkProbe.UDPTest()
            if let udpRate { test.bitsPerSecond = udpRate }
            if let udpDuration { test.duration = udpDuration }
            c.udp = test
        }
        if let timeout { c.connectTimeout = timeout }
        do {
            try c.validate()
        } catch {
            throw BurnInSetupError(probe: name, key: "network", reason: "\(error)")
        }
        return c
    }

    /// `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address.
    static func parsePeer(_ text: String) throws(BurnInSetupError) -> (String, UInt16) {
        func bad(_ reason: String) -> BurnInSetupError { BurnInSetupError(probe: "network", key: "server", reason: "\"\(text)\": \(reason)") }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad("unclosed [") }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, NetworkProbeServer.defaultPort) }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()), port > 0 else { throw bad("the port must be 1...65535") }
            return (host, port)
        }
        let colons = text.filter { $0 == ":" }.count
        if colons == 1 {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard !parts[0].isEmpty else { throw bad("no host") }
            guard let port = UInt16(parts[1]), port > 0 else { throw bad("the port must be 1...65535") }
            return (String(parts[0]), port)
        }
        guard !text.isEmpty else { throw bad("no host") }
        return (text, NetworkProbeServer.defaultPort)
    }

    public func validate(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) {
        do {
            _ = try configuration(settings, context: context)
        } catch where error.key == "server" && context.networkPeer == nil && settings.options["server"] == nil {
            return  // skipped when it runs, not an error
        }
    }

    public func run(
        _ settings: ProbeSettings, context: BurnInContext, progress: @escaping @Sendable (BurnInProgress) -> Void
    ) async -> ProbeOutcome {
        let started = Date()
        let configuration: NetworkProbe.Configuration
        do {
            configuration = try self.configuration(settings, context: context)
        } catch {
            if error.key == "server" && context.networkPeer == nil && settings.options["server"] == nil {
                return ProbeOutcome(probe: name, status: .skipped, reason: error.reason, started: started, seconds: 0)
            }
            return BurnInProbes.failed(name, started: started, error.description)
        }
        let tests = Double(configuration.streams.count * configuration.directions.count)
        let total = tests * configuration.duration + (configuration.rtt?.duration ?? 0)
            + Double(configuration.udp?.directions.count ?? 0) * (configuration.udp?.duration ?? 0)
        let begin = Date()
        do {
            let result = try await NetworkProbe(configuration: configuration).run { p in
                progress(
                    BurnInProgress(
                        probe: "network", step: p.description, fraction: min(1, Date().timeIntervalSince(begin) / max(total, 1)), rate: ""))
            }
            return Self.outcome(result, started: started)
        } catch is CancellationError {
            return ProbeOutcome(probe: name, status: .interrupted, reason: "interrupted", started: started, seconds: Date().timeIntervalSince(started))
        } catch {
            return BurnInProbes.failed(name, started: started, "\(configuration.host):\(configuration.port): \(error)")
        }
    }

    static func outcome(_ result: NetworkResult, started: Date) -> ProbeOutcome {
        var measurements: [Metric] = []
        var series: [Series] = []
        func best(_ direction: NetworkDirection, streams: Int? = nil) -> NetworkTCPResult? {
            result.tcp.filter { $0.direction == direction && (streams == nil || $0.streams == streams) }.max { $0.streams < $1.streams }
        }
        if let t = best(.clientToServer) {
            measurements.append(Metric("network.tcp.throughput", t.bitsPerSecond / 8, unit: "B/s"))
            if let transfer = t.clientToServer {
                if let r = transfer.retransmits { measurements.append(Metric("network.tcp.retransmits", Double(r), unit: "count", higherIsBetter: false)) }
                series.append(
                    Series(
                        name: "network.tcp.throughput (\(t.streams) streams, client to server)", unit: "B/s",
                        points: transfer.intervals.map { .init(t: $0.end, value: $0.bitsPerSecond / 8) }))
            }
        }
        if let t = best(.serverToClient) {
            measurements.append(Metric("network.tcp_reverse.throughput", t.bitsPerSecond / 8, unit: "B/s"))
            if let transfer = t.serverToClient {
                series.append(
                    Series(
                        name: "network.tcp_reverse.throughput (\(t.streams) streams, server to client)", unit: "B/s",
                        points: transfer.intervals.map { .init(t: $0.end, value: $0.bitsPerSecond / 8) }))
            }
        }
        if let t = best(.clientToServer, streams: 1) { measurements.append(Metric("network.tcp_single.throughput", t.bitsPerSecond / 8, unit: "B/s")) }
        if let t = best(.bidirectional) { measurements.append(Metric("network.tcp_bidir.throughput", t.bitsPerSecond / 8, unit: "B/s")) }
        var distributions: [Distribution] = []
        if let rtt = result.rtt {
            let l = rtt.latency
            for (suffix, value) in [("p50", l.p50), ("p90", l.p90), ("p99", l.p99), ("p999", l.p999), ("max", l.maximum)] {
                measurements.append(Metric("network.rtt.latency_\(suffix)", value, unit: "us", higherIsBetter: false))
            }
            distributions.append(
                Distribution(
                    name: "round-trip time by percentile", unit: "us",
                    bars: l.distribution.enumerated().filter { $0.offset % max(1, l.distribution.count / 24) == 0 }.map {
                        .init(label: String(format: "%.3g%%", $0.element.percentile), value: $0.element.microseconds)
                    }))
        }
        distributions.append(
            Distribution(
                name: "TCP throughput per test", unit: "B/s",
                bars: result.tcp.map { .init(label: "\($0.streams)× \($0.direction.rawValue)", value: $0.bitsPerSecond / 8) }))
        var findings: [Finding] = []
        if !result.udp.isEmpty {
            let loss = result.udp.map(\.lossPercent).max() ?? 0
            let jitter = result.udp.map(\.jitterMicroseconds).max() ?? 0
            measurements.append(Metric("network.udp.loss", loss, unit: "%", higherIsBetter: false))
            measurements.append(Metric("network.udp.jitter", jitter, unit: "us", higherIsBetter: false))
            for udp in result.udp where udp.sentBitsPerSecond < udp.targetBitsPerSecond * 0.9 {
                findings.append(
                    Finding(
                        .warn, kind: "udp-rate",
                        "the sender reached \(Units.format(udp.sentBitsPerSecond, "bit/s")) of the \(Units.format(udp.targetBitsPerSecond, "bit/s")) asked",
                        location: udp.direction.rawValue))
            }
        }
        return BurnInProbes.outcome(
            "network", started: started, interrupted: false, reason: "against \(result.serverAddress) (\(result.serverSoftware))",
            measurements: measurements, findings: findings, series: series, distributions: distributions, detail: .network(result))
    }
}

// MARK: - Health

/// `[health]`: smart, devices, smartctl_timeout.
public struct HealthBurnInProbe: BurnInProbe {
    public let name = "health"
    public init() {}

    func configuration(_ settings: ProbeSettings) throws(BurnInSetupError) -> HealthProbe.Configuration {
        var o = ProbeOptions(probe: name, settings)
        var c = HealthProbe.Configuration()
        if let smart = try o.bool("smart") { c.smart = smart }
        if let devices = try o.stringList("devices") { c.smartDevices = devices }
        if let timeout = try o.number("smartctl_timeout", range: 1...600) { c.smartctlTimeoutSeconds = timeout }
        try o.finish()
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
            let result = try await HealthProbe(configuration: try configuration(settings)).run { p in
                progress(BurnInProgress(probe: "health", step: "reading", fraction: Double(p.done) / Double(max(p.total, 1))))
            }
            return Self.outcome(result, started: started)
        } catch {
            return BurnInProbes.failed(name, started: started, "\(error)")
        }
    }

    static func outcome(_ result: HealthResult, started: Date) -> ProbeOutcome {
        var measurements: [Metric] = []
        var findings: [Finding] = []
        var skipped: [String] = []
        if result.smart.status == .skipped {
            skipped.append("SMART: \(result.smart.reason ?? "not readable")")
        } else {
            let read = result.smart.devices.filter { $0.status != .skipped }
            measurements.append(Metric("health.smart.devices", Double(read.count), unit: "count"))
            measurements.append(Metric("health.smart.failed_devices", Double(read.filter { $0.status == .failed }.count), unit: "count", higherIsBetter: false))
            measurements.append(Metric("health.smart.media_errors", Double(read.reduce(0) { $0 + ($1.mediaErrors ?? 0) }), unit: "count", higherIsBetter: false))
            for device in result.smart.devices {
                switch device.status {
                case .failed: findings.append(Finding(.fail, kind: "smart", device.reasons.joined(separator: "; "), location: device.device))
                case .warning: findings.append(Finding(.warn, kind: "smart", device.reasons.joined(separator: "; "), location: device.device))
                case .skipped: skipped.append("SMART \(device.device): \(device.reasons.first ?? "not readable")")
                case .ok: break
                }
            }
        }
        let sources: [(HealthCounterSnapshot, String, String)] = [
            (result.edac, "edac", "health.edac"), (result.machineCheck, "machine-check", "health.machine_checks"),
            (result.thermalThrottle, "throttling", "health.throttle_events"),
        ]
        for (snapshot, kind, metric) in sources {
            if snapshot.status == .skipped {
                skipped.append("\(snapshot.source.rawValue): \(snapshot.reason ?? "absent")")
                continue
            }
            if kind == "edac" {
                let ue = snapshot.counters.filter { $0.name.hasSuffix("ue_count") && !$0.name.contains("dimm") }.reduce(0) { $0 + $1.value }
                let ce = snapshot.counters.filter { $0.name.hasSuffix("ce_count") && !$0.name.contains("dimm") }.reduce(0) { $0 + $1.value }
                measurements.append(Metric("health.edac.uncorrected", Double(ue), unit: "count", higherIsBetter: false))
                measurements.append(Metric("health.edac.corrected", Double(ce), unit: "count", higherIsBetter: false))
            } else {
                measurements.append(Metric(metric, Double(snapshot.counters.reduce(0) { $0 + $1.value }), unit: "count", higherIsBetter: false))
            }
            if snapshot.status == .failed || snapshot.status == .warning {
                findings.append(
                    Finding(snapshot.status == .failed ? .fail : .warn, kind: kind, "since boot: \(snapshot.reason ?? "counters are not zero")"))
            }
        }
        var distributions: [Distribution] = []
        if result.cpuFrequency.status == .ok {
            distributions.append(
                Distribution(name: "CPU frequency before the burn-in", unit: "MHz", bars: result.cpuFrequency.cores.map { .init(label: "cpu \($0.core)", value: $0.mhz) }))
        }
        let reason = skipped.isEmpty ? "" : "skipped here: " + skipped.joined(separator: "; ")
        if result.status == .skipped {
            var outcome = ProbeOutcome(
                probe: "health", status: .skipped, reason: "no health input is readable here: " + skipped.joined(separator: "; "), started: started, seconds: Date().timeIntervalSince(started),
                distributions: distributions)
            outcome.detail = .health(result)
            return outcome
        }
        return BurnInProbes.outcome(
            "health", started: started, interrupted: false, reason: reason, measurements: measurements, findings: findings,
            distributions: distributions, detail: .health(result))
    }
}
