import Foundation
@testable import NodeAgent
import TestSupport
import Testing

@Suite("Configuration file")
struct AgentConfigTests {
    func parse(_ text: String) throws(ConfigError) -> AgentConfig { try AgentConfig.parse(text, file: "/etc/nodeagent/nodeagent.toml") }

    @Test func anEmptyFileMeansTheDocumentedDefaults() throws {
        let config = try parse("")
        #expect(config == AgentConfig())
        #expect(config.api.unixSocket == "/run/nodeagent/nodeagent.sock" && config.api.unixSocketMode == 0o660)
        #expect(config.api.tcpListen.isEmpty && config.tasks.maxAttempts == 3 && config.log.level == "info")
        #expect(AgentConfig.embedded.api.unixSocket == "./.nodeagent/nodeagent.sock")
        #expect(config.libvirt.uri == "test:///default")
        #expect(config.guests.shutdownGrace == 120)
        #expect(config.shutdownPolicy.retryInterval == .seconds(15))
        #expect(config.connectionOptions.keepAliveInterval == 5)
        #expect(config.connectionOptions.callTimeout == .seconds(60))
        #expect(config.burnin.netServerListen.isEmpty && config.burnin.netServerMaxStreams == 128 && config.burnin.netServerMaxDuration == 3600)
    }

    @Test func readsEveryKey() throws {
        let config = try parse(
            """
            [libvirt]
            uri = "qemu:///system"
            keepalive_interval = 10
            keepalive_count = 5
            call_timeout = 30
            reconnect_max_delay = 12.5

            [guests]
            shutdown_grace = 300
            shutdown_retry_interval = 20
            owner = "controller-eu-1"

            [cgroups]
            root = "/sys/fs/cgroup/unified"

            [agent]
            state_dir = "/var/lib/nodeagent"

            [api]
            unix_socket = "/run/nodeagent/admin.sock"
            unix_socket_mode = 0o600
            tcp_listen = "[::]:7443"
            tls_certificate = "/etc/nodeagent/tls/server.pem"
            tls_key = "/etc/nodeagent/tls/server.key"
            tls_client_ca = "/etc/nodeagent/tls/ca.pem"
            allowed_clients = ["controller-eu-1", "spiffe://cloud/controller"]

            [tasks]
            guest_concurrency = 8
            volume_concurrency = 3
            cgroup_concurrency = 2
            burnin_concurrency = 2
            max_attempts = 5
            retry_base_delay = 0.5
            retry_max_delay = 10
            retention_hours = 48
            drain_timeout = 45

            [events]
            retain_count = 5000
            retention_hours = 12
            state_report_interval = 30

            [burnin]
            net_server_listen = "[::]:5301"
            net_server_max_streams = 16
            net_server_max_duration = 600

            [log]
            level = "debug"
            """)
        #expect(HostAndPort(config.burnin.netServerListen)?.port == 5301 && config.burnin.netServerMaxStreams == 16)
        #expect(config.burnin.netServerMaxDuration == 600)
        #expect(config.api.unixSocket == "/run/nodeagent/admin.sock" && config.api.unixSocketMode == 0o600)
        #expect(HostAndPort(config.api.tcpListen) == HostAndPort("[::]:7443") && HostAndPort(config.api.tcpListen)?.host == "::")
        #expect(config.api.allowedClients == ["controller-eu-1", "spiffe://cloud/controller"])
        #expect(config.api.tlsClientCA == "/etc/nodeagent/tls/ca.pem")
        let tasks = config.taskConfiguration
        #expect(tasks.queueLimits == ["guest": 8, "volume": 3, "cgroup": 2, "burnin": 2])
        #expect(tasks.maxAttempts == 5 && tasks.retryBaseDelay == .milliseconds(500) && tasks.retryMaxDelay == .seconds(10))
        #expect(tasks.retention == .seconds(48 * 3600) && tasks.drainTimeout == .seconds(45))
        #expect(config.events.retainCount == 5000 && config.events.retentionHours == 12 && config.events.stateReportInterval == 30)
        #expect(config.log.level == "debug")
        #expect(config.cgroups.root == "/sys/fs/cgroup/unified")
        #expect(config.libvirt.uri == "qemu:///system")
        #expect(config.libvirt.keepaliveInterval == 10)
        #expect(config.libvirt.keepaliveCount == 5)
        #expect(config.libvirt.callTimeout == 30)
        #expect(config.connectionOptions.reconnectMaxDelay == .milliseconds(12_500))
        #expect(config.shutdownPolicy.grace == .seconds(300))
        #expect(config.guests.owner == "controller-eu-1")
        #expect(config.agent.stateDirectory == "/var/lib/nodeagent")
    }

    @Test(arguments: [
        ("[libvirt]\nurl = \"qemu:///system\"", "libvirt.url", "unknown key"),
        ("[libvirt]\nuri = 5", "libvirt.uri", "must be a string"),
        ("[libvirt]\nuri = \"not a uri\"", "libvirt.uri", "libvirt URI"),
        ("[guests]\nshutdown_grace = -1", "guests.shutdown_grace", "between 0"),
        ("[guests]\nshutdown_grace = \"2m\"", "guests.shutdown_grace", "number of seconds"),
        ("[guests]\nowner = \"a b\"", "guests.owner", "characters"),
        ("[libvirt]\nkeepalive_count = 0", "libvirt.keepalive_count", "between 1"),
        ("[telemetry]\ninterval = 5", "telemetry", "unknown key"),
        ("libvirt = \"x\"", "libvirt", "must be a table"),
        ("[cgroups]\nroot = \"relative/path\"", "cgroups.root", "absolute path"),
        ("[api]\ntcp_listen = \"7443\"", "api.tcp_listen", "HOST:PORT"),
        ("[api]\ntcp_listen = \"::1:7443\"", "api.tcp_listen", "HOST:PORT"),
        ("[api]\ntcp_listen = \"0.0.0.0:7443\"", "api.tls_certificate", "mutual TLS"),
        (
            "[api]\ntcp_listen = \"0.0.0.0:7443\"\ntls_certificate = \"/a\"\ntls_key = \"/b\"\ntls_client_ca = \"/c\"",
            "api.allowed_clients", "identities"
        ),
        ("[api]\nallowed_clients = \"controller\"", "api.allowed_clients", "array of strings"),
        ("[api]\nallowed_clients = [\"a b\"]", "api.allowed_clients[0]", "without spaces"),
        ("[api]\nunix_socket = \"relative.sock\"", "api.unix_socket", "absolute path"),
        ("[api]\nunix_socket_mode = 0o7777", "api.unix_socket_mode", "between"),
        ("[tasks]\nguest_concurrency = 0", "tasks.guest_concurrency", "between 1"),
        ("[tasks]\nretry_base_delay = 10\nretry_max_delay = 1", "tasks.retry_max_delay", "retry_base_delay"),
        ("[tasks]\nworkers = 3", "tasks.workers", "unknown key"),
        ("[events]\nretain_count = 5", "events.retain_count", "between 100"),
        ("[log]\nlevel = \"verbose\"", "log.level", "trace"),
        ("[burnin]\nnet_server_listen = \"5301\"", "burnin.net_server_listen", "HOST:PORT"),
        ("[burnin]\nnet_server_max_streams = 0", "burnin.net_server_max_streams", "between 1"),
        ("[burnin]\nnet_server = \"x:1\"", "burnin.net_server", "unknown key"),
    ])
    func refusesABadKeyNamingItAndTheReason(text: String, key: String, reason: String) {
        do {
            _ = try parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.key == key)
            #expect(error.reason.contains(reason))
            #expect(error.file == "/etc/nodeagent/nodeagent.toml")
            #expect(error.description.hasPrefix("/etc/nodeagent/nodeagent.toml: \(key): "))
        }
    }

    @Test func refusesBrokenTOMLWithTheLine() {
        do {
            _ = try parse("[libvirt]\nuri = \"qemu:///system\n")
            Issue.record("accepted broken TOML")
        } catch {
            #expect(error.key == nil)
            #expect(error.reason.contains("line 2"))
        }
    }

    @Test func anExplicitFileThatDoesNotExistIsAnError() async throws {
        do {
            _ = try AgentConfig.load(path: "/nonexistent/nodeagent.toml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.file == "/nonexistent/nodeagent.toml")
            #expect(error.reason.contains("cannot read"))
        }
        try await withTemporaryDirectory { dir in
            let path = try dir.write("agent.toml", "[guests]\nowner = \"x\"\n")
            let config = try AgentConfig.load(path: path)
            #expect(config.source == path)
            #expect(config.guests.owner == "x")
        }
    }
}
