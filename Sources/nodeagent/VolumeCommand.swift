import ArgumentParser
import Foundation
import Libvirt
import NodeAgent

struct VolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Manage storage volumes in libvirt storage pools.",
        subcommands: [Pools.self, List.self, Show.self, Create.self, Delete.self, Resize.self, Clone.self, Refresh.self])

    struct Pools: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List storage pools with their capacity.")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await withVolumes(global) { manager in
                let pools = try await manager.pools()
                if global.json { return try printJSON(pools.map(PoolView.init)) }
                printTable(
                    ["POOL", "STATE", "CAPACITY", "ALLOCATION", "AVAILABLE", "AUTOSTART"],
                    pools.map { [$0.name, $0.state.name, formatBytes($0.capacity), formatBytes($0.allocation), formatBytes($0.available), $0.autostart ? "yes" : "no"] })
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the volumes of a pool.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Pool name.") var pool: String
        func run() async throws {
            try await withVolumes(global) { manager in
                let volumes = try await manager.volumes(in: pool)
                if global.json { return try printJSON(volumes.map { VolumeView($0) }) }
                printTable(
                    ["VOLUME", "CAPACITY", "ALLOCATION", "PATH"],
                    volumes.map { [$0.name, formatBytes($0.capacity), formatBytes($0.allocation), $0.path] })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one volume and the guests that use it.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Pool name.") var pool: String
        @Argument(help: "Volume name.") var name: String
        func run() async throws {
            try await withVolumes(global) { manager in
                let (info, users) = try await manager.show(pool, name)
                printVolume(info, users: users, json: global.json)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a volume.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Pool name.") var pool: String
        @Argument(help: "Volume name.") var name: String
        @Option(help: "Capacity, e.g. 512M, 10G (binary units).") var capacity: String
        @Option(help: "Format: qcow2 or raw.") var format: String = "qcow2"
        @Option(help: "Bytes to allocate up front (default: sparse).") var allocation: String?

        func run() async throws {
            try await withVolumes(global) { manager in
                guard let format = VolumeSpec.Format(rawValue: format) else {
                    throw CLIError(.invalidInput, "--format must be qcow2 or raw (got \"\(format)\")")
                }
                let spec = VolumeSpec(
                    name: name, capacity: try size(capacity, "--capacity"), format: format,
                    allocation: try allocation.map { try size($0, "--allocation") })
                printVolume(try await manager.create(in: pool, spec), users: [], json: global.json)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a volume and its data (refused while a guest uses it, unless --force).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Pool name.") var pool: String
        @Argument(help: "Volume name.") var name: String
        @Flag(help: "Delete even if a defined guest uses the volume.") var force = false
        func run() async throws {
            try await withVolumes(global) { manager in
                try await manager.delete(pool, name, force: force)
                if global.json { try printJSON(["deleted": "\(pool)/\(name)"]) } else { print("\(pool)/\(name): deleted") }
            }
        }
    }

    struct Resize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a volume's capacity.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Pool name.") var pool: String
        @Argument(help: "Volume name.") var name: String
        @Argument(help: "New capacity, e.g. 20G.") var capacity: String
        @Flag(help: "Allow shrinking (data past the new end is lost).") var shrink = false
        @Flag(help: "Shrink even if a defined guest uses the volume.") var force = false
        func run() async throws {
            try await withVolumes(global) { manager in
                let info = try await manager.resize(pool, name, to: try size(capacity, "capacity"), allowShrink: shrink, force: force)
                printVolume(info, users: [], json: global.json)
            }
        }
    }

    struct Clone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Copy a volume into a new one (same format and capacity).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Pool of the source volume.") var pool: String
        @Argument(help: "Source volume.") var source: String
        @Argument(help: "Name of the new volume.") var newName: String
        @Option(help: "Pool of the new volume (default: the source's pool).") var toPool: String?
        func run() async throws {
            try await withVolumes(global) { manager in
                printVolume(try await manager.clone(pool, source, to: newName, in: toPool), users: [], json: global.json)
            }
        }
    }

    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-read a pool's contents from its storage.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Pool name.") var pool: String
        func run() async throws {
            try await withVolumes(global) { manager in
                try await manager.refresh(pool)
                if global.json { try printJSON(["refreshed": pool]) } else { print("\(pool): refreshed") }
            }
        }
    }
}

private struct PoolView: Encodable {
    var name, uuid, state: String
    var capacity, allocation, available: UInt64
    var persistent, autostart: Bool
    init(_ p: StoragePoolInfo) {
        name = p.name
        uuid = p.uuid.uuidString.lowercased()
        state = p.state.name
        capacity = p.capacity
        allocation = p.allocation
        available = p.available
        persistent = p.persistent
        autostart = p.autostart
    }
}

private struct VolumeView: Encodable {
    var name, pool, path: String
    var capacity, allocation: UInt64
    var usedBy: [String]?
    init(_ v: StorageVolumeInfo, usedBy: [String]? = nil) {
        name = v.name
        pool = v.pool
        path = v.path
        capacity = v.capacity
        allocation = v.allocation
        self.usedBy = usedBy
    }
}

private func printVolume(_ info: StorageVolumeInfo, users: [String], json: Bool) {
    if json {
        try? printJSON(VolumeView(info, usedBy: users))
        return
    }
    printTable(
        ["FIELD", "VALUE"],
        [
            ["volume", "\(info.pool)/\(info.name)"], ["path", info.path], ["capacity", formatBytes(info.capacity)],
            ["allocation", formatBytes(info.allocation)], ["used by", users.isEmpty ? "-" : users.joined(separator: ", ")],
        ])
}

private func size(_ text: String, _ what: String) throws -> ByteSize {
    do {
        return try ByteSize(parsing: text)
    } catch {
        throw CLIError(.invalidInput, "\(what): \(error)")
    }
}

private func withVolumes(_ global: GlobalOptions, _ body: (VolumeManager) async throws -> Void) async throws {
    try await reporting {
        let config = try global.loadConfig()
        let connection = try await global.connect(config)
        defer { connection.close() }
        try await body(VolumeManager(connection: connection))
    }
}
