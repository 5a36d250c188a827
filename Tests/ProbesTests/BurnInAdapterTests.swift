import Foundation
@testable import Probes
import Synchronization
import Testing

/// The probes as a burn-in runs them: profile options, the mapping of each probe's result to
/// measurements and findings, and the verdicts those give.
@Suite("Burn-in probe adapters")
struct BurnInAdapterTests {
    func profile(_ text: String) throws -> BurnInProfile { try BurnInProfile.parse("name = \"t\"\n" + text, source: "t") }

    @Test func everyBuiltInProfileIsAcceptedByEveryProbe() throws {
        let runner = BurnInRunner(probes: BurnInProbes.all)
        for name in BurnInProfile.builtIn.keys.sorted() {
            let loaded = try BurnInProfile.load(name)
            #expect(Set(loaded.enabledProbes) == Set(BurnInProfile.probeOrder), "\(name) runs every probe")
            let problems = runner.validate(loaded, context: BurnInContext(diskTarget: NSTemporaryDirectory(), networkPeer: "127.0.0.1:5301"))
            #expect(problems.isEmpty, "\(name): \(problems)")
            #expect(runner.validate(loaded, context: BurnInContext()).isEmpty, "\(name) without target or peer: those probes are skipped, not refused")
        }
    }

    @Test(arguments: [
        ("[cpu]\ndurtion = 5", "cpu.durtion", "unknown option of the cpu probe"),
        ("[cpu]\nduration = \"long\"", "cpu.duration", "must be a number"),
        ("[cpu]\nduration = 0", "cpu.duration", "must be 1...604800"),
        ("[cpu]\nkernels = [\"integer\", \"quantum\"]", "cpu.kernels", "integer, float, vector, hash"),
        ("[memory]\npattern_size = \"12 furlongs\"", "memory.pattern_size", "must be a size"),
        ("[memory]\npattern_size = \"150%\"", "memory.pattern_size", "(0, 100]"),
        ("[memory]\nthreads = \"many\"", "memory.threads", "single, multi, both"),
        ("[disk]\nphases = [\"seq_write\", \"defrag\"]", "disk.phases", "seq_write, seq_read"),
        ("[disk]\nrand_queue_depth = 4096", "disk.rand_queue_depth", "1...1024"),
        ("[disk]\nseq_block_size = \"6KiB\"", "disk", "not a multiple of 4096"),
        ("[network]\nstreams = [0]", "network.streams", "1...1024"),
        ("[network]\nserver = \"host:99999\"", "server", "the port must be 1...65535"),
        ("[network]\nreceive_spin_us = 20000", "network.receive_spin_us", "0...10000"),
        ("[health]\ndevices = [1]", "health.devices", "string"),
    ])
    func badOptionsAreRefusedWithTheKeyAndReason(_ text: String, _ key: String, _ reason: String) throws {
        let runner = BurnInRunner(probes: BurnInProbes.all)
        let problems = runner.validate(try profile(text), context: BurnInContext(diskTarget: NSTemporaryDirectory()))
        #expect(problems.count == 1)
        #expect(problems.first?.key == key, "\(problems)")
        #expect(problems.first?.reason.contains(reason) == true, "\(problems)")
    }

    @Test func networkOptionsReachTheProbe() throws {
        let probe = NetworkBurnInProbe()
        let settings = try #require(try profile("[network]\nreceive_spin_us = 0\nmessage_size = \"64KiB\"\nstreams = 4").probes["network"])
        let configuration = try probe.configuration(settings, context: BurnInContext(networkPeer: "10.0.0.2:6000"))
        #expect(configuration.receiveSpinMicroseconds == 0)
        #expect(configuration.messageSize == 64 << 10)
        #expect(configuration.streams == [1, 4])
        #expect(configuration.host == "10.0.0.2" && configuration.port == 6000)
        let defaults = try probe.configuration(ProbeSettings(), context: BurnInContext(networkPeer: "10.0.0.2"))
        #expect(defaults.receiveSpinMicroseconds == NetworkProbe.defaultReceiveSpinMicroseconds)
    }

    @Test func sizesTakeBinarySuffixesAndPercentages() throws {
        #expect(ProbeOptions.parseSize("4096") == 4096)
        #expect(ProbeOptions.parseSize("64KiB") == 64 << 10)
        #expect(ProbeOptions.parseSize("64M") == 64 << 20)
        #expect(ProbeOptions.parseSize("1.5GiB") == 3 << 29)
        #expect(ProbeOptions.parseSize("2 TiB") == 2 << 40)
        #expect(ProbeOptions.parseSize("2 PB") == nil && ProbeOptions.parseSize("-1") == nil && ProbeOptions.parseSize("") == nil)
        var options = ProbeOptions(probe: "memory", ProbeSettings(options: ["a": .string("25%"), "b": .int(1 << 20)]))
        #expect(try options.size("a", range: 0...(1 << 40), percentOf: 1000) == 250)
        #expect(try options.size("b", range: 0...(1 << 40)) == 1 << 20)
        #expect(throws: BurnInSetupError.self) { try options.size("b", range: 0...1000) }
    }

    @Test func peersAreParsedAsHostPortOrBracketedIPv6() throws {
        #expect(try NetworkBurnInProbe.parsePeer("10.0.0.2:6000") == ("10.0.0.2", 6000))
        #expect(try NetworkBurnInProbe.parsePeer("node7") == ("node7", NetworkProbeServer.defaultPort))
        #expect(try NetworkBurnInProbe.parsePeer("[fe80::1]:7000") == ("fe80::1", 7000))
        #expect(try NetworkBurnInProbe.parsePeer("fe80::1") == ("fe80::1", NetworkProbeServer.defaultPort))
        #expect(throws: BurnInSetupError.self) { try NetworkBurnInProbe.parsePeer(":80") }
        #expect(throws: BurnInSetupError.self) { try NetworkBurnInProbe.parsePeer("[::1]80") }
    }

    /// A corrupted and a misdirected block end up as FAIL checks naming their offsets, and the
    /// integrity count fails the profile's `disk.integrity.errors` check.
    @Test func diskCorruptionBecomesFailingChecksNamingTheOffsets() async throws {
        try await withDiskScratch { dir in
            let size: UInt64 = 8 << 20
            var configuration = DiskProbe.Configuration(target: .file(dir + "/adapter.dat"), size: size)
            configuration.phases = [.sequentialWrite, .verify]
            configuration.sequentialWrite = DiskWorkload(blockSize: 1 << 20, queueDepth: 4, bytes: size)
            configuration.verify = DiskWorkload(blockSize: 1 << 20, queueDepth: 4)
            let corrupted: UInt64 = 3 << 20
            let misdirected: UInt64 = (5 << 20) + 4096
            let result = try await DiskProbe(configuration: configuration).run(progress: { _ in }) { phase, path in
                guard phase == .verify else { return }
                var byte = RawFile.read(path, offset: corrupted + 100, count: 1)
                byte[0] ^= 0x01
                RawFile.write(path, offset: corrupted + 100, bytes: byte)
                RawFile.write(path, offset: misdirected, bytes: RawFile.read(path, offset: 0, count: 4096))
            }
            let outcome = DiskBurnInProbe.outcome(result, started: Date())
            #expect(outcome.status == .completed)
            #expect(outcome.measurement("disk.integrity.errors")?.value == 2)
            #expect(outcome.measurement("disk.seq_write.throughput").map { $0.value > 0 } == true)
            #expect(outcome.measurement("disk.verify.latency_p99") != nil)
            let kinds = outcome.findings.map { "\($0.kind)@\($0.location)" }
            #expect(kinds.contains { $0.hasPrefix("corruption@") && $0.hasSuffix("offset \(corrupted)") }, "\(kinds)")
            #expect(kinds.contains { $0.hasPrefix("misdirected-write@") && $0.hasSuffix("offset \(misdirected)") }, "\(kinds)")
            #expect(outcome.findings.first { $0.kind == "misdirected-write" }?.message.contains("offset 0") == true)

            let checks = CheckEvaluator.evaluate(try BurnInProfile.load("quick").checks, outcomes: [outcome])
            #expect(checks.first { $0.check == "disk.integrity.errors" }?.verdict == .fail)
            #expect(checks.contains { $0.check == "finding:disk.corruption" && $0.verdict == .fail && $0.reason.contains("offset \(corrupted)") })
            #expect(CheckEvaluator.overall(checks, interrupted: false) == .fail)
            #expect(outcome.detail == .disk(result), "the full result is kept")
        }
    }

    /// A core the probe found slow and one that computed a wrong answer are named, and the
    /// profile's checks turn them into WARN/FAIL with the reason.
    @Test func slowAndFaultyCoresAreNamedInFindingsAndChecks() async throws {
        var configuration = CPUProbe.Configuration(durationSeconds: 1, burstSeconds: 0.5, sampleIntervalSeconds: 0.25, kernels: [.integer])
        configuration.faultInjection = CPUFaultInjection(core: cpuProbeTestCPUs().first!, kernel: .integer, iteration: 3)
        let result = try await CPUProbe(configuration: configuration).run()
        let faulty = cpuProbeTestCPUs().first!
        let outcome = CPUBurnInProbe.outcome(result, started: Date())
        #expect(outcome.measurement("cpu.errors")?.value == 1)
        #expect(outcome.measurement("cpu.integer.throughput").map { $0.value > 0 } == true)
        #expect(outcome.findings.contains { $0.kind == "wrong-answer" && $0.location == "cpu \(faulty)" && $0.severity == .fail })
        #expect(outcome.distributions.first?.bars.count == result.cores.count, "one bar per core")

        // The slow-core mapping, on a result whose second core ran at 60% of the first.
        var slowed = result
        if slowed.cores.count >= 2 {
            slowed.cores[1].slow = true
            slowed.cores[1].score = 0.6
            slowed.slowestCoreRatio = 0.6
            let slowOutcome = CPUBurnInProbe.outcome(slowed, started: Date())
            let finding = try #require(slowOutcome.findings.first { $0.kind == "slow-core" })
            #expect(finding.location == "cpu \(slowed.cores[1].core)" && finding.message.contains("60.0%"))
            let checks = CheckEvaluator.evaluate(try BurnInProfile.load("quick").checks, outcomes: [slowOutcome])
            let ratio = try #require(checks.first { $0.check == "cpu.slowest_core_ratio" })
            #expect(ratio.verdict == .fail && ratio.reason.contains("below the minimum"), "\(ratio)")
        }
    }

    @Test func memoryErrorsBecomeFindingsWithTheirOffsets() async throws {
        var configuration = MemoryProbe.Configuration(
            bandwidth: false, patterns: [.solidBits], patternBytes: 4 << 20, patternPassLimit: 2, lockMemory: false)
        let pass = MemoryPattern.solidBits.selectedPasses(limit: 2).last!
        configuration.faultInjection = MemoryFaultInjection(pattern: .solidBits, pass: pass, offset: 8 * 1000, bit: 5)
        let result = try await MemoryProbe(configuration: configuration).run()
        let outcome = MemoryBurnInProbe.outcome(result, started: Date())
        #expect(outcome.measurement("memory.pattern.errors")?.value == 1)
        let finding = try #require(outcome.findings.first { $0.kind == "memory-error" })
        #expect(finding.severity == .fail && finding.location.hasPrefix("offset 8000"), "\(finding)")
        #expect(finding.message.contains("solid-bits pass \(pass)"))
    }

    @Test func aProbeWithoutItsTargetIsSkippedAndItsChecksToo() async throws {
        let runner = BurnInRunner(probes: BurnInProbes.all)
        let report = await runner.run(
            try profile("[disk]\n[network]\n[[check]]\nmetric = \"disk.seq_write.throughput\"\nmin = 1\n"), context: BurnInContext())
        #expect(report.probes.map(\.status) == [.skipped, .skipped])
        #expect(report.probes[0].reason.contains("--target") && report.probes[1].reason.contains("--server"))
        #expect(report.checks.map(\.verdict) == [.skip] && report.verdict == .pass)
    }

    @Test func theDiskAndNetworkAdaptersMeasureWhatTheProfilesCheck() async throws {
        try await withDiskScratch { dir in
            let server = try NetworkProbeServer(configuration: .init(host: "127.0.0.1", port: 0))
            let serving = Task { try await server.run() }
            defer { serving.cancel() }
            let runner = BurnInRunner(probes: BurnInProbes.all)
            let tiny = try profile(
                "[disk]\nsize = \"16MiB\"\nphase_duration = 0.3\n[network]\nduration = 0.3\nstreams = 2\nrtt_duration = 0.2\nudp = true\nudp_rate = 10000000\nudp_duration = 0.3\n")
            let seen = ProgressLog()
            let report = await runner.run(
                tiny, context: BurnInContext(diskTarget: dir, networkPeer: "127.0.0.1:\(server.port)"), progress: { seen.add($0) })
            #expect(report.probes.map(\.status) == [.completed, .completed], "\(report.probes.map(\.reason))")
            let quick = try BurnInProfile.load("quick")
            for check in quick.checks where check.metric.hasPrefix("disk.") || check.metric.hasPrefix("network.") {
                #expect(report.probes.contains { $0.measurement(check.metric) != nil }, "\(check.metric) is measured")
            }
            #expect(directoryEntries(dir).isEmpty, "the disk probe's file is removed")
            let steps = seen.all.filter { $0.probe == "disk" }.map(\.step)
            #expect(["seq_write", "seq_read", "rand_read", "rand_write", "fsync", "verify"].allSatisfy(steps.contains), "\(Set(steps))")
            let fractions = seen.all.filter { $0.probe == "disk" && $0.step != "starting" }.map(\.fraction)
            #expect(fractions == fractions.sorted() && (fractions.last ?? 0) > 0.8, "progress only goes forward")
        }
    }
}

final class ProgressLog: Sendable {
    private let log = Mutex<[BurnInProgress]>([])
    func add(_ p: BurnInProgress) { log.withLock { $0.append(p) } }
    var all: [BurnInProgress] { log.withLock { $0 } }
}
