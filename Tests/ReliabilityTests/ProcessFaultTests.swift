import AgentAPI
import Foundation
import GRDB
import GRPCCore
import NodeAgent
import TestSupport
import Testing

/// The agent stopped or refused at awkward moments, on libvirt's test driver (RELIABILITY.md,
/// "Faults"; the same with real guests is in IntegrationTests/ReliabilityFaultTests.swift).
@Suite("faults: stops and damaged state", .serialized)
struct ProcessFaultTests {
    /// SIGTERM while a burn-in runs: the agent stops within tasks.drain_timeout plus the
    /// probe's cancellation, the task is FAILED with reason agent-stopped (a burn-in is not
    /// repeated behind the controller's back), the interrupted report is kept, and the next
    /// start leaves it so.
    @Test func sigtermDuringABurnInEndsItRecordedAndReported() async throws {
        try await withTemporaryDirectory("sigterm-burnin") { dir in
            let agent = try await AgentProcess(directory: dir.path, config: "[tasks]\ndrain_timeout = 1\n")
            defer { agent.stop() }
            let task = try await agent.client { client in
                var request = Nodeagent_V1_StartBurnInRequest()
                request.requestID = requestID("burnin-sigterm")
                request.profileToml = "name = \"long\"\n\n[cpu]\nduration = 120\n"
                let task = try await client.burnin.start(request)
                try await waitUntil("the burn-in runs its cpu probe", timeout: .seconds(60)) {
                    let now = try await client.tasks.get(getTask(task.id))
                    return now.state == .running && now.message.hasPrefix("cpu")
                }
                return task
            }
            let clock = ContinuousClock()
            let began = clock.now
            #expect(agent.stop() == 0, "exit status after SIGTERM; log:\n\(agent.log.suffix(2000))")
            let took = clock.now - began
            #expect(took < .seconds(30), "the stop took \(took)")
            try agent.start()
            try await agent.ready()
            try await agent.client { client in
                let ended = try await client.tasks.get(getTask(task.id))
                #expect(ended.state == .failed && ended.error.reason == "agent-stopped", "\(ended)")
                var report = Nodeagent_V1_GetBurnInReportRequest()
                report.taskID = task.id
                let kept = try await client.burnin.getReport(report)
                #expect(kept.interrupted, "the interrupted report was written: \(kept.summaryTable)")
            }
        }
    }

    /// `nodeagent serve` on a state directory whose database is damaged or foreign: exit 74 with
    /// the file and the reason, and the file byte for byte as it was.
    @Test func serveRefusesADamagedDatabaseWithExit74AndLeavesItAlone() async throws {
        try await withTemporaryDirectory("damaged") { dir in
            let state = dir.file("state")
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            let path = state + "/state.sqlite"
            let queue = try DatabaseQueue(path: path)
            try queue.write { db in try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)") }
            try queue.close()
            let before = try #require(FileManager.default.contents(atPath: path))
            let result = try execute(AgentProcess.binary, ["serve", "--state-dir", state, "--socket", dir.file("agent.sock")])
            #expect(result.status == 74, "\(result)")
            #expect(result.stderr.contains("nodeagent: cannot start: state database \(path)"), "\(result.stderr)")
            #expect(result.stderr.contains("another program") && result.stderr.contains("left untouched"), "\(result.stderr)")
            #expect(FileManager.default.contents(atPath: path) == before)
            #expect(!FileManager.default.fileExists(atPath: dir.file("agent.sock")), "nothing was served")
        }
    }

    /// Start-up failures say what and why, with the documented exit codes, never a raw
    /// Foundation error (issue 11, item 10).
    @Test func startUpFailuresSayWhatAndWhyWithTheirExitCodes() async throws {
        try await withTemporaryDirectory("startup") { dir in
            let file = try dir.write("plain-file", "x")
            let cases: [(String, [String], Int32, String)] = [
                ("a configuration path that is a directory", ["--config", dir.path], 65, "cannot read the file: Is a directory"),
                ("a socket whose directory cannot be created", ["--state-dir", dir.file("s1"), "--socket", file + "/agent.sock"], 73,
                    "cannot create the directory \(file): Not a directory"),
                ("a state directory that cannot be created", ["--state-dir", file + "/state", "--socket", dir.file("s2.sock")], 74,
                    "cannot create the state directory \(file)/state"),
            ]
            for (what, arguments, status, message) in cases {
                let result = try execute(AgentProcess.binary, ["serve"] + arguments)
                #expect(result.status == status, "\(what): \(result)")
                let last = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
                #expect(last.hasPrefix("nodeagent: ") && last.contains(message), "\(what): \(result.stderr)")
                #expect(!result.stderr.contains("NSCocoaErrorDomain") && !result.stderr.contains("Error Domain"), "\(what): \(result.stderr)")
            }
            // A second agent on the same socket: 69, and the first one serves on.
            for name in ["first", "holder"] { try FileManager.default.createDirectory(atPath: dir.file(name), withIntermediateDirectories: true) }
            let first = try await AgentProcess(directory: dir.file("first"))
            defer { first.stop() }
            let second = try execute(AgentProcess.binary, ["serve", "--state-dir", dir.file("second"), "--socket", first.socketPath])
            #expect(second.status == 69, "\(second)")
            #expect(second.stderr.contains("another process is listening on it"), "\(second.stderr)")
            #expect(try await first.client { try await $0.node.getHealth(Nodeagent_V1_GetHealthRequest()) }.status == .serving)
            // A TCP address in use: 69 naming the listener and the reason.
            let port = try freeLoopbackPort()
            let holder = try await AgentProcess(directory: dir.file("holder"), arguments: ["--listen", "127.0.0.1:\(port)", "--insecure"])
            defer { holder.stop() }
            let busy = try execute(
                AgentProcess.binary,
                ["serve", "--state-dir", dir.file("busy"), "--socket", dir.file("busy.sock"), "--listen", "127.0.0.1:\(port)", "--insecure"])
            #expect(busy.status == 69, "\(busy)")
            #expect(busy.stderr.contains("cannot listen on tcp:127.0.0.1:\(port)") && busy.stderr.contains("Address already in use"), "\(busy.stderr)")
        }
    }
}
