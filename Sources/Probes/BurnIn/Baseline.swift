import Foundation

/// Fleet baselines: reports of identical hardware, and the median of each measurement.
public enum FleetBaseline {
    /// Reads every `*.json` report in `path` (a directory) or the one file `path`; reports that
    /// do not parse are returned as problems, not fatal.
    public static func load(_ path: String) throws -> (reports: [BurnInReport], problems: [String]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ReportError(reason: "\(path): no such file or directory")
        }
        let files: [String]
        if isDirectory.boolValue {
            files = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".json") }.sorted()
                .map { (path as NSString).appendingPathComponent($0) }
        } else {
            files = [path]
        }
        var reports: [BurnInReport] = []
        var problems: [String] = []
        for file in files {
            do {
                reports.append(try BurnInReport.decode(try Data(contentsOf: URL(fileURLWithPath: file))))
            } catch {
                problems.append("\(file): \(error)")
            }
        }
        return (reports, problems)
    }

    /// The reports of the same hardware as `host`, for `min_baseline_ratio` checks before a run:
    /// disk models count only when both sides name them (a burn-in learns this host's disks from
    /// its health probe, after the baseline is needed).
    public static func peers(of host: HostIdentity, in reports: [BurnInReport]) -> [BurnInReport] {
        reports.filter { report in
            var other = report.host
            if other.diskModels.isEmpty || host.diskModels.isEmpty { other.diskModels = host.diskModels }
            return other.sameHardware(as: host)
        }
    }

    /// The median of every measurement over the completed probes of `reports`.
    public static func medians(_ reports: [BurnInReport]) -> [String: Double] {
        var values: [String: [Double]] = [:]
        for report in reports {
            for probe in report.probes where probe.status == .completed {
                for m in probe.measurements { values[m.name, default: []].append(m.value) }
            }
        }
        return values.mapValues(median)
    }

    public static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// One measurement worse than the fleet median by more than the tolerance.
    public struct Deviation: Sendable, Codable, Equatable {
        public var metric: String
        public var value: Double
        public var median: Double
        public var unit: String
        /// How much worse, as a fraction (0.12 = 12% worse).
        public var worseBy: Double
        public var peers: Int
    }

    /// Compares `report` with the reports of identical hardware in `baseline` (itself excluded):
    /// every measurement more than `tolerance` (0.10 = 10%) worse than the peers' median.
    public static func compare(_ report: BurnInReport, with baseline: [BurnInReport], tolerance: Double) -> (peers: Int, deviations: [Deviation]) {
        let peers = baseline.filter { $0.host.sameHardware(as: report.host) && !($0.host.hostname == report.host.hostname && $0.started == report.started) }
        let medians = medians(peers)
        var deviations: [Deviation] = []
        for probe in report.probes where probe.status == .completed {
            for m in probe.measurements {
                guard let median = medians[m.name], median.isFinite, median > 0 else { continue }
                let worse = m.higherIsBetter ? (median - m.value) / median : (m.value - median) / median
                if worse > tolerance {
                    deviations.append(Deviation(metric: m.name, value: m.value, median: median, unit: m.unit, worseBy: worse, peers: peers.count))
                }
            }
        }
        return (peers.count, deviations.sorted { $0.worseBy > $1.worseBy })
    }
}
