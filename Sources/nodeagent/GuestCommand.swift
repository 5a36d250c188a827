import AgentAPI
import ArgumentParser
import Foundation
import Libvirt
import NodeAgent

struct GuestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guest", abstract: "Define, run, stop and remove guests.",
        subcommands: [
            Define.self, Start.self, Stop.self, Destroy.self, Reboot.self, Suspend.self, Resume.self,
            Undefine.self, List.self, Show.self, Protect.self,
        ])

    /// A guest named by name or UUID.
    struct Target: ParsableArguments {
        @Argument(help: "Guest name or UUID.") var guest: String
        @Flag(name: .long, help: "Act on a foreign guest (one without nodeagent metadata) or override protection.")
        var force = false
    }

    struct Define: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Define a guest from a spec file (TOML or JSON, see docs/GUEST-SPEC.md).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Spec file: .toml or .json.") var spec: String
        @Flag(name: .long, help: "Mark the guest protected: destroy and undefine then need --force.") var protect = false
        @Flag(name: .long, help: "Start the guest once defined.") var start = false
        @OptionGroup var task: TaskOptions

        func run() async throws {
            if global.viaAgent {
                let spec = try await loadSpec(spec)
                let protect = protect
                let start = start
                let requestID = task.id
                return try await runTask(global, task) { client in
                    var request = Nodeagent_V1_DefineGuestRequest()
                    request.requestID = requestID
                    request.spec = spec
                    request.protected = protect
                    let defined = try await client.wait(for: try await client.guests.define(request))
                    guard start, defined.state == .succeeded else { return defined }
                    var startRequest = Nodeagent_V1_GuestActionRequest()
                    startRequest.requestID = requestID + ".start"
                    startRequest.guest = defined.result.guest.uuid
                    return try await client.guests.start(startRequest)
                }
            }
            try await reporting {
                let spec = try GuestSpec.load(contentsOf: spec)
                let (manager, connection) = try await global.guestManager()
                defer { connection.close() }
                var guest = try await manager.define(spec, protected: protect)
                if start { guest = try await manager.start(guest.uuid.uuidString) }
                try show([guest], global.json)
            }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a defined guest (no-op if running).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target
        @OptionGroup var task: TaskOptions
        func run() async throws {
            if global.viaAgent { return try await action(global, target, task) { try await $0.guests.start($1) } }
            try await simple(global) { try await $0.start(target.guest, force: target.force) }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Shut a guest down: shutdown request, repeated, then destroy after the grace period.",
            discussion: "A protected guest is not destroyed at the end of the grace period unless --force is given.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target
        @Option(help: "Seconds to wait before destroying (default: guests.shutdown_grace).") var grace: Double?
        @Option(help: "Seconds between repeated requests (default: guests.shutdown_retry_interval).") var retry: Double?
        @Flag(name: .long, help: "Leave a guest that ignores the requests running instead of destroying it.") var noDestroy = false
        @OptionGroup var task: TaskOptions

        func run() async throws {
            if global.viaAgent {
                if retry != nil { throw CLIError(.invalidInput, "--retry applies with --direct only (the agent uses guests.shutdown_retry_interval)") }
                if let grace, !(1...86_400).contains(grace) {
                    throw CLIError(.invalidInput, "--grace must be 1 to 86400 seconds through the agent (got \(grace))")
                }
                var request = Nodeagent_V1_ShutdownGuestRequest()
                request.requestID = task.id
                request.guest = target.guest
                request.force = target.force
                request.graceSeconds = UInt32(grace?.rounded(.up) ?? 0)
                request.noDestroy = noDestroy
                return try await runTask(global, task) { [request] in try await $0.guests.shutdown(request) }
            }
            try await reporting {
                let (manager, connection) = try await global.guestManager()
                defer { connection.close() }
                var policy = manager.shutdownPolicy
                if let grace {
                    guard grace >= 0 else { throw CLIError(.invalidInput, "--grace must be 0 or more seconds (got \(grace))") }
                    policy.grace = .milliseconds(Int64(grace * 1000))
                }
                if let retry {
                    guard retry > 0 else { throw CLIError(.invalidInput, "--retry must be more than 0 seconds (got \(retry))") }
                    policy.retryInterval = .milliseconds(Int64(retry * 1000))
                }
                let json = global.json
                let outcome = try await manager.stop(target.guest, policy: policy, force: target.force) { message in
                    if !json { FileHandle.standardError.write(Data("\(message)\n".utf8)) }
                }
                let guest = try await manager.inspect(target.guest).guest
                if json {
                    try printJSON(StopView(guest: guest, outcome: outcome))
                } else {
                    switch outcome {
                    case .alreadyStopped: print("\(guest.name): already stopped")
                    case .shutDown(let requests, let after):
                        print("\(guest.name): shut down after \(formatSeconds(after)) (\(requests) request(s))")
                    case .destroyed(let requests, let after):
                        print("\(guest.name): destroyed after \(formatSeconds(after)); ignored \(requests) shutdown request(s)")
                    }
                }
            }
        }
    }

    struct Destroy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a guest at once (refused on protected guests without --force).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target
        @OptionGroup var task: TaskOptions
        func run() async throws {
            if global.viaAgent { return try await action(global, target, task) { try await $0.guests.destroy($1) } }
            try await simple(global) { try await $0.destroy(target.guest, force: target.force) }
        }
    }

    struct Reboot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask a running guest to reboot.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target
        @OptionGroup var task: TaskOptions
        func run() async throws {
            if global.viaAgent { return try await action(global, target, task) { try await $0.guests.reboot($1) } }
            try await simple(global) { try await $0.reboot(target.guest, force: target.force) }
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a running guest.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target
        @OptionGroup var task: TaskOptions
        func run() async throws {
            if global.viaAgent { return try await action(global, target, task) { try await $0.guests.suspend($1) } }
            try await simple(global) { try await $0.suspend(target.guest, force: target.force) }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused guest.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target
        @OptionGroup var task: TaskOptions
        func run() async throws {
            if global.viaAgent { return try await action(global, target, task) { try await $0.guests.resume($1) } }
            try await simple(global) { try await $0.resume(target.guest, force: target.force) }
        }
    }

    struct Undefine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a guest's definition, optionally with its volumes.",
            discussion: "Refused for a running or protected guest unless --force (a running guest is destroyed first).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target
        @Flag(name: .long, help: "Also delete the guest's writable disks that are libvirt storage volumes.") var deleteVolumes = false
        @OptionGroup var task: TaskOptions

        func run() async throws {
            if global.viaAgent {
                var request = Nodeagent_V1_UndefineGuestRequest()
                request.requestID = task.id
                request.guest = target.guest
                request.force = target.force
                request.deleteVolumes = deleteVolumes
                return try await runTask(global, task) { [request] in try await $0.guests.undefine(request) }
            }
            try await reporting {
                let (manager, connection) = try await global.guestManager()
                defer { connection.close() }
                let result = try await manager.undefine(target.guest, deleteVolumes: deleteVolumes, force: target.force)
                if global.json {
                    try printJSON(result)
                } else {
                    print("\(result.guest): undefined")
                    for path in result.deletedVolumes { print("  deleted volume \(path)") }
                    for kept in result.keptDisks { print("  kept disk \(kept.disk): \(kept.reason)") }
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every guest, managed and foreign.")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            if global.viaAgent {
                return try await reporting {
                    let response = try await global.withAgent { try await $0.guests.list(Nodeagent_V1_ListGuestsRequest()) }
                    if global.json { try printMessage(response) } else { printGuests(response.guests) }
                }
            }
            try await reporting {
                let (manager, connection) = try await global.guestManager()
                defer { connection.close() }
                try show(try await manager.list(), global.json)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one guest: state, metadata, resources, disks, NICs.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Guest name or UUID.") var guest: String
        @Flag(name: .long, help: "Print the domain XML as libvirt returns it (--direct only).") var xml = false

        func run() async throws {
            if global.viaAgent && !xml {
                return try await reporting {
                    var request = Nodeagent_V1_GetGuestRequest()
                    request.guest = guest
                    let found = try await global.withAgent { [request] in try await $0.guests.get(request) }
                    if global.json { try printMessage(found) } else { printGuests([found]) }
                }
            }
            try await reporting {
                let (manager, connection) = try await global.guestManager()
                defer { connection.close() }
                let details = try await manager.inspect(guest)
                if xml {
                    print(details.xml)
                } else if global.json {
                    try printJSON(GuestDetailsView(details))
                } else {
                    GuestDetailsView(details).printText()
                }
            }
        }
    }

    struct Protect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mark a guest protected (destroy and undefine then need --force), or unprotect it with --off.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var target: Target
        @Flag(name: .long, help: "Remove the protection.") var off = false
        @OptionGroup var task: TaskOptions
        func run() async throws {
            if global.viaAgent {
                var request = Nodeagent_V1_SetProtectionRequest()
                request.requestID = task.id
                request.guest = target.guest
                request.force = target.force
                request.protected = !off
                return try await runTask(global, task) { [request] in try await $0.guests.setProtection(request) }
            }
            try await simple(global) { try await $0.setProtected(target.guest, !off, force: target.force) }
        }
    }
}

/// A guest action through the agent.
private func action(
    _ global: GlobalOptions, _ target: GuestCommand.Target, _ task: TaskOptions,
    _ call: @escaping @Sendable (AgentClient, Nodeagent_V1_GuestActionRequest) async throws -> Nodeagent_V1_Task
) async throws {
    var request = Nodeagent_V1_GuestActionRequest()
    request.requestID = task.id
    request.guest = target.guest
    request.force = target.force
    try await runTask(global, task) { [request] client in try await call(client, request) }
}

/// A spec file as the API's message; file and spec errors are reported like --direct's.
private func loadSpec(_ path: String) async throws -> Nodeagent_V1_GuestSpec {
    var message: Nodeagent_V1_GuestSpec?
    try await reporting { message = try GuestSpec.load(contentsOf: path).message() }
    guard let message else { throw CLIError(.invalidInput, "\(path): cannot be read") }
    return message
}

/// Runs one guest operation and prints the guest it returns.
private func simple(_ global: GlobalOptions, _ body: (GuestManager) async throws -> Guest) async throws {
    try await reporting {
        let (manager, connection) = try await global.guestManager()
        defer { connection.close() }
        try show([try await body(manager)], global.json)
    }
}

private func show(_ guests: [Guest], _ json: Bool) throws {
    if json { return try printJSON(guests) }
    printTable(
        ["NAME", "STATE", "MANAGED", "PROTECTED", "OWNER", "UUID"],
        guests.map { g in
            [
                g.name, g.state.kind.name, g.metadataProblem != nil ? "unreadable" : (g.isManaged ? "yes" : "foreign"),
                g.isProtected ? "yes" : "no", g.metadata?.owner ?? "-", g.uuid.uuidString.lowercased(),
            ]
        })
}
