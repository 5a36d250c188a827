/// A set of CPU or memory-node numbers in the kernel's list format, as `cpuset.cpus`,
/// `cpuset.mems` and their `.effective` files hold it: `0-3,8,10-11`; empty for none.
///
/// Stored as sorted, disjoint, non-adjacent ranges, so equal sets compare equal and render
/// the same canonical text the kernel prints.
public struct CPUSetList: CGroupValue, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The numbers as sorted, disjoint, non-adjacent ranges.
    public private(set) var ranges: [ClosedRange<UInt32>]

    /// The empty set (written as an empty string: "inherit the parent's" for `cpuset.cpus`).
    public init() { ranges = [] }

    /// The set of the given numbers.
    public init(_ numbers: some Sequence<UInt32>) {
        ranges = []
        for number in numbers { insert(number...number) }
    }

    public init(arrayLiteral numbers: UInt32...) { self.init(numbers) }

    /// The set of the given ranges (they may overlap or come in any order).
    public init(ranges: some Sequence<ClosedRange<UInt32>>) {
        self.ranges = []
        for range in ranges { insert(range) }
    }

    /// Parses the list format: comma-separated numbers and `first-last` ranges, e.g.
    /// `0-3,8`. Whitespace around the whole text (the kernel's newline) is ignored; an empty
    /// text is the empty set. Reversed ranges, empty items and stray characters are refused.
    public init(parsing text: String, file: String = "cpuset.cpus") throws(CGroupError) {
        self.init()
        let body = text.trimmingASCIIWhitespace()
        guard !body.isEmpty else { return }
        for item in body.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                bounds.allSatisfy({ !$0.isEmpty && $0.count <= 9 && $0.allSatisfy(\.isASCIIDigit) })
            else {
                throw .invalid(file, text, "\"\(item)\" is not a number or a range such as 0-3 (list format: 0-3,8)")
            }
            let first = UInt32(bounds[0])!
            let last = UInt32(bounds[bounds.count - 1])!
            guard first <= last else {
                throw .invalid(file, text, "the range \"\(item)\" is reversed")
            }
            insert(first...last)
        }
    }

    /// Adds `range` to the set, merging it with overlapping or adjacent ranges.
    public mutating func insert(_ range: ClosedRange<UInt32>) {
        var merged = range
        var kept: [ClosedRange<UInt32>] = []
        kept.reserveCapacity(ranges.count + 1)
        for existing in ranges {
            let touches =
                UInt64(existing.lowerBound) <= UInt64(merged.upperBound) + 1
                && UInt64(merged.lowerBound) <= UInt64(existing.upperBound) + 1
            if touches {
                merged = min(existing.lowerBound, merged.lowerBound)...max(existing.upperBound, merged.upperBound)
            } else {
                kept.append(existing)
            }
        }
        kept.append(merged)
        ranges = kept.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// Whether the set is empty.
    public var isEmpty: Bool { ranges.isEmpty }

    /// How many numbers the set holds.
    public var count: Int { ranges.reduce(0) { $0 + Int($1.upperBound - $1.lowerBound) + 1 } }

    /// The numbers in ascending order.
    public var numbers: [UInt32] { ranges.flatMap { Array($0) } }

    /// Whether `number` is in the set.
    public func contains(_ number: UInt32) -> Bool { ranges.contains { $0.contains(number) } }

    /// Whether every number of this set is in `other`.
    public func isSubset(of other: CPUSetList) -> Bool {
        ranges.allSatisfy { range in
            other.ranges.contains { $0.lowerBound <= range.lowerBound && range.upperBound <= $0.upperBound }
        }
    }

    /// Whether the two sets share a number.
    public func overlaps(_ other: CPUSetList) -> Bool {
        ranges.contains { range in other.ranges.contains { $0.overlaps(range) } }
    }

    /// The canonical list text, e.g. `0-3,8` (empty for the empty set).
    public var fileText: String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }

    /// Parses the kernel's list text.
    public init(fileText: String, file: String) throws(CGroupError) {
        do throws(CGroupError) { try self.init(parsing: fileText, file: file) } catch {
            throw .unparsable(file, text: fileText, "expected a CPU list such as 0-3,8")
        }
    }

    public var description: String { fileText.isEmpty ? "(none)" : fileText }
}
