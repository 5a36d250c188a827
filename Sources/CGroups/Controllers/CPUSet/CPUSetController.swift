/// The `cpuset` controller: which CPUs and memory nodes a group may use (`cpuset.cpus`,
/// `cpuset.mems`), exclusive CPUs (`cpuset.cpus.exclusive`, Linux 6.7) and scheduling
/// partitions (`cpuset.cpus.partition`).
///
/// The `.effective` files say what the group really gets: the requested set intersected
/// with the parent's effective set (or the parent's set when nothing was requested).
public enum CPUSetController: CGroupController {
    public static let name = "cpuset"
    public static let statFiles = [
        "cpuset.cpus.effective", "cpuset.mems.effective", "cpuset.cpus.partition", "cpuset.cpus.exclusive.effective",
    ]
}
