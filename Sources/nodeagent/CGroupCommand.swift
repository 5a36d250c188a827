import ArgumentParser
import CGroups
import Foundation
import NodeAgent

struct CGroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cgroup", abstract: "Inspect and manage cgroup v2 groups.",
        discussion: """
            PATH is relative to the hierarchy's root (cgroups.root, or --root; "auto" finds the \
            cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified). cgroup v1 hierarchies are \
            never written.
            """,
        subcommands: [Tree.self, Show.self, Set.self, Create.self, Remove.self, Freeze.self, Thaw.self, Kill.self, Move.self, Watch.self])

    struct Options: ParsableArguments {
        @Option(name: .long, help: "Configuration file (for cgroups.root).") var config: String?
        @Option(name: .long, help: "Root of the cgroup v2 hierarchy; overrides cgroups.root.") var root: String?
        @Flag(name: .long, help: "Print JSON for scripts instead of a table.") var json = false

        func tree() throws -> CGroupTree {
            let configured: String
            do {
                configured = try AgentConfig.load(path: config).cgroups.root
            } catch {
                throw CLIError(.invalidInput, "configuration: \(error)")
            }
            let root = self.root ?? configured
            return try cgroupCall { () throws(CGroupError) in
                root == "auto" ? try CGroupTree.detect() : try CGroupTree.open(root: root)
            }
        }

        func group(_ path: String, in tree: CGroupTree, mustExist: Bool = true) throws -> CGroup {
            let group = try cgroupCall { () throws(CGroupError) in try tree.group(path) }
            if mustExist, try !cgroupCall({ () throws(CGroupError) in try group.exists }) {
                throw CLIError(.notFound, "no cgroup \(path.isEmpty ? "/" : path) under \(tree.rootPath)")
            }
            return group
        }
    }

    struct Tree: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a subtree with CPU, memory, pids and pressure per group.")
        @OptionGroup var options: Options
        @Argument(help: "Subtree to show (default: the root).") var path = ""
        @Option(help: "Deepest level shown below PATH.") var depth = 3

        func run() async throws {
            try await reporting {
                let tree = try options.tree()
                let top = try options.group(path, in: tree)
                let base = top.path.split(separator: "/").count
                let groups = try cgroupCall { () throws(CGroupError) in
                    [top] + (try top.walk()).filter { $0.path.split(separator: "/").count - base <= depth }
                }
                let summaries = try groups.map { group in try cgroupCall { () throws(CGroupError) in try group.summary() } }
                if options.json { return try printJSON(summaries.map(SummaryView.init)) }
                printTable(
                    ["GROUP", "PROCS", "CPU", "MEMORY", "MEM.MAX", "PIDS", "PSI cpu/mem/io", "STATE"],
                    summaries.map { s in
                        let level = s.path.split(separator: "/").count - base
                        let name = s.path.isEmpty ? "/" : String(repeating: "  ", count: max(0, level)) + (s.path.split(separator: "/").last.map(String.init) ?? s.path)
                        return [
                            name, "\(s.processes)", s.cpuUsageMicroseconds.map { String(format: "%.1fs", Double($0) / 1e6) } ?? "-",
                            s.memoryCurrent.map(formatBytes) ?? "-", s.memoryMax.map(formatBytes) ?? "-",
                            s.pidsCurrent.map(String.init) ?? "-",
                            [s.cpuPressure, s.memoryPressure, s.ioPressure].map { $0.map { String(format: "%.1f", $0) } ?? "-" }.joined(separator: "/"),
                            s.frozen == true ? "frozen" : (s.populated == false ? "empty" : "-"),
                        ]
                    })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show every readable interface file of a group.")
        @OptionGroup var options: Options
        @Argument(help: "Group path.") var path: String

        func run() async throws {
            try await reporting {
                let group = try options.group(path, in: try options.tree())
                var contents: [(String, String)] = []
                for file in try cgroupCall({ () throws(CGroupError) in try group.files() }) {
                    // Write-only files (cgroup.kill) and files the kernel refuses to read are skipped.
                    if let text = try? group.read(file) { contents.append((file, text.trimmingCharacters(in: .newlines))) }
                }
                if options.json {
                    return try printJSON(Dictionary(uniqueKeysWithValues: contents))
                }
                printTable(["FILE", "VALUE"], contents.map { [$0.0, $0.1.replacingOccurrences(of: "\n", with: "; ")] })
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set limits: FILE=VALUE ... (validated first; nothing is written if any is invalid).",
            discussion: "Files: \(CGroupResources.settableFiles.joined(separator: ", ")). Sizes take K/M/G/T (binary). Example: memory.max=512M cpu.max=\"50000 100000\" pids.max=100 io.max=\"8:0 wbps=10M\"")
        @OptionGroup var options: Options
        @Argument(help: "Group path.") var path: String
        @Argument(help: "FILE=VALUE settings.") var settings: [String]

        func run() async throws {
            try await reporting {
                var pairs: [(file: String, value: String)] = []
                for setting in settings {
                    let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw CLIError(.invalidInput, "\"\(setting)\" is not FILE=VALUE") }
                    pairs.append((parts[0], parts[1]))
                }
                let resources = try cgroupCall { () throws(CGroupError) in try CGroupResources(settings: pairs) }
                let group = try options.group(path, in: try options.tree())
                let writes = try cgroupCall { () throws(CGroupError) in try resources.writes() }
                try cgroupCall { () throws(CGroupError) in try group.apply(resources) }
                if options.json { return try printJSON(Dictionary(writes.map { ($0.file, $0.value) }, uniquingKeysWith: { $1 })) }
                for (file, value) in writes { print("\(group.path)/\(file) = \(value)") }
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a group (its parent must exist).")
        @OptionGroup var options: Options
        @Argument(help: "Group path.") var path: String
        @Option(help: "Controllers to enable for the new group's children, e.g. cpu,memory.") var enable: String?

        func run() async throws {
            try await reporting {
                let tree = try options.tree()
                let target = try options.group(path, in: tree, mustExist: false)
                guard let parent = target.parent else { throw CLIError(.invalidInput, "cannot create the root") }
                _ = try options.group(parent.path, in: tree)
                let created = try cgroupCall { () throws(CGroupError) in try parent.create(target.name) }
                if let enable {
                    let list = enable.split(separator: ",").map(String.init)
                    try cgroupCall { () throws(CGroupError) in try created.enable(list) }
                }
                try done(options, created.path, "created")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an empty group (retried while the kernel says busy), or with --kill its processes first.")
        @OptionGroup var options: Options
        @Argument(help: "Group path.") var path: String
        @Flag(help: "Kill the group's processes first (cgroup.kill).") var kill = false
        @Option(help: "Seconds to keep retrying a busy group.") var timeout: Double = 5

        func run() async throws {
            try await reporting {
                let group = try options.group(path, in: try options.tree())
                if kill { try cgroupCall { () throws(CGroupError) in try group.kill() } }
                do {
                    try await group.remove(timeout: .milliseconds(Int64(timeout * 1000)))
                } catch let error as CGroupError {
                    throw cliError(error)
                }
                try done(options, group.path, "removed")
            }
        }
    }

    struct Freeze: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Freeze every process of a group (waits until frozen).")
        @OptionGroup var options: Options
        @Argument(help: "Group path.") var path: String
        func run() async throws {
            try await reporting {
                let group = try options.group(path, in: try options.tree())
                do { try await group.freeze() } catch let error as CGroupError { throw cliError(error) }
                try done(options, group.path, "frozen")
            }
        }
    }

    struct Thaw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Thaw a frozen group.")
        @OptionGroup var options: Options
        @Argument(help: "Group path.") var path: String
        func run() async throws {
            try await reporting {
                let group = try options.group(path, in: try options.tree())
                do { try await group.thaw() } catch let error as CGroupError { throw cliError(error) }
                try done(options, group.path, "thawed")
            }
        }
    }

    struct Kill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "SIGKILL every process of a group and its descendants (cgroup.kill).")
        @OptionGroup var options: Options
        @Argument(help: "Group path.") var path: String
        func run() async throws {
            try await reporting {
                let group = try options.group(path, in: try options.tree())
                try cgroupCall { () throws(CGroupError) in try group.kill() }
                try done(options, group.path, "killed")
            }
        }
    }

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a process into a group.")
        @OptionGroup var options: Options
        @Argument(help: "Process id.") var pid: Int32
        @Argument(help: "Group path.") var path: String
        func run() async throws {
            try await reporting {
                let group = try options.group(path, in: try options.tree())
                try cgroupCall { () throws(CGroupError) in try group.move(pid: pid) }
                try done(options, group.path, "moved \(pid)")
            }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print cgroup.events, memory.events and pids.events of a group whenever they change (Ctrl-C stops).")
        @OptionGroup var options: Options
        @Argument(help: "Group path.") var path: String

        func run() async throws {
            try await reporting {
                let tree = try options.tree()
                let group = try options.group(path, in: tree)
                let files = ["cgroup.events", "memory.events", "pids.events"].filter { (try? group.readIfPresent($0)) != nil }
                func show(_ file: String) {
                    let text = ((try? group.read(file)) ?? "").split(separator: "\n").joined(separator: " ")
                    if options.json {
                        try? printJSONLine(["time": ISO8601DateFormatter().string(from: Date()), "file": file, "contents": text])
                    } else {
                        print("\(ISO8601DateFormatter().string(from: Date())) \(file): \(text)")
                    }
                }
                files.forEach(show)
                do {
                    for try await change in InterfaceFileWatcher.changes(of: files.map { group.absolutePath + "/" + $0 }) {
                        show(URL(fileURLWithPath: change.path).lastPathComponent)
                    }
                } catch let error as CGroupError {
                    throw cliError(error)
                }
            }
        }
    }
}

/// Reports a finished action: `PATH: what` for people, `{"path": ..., "result": ...}` for scripts.
private func done(_ options: CGroupCommand.Options, _ path: String, _ result: String) throws {
    let shown = path.isEmpty ? "/" : path
    if options.json { try printJSON(["path": shown, "result": result]) } else { print("\(shown): \(result)") }
}

/// A compact JSON form of a summary.
private struct SummaryView: Encodable {
    var path: String
    var processes: Int
    var cpuUsageUsec: UInt64?
    var cpuThrottledPeriods: UInt64?
    var memoryCurrentBytes: UInt64?
    var memoryMaxBytes: UInt64?
    var pidsCurrent: UInt64?
    var pressureCpuSomeAvg10: Double?
    var pressureMemorySomeAvg10: Double?
    var pressureIoSomeAvg10: Double?
    var frozen: Bool?
    var populated: Bool?

    init(_ s: CGroupSummary) {
        path = s.path.isEmpty ? "/" : s.path
        processes = s.processes
        cpuUsageUsec = s.cpuUsageMicroseconds
        cpuThrottledPeriods = s.cpuThrottledPeriods
        memoryCurrentBytes = s.memoryCurrent
        memoryMaxBytes = s.memoryMax
        pidsCurrent = s.pidsCurrent
        pressureCpuSomeAvg10 = s.cpuPressure
        pressureMemorySomeAvg10 = s.memoryPressure
        pressureIoSomeAvg10 = s.ioPressure
        frozen = s.frozen
        populated = s.populated
    }
}

/// Runs library calls, turning a `CGroupError` into the CLI's error and exit code.
@discardableResult
func cgroupCall<T>(_ body: () throws(CGroupError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw cliError(error)
    }
}

func cliError(_ error: CGroupError) -> CLIError {
    let exit: CLIError.Exit =
        switch error.kind {
        case .invalidValue, .outsideRoot: .invalidInput
        case .timedOut: .timedOut
        case .unparsable: .failed
        case .system:
            switch error.errno {
            case ENOENT?: .notFound
            case EBUSY?, EACCES?, EPERM?: .refused
            case nil: .unavailable
            default: .failed
            }
        }
    return CLIError(exit, error.description)
}
