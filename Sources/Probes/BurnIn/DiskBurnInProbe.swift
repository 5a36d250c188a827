// The disk probe as a burn-in runs it (docs/BURNIN.md, probe options).
import Foundation
import Glibc

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
    /// probe is then skipped, its options still checked.
    public func validate(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) {
        guard context.diskTarget != nil else {
            // No target: the probe will be skipped, but a mistake in its options is still one.
            // The placeholder path cannot exist (a file under /dev/null), so nothing is touched.
            var placeholder = context
            placeholder.diskTarget = "/dev/null/options-check"
            _ = try configuration(settings, context: placeholder)
            return
        }
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
