/// A memory bandwidth kernel over arrays `a`, `b`, `c` of doubles (STREAM's four, plus a plain
/// read and a plain write for comparison with tools that measure those).
public enum MemoryBandwidthKernel: String, Sendable, Codable, CaseIterable, Equatable {
    /// `c[i] = a[i]`: reads one array, writes one.
    case copy
    /// `b[i] = q × c[i]`: reads one, writes one.
    case scale
    /// `c[i] = a[i] + b[i]`: reads two, writes one.
    case add
    /// `a[i] = b[i] + q × c[i]`: reads two, writes one.
    case triad
    /// Reads `a` (a sum of its words, kept so it cannot be optimized away).
    case read
    /// `c[i] = w`: writes one array.
    case write

    /// STREAM's four kernels, the default.
    public static let stream: [MemoryBandwidthKernel] = [.copy, .scale, .add, .triad]

    /// How many arrays one pass reads or writes (STREAM's byte counting: each array access
    /// counts once, write-allocate traffic is not counted).
    public var arraysTouched: Int {
        switch self {
        case .copy, .scale: 2
        case .add, .triad: 3
        case .read, .write: 1
        }
    }

    /// Bytes one pass moves over arrays of `elements` doubles: `arraysTouched × elements × 8`.
    public func bytesMoved(elementsPerArray elements: Int) -> Int {
        arraysTouched * elements * MemoryLayout<Double>.size
    }

    /// STREAM's `scalar`.
    static let q = 3.0
    /// The value `write` stores.
    static let writeValue = 1.5

    /// What one pass does to the (uniform) values of the arrays: used to validate the arrays
    /// afterwards, as STREAM does.
    func apply(_ v: inout (a: Double, b: Double, c: Double)) {
        switch self {
        case .copy: v.c = v.a
        case .scale: v.b = Self.q * v.c
        case .add: v.c = v.a + v.b
        case .triad: v.a = v.b + Self.q * v.c
        case .read: break
        case .write: v.c = Self.writeValue
        }
    }
}

/// The bandwidth arrays and their loops.
struct MemoryBandwidthArrays: @unchecked Sendable {
    let a: UnsafeMutablePointer<Double>
    let b: UnsafeMutablePointer<Double>
    let c: UnsafeMutablePointer<Double>
    let elements: Int

    /// STREAM's initial values: a = 1, b = 2, c = 0, then a = 2a (outside the timing).
    func initialize(_ range: Range<Int>) {
        for i in range {
            a[i] = 1
            b[i] = 2
            c[i] = 0
        }
        for i in range { a[i] = 2 * a[i] }
    }

    static let initialValues: (a: Double, b: Double, c: Double) = (2, 2, 0)

    /// Runs one kernel over `range`; returns the read kernel's sum (0 for the others).
    @inline(never)
    func run(_ kernel: MemoryBandwidthKernel, _ range: Range<Int>) -> UInt64 {
        let lo = range.lowerBound
        let n = range.count
        let a = self.a + lo
        let b = self.b + lo
        let c = self.c + lo
        let q = MemoryBandwidthKernel.q
        switch kernel {
        case .copy:
            for i in 0..<n { c[i] = a[i] }
        case .scale:
            for i in 0..<n { b[i] = q * c[i] }
        case .add:
            for i in 0..<n { c[i] = a[i] + b[i] }
        case .triad:
            for i in 0..<n { a[i] = b[i] + q * c[i] }
        case .read:
            // Four independent vector accumulators, 128 bytes per step, so the loop is bound by
            // the loads and not by the additions' latency.
            let raw = UnsafeRawPointer(a)
            var s0 = SIMD4<UInt64>()
            var s1 = SIMD4<UInt64>()
            var s2 = SIMD4<UInt64>()
            var s3 = SIMD4<UInt64>()
            var i = 0
            while i + 16 <= n {
                s0 &+= raw.loadUnaligned(fromByteOffset: i * 8, as: SIMD4<UInt64>.self)
                s1 &+= raw.loadUnaligned(fromByteOffset: i * 8 + 32, as: SIMD4<UInt64>.self)
                s2 &+= raw.loadUnaligned(fromByteOffset: i * 8 + 64, as: SIMD4<UInt64>.self)
                s3 &+= raw.loadUnaligned(fromByteOffset: i * 8 + 96, as: SIMD4<UInt64>.self)
                i += 16
            }
            var sum = (s0 &+ s1 &+ s2 &+ s3).wrappedSum()
            while i < n {
                sum &+= raw.load(fromByteOffset: i * 8, as: UInt64.self)
                i += 1
            }
            return sum
        case .write:
            let w = MemoryBandwidthKernel.writeValue
            for i in 0..<n { c[i] = w }
        }
        return 0
    }

    /// Checks every element against the values the kernels should have left (relative error at
    /// most 1e-13, STREAM's bound for doubles). Returns a description of the first mismatch.
    func validate(expected v: (a: Double, b: Double, c: Double)) -> String? {
        func close(_ x: Double, _ y: Double) -> Bool {
            x == y || abs(x - y) <= 1e-13 * abs(y)
        }
        for i in 0..<elements {
            if !close(a[i], v.a) { return "a[\(i)] = \(a[i]), expected \(v.a)" }
            if !close(b[i], v.b) { return "b[\(i)] = \(b[i]), expected \(v.b)" }
            if !close(c[i], v.c) { return "c[\(i)] = \(c[i]), expected \(v.c)" }
        }
        return nil
    }

    /// The part of `0..<elements` thread `index` of `count` works on: contiguous, starting on
    /// 64-byte boundaries (8 doubles).
    static func chunk(_ index: Int, of count: Int, elements: Int) -> Range<Int> {
        let per = (elements / count) & ~7
        let lo = per * index
        let hi = index == count - 1 ? elements : lo + per
        return lo..<hi
    }
}
