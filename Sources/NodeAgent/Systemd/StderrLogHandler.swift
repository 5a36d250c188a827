import Foundation
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler printing one line per entry to stderr:
/// `2025-01-31T12:00:00.123Z info nodeagent.guests: message key=value ...`
/// (UTC timestamp, metadata sorted by key; newlines in the message and values escaped as `\n`,
/// values with spaces, quotes or '=' quoted). Each line is written with one write(2).
public struct StderrLogHandler: LogHandler {
    public let label: String
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadataProvider?.get() ?? [:]
        merged.merge(metadata) { _, new in new }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        let line = LogLineFormatter.line(
            date: Date(), level: event.level, label: label, message: event.message.description,
            metadata: merged, error: event.error)
        writeFully(STDERR_FILENO, Array(line.utf8))
    }
}

/// The one-line text form of a log entry (stderr, and the journal handler's fallback).
enum LogLineFormatter {
    static func line(
        date: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata,
        error: (any Error)? = nil
    ) -> String {
        var line = "\(timestamp(date)) \(level.rawValue) \(label): \(escapeNewlines(message))"
        var pairs = metadata.sorted { $0.key < $1.key }.map { ($0.key, text($0.value)) }
        if let error { pairs.append(("error", "\(error)")) }
        for (key, value) in pairs {
            line += " \(key)=\(quoted(value))"
        }
        return line + "\n"
    }

    /// A metadata value as text: strings as they are, others by their description.
    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        default: value.description
        }
    }

    /// RFC 3339 in UTC with milliseconds.
    static func timestamp(_ date: Date) -> String {
        let total = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(total / 1000)
        let milliseconds = Int(total % 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }

    static func escapeNewlines(_ text: String) -> String {
        text.contains(where: \.isNewline)
            ? text.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
            : text
    }

    /// The value as is when it is a plain word, else in double quotes with '"' and '\' escaped.
    static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && !value.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.isNewline }
        if plain { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escapeNewlines(escaped))\""
    }
}
