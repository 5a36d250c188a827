import CGroups
import Testing

@Suite("ByteSize")
struct ValuesByteSizeTests {
    @Test(
        "plain numbers and binary units parse to bytes",
        arguments: [
            ("0", 0), ("4096", 4096), ("512K", 524_288), ("512k", 524_288), ("64M", 67_108_864), ("64MiB", 67_108_864),
            ("1G", 1_073_741_824), ("1Gi", 1_073_741_824), ("2T", 2_199_023_255_552), ("1.5G", 1_610_612_736),
            ("0.5K", 512), (" 100B\n", 100), ("64 M", 67_108_864), (".5M", 524_288),
        ] as [(String, UInt64)])
    func parses(text: String, bytes: UInt64) throws {
        #expect(try ByteSize(parsing: text).bytes == bytes)
    }

    @Test(
        "decimal units, garbage, fractions of a byte and overflow are refused with the text",
        arguments: [
            "64MB", "1KB", "abc", "", "1.2.3", "-1", "1.3K", "0.1", "16E", "17179869184G", "1e9", "12 34",
        ])
    func refuses(text: String) {
        let error = #expect(throws: CGroupError.self) { try ByteSize(parsing: text, file: "memory.max") }
        #expect(error?.kind == .invalidValue)
        #expect(error?.file == "memory.max")
        #expect(error?.value == text)
    }

    @Test("the kernel's text is the decimal number; reading back accepts only that")
    func fileText() throws {
        #expect(ByteSize.mebibytes(200).fileText == "209715200")
        #expect(try ByteSize(fileText: "209715200\n", file: "memory.max") == .mebibytes(200))
        let error = #expect(throws: CGroupError.self) { try ByteSize(fileText: "200M", file: "memory.max") }
        #expect(error?.kind == .unparsable)
    }

    @Test("descriptions use the largest exact binary unit")
    func description() {
        #expect(ByteSize.gibibytes(2).description == "2G")
        #expect(ByteSize(1536 * 1024).description == "1536K")
        #expect(ByteSize(100).description == "100")
        #expect(ByteSize(0).description == "0")
    }

    @Test("rounding down to a page matches what the kernel keeps")
    func pageRounding() {
        #expect(ByteSize(10_000).roundedDown(toMultipleOf: .pageSize) == ByteSize(8192))
        #expect(ByteSize(8192).roundedDown(toMultipleOf: .pageSize) == ByteSize(8192))
        #expect(ByteSize(4095).roundedDown(toMultipleOf: .pageSize) == ByteSize(0))
    }

    @Test("limits: max is above every value and renders as max")
    func limits() throws {
        let limit: CGroupLimit<ByteSize> = .value(.gibibytes(1))
        #expect(limit < .max)
        #expect(CGroupLimit<ByteSize>.max.fileText == "max")
        #expect(limit.fileText == "1073741824")
        #expect(try CGroupLimit<ByteSize>(fileText: "max\n", file: "memory.max") == .max)
        #expect(try CGroupLimit<ByteSize>(fileText: "4096", file: "memory.max").limit == ByteSize(4096))
        #expect(throws: CGroupError.self) { try CGroupLimit<ByteSize>(fileText: "unlimited", file: "memory.max") }
    }
}
