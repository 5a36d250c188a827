import AgentAPI
import ArgumentParser
import Foundation
import NodeAgent
import SwiftProtobuf

/// Options of every command that submits a task to the agent.
struct TaskOptions: ParsableArguments {
    @Option(name: .long, help: "Request id that makes a retry safe: a repeat returns the first call's task (default: a new UUID).")
    var requestId: String?

    @Flag(name: .long, help: "Print the task at once instead of waiting for it to finish.")
    var noWait = false

    var id: String { requestId ?? UUID().uuidString.lowercased() }
}

/// Submits one mutating call through the agent, waits for its task (progress on stderr), and
/// prints the outcome; a failed or cancelled task exits with the code of its reason.
func runTask(
    _ global: GlobalOptions, _ options: TaskOptions, _ submit: @escaping @Sendable (AgentClient) async throws -> Nodeagent_V1_Task
) async throws {
    try await reporting {
        let json = global.json
        let task = try await global.withAgent { client in
            let submitted = try await submit(client)
            if options.noWait { return submitted }
            if !json { progress(submitted) }
            return try await client.wait(for: submitted) { update in if !json { progress(update) } }
        }
        if json {
            try printMessage(task)
        } else if options.noWait {
            print("task \(task.id) \(task.state.name)")
        } else if task.state == .succeeded {
            if case .guest(let guest) = task.result.value {
                printGuests([guest])
            } else {
                print(task.result.summary)
            }
        }
        if task.state == .failed || task.state == .cancelled { throw CLIError(task: task) }
    }
}

private func progress(_ task: Nodeagent_V1_Task) {
    let percent = Int((task.progress * 100).rounded())
    let line = "[\(task.state.name) \(percent)%] \(task.kind) \(task.target)" + (task.message.isEmpty ? "" : ": \(task.message)")
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// A message as pretty JSON with the .proto field names (what the Python client prints too).
func printMessage(_ message: some SwiftProtobuf.Message) throws {
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    let compact = try message.jsonUTF8Data(options: options)
    let object = try JSONSerialization.jsonObject(with: compact)
    let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: pretty, as: UTF8.self))
}

/// A message as one JSON line (streams).
func printMessageLine(_ message: some SwiftProtobuf.Message) throws {
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    print(try message.jsonString(options: options))
}

func printGuests(_ guests: [Nodeagent_V1_Guest]) {
    printTable(
        ["NAME", "STATE", "MANAGED", "PROTECTED", "OWNER", "UUID"],
        guests.map { g in
            [
                g.name, g.state.name, !g.metadataProblem.isEmpty ? "unreadable" : (g.managed ? "yes" : "foreign"),
                g.protected ? "yes" : "no", g.owner.isEmpty ? "-" : g.owner, g.uuid,
            ]
        })
}

extension Nodeagent_V1_GuestState {
    /// The same words as the direct CLI (libvirt's state names).
    var name: String {
        switch self {
        case .running: "running"
        case .blocked: "blocked"
        case .paused: "paused"
        case .shuttingDown: "shutting-down"
        case .shutOff: "shut-off"
        case .crashed: "crashed"
        case .pmSuspended: "pmsuspended"
        case .noState: "nostate"
        case .unspecified, .UNRECOGNIZED: "unknown"
        }
    }
}
