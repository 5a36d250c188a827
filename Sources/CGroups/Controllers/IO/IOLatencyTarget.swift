/// An `io.latency` target of one device: the group's IO should complete within `target` µs
/// on average; groups with looser targets are throttled to keep it. `max` removes the target.
///
///     8:0 target=75000
public struct IOLatencyTarget: Sendable, Hashable, CustomStringConvertible {
    /// The device.
    public var device: DeviceNumber
    /// The target latency in µs, or `max` to remove it.
    public var target: CGroupLimit<UInt64>

    /// A latency target of `target` µs for `device`.
    public init(device: DeviceNumber, target: CGroupLimit<UInt64>) {
        self.device = device
        self.target = target
    }

    /// The line written to `io.latency`.
    public var fileText: String { "\(device.fileText) target=\(target.fileText)" }

    public var description: String { fileText }

    /// Parses `io.latency` text (one `MAJ:MIN target=N` line per device; other fields, such
    /// as the kernel's statistics, are ignored).
    public static func parse(_ text: String, file: String = "io.latency") throws(CGroupError) -> [IOLatencyTarget] {
        let nested = try NestedKeyedFile(parsing: text, file: file)
        var targets: [IOLatencyTarget] = []
        for line in nested.lines {
            let device: DeviceNumber
            do throws(CGroupError) { device = try DeviceNumber(fileText: line.key, file: file) } catch {
                throw .unparsable(file, line: line.number, text: line.key, "expected a device MAJ:MIN")
            }
            guard let target: CGroupLimit<UInt64> = try nested.value("target", of: line) else {
                throw .unparsable(file, line: line.number, text: line.key, "target= is missing")
            }
            targets.append(IOLatencyTarget(device: device, target: target))
        }
        return targets
    }
}
