import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import TestSupport
import Testing

/// A task that fails carries the status code docs/API.md documents for its reason (issue 11,
/// item 8): a taken volume name is ALREADY_EXISTS (libvirt's test driver says "operation
/// failed", and a clone "failure without an error"), a cgroup file the group lacks NOT_FOUND,
/// an operation the hypervisor does not support UNIMPLEMENTED; none is INTERNAL.
@Suite("failed tasks carry the documented codes (test driver)", .serialized)
struct TaskErrorCodeTests {
    @Test func failedTasksCarryTheirDocumentedCodes() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                let pool = try #require(try await client.volumes.listPools(Nodeagent_V1_ListPoolsRequest()).pools.first?.name)
                func create(_ name: String) async throws -> Nodeagent_V1_Task {
                    var request = Nodeagent_V1_CreateVolumeRequest()
                    request.requestID = requestID()
                    request.pool = pool
                    request.name = name
                    request.capacity = "1M"
                    return try await client.wait(for: try await client.volumes.create(request))
                }
                #expect(try await create("taken.img").state == .succeeded)
                let again = try await create("taken.img")
                #expect(again.state == .failed && again.error.reason == "already-exists", "\(again.error)")
                #expect(again.error.code == UInt32(RPCError.Code.alreadyExists.rawValue), "\(again.error)")

                var clone = Nodeagent_V1_CloneVolumeRequest()
                clone.requestID = requestID()
                clone.pool = pool
                clone.source = "taken.img"
                clone.name = "taken.img"
                let cloned = try await client.wait(for: try await client.volumes.clone(clone))
                #expect(cloned.error.reason == "already-exists" && cloned.error.code == UInt32(RPCError.Code.alreadyExists.rawValue), "\(cloned.error)")
                #expect(!cloned.error.message.contains("without an error"))

                // The test driver cannot resize a volume: UNIMPLEMENTED, reason "unsupported".
                var resize = Nodeagent_V1_ResizeVolumeRequest()
                resize.requestID = requestID()
                resize.pool = pool
                resize.name = "taken.img"
                resize.capacity = "2M"
                let resized = try await client.wait(for: try await client.volumes.resize(resize))
                #expect(resized.error.reason == "unsupported" && resized.error.code == UInt32(RPCError.Code.unimplemented.rawValue), "\(resized.error)")

                // Nor set a guest's CPU quota in its configuration (unsupported flags).
                try await succeed(client) { try await $0.guests.define(defineRequest(testSpec("codes"))) }
                var limits = Nodeagent_V1_SetGuestLimitsRequest()
                limits.requestID = requestID()
                limits.guest = "codes"
                limits.tunables.cpu.quota = 50_000
                let limited = try await client.wait(for: try await client.guests.setLimits(limits))
                #expect(limited.error.reason == "unsupported" && limited.error.code == UInt32(RPCError.Code.unimplemented.rawValue), "\(limited.error)")

                // The root cgroup never has memory.max: NOT_FOUND, and nothing is written.
                var set = Nodeagent_V1_SetCGroupLimitsRequest()
                set.requestID = requestID()
                set.path = "/"
                set.settings = ["memory.max=1G"]
                do {
                    let task = try await client.wait(for: try await client.cgroups.setLimits(set))
                    #expect(task.error.reason == "not-found" && task.error.code == UInt32(RPCError.Code.notFound.rawValue), "\(task.error)")
                    #expect(task.error.message.contains("memory.max"))
                } catch let error as RPCError where error.code == .unavailable {
                    // A host without a cgroup v2 hierarchy: the call itself says so.
                    #expect(error.message.contains("cgroup v2"))
                }

                var list = Nodeagent_V1_ListTasksRequest()
                list.states = [.failed]
                let failed = try await client.tasks.list(list).tasks
                #expect(failed.count >= 5)
                #expect(failed.allSatisfy { $0.error.code != UInt32(RPCError.Code.internalError.rawValue) }, "\(failed.map(\.error))")
            }
        }
    }
}
