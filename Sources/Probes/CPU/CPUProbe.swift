import Synchronization

/// The CPU burn-in probe: on every online core, one pinned thread runs the kernels of
/// `CPUKernel` round-robin in slices of about 5 ms, checks every iteration's answer against the
/// known one, and measures each kernel's iterations per second on each core, in the first
/// seconds (burst) and in the rest of the run (sustained). Cores more than a threshold below
/// the median of their siblings, and cores that computed a wrong answer, are named.
/// Thermal-throttle counters and CPU frequencies are read before and after.
///
/// Throughput is measured in wall-clock time, so a core shared with another busy process
/// (or stolen by the hypervisor) shows up as slow.
public struct CPUProbe: Sendable {
    /// What to run and for how long.
    public struct Configuration: Sendable, Codable, Equatable {
        /// How long the kernels run, in seconds.
        public var durationSeconds: Double
        /// The first seconds of the run, whose throughput is reported as "burst"; the rest is
        /// "sustained". A run no longer than this has no sustained figures.
        public var burstSeconds: Double
        /// The interval of the throughput-over-time samples, in seconds.
        public var sampleIntervalSeconds: Double
        /// The kernels to run, in this order within each round.
        public var kernels: [CPUKernel]
        /// The CPUs to test; `nil` for every online CPU this process may run on.
        public var cores: [Int]?
        /// A core whose score (its throughput relative to the median core, averaged over the
        /// kernels) is more than this many percent below 1 is named slow.
        public var slowCoreThresholdPercent: Double
        /// The nice value of the worker threads; `nil` leaves it as inherited. A negative value
        /// (which needs CAP_SYS_NICE) keeps other work on the box from disturbing the
        /// comparison of cores; failing to set it is reported in `findings`, not fatal.
        public var threadNice: Int?
        /// Run the worker threads under SCHED_RR at this real-time priority (1...99; needs
        /// CAP_SYS_NICE); `nil` for the normal scheduler. On a box that runs other work this
        /// keeps it (and the kernel's per-session "autogroup" fairness, which nice values do not
        /// cross) from deciding which core looks slow; the kernel's real-time throttling still
        /// leaves other tasks 5% of each CPU. Failing to set it is reported in `findings`.
        public var realTimePriority: Int?
        /// The sysfs mount, `/sys` unless testing.
        public var sysfsRoot: String
        /// The procfs mount, `/proc` unless testing.
        public var procRoot: String
        /// Test hook: makes one iteration compute a wrong answer. `nil` in real runs.
        public var faultInjection: CPUFaultInjection?

        public init(
            durationSeconds: Double = 30, burstSeconds: Double = 5, sampleIntervalSeconds: Double = 1,
            kernels: [CPUKernel] = CPUKernel.allCases, cores: [Int]? = nil, slowCoreThresholdPercent: Double = 15,
            threadNice: Int? = nil, realTimePriority: Int? = nil, sysfsRoot: String = "/sys",
            procRoot: String = "/proc", faultInjection: CPUFaultInjection? = nil
        ) {
            self.threadNice = threadNice
            self.realTimePriority = realTimePriority
            self.durationSeconds = durationSeconds
            self.burstSeconds = burstSeconds
            self.sampleIntervalSeconds = sampleIntervalSeconds
            self.kernels = kernels
            self.cores = cores
            self.slowCoreThresholdPercent = slowCoreThresholdPercent
            self.sysfsRoot = sysfsRoot
            self.procRoot = procRoot
            self.faultInjection = faultInjection
        }

        /// Decodes a partial configuration: absent keys keep their defaults.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Configuration()
            durationSeconds = try c.decodeIfPresent(Double.self, forKey: .durationSeconds) ?? d.durationSeconds
            burstSeconds = try c.decodeIfPresent(Double.self, forKey: .burstSeconds) ?? d.burstSeconds
            sampleIntervalSeconds =
                try c.decodeIfPresent(Double.self, forKey: .sampleIntervalSeconds) ?? d.sampleIntervalSeconds
            kernels = try c.decodeIfPresent([CPUKernel].self, forKey: .kernels) ?? d.kernels
            cores = try c.decodeIfPresent([Int].self, forKey: .cores)
            slowCoreThresholdPercent =
                try c.decodeIfPresent(Double.self, forKey: .slowCoreThresholdPercent) ?? d.slowCoreThresholdPercent
            sysfsRoot = try c.decodeIfPresent(String.self, forKey: .sysfsRoot) ?? d.sysfsRoot
            procRoot = try c.decodeIfPresent(String.self, forKey: .procRoot) ?? d.procRoot
            faultInjection = try c.decodeIfPresent(CPUFaultInjection.self, forKey: .faultInjection)
            threadNice = try c.decodeIfPresent(Int.self, forKey: .threadNice)
            realTimePriority = try c.decodeIfPresent(Int.self, forKey: .realTimePriority)
        }
    }

    /// What the probe runs.
    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Runs the probe. Returns early, with `interrupted` set and the numbers measured so far,
    /// when the task is cancelled. Throws `CPUProbeError` when nothing can be run (no usable
    /// CPU, an invalid configuration).
    ///
    /// - Parameter progress: called about every quarter second, from another task.
    public func run(progress: @escaping @Sendable (CPUProgress) -> Void = { _ in }) async throws -> CPUResult {
        let config = configuration
        guard !config.kernels.isEmpty else { throw CPUProbeError("no kernels to run") }
        guard config.durationSeconds > 0, config.sampleIntervalSeconds > 0 else {
            throw CPUProbeError("durationSeconds and sampleIntervalSeconds must be positive")
        }
        let (cores, excluded) = try selectCores()
        let throttle = HealthCounterReader(sysfsRoot: config.sysfsRoot, procRoot: config.procRoot)
        let frequencies = CPUFrequencyReader(sysfsRoot: config.sysfsRoot, procRoot: config.procRoot)
        let throttleBefore = throttle.thermalThrottle()
        let frequencyBefore = frequencies.snapshot()
        let startedAt = HealthFiles.wallClockSeconds()

        let states = cores.map { CPUCoreState(core: $0, kernels: config.kernels.count) }
        let stop = StopFlag()
        let start = HealthFiles.monotonicNanoseconds()
        let durationNanos = UInt64(config.durationSeconds * 1e9)
        let ticker = CPUProgressTicker(kernels: config.kernels)
        let underLoad = Mutex<CPUFrequencySnapshot?>(nil)

        await PinnedThreads.runReportingProgress(
            every: .milliseconds(250), stop: stop,
            threads: {
                await PinnedThreads.run(cpus: cores) { index, _, started in
                    CPUWorker(config: config, state: states[index], stop: stop, start: start)
                        .run(pinError: started.error)
                }
            },
            tick: {
                let elapsed = HealthFiles.monotonicNanoseconds() - start
                if Double(elapsed) >= 0.9 * Double(durationNanos) {
                    underLoad.withLock { if $0 == nil { $0 = frequencies.snapshot() } }
                }
                progress(ticker.tick(states: states, elapsedNanos: elapsed, durationNanos: durationNanos))
            })

        let elapsed = Double(HealthFiles.monotonicNanoseconds() - start) / 1e9
        let throttleAfter = throttle.thermalThrottle()
        let frequencyAfter = frequencies.snapshot()
        return CPUResult(
            configuration: config, startedAt: startedAt, elapsedSeconds: elapsed, interrupted: stop.isStopped,
            states: states.map { $0.snapshot() }, excluded: excluded,
            throttle: HealthCounterComparison(before: throttleBefore, after: throttleAfter),
            frequency: CPUFrequencyReport(
                before: frequencyBefore, underLoad: underLoad.withLock { $0 }, after: frequencyAfter))
    }

    /// The CPUs to test, and those left out with the reason.
    func selectCores() throws(CPUProbeError) -> ([Int], [CPUExcludedCore]) {
        let online = PinnedThreads.onlineCPUs(sysfsRoot: configuration.sysfsRoot)
        let allowed = PinnedThreads.allowedCPUs()
        var excluded: [CPUExcludedCore] = []
        var candidates: [Int]
        if let requested = configuration.cores {
            candidates = requested
        } else if let online {
            candidates = online
        } else if let allowed {
            candidates = allowed.sorted()
        } else {
            throw CPUProbeError("cannot read \(configuration.sysfsRoot)/devices/system/cpu/online nor the affinity mask")
        }
        var chosen: [Int] = []
        for cpu in candidates {
            if let online, !online.contains(cpu) {
                excluded.append(CPUExcludedCore(core: cpu, reason: "offline"))
            } else if let allowed, !allowed.contains(cpu) {
                excluded.append(CPUExcludedCore(core: cpu, reason: "not in this process's CPU affinity mask"))
            } else if !chosen.contains(cpu) {
                chosen.append(cpu)
            }
        }
        guard !chosen.isEmpty else { throw CPUProbeError("no CPU to test (all offline or outside the affinity mask)") }
        return (chosen, excluded)
    }
}

/// Test hook: makes the given iteration of one kernel compute a wrong answer, by perturbing its
/// state halfway through (a flipped bit in the integer and vector kernels and in the hash state,
/// a wrong element in the matrix product).
public struct CPUFaultInjection: Sendable, Codable, Equatable {
    /// The CPU whose thread computes the wrong answer; `nil` for every CPU.
    public var core: Int?
    /// The kernel that computes it.
    public var kernel: CPUKernel
    /// Which iteration of that kernel on that core (0 is the first).
    public var iteration: UInt64

    public init(core: Int?, kernel: CPUKernel, iteration: UInt64 = 0) {
        self.core = core
        self.kernel = kernel
        self.iteration = iteration
    }
}

/// Why the CPU probe could not run at all.
public struct CPUProbeError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A CPU that was asked for (or listed online) but not tested.
public struct CPUExcludedCore: Sendable, Codable, Equatable {
    /// The logical CPU number.
    public var core: Int
    /// Why it was not tested.
    public var reason: String
}

/// The probe's state while it runs.
public struct CPUProgress: Sendable, Equatable {
    /// Elapsed time over the configured duration, 0...1.
    public var fractionComplete: Double
    /// Seconds since the kernels started.
    public var elapsedSeconds: Double
    /// Each kernel's iterations per second summed over all cores, since the previous report
    /// (each core's iterations over its time in that kernel, as in `CPUCoreKernelResult`).
    public var rates: [CPUKernelRate]
    /// Wrong answers so far, all cores and kernels.
    public var wrongAnswers: UInt64
}

/// A kernel's throughput.
public struct CPUKernelRate: Sendable, Codable, Equatable {
    /// The kernel.
    public var kernel: CPUKernel
    /// Iterations per second.
    public var iterationsPerSecond: Double
}

/// One point of a throughput-over-time series.
public struct CPUThroughputSample: Sendable, Codable, Equatable {
    /// The end of the sample's interval, seconds since the kernels started.
    public var time: Double
    /// Iterations per second of the kernel on the core during the interval (iterations over
    /// the wall-clock time spent in the kernel).
    public var iterationsPerSecond: Double
}

/// A wrong answer.
public struct CPUComputeError: Sendable, Codable, Equatable {
    /// The logical CPU that computed it.
    public var core: Int
    /// The kernel.
    public var kernel: CPUKernel
    /// Which iteration of the kernel on that core (0 is the first).
    public var iteration: UInt64
    /// Which of the kernel's inputs (0..<`CPUKernel.inputCount`).
    public var input: Int
    /// The known answer, hex.
    public var expected: String
    /// What the core computed, hex.
    public var actual: String
    /// When, seconds since the kernels started.
    public var time: Double
}

/// One kernel on one core.
public struct CPUCoreKernelResult: Sendable, Codable, Equatable {
    /// The kernel.
    public var kernel: CPUKernel
    /// Iterations completed (each one checked).
    public var iterations: UInt64
    /// Wall-clock seconds spent in this kernel on this core.
    public var seconds: Double
    /// `iterations / seconds` over the whole run.
    public var iterationsPerSecond: Double
    /// Iterations per second during the first `burstSeconds`.
    public var burstIterationsPerSecond: Double?
    /// Iterations per second after the first `burstSeconds` (`nil` if the run was not longer).
    public var sustainedIterationsPerSecond: Double?
    /// `(sustained / burst − 1) × 100`: negative when the core slowed down as the run went on.
    public var sustainedChangePercent: Double?
    /// This core's `iterationsPerSecond` over the median of all tested cores for this kernel.
    public var relativeToMedian: Double?
    /// Iterations whose answer was wrong.
    public var wrongAnswers: UInt64
    /// Throughput over time, one sample per `sampleIntervalSeconds`.
    public var samples: [CPUThroughputSample]
}

/// One core's results.
public struct CPUCoreResult: Sendable, Codable, Equatable {
    /// The logical CPU number.
    public var core: Int
    /// Why the core could not be tested (pinning failed), if so; it then has no kernels.
    public var error: String?
    /// Per kernel, in the configured order.
    public var kernels: [CPUCoreKernelResult]
    /// The mean over kernels of `relativeToMedian` (1 = the median core); `nil` with a single
    /// tested core.
    public var score: Double?
    /// Whether the score is more than `slowCoreThresholdPercent` below 1.
    public var slow: Bool
    /// The mean over kernels of sustained over burst throughput (1 = no slowdown as the run
    /// went on); `nil` if the run was not longer than `burstSeconds`.
    public var sustainedRatio: Double?
    /// Wrong answers on this core, all kernels.
    public var wrongAnswers: UInt64
    /// The first wrong answers (at most 16 per core).
    public var errors: [CPUComputeError]
}

/// One kernel over all cores.
public struct CPUKernelSummary: Sendable, Codable, Equatable {
    /// The kernel.
    public var kernel: CPUKernel
    /// Iterations on all cores.
    public var iterations: UInt64
    /// The sum over cores of each core's iterations per second (the machine's throughput).
    public var totalIterationsPerSecond: Double
    /// The median core's iterations per second.
    public var medianIterationsPerSecond: Double
    /// The slowest core's iterations per second.
    public var minIterationsPerSecond: Double
    /// The fastest core's iterations per second.
    public var maxIterationsPerSecond: Double
    /// Median over cores of the burst throughput.
    public var medianBurstIterationsPerSecond: Double?
    /// Median over cores of the sustained throughput.
    public var medianSustainedIterationsPerSecond: Double?
    /// Wrong answers on all cores.
    public var wrongAnswers: UInt64
}

/// Everything the CPU probe measured.
public struct CPUResult: Sendable, Codable, Equatable {
    /// The configuration it ran with.
    public var configuration: CPUProbe.Configuration
    /// When the kernels started, seconds since the Unix epoch.
    public var startedAt: Double
    /// How long they ran, in seconds.
    public var elapsedSeconds: Double
    /// Whether the run was cancelled before its duration.
    public var interrupted: Bool
    /// Per tested core, by CPU number.
    public var cores: [CPUCoreResult]
    /// Per kernel, over all cores.
    public var kernels: [CPUKernelSummary]
    /// CPUs asked for (or online) but not tested, with the reason.
    public var excludedCores: [CPUExcludedCore]
    /// Cores named slow (see `CPUCoreResult.slow`).
    public var slowCores: [Int]
    /// Cores that computed at least one wrong answer.
    public var faultyCores: [Int]
    /// Wrong answers, all cores and kernels (0 on sound hardware).
    public var wrongAnswers: UInt64
    /// The lowest core score (the slowest core's throughput relative to the median core,
    /// averaged over kernels); `nil` with a single tested core.
    public var slowestCoreRatio: Double?
    /// The machine's sustained over burst throughput: per kernel, the median core's sustained
    /// over the median core's burst iterations per second, averaged over kernels; `nil` if the
    /// run was not longer than `burstSeconds`.
    public var sustainedRatio: Double?
    /// The sum over kernels of `totalIterationsPerSecond`: a single throughput figure for
    /// comparisons with identical hardware (kernels of different cost weigh differently).
    public var totalIterationsPerSecond: Double
    /// Thermal-throttle events during the run (sum of the counters' increases); `nil` when
    /// the counters are absent.
    public var throttleEvents: UInt64?
    /// What a reader should know, one sentence each: wrong answers, slow cores, throttling,
    /// cores that could not be pinned.
    public var findings: [String]
    /// Thermal-throttle counters before and after (`skipped` where the files are absent).
    public var throttle: HealthCounterComparison
    /// CPU frequencies before, near the end of the load, and after.
    public var frequency: CPUFrequencyReport

    init(
        configuration: CPUProbe.Configuration, startedAt: Double, elapsedSeconds: Double, interrupted: Bool,
        states: [CPUCoreAccumulator], excluded: [CPUExcludedCore], throttle: HealthCounterComparison,
        frequency: CPUFrequencyReport
    ) {
        self.configuration = configuration
        self.startedAt = startedAt
        self.elapsedSeconds = elapsedSeconds
        self.interrupted = interrupted
        self.excludedCores = excluded
        self.throttle = throttle
        self.frequency = frequency
        let kernelList = configuration.kernels
        var cores = states.map { $0.result(kernels: kernelList) }
        let tested = cores.indices.filter { cores[$0].error == nil && !cores[$0].kernels.isEmpty }
        var summaries: [CPUKernelSummary] = []
        for (k, kernel) in kernelList.enumerated() {
            let rates = tested.map { cores[$0].kernels[k].iterationsPerSecond }
            let median = CPUResult.median(rates) ?? 0
            for i in tested where median > 0 {
                cores[i].kernels[k].relativeToMedian = cores[i].kernels[k].iterationsPerSecond / median
            }
            summaries.append(
                CPUKernelSummary(
                    kernel: kernel, iterations: tested.reduce(0) { $0 + cores[$1].kernels[k].iterations },
                    totalIterationsPerSecond: rates.reduce(0, +), medianIterationsPerSecond: median,
                    minIterationsPerSecond: rates.min() ?? 0, maxIterationsPerSecond: rates.max() ?? 0,
                    medianBurstIterationsPerSecond: CPUResult.median(
                        tested.compactMap { cores[$0].kernels[k].burstIterationsPerSecond }),
                    medianSustainedIterationsPerSecond: CPUResult.median(
                        tested.compactMap { cores[$0].kernels[k].sustainedIterationsPerSecond }),
                    wrongAnswers: tested.reduce(0) { $0 + cores[$1].kernels[k].wrongAnswers }))
        }
        var findings: [String] = []
        let limit = 1 - configuration.slowCoreThresholdPercent / 100
        if tested.count >= 2 {
            for i in tested {
                let relatives = cores[i].kernels.compactMap(\.relativeToMedian)
                guard !relatives.isEmpty else { continue }
                let score = relatives.reduce(0, +) / Double(relatives.count)
                cores[i].score = score
                cores[i].slow = score < limit
                if cores[i].slow {
                    let detail = cores[i].kernels.map {
                        "\($0.kernel.rawValue) \(CPUResult.percent(($0.relativeToMedian ?? 0) * 100))"
                    }.joined(separator: ", ")
                    findings.append(
                        "core \(cores[i].core) is \(CPUResult.percent((1 - score) * 100)) below the median of its siblings (\(detail) of the median)"
                    )
                }
            }
        }
        for core in cores where core.wrongAnswers > 0 {
            let first = core.errors.first.map {
                ": first at iteration \($0.iteration) of \($0.kernel.rawValue), expected \($0.expected), got \($0.actual)"
            } ?? ""
            findings.append("core \(core.core) computed \(core.wrongAnswers) wrong answer(s)\(first)")
        }
        for core in cores {
            if let error = core.error { findings.append("core \(core.core) not tested: \(error)") }
        }
        for state in states {
            if let error = state.schedulingError { findings.append("core \(state.core): \(error)") }
        }
        for core in excluded { findings.append("CPU \(core.core) not tested: \(core.reason)") }
        if throttle.status != .skipped, !throttle.increased.isEmpty {
            findings.append("thermal throttling during the run: " + (throttle.reason ?? throttle.increased.joined(separator: ", ")))
        }
        self.cores = cores
        self.kernels = summaries
        self.slowCores = cores.filter(\.slow).map(\.core)
        self.faultyCores = cores.filter { $0.wrongAnswers > 0 }.map(\.core)
        self.wrongAnswers = cores.reduce(0) { $0 + $1.wrongAnswers }
        self.slowestCoreRatio = cores.compactMap(\.score).min()
        let ratios = summaries.compactMap { k -> Double? in
            guard let burst = k.medianBurstIterationsPerSecond, let sustained = k.medianSustainedIterationsPerSecond,
                burst > 0
            else { return nil }
            return sustained / burst
        }
        self.sustainedRatio = ratios.isEmpty ? nil : ratios.reduce(0, +) / Double(ratios.count)
        self.totalIterationsPerSecond = summaries.reduce(0) { $0 + $1.totalIterationsPerSecond }
        self.throttleEvents =
            throttle.status == .skipped
            ? nil : throttle.changes.reduce(UInt64(0)) { $0 + UInt64(max(0, $1.delta ?? 0)) }
        self.findings = findings
    }

    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    static func percent(_ value: Double) -> String {
        "\(Int((value).rounded()))%"
    }
}

// MARK: - Worker side

/// One kernel's counters on one core.
struct CPUKernelAccumulator: Sendable {
    var iterations: UInt64 = 0
    var nanos: UInt64 = 0
    var burstIterations: UInt64 = 0
    var burstNanos: UInt64 = 0
    var sustainedIterations: UInt64 = 0
    var sustainedNanos: UInt64 = 0
    var wrongAnswers: UInt64 = 0
    var samples: [CPUThroughputSample] = []
}

/// One core's counters, published by its worker after every slice.
struct CPUCoreAccumulator: Sendable {
    var core: Int
    var error: String?
    var schedulingError: String?
    var kernels: [CPUKernelAccumulator]
    var errors: [CPUComputeError] = []

    func result(kernels list: [CPUKernel]) -> CPUCoreResult {
        guard error == nil else {
            return CPUCoreResult(
                core: core, error: error, kernels: [], score: nil, slow: false, sustainedRatio: nil, wrongAnswers: 0,
                errors: [])
        }
        func rate(_ iterations: UInt64, _ nanos: UInt64) -> Double? {
            nanos > 0 ? Double(iterations) / (Double(nanos) / 1e9) : nil
        }
        let results = zip(list, kernels).map { kernel, a in
            let burst = rate(a.burstIterations, a.burstNanos)
            let sustained = rate(a.sustainedIterations, a.sustainedNanos)
            var change: Double?
            if let burst, let sustained, burst > 0 { change = (sustained / burst - 1) * 100 }
            return CPUCoreKernelResult(
                kernel: kernel, iterations: a.iterations, seconds: Double(a.nanos) / 1e9,
                iterationsPerSecond: rate(a.iterations, a.nanos) ?? 0, burstIterationsPerSecond: burst,
                sustainedIterationsPerSecond: sustained, sustainedChangePercent: change, relativeToMedian: nil,
                wrongAnswers: a.wrongAnswers, samples: a.samples)
        }
        let ratios = results.compactMap { k -> Double? in
            guard let burst = k.burstIterationsPerSecond, let sustained = k.sustainedIterationsPerSecond, burst > 0
            else { return nil }
            return sustained / burst
        }
        return CPUCoreResult(
            core: core, error: nil, kernels: results, score: nil, slow: false,
            sustainedRatio: ratios.isEmpty ? nil : ratios.reduce(0, +) / Double(ratios.count),
            wrongAnswers: kernels.reduce(0) { $0 + $1.wrongAnswers }, errors: errors)
    }
}

final class CPUCoreState: Sendable {
    let core: Int
    private let state: Mutex<CPUCoreAccumulator>

    init(core: Int, kernels: Int) {
        self.core = core
        state = Mutex(
            CPUCoreAccumulator(core: core, kernels: Array(repeating: CPUKernelAccumulator(), count: kernels)))
    }

    func publish(_ value: CPUCoreAccumulator) { state.withLock { $0 = value } }
    func snapshot() -> CPUCoreAccumulator { state.withLock { $0 } }
}

/// Computes the progress reports' rates from the cores' published counters.
final class CPUProgressTicker: Sendable {
    private let kernels: [CPUKernel]
    /// Per core, per kernel: (iterations, nanoseconds in the kernel) at the previous report.
    private let previous: Mutex<[[(iterations: UInt64, nanos: UInt64)]]>

    init(kernels: [CPUKernel]) {
        self.kernels = kernels
        previous = Mutex([])
    }

    func tick(states: [CPUCoreState], elapsedNanos: UInt64, durationNanos: UInt64) -> CPUProgress {
        let snapshots = states.map { $0.snapshot() }
        let now = snapshots.map { s in s.kernels.map { (iterations: $0.iterations, nanos: $0.nanos) } }
        let wrong = snapshots.reduce(UInt64(0)) { sum, s in s.kernels.reduce(sum) { $0 + $1.wrongAnswers } }
        let last = previous.withLock { p -> [[(iterations: UInt64, nanos: UInt64)]] in
            defer { p = now }
            return p
        }
        // Each core's iterations over its time in the kernel since the last report, summed over cores.
        let rates = kernels.indices.map { k in
            var rate = 0.0
            for c in now.indices {
                let before = c < last.count ? last[c][k] : (iterations: 0, nanos: 0)
                let nanos = now[c][k].nanos - min(now[c][k].nanos, before.nanos)
                if nanos > 0 {
                    rate += Double(now[c][k].iterations - min(now[c][k].iterations, before.iterations)) / (Double(nanos) / 1e9)
                }
            }
            return CPUKernelRate(kernel: kernels[k], iterationsPerSecond: rate)
        }
        return CPUProgress(
            fractionComplete: min(1, Double(elapsedNanos) / Double(max(1, durationNanos))),
            elapsedSeconds: Double(elapsedNanos) / 1e9, rates: rates, wrongAnswers: wrong)
    }
}

/// The loop of one pinned thread.
struct CPUWorker {
    let config: CPUProbe.Configuration
    let state: CPUCoreState
    let stop: StopFlag
    let start: UInt64

    /// Target length of one slice of one kernel.
    static let sliceNanos: UInt64 = 5_000_000
    static let maximumErrorsKept = 16

    func run(pinError: String?) {
        var acc = state.snapshot()
        if let pinError {
            acc.error = pinError
            state.publish(acc)
            return
        }
        if let nice = config.threadNice {
            acc.schedulingError = PinnedThreads.setCurrentThreadNice(nice)
        }
        if let priority = config.realTimePriority, let error = PinnedThreads.setCurrentThreadRoundRobin(priority) {
            acc.schedulingError = [acc.schedulingError, error].compactMap { $0 }.joined(separator: "; ")
        }
        let workspace = CPUKernelWorkspace()
        let kernels = config.kernels
        let deadline = start + UInt64(config.durationSeconds * 1e9)
        let burstEnd = start + UInt64(max(0, config.burstSeconds) * 1e9)
        let interval = UInt64(config.sampleIntervalSeconds * 1e9)
        var nextSample = start + interval
        var lastSample = start
        var sampledIterations = Array(repeating: UInt64(0), count: kernels.count)
        var sampledNanos = Array(repeating: UInt64(0), count: kernels.count)
        var batch = Array(repeating: 1, count: kernels.count)
        let fault = config.faultInjection.flatMap { f -> (kernel: Int, iteration: UInt64)? in
            guard f.core == nil || f.core == state.core, let k = kernels.firstIndex(of: f.kernel) else { return nil }
            return (k, f.iteration)
        }

        func takeSample(at now: UInt64) {
            for k in kernels.indices {
                let iterations = acc.kernels[k].iterations - sampledIterations[k]
                let nanos = acc.kernels[k].nanos - sampledNanos[k]
                if nanos > 0 {
                    acc.kernels[k].samples.append(
                        CPUThroughputSample(
                            time: Double(now - start) / 1e9, iterationsPerSecond: Double(iterations) / (Double(nanos) / 1e9)))
                }
                sampledIterations[k] = acc.kernels[k].iterations
                sampledNanos[k] = acc.kernels[k].nanos
            }
            lastSample = now
        }

        var now = HealthFiles.monotonicNanoseconds()
        running: while true {
            for k in kernels.indices {
                if stop.isStopped || now >= deadline { break running }
                let kernel = kernels[k]
                let sliceStart = now
                let first = acc.kernels[k].iterations
                let count = batch[k]
                for n in 0..<count {
                    let iteration = first + UInt64(n)
                    let input = Int(iteration % UInt64(CPUKernel.inputCount))
                    let faulty = fault.map { $0.kernel == k && $0.iteration == iteration } ?? false
                    let answer = CPUKernels.run(kernel, input: input, fault: faulty, workspace)
                    let expected = CPUKernels.expected(kernel, input: input)
                    if answer != expected {
                        acc.kernels[k].wrongAnswers += 1
                        if acc.errors.count < Self.maximumErrorsKept {
                            acc.errors.append(
                                CPUComputeError(
                                    core: state.core, kernel: kernel, iteration: iteration, input: input,
                                    expected: CPUKernels.hex(expected), actual: CPUKernels.hex(answer),
                                    time: Double(HealthFiles.monotonicNanoseconds() - start) / 1e9))
                        }
                    }
                }
                now = HealthFiles.monotonicNanoseconds()
                let spent = max(1, now - sliceStart)
                acc.kernels[k].iterations += UInt64(count)
                acc.kernels[k].nanos += spent
                if sliceStart < burstEnd {
                    acc.kernels[k].burstIterations += UInt64(count)
                    acc.kernels[k].burstNanos += spent
                } else {
                    acc.kernels[k].sustainedIterations += UInt64(count)
                    acc.kernels[k].sustainedNanos += spent
                }
                // Size the next slice to about sliceNanos.
                let perIteration = max(1, spent / UInt64(count))
                batch[k] = Int(min(1 << 20, max(1, Self.sliceNanos / perIteration)))
                if now >= nextSample {
                    takeSample(at: now)
                    while nextSample <= now { nextSample += interval }
                }
                state.publish(acc)
            }
        }
        // A last, partial sample if at least a fifth of an interval went by since the previous one.
        if now > lastSample, now - lastSample >= interval / 5 { takeSample(at: min(now, deadline)) }
        state.publish(acc)
    }
}
