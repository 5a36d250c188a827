/// The `io` controller: proportional weights (`io.weight`, honoured by the iocost
/// controller where enabled in the root's `io.cost.qos`), per-device throttling (`io.max`),
/// latency targets (`io.latency`, where the kernel has CONFIG_BLK_CGROUP_IOLATENCY) and usage
/// (`io.stat`).
///
/// Devices are named by ``DeviceNumber`` (`MAJ:MIN`); each line of `io.weight`, `io.max` and
/// `io.latency` is a separate write, because the kernel parses one device per write.
public enum IOController: CGroupController {
    public static let name = "io"
    public static let statFiles = ["io.stat"]
}
