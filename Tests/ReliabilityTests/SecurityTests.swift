import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import TestSupport
import Testing

/// Who may call the agent, and what it says about them (RELIABILITY.md, "Security"): every kind
/// of client certificate that must be refused is refused, the unix socket admits only its
/// owner and group, nothing secret reaches the logs or an error, and a forced change to a
/// protected guest is logged with the caller's identity.
@Suite("security: certificates, the unix socket, secrets, the audit trail", .serialized)
struct SecurityTests {
    @Test func onlyAnAllowedCertificateOfTheCAGetsIn() async throws {
        try await withTemporaryDirectory("security") { dir in
            let pki = try TestCertificates(directory: dir.path)
            let foreignDirectory = dir.file("foreign-ca")
            try FileManager.default.createDirectory(atPath: foreignDirectory, withIntermediateDirectories: true)
            let foreign = try TestCertificates(directory: foreignDirectory)
            let port = try freeLoopbackPort()
            let agent = try await AgentProcess(directory: dir.path, config: Self.tlsConfig(pki, port: port, allowed: ["controller"]))
            defer { agent.stop() }
            func health(_ identity: (certificate: String, key: String)?) async throws -> Nodeagent_V1_Health {
                let endpoint: AgentEndpoint =
                    identity.map {
                        .tls(host: "localhost", port: port, certificate: $0.certificate, key: $0.key, ca: pki.caCertificate)
                    } ?? .insecure(host: "127.0.0.1", port: port)
                return try await AgentClient.with(endpoint) { try await $0.node.getHealth(Nodeagent_V1_GetHealthRequest()) }
            }
            #expect(try await health(try pki.client("controller")).status == .serving)
            // Refused in the TLS handshake: the client sees UNAVAILABLE and no call is made.
            let refusedInHandshake: [(String, (certificate: String, key: String)?)] = [
                ("no certificate (plaintext)", nil),
                ("an expired certificate of the CA", try pki.expiredClient("controller")),
                ("a self-signed certificate naming an allowed identity", try pki.selfSignedClient("controller")),
                ("a certificate of another CA naming an allowed identity", try foreign.client("controller")),
            ]
            for (what, identity) in refusedInHandshake {
                let error = await rpcError { try await health(identity) }
                #expect(error?.code == .unavailable, "\(what): \(String(describing: error))")
            }
            // A valid certificate outside the allow-list: every call PERMISSION_DENIED, logged.
            let outside = await rpcError { try await health(try pki.client("intruder")) }
            #expect(outside?.code == .permissionDenied && outside?.message.contains("intruder") == true, "\(String(describing: outside))")
            #expect(agent.log.contains("refused a client outside api.allowed_clients"))
            #expect(agent.pid != nil, "the agent serves on")
            #expect(try await health(try pki.client("controller")).status == .serving)
        }
    }

    /// The socket is 0660 root:root in a 0750 directory: another user cannot even connect.
    @Test func theUnixSocketAdmitsOnlyItsOwnerAndGroup() async throws {
        try await withTemporaryDirectory("security") { dir in
            // The socket in a directory the agent creates, world-traversable above it.
            chmod(dir.path, 0o755)
            let socket = dir.file("run/nodeagent.sock")
            let agent = try await AgentProcess(directory: dir.path, socket: socket)
            defer { agent.stop() }
            try await waitUntil("the socket exists") { FileManager.default.fileExists(atPath: socket) }
            var info = stat()
            #expect(stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o660, "socket mode \(String(info.st_mode & 0o777, radix: 8))")
            #expect(stat(dir.file("run"), &info) == 0 && info.st_mode & 0o777 == 0o750, "directory mode \(String(info.st_mode & 0o777, radix: 8))")
            let probe = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('connected')\nexcept OSError as e: print(e.strerror)\n"
            let asNobody = try execute(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", "/usr/bin/python3", "-c", probe, socket])
            #expect(asNobody.stdout.contains("Permission denied"), "\(asNobody)")
            let asRoot = try execute("/usr/bin/python3", ["-c", probe, socket])
            #expect(asRoot.stdout.contains("connected"), "\(asRoot)")
        }
    }

    /// A forced destroy of a protected guest and a forced change of a foreign one are logged
    /// with who asked: the unix peer's uid and pid, the TCP client's certificate identity. A
    /// client cannot pass itself off as someone else with the header that carries it.
    @Test func forcedChangesAreLoggedWithTheCallersIdentity() async throws {
        try await withTemporaryDirectory("security") { dir in
            let pki = try TestCertificates(directory: dir.path)
            let port = try freeLoopbackPort()
            let agent = try await AgentProcess(directory: dir.path, config: Self.tlsConfig(pki, port: port, allowed: ["controller-eu-1"]))
            defer { agent.stop() }
            try await agent.client { client in
                var spec = testSpec("precious")
                spec.labels = [:]
                var define = defineRequest(spec)
                define.protected = true
                try await succeed(client) { [define] in try await $0.guests.define(define) }
                // Over the unix socket, with a forged caller header.
                var metadata = Metadata()
                metadata.addString("uid 4242, pid 1, unix socket", forKey: "nodeagent-caller")
                let forced = try await client.guests.destroy(action("precious", force: true), metadata: metadata)
                #expect(try await client.wait(for: forced).state == .succeeded)
            }
            try await waitUntil("the forced destroy is logged") { agent.log.contains("forced destroy of a protected guest") }
            let line = try #require(agent.log.split(separator: "\n").first { $0.contains("forced destroy of a protected guest") })
            #expect(line.contains("uid 0, pid \(getpid()), unix socket"), "\(line)")
            #expect(!agent.log.contains("uid 4242"), "a client's own header is never believed")

            let controller = try pki.client("controller-eu-1")
            let tcp = AgentEndpoint.tls(
                host: "localhost", port: port, certificate: controller.certificate, key: controller.key, ca: pki.caCertificate)
            try await AgentClient.with(tcp) { client in
                var protect = Nodeagent_V1_SetProtectionRequest()
                protect.requestID = requestID()
                protect.guest = "test"
                protect.protected = true
                protect.force = true
                _ = try await client.wait(for: try await client.guests.setProtection(protect))
            }
            try await waitUntil("the forced change of the foreign guest is logged") {
                agent.log.split(separator: "\n").contains { $0.contains("of a foreign guest") && $0.contains("certificate controller-eu-1") }
            }
        }
    }

    /// The TLS private key never appears in a log or an error, not even when the TLS set-up is
    /// wrong; a failing start names the key file, never its contents.
    @Test func nothingSecretReachesTheLogsOrAnError() async throws {
        try await withTemporaryDirectory("security") { dir in
            let pki = try TestCertificates(directory: dir.path)
            let keyText = try String(contentsOfFile: pki.serverKey, encoding: .utf8)
            let keyBody = keyText.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
            #expect(keyBody.count > 40)
            let port = try freeLoopbackPort()
            let agent = try await AgentProcess(directory: dir.path, config: Self.tlsConfig(pki, port: port, allowed: ["controller"]))
            let controller = try pki.client("controller")
            try await AgentClient.with(.tls(host: "localhost", port: port, certificate: controller.certificate, key: controller.key, ca: pki.caCertificate)) {
                client in
                _ = try await client.node.getInfo(Nodeagent_V1_GetNodeInfoRequest())
                _ = try? await client.guests.define(defineRequest(testSpec("../etc/passwd")))
            }
            agent.stop()
            // A key and certificate that do not match: the start fails, naming files only.
            try Data(try String(contentsOfFile: try pki.client("other").key, encoding: .utf8).utf8).write(
                to: URL(fileURLWithPath: pki.serverKey))
            let mismatched = try String(contentsOfFile: pki.serverKey, encoding: .utf8)
            let result = try execute(
                AgentProcess.binary, ["serve", "--config", dir.file("nodeagent.toml"), "--state-dir", dir.file("state2"), "--log-level", "trace"])
            #expect(result.status != 0)
            for text in [agent.log, agent.log + (try String(contentsOfFile: agent.logPath + ".out", encoding: .utf8)), result.stderr, result.stdout] {
                #expect(!text.contains("PRIVATE KEY"))
                #expect(!text.contains(keyBody.prefix(40)))
                let otherBody = mismatched.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
                #expect(!text.contains(otherBody.prefix(40)))
            }
        }
    }

    static func tlsConfig(_ pki: TestCertificates, port: Int, allowed: [String]) -> String {
        """
        [api]
        tcp_listen = "127.0.0.1:\(port)"
        tls_certificate = "\(pki.serverCertificate)"
        tls_key = "\(pki.serverKey)"
        tls_client_ca = "\(pki.caCertificate)"
        allowed_clients = [\(allowed.map { "\"\($0)\"" }.joined(separator: ", "))]
        """
    }
}
