// xxHash64 (Yann Collet's XXH64, the reference algorithm), used as the checksum of every block
// the disk probe writes. Implemented here to keep the probe free of dependencies; checked
// against the reference test vectors in Tests/ProbesTests/DiskBlockFormatTests.swift.

/// The 64-bit xxHash of a byte range.
enum DiskXXHash64 {
    static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    @inline(__always)
    static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x &<< r) | (x &>> (64 &- r)) }

    @inline(__always)
    static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* prime2, 31) &* prime1
    }

    @inline(__always)
    static func merge(_ acc: UInt64, _ value: UInt64) -> UInt64 {
        (acc ^ round(0, value)) &* prime1 &+ prime4
    }

    /// The hash of `count` bytes at `data` with `seed`. Reads are unaligned-safe.
    static func hash(_ data: UnsafeRawPointer, count: Int, seed: UInt64 = 0) -> UInt64 {
        var p = 0
        var h: UInt64
        if count >= 32 {
            var v1 = seed &+ prime1 &+ prime2
            var v2 = seed &+ prime2
            var v3 = seed
            var v4 = seed &- prime1
            let limit = count - 32
            while p <= limit {
                v1 = round(v1, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
                v2 = round(v2, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self)))
                v3 = round(v3, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p + 16, as: UInt64.self)))
                v4 = round(v4, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p + 24, as: UInt64.self)))
                p += 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = merge(h, v1)
            h = merge(h, v2)
            h = merge(h, v3)
            h = merge(h, v4)
        } else {
            h = seed &+ prime5
        }
        h = h &+ UInt64(count)
        while p + 8 <= count {
            let k = round(0, UInt64(littleEndian: data.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
            h = rotl(h ^ k, 27) &* prime1 &+ prime4
            p += 8
        }
        if p + 4 <= count {
            let k = UInt64(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
            h = rotl(h ^ (k &* prime1), 23) &* prime2 &+ prime3
            p += 4
        }
        while p < count {
            let k = UInt64(data.load(fromByteOffset: p, as: UInt8.self))
            h = rotl(h ^ (k &* prime5), 11) &* prime1
            p += 1
        }
        return avalanche(h)
    }

    /// The final mix.
    @inline(__always)
    static func avalanche(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h = h &* prime2
        h ^= h >> 29
        h = h &* prime3
        h ^= h >> 32
        return h
    }

    static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: $0.count, seed: seed) }
    }
}
