/// A per-device override of `io.weight`: `MAJ:MIN WEIGHT`, or `MAJ:MIN default` to drop the
/// override (the device then uses the group's default weight).
public struct IODeviceWeight: Sendable, Hashable, CustomStringConvertible {
    /// The device.
    public var device: DeviceNumber
    /// The device's weight, nil to remove the override.
    public var weight: IOWeight?

    /// An override of `device`'s weight (nil: back to the default).
    public init(device: DeviceNumber, weight: IOWeight?) {
        self.device = device
        self.weight = weight
    }

    /// The line written to `io.weight`.
    public var fileText: String { "\(device.fileText) \(weight?.fileText ?? "default")" }

    public var description: String { fileText }
}
