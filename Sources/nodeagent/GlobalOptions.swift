import ArgumentParser
import Foundation
import GRPCCore
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

    @Option(name: .long, help: "The agent's unix socket (default: api.unix_socket of the configuration).")
    var socket: String?

    @Flag(name: .long, help: "Act on libvirt directly instead of through the running agent (implied by --uri).")
    var direct = false

    /// Guest commands go through the agent's API unless told to act on libvirt directly.
    var viaAgent: Bool { !direct && uri == nil }

    /// Connects to the running agent, runs `body`, and explains a failure to connect.
    func withAgent<T: Sendable>(_ body: (AgentClient) async throws -> T) async throws -> T {
        let config = try loadConfig()
        let endpoint = AgentEndpoint.unix(path: socket ?? config.api.unixSocket)
        do {
            return try await AgentClient.with(endpoint, body)
        } catch let error as RPCError where isConnectFailure(error) {
            throw CLIError(
                .unavailable,
                "cannot reach the agent at \(endpoint): \(error.message); is `nodeagent serve` running? (--direct acts on libvirt without it)")
        } catch let error as RPCError {
            throw CLIError(error)
        }
    }

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

/// Whether an RPC failed because the agent could not be reached at all.
private func isConnectFailure(_ error: RPCError) -> Bool {
    error.code == .unavailable && (error.message.contains("connect") || error.message.contains("No such file"))
}
