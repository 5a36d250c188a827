import AgentAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc
import Libvirt
import NIOCore
import Probes
public import Logging
import ServiceLifecycle
import UnixSignals

/// `nodeagent serve`: the long-running agent.
///
/// Start-up, in order: open the state store; connect to libvirt (reconnecting in the
/// background if it is down); reconcile every domain (adopt managed guests, report foreign
/// ones); settle the tasks that were queued or running when the agent last stopped; bind the
/// listeners; then tell systemd READY=1. The parts then run as one ServiceGroup: task
/// workers, the libvirt event monitor, the RPC servers, the systemd notifier and watchdog.
/// SIGTERM/SIGINT drain (listeners first, then running tasks up to tasks.drain_timeout);
/// SIGHUP reloads the configuration file.
public final class Daemon: Sendable {
    public struct Options: Sendable {
        /// The file to re-read on SIGHUP (nil: the embedded default, nothing to reload).
        public var configPath: String?
        /// Plaintext TCP (development only).
        public var insecure = false
        public var environment: [String: String] = ProcessInfo.processInfo.environment

        public init(configPath: String?, insecure: Bool = false) {
            self.configPath = configPath
            self.insecure = insecure
        }
    }

    let core: AgentCore
    let options: Options
    let allowedClients: LockedValue<Set<String>>
    let stateReportInterval: LockedValue<Duration>
    let inventory: InventoryWatcher
    /// Set once every listener is bound and READY=1 is sent; the watchdog pings only after.
    let isReady = LockedValue(false)

    public init(config: AgentConfig, options: Options, logger: Logger) throws {
        core = try AgentCore(config: config, logger: logger)
        self.options = options
        allowedClients = LockedValue(Set(config.api.allowedClients))
        stateReportInterval = LockedValue(.milliseconds(Int64(config.events.stateReportInterval * 1000)))
        inventory = InventoryWatcher(manager: core.guests, logger: logger)
    }

    var logger: Logger { core.logger }
    var config: AgentConfig { core.config }

    /// Runs until SIGTERM/SIGINT (or a fatal error in one of its parts).
    public func run() async throws {
        // SIGHUP means reload, never "terminate" (its default), even before the handler is up.
        signal(SIGHUP, SIG_IGN)
        let notifier = SystemdNotifier(environment: options.environment)
        try? notifier?.status("starting: connecting to \(config.libvirt.uri)")
        await core.registerTaskHandlers()
        logger.info("connecting to \(config.libvirt.uri) (config: \(config.source ?? "embedded default"))")
        do throws(LibvirtError) {
            try await core.connection.connect()
        } catch {
            logger.warning("libvirt unreachable, reconnecting in the background: \(error.message)")
        }
        let reconciled: Inventory
        do {
            reconciled = try await inventory.reconcile()
        } catch {
            logger.error("cannot list the guests at start (events and the next reconnect retry): \(error)")
            reconciled = Inventory(uri: config.libvirt.uri, updated: Date(), connected: false, guests: [])
        }
        do {
            if try !core.store.markInUse(), try core.events.lastSequence > 0 {
                try core.events.skipAhead()
                logger.notice(
                    "the previous run did not stop cleanly: event sequence numbers skip \(EventLog.sequenceSkip) ahead (watchers resuming get a gap and a state report)")
            }
        } catch {
            logger.warning("cannot mark the state database in use (a full disk?): \(error)")
        }
        let recovery = try await core.tasks.recover()
        logger.info("settled the tasks of the previous run: \(recovery.summary)")
        if !core.store.isWritable {
            logger.error("starting with a state store that cannot be written: \(core.store.condition().message)")
        }
        await core.recordStateReport()

        let services = core.services()
        var listeners = [try Listeners.unix(
                path: config.api.unixSocket, mode: config.api.unixSocketMode, maxConcurrentStreams: config.api.maxConcurrentStreams,
                services: services)]
        if !config.api.tcpListen.isEmpty, let address = HostAndPort(config.api.tcpListen) {
            if options.insecure {
                logger.warning("TCP listener \(address) is PLAINTEXT (--insecure): for development only, never on a production network")
            }
            listeners.append(
                try Listeners.tcp(
                    address, api: config.api, insecure: options.insecure, allowed: allowedClients, logger: logger, services: services))
        }

        // Bound before READY=1, like the RPC listeners: a port in use stops the start here.
        var netServer: NetworkProbeServer?
        if let address = HostAndPort(config.burnin.netServerListen) {
            do {
                netServer = try NetworkProbeServer(
                    configuration: .init(
                        host: address.host, port: UInt16(address.port), maximumStreams: config.burnin.netServerMaxStreams,
                        maximumDuration: config.burnin.netServerMaxDuration))
            } catch {
                throw ListenerError.netServer(address: "\(address)", reason: "\(error)")
            }
            logger.info("serving network probes on \(netServer!.address) (burnin.net_server_listen)")
        }

        var group: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let netServer { group.append(.init(service: NetworkProbeService(server: netServer, logger: logger))) }
        let isReady = isReady
        let probe: @Sendable () async throws -> Void = { [core] in
            guard isReady.get() else { throw NotReadyYet() }
            try await core.probeLiveness()
        }
        if let watchdog = WatchdogService(environment: options.environment, logger: logger, probe: probe) {
            logger.info("systemd watchdog: pinging every \(watchdog.interval) after a liveness probe")
            group.append(.init(service: watchdog))
        }
        // The task manager is itself a Service: on graceful shutdown it drains (tasks.drain_timeout).
        group.append(.init(service: core.tasks))
        group.append(.init(service: EventMonitor(daemon: self, reconciled: reconciled)))
        group.append(.init(service: MemoryReturnService(logger: logger)))
        let events = config.events
        group.append(
            .init(
                service: StoreMaintenance(
                    store: core.store, events: core.events, retention: { (events.retainCount, events.retentionHours) }, logger: logger)))
        for listener in listeners {
            group.append(.init(service: RPCServerService(listener: listener, logger: logger)))
        }
        group.append(
            .init(
                service: LifecycleNotifier(daemon: self, listeners: listeners, notifier: notifier),
                successTerminationBehavior: .ignore))
        let serviceGroup = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: group, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        defer {
            // Checkpointed: after a clean stop state.sqlite alone holds the state.
            core.store.close()
            core.connection.close()
        }
        try await serviceGroup.run()
        logger.info("stopped")
    }

    /// One line for systemd's STATUS= and the logs.
    func statusLine() async -> String {
        let counts = (try? core.tasks.counts()) ?? (queued: 0, running: 0)
        let guests: String
        switch await Result({ () throws(AgentError) in try await core.guests.list() }) {
        case .success(let list):
            let managed = list.filter(\.isManaged).count
            guests = "\(list.count) guests (\(managed) managed, \(list.count - managed) foreign)"
        case .failure:
            guests = "libvirt unreachable"
        }
        return "\(guests); \(counts.queued) queued, \(counts.running) running tasks"
    }

    /// SIGHUP: re-reads the configuration file and applies what can change while running; the
    /// rest is reported as needing a restart. A bad file is refused and the old settings stay.
    func reload() -> String {
        guard let path = options.configPath else { return "no configuration file (embedded default): nothing to reload" }
        let new: AgentConfig
        do {
            new = try AgentConfig.parse(contentsOf: path)
        } catch {
            logger.error("reload refused, keeping the running configuration: \(error)")
            return "reload refused: \(error)"
        }
        allowedClients.set(Set(new.api.allowedClients))
        core.shutdownPolicy.set(new.shutdownPolicy)
        stateReportInterval.set(.milliseconds(Int64(new.events.stateReportInterval * 1000)))
        var restart: [String] = []
        var old = config
        old.api.allowedClients = new.api.allowedClients
        old.guests.shutdownGrace = new.guests.shutdownGrace
        old.guests.shutdownRetryInterval = new.guests.shutdownRetryInterval
        old.events.stateReportInterval = new.events.stateReportInterval
        old.source = new.source
        if old.libvirt != new.libvirt { restart.append("[libvirt]") }
        if old.guests != new.guests { restart.append("guests.owner") }
        if old.agent != new.agent { restart.append("[agent]") }
        if old.api != new.api { restart.append("[api] listeners/TLS") }
        if old.tasks != new.tasks { restart.append("[tasks]") }
        if old.events != new.events { restart.append("[events] retention") }
        if old.cgroups != new.cgroups { restart.append("[cgroups]") }
        if old.log != new.log { restart.append("[log]") }
        if old.burnin != new.burnin { restart.append("[burnin]") }
        let summary =
            "reloaded \(path): allowed_clients, shutdown grace/retry, state_report_interval applied"
            + (restart.isEmpty ? "" : "; changes to \(restart.joined(separator: ", ")) take effect at the next restart")
        logger.notice("\(summary)")
        return summary
    }
}

extension AgentCore {
    /// The RPC services, one instance each, shared by every listener.
    func services() -> [any RegistrableRPCService] {
        [
            NodeService(core: self), GuestsService(core: self), VolumesService(core: self), CGroupsService(core: self),
            TasksService(core: self), EventsService(core: self), BurnInService(core: self),
        ]
    }

    /// What the watchdog checks before each ping: the state store answers and the task
    /// manager's actor is not stuck.
    func probeLiveness() async throws {
        try store.ping()
        // An actor-isolated call: answers only if the task manager is not stuck.
        _ = await tasks.isAlive()
    }
}

/// One RPC listener. On graceful shutdown it stops accepting, lets unary calls finish and ends
/// streams.
struct RPCServerService: Service {
    let listener: Listener
    let logger: Logger

    func run() async throws {
        do {
            try await withGracefulShutdownHandler {
                try await listener.server.serve()
            } onGracefulShutdown: {
                listener.server.beginGracefulShutdown()
            }
        } catch {
            throw ListenerError.bind(listener: listener.description, reason: Self.reason(error))
        }
        if let path = listener.socketPath { unlink(path) }
        logger.info("listener \(listener.description) closed")
    }

    /// The system's reason behind a transport error ("Address already in use"), found along
    /// the chain of causes; the error itself when there is none.
    static func reason(_ error: any Error) -> String {
        var next: (any Error)? = error
        while let current = next {
            if let io = current as? IOError { return String(cString: strerror(io.errnoCode)) }
            next = (current as? RuntimeError)?.cause ?? (current as? RPCError)?.cause
        }
        return "\(error)"
    }
}

/// The network probe server of `[burnin] net_server_listen`: other nodes' burn-ins measure their
/// network against this agent. Stops on graceful shutdown.
struct NetworkProbeService: Service {
    let server: NetworkProbeServer
    let logger: Logger

    func run() async throws {
        let logger = logger
        do {
            try await cancelWhenGracefulShutdown {
                try await server.run(log: { line in logger.info("net-server: \(line)") })
            }
        } catch is CancellationError {
            // Graceful shutdown.
        }
        logger.info("network probe server \(server.address) closed")
    }
}

/// Follows libvirt's events into the event stream and sends the periodic state report. The
/// event loop never ends on a failure of what it feeds (a full disk holds events back in
/// memory); should it end anyway, it is started again after a second and health says so
/// meanwhile.
struct EventMonitor: Service {
    let daemon: Daemon
    let reconciled: Inventory

    func run() async throws {
        let core = daemon.core
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    var initial: Inventory? = reconciled
                    while !Task.isCancelled {
                        core.eventMonitorProblem.set(nil)
                        await daemon.inventory.run(
                            reconciled: initial,
                            onEvent: { event, guest in core.recordGuestEvent(event, guest: guest) },
                            onReconcile: { _ in await core.recordStateReport() })
                        initial = nil
                        if Task.isCancelled { break }
                        core.eventMonitorProblem.set("the libvirt event stream ended; following it again")
                        core.logger.error("the libvirt event stream ended unexpectedly; following it again in 1 s")
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: daemon.stateReportInterval.get())
                        if Task.isCancelled { break }
                        await core.recordStateReport()
                    }
                }
            }
        }
    }
}

/// systemd's view of the agent: READY=1 once every listener is bound, STATUS= while running,
/// RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 as soon as shutdown begins.
struct LifecycleNotifier: Service {
    let daemon: Daemon
    let listeners: [Listener]
    let notifier: SystemdNotifier?

    func run() async throws {
        let logger = daemon.logger
        for listener in listeners {
            let address: GRPCNIOTransportCore.SocketAddress
            do {
                address = try await listener.transport.listeningAddress
            } catch {
                throw ListenerError.bind(listener: listener.description, reason: RPCServerService.reason(error))
            }
            if let path = listener.socketPath, chmod(path, mode_t(daemon.config.api.unixSocketMode)) != 0 {
                throw ListenerError.socket(path: path, reason: "cannot set its mode: \(String(cString: strerror(errno)))")
            }
            logger.info("listening on \(listener.description) (\(address))")
        }
        let status = await daemon.statusLine()
        daemon.isReady.set(true)
        notify { try $0.ready(status: status) }
        logger.info("ready: \(status)")
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups {
                    notify { try $0.reloading(status: "reloading the configuration") }
                    let summary = daemon.reload()
                    notify { try $0.ready(status: summary) }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(10))
                    if Task.isCancelled { break }
                    let line = await daemon.statusLine()
                    notify { try $0.status(line) }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        notify { try $0.stopping(status: "stopping: draining RPCs and tasks") }
        logger.info("stopping: draining RPCs and tasks")
    }

    private func notify(_ body: (SystemdNotifier) throws -> Void) {
        guard let notifier else { return }
        do {
            try body(notifier)
        } catch {
            daemon.logger.warning("sd_notify failed: \(error)")
        }
    }
}

/// The watchdog's probe before READY=1: no ping until the agent is ready.
struct NotReadyYet: Error, CustomStringConvertible {
    var description: String { "the agent is not ready yet (listeners binding)" }
}

extension TaskManager {
    /// Answers only when the actor is free to run something: the watchdog's proof that the
    /// task manager is not stuck.
    func isAlive() -> Bool { true }
}
