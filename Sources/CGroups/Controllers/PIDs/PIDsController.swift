/// The `pids` controller: a limit on the number of tasks (processes and threads) in the
/// group and its descendants (`pids.max`), the count (`pids.current`, `pids.peak`) and the
/// refused forks (`pids.events`).
public enum PIDsController: CGroupController {
    public static let name = "pids"
    public static let statFiles = ["pids.current", "pids.peak", "pids.events", "pids.events.local"]

    /// The largest `pids.max` the kernel accepts: PID_MAX_LIMIT on 64-bit (4194304).
    public static let maxLimit: UInt64 = 4_194_304

    /// Pids settings of a cgroup; nil fields are left as they are.
    public struct Resources: CGroupControllerResources {
        public static let controller = PIDsController.name

        /// `pids.max`: at most this many tasks (0...4194304), or `max`. A fork beyond it
        /// fails with EAGAIN and counts in `pids.events`; lowering it below `pids.current`
        /// kills nothing, it only refuses new tasks.
        public var max: CGroupLimit<UInt64>?

        /// Pids settings.
        public init(max: CGroupLimit<UInt64>? = nil) { self.max = max }

        public var isEmpty: Bool { max == nil }

        /// The write of `pids.max`; refused above 4194304.
        public func writes() throws(CGroupError) -> [(file: String, value: String)] {
            guard let max else { return [] }
            if case .value(let count) = max, count > PIDsController.maxLimit {
                throw .invalid(
                    "pids.max", max.fileText,
                    "max (pids.max) must be max or within 0...\(PIDsController.maxLimit), got \(count)")
            }
            return [("pids.max", max.fileText)]
        }
    }
}
