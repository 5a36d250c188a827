/// Parsers for the simple interface file formats: single values (`memory.current`,
/// `cpu.weight`, `cgroup.freeze`), space-separated lists (`cgroup.controllers`,
/// `cgroup.subtree_control`) and newline-separated PIDs (`cgroup.procs`, `cgroup.threads`).
///
/// Keyed files have their own types: ``FlatKeyedFile``, ``NestedKeyedFile``, ``Pressure``.
/// Every parser takes the file name for its errors (`.unparsable`, with the line and text).
public enum CGroupText {
    /// The one line of a single-value file, without its newline; refused when the file has
    /// more than one line. An empty file gives "".
    public static func singleLine(_ text: String, file: String) throws(CGroupError) -> String {
        let fast: String?? = KernelBytes.scan(text) { bytes in
            var lines = bytes.lines
            guard let line = lines.next() else { return .some(nil) }
            return lines.next() == nil ? bytes.string(line).map { .some($0) } : nil
        }
        if let fast { return fast ?? "" }
        let lines = contentLines(text)
        guard lines.count <= 1 else {
            throw .unparsable(file, line: lines[1].number, text: lines[1].text, "expected a single value")
        }
        return lines.first.map { String($0.text) } ?? ""
    }

    /// The typed value of a single-value file, e.g. `value(text, file: "memory.max",
    /// as: CGroupLimit<ByteSize>.self)`.
    public static func value<Value: CGroupValue>(
        _ text: String, file: String, as type: Value.Type = Value.self
    ) throws(CGroupError) -> Value {
        if Value.self == UInt64.self, let number = KernelBytes.unsigned(text) { return number as! Value }
        return try Value(fileText: try singleLine(text, file: file), file: file)
    }

    /// A `0`/`1` flag file (`cgroup.freeze`, `memory.oom.group`, `cpu.idle`).
    public static func flag(_ text: String, file: String) throws(CGroupError) -> Bool {
        switch try singleLine(text, file: file) {
        case "0": return false
        case "1": return true
        case let other: throw .unparsable(file, line: 1, text: other, "expected 0 or 1")
        }
    }

    /// The words of a space-separated list file (`cgroup.controllers`,
    /// `cgroup.subtree_control`); an empty file gives [].
    public static func words(_ text: String, file: String) throws(CGroupError) -> [String] {
        try singleLine(text, file: file).split(separator: " ").map(String.init)
    }

    /// The PIDs (or TIDs) of `cgroup.procs` / `cgroup.threads`, one per line, in file order.
    public static func pids(_ text: String, file: String) throws(CGroupError) -> [Int32] {
        var pids: [Int32] = []
        for line in contentLines(text) {
            guard line.text.allSatisfy(\.isASCIIDigit), let pid = Int32(line.text), pid > 0 else {
                throw .unparsable(file, line: line.number, text: line.text, "expected a process id")
            }
            pids.append(pid)
        }
        return pids
    }

    /// The non-blank lines of `text` with their 1-based numbers (kernel files end with a
    /// newline; blank lines carry nothing).
    static func contentLines(_ text: String) -> [(number: Int, text: Substring)] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .filter { !$0.element.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" } }
            .map { (number: $0.offset + 1, text: $0.element) }
    }
}
