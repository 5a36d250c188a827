import Libvirt

extension GuestManager {
    /// Changes a defined guest's cputune / memtune / blkiotune values. Only the values set in
    /// `tunables` change. They are validated like a spec's tunables (against the guest's memory),
    /// written to the persistent definition, and applied to the running guest when it runs; if
    /// libvirt cannot apply them live (no cgroup for the guest, a driver without the parameter),
    /// the definition still gets them and the returned text says so.
    public func setTunables(_ ref: String, _ tunables: GuestSpec.Tunables, force: Bool = false) async throws(AgentError) -> String {
        let operation = "set-limits"
        let (domain, guest) = try await managed(ref, operation, force: force)
        let info = try await call(operation, domain.name) { () throws(LibvirtError) in try await domain.info() }
        let memory = ByteSize.kib(Int64(clamping: info.maxMemoryKiB))
        do throws(GuestSpecError) {
            try GuestSpec.validate(tunables: tunables, memory: memory)
        } catch {
            throw AgentError(.invalidArgument, subject: domain.name, operation: operation, message: error.description, spec: error)
        }
        let groups = Self.parameters(tunables)
        guard !groups.isEmpty else {
            throw AgentError(.invalidArgument, subject: domain.name, operation: operation, message: "tunables: no value to set")
        }
        var liveProblems: [String] = []
        for (group, parameters) in groups {
            try await call(operation, domain.name) { () throws(LibvirtError) in
                try await domain.setTunables(group, parameters, impact: .config)
            }
            guard guest.state.kind.isActive else { continue }
            do throws(LibvirtError) {
                try await domain.setTunables(group, parameters, impact: .live)
            } catch {
                if error.isConnectionFailure { throw AgentError.from(error, subject: domain.name, operation: operation) }
                liveProblems.append("\(group.rawValue): \(error.message)")
            }
        }
        let names = groups.flatMap { $0.1.map(\.name) }.joined(separator: ", ")
        if !guest.state.kind.isActive { return "\(names) set in the definition (applies at next start)" }
        if liveProblems.isEmpty { return "\(names) set in the definition and on the running guest" }
        return "\(names) set in the definition; not applied live (\(liveProblems.joined(separator: "; ")))"
    }

    /// libvirt's typed parameters for each group of tunables that has a value.
    static func parameters(_ tunables: GuestSpec.Tunables) -> [(TuningGroup, [TypedParameter])] {
        var scheduler: [TypedParameter] = []
        let cpu = tunables.cpu
        if let shares = cpu.shares { scheduler.append(TypedParameter(name: "cpu_shares", value: .ullong(UInt64(shares)))) }
        if let period = cpu.period { scheduler.append(TypedParameter(name: "vcpu_period", value: .ullong(UInt64(period)))) }
        if let quota = cpu.quota { scheduler.append(TypedParameter(name: "vcpu_quota", value: .llong(quota))) }
        if let period = cpu.emulatorPeriod { scheduler.append(TypedParameter(name: "emulator_period", value: .ullong(UInt64(period)))) }
        if let quota = cpu.emulatorQuota { scheduler.append(TypedParameter(name: "emulator_quota", value: .llong(quota))) }
        var memory: [TypedParameter] = []
        let kib = { (size: ByteSize) in TypedValue.ullong(UInt64(size.bytes / 1024)) }
        if let hard = tunables.memory.hardLimit { memory.append(TypedParameter(name: "hard_limit", value: kib(hard))) }
        if let soft = tunables.memory.softLimit { memory.append(TypedParameter(name: "soft_limit", value: kib(soft))) }
        if let swap = tunables.memory.swapHardLimit { memory.append(TypedParameter(name: "swap_hard_limit", value: kib(swap))) }
        var blkio: [TypedParameter] = []
        if let weight = tunables.blkio.weight { blkio.append(TypedParameter(name: "weight", value: .uint(UInt32(weight)))) }
        return [(TuningGroup.scheduler, scheduler), (.memory, memory), (.blkio, blkio)].filter { !$0.1.isEmpty }
    }
}
