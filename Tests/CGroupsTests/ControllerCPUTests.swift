import CGroups
import Testing

@Suite("cpu controller: resources and cpu.stat")
struct ControllerCPUTests {
    private func lines(_ resources: CPUController.Resources) throws -> [String] {
        try resources.writes().map { "\($0.file)=\($0.value)" }
    }

    @Test("each field maps to its file")
    func mapping() throws {
        #expect(try lines(.init(weight: try CPUWeight(250))) == ["cpu.weight=250"])
        #expect(try lines(.init(weightNice: try CPUWeightNice(-4))) == ["cpu.weight.nice=-4"])
        #expect(try lines(.init(max: try CPUMax(quota: .value(20000)))) == ["cpu.max=20000 100000"])
        #expect(try lines(.init(max: .unlimited)) == ["cpu.max=max 100000"])
        #expect(try lines(.init(maxBurst: 5000)) == ["cpu.max.burst=5000"])
        #expect(try lines(.init(idle: true)) == ["cpu.idle=1"])
        #expect(
            try lines(.init(uclampMin: try Percentage(12.5), uclampMax: .max))
                == ["cpu.uclamp.max=max", "cpu.uclamp.min=12.50"])
        #expect(try lines(.init()) == [])
        #expect(CPUController.Resources().isEmpty)
    }

    @Test("bandwidth: a zero burst, then cpu.max, then cpu.max.burst, valid from any current state")
    func bandwidthOrder() throws {
        let resources = CPUController.Resources(max: try CPUMax(quota: .value(20000)), maxBurst: 5000)
        #expect(try lines(resources) == ["cpu.max.burst=0", "cpu.max=20000 100000", "cpu.max.burst=5000"])
    }

    @Test("idle off comes before a weight; idle on after it is refused together with a weight")
    func idleOrder() throws {
        #expect(try lines(.init(weight: try CPUWeight(50), idle: false)) == ["cpu.idle=0", "cpu.weight=50"])
        let error = #expect(throws: CGroupError.self) { try CPUController.Resources(weight: .default, idle: true).writes() }
        #expect(error?.file == "cpu.weight")
        #expect(error?.message.contains("idle") == true)
    }

    @Test("a burst above the quota is refused, naming maxBurst")
    func burstAboveQuota() throws {
        let resources = CPUController.Resources(max: try CPUMax(quota: .value(20000)), maxBurst: 20001)
        let error = #expect(throws: CGroupError.self) { try resources.writes() }
        #expect(error?.kind == .invalidValue)
        #expect(error?.file == "cpu.max.burst")
        #expect(error?.value == "20001")
        #expect(error?.message.contains("maxBurst") == true)
        // With no quota (max), any burst up to the kernel's maximum is accepted.
        #expect(try lines(.init(max: .unlimited, maxBurst: 20001)).last == "cpu.max.burst=20001")
        #expect(throws: CGroupError.self) { try CPUController.Resources(maxBurst: 1 << 44).writes() }
    }

    @Test("weight and weightNice together are refused, naming both")
    func weightAndNice() throws {
        let resources = CPUController.Resources(weight: .default, weightNice: try CPUWeightNice(0))
        let error = #expect(throws: CGroupError.self) { try resources.writes() }
        #expect(error?.file == "cpu.weight.nice")
        #expect(error?.message.contains("weight") == true && error?.message.contains("weightNice") == true)
    }

    @Test("cpu.stat of a throttled group (guest 6.1)")
    func throttledStat() throws {
        let stat = try CPUStat(parsing: try KernelFixture.guest("work/job/cpu.stat"))
        #expect(stat.usageUsec == 1_485_891)
        #expect(stat.userUsec == 74527)
        #expect(stat.systemUsec == 1_411_363)
        #expect(stat.periods == 113)
        #expect(stat.throttledPeriods == 69)
        #expect(stat.throttledUsec == 5_454_535)
        #expect(stat.bursts == 2)
        #expect(stat.burstUsec == 10000)
        #expect(stat.niceUsec == nil)
        #expect(stat.extra == [:])
    }

    @Test("cpu.stat of the host root (6.18): usage only, nice_usec typed")
    func hostStat() throws {
        let stat = try CPUStat(parsing: try KernelFixture.host("cpu.stat"))
        #expect(stat.usageUsec == 1_126_124_339)
        #expect(stat.niceUsec == 328_000)
        #expect(stat.periods == nil)
        #expect(stat.throttledUsec == nil)
    }

    @Test("the group's cpu files read back as typed values")
    func settingsReadBack() throws {
        #expect(
            try CGroupText.value(try KernelFixture.guest("work/job/cpu.max"), file: "cpu.max", as: CPUMax.self)
                == CPUMax(quota: .value(20000), period: 100_000))
        #expect(
            try CGroupText.value(try KernelFixture.guest("work/job/cpu.max.burst"), file: "cpu.max.burst", as: UInt64.self)
                == 5000)
        #expect(
            try CGroupText.value(try KernelFixture.guest("work/job/cpu.weight"), file: "cpu.weight", as: CPUWeight.self).value
                == 250)
        #expect(
            try CGroupText.value(
                try KernelFixture.guest("work/job/cpu.weight.nice"), file: "cpu.weight.nice", as: CPUWeightNice.self
            ).value == -4)
        #expect(try !CGroupText.flag(try KernelFixture.guest("work/job/cpu.idle"), file: "cpu.idle"))
    }

    @Test("cpu.stat without usage lines or with a negative number is refused")
    func malformedStat() {
        let missing = #expect(throws: CGroupError.self) { try CPUStat(parsing: "user_usec 1\nsystem_usec 2\n") }
        #expect(missing?.file == "cpu.stat")
        #expect(missing?.message.contains("usage_usec") == true)
        #expect(throws: CGroupError.self) { try CPUStat(parsing: "usage_usec -1\nuser_usec 1\nsystem_usec 2\n") }
    }
}
