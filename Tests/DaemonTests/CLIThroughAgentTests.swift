import Foundation
import NodeAgent
import TestSupport
import Testing

/// `nodeagent guest|tasks|events` as clients of a running agent (the default), with exit codes.
@Suite("nodeagent CLI through the agent", .serialized)
struct CLIThroughAgentTests {
    @Test func anAdminDrivesGuestsAndTasksThroughTheAgent() async throws {
        try await withTemporaryDirectory { dir in
            let agent = try await AgentProcess(directory: dir.path)
            func cli(_ arguments: [String]) throws -> CommandResult {
                try execute(AgentProcess.binary, arguments + ["--socket", agent.socketPath])
            }
            func json(_ text: String) -> Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }
            let spec = try dir.write("web.toml", "name = \"cli-1\"\nmemory = \"128MiB\"\n[boot]\nmode = \"kernel\"\nkernel = \"/boot/vmlinuz\"\n")

            let defined = try cli(["guest", "define", spec, "--start", "--request-id", "cli-define", "--json"])
            #expect(defined.status == 0, "\(defined.stderr)")
            let task = json(defined.stdout) as? [String: Any]
            #expect(task?["kind"] as? String == "guest.start" && task?["state"] as? String == "TASK_STATE_SUCCEEDED", "\(defined.stdout)")
            let suspended = try cli(["guest", "suspend", "cli-1"])
            #expect(suspended.status == 0 && suspended.stdout.contains("paused"), "\(suspended)")
            #expect(suspended.stderr.contains("[succeeded 100%] guest.suspend"), "progress goes to stderr: \(suspended.stderr)")
            #expect(try cli(["guest", "resume", "cli-1"]).status == 0)

            let listed = try cli(["guest", "list"])
            #expect(listed.status == 0 && listed.stdout.contains("cli-1") && listed.stdout.contains("running"), "\(listed)")
            // Errors keep their exit codes: foreign 3, unknown 2, a reused request id 6.
            #expect(try cli(["guest", "destroy", "test"]).status == 3)
            #expect(try cli(["guest", "start", "nope"]).status == 2)
            let other = try dir.write("other.toml", "name = \"cli-2\"\nmemory = \"128MiB\"\n[boot]\nmode = \"kernel\"\nkernel = \"/boot/vmlinuz\"\n")
            let reused = try cli(["guest", "define", other, "--request-id", "cli-define"])
            #expect(reused.status == 6 && reused.stderr.contains("cli-define"), "\(reused)")

            let queued = try cli(["guest", "stop", "cli-1", "--grace", "30", "--no-wait"])
            #expect(queued.status == 0 && queued.stdout.hasPrefix("task "), "\(queued)")
            let id = String(queued.stdout.split(separator: " ")[1])
            let watched = try cli(["tasks", "watch", id])
            #expect(watched.status == 0 && watched.stdout.contains("succeeded"), "\(watched)")
            let tasks = try cli(["tasks", "list", "--kind", "guest.", "--json"])
            let kinds = ((json(tasks.stdout) as? [String: Any])?["tasks"] as? [[String: Any]])?.compactMap { $0["kind"] as? String }
            #expect(kinds?.contains("guest.shutdown") == true && kinds?.contains("guest.define") == true, "\(tasks.stdout)")
            let cancelFinished = try cli(["tasks", "cancel", id])
            #expect(cancelFinished.status == 3, "cancelling a finished task is refused: \(cancelFinished)")

            let events = try cli(["events", "--from-oldest", "--count", "3", "--json"])
            #expect(events.status == 0 && events.stdout.split(separator: "\n").count == 3, "\(events)")
            #expect(events.stdout.split(separator: "\n").allSatisfy { json(String($0)) != nil })

            // Without an agent: a clear message and 69.
            let down = try execute(AgentProcess.binary, ["guest", "list", "--socket", dir.file("nobody.sock")])
            #expect(down.status == 69 && down.stderr.contains("nodeagent serve") && down.stderr.contains("--direct"), "\(down)")
        }
    }
}
