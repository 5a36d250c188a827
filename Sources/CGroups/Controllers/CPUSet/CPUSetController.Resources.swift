extension CPUSetController {
    /// Cpuset settings of a cgroup; nil fields are left as they are.
    public struct Resources: CGroupControllerResources {
        public static let controller = CPUSetController.name

        /// `cpuset.cpus`: the CPUs requested (empty: use the parent's).
        public var cpus: CPUSetList?
        /// `cpuset.mems`: the memory nodes requested (empty: use the parent's). Pages already
        /// allocated migrate to the new nodes.
        public var mems: CPUSetList?
        /// `cpuset.cpus.exclusive` (Linux 6.7 and later): CPUs for a partition, which no
        /// sibling may claim exclusively.
        public var cpusExclusive: CPUSetList?
        /// `cpuset.cpus.partition`: member, root or isolated.
        public var partition: CPUSetPartition?

        /// Cpuset settings.
        public init(
            cpus: CPUSetList? = nil, mems: CPUSetList? = nil, cpusExclusive: CPUSetList? = nil,
            partition: CPUSetPartition? = nil
        ) {
            self.cpus = cpus
            self.mems = mems
            self.cpusExclusive = cpusExclusive
            self.partition = partition
        }

        public var isEmpty: Bool { self == Resources() }

        /// The writes: `cpuset.cpus`, `cpuset.cpus.exclusive`, `cpuset.mems`, then
        /// `cpuset.cpus.partition`, because the kernel decides whether a partition is valid
        /// from the CPUs in place when the partition is written. Turning a partition back
        /// into a `member` comes first instead, so that the CPU changes that follow are not
        /// checked against (and do not invalidate) the partition being dissolved.
        ///
        /// Refused: an exclusive set that is not within `cpus` (when both are given and `cpus`
        /// is not empty), and a root or isolated partition with an explicitly empty `cpus`.
        public func writes() throws(CGroupError) -> [(file: String, value: String)] {
            if let cpus, let cpusExclusive, !cpus.isEmpty, !cpusExclusive.isSubset(of: cpus) {
                throw .invalid(
                    "cpuset.cpus.exclusive", cpusExclusive.fileText,
                    "cpusExclusive (\(cpusExclusive)) must be within cpus (\(cpus))")
            }
            if let partition, partition != .member, cpus?.isEmpty == true, cpusExclusive?.isEmpty ?? true {
                throw .invalid(
                    "cpuset.cpus.partition", partition.fileText,
                    "partition \(partition.rawValue) needs CPUs of its own: cpus is empty")
            }
            var writes: [(file: String, value: String)] = []
            if partition == .member { writes.append(("cpuset.cpus.partition", "member")) }
            if let cpus { writes.append(("cpuset.cpus", cpus.fileText)) }
            if let cpusExclusive { writes.append(("cpuset.cpus.exclusive", cpusExclusive.fileText)) }
            if let mems { writes.append(("cpuset.mems", mems.fileText)) }
            if let partition, partition != .member { writes.append(("cpuset.cpus.partition", partition.fileText)) }
            return writes
        }
    }
}
