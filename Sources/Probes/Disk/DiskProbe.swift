// The disk probe's entry point: runs the configured phases on a dedicated thread (the I/O loop
// blocks in io_uring_enter), reports progress, stops on Task cancellation and always cleans up.
import CIOUring
import Glibc

/// The burn-in disk probe: throughput, IOPS and latency of sequential and random I/O, fsync
/// latency, and integrity of everything written (see `DiskResult`).
///
/// ```swift
/// let probe = DiskProbe(configuration: .init(target: .file("/var/tmp"), size: 1 << 30))
/// let result = try await probe.run { print($0.phase, $0.fraction, $0.bytesPerSecond) }
/// ```
///
/// A file target is created, sized and removed afterwards, also when the run throws or is
/// cancelled. A block device is refused (`DiskProbeError.Kind.refused`) when it, a partition or a
/// holder is mounted or in use, or when it holds a filesystem, partition table or volume
/// signature, unless `force` is set.
public struct DiskProbe: Sendable {
    public var configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Runs the probe. `progress` is called from the probe's thread, about every
    /// `progressInterval` seconds while a phase runs.
    ///
    /// Cancelling the calling task stops the current phase (I/O in flight completes), skips the
    /// rest, removes a file target and returns what ran with `interrupted == true`.
    ///
    /// - Throws: `DiskProbeError` only.
    public func run(progress: @escaping @Sendable (DiskProgress) -> Void = { _ in }) async throws(DiskProbeError) -> DiskResult {
        try await run(progress: progress, beforePhase: nil)
    }

    /// `run`, calling `beforePhase` on the probe's thread before each phase with the target's
    /// path (tests tamper with the data between phases, or throw to test cleanup).
    func run(
        progress: @escaping @Sendable (DiskProgress) -> Void, beforePhase: (@Sendable (DiskPhase, String) throws(DiskProbeError) -> Void)?
    ) async throws(DiskProbeError) -> DiskResult {
        let configuration = self.configuration
        try configuration.validate()
        let stop = DiskStopFlag()
        let outcome: Result<DiskResult, DiskProbeError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                diskStartThread {
                    continuation.resume(returning: Result { () throws(DiskProbeError) -> DiskResult in
                        try DiskRunner.run(configuration: configuration, stop: stop, progress: progress, beforePhase: beforePhase)
                    })
                }
            }
        } onCancel: {
            stop.stop()
        }
        return try outcome.get()
    }
}

/// Runs `body` on a new detached thread (the cooperative pool must not block in io_uring).
func diskStartThread(_ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { context in
        let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
        box.body()
        return nil
    }, context)
    if result != 0 {
        // No thread: run here rather than never.
        Unmanaged<Box>.fromOpaque(context).takeRetainedValue().body()
    } else {
        pthread_detach(thread)
    }
}

/// A whole run on the worker thread: target, engine, phases, result, cleanup.
enum DiskRunner {
    static func run(
        configuration: DiskProbe.Configuration, stop: DiskStopFlag, progress: @escaping @Sendable (DiskProgress) -> Void,
        beforePhase: (@Sendable (DiskPhase, String) throws(DiskProbeError) -> Void)? = nil
    ) throws(DiskProbeError) -> DiskResult {
        let runStart = diskNow()
        let phases = configuration.orderedPhases
        let reads: Set<DiskPhase> = [.sequentialRead, .randomRead, .verify]
        let precondition = configuration.target.kind == .file && !phases.contains(.sequentialWrite)
            && phases.contains(where: reads.contains)
        var involved = phases
        if precondition { involved.insert(.sequentialWrite, at: 0) }
        let largestBlock = involved.map { configuration.workload($0).blockSize }.max() ?? DiskBlockFormat.unitSize

        let target = try DiskOpenTarget.open(configuration, alignment: UInt64(largestBlock))
        var removed = false
        defer { if !removed { target.finish() } }
        func invalid(_ reason: String) -> DiskProbeError {
            DiskProbeError(kind: .targetUnavailable, target: target.path, reason: reason)
        }
        for phase in involved {
            let w = configuration.workload(phase)
            if target.logicalBlockSize > 0 && w.blockSize % target.logicalBlockSize != 0 {
                throw invalid("\(phase.rawValue).blockSize \(w.blockSize) is not a multiple of the logical block size \(target.logicalBlockSize)")
            }
        }

        // Engine.
        var notes: [String] = target.staleFilesRemoved.map { "removed \($0), left by a probe whose process no longer runs" }
        var ring: OpaquePointer?
        if configuration.engine != .psync {
            var error: Int32 = 0
            ring = ciouring_create(UInt32(max(2, involved.map { configuration.workload($0).queueDepth }.max() ?? 2)), target.fd, &error)
            if ring == nil {
                let reason = "io_uring unavailable (\(String(cString: strerror(-error))))"
                if configuration.engine == .ioUring {
                    throw DiskProbeError(kind: .ioFailure, target: target.path, reason: reason)
                }
                notes.append("\(reason): psync fallback, queue depth 1")
            }
        }
        defer { ciouring_destroy(ring) }
        let engine: DiskEngine = ring == nil ? .psync : .ioUring

        // Buffers: one aligned arena, registered as one fixed buffer.
        let arenaSize = involved.map { phase -> Int in
            let w = configuration.workload(phase)
            guard engine == .ioUring && phase != .fsync else { return w.blockSize }
            return w.blockSize * (w.queueDepth + DiskBuffers.spares(queueDepth: w.queueDepth, blockSize: w.blockSize))
        }.max()!
        var memory: UnsafeMutableRawPointer?
        // 2 MiB aligned and backed by huge pages where the kernel allows (THP "madvise"): a large
        // block is then physically contiguous, one DMA segment instead of one per 4 KiB page.
        let hugePage = 2 << 20
        let alignment = arenaSize >= hugePage ? hugePage : 4096
        guard posix_memalign(&memory, alignment, arenaSize) == 0, let arena = memory else {
            throw DiskProbeError(kind: .ioFailure, target: target.path, reason: "cannot allocate \(arenaSize) bytes of buffers")
        }
        if alignment == hugePage { _ = madvise(arena, arenaSize, MADV_HUGEPAGE) }
        var arenaInUse = false  // a failed ring may still have I/O in flight into it: leak it then
        defer { if !arenaInUse { free(arena) } }
        memset(arena, 0, arenaSize)
        var fixedBuffers = false
        if let ring {
            var base: UnsafeMutableRawPointer? = arena
            let registered = ciouring_register_buffers(ring, &base, arenaSize, 1)
            fixedBuffers = registered == 0
            if !fixedBuffers { notes.append("fixed buffers unavailable (\(String(cString: strerror(-registered))))") }
        }

        let runID = configuration.runID ?? UInt32.random(in: 1...UInt32.max)
        var map = DiskGenerationMap(runID: runID, unitCount: Int(target.size / UInt64(DiskBlockFormat.unitSize)))
        var integrity = DiskIntegrityAccumulator(cap: configuration.maxReportedBadBlocks)
        var results: [DiskPhaseResult] = []
        var interrupted = false
        var seed = UInt64(runID) &* 0x9E37_79B9_7F4A_7C15

        func runPhase(_ phase: DiskPhase, workload: DiskWorkload, index: Int, report: Bool) throws(DiskProbeError) -> DiskPhaseResult {
            let unit = UInt64(DiskBlockFormat.unitSize)
            let bs = UInt64(workload.blockSize)
            // The data written so far, rounded up to whole blocks (the region is a multiple of every block size).
            let written = (UInt64(map.dataExtent) * unit + bs - 1) / bs * bs
            let data = written == 0 ? target.size : Swift.min(written, target.size)
            let range: UInt64
            switch phase {
            case .sequentialWrite: range = target.size
            default: range = data
            }
            seed = seed &+ 0x2545_F491_4F6C_DD1D
            let plan = DiskOffsetPlan(
                random: phase == .randomRead || phase == .randomWrite, blockSize: workload.blockSize,
                rangeBytes: range, seed: seed)
            let queueDepth = phase == .fsync || engine == .psync ? 1 : workload.queueDepth
            var run = DiskPhaseRun(
                phase: phase, isWrite: phase.writes, workload: workload, queueDepth: queueDepth, plan: plan,
                map: map, integrity: integrity, defaultBytes: plan.rangeBytes,
                sampleInterval: configuration.sampleInterval, target: target.path, stop: stop,
                reporter: DiskProgressReporter(
                    callback: progress, phaseIndex: index, phaseCount: phases.count,
                    interval: UInt64(configuration.progressInterval * 1e9), enabled: report))
            switch phase {
            case .sequentialWrite: run.pass = run.map.beginSequential(extentUnits: Int(plan.rangeBytes / unit))
            case .randomWrite: run.pass = run.map.beginRandom(rangeUnits: Int(plan.rangeBytes / unit))
            case .fsync: run.pass = run.map.beginFsync()
            default: break
            }
            defer {
                map = run.map
                integrity = run.integrity
                integrity.verified += run.verified
                integrity.unverified += run.unverified
            }
            if phase == .fsync {
                try run.runFsync(fd: target.fd, arena: arena)
            } else if let ring {
                do {
                    try run.runQueued(
                        ring: ring, arena: arena,
                        bufferCount: queueDepth + DiskBuffers.spares(queueDepth: queueDepth, blockSize: workload.blockSize),
                        fixedBuffers: fixedBuffers)
                } catch {
                    if run.ringFailed { arenaInUse = true }
                    throw error
                }
            } else {
                try run.runSync(fd: target.fd, arena: arena)
            }
            if report { run.reportProgress(now: diskNow()) }
            return run.result()
        }

        if precondition && !stop.isStopped {
            var fill = configuration.sequentialWrite
            fill.duration = nil
            fill.bytes = nil
            let result = try runPhase(.sequentialWrite, workload: fill, index: 0, report: false)
            if !result.completed { interrupted = true }
        }
        for (index, phase) in phases.enumerated() where !interrupted {
            if stop.isStopped {
                interrupted = true
                break
            }
            try beforePhase?(phase, target.path)
            let result = try runPhase(phase, workload: configuration.workload(phase), index: index, report: true)
            results.append(result)
            if !result.completed { interrupted = true }
        }

        removed = true
        let targetRemoved = target.finish()
        return DiskResult(
            target: target.path, targetKind: target.kind, size: target.size, logicalBlockSize: target.logicalBlockSize,
            engine: engine, fixedBuffers: fixedBuffers, directIO: target.directIO, notes: notes, runID: runID,
            preconditioned: precondition, interrupted: interrupted, targetRemoved: targetRemoved,
            duration: Double(diskNow() &- runStart) / 1e9, phases: results, integrity: integrity.report())
    }
}
