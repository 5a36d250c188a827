import Foundation
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler writing structured entries to journald over its native protocol
/// (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/): one datagram per entry to
/// `/run/systemd/journal/socket`, each field `NAME=value\n`, or for a value containing a newline
/// `NAME\n` + 64-bit little-endian length + bytes + `\n`.
///
/// Fields: MESSAGE, PRIORITY (syslog levels: trace/debug 7, info 6, notice 5, warning 4, error 3,
/// critical 2), CODE_FILE, CODE_LINE, CODE_FUNC, SYSLOG_IDENTIFIER=nodeagent, LOGGER (the
/// logger's label), ERROR (when the event carries one), and one field per metadata key (the
/// metadata provider's, then the logger's, then the message's, later ones overriding earlier);
/// see `fieldName(forMetadataKey:)`.
///
/// An entry too large for a datagram goes through a sealed memfd passed with SCM_RIGHTS. The
/// socket is non-blocking: when journald does not take an entry at once (queue full, socket
/// missing), the entry is written to stderr as one line instead. Logging never crashes or blocks.
public struct JournalLogHandler: LogHandler {
    /// journald's native protocol socket.
    public static let defaultSocketPath = "/run/systemd/journal/socket"
    /// SYSLOG_IDENTIFIER of every entry.
    public static let syslogIdentifier = "nodeagent"

    public let label: String
    public let socketPath: String
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info

    private let transport: JournalTransport
    /// Where entries go that journald did not take (tests point it at a file).
    var fallbackDescriptor: Int32 = STDERR_FILENO

    public init(
        label: String, socketPath: String = JournalLogHandler.defaultSocketPath,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.socketPath = socketPath
        self.metadataProvider = metadataProvider
        self.transport = JournalTransport.shared(for: socketPath)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = mergedMetadata(event.metadata)
        let entry = Self.encode(fields(for: event, metadata: merged))
        if !transport.send(entry) {
            let line = LogLineFormatter.line(
                date: Date(), level: event.level, label: label, message: event.message.description,
                metadata: merged, error: event.error)
            writeFully(fallbackDescriptor, Array(line.utf8))
        }
    }

    /// The provider's metadata, then the handler's (the logger's), then the message's.
    func mergedMetadata(_ explicit: Logger.Metadata?) -> Logger.Metadata {
        var merged = metadataProvider?.get() ?? [:]
        merged.merge(metadata) { _, new in new }
        if let explicit { merged.merge(explicit) { _, new in new } }
        return merged
    }

    /// The journal fields of one entry, in order (own fields first, then metadata sorted by key).
    func fields(for event: LogEvent, metadata: Logger.Metadata) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("MESSAGE", event.message.description),
            ("PRIORITY", String(Self.priority(event.level))),
            ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)),
            ("CODE_FUNC", event.function),
            ("SYSLOG_IDENTIFIER", Self.syslogIdentifier),
            ("LOGGER", label),
        ]
        if let error = event.error { fields.append(("ERROR", "\(error)")) }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            fields.append((Self.fieldName(forMetadataKey: key), LogLineFormatter.text(value)))
        }
        return fields
    }

    /// Fields this handler sets itself; a metadata key mapping to one of them gets an "F_" prefix
    /// (metadata "message" becomes F_MESSAGE) instead of adding a second value to it.
    static let ownFields: Set<String> = [
        "MESSAGE", "PRIORITY", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "SYSLOG_IDENTIFIER", "LOGGER", "ERROR",
    ]

    /// A journal field name for a metadata key: uppercased, every character outside [A-Z0-9_]
    /// replaced by '_', and "F_" put before a name starting with '_' or a digit (journald drops
    /// such names, or reserves them as trusted fields), or equal to one of the handler's own
    /// fields; at most 64 characters. "guest.uuid" → GUEST_UUID, "task.id" → TASK_ID.
    public static func fieldName(forMetadataKey key: String) -> String {
        var name = String(
            String.UnicodeScalarView(
                key.uppercased().unicodeScalars.map { scalar in
                    switch scalar {
                    case "A"..."Z", "0"..."9", "_": scalar
                    default: "_"
                    }
                }))
        if name.isEmpty || name.first == "_" || name.first!.isNumber || ownFields.contains(name) {
            name = "F_" + name
        }
        return String(name.prefix(64))
    }

    /// The syslog priority of a level.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// An entry in the native protocol's wire format.
    static func encode(_ fields: [(String, String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (name, value) in fields {
            bytes.append(contentsOf: name.utf8)
            if value.utf8.contains(UInt8(ascii: "\n")) {
                bytes.append(UInt8(ascii: "\n"))
                var length = UInt64(value.utf8.count).littleEndian
                withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
                bytes.append(contentsOf: value.utf8)
            } else {
                bytes.append(UInt8(ascii: "="))
                bytes.append(contentsOf: value.utf8)
            }
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }
}

/// The non-blocking socket to one journal address, shared by every handler writing there.
final class JournalTransport: Sendable {
    let path: String
    private let address: UnixSocketAddress?
    private let socket: UnixDatagramSocket?

    private static let transports = Mutex<[String: JournalTransport]>([:])

    static func shared(for path: String) -> JournalTransport {
        transports.withLock { transports in
            if let existing = transports[path] { return existing }
            let created = JournalTransport(path: path)
            transports[path] = created
            return created
        }
    }

    private init(path: String) {
        self.path = path
        address = try? UnixSocketAddress(path, operation: "send to the journal")
        socket = try? UnixDatagramSocket(nonBlocking: true, path: path)
    }

    /// Sends one entry: as a datagram, or through a sealed memfd when it is too large for one.
    /// False when journald did not take it.
    func send(_ entry: [UInt8]) -> Bool {
        guard let socket, let address else { return false }
        switch socket.send(entry, to: address) {
        case 0: return true
        case EMSGSIZE, ENOBUFS: return sendThroughMemfd(entry, socket: socket, address: address)
        default: return false
        }
    }

    private func sendThroughMemfd(_ entry: [UInt8], socket: UnixDatagramSocket, address: UnixSocketAddress) -> Bool {
        guard let memfdCreate = Memfd.create else { return false }
        let fd = memfdCreate("journal-entry", Memfd.cloexec | Memfd.allowSealing)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard writeFully(fd, entry),
            fcntl(fd, Memfd.addSeals, Memfd.sealShrink | Memfd.sealGrow | Memfd.sealWrite | Memfd.sealSeal) == 0
        else { return false }
        return socket.send(fileDescriptor: fd, to: address) == 0
    }
}

/// memfd_create and its sealing constants. Glibc declares them only under _GNU_SOURCE, which the
/// Swift Glibc module does not define, so the function is looked up at run time (glibc ≥ 2.27).
enum Memfd {
    typealias Create = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32

    static let create: Create? = dlsym(nil, "memfd_create").map { unsafeBitCast($0, to: Create.self) }

    static let cloexec: UInt32 = 0x0001  // MFD_CLOEXEC
    static let allowSealing: UInt32 = 0x0002  // MFD_ALLOW_SEALING
    static let addSeals: Int32 = 1024 + 9  // F_ADD_SEALS (F_LINUX_SPECIFIC_BASE + 9)
    static let sealSeal: Int32 = 0x0001
    static let sealShrink: Int32 = 0x0002
    static let sealGrow: Int32 = 0x0004
    static let sealWrite: Int32 = 0x0008
}
