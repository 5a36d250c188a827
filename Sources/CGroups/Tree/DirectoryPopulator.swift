/// Stands in for what cgroupfs does by itself on mkdir and rmdir, for a tree laid out in a
/// plain directory (a test's fake hierarchy).
///
/// On cgroupfs, `mkdir` makes a cgroup complete with its interface files, and `rmdir` removes
/// them with the directory, refusing with EBUSY while the cgroup has processes or children. A
/// plain directory does neither, and the library never creates or deletes files itself. So a
/// `CGroupTree` over a real hierarchy has no populator; a test passes its fake as one, and
/// `CGroup.create` / `CGroup.remove` call it right after `mkdir` and right before `rmdir`.
public protocol DirectoryPopulator: Sendable {
    /// Called right after `mkdir` made the cgroup at `path` (relative to the root): create the
    /// interface files the kernel would.
    func populate(_ path: String) throws(CGroupError)

    /// Called right before `rmdir` of the cgroup at `path`: throw what the kernel would
    /// (EBUSY while it has processes or child cgroups), else remove the interface files so
    /// that `rmdir` of the directory succeeds.
    func depopulate(_ path: String) throws(CGroupError)
}
