import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import TestSupport
import Testing

/// The state directory on a real tmpfs of 4 MiB, filled until the kernel says ENOSPC and freed
/// again, while the agent (on libvirt's test driver) works (issue 11, items 3-6; RELIABILITY.md,
/// "A full state directory").
@Suite(
    "faults: a full state directory", .serialized,
    .enabled(if: PrivateTmpfs.isAvailable, "needs root with unshare and nsenter to mount a private tmpfs"))
struct FullDiskTests {
    static let cpuProfile = "name = \"fill\"\ndescription = \"a cpu probe long enough to fill the disk under it\"\n\n[cpu]\nduration = 6\n"

    @Test func aFullStateDirectoryIsReportedRefusedAndRecoveredFromWithoutLosingAnything() async throws {
        try await withTemporaryDirectory("full") { dir in
            let tmpfs = try await PrivateTmpfs(at: dir.path + "/state", bytes: 4 << 20)
            defer { tmpfs.remove() }
            let agent = try await AgentProcess(directory: dir.path, launcher: tmpfs.launcher)
            defer { agent.stop() }
            let recorder = AgentEventRecorder(agent.endpoint)
            defer { recorder.stop() }

            let (burnIn, eventsBefore) = try await agent.client { client in
                try await succeed(client) { try await $0.guests.define(defineRequest(testSpec("before-fill"))) }
                var request = Nodeagent_V1_StartBurnInRequest()
                request.requestID = requestID("burnin-fill")
                request.profileToml = Self.cpuProfile
                let task = try await client.burnin.start(request)
                try await waitUntil("the burn-in runs", timeout: .seconds(60)) {
                    try await client.tasks.get(getTask(task.id)).state == .running
                }
                return (task, recorder.all.count)
            }
            #expect(eventsBefore > 0)

            // The disk fills under a running task.
            let filled = try tmpfs.fill()
            #expect(filled > 0 && tmpfs.available < 64 << 10, "free after filling: \(tmpfs.available)")
            try await agent.client { client in
                try await waitUntil("health to say NOT_SERVING", timeout: .seconds(30)) {
                    try await client.node.getHealth(Nodeagent_V1_GetHealthRequest()).status == .notServing
                }
                let health = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                let check = health.checks.first { $0.name == "state-store" }
                #expect(check?.ok == false && check?.message.contains("disk is full") == true, "\(health.checks)")
                // Every change is refused, naming why; reads still answer.
                let refused = await rpcError { try await client.guests.define(defineRequest(testSpec("during-fill"))) }
                #expect(refused?.code == .unavailable && refused?.message.contains("disk is full") == true, "\(String(describing: refused))")
                #expect(try await client.guests.list(Nodeagent_V1_ListGuestsRequest()).guests.contains { $0.name == "before-fill" })
            }
            // The burn-in ends while nothing can be written: its outcome waits in memory.
            try await waitUntil("the agent to log the outcome it cannot store", timeout: .seconds(120)) {
                agent.log.contains("could not record the outcome of a task")
            }

            // Space returns: everything held back is stored, in order, and the agent serves again.
            tmpfs.free()
            try await agent.client { client in
                try await waitUntil("health to say SERVING again", timeout: .seconds(30)) {
                    try await client.node.getHealth(Nodeagent_V1_GetHealthRequest()).status == .serving
                }
                let ended = try await client.wait(for: try await client.tasks.get(getTask(burnIn.id)))
                #expect(ended.state == .failed || ended.state == .succeeded, "\(ended)")
                if ended.state == .failed {
                    // Its report could not be written to the full disk, and the task says so.
                    #expect(ended.error.message.contains("No space left on device"), "\(ended.error)")
                }
                // The event pipeline lives: a guest started now is seen on the stream.
                try await succeed(client) { try await $0.guests.define(defineRequest(testSpec("after-fill"))) }
                try await succeed(client) { try await $0.guests.start(action("after-fill")) }
            }
            try await waitUntil("the stream to show the events held back and the new ones", timeout: .seconds(30)) {
                recorder.taskStates(burnIn.id).last.map { $0 == .failed || $0 == .succeeded } == true
                    && recorder.guestEvents("after-fill").contains("started")
            }
            let sequences = recorder.all.map(\.sequence).filter { $0 > 0 }
            #expect(sequences == sequences.sorted() && Set(sequences).count == sequences.count, "in order, none twice")
            #expect(recorder.taskStates(burnIn.id).filter { $0 == .running }.count == 1)
            #expect(recorder.error == nil, "the watcher's stream stayed open: \(String(describing: recorder.error))")

            // A restart while the disk is full: the agent starts; changes go through while they
            // fit in the space SQLite already holds (its write-ahead log), then are refused with
            // the reason while health says NOT_SERVING; it serves as soon as space returns.
            try tmpfs.fill()
            #expect(agent.stop() == 0, "SIGTERM with a full disk still exits 0; log:\n\(agent.log.suffix(2000))")
            try agent.start()
            try await agent.ready()
            try await agent.client { client in
                var refusal: RPCError?
                for index in 0..<500 where refusal == nil {
                    do {
                        _ = try await client.guests.define(defineRequest(testSpec("full-\(index)")))
                    } catch let error as RPCError {
                        refusal = error
                    }
                }
                #expect(refusal?.code == .unavailable && refusal?.message.contains("disk is full") == true, "\(String(describing: refusal))")
                try await waitUntil("health to say NOT_SERVING after the restart", timeout: .seconds(30)) {
                    try await client.node.getHealth(Nodeagent_V1_GetHealthRequest()).status == .notServing
                }
                tmpfs.free()
                try await waitUntil("health to say SERVING", timeout: .seconds(30)) {
                    try await client.node.getHealth(Nodeagent_V1_GetHealthRequest()).status == .serving
                }
                try await succeed(client) { try await $0.guests.define(defineRequest(testSpec("after-restart"))) }
                var list = Nodeagent_V1_ListTasksRequest()
                list.states = [.queued, .running]
                #expect(try await client.tasks.list(list).tasks.isEmpty, "no task left unfinished")
            }
            #expect(!agent.log.contains("NSCocoaErrorDomain"))
        }
    }
}

