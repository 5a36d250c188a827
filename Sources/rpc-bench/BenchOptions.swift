import NodeAgent

/// The command line of `rpc-bench`:
///
///     rpc-bench --target unix:PATH|HOST:PORT [--call CALL] [--concurrency N] [--calls N]
///               [--warmup N] [--connections K] [--guest NAME] [--label TEXT] [--json]
///
/// N callers share K clients (default 1: one HTTP/2 connection, the way a controller talks to an
/// agent); caller i uses client i mod K. `--calls` counts timed calls over all callers, `--warmup`
/// untimed calls made the same way before them.
struct BenchOptions {
    var target: AgentEndpoint = .unix(path: "")
    var targetText = ""
    var call: BenchCall = .health
    var concurrency = 1
    var calls = 10_000
    var warmup = 1_000
    var connections = 1
    var guest = "test"
    var label = ""
    var json = false

    static let usage = """
        usage: rpc-bench --target unix:PATH|HOST:PORT [--call health|get-guest|list-guests|list-tasks|refused|write]
                         [--concurrency N] [--calls N] [--warmup N] [--connections K] [--guest NAME]
                         [--label TEXT] [--json]
          health       nodeagent.v1.Node/GetHealth
          get-guest    nodeagent.v1.Guests/Get of --guest (default "test", the test driver's domain)
          list-guests  nodeagent.v1.Guests/List
          list-tasks   nodeagent.v1.Tasks/List (the newest 100 tasks: answers of tens of KB)
          refused      nodeagent.v1.Guests/Get with an empty name: INVALID_ARGUMENT, refused by the
                       server before any work (counted as a success when that is the status)
          write        nodeagent.v1.Guests/SetProtection of --guest (a guest the agent manages),
                       protected on and off, each with a new request_id: a task submitted and
                       stored (the answer is the queued task; the task itself is not waited for)
        """

    /// Parses `arguments` (without the program name); a `UsageError` says what is wrong.
    init(arguments: [String]) throws(UsageError) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--target":
                targetText = try Self.value(of: argument, from: &rest)
                target = try Self.endpoint(targetText)
            case "--call":
                let name = try Self.value(of: argument, from: &rest)
                guard let call = BenchCall(rawValue: name) else {
                    throw UsageError(message: "unknown call \"\(name)\"\n\(Self.usage)")
                }
                self.call = call
            case "--concurrency": concurrency = try Self.count(of: argument, from: &rest, minimum: 1)
            case "--calls": calls = try Self.count(of: argument, from: &rest, minimum: 1)
            case "--warmup": warmup = try Self.count(of: argument, from: &rest, minimum: 0)
            case "--connections": connections = try Self.count(of: argument, from: &rest, minimum: 1)
            case "--guest": guest = try Self.value(of: argument, from: &rest)
            case "--label": label = try Self.value(of: argument, from: &rest)
            case "--json": json = true
            case "-h", "--help": throw UsageError(message: Self.usage)
            default: throw UsageError(message: "unknown argument \(argument)\n\(Self.usage)")
            }
        }
        if targetText.isEmpty { throw UsageError(message: "--target is required\n\(Self.usage)") }
        if connections > concurrency {
            throw UsageError(message: "--connections (\(connections)) must not exceed --concurrency (\(concurrency))")
        }
    }

    /// `unix:PATH`, or `HOST:PORT` / `[V6]:PORT` in plaintext.
    static func endpoint(_ text: String) throws(UsageError) -> AgentEndpoint {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw UsageError(message: "--target unix: needs a path") }
            return .unix(path: path)
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else {
            throw UsageError(message: "--target must be unix:PATH or HOST:PORT (got \"\(text)\")")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw UsageError(message: "--target \(text): no host") }
        return .insecure(host: host, port: port)
    }

    private static func value(of option: String, from rest: inout ArraySlice<String>) throws(UsageError) -> String {
        guard let value = rest.popFirst() else { throw UsageError(message: "\(option) needs a value\n\(usage)") }
        return value
    }

    private static func count(of option: String, from rest: inout ArraySlice<String>, minimum: Int) throws(UsageError) -> Int {
        let text = try value(of: option, from: &rest)
        guard let count = Int(text.filter { $0 != "_" && $0 != "," }), count >= minimum else {
            throw UsageError(message: "\(option) needs a whole number >= \(minimum), not \"\(text)\"")
        }
        return count
    }
}

/// What each call is.
enum BenchCall: String, CaseIterable, Sendable {
    case health
    case getGuest = "get-guest"
    case listGuests = "list-guests"
    case listTasks = "list-tasks"
    case refused
    case write
}

struct UsageError: Error {
    var message: String
}
