/// What `cpuset.cpus.partition` reads back: the partition type, and whether the kernel
/// could honour it, e.g. `root`, `member`, or `root invalid (Cpu list in cpuset.cpus not
/// exclusive)` (kernels before 6.2 print no reason).
public struct CPUSetPartitionState: CGroupValue, CustomStringConvertible {
    /// The requested partition type.
    public var partition: CPUSetPartition
    /// Whether the partition is in effect (false for `... invalid`).
    public var isValid: Bool
    /// The kernel's reason for an invalid partition, when it gives one.
    public var reason: String?

    /// A state.
    public init(partition: CPUSetPartition, isValid: Bool = true, reason: String? = nil) {
        self.partition = partition
        self.isValid = isValid
        self.reason = reason
    }

    /// The kernel's text: the type, then ` invalid` and ` (reason)` when they apply.
    public var fileText: String {
        var text = partition.rawValue
        if !isValid { text += " invalid" }
        if let reason { text += " (\(reason))" }
        return text
    }

    /// Parses `TYPE`, `TYPE invalid` or `TYPE invalid (REASON)`.
    public init(fileText: String, file: String) throws(CGroupError) {
        let text = fileText.trimmingASCIIWhitespace()
        let word = text.prefix { $0 != " " }
        var rest = text.dropFirst(word.count).trimmingASCIIWhitespace()[...]
        partition = try CPUSetPartition(fileText: String(word), file: file)
        isValid = true
        reason = nil
        if rest.hasPrefix("invalid") {
            isValid = false
            rest = rest.dropFirst("invalid".count).trimmingASCIIWhitespace()[...]
        }
        if rest.hasPrefix("("), rest.hasSuffix(")") {
            reason = String(rest.dropFirst().dropLast())
            rest = ""
        }
        guard rest.isEmpty else {
            throw .unparsable(file, text: text, "expected TYPE, TYPE invalid or TYPE invalid (REASON)")
        }
    }

    public var description: String { fileText }
}
