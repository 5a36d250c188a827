import Foundation
public import Libvirt

/// The agent's configuration: one TOML file (`/etc/nodeagent/nodeagent.toml` by default) with
/// command-line overrides. Every key, its default and its limits are documented in
/// docs/CONFIGURATION.md; unknown keys and bad values are refused with the file, key and reason.
public struct AgentConfig: Sendable, Equatable {
    /// The file read when no `--config` is given. When it does not exist, the embedded default
    /// applies (libvirt's test driver, state under `./.nodeagent`), so the agent runs anywhere.
    public static let defaultPath = "/etc/nodeagent/nodeagent.toml"

    public var libvirt = Libvirt()
    public var guests = Guests()
    public var agent = Agent()
    public var cgroups = CGroups()
    public var api = API()
    public var tasks = Tasks()
    public var events = Events()
    public var log = Log()
    public var burnin = BurnIn()
    /// The file this configuration was read from; `nil` for the embedded default.
    public var source: String?

    public struct Libvirt: Sendable, Equatable {
        /// libvirt connection URI.
        public var uri = "test:///default"
        /// Seconds between keepalive probes to the daemon; 0 disables them.
        public var keepaliveInterval = 5
        /// Missed probes before the daemon is declared dead.
        public var keepaliveCount = 3
        /// Longest wait for one libvirt call, seconds.
        public var callTimeout = 60.0
        /// Longest delay between reconnection attempts, seconds: a restarted libvirtd is used
        /// again within this delay of answering.
        public var reconnectMaxDelay = 3.0
    }

    public struct Guests: Sendable, Equatable {
        /// Seconds a guest gets to shut down after the first ACPI request before it is destroyed.
        public var shutdownGrace = 120.0
        /// Seconds between repeated shutdown requests during the grace period.
        public var shutdownRetryInterval = 15.0
        /// Owner written into the metadata of guests this agent defines.
        public var owner = "nodeagent"
    }

    public struct CGroups: Sendable, Equatable {
        /// The cgroup v2 hierarchy's root; "auto" finds the first cgroup2 mount among
        /// /sys/fs/cgroup and /sys/fs/cgroup/unified.
        public var root = "auto"
    }

    public struct Agent: Sendable, Equatable {
        /// Where the agent keeps its state (state.sqlite, burn-in reports).
        public var stateDirectory = "./.nodeagent"
    }

    /// The RPC listeners (docs/API.md).
    public struct API: Sendable, Equatable {
        /// The local admins' unix socket. The embedded default (no configuration file) puts it
        /// in the state directory instead, so that it runs anywhere.
        public var unixSocket = "/run/nodeagent/nodeagent.sock"
        /// Permission bits of the unix socket.
        public var unixSocketMode = 0o660
        /// TCP address for the controller, "HOST:PORT"; empty: no TCP listener.
        public var tcpListen = ""
        /// PEM server certificate (chain) and key for the TCP listener.
        public var tlsCertificate = ""
        public var tlsKey = ""
        /// PEM CA bundle that client certificates must chain to.
        public var tlsClientCA = ""
        /// Client identities allowed on the TCP listener: a certificate's subject CN or one of its
        /// SAN DNS names / URIs must equal one of these. Required with TLS (an empty list is refused).
        public var allowedClients: [String] = []
        /// Calls one HTTP/2 connection may have in flight (advertised to clients as
        /// SETTINGS_MAX_CONCURRENT_STREAMS; a client queues the rest on its side).
        public var maxConcurrentStreams = 256
    }

    /// The task queues (docs/API.md, Tasks).
    public struct Tasks: Sendable, Equatable {
        /// Tasks running at once per queue.
        public var guestConcurrency = 4
        public var volumeConcurrency = 2
        public var cgroupConcurrency = 4
        public var burninConcurrency = 1
        /// Attempts of a task whose failure is transient (libvirt unreachable), the first included.
        public var maxAttempts = 3
        /// Backoff before the second attempt, doubling up to `retryMaxDelay`, seconds.
        public var retryBaseDelay = 1.0
        public var retryMaxDelay = 30.0
        /// Finished tasks (and their request ids) are kept this long, hours.
        public var retentionHours = 168.0
        /// On SIGTERM, how long running tasks get to finish before they are interrupted, seconds.
        public var drainTimeout = 30.0
    }

    /// The event stream.
    public struct Events: Sendable, Equatable {
        /// Events kept for controllers that reconnect (the newest N).
        public var retainCount = 100_000
        /// ... and no older than this, hours.
        public var retentionHours = 24.0
        /// Seconds between full state reports on the event stream.
        public var stateReportInterval = 60.0
    }

    /// Burn-in (docs/BURNIN.md): the network probe server other nodes' burn-ins measure against.
    public struct BurnIn: Sendable, Equatable {
        /// "HOST:PORT" the agent serves network probes on (what `nodeagent burnin net-server`
        /// does); empty: not served.
        public var netServerListen = ""
        /// Most parallel streams per direction a client may ask for.
        public var netServerMaxStreams = 128
        /// Longest test a client may ask for, seconds.
        public var netServerMaxDuration = 3600.0
    }

    public struct Log: Sendable, Equatable {
        /// trace, debug, info, notice, warning, error or critical.
        public var level = "info"
    }

    /// What applies when there is no configuration file: libvirt's test driver, state and the
    /// unix socket under `./.nodeagent`, no TCP listener.
    public static var embedded: AgentConfig {
        var config = AgentConfig()
        config.api.unixSocket = "./.nodeagent/nodeagent.sock"
        return config
    }

    public init() {}

    /// Connection options derived from the `[libvirt]` section.
    public var connectionOptions: ConnectionOptions {
        ConnectionOptions(
            keepAliveInterval: Int32(libvirt.keepaliveInterval),
            keepAliveCount: UInt32(libvirt.keepaliveCount),
            callTimeout: .milliseconds(Int64(libvirt.callTimeout * 1000)),
            reconnectMaxDelay: .milliseconds(Int64(libvirt.reconnectMaxDelay * 1000)))
    }

    /// Shutdown policy derived from the `[guests]` section.
    public var shutdownPolicy: ShutdownPolicy {
        ShutdownPolicy(
            grace: .milliseconds(Int64(guests.shutdownGrace * 1000)),
            retryInterval: .milliseconds(Int64(guests.shutdownRetryInterval * 1000)))
    }

    /// Loads the configuration: `path` if given (it must exist), else the default file if it
    /// exists, else the embedded default.
    public static func load(path: String?) throws(ConfigError) -> AgentConfig {
        if let path { return try parse(contentsOf: path) }
        if FileManager.default.fileExists(atPath: defaultPath) { return try parse(contentsOf: defaultPath) }
        return embedded
    }

    /// Reads and validates one file.
    public static func parse(contentsOf path: String) throws(ConfigError) -> AgentConfig {
        let text: String
        do throws(FileSystemError) {
            text = try LocalFiles.readText(path)
        } catch {
            throw ConfigError(file: path, key: nil, reason: "cannot read the file: \(error.reason)")
        }
        var config = try parse(text, file: path)
        config.source = path
        return config
    }
}

/// A configuration the agent refuses to start with.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// The dotted key (`libvirt.uri`), or `nil` when the whole file is at fault.
    public var key: String?
    public var reason: String

    public init(file: String, key: String?, reason: String) {
        self.file = file
        self.key = key
        self.reason = reason
    }

    public var description: String {
        if let key { return "\(file): \(key): \(reason)" }
        return "\(file): \(reason)"
    }
}
