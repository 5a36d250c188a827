// The disk probe's result: one entry per phase and the integrity findings. Embedded in the
// burn-in JSON report, so every field is part of a documented, stable schema: add fields,
// never rename or change the meaning of one.

/// The phases of a disk probe run. They always run in this order (declaration order).
public enum DiskPhase: String, Sendable, Codable, CaseIterable, Comparable {
    /// Large blocks written from offset 0 upward, wrapping around at the end of the target.
    case sequentialWrite
    /// Large blocks read from offset 0 upward over the data written so far, verified.
    case sequentialRead
    /// Small blocks read at uniformly random aligned offsets of the data written so far, verified.
    case randomRead
    /// Small blocks written at uniformly random aligned offsets.
    case randomWrite
    /// A loop of one write and one fsync; the latency measured is the fsync's.
    case fsync
    /// A sequential read of everything written in the run, verified.
    case verify

    public static func < (lhs: DiskPhase, rhs: DiskPhase) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Whether the phase writes (and records generations) rather than reads.
    var writes: Bool { self == .sequentialWrite || self == .randomWrite || self == .fsync }
}

/// How the probe does its I/O.
public enum DiskEngine: String, Sendable, Codable {
    /// io_uring if the kernel allows it, else psync (the result says why).
    case auto
    /// io_uring through liburing, with registered buffers and file when the kernel allows.
    case ioUring = "io_uring"
    /// pread/pwrite/fsync from one thread: queue depth 1 whatever is configured.
    case psync
}

/// Everything a disk probe run measured and found.
public struct DiskResult: Sendable, Codable, Equatable {
    /// The path tested: the block device, or the file the probe created (or was forced to use).
    public var target: String
    /// Whether the target was a file or a block device.
    public var targetKind: DiskTarget.Kind
    /// Bytes of the target the probe used, from offset 0.
    public var size: UInt64
    /// Logical block size in bytes of the device behind the target (0 if unknown). Buffers are
    /// aligned to 4096 bytes and block sizes are multiples of 4096 and of this.
    public var logicalBlockSize: Int
    /// The engine that did the I/O: `io_uring` or `psync` (never `auto`).
    public var engine: DiskEngine
    /// Whether io_uring used registered (fixed) buffers.
    public var fixedBuffers: Bool
    /// Whether the I/O bypassed the page cache (O_DIRECT).
    public var directIO: Bool
    /// How the I/O was done when it differs from what was asked, e.g. "io_uring unavailable
    /// (…): psync fallback, queue depth 1". Empty when nothing is worth saying.
    public var notes: [String]
    /// The run ID written into every block header (see `DiskGeneration`).
    public var runID: UInt32
    /// True when a read phase ran without a sequential write phase on a file target, so the
    /// file was first filled by one unmeasured sequential write pass.
    public var preconditioned: Bool
    /// True when the run was cancelled: `phases` holds what ran, the last one possibly
    /// incomplete (`completed == false`); the target was still cleaned up.
    public var interrupted: Bool
    /// Whether the file target was removed afterwards (false for block devices and for an
    /// existing file the probe was forced to use, which it leaves in place).
    public var targetRemoved: Bool
    /// Seconds from the start of the run (target prepared) to its end.
    public var duration: Double
    /// One entry per phase that ran, in run order.
    public var phases: [DiskPhaseResult]
    /// What verification of the data read back found.
    public var integrity: DiskIntegrityReport

    /// The entry for `phase`, if it ran.
    public func phase(_ phase: DiskPhase) -> DiskPhaseResult? { phases.first { $0.phase == phase } }
}

/// The measurements of one phase.
public struct DiskPhaseResult: Sendable, Codable, Equatable {
    public var phase: DiskPhase
    /// Bytes per I/O.
    public var blockSize: Int
    /// I/Os kept in flight (1 for psync and for the fsync phase).
    public var queueDepth: Int
    /// False when the phase was cut short by cancellation.
    public var completed: Bool
    /// Seconds from the first submission to the last completion.
    public var duration: Double
    /// Bytes transferred by successful I/Os.
    public var bytes: UInt64
    /// Successful I/Os (for the fsync phase: write+fsync pairs).
    public var operations: UInt64
    /// `bytes / duration`.
    public var bytesPerSecond: Double
    /// `operations / duration`.
    public var iops: Double
    /// Latency of each I/O, from submission to completion (fsync phase: of the fsync alone).
    public var latency: DiskLatencySummary
    /// Throughput over time, one sample per sample interval (default 1 s) of the phase.
    public var samples: [DiskThroughputSample]
    /// I/Os the device failed (media errors: EIO, EILSEQ, ENODATA, ETIMEDOUT, or short transfers).
    public var ioErrors: UInt64
    /// The first such failure, with offset and reason.
    public var firstIOError: String?
    /// Read phases: 4 KiB units checked against what the run wrote there.
    public var verifiedBlocks: UInt64
    /// Read phases: units read that the run had not written (nothing to check against).
    public var unverifiedBlocks: UInt64
    /// Read phases: checked units that were bad (also listed in the run's integrity report).
    public var badBlocks: UInt64
}

/// Latency percentiles in microseconds, from an HdrHistogram of nanoseconds (3 significant
/// digits: each value is within 0.1 % of the exact one). All zero when `count` is 0.
public struct DiskLatencySummary: Sendable, Codable, Equatable {
    /// Number of latencies recorded.
    public var count: UInt64
    public var minimum: Double
    public var mean: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double
    /// 99.9th percentile.
    public var p999: Double
    /// The largest latency recorded (exact).
    public var maximum: Double
    /// The distribution for plots: counts in buckets doubling from 1 µs; each bucket holds the
    /// latencies up to `upperBound` µs and above the previous bucket's. Empty buckets at the
    /// ends are omitted.
    public var histogram: [DiskLatencyBucket]
}

/// One bucket of a latency histogram.
public struct DiskLatencyBucket: Sendable, Codable, Equatable {
    /// Upper bound of the bucket, µs (inclusive).
    public var upperBound: Double
    /// Latencies in the bucket.
    public var count: UInt64
}

/// Throughput during one interval of a phase.
public struct DiskThroughputSample: Sendable, Codable, Equatable {
    /// Start of the interval, seconds since the phase started.
    public var start: Double
    /// Length of the interval in seconds (the last one may be shorter).
    public var duration: Double
    /// Bytes completed in the interval divided by its length.
    public var bytesPerSecond: Double
    /// I/Os completed in the interval divided by its length.
    public var iops: Double
}

/// What verification found over the whole run. A unit found bad by several read phases is
/// counted and listed once.
public struct DiskIntegrityReport: Sendable, Codable, Equatable {
    /// Size of the units every block is made of, each with its own header and checksum (4096).
    public var unitSize: Int
    /// Units checked, over all read phases (a unit read twice counts twice).
    public var verifiedBlocks: UInt64
    /// Units read that the run had not written, so could not be checked.
    public var unverifiedBlocks: UInt64
    /// Distinct bad units (all kinds).
    public var badBlockCount: UInt64
    /// Bad units whose checksum, magic or size field is wrong.
    public var corruptions: UInt64
    /// Well-formed units carrying another offset than the one they were read from.
    public var misdirectedWrites: UInt64
    /// Well-formed units at the right offset with an older (or otherwise unexpected)
    /// generation, or reading as zeros where the run wrote: the newest write did not land.
    public var lostWrites: UInt64
    /// The first bad units found (at most the configured cap, default 100), in order of discovery.
    public var badBlocks: [DiskBadBlock]
    /// True when more bad units were found than `badBlocks` lists.
    public var badBlocksTruncated: Bool

    /// No bad unit found.
    public var isClean: Bool { badBlockCount == 0 }
}

/// One bad unit.
public struct DiskBadBlock: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// Checksum, magic or size field wrong: the contents are damaged.
        case corruption
        /// A well-formed unit written for another offset (`foundOffset`).
        case misdirectedWrite
        /// A well-formed unit with an unexpected generation (`found` instead of `expected`), or
        /// zeros: the newest write to this offset was lost.
        case lostWrite
    }

    /// Byte offset of the unit in the target.
    public var offset: UInt64
    public var kind: Kind
    /// The phase whose read found it first.
    public var phase: DiskPhase
    /// The generation the run last wrote at this offset.
    public var expected: DiskGeneration
    /// The generation the unit's header carries (well-formed units only).
    public var found: DiskGeneration?
    /// The offset the unit's header carries (misdirected writes only).
    public var foundOffset: UInt64?
}

/// Live progress, reported about four times a second while a phase runs.
public struct DiskProgress: Sendable, Equatable {
    public var phase: DiskPhase
    /// Position of the phase among those that run, from 0.
    public var phaseIndex: Int
    /// Number of phases that run.
    public var phaseCount: Int
    /// How far the phase is, 0...1 (time or bytes, whichever bound is nearer).
    public var fraction: Double
    /// Throughput since the previous report, bytes/s.
    public var bytesPerSecond: Double
    /// I/Os per second since the previous report.
    public var iops: Double
}
