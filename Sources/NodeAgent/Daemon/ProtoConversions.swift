import AgentAPI
import CGroups
import Foundation
import Libvirt
import SwiftProtobuf

// Conversions between the agent's types and the API's messages (Protos/nodeagent/v1).

extension Nodeagent_V1_GuestState {
    init(_ kind: DomainState.Kind) {
        switch kind {
        case .noState: self = .noState
        case .running: self = .running
        case .blocked: self = .blocked
        case .paused: self = .paused
        case .shutdown: self = .shuttingDown
        case .shutoff: self = .shutOff
        case .crashed: self = .crashed
        case .pmSuspended: self = .pmSuspended
        }
    }
}

extension Nodeagent_V1_Guest {
    init(_ guest: Guest) {
        self.init()
        name = guest.name
        uuid = guest.uuid.uuidString.lowercased()
        state = Nodeagent_V1_GuestState(guest.state.kind)
        stateReason = guest.state.reasonName
        managed = guest.isManaged
        protected = guest.isProtected
        if let metadata = guest.metadata {
            owner = metadata.owner
            labels = metadata.labels
            if let created = metadata.createdDate { createdAt = Google_Protobuf_Timestamp(date: created) }
        }
        if let problem = guest.metadataProblem { metadataProblem = problem }
    }
}

extension Nodeagent_V1_UndefineResult {
    init(_ result: UndefineResult) {
        self.init()
        guest = result.guest
        uuid = result.uuid.uuidString.lowercased()
        deletedVolumes = result.deletedVolumes
        keptDisks = result.keptDisks.map { kept in
            var message = Nodeagent_V1_UndefineResult.Kept()
            message.disk = kept.disk
            message.reason = kept.reason
            return message
        }
    }
}

extension Nodeagent_V1_Volume {
    init(_ info: StorageVolumeInfo) {
        self.init()
        pool = info.pool
        name = info.name
        path = info.path
        key = info.key
        kind = info.kind.map { "\($0)" } ?? ""
        capacityBytes = info.capacity
        allocationBytes = info.allocation
    }
}

extension Nodeagent_V1_Pool {
    init(_ info: StoragePoolInfo) {
        self.init()
        name = info.name
        uuid = info.uuid.uuidString.lowercased()
        state = info.state.name
        capacityBytes = info.capacity
        allocationBytes = info.allocation
        availableBytes = info.available
        persistent = info.persistent
        autostart = info.autostart
    }
}

extension Nodeagent_V1_TaskState {
    init(_ state: TaskState) {
        switch state {
        case .queued: self = .queued
        case .running: self = .running
        case .succeeded: self = .succeeded
        case .failed: self = .failed
        case .cancelled: self = .cancelled
        }
    }

    /// The agent's state for an API value; `nil` for UNSPECIFIED and unknown numbers.
    var taskState: TaskState? {
        switch self {
        case .queued: .queued
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        case .cancelled: .cancelled
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}

extension Nodeagent_V1_Task {
    init(_ record: TaskRecord) {
        self.init()
        id = record.id
        kind = record.kind
        queue = record.queue
        target = record.target
        requestID = record.requestID ?? ""
        state = Nodeagent_V1_TaskState(record.state)
        progress = record.progress
        message = record.message
        createdAt = Google_Protobuf_Timestamp(date: record.createdAt)
        updatedAt = Google_Protobuf_Timestamp(date: record.updatedAt)
        if let started = record.startedAt { startedAt = Google_Protobuf_Timestamp(date: started) }
        if let finished = record.finishedAt { finishedAt = Google_Protobuf_Timestamp(date: finished) }
        attempts = UInt32(clamping: record.attempts)
        if let failure = record.error {
            var error = Nodeagent_V1_TaskError()
            error.code = Int32(RPCStatusMapping.code(forReason: failure.reason).rawValue)
            error.reason = failure.reason
            error.message = failure.message
            self.error = error
        }
        if let data = record.result, let result = try? Nodeagent_V1_TaskResult(serializedBytes: data) {
            self.result = result
        }
    }
}

extension Nodeagent_V1_TaskResult {
    init(summary: String, _ value: Nodeagent_V1_TaskResult.OneOf_Value? = nil) {
        self.init()
        self.summary = summary
        self.value = value
    }

    /// The outcome a task handler returns: this result, serialized, with its summary.
    var outcome: TaskOutcome {
        get throws { TaskOutcome(result: try serializedBytes(), summary: summary) }
    }
}

extension Nodeagent_V1_CGroupStats {
    /// Reads a group's typed statistics. Files of disabled controllers are left out; a file
    /// that exists but cannot be parsed is an error naming it.
    init(reading group: CGroup) throws(CGroupError) {
        self.init()
        path = group.isRoot ? "/" : group.path
        // The root has no cgroup.events: it always holds every process and cannot be frozen.
        if try group.readIfPresent("cgroup.events") != nil {
            let events = try group.events
            populated = events.populated
            frozen = events.frozen ?? false
        } else {
            populated = group.isRoot
        }
        controllers = try group.controllers
        subtreeControl = try group.subtreeControl
        if try group.readIfPresent("cpu.stat") != nil {
            let cpu = try group.cpuStat()
            cpuUsageUsec = cpu.usageUsec
            cpuUserUsec = cpu.userUsec
            cpuSystemUsec = cpu.systemUsec
            cpuNrPeriods = cpu.periods ?? 0
            cpuNrThrottled = cpu.throttledPeriods ?? 0
            cpuThrottledUsec = cpu.throttledUsec ?? 0
        }
        let summary = try group.summary()
        if let current = summary.memoryCurrent { memoryCurrentBytes = current }
        if let max = summary.memoryMax { memoryMaxBytes = max }
        if let current = summary.pidsCurrent { pidsCurrent = current }
        if let text = try group.readIfPresent("pids.max"), let max = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            pidsMax = max
        }
        memoryEvents = try Self.counters(group, "memory.events")
        memoryStat = try Self.counters(group, "memory.stat")
        if try group.readIfPresent("io.stat") != nil {
            io = try group.ioStat().devices.map { device in
                var stat = Nodeagent_V1_CGroupStats.IOStat()
                stat.device = "\(device.device)"
                stat.rbytes = device.readBytes
                stat.wbytes = device.writtenBytes
                stat.rios = device.reads
                stat.wios = device.writes
                return stat
            }
        }
        for resource in ["cpu", "memory", "io", "irq"] {
            let file = "\(resource).pressure"
            guard let text = try group.readIfPresent(file) else { continue }
            let parsed = try CGroups.Pressure(parsing: text, file: file)
            var pressure = Nodeagent_V1_CGroupStats.Pressure()
            pressure.resource = resource
            if let some = parsed.some {
                pressure.someAvg10 = some.avg10
                pressure.someAvg60 = some.avg60
                pressure.someAvg300 = some.avg300
                pressure.someTotalUsec = some.total
            }
            if let full = parsed.full {
                pressure.fullAvg10 = full.avg10
                pressure.fullAvg60 = full.avg60
                pressure.fullAvg300 = full.avg300
                pressure.fullTotalUsec = full.total
            }
            self.pressure.append(pressure)
        }
    }

    /// A flat keyed file ("KEY VALUE" lines) as a map; empty when the file is absent.
    private static func counters(_ group: CGroup, _ file: String) throws(CGroupError) -> [String: UInt64] {
        guard let text = try group.readIfPresent(file) else { return [:] }
        var counters: [String: UInt64] = [:]
        for entry in try FlatKeyedFile(parsing: text, file: file).entries {
            if let value = UInt64(entry.value) { counters[entry.key] = value }
        }
        return counters
    }
}
