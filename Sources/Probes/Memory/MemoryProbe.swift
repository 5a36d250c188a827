import Glibc
import Synchronization

/// The memory burn-in probe.
///
/// **Bandwidth**: STREAM's copy, scale, add and triad over three arrays of doubles several
/// times the last-level cache, once on one pinned thread and once with one pinned thread per
/// core (each on its own contiguous share, first-touched by that thread), timed per pass like
/// STREAM (the first pass is not counted; best, average and worst MB/s, MB = 10⁶ bytes), and
/// the arrays validated afterwards against the values the kernels must leave.
///
/// **Patterns**: memtester's tests (`MemoryPattern`) over a configurable amount of RAM,
/// locked with `mlock`, one pinned thread per core each on its own share; every failing word
/// is reported by offset, pattern and the bits that were wrong.
///
/// EDAC corrected/uncorrected counters are read before and after (skipped where absent).
public struct MemoryProbe: Sendable {
    /// What to run.
    public struct Configuration: Sendable, Codable, Equatable {
        /// Whether to measure bandwidth.
        public var bandwidth: Bool
        /// The size of each of the three arrays, in bytes; `nil` for `llcMultiple` × the
        /// last-level cache, at least `minimumArrayBytes`.
        public var arrayBytes: Int?
        /// How many times the last-level cache each array is (when `arrayBytes` is `nil`).
        public var llcMultiple: Double
        /// The smallest array when sized from the cache.
        public var minimumArrayBytes: Int
        /// How many timed passes of each kernel (STREAM's NTIMES; the first is not counted).
        public var repetitions: Int
        /// The bandwidth kernels, in order within each repetition.
        public var kernels: [MemoryBandwidthKernel]
        /// Whether to measure with one thread.
        public var singleThreaded: Bool
        /// Whether to measure with one thread per core (skipped with a single core).
        public var multiThreaded: Bool
        /// Ask for transparent huge pages for the arrays (`madvise(MADV_HUGEPAGE)`).
        public var hugePages: Bool
        /// `true` (STREAM's method): with several threads, every pass of every kernel starts and
        /// ends together (a barrier), and is timed from the barrier's opening to its next
        /// opening. `false` (sysbench's method): each thread runs all passes of a kernel on its
        /// own share without waiting for the others; the average is the bytes of all threads
        /// and passes (the first included) over the kernel's wall time, so a thread delayed by
        /// other work does not hold the others up pass by pass. Single-threaded runs are the
        /// same either way.
        public var synchronizedPasses: Bool
        /// The CPUs to use; `nil` for every online CPU this process may run on. The
        /// single-threaded measurement runs on the first.
        public var cores: [Int]?
        /// The pattern tests to run (empty for none).
        public var patterns: [MemoryPattern]
        /// How much RAM the pattern tests cover, in bytes (0 for none).
        public var patternBytes: Int
        /// At most this many passes per pattern test (`nil` for memtester's full counts).
        public var patternPassLimit: Int?
        /// How many times the whole set of pattern tests runs (memtester's loop count).
        public var patternRounds: Int
        /// Lock the tested RAM with `mlock` (a failure to lock is reported, not fatal).
        public var lockMemory: Bool
        /// The sysfs mount, `/sys` unless testing.
        public var sysfsRoot: String
        /// The procfs mount, `/proc` unless testing.
        public var procRoot: String
        /// Test hook: flips a bit of the pattern region between a pass's write and its read-back.
        public var faultInjection: MemoryFaultInjection?

        public init(
            bandwidth: Bool = true, arrayBytes: Int? = nil, llcMultiple: Double = 4, minimumArrayBytes: Int = 64 << 20,
            repetitions: Int = 10, kernels: [MemoryBandwidthKernel] = MemoryBandwidthKernel.stream,
            singleThreaded: Bool = true, multiThreaded: Bool = true, hugePages: Bool = true,
            synchronizedPasses: Bool = true, cores: [Int]? = nil,
            patterns: [MemoryPattern] = MemoryPattern.allCases, patternBytes: Int = 256 << 20,
            patternPassLimit: Int? = nil, patternRounds: Int = 1, lockMemory: Bool = true, sysfsRoot: String = "/sys",
            procRoot: String = "/proc", faultInjection: MemoryFaultInjection? = nil
        ) {
            self.bandwidth = bandwidth
            self.arrayBytes = arrayBytes
            self.llcMultiple = llcMultiple
            self.minimumArrayBytes = minimumArrayBytes
            self.repetitions = repetitions
            self.kernels = kernels
            self.singleThreaded = singleThreaded
            self.multiThreaded = multiThreaded
            self.hugePages = hugePages
            self.synchronizedPasses = synchronizedPasses
            self.cores = cores
            self.patterns = patterns
            self.patternBytes = patternBytes
            self.patternPassLimit = patternPassLimit
            self.patternRounds = patternRounds
            self.lockMemory = lockMemory
            self.sysfsRoot = sysfsRoot
            self.procRoot = procRoot
            self.faultInjection = faultInjection
        }

        /// Decodes a partial configuration: absent keys keep their defaults.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Configuration()
            bandwidth = try c.decodeIfPresent(Bool.self, forKey: .bandwidth) ?? d.bandwidth
            arrayBytes = try c.decodeIfPresent(Int.self, forKey: .arrayBytes)
            llcMultiple = try c.decodeIfPresent(Double.self, forKey: .llcMultiple) ?? d.llcMultiple
            minimumArrayBytes = try c.decodeIfPresent(Int.self, forKey: .minimumArrayBytes) ?? d.minimumArrayBytes
            repetitions = try c.decodeIfPresent(Int.self, forKey: .repetitions) ?? d.repetitions
            kernels = try c.decodeIfPresent([MemoryBandwidthKernel].self, forKey: .kernels) ?? d.kernels
            singleThreaded = try c.decodeIfPresent(Bool.self, forKey: .singleThreaded) ?? d.singleThreaded
            multiThreaded = try c.decodeIfPresent(Bool.self, forKey: .multiThreaded) ?? d.multiThreaded
            hugePages = try c.decodeIfPresent(Bool.self, forKey: .hugePages) ?? d.hugePages
            synchronizedPasses =
                try c.decodeIfPresent(Bool.self, forKey: .synchronizedPasses) ?? d.synchronizedPasses
            cores = try c.decodeIfPresent([Int].self, forKey: .cores)
            patterns = try c.decodeIfPresent([MemoryPattern].self, forKey: .patterns) ?? d.patterns
            patternBytes = try c.decodeIfPresent(Int.self, forKey: .patternBytes) ?? d.patternBytes
            patternPassLimit = try c.decodeIfPresent(Int.self, forKey: .patternPassLimit)
            patternRounds = try c.decodeIfPresent(Int.self, forKey: .patternRounds) ?? d.patternRounds
            lockMemory = try c.decodeIfPresent(Bool.self, forKey: .lockMemory) ?? d.lockMemory
            sysfsRoot = try c.decodeIfPresent(String.self, forKey: .sysfsRoot) ?? d.sysfsRoot
            procRoot = try c.decodeIfPresent(String.self, forKey: .procRoot) ?? d.procRoot
            faultInjection = try c.decodeIfPresent(MemoryFaultInjection.self, forKey: .faultInjection)
        }
    }

    /// What the probe runs.
    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Runs the probe. Returns early, with `interrupted` set and what was measured so far, when
    /// the task is cancelled. Throws `MemoryProbeError` when it cannot run at all (invalid
    /// configuration, no usable CPU, memory that cannot be mapped).
    ///
    /// - Parameter progress: called about every quarter second, from another task.
    public func run(progress: @escaping @Sendable (MemoryProgress) -> Void = { _ in }) async throws -> MemoryResult {
        let config = configuration
        guard config.repetitions >= 1 else { throw MemoryProbeError("repetitions must be at least 1") }
        guard config.patternBytes >= 0 else { throw MemoryProbeError("patternBytes must not be negative") }
        guard config.patternRounds >= 1 else { throw MemoryProbeError("patternRounds must be at least 1") }
        let cores = try selectCores()
        let cache = MemoryCacheInfo.read(sysfsRoot: config.sysfsRoot)
        let arrayBytes = config.arrayBytes ?? max(
            config.minimumArrayBytes, cache.bytes.map { Int(Double($0) * config.llcMultiple) } ?? 0)
        let elements = max(8 * cores.count, arrayBytes / 8)
        let patternBytes = (config.patternBytes / 4096) * 4096
        let counters = HealthCounterReader(sysfsRoot: config.sysfsRoot, procRoot: config.procRoot)
        let edacBefore = counters.edac()
        let startedAt = HealthFiles.wallClockSeconds()
        let start = HealthFiles.monotonicNanoseconds()

        var plannedRuns: [[Int]] = []
        if config.bandwidth && !config.kernels.isEmpty {
            if config.singleThreaded { plannedRuns.append([cores[0]]) }
            if config.multiThreaded && cores.count > 1 { plannedRuns.append(cores) }
        }
        let runs = plannedRuns
        let doPatterns = !config.patterns.isEmpty && patternBytes > 0
        let bandwidthBytes = runs.count * config.repetitions
            * config.kernels.reduce(0) { $0 + $1.bytesMoved(elementsPerArray: elements) }
        let patternPasses = config.patternRounds
            * config.patterns.reduce(0) { $0 + $1.selectedPasses(limit: config.patternPassLimit).count }
        let meter = MemoryProgressMeter(
            totalBytes: bandwidthBytes + (doPatterns ? patternPasses * 2 * patternBytes : 0), start: start)
        let stop = StopFlag()

        let outcome = await PinnedThreads.runReportingProgress(
            every: .milliseconds(250), stop: stop,
            threads: { () async -> Result<([MemoryBandwidthRun], MemoryPatternReport?), MemoryProbeError> in
                var bandwidth: [MemoryBandwidthRun] = []
                var patterns: MemoryPatternReport?
                do throws(MemoryProbeError) {
                    for cpus in runs where !stop.isStopped {
                        meter.phase = cpus.count == 1 ? "bandwidth, 1 thread" : "bandwidth, \(cpus.count) threads"
                        bandwidth.append(
                            try await MemoryBandwidthRunner(config: config, cores: cpus, elements: elements)
                                .run(stop: stop, meter: meter))
                    }
                    if doPatterns && !stop.isStopped {
                        meter.phase = "patterns"
                        patterns = try await MemoryPatternRunner(config: config, cores: cores, bytes: patternBytes)
                            .run(stop: stop, meter: meter)
                    }
                } catch {
                    return .failure(error)
                }
                return .success((bandwidth, patterns))
            },
            tick: { progress(meter.progress()) })
        let (bandwidth, patterns) = try outcome.get()

        let edac = HealthCounterComparison(before: edacBefore, after: counters.edac())
        return MemoryResult(
            configuration: config, startedAt: startedAt,
            elapsedSeconds: Double(HealthFiles.monotonicNanoseconds() - start) / 1e9, interrupted: stop.isStopped,
            lastLevelCache: cache, bandwidth: bandwidth, patterns: patterns, edac: edac)
    }

    /// The CPUs to use.
    func selectCores() throws(MemoryProbeError) -> [Int] {
        let online = PinnedThreads.onlineCPUs(sysfsRoot: configuration.sysfsRoot)
        let allowed = PinnedThreads.allowedCPUs()
        let candidates = configuration.cores ?? online ?? allowed?.sorted() ?? []
        var chosen: [Int] = []
        for cpu in candidates where !chosen.contains(cpu) {
            if let online, !online.contains(cpu) { continue }
            if let allowed, !allowed.contains(cpu) { continue }
            chosen.append(cpu)
        }
        guard !chosen.isEmpty else { throw MemoryProbeError("no CPU to run on (all offline or outside the affinity mask)") }
        return chosen
    }
}

/// Test hook: flips one bit of the pattern region after a pass has written it and before it is
/// read back, as a failing cell would.
public struct MemoryFaultInjection: Sendable, Codable, Equatable {
    /// The pattern test.
    public var pattern: MemoryPattern
    /// The pass (0-based; with a pass limit it must be one of the selected passes).
    public var pass: Int
    /// The byte offset in the tested region.
    public var offset: Int
    /// The bit of that byte (0...7).
    public var bit: Int

    public init(pattern: MemoryPattern, pass: Int = 0, offset: Int, bit: Int = 0) {
        self.pattern = pattern
        self.pass = pass
        self.offset = offset
        self.bit = bit
    }
}

/// Why the memory probe could not run.
public struct MemoryProbeError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The probe's state while it runs.
public struct MemoryProgress: Sendable, Equatable {
    /// What runs now: `bandwidth, 1 thread`, `bandwidth, N threads` or `patterns`.
    public var phase: String
    /// Bytes processed over bytes planned, 0...1.
    public var fractionComplete: Double
    /// Seconds since the probe started.
    public var elapsedSeconds: Double
    /// MB/s (10⁶ bytes) processed since the previous report (bandwidth kernels count STREAM's
    /// bytes; pattern passes count bytes written plus bytes read).
    public var currentMBps: Double
    /// Pattern failures so far.
    public var failures: Int
}

/// The last-level cache, which sizes the bandwidth arrays.
public struct MemoryCacheInfo: Sendable, Codable, Equatable {
    /// `ok` when found, `skipped` (with `reason`) when cpu0's cache directory is absent.
    public var status: HealthCheckStatus
    /// Why it was skipped.
    public var reason: String?
    /// Its level (3 on most servers).
    public var level: Int?
    /// Its size in bytes (of the instance cpu0 uses).
    public var bytes: Int?
    /// The sysfs directory it was read from.
    public var path: String?

    /// The highest-level data or unified cache of cpu0.
    static func read(sysfsRoot: String) -> MemoryCacheInfo {
        let base = sysfsRoot + "/devices/system/cpu/cpu0/cache"
        var best: MemoryCacheInfo?
        for entry in HealthFiles.list(base) ?? [] where entry.hasPrefix("index") {
            let dir = base + "/" + entry
            guard let level = HealthFiles.trimmed(dir + "/level").flatMap({ Int($0) }),
                let size = HealthFiles.trimmed(dir + "/size").flatMap(HealthFiles.cacheSize)
            else { continue }
            if HealthFiles.trimmed(dir + "/type") == "Instruction" { continue }
            if best == nil || level > best!.level! {
                best = MemoryCacheInfo(status: .ok, reason: nil, level: level, bytes: size, path: dir)
            }
        }
        return best
            ?? MemoryCacheInfo(
                status: .skipped, reason: "no cache sizes under \(base): \(HealthFiles.whyUnreadable(base))",
                level: nil, bytes: nil, path: nil)
    }
}

/// One kernel in one bandwidth run.
public struct MemoryKernelBandwidth: Sendable, Codable, Equatable {
    /// The kernel.
    public var kernel: MemoryBandwidthKernel
    /// Bytes one pass moves (`kernel.bytesMoved(elementsPerArray:)`).
    public var bytesPerPass: Int
    /// STREAM's "Best Rate MB/s": bytes over the fastest pass.
    public var bestMBps: Double
    /// Bytes over the average pass time.
    public var averageMBps: Double
    /// Bytes over the slowest pass.
    public var worstMBps: Double
    /// The fastest pass, seconds.
    public var minSeconds: Double
    /// The average pass, seconds.
    public var averageSeconds: Double
    /// The slowest pass, seconds.
    public var maxSeconds: Double
    /// MB/s of each counted pass in order (averaged in groups to at most 200 points), for the
    /// report's throughput-over-time plot.
    public var samplesMBps: [Double]
}

/// One bandwidth run (one thread, or one thread per core).
public struct MemoryBandwidthRun: Sendable, Codable, Equatable {
    /// Number of threads.
    public var threads: Int
    /// Their CPUs.
    public var cores: [Int]
    /// Bytes per array.
    public var arrayBytes: Int
    /// Doubles per array.
    public var elementsPerArray: Int
    /// Repetitions completed (all of them unless interrupted).
    public var repetitions: Int
    /// Per kernel.
    public var kernels: [MemoryKernelBandwidth]
    /// Whether the arrays held the expected values afterwards (`nil` if interrupted).
    public var validated: Bool?
    /// The first wrong element, if validation failed.
    public var validationError: String?
    /// Threads that could not be pinned, with the reason.
    public var pinErrors: [String]
    /// Whether passes were synchronized across threads (see
    /// `MemoryProbe.Configuration.synchronizedPasses`; always `true` with one thread). When
    /// `false`, a kernel's min/avg/max seconds are those of single threads' passes, best and
    /// worst MB/s are the sums over threads of each thread's best and worst pass, and average
    /// MB/s is all bytes over the kernel's wall time.
    public var synchronizedPasses: Bool
}

/// Everything the memory probe measured.
public struct MemoryResult: Sendable, Codable, Equatable {
    /// The configuration it ran with.
    public var configuration: MemoryProbe.Configuration
    /// When it started, seconds since the Unix epoch.
    public var startedAt: Double
    /// How long it ran, in seconds.
    public var elapsedSeconds: Double
    /// Whether it was cancelled before the end.
    public var interrupted: Bool
    /// The last-level cache the arrays were sized from.
    public var lastLevelCache: MemoryCacheInfo
    /// The bandwidth runs: one thread, then one per core (as configured).
    public var bandwidth: [MemoryBandwidthRun]
    /// The pattern tests, if run.
    public var patterns: MemoryPatternReport?
    /// EDAC counters before and after (`skipped` where EDAC is absent).
    public var edac: HealthCounterComparison
    /// Pattern failures plus failed bandwidth validations (0 on sound memory).
    public var memoryErrors: Int
    /// Words that read back wrong in the pattern tests (`nil` if they did not run).
    public var patternErrors: Int?
    /// The best triad rate of all bandwidth runs, MB/s (10⁶ bytes); `nil` without bandwidth runs.
    public var bestTriadMBps: Double?
    /// What a reader should know, one sentence each.
    public var findings: [String]

    init(
        configuration: MemoryProbe.Configuration, startedAt: Double, elapsedSeconds: Double, interrupted: Bool,
        lastLevelCache: MemoryCacheInfo, bandwidth: [MemoryBandwidthRun], patterns: MemoryPatternReport?,
        edac: HealthCounterComparison
    ) {
        self.configuration = configuration
        self.startedAt = startedAt
        self.elapsedSeconds = elapsedSeconds
        self.interrupted = interrupted
        self.lastLevelCache = lastLevelCache
        self.bandwidth = bandwidth
        self.patterns = patterns
        self.edac = edac
        var findings: [String] = []
        var errors = 0
        for run in bandwidth {
            if run.validated == false {
                errors += 1
                findings.append("bandwidth arrays (\(run.threads) thread(s)) hold wrong values: \(run.validationError ?? "?")")
            }
            for error in run.pinErrors { findings.append("bandwidth thread not pinned: \(error)") }
        }
        if let patterns {
            errors += patterns.totalFailures
            if patterns.totalFailures > 0 {
                let first = patterns.failures.prefix(3).map {
                    "\($0.pattern.rawValue) pass \($0.pass) at offset \($0.offset) (bits \($0.differingBits))"
                }.joined(separator: "; ")
                findings.append("\(patterns.totalFailures) word(s) read back wrong: \(first)")
            }
            if let lockError = patterns.lockError { findings.append("pattern region not locked in RAM: \(lockError)") }
        }
        if edac.status == .warning || edac.status == .failed { findings.append("EDAC: " + (edac.reason ?? "")) }
        self.memoryErrors = errors
        self.patternErrors = patterns?.totalFailures
        self.bestTriadMBps = bandwidth.flatMap(\.kernels).filter { $0.kernel == .triad }.map(\.bestMBps).max()
        self.findings = findings
    }
}

// MARK: - Runners

/// Counts processed bytes for the progress reports.
final class MemoryProgressMeter: Sendable {
    private let totalBytes: Int
    private let start: UInt64
    private let done = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)
    private let state = Mutex<(phase: String, lastNanos: UInt64, lastBytes: Int)>(("starting", 0, 0))

    init(totalBytes: Int, start: UInt64) {
        self.totalBytes = totalBytes
        self.start = start
    }

    var phase: String {
        get { state.withLock { $0.phase } }
        set { state.withLock { $0.phase = newValue } }
    }

    func add(bytes: Int) { done.wrappingAdd(bytes, ordering: .relaxed) }
    func add(failures n: Int) { failures.wrappingAdd(n, ordering: .relaxed) }

    func progress() -> MemoryProgress {
        let now = HealthFiles.monotonicNanoseconds()
        let bytes = done.load(ordering: .relaxed)
        let (phase, rate) = state.withLock { s -> (String, Double) in
            let seconds = Double(now - max(start, s.lastNanos)) / 1e9
            let rate = seconds > 0 ? Double(bytes - s.lastBytes) / seconds / 1e6 : 0
            s.lastNanos = now
            s.lastBytes = bytes
            return (s.phase, rate)
        }
        return MemoryProgress(
            phase: phase, fractionComplete: totalBytes > 0 ? min(1, Double(bytes) / Double(totalBytes)) : 1,
            elapsedSeconds: Double(now - start) / 1e9, currentMBps: rate,
            failures: failures.load(ordering: .relaxed))
    }
}

/// A buffer written by one thread and read after all threads finished.
final class MemoryTimings: @unchecked Sendable {
    let values: UnsafeMutablePointer<UInt64>
    let count: Int

    init(count: Int) {
        self.count = count
        values = .allocate(capacity: max(1, count))
        values.initialize(repeating: 0, count: max(1, count))
    }

    deinit { values.deallocate() }
}

struct MemoryBandwidthRunner {
    let config: MemoryProbe.Configuration
    let cores: [Int]
    let elements: Int

    func run(stop: StopFlag, meter: MemoryProgressMeter) async throws(MemoryProbeError) -> MemoryBandwidthRun {
        let bytes = elements * MemoryLayout<Double>.size
        // Three separate mappings; the second and third start 1 and 2 cache lines later so the
        // arrays do not map to the same cache sets at the same offsets.
        let regions = try (0..<3).map { _ throws(MemoryProbeError) in
            try MemoryRegion(bytes: bytes + 4096, hugePages: config.hugePages, lock: false)
        }
        let arrays = MemoryBandwidthArrays(
            a: regions[0].doubles, b: regions[1].doubles + 8, c: regions[2].doubles + 16, elements: elements)
        let kernels = config.kernels
        let reps = config.repetitions
        let timings = MemoryTimings(count: reps * kernels.count)
        let threads = cores.count
        let barrier = MemorySpinBarrier(count: threads)
        let completed = Atomic<Int>(0)
        let pinErrors = Mutex<[String]>([])
        let validation = Mutex<(checked: Int, error: String?)>((0, nil))
        let sink = Atomic<UInt64>(0)
        var expected = MemoryBandwidthArrays.initialValues
        for _ in 0..<reps { for kernel in kernels { kernel.apply(&expected) } }
        let finalValues = expected

        let synchronized = config.synchronizedPasses || threads == 1
        if !synchronized {
            return await runFreely(arrays: arrays, regions: regions, stop: stop, meter: meter, barrier: barrier)
        }

        await PinnedThreads.run(cpus: cores) { index, cpu, started in
            if case .notStarted(let why) = started {
                pinErrors.withLock { $0.append("CPU \(cpu): \(why)") }
                barrier.abandon()
                return
            }
            if let why = started.error { pinErrors.withLock { $0.append("CPU \(cpu): \(why)") } }
            let range = MemoryBandwidthArrays.chunk(index, of: threads, elements: elements)
            arrays.initialize(range)
            guard barrier.wait() else { return }
            var localSink: UInt64 = 0
            var finished = true
            repetitions: for rep in 0..<reps {
                for (k, kernel) in kernels.enumerated() {
                    if stop.isStopped {
                        barrier.abandon()
                        finished = false
                        break repetitions
                    }
                    guard barrier.wait() else {
                        finished = false
                        break repetitions
                    }
                    // From the barrier's opening (all threads ready) to its next opening (the
                    // last thread done), as STREAM times a parallel loop from before its fork
                    // to after its join.
                    let t0 = barrier.releasedAt
                    localSink &+= arrays.run(kernel, range)
                    guard barrier.wait() else {
                        finished = false
                        break repetitions
                    }
                    if index == 0 {
                        timings.values[rep * kernels.count + k] = max(1, barrier.releasedAt - t0)
                        meter.add(bytes: kernel.bytesMoved(elementsPerArray: elements))
                    }
                }
                if index == 0 { completed.store(rep + 1, ordering: .relaxed) }
            }
            sink.wrappingAdd(localSink, ordering: .relaxed)
            if finished { MemoryBandwidthValidation.check(arrays, range, expected: finalValues, cpu: cpu, into: validation) }
        }
        withExtendedLifetime(regions) {}
        _ = sink.load(ordering: .relaxed)

        let done = completed.load(ordering: .relaxed)
        let results = kernels.enumerated().map { k, kernel in
            let perPass = kernel.bytesMoved(elementsPerArray: elements)
            // STREAM does not count the first pass (it warms the TLB and caches).
            let first = done > 1 ? 1 : 0
            let times = (first..<max(first, done)).map { Double(timings.values[$0 * kernels.count + k]) / 1e9 }
            return MemoryBandwidthRunner.summary(kernel: kernel, bytesPerPass: perPass, times: times)
        }
        let v = validation.withLock { $0 }
        let allChecked = v.checked == threads
        return MemoryBandwidthRun(
            threads: threads, cores: cores, arrayBytes: bytes, elementsPerArray: elements, repetitions: done,
            kernels: results, validated: allChecked ? v.error == nil : (v.error == nil ? nil : false),
            validationError: v.error, pinErrors: pinErrors.withLock { $0 }, synchronizedPasses: true)
    }

    /// sysbench's method: per kernel, every thread runs all passes over its share on its own;
    /// the threads meet only before and after each kernel.
    private func runFreely(
        arrays: MemoryBandwidthArrays, regions: [MemoryRegion], stop: StopFlag, meter: MemoryProgressMeter,
        barrier: MemorySpinBarrier
    ) async -> MemoryBandwidthRun {
        let pinErrors = Mutex<[String]>([])
        let kernels = config.kernels
        let reps = config.repetitions
        let threads = cores.count
        // Pass times per kernel, repetition and thread; phase times per kernel.
        let passTimes = MemoryTimings(count: kernels.count * reps * threads)
        let phaseTimes = MemoryTimings(count: kernels.count)
        let completed = Mutex<[Int]>(Array(repeating: 0, count: kernels.count))
        let validation = Mutex<(checked: Int, error: String?)>((0, nil))
        let sink = Atomic<UInt64>(0)
        var expected = MemoryBandwidthArrays.initialValues
        for kernel in kernels { for _ in 0..<reps { kernel.apply(&expected) } }
        let finalValues = expected

        await PinnedThreads.run(cpus: cores) { index, cpu, started in
            if case .notStarted(let why) = started {
                pinErrors.withLock { $0.append("CPU \(cpu): \(why)") }
                barrier.abandon()
                return
            }
            if let why = started.error { pinErrors.withLock { $0.append("CPU \(cpu): \(why)") } }
            let range = MemoryBandwidthArrays.chunk(index, of: threads, elements: elements)
            arrays.initialize(range)
            var localSink: UInt64 = 0
            var finished = true
            phases: for (k, kernel) in kernels.enumerated() {
                guard barrier.wait() else {
                    finished = false
                    break
                }
                let phaseStart = barrier.releasedAt
                var done = 0
                for rep in 0..<reps {
                    if stop.isStopped {
                        barrier.abandon()
                        finished = false
                        break phases
                    }
                    let t0 = HealthFiles.monotonicNanoseconds()
                    localSink &+= arrays.run(kernel, range)
                    passTimes.values[(k * reps + rep) * threads + index] = max(1, HealthFiles.monotonicNanoseconds() - t0)
                    meter.add(bytes: kernel.bytesMoved(elementsPerArray: range.count))
                    done += 1
                }
                guard barrier.wait() else {
                    finished = false
                    break
                }
                if index == 0 { phaseTimes.values[k] = max(1, barrier.releasedAt - phaseStart) }
                completed.withLock { $0[k] = done }
            }
            sink.wrappingAdd(localSink, ordering: .relaxed)
            if finished { MemoryBandwidthValidation.check(arrays, range, expected: finalValues, cpu: cpu, into: validation) }
        }
        withExtendedLifetime(regions) {}
        _ = sink.load(ordering: .relaxed)

        let done = completed.withLock { $0 }
        let results = kernels.enumerated().map { k, kernel in
            let passes = done[k]
            let threadBytes = (0..<threads).map {
                Double(kernel.bytesMoved(elementsPerArray: MemoryBandwidthArrays.chunk($0, of: threads, elements: elements).count))
            }
            var seconds: [Double] = []
            var samples: [Double] = []
            var best = 0.0
            var worst = 0.0
            for t in 0..<threads {
                let times = (0..<passes).map { Double(passTimes.values[(k * reps + $0) * threads + t]) / 1e9 }
                seconds += times
                best += threadBytes[t] / 1e6 / (times.min() ?? .infinity)
                worst += threadBytes[t] / 1e6 / (times.max() ?? .infinity)
            }
            for rep in 0..<passes {
                samples.append((0..<threads).reduce(0.0) {
                    $0 + threadBytes[$1] / 1e6 / (Double(passTimes.values[(k * reps + rep) * threads + $1]) / 1e9)
                })
            }
            let perPass = kernel.bytesMoved(elementsPerArray: elements)
            let phase = Double(phaseTimes.values[k]) / 1e9
            var summary = MemoryBandwidthRunner.summary(kernel: kernel, bytesPerPass: perPass, times: seconds)
            summary.bestMBps = passes > 0 ? best : 0
            summary.worstMBps = passes > 0 ? worst : 0
            summary.averageMBps = passes > 0 && phase > 0 ? Double(perPass * passes) / 1e6 / phase : 0
            let group = max(1, (samples.count + 199) / 200)
            summary.samplesMBps = stride(from: 0, to: samples.count, by: group).map { start in
                let slice = samples[start..<min(start + group, samples.count)]
                return slice.reduce(0, +) / Double(slice.count)
            }
            return summary
        }
        let v = validation.withLock { $0 }
        return MemoryBandwidthRun(
            threads: threads, cores: cores, arrayBytes: elements * MemoryLayout<Double>.size, elementsPerArray: elements,
            repetitions: done.min() ?? 0, kernels: results,
            validated: v.checked == threads ? v.error == nil : (v.error == nil ? nil : false), validationError: v.error,
            pinErrors: pinErrors.withLock { $0 }, synchronizedPasses: false)
    }

    /// Best/average/worst of the pass times, as STREAM reports them.
    static func summary(kernel: MemoryBandwidthKernel, bytesPerPass: Int, times: [Double]) -> MemoryKernelBandwidth {
        guard let minTime = times.min(), let maxTime = times.max() else {
            return MemoryKernelBandwidth(
                kernel: kernel, bytesPerPass: bytesPerPass, bestMBps: 0, averageMBps: 0, worstMBps: 0, minSeconds: 0,
                averageSeconds: 0, maxSeconds: 0, samplesMBps: [])
        }
        let average = times.reduce(0, +) / Double(times.count)
        let mb = Double(bytesPerPass) / 1e6
        let rates = times.map { mb / $0 }
        let group = max(1, (rates.count + 199) / 200)
        let samples = stride(from: 0, to: rates.count, by: group).map { start in
            let slice = rates[start..<min(start + group, rates.count)]
            return slice.reduce(0, +) / Double(slice.count)
        }
        return MemoryKernelBandwidth(
            kernel: kernel, bytesPerPass: bytesPerPass, bestMBps: mb / minTime, averageMBps: mb / average,
            worstMBps: mb / maxTime, minSeconds: minTime, averageSeconds: average, maxSeconds: maxTime,
            samplesMBps: samples)
    }
}

struct MemoryPatternRunner {
    let config: MemoryProbe.Configuration
    let cores: [Int]
    let bytes: Int

    static let failuresKeptPerThread = 64

    func run(stop: StopFlag, meter: MemoryProgressMeter) async throws(MemoryProbeError) -> MemoryPatternReport {
        let region = try MemoryRegion(bytes: bytes, hugePages: false, lock: config.lockMemory)
        let words = MemoryWordsPointer(region.words)
        let count = bytes / 8
        let base = UInt64(UInt(bitPattern: region.base))
        let patterns = config.patterns
        let threads = cores.count
        let barrier = MemorySpinBarrier(count: threads)
        let passesDone = Mutex<[Int]>(Array(repeating: 0, count: patterns.count))
        let times = MemoryTimings(count: patterns.count)
        let failureCounts = Mutex<[Int]>(Array(repeating: 0, count: patterns.count))
        let kept = Mutex<[MemoryPatternFailure]>([])
        let fault = config.faultInjection
        let procRoot = config.procRoot
        let passLimit = config.patternPassLimit
        let schedule = (0..<config.patternRounds).flatMap { _ in Array(patterns.enumerated()) }

        await PinnedThreads.run(cpus: cores) { index, cpu, started in
            if case .notStarted = started {
                barrier.abandon()
                return
            }
            let range = MemoryBandwidthArrays.chunk(index, of: threads, elements: count)
            var mine: [MemoryPatternFailure] = []
            patternLoop: for (step, (p, pattern)) in schedule.enumerated() {
                let round = step / max(1, patterns.count)
                guard barrier.wait() else { break }
                let t0 = barrier.releasedAt
                var wrong = 0
                var passes = 0
                for pass in pattern.selectedPasses(limit: passLimit) {
                    if stop.isStopped {
                        barrier.abandon()
                        break
                    }
                    MemoryPatternLoops.fill(pattern, pass: pass, words.pointer, range, base: base)
                    if let fault, fault.pattern == pattern, fault.pass == pass, range.contains(fault.offset / 8) {
                        let bit = UInt64(1) << UInt64((fault.offset % 8) * 8 + max(0, min(7, fault.bit)))
                        words.pointer[fault.offset / 8] ^= bit
                    }
                    let n = MemoryPatternLoops.verify(pattern, pass: pass, words.pointer, range, base: base) {
                        i, expected, actual in
                        guard mine.count < MemoryPatternRunner.failuresKeptPerThread else { return }
                        let address = base &+ UInt64(i) &* 8
                        mine.append(
                            MemoryPatternFailure(
                                pattern: pattern, round: round, pass: pass, offset: i * 8,
                                physicalAddress: MemoryRegion.physicalAddress(of: address, procRoot: procRoot)
                                    .map(MemoryPatternRunner.hex),
                                expected: MemoryPatternRunner.hex(expected), actual: MemoryPatternRunner.hex(actual),
                                differingBits: MemoryPatternRunner.hex(expected ^ actual), core: cpu))
                    }
                    wrong += n
                    passes += 1
                    meter.add(bytes: range.count * 16)
                    if n > 0 { meter.add(failures: n) }
                }
                failureCounts.withLock { $0[p] += wrong }
                let stopped = stop.isStopped
                guard barrier.wait() else {
                    if index == 0 { passesDone.withLock { $0[p] += passes } }
                    break patternLoop
                }
                if index == 0 {
                    times.values[p] += barrier.releasedAt - t0
                    passesDone.withLock { $0[p] += passes }
                }
                if stopped { break }
            }
            kept.withLock { $0.append(contentsOf: mine) }
        }
        withExtendedLifetime(region) {}

        let done = passesDone.withLock { $0 }
        let wrongs = failureCounts.withLock { $0 }
        let results = patterns.enumerated().map { p, pattern in
            MemoryPatternResult(
                pattern: pattern, passes: done[p], seconds: Double(times.values[p]) / 1e9,
                bytesProcessed: done[p] * 2 * bytes, failures: wrongs[p])
        }
        let order = Dictionary(uniqueKeysWithValues: patterns.enumerated().map { ($1, $0) })
        let failures = kept.withLock { $0 }.sorted {
            ($0.round, order[$0.pattern] ?? 0, $0.pass, $0.offset) < ($1.round, order[$1.pattern] ?? 0, $1.pass, $1.offset)
        }
        return MemoryPatternReport(
            bytesTested: bytes, locked: region.locked, lockError: region.lockError, cores: cores, patterns: results,
            totalFailures: wrongs.reduce(0, +), failures: failures)
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// A raw pointer shared by the pattern threads (each writes only its own range).
struct MemoryWordsPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt64>
    init(_ pointer: UnsafeMutablePointer<UInt64>) { self.pointer = pointer }
}

/// Each thread checks its own share of the arrays once the passes are done.
enum MemoryBandwidthValidation {
    static func check(
        _ arrays: MemoryBandwidthArrays, _ range: Range<Int>, expected: (a: Double, b: Double, c: Double), cpu: Int,
        into validation: borrowing Mutex<(checked: Int, error: String?)>
    ) {
        let part = MemoryBandwidthArrays(
            a: arrays.a + range.lowerBound, b: arrays.b + range.lowerBound, c: arrays.c + range.lowerBound, elements: range.count)
        let error = part.validate(expected: expected)
        validation.withLock { v in
            v.checked += 1
            if v.error == nil, let error { v.error = "thread on CPU \(cpu): \(error)" }
        }
    }
}
