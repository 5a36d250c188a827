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
        #expect(config.libvirt.uri == "test:///default")
        #expect(config.guests.shutdownGrace == 120)
        #expect(config.shutdownPolicy.retryInterval == .seconds(15))
        #expect(config.connectionOptions.keepAliveInterval == 5)
        #expect(config.connectionOptions.callTimeout == .seconds(60))
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
            """)
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
