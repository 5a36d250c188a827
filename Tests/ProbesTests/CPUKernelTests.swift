import Foundation
@testable import Probes
import TestSupport
import Testing

@Suite("CPU kernels: known answers")
struct CPUKernelTests {
    @Test(arguments: CPUKernel.allCases)
    func everyInputGivesItsKnownAnswer(kernel: CPUKernel) {
        for input in 0..<CPUKernel.inputCount {
            #expect(kernel.compute(input: input) == kernel.knownAnswer(input: input), "\(kernel) input \(input)")
        }
    }

    @Test(arguments: CPUKernel.allCases)
    func anInjectedFaultGivesAWrongAnswer(kernel: CPUKernel) {
        for input in 0..<CPUKernel.inputCount {
            let faulty = kernel.compute(input: input, fault: true)
            #expect(faulty != kernel.knownAnswer(input: input), "\(kernel) input \(input): the fault went unnoticed")
        }
    }

    @Test func theInputsHaveDistinctAnswers() {
        for kernel in CPUKernel.allCases {
            let answers = Set((0..<CPUKernel.inputCount).map { kernel.knownAnswer(input: $0) })
            #expect(answers.count == CPUKernel.inputCount, "\(kernel)")
        }
    }

    /// FIPS 180-4 examples plus lengths around the padding boundaries (digests from Python's hashlib).
    @Test func sha256MatchesReferenceDigests() {
        let cases: [([UInt8], String)] = [
            ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
            (Array(repeating: 0x61, count: 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
            (Array(repeating: 0x61, count: 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
            (Array(repeating: 0x61, count: 63), "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
            (Array(repeating: 0x61, count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
            (
                Array(repeating: 0x61, count: 1_000_000),
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
            ),
            (Array((0..<1280).map { UInt8($0 % 256) }), "d414b085826eb06778483ba35564dc849e643359f69ed9747878ba6e54985bed"),
        ]
        for (message, digest) in cases {
            #expect(CPUKernels.hex(CPUSHA256.digest(message)) == digest, "\(message.count) bytes")
        }
    }

    /// The constants in the Swift source against the independent C reference and sha256sum.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gcc")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum")))
    func knownAnswersAgreeWithTheCReference() async throws {
        try await withTemporaryDirectory("cpu-known-answers") { dir in
            let source = Integration.repositoryRoot.appendingPathComponent("Benchmarks/cpu-memory/known_answers.c").path
            let binary = dir.file("known_answers")
            try run("/usr/bin/gcc", ["-O2", "-ffp-contract=off", "-o", binary, source])
            var fromC: [String: String] = [:]
            for line in try run(binary, []).split(separator: "\n") {
                let fields = line.split(separator: " ")
                #expect(fields.count == 3)
                fromC["\(fields[0]) \(fields[1])"] = String(fields[2].dropFirst(2))
            }
            for kernel in [CPUKernel.integer, .float, .vector] {
                for input in 0..<CPUKernel.inputCount {
                    #expect(fromC["\(kernel.rawValue) \(input)"] == kernel.knownAnswer(input: input), "\(kernel) \(input)")
                }
            }
            let workspace = CPUKernelWorkspace()
            for input in 0..<CPUKernel.inputCount {
                let buffer = dir.file("buffer\(input)")
                let pid = try spawn(binary, ["hash-buffer", "\(input)"], stdout: buffer)
                #expect(reap(pid) == 0)
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: buffer)))
                #expect(bytes == Array(UnsafeRawBufferPointer(workspace.hashInputs[input])), "hash input \(input)")
                let sum = try run("/usr/bin/sha256sum", [buffer]).prefix(64)
                #expect(String(sum) == CPUKernel.hash.knownAnswer(input: input), "hash input \(input)")
            }
        }
    }
}
