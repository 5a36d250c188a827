/// IO usage per device from `io.stat`:
///
///     254:0 rbytes=17825792 wbytes=1048576 rios=143 wios=256 dbytes=0 dios=0 cost.usage=108487
///
/// Devices appear once the group has done IO on them. Fields of the IO schedulers
/// (`cost.*` of iocost, `depth`/`avg_lat` of io.latency, ...) are kept per device in
/// ``IODeviceStat/extra``.
public struct IOStat: Sendable, Hashable {
    /// The devices, in file order.
    public var devices: [IODeviceStat]

    /// Stats of the given devices.
    public init(devices: [IODeviceStat]) { self.devices = devices }

    /// The stats of `device`, nil when the group has done no IO on it.
    public subscript(device: DeviceNumber) -> IODeviceStat? { devices.first { $0.device == device } }

    /// Parses `io.stat` text; `rbytes`, `wbytes`, `rios` and `wios` are required per device.
    public init(parsing text: String, file: String = "io.stat") throws(CGroupError) {
        let nested = try NestedKeyedFile(parsing: text, file: file)
        var devices: [IODeviceStat] = []
        for line in nested.lines {
            let device: DeviceNumber
            do throws(CGroupError) { device = try DeviceNumber(fileText: line.key, file: file) } catch {
                throw .unparsable(file, line: line.number, text: line.key, "expected a device MAJ:MIN")
            }
            func required(_ key: String) throws(CGroupError) -> UInt64 {
                guard let value: UInt64 = try nested.value(key, of: line) else {
                    throw .unparsable(file, line: line.number, text: line.key, "\(key)= is missing")
                }
                return value
            }
            let known: Set<String> = ["rbytes", "wbytes", "rios", "wios", "dbytes", "dios"]
            devices.append(
                IODeviceStat(
                    device: device, readBytes: try required("rbytes"), writtenBytes: try required("wbytes"),
                    reads: try required("rios"), writes: try required("wios"),
                    discardedBytes: try nested.value("dbytes", of: line), discards: try nested.value("dios", of: line),
                    extra: Dictionary(
                        uniqueKeysWithValues: line.fields.filter { !known.contains($0.key) }.map { ($0.key, $0.value) })))
        }
        self.init(devices: devices)
    }
}
