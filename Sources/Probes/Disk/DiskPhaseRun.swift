// One phase: issue I/O at a queue depth (io_uring) or one at a time (psync), time each I/O,
// fill what is written, verify what is read, stop at the phase's bounds or on cancellation.
import CIOUring
import Glibc
import Synchronization

/// Set when the run's task is cancelled; read by the worker thread between I/O batches.
final class DiskStopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func stop() { flag.store(true, ordering: .relaxed) }
    var isStopped: Bool { flag.load(ordering: .relaxed) }
}

/// CLOCK_MONOTONIC in nanoseconds.
@inline(__always)
func diskNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Where the next I/O of a phase goes.
struct DiskOffsetPlan {
    let random: Bool
    let blockSize: UInt64
    /// Blocks in the phase's range [0, blocks × blockSize).
    let blocks: UInt64
    private var cursor: UInt64 = 0
    /// Completed passes of a sequential plan.
    private(set) var passes: UInt64 = 0
    private var state: UInt64

    init(random: Bool, blockSize: Int, rangeBytes: UInt64, seed: UInt64) {
        self.random = random
        self.blockSize = UInt64(blockSize)
        self.blocks = Swift.max(rangeBytes / UInt64(blockSize), 1)
        self.state = seed
    }

    var rangeBytes: UInt64 { blocks * blockSize }

    /// Whether a sequential plan's next offset starts a new pass.
    var aboutToWrap: Bool { !random && cursor == blocks }

    /// The offset `next()` will return.
    func peek() -> UInt64 {
        random ? 0 : (cursor == blocks ? 0 : cursor * blockSize)
    }

    /// The next offset, and whether a sequential plan wrapped around to produce it.
    @inline(__always)
    mutating func next() -> (offset: UInt64, wrapped: Bool) {
        if random {
            state = state &+ 0x9E37_79B9_7F4A_7C15
            let r = DiskBlockFormat.mix(state)
            return (r.multipliedFullWidth(by: blocks).high * blockSize, false)
        }
        var wrapped = false
        if cursor == blocks {
            cursor = 0
            passes += 1
            wrapped = true
        }
        defer { cursor += 1 }
        return (cursor * blockSize, wrapped)
    }
}

/// The per-buffer bookkeeping of a queued phase (pointers only: no exclusivity checks). There
/// are more buffers than the queue depth: spares are filled (writes) or verified (reads) while
/// the device has a full queue.
final class DiskBuffers {
    let count: Int
    let queueDepth: Int
    let offset: UnsafeMutablePointer<UInt64>
    let submitted: UnsafeMutablePointer<UInt64>
    /// Writes: the pass the buffer was filled with, and whether it starts a new sequential pass.
    let pass: UnsafeMutablePointer<UInt32>
    let startsPass: UnsafeMutablePointer<Bool>
    let inFlight: UnsafeMutablePointer<Bool>
    /// Buffers neither in flight nor ready (a stack).
    let free: UnsafeMutablePointer<Int32>
    var freeCount: Int
    /// Writes: filled buffers in plan order (a ring).
    let ready: UnsafeMutablePointer<Int32>
    var readyHead = 0
    var readyCount = 0
    let pending: UnsafeMutablePointer<Int32>
    let requests: UnsafeMutablePointer<ciouring_request>
    let completions: UnsafeMutablePointer<ciouring_completion>

    init(count: Int, queueDepth: Int) {
        self.count = count
        self.queueDepth = queueDepth
        offset = .allocate(capacity: count)
        submitted = .allocate(capacity: count)
        pass = .allocate(capacity: count)
        startsPass = .allocate(capacity: count)
        inFlight = .allocate(capacity: count)
        inFlight.initialize(repeating: false, count: count)
        free = .allocate(capacity: count)
        for i in 0..<count { free[i] = Int32(count - 1 - i) }
        freeCount = count
        ready = .allocate(capacity: count)
        pending = .allocate(capacity: queueDepth)
        requests = .allocate(capacity: queueDepth)
        completions = .allocate(capacity: queueDepth)
    }

    deinit {
        offset.deallocate()
        submitted.deallocate()
        pass.deallocate()
        startsPass.deallocate()
        inFlight.deallocate()
        free.deallocate()
        ready.deallocate()
        pending.deallocate()
        requests.deallocate()
        completions.deallocate()
    }

    @inline(__always) func popFree() -> Int? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        return Int(free[freeCount])
    }

    @inline(__always) func pushFree(_ buffer: Int) {
        free[freeCount] = Int32(buffer)
        freeCount += 1
    }

    @inline(__always) func pushReady(_ buffer: Int) {
        ready[(readyHead + readyCount) % count] = Int32(buffer)
        readyCount += 1
    }

    @inline(__always) var firstReady: Int? { readyCount > 0 ? Int(ready[readyHead]) : nil }

    @inline(__always) func popReady() {
        readyHead = (readyHead + 1) % count
        readyCount -= 1
    }

    /// Spare buffers for a queue depth and block size: a few for large blocks (their filling or
    /// checking takes tens of µs), none for small ones.
    static func spares(queueDepth: Int, blockSize: Int) -> Int {
        blockSize >= 128 * 1024 ? Swift.max(2, queueDepth / 4) : 0
    }
}

/// How a phase reports progress.
struct DiskProgressReporter {
    let callback: @Sendable (DiskProgress) -> Void
    let phaseIndex: Int
    let phaseCount: Int
    let interval: UInt64
    /// False for the unmeasured preconditioning pass.
    let enabled: Bool
}

/// One phase being run. Created, run and turned into a result by `DiskRunner`.
struct DiskPhaseRun {
    let phase: DiskPhase
    let isWrite: Bool
    let blockSize: Int
    let queueDepth: Int
    var plan: DiskOffsetPlan
    var map: DiskGenerationMap
    var integrity: DiskIntegrityAccumulator
    /// The pass written by a write phase.
    var pass: UInt32 = 0
    let byteLimit: UInt64
    let timeLimit: UInt64?
    let target: String
    let stop: DiskStopFlag
    let reporter: DiskProgressReporter

    var recorder = DiskLatencyRecorder()
    var timeline: DiskThroughputTimeline
    var bytes: UInt64 = 0
    var operations: UInt64 = 0
    var issued: UInt64 = 0
    var ioErrors: UInt64 = 0
    var firstIOError: String?
    var verified: UInt64 = 0
    var unverified: UInt64 = 0
    var bad: UInt64 = 0
    var start: UInt64 = 0
    var end: UInt64 = 0
    var stopping = false
    var interrupted = false
    /// The ring failed with I/O possibly in flight: its buffers must not be freed.
    var ringFailed = false
    private var lastProgress: UInt64 = 0
    private var lastProgressBytes: UInt64 = 0
    private var lastProgressOperations: UInt64 = 0

    init(
        phase: DiskPhase, isWrite: Bool, workload: DiskWorkload, queueDepth: Int, plan: DiskOffsetPlan,
        map: consuming DiskGenerationMap, integrity: consuming DiskIntegrityAccumulator, defaultBytes: UInt64,
        sampleInterval: Double, target: String, stop: DiskStopFlag, reporter: DiskProgressReporter
    ) {
        self.phase = phase
        self.isWrite = isWrite
        self.blockSize = workload.blockSize
        self.queueDepth = queueDepth
        self.plan = plan
        self.map = map
        self.integrity = integrity
        self.byteLimit = workload.byteBound ?? (workload.timeBound == nil ? defaultBytes : UInt64.max)
        self.timeLimit = workload.timeBound.map { UInt64($0 * 1e9) }
        self.target = target
        self.stop = stop
        self.reporter = reporter
        self.timeline = DiskThroughputTimeline(intervalNanoseconds: UInt64(sampleInterval * 1e9))
    }

    // MARK: Writes: what goes where

    /// The next offset, with the generation map updated for a write.
    @inline(__always)
    mutating func nextOffset() -> UInt64 {
        let (offset, wrapped) = plan.next()
        guard isWrite else { return offset }
        let unit = Int(offset / UInt64(DiskBlockFormat.unitSize))
        let units = blockSize / DiskBlockFormat.unitSize
        switch phase {
        case .sequentialWrite:
            if wrapped { pass = map.sequentialWrapped() }
            map.sequentialAdvanced(to: unit + units)
        case .randomWrite:
            map.markRandom(unit: unit, count: units)
        case .fsync:
            map.fsyncWrote(upTo: unit + units)
        default:
            break
        }
        return offset
    }

    // MARK: Completions

    static let mediaErrors: Set<Int32> = [EIO, EILSEQ, ENODATA, ETIMEDOUT, EREMOTEIO, EBADMSG, ENOMEDIUM]

    /// Accounts one finished I/O of `result` bytes (or -errno) at `offset`.
    @inline(__always)
    /// Returns whether the I/O transferred the whole block (so a read can be verified).
    @discardableResult
    mutating func completed(
        offset: UInt64, buffer: UnsafeRawPointer, result: Int, latency: UInt64, at: UInt64, verify: Bool = true
    ) throws(DiskProbeError) -> Bool {
        if result == blockSize {
            recorder.record(nanoseconds: latency)
            bytes &+= UInt64(blockSize)
            operations &+= 1
            timeline.add(at: at &- start, bytes: UInt64(blockSize))
            if !isWrite && verify { self.verify(buffer, offset: offset) }
            return true
        }
        let operation = isWrite ? "write" : "read"
        if result < 0 {
            let code = Int32(-result)
            guard Self.mediaErrors.contains(code) else {
                throw DiskProbeError(
                    kind: .ioFailure, target: target,
                    reason: "\(phase.rawValue): \(operation) of \(blockSize) bytes at offset \(offset) failed: \(String(cString: strerror(code)))")
            }
            ioErrors += 1
            if firstIOError == nil {
                firstIOError = "\(operation) of \(blockSize) bytes at offset \(offset): \(String(cString: strerror(code)))"
            }
        } else {
            ioErrors += 1
            if firstIOError == nil {
                firstIOError = "\(operation) of \(blockSize) bytes at offset \(offset): short transfer of \(result) bytes"
            }
        }
        return false
    }

    @inline(__always)
    mutating func verify(_ buffer: UnsafeRawPointer, offset: UInt64) {
        bad &+= diskVerify(
            buffer, length: blockSize, offset: offset, phase: phase, map: map, integrity: &integrity,
            verified: &verified, unverified: &unverified)
    }

    /// Decides whether to stop issuing and reports progress; `now` is after the last completions.
    @inline(__always)
    mutating func checkBounds(now: UInt64) {
        if stop.isStopped {
            stopping = true
            interrupted = true
        }
        if let timeLimit, now &- start >= timeLimit { stopping = true }
        if issued >= byteLimit { stopping = true }
        if reporter.enabled && now &- lastProgress >= reporter.interval { reportProgress(now: now) }
    }

    mutating func reportProgress(now: UInt64) {
        let elapsed = Double(now &- lastProgress) / 1e9
        var fraction = 0.0
        if let timeLimit { fraction = Double(now &- start) / Double(timeLimit) }
        if byteLimit != UInt64.max { fraction = Swift.max(fraction, Double(bytes) / Double(byteLimit)) }
        let report = DiskProgress(
            phase: phase, phaseIndex: reporter.phaseIndex, phaseCount: reporter.phaseCount,
            fraction: Swift.min(Swift.max(fraction, 0), 1),
            bytesPerSecond: elapsed > 0 ? Double(bytes &- lastProgressBytes) / elapsed : 0,
            iops: elapsed > 0 ? Double(operations &- lastProgressOperations) / elapsed : 0)
        lastProgress = now
        lastProgressBytes = bytes
        lastProgressOperations = operations
        reporter.callback(report)
    }

    // MARK: io_uring

    mutating func runQueued(
        ring: OpaquePointer, arena: UnsafeMutableRawPointer, bufferCount: Int, fixedBuffers: Bool
    ) throws(DiskProbeError) {
        let buffers = DiskBuffers(count: bufferCount, queueDepth: queueDepth)
        let spares = bufferCount - queueDepth
        let opcode = UInt8(isWrite ? CIOURING_OP_WRITE : CIOURING_OP_READ)
        let checkConflicts = phase == .sequentialWrite
        let unitSize = UInt64(DiskBlockFormat.unitSize)
        let units = blockSize / DiskBlockFormat.unitSize
        var pendingCount = 0
        var inflight = 0
        var planned: UInt64 = 0
        var plannedPass = pass
        start = diskNow()
        end = start
        lastProgress = start

        /// Writes: fills a free buffer with the next planned block (the map is updated when it
        /// is submitted). Returns false when there is no free buffer or nothing left to plan.
        func prepareOne(_ run: inout DiskPhaseRun) -> Bool {
            guard !run.stopping && planned < run.byteLimit, let buffer = buffers.popFree() else { return false }
            let (offset, wrapped) = run.plan.next()
            if wrapped { plannedPass = run.map.reservePass() }
            DiskBlockFormat.fill(
                arena + buffer * run.blockSize, length: run.blockSize, offset: offset,
                generation: run.map.generation(plannedPass))
            buffers.offset[buffer] = offset
            buffers.pass[buffer] = plannedPass
            buffers.startsPass[buffer] = wrapped
            buffers.pushReady(buffer)
            planned &+= UInt64(run.blockSize)
            return true
        }

        /// Puts one I/O in the submission queue if the queue depth and the bounds allow.
        func submitOne(_ run: inout DiskPhaseRun) throws(DiskProbeError) -> Bool {
            guard !run.stopping, inflight + pendingCount < run.queueDepth else { return false }
            guard run.issued < run.byteLimit else {
                run.stopping = true
                return false
            }
            let buffer: Int
            let offset: UInt64
            if run.isWrite {
                guard let next = buffers.firstReady else { return false }
                offset = buffers.offset[next]
                if checkConflicts {
                    // A wrapped sequential write must not overwrite a block still in flight.
                    for b in 0..<buffers.count where buffers.inFlight[b] && buffers.offset[b] == offset { return false }
                }
                buffers.popReady()
                buffer = next
                let unit = Int(offset / unitSize)
                if run.phase == .sequentialWrite {
                    if buffers.startsPass[buffer] {
                        run.pass = buffers.pass[buffer]
                        run.map.sequentialStarted(pass: run.pass)
                    }
                    run.map.sequentialAdvanced(to: unit + units)
                } else {
                    run.map.markRandom(unit: unit, count: units)
                }
            } else {
                guard let free = buffers.popFree() else { return false }
                buffer = free
                offset = run.plan.next().offset
                buffers.offset[buffer] = offset
            }
            buffers.inFlight[buffer] = true
            buffers.requests[pendingCount] = ciouring_request(
                buffer: arena + buffer * run.blockSize, offset: offset, user_data: UInt64(buffer),
                length: UInt32(run.blockSize), buffer_index: fixedBuffers ? 0 : -1, opcode: opcode)
            buffers.pending[pendingCount] = Int32(buffer)
            pendingCount += 1
            run.issued &+= UInt64(run.blockSize)
            // Submitted at once (one io_uring_enter each, as fio does): measured here, batching
            // the replacements of a batch of completions cost 10-20 % of the IOPS at 4 KiB.
            try flush(&run, submit: true)
            return true
        }

        /// Hands the queued I/O to the ring (timestamped now), submitting it if asked.
        func flush(_ run: inout DiskPhaseRun, submit: Bool) throws(DiskProbeError) {
            guard pendingCount > 0 else { return }
            let queued = Int(ciouring_queue(ring, buffers.requests, UInt32(pendingCount)))
            precondition(queued == pendingCount, "io_uring submission queue smaller than the queue depth")
            let now = diskNow()
            for i in 0..<pendingCount { buffers.submitted[Int(buffers.pending[i])] = now }
            inflight += pendingCount
            pendingCount = 0
            if submit {
                let r = ciouring_submit_and_wait(ring, 0, 0)
                if r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY {
                    run.ringFailed = true
                    throw DiskProbeError(
                        kind: .ioFailure, target: run.target, reason: "io_uring submit failed: \(String(cString: strerror(-r)))")
                }
            }
        }

        // On an error, stop issuing and wait for what is in flight (the kernel still writes
        // into the buffers), then throw. Only a failing ring cannot be drained.
        var failure: DiskProbeError?
        while true {
            if failure == nil {
                do {
                    // Fill the queue, one block at a time (each goes out as soon as it is
                    // filled), then fill the spares while the device works.
                    while try submitOne(&self) || (isWrite && inflight < queueDepth && prepareOne(&self)) {}
                    while isWrite && buffers.readyCount < spares && prepareOne(&self) {}
                    try flush(&self, submit: false)
                } catch {
                    failure = error
                    stopping = true
                }
            }
            if inflight == 0 { break }
            let r = ciouring_submit_and_wait(ring, 1, 100_000_000)
            if r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY {
                ringFailed = true
                throw DiskProbeError(
                    kind: .ioFailure, target: target, reason: "io_uring wait failed: \(String(cString: strerror(-r)))")
            }
            let now = diskNow()
            let reaped = Int(ciouring_reap(ring, buffers.completions, UInt32(queueDepth)))
            for i in 0..<reaped {
                let completion = buffers.completions[i]
                let buffer = Int(completion.user_data)
                let data = arena + buffer * blockSize
                inflight -= 1
                buffers.inFlight[buffer] = false
                do {
                    let whole = try completed(
                        offset: buffers.offset[buffer], buffer: data, result: Int(completion.result),
                        latency: now &- buffers.submitted[buffer], at: now, verify: false)
                    // The next I/O goes out before this block is checked (reads) or refilled (writes).
                    if !stopping { _ = try submitOne(&self) }
                    if whole && !isWrite { verify(data, offset: buffers.offset[buffer]) }
                } catch {
                    if failure == nil { failure = error }
                    stopping = true
                }
                buffers.pushFree(buffer)
            }
            if reaped > 0 { end = now }
            checkBounds(now: now)
        }
        if let failure { throw failure }
    }

    // MARK: psync

    mutating func runSync(fd: Int32, arena: UnsafeMutableRawPointer) throws(DiskProbeError) {
        start = diskNow()
        end = start
        lastProgress = start
        while !stopping {
            if issued >= byteLimit { break }
            let offset = nextOffset()
            if isWrite {
                DiskBlockFormat.fill(arena, length: blockSize, offset: offset, generation: map.generation(pass))
            }
            issued &+= UInt64(blockSize)
            var result: Int
            let t0 = diskNow()
            repeat {
                result = isWrite ? pwrite(fd, arena, blockSize, off_t(offset)) : pread(fd, arena, blockSize, off_t(offset))
            } while result < 0 && errno == EINTR
            let t1 = diskNow()
            try completed(offset: offset, buffer: arena, result: result < 0 ? -Int(errno) : result, latency: t1 &- t0, at: t1)
            end = t1
            checkBounds(now: t1)
        }
    }

    // MARK: fsync

    /// Write one block, then fsync; the fsync's latency is what is recorded.
    mutating func runFsync(fd: Int32, arena: UnsafeMutableRawPointer) throws(DiskProbeError) {
        start = diskNow()
        end = start
        lastProgress = start
        while !stopping {
            if issued >= byteLimit { break }
            let offset = nextOffset()
            DiskBlockFormat.fill(arena, length: blockSize, offset: offset, generation: map.generation(pass))
            issued &+= UInt64(blockSize)
            var written: Int
            repeat { written = pwrite(fd, arena, blockSize, off_t(offset)) } while written < 0 && errno == EINTR
            if written != blockSize {
                try completed(offset: offset, buffer: arena, result: written < 0 ? -Int(errno) : written, latency: 0, at: diskNow())
                checkBounds(now: diskNow())
                continue
            }
            let t0 = diskNow()
            var synced: Int32
            repeat { synced = fsync(fd) } while synced < 0 && errno == EINTR
            let t1 = diskNow()
            if synced != 0 {
                let code = errno
                guard Self.mediaErrors.contains(code) else {
                    throw DiskProbeError(
                        kind: .ioFailure, target: target, reason: "fsync failed: \(String(cString: strerror(code)))")
                }
                ioErrors += 1
                if firstIOError == nil { firstIOError = "fsync after the write at offset \(offset): \(String(cString: strerror(code)))" }
            } else {
                try completed(offset: offset, buffer: arena, result: blockSize, latency: t1 &- t0, at: t1)
            }
            end = t1
            checkBounds(now: t1)
        }
    }

    // MARK: Result

    func result() -> DiskPhaseResult {
        let duration = Double(end &- start) / 1e9
        let rates = diskRates(bytes: bytes, operations: operations, duration: duration)
        return DiskPhaseResult(
            phase: phase, blockSize: blockSize, queueDepth: queueDepth, completed: !interrupted,
            duration: duration, bytes: bytes, operations: operations,
            bytesPerSecond: rates.bytesPerSecond, iops: rates.iops, latency: recorder.summary(),
            samples: timeline.samples(phaseDuration: end &- start), ioErrors: ioErrors, firstIOError: firstIOError,
            verifiedBlocks: verified, unverifiedBlocks: unverified, badBlocks: bad)
    }
}
