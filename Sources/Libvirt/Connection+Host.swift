import CLibvirt
import Glibc

/// The hypervisor behind a connection.
public struct HypervisorInfo: Sendable, Equatable {
    /// Driver name: QEMU, Test, ...
    public var type: String
    /// Hypervisor version as "major.minor.micro" (0.0.0 when the driver has none).
    public var version: String
    /// Version of the libvirt library the agent runs with.
    public var libvirtVersion: String
}

extension Connection {
    /// `virConnectGetType`, `virConnectGetVersion`, `virConnectGetLibVersion`.
    public func hypervisor() async throws(LibvirtError) -> HypervisorInfo {
        try await withConnection("virConnectGetType") { handle throws(LibvirtError) in
            guard let type = virConnectGetType(handle) else { throw LibvirtError.last(call: "virConnectGetType", target: "") }
            var version: UInt = 0
            var library: UInt = 0
            guard virConnectGetVersion(handle, &version) == 0 else { throw LibvirtError.last(call: "virConnectGetVersion", target: "") }
            guard virConnectGetLibVersion(handle, &library) == 0 else { throw LibvirtError.last(call: "virConnectGetLibVersion", target: "") }
            func dotted(_ v: UInt) -> String { "\(v / 1_000_000).\(v / 1000 % 1000).\(v % 1000)" }
            return HypervisorInfo(type: String(cString: type), version: dotted(version), libvirtVersion: dotted(library))
        }
    }
}
