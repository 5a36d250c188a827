/// A nested keyed file: one line per key (a device `MAJ:MIN`, an RDMA device name, a stat
/// name) followed by `SUBKEY=VALUE` fields, as in `io.stat`, `io.max`, `io.latency`,
/// `rdma.current`, `rdma.max`, `memory.numa_stat`:
///
///     254:0 rbytes=17825792 wbytes=1048576 rios=143 wios=256 dbytes=0 dios=0
///
/// Every line and field is kept, in file order, including fields this library does not know.
public struct NestedKeyedFile: Sendable, Hashable {
    /// One `SUBKEY=VALUE` field.
    public struct Field: Sendable, Hashable {
        /// The field's key, e.g. `rbytes`.
        public var key: String
        /// The field's text, e.g. `17825792`, `max` or `100.00`.
        public var value: String
    }

    /// One line: its key and fields.
    public struct Line: Sendable, Hashable {
        /// The line's key, e.g. `254:0`.
        public var key: String
        /// The fields, in file order.
        public var fields: [Field]
        /// The 1-based line number in the file.
        public var number: Int

        /// The text of field `key`, nil when absent.
        public subscript(key: String) -> String? { fields.first { $0.key == key }?.value }
    }

    /// The file the text came from (for errors).
    public let file: String
    /// The lines, in file order.
    public let lines: [Line]

    /// Parses `text` read from `file`. Fields are separated by single spaces (the kernel's
    /// trailing space is ignored); a field without `=`, with an empty key, or repeating a key
    /// in its line, and a repeated line key, are refused as `.unparsable`.
    public init(parsing text: String, file: String) throws(CGroupError) {
        self.file = file
        var lines: [Line] = []
        var seenKeys: Set<Substring> = []
        for line in CGroupText.contentLines(text) {
            let words = line.text.split(separator: " ")
            guard let key = words.first, !key.contains("=") else {
                throw .unparsable(file, line: line.number, text: line.text, "expected \"KEY SUBKEY=VALUE ...\"")
            }
            guard seenKeys.insert(key).inserted else {
                throw .unparsable(file, line: line.number, text: line.text, "the key \(key) is repeated")
            }
            var fields: [Field] = []
            var seenFields: Set<Substring> = []
            for word in words.dropFirst() {
                guard let equals = word.firstIndex(of: "="), equals != word.startIndex,
                    seenFields.insert(word[..<equals]).inserted
                else {
                    throw .unparsable(file, line: line.number, text: line.text, "\"\(word)\" is not a unique SUBKEY=VALUE field")
                }
                fields.append(Field(key: String(word[..<equals]), value: String(word[word.index(after: equals)...])))
            }
            lines.append(Line(key: String(key), fields: fields, number: line.number))
        }
        self.lines = lines
    }

    /// The line whose key is `key`, nil when absent.
    public subscript(key: String) -> Line? { lines.first { $0.key == key } }

    /// The typed value of field `field` on `line`, nil when the line lacks it;
    /// `.unparsable` naming the line when the text does not parse.
    public func value<Value: CGroupValue>(
        _ field: String, of line: Line, as type: Value.Type = Value.self
    )
        throws(CGroupError) -> Value?
    {
        guard let text = line[field] else { return nil }
        do throws(CGroupError) { return try Value(fileText: text, file: file) } catch {
            throw .unparsable(file, line: line.number, text: "\(field)=\(text)", "the value of \(field) does not parse")
        }
    }
}
