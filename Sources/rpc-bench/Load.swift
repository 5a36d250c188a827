import AgentAPI
import Glibc
import GRPCCore
import GRPCNIOTransportHTTP2
import NodeAgent
import Synchronization

typealias Transport = HTTP2ClientTransport.Posix

/// The stubs over one client (one HTTP/2 connection).
struct Stubs: Sendable {
    let node: Nodeagent_V1_Node.Client<Transport>
    let guests: Nodeagent_V1_Guests.Client<Transport>
    let tasks: Nodeagent_V1_Tasks.Client<Transport>

    init(_ client: GRPCClient<Transport>) {
        node = .init(wrapping: client)
        guests = .init(wrapping: client)
        tasks = .init(wrapping: client)
    }
}

/// Opens `count` clients to `endpoint`, each with its own connection (the transport the CLI
/// uses: `AgentEndpoint.transport()`), runs `body` with their stubs, and closes them.
func withClients<Result: Sendable>(
    _ endpoint: AgentEndpoint, count: Int, _ body: ([Stubs]) async throws -> Result
) async throws -> Result {
    try await withClients(endpoint, count: count, opened: [], body)
}

private func withClients<Result: Sendable>(
    _ endpoint: AgentEndpoint, count: Int, opened: [Stubs], _ body: ([Stubs]) async throws -> Result
) async throws -> Result {
    if opened.count == count { return try await body(opened) }
    return try await withGRPCClient(transport: try endpoint.transport()) { client in
        try await withClients(endpoint, count: count, opened: opened + [Stubs(client)], body)
    }
}

/// The call under test, with its request built once.
struct CallPlan: Sendable {
    let call: BenchCall
    let guest: String
    private let getRequest: Nodeagent_V1_GetGuestRequest
    private let writes = Ticket()

    init(call: BenchCall, guest: String) {
        self.call = call
        self.guest = guest
        var request = Nodeagent_V1_GetGuestRequest()
        request.guest = call == .refused ? "" : guest
        getRequest = request
    }

    /// One call; throws on any answer but the expected one.
    func perform(_ stubs: Stubs, options: CallOptions = .defaults) async throws {
        switch call {
        case .health:
            let _: Nodeagent_V1_Health = try await stubs.node.getHealth(Nodeagent_V1_GetHealthRequest(), options: options)
        case .getGuest:
            let _: Nodeagent_V1_Guest = try await stubs.guests.get(getRequest, options: options)
        case .listGuests:
            let _: Nodeagent_V1_ListGuestsResponse = try await stubs.guests.list(Nodeagent_V1_ListGuestsRequest(), options: options)
        case .listTasks:
            let _: Nodeagent_V1_ListTasksResponse = try await stubs.tasks.list(Nodeagent_V1_ListTasksRequest(), options: options)
        case .refused:
            do {
                let _: Nodeagent_V1_Guest = try await stubs.guests.get(getRequest, options: options)
            } catch let error as RPCError where error.code == .invalidArgument {
                return
            }
            throw BenchFailure(message: "Guests/Get with an empty name was answered OK; expected INVALID_ARGUMENT")
        case .write:
            let number = writes.take()
            var request = Nodeagent_V1_SetProtectionRequest()
            request.requestID = "bench-\(processIdentifier)-\(number)"
            request.guest = guest
            request.protected = number % 2 == 0
            let _: Nodeagent_V1_Task = try await stubs.guests.setProtection(request, options: options)
        }
    }

    /// One call with a deadline, describing the answer (checks that the server is there and
    /// answers what the benchmark expects before anything is timed).
    func probe(_ stubs: Stubs) async throws -> String {
        var options = CallOptions.defaults
        options.timeout = .seconds(15)
        switch call {
        case .health:
            let health: Nodeagent_V1_Health = try await stubs.node.getHealth(Nodeagent_V1_GetHealthRequest(), options: options)
            let checks = health.checks.map { "\($0.name)=\($0.ok ? "ok" : "failing")" }.joined(separator: " ")
            return "status \(health.status), \(health.guests) guest(s), checks: \(checks.isEmpty ? "none" : checks)"
        case .getGuest:
            let guest: Nodeagent_V1_Guest = try await stubs.guests.get(getRequest, options: options)
            return "guest \(guest.name) \(guest.uuid) \(guest.state)"
        case .listGuests:
            let list: Nodeagent_V1_ListGuestsResponse = try await stubs.guests.list(Nodeagent_V1_ListGuestsRequest(), options: options)
            return "\(list.guests.count) guest(s): \(list.guests.map(\.name).joined(separator: ", "))"
        case .listTasks:
            let list: Nodeagent_V1_ListTasksResponse = try await stubs.tasks.list(Nodeagent_V1_ListTasksRequest(), options: options)
            return "\(list.tasks.count) task(s), \((try? list.serializedBytes() as [UInt8])?.count ?? 0) bytes"
        case .refused:
            try await perform(stubs, options: options)
            return "INVALID_ARGUMENT as expected"
        case .write:
            try await perform(stubs, options: options)
            return "SetProtection of \(guest) answered with a task"
        }
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// This process's id, for request ids no other run repeats.
let processIdentifier = getpid()

/// Hands out call numbers to the callers.
final class Ticket: Sendable {
    private let next = Atomic<Int>(0)
    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// This process's CPU time so far (user + system, all threads), in nanoseconds.
func processCPUTime() -> Int64 {
    var usage = rusage()
    guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
    func ns(_ t: timeval) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_usec) * 1000 }
    return ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// `total` calls made by `concurrency` callers, caller i through `stubs[i % stubs.count]`, each
/// taking the next call number until none are left. Returns every call's latency in
/// nanoseconds, the wall time of the whole phase and the CPU time this process (the client)
/// spent in it.
func runPhase(
    total: Int, concurrency: Int, stubs: [Stubs], plan: CallPlan
) async throws -> (latencies: [Int64], elapsed: Duration, cpu: Int64) {
    let ticket = Ticket()
    let clock = ContinuousClock()
    let cpuBefore = processCPUTime()
    let start = clock.now
    let latencies = try await withThrowingTaskGroup(of: [Int64].self) { group in
        for caller in 0..<concurrency {
            let mine = stubs[caller % stubs.count]
            group.addTask {
                var latencies: [Int64] = []
                latencies.reserveCapacity(total / concurrency + 1)
                while ticket.take() < total {
                    let before = clock.now
                    try await plan.perform(mine)
                    latencies.append(nanoseconds(before.duration(to: clock.now)))
                }
                return latencies
            }
        }
        var all: [Int64] = []
        all.reserveCapacity(total)
        for try await part in group { all.append(contentsOf: part) }
        return all
    }
    let elapsed = start.duration(to: clock.now)
    return (latencies, elapsed, processCPUTime() - cpuBefore)
}

func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
}

/// The figures of one timed phase.
struct Summary {
    var calls: Int
    var elapsedSeconds: Double
    var p50: Int64
    var p90: Int64
    var p99: Int64
    var max: Int64
    var mean: Double
    /// The client's CPU time per call, nanoseconds.
    var clientCPU: Double

    var throughput: Double { Double(calls) / elapsedSeconds }

    init(latencies: [Int64], elapsed: Duration, cpu: Int64) {
        let sorted = latencies.sorted()
        clientCPU = sorted.isEmpty ? 0 : Double(cpu) / Double(sorted.count)
        calls = sorted.count
        elapsedSeconds = Double(nanoseconds(elapsed)) / 1e9
        p50 = Self.percentile(sorted, 50)
        p90 = Self.percentile(sorted, 90)
        p99 = Self.percentile(sorted, 99)
        max = sorted.last ?? 0
        mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count)
    }

    /// Nearest rank: the smallest value with at least `p` percent of the values at or below it.
    static func percentile(_ sorted: [Int64], _ p: Int) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = (sorted.count * p + 99) / 100
        return sorted[Swift.max(rank, 1) - 1]
    }
}

/// `value` with `digits` decimals (no Foundation).
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int64((abs(value) * scale).rounded())
    let whole = scaled / Int64(scale)
    var text = "\(value < 0 && scaled != 0 ? "-" : "")\(whole)"
    if digits > 0 {
        let fraction = String(scaled % Int64(scale))
        text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
    return text
}

func microseconds(_ ns: Int64) -> String { fixed(Double(ns) / 1000, 1) }
