import Foundation
@testable import Probes
import Testing

@Suite("Disk probe: real runs on a small file")
struct DiskProbeRunTests {
    @Test func everyPhaseOnA64MiBFileReturnsSaneNumbers() async throws {
        try await withDiskScratch { dir in
            let log = DiskProgressLog()
            let probe = DiskProbe(configuration: smallDiskConfiguration(.file(dir)))
            let result = try await probe.run { log.add($0) }

            #expect(result.engine == .ioUring)
            #expect(result.fixedBuffers)
            #expect(result.directIO)
            #expect(result.notes.isEmpty, "\(result.notes)")
            #expect(!result.interrupted)
            #expect(result.size == 64 << 20)
            #expect(result.targetRemoved)
            #expect(directoryEntries(dir).isEmpty, "the probe's file is left: \(directoryEntries(dir))")
            #expect(result.phases.map(\.phase) == DiskPhase.allCases)

            for phase in result.phases {
                let name = phase.phase.rawValue
                #expect(phase.completed, "\(name)")
                #expect(phase.operations > 0, "\(name)")
                #expect(phase.bytes == phase.operations * UInt64(phase.blockSize), "\(name)")
                #expect(phase.ioErrors == 0, "\(name): \(phase.firstIOError ?? "")")
                #expect(abs(phase.bytesPerSecond - Double(phase.bytes) / phase.duration) < 1e-6 * phase.bytesPerSecond, "\(name)")
                #expect(abs(phase.iops - Double(phase.operations) / phase.duration) < 1e-6 * phase.iops, "\(name)")
                let l = phase.latency
                #expect(l.count == phase.operations, "\(name)")
                #expect(l.minimum > 0 && l.minimum <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99, "\(name): \(l)")
                #expect(l.p99 <= l.p999 && l.p999 <= l.maximum * 1.001, "\(name): \(l)")
                #expect(l.histogram.reduce(0) { $0 + $1.count } == l.count, "\(name)")
                // Samples cover the phase and add up to its bytes.
                let sampled = phase.samples.reduce(0.0) { $0 + $1.bytesPerSecond * $1.duration }
                #expect(abs(sampled - Double(phase.bytes)) <= 1e-6 * Double(phase.bytes), "\(name)")
                #expect(abs(phase.samples.reduce(0.0) { $0 + $1.duration } - phase.duration) < 1e-6, "\(name)")
            }
            // Bounded by 1 s each (the verify phase by one pass over 64 MiB).
            for phase in result.phases where phase.phase != .verify {
                #expect(phase.duration >= 0.99 && phase.duration < 3, "\(phase.phase): \(phase.duration) s")
                #expect(phase.samples.count == 1 || phase.samples.count == 2, "\(phase.phase)")
            }
            let verify = try #require(result.phase(.verify))
            #expect(verify.bytes == 64 << 20)
            #expect(verify.verifiedBlocks == (64 << 20) / 4096)
            #expect(verify.unverifiedBlocks == 0)
            #expect(result.phase(.randomRead)!.verifiedBlocks == result.phase(.randomRead)!.operations)
            #expect(result.phase(.fsync)!.queueDepth == 1)
            #expect(result.phase(.randomRead)!.queueDepth == 32)
            #expect(result.integrity.isClean, "\(result.integrity.badBlocks)")
            #expect(result.integrity.verifiedBlocks > (64 << 20) / 4096)

            let reports = log.all
            #expect(Set(reports.map(\.phase)) == Set(DiskPhase.allCases))
            #expect(reports.allSatisfy { $0.fraction >= 0 && $0.fraction <= 1 && $0.phaseCount == 6 })
            #expect(reports.contains { $0.bytesPerSecond > 0 })
        }
    }

    @Test func psyncEngineRunsAtQueueDepthOne() async throws {
        try await withDiskScratch { dir in
            var configuration = smallDiskConfiguration(.file(dir + "/probe.dat"), size: 16 << 20, seconds: 0.3)
            configuration.engine = .psync
            configuration.phases = [.sequentialWrite, .randomRead, .verify]
            let result = try await DiskProbe(configuration: configuration).run()
            #expect(result.engine == .psync)
            #expect(!result.fixedBuffers)
            #expect(result.phases.allSatisfy { $0.queueDepth == 1 && $0.operations > 0 })
            #expect(result.integrity.isClean)
            #expect(result.integrity.verifiedBlocks >= (16 << 20) / 4096)
            #expect(!FileManager.default.fileExists(atPath: dir + "/probe.dat"))
        }
    }
}
