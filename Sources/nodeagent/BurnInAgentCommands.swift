import AgentAPI
import ArgumentParser
import Foundation
import NodeAgent
import Probes
import Synchronization

/// `nodeagent burnin submit`: the same burn-in as `burnin run`, run by the agent as a task
/// (BurnIn.Start), so it survives the admin's session and the controller sees it.
struct BurnInSubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Run a burn-in of this host through the running agent, as a task.",
        discussion: """
            The agent validates the profile against the host before the task exists, runs the probes \
            (one burn-in at a time), and writes the report to <agent.state_dir>/burnin/<task id>.json and \
            .html. Progress goes to standard error; at the end the summary table is printed (with --json, \
            the finished task). Cancel with `nodeagent tasks cancel TASK`: the running probe stops and \
            cleans up, and the interrupted report is still written. Exit status when waiting: 0 PASS, 1 FAIL, \
            2 WARN, 7 cancelled, 65 bad profile or input, 69 agent unreachable; with --no-wait, 0 once the \
            task is queued.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "A built-in profile (quick, standard, soak) or a profile file, sent to the agent as text.")
    var profile = "quick"
    @Option(
        name: .long,
        help: "Disk probe target: a directory (a file is created in it and removed), a new file, or a block device (none: skipped).")
    var target: String?
    @Flag(name: .long, help: "Write to a block device that holds data or is in use, or to an existing file.") var force = false
    @Option(name: .long, help: "Network probe peer: HOST:PORT of `nodeagent burnin net-server` on another node (none: skipped).")
    var server: String?
    @Option(name: .long, help: "Reports of identical hardware (a directory of *.json or one file) for min_baseline_ratio checks.")
    var baseline: String?
    @OptionGroup var task: TaskOptions

    func run() async throws {
        try await reporting {
            var request = Nodeagent_V1_StartBurnInRequest()
            request.requestID = task.id
            if BurnInProfile.builtIn[profile] != nil {
                request.profileName = profile
            } else {
                do {
                    request.profileToml = try String(contentsOfFile: profile, encoding: .utf8)
                } catch {
                    throw CLIError(
                        .invalidInput,
                        "--profile: \(profile) is not a built-in profile (\(BurnInProfile.builtIn.keys.sorted().joined(separator: ", "))) and not a readable file: \(error.localizedDescription)")
                }
            }
            // The agent runs on this host (its unix socket): paths are made absolute here.
            if let target { request.diskTarget = Self.absolute(target) }
            request.force = force
            if let server { request.networkServer = server }
            if let baseline { request.baselinePath = Self.absolute(baseline) }
            let json = global.json
            let noWait = task.noWait
            let progress = BurnInProgressLines(enabled: !json)
            let (finished, report) = try await global.withAgent { client in
                let submitted = try await client.burnin.start(request)
                if noWait { return (submitted, Nodeagent_V1_BurnInReport?.none) }
                progress.show(submitted)
                let finished = try await client.wait(for: submitted) { progress.show($0) }
                guard finished.state != .failed else { return (finished, nil) }
                var get = Nodeagent_V1_GetBurnInReportRequest()
                get.taskID = finished.id
                return (finished, try? await client.burnin.getReport(get))
            }
            if json {
                try printMessage(finished)
            } else if noWait {
                print("task \(finished.id) \(finished.state.name)")
            } else if let report {
                print(report.summaryTable)
                print("report: \(report.reportJsonPath), \(report.reportHtmlPath)")
            }
            if noWait { return }
            if finished.state == .failed || finished.state == .cancelled { throw CLIError(task: finished) }
            switch finished.result.burnin.verdict {
            case .fail: throw ExitCode(1)
            case .warn: throw ExitCode(2)
            default: break
            }
        }
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
            .standardizedFileURL.path
    }
}

/// `nodeagent burnin report TASK`: the report of a burn-in task of the running agent.
struct BurnInFetchReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print the report of a burn-in task run by the agent (`burnin submit`, or a controller's BurnIn.Start).",
        discussion: """
            Prints the summary table and where the report files are; with --json, the report itself (schema \
            nodeagent.burnin.report/1, docs/BURNIN.md). A burn-in still running is refused (exit 3: wait for \
            it with `nodeagent tasks watch TASK`); no such task or no report exits 2.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The burn-in's task id, or the request id it was submitted with.") var task: String

    func run() async throws {
        try await reporting {
            var request = Nodeagent_V1_GetBurnInReportRequest()
            request.taskID = task
            let report = try await global.withAgent { client in try await client.burnin.getReport(request) }
            if global.json {
                print(report.reportJson)
            } else {
                print(report.summaryTable)
                print("report: \(report.reportJsonPath), \(report.reportHtmlPath)")
            }
        }
    }
}

/// A task's progress on standard error, a line each time its state or message changes.
private final class BurnInProgressLines: Sendable {
    private let enabled: Bool
    private let last = LockedLine()

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ task: Nodeagent_V1_Task) {
        guard enabled else { return }
        let percent = Int((task.progress * 100).rounded(.down))
        let line = "[\(task.state.name) \(percent)%] \(task.kind)" + (task.message.isEmpty ? "" : ": \(task.message)")
        guard last.replace(line) else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    private final class LockedLine: Sendable {
        private let line = Mutex("")
        /// Stores `new`; false if it was already the last one.
        func replace(_ new: String) -> Bool {
            line.withLock { line in
                defer { line = new }
                return line != new
            }
        }
    }
}
