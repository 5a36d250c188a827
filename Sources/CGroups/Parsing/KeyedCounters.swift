/// The counters of a flat keyed file, taken out one by one into typed fields; what is left
/// becomes the `extra` of a typed stat, so no key is ever dropped.
struct KeyedCounters {
    let file: String
    private var counters: [String: UInt64]

    /// Parses `text` as a flat keyed file whose values are all unsigned numbers.
    init(parsing text: String, file: String) throws(CGroupError) {
        self.file = file
        counters = try FlatKeyedFile(parsing: text, file: file).values(as: UInt64.self)
    }

    /// Removes and returns the counter `key`, nil when absent.
    mutating func take(_ key: String) -> UInt64? { counters.removeValue(forKey: key) }

    /// Removes and returns the counter `key`; `.unparsable` when the file lacks it.
    mutating func require(_ key: String) throws(CGroupError) -> UInt64 {
        guard let value = counters.removeValue(forKey: key) else {
            throw .unparsable(file, text: key, "the key \(key) is missing")
        }
        return value
    }

    /// The counters not taken.
    var remaining: [String: UInt64] { counters }
}
