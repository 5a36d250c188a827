import ArgumentParser
import Foundation
import NodeAgent

@main
struct NodeAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodeagent",
        abstract: "Host agent for hypervisor and storage nodes.",
        discussion: """
            Commands act directly on the libvirt URI given by --uri or by the configuration file \
            (default \(AgentConfig.defaultPath); without it, libvirt's test driver). \
            Exit codes are listed in docs/CLI.md.
            """,
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, GuestCommand.self, TasksCommand.self, EventsCommand.self, VolumeCommand.self, CGroupCommand.self,
            BurnInCommand.self, ConfigCommand.self,
        ])

    static func main() async {
        ProcessSetup.lineBufferStandardOutput()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
