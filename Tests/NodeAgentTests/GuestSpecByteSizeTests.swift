import Foundation
import Testing

@testable import NodeAgent

/// `ByteSize`: the size strings operators write.
@Suite struct GuestSpecByteSizeTests {
    @Test(arguments: [
        ("0", Int64(0)), ("1073741824", 1_073_741_824), ("512B", 512), ("1b", 1),
        ("256K", 262_144), ("256k", 262_144), ("256KiB", 262_144), ("256Ki", 262_144),
        ("256M", 268_435_456), ("512MiB", 536_870_912), ("1G", 1_073_741_824), ("1gib", 1_073_741_824),
        ("2T", 2_199_023_255_552), ("1 GiB", 1_073_741_824), ("  64M  ", 67_108_864), ("007M", 7_340_032),
        ("8388607T", 9_223_370_937_343_148_032), ("9223372036854775807", Int64.max),
    ])
    func validSizeParses(text: String, bytes: Int64) throws {
        #expect(try ByteSize(parsing: text).bytes == bytes)
    }

    @Test(arguments: [
        ("", ByteSize.ParseError.empty), ("   ", .empty), ("-1", .negative), ("-1G", .negative),
        ("1.5G", .notAnInteger), ("1,5G", .notAnInteger), ("G", .notAnInteger), ("+1G", .notAnInteger),
        ("1e9", .notAnInteger), ("0x10", .notAnInteger), ("one", .notAnInteger), ("１G", .notAnInteger),
        ("1GB", .ambiguousSuffix("GB")), ("1 MB", .ambiguousSuffix("MB")), ("1kb", .ambiguousSuffix("kb")),
        ("1P", .unknownSuffix("P")), ("1 bytes", .unknownSuffix("bytes")), ("1G;rm", .unknownSuffix("G;rm")),
        ("8388608T", .overflow), ("9223372036854775808", .overflow), ("99999999999999999999999", .overflow),
    ])
    func invalidSizeIsRefusedWithItsReason(text: String, error: ByteSize.ParseError) {
        #expect(throws: error) { try ByteSize(parsing: text) }
    }

    @Test func negativeBytesAreNotASize() {
        #expect(ByteSize(bytes: -1) == nil)
        #expect(ByteSize(bytes: 0)?.bytes == 0)
    }

    @Test func descriptionUsesTheLargestExactUnit() {
        #expect(ByteSize.mib(256).description == "256 MiB")
        #expect(ByteSize.kib(1536).description == "1536 KiB")
        #expect(ByteSize.tib(16).description == "16 TiB")
        #expect(ByteSize(bytes: 7)!.description == "7 B")
        #expect(ByteSize(bytes: 0)!.description == "0 B")
    }

    @Test func sizesCompareByBytes() {
        #expect(ByteSize.mib(1024) == ByteSize.gib(1))
        #expect(ByteSize.mib(1023) < ByteSize.gib(1))
    }

    struct Holder: Codable, Equatable {
        var size: ByteSize
    }

    @Test func decodesIntegersAndStringsFromJSON() throws {
        let decoder = JSONDecoder()
        #expect(try decoder.decode(Holder.self, from: Data(#"{"size": 4096}"#.utf8)).size.bytes == 4096)
        #expect(try decoder.decode(Holder.self, from: Data(#"{"size": "4K"}"#.utf8)).size.bytes == 4096)
    }

    @Test func encodesAsIntegerOfBytes() throws {
        let data = try JSONEncoder().encode(Holder(size: .mib(1)))
        #expect(String(decoding: data, as: UTF8.self) == #"{"size":1048576}"#)
    }

    @Test(arguments: [
        (#"{"size": -5}"#, GuestSpecError.Code.outOfRange, "must not be negative"),
        (#"{"size": 1.5}"#, .outOfRange, "whole number"),
        (#"{"size": 1e30}"#, .outOfRange, "larger than"),
        (#"{"size": "12 parsecs"}"#, .invalidValue, "unknown suffix"),
        (#"{"size": true}"#, .invalidType, "expected a size"),
    ])
    func refusedJSONValueNamesTheField(json: String, code: GuestSpecError.Code, reason: String) {
        let error = #expect(throws: GuestSpecError.self) {
            try JSONDecoder().decode(Holder.self, from: Data(json.utf8))
        }
        #expect(error?.field == "size")
        #expect(error?.code == code)
        #expect(error?.problems[0].reason.contains(reason) == true, "\(error?.description ?? "")")
    }
}
