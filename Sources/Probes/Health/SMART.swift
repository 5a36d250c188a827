import Foundation

/// One disk's SMART health as `smartctl -j -a DEVICE` reports it (ATA/SATA and NVMe shapes).
///
/// Every number is optional: a field is `nil` when smartctl did not report it for this device.
/// `status` is the suggestion from those numbers; `reasons` say why.
public struct SMARTDeviceReport: Sendable, Codable, Equatable {
    /// The device smartctl was asked about, e.g. `/dev/nvme0n1`.
    public var device: String
    /// `skipped` when smartctl could not read SMART data from the device (no such device, a
    /// virtual disk, no SMART support); `failed` when the overall assessment failed, a critical
    /// warning is set, there are media/uncorrectable errors, spare is below its threshold or an
    /// attribute is failing now; `warning` for reallocated sectors, wear of 80% or more, errors
    /// in the device's error or self-test log, or attributes that failed in the past; else `ok`.
    public var status: HealthCheckStatus
    /// Why the status is not `ok` (one sentence each), including smartctl's own error
    /// messages when skipped.
    public var reasons: [String]
    /// `device.protocol`: `ATA`, `NVMe` or `SCSI`.
    public var transport: String?
    /// `device.type`: smartctl's device type, e.g. `sat`, `nvme`.
    public var deviceType: String?
    /// Model name.
    public var model: String?
    /// Serial number.
    public var serial: String?
    /// Firmware version.
    public var firmware: String?
    /// Capacity in bytes.
    public var capacityBytes: UInt64?
    /// `smart_status.passed`: the device's overall-health self-assessment.
    public var passed: Bool?
    /// NVMe critical warning byte (0 = none); bit 0 spare below threshold, 1 temperature,
    /// 2 reliability degraded, 3 read-only, 4 volatile memory backup failed, 5 persistent
    /// memory region read-only.
    public var criticalWarning: Int?
    /// NVMe: `media_errors` (unrecovered data integrity errors). ATA: the raw values of
    /// attributes 187 Reported_Uncorrect and 198 Offline_Uncorrectable, summed (whichever exist).
    public var mediaErrors: UInt64?
    /// NVMe `available_spare`, or smartctl's `spare_available.current_percent`.
    public var availableSparePercent: Int?
    /// NVMe `available_spare_threshold`, or smartctl's `spare_available.threshold_percent`.
    public var availableSpareThresholdPercent: Int?
    /// NVMe `percentage_used`; ATA device statistic "Percentage Used Endurance Indicator"
    /// (page 7), or smartctl's `endurance_used.current_percent`. May exceed 100.
    public var percentageUsed: Int?
    /// Current temperature, °C.
    public var temperatureCelsius: Int?
    /// Power-on hours.
    public var powerOnHours: UInt64?
    /// NVMe `num_err_log_entries`.
    public var errorLogEntries: UInt64?
    /// NVMe `unsafe_shutdowns`.
    public var unsafeShutdowns: UInt64?
    /// ATA attribute 5 Reallocated_Sector_Ct (raw).
    public var reallocatedSectors: UInt64?
    /// ATA attribute 197 Current_Pending_Sector (raw).
    public var pendingSectors: UInt64?
    /// ATA attribute 198 Offline_Uncorrectable (raw).
    public var offlineUncorrectable: UInt64?
    /// ATA attribute 187 Reported_Uncorrect (raw).
    public var reportedUncorrectable: UInt64?
    /// ATA attributes whose normalized value is at or below their threshold, as
    /// `"ID Name (now)"` or `"ID Name (past)"` from smartctl's `when_failed`.
    public var failingAttributes: [String]
    /// smartctl's exit status (a bit mask; see smartctl(8), "RETURN VALUES").
    public var smartctlExitStatus: Int?

    /// A report that says why SMART could not be read for `device`.
    public static func skipped(device: String, reason: String) -> SMARTDeviceReport {
        SMARTDeviceReport(device: device, status: .skipped, reasons: [reason])
    }

    init(device: String, status: HealthCheckStatus, reasons: [String]) {
        self.device = device
        self.status = status
        self.reasons = reasons
        self.failingAttributes = []
    }

    /// Parses the JSON printed by `smartctl -j -a DEVICE` (or `-x`). Never throws: output that
    /// is not smartctl JSON, or that holds no SMART data, gives a `skipped` report with the
    /// reason.
    ///
    /// - Parameters:
    ///   - json: smartctl's standard output.
    ///   - device: the device name to report when the JSON lacks `device.name`.
    public static func parse(smartctlJSON json: String, device: String? = nil) -> SMARTDeviceReport {
        let name = device ?? "?"
        let decoded: SmartctlOutput
        do {
            decoded = try JSONDecoder().decode(SmartctlOutput.self, from: Data(json.utf8))
        } catch {
            return .skipped(device: name, reason: "smartctl output is not the expected JSON: \(error)")
        }
        return SMARTDeviceReport(decoded, device: device)
    }

    private init(_ out: SmartctlOutput, device: String?) {
        self.device = out.device?.name ?? device ?? "?"
        transport = out.device?.protocol
        deviceType = out.device?.type
        model = out.model_name
        serial = out.serial_number
        firmware = out.firmware_version
        capacityBytes = out.user_capacity?.bytes ?? out.nvme_total_capacity
        passed = out.smart_status?.passed
        smartctlExitStatus = out.smartctl?.exit_status
        temperatureCelsius = out.temperature?.current
        powerOnHours = out.power_on_time?.hours
        failingAttributes = []
        var reasons: [String] = []
        var worst = HealthCheckStatus.ok
        func flag(_ status: HealthCheckStatus, _ reason: String) {
            reasons.append(reason)
            if status > worst { worst = status }
        }

        let exit = out.smartctl?.exit_status ?? 0
        let errors = (out.smartctl?.messages ?? []).filter { $0.severity == "error" }.compactMap(\.string)
        let hasData = out.smart_status != nil || out.nvme_smart_health_information_log != nil
            || out.ata_smart_attributes != nil
        if exit & 0b11 != 0 || !hasData {
            status = .skipped
            var why = errors.isEmpty ? ["smartctl returned no SMART data"] : errors
            if exit != 0 { why.append("smartctl exit status \(exit)") }
            self.reasons = why
            return
        }

        if let log = out.nvme_smart_health_information_log {
            criticalWarning = log.critical_warning
            mediaErrors = log.media_errors
            availableSparePercent = log.available_spare
            availableSpareThresholdPercent = log.available_spare_threshold
            percentageUsed = log.percentage_used
            errorLogEntries = log.num_err_log_entries
            unsafeShutdowns = log.unsafe_shutdowns
            if temperatureCelsius == nil { temperatureCelsius = log.temperature }
            if powerOnHours == nil { powerOnHours = log.power_on_hours }
        }
        if let table = out.ata_smart_attributes?.table {
            func raw(_ id: Int) -> UInt64? { table.first { $0.id == id }?.raw?.value }
            reallocatedSectors = raw(5)
            reportedUncorrectable = raw(187)
            pendingSectors = raw(197)
            offlineUncorrectable = raw(198)
            if reportedUncorrectable != nil || offlineUncorrectable != nil {
                mediaErrors = (reportedUncorrectable ?? 0) &+ (offlineUncorrectable ?? 0)
            }
            for attribute in table {
                let when = attribute.when_failed ?? ""
                let label = "\(attribute.id ?? 0) \(attribute.name ?? "?")"
                if when == "now" {
                    failingAttributes.append(label + " (now)")
                } else if when == "past" || when == "In_the_past" {
                    failingAttributes.append(label + " (past)")
                } else if let value = attribute.value, let thresh = attribute.thresh, thresh > 0, value <= thresh {
                    failingAttributes.append(label + " (now)")
                }
            }
        }
        if let pages = out.ata_device_statistics?.pages, percentageUsed == nil {
            let ssd = pages.first { $0.number == 7 }
            if let entry = ssd?.table?.first(where: {
                $0.offset == 8 || ($0.name ?? "").lowercased().contains("percentage used endurance")
            }), entry.flags?.valid ?? true, let value = entry.value {
                percentageUsed = Int(clamping: value)
            }
        }
        if percentageUsed == nil { percentageUsed = out.endurance_used?.current_percent }
        if availableSparePercent == nil {
            availableSparePercent = out.spare_available?.current_percent
            availableSpareThresholdPercent = out.spare_available?.threshold_percent
        }

        if passed == false || exit & 0b1000 != 0 {
            flag(.failed, "SMART overall-health self-assessment: FAILED")
        }
        if let warning = criticalWarning, warning != 0 {
            flag(.failed, "NVMe critical warning 0x\(String(warning, radix: 16)): " + Self.describeCriticalWarning(warning))
        }
        if let media = mediaErrors, media > 0 {
            flag(.failed, transport == "NVMe" ? "\(media) media errors" : "\(media) uncorrectable sectors (187+198)")
        }
        if let pending = pendingSectors, pending > 0 { flag(.failed, "\(pending) pending sectors (197)") }
        if let spare = availableSparePercent, let threshold = availableSpareThresholdPercent, spare < threshold {
            flag(.failed, "available spare \(spare)% below its threshold \(threshold)%")
        }
        if let used = percentageUsed {
            if used >= 100 {
                flag(.failed, "\(used)% of rated endurance used")
            } else if used >= 80 {
                flag(.warning, "\(used)% of rated endurance used")
            }
        }
        let now = failingAttributes.filter { $0.hasSuffix("(now)") }
        let past = failingAttributes.filter { $0.hasSuffix("(past)") }
        if !now.isEmpty || exit & 0b1_0000 != 0 {
            flag(.failed, "attributes at or below threshold: " + (now.isEmpty ? "(smartctl exit bit 4)" : now.joined(separator: ", ")))
        }
        if !past.isEmpty || exit & 0b10_0000 != 0 {
            flag(.warning, "attributes were at or below threshold in the past" + (past.isEmpty ? "" : ": " + past.joined(separator: ", ")))
        }
        if let reallocated = reallocatedSectors, reallocated > 0 { flag(.warning, "\(reallocated) reallocated sectors (5)") }
        if exit & 0b100 != 0 { flag(.warning, "a SMART command failed or returned a bad checksum (smartctl exit bit 2)") }
        if exit & 0b100_0000 != 0 { flag(.warning, "the device error log has entries (smartctl exit bit 6)") }
        if exit & 0b1000_0000 != 0 { flag(.warning, "the self-test log reports errors (smartctl exit bit 7)") }
        status = worst
        self.reasons = reasons
    }

    /// The set bits of an NVMe critical warning, in words.
    public static func describeCriticalWarning(_ value: Int) -> String {
        let bits = [
            "available spare below threshold", "temperature out of range", "reliability degraded",
            "media read-only", "volatile memory backup failed", "persistent memory region read-only",
        ]
        let set = bits.enumerated().filter { value & (1 << $0.offset) != 0 }.map(\.element)
        return set.isEmpty ? "unknown bits" : set.joined(separator: ", ")
    }
}

// The subset of smartctl's JSON (json_format_version 1) that the report uses. Every key is
// optional: smartctl prints only what the device supports.
// swift-format-ignore: AlwaysUseLowerCamelCase
private struct SmartctlOutput: Decodable {
    struct Smartctl: Decodable {
        struct Message: Decodable {
            var string: String?
            var severity: String?
        }
        var exit_status: Int?
        var messages: [Message]?
    }
    struct Device: Decodable {
        var name: String?
        var type: String?
        var `protocol`: String?
    }
    struct Capacity: Decodable { var bytes: UInt64? }
    struct Status: Decodable { var passed: Bool? }
    struct Temperature: Decodable { var current: Int? }
    struct PowerOnTime: Decodable { var hours: UInt64? }
    struct NVMeLog: Decodable {
        var critical_warning: Int?
        var temperature: Int?
        var available_spare: Int?
        var available_spare_threshold: Int?
        var percentage_used: Int?
        var power_on_hours: UInt64?
        var unsafe_shutdowns: UInt64?
        var media_errors: UInt64?
        var num_err_log_entries: UInt64?
    }
    struct Attributes: Decodable {
        struct Attribute: Decodable {
            struct Raw: Decodable { var value: UInt64? }
            var id: Int?
            var name: String?
            var value: Int?
            var worst: Int?
            var thresh: Int?
            var when_failed: String?
            var raw: Raw?
        }
        var table: [Attribute]?
    }
    struct DeviceStatistics: Decodable {
        struct Page: Decodable {
            struct Entry: Decodable {
                struct Flags: Decodable { var valid: Bool? }
                var offset: Int?
                var name: String?
                var value: Int64?
                var flags: Flags?
            }
            var number: Int?
            var table: [Entry]?
        }
        var pages: [Page]?
    }
    struct Percent: Decodable {
        var current_percent: Int?
        var threshold_percent: Int?
    }

    var smartctl: Smartctl?
    var device: Device?
    var model_name: String?
    var serial_number: String?
    var firmware_version: String?
    var user_capacity: Capacity?
    var nvme_total_capacity: UInt64?
    var smart_status: Status?
    var temperature: Temperature?
    var power_on_time: PowerOnTime?
    var nvme_smart_health_information_log: NVMeLog?
    var ata_smart_attributes: Attributes?
    var ata_device_statistics: DeviceStatistics?
    var endurance_used: Percent?
    var spare_available: Percent?
}
