import Foundation

/// The CPU, memory and health probes from a command line (for benchmarks and manual runs):
///
///     cpu    [--duration S] [--burst S] [--interval S] [--kernels integer,float,vector,hash]
///            [--cores 0,1,...] [--slow-threshold PERCENT] [--nice N] [--rt-priority N] [--json FILE] [--quiet]
///     memory [--array-bytes SIZE] [--llc-multiple X] [--repetitions N]
///            [--kernels copy,scale,add,triad,read,write] [--threads single|multi|both]
///            [--cores 0,1,...] [--no-bandwidth] [--pattern-bytes SIZE] [--patterns LIST|none]
///            [--pass-limit N] [--rounds N] [--no-lock] [--no-huge-pages] [--free-running]
///            [--json FILE] [--quiet]
///     health [--device DEV]... [--no-smart] [--json FILE]
///     known-answers
///
/// SIZE takes K, M, G suffixes (powers of 1024). A summary goes to standard output, progress
/// to standard error, and with `--json FILE` the full result as JSON (`-` for standard output,
/// which then holds only the JSON).
public enum CPUMemoryProbeCommandLine {
    /// Runs one subcommand. `args` are the arguments after the executable's name, starting with
    /// the subcommand (a leading executable path is skipped). Returns the exit status: 0 when
    /// the probe ran and found nothing wrong, 1 when it found wrong answers or memory errors,
    /// 2 for a usage error, 3 when the probe could not run.
    public static func main(_ args: [String]) async -> Int32 {
        var arguments = args
        let commands = ["cpu", "memory", "health", "known-answers"]
        if let first = arguments.first, !commands.contains(first), arguments.count > 1,
            commands.contains(arguments[1])
        {
            arguments.removeFirst()
        }
        guard let command = arguments.first else {
            write(2, usage)
            return 2
        }
        let options = Array(arguments.dropFirst())
        do {
            switch command {
            case "cpu": return try await cpu(options)
            case "memory": return try await memory(options)
            case "health": return try await health(options)
            case "known-answers": return knownAnswers()
            case "-h", "--help", "help":
                write(1, usage)
                return 0
            default: throw UsageError("unknown command \(command)")
            }
        } catch let error as UsageError {
            write(2, "error: \(error.message)\n\(usage)")
            return 2
        } catch {
            write(2, "error: \(error)\n")
            return 3
        }
    }

    static let usage = """
        usage: cpu [--duration S] [--burst S] [--interval S] [--kernels integer,float,vector,hash]
                   [--cores LIST] [--slow-threshold PERCENT] [--nice N] [--rt-priority N] [--json FILE] [--quiet]
               memory [--array-bytes SIZE] [--llc-multiple X] [--repetitions N]
                   [--kernels copy,scale,add,triad,read,write] [--threads single|multi|both]
                   [--cores LIST] [--no-bandwidth] [--pattern-bytes SIZE] [--patterns LIST|none]
                   [--pass-limit N] [--rounds N] [--no-lock] [--no-huge-pages] [--free-running]
                   [--json FILE] [--quiet]
               health [--device DEV]... [--no-smart] [--json FILE]
               known-answers

        """

    struct UsageError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// Options as `--name value` pairs and `--flag`s.
    struct Options {
        var values: [String: [String]] = [:]
        var flags: Set<String> = []

        init(_ args: [String], flags known: Set<String>, values takesValue: Set<String>) throws(UsageError) {
            var i = 0
            while i < args.count {
                let arg = args[i]
                if known.contains(arg) {
                    flags.insert(arg)
                } else if takesValue.contains(arg) {
                    guard i + 1 < args.count else { throw UsageError("\(arg) needs a value") }
                    values[arg, default: []].append(args[i + 1])
                    i += 1
                } else {
                    throw UsageError("unknown option \(arg)")
                }
                i += 1
            }
        }

        func string(_ name: String) -> String? { values[name]?.last }

        func double(_ name: String) throws(UsageError) -> Double? {
            guard let text = string(name) else { return nil }
            guard let value = Double(text), value.isFinite else { throw UsageError("\(name): not a number: \(text)") }
            return value
        }

        func int(_ name: String) throws(UsageError) -> Int? {
            guard let text = string(name) else { return nil }
            guard let value = Int(text) else { throw UsageError("\(name): not an integer: \(text)") }
            return value
        }

        func size(_ name: String) throws(UsageError) -> Int? {
            guard let text = string(name) else { return nil }
            guard let value = CPUMemoryProbeCommandLine.parseSize(text) else {
                throw UsageError("\(name): not a size: \(text)")
            }
            return value
        }

        func list<T: RawRepresentable>(_ name: String, as type: T.Type) throws(UsageError) -> [T]? where T.RawValue == String {
            guard let text = string(name) else { return nil }
            var items: [T] = []
            for part in text.split(separator: ",") {
                guard let item = T(rawValue: String(part)) else { throw UsageError("\(name): unknown value \(part)") }
                items.append(item)
            }
            return items
        }

        func cores() throws(UsageError) -> [Int]? {
            guard let text = string("--cores") else { return nil }
            guard let cores = HealthFiles.cpuList(text), !cores.isEmpty else {
                throw UsageError("--cores: not a CPU list: \(text)")
            }
            return cores
        }
    }

    /// `64M`, `1G`, `512K`, `4096` → bytes.
    static func parseSize(_ text: String) -> Int? {
        guard let last = text.last else { return nil }
        let units: [Character: Int] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20, "G": 1 << 30, "g": 1 << 30]
        if let unit = units[last] {
            guard let value = Double(text.dropLast()), value >= 0 else { return nil }
            return Int(value * Double(unit))
        }
        return Int(text)
    }

    // MARK: cpu

    static func cpu(_ args: [String]) async throws -> Int32 {
        let o = try Options(
            args, flags: ["--quiet"],
            values: ["--duration", "--burst", "--interval", "--kernels", "--cores", "--slow-threshold", "--nice", "--rt-priority", "--json"])
        var c = CPUProbe.Configuration()
        if let v = try o.double("--duration") { c.durationSeconds = v }
        if let v = try o.double("--burst") { c.burstSeconds = v }
        if let v = try o.double("--interval") { c.sampleIntervalSeconds = v }
        if let v = try o.list("--kernels", as: CPUKernel.self) { c.kernels = v }
        if let v = try o.double("--slow-threshold") { c.slowCoreThresholdPercent = v }
        c.threadNice = try o.int("--nice")
        c.realTimePriority = try o.int("--rt-priority")
        c.cores = try o.cores()
        let quiet = o.flags.contains("--quiet")
        let jsonToStdout = o.string("--json") == "-"
        let result = try await CPUProbe(configuration: c).run { p in
            guard !quiet else { return }
            let rates = p.rates.map { "\($0.kernel.rawValue) \(format($0.iterationsPerSecond, 0))/s" }
            write(2, "cpu \(format(p.fractionComplete * 100, 0))% \(rates.joined(separator: ", "))\n")
        }
        if !jsonToStdout { write(1, summary(result)) }
        try writeJSON(result, to: o.string("--json"))
        return result.faultyCores.isEmpty ? 0 : 1
    }

    static func summary(_ r: CPUResult) -> String {
        var lines = ["CPU probe: \(r.cores.count) core(s), \(format(r.elapsedSeconds, 1)) s\(r.interrupted ? " (interrupted)" : "")"]
        let header = ["core"] + r.configuration.kernels.map { "\($0.rawValue) it/s" } + ["score", "wrong"]
        var rows = [header]
        for core in r.cores {
            if let error = core.error {
                rows.append(["\(core.core)", "not tested: \(error)"])
                continue
            }
            rows.append(
                ["\(core.core)"] + core.kernels.map { format($0.iterationsPerSecond, 1) }
                    + [core.score.map { format($0, 3) } ?? "-", "\(core.wrongAnswers)"])
        }
        rows.append(["total"] + r.kernels.map { format($0.totalIterationsPerSecond, 1) } + ["", ""])
        rows.append(
            ["burst"] + r.kernels.map { $0.medianBurstIterationsPerSecond.map { format($0, 1) } ?? "-" } + ["", ""])
        rows.append(
            ["sustained"] + r.kernels.map { $0.medianSustainedIterationsPerSecond.map { format($0, 1) } ?? "-" }
                + ["", ""])
        lines.append(table(rows))
        lines.append("thermal throttle: \(r.throttle.status.rawValue)\(r.throttle.reason.map { " (\($0))" } ?? "")")
        let mhz = r.frequency.cores.map { c in
            "cpu\(c.core) \(c.beforeMHz.map { format($0, 0) } ?? "?")→\(c.underLoadMHz.map { format($0, 0) } ?? "?")→\(c.afterMHz.map { format($0, 0) } ?? "?")"
        }
        lines.append(
            "frequency (MHz before→under load→after, \(r.frequency.source?.rawValue ?? "skipped")): "
                + (mhz.isEmpty ? (r.frequency.reason ?? "") : mhz.joined(separator: ", ")))
        lines.append(contentsOf: r.findings.map { "finding: " + $0 })
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: memory

    static func memory(_ args: [String]) async throws -> Int32 {
        let o = try Options(
            args, flags: ["--quiet", "--no-bandwidth", "--no-lock", "--no-huge-pages", "--free-running"],
            values: [
                "--array-bytes", "--llc-multiple", "--repetitions", "--kernels", "--threads", "--cores",
                "--pattern-bytes", "--patterns", "--pass-limit", "--rounds", "--json",
            ])
        var c = MemoryProbe.Configuration()
        c.arrayBytes = try o.size("--array-bytes")
        if let v = try o.double("--llc-multiple") { c.llcMultiple = v }
        if let v = try o.int("--repetitions") { c.repetitions = v }
        if let v = try o.list("--kernels", as: MemoryBandwidthKernel.self) { c.kernels = v }
        switch o.string("--threads") ?? "both" {
        case "single": c.multiThreaded = false
        case "multi": c.singleThreaded = false
        case "both": break
        case let other: throw UsageError("--threads: single, multi or both, not \(other)")
        }
        c.cores = try o.cores()
        c.bandwidth = !o.flags.contains("--no-bandwidth")
        if let v = try o.size("--pattern-bytes") { c.patternBytes = v }
        if o.string("--patterns") == "none" {
            c.patterns = []
        } else if let v = try o.list("--patterns", as: MemoryPattern.self) {
            c.patterns = v
        }
        c.patternPassLimit = try o.int("--pass-limit")
        if let v = try o.int("--rounds") { c.patternRounds = v }
        c.lockMemory = !o.flags.contains("--no-lock")
        c.hugePages = !o.flags.contains("--no-huge-pages")
        c.synchronizedPasses = !o.flags.contains("--free-running")
        let quiet = o.flags.contains("--quiet")
        let jsonToStdout = o.string("--json") == "-"
        let result = try await MemoryProbe(configuration: c).run { p in
            guard !quiet else { return }
            write(
                2,
                "memory \(p.phase) \(format(p.fractionComplete * 100, 0))% \(format(p.currentMBps, 0)) MB/s failures \(p.failures)\n")
        }
        if !jsonToStdout { write(1, summary(result)) }
        try writeJSON(result, to: o.string("--json"))
        return result.memoryErrors == 0 ? 0 : 1
    }

    static func summary(_ r: MemoryResult) -> String {
        var lines = ["Memory probe: \(format(r.elapsedSeconds, 1)) s\(r.interrupted ? " (interrupted)" : "")"]
        if let bytes = r.lastLevelCache.bytes {
            lines.append("last-level cache: L\(r.lastLevelCache.level ?? 0) \(bytes / 1024) KiB")
        } else {
            lines.append("last-level cache: skipped (\(r.lastLevelCache.reason ?? ""))")
        }
        for run in r.bandwidth {
            lines.append(
                "bandwidth, \(run.threads) thread(s) on CPU \(run.cores.map(String.init).joined(separator: ",")), \(run.arrayBytes / (1 << 20)) MiB per array, \(run.repetitions) repetitions\(run.synchronizedPasses ? "" : " (free-running)"), validated: \(run.validated.map { $0 ? "yes" : "NO" } ?? "-")"
            )
            let time = run.synchronizedPasses ? "time" : "thread pass"
            var rows = [["function", "best MB/s", "avg MB/s", "worst MB/s", "min \(time)", "avg \(time)", "max \(time)"]]
            for k in run.kernels {
                rows.append([
                    k.kernel.rawValue, format(k.bestMBps, 1), format(k.averageMBps, 1), format(k.worstMBps, 1),
                    format(k.minSeconds, 6), format(k.averageSeconds, 6), format(k.maxSeconds, 6),
                ])
            }
            lines.append(table(rows))
        }
        if let p = r.patterns {
            lines.append(
                "patterns over \(p.bytesTested / (1 << 20)) MiB, \(p.cores.count) thread(s), locked: \(p.locked ? "yes" : "no")")
            var rows = [["pattern", "passes", "seconds", "MB/s", "failures"]]
            for t in p.patterns {
                rows.append([
                    t.pattern.rawValue, "\(t.passes)", format(t.seconds, 2),
                    format(t.seconds > 0 ? Double(t.bytesProcessed) / t.seconds / 1e6 : 0, 0), "\(t.failures)",
                ])
            }
            lines.append(table(rows))
        }
        lines.append("EDAC: \(r.edac.status.rawValue)\(r.edac.reason.map { " (\($0))" } ?? "")")
        lines.append(contentsOf: r.findings.map { "finding: " + $0 })
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: health

    static func health(_ args: [String]) async throws -> Int32 {
        let o = try Options(args, flags: ["--no-smart"], values: ["--device", "--json"])
        var c = HealthProbe.Configuration()
        c.smart = !o.flags.contains("--no-smart")
        c.smartDevices = o.values["--device"]
        let result = try await HealthProbe(configuration: c).run()
        if o.string("--json") != "-" {
            var lines = ["health: \(result.status.rawValue)"]
            lines.append("SMART: \(result.smart.status.rawValue)\(result.smart.reason.map { " (\($0))" } ?? "")")
            for d in result.smart.devices {
                lines.append("  \(d.device): \(d.status.rawValue) \(d.reasons.joined(separator: "; "))")
            }
            for s in [result.edac, result.machineCheck, result.thermalThrottle] {
                lines.append("\(s.source.rawValue): \(s.status.rawValue)\(s.reason.map { " (\($0))" } ?? "")")
            }
            write(1, lines.joined(separator: "\n") + "\n")
        }
        try writeJSON(result, to: o.string("--json"))
        return result.status == .failed ? 1 : 0
    }

    // MARK: known answers

    static func knownAnswers() -> Int32 {
        var ok = true
        for kernel in CPUKernel.allCases {
            for input in 0..<CPUKernel.inputCount {
                let got = kernel.compute(input: input)
                let want = kernel.knownAnswer(input: input)
                ok = ok && got == want
                write(1, "\(kernel.rawValue) \(input) \(got) \(got == want ? "ok" : "WRONG, expected \(want)")\n")
            }
        }
        return ok ? 0 : 1
    }

    // MARK: output

    static func writeJSON<T: Encodable>(_ value: T, to path: String?) throws {
        guard let path else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(value)
        if path == "-" {
            write(1, String(decoding: data, as: UTF8.self) + "\n")
        } else {
            try data.write(to: URL(fileURLWithPath: path))
        }
    }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }

    static func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }

    static func table(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == 0 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[i] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
