extension CGroup {
    /// The cgroup's `cgroup.events`: whether its subtree has live processes and whether it is
    /// frozen (the root has no such file).
    public var events: CGroupEvents {
        get throws(CGroupError) { try parse("cgroup.events", CGroupEvents.init(parsing:file:)) }
    }

    /// The cgroup's `cgroup.stat`: live and dying descendants (and newer kernels' extra counts).
    public var stat: CGroupStat {
        get throws(CGroupError) { try parse("cgroup.stat", CGroupStat.init(parsing:file:)) }
    }

    /// How deep the subtree below this cgroup may grow (`cgroup.max.depth`); nil is "max".
    public var maxDepth: Int? {
        get throws(CGroupError) { try readLimit("cgroup.max.depth") }
    }

    /// How many live descendants this cgroup may have (`cgroup.max.descendants`); nil is "max".
    public var maxDescendants: Int? {
        get throws(CGroupError) { try readLimit("cgroup.max.descendants") }
    }

    /// Sets `cgroup.max.depth`: nil writes "max". A `create` beyond it fails with EAGAIN.
    ///
    /// - Throws: `.invalidValue` for a negative number, before writing.
    public func setMaxDepth(_ depth: Int?) throws(CGroupError) {
        try writeLimit("cgroup.max.depth", depth)
    }

    /// Sets `cgroup.max.descendants`: nil writes "max". A `create` beyond it fails with EAGAIN.
    ///
    /// - Throws: `.invalidValue` for a negative number, before writing.
    public func setMaxDescendants(_ count: Int?) throws(CGroupError) {
        try writeLimit("cgroup.max.descendants", count)
    }

    private func readLimit(_ file: String) throws(CGroupError) -> Int? {
        try parse(file) { (text, file) throws(CGroupError) -> Int? in
            let word = try CGroupText.singleLine(text, file: file)
            if word == "max" { return nil }
            guard let value = Int(word), value >= 0 else {
                throw .unparsable(file, line: 1, text: word, "expected a number or \"max\"")
            }
            return value
        }
    }

    private func writeLimit(_ file: String, _ limit: Int?) throws(CGroupError) {
        let value = limit.map(String.init) ?? "max"
        if let limit, limit < 0 {
            throw CGroupError(
                .invalidValue, path: path, file: file, value: value, message: "a limit is a number from 0, or \"max\"")
        }
        try write(file, value)
    }
}
