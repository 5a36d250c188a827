import ArgumentParser
import Dispatch
import Foundation
import Libvirt
import Logging
import NodeAgent

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the agent: keep an inventory of every guest and follow libvirt's events.",
        discussion: """
            Connects to libvirt (reconnecting with backoff if it goes away), adopts the guests that \
            carry nodeagent metadata, reports foreign ones without touching them, and writes what \
            it sees to <state_dir>/inventory.json after every change. Stops on SIGINT or SIGTERM.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "State directory; overrides agent.state_dir.") var stateDir: String?
    @Flag(name: .long, help: "Reconcile once, print the inventory and exit.") var once = false

    func run() async throws {
        try await reporting {
            var logger = Logger(label: "nodeagent")
            logger.logLevel = .info
            let config = try global.loadConfig()
            let connection = Connection(uri: config.libvirt.uri, options: config.connectionOptions)
            defer { connection.close() }
            logger.info("connecting to \(config.libvirt.uri) (config: \(config.source ?? "embedded default"))")
            do throws(LibvirtError) {
                try await connection.connect()
            } catch {
                if once { throw CLIError(.unavailable, "cannot connect to \(config.libvirt.uri): \(error.message)") }
                logger.warning("libvirt unreachable, retrying in the background: \(error.message)")
            }
            let manager = GuestManager(connection: connection, owner: config.guests.owner, shutdownPolicy: config.shutdownPolicy)
            let watcher = InventoryWatcher(manager: manager, stateDirectory: stateDir ?? config.agent.stateDirectory, logger: logger)
            if once {
                let inventory = try await watcher.reconcile()
                if global.json { try printJSON(inventory) } else { print(inventory.summary) }
                return
            }
            let work = Task { try await watcher.run() }
            let signals = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number)
                source.setEventHandler {
                    logger.info("signal \(number): stopping")
                    work.cancel()
                    connection.close()
                }
                source.resume()
                return source
            }
            defer { signals.forEach { $0.cancel() } }
            try await work.value
            logger.info("stopped; inventory in \(watcher.inventoryFile.path)")
        }
    }
}
