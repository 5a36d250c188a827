// A command-line front end to the disk probe, independent of the agent's CLI: the benchmark
// (Benchmarks/disk/run.sh) runs it through the `probe-bench` executable.
import Dispatch
import Foundation

/// `probe-bench disk …`: runs the disk probe and prints its result.
///
/// ```
/// probe-bench --target PATH [--device] [--size 1G] [--phases seqwrite,seqread,randread,randwrite,fsync,verify]
///             [--runtime SECONDS] [--seq-bs 1M] [--seq-qd 16] [--rand-bs 4k] [--rand-qd 32]
///             [--fsync-runtime SECONDS] [--engine auto|io_uring|psync] [--force] [--buffered]
///             [--json] [--progress]
/// ```
///
/// Exit status: 0 done and clean, 1 the probe could not run, 2 bad arguments, 3 bad blocks or
/// I/O errors found, 130 interrupted (SIGINT; what ran is still printed).
public enum DiskProbeCommandLine {
    public static func main(_ arguments: [String]) async -> Int32 {
        let options: Options
        do {
            options = try Options(Array(arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("\(error)\n\(usage)\n".utf8))
            return 2
        }
        if options.help {
            emit(usage)
            return 0
        }
        let probe = DiskProbe(configuration: options.configuration)
        let showProgress = options.progress
        let task = Task {
            try await probe.run { report in
                guard showProgress else { return }
                let line = String(
                    format: "%@ %3.0f%% %9.1f MiB/s %9.0f IOPS\n", report.phase.rawValue, report.fraction * 100,
                    report.bytesPerSecond / 1_048_576, report.iops)
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT)
        interrupt.setEventHandler { task.cancel() }
        interrupt.resume()
        defer { interrupt.cancel() }

        let result: DiskResult
        do {
            result = try await task.value
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
        if options.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = (try? encoder.encode(result)) ?? Data()
            emit(String(decoding: data, as: UTF8.self))
        } else {
            emit(table(result))
        }
        if result.interrupted { return 130 }
        if !result.integrity.isClean || result.phases.contains(where: { $0.ioErrors > 0 }) { return 3 }
        return 0
    }

    /// Writes a line to stdout unbuffered (stdout may be a pipe).
    static func emit(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static let usage = """
        usage: probe-bench --target PATH [--device] [--size BYTES] [--phases LIST] [--runtime SECONDS]
                           [--seq-bs BYTES] [--seq-qd N] [--rand-bs BYTES] [--rand-qd N] [--fsync-runtime SECONDS]
                           [--engine auto|io_uring|psync] [--force] [--buffered] [--json] [--progress]
          --target PATH   a file to create, a directory to create it in, or (with --device) a block device
          --phases LIST   comma-separated: seqwrite,seqread,randread,randwrite,fsync,verify (default all)
          --runtime S     seconds per phase (default 10; fsync 5; verify: one pass)
          sizes take K, M, G suffixes (powers of 1024)
        """

    struct UsageError: Error, CustomStringConvertible {
        var description: String
    }

    struct Options {
        var configuration = DiskProbe.Configuration(target: .file("/var/tmp"))
        var json = false
        var progress = false
        var help = false

        init(_ arguments: [String]) throws {
            var device = false
            var path: String?
            var i = 0
            func value() throws -> String {
                i += 1
                guard i < arguments.count else { throw UsageError(description: "\(arguments[i - 1]) needs a value") }
                return arguments[i]
            }
            func number(_ text: String) throws -> Double {
                guard let v = Double(text), v >= 0 else { throw UsageError(description: "not a number: \(text)") }
                return v
            }
            func int(_ text: String) throws -> Int {
                guard let v = Int(text), v > 0 else { throw UsageError(description: "not a positive integer: \(text)") }
                return v
            }
            while i < arguments.count {
                let argument = arguments[i]
                switch argument {
                case "--target": path = try value()
                case "--device": device = true
                case "--size": configuration.size = try Self.bytes(value())
                case "--phases": configuration.phases = try Self.phases(value())
                case "--runtime":
                    let seconds = try number(value())
                    for keyPath in [\DiskProbe.Configuration.sequentialWrite, \.sequentialRead, \.randomRead, \.randomWrite] {
                        configuration[keyPath: keyPath].duration = seconds
                    }
                case "--fsync-runtime": configuration.fsync.duration = try number(value())
                case "--seq-bs":
                    let bs = try Int(Self.bytes(value()))
                    configuration.sequentialWrite.blockSize = bs
                    configuration.sequentialRead.blockSize = bs
                    configuration.verify.blockSize = bs
                case "--seq-qd":
                    let qd = try int(value())
                    configuration.sequentialWrite.queueDepth = qd
                    configuration.sequentialRead.queueDepth = qd
                    configuration.verify.queueDepth = qd
                case "--rand-bs":
                    let bs = try Int(Self.bytes(value()))
                    configuration.randomRead.blockSize = bs
                    configuration.randomWrite.blockSize = bs
                case "--rand-qd":
                    let qd = try int(value())
                    configuration.randomRead.queueDepth = qd
                    configuration.randomWrite.queueDepth = qd
                case "--engine":
                    guard let engine = DiskEngine(rawValue: try value()) else { throw UsageError(description: "unknown engine") }
                    configuration.engine = engine
                case "--force": configuration.force = true
                case "--buffered": configuration.directIO = false
                case "--json": json = true
                case "--progress": progress = true
                case "-h", "--help": help = true
                default: throw UsageError(description: "unknown argument \(argument)")
                }
                i += 1
            }
            if help { return }
            guard let path else { throw UsageError(description: "--target is required") }
            configuration.target = device ? .blockDevice(path) : .file(path)
        }

        static func bytes(_ text: String) throws -> UInt64 {
            let units: [Character: UInt64] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
            var digits = text.lowercased()
            if digits.hasSuffix("ib") { digits.removeLast(2) } else if digits.hasSuffix("b") { digits.removeLast() }
            var multiplier: UInt64 = 1
            if let last = digits.last, let unit = units[last] {
                multiplier = unit
                digits.removeLast()
            }
            guard let value = UInt64(digits), value > 0 else { throw UsageError(description: "not a size: \(text)") }
            return value * multiplier
        }

        static func phases(_ text: String) throws -> [DiskPhase] {
            let names: [String: DiskPhase] = [
                "seqwrite": .sequentialWrite, "seqread": .sequentialRead, "randread": .randomRead,
                "randwrite": .randomWrite, "fsync": .fsync, "verify": .verify,
            ]
            return try text.split(separator: ",").map {
                guard let phase = names[String($0)] ?? DiskPhase(rawValue: String($0)) else {
                    throw UsageError(description: "unknown phase \($0)")
                }
                return phase
            }
        }
    }

    static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + fill : fill + text
    }

    /// The human-readable summary.
    static func table(_ r: DiskResult) -> String {
        var lines = [
            "target \(r.target) (\(r.targetKind.rawValue), \(r.size >> 20) MiB, logical block \(r.logicalBlockSize)) "
                + "engine \(r.engine.rawValue)\(r.fixedBuffers ? " fixed buffers" : "")\(r.directIO ? " O_DIRECT" : " buffered")"
                + "\(r.interrupted ? " INTERRUPTED" : "")",
            pad("phase", 16, left: true) + pad("bs", 5) + pad("qd", 5) + pad("secs", 8) + pad("MiB/s", 11) + pad("IOPS", 11)
                + pad("p50 µs", 10) + pad("p90 µs", 10) + pad("p99 µs", 10) + pad("p99.9 µs", 10) + pad("max µs", 11),
        ]
        for p in r.phases {
            let bs = p.blockSize >= 1 << 20 ? "\(p.blockSize >> 20)M" : "\(p.blockSize >> 10)k"
            lines.append(
                pad(p.phase.rawValue, 16, left: true) + pad(bs, 5) + pad("\(p.queueDepth)", 5)
                    + pad(String(format: "%.2f", p.duration), 8) + pad(String(format: "%.1f", p.bytesPerSecond / 1_048_576), 11)
                    + pad(String(format: "%.0f", p.iops), 11) + pad(String(format: "%.1f", p.latency.p50), 10)
                    + pad(String(format: "%.1f", p.latency.p90), 10) + pad(String(format: "%.1f", p.latency.p99), 10)
                    + pad(String(format: "%.1f", p.latency.p999), 10) + pad(String(format: "%.1f", p.latency.maximum), 11))
        }
        let i = r.integrity
        lines.append(
            "integrity: \(i.verifiedBlocks) units verified, \(i.badBlockCount) bad (\(i.corruptions) corrupted, "
                + "\(i.misdirectedWrites) misdirected, \(i.lostWrites) lost)")
        for bad in i.badBlocks.prefix(20) { lines.append("  \(bad.kind.rawValue) at offset \(bad.offset)") }
        for note in r.notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }
}
