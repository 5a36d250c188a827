import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import Probes
import Synchronization
import TestSupport
import Testing

/// A burn-in profile small enough for a test: every probe briefly, the network probe without a
/// server (so it is skipped), and checks that must pass on any working machine.
func tinyBurnInProfile(cpuDuration: Double = 2, diskPhaseDuration: Double = 0.5, probes: Set<String>? = nil) -> String {
    var sections: [String: String] = [
        "health": "[health]\n",
        "cpu": "[cpu]\nduration = \(cpuDuration)\n",
        "memory": "[memory]\nbandwidth_passes = 2\narray_size = \"8MiB\"\npattern_size = \"8MiB\"\npattern_pass_limit = 1\n",
        "disk": "[disk]\nsize = \"16MiB\"\nphase_duration = \(diskPhaseDuration)\n",
        "network": "[network]\n",
    ]
    if let probes { sections = sections.filter { probes.contains($0.key) } }
    var text = "name = \"tiny\"\ndescription = \"the daemon's burn-in task tests\"\n\n"
    for probe in BurnInProfile.probeOrder { if let section = sections[probe] { text += section + "\n" } }
    for metric in ["cpu.errors", "memory.pattern.errors", "disk.integrity.errors"] where sections[String(metric.prefix { $0 != "." })] != nil {
        text += "[[check]]\nmetric = \"\(metric)\"\nmax = 0\n\n"
    }
    return text
}

func burnInRequest(
    toml: String, diskTarget: String? = nil, id: String = requestID("burnin")
) -> Nodeagent_V1_StartBurnInRequest {
    var request = Nodeagent_V1_StartBurnInRequest()
    request.requestID = id
    request.profileToml = toml
    if let diskTarget { request.diskTarget = diskTarget }
    return request
}

/// Values recorded from a @Sendable callback.
final class Recorded<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

/// A task that ended when it should still have been running.
struct EndedEarly: Error, CustomStringConvertible {
    var task: Nodeagent_V1_Task
    var description: String { "task \(task.id) ended \(task.state): \(task.error.reason): \(task.error.message)" }
}

struct TookTooLong: Error, CustomStringConvertible {
    var what: String
    var seconds: Int
    var description: String { "\(what) did not happen within \(seconds) s" }
}

/// `body`'s value, or `TookTooLong` after `seconds` (the body is then cancelled).
func within<T: Sendable>(_ seconds: Int, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TookTooLong(what: what, seconds: seconds) }
        return value
    }
}

/// The files in a directory (none if it does not exist).
func files(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// `nodeagent serve` runs burn-ins as `burnin.run` tasks (BurnIn.Start / GetReport): the same
/// probes and report as `nodeagent burnin run`, with progress on the task, cancel, and the
/// report under the state directory.
@Suite("burn-in as a task of nodeagent serve", .serialized)
struct BurnInTaskTests {
    @Test func aTinyBurnInRunsAsATaskWithProgressAndWritesItsReport() async throws {
        try await withTemporaryDirectory("burnin-task") { dir in
            let target = dir.file("disk")
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                let info = try await client.node.getInfo(Nodeagent_V1_GetNodeInfoRequest())
                #expect(info.capabilities.contains("burnin"))
                let submitted = try await client.burnin.start(burnInRequest(toml: tinyBurnInProfile(), diskTarget: target))
                #expect(submitted.kind == "burnin.run" && submitted.queue == "burnin" && submitted.target == "host", "\(submitted)")

                let updates = Recorded<Nodeagent_V1_Task>()
                let done = try await within(600, "the tiny burn-in ends") {
                    try await client.wait(for: submitted) { task in updates.append(task) }
                }
                #expect(done.state == .succeeded, "\(done.error)\n\(agent.log.suffix(3000))")
                #expect(done.progress == 1)
                let seen = updates.all.map { ($0.progress, $0.message) }
                let fractions = seen.map(\.0)
                #expect(fractions == fractions.sorted(), "progress never goes back: \(fractions)")
                #expect(Set(fractions.filter { $0 > 0 && $0 < 1 }).count >= 3, "progress on the way: \(seen)")
                #expect(seen.contains { $0.1.hasPrefix("cpu ") && $0.1.contains("%") }, "messages name probe, step and percent: \(seen.map(\.1))")
                #expect(seen.contains { $0.1.hasPrefix("disk ") }, "\(seen.map(\.1))")

                // The result names the verdict and where the report is.
                guard case .burnin(let result) = done.result.value else {
                    Issue.record("no burn-in result: \(done.result)")
                    return
                }
                let directory = URL(fileURLWithPath: agent.stateDirectory).appendingPathComponent("burnin").standardizedFileURL.path
                #expect(result.reportJsonPath == directory + "/\(done.id).json")
                #expect(result.reportHtmlPath == directory + "/\(done.id).html")
                #expect(result.profile == "tiny" && !result.interrupted && result.checksPassed + result.checksFailed + result.checksWarned + result.checksSkipped >= 3)
                #expect(done.result.summary.contains(result.reportJsonPath), "\(done.result.summary)")

                var get = Nodeagent_V1_GetBurnInReportRequest()
                get.taskID = done.id
                let fetched = try await client.burnin.getReport(get)
                #expect(fetched.taskID == done.id && fetched.verdict == result.verdict && !fetched.interrupted)
                #expect(fetched.reportJsonPath == result.reportJsonPath && fetched.reportHtmlPath == result.reportHtmlPath)
                let report = try BurnInReport.decode(Data(fetched.reportJson.utf8))
                #expect(Nodeagent_V1_BurnInVerdict(rawValue: ["PASS": 1, "WARN": 2, "FAIL": 3][report.verdict.rawValue] ?? 0) == fetched.verdict)
                #expect(report.verdict != .fail, "a working machine passes the tiny profile:\n\(fetched.summaryTable)")
                #expect(report.profile == "tiny" && !report.interrupted)
                #expect(report.probes.map(\.probe) == ["health", "cpu", "memory", "disk", "network"])
                #expect(report.probes.first { $0.probe == "disk" }?.status == .completed, "\(fetched.summaryTable)")
                #expect(report.probes.first { $0.probe == "cpu" }?.status == .completed, "\(fetched.summaryTable)")
                #expect(report.probes.first { $0.probe == "network" }?.status == .skipped, "no server: skipped")
                #expect(fetched.summaryTable.hasPrefix("burn-in tiny on ") && fetched.summaryTable.contains("cpu.errors"), "\(fetched.summaryTable)")
                // The files are there, written whole (no temporary file left), and the same report.
                #expect(files(in: directory) == ["\(done.id).html", "\(done.id).json"])
                let onDisk = try BurnInReport.decode(try Data(contentsOf: URL(fileURLWithPath: result.reportJsonPath)))
                #expect(onDisk == report)
                let html = try String(contentsOfFile: result.reportHtmlPath, encoding: .utf8)
                #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("tiny"))
                // The request id finds the report too.
                get.taskID = submitted.requestID
                #expect(try await client.burnin.getReport(get).taskID == done.id)
            }
            #expect(files(in: target).isEmpty, "the disk probe removed its file: \(files(in: target))")
            #expect(agent.stop() == 0, "log:\n\(agent.log.suffix(3000))")
        }
    }

    @Test func cancellingARunningBurnInStopsTheProbeAndStillWritesTheReport() async throws {
        try await withTemporaryDirectory("burnin-cancel") { dir in
            let target = dir.file("disk")
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let agent = try await AgentProcess(directory: dir.path)
            let directory = URL(fileURLWithPath: agent.stateDirectory).appendingPathComponent("burnin").path
            try await agent.client { client in
                // In the CPU probe (the disk probe after it never starts).
                let cpu = try await client.burnin.start(
                    burnInRequest(toml: tinyBurnInProfile(cpuDuration: 600, probes: ["cpu", "disk"]), diskTarget: target))
                try await cancelWhenRunning(client, cpu, probe: "cpu")
                let cancelled = try await within(180, "the cancelled CPU burn-in ends") { try await client.wait(for: cpu) }
                #expect(cancelled.state == .cancelled && cancelled.error.reason == "cancelled", "\(cancelled)")
                let report = try await interruptedReport(client, cancelled)
                #expect(report.probes.map { "\($0.probe):\($0.status.rawValue)" } == ["cpu:interrupted", "disk:skipped"], "\(report.probes)")

                // In the disk probe, once its file exists: the file is removed.
                let disk = try await client.burnin.start(
                    burnInRequest(toml: tinyBurnInProfile(diskPhaseDuration: 600, probes: ["disk"]), diskTarget: target))
                try await waitUntil("the disk probe created its file", timeout: .seconds(120)) { !files(in: target).isEmpty }
                try await cancelWhenRunning(client, disk, probe: "disk")
                let stopped = try await within(180, "the cancelled disk burn-in ends") { try await client.wait(for: disk) }
                #expect(stopped.state == .cancelled, "\(stopped)")
                let diskReport = try await interruptedReport(client, stopped)
                #expect(diskReport.probes.first?.status == .interrupted, "\(diskReport.probes)")
                #expect(files(in: target).isEmpty, "the interrupted disk probe removed its file: \(files(in: target))")
                #expect(files(in: directory) == ["\(cpu.id).html", "\(cpu.id).json", "\(disk.id).html", "\(disk.id).json"].sorted())

                let health = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                #expect(health.tasksRunning == 0 && health.tasksQueued == 0)
            }
            #expect(agent.stop() == 0, "log:\n\(agent.log.suffix(3000))")
        }
    }

    /// Waits until the task runs `probe`, then cancels it.
    private func cancelWhenRunning(_ client: AgentClient, _ task: Nodeagent_V1_Task, probe: String) async throws {
        var get = Nodeagent_V1_GetTaskRequest()
        get.id = task.id
        try await waitUntil("burn-in \(task.id) runs the \(probe) probe", timeout: .seconds(180), poll: .milliseconds(200)) { [get] in
            let current = try await client.tasks.get(get)
            guard !current.isTerminal else { throw EndedEarly(task: current) }
            return current.state == .running && current.message.hasPrefix("\(probe) ")
        }
        var cancel = Nodeagent_V1_CancelTaskRequest()
        cancel.id = task.id
        let answer = try await client.tasks.cancel(cancel)
        #expect(answer.state == .running || answer.state == .cancelled, "\(answer)")
    }

    /// The report of a cancelled burn-in: written, interrupted, at best WARN.
    private func interruptedReport(_ client: AgentClient, _ task: Nodeagent_V1_Task) async throws -> BurnInReport {
        var get = Nodeagent_V1_GetBurnInReportRequest()
        get.taskID = task.id
        let fetched = try await client.burnin.getReport(get)
        #expect(fetched.interrupted && fetched.verdict != .pass, "\(fetched.summaryTable)")
        #expect(FileManager.default.fileExists(atPath: fetched.reportJsonPath) && FileManager.default.fileExists(atPath: fetched.reportHtmlPath))
        let report = try BurnInReport.decode(Data(fetched.reportJson.utf8))
        #expect(report.interrupted)
        return report
    }

    @Test func aBadProfileIsRefusedNamingTheKeyAndTheAgentKeepsServing() async throws {
        try await withTemporaryDirectory("burnin-invalid") { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                let cases: [(String, Nodeagent_V1_StartBurnInRequest)] = [
                    ("cpu.durtion", burnInRequest(toml: "name = \"typo\"\n[cpu]\ndurtion = 5\n")),
                    ("profile_toml", burnInRequest(toml: "name = \"broken\"\n[cpu\nduration = 5\n")),
                    ("profile_toml: name: required", burnInRequest(toml: "[cpu]\nduration = 5\n")),
                    ("profile_toml: gpu", burnInRequest(toml: "name = \"x\"\n[gpu]\n")),
                    ("profile_toml: check[0].metric", burnInRequest(toml: "name = \"x\"\n[[check]]\nmetric = \"nope\"\nmax = 1\n")),
                    ("cpu.duration", burnInRequest(toml: "name = \"x\"\n[cpu]\nduration = -1\n")),
                    ("memory.pattern_size", burnInRequest(toml: "name = \"x\"\n[memory]\npattern_size = \"900TiB\"\n")),
                    ("disk_target", burnInRequest(toml: tinyBurnInProfile(probes: ["disk"]), diskTarget: "relative/dir")),
                    ("disk_target", burnInRequest(toml: tinyBurnInProfile(probes: ["disk"]), diskTarget: dir.file("no/such/dir/file"))),
                    ("network_server", {
                        var request = burnInRequest(toml: "name = \"x\"\n[network]\n")
                        request.networkServer = "127.0.0.1:99999"
                        return request
                    }()),
                    ("baseline_path", {
                        var request = burnInRequest(toml: tinyBurnInProfile(probes: ["health"]))
                        request.baselinePath = dir.file("no-such-baseline")
                        return request
                    }()),
                    ("profile_name", {
                        var request = burnInRequest(toml: "")
                        request.profileName = "quik"
                        return request
                    }()),
                    ("profile: required", {
                        var request = burnInRequest(toml: "")
                        request.profile = nil
                        return request
                    }()),
                    ("request_id", burnInRequest(toml: tinyBurnInProfile(probes: ["health"]), id: "bad id")),
                ]
                for (field, request) in cases {
                    let error = await rpcError { try await client.burnin.start(request) }
                    #expect(error?.code == .invalidArgument, "\(field): \(String(describing: error))")
                    #expect(error?.message.hasPrefix(field) == true || error?.message.contains(field) == true, "\(field): \(String(describing: error))")
                }
                var list = Nodeagent_V1_ListTasksRequest()
                list.kinds = ["burnin."]
                #expect(try await client.tasks.list(list).tasks.isEmpty, "nothing was submitted")

                // GetReport: unknown task NOT_FOUND, another kind's task NOT_FOUND.
                var get = Nodeagent_V1_GetBurnInReportRequest()
                get.taskID = "no-such-task"
                let unknown = await rpcError { [get] in try await client.burnin.getReport(get) }
                #expect(unknown?.code == .notFound)
                get.taskID = ""
                let empty = await rpcError { [get] in try await client.burnin.getReport(get) }
                #expect(empty?.code == .invalidArgument)
                let define = try await succeed(client) { try await $0.guests.define(defineRequest(testSpec("not-a-burnin"))) }
                get.taskID = define.id
                let other = await rpcError { [get] in try await client.burnin.getReport(get) }
                #expect(other?.code == .notFound && other?.message.contains("guest.define") == true, "\(String(describing: other))")

                let health = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                #expect(health.status == .serving)
            }
            #expect(agent.pid != nil, "the agent is still running")
        }
    }

    @Test func aRepeatedStartReturnsTheSameTaskAndBurnInsRunOneAtATime() async throws {
        try await withTemporaryDirectory("burnin-repeat") { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                let id = requestID("burnin-once")
                let request = burnInRequest(toml: tinyBurnInProfile(cpuDuration: 3, probes: ["cpu"]), id: id)
                let first = try await client.burnin.start(request)
                let second = try await client.burnin.start(request)
                #expect(second.id == first.id)
                // Another burn-in waits for the host: same target, one at a time.
                let other = try await client.burnin.start(burnInRequest(toml: tinyBurnInProfile(probes: ["health"])))
                #expect(other.id != first.id && other.target == "host")
                // GetReport while it is not finished: FAILED_PRECONDITION.
                var get = Nodeagent_V1_GetBurnInReportRequest()
                get.taskID = other.id
                let early = await rpcError { [get] in try await client.burnin.getReport(get) }
                #expect(early?.code == .failedPrecondition, "\(String(describing: early))")
                // The same id for another request is refused.
                var changed = request
                changed.force = true
                let reused = await rpcError { [changed] in try await client.burnin.start(changed) }
                #expect(reused?.code == .alreadyExists && reused?.message.contains(id) == true, "\(String(describing: reused))")

                let done = try await within(300, "the first burn-in ends") { try await client.wait(for: first) }
                let next = try await within(300, "the second burn-in ends") { try await client.wait(for: other) }
                #expect(done.state == .succeeded && next.state == .succeeded, "\(done.error) \(next.error)")
                #expect(next.startedAt.date >= done.finishedAt.date, "the second started after the first ended")
                let again = try await client.burnin.start(request)
                #expect(again.id == first.id && again.state == .succeeded && again.result == done.result)
                var list = Nodeagent_V1_ListTasksRequest()
                list.kinds = ["burnin.run"]
                #expect(try await client.tasks.list(list).tasks.count == 2)
            }
        }
    }

    @Test func aBurnInRunningWhenTheAgentDiesIsNotRepeated() async throws {
        try await withTemporaryDirectory("burnin-restart") { dir in
            let agent = try await AgentProcess(directory: dir.path)
            let task = try await agent.client { client in
                let task = try await client.burnin.start(burnInRequest(toml: tinyBurnInProfile(cpuDuration: 600, probes: ["cpu"])))
                var get = Nodeagent_V1_GetTaskRequest()
                get.id = task.id
                try await waitUntil("the burn-in runs", timeout: .seconds(120), poll: .milliseconds(200)) { [get] in
                    try await client.tasks.get(get).message.hasPrefix("cpu ")
                }
                return task
            }
            agent.crash()
            try agent.start()
            try await agent.ready()
            try await agent.client { client in
                var get = Nodeagent_V1_GetTaskRequest()
                get.id = task.id
                let settled = try await client.tasks.get(get)
                #expect(settled.state == .failed && settled.error.reason == "agent-restarted", "\(settled)")
                #expect(settled.error.message.contains("burnin.run is not safe to repeat"), "\(settled.error.message)")
                var report = Nodeagent_V1_GetBurnInReportRequest()
                report.taskID = task.id
                let missing = await rpcError { [report] in try await client.burnin.getReport(report) }
                #expect(missing?.code == .notFound, "\(String(describing: missing))")
                let health = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                #expect(health.tasksRunning == 0, "nothing runs the burn-in again")
            }
            #expect(agent.stop() == 0, "log:\n\(agent.log.suffix(3000))")
        }
    }
}

/// The Python grpcio client runs a burn-in through the agent and fetches its report.
@Suite(
    "Python client: burn-in", .serialized,
    .enabled(if: PythonClient.available || Integration.required, "run examples/python/generate.sh (scripts/test.sh does)"))
struct BurnInPythonClientTests {
    @Test func aPythonControllerRunsABurnInAndFetchesTheReport() async throws {
        try await withTemporaryDirectory("burnin-python") { dir in
            let target = dir.file("disk")
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let profile = try dir.write("tiny.toml", tinyBurnInProfile(cpuDuration: 1, probes: ["cpu", "memory", "disk"]))
            let agent = try await AgentProcess(directory: dir.path)
            let python = PythonClient(socket: agent.socketPath)
            let started = try python.run(["burnin", "start", "--profile", profile, "--disk-target", target, "--request-id", "py-burnin-1"])
            #expect(started.status == 0, "\(started.stderr)")
            #expect(started.json?["kind"] as? String == "burnin.run" && started.json?["state"] as? String == "TASK_STATE_SUCCEEDED", "\(started)")
            let result = (started.json?["result"] as? [String: Any])?["burnin"] as? [String: Any]
            #expect((result?["verdict"] as? String)?.hasPrefix("BURN_IN_VERDICT_") == true, "\(String(describing: result))")
            let taskID = try #require(started.json?["id"] as? String)

            let report = try python.run(["burnin", "report", taskID])
            #expect(report.status == 0, "\(report.stderr)")
            #expect(report.json?["task_id"] as? String == taskID && report.json?["verdict"] as? String == result?["verdict"] as? String)
            let json = try #require(report.json?["report_json"] as? String)
            let decoded = try BurnInReport.decode(Data(json.utf8))
            #expect(decoded.probes.map(\.probe) == ["cpu", "memory", "disk"] && !decoded.interrupted)
            #expect(FileManager.default.fileExists(atPath: report.json?["report_html_path"] as? String ?? "/nonexistent"))
            // The request id finds it too, and a bad profile is INVALID_ARGUMENT (exit 65).
            let byRequest = try python.run(["burnin", "report", "py-burnin-1"])
            #expect(byRequest.json?["task_id"] as? String == taskID)
            let bad = try dir.write("bad.toml", "name = \"bad\"\n[cpu]\ndurtion = 1\n")
            let refused = try python.run(["burnin", "start", "--profile", bad])
            #expect(refused.status == 65 && refused.stderr.contains("cpu.durtion"), "\(refused)")
            #expect(files(in: target).isEmpty)
        }
    }
}

/// `nodeagent burnin submit|report` as an admin runs them against the running agent.
@Suite("nodeagent burnin submit and report")
struct BurnInAgentCLITests {
    @Test func anAdminSubmitsABurnInToTheAgentAndReadsItsReport() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            let disk = dir.file("disk")
            try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
            let profile = try dir.write("tiny.toml", tinyBurnInProfile())
            let submitted = try execute(
                AgentProcess.binary,
                ["burnin", "submit", "--profile", profile, "--target", disk, "--request-id", "cli-burnin", "--socket", agent.socketPath])
            #expect(submitted.status == 0, "\(submitted)")
            #expect(submitted.stdout.contains("burn-in tiny on") && submitted.stdout.contains(": PASS"), "\(submitted.stdout)")
            #expect(submitted.stderr.contains("burnin.run"), "progress on stderr: \(submitted.stderr)")
            #expect(files(in: disk).isEmpty, "the disk probe's file is removed")

            let fetched = try execute(AgentProcess.binary, ["burnin", "report", "cli-burnin", "--json", "--socket", agent.socketPath])
            #expect(fetched.status == 0, "\(fetched)")
            let report = try BurnInReport.decode(Data(fetched.stdout.utf8))
            #expect(report.profile == "tiny" && report.verdict == .pass)
            let missing = try execute(AgentProcess.binary, ["burnin", "report", "no-such-task", "--socket", agent.socketPath])
            #expect(missing.status == 2, "\(missing)")
            let typo = try dir.write("typo.toml", "name = \"t\"\n[memory]\npattern_sise = 1\n")
            let refused = try execute(AgentProcess.binary, ["burnin", "submit", "--profile", typo, "--socket", agent.socketPath])
            #expect(refused.status == 65 && refused.stderr.contains("memory.pattern_sise"), "\(refused)")
        }
    }
}

/// `[burnin] net_server_listen`: a node's burn-in measures its network against another node's
/// running agent.
@Suite("the agent serves network probes")
struct AgentNetServerTests {
    @Test func aBurnInMeasuresTheNetworkAgainstARunningAgent() async throws {
        try await withTemporaryDirectory { dir in
            let port = try freeLoopbackPort()
            let agent = try await AgentProcess(directory: dir.path, config: "[burnin]\nnet_server_listen = \"127.0.0.1:\(port)\"\nnet_server_max_streams = 4\n")
            #expect(agent.log.contains("serving network probes on 127.0.0.1:\(port)"), "\(agent.log)")
            let profile = try dir.write(
                "net.toml",
                "name = \"net\"\n[network]\nduration = 0.5\nstreams = 2\nrtt_duration = 0.3\n[[check]]\nmetric = \"network.tcp.throughput\"\nmin = 1000\n")
            let run = try execute(
                AgentProcess.binary, ["burnin", "run", "--profile", profile, "--server", "127.0.0.1:\(port)", "--output", dir.file("net"), "--quiet"])
            #expect(run.status == 0, "\(run)")
            let report = try BurnInReport.decode(try Data(contentsOf: URL(fileURLWithPath: dir.file("net.json"))))
            let network = try #require(report.probes.first)
            #expect(network.status == .completed && network.reason.contains("127.0.0.1:\(port)"), "\(network.reason)")
            #expect((network.measurement("network.tcp.throughput")?.value ?? 0) > 0)
            try await waitUntil("the agent logs the tests it served") { agent.log.contains("net-server:") }

            // Its limits hold: more streams than net_server_max_streams are refused.
            let greedy = try dir.write("greedy.toml", "name = \"g\"\n[network]\nduration = 0.5\nstreams = 8\nrtt = false\n")
            let refused = try execute(
                AgentProcess.binary, ["burnin", "run", "--profile", greedy, "--server", "127.0.0.1:\(port)", "--output", dir.file("g"), "--quiet"])
            #expect(refused.status == 1 && refused.stdout.contains("probe:network"), "\(refused)")

            // The port is held by the agent: a second agent with the same setting does not start.
            let second = try execute(
                AgentProcess.binary,
                ["serve", "--state-dir", dir.file("s2"), "--socket", dir.file("s2.sock"), "--config", dir.file("nodeagent.toml")])
            #expect(second.status != 0 && second.stderr.contains("burnin.net_server_listen 127.0.0.1:\(port)"), "\(second)")
        }
    }
}
