import ArgumentParser
import Foundation
import Probes

struct BurnInCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "burnin", abstract: "Burn-in checks of this host's disks, network, CPUs and memory (docs/BURNIN.md).",
        subcommands: [Run.self, NetServer.self, Profiles.self, Compare.self, BurnInSubmit.self, BurnInFetchReport.self])

    struct Profiles: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the built-in profiles, or print one as TOML to start your own.")
        @Argument(help: "A built-in profile to print.") var name: String?

        func run() throws {
            if let name {
                guard let text = BurnInProfile.builtIn[name] else {
                    FileHandle.standardError.write(Data("nodeagent: no built-in profile \"\(name)\" (\(BurnInProfile.builtIn.keys.sorted().joined(separator: ", ")))\n".utf8))
                    throw ExitCode(CLIError.Exit.notFound.rawValue)
                }
                print(text)
                return
            }
            for key in ["quick", "standard", "soak"] {
                guard let profile = try? BurnInProfile.load(key) else { continue }
                print("\(key.padding(toLength: 9, withPad: " ", startingAt: 0)) \(profile.enabledProbes.joined(separator: ","))  \(profile.description)")
            }
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Flag the measurements of a report worse than the median of identical hardware in a baseline.",
            discussion: """
                The baseline is a directory of report files (*.json) or one file. Only reports of identical \
                hardware count (same CPU model and count, memory within 1%, same disk models). Exits 0 when \
                nothing is worse than the tolerance, 1 when something is, 2 when no report of identical \
                hardware was found.
                """)
        @Argument(help: "The report to judge (REPORT.json from burnin run).") var report: String
        @Option(name: .long, help: "Directory of reports, or one report, of the fleet.") var baseline: String
        @Option(name: .long, help: "How much worse than the median is flagged, percent.") var tolerance: Double = 10
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await reporting {
                guard (0...100).contains(tolerance) else { throw CLIError(.invalidInput, "--tolerance must be 0 to 100 percent (got \(tolerance))") }
                let subject: BurnInReport
                do {
                    subject = try BurnInReport.decode(try Data(contentsOf: URL(fileURLWithPath: report)))
                } catch {
                    throw CLIError(.invalidInput, "\(report): not a burn-in report: \(error)")
                }
                let loaded: (reports: [BurnInReport], problems: [String])
                do {
                    loaded = try FleetBaseline.load(baseline)
                } catch {
                    throw CLIError(.notFound, "--baseline: \(error)")
                }
                for problem in loaded.problems { FileHandle.standardError.write(Data("nodeagent: skipped \(problem)\n".utf8)) }
                let (peers, deviations) = FleetBaseline.compare(subject, with: loaded.reports, tolerance: tolerance / 100)
                if json {
                    struct View: Encodable { var peers: Int; var tolerancePercent: Double; var deviations: [FleetBaseline.Deviation] }
                    try printJSON(View(peers: peers, tolerancePercent: tolerance, deviations: deviations))
                } else if peers == 0 {
                    print("no report of identical hardware in \(baseline) (\(subject.host.cpuModel), \(subject.host.logicalCpus) CPUs)")
                } else if deviations.isEmpty {
                    print("\(subject.host.hostname): nothing more than \(tolerance)% worse than the median of \(peers) identical host(s)")
                } else {
                    print("\(subject.host.hostname): \(deviations.count) measurement(s) more than \(tolerance)% worse than the median of \(peers) identical host(s)")
                    printTable(
                        ["MEASUREMENT", "VALUE", "FLEET MEDIAN", "WORSE BY"],
                        deviations.map { d in
                            [d.metric, Units.format(d.value, d.unit), Units.format(d.median, d.unit), String(format: "%.1f%%", d.worseBy * 100)]
                        })
                }
                if peers == 0 { throw ExitCode(2) }
                if !deviations.isEmpty { throw ExitCode(1) }
            }
        }
    }
}
