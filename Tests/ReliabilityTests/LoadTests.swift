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

    @Test func aThousandCallersShareOneConnectionForAMinute() async throws {
        try await withLoadAgent { agent in
            let result = try await agent.client { client in
                try await Load.run(callers: 1000, for: .seconds(Self.seconds)) { _ in client }
            }
            result.report("1000 callers, one shared connection", agent: agent)
            #expect(result.errors.isEmpty, "\(result.errors)")
            #expect(result.reads.count > 1000 && result.writes.count > 50)
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

    /// 10,000 calls one after another: the agent's memory settles and stays (growth under 5%
    /// from the 1,000th call to the 11,000th).
    @Test func tenThousandSequentialCallsDoNotGrowTheAgentsMemory() async throws {
        try await withLoadAgent { agent in
            let pid = try #require(agent.pid)
            try await agent.client { client in
                var get = Nodeagent_V1_GetGuestRequest()
                get.guest = "load-0"
                for _ in 0..<1000 { _ = try await client.guests.get(get) }
                let before = try ProcessMemory(pid: pid)
                for index in 0..<10_000 {
                    switch index % 4 {
                    case 0: _ = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                    case 1: _ = try await client.guests.get(get)
                    case 2: _ = try await client.guests.list(Nodeagent_V1_ListGuestsRequest())
                    default: _ = try await client.tasks.list(Nodeagent_V1_ListTasksRequest())
                    }
                }
                let after = try ProcessMemory(pid: pid)
                let growth = Double(after.rss - before.rss) / Double(before.rss)
                print(
                    "[load] 10000 sequential calls: VmRSS \(before.rss >> 10) -> \(after.rss >> 10) KiB (\(String(format: "%+.1f", growth * 100))%), "
                        + "RssAnon \(before.anonymous >> 10) -> \(after.anonymous >> 10) KiB")
                #expect(growth < 0.05, "VmRSS grew \(String(format: "%.1f", growth * 100))%: \(before) -> \(after)")
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

    /// Runs `callers` loops for `duration`, each with the client `client(index)` gives.
    static func run(callers: Int, for duration: Duration, client: @escaping @Sendable (Int) -> AgentClient) async throws -> Result {
        let deadline = ContinuousClock.now + duration
        return await withTaskGroup(of: Result.self) { group in
            for index in 0..<callers {
                group.addTask { await loop(index, client(index), until: deadline) }
            }
            return await group.reduce(into: Result()) { $0.merge($1) }
        }
    }

    /// The same, each caller with its own connection (opened as the loops start: a burst too).
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
                    _ = try await client.guests.setProtection(protect)
                    result.writes.append(ContinuousClock.now - start)
                } else {
                    switch step % 4 {
                    case 0: _ = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                    case 1: _ = try await client.guests.get(get)
                    case 2: _ = try await client.guests.list(Nodeagent_V1_ListGuestsRequest())
                    default: _ = try await client.tasks.list(Nodeagent_V1_ListTasksRequest())
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
