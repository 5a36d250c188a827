import ArgumentParser
import Dispatch
import Foundation
import Glibc
import Probes
import Synchronization

extension BurnInCommand {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a burn-in profile on this host and write its report.",
            discussion: """
                Runs the profile's probes in order (health, cpu, memory, disk, network) with live progress on \
                standard error, then writes PREFIX.json (schema nodeagent.burnin.report/1, docs/BURNIN.md) and \
                PREFIX.html and prints the summary table. Ctrl-C stops the running probe, which cleans up (its \
                disk file is removed), and the report of what ran is still written. The disk probe is skipped \
                without --target, the network probe without --server. Exit status: 0 PASS, 1 FAIL, 2 WARN, \
                65 bad profile or input, 130 interrupted.
                """)

        @Option(name: .long, help: "A built-in profile (quick, standard, soak) or a profile file.") var profile = "quick"
        @Option(
            name: .long,
            help: "Disk probe target: a directory (a file is created in it and removed), a new file, or a block device.")
        var target: String?
        @Flag(name: .long, help: "Write to a block device that holds data or is in use, or to an existing file.") var force = false
        @Option(name: .long, help: "Network probe peer: HOST[:PORT] of `nodeagent burnin net-server` on another node.")
        var server: String?
        @Option(name: .long, help: "Reports of identical hardware (a directory of *.json or one file) for min_baseline_ratio checks.")
        var baseline: String?
        @Option(name: .long, help: "Where the report goes: PREFIX.json and PREFIX.html (default ./burnin-HOST-TIME).")
        var output: String?
        @Flag(name: .long, help: "Print the report JSON on standard output instead of the table.") var json = false
        @Flag(name: .long, help: "No progress on standard error.") var quiet = false

        func run() async throws {
            try await reporting {
                let loaded: BurnInProfile
                do {
                    loaded = try BurnInProfile.load(profile)
                } catch {
                    throw CLIError(.invalidInput, "--profile: \(error)")
                }
                let context = BurnInContext(diskTarget: target, force: force, networkPeer: server)
                let runner = BurnInRunner(probes: BurnInProbes.all)
                let problems = runner.validate(loaded, context: context)
                if !problems.isEmpty {
                    for problem in problems.dropLast() { FileHandle.standardError.write(Data("nodeagent: \(problem)\n".utf8)) }
                    throw CLIError(problems.last!.key == "target" ? .refused : .invalidInput, problems.last!.description)
                }
                var medians: [String: Double] = [:]
                if let baseline {
                    let reports: [BurnInReport]
                    do {
                        reports = try FleetBaseline.load(baseline).reports
                    } catch {
                        throw CLIError(.notFound, "--baseline: \(error)")
                    }
                    let peers = FleetBaseline.peers(of: HostIdentity.current(), in: reports)
                    medians = FleetBaseline.medians(peers)
                    FileHandle.standardError.write(Data("nodeagent: baseline: \(peers.count) of \(reports.count) report(s) from identical hardware\n".utf8))
                }
                let prefix = output ?? defaultPrefix()
                let jsonPath = prefix + ".json"
                let htmlPath = prefix + ".html"
                for path in [jsonPath, htmlPath] where FileManager.default.fileExists(atPath: path) {
                    throw CLIError(.alreadyExists, "\(path) exists; choose another --output")
                }
                let directory = (jsonPath as NSString).deletingLastPathComponent
                if !directory.isEmpty, !FileManager.default.isWritableFile(atPath: directory) {
                    throw CLIError(.invalidInput, "--output: cannot write in \(directory)")
                }

                let display = ProgressDisplay(enabled: !quiet, probes: loaded.enabledProbes)
                let task = Task {
                    await runner.run(loaded, context: context, baseline: medians) { display.show($0) }
                }
                let interrupts = Interrupts { task.cancel() }
                let report = await task.value
                interrupts.stop()
                display.finish()

                do {
                    try report.jsonData().write(to: URL(fileURLWithPath: jsonPath), options: .atomic)
                    try Data(report.html().utf8).write(to: URL(fileURLWithPath: htmlPath), options: .atomic)
                } catch {
                    FileHandle.standardOutput.write(try report.jsonData())
                    throw CLIError(.failed, "cannot write the report to \(prefix).{json,html}: \(error); the JSON went to standard output")
                }
                if json {
                    FileHandle.standardOutput.write(try report.jsonData() + Data("\n".utf8))
                } else {
                    print(report.summaryTable())
                    print("report: \(jsonPath), \(htmlPath)")
                }
                if report.interrupted { throw ExitCode(130) }
                switch report.verdict {
                case .fail: throw ExitCode(1)
                case .warn: throw ExitCode(2)
                case .pass, .skip: break
                }
            }
        }

        private func defaultPrefix() -> String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.dateFormat = "yyyyMMdd-HHmmss"
            return "burnin-\(HostIdentity.current().hostname)-\(formatter.string(from: Date()))"
        }
    }

    struct NetServer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "net-server",
            abstract: "Serve the network probe of other nodes' burn-ins (`burnin run --server THIS_HOST:PORT`).",
            discussion: "Runs until SIGINT or SIGTERM. One test at a time; a client asking for more streams or a longer test than allowed is refused.")

        @Option(name: .long, help: "Address to listen on (default: every IPv6 and IPv4 address).") var bind: String?
        @Option(name: .long, help: "TCP port (UDP tests use a port the server names).") var port: UInt16 = NetworkProbeServer.defaultPort
        @Option(name: .long, help: "Most parallel streams per direction a client may ask for.") var maxStreams = 128
        @Option(name: .long, help: "Longest test a client may ask for, seconds.") var maxDuration: Double = 3600
        @Flag(name: .long, help: "Do not log each test on standard error.") var quiet = false

        func run() async throws {
            try await reporting {
                guard (1...1024).contains(maxStreams) else { throw CLIError(.invalidInput, "--max-streams must be 1...1024 (got \(maxStreams))") }
                guard maxDuration > 0, maxDuration.isFinite else { throw CLIError(.invalidInput, "--max-duration must be > 0 seconds") }
                let server: NetworkProbeServer
                do {
                    server = try NetworkProbeServer(
                        configuration: .init(host: bind, port: port, maximumStreams: maxStreams, maximumDuration: maxDuration))
                } catch {
                    throw CLIError(.unavailable, "cannot listen on \(bind ?? "*"):\(port): \(error)")
                }
                FileHandle.standardOutput.write(Data("listening on \(server.address)\n".utf8))
                let quiet = self.quiet
                let task = Task {
                    try await server.run(log: { line in
                        if !quiet { FileHandle.standardError.write(Data("\(line)\n".utf8)) }
                    })
                }
                let interrupts = Interrupts { task.cancel() }
                defer { interrupts.stop() }
                do {
                    try await task.value
                } catch is CancellationError {
                    return
                } catch {
                    if task.isCancelled { return }
                    throw CLIError(.failed, "net-server: \(error)")
                }
            }
        }
    }
}

/// SIGINT and SIGTERM call `handler` (once per signal) instead of killing the process.
final class Interrupts {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\nnodeagent: interrupted: stopping and cleaning up\n".utf8))
                handler()
            }
            source.resume()
            return source
        }
    }

    func stop() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// Live progress on standard error: one line rewritten in place on a terminal; otherwise a line
/// when a step changes and every 10 seconds.
final class ProgressDisplay: Sendable {
    private struct State {
        var lastLine = ""
        var lastStep = ""
        var lastPrinted = Date.distantPast
        var width = 0
    }
    private let enabled: Bool
    private let terminal: Bool
    private let probes: [String]
    private let started = Date()
    private let state = Mutex(State())

    init(enabled: Bool, probes: [String]) {
        self.enabled = enabled
        self.terminal = isatty(STDERR_FILENO) == 1
        self.probes = probes
    }

    func show(_ p: BurnInProgress) {
        guard enabled else { return }
        let index = (probes.firstIndex(of: p.probe) ?? 0) + 1
        let elapsed = Int(Date().timeIntervalSince(started))
        let line = String(
            format: "[%d/%d] %@ %@ %3.0f%%%@  %d:%02d", index, probes.count, p.probe, p.step, min(max(p.fraction, 0), 1) * 100,
            p.rate.isEmpty ? "" : "  \(p.rate)", elapsed / 60, elapsed % 60)
        state.withLock { s in
            let step = "\(p.probe) \(p.step)"
            if terminal {
                let padded = line.count < s.width ? line + String(repeating: " ", count: s.width - line.count) : line
                s.width = line.count
                FileHandle.standardError.write(Data("\r\(padded)".utf8))
            } else if step != s.lastStep || Date().timeIntervalSince(s.lastPrinted) >= 10 {
                FileHandle.standardError.write(Data("\(line)\n".utf8))
                s.lastPrinted = Date()
            }
            s.lastStep = step
            s.lastLine = line
        }
    }

    func finish() {
        guard enabled, terminal else { return }
        state.withLock { s in
            if s.width > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }
}
