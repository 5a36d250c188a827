extension IOController {
    /// IO settings of a cgroup; nil (or empty) fields are left as they are.
    public struct Resources: CGroupControllerResources {
        public static let controller = IOController.name

        /// `io.weight` default line: the group's weight on every device without an override.
        public var weight: IOWeight?
        /// `io.weight` device lines: per-device weights (or removals of them).
        public var deviceWeights: [IODeviceWeight]
        /// `io.max` lines: per-device throttling.
        public var max: [IODeviceLimit]
        /// `io.latency` lines: per-device latency targets (only where the kernel has the
        /// file, i.e. CONFIG_BLK_CGROUP_IOLATENCY).
        public var latency: [IOLatencyTarget]

        /// IO settings.
        public init(
            weight: IOWeight? = nil, deviceWeights: [IODeviceWeight] = [], max: [IODeviceLimit] = [],
            latency: [IOLatencyTarget] = []
        ) {
            self.weight = weight
            self.deviceWeights = deviceWeights
            self.max = max
            self.latency = latency
        }

        public var isEmpty: Bool { self == Resources() }

        /// The writes, one per line: `io.weight` (`default N` first, then the devices),
        /// `io.max` per device, `io.latency` per device, each in the order given. The kernel
        /// sets each device independently, so only the file order is fixed.
        ///
        /// Refused: a device named twice in the same file, and `io.max` limits the kernel
        /// would refuse or silently change (see ``IODeviceLimit/validate()``).
        public func writes() throws(CGroupError) -> [(file: String, value: String)] {
            try Self.checkUnique(deviceWeights.map(\.device), file: "io.weight", field: "deviceWeights")
            try Self.checkUnique(max.map(\.device), file: "io.max", field: "max")
            try Self.checkUnique(latency.map(\.device), file: "io.latency", field: "latency")
            for limit in max { try limit.validate() }
            var writes: [(file: String, value: String)] = []
            if let weight { writes.append(("io.weight", "default \(weight.fileText)")) }
            writes += deviceWeights.map { ("io.weight", $0.fileText) }
            writes += max.map { ("io.max", $0.fileText) }
            writes += latency.map { ("io.latency", $0.fileText) }
            return writes
        }

        private static func checkUnique(_ devices: [DeviceNumber], file: String, field: String) throws(CGroupError) {
            var seen: Set<DeviceNumber> = []
            for device in devices where !seen.insert(device).inserted {
                throw .invalid(file, device.fileText, "\(field) names the device \(device) twice")
            }
        }
    }
}
