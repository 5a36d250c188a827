// What the disk probe writes: every 4 KiB unit of every block carries a header and a
// deterministic pseudo-random payload, so a read can tell a good unit from a corrupted one, one
// written to the wrong place, and one whose newest write was lost.

/// Which write produced a unit's contents: the run that wrote it and the pass within that run.
///
/// Every write phase of a run (each wrap-around of the sequential write, the random writes, the
/// fsync writes) gets its own pass number, so an older version of a unit is recognised.
public struct DiskGeneration: Sendable, Codable, Hashable, CustomStringConvertible {
    /// Identifies the probe run (random unless configured).
    public var runID: UInt32
    /// The write pass within the run, from 1.
    public var pass: UInt32

    public init(runID: UInt32, pass: UInt32) {
        self.runID = runID
        self.pass = pass
    }

    public var description: String { "run \(runID) pass \(pass)" }

    var packed: UInt64 { UInt64(runID) | UInt64(pass) << 32 }
}

/// The on-disk layout of an integrity unit (all fields little-endian):
///
/// | bytes | field |
/// |---|---|
/// | 0..<8 | magic `NAPROBE1` |
/// | 8..<16 | checksum: xxHash64 (seed 0) of bytes 16..<4096 |
/// | 16..<24 | byte offset of the unit in the target |
/// | 24..<28 | run ID |
/// | 28..<32 | pass |
/// | 32..<36 | unit size (4096) |
/// | 36..<40 | reserved (0) |
/// | 40..<4096 | payload: 64-bit word *i* = table[*i*] XOR key(offset, generation) |
///
/// The table is a fixed pseudo-random 4 KiB pattern; the key mixes the offset and the
/// generation (SplitMix64), so every (offset, generation) has its own contents.
enum DiskBlockFormat {
    static let unitSize = 4096
    static let wordsPerUnit = unitSize / 8
    static let headerWords = 5
    /// "NAPROBE1" read as a little-endian UInt64.
    static let magic: UInt64 = 0x3145_424F_5250_414E

    /// The fixed payload table (never freed; read-only after initialisation).
    nonisolated(unsafe) static let table: UnsafeMutablePointer<UInt64> = {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: wordsPerUnit)
        var state: UInt64 = 0x6E6F_6465_6167_656E  // "nodeagen"
        for i in 0..<wordsPerUnit {
            state = state &+ 0x9E37_79B9_7F4A_7C15
            words[i] = mix(state)
        }
        return words
    }()

    /// SplitMix64's finaliser.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    static func key(offset: UInt64, generation: DiskGeneration) -> UInt64 {
        mix(offset ^ mix(generation.packed))
    }

    /// Writes the units of `length` bytes at `buffer`, which will be written at `offset`.
    /// `length` and `offset` are multiples of the unit size.
    static func fill(_ buffer: UnsafeMutableRawPointer, length: Int, offset: UInt64, generation: DiskGeneration) {
        let table = Self.table
        var position = 0
        while position < length {
            fillUnit(buffer + position, offset: offset &+ UInt64(position), generation: generation, table: table)
            position += unitSize
        }
    }

    /// Fills one unit and its checksum in a single pass: every word goes into the xxHash64
    /// state as it is stored, so the unit is not read back. (Filling and then hashing took two
    /// passes; the stores of a cold 1 MiB block stall on cache misses and the hash's arithmetic
    /// had nothing to overlap with: measured with `perf`, 47 % and 42 % of a sequential write
    /// phase.) The result equals `checksum(unit)`, which `inspect` uses.
    @inline(__always)
    static func fillUnit(
        _ unit: UnsafeMutableRawPointer, offset: UInt64, generation: DiskGeneration, table: UnsafeMutablePointer<UInt64>
    ) {
        typealias H = DiskXXHash64
        let key = key(offset: offset, generation: generation)
        let words = unit.assumingMemoryBound(to: UInt64.self)
        let packed = generation.packed
        let size = UInt64(unitSize)
        words[0] = magic.littleEndian
        words[2] = offset.littleEndian
        words[3] = packed.littleEndian
        words[4] = size.littleEndian
        // The checksum covers bytes 16..<4096 (words 2..<512): 127 stripes of 4 words
        // (words 2..<510), then 2 words of tail. The first stripe holds three header words.
        let first = table[5] ^ key
        words[5] = first.littleEndian
        var v1 = H.round(H.prime1 &+ H.prime2, offset)
        var v2 = H.round(H.prime2, packed)
        var v3 = H.round(0, size)
        var v4 = H.round(0 &- H.prime1, first)
        var i = 6
        while i < wordsPerUnit - 2 {
            let a = table[i] ^ key
            let b = table[i + 1] ^ key
            let c = table[i + 2] ^ key
            let d = table[i + 3] ^ key
            words[i] = a.littleEndian
            words[i + 1] = b.littleEndian
            words[i + 2] = c.littleEndian
            words[i + 3] = d.littleEndian
            v1 = H.round(v1, a)
            v2 = H.round(v2, b)
            v3 = H.round(v3, c)
            v4 = H.round(v4, d)
            i += 4
        }
        var h = H.rotl(v1, 1) &+ H.rotl(v2, 7) &+ H.rotl(v3, 12) &+ H.rotl(v4, 18)
        h = H.merge(h, v1)
        h = H.merge(h, v2)
        h = H.merge(h, v3)
        h = H.merge(h, v4)
        h = h &+ UInt64(unitSize - 16)
        while i < wordsPerUnit {
            let w = table[i] ^ key
            words[i] = w.littleEndian
            h = H.rotl(h ^ H.round(0, w), 27) &* H.prime1 &+ H.prime4
            i += 1
        }
        words[1] = H.avalanche(h).littleEndian
    }

    @inline(__always)
    static func checksum(_ unit: UnsafeRawPointer) -> UInt64 {
        DiskXXHash64.hash(unit + 16, count: unitSize - 16)
    }

    /// What a unit read from the target holds, judged on its own.
    enum Contents: Equatable {
        /// A well-formed unit (magic and checksum good) claiming this offset and generation.
        case valid(offset: UInt64, generation: DiskGeneration)
        /// Only zero bytes: nothing the probe wrote.
        case zeros
        /// Anything else: bad magic, bad checksum or bad size field.
        case corrupt
    }

    static func inspect(_ unit: UnsafeRawPointer) -> Contents {
        let words = unit.assumingMemoryBound(to: UInt64.self)
        if UInt64(littleEndian: words[0]) == magic,
            UInt64(littleEndian: words[4]) == UInt64(unitSize),
            UInt64(littleEndian: words[1]) == checksum(unit)
        {
            let packed = UInt64(littleEndian: words[3])
            return .valid(
                offset: UInt64(littleEndian: words[2]),
                generation: DiskGeneration(runID: UInt32(truncatingIfNeeded: packed), pass: UInt32(truncatingIfNeeded: packed >> 32)))
        }
        for i in 0..<wordsPerUnit where words[i] != 0 { return .corrupt }
        return .zeros
    }
}
