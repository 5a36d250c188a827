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
