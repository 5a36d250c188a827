import Glibc

/// The health inputs of a burn-in: SMART of every disk (`smartctl -j -a`), EDAC memory error
/// counters, machine-check counters, thermal-throttle counters and CPU frequencies.
///
/// Nothing here fails for lack of a tool, a file or a device: such inputs are `skipped` with
/// the reason. Reading takes well under a second per disk; call it before and after the other
/// probes and compare the counters with `HealthCounterComparison`.
public struct HealthProbe: Sendable {
    /// What to read and where.
    public struct Configuration: Sendable, Codable, Equatable {
        /// Whether to ask smartctl about the disks.
        public var smart: Bool
        /// The devices to ask smartctl about; `nil` for every disk in `/sys/block` except
        /// loop, ram, zram, device-mapper, md, optical, nbd and floppy devices.
        public var smartDevices: [String]?
        /// smartctl's path; `nil` to look for it in /usr/sbin, /usr/bin, /sbin, /bin and `$PATH`.
        public var smartctlPath: String?
        /// How long one smartctl call may take, in seconds, before it is killed.
        public var smartctlTimeoutSeconds: Double
        /// The sysfs mount, `/sys` unless testing.
        public var sysfsRoot: String
        /// The procfs mount, `/proc` unless testing.
        public var procRoot: String
        /// Where device nodes live, `/dev` unless testing.
        public var devRoot: String

        public init(
            smart: Bool = true, smartDevices: [String]? = nil, smartctlPath: String? = nil,
            smartctlTimeoutSeconds: Double = 30, sysfsRoot: String = "/sys", procRoot: String = "/proc",
            devRoot: String = "/dev"
        ) {
            self.smart = smart
            self.smartDevices = smartDevices
            self.smartctlPath = smartctlPath
            self.smartctlTimeoutSeconds = smartctlTimeoutSeconds
            self.sysfsRoot = sysfsRoot
            self.procRoot = procRoot
            self.devRoot = devRoot
        }

        /// Decodes a partial configuration: absent keys keep their defaults.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Configuration()
            smart = try c.decodeIfPresent(Bool.self, forKey: .smart) ?? d.smart
            smartDevices = try c.decodeIfPresent([String].self, forKey: .smartDevices)
            smartctlPath = try c.decodeIfPresent(String.self, forKey: .smartctlPath)
            smartctlTimeoutSeconds =
                try c.decodeIfPresent(Double.self, forKey: .smartctlTimeoutSeconds) ?? d.smartctlTimeoutSeconds
            sysfsRoot = try c.decodeIfPresent(String.self, forKey: .sysfsRoot) ?? d.sysfsRoot
            procRoot = try c.decodeIfPresent(String.self, forKey: .procRoot) ?? d.procRoot
            devRoot = try c.decodeIfPresent(String.self, forKey: .devRoot) ?? d.devRoot
        }
    }

    /// What has been read so far (called after each input).
    public struct Progress: Sendable, Equatable {
        /// Inputs read so far, out of `total`.
        public var done: Int
        /// Number of inputs (4 counter/frequency sources plus one per disk).
        public var total: Int
        /// The input just read, e.g. `edac` or `smart /dev/sda`.
        public var current: String
    }

    /// What the probe runs.
    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Reads every input. Never throws for absent inputs; throws `CancellationError` if the
    /// task is cancelled between inputs.
    public func run(progress: @escaping @Sendable (Progress) -> Void = { _ in }) async throws -> HealthResult {
        let started = HealthFiles.wallClockSeconds()
        let counters = HealthCounterReader(sysfsRoot: configuration.sysfsRoot, procRoot: configuration.procRoot)
        var smartctl: String?
        var smartSkipped: String?
        if !configuration.smart {
            smartSkipped = "disabled in the configuration"
        } else if let path = configuration.smartctlPath {
            if access(path, X_OK) == 0 { smartctl = path } else { smartSkipped = "smartctl not found at \(path)" }
        } else if let found = HealthCommand.find("smartctl") {
            smartctl = found
        } else {
            smartSkipped = "smartctl not found (install smartmontools)"
        }
        let devices = smartctl != nil ? smartDevices() : []
        let total = 4 + devices.count
        var done = 0
        func step(_ name: String) throws {
            done += 1
            progress(Progress(done: done, total: total, current: name))
            try Task.checkCancellation()
        }
        let edac = counters.edac()
        try step("edac")
        let machineCheck = counters.machineCheck()
        try step("machine-check")
        let throttle = counters.thermalThrottle()
        try step("thermal-throttle")
        let frequency = CPUFrequencyReader(sysfsRoot: configuration.sysfsRoot, procRoot: configuration.procRoot)
            .snapshot()
        try step("cpu-frequency")

        var smart: HealthSMARTReport
        if let smartctl {
            if devices.isEmpty {
                smart = HealthSMARTReport(
                    status: .skipped, reason: "no disks in \(configuration.sysfsRoot)/block", devices: [])
            } else {
                var reports: [SMARTDeviceReport] = []
                for device in devices {
                    reports.append(readSMART(smartctl: smartctl, device: device))
                    try step("smart \(device)")
                }
                let read = reports.filter { $0.status != .skipped }
                smart = HealthSMARTReport(
                    status: read.map(\.status).max() ?? .skipped,
                    reason: read.isEmpty ? "smartctl could read none of the disks" : nil, devices: reports)
            }
        } else {
            smart = HealthSMARTReport(status: .skipped, reason: smartSkipped, devices: [])
        }
        let statuses = [smart.status, edac.status, machineCheck.status, throttle.status]
        return HealthResult(
            takenAt: started, elapsedSeconds: HealthFiles.wallClockSeconds() - started,
            status: statuses.max() ?? .skipped, smart: smart, edac: edac, machineCheck: machineCheck,
            thermalThrottle: throttle, cpuFrequency: frequency)
    }

    /// The counter sources only (no smartctl): cheap enough to take before and after each probe.
    public func counters() -> HealthCounters {
        let reader = HealthCounterReader(sysfsRoot: configuration.sysfsRoot, procRoot: configuration.procRoot)
        return HealthCounters(
            edac: reader.edac(), machineCheck: reader.machineCheck(), thermalThrottle: reader.thermalThrottle())
    }

    /// The disks to ask smartctl about.
    func smartDevices() -> [String] {
        if let devices = configuration.smartDevices { return devices }
        let excluded = ["loop", "ram", "zram", "dm-", "md", "sr", "nbd", "fd", "zd"]
        return (HealthFiles.list(configuration.sysfsRoot + "/block") ?? [])
            .filter { name in !excluded.contains { name.hasPrefix($0) } }
            .map { configuration.devRoot + "/" + $0 }
    }

    private func readSMART(smartctl: String, device: String) -> SMARTDeviceReport {
        guard HealthFiles.exists(device) else {
            return .skipped(device: device, reason: "\(device) does not exist")
        }
        do {
            let output = try HealthCommand.run(
                smartctl, ["-j", "-a", device], timeout: configuration.smartctlTimeoutSeconds)
            if output.timedOut {
                return .skipped(
                    device: device, reason: "smartctl did not answer within \(configuration.smartctlTimeoutSeconds) s")
            }
            var report = SMARTDeviceReport.parse(smartctlJSON: output.stdout, device: device)
            if report.smartctlExitStatus == nil { report.smartctlExitStatus = Int(output.status) }
            return report
        } catch {
            return .skipped(device: device, reason: error.description)
        }
    }
}

/// SMART of every disk that was asked about.
public struct HealthSMARTReport: Sendable, Codable, Equatable {
    /// The worst status of the disks smartctl could read; `skipped` when it could read none
    /// (or smartctl is absent, or SMART was disabled).
    public var status: HealthCheckStatus
    /// Why it was skipped.
    public var reason: String?
    /// One report per disk, in the order asked.
    public var devices: [SMARTDeviceReport]
}

/// The counter sources at one moment (see `HealthProbe.counters()`).
public struct HealthCounters: Sendable, Codable, Equatable {
    /// EDAC memory-controller error counts.
    public var edac: HealthCounterSnapshot
    /// Machine-check counts.
    public var machineCheck: HealthCounterSnapshot
    /// Thermal-throttle event counts.
    public var thermalThrottle: HealthCounterSnapshot

    /// Every source's change from `before` to `self`.
    public func changes(since before: HealthCounters) -> [HealthCounterComparison] {
        [
            HealthCounterComparison(before: before.edac, after: edac),
            HealthCounterComparison(before: before.machineCheck, after: machineCheck),
            HealthCounterComparison(before: before.thermalThrottle, after: thermalThrottle),
        ]
    }
}

/// Everything the health probe read.
public struct HealthResult: Sendable, Codable, Equatable {
    /// When reading started, seconds since the Unix epoch.
    public var takenAt: Double
    /// How long reading took, in seconds.
    public var elapsedSeconds: Double
    /// The worst status of SMART, EDAC, machine checks and thermal throttling (skipped inputs
    /// count for nothing; `skipped` only if all were skipped). CPU frequency is informative only.
    public var status: HealthCheckStatus
    /// SMART per disk.
    public var smart: HealthSMARTReport
    /// EDAC memory error counters (since boot).
    public var edac: HealthCounterSnapshot
    /// Machine-check counters (since boot).
    public var machineCheck: HealthCounterSnapshot
    /// Thermal-throttle event counters (since boot).
    public var thermalThrottle: HealthCounterSnapshot
    /// Current CPU frequencies.
    public var cpuFrequency: CPUFrequencySnapshot
}
