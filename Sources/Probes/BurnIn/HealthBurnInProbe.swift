// The health probe as a burn-in runs it (docs/BURNIN.md, probe options).
import Foundation
import Glibc

/// `[health]`: smart, devices, smartctl_timeout.
public struct HealthBurnInProbe: BurnInProbe {
    public let name = "health"
    public init() {}

    func configuration(_ settings: ProbeSettings) throws(BurnInSetupError) -> HealthProbe.Configuration {
        var o = ProbeOptions(probe: name, settings)
        var c = HealthProbe.Configuration()
        if let smart = try o.bool("smart") { c.smart = smart }
        if let devices = try o.stringList("devices") { c.smartDevices = devices }
        if let timeout = try o.number("smartctl_timeout", range: 1...600) { c.smartctlTimeoutSeconds = timeout }
        try o.finish()
        return c
    }

    public func validate(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) {
        _ = try configuration(settings)
    }

    public func run(
        _ settings: ProbeSettings, context: BurnInContext, progress: @escaping @Sendable (BurnInProgress) -> Void
    ) async -> ProbeOutcome {
        let started = Date()
        do {
            let result = try await HealthProbe(configuration: try configuration(settings)).run { p in
                progress(BurnInProgress(probe: "health", step: "reading", fraction: Double(p.done) / Double(max(p.total, 1))))
            }
            return Self.outcome(result, started: started)
        } catch {
            return BurnInProbes.failed(name, started: started, "\(error)")
        }
    }

    static func outcome(_ result: HealthResult, started: Date) -> ProbeOutcome {
        var measurements: [Metric] = []
        var findings: [Finding] = []
        var skipped: [String] = []
        if result.smart.status == .skipped {
            skipped.append("SMART: \(result.smart.reason ?? "not readable")")
        } else {
            let read = result.smart.devices.filter { $0.status != .skipped }
            measurements.append(Metric("health.smart.devices", Double(read.count), unit: "count"))
            measurements.append(Metric("health.smart.failed_devices", Double(read.filter { $0.status == .failed }.count), unit: "count", higherIsBetter: false))
            measurements.append(Metric("health.smart.media_errors", Double(read.reduce(0) { $0 + ($1.mediaErrors ?? 0) }), unit: "count", higherIsBetter: false))
            for device in result.smart.devices {
                switch device.status {
                case .failed: findings.append(Finding(.fail, kind: "smart", device.reasons.joined(separator: "; "), location: device.device))
                case .warning: findings.append(Finding(.warn, kind: "smart", device.reasons.joined(separator: "; "), location: device.device))
                case .skipped: skipped.append("SMART \(device.device): \(device.reasons.first ?? "not readable")")
                case .ok: break
                }
            }
        }
        let sources: [(HealthCounterSnapshot, String, String)] = [
            (result.edac, "edac", "health.edac"), (result.machineCheck, "machine-check", "health.machine_checks"),
            (result.thermalThrottle, "throttling", "health.throttle_events"),
        ]
        for (snapshot, kind, metric) in sources {
            if snapshot.status == .skipped {
                skipped.append("\(snapshot.source.rawValue): \(snapshot.reason ?? "absent")")
                continue
            }
            if kind == "edac" {
                let ue = snapshot.counters.filter { $0.name.hasSuffix("ue_count") && !$0.name.contains("dimm") }.reduce(0) { $0 + $1.value }
                let ce = snapshot.counters.filter { $0.name.hasSuffix("ce_count") && !$0.name.contains("dimm") }.reduce(0) { $0 + $1.value }
                measurements.append(Metric("health.edac.uncorrected", Double(ue), unit: "count", higherIsBetter: false))
                measurements.append(Metric("health.edac.corrected", Double(ce), unit: "count", higherIsBetter: false))
            } else {
                measurements.append(Metric(metric, Double(snapshot.counters.reduce(0) { $0 + $1.value }), unit: "count", higherIsBetter: false))
            }
            if snapshot.status == .failed || snapshot.status == .warning {
                findings.append(
                    Finding(snapshot.status == .failed ? .fail : .warn, kind: kind, "since boot: \(snapshot.reason ?? "counters are not zero")"))
            }
        }
        var distributions: [Distribution] = []
        if result.cpuFrequency.status == .ok {
            distributions.append(
                Distribution(name: "CPU frequency before the burn-in", unit: "MHz", bars: result.cpuFrequency.cores.map { .init(label: "cpu \($0.core)", value: $0.mhz) }))
        }
        let reason = skipped.isEmpty ? "" : "skipped here: " + skipped.joined(separator: "; ")
        if result.status == .skipped {
            var outcome = ProbeOutcome(
                probe: "health", status: .skipped, reason: "no health input is readable here: " + skipped.joined(separator: "; "), started: started, seconds: Date().timeIntervalSince(started),
                distributions: distributions)
            outcome.detail = .health(result)
            return outcome
        }
        return BurnInProbes.outcome(
            "health", started: started, interrupted: false, reason: reason, measurements: measurements, findings: findings,
            distributions: distributions, detail: .health(result))
    }
}
