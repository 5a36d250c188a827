import Foundation
import Libvirt
import NodeAgent

struct StopView: Encodable {
    var guest: Guest
    var outcome: String
    var requests: Int
    var seconds: Double

    init(guest: Guest, outcome: StopOutcome) {
        self.guest = guest
        self.outcome = outcome.name
        switch outcome {
        case .alreadyStopped:
            requests = 0
            seconds = 0
        case .shutDown(let r, let after), .destroyed(let r, let after):
            requests = r
            seconds = Double(after.components.seconds) + Double(after.components.attoseconds) / 1e18
        }
    }
}

/// `guest show`.
struct GuestDetailsView: Encodable {
    struct Disk: Encodable {
        var target: String
        var bus: String?
        var source: String
        var format: String?
        var readonly: Bool
    }
    struct NIC: Encodable {
        var type: String
        var source: String?
        var mac: String?
        var model: String?
    }
    var guest: Guest
    var vcpus: Int
    var memoryBytes: UInt64
    var cpuTimeSeconds: Double
    var id: UInt32?
    var persistent: Bool
    var domainType: String?
    var kernel: String?
    var initrd: String?
    var cmdline: String?
    var serialLog: String?
    var disks: [Disk]
    var nics: [NIC]
    var descriptionProblem: String?

    init(_ d: GuestDetails) {
        guest = d.guest
        vcpus = d.info.vcpus
        memoryBytes = d.info.maxMemoryKiB * 1024
        cpuTimeSeconds = Double(d.info.cpuTimeNanoseconds) / 1e9
        id = d.info.id
        persistent = d.info.persistent
        domainType = d.description?.domainType
        kernel = d.description?.kernel
        initrd = d.description?.initrd
        cmdline = d.description?.cmdline
        serialLog = d.description?.serialLogPath
        disks = (d.description?.disks ?? []).map { disk in
            let source: String =
                switch disk.source {
                case .file(let path), .block(let path): path
                case .volume(let pool, let volume): "\(pool)/\(volume)"
                case nil: "-"
                }
            return Disk(target: disk.target, bus: disk.bus, source: source, format: disk.format, readonly: disk.readonly)
        }
        nics = (d.description?.nics ?? []).map { nic in
            NIC(type: nic.type, source: nic.network ?? nic.bridge, mac: nic.mac, model: nic.model)
        }
        descriptionProblem = d.descriptionProblem
    }

    func printText() {
        var rows: [[String]] = [
            ["name", guest.name], ["uuid", guest.uuid.uuidString.lowercased()], ["state", guest.state.description],
            ["managed", guest.isManaged ? "yes (owner \(guest.metadata?.owner ?? "-"))" : "no (foreign)"],
            ["protected", guest.isProtected ? "yes" : "no"],
            ["vcpus", "\(vcpus)"], ["memory", formatBytes(memoryBytes)],
            ["cpu time", String(format: "%.2f s", cpuTimeSeconds)],
            ["persistent", persistent ? "yes" : "no"],
        ]
        if let id { rows.append(["id", "\(id)"]) }
        if let kernel { rows.append(["kernel", kernel]) }
        if let cmdline { rows.append(["cmdline", cmdline]) }
        if let serialLog { rows.append(["serial log", serialLog]) }
        for (key, value) in (guest.metadata?.labels ?? [:]).sorted(by: { $0.key < $1.key }) { rows.append(["label \(key)", value]) }
        if let problem = guest.metadataProblem { rows.append(["metadata problem", problem]) }
        printTable(["FIELD", "VALUE"], rows)
        if !disks.isEmpty {
            print("")
            printTable(
                ["DISK", "BUS", "FORMAT", "MODE", "SOURCE"],
                disks.map { [$0.target, $0.bus ?? "-", $0.format ?? "-", $0.readonly ? "ro" : "rw", $0.source] })
        }
        if !nics.isEmpty {
            print("")
            printTable(["NIC", "SOURCE", "MODEL", "MAC"], nics.map { [$0.type, $0.source ?? "-", $0.model ?? "-", $0.mac ?? "-"] })
        }
    }
}
