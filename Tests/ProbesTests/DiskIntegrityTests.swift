import Foundation
@testable import Probes
import Testing

@Suite("Disk probe: integrity")
struct DiskIntegrityTests {
    @Test func aUnitIsRecognisedAndEveryDamageClassified() {
        let generation = DiskGeneration(runID: 42, pass: 3)
        let unit = formattedUnit(offset: 8192, generation: generation)
        unit.withUnsafeBytes { raw in
            #expect(DiskBlockFormat.inspect(raw.baseAddress!) == .valid(offset: 8192, generation: generation))
        }
        #expect(Array(unit[0..<8]) == Array("NAPROBE1".utf8))
        // Same (offset, generation): same bytes; another offset or generation: other payload.
        #expect(formattedUnit(offset: 8192, generation: generation) == unit)
        #expect(Array(formattedUnit(offset: 12288, generation: generation)[40...]) != Array(unit[40...]))
        #expect(Array(formattedUnit(offset: 8192, generation: DiskGeneration(runID: 42, pass: 4))[40...]) != Array(unit[40...]))

        for index in [8, 17, 30, 40, 2000, 4095] {  // checksum, offset, generation, payload bytes
            var damaged = unit
            damaged[index] ^= 0x01
            damaged.withUnsafeBytes { raw in
                #expect(DiskBlockFormat.inspect(raw.baseAddress!) == .corrupt, "byte \(index)")
            }
        }
        let zeros = [UInt8](repeating: 0, count: 4096)
        zeros.withUnsafeBytes { #expect(DiskBlockFormat.inspect($0.baseAddress!) == .zeros) }
    }

    @Test func theFusedFillWritesTheReferenceChecksum() {
        // fillUnit computes xxHash64 while it stores; it must equal the hash of the stored bytes.
        for (offset, runID, pass) in [(UInt64(0), UInt32(0), UInt32(0)), (4096, 1, 1), (1 << 40, .max, .max), (123 * 4096, 0xDEAD_BEEF, 7)] {
            let unit = formattedUnit(offset: offset, generation: DiskGeneration(runID: runID, pass: pass))
            let stored = unit[8..<16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            #expect(stored == DiskXXHash64.hash(Array(unit[16...])), "offset \(offset)")
        }
    }

    @Test func theGenerationMapFollowsWrapsRandomWritesAndFsyncs() {
        var map = DiskGenerationMap(runID: 9, unitCount: 100)
        let first = map.beginSequential(extentUnits: 96)
        map.sequentialAdvanced(to: 96)
        let second = map.sequentialWrapped()
        map.sequentialAdvanced(to: 32)
        #expect(map.expectedPass(unit: 0) == second)
        #expect(map.expectedPass(unit: 31) == second)
        #expect(map.expectedPass(unit: 32) == first)
        #expect(map.expectedPass(unit: 95) == first)
        #expect(map.expectedPass(unit: 96) == nil, "beyond the sequential extent")
        let random = map.beginRandom(rangeUnits: 96)
        map.markRandom(unit: 50, count: 2)
        #expect(map.expectedPass(unit: 50) == random && map.expectedPass(unit: 51) == random)
        #expect(map.expectedPass(unit: 52) == first)
        let fsync = map.beginFsync()
        map.fsyncWrote(upTo: 4)
        #expect(map.expectedPass(unit: 3) == fsync && map.expectedPass(unit: 4) == second)
        #expect(Set([first, second, random, fsync]).count == 4)
        #expect(map.dataExtent == 96)
    }

    /// Writes 8 MiB twice over (so the file holds pass 2 and pass 1 is "old"), then, before the
    /// verify phase, corrupts a byte, copies a unit over another offset, puts an old-generation
    /// unit back and zeroes one: verification names exactly those offsets and kinds.
    @Test func verificationReportsExactlyTheTamperedUnits() async throws {
        try await withDiskScratch { dir in
            let size: UInt64 = 8 << 20
            let runID: UInt32 = 0xC0FFEE
            var configuration = DiskProbe.Configuration(target: .file(dir + "/tampered.dat"), size: size)
            configuration.phases = [.sequentialWrite, .verify]
            configuration.sequentialWrite = DiskWorkload(blockSize: 1 << 20, queueDepth: 4, bytes: 2 * size)
            configuration.verify = DiskWorkload(blockSize: 1 << 20, queueDepth: 4)
            configuration.runID = runID

            let corrupted: UInt64 = (1 << 20) + 4096
            let source: UInt64 = 2 << 20
            let misdirected: UInt64 = (3 << 20) + 8192
            let stale: UInt64 = 5 << 20
            let zeroed: UInt64 = (7 << 20) + 4096 * 255  // the last unit of the last block
            let result = try await DiskProbe(configuration: configuration).run(progress: { _ in }) { phase, path in
                guard phase == .verify else { return }
                var byte = RawFile.read(path, offset: corrupted + 1234, count: 1)
                byte[0] ^= 0x40
                RawFile.write(path, offset: corrupted + 1234, bytes: byte)
                RawFile.write(path, offset: misdirected, bytes: RawFile.read(path, offset: source, count: 4096))
                RawFile.write(path, offset: stale, bytes: formattedUnit(offset: stale, generation: DiskGeneration(runID: runID, pass: 1)))
                RawFile.write(path, offset: zeroed, bytes: [UInt8](repeating: 0, count: 4096))
            }

            let integrity = result.integrity
            #expect(integrity.badBlockCount == 4)
            #expect(integrity.corruptions == 1 && integrity.misdirectedWrites == 1 && integrity.lostWrites == 2)
            #expect(integrity.verifiedBlocks == size / 4096)
            #expect(!integrity.badBlocksTruncated)
            let found = integrity.badBlocks.sorted { $0.offset < $1.offset }
            #expect(found.map(\.offset) == [corrupted, misdirected, stale, zeroed])
            #expect(found.map(\.kind) == [.corruption, .misdirectedWrite, .lostWrite, .lostWrite])
            #expect(found.allSatisfy { $0.phase == .verify && $0.expected == DiskGeneration(runID: runID, pass: 2) })
            #expect(found[1].foundOffset == source)
            #expect(found[1].found == DiskGeneration(runID: runID, pass: 2))
            #expect(found[2].found == DiskGeneration(runID: runID, pass: 1))
            #expect(found[3].found == nil)
            #expect(result.phase(.verify)?.badBlocks == 4)
            #expect(result.targetRemoved)
        }
    }

    @Test func aCleanRunReportsNothing() async throws {
        try await withDiskScratch { dir in
            var configuration = DiskProbe.Configuration(target: .file(dir), size: 8 << 20)
            configuration.phases = [.sequentialWrite, .sequentialRead, .randomRead, .randomWrite, .verify]
            configuration.sequentialWrite = DiskWorkload(blockSize: 1 << 20, queueDepth: 4, bytes: 12 << 20)
            configuration.sequentialRead = DiskWorkload(blockSize: 1 << 20, queueDepth: 4)
            configuration.randomRead = DiskWorkload(blockSize: 4096, queueDepth: 8, bytes: 4 << 20)
            configuration.randomWrite = DiskWorkload(blockSize: 8192, queueDepth: 8, bytes: 4 << 20)
            let result = try await DiskProbe(configuration: configuration).run()
            #expect(result.integrity.isClean, "\(result.integrity.badBlocks)")
            #expect(result.integrity.badBlocks.isEmpty)
            #expect(result.integrity.unverifiedBlocks == 0)
            #expect(result.phase(.verify)?.verifiedBlocks == (8 << 20) / 4096)
            #expect(result.phase(.randomRead)?.verifiedBlocks == 1024)
        }
    }

    @Test func theListIsCappedButEveryBadUnitCounted() async throws {
        try await withDiskScratch { dir in
            var configuration = DiskProbe.Configuration(target: .file(dir), size: 4 << 20)
            configuration.phases = [.sequentialWrite, .verify]
            configuration.sequentialWrite = DiskWorkload(blockSize: 1 << 20, queueDepth: 2)
            configuration.verify = DiskWorkload(blockSize: 1 << 20, queueDepth: 2)
            configuration.maxReportedBadBlocks = 10
            let result = try await DiskProbe(configuration: configuration).run(progress: { _ in }) { phase, path in
                guard phase == .verify else { return }
                // Zero the second MiB: 256 lost units.
                RawFile.write(path, offset: 1 << 20, bytes: [UInt8](repeating: 0, count: 1 << 20))
            }
            #expect(result.integrity.badBlockCount == 256)
            #expect(result.integrity.lostWrites == 256)
            #expect(result.integrity.badBlocks.count == 10)
            #expect(result.integrity.badBlocksTruncated)
            let expected: [UInt64] = (0..<10).map { UInt64(1 << 20) + UInt64($0) * 4096 }
            #expect(result.integrity.badBlocks.map(\.offset) == expected)
        }
    }
}
