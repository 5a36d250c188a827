public import Libvirt

/// Storage volumes for guests, through libvirt's storage pools.
///
/// Deleting or shrinking a volume that a defined guest uses is refused unless `force` is given:
/// losing a guest's disk is the worst thing an agent can do.
public struct VolumeManager: Sendable {
    public let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    public func pools() async throws(AgentError) -> [StoragePoolInfo] {
        try await call("list pools", "pools") { () throws(LibvirtError) in try await connection.listStoragePools() }
    }

    public func volumes(in pool: String) async throws(AgentError) -> [StorageVolumeInfo] {
        try await call("list volumes", pool) { () throws(LibvirtError) in
            try await connection.storagePool(named: pool).volumes()
        }
    }

    /// A volume with its current size and the guests whose definitions use it.
    public func show(_ pool: String, _ name: String) async throws(AgentError) -> (StorageVolumeInfo, users: [String]) {
        let volume = try await lookup(pool, name, "show volume")
        let info = try await call("show volume", volume.description) { () throws(LibvirtError) in try await volume.refreshedInfo() }
        return (info, try await users(of: volume))
    }

    public func create(in pool: String, _ spec: VolumeSpec) async throws(AgentError) -> StorageVolumeInfo {
        let xml: String
        do {
            xml = try spec.volumeXML()
        } catch {
            throw AgentError(.invalidArgument, subject: "\(pool)/\(spec.name)", operation: "create volume", message: error.description, spec: error)
        }
        try await refuseExisting(pool, spec.name, "create volume")
        return try await call("create volume", "\(pool)/\(spec.name)") { () throws(LibvirtError) in
            try await connection.storagePool(named: pool).createVolume(xml: xml).info
        }
    }

    /// ALREADY_EXISTS for a name that is taken: libvirt's drivers say so in different ways
    /// (the test driver with a generic "operation failed", a clone with no error at all). Volume
    /// tasks on one pool/name run one at a time, so nothing takes the name in between.
    private func refuseExisting(_ pool: String, _ name: String, _ operation: String) async throws(AgentError) {
        // Written without `case ... where` on the Result: Swift 6.3's optimizer crashed on
        // that form here (CopyPropagation, release builds only).
        let found = await Result({ () throws(AgentError) in try await lookup(pool, name, operation) })
        guard case .failure(let error) = found else {
            throw AgentError(.alreadyExists, subject: "\(pool)/\(name)", operation: operation, message: "a volume with that name exists")
        }
        let noSuchVolume = error.code == .notFound && error.libvirt.map { $0.code == .noStorageVolume } == true
        if !noSuchVolume { throw error }
    }

    /// Copies `source` (a volume of `pool`) into a new volume `newName` of `targetPool`
    /// (default: the same pool), same format and capacity.
    public func clone(_ pool: String, _ source: String, to newName: String, in targetPool: String? = nil) async throws(AgentError)
        -> StorageVolumeInfo
    {
        let original = try await lookup(pool, source, "clone volume")
        let format = try await call("clone volume", original.description) { () throws(LibvirtError) in try await original.xml() }
            .contains("type='raw'") ? VolumeSpec.Format.raw : .qcow2
        let capacity = ByteSize(bytes: Int64(clamping: original.info.capacity)) ?? .mib(1)
        let spec = VolumeSpec(name: newName, capacity: capacity, format: format)
        let xml: String
        do {
            xml = try spec.volumeXML()
        } catch {
            throw AgentError(.invalidArgument, subject: newName, operation: "clone volume", message: error.description, spec: error)
        }
        let destination = targetPool ?? pool
        try await refuseExisting(destination, newName, "clone volume")
        return try await call("clone volume", "\(destination)/\(newName)") { () throws(LibvirtError) in
            try await connection.storagePool(named: destination).createVolume(xml: xml, cloning: original).info
        }
    }

    /// Deletes a volume. Refused while a defined guest uses it, unless `force`.
    public func delete(_ pool: String, _ name: String, force: Bool = false) async throws(AgentError) {
        let volume = try await lookup(pool, name, "delete volume")
        let users = try await users(of: volume)
        if !users.isEmpty && !force {
            throw AgentError(
                .refused, subject: volume.description, operation: "delete volume",
                message: "the volume is a disk of guest(s) \(users.joined(separator: ", ")); undefine them first or pass --force")
        }
        try await call("delete volume", volume.description) { () throws(LibvirtError) in try await volume.delete() }
    }

    /// Changes a volume's capacity. Shrinking needs `allowShrink` and is refused while a
    /// guest uses the volume, unless `force`.
    public func resize(_ pool: String, _ name: String, to capacity: ByteSize, allowShrink: Bool = false, force: Bool = false)
        async throws(AgentError) -> StorageVolumeInfo
    {
        let volume = try await lookup(pool, name, "resize volume")
        let current = volume.info.capacity
        let target = UInt64(capacity.bytes)
        if target < current {
            guard allowShrink else {
                throw AgentError(
                    .invalidArgument, subject: volume.description, operation: "resize volume",
                    message: "\(capacity) is smaller than the current \(ByteSize(bytes: Int64(clamping: current)) ?? capacity); pass --shrink to shrink (data past the new end is lost)")
            }
            let users = try await users(of: volume)
            if !users.isEmpty && !force {
                throw AgentError(
                    .refused, subject: volume.description, operation: "resize volume",
                    message: "refusing to shrink a disk of guest(s) \(users.joined(separator: ", ")) without --force")
            }
        }
        return try await call("resize volume", volume.description) { () throws(LibvirtError) in
            try await volume.resize(to: target, allowShrink: allowShrink)
            return try await volume.refreshedInfo()
        }
    }

    public func refresh(_ pool: String) async throws(AgentError) {
        try await call("refresh pool", pool) { () throws(LibvirtError) in try await connection.storagePool(named: pool).refresh() }
    }

    // MARK: - Helpers

    private func lookup(_ pool: String, _ name: String, _ operation: String) async throws(AgentError) -> StorageVolume {
        try await call(operation, "\(pool)/\(name)") { () throws(LibvirtError) in
            try await connection.storagePool(named: pool).volume(named: name)
        }
    }

    /// Names of the defined guests with a disk on `volume` (by path, or by pool and name).
    func users(of volume: StorageVolume) async throws(AgentError) -> [String] {
        let domains = try await call("find volume users", volume.description) { () throws(LibvirtError) in
            try await connection.listDomains()
        }
        var users: [String] = []
        for summary in domains {
            let xml: String
            do throws(LibvirtError) {
                xml = try await connection.domain(summary).xml(.inactive)
            } catch where error.code == .noDomain {
                continue
            } catch {
                throw AgentError.from(error, subject: volume.description, operation: "find volume users")
            }
            guard let description = try? GuestDescription(xml: xml) else {
                // Unparseable definition: fall back to a textual search for the path.
                if xml.contains(volume.path) { users.append(summary.name) }
                continue
            }
            let uses = description.disks.contains { disk in
                switch disk.source {
                case .file(let path), .block(let path): path == volume.path
                case .volume(let pool, let name): pool == volume.pool && name == volume.name
                case nil: false
                }
            }
            if uses { users.append(summary.name) }
        }
        return users
    }
}
