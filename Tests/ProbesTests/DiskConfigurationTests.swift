import Foundation
@testable import Probes
import Testing

@Suite("Disk probe: configuration and result schema")
struct DiskConfigurationTests {
    @Test func missingKeysTakeTheDefaultsAndPartialWorkloadsMerge() throws {
        let json = """
            {"target": {"kind": "blockDevice", "path": "/dev/sdz"},
             "phases": ["randomRead", "sequentialWrite"],
             "randomRead": {"duration": 30},
             "sequentialWrite": {"bytes": 1073741824, "duration": null},
             "force": true}
            """
        let c = try JSONDecoder().decode(DiskProbe.Configuration.self, from: Data(json.utf8))
        #expect(c.target == .blockDevice("/dev/sdz"))
        #expect(c.size == nil)
        #expect(c.orderedPhases == [.sequentialWrite, .randomRead], "run order is DiskPhase order")
        #expect(c.randomRead == DiskWorkload(blockSize: 4096, queueDepth: 32, duration: 30))
        #expect(c.sequentialWrite == DiskWorkload(blockSize: 1 << 20, queueDepth: 16, duration: nil, bytes: 1 << 30))
        #expect(c.sequentialRead == .defaultSequential && c.fsync == .defaultFsync && c.verify == .defaultVerify)
        #expect(c.force && c.engine == .auto && c.directIO && c.sampleInterval == 1 && c.maxReportedBadBlocks == 100)

        let minimal = try JSONDecoder().decode(
            DiskProbe.Configuration.self, from: Data(#"{"target": {"kind": "file", "path": "/var/tmp"}}"#.utf8))
        #expect(minimal == DiskProbe.Configuration(target: .file("/var/tmp")))
        // Encoding and decoding again gives the same configuration.
        let again = try JSONDecoder().decode(DiskProbe.Configuration.self, from: JSONEncoder().encode(c))
        #expect(again == c)
    }

    @Test func aResultRoundTripsThroughJSONWithItsDocumentedKeys() async throws {
        try await withDiskScratch { dir in
            var configuration = smallDiskConfiguration(.file(dir), size: 8 << 20, seconds: 0.1)
            configuration.phases = [.sequentialWrite, .randomRead]
            let result = try await DiskProbe(configuration: configuration).run()
            let data = try JSONEncoder().encode(result)
            #expect(try JSONDecoder().decode(DiskResult.self, from: data) == result)
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(Set(object.keys) == [
                "target", "targetKind", "size", "logicalBlockSize", "engine", "fixedBuffers", "directIO", "notes", "runID",
                "preconditioned", "interrupted", "targetRemoved", "duration", "phases", "integrity",
            ])
            #expect(object["engine"] as? String == "io_uring")
            #expect(object["targetKind"] as? String == "file")
            let phase = try #require((object["phases"] as? [[String: Any]])?.first)
            #expect(phase["phase"] as? String == "sequentialWrite")
            let latency = try #require(phase["latency"] as? [String: Any])
            #expect(Set(latency.keys) == ["count", "minimum", "mean", "p50", "p90", "p99", "p999", "maximum", "histogram"])
        }
    }

    @Test func readsWithoutASequentialWriteFillTheFileFirst() async throws {
        try await withDiskScratch { dir in
            var configuration = smallDiskConfiguration(.file(dir), size: 8 << 20, seconds: 0.2)
            configuration.phases = [.randomRead]
            let result = try await DiskProbe(configuration: configuration).run()
            #expect(result.preconditioned)
            #expect(result.phases.map(\.phase) == [.randomRead])
            let read = try #require(result.phase(.randomRead))
            #expect(read.verifiedBlocks == read.operations, "every read checked against the fill")
            #expect(read.unverifiedBlocks == 0)
            #expect(result.integrity.isClean)
        }
    }
}
