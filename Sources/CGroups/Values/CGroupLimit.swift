/// A limit that is either a value or the kernel's `max` (unlimited), as in `memory.max`,
/// `pids.max`, `io.max` fields or the quota of `cpu.max`.
public enum CGroupLimit<Value: CGroupValue>: CGroupValue {
    /// No limit: the file holds `max`.
    case max
    /// A limit of this value.
    case value(Value)

    /// The value, or nil for `max`.
    public var limit: Value? {
        if case .value(let value) = self { return value }
        return nil
    }

    /// Whether this is `max` (unlimited).
    public var isMax: Bool { self == .max }

    /// `max`, or the value's own text.
    public var fileText: String {
        switch self {
        case .max: "max"
        case .value(let value): value.fileText
        }
    }

    /// Parses `max` or the value's text.
    public init(fileText: String, file: String) throws(CGroupError) {
        let text = fileText.trimmingASCIIWhitespace()
        self = text == "max" ? .max : .value(try Value(fileText: text, file: file))
    }
}

extension CGroupLimit: Comparable where Value: Comparable {
    /// `max` is above every value.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.max, _): false
        case (.value, .max): true
        case (.value(let a), .value(let b)): a < b
        }
    }
}

extension CGroupLimit: CustomStringConvertible {
    public var description: String {
        switch self {
        case .max: "max"
        case .value(let value): String(describing: value)
        }
    }
}
