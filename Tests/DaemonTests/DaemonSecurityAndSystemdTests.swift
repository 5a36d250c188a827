import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import TestSupport
import Testing

@Suite("nodeagent serve: mutual TLS, sd_notify, journald", .serialized)
struct DaemonSecurityAndSystemdTests {
    @Test func theTCPListenerRequiresAnAllowedClientCertificate() async throws {
        try await withTemporaryDirectory { dir in
            let pki = try TestCertificates(directory: dir.path)
            let controller = try pki.client("controller")
            let byURI = try pki.client("someone", uri: "spiffe://cloud/controller-2")
            let intruder = try pki.client("intruder")
            let port = try freeLoopbackPort()
            let agent = try await AgentProcess(
                directory: dir.path,
                config: """
                    [libvirt]
                    uri = "test:///default"
                    [api]
                    tcp_listen = "127.0.0.1:\(port)"
                    tls_certificate = "\(pki.serverCertificate)"
                    tls_key = "\(pki.serverKey)"
                    tls_client_ca = "\(pki.caCertificate)"
                    allowed_clients = ["controller", "spiffe://cloud/controller-2"]
                    """)
            func health(_ endpoint: AgentEndpoint) async throws -> Nodeagent_V1_Health {
                try await AgentClient.with(endpoint) { try await $0.node.getHealth(Nodeagent_V1_GetHealthRequest()) }
            }
            func tls(_ identity: (certificate: String, key: String)) -> AgentEndpoint {
                .tls(host: "localhost", port: port, certificate: identity.certificate, key: identity.key, ca: pki.caCertificate)
            }
            #expect(try await health(tls(controller)).status == .serving)
            #expect(try await health(tls(byURI)).status == .serving, "a SAN URI on the allow-list is accepted")
            let outside = await rpcError { try await health(tls(intruder)) }
            #expect(outside?.code == .permissionDenied && outside?.message.contains("intruder") == true, "\(String(describing: outside))")
            // No client certificate at all: the handshake fails.
            let anonymous = await rpcError { try await health(.insecure(host: "127.0.0.1", port: port)) }
            #expect(anonymous?.code == .unavailable, "\(String(describing: anonymous))")
            #expect(agent.log.contains("refused a client outside api.allowed_clients"))

            // SIGHUP reloads the allow-list: the intruder is now allowed, "controller" no longer.
            try """
                [libvirt]
                uri = "test:///default"
                [api]
                tcp_listen = "127.0.0.1:\(port)"
                tls_certificate = "\(pki.serverCertificate)"
                tls_key = "\(pki.serverKey)"
                tls_client_ca = "\(pki.caCertificate)"
                allowed_clients = ["intruder"]
                """.write(toFile: dir.file("nodeagent.toml"), atomically: true, encoding: .utf8)
            kill(try #require(agent.pid), SIGHUP)
            try await waitUntil("the reload is logged") { agent.log.contains("reloaded") }
            #expect(try await health(tls(intruder)).status == .serving)
            #expect(await rpcError { try await health(tls(controller)) }?.code == .permissionDenied)
        }
    }

    @Test func plaintextTCPNeedsTheInsecureFlagAndWarns() async throws {
        try await withTemporaryDirectory { dir in
            let port = try freeLoopbackPort()
            // Refused without --insecure: a TCP listener without TLS settings.
            let refused = try execute(
                AgentProcess.binary, ["serve", "--state-dir", dir.file("s"), "--socket", dir.file("s.sock"), "--listen", "127.0.0.1:\(port)"])
            #expect(refused.status == 65 && refused.stderr.contains("--insecure"), "\(refused)")
            let agent = try await AgentProcess(directory: dir.path, arguments: ["--listen", "127.0.0.1:\(port)", "--insecure"])
            let health = try await AgentClient.with(.insecure(host: "127.0.0.1", port: port)) {
                try await $0.node.getHealth(Nodeagent_V1_GetHealthRequest())
            }
            #expect(health.status == .serving)
            #expect(agent.log.contains("PLAINTEXT"))
        }
    }

    @Test func sdNotifyMessagesArriveInOrder() async throws {
        try await withTemporaryDirectory { dir in
            let notify = try DatagramListener(path: dir.file("notify.sock"))
            defer { notify.close() }
            let agent = try await AgentProcess(
                directory: dir.path, config: "[libvirt]\nuri = \"test:///default\"\n",
                environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"], waitUntilReady: false)
            var messages: [String] = []
            func collect() { messages += notify.drain().map { String(decoding: $0, as: UTF8.self) } }
            try await waitUntil("READY=1 arrives", timeout: .seconds(90)) {
                collect()
                return messages.contains { $0.contains("READY=1") }
            }
            // READY=1 only once the socket is bound: a client gets an answer at once.
            let health = try await agent.client { try await $0.node.getHealth(Nodeagent_V1_GetHealthRequest()) }
            #expect(health.status == .serving)
            let ready = try #require(messages.firstIndex { $0.contains("READY=1") })
            #expect(messages[ready].contains("STATUS=") && messages[ready].contains("guests"), "\(messages[ready])")
            #expect(messages[..<ready].allSatisfy { !$0.contains("WATCHDOG=1") && !$0.contains("STOPPING=1") })
            try await waitUntil("WATCHDOG=1 pings at half of WATCHDOG_USEC", timeout: .seconds(20)) {
                collect()
                return messages.filter { $0.contains("WATCHDOG=1") }.count >= 2
            }
            kill(try #require(agent.pid), SIGHUP)
            try await waitUntil("RELOADING=1 then READY=1", timeout: .seconds(20)) {
                collect()
                guard let reloading = messages.firstIndex(where: { $0.contains("RELOADING=1") }) else { return false }
                #expect(messages[reloading].contains("MONOTONIC_USEC="))
                return messages[(reloading + 1)...].contains { $0.contains("READY=1") }
            }
            #expect(agent.stop() == 0)
            collect()
            let stopping = try #require(messages.lastIndex { $0.contains("STOPPING=1") }, "\(messages)")
            #expect(messages[(stopping + 1)...].allSatisfy { !$0.contains("READY=1") })
            #expect(messages.firstIndex { $0.contains("STOPPING=1") }! > messages.lastIndex { $0.contains("RELOADING=1") }!)
        }
    }

    @Test func logsReachTheJournalWithStructuredFields() async throws {
        try await withTemporaryDirectory { dir in
            let journal = try DatagramListener(path: dir.file("journal.sock"))
            defer { journal.close() }
            // JOURNAL_STREAM names the agent's stderr (the file it is spawned with): dev:ino.
            let stderrPath = dir.file("agent.log")
            #expect(FileManager.default.createFile(atPath: stderrPath, contents: nil))
            var info = stat()
            #expect(stat(stderrPath, &info) == 0)
            let agent = try await AgentProcess(
                directory: dir.path,
                environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)", "NODEAGENT_JOURNAL_SOCKET": journal.path])
            let id = requestID("journal")
            let task = try await agent.client { client in
                try await client.wait(for: try await client.guests.define(defineRequest(testSpec("journal-1"), id: id)))
            }
            #expect(task.state == .succeeded)
            var entries: [[String: String]] = []
            do {
                try await waitUntil("a journal entry names the task and request", timeout: .seconds(20)) {
                    entries += journal.drain().map(parseJournalEntry)
                    return entries.contains { $0["TASK_ID"] == task.id && $0["REQUEST_ID"] == id }
                }
            } catch {
                Issue.record("\(error); entries: \(entries.suffix(5)); stderr: \(agent.log.suffix(500))")
                throw error
            }
            let entry = try #require(entries.first { $0["TASK_ID"] == task.id && $0["REQUEST_ID"] == id })
            #expect(entry["PRIORITY"] == "6" && entry["SYSLOG_IDENTIFIER"] == "nodeagent")
            #expect(entry["MESSAGE"]?.isEmpty == false && entry["CODE_FILE"]?.hasSuffix(".swift") == true && Int(entry["CODE_LINE"] ?? "") != nil)
            #expect(entries.contains { $0["PRIORITY"] == "6" && $0["MESSAGE"]?.hasPrefix("ready") == true })
            #expect(entries.contains { $0["GUEST_UUID"] == task.target && $0["TASK_ID"] == task.id }, "guest tasks carry GUEST_UUID")
            // Nothing but the journal: stderr stays empty while the journal takes the logs.
            #expect(agent.log.isEmpty, "stderr: \(agent.log.prefix(500))")
        }
    }
}

/// Parses one native-protocol datagram (FIELD=value lines, or the binary-safe form).
func parseJournalEntry(_ bytes: [UInt8]) -> [String: String] {
    var fields: [String: String] = [:]
    var index = 0
    while index < bytes.count {
        guard let end = bytes[index...].firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "=") }) else { break }
        let name = String(decoding: bytes[index..<end], as: UTF8.self)
        if bytes[end] == UInt8(ascii: "=") {
            let lineEnd = bytes[end...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            fields[name] = String(decoding: bytes[(end + 1)..<lineEnd], as: UTF8.self)
            index = lineEnd + 1
        } else {
            guard end + 9 <= bytes.count else { break }
            var length = 0
            for shift in 0..<8 { length |= Int(bytes[end + 1 + shift]) << (8 * shift) }
            let start = end + 9
            guard start + length <= bytes.count else { break }
            fields[name] = String(decoding: bytes[start..<(start + length)], as: UTF8.self)
            index = start + length + 1
        }
    }
    return fields
}
