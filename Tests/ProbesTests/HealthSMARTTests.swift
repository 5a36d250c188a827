import Foundation
@testable import Probes
import Synchronization
import TestSupport
import Testing

@Suite("Health inputs: SMART through smartctl -j")
struct HealthSMARTTests {
    @Test func aHealthyNVMeDiskPasses() {
        let r = SMARTDeviceReport.parse(smartctlJSON: HealthSMARTFixtures.nvmePassing)
        #expect(r.status == .ok)
        #expect(r.reasons.isEmpty)
        #expect(r.device == "/dev/nvme0n1")
        #expect(r.transport == "NVMe")
        #expect(r.model == "SAMSUNG MZQL2960HCJR-00A07")
        #expect(r.serial == "S64FNE0R512345")
        #expect(r.capacityBytes == 960_197_124_096)
        #expect(r.passed == true)
        #expect(r.criticalWarning == 0)
        #expect(r.mediaErrors == 0)
        #expect(r.availableSparePercent == 100)
        #expect(r.availableSpareThresholdPercent == 10)
        #expect(r.percentageUsed == 3)
        #expect(r.temperatureCelsius == 34)
        #expect(r.powerOnHours == 9411)
        #expect(r.errorLogEntries == 0)
        #expect(r.unsafeShutdowns == 14)
        #expect(r.reallocatedSectors == nil)
        #expect(r.smartctlExitStatus == 0)
    }

    @Test func aWornOutNVMeDiskFails() {
        let r = SMARTDeviceReport.parse(smartctlJSON: HealthSMARTFixtures.nvmeFailing)
        #expect(r.status == .failed)
        #expect(r.passed == false)
        #expect(r.criticalWarning == 1)
        #expect(r.mediaErrors == 12)
        #expect(r.availableSparePercent == 4)
        #expect(r.percentageUsed == 87)
        #expect(r.errorLogEntries == 311)
        #expect(r.reasons.contains("SMART overall-health self-assessment: FAILED"))
        #expect(r.reasons.contains("NVMe critical warning 0x1: available spare below threshold"))
        #expect(r.reasons.contains("12 media errors"))
        #expect(r.reasons.contains("available spare 4% below its threshold 10%"))
        #expect(r.reasons.contains("87% of rated endurance used"))
        #expect(r.reasons.contains("the device error log has entries (smartctl exit bit 6)"))
    }

    @Test func aHealthySATADiskPasses() {
        let r = SMARTDeviceReport.parse(smartctlJSON: HealthSMARTFixtures.sataPassing)
        #expect(r.status == .ok, "\(r.reasons)")
        #expect(r.transport == "ATA")
        #expect(r.deviceType == "sat")
        #expect(r.model == "Samsung SSD 870 EVO 1TB")
        #expect(r.passed == true)
        #expect(r.criticalWarning == nil)
        #expect(r.reallocatedSectors == 0)
        #expect(r.pendingSectors == 0)
        #expect(r.offlineUncorrectable == 0)
        #expect(r.reportedUncorrectable == 0)
        #expect(r.mediaErrors == 0)
        #expect(r.percentageUsed == 4, "from device statistics page 7")
        #expect(r.availableSparePercent == nil)
        #expect(r.temperatureCelsius == 31)
        #expect(r.powerOnHours == 12011)
        #expect(r.failingAttributes.isEmpty)
    }

    @Test func aFailingSATADiskFailsWithEveryReason() {
        let r = SMARTDeviceReport.parse(smartctlJSON: HealthSMARTFixtures.sataFailing)
        #expect(r.status == .failed)
        #expect(r.passed == false)
        #expect(r.reallocatedSectors == 3912)
        #expect(r.pendingSectors == 48)
        #expect(r.offlineUncorrectable == 48)
        #expect(r.reportedUncorrectable == 211)
        #expect(r.mediaErrors == 259)
        #expect(r.failingAttributes == ["5 Reallocated_Sector_Ct (now)"])
        #expect(r.smartctlExitStatus == 216)
        #expect(r.reasons.contains("SMART overall-health self-assessment: FAILED"))
        #expect(r.reasons.contains("259 uncorrectable sectors (187+198)"))
        #expect(r.reasons.contains("48 pending sectors (197)"))
        #expect(r.reasons.contains("attributes at or below threshold: 5 Reallocated_Sector_Ct (now)"))
        #expect(r.reasons.contains("3912 reallocated sectors (5)"))
        #expect(r.reasons.contains("the self-test log reports errors (smartctl exit bit 7)"))
    }

    @Test func aDiskWithoutSMARTIsSkippedNotFailed() {
        let r = SMARTDeviceReport.parse(smartctlJSON: HealthSMARTFixtures.virtioDisk, device: "/dev/vda")
        #expect(r.status == .skipped)
        #expect(r.reasons == ["/dev/vda: Unable to detect device type", "smartctl exit status 1"])
        let garbage = SMARTDeviceReport.parse(smartctlJSON: "smartctl: command not found", device: "/dev/sdz")
        #expect(garbage.status == .skipped)
        #expect(garbage.device == "/dev/sdz")
        #expect(garbage.reasons.first?.hasPrefix("smartctl output is not the expected JSON") == true)
    }

    @Test func aMinimalFailingAttributeWithoutWhenFailedIsNoticed() {
        let json = #"""
            {"smartctl": {"exit_status": 0}, "device": {"name": "/dev/sdc", "protocol": "ATA"},
             "smart_status": {"passed": true},
             "ata_smart_attributes": {"table": [
               {"id": 184, "name": "End-to-End_Error", "value": 97, "worst": 97, "thresh": 99, "raw": {"value": 3}}]},
             "endurance_used": {"current_percent": 91}, "spare_available": {"current_percent": 20, "threshold_percent": 10}}
            """#
        let r = SMARTDeviceReport.parse(smartctlJSON: json)
        #expect(r.status == .failed)
        #expect(r.failingAttributes == ["184 End-to-End_Error (now)"])
        #expect(r.percentageUsed == 91)
        #expect(r.availableSparePercent == 20)
        #expect(r.reasons.contains("91% of rated endurance used"))
    }

    @Test func theReportRoundTripsThroughJSON() throws {
        let r = SMARTDeviceReport.parse(smartctlJSON: HealthSMARTFixtures.sataFailing)
        let decoded = try JSONDecoder().decode(SMARTDeviceReport.self, from: JSONEncoder().encode(r))
        #expect(decoded == r)
    }

    /// The live path: a stand-in smartctl (a script printing a fixture, with smartctl's exit
    /// status) run by posix_spawn, its output parsed; an absent smartctl or device is skipped.
    @Test func theProbeRunsSmartctlAndParsesItsOutput() async throws {
        try await withTemporaryDirectory("health-smartctl") { dir in
            let script = try dir.write(
                "smartctl",
                "#!/bin/sh\n# $1=-j $2=-a $3=device\ncat <<'EOF'\n\(HealthSMARTFixtures.nvmeFailing)\nEOF\nexit 72\n")
            chmod(script, 0o755)
            let device = try dir.write("nvme1n1", "")
            var config = HealthProbe.Configuration(smartDevices: [device, dir.file("absent")], smartctlPath: script)
            config.sysfsRoot = dir.file("sys")
            config.procRoot = dir.file("proc")
            let progress = HealthProgressCounter()
            let result = try await HealthProbe(configuration: config).run { _ in progress.increment() }
            #expect(result.smart.devices.count == 2)
            let failing = result.smart.devices[0]
            #expect(failing.status == .failed)
            #expect(failing.device == "/dev/nvme1n1", "the name smartctl reports")
            #expect(failing.mediaErrors == 12)
            #expect(result.smart.devices[1].status == .skipped)
            #expect(result.smart.devices[1].reasons == ["\(dir.file("absent")) does not exist"])
            #expect(result.smart.status == .failed)
            #expect(result.status == .failed)
            #expect(progress.value == 6)

            config.smartctlPath = dir.file("no-smartctl-here")
            let missing = try await HealthProbe(configuration: config).run()
            #expect(missing.smart.status == .skipped)
            #expect(missing.smart.reason == "smartctl not found at \(dir.file("no-smartctl-here"))")
            #expect(missing.status == .skipped)
        }
    }

    /// This VM's virtio disk: smartctl exists but cannot read SMART from it; that is skipped.
    @Test(.enabled(if: HealthCommand.find("smartctl") != nil && FileManager.default.fileExists(atPath: "/dev/vda")))
    func theRealSmartctlOnAVirtioDiskIsSkipped() async throws {
        let result = try await HealthProbe(configuration: HealthProbe.Configuration(smartDevices: ["/dev/vda"])).run()
        let disk = try #require(result.smart.devices.first)
        #expect(disk.status == .skipped, "\(disk.reasons)")
        #expect(disk.reasons.contains { $0.contains("/dev/vda") })
        #expect(result.smart.status == .skipped)
        #expect(result.status != .failed)
    }
}

/// A counter the progress callbacks increment.
final class HealthProgressCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
