import Foundation
import Probes
import TestSupport
import Testing

/// `nodeagent burnin profiles|compare` as an admin runs them.
@Suite("nodeagent burnin command line")
struct BurnInCLITests {
    func report(_ host: String, triad: Double, cpu: String = "EPYC 7543") -> BurnInReport {
        let identity = HostIdentity(hostname: host, cpuModel: cpu, logicalCpus: 64, memoryBytes: 512 << 30, kernel: "6.1")
        let outcomes = [
            ProbeOutcome(
                probe: "memory", status: .completed, started: Date(timeIntervalSince1970: 1_800_000_000), seconds: 1,
                measurements: [Metric("memory.triad.bandwidth", triad, unit: "B/s")])
        ]
        return BurnInReport(
            host: identity, profile: "standard", started: Date(timeIntervalSince1970: 1_800_000_000),
            finished: Date(timeIntervalSince1970: 1_800_000_900), interrupted: false,
            checks: CheckEvaluator.evaluate([], outcomes: outcomes), probes: outcomes)
    }

    @Test func compareFlagsWhatIsWorseThanTheFleetMedian() async throws {
        try await withTemporaryDirectory { dir in
            let fleet = dir.file("fleet")
            try FileManager.default.createDirectory(atPath: fleet, withIntermediateDirectories: true)
            for (host, triad) in [("n1", 10e9), ("n2", 11e9), ("n3", 9e9)] {
                try report(host, triad: triad).jsonData().write(to: URL(fileURLWithPath: fleet + "/\(host).json"))
            }
            let slow = dir.file("slow.json")
            try report("n9", triad: 8e9).jsonData().write(to: URL(fileURLWithPath: slow))
            let flagged = try execute(AgentProcess.binary, ["burnin", "compare", slow, "--baseline", fleet])
            #expect(flagged.status == 1, "\(flagged)")
            #expect(flagged.stdout.contains("memory.triad.bandwidth") && flagged.stdout.contains("20.0%"), "\(flagged.stdout)")
            let tolerant = try execute(AgentProcess.binary, ["burnin", "compare", slow, "--baseline", fleet, "--tolerance", "25"])
            #expect(tolerant.status == 0 && tolerant.stdout.contains("nothing more than 25.0% worse"), "\(tolerant)")
            let other = dir.file("other.json")
            try report("x1", triad: 1e9, cpu: "Xeon").jsonData().write(to: URL(fileURLWithPath: other))
            let noPeers = try execute(AgentProcess.binary, ["burnin", "compare", other, "--baseline", fleet])
            #expect(noPeers.status == 2 && noPeers.stdout.contains("no report of identical hardware"), "\(noPeers)")
            let notAReport = try execute(AgentProcess.binary, ["burnin", "compare", fleet + "/../fleet", "--baseline", fleet])
            #expect(notAReport.status == 65, "\(notAReport)")
        }
    }

    @Test func profilesAreListedAndPrintable() throws {
        let listed = try execute(AgentProcess.binary, ["burnin", "profiles"])
        #expect(listed.status == 0 && listed.stdout.contains("quick") && listed.stdout.contains("soak"), "\(listed)")
        let printed = try execute(AgentProcess.binary, ["burnin", "profiles", "quick"])
        #expect(printed.status == 0)
        #expect(try BurnInProfile.parse(printed.stdout, source: "printed").name == "quick", "what it prints parses back")
        #expect(try execute(AgentProcess.binary, ["burnin", "profiles", "nope"]).status == 2)
    }
}

/// `nodeagent burnin run` and `net-server` as real processes: the whole chain from a profile to
/// the report files, against real probes on this machine.
@Suite("nodeagent burnin run", .serialized)
struct BurnInRunCLITests {
    /// A profile every probe runs briefly with.
    static func tinyProfile(extraChecks: String = "", diskDuration: Double = 0.5) -> String {
        """
        name = "tiny"
        [health]
        [cpu]
        duration = 2
        [memory]
        bandwidth_passes = 2
        array_size = "8MiB"
        pattern_size = "8MiB"
        pattern_pass_limit = 1
        [disk]
        size = "16MiB"
        phase_duration = \(diskDuration)
        [network]
        duration = 0.5
        streams = 2
        rtt_duration = 0.3
        [[check]]
        metric = "disk.integrity.errors"
        max = 0
        [[check]]
        metric = "cpu.errors"
        max = 0
        [[check]]
        metric = "network.tcp.throughput"
        min = 1000
        \(extraChecks)
        """
    }

    /// Starts `nodeagent burnin net-server` on a free loopback port; returns its pid and port.
    static func startNetServer(_ dir: TemporaryDirectory) async throws -> (pid_t, String) {
        let out = dir.file("net-server.out")
        let pid = try spawn(AgentProcess.binary, ["burnin", "net-server", "--bind", "127.0.0.1", "--port", "0"], stdout: out, stderr: dir.file("net-server.err"))
        let address = try await eventually("net-server prints its address", timeout: .seconds(60)) { () -> String? in
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) else { return nil }
            return String(line.dropFirst("listening on ".count))
        }
        return (pid, address)
    }

    static func stop(_ pid: pid_t) -> Int32 {
        kill(pid, SIGTERM)
        let status = reap(pid)
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    @Test func aRunWritesTheReportFilesAndExitsWithItsVerdict() async throws {
        try await withTemporaryDirectory { dir in
            let (server, address) = try await Self.startNetServer(dir)
            defer { _ = Self.stop(server) }
            let disk = dir.file("disk")
            try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
            let profile = dir.file("tiny.toml")
            // One check no machine passes: the verdict must be FAIL, with the reason.
            try Self.tinyProfile(extraChecks: "[[check]]\nmetric = \"memory.triad.bandwidth\"\nmin = 1e15\n")
                .write(toFile: profile, atomically: true, encoding: .utf8)
            let result = try execute(
                AgentProcess.binary,
                ["burnin", "run", "--profile", profile, "--target", disk, "--server", address, "--output", dir.file("r")])
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout.contains("burn-in tiny on") && result.stdout.contains(": FAIL"), "\(result.stdout)")
            #expect(
                result.stdout.split(separator: "\n").contains { $0.contains("FAIL") && $0.contains("memory.triad.bandwidth") && $0.contains("below the minimum") },
                "\(result.stdout)")
            #expect(result.stdout.split(separator: "\n").contains { $0.contains("PASS") && $0.contains("network.tcp.throughput") }, "\(result.stdout)")
            #expect(result.stderr.contains("[4/5] disk seq_write"), "progress names probe and phase: \(result.stderr)")

            let report = try BurnInReport.decode(try Data(contentsOf: URL(fileURLWithPath: dir.file("r.json"))))
            #expect(report.verdict == .fail && !report.interrupted && report.profile == "tiny")
            #expect(report.probes.map(\.probe) == ["health", "cpu", "memory", "disk", "network"])
            for name in ["cpu", "memory", "disk", "network"] {
                #expect(report.probes.first { $0.probe == name }?.status == .completed, "\(name): \(report.probes.first { $0.probe == name }?.reason ?? "")")
            }
            for metric in ["disk.seq_write.throughput", "disk.rand_read.latency_p99", "disk.fsync.latency_p99", "cpu.total.throughput",
                "cpu.slowest_core_ratio", "memory.triad.bandwidth", "memory.pattern.errors", "network.tcp.throughput",
                "network.tcp_single.throughput", "network.tcp_reverse.throughput", "network.rtt.latency_p99"]
            {
                let value = report.probes.lazy.compactMap { $0.measurement(metric) }.first?.value
                #expect(value != nil && value! >= 0, "\(metric) measured")
            }
            let html = try String(contentsOfFile: dir.file("r.html"), encoding: .utf8)
            #expect(html.contains("<svg") && html.contains("memory.triad.bandwidth") && !html.contains("<script"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: disk).isEmpty, "the disk probe's file is removed")

            // The same output prefix again: refused before anything runs, nothing overwritten.
            let again = try execute(AgentProcess.binary, ["burnin", "run", "--profile", profile, "--output", dir.file("r")])
            #expect(again.status == 6 && again.stderr.contains("r.json exists"), "\(again)")
            #expect(try BurnInReport.decode(try Data(contentsOf: URL(fileURLWithPath: dir.file("r.json")))).started == report.started)
        }
    }

    @Test func ctrlCStopsTheRunningProbeCleansUpAndReportsWhatRan() async throws {
        try await withTemporaryDirectory { dir in
            let disk = dir.file("disk")
            try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
            let profile = dir.file("long.toml")
            try Self.tinyProfile(diskDuration: 600).write(toFile: profile, atomically: true, encoding: .utf8)
            let err = dir.file("run.err")
            let pid = try spawn(
                AgentProcess.binary, ["burnin", "run", "--profile", profile, "--target", disk, "--output", dir.file("r")],
                stdout: dir.file("run.out"), stderr: err)
            var reaped = false
            defer { if !reaped { kill(pid, SIGKILL); reap(pid) } }
            try await waitUntil("the disk probe writes its file", timeout: .seconds(180)) {
                let text = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
                return text.contains("disk seq_write") && !((try? FileManager.default.contentsOfDirectory(atPath: disk)) ?? []).isEmpty
            }
            kill(pid, SIGINT)
            let status = reap(pid)
            reaped = true
            #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 130, "exit status \(status)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: disk).isEmpty, "the disk probe's file is removed")
            let report = try BurnInReport.decode(try Data(contentsOf: URL(fileURLWithPath: dir.file("r.json"))))
            #expect(report.interrupted)
            #expect(report.probes.map(\.probe) == ["health", "cpu", "memory", "disk", "network"])
            #expect(report.probes[1].status == .completed && report.probes[2].status == .completed, "cpu and memory ran to the end")
            let diskOutcome = report.probes.first { $0.probe == "disk" }
            #expect(diskOutcome?.status == .interrupted && diskOutcome?.measurement("disk.seq_write.throughput") != nil, "what ran is kept")
            #expect(report.probes.last?.status == .skipped && report.probes.last?.reason.contains("interrupted") == true)
            #expect(try String(contentsOfFile: dir.file("run.out"), encoding: .utf8).contains("(interrupted)"))
        }
    }

    @Test func aMountedDeviceAnExistingFileAndABadProfileAreRefusedBeforeAnythingRuns() async throws {
        try await withTemporaryDirectory { dir in
            // The block device / is mounted from (read-only inspection: nothing is written).
            let mountInfo = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            let rootSource = mountInfo.split(separator: "\n").map { $0.split(separator: " ") }
                .first { $0.count > 9 && $0[4] == "/" }.flatMap { fields in fields.firstIndex(of: "-").map { String(fields[$0 + 2]) } }
            var info = stat()
            let device = try #require(rootSource.flatMap { stat($0, &info) == 0 && info.st_mode & S_IFMT == S_IFBLK ? $0 : nil }, "/ is mounted from a block device here")
            let mounted = try execute(AgentProcess.binary, ["burnin", "run", "--profile", "quick", "--target", device, "--output", dir.file("m")])
            #expect(mounted.status == 3 && mounted.stderr.contains("mounted at /"), "\(mounted)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("m.json")), "nothing ran")

            let existing = dir.file("precious.img")
            try Data("keep me".utf8).write(to: URL(fileURLWithPath: existing))
            let refused = try execute(AgentProcess.binary, ["burnin", "run", "--profile", "quick", "--target", existing, "--output", dir.file("e")])
            #expect(refused.status == 3 && refused.stderr.contains("exists and was not created by the probe"), "\(refused)")
            #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me")

            let typo = dir.file("typo.toml")
            try "name = \"t\"\n[cpu]\ndurtion = 5\n".write(toFile: typo, atomically: true, encoding: .utf8)
            let bad = try execute(AgentProcess.binary, ["burnin", "run", "--profile", typo, "--output", dir.file("t")])
            #expect(bad.status == 65 && bad.stderr.contains("cpu.durtion: unknown option of the cpu probe"), "\(bad)")
            let tooBig = dir.file("big.toml")
            try "name = \"t\"\n[memory]\npattern_size = \"100%\"\n".write(toFile: tooBig, atomically: true, encoding: .utf8)
            let big = try execute(AgentProcess.binary, ["burnin", "run", "--profile", tooBig, "--output", dir.file("b")])
            #expect(big.status == 65 && big.stderr.contains("memory.pattern_size"), "\(big)")
            let noFile = try execute(AgentProcess.binary, ["burnin", "run", "--profile", dir.file("missing.toml")])
            #expect(noFile.status == 65 && noFile.stderr.contains("not a built-in profile"), "\(noFile)")
        }
    }

    @Test func netServerServesUntilSIGTERMAndRefusesABusyPort() async throws {
        try await withTemporaryDirectory { dir in
            let (server, address) = try await Self.startNetServer(dir)
            let port = String(address.split(separator: ":").last!)
            let busy = try execute(AgentProcess.binary, ["burnin", "net-server", "--bind", "127.0.0.1", "--port", port])
            #expect(busy.status == 69 && busy.stderr.contains("cannot listen on 127.0.0.1:\(port)"), "\(busy)")
            #expect(Self.stop(server) == 0, "SIGTERM stops it cleanly")
        }
    }
}
