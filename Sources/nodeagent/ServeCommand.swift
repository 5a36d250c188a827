import ArgumentParser
import Foundation
import Libvirt
import Logging
import NodeAgent

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the agent: the gRPC API, durable tasks, guest reconciliation and libvirt events.",
        discussion: """
            Opens the state store (<state_dir>/state.sqlite), connects to libvirt (reconnecting with \
            backoff if it goes away), adopts the guests that carry nodeagent metadata and reports \
            foreign ones without touching them, settles the tasks left by the previous run, then \
            serves the API on the unix socket (api.unix_socket) and, with api.tcp_listen, on TCP with \
            mutual TLS. Under systemd it reports READY=1, STATUS=, WATCHDOG=1 and STOPPING=1, and \
            logs to the journal. SIGTERM or SIGINT drain and stop; SIGHUP reloads the configuration.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "State directory; overrides agent.state_dir.") var stateDir: String?
    @Option(name: .long, help: "TCP listen address HOST:PORT; overrides api.tcp_listen.") var listen: String?
    @Flag(name: .long, help: "Serve TCP in plaintext without client certificates (development only; logs a warning).")
    var insecure = false
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical; overrides log.level.")
    var logLevel: String?
    @Flag(name: .long, help: "Reconcile once, print the inventory and exit (no API).") var once = false

    func run() async throws {
        ProcessSetup.limitMallocArenas()
        try await reporting {
            var config = try global.loadConfig()
            if let stateDir {
                // The embedded default keeps its socket with the state.
                if config.source == nil && global.socket == nil { config.api.unixSocket = (stateDir as NSString).appendingPathComponent("nodeagent.sock") }
                config.agent.stateDirectory = stateDir
            }
            if let socket = global.socket { config.api.unixSocket = socket }
            if let listen {
                guard HostAndPort(listen) != nil else { throw CLIError(.invalidInput, "--listen: must be HOST:PORT (got \"\(listen)\")") }
                config.api.tcpListen = listen
            }
            if let logLevel { config.log.level = logLevel }
            guard let level = LogLevelName.level(config.log.level) else {
                throw CLIError(.invalidInput, "--log-level: must be one of \(LogLevelName.names.joined(separator: ", "))")
            }
            if !config.api.tcpListen.isEmpty && !insecure
                && (config.api.tlsCertificate.isEmpty || config.api.tlsKey.isEmpty || config.api.tlsClientCA.isEmpty || config.api.allowedClients.isEmpty)
            {
                throw CLIError(
                    .invalidInput,
                    "TCP listener \(config.api.tcpListen) needs api.tls_certificate, api.tls_key, api.tls_client_ca and api.allowed_clients (mutual TLS), or --insecure for development")
            }
            LogSetup.bootstrap(level: level)
            let logger = Logger(label: "nodeagent")
            if once {
                let connection = Connection(uri: config.libvirt.uri, options: config.connectionOptions)
                defer { connection.close() }
                do throws(LibvirtError) {
                    try await connection.connect()
                } catch {
                    throw CLIError(.unavailable, "cannot connect to \(config.libvirt.uri): \(error.message)")
                }
                let manager = GuestManager(connection: connection, owner: config.guests.owner, shutdownPolicy: config.shutdownPolicy)
                let watcher = InventoryWatcher(manager: manager, logger: logger)
                let inventory = try await watcher.reconcile()
                if global.json { try printJSON(inventory) } else { print(inventory.summary) }
                return
            }
            do {
                let daemon = try Daemon(config: config, options: Daemon.Options(configPath: config.source, insecure: insecure), logger: logger)
                try await daemon.run()
            } catch {
                throw Self.startFailure(error)
            }
        }
    }

    /// A failure to start (or a part failing while running) as a message and the exit code
    /// docs/CLI.md documents for `serve`.
    static func startFailure(_ error: any Error) -> CLIError {
        switch error {
        case let error as CLIError:
            return error
        case let error as ConfigError:
            return CLIError(.invalidInput, "configuration: \(error)")
        case let error as StateStoreError:
            return CLIError(.ioError, "cannot start: \(error)")
        case let error as FileSystemError:
            return CLIError(.cannotCreate, "cannot start: \(error)")
        case let error as ListenerError:
            switch error {
            case .socketDirectory, .socket: return CLIError(.cannotCreate, "cannot start: \(error)")
            case .tls: return CLIError(.invalidInput, "cannot start: \(error)")
            case .socketInUse, .bind, .netServer: return CLIError(.unavailable, "cannot start: \(error)")
            }
        default:
            return CLIError(.failed, "stopped: \(error)")
        }
    }
}
