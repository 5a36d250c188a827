import AgentAPI
import Foundation
import GRPCCore
import Glibc
import Probes
import SwiftProtobuf

/// `nodeagent.v1.BurnIn`: a burn-in of this host runs as one `burnin.run` task (target "host",
/// so one at a time); its report is written under the state directory and read back by
/// `GetReport`.
struct BurnInService: Nodeagent_V1_BurnIn.SimpleServiceProtocol {
    let core: AgentCore

    func start(request: Nodeagent_V1_StartBurnInRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.burninRun, request.requestID, request) { return task }
        let plan = try BurnInPlan(request)
        let problems = BurnInPlan.runner.validate(plan.profile, context: plan.context)
        if !problems.isEmpty {
            let profileField = request.profileName.isEmpty ? "profile_toml" : "profile_name"
            throw RPCError(
                code: .invalidArgument, message: problems.map { BurnInPlan.describe($0, profileField: profileField) }.joined(separator: "; "))
        }
        return try await core.submit(
            .burninRun, target: BurnInPlan.target, requestID: request.requestID, fingerprintOf: request, input: request)
    }

    func getReport(request: Nodeagent_V1_GetBurnInReportRequest, context: ServerContext) async throws -> Nodeagent_V1_BurnInReport {
        let task = try find(request.taskID)
        guard task.kind == TaskKind.burninRun.rawValue else {
            throw RPCError(code: .notFound, message: "task_id: task \(task.id) is a \(task.kind) task, not a burn-in")
        }
        guard task.state.isTerminal else {
            throw RPCError(
                code: .failedPrecondition,
                message: "burn-in \(task.id) is \(task.state.rawValue) (\(Int((task.progress * 100).rounded()))%): "
                    + "its report is written when it ends; watch it with Tasks.Watch")
        }
        let files = core.burnInReportFiles(task.id)
        let data: Data
        do {
            data = try Data(contentsOf: files.json)
        } catch {
            let why = task.state == .succeeded ? "its report file is gone" : "it ended \(task.state.rawValue) before it wrote a report"
            throw RPCError(code: .notFound, message: "task_id: no report for burn-in \(task.id): \(why) (\(files.json.path))")
        }
        let report: BurnInReport
        do {
            report = try BurnInReport.decode(data)
        } catch {
            throw RPCError(code: .internalError, message: "\(files.json.path): not a readable burn-in report: \(error)")
        }
        var response = Nodeagent_V1_BurnInReport()
        response.taskID = task.id
        response.verdict = Nodeagent_V1_BurnInVerdict(verdict: report.verdict)
        response.interrupted = report.interrupted
        response.summaryTable = report.summaryTable()
        response.reportJson = String(decoding: data, as: UTF8.self)
        response.reportJsonPath = files.json.path
        response.reportHtmlPath = files.html.path
        return response
    }

    /// A task by id or by the request id it was created with.
    private func find(_ id: String) throws(RPCError) -> TaskRecord {
        guard !id.isEmpty else { throw RPCStatusMapping.invalid("task_id", "required: a task id or request id") }
        try RequestCheck.printable(id, field: "task_id", max: 128)
        if let record = try store({ () throws(StateStoreError) in try core.tasks.get(id) }) { return record }
        if let record = try store({ () throws(StateStoreError) in try core.tasks.get(requestID: id) }) { return record }
        throw RPCError(
            code: .notFound, message: "task_id: no task or request \(RequestCheck.quoted(id)) (finished tasks are kept for tasks.retention_hours)")
    }
}

/// What a `StartBurnInRequest` asks for, checked field by field: the profile, where the probes
/// run, and the baseline. The same checks run at submission (INVALID_ARGUMENT) and when the task
/// starts (the task's input is the request).
struct BurnInPlan: Sendable {
    /// Every burn-in acts on the whole host: one at a time.
    static let target = "host"
    /// The largest inline profile accepted.
    static let maximumProfileBytes = 64 * 1024
    static let runner = BurnInRunner(probes: BurnInProbes.all)

    var profile: BurnInProfile
    var context: BurnInContext
    var baselinePath: String?

    init(_ request: Nodeagent_V1_StartBurnInRequest) throws(RPCError) {
        switch request.profile {
        case nil:
            throw RPCStatusMapping.invalid(
                "profile",
                "required: profile_name (a built-in profile: \(Self.builtInNames)) or profile_toml (a profile as TOML text, docs/BURNIN.md)")
        case .profileName(let name)?:
            guard BurnInProfile.builtIn[name] != nil else {
                throw RPCStatusMapping.invalid(
                    "profile_name", "not a built-in profile (\(Self.builtInNames)); send your own as profile_toml (got \(RequestCheck.quoted(name)))")
            }
            do {
                profile = try BurnInProfile.load(name)
            } catch {
                throw RPCStatusMapping.invalid("profile_name", error.key.map { "\($0): \(error.reason)" } ?? error.reason)
            }
        case .profileToml(let text)?:
            guard text.utf8.count <= Self.maximumProfileBytes else {
                throw RPCStatusMapping.invalid("profile_toml", "longer than \(Self.maximumProfileBytes) bytes (\(text.utf8.count))")
            }
            do {
                profile = try BurnInProfile.parse(text, source: "profile_toml")
            } catch {
                throw RPCStatusMapping.invalid("profile_toml", error.key.map { "\($0): \(error.reason)" } ?? error.reason)
            }
        }
        var context = BurnInContext(force: request.force)
        if !request.diskTarget.isEmpty {
            try RequestCheck.printable(request.diskTarget, field: "disk_target", max: 4096)
            guard request.diskTarget.hasPrefix("/") else {
                throw RPCStatusMapping.invalid(
                    "disk_target", "must be an absolute path on the agent's host (got \(RequestCheck.quoted(request.diskTarget)))")
            }
            context.diskTarget = request.diskTarget
        }
        if !request.networkServer.isEmpty {
            try RequestCheck.printable(request.networkServer, field: "network_server", max: 255)
            context.networkPeer = request.networkServer
        }
        self.context = context
        if request.hasBaselinePath {
            let path = request.baselinePath
            try RequestCheck.printable(path, field: "baseline_path", max: 4096)
            guard path.hasPrefix("/") else {
                throw RPCStatusMapping.invalid(
                    "baseline_path", "must be an absolute path on the agent's host (got \(RequestCheck.quoted(path)))")
            }
            guard FileManager.default.fileExists(atPath: path) else {
                throw RPCStatusMapping.invalid("baseline_path", "no such file or directory on the agent's host: \(RequestCheck.quoted(path))")
            }
            baselinePath = path
        }
    }

    private static var builtInNames: String { BurnInProfile.builtIn.keys.sorted().joined(separator: ", ") }

    /// A setup problem as the API names it: the request's field for the probes' command-line
    /// inputs (`target` is `disk_target`, `server` is `network_server`), else the profile key.
    static func describe(_ problem: BurnInSetupError, profileField: String = "profile_toml") -> String {
        let field: String
        switch problem.key {
        case "target": field = "disk_target"
        case "server": field = "network_server"
        default: field = "\(profileField): \(problem.key)"
        }
        var reason = problem.reason
        for (flag, name) in [("--target PATH", "disk_target"), ("--server HOST[:PORT]", "network_server"), ("--force", "force")] {
            reason = reason.replacingOccurrences(of: flag, with: name)
        }
        return "\(field): \(reason)"
    }

    /// The fleet medians for `min_baseline_ratio` checks: reports of identical hardware
    /// (`FleetBaseline.peers`).
    func baseline() throws(TaskFailure) -> (medians: [String: Double], note: String) {
        guard let baselinePath else { return ([:], "") }
        let loaded: (reports: [BurnInReport], problems: [String])
        do {
            loaded = try FleetBaseline.load(baselinePath)
        } catch {
            throw TaskFailure(reason: AgentError.Code.invalidArgument.rawValue, message: "baseline_path: \(error)")
        }
        let peers = FleetBaseline.peers(of: HostIdentity.current(), in: loaded.reports)
        var note = "baseline: \(peers.count) of \(loaded.reports.count) report(s) from identical hardware"
        if !loaded.problems.isEmpty { note += "; \(loaded.problems.count) unreadable" }
        return (FleetBaseline.medians(peers), note)
    }
}

extension Nodeagent_V1_BurnInVerdict {
    init(verdict: Verdict) {
        switch verdict {
        case .pass: self = .pass
        case .warn: self = .warn
        case .fail: self = .fail
        // A run's verdict is never SKIP (SKIP alone passes); map it defensively.
        case .skip: self = .pass
        }
    }
}

extension AgentCore {
    /// Where burn-in reports are written: `<agent.state_dir>/burnin`.
    var burnInDirectory: URL {
        URL(fileURLWithPath: config.agent.stateDirectory, isDirectory: true).appendingPathComponent("burnin", isDirectory: true)
            .standardizedFileURL
    }

    /// The report files of one burn-in task.
    func burnInReportFiles(_ taskID: String) -> (json: URL, html: URL) {
        (burnInDirectory.appendingPathComponent("\(taskID).json"), burnInDirectory.appendingPathComponent("\(taskID).html"))
    }

    /// Runs a `burnin.run` task: the profile's probes with progress on the task, then the report
    /// files. A burn-in that ran succeeds whatever its verdict. When the task is cancelled (or
    /// the agent stops) the running probe stops and cleans up, the interrupted report is still
    /// written, and the task manager records the task as cancelled (or stopped).
    func runBurnIn(_ context: TaskContext) async throws -> TaskOutcome {
        let request = try Nodeagent_V1_StartBurnInRequest(serializedBytes: context.task.input)
        let plan: BurnInPlan
        do {
            plan = try BurnInPlan(request)
        } catch {
            throw TaskFailure(reason: AgentError.Code.invalidArgument.rawValue, message: error.message)
        }
        let baseline = try plan.baseline()
        let probes = plan.profile.enabledProbes
        let taskID = context.task.id
        let note = baseline.note.isEmpty ? "" : "; \(baseline.note)"
        logger.info(
            "burn-in starting: profile \(plan.profile.name), probes \(probes.joined(separator: ", "))\(note)",
            metadata: ["task.id": "\(taskID)"])
        await context.progress(0, "starting burn-in \(plan.profile.name): \(probes.joined(separator: ", "))")

        // Probes report from their own threads, often; one forwarder records the latest update at
        // most twice a second, in order, never going backwards. It is a child task: once the task
        // is cancelled it stops, and the task's "cancelling" message stays.
        let (updates, continuation) = AsyncStream.makeStream(of: BurnInProgress.self, bufferingPolicy: .bufferingNewest(1))
        let report = await withTaskGroup(of: Void.self, returning: BurnInReport.self) { group in
            group.addTask {
                var last = 0.0
                for await update in updates where !Task.isCancelled {
                    let (fraction, message) = Self.progress(update, probes: probes)
                    last = max(last, fraction)
                    await context.progress(last, message)
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            let report = await BurnInPlan.runner.run(plan.profile, context: plan.context, baseline: baseline.medians) { update in
                continuation.yield(update)
            }
            continuation.finish()
            await group.waitForAll()
            return report
        }
        if !Task.isCancelled { await context.progress(0.99, "writing the report") }

        let files = burnInReportFiles(taskID)
        do {
            let json = try report.jsonData()
            try LocalFiles.createDirectory(burnInDirectory.path, mode: 0o755)
            try LocalFiles.writeAtomically(json, to: files.json.path)
            try LocalFiles.writeAtomically(Array(report.html().utf8), to: files.html.path)
        } catch {
            logger.error("cannot write the burn-in report: \(error)", metadata: ["task.id": "\(taskID)"])
            throw TaskFailure(
                reason: AgentError.Code.failed.rawValue,
                message: "the burn-in ran (\(report.verdict.rawValue)) but its report could not be written to \(burnInDirectory.path): \(error)")
        }
        let counts = Dictionary(grouping: report.checks, by: \.verdict).mapValues(\.count)
        logger.info(
            "burn-in \(report.interrupted ? "interrupted" : "finished"): \(report.verdict.rawValue); report \(files.json.path)",
            metadata: ["task.id": "\(taskID)"])

        var result = Nodeagent_V1_BurnInResult()
        result.verdict = Nodeagent_V1_BurnInVerdict(verdict: report.verdict)
        result.interrupted = report.interrupted
        result.profile = report.profile
        result.reportJsonPath = files.json.path
        result.reportHtmlPath = files.html.path
        result.checksPassed = UInt32(counts[.pass] ?? 0)
        result.checksWarned = UInt32(counts[.warn] ?? 0)
        result.checksFailed = UInt32(counts[.fail] ?? 0)
        result.checksSkipped = UInt32(counts[.skip] ?? 0)
        let summary =
            "burn-in \(report.profile): \(report.verdict.rawValue)\(report.interrupted ? " (interrupted)" : "") — "
            + "\(result.checksPassed) pass, \(result.checksWarned) warn, \(result.checksFailed) fail, \(result.checksSkipped) skip; "
            + "report \(files.json.path)"
        return try Nodeagent_V1_TaskResult(summary: summary, .burnin(result)).outcome
    }

    /// The task's progress for a probe's: the fraction over the profile's enabled probes (the
    /// last percent is left for writing the report) and "disk seq_write 43% 1.20 GiB/s".
    static func progress(_ update: BurnInProgress, probes: [String]) -> (Double, String) {
        let within = update.fraction.isFinite ? min(max(update.fraction, 0), 1) : 0
        let index = Double(probes.firstIndex(of: update.probe) ?? 0)
        let overall = min((index + within) / Double(max(probes.count, 1)), 0.99)
        var message = "\(update.probe) \(update.step) \(Int((within * 100).rounded(.down)))%"
        if !update.rate.isEmpty { message += " \(update.rate)" }
        return (overall, message)
    }
}
