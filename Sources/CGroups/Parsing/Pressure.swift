/// Pressure stall information (PSI) from `cpu.pressure`, `memory.pressure`, `io.pressure`
/// or `irq.pressure`:
///
///     some avg10=35.05 avg60=10.36 avg300=2.35 total=6972572
///     full avg10=34.52 avg60=10.19 avg300=2.31 total=6842317
///
/// `some` is the share of time at least one task stalled, `full` the share all non-idle
/// tasks stalled at once. Kernels before 5.13 print no `full` line in `cpu.pressure`;
/// `irq.pressure` has only `full`. Reading these files fails with EOPNOTSUPP when
/// `cgroup.pressure` is 0 or the kernel was booted with `psi=0`.
public struct Pressure: Sendable, Hashable {
    /// One line of a pressure file.
    public struct Line: Sendable, Hashable {
        /// Percentage of time stalled over the last 10 s.
        public var avg10: Double
        /// Percentage of time stalled over the last 60 s.
        public var avg60: Double
        /// Percentage of time stalled over the last 300 s.
        public var avg300: Double
        /// Total stall time in µs since the cgroup was created.
        public var total: UInt64
        /// Fields this library does not know, by key (text as the kernel printed it).
        public var extra: [String: String]

        /// A line.
        public init(avg10: Double, avg60: Double, avg300: Double, total: UInt64, extra: [String: String] = [:]) {
            self.avg10 = avg10
            self.avg60 = avg60
            self.avg300 = avg300
            self.total = total
            self.extra = extra
        }
    }

    /// The pressure files, one per resource (`irq.pressure` needs Linux 6.1 and
    /// CONFIG_IRQ_TIME_ACCOUNTING).
    public static let files = ["cpu.pressure", "memory.pressure", "io.pressure", "irq.pressure"]

    /// The `some` line; nil only in `irq.pressure`.
    public var some: Line?
    /// The `full` line; nil in `cpu.pressure` before Linux 5.13.
    public var full: Line?

    /// A pressure reading.
    public init(some: Line?, full: Line?) {
        self.some = some
        self.full = full
    }

    /// Parses a pressure file read from `file`. Lines other than `some`/`full`, a line
    /// missing one of avg10/avg60/avg300/total, or a file with neither line is `.unparsable`.
    public init(parsing text: String, file: String) throws(CGroupError) {
        if let pressure = KernelBytes.scan(text, Self.scan) {
            self = pressure
            return
        }
        let nested = try NestedKeyedFile(parsing: text, file: file)
        some = nil
        full = nil
        for line in nested.lines {
            var fields = Dictionary(uniqueKeysWithValues: line.fields.map { ($0.key, $0.value) })
            func take<Value>(_ key: String, _ parse: (String) -> Value?) throws(CGroupError) -> Value {
                guard let text = fields.removeValue(forKey: key), let value = parse(text) else {
                    throw .unparsable(file, line: line.number, text: line.key, "\(key) is missing or not a number")
                }
                return value
            }
            let parsed = Line(
                avg10: try take("avg10", Self.percentage), avg60: try take("avg60", Self.percentage),
                avg300: try take("avg300", Self.percentage), total: try take("total") { UInt64($0) },
                extra: fields)
            switch line.key {
            case "some": some = parsed
            case "full": full = parsed
            default:
                throw .unparsable(file, line: line.number, text: line.key, "expected a \"some\" or \"full\" line")
            }
        }
        guard some != nil || full != nil else {
            throw .unparsable(file, text: text, "expected a \"some\" or \"full\" line")
        }
    }

    /// The fast path (see `KernelBytes`): nil sends the text to the reference parser.
    private static func scan(_ bytes: KernelBytes) -> Pressure? {
        var pressure = Pressure(some: nil, full: nil)
        for line in bytes.lines {
            let words = bytes.words(line)
            guard let key = words.first else { return nil }
            var avg10: Double?
            var avg60: Double?
            var avg300: Double?
            var total: UInt64?
            var extra: [String: String] = [:]
            for word in words.dropFirst() {
                let equals = bytes.first(UInt8(ascii: "="), in: word)
                guard equals > word.lowerBound, equals < word.upperBound else { return nil }
                let name = word.lowerBound..<equals
                let value = equals + 1..<word.upperBound
                if bytes.matches(name, "avg10") {
                    guard avg10 == nil, let number = bytes.decimal(value) else { return nil }
                    avg10 = number
                } else if bytes.matches(name, "avg60") {
                    guard avg60 == nil, let number = bytes.decimal(value) else { return nil }
                    avg60 = number
                } else if bytes.matches(name, "avg300") {
                    guard avg300 == nil, let number = bytes.decimal(value) else { return nil }
                    avg300 = number
                } else if bytes.matches(name, "total") {
                    guard total == nil, let number = bytes.unsigned(value) else { return nil }
                    total = number
                } else {
                    guard let name = bytes.string(name), let value = bytes.string(value),
                        extra.updateValue(value, forKey: name) == nil
                    else { return nil }
                }
            }
            guard let avg10, let avg60, let avg300, let total else { return nil }
            let parsed = Line(avg10: avg10, avg60: avg60, avg300: avg300, total: total, extra: extra)
            if bytes.matches(key, "some"), pressure.some == nil {
                pressure.some = parsed
            } else if bytes.matches(key, "full"), pressure.full == nil {
                pressure.full = parsed
            } else {
                return nil
            }
        }
        return pressure.some != nil || pressure.full != nil ? pressure : nil
    }

    private static func percentage(_ text: String) -> Double? {
        guard text.allSatisfy({ $0.isASCIIDigit || $0 == "." }), let value = Double(text) else { return nil }
        return value
    }
}
