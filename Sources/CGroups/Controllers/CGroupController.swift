/// A cgroup v2 controller: its name and the interface files its statistics come from.
///
/// Controllers are namespaces (caseless enums); their values live in nested `Resources`
/// types and typed stats (``CPUStat``, ``MemoryStat``, ...). Nothing here touches the file
/// system: the tree layer reads the files named here and writes the pairs that
/// ``CGroupControllerResources/writes()`` returns.
public protocol CGroupController {
    /// The name in `cgroup.controllers` and `cgroup.subtree_control`, e.g. `cpu`.
    static var name: String { get }
    /// The read-only statistics files of a non-root cgroup, in a sensible reading order.
    /// Files added by newer kernels are included; read them tolerating ENOENT.
    static var statFiles: [String] { get }
}

/// The settings of one controller for one cgroup, every field optional (nil: leave as is).
public protocol CGroupControllerResources: Sendable, Hashable {
    /// The controller that must be enabled (in the parent's `cgroup.subtree_control`) for
    /// these files to exist.
    static var controller: String { get }

    /// Whether no field is set (so ``writes()`` returns nothing).
    var isEmpty: Bool { get }

    /// Validates every field against the kernel's ranges and returns the `(file, value)`
    /// writes that apply them, in an order the kernel accepts. Nothing is returned for nil
    /// fields. Refusals are `.invalidValue` errors naming the file, the value and the field.
    func writes() throws(CGroupError) -> [(file: String, value: String)]
}
