import CGroups
import Testing

@Suite("io controller: resources, io.stat, io.max, io.weight")
struct ControllerIOTests {
    private let vda = DeviceNumber(major: 254, minor: 0)
    private let sda = DeviceNumber(major: 8, minor: 0)

    private func lines(_ resources: IOController.Resources) throws -> [String] {
        try resources.writes().map { "\($0.file)=\($0.value)" }
    }

    @Test("one write per line: default weight, device weights, io.max, io.latency")
    func mapping() throws {
        let resources = IOController.Resources(
            weight: try IOWeight(200),
            deviceWeights: [IODeviceWeight(device: vda, weight: try IOWeight(300)), IODeviceWeight(device: sda, weight: nil)],
            max: [IODeviceLimit(device: vda, readBytesPerSecond: .value(4_194_304), writeIOPS: .value(1000)), .unlimited(sda)],
            latency: [IOLatencyTarget(device: sda, target: .value(75000))])
        #expect(
            try lines(resources) == [
                "io.weight=default 200", "io.weight=254:0 300", "io.weight=8:0 default",
                "io.max=254:0 rbps=4194304 wiops=1000", "io.max=8:0 rbps=max wbps=max riops=max wiops=max",
                "io.latency=8:0 target=75000",
            ])
        #expect(try lines(.init(latency: [IOLatencyTarget(device: sda, target: .max)])) == ["io.latency=8:0 target=max"])
        #expect(try lines(.init()) == [])
    }

    @Test(
        "io.max limits the kernel refuses or caps are refused, naming the field",
        arguments: [
            (IODeviceLimit(device: DeviceNumber(major: 8, minor: 0), readBytesPerSecond: .value(0)), "readBytesPerSecond"),
            (IODeviceLimit(device: DeviceNumber(major: 8, minor: 0), writeIOPS: .value(1 << 32)), "writeIOPS"),
            (IODeviceLimit(device: DeviceNumber(major: 8, minor: 0)), "sets no field"),
        ])
    func refusedLimits(limit: IODeviceLimit, named: String) {
        let error = #expect(throws: CGroupError.self) { try IOController.Resources(max: [limit]).writes() }
        #expect(error?.kind == .invalidValue)
        #expect(error?.file == "io.max")
        #expect(error?.value == limit.fileText)
        #expect(error?.message.contains(named) == true)
    }

    @Test("a device named twice in one file is refused")
    func duplicateDevice() {
        let twice = IOController.Resources(deviceWeights: [
            IODeviceWeight(device: vda, weight: .default), IODeviceWeight(device: vda, weight: nil),
        ])
        let error = #expect(throws: CGroupError.self) { try twice.writes() }
        #expect(error?.file == "io.weight")
        #expect(error?.message.contains("deviceWeights") == true)
    }

    @Test("io.stat of a group with iocost (guest 6.1): typed counters, cost.* kept")
    func stat() throws {
        let stat = try IOStat(parsing: try KernelFixture.guest("work/job/io.stat"))
        #expect(stat.devices.map(\.device) == [DeviceNumber(major: 254, minor: 32), vda])
        let disk = try #require(stat[vda])
        #expect(disk.readBytes == 17_825_792)
        #expect(disk.writtenBytes == 1_048_576)
        #expect(disk.reads == 143)
        #expect(disk.writes == 256)
        #expect(disk.discardedBytes == 0)
        #expect(disk.discards == 0)
        #expect(disk.extra == ["cost.usage": "108487"])
        #expect(stat[DeviceNumber(major: 254, minor: 32)]?.writtenBytes == 33_554_432)
        #expect(stat[sda] == nil)
        let root = try IOStat(parsing: try KernelFixture.guest("io.stat"))
        #expect(root[vda]?.extra == ["cost.vrate": "100.00", "cost.usage": "108487"])
        #expect(root.devices.count == 3)
    }

    @Test("io.stat lines without the basic counters or with a bad device are refused")
    func malformedStat() {
        let missing = #expect(throws: CGroupError.self) { try IOStat(parsing: "8:0 rbytes=1 wbytes=2 rios=3\n") }
        #expect(missing?.message.contains("wios") == true)
        #expect(throws: CGroupError.self) { try IOStat(parsing: "sda rbytes=1 wbytes=2 rios=3 wios=4\n") }
    }

    @Test("io.max and io.weight read back")
    func readBack() throws {
        let limits = try IODeviceLimit.parse(try KernelFixture.guest("work/job/io.max"))
        #expect(
            limits == [
                IODeviceLimit(
                    device: vda, readBytesPerSecond: .value(4_194_304), writeBytesPerSecond: .max, readIOPS: .max,
                    writeIOPS: .value(1000))
            ])
        #expect(try IODeviceLimit.parse(try KernelFixture.guest("work/io.max")) == [])
        let weights = try IOWeightSettings(parsing: try KernelFixture.guest("work/job/io.weight"))
        #expect(weights.defaultWeight == (try IOWeight(200)))
        #expect(weights.devices == [IODeviceWeight(device: vda, weight: try IOWeight(300))])
        #expect(try IOWeightSettings(parsing: try KernelFixture.guest("work/io.weight")).defaultWeight == .default)
        #expect(throws: CGroupError.self) { try IOWeightSettings(parsing: "254:0 300\n") }
        #expect(throws: CGroupError.self) { try IOWeightSettings(parsing: "default 0\n") }
        #expect(try IOLatencyTarget.parse("8:0 target=75000\n") == [IOLatencyTarget(device: sda, target: .value(75000))])
    }
}
