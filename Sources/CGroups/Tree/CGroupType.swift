/// A cgroup's type (`cgroup.type`), which decides whether it takes part in a threaded subtree.
public enum CGroupType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// A normal cgroup: domain controllers apply, processes live in leaves.
    case domain
    /// The root of a threaded subtree (a domain whose descendants include threaded cgroups).
    case domainThreaded = "domain threaded"
    /// A domain cgroup inside a threaded subtree, unusable until it is made threaded.
    case domainInvalid = "domain invalid"
    /// A member of a threaded subtree: threads of one process may be spread over its cgroups.
    case threaded

    public var description: String { rawValue }
}
