import Glibc

/// The CPU probe's kernels: fixed work whose answer is known in advance, so every iteration is
/// checked. Each kernel rotates through `CPUKernel.inputCount` inputs (the iteration number
/// modulo 4), which keeps the optimizer from hoisting the work out of the loop. The known
/// answers were computed independently by `Benchmarks/cpu-memory/known_answers.c` (and, for
/// the hash, `sha256sum`).
public enum CPUKernel: String, Sendable, Codable, CaseIterable, Equatable {
    /// 64-bit integer: 32,768 xorshift64 steps driving a multiply/rotate/add mix, with a 64-bit
    /// division every 16 steps. One iteration ≈ 0.3 M instructions.
    case integer
    /// Floating point: a 64×64 double-precision matrix product (262,144 multiply-adds) whose
    /// entries are multiples of 1/8, so the result is exact whatever the order of operations;
    /// the answer is the bit pattern of a weighted sum of the product.
    case float
    /// Vector: 8 × `SIMD16<Float>` lanes iterate the logistic map v ← 3.9·v·(1−v) 4,096 times
    /// (chaotic, so a single wrong bit anywhere changes the result); the answer is a hash of
    /// the lanes' bit patterns.
    case vector
    /// Hashing: SHA-256 (the probe's own implementation) of a fixed 16 KiB buffer.
    case hash

    /// How many inputs (and known answers) each kernel rotates through.
    public static let inputCount = 4

    /// Runs this kernel once on input `input` (0..<`inputCount`) on the calling thread and
    /// returns its answer as hex. `fault` perturbs the computation halfway through, the way the
    /// probe's fault-injection hook does.
    public func compute(input: Int, fault: Bool = false) -> String {
        let workspace = CPUKernelWorkspace()
        return CPUKernels.hex(CPUKernels.run(self, input: input % Self.inputCount, fault: fault, workspace))
    }

    /// The known answer for input `input`, as hex.
    public func knownAnswer(input: Int) -> String {
        CPUKernels.hex(CPUKernels.expected(self, input: input % Self.inputCount))
    }
}

/// Per-thread buffers of the kernels (allocated once per worker, on its own core).
final class CPUKernelWorkspace {
    static let matrixSize = 64
    static let hashBytes = 16384
    let matrixA: [UnsafeMutablePointer<Double>]
    let matrixB: [UnsafeMutablePointer<Double>]
    let product: UnsafeMutablePointer<Double>
    let hashInputs: [UnsafeMutableRawBufferPointer]

    init() {
        let n = Self.matrixSize
        var a: [UnsafeMutablePointer<Double>] = []
        var b: [UnsafeMutablePointer<Double>] = []
        var inputs: [UnsafeMutableRawBufferPointer] = []
        for s in 0..<CPUKernel.inputCount {
            let pa = UnsafeMutablePointer<Double>.allocate(capacity: n * n)
            let pb = UnsafeMutablePointer<Double>.allocate(capacity: n * n)
            for i in 0..<n {
                for j in 0..<n {
                    let x: Int = (i * 37 + j * 11 + s * 5) % 17 - 8
                    let y: Int = (i * 13 + j * 29 + s * 7 + 3) % 19 - 9
                    pa[i * n + j] = Double(x) / 8
                    pb[i * n + j] = Double(y) / 8
                }
            }
            a.append(pa)
            b.append(pb)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.hashBytes, alignment: 64)
            var x: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ (UInt64(s + 1) &* 0xD1B5_4A32_D192_ED03)
            for offset in stride(from: 0, to: Self.hashBytes, by: 8) {
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                buffer.storeBytes(of: x.littleEndian, toByteOffset: offset, as: UInt64.self)
            }
            inputs.append(buffer)
        }
        matrixA = a
        matrixB = b
        product = .allocate(capacity: n * n)
        hashInputs = inputs
    }

    deinit {
        matrixA.forEach { $0.deallocate() }
        matrixB.forEach { $0.deallocate() }
        product.deallocate()
        hashInputs.forEach { $0.deallocate() }
    }
}

enum CPUKernels {
    static let integerSeeds: [UInt64] = [
        0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, 0x0F1E_2D3C_4B5A_6978, 0x8796_A5B4_C3D2_E1F0,
    ]
    static let integerSteps: UInt32 = 32768
    static let vectorSteps = 4096

    /// Known answers (Benchmarks/cpu-memory/known_answers.c, sha256sum).
    static let integerAnswers: [UInt64] = [
        0x63d5_76f3_3b65_1362, 0xd517_9fc9_6053_4d64, 0xb756_6e61_0dfd_4dea, 0x7082_38e5_4622_2625,
    ]
    static let floatAnswers: [UInt64] = [
        0xc0c2_7762_0000_0000, 0xc0ba_2f68_0000_0000, 0xc07e_ce40_0000_0000, 0x407b_dd00_0000_0000,
    ]
    static let vectorAnswers: [UInt64] = [
        0xbc9b_fbff_7b0b_f773, 0x7288_c5a5_52f3_ad7a, 0xf0f9_81df_9fdf_3167, 0xdfa4_6af6_1f16_592e,
    ]
    static let hashAnswers: [SIMD4<UInt64>] = [
        SIMD4(0xe179_4c57_adda_87aa, 0x59e8_5362_340c_fdcc, 0xf416_c146_0ec3_3c64, 0x6f5c_41ca_eaba_0424),
        SIMD4(0x66f6_80c9_6702_0229, 0xda9d_7d78_70d4_f485, 0x1dc4_4b6f_eeed_cdd9, 0x84d4_de82_5797_c2e8),
        SIMD4(0x326b_e0e0_3c80_6712, 0x7e4e_bb82_bf57_2753, 0x7271_cb6a_d6d3_6b89, 0xe8d9_8703_bae8_aff7),
        SIMD4(0xafe8_bc10_6ad8_04b3, 0x0960_162e_a913_e302, 0xb147_1314_f5cc_bd82, 0x77c3_f1a9_fc23_d40a),
    ]

    static func expected(_ kernel: CPUKernel, input: Int) -> SIMD4<UInt64> {
        switch kernel {
        case .integer: SIMD4(integerAnswers[input], 0, 0, 0)
        case .float: SIMD4(floatAnswers[input], 0, 0, 0)
        case .vector: SIMD4(vectorAnswers[input], 0, 0, 0)
        case .hash: hashAnswers[input]
        }
    }

    @inline(__always)
    static func run(_ kernel: CPUKernel, input: Int, fault: Bool, _ workspace: CPUKernelWorkspace) -> SIMD4<UInt64> {
        switch kernel {
        case .integer: SIMD4(integer(seed: integerSeeds[input], fault: fault), 0, 0, 0)
        case .float: SIMD4(float(workspace, input: input, fault: fault), 0, 0, 0)
        case .vector: SIMD4(vector(input: input, fault: fault), 0, 0, 0)
        case .hash:
            CPUSHA256.digest(
                UnsafeRawBufferPointer(workspace.hashInputs[input]),
                faultAfterBlock: fault ? CPUKernelWorkspace.hashBytes / 128 : nil)
        }
    }

    /// The answer as hex: one 16-digit word, or 64 digits for the hash.
    static func hex(_ answer: SIMD4<UInt64>) -> String {
        let words = answer[1] == 0 && answer[2] == 0 && answer[3] == 0 ? [answer[0]] : [answer[0], answer[1], answer[2], answer[3]]
        return words.map { word in
            let digits = String(word, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
    }

    @inline(never)
    static func integer(seed: UInt64, fault: Bool) -> UInt64 {
        var x = seed
        var acc: UInt64 = 0x9E37_79B9_7F4A_7C15
        var i: UInt32 = 0
        while i < integerSteps {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            if fault && i == integerSteps / 2 { x ^= 1 }
            acc = (acc ^ x) &* 0xBF58_476D_1CE4_E5B9
            acc = ((acc << 31) | (acc >> 33)) &+ UInt64(i)
            if i & 15 == 0 { acc ^= acc / ((x >> 40) | 1) }
            i &+= 1
        }
        return acc
    }

    @inline(never)
    static func float(_ w: CPUKernelWorkspace, input: Int, fault: Bool) -> UInt64 {
        let n = CPUKernelWorkspace.matrixSize
        let a = w.matrixA[input]
        let b = w.matrixB[input]
        let c = w.product
        c.update(repeating: 0, count: n * n)
        for i in 0..<n {
            let row = c + i * n
            for k in 0..<n {
                let aik = a[i * n + k]
                let bk = b + k * n
                for j in 0..<n { row[j] += aik * bk[j] }
            }
            if fault && i == n / 2 { row[n / 2] += 1 }
        }
        var sum = 0.0
        for i in 0..<n {
            for j in 0..<n { sum += c[i * n + j] * Double(i * n + j + 1) }
        }
        return sum.bitPattern
    }

    @inline(never)
    static func vector(input s: Int, fault: Bool) -> UInt64 {
        func start(_ a: Int) -> SIMD16<Float> {
            var v = SIMD16<Float>()
            for l in 0..<16 { v[l] = Float(((a * 16 + l) * 7 + s * 13) % 89 + 5) / 100 }
            return v
        }
        var v0 = start(0)
        var v1 = start(1)
        var v2 = start(2)
        var v3 = start(3)
        var v4 = start(4)
        var v5 = start(5)
        var v6 = start(6)
        var v7 = start(7)
        let r = SIMD16<Float>(repeating: 3.9)
        let one = SIMD16<Float>(repeating: 1)
        for half in 0..<2 {
            for _ in 0..<(vectorSteps / 2) {
                v0 = r * v0 * (one - v0)
                v1 = r * v1 * (one - v1)
                v2 = r * v2 * (one - v2)
                v3 = r * v3 * (one - v3)
                v4 = r * v4 * (one - v4)
                v5 = r * v5 * (one - v5)
                v6 = r * v6 * (one - v6)
                v7 = r * v7 * (one - v7)
            }
            if fault && half == 0 { v0[0] = Float(bitPattern: v0[0].bitPattern ^ 1) }
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in [v0, v1, v2, v3, v4, v5, v6, v7] {
            for l in 0..<16 { h = (h ^ UInt64(v[l].bitPattern)) &* 0x0000_0100_0000_01b3 }
        }
        return h
    }
}
