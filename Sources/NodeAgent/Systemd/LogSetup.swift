public import Foundation
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Chooses where the process logs and installs it as swift-log's backend.
///
/// - Under systemd with stderr connected to the journal (`JOURNAL_STREAM` equals the
///   `<st_dev>:<st_ino>` of fd 2, as systemd sets it for `StandardError=journal`): structured
///   entries to journald (`JournalLogHandler`).
/// - Otherwise (a terminal, a pipe, a file, stderr redirected by the service): one line per
///   entry on stderr (`StderrLogHandler`).
///
/// `NODEAGENT_JOURNAL_SOCKET=/path` — for tests only — forces the journal handler writing to
/// that socket instead of journald's, whatever JOURNAL_STREAM says, so a test can receive the
/// entries of a `nodeagent` process it started.
public enum LogSetup {
    public enum Destination: Sendable, Equatable {
        case journal(socketPath: String)
        case stderr
    }

    /// Bootstraps swift-log with the handler `destination(environment:)` picks, at `level`.
    /// Call once per process (swift-log refuses a second bootstrap). A metadata provider (e.g.
    /// task-local request ids) adds its metadata to every entry.
    public static func bootstrap(
        level: Logger.Level, environment: [String: String] = ProcessInfo.processInfo.environment,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        let destination = destination(environment: environment)
        LoggingSystem.bootstrap(
            { label, provider in
                makeHandler(label: label, level: level, destination: destination, metadataProvider: provider)
            }, metadataProvider: metadataProvider)
    }

    /// A handler for `destination`.
    public static func makeHandler(
        label: String, level: Logger.Level, destination: Destination,
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> any LogHandler {
        switch destination {
        case .journal(let socketPath):
            var handler = JournalLogHandler(label: label, socketPath: socketPath, metadataProvider: metadataProvider)
            handler.logLevel = level
            return handler
        case .stderr:
            var handler = StderrLogHandler(label: label, metadataProvider: metadataProvider)
            handler.logLevel = level
            return handler
        }
    }

    /// Where to log given the environment and the descriptor that is stderr.
    public static func destination(
        environment: [String: String], standardError: Int32 = STDERR_FILENO
    ) -> Destination {
        if let socket = environment["NODEAGENT_JOURNAL_SOCKET"], !socket.isEmpty {
            return .journal(socketPath: socket)
        }
        if let stream = environment["JOURNAL_STREAM"], journalStreamMatches(stream, descriptor: standardError) {
            return .journal(socketPath: JournalLogHandler.defaultSocketPath)
        }
        return .stderr
    }

    /// Whether `value` (JOURNAL_STREAM's "<device>:<inode>", decimal) names the file `descriptor`
    /// is open on. False when it does not parse or fstat fails.
    public static func journalStreamMatches(_ value: String, descriptor: Int32) -> Bool {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
