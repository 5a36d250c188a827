// Each probe as a burn-in runs it: profile options in (docs/BURNIN.md lists them), the probe's
// own result out as measurements, findings, series and distributions, with the full result
// kept as the outcome's `detail`.
import Foundation
import Glibc

extension BurnInProbes {
    /// The probes of this agent, by the name profiles use.
    public static var all: [any BurnInProbe] {
        [HealthBurnInProbe(), CPUBurnInProbe(), MemoryBurnInProbe(), DiskBurnInProbe(), NetworkBurnInProbe()]
    }
}

/// Namespace of the built-in probe adapters.
public enum BurnInProbes {
    static func outcome(
        _ probe: String, started: Date, interrupted: Bool, reason: String = "", measurements: [Metric], findings: [Finding],
        series: [Series] = [], distributions: [Distribution] = [], detail: ProbeDetail?
    ) -> ProbeOutcome {
        var outcome = ProbeOutcome(
            probe: probe, status: interrupted ? .interrupted : .completed,
            reason: interrupted ? ([reason, "interrupted: what ran until then is reported"].filter { !$0.isEmpty }.joined(separator: "; ")) : reason,
            started: started, seconds: Date().timeIntervalSince(started), measurements: measurements, findings: findings,
            series: series, distributions: distributions)
        outcome.detail = detail
        return outcome
    }

    static func failed(_ probe: String, started: Date, _ reason: String) -> ProbeOutcome {
        ProbeOutcome(
            probe: probe, status: Task.isCancelled ? .interrupted : .error, reason: reason, started: started,
            seconds: Date().timeIntervalSince(started))
    }

    /// Bytes of memory available without swapping (MemAvailable), 0 if unreadable.
    static func availableMemory(procRoot: String = "/proc") -> UInt64 {
        let text = (try? String(contentsOfFile: procRoot + "/meminfo", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = UInt64(fields[1]) { return kib * 1024 }
        }
        return 0
    }
}
