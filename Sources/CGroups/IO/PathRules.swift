/// The checks every path and name passes before any system call, so nothing can name a place
/// outside the hierarchy's root: no `..`, no `.`, no absolute path, no empty component, no NUL.
/// (Symbolic links out are refused when the path is opened: see `CGroupFS`.)
enum PathRules {
    /// Checks a cgroup path relative to the root ("" is the root itself, else `a/b/c`).
    static func checkGroupPath(_ path: String) throws(CGroupError) {
        if path.isEmpty { return }
        if path.utf8.first == UInt8(ascii: "/") {
            throw .outsideRoot(path: path, reason: "an absolute path; cgroup paths are relative to the root")
        }
        for component in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            try checkComponent(component, path: path, file: "")
        }
    }

    /// Checks one path component: a cgroup's name or an interface file's name.
    static func checkName(_ name: String, path: String, file: String) throws(CGroupError) {
        if name.utf8.contains(UInt8(ascii: "/")) {
            throw .outsideRoot(path: path, file: file, reason: "\"\(name)\" contains \"/\"; a name is one path component")
        }
        try checkComponent(name.utf8[...], path: path, file: file)
    }

    /// Checks a name for a new cgroup: a valid component, and no newline (the kernel refuses
    /// those with EINVAL).
    static func checkNewGroupName(_ name: String, parent: String) throws(CGroupError) {
        try checkName(name, path: parent, file: "")
        if name.utf8.contains(UInt8(ascii: "\n")) {
            throw CGroupError(.invalidValue, path: parent, value: name, message: "a cgroup name cannot contain a newline")
        }
    }

    /// Joins a parent path and a child's name.
    static func join(_ parent: String, _ name: String) -> String {
        parent.isEmpty ? name : parent + "/" + name
    }

    private static func checkComponent(_ component: Substring.UTF8View, path: String, file: String) throws(CGroupError) {
        if component.isEmpty {
            throw .outsideRoot(path: path, file: file, reason: "an empty path component")
        }
        if component.elementsEqual(".".utf8) || component.elementsEqual("..".utf8) {
            throw .outsideRoot(
                path: path, file: file, reason: "\"\(String(Substring(component)))\" is not allowed in a cgroup path")
        }
        if component.contains(0) {
            throw .outsideRoot(path: path, file: file, reason: "a NUL byte in a path")
        }
    }
}
