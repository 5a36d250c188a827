// Which generation the run last wrote at every 4 KiB unit, kept compactly: the sequential
// write is a cursor over passes, random writes a bitmap, fsync writes a prefix.

struct DiskGenerationMap {
    let runID: UInt32
    /// Units in the target region.
    let unitCount: Int
    private(set) var nextPass: UInt32 = 1

    // Sequential write: units below the cursor carry `sequentialPass`, units from the cursor up
    // to the extent carry the pass before (if there was one).
    private(set) var sequentialFirstPass: UInt32 = 0
    private(set) var sequentialPass: UInt32 = 0
    private(set) var sequentialCursor = 0
    private(set) var sequentialExtent = 0

    // Random write: one bit per unit of the first `randomRange` units.
    private(set) var randomPass: UInt32 = 0
    private(set) var randomRange = 0
    private var randomBits: [UInt64] = []

    // fsync: units below `fsyncUnits` carry `fsyncPass`.
    private(set) var fsyncPass: UInt32 = 0
    private(set) var fsyncUnits = 0

    init(runID: UInt32, unitCount: Int) {
        self.runID = runID
        self.unitCount = unitCount
    }

    private mutating func allocatePass() -> UInt32 {
        defer { nextPass += 1 }
        return nextPass
    }

    func generation(_ pass: UInt32) -> DiskGeneration { DiskGeneration(runID: runID, pass: pass) }

    // MARK: Sequential write

    /// Starts the sequential write over the first `extentUnits` units; returns its first pass.
    mutating func beginSequential(extentUnits: Int) -> UInt32 {
        sequentialExtent = extentUnits
        sequentialFirstPass = allocatePass()
        sequentialPass = sequentialFirstPass
        sequentialCursor = 0
        return sequentialPass
    }

    /// The sequential write issued writes up to (not including) unit `cursor` in its current pass.
    mutating func sequentialAdvanced(to cursor: Int) { sequentialCursor = cursor }

    /// The sequential write wrapped around; returns the new pass.
    mutating func sequentialWrapped() -> UInt32 {
        let pass = reservePass()
        sequentialStarted(pass: pass)
        return pass
    }

    /// A pass number for writes prepared ahead of their submission (`sequentialStarted`).
    mutating func reservePass() -> UInt32 { allocatePass() }

    /// The sequential write submits the first block of a new pass (reserved earlier).
    mutating func sequentialStarted(pass: UInt32) {
        sequentialCursor = 0
        sequentialPass = pass
    }

    /// Units from 0 the sequential write covered.
    var sequentialCovered: Int {
        guard sequentialPass != 0 else { return 0 }
        return sequentialPass > sequentialFirstPass ? sequentialExtent : sequentialCursor
    }

    // MARK: Random write

    /// Starts random writes within the first `rangeUnits` units; returns their pass.
    mutating func beginRandom(rangeUnits: Int) -> UInt32 {
        randomRange = rangeUnits
        randomBits = [UInt64](repeating: 0, count: (rangeUnits + 63) / 64)
        randomPass = allocatePass()
        return randomPass
    }

    @inline(__always)
    mutating func markRandom(unit: Int, count: Int) {
        var u = unit
        let end = unit + count
        while u < end {
            randomBits[u >> 6] |= 1 << UInt64(u & 63)
            u += 1
        }
    }

    // MARK: fsync

    mutating func beginFsync() -> UInt32 {
        fsyncPass = allocatePass()
        fsyncUnits = 0
        return fsyncPass
    }

    /// The fsync phase wrote every unit below `units`.
    mutating func fsyncWrote(upTo units: Int) { fsyncUnits = Swift.max(fsyncUnits, units) }

    // MARK: Lookup

    /// The pass the run last wrote at `unit`, or nil if it never wrote there.
    @inline(__always)
    func expectedPass(unit: Int) -> UInt32? {
        if unit < fsyncUnits { return fsyncPass }
        if unit < randomRange, randomBits[unit >> 6] & (1 << UInt64(unit & 63)) != 0 { return randomPass }
        if sequentialPass != 0 && unit < sequentialExtent {
            if unit < sequentialCursor { return sequentialPass }
            if sequentialPass > sequentialFirstPass { return sequentialPass - 1 }
        }
        return nil
    }

    /// Units from 0 that hold data the run wrote (some units below may not: random writes).
    var dataExtent: Int {
        var extent = sequentialCovered
        if randomPass != 0 { extent = Swift.max(extent, randomRange) }
        return Swift.max(extent, fsyncUnits)
    }
}

/// Bad units found over a run, counted once each, the first ones listed.
struct DiskIntegrityAccumulator {
    let cap: Int
    var verified: UInt64 = 0
    var unverified: UInt64 = 0
    var corruptions: UInt64 = 0
    var misdirected: UInt64 = 0
    var lost: UInt64 = 0
    var listed: [DiskBadBlock] = []
    /// Offsets already counted (bounded: past a million distinct bad units, repeats may be
    /// counted again).
    private var seen = Set<UInt64>()
    private static let seenLimit = 1 << 20

    init(cap: Int) { self.cap = cap }

    var total: UInt64 { corruptions + misdirected + lost }

    /// Records a bad unit; returns whether it was new.
    @discardableResult
    mutating func record(_ block: DiskBadBlock) -> Bool {
        if seen.contains(block.offset) { return false }
        if seen.count < Self.seenLimit { seen.insert(block.offset) }
        switch block.kind {
        case .corruption: corruptions += 1
        case .misdirectedWrite: misdirected += 1
        case .lostWrite: lost += 1
        }
        if listed.count < cap { listed.append(block) }
        return true
    }

    func report() -> DiskIntegrityReport {
        DiskIntegrityReport(
            unitSize: DiskBlockFormat.unitSize, verifiedBlocks: verified, unverifiedBlocks: unverified,
            badBlockCount: total, corruptions: corruptions, misdirectedWrites: misdirected, lostWrites: lost,
            badBlocks: listed, badBlocksTruncated: total > UInt64(listed.count))
    }
}

/// Checks the units of a block read at `offset` against the map; returns how many were bad.
/// Counts verified and unverified units into `integrity`.
@inline(__always)
func diskVerify(
    _ buffer: UnsafeRawPointer, length: Int, offset: UInt64, phase: DiskPhase,
    map: borrowing DiskGenerationMap, integrity: inout DiskIntegrityAccumulator,
    verified: inout UInt64, unverified: inout UInt64
) -> UInt64 {
    let unitSize = DiskBlockFormat.unitSize
    var bad: UInt64 = 0
    var position = 0
    while position < length {
        let unitOffset = offset + UInt64(position)
        let unit = Int(unitOffset / UInt64(unitSize))
        guard let pass = map.expectedPass(unit: unit) else {
            unverified += 1
            position += unitSize
            continue
        }
        verified += 1
        let expected = DiskGeneration(runID: map.runID, pass: pass)
        var finding: DiskBadBlock?
        switch DiskBlockFormat.inspect(buffer + position) {
        case .valid(let foundOffset, let generation):
            if foundOffset != unitOffset {
                finding = DiskBadBlock(
                    offset: unitOffset, kind: .misdirectedWrite, phase: phase, expected: expected,
                    found: generation, foundOffset: foundOffset)
            } else if generation != expected {
                finding = DiskBadBlock(
                    offset: unitOffset, kind: .lostWrite, phase: phase, expected: expected, found: generation, foundOffset: nil)
            }
        case .zeros:
            finding = DiskBadBlock(offset: unitOffset, kind: .lostWrite, phase: phase, expected: expected, found: nil, foundOffset: nil)
        case .corrupt:
            finding = DiskBadBlock(offset: unitOffset, kind: .corruption, phase: phase, expected: expected, found: nil, foundOffset: nil)
        }
        if let finding {
            bad += 1
            integrity.record(finding)
        }
        position += unitSize
    }
    return bad
}
