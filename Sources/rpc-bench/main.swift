// rpc-bench: a load generator for the agent's gRPC API (Benchmarks/rpc/run.sh runs it against
// `nodeagent serve` and a grpcio reference server; results in docs/PERFORMANCE.md).
//
// N concurrent callers share one client (one HTTP/2 connection, like a controller) or K clients
// (--connections). After one probe call (with a deadline, printed to stderr) and --warmup untimed
// calls, --calls timed calls are handed out to the callers one at a time; each call's latency is
// measured with ContinuousClock around the stub's unary call (serialization, the round trip and
// deserialization). Prints p50/p90/p99/max/mean in µs, the throughput (timed calls over the
// wall time of the timed phase) and this process's own CPU time per timed call (getrusage: the
// client's share of the machine), as text or one JSON object (--json).
import Glibc

/// Writes `message` and a newline to standard error (fd 2: Glibc's `stderr` is shared mutable
/// state to Swift 6).
func printError(_ message: String) {
    var line = "rpc-bench: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

func report(_ options: BenchOptions, _ summary: Summary) -> String {
    if options.json {
        let fields: [(String, String)] = [
            ("label", jsonString(options.label)),
            ("target", jsonString(options.targetText)),
            ("call", jsonString(options.call.rawValue)),
            ("concurrency", "\(options.concurrency)"),
            ("connections", "\(options.connections)"),
            ("warmup", "\(options.warmup)"),
            ("calls", "\(summary.calls)"),
            ("elapsed_s", fixed(summary.elapsedSeconds, 4)),
            ("throughput", fixed(summary.throughput, 1)),
            ("p50_us", microseconds(summary.p50)),
            ("p90_us", microseconds(summary.p90)),
            ("p99_us", microseconds(summary.p99)),
            ("max_us", microseconds(summary.max)),
            ("mean_us", fixed(summary.mean / 1000, 1)),
            ("client_cpu_us_per_call", fixed(summary.clientCPU / 1000, 1)),
        ]
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }
    let connections = options.connections == 1 ? "1 connection" : "\(options.connections) connections"
    return """
        \(options.call.rawValue) against \(options.targetText)\(options.label.isEmpty ? "" : " (\(options.label))"): \
        \(options.concurrency) caller(s) over \(connections), \(summary.calls) calls in \(fixed(summary.elapsedSeconds, 3)) s \
        after \(options.warmup) warm-up calls
          latency µs: p50 \(microseconds(summary.p50))  p90 \(microseconds(summary.p90))  \
        p99 \(microseconds(summary.p99))  max \(microseconds(summary.max))  mean \(fixed(summary.mean / 1000, 1))
          throughput: \(fixed(summary.throughput, 0)) calls/s, client CPU \(fixed(summary.clientCPU / 1000, 1)) µs/call
        """
}

let options: BenchOptions
do {
    options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    printError(error.message)
    exit(2)
}

do {
    let plan = CallPlan(call: options.call, guest: options.guest)
    let summary = try await withClients(options.target, count: options.connections) { stubs in
        for (index, client) in stubs.enumerated() {
            let answer = try await plan.probe(client)
            if index == 0 { printError("\(options.call.rawValue) on \(options.targetText): \(answer)") }
        }
        if options.warmup > 0 {
            _ = try await runPhase(total: options.warmup, concurrency: options.concurrency, stubs: stubs, plan: plan)
        }
        let timed = try await runPhase(total: options.calls, concurrency: options.concurrency, stubs: stubs, plan: plan)
        return Summary(latencies: timed.latencies, elapsed: timed.elapsed, cpu: timed.cpu)
    }
    print(report(options, summary))
} catch {
    printError("\(options.call.rawValue) on \(options.targetText): \(error)")
    exit(1)
}
