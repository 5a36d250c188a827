import AgentAPI
import ArgumentParser
import Foundation
import NodeAgent
import SwiftProtobuf

struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "List, show, watch and cancel the agent's tasks.",
        subcommands: [List.self, Show.self, Watch.self, Cancel.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tasks, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Only tasks in this state (queued, running, succeeded, failed, cancelled); repeatable.")
        var state: [String] = []
        @Option(name: .long, help: "Only this kind (guest.start) or kind prefix (guest.); repeatable.") var kind: [String] = []
        @Option(name: .long, help: "Only tasks on this target (guest UUID, pool/volume, cgroup path).") var target: String?
        @Option(name: .long, help: "At most this many (default 100).") var limit: UInt32 = 100

        func run() async throws {
            try await reporting {
                var request = Nodeagent_V1_ListTasksRequest()
                request.states = try state.map { name in
                    guard let value = taskStates[name] else {
                        throw CLIError(.invalidInput, "--state: must be one of \(taskStates.keys.sorted().joined(separator: ", ")) (got \"\(name)\")")
                    }
                    return value
                }
                request.kinds = kind
                request.target = target ?? ""
                request.limit = limit
                let response = try await global.withAgent { [request] in try await $0.tasks.list(request) }
                if global.json { return try printMessage(response) }
                printTable(
                    ["ID", "KIND", "TARGET", "STATE", "PROGRESS", "ATTEMPTS", "UPDATED", "MESSAGE"],
                    response.tasks.map { t in
                        [
                            t.id, t.kind, t.target, t.state.name, "\(Int((t.progress * 100).rounded()))%", "\(t.attempts)",
                            ISO8601DateFormatter().string(from: t.updatedAt.date),
                            t.error.reason.isEmpty ? t.message : "\(t.error.reason): \(t.error.message)",
                        ]
                    })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one task by task id or request id (always JSON).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Task id or request id.") var id: String

        func run() async throws {
            try await reporting {
                var request = Nodeagent_V1_GetTaskRequest()
                request.id = id
                try printMessage(try await global.withAgent { [request] in try await $0.tasks.get(request) })
            }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a task until it finishes; exits with the code of its outcome.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Task id or request id.") var id: String

        func run() async throws {
            try await reporting {
                var request = Nodeagent_V1_WatchTaskRequest()
                request.id = id
                let json = global.json
                let last = try await global.withAgent { [request] client in
                    try await client.tasks.watch(request) { response in
                        var last: Nodeagent_V1_Task?
                        for try await update in response.messages {
                            if json {
                                try printMessageLine(update)
                            } else {
                                print("[\(update.state.name) \(Int((update.progress * 100).rounded()))%] \(update.kind) \(update.target): \(update.message)")
                            }
                            last = update
                        }
                        return last
                    }
                }
                if let last, last.state == .failed || last.state == .cancelled { throw CLIError(task: last) }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a task: a queued one at once, a running one at its next step.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Task id or request id.") var id: String

        func run() async throws {
            try await reporting {
                var request = Nodeagent_V1_CancelTaskRequest()
                request.id = id
                let task = try await global.withAgent { [request] in try await $0.tasks.cancel(request) }
                if global.json { try printMessage(task) } else { print("task \(task.id): \(task.state.name)") }
            }
        }
    }
}

private let taskStates: [String: Nodeagent_V1_TaskState] = [
    "queued": .queued, "running": .running, "succeeded": .succeeded, "failed": .failed, "cancelled": .cancelled,
]

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Follow the agent's event stream: guest lifecycle changes, task transitions, state reports.",
        discussion: """
            Without --after, starts with a state report and then live events. With --after N, replays \
            every retained event after sequence N first (a controller that reconnects passes the last \
            sequence it saw). Prints one JSON object per line with --json.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Replay retained events after this sequence number.") var after: UInt64?
    @Flag(name: .long, help: "Replay from the oldest retained event.") var fromOldest = false
    @Option(name: .long, help: "Stop after this many events.") var count: Int?

    func run() async throws {
        try await reporting {
            var request = Nodeagent_V1_WatchEventsRequest()
            request.afterSequence = after ?? 0
            request.fromOldest = fromOldest
            let json = global.json
            let count = count
            try await global.withAgent { [request] client in
                try await client.events.watch(request) { response in
                    var seen = 0
                    for try await event in response.messages {
                        if json { try printMessageLine(event) } else { print(describe(event)) }
                        seen += 1
                        if let count, seen >= count { break }
                    }
                }
            }
        }
    }
}

private func describe(_ event: Nodeagent_V1_Event) -> String {
    let time = ISO8601DateFormatter().string(from: event.time.date)
    switch event.payload {
    case .guest(let e): return "\(event.sequence) \(time) guest \(e.guest.name) \(e.event) (\(e.detail)) -> \(e.guest.state.name)"
    case .task(let t):
        return "\(event.sequence) \(time) task \(t.id) \(t.kind) \(t.target) \(t.state.name)"
            + (t.error.reason.isEmpty ? (t.message.isEmpty ? "" : ": \(t.message)") : ": \(t.error.reason): \(t.error.message)")
    case .stateReport(let r):
        return "\(event.sequence) \(time) state report: \(r.guests.count) guests, \(r.unfinishedTasks.count) unfinished tasks"
            + (r.libvirtConnected ? "" : ", libvirt unreachable")
    case .gap(let g): return "gap: events after \(g.requestedAfter) up to \(g.firstRetained - 1) were pruned"
    case nil: return "\(event.sequence) \(time) (empty event)"
    }
}
