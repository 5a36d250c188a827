/// A flat keyed file: one `KEY VALUE` pair per line, as in `cpu.stat`, `memory.stat`,
/// `memory.events`, `pids.events`, `cgroup.events`, `cgroup.stat`, `misc.current`.
///
/// Every line is kept, in file order, including keys this library does not know.
public struct FlatKeyedFile: Sendable, Hashable {
    /// One `KEY VALUE` line.
    public struct Entry: Sendable, Hashable {
        /// The key, e.g. `usage_usec`.
        public var key: String
        /// The value's text, e.g. `1821913` or `max`.
        public var value: String
        /// The 1-based line number in the file.
        public var line: Int
    }

    /// The file the text came from (for errors).
    public let file: String
    /// The lines, in file order.
    public let entries: [Entry]

    /// Parses `text` read from `file`. A line that is not exactly `KEY VALUE` (two fields
    /// separated by one space) or repeats a key is refused as `.unparsable`.
    public init(parsing text: String, file: String) throws(CGroupError) {
        self.file = file
        if let entries = KernelBytes.scan(text, Self.scan) {
            self.entries = entries
            return
        }
        var entries: [Entry] = []
        var seen: Set<Substring> = []
        for line in CGroupText.contentLines(text) {
            let fields = line.text.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw .unparsable(file, line: line.number, text: line.text, "expected \"KEY VALUE\"")
            }
            guard seen.insert(fields[0]).inserted else {
                throw .unparsable(file, line: line.number, text: line.text, "the key \(fields[0]) is repeated")
            }
            entries.append(Entry(key: String(fields[0]), value: String(fields[1]), line: line.number))
        }
        self.entries = entries
    }

    /// The fast path (see `KernelBytes`): nil sends the text to the reference parser.
    private static func scan(_ bytes: KernelBytes) -> [Entry]? {
        var entries: [Entry] = []
        var lines = bytes.lines
        while let line = lines.next() {
            guard let (key, value) = bytes.keyValue(line), let key = bytes.string(key), let value = bytes.string(value),
                !entries.contains(where: { $0.key == key })
            else { return nil }
            entries.append(Entry(key: key, value: value, line: lines.number))
        }
        return entries
    }

    /// The value's text for `key`, nil when absent.
    public subscript(key: String) -> String? { entries.first { $0.key == key }?.value }

    /// The keys, in file order.
    public var keys: [String] { entries.map(\.key) }

    /// The typed value of `key` (e.g. `UInt64`, `CGroupLimit<UInt64>`), nil when absent;
    /// `.unparsable` with the line when the text does not parse.
    public func value<Value: CGroupValue>(_ key: String, as type: Value.Type = Value.self) throws(CGroupError) -> Value? {
        guard let entry = entries.first(where: { $0.key == key }) else { return nil }
        return try Self.parse(entry, file: file)
    }

    /// Every value parsed as `Value` (e.g. every counter as `UInt64`), keyed by key.
    public func values<Value: CGroupValue>(as type: Value.Type = Value.self) throws(CGroupError) -> [String: Value] {
        var result: [String: Value] = [:]
        for entry in entries { result[entry.key] = try Self.parse(entry, file: file) }
        return result
    }

    private static func parse<Value: CGroupValue>(_ entry: Entry, file: String) throws(CGroupError) -> Value {
        if Value.self == UInt64.self, let number = KernelBytes.unsigned(entry.value) { return number as! Value }
        do throws(CGroupError) { return try Value(fileText: entry.value, file: file) } catch {
            throw .unparsable(
                file, line: entry.line, text: "\(entry.key) \(entry.value)",
                "the value of \(entry.key) does not parse: \(error.message)")
        }
    }
}
