import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import TestSupport
import Testing

/// `nodeagent serve` on its embedded default (libvirt's test driver), driven over its unix
/// socket by the Swift client, as a controller or an admin would.
@Suite("nodeagent serve over gRPC (test driver)", .serialized)
struct DaemonAPITests {
    @Test func aControllerDrivesAFullGuestLifecycle() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                let info = try await client.node.getInfo(Nodeagent_V1_GetNodeInfoRequest())
                #expect(info.hypervisorType == "TEST")
                #expect(info.libvirtUri == "test:///default")
                #expect(!info.hostname.isEmpty && info.logicalCpus > 0 && info.memoryBytes > 0)
                #expect(info.capabilities.contains("tasks"))
                let health = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                #expect(health.status == .serving, "\(health.checks)")

                let defined = try await succeed(client) { try await $0.guests.define(defineRequest(testSpec("web-1"))) }
                guard case .guest(let guest) = defined.result.value else {
                    Issue.record("define returned no guest: \(defined.result)")
                    return
                }
                #expect(guest.name == "web-1" && guest.managed && guest.state == .shutOff)
                #expect(guest.labels["suite"] == "daemon")
                #expect(defined.target == guest.uuid && defined.attempts == 1 && defined.progress == 1)

                let started = try await succeed(client) { try await $0.guests.start(action("web-1")) }
                #expect(started.result.guest.state == .running)
                #expect(try await succeed(client) { try await $0.guests.suspend(action(guest.uuid)) }.result.guest.state == .paused)
                #expect(try await succeed(client) { try await $0.guests.resume(action("web-1")) }.result.guest.state == .running)

                var protect = Nodeagent_V1_SetProtectionRequest()
                protect.requestID = requestID()
                protect.guest = "web-1"
                protect.protected = true
                let protected = try await succeed(client) { [protect] in try await $0.guests.setProtection(protect) }
                #expect(protected.result.guest.protected)
                // Protected: destroy refused before any task exists.
                let refused = await rpcError { try await client.guests.destroy(action("web-1")) }
                #expect(refused?.code == .failedPrecondition)
                #expect(refused?.message.contains("protected") == true)

                var shutdown = Nodeagent_V1_ShutdownGuestRequest()
                shutdown.requestID = requestID()
                shutdown.guest = "web-1"
                shutdown.graceSeconds = 30
                let stopped = try await succeed(client) { [shutdown] in try await $0.guests.shutdown(shutdown) }
                #expect(stopped.result.guest.state == .shutOff)

                var limits = Nodeagent_V1_SetGuestLimitsRequest()
                limits.requestID = requestID()
                limits.guest = "web-1"
                limits.tunables.memory.hardLimit = "256MiB"
                limits.tunables.blkio.weight = 500
                let limited = try await succeed(client) { [limits] in try await $0.guests.setLimits(limits) }
                #expect(limited.result.summary.contains("hard_limit"), "\(limited.result.summary)")

                let listed = try await client.guests.list(Nodeagent_V1_ListGuestsRequest())
                #expect(listed.guests.contains { $0.name == "web-1" && $0.protected })
                // The test driver's own domain "test" is foreign: listed, never touched.
                #expect(listed.guests.contains { $0.name == "test" && !$0.managed })
                let foreign = await rpcError { try await client.guests.destroy(action("test")) }
                #expect(foreign?.code == .failedPrecondition)

                var undefine = Nodeagent_V1_UndefineGuestRequest()
                undefine.requestID = requestID()
                undefine.guest = "web-1"
                let error72 = await rpcError { [undefine] in try await client.guests.undefine(undefine) }
                #expect(error72?.code == .failedPrecondition)
                undefine.force = true
                let removed = try await succeed(client) { [undefine] in try await $0.guests.undefine(undefine) }
                #expect(removed.result.undefine.guest == "web-1")
                var get = Nodeagent_V1_GetGuestRequest()
                get.guest = "web-1"
                let error78 = await rpcError { [get] in try await client.guests.get(get) }
                #expect(error78?.code == .notFound)

                // Every step is a task, listed newest first.
                var list = Nodeagent_V1_ListTasksRequest()
                list.kinds = ["guest."]
                let tasks = try await client.tasks.list(list).tasks
                #expect(tasks.count >= 8)
                #expect(tasks.first?.kind == "guest.undefine")
                #expect(tasks.allSatisfy { $0.state == .succeeded })
            }
            #expect(agent.stop() == 0, "exit status after SIGTERM; log:\n\(agent.log.suffix(3000))")
            #expect(!FileManager.default.fileExists(atPath: agent.socketPath), "the socket is removed on exit")
        }
    }

    @Test func aRepeatedRequestIDReturnsTheFirstTaskAndActsOnce() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            let id = requestID("define-once")
            let request = defineRequest(testSpec("once"), id: id)
            let (first, second, concurrent) = try await agent.client { client in
                let first = try await client.wait(for: try await client.guests.define(request))
                let second = try await client.guests.define(request)
                // Twenty concurrent repeats of a new request: one task, one start.
                let startID = requestID("start-once")
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<20 { group.addTask { try await client.guests.start(action("once", id: startID)).id } }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                return (first, second, ids)
            }
            #expect(first.state == .succeeded)
            #expect(second.id == first.id && second.state == .succeeded && second.result == first.result)
            #expect(concurrent.count == 1)
            try await agent.client { client in
                let guests = try await client.guests.list(Nodeagent_V1_ListGuestsRequest()).guests.filter { $0.name == "once" }
                #expect(guests.count == 1)
                var list = Nodeagent_V1_ListTasksRequest()
                list.kinds = ["guest.define"]
                #expect(try await client.tasks.list(list).tasks.count == 1, "one define task for two calls")
                // The same id for a different call is refused.
                var other = request
                other.spec.vcpus = 2
                let reused = await rpcError { [other] in try await client.guests.define(other) }
                #expect(reused?.code == .alreadyExists)
                #expect(reused?.message.contains(id) == true)
            }
            // Across a restart: the test driver forgets its guests, the agent remembers its tasks.
            agent.stop()
            try agent.start()
            try await agent.ready()
            try await agent.client { client in
                let repeated = try await client.guests.define(request)
                #expect(repeated.id == first.id && repeated.state == .succeeded)
                var get = Nodeagent_V1_GetTaskRequest()
                get.id = id
                #expect(try await client.tasks.get(get).id == first.id, "a task is found by its request id too")
            }
        }
    }

    @Test func badInputGetsAClearStatusAndTheAgentKeepsServing() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                // Hostile names and values: INVALID_ARGUMENT naming the field.
                for (name, field) in [("../../etc", "name"), ("<x/>", "name"), ("a\u{7}b", "name"), (String(repeating: "x", count: 300), "name")] {
                    let error = await rpcError { try await client.guests.define(defineRequest(testSpec(name))) }
                    #expect(error?.code == .invalidArgument, "\(name): \(String(describing: error))")
                    #expect(error?.message.contains("spec") == true && error?.message.contains(field) == true, "\(String(describing: error))")
                }
                let huge = await rpcError { try await client.guests.define(defineRequest(testSpec("big", memory: "999999999T"))) }
                #expect(huge?.code == .invalidArgument && huge?.message.contains("memory") == true, "\(String(describing: huge))")
                var noID = defineRequest(testSpec("x"))
                noID.requestID = ""
                let error153 = await rpcError { [noID] in try await client.guests.define(noID) }
                #expect(error153?.message.contains("request_id") == true)
                noID.requestID = "bad id with spaces"
                let error155 = await rpcError { [noID] in try await client.guests.define(noID) }
                #expect(error155?.code == .invalidArgument)
                #expect(await rpcError { try await client.guests.start(action("")) }?.code == .invalidArgument)
                #expect(await rpcError { try await client.guests.start(action("no-such-guest")) }?.code == .notFound)
                // Unknown enum values.
                var list = Nodeagent_V1_ListTasksRequest()
                list.states = [.UNRECOGNIZED(42)]
                let unknown = await rpcError { [list] in try await client.tasks.list(list) }
                #expect(unknown?.code == .invalidArgument && unknown?.message.contains("states[0]") == true)
                // An absurd size: a 6 MiB request is refused before it is decoded, and the agent
                // carries on.
                var big = testSpec("big")
                big.labels = ["blob": String(repeating: "x", count: 6 << 20)]
                let tooBig = await rpcError { try await client.guests.define(defineRequest(big)) }
                #expect(tooBig?.code == .resourceExhausted && tooBig?.message.contains("limit") == true, "\(String(describing: tooBig))")
                var cancel = Nodeagent_V1_CancelTaskRequest()
                cancel.id = "no-such-task"
                let error170 = await rpcError { [cancel] in try await client.tasks.cancel(cancel) }
                #expect(error170?.code == .notFound)
            }
            // Malformed protobuf on the wire.
            let malformed = try await AgentClient.rawUnary(
                agent.endpoint, method: MethodDescriptor(fullyQualifiedService: "nodeagent.v1.Guests", method: "Define"),
                bytes: [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])
            #expect(malformed?.code == .invalidArgument, "\(String(describing: malformed))")
            #expect(malformed?.message.contains("nodeagent.v1.DefineGuestRequest") == true, "\(String(describing: malformed))")
            try await agent.client { client in
                let health = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                #expect(health.status == .serving)
            }
            #expect(agent.pid != nil, "the agent is still running")
        }
    }

    @Test func eventsResumeFromASequenceNumberWithoutLosingAny() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                // A fresh watch starts with a state report stamped with the current sequence.
                let first = try await client.events.watch(Nodeagent_V1_WatchEventsRequest()) { response in
                    for try await event in response.messages { return event }
                    return Nodeagent_V1_Event()
                }
                guard case .stateReport(let report) = first.payload else {
                    Issue.record("first event is not a state report: \(first)")
                    return
                }
                #expect(report.libvirtConnected)
                let mark = first.sequence
                try await succeed(client) { try await $0.guests.define(defineRequest(testSpec("evt"))) }
                try await succeed(client) { try await $0.guests.start(action("evt")) }
                // Reconnect "later" from the mark: everything since is replayed, in order.
                var resume = Nodeagent_V1_WatchEventsRequest()
                resume.afterSequence = mark
                let replayed = try await client.events.watch(resume) { response in
                    var events: [Nodeagent_V1_Event] = []
                    for try await event in response.messages {
                        events.append(event)
                        if case .guest(let g) = event.payload, g.guest.name == "evt", g.event == "started" { break }
                    }
                    return events
                }
                let sequences = replayed.map(\.sequence)
                #expect(sequences == sequences.sorted() && Set(sequences).count == sequences.count && (sequences.first ?? 0) > mark)
                let taskStates = replayed.compactMap { event -> String? in
                    guard case .task(let t) = event.payload else { return nil }
                    return "\(t.kind):\(t.state.rawValue)"
                }
                #expect(taskStates.contains("guest.define:\(Nodeagent_V1_TaskState.queued.rawValue)"))
                #expect(taskStates.contains("guest.define:\(Nodeagent_V1_TaskState.succeeded.rawValue)"))
                #expect(taskStates.contains("guest.start:\(Nodeagent_V1_TaskState.running.rawValue)"))
                #expect(replayed.contains { if case .guest(let g) = $0.payload { g.guest.name == "evt" && g.event == "defined" } else { false } })
            }
        }
    }

    @Test func aBadConfigurationRefusesToStartNamingFileKeyAndReason() async throws {
        try await withTemporaryDirectory { dir in
            let file = try dir.write("bad.toml", "[tasks]\nguest_concurrency = 0\n")
            let result = try execute(AgentProcess.binary, ["serve", "--config", file, "--state-dir", dir.file("state")])
            #expect(result.status == 65, "\(result)")
            #expect(result.stderr.contains(file) && result.stderr.contains("tasks.guest_concurrency") && result.stderr.contains("between 1"))
            #expect(!FileManager.default.fileExists(atPath: dir.file("state")), "nothing is created before the configuration is accepted")
        }
    }

    @Test func sigtermEndsOpenStreamsAndExitsCleanly() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            let watcher = Task {
                try await agent.client { client in
                    try await client.events.watch(Nodeagent_V1_WatchEventsRequest()) { response in
                        var count = 0
                        for try await _ in response.messages { count += 1 }
                        return count
                    }
                }
            }
            try await waitUntil("the watcher is connected") { agent.log.contains("Events/Watch") || agent.log.contains("ready") }
            let status = agent.stop()
            #expect(status == 0, "log:\n\(agent.log.suffix(3000))")
            _ = await watcher.result
            #expect(agent.log.contains("stopping"))
        }
    }
}
