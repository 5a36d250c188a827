/// The counters of a flat keyed file, taken out one by one into typed fields; what is left
/// becomes the `extra` of a typed stat, so no key is ever dropped.
///
/// The keys a stat types are declared up front (``CounterKeys``), so the byte scan matches
/// them without making a `String`; only the other keys become strings, for `extra`.
struct KeyedCounters {
    let file: String
    private let keys: CounterKeys
    /// The value of each of `keys` not yet taken.
    private var values: [UInt64?]
    private var others: [String: UInt64]
    private var cursor = 0

    /// Parses `text` as a flat keyed file whose values are all unsigned numbers.
    init(parsing text: String, file: String, keys: CounterKeys) throws(CGroupError) {
        self.file = file
        self.keys = keys
        if let (values, others) = KernelBytes.scan(text, { Self.scan($0, keys) }) {
            self.values = values
            self.others = others
        } else {
            var counters = try FlatKeyedFile(parsing: text, file: file).values(as: UInt64.self)
            values = keys.names.map { counters.removeValue(forKey: $0) }
            others = counters
        }
    }

    private static func scan(_ bytes: KernelBytes, _ keys: CounterKeys) -> ([UInt64?], [String: UInt64])? {
        var values = [UInt64?](repeating: nil, count: keys.names.count)
        var others: [String: UInt64] = [:]
        var next = 0
        for line in bytes.lines {
            guard let (key, text) = bytes.keyValue(line), let value = bytes.unsigned(text) else { return nil }
            if let index = keys.index(of: key, in: bytes, from: next) {
                guard values[index] == nil else { return nil }
                values[index] = value
                next = index + 1
            } else {
                guard let name = bytes.string(key), others.updateValue(value, forKey: name) == nil else { return nil }
            }
        }
        return (values, others)
    }

    /// Removes and returns the counter `key` (one of the declared keys), nil when absent.
    mutating func take(_ key: String) -> UInt64? {
        let index = keys.index(of: key, from: cursor)
        cursor = index + 1
        defer { values[index] = nil }
        return values[index]
    }

    /// Removes and returns the counter `key`; `.unparsable` when the file lacks it.
    mutating func require(_ key: String) throws(CGroupError) -> UInt64 {
        guard let value = take(key) else { throw .unparsable(file, text: key, "the key \(key) is missing") }
        return value
    }

    /// The counters not taken.
    var remaining: [String: UInt64] {
        var remaining = others
        for (name, value) in zip(keys.names, values) { if let value { remaining[name] = value } }
        return remaining
    }
}

/// The keys a typed stat takes from its file, best in the kernel's order (lookups start after
/// the last key found).
struct CounterKeys: Sendable {
    let names: [String]
    private let bytes: [[UInt8]]

    init(_ names: [String]) {
        self.names = names
        bytes = names.map { Array($0.utf8) }
    }

    /// The index of the key held in `range`, nil when it is not one of these keys.
    func index(of range: Range<Int>, in text: KernelBytes, from start: Int) -> Int? {
        for offset in 0..<names.count {
            let index = (start + offset) % names.count
            if bytes[index].count == range.count, zip(bytes[index], range).allSatisfy({ $0 == text.base[$1] }) {
                return index
            }
        }
        return nil
    }

    /// The index of `name`, which must be one of these keys.
    func index(of name: String, from start: Int) -> Int {
        for offset in 0..<names.count {
            let index = (start + offset) % names.count
            if names[index] == name { return index }
        }
        preconditionFailure("\(name) is not a declared counter key")
    }
}
