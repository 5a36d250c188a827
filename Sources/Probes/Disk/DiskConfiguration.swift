// What a disk probe run does: target, phases and their bounds. Decodable from JSON or TOML
// with every key optional except the target (missing keys take the defaults below).

/// What the disk probe tests.
public struct DiskTarget: Sendable, Codable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// A file the probe creates, sizes and removes afterwards.
        case file
        /// A whole block device (or a partition), written from offset 0.
        case blockDevice
    }

    public var kind: Kind
    /// File: a path that does not exist yet (the probe creates it), an existing directory (the
    /// probe creates a uniquely named file in it), or, with `force`, an existing regular file
    /// (used as is and left in place). Block device: the device node.
    public var path: String

    public init(kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }

    public static func file(_ path: String) -> DiskTarget { DiskTarget(kind: .file, path: path) }
    public static func blockDevice(_ path: String) -> DiskTarget { DiskTarget(kind: .blockDevice, path: path) }

    public var description: String { path }
}

/// The shape and bounds of one phase. The phase stops issuing I/O when it reaches either
/// bound and waits for what is in flight; with neither, it makes one pass over its data (the
/// fsync phase needs one of them).
public struct DiskWorkload: Sendable, Codable, Equatable {
    /// Bytes per I/O: a multiple of 4096 and of the device's logical block size.
    public var blockSize: Int
    /// I/Os kept in flight (io_uring), 1...1024.
    public var queueDepth: Int
    /// Seconds; nil or 0: no time bound. (In a configuration, a missing key keeps the default;
    /// null or 0 removes the bound.)
    public var duration: Double?
    /// Bytes to transfer; nil or 0: no byte bound.
    public var bytes: UInt64?

    public init(blockSize: Int, queueDepth: Int, duration: Double? = nil, bytes: UInt64? = nil) {
        self.blockSize = blockSize
        self.queueDepth = queueDepth
        self.duration = duration
        self.bytes = bytes
    }

    public static let defaultSequential = DiskWorkload(blockSize: 1 << 20, queueDepth: 16, duration: 10)
    public static let defaultRandom = DiskWorkload(blockSize: 4096, queueDepth: 32, duration: 10)
    public static let defaultFsync = DiskWorkload(blockSize: 4096, queueDepth: 1, duration: 5)
    /// The verify phase reads everything the run wrote, once.
    public static let defaultVerify = DiskWorkload(blockSize: 1 << 20, queueDepth: 16)

    var timeBound: Double? { duration.flatMap { $0 > 0 ? $0 : nil } }
    var byteBound: UInt64? { bytes.flatMap { $0 > 0 ? $0 : nil } }

    private enum CodingKeys: String, CodingKey { case blockSize, queueDepth, duration, bytes }

    /// Decodes over `defaults`: keys that are missing keep their default.
    init(from decoder: any Decoder, defaults: DiskWorkload) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        blockSize = try c.decodeIfPresent(Int.self, forKey: .blockSize) ?? defaults.blockSize
        queueDepth = try c.decodeIfPresent(Int.self, forKey: .queueDepth) ?? defaults.queueDepth
        duration = c.contains(.duration) ? try c.decodeIfPresent(Double.self, forKey: .duration) : defaults.duration
        bytes = c.contains(.bytes) ? try c.decodeIfPresent(UInt64.self, forKey: .bytes) : defaults.bytes
    }

    /// Encodes a missing bound as null (not as an absent key, which would mean "the default").
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(blockSize, forKey: .blockSize)
        try c.encode(queueDepth, forKey: .queueDepth)
        try c.encode(duration, forKey: .duration)
        try c.encode(bytes, forKey: .bytes)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        blockSize = try c.decode(Int.self, forKey: .blockSize)
        queueDepth = try c.decode(Int.self, forKey: .queueDepth)
        duration = try c.decodeIfPresent(Double.self, forKey: .duration)
        bytes = try c.decodeIfPresent(UInt64.self, forKey: .bytes)
    }
}

extension DiskProbe {
    /// Everything a run needs. Only `target` has no default.
    public struct Configuration: Sendable, Codable, Equatable {
        public var target: DiskTarget
        /// File: its size (default 1 GiB). Block device: bytes from offset 0 to use (default:
        /// the whole device). Rounded down to a multiple of 4096.
        public var size: UInt64?
        /// The phases to run (default: all). They run in `DiskPhase` order whatever the order here.
        public var phases: [DiskPhase]
        public var sequentialWrite: DiskWorkload
        public var sequentialRead: DiskWorkload
        public var randomRead: DiskWorkload
        public var randomWrite: DiskWorkload
        public var fsync: DiskWorkload
        public var verify: DiskWorkload
        /// Write to a block device even if it is mounted, in use or holds a filesystem or
        /// partition table; use an existing regular file. Default false.
        public var force: Bool
        /// Default `.auto`: io_uring, or psync when io_uring is unavailable.
        public var engine: DiskEngine
        /// O_DIRECT (default true). Without it the page cache is measured, not the device.
        public var directIO: Bool
        /// Length of the throughput-over-time samples, seconds (default 1).
        public var sampleInterval: Double
        /// Seconds between progress reports (default 0.25).
        public var progressInterval: Double
        /// How many bad units the report lists (default 100); all are counted.
        public var maxReportedBadBlocks: Int
        /// The run ID written into block headers; default random.
        public var runID: UInt32?

        public init(
            target: DiskTarget, size: UInt64? = nil, phases: [DiskPhase] = DiskPhase.allCases,
            sequentialWrite: DiskWorkload = .defaultSequential, sequentialRead: DiskWorkload = .defaultSequential,
            randomRead: DiskWorkload = .defaultRandom, randomWrite: DiskWorkload = .defaultRandom,
            fsync: DiskWorkload = .defaultFsync, verify: DiskWorkload = .defaultVerify,
            force: Bool = false, engine: DiskEngine = .auto, directIO: Bool = true,
            sampleInterval: Double = 1, progressInterval: Double = 0.25, maxReportedBadBlocks: Int = 100,
            runID: UInt32? = nil
        ) {
            self.target = target
            self.size = size
            self.phases = phases
            self.sequentialWrite = sequentialWrite
            self.sequentialRead = sequentialRead
            self.randomRead = randomRead
            self.randomWrite = randomWrite
            self.fsync = fsync
            self.verify = verify
            self.force = force
            self.engine = engine
            self.directIO = directIO
            self.sampleInterval = sampleInterval
            self.progressInterval = progressInterval
            self.maxReportedBadBlocks = maxReportedBadBlocks
            self.runID = runID
        }

        /// The workload of `phase`.
        public func workload(_ phase: DiskPhase) -> DiskWorkload {
            switch phase {
            case .sequentialWrite: sequentialWrite
            case .sequentialRead: sequentialRead
            case .randomRead: randomRead
            case .randomWrite: randomWrite
            case .fsync: fsync
            case .verify: verify
            }
        }

        /// The phases that run, in run order.
        var orderedPhases: [DiskPhase] { DiskPhase.allCases.filter(phases.contains) }

        private enum CodingKeys: String, CodingKey {
            case target, size, phases, sequentialWrite, sequentialRead, randomRead, randomWrite, fsync, verify
            case force, engine, directIO, sampleInterval, progressInterval, maxReportedBadBlocks, runID
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func workload(_ key: CodingKeys, _ defaults: DiskWorkload) throws -> DiskWorkload {
                guard c.contains(key) else { return defaults }
                return try DiskWorkload(from: c.superDecoder(forKey: key), defaults: defaults)
            }
            self.init(target: try c.decode(DiskTarget.self, forKey: .target))
            size = try c.decodeIfPresent(UInt64.self, forKey: .size)
            phases = try c.decodeIfPresent([DiskPhase].self, forKey: .phases) ?? DiskPhase.allCases
            sequentialWrite = try workload(.sequentialWrite, .defaultSequential)
            sequentialRead = try workload(.sequentialRead, .defaultSequential)
            randomRead = try workload(.randomRead, .defaultRandom)
            randomWrite = try workload(.randomWrite, .defaultRandom)
            fsync = try workload(.fsync, .defaultFsync)
            verify = try workload(.verify, .defaultVerify)
            force = try c.decodeIfPresent(Bool.self, forKey: .force) ?? false
            engine = try c.decodeIfPresent(DiskEngine.self, forKey: .engine) ?? .auto
            directIO = try c.decodeIfPresent(Bool.self, forKey: .directIO) ?? true
            sampleInterval = try c.decodeIfPresent(Double.self, forKey: .sampleInterval) ?? 1
            progressInterval = try c.decodeIfPresent(Double.self, forKey: .progressInterval) ?? 0.25
            maxReportedBadBlocks = try c.decodeIfPresent(Int.self, forKey: .maxReportedBadBlocks) ?? 100
            runID = try c.decodeIfPresent(UInt32.self, forKey: .runID)
        }

        /// Checks what does not depend on the target; throws `.invalidConfiguration`.
        func validate() throws(DiskProbeError) {
            func invalid(_ reason: String) -> DiskProbeError {
                DiskProbeError(kind: .invalidConfiguration, target: target.path, reason: reason)
            }
            if target.path.isEmpty { throw invalid("the target path is empty") }
            if orderedPhases.isEmpty { throw invalid("no phase to run") }
            if !(sampleInterval > 0) { throw invalid("sampleInterval must be > 0 (is \(sampleInterval))") }
            if !(progressInterval > 0) { throw invalid("progressInterval must be > 0 (is \(progressInterval))") }
            if maxReportedBadBlocks < 0 { throw invalid("maxReportedBadBlocks must be >= 0") }
            if let size, size < UInt64(DiskBlockFormat.unitSize) { throw invalid("size \(size) is below 4096 bytes") }
            for phase in orderedPhases {
                let w = workload(phase)
                if w.blockSize <= 0 || w.blockSize % DiskBlockFormat.unitSize != 0 || w.blockSize > 64 << 20 {
                    throw invalid("\(phase.rawValue).blockSize \(w.blockSize) must be a multiple of 4096 up to 64 MiB")
                }
                if w.queueDepth < 1 || w.queueDepth > 1024 {
                    throw invalid("\(phase.rawValue).queueDepth \(w.queueDepth) must be 1...1024")
                }
                if let d = w.duration, d < 0 || !d.isFinite { throw invalid("\(phase.rawValue).duration \(d) must be >= 0") }
                if phase == .fsync && w.timeBound == nil && w.byteBound == nil {
                    throw invalid("fsync needs a duration or a byte count")
                }
            }
        }
    }
}

/// Why the disk probe could not run (thrown by `DiskProbe.run`). Media errors and bad data
/// are findings in the result, not errors.
public struct DiskProbeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// The configuration is not usable (reason says which key).
        case invalidConfiguration
        /// The target is in use or holds data: see `refusals`. `force` overrides.
        case refused
        /// The target cannot be opened, created, sized or used (missing, wrong type, no space,
        /// no O_DIRECT, block sizes not matching the device).
        case targetUnavailable
        /// An I/O failed in a way that is not a media error (e.g. EINVAL, ENOSPC, EBADF), or the
        /// io_uring itself failed.
        case ioFailure
    }

    public var kind: Kind
    /// The target path concerned.
    public var target: String
    /// Human-readable reason.
    public var reason: String
    /// For `.refused`: every reason found.
    public var refusals: [DiskRefusal]

    public init(kind: Kind, target: String, reason: String, refusals: [DiskRefusal] = []) {
        self.kind = kind
        self.target = target
        self.reason = reason
        self.refusals = refusals
    }

    public var description: String { "disk probe: \(target): \(reason)" }
}

/// One reason a block device (or an existing file) is refused.
public struct DiskRefusal: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// The device, one of its partitions or a holder is mounted.
        case mounted
        /// The device or one of its partitions is an active swap area.
        case swap
        /// Another block device is built on it (device-mapper, LVM, RAID).
        case holder
        /// The kernel refused exclusive access (it is in use).
        case busy
        /// A filesystem, partition table or volume signature was found.
        case signature
        /// The file target exists and the probe did not create it.
        case existingFile
    }

    public var kind: Kind
    /// The device concerned (the target, one of its partitions or holders), or the file.
    public var device: String
    /// The mount point, the signature found, the holder's name, …
    public var detail: String

    public init(kind: Kind, device: String, detail: String) {
        self.kind = kind
        self.device = device
        self.detail = detail
    }

    public var description: String {
        switch kind {
        case .mounted: "\(device) is mounted at \(detail)"
        case .swap: "\(device) is an active swap area"
        case .holder: "\(device) is held by \(detail)"
        case .busy: "\(device) is busy: \(detail)"
        case .signature: "\(device) holds \(detail)"
        case .existingFile: "\(device) exists and was not created by the probe"
        }
    }
}
