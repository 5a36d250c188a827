import Foundation
@testable import Probes
import Synchronization
import TestSupport
import Testing

/// Tests that load every core (CPU probe runs, memory bandwidth and pattern runs) run one at a
/// time: measurements of one would be disturbed by another. The memory tests add their suites
/// to this one in extensions (MemoryProbeTests.swift).
@Suite("CPU and memory probes on the real cores", .serialized)
struct CoreLoadTests {}

/// A raised priority for the probe's threads when running as root (nil otherwise): the
/// machine is shared with other work, and a starved worker measures nothing.
func cpuProbeTestNice(_ nice: Int) -> Int? {
    getuid() == 0 ? nice : nil
}

/// The online CPUs this test process may use.
func cpuProbeTestCPUs() -> [Int] {
    let online = PinnedThreads.onlineCPUs(sysfsRoot: "/sys") ?? []
    let allowed = PinnedThreads.allowedCPUs() ?? Set(online)
    return online.filter { allowed.contains($0) }
}

extension CoreLoadTests {
    @Suite("CPU probe")
    struct CPUProbeTests {
        @Test(arguments: CPUKernel.allCases)
        func aWrongAnswerIsDetectedAndItsCoreNamed(kernel: CPUKernel) async throws {
            let cpus = cpuProbeTestCPUs()
            let target = cpus.last!
            let config = CPUProbe.Configuration(
                durationSeconds: 1, burstSeconds: 0.2, sampleIntervalSeconds: 0.2, kernels: [kernel],
                threadNice: cpuProbeTestNice(-10),
                faultInjection: CPUFaultInjection(core: target, kernel: kernel, iteration: 2))
            let result = try await CPUProbe(configuration: config).run()
            #expect(result.faultyCores == [target])
            #expect(result.wrongAnswers == 1)
            let core = try #require(result.cores.first { $0.core == target })
            #expect(core.wrongAnswers == 1)
            let error = try #require(core.errors.first)
            #expect(error.kernel == kernel)
            #expect(error.iteration == 2)
            #expect(error.input == 2)
            #expect(error.expected == kernel.knownAnswer(input: 2))
            #expect(error.actual != error.expected)
            #expect(core.kernels[0].iterations > 2, "the kernel ran past the faulty iteration")
            for other in result.cores where other.core != target {
                #expect(other.wrongAnswers == 0)
            }
            #expect(result.findings.contains { $0.contains("core \(target) computed 1 wrong answer") })
        }

        @Test func aHealthyRunHasNoWrongAnswersAndMeasuresEveryCoreAndKernel() async throws {
            let progress = Mutex<[CPUProgress]>([])
            let config = CPUProbe.Configuration(
                durationSeconds: 2, burstSeconds: 0.5, sampleIntervalSeconds: 0.25, threadNice: cpuProbeTestNice(-10))
            let result = try await CPUProbe(configuration: config).run { p in progress.withLock { $0.append(p) } }
            #expect(result.wrongAnswers == 0)
            #expect(result.faultyCores.isEmpty)
            #expect(result.cores.map(\.core) == cpuProbeTestCPUs())
            #expect(!result.interrupted)
            for core in result.cores {
                #expect(core.error == nil)
                #expect(core.kernels.map(\.kernel) == CPUKernel.allCases)
                for k in core.kernels {
                    #expect(k.iterations > 0)
                    #expect(k.iterationsPerSecond > 0)
                    #expect(k.burstIterationsPerSecond != nil)
                    #expect(k.sustainedIterationsPerSecond != nil)
                    #expect(!k.samples.isEmpty)
                    #expect(zip(k.samples, k.samples.dropFirst()).allSatisfy { $0.time < $1.time })
                    #expect(k.samples.allSatisfy { $0.time <= result.elapsedSeconds + 0.01 })
                }
            }
            #expect(result.kernels.map(\.kernel) == CPUKernel.allCases)
            #expect(result.sustainedRatio != nil)
            let reports = progress.withLock { $0 }
            #expect(reports.count >= 2)
            #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.fractionComplete <= $1.fractionComplete })
            #expect(reports.contains { $0.rates.allSatisfy { $0.iterationsPerSecond > 0 } })
            // The result round-trips through JSON (the report embeds it).
            let data = try JSONEncoder().encode(result)
            #expect(try JSONDecoder().decode(CPUResult.self, from: data) == result)
        }

        /// A core shared with two competing busy processes pinned to it gets about a third of
        /// it; the probe must name it, and only it.
        ///
        /// The machine is shared with other work (builds, other tests), and the kernel's
        /// per-session fairness ("autogroup") gives every session an equal share of each CPU
        /// whatever the nice values, so unpinned work from other sessions, which the kernel
        /// moves to the less loaded CPU 0, could make CPU 0 look as slow as CPU 1. As root the
        /// probe's threads and the competitors therefore run under SCHED_RR at priority 1:
        /// round robin among themselves (the worker on CPU 1 gets a third), ahead of all other
        /// work (the kernel still leaves it 5% of each CPU).
        @Test(.enabled(if: cpuProbeTestCPUs().contains(1) && cpuProbeTestCPUs().count >= 2
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")))
        func aCoreSharedWithABusyProcessIsNamedSlow() async throws {
            let realTime = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/chrt")
            var competitors: [pid_t] = []
            defer {
                for pid in competitors {
                    kill(pid, SIGKILL)
                    reap(pid)
                }
            }
            // A busy loop that ends by itself after about a minute of CPU time, should this
            // process die before its defer kills it.
            let loop = "i=0; while [ $i -lt 60000000 ]; do i=$((i+1)); done"
            let busy = ["/usr/bin/taskset", "-c", "1", "/bin/sh", "-c", loop]
            for _ in 0..<2 {
                // chrt and taskset exec the next program in place: the PID is the shell's.
                competitors.append(
                    try realTime
                        ? spawn("/usr/bin/chrt", ["-r", "1"] + busy)
                        : spawn(busy[0], Array(busy.dropFirst())))
            }
            // Each competitor is pinned to CPU 1 (taskset execs the shell in place, same PID).
            try await waitUntil("the competitors run pinned to CPU 1", timeout: .seconds(10)) {
                competitors.allSatisfy { pid in
                    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
                    return status.contains("Cpus_allowed_list:\t1\n") && status.contains("Name:\tsh")
                }
            }
            let config = CPUProbe.Configuration(
                durationSeconds: 3, burstSeconds: 1, sampleIntervalSeconds: 0.5, slowCoreThresholdPercent: 15,
                realTimePriority: realTime ? 1 : nil)
            let result = try await CPUProbe(configuration: config).run()
            let slowed = try #require(result.cores.first { $0.core == 1 })
            #expect(result.slowCores == [1], "scores: \(result.cores.map { ($0.core, $0.score ?? -1) })")
            #expect(slowed.slow)
            #expect((slowed.score ?? 1) < 0.85)
            for other in result.cores where other.core != 1 {
                #expect(!other.slow)
                #expect((other.score ?? 0) > (slowed.score ?? 1))
            }
            #expect(result.findings.contains { $0.hasPrefix("core 1 is ") && $0.contains("below the median") })
            #expect(result.wrongAnswers == 0)
            #expect(!result.findings.contains { $0.contains("cannot set") })
        }

        @Test func cancellingTheTaskStopsTheRunAndReturnsWhatWasMeasured() async throws {
            let started = Mutex(false)
            let config = CPUProbe.Configuration(durationSeconds: 600, sampleIntervalSeconds: 0.1)
            let task = Task {
                try await CPUProbe(configuration: config).run { p in
                    if p.rates.contains(where: { $0.iterationsPerSecond > 0 }) { started.withLock { $0 = true } }
                }
            }
            try await waitUntil("the probe reports progress", timeout: .seconds(60)) { started.withLock { $0 } }
            let clock = ContinuousClock()
            let cancelledAt = clock.now
            task.cancel()
            let result = try await task.value
            #expect(clock.now - cancelledAt < .seconds(5))
            #expect(result.interrupted)
            #expect(result.elapsedSeconds < 600)
            #expect(result.cores.allSatisfy { $0.kernels.contains { $0.iterations > 0 } })
        }

        /// A sysfs without thermal_throttle or cpufreq files and a procfs without cpuinfo: the
        /// probe runs, and reports throttle counters and frequencies as skipped, not failed.
        @Test func absentThrottleAndFrequencyFilesAreSkippedNotFailed() async throws {
            try await withTemporaryDirectory("cpu-fake-sysfs") { dir in
                let tree = HealthFakeTree(dir)
                let cpu = cpuProbeTestCPUs()[0]
                try tree.write("sys/devices/system/cpu/online", "\(cpu)\n")
                try tree.directory("proc")
                let config = CPUProbe.Configuration(
                    durationSeconds: 0.4, burstSeconds: 0.1, sampleIntervalSeconds: 0.1, kernels: [.integer],
                    sysfsRoot: tree.path("sys"), procRoot: tree.path("proc"))
                let result = try await CPUProbe(configuration: config).run()
                #expect(result.cores.map(\.core) == [cpu])
                #expect(result.throttle.status == .skipped)
                #expect(result.throttle.reason?.contains("thermal_throttle") == true)
                #expect(result.throttleEvents == nil)
                #expect(result.frequency.status == .skipped)
                #expect(result.frequency.reason?.contains("cpuinfo") == true)
                #expect(result.wrongAnswers == 0)
                #expect(!result.findings.contains { $0.contains("throttl") })
            }
        }

        @Test func anOfflineCPUIsExcludedWithTheReason() async throws {
            try await withTemporaryDirectory("cpu-offline") { dir in
                let tree = HealthFakeTree(dir)
                let cpu = cpuProbeTestCPUs()[0]
                try tree.write("sys/devices/system/cpu/online", "\(cpu)\n")
                let config = CPUProbe.Configuration(
                    durationSeconds: 0.2, kernels: [.integer], cores: [cpu, 4095], sysfsRoot: tree.path("sys"))
                let result = try await CPUProbe(configuration: config).run()
                #expect(result.cores.map(\.core) == [cpu])
                #expect(result.excludedCores == [CPUExcludedCore(core: 4095, reason: "offline")])
                #expect(result.slowestCoreRatio == nil, "a single core has no siblings to compare with")
            }
        }
    }
}

@Suite("CPU probe: configuration and result maths")
struct CPUProbeMathTests {
    @Test func aPartialConfigurationKeepsTheDefaults() throws {
        let json = #"{"durationSeconds": 12, "kernels": ["hash", "float"]}"#
        let config = try JSONDecoder().decode(CPUProbe.Configuration.self, from: Data(json.utf8))
        #expect(config.durationSeconds == 12)
        #expect(config.kernels == [.hash, .float])
        #expect(config.burstSeconds == CPUProbe.Configuration().burstSeconds)
        #expect(config.slowCoreThresholdPercent == 15)
        #expect(config.faultInjection == nil)
    }

    @Test func scoresAreRelativeToTheMedianCoreAndTheThresholdNamesSlowCores() {
        func core(_ n: Int, _ rates: [Double]) -> CPUCoreAccumulator {
            var a = CPUCoreAccumulator(core: n, kernels: [])
            for rate in rates {
                var k = CPUKernelAccumulator()
                k.iterations = UInt64(rate)
                k.nanos = 1_000_000_000
                k.burstIterations = UInt64(rate)
                k.burstNanos = 1_000_000_000
                a.kernels.append(k)
            }
            return a
        }
        let config = CPUProbe.Configuration(kernels: [.integer, .float], slowCoreThresholdPercent: 15)
        let states = [core(0, [100, 200]), core(1, [100, 200]), core(2, [84, 168]), core(3, [90, 180])]
        let result = CPUResult(
            configuration: config, startedAt: 0, elapsedSeconds: 1, interrupted: false, states: states, excluded: [],
            throttle: HealthCounterComparison(
                before: HealthCounterSnapshot(source: .thermalThrottle, status: .skipped, reason: "x", counters: [], takenAt: 0),
                after: HealthCounterSnapshot(source: .thermalThrottle, status: .skipped, reason: "x", counters: [], takenAt: 0)),
            frequency: CPUFrequencyReport(
                before: CPUFrequencySnapshot(status: .skipped, reason: "x", source: nil, cores: [], takenAt: 0),
                underLoad: nil,
                after: CPUFrequencySnapshot(status: .skipped, reason: "x", source: nil, cores: [], takenAt: 0)))
        // Medians: integer (90 + 100) / 2 = 95, float 190.
        #expect(result.kernels.map(\.medianIterationsPerSecond) == [95, 190])
        #expect(result.kernels.map(\.totalIterationsPerSecond) == [374, 748])
        let scores = result.cores.map { $0.score! }
        #expect(abs(scores[2] - 84.0 / 95) < 1e-12)
        // 84/95 = 0.884 is within 15%; nothing is slow.
        #expect(result.slowCores.isEmpty)
        let strict = CPUResult(
            configuration: CPUProbe.Configuration(kernels: [.integer, .float], slowCoreThresholdPercent: 10),
            startedAt: 0, elapsedSeconds: 1, interrupted: false, states: states, excluded: [], throttle: result.throttle,
            frequency: result.frequency)
        #expect(strict.slowCores == [2])
        #expect(strict.slowestCoreRatio == scores[2])
        #expect(strict.findings.first?.hasPrefix("core 2 is 12% below the median") == true)
    }
}
