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
        if let devices = KernelBytes.scan(text, Self.scan) {
            self.init(devices: devices)
            return
        }
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

    /// The fast path (see `KernelBytes`): nil sends the text to the reference parser.
    private static func scan(_ bytes: KernelBytes) -> [IODeviceStat]? {
        var devices: [IODeviceStat] = []
        var keys: [Range<Int>] = []
        for line in bytes.lines {
            let words = bytes.words(line)
            guard let key = words.first, !keys.contains(where: { bytes.same($0, key) }) else { return nil }
            keys.append(key)
            let colon = bytes.first(UInt8(ascii: ":"), in: key)
            guard colon < key.upperBound, let major = bytes.unsigned(key.lowerBound..<colon).flatMap(UInt32.init(exactly:)),
                let minor = bytes.unsigned(colon + 1..<key.upperBound).flatMap(UInt32.init(exactly:))
            else { return nil }
            var counters: [UInt64?] = Array(repeating: nil, count: Self.counterNames.count)
            var extra: [String: String] = [:]
            fields: for word in words.dropFirst() {
                let equals = bytes.first(UInt8(ascii: "="), in: word)
                guard equals > word.lowerBound, equals < word.upperBound else { return nil }
                let name = word.lowerBound..<equals
                let value = equals + 1..<word.upperBound
                for (index, counter) in Self.counterNames.enumerated() where bytes.matches(name, counter) {
                    guard counters[index] == nil, let number = bytes.unsigned(value) else { return nil }
                    counters[index] = number
                    continue fields
                }
                guard let name = bytes.string(name), let value = bytes.string(value),
                    extra.updateValue(value, forKey: name) == nil
                else { return nil }
            }
            guard let readBytes = counters[0], let writtenBytes = counters[1], let reads = counters[2],
                let writes = counters[3]
            else { return nil }
            devices.append(
                IODeviceStat(
                    device: DeviceNumber(major: major, minor: minor), readBytes: readBytes,
                    writtenBytes: writtenBytes, reads: reads, writes: writes, discardedBytes: counters[4],
                    discards: counters[5], extra: extra))
        }
        return devices
    }

    private static let counterNames: [StaticString] = ["rbytes", "wbytes", "rios", "wios", "dbytes", "dios"]
}
