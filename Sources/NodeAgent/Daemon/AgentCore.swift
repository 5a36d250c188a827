import AgentAPI
import CGroups
import Foundation
import GRPCCore
import Libvirt
import Logging
import SwiftProtobuf

/// Everything the RPC services and the daemon's background services share: the libvirt
/// connection and the managers over it, the state store, the event log and the task manager.
final class AgentCore: Sendable {
    let config: AgentConfig
    let connection: Connection
    let guests: GuestManager
    let volumes: VolumeManager
    let store: StateStore
    let events: EventLog
    let tasks: TaskManager
    /// The cgroup v2 hierarchy (`cgroups.root`); nil when the host has none.
    let cgroups: CGroupTree?
    let logger: Logger
    let started = Date()
    /// The shutdown policy in force (reloadable on SIGHUP).
    let shutdownPolicy: LockedValue<ShutdownPolicy>
    /// Why the libvirt event monitor is not following events right now; nil while it is.
    let eventMonitorProblem = LockedValue<String?>(nil)

    init(config: AgentConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        connection = Connection(uri: config.libvirt.uri, options: config.connectionOptions)
        guests = GuestManager(connection: connection, owner: config.guests.owner, shutdownPolicy: config.shutdownPolicy)
        volumes = VolumeManager(connection: connection)
        shutdownPolicy = LockedValue(config.shutdownPolicy)
        store = try StateStore(directory: config.agent.stateDirectory)
        let events = EventLog(store: store, logger: logger)
        self.events = events
        cgroups = Self.openCGroups(config.cgroups.root, logger: logger)
        tasks = TaskManager(
            store: store, configuration: config.taskConfiguration, logger: logger,
            onChange: { record, transition in
                guard transition else { return }
                var event = Nodeagent_V1_Event()
                event.task = Nodeagent_V1_Task(record)
                do {
                    events.record(type: "task", payload: try event.serializedBytes())
                } catch {
                    logger.error("cannot encode the task event: \(error)", metadata: ["task.id": "\(record.id)"])
                }
            })
    }

    private static func openCGroups(_ root: String, logger: Logger) -> CGroupTree? {
        do {
            return root == "auto" ? try CGroupTree.detect() : try CGroupTree.open(root: root)
        } catch {
            logger.warning("no cgroup v2 hierarchy (cgroups.root = \(root)): \(error); the CGroups API answers UNAVAILABLE")
            return nil
        }
    }

    /// Records a guest lifecycle event on the event stream.
    func recordGuestEvent(_ event: DomainEvent, guest: Guest?) {
        var message = Nodeagent_V1_GuestEvent()
        if let guest {
            message.guest = Nodeagent_V1_Guest(guest)
        } else {
            message.guest.name = event.domainName
            message.guest.uuid = event.domainUUID.uuidString.lowercased()
            message.guest.state = event.kind == .undefined ? .unspecified : .shutOff
        }
        message.event = event.kind?.name ?? "unknown"
        message.detail = event.detailName
        var envelope = Nodeagent_V1_Event()
        envelope.guest = message
        append(envelope, type: "guest")
    }

    /// A full state report: every guest and every unfinished task.
    func stateReport() async -> Nodeagent_V1_StateReport {
        var report = Nodeagent_V1_StateReport()
        switch await Result({ () throws(AgentError) in try await guests.list() }) {
        case .success(let list):
            report.guests = list.map(Nodeagent_V1_Guest.init)
            report.libvirtConnected = true
        case .failure:
            report.libvirtConnected = false
        }
        do {
            report.unfinishedTasks = try tasks.list(states: [.queued, .running], limit: 10_000).map(Nodeagent_V1_Task.init)
        } catch {
            logger.error("cannot list unfinished tasks for the state report: \(error)")
        }
        return report
    }

    func recordStateReport() async {
        var envelope = Nodeagent_V1_Event()
        envelope.stateReport = await stateReport()
        append(envelope, type: "state")
    }

    /// Records an event; one that cannot be stored now is held back (`EventLog.record`).
    private func append(_ event: Nodeagent_V1_Event, type: String) {
        do {
            events.record(type: type, payload: try event.serializedBytes())
        } catch {
            logger.error("cannot encode a \(type) event: \(error)")
        }
    }

    /// Submits a task for a request and answers with it (the first call's task for a repeated
    /// request id).
    func submit(
        _ kind: TaskKind, target: String, requestID: String, fingerprintOf request: some SwiftProtobuf.Message,
        input: some SwiftProtobuf.Message
    ) async throws(RPCError) -> Nodeagent_V1_Task {
        let requestID = try RequestCheck.requestID(requestID)
        let fingerprint = try RequestCheck.fingerprint(kind: kind.rawValue, request)
        let data: Data
        do {
            data = try input.serializedBytes()
        } catch {
            throw RPCError(code: .invalidArgument, message: "the request cannot be encoded: \(error)")
        }
        do {
            let submission = try await tasks.submit(
                kind: kind.rawValue, target: target, requestID: requestID, fingerprint: fingerprint, input: data)
            var metadata: Logger.Metadata = [
                "task.id": "\(submission.record.id)", "request.id": "\(requestID)", "task.kind": "\(kind.rawValue)",
                "task.target": "\(target)", "caller": "\(Caller.current ?? "unknown")",
            ]
            if kind.queue == "guest" { metadata["guest.uuid"] = "\(target)" }
            logger.info(submission.duplicate ? "repeated request: answering with its task" : "task queued", metadata: metadata)
            return Nodeagent_V1_Task(submission.record)
        } catch {
            throw RPCStatusMapping.error(error)
        }
    }
}

/// A value behind a lock, for the few settings a reload changes.
final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}

extension AgentConfig {
    /// The task manager's settings derived from `[tasks]`.
    var taskConfiguration: TaskManager.Configuration {
        var configuration = TaskManager.Configuration()
        configuration.queueLimits = [
            "guest": tasks.guestConcurrency, "volume": tasks.volumeConcurrency,
            "cgroup": tasks.cgroupConcurrency, "burnin": tasks.burninConcurrency,
        ]
        configuration.maxAttempts = tasks.maxAttempts
        configuration.retryBaseDelay = .milliseconds(Int64(tasks.retryBaseDelay * 1000))
        configuration.retryMaxDelay = .milliseconds(Int64(tasks.retryMaxDelay * 1000))
        configuration.retention = .seconds(Int64(tasks.retentionHours * 3600))
        configuration.drainTimeout = .milliseconds(Int64(tasks.drainTimeout * 1000))
        return configuration
    }
}
