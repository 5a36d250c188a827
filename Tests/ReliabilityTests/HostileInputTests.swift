import AgentAPI
import Foundation
import NodeAgent
import TestSupport
import Testing

/// The fuzzer over the whole RPC surface (scripts/reliability/fuzz.py, a grpcio client that
/// enumerates every method from the .proto descriptors) against a real agent: random and mutated
/// messages, unknown fields and enum values, huge strings and numbers, XML specials, NUL, `../`,
/// symlinks, raw bytes that do not decode. No crash, no hang, no UNKNOWN or INTERNAL, every
/// INVALID_ARGUMENT naming the field. One run with a fixed seed, one with a random seed that
/// is printed for replay (RELIABILITY.md, "Hostile input").
@Suite(
    "hostile input: the fuzzer", .serialized,
    .enabled(if: PythonClient.available, "needs python3 with grpcio and the generated modules: run scripts/test.sh"))
struct HostileInputTests {
    static let fuzzer = Integration.repositoryRoot.appendingPathComponent("scripts/reliability/fuzz.py").path
    static var iterations: Int { Int(ProcessInfo.processInfo.environment["NODEAGENT_FUZZ_ITERATIONS"] ?? "") ?? 3000 }

    @Test(arguments: ["20261207", "random"])
    func theFuzzerFindsNothing(seed: String) async throws {
        try await withTemporaryDirectory("fuzz") { dir in
            // cgroups.root is a plain directory: the CGroups calls are fuzzed against files that
            // are not the host's (nothing under /sys/fs/cgroup is written).
            let cgroupRoot = dir.file("cgroup-root")
            try FileManager.default.createDirectory(atPath: cgroupRoot, withIntermediateDirectories: true)
            let scratch = dir.file("scratch")
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let agent = try await AgentProcess(
                directory: dir.path, config: "[cgroups]\nroot = \"\(cgroupRoot)\"\n[tasks]\ndrain_timeout = 1\n",
                arguments: ["--log-level", "warning"])
            defer { agent.stop() }
            let summary = dir.file("summary.json")
            let result = try execute(
                "/usr/bin/env",
                [
                    "python3", Self.fuzzer, "--socket", agent.socketPath, "--iterations", "\(Self.iterations)", "--seed", seed,
                    "--scratch", scratch, "--json-summary", summary,
                ])
            let firstLine = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
            print("[fuzz] \(firstLine)")
            print(result.stdout.split(separator: "\n").suffix(15).joined(separator: "\n"))
            #expect(result.status == 0, "the fuzzer reported findings (exit \(result.status)):\n\(result.stdout.suffix(6000))\n\(result.stderr.suffix(2000))")
            #expect(agent.pid != nil && waitpid(agent.pid!, nil, WNOHANG) == 0, "the agent is still running; log:\n\(agent.log.suffix(3000))")
            #expect(try await agent.client { try await $0.node.getHealth(Nodeagent_V1_GetHealthRequest()) }.status != .unspecified)
        }
    }

    /// The profiles that aborted the agent inside toml++ (found by the fuzzer): refused with
    /// INVALID_ARGUMENT naming profile_toml, the line and the column; the agent serves on. The
    /// same text in the configuration file is refused by `config check` with exit 65.
    @Test func malformedTOMLNeverStopsTheAgent() async throws {
        try await withTemporaryDirectory("toml") { dir in
            let agent = try await AgentProcess(directory: dir.path)
            defer { agent.stop() }
            for text in ["[\n", "[}", "[.a]", "[[=", "[,", "[#", "a = [}", "name = \"x\"\n[cpu\nduration = 5\n", "a = { b = 1, }"] {
                var request = Nodeagent_V1_StartBurnInRequest()
                request.requestID = requestID("toml")
                request.profileToml = text
                let error = await rpcError { [request] in try await agent.client { try await $0.burnin.start(request) } }
                #expect(error?.code == .invalidArgument, "\(text.debugDescription): \(String(describing: error))")
                #expect(error?.message.hasPrefix("profile_toml: not valid TOML at line") == true, "\(String(describing: error?.message))")
            }
            #expect(agent.pid != nil && waitpid(agent.pid!, nil, WNOHANG) == 0, "the agent is still running")
            let config = try dir.write("bad.toml", "[libvirt]\nuri = \"test:///default\"\n[\n")
            let check = try execute(AgentProcess.binary, ["config", "check", "--config", config])
            #expect(check.status == 65, "\(check)")
            #expect(check.stderr.contains("\(config): not valid TOML at line 3, column 2"), "\(check.stderr)")
        }
    }
}
