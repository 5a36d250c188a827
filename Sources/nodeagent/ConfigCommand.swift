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
                let rows = [["source", c.source ?? "embedded default"]] + c.effectiveValues.map { [$0.key, $0.value] }
                if global.json {
                    try printJSON(Dictionary(uniqueKeysWithValues: rows.map { ($0[0], $0[1]) }))
                } else {
                    printTable(["KEY", "VALUE"], rows)
                }
            }
        }
    }
}
