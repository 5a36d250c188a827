import ArgumentParser
import NodeAgent

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check the configuration.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration file and print the effective values.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reporting {
                let c = try global.loadConfig()
                let rows: [[String]] = [
                    ["source", c.source ?? "embedded default"],
                    ["libvirt.uri", c.libvirt.uri],
                    ["libvirt.keepalive_interval", "\(c.libvirt.keepaliveInterval)"],
                    ["libvirt.keepalive_count", "\(c.libvirt.keepaliveCount)"],
                    ["libvirt.call_timeout", "\(c.libvirt.callTimeout)"],
                    ["libvirt.reconnect_max_delay", "\(c.libvirt.reconnectMaxDelay)"],
                    ["guests.shutdown_grace", "\(c.guests.shutdownGrace)"],
                    ["guests.shutdown_retry_interval", "\(c.guests.shutdownRetryInterval)"],
                    ["guests.owner", c.guests.owner],
                    ["cgroups.root", c.cgroups.root],
                    ["agent.state_dir", c.agent.stateDirectory],
                ]
                if global.json {
                    try printJSON(Dictionary(uniqueKeysWithValues: rows.map { ($0[0], $0[1]) }))
                } else {
                    printTable(["KEY", "VALUE"], rows)
                }
            }
        }
    }
}
