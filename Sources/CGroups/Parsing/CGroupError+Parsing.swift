// Constructors for the two kinds of error the pure layer (values, parsers, resource mappings)
// raises. The pure layer never knows which cgroup it works for, so `path` is empty; the tree
// layer that reads or writes the file fills it in.

extension CGroupError {
    /// A value refused before anything was written: `file` is the interface file it was meant
    /// for, `value` the offending value as the caller gave it.
    static func invalid(_ file: String, _ value: String, _ reason: String) -> CGroupError {
        CGroupError(.invalidValue, path: "", file: file, value: value, message: reason)
    }

    /// Text read from `file` that does not have the kernel's format. `line` is 1-based; the
    /// offending text is quoted in the message (it is not a written value).
    static func unparsable(
        _ file: String, line: Int? = nil, text: some StringProtocol, _ reason: String
    )
        -> CGroupError
    {
        let quoted = String(text.prefix(200)).debugDescription
        let location = line.map { "line \($0) " } ?? ""
        return CGroupError(.unparsable, path: "", file: file, message: "\(location)\(quoted): \(reason)")
    }
}
