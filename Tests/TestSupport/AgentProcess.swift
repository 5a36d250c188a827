import AgentAPI
public import Foundation
public import NodeAgent

/// A real `nodeagent serve` process for end-to-end tests: its own state directory and unix
/// socket, stdout/stderr in files, stopped by PID (SIGTERM, or SIGKILL to simulate a crash).
public final class AgentProcess: @unchecked Sendable {
    /// The executable built beside the test bundle, or `NODEAGENT_AGENT_BINARY` (a release
    /// build, for the load figures of docs/RELIABILITY.md).
    public static let binary =
        ProcessInfo.processInfo.environment["NODEAGENT_AGENT_BINARY"]
        ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("nodeagent").path

    public let directory: String
    public let stateDirectory: String
    public let socketPath: String
    public let logPath: String
    public let arguments: [String]
    public let environment: [String: String]
    /// A command the agent is started through (e.g. `PrivateTmpfs.launcher`); empty: none.
    public let launcher: [String]
    public private(set) var pid: pid_t?

    public var endpoint: AgentEndpoint { .unix(path: socketPath) }

    /// Starts the agent and waits until its API answers. `config` (TOML) is written to a file
    /// and passed with --config; without it the embedded default applies (test:///default).
    public init(
        directory: String, config: String? = nil, arguments extra: [String] = [], environment: [String: String] = [:],
        launcher: [String] = [], socket: String? = nil, waitUntilReady: Bool = true
    ) async throws {
        self.directory = directory
        self.launcher = launcher
        stateDirectory = directory + "/state"
        socketPath = socket ?? directory + "/agent.sock"
        logPath = directory + "/agent.log"
        var arguments = ["serve", "--state-dir", stateDirectory, "--socket", socketPath, "--log-level", "debug"]
        if let config {
            let path = directory + "/nodeagent.toml"
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            arguments += ["--config", path]
        }
        self.arguments = arguments + extra
        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"] { env[key] = nil }
        env.merge(environment) { _, new in new }
        self.environment = env
        try start()
        if waitUntilReady { try await ready() }
    }

    /// Starts the process again (after `kill` or `stop`), with the same state.
    public func start() throws {
        if let program = launcher.first {
            pid = try spawn(
                program, Array(launcher.dropFirst()) + [Self.binary] + arguments, stdout: logPath + ".out", stderr: logPath,
                environment: environment)
        } else {
            pid = try spawn(Self.binary, arguments, stdout: logPath + ".out", stderr: logPath, environment: environment)
        }
    }

    /// Waits until the API answers a health check (or the process dies).
    public func ready(timeout: Duration = .seconds(90)) async throws {
        try await waitUntil("nodeagent serve answers on \(socketPath)", timeout: timeout, poll: .milliseconds(100)) {
            if let pid, waitpid(pid, nil, WNOHANG) == pid {
                self.pid = nil
                throw CommandFailed(command: "nodeagent serve", status: -1, stderr: log)
            }
            guard FileManager.default.fileExists(atPath: socketPath) else { return false }
            do {
                _ = try await AgentClient.with(endpoint) { try await $0.node.getHealth(Nodeagent_V1_GetHealthRequest()) }
                return true
            } catch {
                return false
            }
        }
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Runs `body` with a client connected to this agent.
    public func client<T: Sendable>(_ body: (AgentClient) async throws -> T) async throws -> T {
        try await AgentClient.with(endpoint, body)
    }

    /// Sends `signal` and waits for the process to exit; returns its wait status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) -> Int32 {
        guard let pid else { return 0 }
        kill(pid, signal)
        let status = reap(pid)
        self.pid = nil
        return status
    }

    /// SIGKILL: the agent dies without any chance to clean up, like a crash.
    public func crash() { stop(signal: SIGKILL) }

    deinit { stop(signal: SIGKILL) }
}

/// A fresh request id.
public func requestID(_ label: String = "test") -> String { "\(label)-\(UUID().uuidString.lowercased())" }
