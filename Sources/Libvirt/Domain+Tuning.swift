import CLibvirt
import Glibc

/// Which group of tunables a typed-parameter call sets.
public enum TuningGroup: String, Sendable, CaseIterable {
    /// cputune: `cpu_shares`, `vcpu_period`, `vcpu_quota`, `emulator_period`, `emulator_quota`
    /// (`virDomainSetSchedulerParametersFlags`).
    case scheduler
    /// memtune, KiB: `hard_limit`, `soft_limit`, `swap_hard_limit` (`virDomainSetMemoryParameters`).
    case memory
    /// blkiotune: `weight` (`virDomainSetBlkioParameters`).
    case blkio
}

extension Domain {
    /// Sets tunables of one group. `impact` chooses the running guest (`.live`), its persistent
    /// definition (`.config`), or both. libvirt refuses parameters its driver does not know.
    public func setTunables(_ group: TuningGroup, _ parameters: [TypedParameter], impact: Impact) async throws(LibvirtError) {
        guard !parameters.isEmpty else { return }
        let target = name
        let call: String =
            switch group {
            case .scheduler: "virDomainSetSchedulerParametersFlags"
            case .memory: "virDomainSetMemoryParameters"
            case .blkio: "virDomainSetBlkioParameters"
            }
        try await withDomain(call) { domain throws(LibvirtError) in
            var params: UnsafeMutablePointer<virTypedParameter>? = nil
            var count: Int32 = 0
            var capacity: Int32 = 0
            defer { virTypedParamsFree(params, count) }
            for parameter in parameters {
                let status: Int32 =
                    switch parameter.value {
                    case .int(let v): virTypedParamsAddInt(&params, &count, &capacity, parameter.name, v)
                    case .uint(let v): virTypedParamsAddUInt(&params, &count, &capacity, parameter.name, v)
                    case .llong(let v): virTypedParamsAddLLong(&params, &count, &capacity, parameter.name, v)
                    case .ullong(let v): virTypedParamsAddULLong(&params, &count, &capacity, parameter.name, v)
                    case .double(let v): virTypedParamsAddDouble(&params, &count, &capacity, parameter.name, v)
                    case .bool(let v): virTypedParamsAddBoolean(&params, &count, &capacity, parameter.name, v ? 1 : 0)
                    case .string(let v): virTypedParamsAddString(&params, &count, &capacity, parameter.name, v)
                    }
                if status < 0 { throw LibvirtError.last(call: "virTypedParamsAdd", target: target) }
            }
            let result: Int32 =
                switch group {
                case .scheduler: virDomainSetSchedulerParametersFlags(domain, params, count, impact.rawValue)
                case .memory: virDomainSetMemoryParameters(domain, params, count, impact.rawValue)
                case .blkio: virDomainSetBlkioParameters(domain, params, count, impact.rawValue)
                }
            if result < 0 { throw LibvirtError.last(call: call, target: target) }
        }
    }
}
