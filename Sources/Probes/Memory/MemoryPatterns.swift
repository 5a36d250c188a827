/// A memtester-style pattern test. Each pass writes a pattern over the whole tested region and
/// then reads it all back, comparing every 64-bit word with the value it should hold (values
/// are recomputed, never copied from a second buffer, so a failure names the exact word).
public enum MemoryPattern: String, Sendable, Codable, CaseIterable, Equatable {
    /// memtester's "Stuck Address": 16 passes; each word holds its own address or the
    /// complement of it, alternating by word and by pass. Catches address lines stuck or
    /// shorted (two addresses reaching the same cells).
    case stuckAddress = "stuck-address"
    /// Address-in-address (memtest86's "own address"): every word holds its own address, then
    /// (second pass) its complement.
    case ownAddress = "own-address"
    /// memtester's "Walking Ones": 128 passes, a single set bit walking up and back down.
    case walkingOnes = "walking-ones"
    /// memtester's "Walking Zeroes": 128 passes, a single clear bit walking up and back down.
    case walkingZeros = "walking-zeros"
    /// memtester's "Random Value": pseudo-random words (a counter-based generator, so each
    /// word's expected value is recomputed), 2 passes with different seeds.
    case randomValue = "random-value"
    /// memtester's "Checkerboard": 64 passes of 0x5555… / 0xAAAA… alternating by word and by pass.
    case checkerboard
    /// memtester's "Solid Bits": 64 passes of all ones / all zeros alternating by word and by pass.
    case solidBits = "solid-bits"

    /// The number of passes of the full test.
    public var passes: Int {
        switch self {
        case .stuckAddress: 16
        case .ownAddress: 2
        case .walkingOnes, .walkingZeros: 128
        case .randomValue: 2
        case .checkerboard, .solidBits: 64
        }
    }

    /// The passes run when at most `limit` are allowed: all of them, or `limit` spread evenly
    /// (for the walking patterns, every k-th bit position).
    public func selectedPasses(limit: Int?) -> [Int] {
        guard let limit, limit > 0, limit < passes else { return Array(0..<passes) }
        return (0..<limit).map { $0 * passes / limit }
    }

    /// The value word `index` (at virtual address `address`) holds in pass `pass`.
    @inline(__always)
    public func value(pass: Int, index: Int, address: UInt64) -> UInt64 {
        switch self {
        case .stuckAddress: (pass + index) & 1 == 0 ? address : ~address
        case .ownAddress: pass & 1 == 0 ? address : ~address
        case .walkingOnes: 1 << UInt64(pass < 64 ? pass : 127 - pass)
        case .walkingZeros: ~(1 << UInt64(pass < 64 ? pass : 127 - pass))
        case .randomValue: MemoryPatternLoops.splitmix(UInt64(pass + 1) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index))
        case .checkerboard:
            ((pass + index) & 1 == 0) ? 0x5555_5555_5555_5555 : 0xAAAA_AAAA_AAAA_AAAA
        case .solidBits: ((pass + index) & 1 == 0) ? ~0 : 0
        }
    }
}

/// A word that did not hold what was written.
public struct MemoryPatternFailure: Sendable, Codable, Equatable {
    /// The pattern test.
    public var pattern: MemoryPattern
    /// The round (0-based; see `MemoryProbe.Configuration.patternRounds`).
    public var round: Int
    /// The pass of that test (0-based; see `MemoryPattern.passes`).
    public var pass: Int
    /// The word's byte offset from the start of the tested region.
    public var offset: Int
    /// The word's physical address (hex), from /proc/self/pagemap when readable (root), to
    /// find the DIMM; `nil` otherwise.
    public var physicalAddress: String?
    /// The value written, hex.
    public var expected: String
    /// The value read back, hex.
    public var actual: String
    /// `expected XOR actual`, hex: the bits that were wrong.
    public var differingBits: String
    /// The CPU whose thread read it.
    public var core: Int
}

/// One pattern test over the region.
public struct MemoryPatternResult: Sendable, Codable, Equatable {
    /// The pattern test.
    public var pattern: MemoryPattern
    /// Passes run, all rounds (fewer than `pattern.passes` × rounds with a pass limit, or when
    /// interrupted).
    public var passes: Int
    /// Wall-clock seconds, all threads.
    public var seconds: Double
    /// Bytes written plus bytes read back, all passes.
    public var bytesProcessed: Int
    /// Words that read back wrong.
    public var failures: Int
}

/// The pattern tests.
public struct MemoryPatternReport: Sendable, Codable, Equatable {
    /// Bytes of RAM tested (the configured amount, rounded down to whole 4 KiB pages).
    public var bytesTested: Int
    /// Whether the region was locked into RAM (`mlock`).
    public var locked: Bool
    /// Why locking failed, if it did (the test then ran on memory that might be swapped).
    public var lockError: String?
    /// The CPUs whose threads ran the tests (each tests its own contiguous share).
    public var cores: [Int]
    /// Per pattern, in the configured order.
    public var patterns: [MemoryPatternResult]
    /// Words that read back wrong, all patterns.
    public var totalFailures: Int
    /// The first failures (at most 64 per thread), by round, pattern, pass and offset.
    public var failures: [MemoryPatternFailure]
}

enum MemoryPatternLoops {
    static let block = 512

    @inline(__always)
    static func splitmix(_ seed: UInt64) -> UInt64 {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Writes `pattern`'s pass over `range` of `words` (word 0 at virtual address `base`).
    @inline(never)
    static func fill(
        _ pattern: MemoryPattern, pass: Int, _ words: UnsafeMutablePointer<UInt64>, _ range: Range<Int>, base: UInt64
    ) {
        switch pattern {
        case .stuckAddress, .ownAddress:
            addressFill(pattern, pass: pass, words, range, base: base)
        case .walkingOnes, .walkingZeros, .checkerboard, .solidBits:
            let even = pattern.value(pass: pass, index: 0, address: 0)
            let odd = pattern.value(pass: pass, index: 1, address: 0)
            var i = range.lowerBound
            if i < range.upperBound && i & 1 == 1 {
                words[i] = odd
                i += 1
            }
            while i + 1 < range.upperBound {
                words[i] = even
                words[i + 1] = odd
                i += 2
            }
            if i < range.upperBound { words[i] = even }
        case .randomValue:
            let seed = UInt64(pass + 1) &* 0x9E37_79B9_7F4A_7C15
            for i in range { words[i] = splitmix(seed &+ UInt64(i)) }
        }
    }

    /// The XOR masks of an address pattern for an even and an odd word.
    @inline(__always)
    private static func addressMasks(_ pattern: MemoryPattern, pass: Int) -> (even: UInt64, odd: UInt64) {
        let invert: UInt64 = pass & 1 == 0 ? 0 : ~0
        return pattern == .stuckAddress ? (invert, ~invert) : (invert, invert)
    }

    /// Writes an address pattern four words at a time (vector stores of address ^ mask).
    private static func addressFill(
        _ pattern: MemoryPattern, pass: Int, _ words: UnsafeMutablePointer<UInt64>, _ range: Range<Int>, base: UInt64
    ) {
        let (even, odd) = addressMasks(pattern, pass: pass)
        var i = range.lowerBound
        while i < range.upperBound && (i & 3 != 0) {
            words[i] = (base &+ UInt64(i) &* 8) ^ (i & 1 == 0 ? even : odd)
            i += 1
        }
        let masks = SIMD4<UInt64>(even, odd, even, odd)
        var addresses = SIMD4<UInt64>(0, 8, 16, 24) &+ (base &+ UInt64(i) &* 8)
        let step = SIMD4<UInt64>(repeating: 32)
        let raw = UnsafeMutableRawPointer(words)
        while i + 4 <= range.upperBound {
            raw.storeBytes(of: addresses ^ masks, toByteOffset: i * 8, as: SIMD4<UInt64>.self)
            addresses &+= step
            i += 4
        }
        while i < range.upperBound {
            words[i] = (base &+ UInt64(i) &* 8) ^ (i & 1 == 0 ? even : odd)
            i += 1
        }
    }

    /// The OR of (word XOR expected) over `range` for an address pattern.
    private static func addressDifference(
        _ pattern: MemoryPattern, pass: Int, _ words: UnsafeMutablePointer<UInt64>, _ range: Range<Int>, base: UInt64
    ) -> UInt64 {
        let (even, odd) = addressMasks(pattern, pass: pass)
        var difference: UInt64 = 0
        var i = range.lowerBound
        while i < range.upperBound && (i & 3 != 0) {
            difference |= words[i] ^ (base &+ UInt64(i) &* 8) ^ (i & 1 == 0 ? even : odd)
            i += 1
        }
        let masks = SIMD4<UInt64>(even, odd, even, odd)
        var addresses = SIMD4<UInt64>(0, 8, 16, 24) &+ (base &+ UInt64(i) &* 8)
        let step = SIMD4<UInt64>(repeating: 32)
        let raw = UnsafeRawPointer(words)
        var vector = SIMD4<UInt64>()
        while i + 4 <= range.upperBound {
            vector |= raw.loadUnaligned(fromByteOffset: i * 8, as: SIMD4<UInt64>.self) ^ addresses ^ masks
            addresses &+= step
            i += 4
        }
        difference |= vector[0] | vector[1] | vector[2] | vector[3]
        while i < range.upperBound {
            difference |= words[i] ^ (base &+ UInt64(i) &* 8) ^ (i & 1 == 0 ? even : odd)
            i += 1
        }
        return difference
    }

    /// Reads `range` back and appends a failure (up to `keep` in total) for each word that is
    /// not what `pattern`'s pass wrote. Returns the number of wrong words.
    @inline(never)
    static func verify(
        _ pattern: MemoryPattern, pass: Int, _ words: UnsafeMutablePointer<UInt64>, _ range: Range<Int>, base: UInt64,
        onMismatch: (_ index: Int, _ expected: UInt64, _ actual: UInt64) -> Void
    ) -> Int {
        var wrong = 0
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(start + block, range.upperBound)
            // A branch-free pass over the block (vectorizes); only a block with a difference is
            // scanned word by word.
            var difference: UInt64 = 0
            switch pattern {
            case .stuckAddress, .ownAddress:
                difference = addressDifference(pattern, pass: pass, words, start..<end, base: base)
            case .walkingOnes, .walkingZeros, .checkerboard, .solidBits:
                let even = pattern.value(pass: pass, index: 0, address: 0)
                let odd = pattern.value(pass: pass, index: 1, address: 0)
                for i in start..<end { difference |= words[i] ^ (i & 1 == 0 ? even : odd) }
            case .randomValue:
                let seed = UInt64(pass + 1) &* 0x9E37_79B9_7F4A_7C15
                for i in start..<end { difference |= words[i] ^ splitmix(seed &+ UInt64(i)) }
            }
            if difference != 0 {
                for i in start..<end {
                    let expected = pattern.value(pass: pass, index: i, address: base &+ UInt64(i) &* 8)
                    let actual = words[i]
                    if actual != expected {
                        wrong += 1
                        onMismatch(i, expected, actual)
                    }
                }
            }
            start = end
        }
        return wrong
    }
}
