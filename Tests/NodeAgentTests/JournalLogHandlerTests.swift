import Foundation
import Logging
import TestSupport
import Testing

@testable import NodeAgent

#if canImport(Glibc)
    import Glibc
#endif

@Suite("journald native protocol handler")
struct JournalLogHandlerTests {
    @Test func metadataKeysBecomeJournalFieldNames() {
        #expect(JournalLogHandler.fieldName(forMetadataKey: "guest.uuid") == "GUEST_UUID")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "task.id") == "TASK_ID")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "request.id") == "REQUEST_ID")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "libvirt-error code") == "LIBVIRT_ERROR_CODE")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "9lives") == "F_9LIVES")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "_private") == "F__PRIVATE")
        #expect(JournalLogHandler.fieldName(forMetadataKey: ".hidden") == "F__HIDDEN")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "größe") == "GR_SSE")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "") == "F_")
        // Own fields are not given a second value by metadata.
        #expect(JournalLogHandler.fieldName(forMetadataKey: "message") == "F_MESSAGE")
        #expect(JournalLogHandler.fieldName(forMetadataKey: "priority") == "F_PRIORITY")
        #expect(JournalLogHandler.fieldName(forMetadataKey: String(repeating: "k", count: 100)).count == 64)
    }

    @Test func everyLevelArrivesWithItsPriority() async throws {
        try await withJournal { receiver, path in
            var logger = Logger(label: "nodeagent.levels") { JournalLogHandler(label: $0, socketPath: path) }
            logger.logLevel = .trace
            let levels: [(Logger.Level, String)] = [
                (.trace, "7"), (.debug, "7"), (.info, "6"), (.notice, "5"), (.warning, "4"), (.error, "3"),
                (.critical, "2"),
            ]
            for (level, priority) in levels {
                logger.log(level: level, "at \(level)")
                let entry = try await receiver.nextEntry()
                #expect(entry["MESSAGE"] == ["at \(level)"])
                #expect(entry["PRIORITY"] == [priority])
            }
        }
    }

    @Test func standardFieldsAndMetadata() async throws {
        try await withJournal { receiver, path in
            let provider = Logger.MetadataProvider { ["request.id": "from-provider", "node": "n1"] }
            var logger = Logger(label: "nodeagent.guests") {
                JournalLogHandler(label: $0, socketPath: path, metadataProvider: provider)
            }
            logger[metadataKey: "guest.uuid"] = "4b1c7b2e-0000-4000-8000-000000000001"
            logger[metadataKey: "task.id"] = "from-logger"
            logger[metadataKey: "node"] = "n2"
            let line: UInt = #line + 1
            logger.info("guest started", metadata: ["task.id": "42", "vcpus": .stringConvertible(4)])

            let entry = try await receiver.nextEntry()
            #expect(entry["MESSAGE"] == ["guest started"])
            #expect(entry["PRIORITY"] == ["6"])
            #expect(entry["CODE_FILE"] == ["\(#fileID)"])
            #expect(entry["CODE_LINE"] == ["\(line)"])
            #expect(entry["CODE_FUNC"] == ["\(#function)"])
            #expect(entry["SYSLOG_IDENTIFIER"] == ["nodeagent"])
            #expect(entry["LOGGER"] == ["nodeagent.guests"])
            #expect(entry["GUEST_UUID"] == ["4b1c7b2e-0000-4000-8000-000000000001"])
            // The message's metadata overrides the logger's, which overrides the provider's.
            #expect(entry["TASK_ID"] == ["42"])
            #expect(entry["NODE"] == ["n2"])
            #expect(entry["REQUEST_ID"] == ["from-provider"])
            #expect(entry["VCPUS"] == ["4"])
        }
    }

    @Test func multiLineValuesUseTheBinarySafeForm() async throws {
        try await withJournal { receiver, path in
            let logger = Logger(label: "nodeagent.test") { JournalLogHandler(label: $0, socketPath: path) }
            let message = "define failed:\nerror: XML error\n  at line 3\n"
            logger.error("\(message)", metadata: ["domain.xml": "<domain>\n</domain>", "plain": "a=b"])
            let datagram = try await receiver.next()
            let entry = try JournalEntry(datagram.bytes)
            #expect(entry["MESSAGE"] == [message])
            #expect(entry["DOMAIN_XML"] == ["<domain>\n</domain>"])
            #expect(entry["PLAIN"] == ["a=b"])
            // On the wire: NAME\n, 64-bit little-endian length, the bytes, \n.
            var length = UInt64(message.utf8.count).littleEndian
            let expected = Array("MESSAGE\n".utf8) + withUnsafeBytes(of: &length) { Array($0) } + Array(message.utf8) + [10]
            #expect(datagram.bytes.starts(with: expected))
        }
    }

    @Test func anOversizedEntryArrivesThroughASealedMemfd() async throws {
        try await withJournal { receiver, path in
            let logger = Logger(label: "nodeagent.big") { JournalLogHandler(label: $0, socketPath: path) }
            let big = String(repeating: "0123456789abcdef", count: 300 * 1024 / 16)
            logger.warning("\(big)", metadata: ["task.id": "7"])
            let datagram = try await receiver.next()
            #expect(datagram.bytes.isEmpty)
            #expect(datagram.descriptors.count == 1)
            let fd = try #require(datagram.descriptors.first)
            defer { close(fd) }
            // Sealed against writes and resizing, as journald expects of a memfd.
            let seals = fcntl(fd, 1024 + 10)  // F_GET_SEALS
            #expect(seals >= 0 && seals & 0x000f == 0x000f)
            let entry = try JournalEntry(readAll(fd))
            #expect(entry["MESSAGE"]?.first?.utf8.count == 300 * 1024)
            #expect(entry["MESSAGE"] == [big])
            #expect(entry["PRIORITY"] == ["4"])
            #expect(entry["TASK_ID"] == ["7"])
        }
    }

    @Test func entriesJournaldDoesNotTakeGoToTheFallbackAsLines() async throws {
        try await withTemporaryDirectory("journal") { directory in
            let fallback = open(directory.file("stderr"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            defer { close(fallback) }
            var handler = JournalLogHandler(label: "nodeagent.fallback", socketPath: directory.file("missing.sock"))
            handler.fallbackDescriptor = fallback
            let logger = Logger(label: "nodeagent.fallback") { [handler] _ in handler }
            logger.warning("journal gone\nsecond line", metadata: ["guest.uuid": "u-1", "note": "two words"])
            let text = try String(contentsOfFile: directory.file("stderr"), encoding: .utf8)
            #expect(text.hasSuffix(" warning nodeagent.fallback: journal gone\\nsecond line guest.uuid=u-1 note=\"two words\"\n"))
            #expect(text.split(separator: "\n").count == 1)
        }
    }

    @Test func aFullQueueNeverBlocksTheLogger() async throws {
        try await withJournal { receiver, path in
            try await withTemporaryDirectory("fallback") { directory in
                let fallback = open(directory.file("stderr"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                defer { close(fallback) }
                var handler = JournalLogHandler(label: "nodeagent.flood", socketPath: path)
                handler.fallbackDescriptor = fallback
                let logger = Logger(label: "nodeagent.flood") { [handler] _ in handler }
                // Nobody reads while these are sent: the receive queue (net.unix.max_dgram_qlen,
                // 10 by default) fills and the rest must fall back at once instead of waiting.
                let total = 200
                for index in 0..<total { logger.info("entry \(index)") }
                let received = receiver.drain().count
                let fellBack = try String(contentsOfFile: directory.file("stderr"), encoding: .utf8)
                    .split(separator: "\n").count
                #expect(received > 0)
                #expect(fellBack > 0)
                #expect(received + fellBack == total)
            }
        }
    }

    @Test func journalStreamMatchesOnlyTheSameDeviceAndInode() throws {
        try withTemporaryFile { fd, other in
            var info = stat()
            #expect(fstat(fd, &info) == 0)
            let matching = "\(info.st_dev):\(info.st_ino)"
            #expect(LogSetup.journalStreamMatches(matching, descriptor: fd))
            #expect(!LogSetup.journalStreamMatches(matching, descriptor: other))
            #expect(!LogSetup.journalStreamMatches("\(info.st_dev):\(info.st_ino + 1)", descriptor: fd))
            #expect(!LogSetup.journalStreamMatches("\(info.st_dev + 1):\(info.st_ino)", descriptor: fd))
            #expect(!LogSetup.journalStreamMatches("", descriptor: fd))
            #expect(!LogSetup.journalStreamMatches("\(info.st_ino)", descriptor: fd))
            #expect(!LogSetup.journalStreamMatches("a:b", descriptor: fd))
            #expect(!LogSetup.journalStreamMatches(matching, descriptor: -1))

            #expect(
                LogSetup.destination(environment: ["JOURNAL_STREAM": matching], standardError: fd)
                    == .journal(socketPath: "/run/systemd/journal/socket"))
            #expect(LogSetup.destination(environment: ["JOURNAL_STREAM": matching], standardError: other) == .stderr)
            #expect(LogSetup.destination(environment: [:], standardError: fd) == .stderr)
            #expect(
                LogSetup.destination(environment: ["NODEAGENT_JOURNAL_SOCKET": "/tmp/j.sock"], standardError: other)
                    == .journal(socketPath: "/tmp/j.sock"))
        }
    }

    @Test func handlersCarryTheLevel() {
        let journal = LogSetup.makeHandler(label: "a", level: .debug, destination: .journal(socketPath: "/tmp/x"))
        #expect(journal is JournalLogHandler)
        #expect(journal.logLevel == .debug)
        let stderr = LogSetup.makeHandler(label: "a", level: .warning, destination: .stderr)
        #expect(stderr is StderrLogHandler)
        #expect(stderr.logLevel == .warning)
    }

    @Test func stderrLineFormat() {
        let date = Date(timeIntervalSince1970: 1_738_324_800.125)  // 2025-01-31T12:00:00.125Z
        let line = LogLineFormatter.line(
            date: date, level: .notice, label: "nodeagent.serve", message: "listening",
            metadata: ["listen": "unix:/run/nodeagent/nodeagent.sock", "peers": "a b", "q": "say \"hi\""])
        #expect(
            line == "2025-01-31T12:00:00.125Z notice nodeagent.serve: listening"
                + " listen=unix:/run/nodeagent/nodeagent.sock peers=\"a b\" q=\"say \\\"hi\\\"\"\n")
        #expect(LogLineFormatter.timestamp(Date(timeIntervalSince1970: 5.007)) == "1970-01-01T00:00:05.007Z")
    }
}

// MARK: - Helpers

/// A parsed native-protocol entry: every field's values in order.
struct JournalEntry {
    var fields: [(String, String)] = []

    subscript(name: String) -> [String]? {
        let values = fields.filter { $0.0 == name }.map(\.1)
        return values.isEmpty ? nil : values
    }

    struct Malformed: Error, CustomStringConvertible {
        var offset: Int
        var description: String { "malformed journal entry at byte \(offset)" }
    }

    init(_ bytes: [UInt8]) throws {
        var index = 0
        while index < bytes.count {
            guard let end = bytes[index...].firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == 10 }) else {
                throw Malformed(offset: index)
            }
            let name = String(decoding: bytes[index..<end], as: UTF8.self)
            if bytes[end] == UInt8(ascii: "=") {
                guard let newline = bytes[(end + 1)...].firstIndex(of: 10) else { throw Malformed(offset: end) }
                fields.append((name, String(decoding: bytes[(end + 1)..<newline], as: UTF8.self)))
                index = newline + 1
            } else {
                let start = end + 1 + 8
                guard start <= bytes.count else { throw Malformed(offset: end) }
                var length: UInt64 = 0
                for (shift, byte) in bytes[(end + 1)..<start].enumerated() { length |= UInt64(byte) << (8 * shift) }
                let stop = start + Int(length)
                guard stop < bytes.count, bytes[stop] == 10 else { throw Malformed(offset: start) }
                fields.append((name, String(decoding: bytes[start..<stop], as: UTF8.self)))
                index = stop + 1
            }
        }
    }
}

extension DatagramReceiver {
    /// The next entry, sent as a datagram.
    func nextEntry() async throws -> JournalEntry {
        try JournalEntry(await next().bytes)
    }
}

func withJournal(_ body: (DatagramReceiver, String) async throws -> Void) async throws {
    try await withTemporaryDirectory("journal") { directory in
        let path = directory.file("journal.sock")
        let receiver = try DatagramReceiver(address: path)
        try await body(receiver, path)
    }
}

/// Everything in a file, read from its start whatever its offset.
func readAll(_ fd: Int32) throws -> [UInt8] {
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw ReceiverError(what: "fstat", code: errno) }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + offset, $0.count - offset, off_t(offset)) }
        guard n > 0 else { throw ReceiverError(what: "pread", code: errno) }
        offset += n
    }
    return bytes
}

/// Two open descriptors of two different temporary files.
func withTemporaryFile(_ body: (Int32, Int32) throws -> Void) throws {
    let directory = try TemporaryDirectory("stream")
    defer { directory.remove() }
    let first = open(directory.file("a"), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    let second = open(directory.file("b"), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    defer {
        close(first)
        close(second)
    }
    try body(first, second)
}
