import Glibc

extension CGroup {
    /// The cgroup's type (`cgroup.type`). The root has no such file and is a domain.
    public var type: CGroupType {
        get throws(CGroupError) {
            if isRoot { return .domain }
            return try parse("cgroup.type") { (text, file) throws(CGroupError) in
                let word = try CGroupText.singleLine(text, file: file)
                guard let type = CGroupType(rawValue: word) else {
                    throw .unparsable(file, line: 1, text: word, "unknown cgroup type")
                }
                return type
            }
        }
    }

    /// Sets the cgroup's type. The kernel accepts only `.threaded`, and only one way: a
    /// domain cgroup turns threaded, its parent becomes `domain threaded` by itself, and
    /// nothing turns back.
    ///
    /// - Throws: `.invalidValue` for any other type, before writing; `.system` with
    ///   EOPNOTSUPP when the kernel refuses (the parent cannot be a threaded domain, e.g.
    ///   it has domain controllers enabled or processes of its own).
    public func setType(_ type: CGroupType) throws(CGroupError) {
        guard type == .threaded else {
            throw CGroupError(
                .invalidValue, path: path, file: "cgroup.type", value: type.rawValue,
                message: "only \"threaded\" can be written to cgroup.type; the other types follow from the tree")
        }
        try write("cgroup.type", type.rawValue)
    }

    /// The controllers this cgroup may use (`cgroup.controllers`): those its parent enables
    /// for its children (for the root, every controller bound to the hierarchy).
    public var controllers: [String] {
        get throws(CGroupError) { try parse("cgroup.controllers", CGroupText.words) }
    }

    /// The controllers this cgroup enables for its children (`cgroup.subtree_control`).
    public var subtreeControl: [String] {
        get throws(CGroupError) { try parse("cgroup.subtree_control", CGroupText.words) }
    }

    /// Enables `controllers` (e.g. `["cpu", "memory"]`) for this cgroup's children: one
    /// write of `+cpu +memory` to `cgroup.subtree_control`. Nothing is written for an empty list.
    ///
    /// - Throws: `.invalidValue` for a malformed name (before writing); `.system` with
    ///   ENOENT when a controller is not in this cgroup's `cgroup.controllers` (the message
    ///   lists those that are), EBUSY for the "no internal processes" rule (this non-root
    ///   cgroup has processes of its own), EOPNOTSUPP for a domain controller in a threaded
    ///   subtree.
    public func enable(_ controllers: [String]) throws(CGroupError) {
        try changeSubtreeControl(controllers, sign: "+")
    }

    /// Disables `controllers` for this cgroup's children: one write of `-io ...` to
    /// `cgroup.subtree_control`. Nothing is written for an empty list.
    ///
    /// - Throws: `.invalidValue` for a malformed name; `.system` with EBUSY while a child
    ///   still enables one of them in its own `cgroup.subtree_control`.
    public func disable(_ controllers: [String]) throws(CGroupError) {
        try changeSubtreeControl(controllers, sign: "-")
    }

    private func changeSubtreeControl(_ controllers: [String], sign: String) throws(CGroupError) {
        let file = "cgroup.subtree_control"
        for name in controllers where name.isEmpty || !name.utf8.allSatisfy(Self.isControllerNameByte) {
            throw CGroupError(
                .invalidValue, path: path, file: file, value: name,
                message: "\"\(name)\" is not a controller name (lower-case letters, digits, _; no +/- prefix)")
        }
        if controllers.isEmpty { return }
        let value = controllers.map { sign + $0 }.joined(separator: " ")
        do throws(CGroupError) {
            try write(file, value)
        } catch  where error.kind == .system {
            throw explainSubtreeControl(error, controllers, enabling: sign == "+")
        }
    }

    private func explainSubtreeControl(_ error: CGroupError, _ controllers: [String], enabling: Bool) -> CGroupError {
        var error = error
        switch error.errno {
        case ENOENT where enabling && !error.message.hasSuffix("no such cgroup"):
            let available = (try? self.controllers).map { $0.isEmpty ? "none" : $0.joined(separator: " ") } ?? "unknown"
            error.message =
                "cannot enable \(controllers.joined(separator: " ")): each must be in this cgroup's cgroup.controllers "
                + "(available: \(available)); the parent enables it for its children in its own cgroup.subtree_control"
        case EINVAL:
            error.message = "the kernel does not know a controller named in \"\(error.value ?? "")\""
        case EBUSY where !enabling:
            error.message =
                "cannot disable \(controllers.joined(separator: " ")): a child cgroup still enables it in its own cgroup.subtree_control"
        default:
            break
        }
        return error
    }

    private static func isControllerNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "_")
    }
}
