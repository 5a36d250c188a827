import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import Synchronization
import TestSupport
import Testing

/// The agent under many clients (RELIABILITY.md, "Load"): 1,000 concurrent callers for a minute
/// on one shared HTTP/2 connection and on 1,000 connections of their own, bursts of clients
/// connecting at once, and the memory over 10,000 sequential calls. No error is allowed; the
/// figures (latency percentiles of reads and writes, memory) are printed as `[load]` lines.
/// `NODEAGENT_LOAD_SECONDS` shortens or lengthens the minute (CI runs the minute).
@Suite("load: a thousand clients, bursts, memory", .serialized)
struct LoadTests {
    static var seconds: Int { Int(ProcessInfo.processInfo.environment["NODEAGENT_LOAD_SECONDS"] ?? "") ?? 60 }

    /// 1,000 callers multiplexed on one HTTP/2 connection by grpcio's asyncio client (a Python
    /// controller's; scripts/reliability/load.py): calls beyond the advertised stream limit wait
    /// on the client's side, and none fails. (grpc-swift's client, in this test process, stalled
    /// here after some tens of seconds with the agent idle: see docs/RELIABILITY.md.)
    @Test(.enabled(if: PythonClient.available, "needs python3 with grpcio and the generated modules: run scripts/test.sh"))
    func aThousandCallersShareOneConnectionForAMinute() async throws {
        try await withLoadAgent { agent in
            let output = agent.directory + "/load.json"
            let socketPath = agent.socketPath
            let run = Task.detached {
                try execute(
                    "/usr/bin/env",
                    [
                        "python3", Integration.repositoryRoot.appendingPathComponent("scripts/reliability/load.py").path,
                        "--socket", socketPath, "--callers", "1000", "--seconds", "\(Self.seconds)", "--json", output,
                    ])
            }
            // The agent's memory a third of the way through (past the warm-up: a thousand
            // streams' buffers) and at the end.
            try await Task.sleep(for: .seconds(Self.seconds / 3))
            let middle = agent.pid.flatMap { try? ProcessMemory(pid: $0) }
            let result = try await run.value
            let memory = agent.pid.flatMap { try? ProcessMemory(pid: $0) }
            print("[load] 1000 callers, one shared connection (grpcio), \(Self.seconds) s: \(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)); agent \(memory.map { "\($0)" } ?? "?") at the end")
            #expect(result.status == 0, "errors: \(result.stdout) \(result.stderr.suffix(2000))")
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any]
            let reads = (summary?["reads"] as? [String: Any])?["calls"] as? Int ?? 0
            let writes = (summary?["writes"] as? [String: Any])?["calls"] as? Int ?? 0
            #expect(reads > 1000 && writes > 50, "\(String(describing: summary))")
            // Memory under steady load stays flat. grpcio puts a deadline on every call, and
            // grpc-swift's own deadline kept ~1.7 KB per call for the deadline's 60 s: a release
            // agent had 163 MB of anonymous memory by the end of this test, a debug one (slower)
            // 48 MB, 23 MB of it gained after the first third. Now 24 MB, 3 MB after the first
            // third (tasks and events written).
            if let middle, let memory {
                let growth = memory.anonymous - middle.anonymous
                print("[load] anonymous memory \(middle.anonymous >> 10) KiB a third of the way, \(memory.anonymous >> 10) KiB at the end")
                #expect(growth < 8 << 20, "the agent's anonymous memory grew \(growth >> 10) KiB under steady load: \(middle) -> \(memory)")
                #expect(memory.anonymous < 80 << 20, "the agent's anonymous memory under load: \(memory)")
            }
        }
    }

    @Test func aThousandClientsEachWithItsOwnConnectionForAMinute() async throws {
        try await withLoadAgent { agent in
            let result = try await Load.run(callers: 1000, for: .seconds(Self.seconds), connectionPerCaller: agent.endpoint)
            result.report("1000 clients, a connection each", agent: agent)
            #expect(result.errors.isEmpty, "\(result.errors)")
            #expect(result.reads.count > 1000)
        }
    }

    /// Waves of clients connecting at the same instant, each making one call: with the listen
    /// backlog at NIO's default of 128, 200 clients at once got UNAVAILABLE by the thousand.
    @Test func burstsOfClientsConnectingAtOnceAllGetAnswers() async throws {
        try await withLoadAgent { agent in
            var failures: [String: Int] = [:]
            var answered = 0
            for _ in 0..<5 {
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for _ in 0..<500 {
                        group.addTask {
                            do {
                                _ = try await AgentClient.with(agent.endpoint) { try await $0.node.getHealth(Nodeagent_V1_GetHealthRequest()) }
                                return "OK"
                            } catch let error as RPCError {
                                return "\(error.code): \(error.message.prefix(80))"
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                    return await group.reduce(into: [String]()) { $0.append($1) }
                }
                answered += outcomes.filter { $0 == "OK" }.count
                for outcome in outcomes where outcome != "OK" { failures[outcome, default: 0] += 1 }
            }
            print("[load] bursts: 5 waves of 500 clients connecting at once: \(answered) answered, failures \(failures)")
            #expect(failures.isEmpty && answered == 2500, "\(failures)")
        }
    }

    /// 10,000 calls one after another, each with a 60 s deadline as controllers set them: the
    /// agent's memory settles and stays (growth under 5% from the 1,000th call to the 11,000th,
    /// of the whole and of the anonymous memory alone, which the start-up pages handed back
    /// meanwhile cannot hide). grpc-swift's own deadline kept about 1.7 KB per call for the
    /// deadline's 60 s (`StreamGuard`).
    @Test func tenThousandSequentialCallsDoNotGrowTheAgentsMemory() async throws {
        try await withLoadAgent { agent in
            let pid = try #require(agent.pid)
            try await agent.client { client in
                var options = CallOptions.defaults
                options.timeout = .seconds(60)
                var get = Nodeagent_V1_GetGuestRequest()
                get.guest = "load-0"
                for _ in 0..<1000 { _ = try await client.guests.get(get, options: options) }
                let before = try ProcessMemory(pid: pid)
                for index in 0..<10_000 {
                    switch index % 4 {
                    case 0: _ = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest(), options: options)
                    case 1: _ = try await client.guests.get(get, options: options)
                    case 2: _ = try await client.guests.list(Nodeagent_V1_ListGuestsRequest(), options: options)
                    default: _ = try await client.tasks.list(Nodeagent_V1_ListTasksRequest(), options: options)
                    }
                }
                let after = try ProcessMemory(pid: pid)
                let growth = Double(after.rss - before.rss) / Double(before.rss)
                let anonymousGrowth = Double(after.anonymous - before.anonymous) / Double(before.anonymous)
                print(
                    "[load] 10000 sequential calls: VmRSS \(before.rss >> 10) -> \(after.rss >> 10) KiB (\(String(format: "%+.1f", growth * 100))%), "
                        + "RssAnon \(before.anonymous >> 10) -> \(after.anonymous >> 10) KiB (\(String(format: "%+.1f", anonymousGrowth * 100))%)")
                #expect(growth < 0.05, "VmRSS grew \(String(format: "%.1f", growth * 100))%: \(before) -> \(after)")
                #expect(anonymousGrowth < 0.05, "RssAnon grew \(String(format: "%.1f", anonymousGrowth * 100))%: \(before) -> \(after)")

                // Quiet for 30 s after the calls, the agent hands back the file pages they
                // touched (its code, gRPC's, NIO's): the memory returns toward its resting size.
                // Counted: the clean private pages (pages of libraries this test process maps
                // too are shared, which the kernel does not page out).
                let touched = try ProcessMemory.privateClean(pid: pid)
                let started = ContinuousClock.now
                var now = touched
                while now > touched / 2 && ContinuousClock.now - started < .seconds(120) {
                    try await Task.sleep(for: .seconds(1))
                    now = try ProcessMemory.privateClean(pid: pid)
                }
                print("[load] quiet after the calls: clean private pages \(touched >> 10) -> \(now >> 10) KiB in \(ContinuousClock.now - started); \(try ProcessMemory(pid: pid))")
                #expect(now <= touched / 2, "the pages the calls touched were not handed back: \(touched >> 10) -> \(now >> 10) KiB")
            }
        }
    }

    /// An agent on the test driver with 20 guests of its own to read and change.
    func withLoadAgent(_ body: (AgentProcess) async throws -> Void) async throws {
        try await withTemporaryDirectory("load") { dir in
            let agent = try await AgentProcess(directory: dir.path, arguments: ["--log-level", "warning"])
            defer { agent.stop() }
            try await agent.client { client in
                for index in 0..<20 { try await succeed(client) { try await $0.guests.define(defineRequest(testSpec("load-\(index)"))) } }
            }
            try await body(agent)
            #expect(agent.pid != nil && waitpid(agent.pid!, nil, WNOHANG) == 0, "the agent is still running")
        }
    }
}

/// The memory of a process from /proc/PID/status.
struct ProcessMemory: CustomStringConvertible {
    var rss: Int
    var anonymous: Int

    init(pid: pid_t) throws {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func field(_ name: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
                return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) << 10
            }
            return 0
        }
        rss = field("VmRSS")
        anonymous = field("RssAnon")
    }

    var description: String { "VmRSS \(rss >> 10) KiB, RssAnon \(anonymous >> 10) KiB" }

    /// Private_Clean of /proc/PID/smaps_rollup, in bytes: file pages only this process maps.
    static func privateClean(pid: pid_t) throws -> Int {
        let rollup = try String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8)
        for line in rollup.split(separator: "\n") where line.hasPrefix("Private_Clean:") {
            return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) << 10
        }
        return 0
    }
}

/// Many callers in a loop for a while: reads (health, get, list guests, list tasks) and, one
/// caller in twenty, writes (protection toggles of the load guests, each a task).
enum Load {
    struct Result: Sendable {
        var reads: [Duration] = []
        var writes: [Duration] = []
        var errors: [String: Int] = [:]

        mutating func merge(_ other: Result) {
            reads += other.reads
            writes += other.writes
            errors.merge(other.errors, uniquingKeysWith: +)
        }

        func report(_ label: String, agent: AgentProcess) {
            let memory = agent.pid.flatMap { try? ProcessMemory(pid: $0) }
            print(
                "[load] \(label), \(LoadTests.seconds) s: \(reads.count) reads p50 \(Self.ms(reads, 0.5)) p99 \(Self.ms(reads, 0.99)), "
                    + "\(writes.count) writes p50 \(Self.ms(writes, 0.5)) p99 \(Self.ms(writes, 0.99)); errors \(errors); "
                    + "agent \(memory.map { "\($0)" } ?? "?") at the end")
        }

        static func ms(_ values: [Duration], _ quantile: Double) -> String {
            guard !values.isEmpty else { return "-" }
            let sorted = values.sorted()
            let value = sorted[min(sorted.count - 1, Int(Double(sorted.count) * quantile))]
            return String(format: "%.2f ms", Double(value.components.attoseconds) / 1e15 + Double(value.components.seconds) * 1000)
        }
    }

    /// Runs `callers` loops for `duration`, each caller with its own connection (opened as the
    /// loops start: a burst too).
    static func run(callers: Int, for duration: Duration, connectionPerCaller endpoint: AgentEndpoint) async throws -> Result {
        let deadline = ContinuousClock.now + duration
        return await withTaskGroup(of: Result.self) { group in
            for index in 0..<callers {
                group.addTask {
                    do {
                        return try await AgentClient.with(endpoint) { client in await loop(index, client, until: deadline) }
                    } catch {
                        return Result(errors: ["connect: \(error)": 1])
                    }
                }
            }
            return await group.reduce(into: Result()) { $0.merge($1) }
        }
    }

    private static func loop(_ index: Int, _ client: AgentClient, until deadline: ContinuousClock.Instant) async -> Result {
        var result = Result()
        // A deadline on every call: a stall shows as DEADLINE_EXCEEDED, never as a hung test.
        var options = CallOptions.defaults
        options.timeout = .seconds(60)
        let writer = index % 20 == 0
        var get = Nodeagent_V1_GetGuestRequest()
        get.guest = "load-\(index % 20)"
        var step = index
        while ContinuousClock.now < deadline {
            step += 1
            let start = ContinuousClock.now
            do {
                if writer {
                    var protect = Nodeagent_V1_SetProtectionRequest()
                    protect.requestID = requestID("load")
                    protect.guest = "load-\(index % 20)"
                    protect.protected = step.isMultiple(of: 2)
                    _ = try await client.guests.setProtection(protect, options: options)
                    result.writes.append(ContinuousClock.now - start)
                } else {
                    switch step % 4 {
                    case 0: _ = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest(), options: options)
                    case 1: _ = try await client.guests.get(get, options: options)
                    case 2: _ = try await client.guests.list(Nodeagent_V1_ListGuestsRequest(), options: options)
                    default: _ = try await client.tasks.list(Nodeagent_V1_ListTasksRequest(), options: options)
                    }
                    result.reads.append(ContinuousClock.now - start)
                }
            } catch let error as RPCError {
                result.errors["\(error.code): \(error.message.prefix(100))", default: 0] += 1
            } catch {
                result.errors["\(error)", default: 0] += 1
            }
        }
        return result
    }
}
