/// The cgroups libvirt makes for a QEMU guest, found by domain id and name, with per-vCPU and
/// emulator limits — what cgroupspy's VMTree did for cgroup v1.
///
/// libvirt names a guest's machine `qemu-<id>-<name>`. Under systemd (machined) the guest lives
/// in `<partition>/machine-qemu\x2d<id>\x2d<name>.scope` (partition default `machine.slice`;
/// the scope name is systemd-escaped, `-` becoming `\x2d`); without systemd in
/// `<partition>/qemu-<id>-<name>.libvirt-qemu` (partition default `machine`). In cgroup v2,
/// libvirt puts the threads in children of a `libvirt` group inside it: `emulator`, `vcpu0`,
/// `vcpu1`, ..., `iothread1`, ... (the "no internal processes" rule forbids threads in the
/// scope itself once it has children with controllers).
public struct VMCGroup: Sendable {
    /// The guest's own group (the scope).
    public let scope: CGroup
    /// The group holding the per-thread groups (`<scope>/libvirt`, or the scope itself).
    public let threadsParent: CGroup
    /// `emulator`, if present.
    public let emulator: CGroup?
    /// `vcpuN` groups by vCPU number.
    public let vcpus: [Int: CGroup]

    /// libvirt's machine name: `qemu-<id>-<name>`, the name reduced to `[A-Za-z0-9_.-]`
    /// without a leading `.` and cut to 64 characters (as libvirt does).
    public static func machineName(id: Int, name: String) -> String {
        var kept = String(name.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)) }.map(Character.init))
        while kept.hasPrefix(".") { kept.removeFirst() }
        return "qemu-\(id)-\(kept.prefix(64))"
    }

    /// The systemd scope's directory name for a machine: `machine-<escaped>.scope`.
    public static func scopeName(machine: String) -> String {
        "machine-" + machine.replacingOccurrences(of: "-", with: "\\x2d") + ".scope"
    }

    /// Finds a running guest's groups. Tries the systemd layout under `partition` (default
    /// `machine.slice`), then the non-systemd one (`machine`); if the id is unknown (nil), the
    /// first scope whose name ends with the guest's name is taken. Returns nil if none exists.
    public static func find(in tree: CGroupTree, id: Int?, name: String, partition: String? = nil) throws(CGroupError) -> VMCGroup? {
        let partitions = partition.map { [$0] } ?? ["machine.slice", "machine"]
        for part in partitions {
            guard let base = try tree.find(part) else { continue }
            var candidates: [String] = []
            if let id {
                let machine = machineName(id: id, name: name)
                candidates = [scopeName(machine: machine), machine + ".libvirt-qemu"]
            } else {
                let suffix = String(machineName(id: 0, name: name).dropFirst("qemu-0-".count))
                candidates = try base.children().map(\.name).filter {
                    $0.hasSuffix("\\x2d" + suffix.replacingOccurrences(of: "-", with: "\\x2d") + ".scope")
                        || $0.hasSuffix("-" + suffix + ".libvirt-qemu")
                }
            }
            for candidate in candidates {
                if let scope = try base.child(candidate).existing { return try VMCGroup(scope: scope) }
            }
        }
        return nil
    }

    /// Reads the per-thread groups of `scope`.
    public init(scope: CGroup) throws(CGroupError) {
        self.scope = scope
        threadsParent = try scope.child("libvirt").existing ?? scope
        var vcpus: [Int: CGroup] = [:]
        var emulator: CGroup?
        for child in try threadsParent.children() {
            if child.name == "emulator" {
                emulator = child
            } else if child.name.hasPrefix("vcpu"), let n = Int(child.name.dropFirst(4)) {
                vcpus[n] = child
            }
        }
        self.emulator = emulator
        self.vcpus = vcpus
    }

    /// Applies `vcpu` to every vCPU group (each vCPU gets the same limit, e.g. cpu.max for a
    /// per-vCPU cap) and `emulator` to the emulator group. Everything is validated before the
    /// first write.
    public func apply(vcpu: CGroupResources?, emulator emulatorResources: CGroupResources?) throws(CGroupError) {
        let vcpuWrites = try vcpu?.writes() ?? []
        let emulatorWrites = try emulatorResources?.writes() ?? []
        if !emulatorWrites.isEmpty && emulator == nil {
            throw CGroupError(.system, path: threadsParent.path, file: "", errno: nil, message: "the guest has no emulator group")
        }
        for (_, group) in vcpus.sorted(by: { $0.key < $1.key }) {
            for (file, value) in vcpuWrites { try group.write(file, value) }
        }
        if let emulator { for (file, value) in emulatorWrites { try emulator.write(file, value) } }
    }
}

extension CGroup {
    /// Self if the directory exists, else nil.
    var existing: CGroup? {
        get throws(CGroupError) { try exists ? self : nil }
    }
}
