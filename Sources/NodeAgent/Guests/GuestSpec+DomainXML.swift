public import Foundation

extension GuestSpec {
    /// Validates the spec and the metadata, then renders the libvirt domain XML.
    ///
    /// - Parameters:
    ///   - uuid: The domain UUID. When nil, the spec's ``uuid`` is used, and when that is nil too
    ///     a random one. Giving both with different values is refused (`uuid`, conflict).
    ///   - metadata: The agent's metadata for `<metadata>`. Its labels and the spec's labels are
    ///     merged; a key present in both with different values is refused (`labels["key"]`).
    ///     Its `spec_version` must be ``GuestMetadata/currentSpecVersion``.
    /// - Returns: The document, attributes single-quoted, two-space indented, every value escaped.
    /// - Throws: ``GuestSpecError`` with every problem of the spec and the metadata.
    public func domainXML(uuid: UUID? = nil, metadata: GuestMetadata) throws(GuestSpecError) -> String {
        var check = GuestSpecValidator()
        collectProblems(into: &check)
        var metadata = metadata
        metadata.collectProblems(into: &check)
        if metadata.specVersion != GuestMetadata.currentSpecVersion {
            check.add(
                "metadata.spec_version", String(metadata.specVersion), .invalidValue,
                "this agent renders spec version \(GuestMetadata.currentSpecVersion)")
        }
        if let uuid, let own = self.uuid, uuid != own {
            check.add("uuid", own.uuidString.lowercased(), .conflict, "differs from the UUID given to render it")
        }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if let other = metadata.labels[key], other != value {
                check.add(
                    FieldPath.entry(key, of: "labels"), value, .conflict,
                    "metadata has the same label with another value")
            }
            metadata.labels[key] = value
        }
        if metadata.labels.count > GuestSpecValidator.maxLabels {
            check.add(
                "labels", nil, .tooMany,
                "spec and metadata together have more than \(GuestSpecValidator.maxLabels) labels")
        }
        try check.finish()
        return render(uuid: uuid ?? self.uuid ?? UUID(), metadata: metadata)
    }

    /// Renders an already validated spec.
    private func render(uuid: UUID, metadata: GuestMetadata) -> String {
        var xml = XMLWriter()
        xml.open("domain", [(name: "type", value: domainType.rawValue)])
        xml.element("name", text: name)
        xml.element("uuid", text: uuid.uuidString.lowercased())
        xml.element("metadata") { metadata.write(to: &$0, prefixed: true) }
        xml.element("memory", [(name: "unit", value: "KiB")], text: String(memory.bytes / 1024))
        xml.element("currentMemory", [(name: "unit", value: "KiB")], text: String(memory.bytes / 1024))
        xml.element("vcpu", [(name: "placement", value: "static")], text: String(vcpus))
        writeTunables(&xml)
        xml.element("os") { os in
            os.element("type", [(name: "arch", value: "x86_64")], text: "hvm")
            if case .kernel(let kernel) = boot {
                os.element("kernel", text: kernel.kernel)
                if let initrd = kernel.initrd { os.element("initrd", text: initrd) }
                if let cmdline = kernel.cmdline { os.element("cmdline", text: cmdline) }
            }
        }
        xml.element("features") { $0.empty("acpi") }
        xml.element("on_poweroff", text: "destroy")
        xml.element("on_reboot", text: "restart")
        xml.element("on_crash", text: "destroy")
        xml.element("devices") { devices in
            for (index, (disk, target)) in zip(disks, resolvedTargets()).enumerated() {
                writeDisk(disk, target: target ?? "", bootOrder: boot == .disk ? index + 1 : nil, &devices)
            }
            for nic in nics { writeNIC(nic, &devices) }
            let pty: [XMLWriter.Attribute] = [(name: "type", value: "pty")]
            if let serialLog {
                devices.element("serial", pty) {
                    $0.empty("log", [(name: "file", value: serialLog), (name: "append", value: "off")])
                }
            } else {
                devices.empty("serial", pty)
            }
            devices.empty("console", pty)
            let virtio: [XMLWriter.Attribute] = [(name: "model", value: "virtio")]
            if memballoon.statsPeriod > 0 {
                devices.element("memballoon", virtio) {
                    $0.empty("stats", [(name: "period", value: String(memballoon.statsPeriod))])
                }
            } else {
                devices.empty("memballoon", virtio)
            }
        }
        xml.close("domain")
        return xml.text
    }

    private func writeTunables(_ xml: inout XMLWriter) {
        let cpu = tunables.cpu
        if !cpu.isEmpty {
            xml.element("cputune") { tune in
                if let shares = cpu.shares { tune.element("shares", text: String(shares)) }
                if let period = cpu.period { tune.element("period", text: String(period)) }
                if let quota = cpu.quota { tune.element("quota", text: String(quota)) }
                if let period = cpu.emulatorPeriod { tune.element("emulator_period", text: String(period)) }
                if let quota = cpu.emulatorQuota { tune.element("emulator_quota", text: String(quota)) }
            }
        }
        let memory = tunables.memory
        if !memory.isEmpty {
            xml.element("memtune") { tune in
                let kib: [XMLWriter.Attribute] = [(name: "unit", value: "KiB")]
                if let hard = memory.hardLimit { tune.element("hard_limit", kib, text: String(hard.bytes / 1024)) }
                if let soft = memory.softLimit { tune.element("soft_limit", kib, text: String(soft.bytes / 1024)) }
                if let swap = memory.swapHardLimit {
                    tune.element("swap_hard_limit", kib, text: String(swap.bytes / 1024))
                }
            }
        }
        if let weight = tunables.blkio.weight {
            xml.element("blkiotune") { $0.element("weight", text: String(weight)) }
        }
    }

    private func writeDisk(_ disk: Disk, target: String, bootOrder: Int?, _ xml: inout XMLWriter) {
        let type: String
        let source: [XMLWriter.Attribute]
        switch disk.source {
        case .volume(let pool, let volume):
            type = "volume"
            source = [(name: "pool", value: pool), (name: "volume", value: volume)]
        case .file(let path):
            type = "file"
            source = [(name: "file", value: path)]
        case .block(let path):
            type = "block"
            source = [(name: "dev", value: path)]
        }
        xml.element("disk", [(name: "type", value: type), (name: "device", value: "disk")]) { element in
            element.empty(
                "driver",
                [
                    (name: "name", value: "qemu"), (name: "type", value: disk.format.rawValue),
                    (name: "cache", value: disk.cache?.rawValue),
                ])
            element.empty("source", source)
            element.empty("target", [(name: "dev", value: target), (name: "bus", value: disk.bus.rawValue)])
            if let iotune = disk.iotune, !iotune.isEmpty {
                element.element("iotune") { tune in
                    let values: [(XMLWriter.Name, Int64?)] = [
                        ("total_bytes_sec", iotune.totalBytesSec?.bytes),
                        ("read_bytes_sec", iotune.readBytesSec?.bytes),
                        ("write_bytes_sec", iotune.writeBytesSec?.bytes), ("total_iops_sec", iotune.totalIopsSec),
                        ("read_iops_sec", iotune.readIopsSec), ("write_iops_sec", iotune.writeIopsSec),
                    ]
                    for case (let name, let value?) in values { tune.element(name, text: String(value)) }
                }
            }
            if disk.readonly { element.empty("readonly") }
            if let bootOrder { element.empty("boot", [(name: "order", value: String(bootOrder))]) }
        }
    }

    private func writeNIC(_ nic: NIC, _ xml: inout XMLWriter) {
        let type: String
        var source: [XMLWriter.Attribute] = []
        switch nic.attachment {
        case .user: type = "user"
        case .network(let name):
            type = "network"
            source = [(name: "network", value: name)]
        case .bridge(let name):
            type = "bridge"
            source = [(name: "bridge", value: name)]
        }
        xml.element("interface", [(name: "type", value: type)]) { element in
            if let mac = nic.mac { element.empty("mac", [(name: "address", value: mac.lowercased())]) }
            if !source.isEmpty { element.empty("source", source) }
            element.empty("model", [(name: "type", value: nic.model.rawValue)])
        }
    }
}
