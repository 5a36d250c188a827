/// The command line of `cgroup-bench`:
///
///     cgroup-bench --root ROOT --group GROUP [--repeat N] [--warmup N] [--mode MODE]... FILE...
///
/// ROOT is the hierarchy's root (a cgroup2 mount, or a directory laid out like one), GROUP the
/// benchmark's group beneath it; every group below GROUP (not GROUP itself) has its FILEs read.
/// `--mode` picks modes to run (default: all; one mode alone suits a profiler).
struct BenchOptions {
    var root = ""
    var group = ""
    var repeatCount = 5
    var warmupCount = 1
    var files: [String] = []
    var modes: [BenchMode] = BenchMode.allCases

    static let usage =
        "usage: cgroup-bench --root ROOT --group GROUP [--repeat N] [--warmup N] [--mode read|walk+read|walk+parse]... FILE..."

    /// Parses `arguments` (without the program name); a `UsageError` says what is wrong.
    init(arguments: [String]) throws(UsageError) {
        var rest = arguments[...]
        var chosen: [BenchMode] = []
        while let argument = rest.popFirst() {
            switch argument {
            case "--root": root = try Self.value(of: argument, from: &rest)
            case "--group": group = try Self.value(of: argument, from: &rest)
            case "--repeat": repeatCount = try Self.count(of: argument, from: &rest, minimum: 1)
            case "--warmup": warmupCount = try Self.count(of: argument, from: &rest, minimum: 0)
            case "--mode":
                let name = try Self.value(of: argument, from: &rest)
                guard let mode = BenchMode(rawValue: name) else {
                    throw UsageError(message: "unknown mode \(name)\n\(Self.usage)")
                }
                chosen.append(mode)
            case "-h", "--help": throw UsageError(message: Self.usage)
            default:
                if argument.hasPrefix("--") { throw UsageError(message: "unknown option \(argument)\n\(Self.usage)") }
                files.append(argument)
            }
        }
        if root.isEmpty || group.isEmpty || files.isEmpty { throw UsageError(message: Self.usage) }
        if !chosen.isEmpty { modes = chosen }
    }

    private static func value(of option: String, from rest: inout ArraySlice<String>) throws(UsageError) -> String {
        guard let value = rest.popFirst() else { throw UsageError(message: "\(option) needs a value\n\(usage)") }
        return value
    }

    private static func count(of option: String, from rest: inout ArraySlice<String>, minimum: Int) throws(UsageError) -> Int {
        let text = try value(of: option, from: &rest)
        guard let count = Int(text), count >= minimum else {
            throw UsageError(message: "\(option) needs a whole number >= \(minimum), not \"\(text)\"")
        }
        return count
    }
}

/// What a timed pass covers (see main.swift).
enum BenchMode: String, CaseIterable {
    case read
    case walkRead = "walk+read"
    case walkParse = "walk+parse"
}

/// A command line that cannot be run, with what to say about it.
struct UsageError: Error {
    var message: String
}
