// cgroup-bench: the CGroups library's side of the cgroup read benchmark
// (Benchmarks/cgroups/run.sh runs it beside a C floor and cgroupspy; results in
// docs/PERFORMANCE.md). Everything goes through the library's public API.
//
// Modes, each timed --repeat times after --warmup untimed passes:
//   read        the groups found (CGroup.walk) before the clock starts; CGroup.read of every file
//   walk+read   the clock also covers CGroup.walk from the benchmark's group
//   walk+parse  walk+read, and each file's text parsed into the library's typed stats
// One line per timed pass on stdout, the format floor.c and cgroupspy_bench.py print:
//   RESULT tool=library mode=MODE ns=N groups=G files=F bytes=B check=C
// (C: a number taken from the parsed values, so the parsing is observable and cannot be elided)
import CGroups
import Glibc

/// What one pass did, to check that every reader did the same work.
struct PassCounts {
    var groups = 0
    var files = 0
    var bytes = 0
    var parsed: UInt64 = 0
}

func nanoseconds(_ body: () throws(CGroupError) -> PassCounts) throws(CGroupError) -> (UInt64, PassCounts) {
    var start = timespec()
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    let counts = try body()
    clock_gettime(CLOCK_MONOTONIC, &end)
    let elapsed = (Int64(end.tv_sec) - Int64(start.tv_sec)) * 1_000_000_000 + (Int64(end.tv_nsec) - Int64(start.tv_nsec))
    return (UInt64(elapsed), counts)
}

func readAll(_ groups: [CGroup], _ files: [String], parsers: [StatParser.Parse]?) throws(CGroupError) -> PassCounts {
    var counts = PassCounts(groups: groups.count)
    for group in groups {
        for (index, file) in files.enumerated() {
            let text = try group.read(file)
            counts.files += 1
            counts.bytes += text.utf8.count
            if let parsers { counts.parsed &+= try parsers[index](text) }
        }
    }
    return counts
}

func run(_ options: BenchOptions) throws(CGroupError) {
    let tree = try CGroupTree(root: options.root)
    guard let top = try tree.find(options.group) else {
        throw CGroupError(.system, path: options.group, errno: ENOENT, message: "no such cgroup under \(options.root)")
    }
    let files = options.files
    let parsers = files.map(StatParser.parser(for:))
    let found = try top.walk()

    for pass in 0..<(options.warmupCount + options.repeatCount) {
        var passes: [(BenchMode, (UInt64, PassCounts))] = []
        for mode in options.modes {
            let timed = try nanoseconds { () throws(CGroupError) -> PassCounts in
                switch mode {
                case .read: return try readAll(found, files, parsers: nil)
                case .walkRead: return try readAll(try top.walk(), files, parsers: nil)
                case .walkParse: return try readAll(try top.walk(), files, parsers: parsers)
                }
            }
            passes.append((mode, timed))
        }
        guard pass >= options.warmupCount else { continue }
        for (mode, (ns, counts)) in passes {
            print(
                "RESULT tool=library mode=\(mode.rawValue) ns=\(ns) groups=\(counts.groups) files=\(counts.files) bytes=\(counts.bytes) check=\(counts.parsed)"
            )
        }
    }
}

/// Writes `message` and a newline to standard error (fd 2: Glibc's `stderr` is shared mutable
/// state to Swift 6).
func printError(_ message: String) {
    var line = "cgroup-bench: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

do {
    let options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
    try run(options)
} catch let error as UsageError {
    printError(error.message)
    exit(2)
} catch {
    printError("\(error)")
    exit(1)
}
