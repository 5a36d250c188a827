/// The `cpu` controller: weight (`cpu.weight`, `cpu.weight.nice`), idle scheduling
/// (`cpu.idle`), bandwidth (`cpu.max`, `cpu.max.burst`), utilisation clamps
/// (`cpu.uclamp.min/max`) and usage (`cpu.stat`).
///
/// `cpu.stat` exists in every cgroup (usage only); the throttling counters appear when the
/// controller is enabled.
public enum CPUController: CGroupController {
    public static let name = "cpu"
    public static let statFiles = ["cpu.stat"]
}
