import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import TestSupport
import Testing

@Suite("nodeagent serve: volumes and cgroups over gRPC", .serialized)
struct DaemonStorageAndCGroupTests {
    @Test func volumesAreCreatedResizedClonedAndDeletedAsTasks() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                let pools = try await client.volumes.listPools(Nodeagent_V1_ListPoolsRequest()).pools
                #expect(pools.contains { $0.name == "default-pool" && $0.state == "running" }, "\(pools)")
                var create = Nodeagent_V1_CreateVolumeRequest()
                create.requestID = requestID("vol")
                create.pool = "default-pool"
                create.name = "disk-1.qcow2"
                create.capacity = "64MiB"
                let created = try await succeed(client) { [create] in try await $0.volumes.create(create) }
                #expect(created.result.volume.capacityBytes == 64 << 20 && created.target == "default-pool/disk-1.qcow2")
                // The same request again: the same task, no second volume.
                let again = try await client.volumes.create(create)
                #expect(again.id == created.id)

                var clone = Nodeagent_V1_CloneVolumeRequest()
                clone.requestID = requestID("clone")
                clone.pool = "default-pool"
                clone.source = "disk-1.qcow2"
                clone.name = "disk-2.qcow2"
                try await succeed(client) { [clone] in try await $0.volumes.clone(clone) }
                var list = Nodeagent_V1_ListVolumesRequest()
                list.pool = "default-pool"
                let names = try await client.volumes.list(list).volumes.map(\.name)
                #expect(Set(names).isSuperset(of: ["disk-1.qcow2", "disk-2.qcow2"]), "\(names)")

                // Resize is unsupported by the test driver: the task fails with libvirt's reason.
                var resize = Nodeagent_V1_ResizeVolumeRequest()
                resize.requestID = requestID("resize")
                resize.pool = "default-pool"
                resize.name = "disk-1.qcow2"
                resize.capacity = "128MiB"
                let resized = try await client.wait(for: try await client.volumes.resize(resize))
                #expect(resized.state == .failed && !resized.error.message.isEmpty, "\(resized)")

                for name in ["disk-1.qcow2", "disk-2.qcow2"] {
                    var delete = Nodeagent_V1_DeleteVolumeRequest()
                    delete.requestID = requestID("delete")
                    delete.pool = "default-pool"
                    delete.name = name
                    try await succeed(client) { [delete] in try await $0.volumes.delete(delete) }
                }
                // Refused before a task exists: bad sizes and names.
                create.requestID = requestID("bad")
                create.capacity = "lots"
                let badSize = await rpcError { [create] in try await client.volumes.create(create) }
                #expect(badSize?.code == .invalidArgument && badSize?.message.contains("capacity") == true, "\(String(describing: badSize))")
                create.capacity = "1G"
                create.name = "../escape"
                let error60 = await rpcError { [create] in try await client.volumes.create(create) }
                #expect(error60?.code == .invalidArgument)
                var missing = Nodeagent_V1_ListVolumesRequest()
                missing.pool = "no-such-pool"
                let error63 = await rpcError { [missing] in try await client.volumes.list(missing) }
                #expect(error63?.code == .notFound)
            }
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.controllers"), "needs the host's unified hierarchy"))
    func cgroupsAreReadAndLimitsValidatedThroughTheAPI() async throws {
        // A group of the test's own, with a child, to list (removed at the end, also on failure).
        let name = "nodeagent-test-\(UUID().uuidString.prefix(8).lowercased())"
        let top = "/sys/fs/cgroup/unified/\(name)"
        try FileManager.default.createDirectory(atPath: top + "/child", withIntermediateDirectories: true)
        defer {
            rmdir(top + "/child")
            rmdir(top)
        }
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path, config: "[cgroups]\nroot = \"/sys/fs/cgroup/unified\"\n")
            try await agent.client { client in
                let root = try await client.cgroups.get(Nodeagent_V1_GetCGroupRequest())
                #expect(root.path == "/" && root.cpuUsageUsec > 0, "\(root)")
                #expect(root.pressure.contains { $0.resource == "cpu" })
                var list = Nodeagent_V1_ListCGroupsRequest()
                list.depth = 1
                let groups = try await client.cgroups.list(list).groups
                #expect(groups.contains { $0.path == name } && groups.allSatisfy { !$0.path.contains("/") }, "\(groups.map(\.path))")
                list.path = name
                list.depth = 2
                let below = try await client.cgroups.list(list).groups
                #expect(below.map(\.path) == ["\(name)/child"] && below[0].processes == 0 && !below[0].populated)
                var own = Nodeagent_V1_GetCGroupRequest()
                own.path = name
                let stats = try await client.cgroups.get(own)
                #expect(stats.path == name && !stats.populated)
                var get = Nodeagent_V1_GetCGroupRequest()
                get.path = "no-such-group/x"
                let error82 = await rpcError { [get] in try await client.cgroups.get(get) }
                #expect(error82?.code == .notFound)
                get.path = "../../etc"
                let error84 = await rpcError { [get] in try await client.cgroups.get(get) }
                #expect(error84?.code == .invalidArgument)
                var set = Nodeagent_V1_SetCGroupLimitsRequest()
                set.requestID = requestID("cg")
                set.path = "/"
                set.settings = ["memory.max=lots"]
                let bad = await rpcError { [set] in try await client.cgroups.setLimits(set) }
                #expect(bad?.code == .invalidArgument && bad?.message.contains("memory.max") == true, "\(String(describing: bad))")
                set.settings = ["nonsense"]
                let error92 = await rpcError { [set] in try await client.cgroups.setLimits(set) }
                #expect(error92?.message.contains("settings[0]") == true)
            }
        }
    }
}
