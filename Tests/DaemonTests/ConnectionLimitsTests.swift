import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import TestSupport
import Testing

/// What a controller multiplexing many calls on one connection, or sending odd messages, meets:
/// the advertised stream limit, the request size limit, 64-bit fields, and bytes that do not
/// decode (issue 11, items 1, 2 and 9).
@Suite("connection limits and message decoding (test driver)", .serialized)
struct ConnectionLimitsTests {
    /// 1,000 calls at once on one HTTP/2 connection: the client queues what the advertised
    /// SETTINGS_MAX_CONCURRENT_STREAMS does not admit; before, the 101st stream made the agent
    /// tear the connection down (GOAWAY, PROTOCOL_ERROR) and every call failed.
    @Test func aThousandConcurrentCallsOnOneConnectionAllSucceed() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            let outcomes = try await agent.client { client in
                try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<1000 {
                        group.addTask {
                            do {
                                if index.isMultiple(of: 2) {
                                    _ = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                                } else {
                                    _ = try await client.guests.list(Nodeagent_V1_ListGuestsRequest())
                                }
                                return "OK"
                            } catch let error as RPCError {
                                return "\(error.code): \(error.message)"
                            }
                        }
                    }
                    return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
                }
            }
            #expect(outcomes == ["OK": 1000], "\(outcomes)")
            #expect(agent.pid != nil)
        }
    }

    /// A call's deadline (grpc-timeout) is enforced by the agent itself (`StreamGuard`, one
    /// event-loop timer per call instead of grpc-swift's sleeping task, which kept its memory for
    /// the whole deadline): an event stream asked with a 1 s deadline by a client that does not
    /// keep time itself ends DEADLINE_EXCEEDED with the agent's message; a malformed value is
    /// ignored, as grpc-swift ignored it, and the connection carries on.
    @Test func theAgentEndsACallWhoseDeadlinePasses() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                var metadata = Metadata()
                metadata.addString("1S", forKey: "grpc-timeout")
                let started = ContinuousClock.now
                let error = await rpcError {
                    try await client.events.watch(Nodeagent_V1_WatchEventsRequest(), metadata: metadata) { response in
                        for try await _ in response.messages {}
                    }
                }
                #expect(error?.code == .deadlineExceeded, "\(String(describing: error))")
                #expect(error?.message.contains("deadline (grpc-timeout 1S) passed") == true, "\(String(describing: error))")
                #expect(ContinuousClock.now - started < .seconds(30))

                // Malformed, and the largest values of every unit (99999999H would overflow a
                // count of nanoseconds: no deadline), are ignored; the smallest work.
                for value in ["soon", "1", "123456789S", "-1S", "99999999H", "99999999M", "99999999S", "99999999m", "99999999u"] {
                    var odd = Metadata()
                    odd.addString(value, forKey: "grpc-timeout")
                    _ = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest(), metadata: odd)
                }
                var passed = Metadata()
                passed.addString("1n", forKey: "grpc-timeout")
                let tiny = await rpcError { try await client.node.getHealth(Nodeagent_V1_GetHealthRequest(), metadata: passed) }
                #expect(tiny?.code == .deadlineExceeded, "\(String(describing: tiny))")
                _ = try await client.guests.list(Nodeagent_V1_ListGuestsRequest())
            }
        }
    }

    /// A request over 4 MiB is answered RESOURCE_EXHAUSTED naming the size and the limit (the
    /// transport alone reset the stream, which the client saw as CANCELLED), and the connection
    /// keeps serving.
    @Test func anOversizedRequestGetsResourceExhaustedAndTheConnectionCarriesOn() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                for size in [(4 << 20) + 1, 6 << 20, 40 << 20] {
                    var get = Nodeagent_V1_GetGuestRequest()
                    get.guest = String(repeating: "x", count: size)
                    let error = await rpcError { [get] in try await client.guests.get(get) }
                    #expect(error?.code == .resourceExhausted, "\(size): \(String(describing: error))")
                    #expect(error?.message.contains("limit of 4194304 bytes") == true, "\(String(describing: error))")
                }
                // Just under the limit is decoded and refused for what it says.
                var get = Nodeagent_V1_GetGuestRequest()
                get.guest = String(repeating: "x", count: (4 << 20) - 16)
                let error = await rpcError { [get] in try await client.guests.get(get) }
                #expect(error?.code == .invalidArgument && error?.message.contains("guest") == true, "\(String(describing: error))")
                let health = try await client.node.getHealth(Nodeagent_V1_GetHealthRequest())
                #expect(health.status == .serving)
            }
        }
    }

    /// Bytes that are not a valid message are refused with INVALID_ARGUMENT naming the field:
    /// invalid UTF-8 in a nested string, in a repeated one, a truncated field.
    @Test func undecodableRequestsNameTheField() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            func raw(_ service: String, _ method: String, _ bytes: [UInt8]) async throws -> RPCError? {
                try await AgentClient.rawUnary(
                    agent.endpoint, method: MethodDescriptor(fullyQualifiedService: "nodeagent.v1.\(service)", method: method), bytes: bytes)
            }
            var define = defineRequest(testSpec("abc"))
            define.spec.nics = [Nodeagent_V1_GuestSpec.NIC(), Nodeagent_V1_GuestSpec.NIC()]
            define.spec.nics[1].model = "qqq"
            let bytes: [UInt8] = try define.serializedBytes()
            let cases: [(String, String, [UInt8], String)] = [
                ("Guests", "Get", [0x0a, 0x02, 0xff, 0xfe], "guest: not valid UTF-8"),
                ("Guests", "Define", replacing(Array("abc".utf8), with: [0x61, 0xff, 0x63], in: bytes), "spec.name: not valid UTF-8"),
                ("Guests", "Define", replacing(Array("qqq".utf8), with: [0xc3, 0x28, 0x71], in: bytes), "spec.nics[1].model: not valid UTF-8"),
                ("CGroups", "SetLimits", [0x1a, 0x03, 0x61, 0x3d, 0x31, 0x1a, 0x02, 0xc0, 0xaf], "settings[1]: not valid UTF-8"),
                ("Guests", "Define", Array(bytes.dropLast()), "ends in the middle of a field"),
            ]
            for (service, method, payload, expected) in cases {
                let error = try await raw(service, method, payload)
                #expect(error?.code == .invalidArgument, "\(method) \(expected): \(String(describing: error))")
                #expect(error?.message.contains(expected) == true, "\(String(describing: error?.message)) lacks '\(expected)'")
            }
            #expect(agent.pid != nil)
        }
    }

    /// Every 64-bit tunable crosses the API: proto3 JSON wrote them as strings and the spec
    /// decoder refused "expected an integer". A define with all of them set, SetLimits with a
    /// CPU quota, and values beyond the field's range refused naming the field.
    @Test func sixtyFourBitTunablesAreAcceptedOverTheAPI() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            try await agent.client { client in
                var spec = testSpec("tuned")
                spec.tunables.cpu.shares = 1024
                spec.tunables.cpu.period = 100_000
                spec.tunables.cpu.quota = 17_592_186_044_415
                spec.tunables.cpu.emulatorPeriod = 200_000
                spec.tunables.cpu.emulatorQuota = -1
                var disk = Nodeagent_V1_GuestSpec.Disk()
                disk.source.type = "file"
                disk.source.path = "/var/lib/nodeagent/test/tuned.qcow2"
                disk.format = "qcow2"
                disk.iotune.readIopsSec = 3_000
                disk.iotune.writeIopsSec = 2_000
                spec.disks = [disk]
                let defined = try await succeed(client) { [spec] in try await $0.guests.define(defineRequest(spec)) }
                #expect(defined.state == .succeeded)
                var get = Nodeagent_V1_GetGuestRequest()
                get.guest = "tuned"
                #expect(try await client.guests.get(get).name == "tuned")

                var limits = Nodeagent_V1_SetGuestLimitsRequest()
                limits.requestID = requestID()
                limits.guest = "tuned"
                limits.tunables.cpu.quota = 50_000
                limits.tunables.cpu.period = 100_000
                let task = try await client.guests.setLimits(limits)
                #expect(task.kind == "guest.limits", "accepted as a task, not refused as INVALID_ARGUMENT")

                // Out of range: refused before any task, naming the field.
                for (field, change) in [
                    ("tunables.cpu.shares", { (t: inout Nodeagent_V1_Tunables) in t.cpu.shares = UInt64.max }),
                    ("tunables.cpu.quota", { (t: inout Nodeagent_V1_Tunables) in t.cpu.quota = Int64.min }),
                    ("tunables.cpu.period", { (t: inout Nodeagent_V1_Tunables) in t.cpu.period = 1 }),
                ] {
                    var bad = Nodeagent_V1_SetGuestLimitsRequest()
                    bad.requestID = requestID()
                    bad.guest = "tuned"
                    change(&bad.tunables)
                    let error = await rpcError { [bad] in try await client.guests.setLimits(bad) }
                    #expect(error?.code == .invalidArgument && error?.message.contains(field) == true, "\(field): \(String(describing: error))")
                }
                var huge = testSpec("huge-iops")
                var hugeDisk = disk
                hugeDisk.iotune.readIopsSec = UInt64.max
                huge.disks = [hugeDisk]
                let error = await rpcError { [huge] in try await client.guests.define(defineRequest(huge)) }
                #expect(
                    error?.code == .invalidArgument && error?.message.contains("disks[0].iotune.read_iops_sec") == true,
                    "\(String(describing: error))")
            }
        }
    }

    /// `config check` prints every key docs/CONFIGURATION.md documents, with its value (it
    /// printed 11).
    @Test func configCheckPrintsEveryDocumentedKey() async throws {
        let documented = try documentedConfigKeys()
        #expect(documented.count >= 30)
        #expect(AgentConfig().effectiveValues.map(\.key) == documented)
        let output = try run(AgentProcess.binary, ["config", "check", "--json"])
        let printed = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: String]
        #expect(Set(printed?.keys.map { $0 } ?? []) == Set(documented + ["source"]))
        #expect(printed?["api.max_concurrent_streams"] == "256")
    }
}

/// `section.key` for every row of the key tables in docs/CONFIGURATION.md, in order.
func documentedConfigKeys() throws -> [String] {
    let text = try String(contentsOf: Integration.repositoryRoot.appendingPathComponent("docs/CONFIGURATION.md"), encoding: .utf8)
    var section = ""
    var keys: [String] = []
    for line in text.split(separator: "\n") {
        if line.hasPrefix("## `["), let end = line.firstIndex(of: "]") {
            section = String(line[line.index(line.startIndex, offsetBy: 5)..<end])
        } else if line.hasPrefix("## ") {
            section = ""
        } else if !section.isEmpty, line.hasPrefix("| `"), let close = line.dropFirst(3).firstIndex(of: "`") {
            keys.append("\(section).\(line[line.index(line.startIndex, offsetBy: 3)..<close])")
        }
    }
    return keys
}

/// `bytes` with the first occurrence of `old` replaced by `new` (same length).
func replacing(_ old: [UInt8], with new: [UInt8], in bytes: [UInt8]) -> [UInt8] {
    var result = bytes
    for start in 0...(bytes.count - old.count) where Array(bytes[start..<start + old.count]) == old {
        result.replaceSubrange(start..<start + old.count, with: new)
        return result
    }
    Issue.record("\(old) not found")
    return result
}
