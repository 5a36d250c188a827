import Foundation
import Probes
import Testing

@Suite("Burn-in profiles, checks, reports")
struct BurnInFrameworkTests {
    func outcome(_ probe: String, _ measurements: [Metric], status: ProbeOutcome.Status = .completed, findings: [Finding] = []) -> ProbeOutcome {
        ProbeOutcome(probe: probe, status: status, started: Date(timeIntervalSince1970: 1_800_000_000), seconds: 1, measurements: measurements, findings: findings)
    }

    @Test(arguments: ["quick", "standard", "soak"])
    func builtInProfilesParse(name: String) throws {
        let profile = try BurnInProfile.load(name)
        #expect(profile.name == name)
        #expect(profile.enabledProbes == ["health", "cpu", "memory", "disk", "network"])
        #expect(profile.checks.contains { $0.metric == "disk.integrity.errors" && $0.max == 0 })
    }

    @Test(arguments: [
        ("name = \"x\"\n[gpu]\n", "gpu", "unknown key"),
        ("description = \"no name\"\n", "name", "required"),
        ("name = \"x\"\n[[check]]\nmetric = \"disk.a\"\nminimum = 3\n", "check[0].minimum", "unknown key"),
        ("name = \"x\"\n[[check]]\nmetric = \"throughput\"\nmin = 3\n", "check[0].metric", "measurement of a probe"),
        ("name = \"x\"\n[[check]]\nmetric = \"disk.a\"\nmin = \"fast\"\n", "check[0].min", "number"),
        ("name = \"x\"\n[[check]]\nmetric = \"disk.a\"\nmin_baseline_ratio = 1.5\n", "check[0].min_baseline_ratio", "(0, 1]"),
        ("name = \"x\"\n[disk]\nenabled = \"yes\"\n", "disk.enabled", "true or false"),
    ])
    func badProfilesAreRefusedNamingTheKey(text: String, key: String, reason: String) {
        do {
            _ = try BurnInProfile.parse(text, source: "my.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.key == key && error.reason.contains(reason), "\(error)")
            #expect(error.description.hasPrefix("my.toml: \(key): "))
        }
    }

    @Test func aProfileKeepsProbeOptionsAndDisabledProbes() throws {
        let profile = try BurnInProfile.parse(
            "name = \"mine\"\n[disk]\nsize = \"1GiB\"\nqueue_depth = 64\n[network]\nenabled = false\nstreams = [1, 4]\n", source: "t")
        #expect(profile.enabledProbes == ["disk"])
        #expect(profile.probes["disk"]?.options["size"] == .string("1GiB"))
        #expect(profile.probes["disk"]?.options["queue_depth"] == .int(64))
        #expect(profile.probes["network"]?.options["streams"] == .list([.int(1), .int(4)]))
    }

    @Test func checksGiveAVerdictAndAReason() {
        let outcomes = [
            outcome("disk", [
                Metric("disk.seq_write.throughput", 150 * 1_048_576, unit: "B/s"),
                Metric("disk.rand_read.latency_p99", 12_000, unit: "us", higherIsBetter: false),
            ]),
            outcome("network", [], status: .skipped),
        ]
        let checks = [
            Check(metric: "disk.seq_write.throughput", min: 100 * 1_048_576, warnBelow: 200 * 1_048_576),
            Check(metric: "disk.seq_write.throughput", min: 200 * 1_048_576),
            Check(metric: "disk.rand_read.latency_p99", max: 10_000),
            Check(metric: "disk.rand_read.latency_p99", max: 20_000),
            Check(metric: "disk.rand_write.iops", min: 1),
            Check(metric: "network.tcp.throughput", min: 1),
        ]
        let results = CheckEvaluator.evaluate(checks, outcomes: outcomes)
        #expect(results.map(\.verdict) == [.warn, .fail, .fail, .pass, .fail, .skip])
        #expect(results[0].reason == "150 MiB/s is below 200 MiB/s")
        #expect(results[1].reason == "150 MiB/s is below the minimum 200 MiB/s")
        #expect(results[2].reason == "12.00 ms is above the maximum 10.00 ms")
        #expect(results[4].reason.contains("did not measure disk.rand_write.iops"))
        #expect(results[5].reason.contains("skipped"))
        #expect(CheckEvaluator.overall(results, interrupted: false) == .fail)
        #expect(CheckEvaluator.overall([results[3], results[5]], interrupted: false) == .pass, "SKIP alone does not fail")
        #expect(CheckEvaluator.overall([results[3]], interrupted: true) == .warn, "an interrupted run cannot PASS")
    }

    @Test func baselineRatiosCompareWithTheFleetMedian() {
        let m = [outcome("memory", [Metric("memory.triad.bandwidth", 8e9, unit: "B/s")]),
                 outcome("disk", [Metric("disk.rand_read.latency_p99", 1200, unit: "us", higherIsBetter: false)])]
        let checks = [
            Check(metric: "memory.triad.bandwidth", minBaselineRatio: 0.9),
            Check(metric: "disk.rand_read.latency_p99", minBaselineRatio: 0.9),
        ]
        let failing = CheckEvaluator.evaluate(checks, outcomes: m, baseline: ["memory.triad.bandwidth": 10e9, "disk.rand_read.latency_p99": 1000])
        #expect(failing[0].verdict == .fail && failing[0].reason.contains("20.0% worse"), "\(failing[0].reason)")
        #expect(failing[1].verdict == .fail, "p99 1.2 ms against a 1.0 ms median is worse than 0.9x: \(failing[1].reason)")
        let passing = CheckEvaluator.evaluate(checks, outcomes: m, baseline: ["memory.triad.bandwidth": 8.5e9, "disk.rand_read.latency_p99": 1100])
        #expect(passing.map(\.verdict) == [.pass, .pass])
        let none = CheckEvaluator.evaluate(checks, outcomes: m)
        #expect(none.map(\.verdict) == [.warn, .warn], "no baseline: a warning, not a silent pass")
    }

    @Test func findingsFailTheRunWhateverTheThresholds() {
        let results = CheckEvaluator.evaluate(
            [], outcomes: [
                outcome("disk", [], findings: [Finding(.fail, kind: "corruption", "checksum mismatch", location: "offset 4096")]),
                outcome("cpu", [], findings: [Finding(.warn, kind: "throttling", "3 throttle events", location: "cpu1")]),
                outcome("memory", [], status: .error),
            ])
        #expect(results.map(\.verdict).sorted() == [.warn, .fail, .fail])
        #expect(results.contains { $0.check == "finding:disk.corruption" && $0.reason == "offset 4096: checksum mismatch" })
    }

    func report(_ host: String, triad: Double, interrupted: Bool = false) -> BurnInReport {
        let identity = HostIdentity(hostname: host, cpuModel: "EPYC 7543", logicalCpus: 64, memoryBytes: 512 << 30, kernel: "6.1")
        let outcomes = [outcome("memory", [Metric("memory.triad.bandwidth", triad, unit: "B/s")])]
        let checks = CheckEvaluator.evaluate([Check(metric: "memory.triad.bandwidth", min: 1e9)], outcomes: outcomes)
        return BurnInReport(
            host: identity, profile: "quick", started: Date(timeIntervalSince1970: 1_800_000_000),
            finished: Date(timeIntervalSince1970: 1_800_000_060), interrupted: interrupted, checks: checks, probes: outcomes)
    }

    @Test func theReportRoundTripsThroughItsJSONSchema() throws {
        let original = report("node-1", triad: 9e9)
        let data = try original.jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["schema"] as? String == "nodeagent.burnin.report/1")
        #expect(Set(object.keys) == ["schema", "host", "profile", "started", "finished", "interrupted", "verdict", "checks", "probes"])
        #expect((object["host"] as? [String: Any])?["cpu_model"] as? String == "EPYC 7543")
        #expect(try BurnInReport.decode(data) == original)
        var other = object
        other["schema"] = "nodeagent.burnin.report/99"
        #expect(throws: ReportError.self) { try BurnInReport.decode(try JSONSerialization.data(withJSONObject: other)) }
        let table = original.summaryTable()
        #expect(table.hasPrefix("burn-in quick on node-1: PASS"))
        #expect(table.contains("PASS  memory.triad.bandwidth"))
    }

    @Test func theHTMLPageIsSelfContainedAndEscaped() {
        var r = report("<node&1>", triad: 9e9)
        r.probes[0].series = [Series(name: "triad", unit: "B/s", points: [.init(t: 0, value: 8e9), .init(t: 1, value: 9e9)])]
        r.probes[0].distributions = [Distribution(name: "per core", unit: "ops/s", bars: [.init(label: "cpu0", value: 5), .init(label: "cpu1", value: 3)])]
        let html = r.html()
        #expect(html.contains("&lt;node&amp;1&gt;") && !html.contains("<node&1>"))
        #expect(html.contains("<polyline") && html.contains("<rect") && html.contains("<svg"))
        #expect(!html.contains("<script") && !html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    }

    @Test func theFleetBaselineFlagsAHostWorseThanItsPeersMedian() throws {
        let peers = [report("n1", triad: 10e9), report("n2", triad: 11e9), report("n3", triad: 9e9)]
        var different = report("n4", triad: 1e9)
        different.host.cpuModel = "Xeon"
        let slow = report("n9", triad: 8.5e9)
        let (count, deviations) = FleetBaseline.compare(slow, with: peers + [different], tolerance: 0.10)
        #expect(count == 3, "other hardware is not a peer")
        #expect(deviations.map(\.metric) == ["memory.triad.bandwidth"])
        #expect(abs(deviations[0].worseBy - 0.15) < 1e-9 && deviations[0].median == 10e9)
        #expect(FleetBaseline.compare(slow, with: peers, tolerance: 0.2).deviations.isEmpty)
        #expect(FleetBaseline.median([3, 1, 2, 10]) == 2.5)
        // From a directory of report files, with a broken one reported, not fatal.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baseline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for peer in peers { try peer.jsonData().write(to: dir.appendingPathComponent("\(peer.host.hostname).json")) }
        try Data("{".utf8).write(to: dir.appendingPathComponent("broken.json"))
        let loaded = try FleetBaseline.load(dir.path)
        #expect(loaded.reports.count == 3 && loaded.problems.count == 1 && loaded.problems[0].contains("broken.json"))
    }

    struct ScriptedProbe: BurnInProbe {
        let name: String
        let value: Double
        func validate(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) {}
        func run(_ settings: ProbeSettings, context: BurnInContext, progress: @escaping @Sendable (BurnInProgress) -> Void) async -> ProbeOutcome {
            progress(BurnInProgress(probe: name, step: "work", fraction: 0.5))
            let started = Date()
            do {
                try await Task.sleep(for: .milliseconds(Int(settings.options["millis"]?.double ?? 0)))
            } catch {
                return ProbeOutcome(probe: name, status: .interrupted, reason: "cancelled", started: started, seconds: 0)
            }
            return ProbeOutcome(probe: name, status: .completed, started: started, seconds: 0, measurements: [Metric("\(name).x", value, unit: "count")])
        }
    }

    @Test func theRunnerRunsProbesInOrderAndStopsCleanlyWhenCancelled() async throws {
        let profile = try BurnInProfile.parse(
            "name = \"t\"\n[cpu]\n[memory]\nmillis = 60000\n[disk]\n[[check]]\nmetric = \"cpu.x\"\nmin = 1\n[[check]]\nmetric = \"disk.x\"\nmin = 1\n", source: "t")
        let runner = BurnInRunner(probes: [ScriptedProbe(name: "cpu", value: 2), ScriptedProbe(name: "memory", value: 2), ScriptedProbe(name: "disk", value: 2)])
        let seen = Seen()
        let task = Task { await runner.run(profile, context: BurnInContext()) { seen.add($0.probe) } }
        while !seen.contains("memory") { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        let report = await task.value
        #expect(report.interrupted && report.verdict == .warn)
        #expect(report.probes.map(\.status) == [.completed, .interrupted, .skipped])
        #expect(report.checks.map(\.verdict) == [.pass, .skip])
    }
}

final class Seen: @unchecked Sendable {
    private let lock = NSLock()
    private var names: Set<String> = []
    func add(_ name: String) { lock.withLock { _ = names.insert(name) } }
    func contains(_ name: String) -> Bool { lock.withLock { names.contains(name) } }
}
