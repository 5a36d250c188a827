/// What `io.weight` reads back: the group's default weight and the per-device overrides.
///
///     default 200
///     254:0 300
public struct IOWeightSettings: Sendable, Hashable {
    /// The weight of devices without an override.
    public var defaultWeight: IOWeight
    /// The overrides, in file order (every weight set: reading never shows `default`).
    public var devices: [IODeviceWeight]

    /// Settings.
    public init(defaultWeight: IOWeight = .default, devices: [IODeviceWeight] = []) {
        self.defaultWeight = defaultWeight
        self.devices = devices
    }

    /// Parses `io.weight` text: one `default WEIGHT` line and `MAJ:MIN WEIGHT` lines.
    public init(parsing text: String, file: String = "io.weight") throws(CGroupError) {
        let flat = try FlatKeyedFile(parsing: text, file: file)
        var defaultWeight: IOWeight?
        var devices: [IODeviceWeight] = []
        for entry in flat.entries {
            let weight: IOWeight
            do throws(CGroupError) { weight = try IOWeight(fileText: entry.value, file: file) } catch {
                throw .unparsable(
                    file, line: entry.line, text: "\(entry.key) \(entry.value)", "expected a weight within 1...10000")
            }
            if entry.key == "default" {
                defaultWeight = weight
            } else {
                let device: DeviceNumber
                do throws(CGroupError) { device = try DeviceNumber(fileText: entry.key, file: file) } catch {
                    throw .unparsable(file, line: entry.line, text: entry.key, "expected \"default\" or a device MAJ:MIN")
                }
                devices.append(IODeviceWeight(device: device, weight: weight))
            }
        }
        guard let defaultWeight else {
            throw .unparsable(file, text: text, "the \"default\" line is missing")
        }
        self.init(defaultWeight: defaultWeight, devices: devices)
    }
}
