import AgentAPI
import Foundation
import GRPCCore
import Libvirt
import NodeAgent
import TestSupport
import Testing

/// Faults with real TCG guests in a private libvirtd (RELIABILITY.md, "Faults"): the agent
/// killed at random points of a burst of mixed operations, libvirtd stopped and restarted
/// under the agent, SIGTERM during a guest start, and the state directory filling while guests
/// change state.
@Suite(
    "faults with real guests", .serialized,
    .enabled(if: Integration.enabled, "needs root, libvirtd, QEMU and NODEAGENT_GUEST_IMAGE: run scripts/test.sh"))
struct ReliabilityFaultTests {
    func agentConfig(_ daemon: PrivateLibvirtd, extra: String = "") -> String {
        """
        [libvirt]
        uri = "\(daemon.uri)"
        [guests]
        shutdown_grace = 5
        shutdown_retry_interval = 1
        [tasks]
        drain_timeout = 2
        retry_base_delay = 0.2
        \(extra)
        """
    }

    /// 100 mixed operations on four guests and a pool's volumes, the agent killed with SIGKILL
    /// at five random points (the seed is printed; NODEAGENT_FAULT_SEED replays a run). After
    /// every kill the running guests still run; at the end every acknowledged task is terminal,
    /// what succeeded is what libvirt shows, no guest or volume was lost, and every request
    /// sent again returns its first task.
    @Test func killedAtRandomPointsOfMixedOperationsTheAgentLosesNothing() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let seed = UInt64(ProcessInfo.processInfo.environment["NODEAGENT_FAULT_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("[faults] kill -9 during mixed operations: seed \(seed) (replay with NODEAGENT_FAULT_SEED=\(seed))")
        var random = SeededRandom(seed)
        let run = UUID().uuidString.prefix(4).lowercased()
        let names = (0..<4).map { "kill-\(run)-\($0)" }
        let volumes = (0..<4).map { "kill-\(run)-v\($0).qcow2" }
        let connection = try await Connection.open(daemon.uri)
        defer { connection.close() }
        try await guests.ensurePool(connection)
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path, config: agentConfig(daemon))
            let sentinel = "kill-\(run)-sentinel"
            try await withCleanup {
                // A guest that runs through every kill, untouched by the mix: the same QEMU
                // process must still run it at the end.
                try await agent.client { client in
                    try await succeed(client) { try await $0.guests.define(defineRequest(try guests.spec(sentinel).message())) }
                    try await succeed(client) { try await $0.guests.start(action(sentinel)) }
                }
                let sentinelQEMU = try #require(guests.qemuPID(sentinel))
                var sent: [(request: SentRequest, task: Nodeagent_V1_Task)] = []
                var refused: [String: Int] = [:]
                // 100 operations in 20 bursts of 5 sent at once. During 5 of the bursts the agent
                // is killed 0-40 ms after the burst starts: some calls are answered, some are
                // cut off (the controller then sends them again after the restart, as it would).
                var kills = Set<Int>()
                while kills.count < 5 { kills.insert(Int(random.next() % 18) + 2) }
                for burst in 0..<20 {
                    let running = await Self.running(connection, names)
                    let requests = (0..<5).map { _ in Self.nextRequest(&random, names: names, volumes: volumes, running: running) }
                    let killing = kills.contains(burst)
                    let delay = Int64(random.next() % 40)
                    let qemu = killing ? (running + [sentinel]).compactMap { guests.qemuPID($0) } : []
                    let answers = await withTaskGroup(of: (Int, Result<Nodeagent_V1_Task, any Error>)?.self) { group in
                        for (index, request) in requests.enumerated() {
                            group.addTask {
                                do {
                                    return (index, .success(try await agent.client { try await request.send($0) }))
                                } catch {
                                    return (index, .failure(error))
                                }
                            }
                        }
                        if killing {
                            group.addTask {
                                try? await Task.sleep(for: .milliseconds(delay))
                                agent.crash()
                                return nil
                            }
                        }
                        return await group.reduce(into: [(Int, Result<Nodeagent_V1_Task, any Error>)]()) { if let answer = $1 { $0.append(answer) } }
                    }
                    var cutOff: [SentRequest] = []
                    for (index, answer) in answers.sorted(by: { $0.0 < $1.0 }) {
                        switch answer {
                        case .success(let task): sent.append((requests[index], task))
                        case .failure(let error as RPCError) where [.notFound, .failedPrecondition, .alreadyExists, .invalidArgument].contains(error.code):
                            // Deliberate: a guest not defined yet, one that is protected, a
                            // state the operation does not apply to.
                            refused["\(error.code)", default: 0] += 1
                        case .failure(let error):
                            if killing { cutOff.append(requests[index]) } else { Issue.record("\(requests[index]): \(error)") }
                        }
                    }
                    guard killing else { continue }
                    // The agent's death stops no guest (what its restart then does is the tasks'
                    // business, checked at the end).
                    #expect(qemu.allSatisfy { kill($0, 0) == 0 }, "a running guest died with the agent")
                    try agent.start()
                    try await agent.ready()
                    for request in cutOff {
                        do {
                            sent.append((request, try await agent.client { try await request.send($0) }))
                        } catch let error as RPCError {
                            refused["\(error.code)", default: 0] += 1
                        }
                    }
                    print("[faults] kill -9 \(delay) ms into burst \(burst): \(cutOff.count) of 5 calls cut off and sent again; guests running: \(running)")
                }
                #expect(guests.qemuPID(sentinel) == sentinelQEMU && kill(sentinelQEMU, 0) == 0, "the sentinel guest ran through every kill")
                #expect(try await daemonState(daemon, sentinel) == .running)
                print("[faults] \(sent.count) operations acknowledged, refused at the call: \(refused); killed at \(kills.sorted())")

                // Every acknowledged task ends, and says truthfully how.
                let final = try await agent.client { client in
                    var tasks: [Nodeagent_V1_Task] = []
                    for (_, task) in sent {
                        let ended = try await eventually("task \(task.id) (\(task.kind)) to end", timeout: .seconds(240)) {
                            let now = try await client.tasks.get(getTask(task.id))
                            return [.succeeded, .failed, .cancelled].contains(now.state) ? now : nil
                        }
                        tasks.append(ended)
                    }
                    return tasks
                }
                let reasons = Dictionary(grouping: final.filter { $0.state == .failed }, by: \.error.reason).mapValues(\.count)
                print("[faults] outcomes: \(Dictionary(grouping: final, by: \.state).mapValues(\.count)), failure reasons \(reasons)")
                for task in final where task.state == .failed {
                    #expect(task.error.reason != "internal" && !task.error.message.isEmpty, "\(task)")
                    if task.error.reason == "agent-restarted" || task.error.reason == "agent-stopped" {
                        #expect(!["guest.define", "guest.start", "guest.suspend", "guest.resume", "guest.protect"].contains(task.kind),
                            "a resumable task was failed instead of repeated: \(task)")
                    }
                }
                // Request ids still deduplicate: the same request again returns its first task.
                try await agent.client { client in
                    for (request, task) in sent {
                        let again = try await request.send(client)
                        #expect(again.id == task.id, "\(request) answered \(again.id), first \(task.id)")
                    }
                }
                // What the tasks say is what libvirt shows; nothing acknowledged was lost.
                let tasksByTarget = Dictionary(grouping: zip(sent.map(\.request), final).map { $0 }, by: \.0.subject)
                for name in names {
                    let history = tasksByTarget[name] ?? []
                    let exists = (try? await connection.domain(named: name)) != nil
                    if let last = history.last(where: { ["guest.define", "guest.undefine"].contains($0.1.kind) && $0.1.state == .succeeded }) {
                        let lastAttempt = history.last { ["guest.define", "guest.undefine"].contains($0.1.kind) }
                        if lastAttempt?.1.id == last.1.id {
                            #expect(exists == (last.1.kind == "guest.define"), "\(name): \(last.1.kind) succeeded last, exists: \(exists)")
                        }
                    }
                    // The power state is checked when the last operation that can change it
                    // (a power operation, or an undefine that may destroy first) succeeded.
                    guard exists, let lastPower = history.last(where: { Self.powerKinds[$0.1.kind] != nil || $0.1.kind == "guest.undefine" }),
                        lastPower.1.state == .succeeded, lastPower.1.kind != "guest.undefine"
                    else { continue }
                    let state = try await connection.domain(named: name).state().kind
                    #expect(state == Self.powerKinds[lastPower.1.kind], "\(name): \(lastPower.1.kind) succeeded last, libvirt says \(state)")
                }
                let pool = try await connection.storagePool(named: "images")
                try await pool.refresh()
                let present = Set(try await pool.volumes().map(\.name))
                for volume in volumes {
                    let history = tasksByTarget["images/\(volume)"] ?? []
                    guard let last = history.last, last.1.state == .succeeded else { continue }
                    #expect(present.contains(volume) == (last.1.kind != "volume.delete"), "\(volume): \(last.1.kind) succeeded last")
                }
            } cleanup: {
                agent.stop()
                for name in names + [sentinel] { await forceRemove(name, daemon) }
                if let pool = try? await connection.storagePool(named: "images") {
                    for volume in volumes { try? await pool.volume(named: volume).delete() }
                }
            }
        }
    }

    /// libvirtd stopped under the agent while an event stream is open and a guest runs: calls
    /// that need libvirt are UNAVAILABLE meanwhile and a task waits retrying; libvirtd back,
    /// the agent is connected again within 5 s, events flow again, and the task completes.
    @Test func libvirtdStoppedAndRestartedUnderTheAgent() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let name = "lvd-\(UUID().uuidString.prefix(6).lowercased())"
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path, config: agentConfig(daemon, extra: "max_attempts = 60\nretry_max_delay = 1"))
            let recorder = AgentEventRecorder(agent.endpoint, after: nil)
            defer { recorder.stop() }
            try await withCleanup {
                try await agent.client { client in
                    try await succeed(client) { try await $0.guests.define(defineRequest(try guests.spec(name).message())) }
                    try await succeed(client) { try await $0.guests.start(action(name)) }
                }
                try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")
                let qemu = try #require(guests.qemuPID(name))
                try daemon.stopDaemon()
                let suspend = try await agent.client { client in
                    let listed = await rpcError { try await client.guests.list(Nodeagent_V1_ListGuestsRequest()) }
                    #expect(listed?.code == .unavailable, "\(String(describing: listed))")
                    try await waitUntil("health to say libvirt is down", timeout: .seconds(30)) {
                        let health = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                        return health.status == .degraded && health.checks.contains { $0.name == "libvirt" && !$0.ok }
                    }
                    // The agent knows the guest's UUID from before: the task is accepted and waits.
                    return try await client.guests.suspend(action(name))
                }
                #expect(kill(qemu, 0) == 0, "the guest runs on without libvirtd")
                try daemon.startDaemon()
                let back = ContinuousClock.now
                try await agent.client { client in
                    try await waitUntil("the agent connected again", timeout: .seconds(30), poll: .milliseconds(50)) {
                        try await client.node.getHealth(Nodeagent_V1_GetHealthRequest()).checks.contains { $0.name == "libvirt" && $0.ok }
                    }
                    let reconnected = ContinuousClock.now - back
                    print("[faults] libvirtd back: the agent connected again after \(seconds(reconnected))")
                    #expect(reconnected < .seconds(5), "reconnected after \(seconds(reconnected))")
                    let ended = try await client.wait(for: suspend)
                    #expect(ended.state == .succeeded, "the task submitted while libvirtd was down completes: \(ended)")
                    try await succeed(client) { try await $0.guests.resume(action(name)) }
                }
                try await waitUntil("events to flow again", timeout: .seconds(30)) {
                    recorder.guestEvents(name).suffix(2).contains("resumed")
                }
                #expect(recorder.error == nil, "the event stream stayed open: \(String(describing: recorder.error))")
            } cleanup: {
                if daemon.daemonPID() == nil { try? daemon.startDaemon() }
                agent.stop()
                await forceRemove(name, daemon)
            }
        }
    }

    /// SIGTERM just after a start was accepted: the agent stops cleanly; the start either
    /// finished or is queued again (starting is safe to repeat) and finishes at the next start;
    /// the guest ends up running once.
    @Test func sigtermDuringAGuestStart() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let name = "term-\(UUID().uuidString.prefix(6).lowercased())"
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path, config: agentConfig(daemon))
            try await withCleanup {
                let start = try await agent.client { client in
                    try await succeed(client) { try await $0.guests.define(defineRequest(try guests.spec(name).message())) }
                    return try await client.guests.start(action(name))
                }
                #expect(agent.stop() == 0, "log:\n\(agent.log.suffix(2000))")
                try agent.start()
                try await agent.ready()
                let ended = try await agent.client { try await $0.wait(for: start) }
                #expect(ended.state == .succeeded, "\(ended)")
                try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")
                let state = try await daemonState(daemon, name)
                #expect(state == .running)
                let processes = try run("/usr/bin/pgrep", ["-f", "guest=\(name)"]).split(separator: "\n")
                #expect(processes.count == 1, "one QEMU for the guest: \(processes)")
            } cleanup: {
                agent.stop()
                await forceRemove(name, daemon)
            }
        }
    }

    /// The state directory (a private tmpfs) fills while real guests start and stop through
    /// libvirt directly: the agent's event monitor stays alive (it died for good before, on a
    /// failed write of inventory.json), holds the events back, and stores them with their
    /// original times once space returns; health says NOT_SERVING meanwhile.
    @Test(.enabled(if: PrivateTmpfs.isAvailable, "needs root with unshare and nsenter"))
    func guestEventsDuringAFullDiskAreKeptAndStored() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let name = "full-\(UUID().uuidString.prefix(6).lowercased())"
        let connection = try await Connection.open(daemon.uri)
        defer { connection.close() }
        try await withTemporaryDirectory { dir in
            let tmpfs = try await PrivateTmpfs(at: dir.path + "/state", bytes: 4 << 20)
            defer { tmpfs.remove() }
            let agent = try await AgentProcess(directory: dir.path, config: agentConfig(daemon), launcher: tmpfs.launcher)
            let recorder = AgentEventRecorder(agent.endpoint, after: nil)
            defer { recorder.stop() }
            try await withCleanup {
                _ = try await agent.client { client in
                    try await succeed(client) { try await $0.guests.define(defineRequest(try guests.spec(name).message())) }
                }
                try tmpfs.fill()
                let filledAt = Date()
                // Changes made behind the agent's back, through libvirt, while its disk is full.
                let domain = try await connection.domain(named: name)
                try await domain.start()
                try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")
                try await domain.suspend()
                try await agent.client { client in
                    try await waitUntil("health to say NOT_SERVING", timeout: .seconds(30)) {
                        try await client.node.getHealth(Nodeagent_V1_GetHealthRequest()).status == .notServing
                    }
                }
                try await waitUntil("the agent to hold events back", timeout: .seconds(30)) { agent.log.contains("cannot store events") }
                #expect(!agent.log.contains("event monitor failed"))
                tmpfs.free()
                try await waitUntil("the events held back to arrive", timeout: .seconds(30)) {
                    recorder.guestEvents(name).contains("started") && recorder.guestEvents(name).contains("suspended")
                }
                let started = recorder.all.first { event in
                    if case .guest(let guest) = event.payload { return guest.guest.name == name && guest.event == "started" }
                    return false
                }
                let time = try #require(started?.time.date)
                #expect(time >= filledAt.addingTimeInterval(-1) && time < Date().addingTimeInterval(-0.5), "kept its original time \(time)")
                // And the pipeline lives on.
                try await domain.resume()
                try await waitUntil("a live event after the recovery", timeout: .seconds(30)) {
                    recorder.guestEvents(name).last == "resumed"
                }
                let health = try await agent.client { try await $0.node.getHealth(Nodeagent_V1_GetHealthRequest()) }
                #expect(health.status == .serving)
            } cleanup: {
                agent.stop()
                await forceRemove(name, daemon)
            }
        }
    }

    /// The kinds that set a guest's power state, and the state they leave it in.
    static let powerKinds: [String: DomainState.Kind] = [
        "guest.start": .running, "guest.resume": .running, "guest.suspend": .paused, "guest.destroy": .shutoff,
        "guest.shutdown": .shutoff,
    ]

    static func running(_ connection: Connection, _ names: [String]) async -> [String] {
        let domains = (try? await connection.listDomains()) ?? []
        return domains.filter { names.contains($0.name) && $0.state.kind.isActive }.map(\.name).sorted()
    }

    /// One random operation of the mix; at most two guests running at once (TCG is slow).
    static func nextRequest(_ random: inout SeededRandom, names: [String], volumes: [String], running: [String]) -> SentRequest {
        let guest = names[Int(random.next() % UInt64(names.count))]
        let volume = volumes[Int(random.next() % UInt64(volumes.count))]
        switch random.next() % 13 {
        case 12: return .shutdown(guest)
        case 0, 1: return .define(guest)
        case 2: return running.count < 2 || running.contains(guest) ? .start(guest) : .protect(guest, random.next() % 2 == 0)
        case 3: return .suspend(guest)
        case 4: return .resume(guest)
        case 5: return .protect(guest, random.next() % 2 == 0)
        case 6: return .destroy(guest)
        case 7: return .undefine(guest)
        case 8: return .createVolume(volume)
        case 9: return .cloneVolume(volume, volumes[Int(random.next() % UInt64(volumes.count))])
        case 10: return .resizeVolume(volume, 2 + Int(random.next() % 4))
        default: return .deleteVolume(volume)
        }
    }
}

/// An operation of the mix with its request id, kept so it can be sent again unchanged.
struct SentRequest: CustomStringConvertible {
    enum Operation {
        case define(String), start(String), suspend(String), resume(String), protect(String, Bool), destroy(String), undefine(String)
        case shutdown(String)
        case createVolume(String), cloneVolume(String, String), resizeVolume(String, Int), deleteVolume(String)
    }

    let operation: Operation
    let id = requestID("fault")

    static func define(_ g: String) -> Self { Self(operation: .define(g)) }
    static func start(_ g: String) -> Self { Self(operation: .start(g)) }
    static func suspend(_ g: String) -> Self { Self(operation: .suspend(g)) }
    static func resume(_ g: String) -> Self { Self(operation: .resume(g)) }
    static func protect(_ g: String, _ on: Bool) -> Self { Self(operation: .protect(g, on)) }
    static func destroy(_ g: String) -> Self { Self(operation: .destroy(g)) }
    static func undefine(_ g: String) -> Self { Self(operation: .undefine(g)) }
    static func shutdown(_ g: String) -> Self { Self(operation: .shutdown(g)) }
    static func createVolume(_ v: String) -> Self { Self(operation: .createVolume(v)) }
    static func cloneVolume(_ s: String, _ t: String) -> Self { Self(operation: .cloneVolume(s, t)) }
    static func resizeVolume(_ v: String, _ mib: Int) -> Self { Self(operation: .resizeVolume(v, mib)) }
    static func deleteVolume(_ v: String) -> Self { Self(operation: .deleteVolume(v)) }

    /// What the task acts on: a guest name or images/VOLUME.
    var subject: String {
        switch operation {
        case .define(let g), .start(let g), .suspend(let g), .resume(let g), .protect(let g, _), .destroy(let g), .undefine(let g),
            .shutdown(let g):
            g
        case .createVolume(let v), .resizeVolume(let v, _), .deleteVolume(let v): "images/\(v)"
        case .cloneVolume(_, let target): "images/\(target)"
        }
    }

    var description: String { "\(operation) (\(id))" }

    /// One UUID per guest name, so that a define sent again has the same content.
    private static let uuids = GuestUUIDs()

    /// Sends it; a second send carries the same request id and content.
    func send(_ client: AgentClient) async throws -> Nodeagent_V1_Task {
        switch operation {
        case .define(let name):
            var spec = try RealGuests(try PrivateLibvirtd.shared()).spec(name).message()
            spec.uuid = Self.uuids.uuid(for: name)
            return try await client.guests.define(defineRequest(spec, id: id))
        case .start(let name): return try await client.guests.start(action(name, id: id))
        case .suspend(let name): return try await client.guests.suspend(action(name, id: id))
        case .resume(let name): return try await client.guests.resume(action(name, id: id))
        case .destroy(let name): return try await client.guests.destroy(action(name, id: id, force: true))
        case .shutdown(let name):
            var request = Nodeagent_V1_ShutdownGuestRequest()
            request.requestID = id
            request.guest = name
            request.graceSeconds = 30
            request.force = true
            return try await client.guests.shutdown(request)
        case .protect(let name, let on):
            var request = Nodeagent_V1_SetProtectionRequest()
            request.requestID = id
            request.guest = name
            request.protected = on
            return try await client.guests.setProtection(request)
        case .undefine(let name):
            var request = Nodeagent_V1_UndefineGuestRequest()
            request.requestID = id
            request.guest = name
            request.force = true
            return try await client.guests.undefine(request)
        case .createVolume(let name):
            var request = Nodeagent_V1_CreateVolumeRequest()
            request.requestID = id
            request.pool = "images"
            request.name = name
            request.capacity = "1M"
            request.format = "qcow2"
            return try await client.volumes.create(request)
        case .cloneVolume(let source, let target):
            var request = Nodeagent_V1_CloneVolumeRequest()
            request.requestID = id
            request.pool = "images"
            request.source = source
            request.name = target
            return try await client.volumes.clone(request)
        case .resizeVolume(let name, let mib):
            var request = Nodeagent_V1_ResizeVolumeRequest()
            request.requestID = id
            request.pool = "images"
            request.name = name
            request.capacity = "\(mib)M"
            return try await client.volumes.resize(request)
        case .deleteVolume(let name):
            var request = Nodeagent_V1_DeleteVolumeRequest()
            request.requestID = id
            request.pool = "images"
            request.name = name
            request.force = true
            return try await client.volumes.delete(request)
        }
    }
}

final class GuestUUIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var uuids: [String: String] = [:]
    func uuid(for name: String) -> String {
        lock.withLock {
            if let uuid = uuids[name] { return uuid }
            let uuid = UUID().uuidString.lowercased()
            uuids[name] = uuid
            return uuid
        }
    }
}

func daemonState(_ daemon: PrivateLibvirtd, _ name: String) async throws -> DomainState.Kind {
    let connection = try await Connection.open(daemon.uri)
    defer { connection.close() }
    return try await connection.domain(named: name).state().kind
}
