/// The RDMA resources of one device, as one line of `rdma.current` or `rdma.max`:
///
///     mlx4_0 hca_handle=2 hca_object=2000
///     ocrdma1 hca_handle=3 hca_object=max
public struct RDMADeviceResources: Sendable, Hashable {
    /// The RDMA device's name.
    public var device: String
    /// HCA handles (`hca_handle`): a number, or `max` in `rdma.max`.
    public var hcaHandle: CGroupLimit<UInt64>?
    /// HCA objects (`hca_object`): a number, or `max` in `rdma.max`.
    public var hcaObject: CGroupLimit<UInt64>?
    /// Fields this library does not know, as the kernel printed them.
    public var extra: [String: String]

    /// The resources of `device`.
    public init(
        device: String, hcaHandle: CGroupLimit<UInt64>? = nil, hcaObject: CGroupLimit<UInt64>? = nil,
        extra: [String: String] = [:]
    ) {
        self.device = device
        self.hcaHandle = hcaHandle
        self.hcaObject = hcaObject
        self.extra = extra
    }

    /// Parses `rdma.current` or `rdma.max` text: one line per device.
    public static func parse(_ text: String, file: String) throws(CGroupError) -> [RDMADeviceResources] {
        let nested = try NestedKeyedFile(parsing: text, file: file)
        var devices: [RDMADeviceResources] = []
        for line in nested.lines {
            devices.append(
                RDMADeviceResources(
                    device: line.key, hcaHandle: try nested.value("hca_handle", of: line),
                    hcaObject: try nested.value("hca_object", of: line),
                    extra: Dictionary(
                        uniqueKeysWithValues: line.fields.filter { !$0.key.hasPrefix("hca_") }.map { ($0.key, $0.value) })))
        }
        return devices
    }
}
