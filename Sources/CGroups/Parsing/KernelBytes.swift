// The fast path of the parsers: kernel text scanned as UTF-8 bytes.
//
// A parser first scans the bytes and accepts only what the kernel prints: ASCII keys, single
// spaces, plain decimal numbers. Anything else (a value that does not parse, a repeated or
// missing line, a tab inside a value, a "\r", a non-ASCII byte in a kept key) makes the scan
// give up, and the parser runs its reference implementation over `Character`s, which decides
// what such text means and builds the error. So the fast path never changes a result: on the
// text it accepts, splitting bytes on "\n" and " " gives the lines and fields that splitting
// Characters gives (in ASCII only "\r\n" is one Character, and no "\r" is accepted), and its
// numbers are the ones `UInt64(_:)` and `Double(_:)` compute.

/// The UTF-8 bytes of a kernel text, valid inside ``scan(_:_:)``.
struct KernelBytes {
    let base: UnsafeBufferPointer<UInt8>

    /// Calls `body` with the bytes of `text` (native strings are not copied).
    static func scan<Result>(_ text: String, _ body: (KernelBytes) -> Result?) -> Result? {
        var text = text
        return text.withUTF8 { body(KernelBytes(base: $0)) }
    }

    /// The non-blank lines (blank: only spaces and tabs), without their "\n".
    var lines: Lines { Lines(base: base, position: 0) }

    struct Lines: Sequence, IteratorProtocol {
        let base: UnsafeBufferPointer<UInt8>
        var position: Int
        /// The 1-based number of the line `next()` returned last.
        private(set) var number = 0

        mutating func next() -> Range<Int>? {
            while position < base.count {
                let start = position
                var end = start
                var blank = true
                while end < base.count, base[end] != UInt8(ascii: "\n") {
                    if base[end] != UInt8(ascii: " ") && base[end] != UInt8(ascii: "\t") { blank = false }
                    end += 1
                }
                position = end + 1
                number += 1
                if !blank { return start..<end }
            }
            return nil
        }
    }

    /// The number of `text` when it is only digits, with or without a final "\n".
    static func unsigned(_ text: String) -> UInt64? {
        scan(text) { bytes in
            let count = bytes.base.last == UInt8(ascii: "\n") ? bytes.base.count - 1 : bytes.base.count
            return bytes.unsigned(0..<count)
        }
    }

    /// The first position of `byte` in `range`, or `range.upperBound`.
    func first(_ byte: UInt8, in range: Range<Int>) -> Int {
        var index = range.lowerBound
        while index < range.upperBound, base[index] != byte { index += 1 }
        return index
    }

    /// The space-separated words of `range`, runs of spaces counting as one.
    func words(_ range: Range<Int>) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var index = range.lowerBound
        while index < range.upperBound {
            if base[index] == UInt8(ascii: " ") {
                index += 1
                continue
            }
            let end = first(UInt8(ascii: " "), in: index..<range.upperBound)
            words.append(index..<end)
            index = end
        }
        return words
    }

    /// `KEY VALUE` split at its only space, both non-empty; nil otherwise.
    func keyValue(_ line: Range<Int>) -> (key: Range<Int>, value: Range<Int>)? {
        let space = first(UInt8(ascii: " "), in: line)
        guard space > line.lowerBound, space + 1 < line.upperBound,
            first(UInt8(ascii: " "), in: space + 1..<line.upperBound) == line.upperBound
        else { return nil }
        return (line.lowerBound..<space, space + 1..<line.upperBound)
    }

    /// A plain decimal number (digits only, no overflow).
    func unsigned(_ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty else { return nil }
        var value: UInt64 = 0
        for index in range {
            let digit = base[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow, !carry else { return nil }
            value = sum
        }
        return value
    }

    /// `DIGITS` or `DIGITS.DIGITS` with at most 15 digits and 22 decimals, as `Double(_:)` reads
    /// it: the digits and the power of ten are exact doubles, so one division rounds correctly.
    func decimal(_ range: Range<Int>) -> Double? {
        let point = first(UInt8(ascii: "."), in: range)
        guard let whole = unsigned(range.lowerBound..<point) else { return nil }
        guard point < range.upperBound else { return range.count <= 15 ? Double(whole) : nil }
        let fraction = point + 1..<range.upperBound
        guard range.count <= 16, fraction.count <= 22, let decimals = unsigned(fraction) else { return nil }
        var scale = 1.0
        for _ in 0..<fraction.count { scale *= 10 }
        return Double(whole * Self.powerOfTen(fraction.count) + decimals) / scale
    }

    private static func powerOfTen(_ exponent: Int) -> UInt64 {
        var power: UInt64 = 1
        for _ in 0..<exponent { power &*= 10 }
        return power
    }

    /// The text of `range` when it is ASCII without "\r" (else the reference parser decides).
    func string(_ range: Range<Int>) -> String? {
        for index in range where base[index] >= 0x80 || base[index] == UInt8(ascii: "\r") { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: base[range]), as: UTF8.self)
    }

    /// Whether `range` holds exactly the bytes of `ascii`.
    func matches(_ range: Range<Int>, _ ascii: StaticString) -> Bool {
        ascii.withUTF8Buffer { key in
            guard key.count == range.count else { return false }
            var index = range.lowerBound
            for byte in key {
                guard base[index] == byte else { return false }
                index += 1
            }
            return true
        }
    }

    /// Whether the two ranges hold the same bytes.
    func same(_ lhs: Range<Int>, _ rhs: Range<Int>) -> Bool {
        lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { base[$0] == base[$1] }
    }
}
