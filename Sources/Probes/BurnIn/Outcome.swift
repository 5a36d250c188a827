public import Foundation

/// One number a probe measured, named `probe.phase.quantity` (e.g.
/// `disk.seq_write.throughput`), in base units (bytes/s, IOPS, microseconds, ops/s, percent).
public struct Metric: Sendable, Codable, Equatable {
    public var name: String
    public var value: Double
    /// `B/s`, `IOPS`, `us`, `ops/s`, `%`, `count`, ...
    public var unit: String
    /// Whether a larger value is better (throughput) or worse (latency, errors).
    public var higherIsBetter: Bool

    public init(_ name: String, _ value: Double, unit: String, higherIsBetter: Bool = true) {
        self.name = name
        self.value = value
        self.unit = unit
        self.higherIsBetter = higherIsBetter
    }
}

/// Something a probe found that fails (or warns about) the box whatever the thresholds: a
/// corrupted block, a core computing a wrong answer, a memory cell that does not hold a pattern.
public struct Finding: Sendable, Codable, Equatable {
    public enum Severity: String, Sendable, Codable { case fail, warn }
    public var severity: Severity
    /// What kind: `corruption`, `misdirected-write`, `lost-write`, `wrong-answer`, `slow-core`,
    /// `memory-error`, `smart`, `edac`, `throttling`, ...
    public var kind: String
    public var message: String
    /// Where: an offset, a core, a device; empty when not applicable.
    public var location: String

    public init(_ severity: Severity, kind: String, _ message: String, location: String = "") {
        self.severity = severity
        self.kind = kind
        self.message = message
        self.location = location
    }
}

/// Values over time, for the report's plots (throughput per second, ...).
public struct Series: Sendable, Codable, Equatable {
    public var name: String
    public var unit: String
    /// (seconds since the phase started, value).
    public var points: [Point]

    public struct Point: Sendable, Codable, Equatable {
        public var t: Double
        public var value: Double
        public init(t: Double, value: Double) {
            self.t = t
            self.value = value
        }
    }

    public init(name: String, unit: String, points: [Point]) {
        self.name = name
        self.unit = unit
        self.points = points
    }
}

/// A distribution for the report's plots (latency histograms, per-core bars): labelled bars.
public struct Distribution: Sendable, Codable, Equatable {
    public var name: String
    public var unit: String
    public var bars: [Bar]

    public struct Bar: Sendable, Codable, Equatable {
        public var label: String
        public var value: Double
        public init(label: String, value: Double) {
            self.label = label
            self.value = value
        }
    }

    public init(name: String, unit: String, bars: [Bar]) {
        self.name = name
        self.unit = unit
        self.bars = bars
    }
}

/// What one probe produced in a burn-in, in the probe-independent form that thresholds,
/// reports and fleet comparisons work on.
public struct ProbeOutcome: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// It ran to the end.
        case completed
        /// Not run: the tool, file or device it needs is absent. Never a failure.
        case skipped
        /// It could not run (an error, not a finding): the reason says why.
        case error
        /// Stopped early (Ctrl-C, task cancelled): what it measured until then is kept.
        case interrupted
    }

    /// `disk`, `network`, `cpu`, `memory`, `health`.
    public var probe: String
    public var status: Status
    /// Why it was skipped, failed to run or interrupted.
    public var reason: String
    public var started: Date
    public var seconds: Double
    public var measurements: [Metric]
    public var findings: [Finding]
    public var series: [Series]
    public var distributions: [Distribution]
    /// The probe's own, complete result (every phase, core, pattern and test), for a reader
    /// who needs more than the measurements. Encoded under the probe's name; a report whose
    /// detail does not decode (another agent version) still decodes, without it.
    public var detail: ProbeDetail?

    public init(
        probe: String, status: Status, reason: String = "", started: Date, seconds: Double, measurements: [Metric] = [],
        findings: [Finding] = [], series: [Series] = [], distributions: [Distribution] = []
    ) {
        self.probe = probe
        self.status = status
        self.reason = reason
        self.started = started
        self.seconds = seconds
        self.measurements = measurements
        self.findings = findings
        self.series = series
        self.distributions = distributions
    }

    public func measurement(_ name: String) -> Metric? { measurements.first { $0.name == name } }

    private enum CodingKeys: String, CodingKey {
        case probe, status, reason, started, seconds, measurements, findings, series, distributions, detail
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        probe = try c.decode(String.self, forKey: .probe)
        status = try c.decode(Status.self, forKey: .status)
        reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
        started = try c.decode(Date.self, forKey: .started)
        seconds = try c.decode(Double.self, forKey: .seconds)
        measurements = try c.decodeIfPresent([Metric].self, forKey: .measurements) ?? []
        findings = try c.decodeIfPresent([Finding].self, forKey: .findings) ?? []
        series = try c.decodeIfPresent([Series].self, forKey: .series) ?? []
        distributions = try c.decodeIfPresent([Distribution].self, forKey: .distributions) ?? []
        detail = try? c.decodeIfPresent(ProbeDetail.self, forKey: .detail)
    }
}

/// A probe's own result, as the probe produced it.
public enum ProbeDetail: Sendable, Codable, Equatable {
    case disk(DiskResult)
    case cpu(CPUResult)
    case memory(MemoryResult)
    case network(NetworkResult)
    case health(HealthResult)

    private enum Key: String, CodingKey { case disk, cpu, memory, network, health }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .disk(let r): try c.encode(r, forKey: .disk)
        case .cpu(let r): try c.encode(r, forKey: .cpu)
        case .memory(let r): try c.encode(r, forKey: .memory)
        case .network(let r): try c.encode(r, forKey: .network)
        case .health(let r): try c.encode(r, forKey: .health)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let r = try c.decodeIfPresent(DiskResult.self, forKey: .disk) {
            self = .disk(r)
        } else if let r = try c.decodeIfPresent(CPUResult.self, forKey: .cpu) {
            self = .cpu(r)
        } else if let r = try c.decodeIfPresent(MemoryResult.self, forKey: .memory) {
            self = .memory(r)
        } else if let r = try c.decodeIfPresent(NetworkResult.self, forKey: .network) {
            self = .network(r)
        } else if let r = try c.decodeIfPresent(HealthResult.self, forKey: .health) {
            self = .health(r)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "no known probe result"))
        }
    }
}
