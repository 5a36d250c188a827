// The cgroup v2 library lands with issue 3; this target exists so the module layout of
// docs/ARCHITECTURE.md is in place and nothing else has to move when it arrives.

/// Namespace of the cgroup v2 library.
public enum CGroups {
    /// Default mount point of the unified hierarchy.
    public static let defaultRoot = "/sys/fs/cgroup"
}
