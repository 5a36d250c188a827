/// The settings of every configurable controller for one cgroup, applied together.
public struct CGroupResources: Sendable, Hashable {
    /// `pids` settings.
    public var pids: PIDsController.Resources?
    /// `memory` settings.
    public var memory: MemoryController.Resources?
    /// `io` settings.
    public var io: IOController.Resources?
    /// `cpu` settings.
    public var cpu: CPUController.Resources?
    /// `cpuset` settings.
    public var cpuset: CPUSetController.Resources?
    /// `hugetlb` settings.
    public var hugetlb: HugeTLBController.Resources?

    /// Settings; nil controllers are left as they are.
    public init(
        cpu: CPUController.Resources? = nil, cpuset: CPUSetController.Resources? = nil,
        memory: MemoryController.Resources? = nil, io: IOController.Resources? = nil,
        pids: PIDsController.Resources? = nil, hugetlb: HugeTLBController.Resources? = nil
    ) {
        self.cpu = cpu
        self.cpuset = cpuset
        self.memory = memory
        self.io = io
        self.pids = pids
        self.hugetlb = hugetlb
    }

    private var parts: [any CGroupControllerResources] {
        let all: [(any CGroupControllerResources)?] = [pids, memory, io, cpu, cpuset, hugetlb]
        return all.compactMap { $0 }.filter { !$0.isEmpty }
    }

    /// The controllers these settings need enabled in the parent's `cgroup.subtree_control`
    /// (those with at least one field set), in application order.
    public var requiredControllers: [String] { parts.map { type(of: $0).controller } }

    /// Validates everything first, then returns every write, controller by controller, in the
    /// order runc applies them: pids (so a runaway group stops forking first), memory, io,
    /// cpu, cpuset, hugetlb; each controller's own order is documented on its `writes()`.
    /// The kernel has no ordering rule across controllers. If any controller's settings are
    /// refused, nothing is returned.
    public func writes() throws(CGroupError) -> [(file: String, value: String)] {
        var writes: [(file: String, value: String)] = []
        for part in parts { writes += try part.writes() }
        return writes
    }
}
