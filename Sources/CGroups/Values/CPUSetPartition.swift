/// The partition type written to `cpuset.cpus.partition`.
///
/// A `root` or `isolated` partition takes its CPUs exclusively: its `cpuset.cpus` must not
/// overlap its siblings' (on 6.1 a sibling whose `cpuset.cpus` is empty counts as owning all
/// of the parent's CPUs), else the kernel marks it invalid (see ``CPUSetPartitionState``).
public enum CPUSetPartition: String, CGroupValue, CaseIterable {
    /// An ordinary member of its parent's partition (the default).
    case member
    /// The root of a new scheduling domain.
    case root
    /// A partition without load balancing.
    case isolated

    /// The word the kernel takes.
    public var fileText: String { rawValue }

    /// Parses one of `member`, `root`, `isolated` (for the read-back form with `invalid`,
    /// use ``CPUSetPartitionState``).
    public init(fileText: String, file: String) throws(CGroupError) {
        let text = fileText.trimmingASCIIWhitespace()
        guard let partition = CPUSetPartition(rawValue: text) else {
            throw .unparsable(file, text: text, "expected member, root or isolated")
        }
        self = partition
    }
}
