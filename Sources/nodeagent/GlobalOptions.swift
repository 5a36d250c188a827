import ArgumentParser
import Foundation
import Libvirt
import NodeAgent

/// Options every command that talks to libvirt takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default /etc/nodeagent/nodeagent.toml if it exists).")
    var config: String?

    @Option(name: .long, help: "libvirt URI; overrides libvirt.uri of the configuration.")
    var uri: String?

    @Flag(name: .long, help: "Print JSON for scripts instead of a table.")
    var json = false

    /// The configuration with command-line overrides applied.
    func loadConfig() throws -> AgentConfig {
        do {
            var config = try AgentConfig.load(path: config)
            if let uri { config.libvirt.uri = uri }
            return config
        } catch {
            throw CLIError(.invalidInput, "configuration: \(error)")
        }
    }

    /// Opens libvirt once (no background reconnection: a CLI call fails fast and says why).
    func connect(_ config: AgentConfig) async throws -> Connection {
        var options = config.connectionOptions
        options.reconnect = false
        do {
            return try await Connection.open(config.libvirt.uri, options: options)
        } catch {
            throw CLIError(.unavailable, "cannot connect to \(config.libvirt.uri): \(error.message)")
        }
    }

    func guestManager() async throws -> (GuestManager, Connection) {
        let config = try loadConfig()
        let connection = try await connect(config)
        return (GuestManager(connection: connection, owner: config.guests.owner, shutdownPolicy: config.shutdownPolicy), connection)
    }
}
