import Foundation
@testable import Probes
import TestSupport
import Testing

/// A fake sysfs/procfs tree in a temporary directory.
struct HealthFakeTree {
    let root: TemporaryDirectory

    init(_ root: TemporaryDirectory) { self.root = root }

    func path(_ relative: String) -> String { root.file(relative) }

    func write(_ relative: String, _ contents: String) throws {
        let url = URL(fileURLWithPath: path(relative))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try contents.write(to: url, atomically: false, encoding: .utf8)
    }

    func directory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true)
    }
}

@Suite("Health inputs: sysfs and procfs counters")
struct HealthCounterTests {
    @Test func absentFilesAreSkippedWithTheReasonNeverFailed() async throws {
        try await withTemporaryDirectory("health-empty") { dir in
            let tree = HealthFakeTree(dir)
            try tree.directory("sys")
            try tree.directory("proc")
            let reader = HealthCounterReader(sysfsRoot: tree.path("sys"), procRoot: tree.path("proc"))
            for source in [HealthCounterSource.edac, .thermalThrottle, .machineCheck] {
                let snapshot = reader.snapshot(source)
                #expect(snapshot.status == .skipped, "\(source)")
                #expect(snapshot.reason?.isEmpty == false, "\(source)")
                #expect(snapshot.counters.isEmpty)
                let comparison = HealthCounterComparison(before: snapshot, after: reader.snapshot(source))
                #expect(comparison.status == .skipped)
            }
            #expect(reader.edac().reason?.contains("edac/mc") == true)
            let frequency = CPUFrequencyReader(sysfsRoot: tree.path("sys"), procRoot: tree.path("proc")).snapshot()
            #expect(frequency.status == .skipped)

            let probe = HealthProbe(
                configuration: HealthProbe.Configuration(
                    smart: true, smartDevices: nil, smartctlPath: "/nonexistent/smartctl", sysfsRoot: tree.path("sys"),
                    procRoot: tree.path("proc"), devRoot: tree.path("dev")))
            let result = try await probe.run()
            #expect(result.status == .skipped)
            #expect(result.smart.status == .skipped)
            #expect(result.edac.status == .skipped)
            #expect(result.machineCheck.status == .skipped)
            #expect(result.thermalThrottle.status == .skipped)
            #expect(result.cpuFrequency.status == .skipped)
        }
    }

    @Test func edacCountersAreReadAndTheirIncreasesJudged() throws {
        let dir = try TemporaryDirectory("health-edac")
        defer { dir.remove() }
        let tree = HealthFakeTree(dir)
        let mc = "sys/devices/system/edac/mc"
        try tree.write("\(mc)/mc0/ce_count", "0\n")
        try tree.write("\(mc)/mc0/ue_count", "0\n")
        try tree.write("\(mc)/mc0/ce_noinfo_count", "0\n")
        try tree.write("\(mc)/mc0/dimm0/dimm_ce_count", "0\n")
        try tree.write("\(mc)/mc0/dimm0/dimm_ue_count", "0\n")
        try tree.write("\(mc)/mc0/dimm0/dimm_label", "CPU_SrcID#0_MC#0_Chan#0_DIMM#0\n")
        try tree.write("\(mc)/mc1/ce_count", "0\n")
        try tree.write("\(mc)/mc1/ue_count", "0\n")
        try tree.write("\(mc)/power/control", "auto\n")
        let reader = HealthCounterReader(sysfsRoot: tree.path("sys"), procRoot: tree.path("proc"))
        let before = reader.edac()
        #expect(before.status == .ok)
        #expect(
            before.counters.map(\.name) == [
                "mc0/ce_count", "mc0/ue_count", "mc0/ce_noinfo_count", "mc0/dimm0/dimm_ce_count",
                "mc0/dimm0/dimm_ue_count", "mc1/ce_count", "mc1/ue_count",
            ])
        #expect(before.counters[3].label == "CPU_SrcID#0_MC#0_Chan#0_DIMM#0")

        try tree.write("\(mc)/mc0/ce_count", "3\n")
        try tree.write("\(mc)/mc0/dimm0/dimm_ce_count", "3\n")
        let corrected = HealthCounterComparison(before: before, after: reader.edac())
        #expect(corrected.status == .warning)
        #expect(corrected.increased == ["mc0/ce_count", "mc0/dimm0/dimm_ce_count"])
        #expect(corrected.changes.first { $0.name == "mc0/ce_count" }?.delta == 3)
        #expect(corrected.reason == "grew during the run: mc0/ce_count +3, mc0/dimm0/dimm_ce_count +3")

        try tree.write("\(mc)/mc1/ue_count", "1\n")
        let after = reader.edac()
        #expect(after.status == .failed, "an uncorrected error since boot")
        let uncorrected = HealthCounterComparison(before: before, after: after)
        #expect(uncorrected.status == .failed)
        #expect(uncorrected.increased.contains("mc1/ue_count"))
    }

    @Test func thermalThrottleAndMachineCheckCountersAreRead() throws {
        let dir = try TemporaryDirectory("health-throttle")
        defer { dir.remove() }
        let tree = HealthFakeTree(dir)
        for cpu in [0, 1, 10] {
            try tree.write("sys/devices/system/cpu/cpu\(cpu)/thermal_throttle/core_throttle_count", "\(cpu == 10 ? 7 : 0)\n")
            try tree.write("sys/devices/system/cpu/cpu\(cpu)/thermal_throttle/package_throttle_count", "0\n")
            try tree.write("sys/devices/system/cpu/cpu\(cpu)/thermal_throttle/core_throttle_max_time_ms", "99\n")
        }
        try tree.write("sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "1\n")
        try tree.write("sys/devices/system/machinecheck/machinecheck0/bank0", "ffffffffffffffff\n")
        try tree.write("sys/devices/system/machinecheck/machinecheck0/northbridge/misc0/error_count", "2\n")
        try tree.write(
            "proc/interrupts",
            """
                       CPU0       CPU1
              0:         31          0   IO-APIC   2-edge      timer
            TRM:          0          0   Thermal event interrupts
            MCE:          1          4   Machine check exceptions
            MCP:         96         96   Machine check polls

            """)
        let reader = HealthCounterReader(sysfsRoot: tree.path("sys"), procRoot: tree.path("proc"))
        let throttle = reader.thermalThrottle()
        #expect(throttle.status == .warning)
        #expect(throttle.counters.count == 6, "only *_count files, of cpuN directories")
        #expect(throttle.counters.map(\.name).first == "cpu0/core_throttle_count")
        #expect(throttle.counters.map(\.name).last == "cpu10/package_throttle_count")
        #expect(throttle.reason == "non-zero since boot: cpu10/core_throttle_count=7")
        let mce = reader.machineCheck()
        #expect(mce.status == .warning)
        #expect(mce.counters.map(\.name) == ["interrupts/MCE", "machinecheck0/northbridge/misc0/error_count"])
        #expect(mce.counters.map(\.value) == [5, 2])
    }

    @Test func frequenciesComeFromCpufreqOrElseFromCpuinfo() throws {
        let dir = try TemporaryDirectory("health-frequency")
        defer { dir.remove() }
        let tree = HealthFakeTree(dir)
        try tree.write(
            "proc/cpuinfo",
            "processor\t: 0\nmodel name\t: X\ncpu MHz\t\t: 2596.098\n\nprocessor\t: 1\ncpu MHz\t\t: 1200.5\n\n")
        try tree.directory("sys/devices/system/cpu/cpu0")
        let reader = CPUFrequencyReader(sysfsRoot: tree.path("sys"), procRoot: tree.path("proc"))
        let fromCpuinfo = reader.snapshot()
        #expect(fromCpuinfo.source == .procCPUInfo)
        #expect(fromCpuinfo.cores == [CPUFrequencyReading(core: 0, mhz: 2596.098), CPUFrequencyReading(core: 1, mhz: 1200.5)])
        try tree.write("sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "3400000\n")
        let fromCpufreq = reader.snapshot()
        #expect(fromCpufreq.source == .scalingCurFreq)
        #expect(fromCpufreq.cores == [CPUFrequencyReading(core: 0, mhz: 3400)])
        let report = CPUFrequencyReport(before: fromCpuinfo, underLoad: nil, after: fromCpuinfo)
        #expect(report.cores.map(\.core) == [0, 1])
        #expect(report.cores[1].beforeMHz == 1200.5)
        #expect(report.cores[1].underLoadMHz == nil)
    }

    @Test func kernelListsAndSizesParse() {
        #expect(HealthFiles.cpuList("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11])
        #expect(HealthFiles.cpuList("0") == [0])
        #expect(HealthFiles.cpuList("") == [])
        #expect(HealthFiles.cpuList("3-1") == nil)
        #expect(HealthFiles.cpuList("a") == nil)
        #expect(HealthFiles.cacheSize("32768K\n") == 32 << 20)
        #expect(HealthFiles.cacheSize("2M") == 2 << 20)
        #expect(HealthFiles.cacheSize("512") == 512)
        #expect(HealthFiles.cacheSize("x") == nil)
        #expect(["mc10", "mc2", "mc1"].sorted(by: HealthFiles.naturalOrder) == ["mc1", "mc2", "mc10"])
    }

    /// The machine's own files: whatever is present is read; absent sources are skipped, never failed.
    @Test func theRealSysfsIsReadOrSkipped() async throws {
        let result = try await HealthProbe(configuration: HealthProbe.Configuration(smart: false)).run()
        for snapshot in [result.edac, result.machineCheck, result.thermalThrottle] {
            #expect(snapshot.status == .skipped ? snapshot.reason != nil : !snapshot.counters.isEmpty)
        }
        #expect(result.smart.status == .skipped)
        #expect(result.smart.reason == "disabled in the configuration")
    }
}
