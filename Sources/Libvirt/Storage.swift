import CLibvirt
public import Foundation

/// A libvirt storage pool, identified by name. Like `Domain`, it holds no handle: each
/// operation looks the pool up on the connection's current generation.
public struct StoragePool: Sendable, CustomStringConvertible {
    public let connection: Connection
    public let name: String

    public var description: String { name }

    func withPool<T: Sendable>(
        _ call: String, _ body: @escaping @Sendable (OpaquePointer) throws(LibvirtError) -> T
    ) async throws(LibvirtError) -> T {
        let name = self.name
        return try await connection.withConnection(call, target: name) { conn throws(LibvirtError) -> T in
            guard let pool = virStoragePoolLookupByName(conn, name) else {
                throw LibvirtError.last(call: call, target: name)
            }
            defer { virStoragePoolFree(pool) }
            return try body(pool)
        }
    }

    private func perform(_ call: String, _ body: @escaping @Sendable (OpaquePointer) -> Int32)
        async throws(LibvirtError)
    {
        let name = self.name
        try await withPool(call) { pool throws(LibvirtError) in
            if body(pool) < 0 { throw LibvirtError.last(call: call, target: name) }
        }
    }

    /// State, capacity, allocation and free space (`virStoragePoolGetInfo`).
    public func info() async throws(LibvirtError) -> StoragePoolInfo {
        let name = self.name
        return try await withPool("virStoragePoolGetInfo") { pool throws(LibvirtError) in
            try poolInfo(pool, name: name)
        }
    }

    /// Re-reads the pool's contents from its backing storage (`virStoragePoolRefresh`).
    public func refresh() async throws(LibvirtError) {
        try await perform("virStoragePoolRefresh") { virStoragePoolRefresh($0, 0) }
    }

    /// Builds the pool's backing storage, e.g. creates a dir pool's directory (`virStoragePoolBuild`).
    public func build() async throws(LibvirtError) {
        try await perform("virStoragePoolBuild") { virStoragePoolBuild($0, 0) }
    }

    /// Starts (activates) a defined pool (`virStoragePoolCreate`).
    public func start() async throws(LibvirtError) {
        try await perform("virStoragePoolCreate") { virStoragePoolCreate($0, 0) }
    }

    /// Stops (deactivates) the pool without touching its data (`virStoragePoolDestroy`).
    public func stop() async throws(LibvirtError) {
        try await perform("virStoragePoolDestroy") { virStoragePoolDestroy($0) }
    }

    /// Removes the pool's definition (`virStoragePoolUndefine`).
    public func undefine() async throws(LibvirtError) {
        try await perform("virStoragePoolUndefine") { virStoragePoolUndefine($0) }
    }

    /// The pool XML (`virStoragePoolGetXMLDesc`).
    public func xml() async throws(LibvirtError) -> String {
        let name = self.name
        return try await withPool("virStoragePoolGetXMLDesc") { pool throws(LibvirtError) in
            guard let raw = virStoragePoolGetXMLDesc(pool, 0) else {
                throw LibvirtError.last(call: "virStoragePoolGetXMLDesc", target: name)
            }
            defer { free(raw) }
            return String(cString: raw)
        }
    }

    /// Every volume of the pool with its size (`virStoragePoolListAllVolumes`).
    public func volumes() async throws(LibvirtError) -> [StorageVolumeInfo] {
        let name = self.name
        let list = try await withPool("virStoragePoolListAllVolumes") { pool throws(LibvirtError) in
            var list: UnsafeMutablePointer<virStorageVolPtr?>?
            let count = virStoragePoolListAllVolumes(pool, &list, 0)
            guard count >= 0, let list else {
                throw LibvirtError.last(call: "virStoragePoolListAllVolumes", target: name)
            }
            defer {
                for i in 0..<Int(count) { if let v = list[i] { virStorageVolFree(v) } }
                free(list)
            }
            var result: [StorageVolumeInfo] = []
            for i in 0..<Int(count) {
                guard let volume = list[i] else { continue }
                result.append(try volumeInfo(volume, pool: name))
            }
            return result
        }
        return list.sorted { $0.name < $1.name }
    }

    /// A volume of this pool by name (`virStorageVolLookupByName`).
    public func volume(named volumeName: String) async throws(LibvirtError) -> StorageVolume {
        let poolName = name
        let info = try await withPool("virStorageVolLookupByName") { pool throws(LibvirtError) in
            guard let volume = virStorageVolLookupByName(pool, volumeName) else {
                throw LibvirtError.last(call: "virStorageVolLookupByName", target: "\(poolName)/\(volumeName)")
            }
            defer { virStorageVolFree(volume) }
            return try volumeInfo(volume, pool: poolName)
        }
        return StorageVolume(connection: connection, info: info)
    }

    /// Creates a volume from volume XML (`virStorageVolCreateXML`), or as a copy of `source`
    /// (`virStorageVolCreateXMLFrom`), which may live in another pool of the same connection.
    public func createVolume(xml: String, cloning source: StorageVolume? = nil) async throws(LibvirtError)
        -> StorageVolume
    {
        let poolName = name
        let call = source == nil ? "virStorageVolCreateXML" : "virStorageVolCreateXMLFrom"
        let sourcePath = source?.path
        let info = try await withPool(call) { pool throws(LibvirtError) in
            let created: OpaquePointer?
            if let sourcePath {
                guard let conn = virStoragePoolGetConnect(pool),
                    let original = virStorageVolLookupByPath(conn, sourcePath)
                else { throw LibvirtError.last(call: "virStorageVolLookupByPath", target: sourcePath) }
                defer { virStorageVolFree(original) }
                created = virStorageVolCreateXMLFrom(pool, xml, original, 0)
            } else {
                created = virStorageVolCreateXML(pool, xml, 0)
            }
            guard let created else { throw LibvirtError.last(call: call, target: poolName) }
            defer { virStorageVolFree(created) }
            return try volumeInfo(created, pool: poolName)
        }
        return StorageVolume(connection: connection, info: info)
    }
}

/// A storage volume, identified by its path (unique on a host).
public struct StorageVolume: Sendable, CustomStringConvertible {
    public let connection: Connection
    /// What was known when the volume was looked up.
    public let info: StorageVolumeInfo

    public var name: String { info.name }
    public var pool: String { info.pool }
    public var path: String { info.path }
    public var description: String { "\(pool)/\(name)" }

    func withVolume<T: Sendable>(
        _ call: String, _ body: @escaping @Sendable (OpaquePointer) throws(LibvirtError) -> T
    ) async throws(LibvirtError) -> T {
        let path = self.path
        let target = description
        return try await connection.withConnection(call, target: target) { conn throws(LibvirtError) -> T in
            guard let volume = virStorageVolLookupByPath(conn, path) else {
                throw LibvirtError.last(call: call, target: target)
            }
            defer { virStorageVolFree(volume) }
            return try body(volume)
        }
    }

    /// Current type, capacity and allocation (`virStorageVolGetInfo`).
    public func refreshedInfo() async throws(LibvirtError) -> StorageVolumeInfo {
        let pool = self.pool
        return try await withVolume("virStorageVolGetInfo") { volume throws(LibvirtError) in
            try volumeInfo(volume, pool: pool)
        }
    }

    /// Deletes the volume and its data (`virStorageVolDelete`).
    public func delete() async throws(LibvirtError) {
        let target = description
        try await withVolume("virStorageVolDelete") { volume throws(LibvirtError) in
            if virStorageVolDelete(volume, 0) < 0 { throw LibvirtError.last(call: "virStorageVolDelete", target: target) }
        }
    }

    /// Changes the volume's capacity (`virStorageVolResize`). Shrinking must be asked for.
    public func resize(to capacity: UInt64, allowShrink: Bool = false) async throws(LibvirtError) {
        let target = description
        let flags: UInt32 = allowShrink ? UInt32(VIR_STORAGE_VOL_RESIZE_SHRINK.rawValue) : 0
        try await withVolume("virStorageVolResize") { volume throws(LibvirtError) in
            if virStorageVolResize(volume, capacity, flags) < 0 {
                throw LibvirtError.last(call: "virStorageVolResize", target: target)
            }
        }
    }

    /// The volume XML (`virStorageVolGetXMLDesc`).
    public func xml() async throws(LibvirtError) -> String {
        let target = description
        return try await withVolume("virStorageVolGetXMLDesc") { volume throws(LibvirtError) in
            guard let raw = virStorageVolGetXMLDesc(volume, 0) else {
                throw LibvirtError.last(call: "virStorageVolGetXMLDesc", target: target)
            }
            defer { free(raw) }
            return String(cString: raw)
        }
    }
}

/// `virStoragePoolGetInfo` plus identity.
public struct StoragePoolInfo: Sendable, Equatable, Codable {
    public enum State: Int32, Sendable, Codable {
        case inactive = 0, building, running, degraded, inaccessible
        public var name: String {
            switch self {
            case .inactive: "inactive"
            case .building: "building"
            case .running: "running"
            case .degraded: "degraded"
            case .inaccessible: "inaccessible"
            }
        }
    }
    public var name: String
    public var uuid: UUID
    public var state: State
    public var capacity: UInt64
    public var allocation: UInt64
    public var available: UInt64
    public var persistent: Bool
    public var autostart: Bool
}

/// `virStorageVolGetInfo` plus identity.
public struct StorageVolumeInfo: Sendable, Equatable, Codable {
    public enum Kind: Int32, Sendable, Codable {
        case file = 0, block, dir, network, netdir, ploop
    }
    public var name: String
    public var pool: String
    public var path: String
    public var key: String
    public var kind: Kind?
    public var capacity: UInt64
    public var allocation: UInt64
}

extension Connection {
    /// Every storage pool with its state and sizes (`virConnectListAllStoragePools`).
    public func listStoragePools() async throws(LibvirtError) -> [StoragePoolInfo] {
        let pools = try await withConnection("virConnectListAllStoragePools") { conn throws(LibvirtError) in
            var list: UnsafeMutablePointer<virStoragePoolPtr?>?
            let count = virConnectListAllStoragePools(conn, &list, 0)
            guard count >= 0, let list else { throw LibvirtError.last(call: "virConnectListAllStoragePools") }
            defer {
                for i in 0..<Int(count) { if let p = list[i] { virStoragePoolFree(p) } }
                free(list)
            }
            var result: [StoragePoolInfo] = []
            for i in 0..<Int(count) {
                guard let pool = list[i] else { continue }
                let name = virStoragePoolGetName(pool).map { String(cString: $0) } ?? ""
                result.append(try poolInfo(pool, name: name))
            }
            return result
        }
        return pools.sorted { $0.name < $1.name }
    }

    /// A pool by name (`virStoragePoolLookupByName`); fails if there is none.
    public func storagePool(named name: String) async throws(LibvirtError) -> StoragePool {
        let pool = StoragePool(connection: self, name: name)
        _ = try await pool.info()
        return pool
    }

    /// Defines a persistent pool from XML (`virStoragePoolDefineXML`).
    public func defineStoragePool(xml: String) async throws(LibvirtError) -> StoragePool {
        let name = try await withConnection("virStoragePoolDefineXML") { conn throws(LibvirtError) in
            guard let pool = virStoragePoolDefineXML(conn, xml, 0) else {
                throw LibvirtError.last(call: "virStoragePoolDefineXML")
            }
            defer { virStoragePoolFree(pool) }
            return virStoragePoolGetName(pool).map { String(cString: $0) } ?? ""
        }
        return StoragePool(connection: self, name: name)
    }

    /// The volume at `path`, if libvirt knows it in one of its pools (`virStorageVolLookupByPath`).
    public func storageVolume(path: String) async throws(LibvirtError) -> StorageVolume? {
        let info = try await withConnection("virStorageVolLookupByPath", target: path) {
            conn throws(LibvirtError) -> StorageVolumeInfo? in
            guard let volume = virStorageVolLookupByPath(conn, path) else {
                let error = LibvirtError.last(call: "virStorageVolLookupByPath", target: path)
                if error.code == .noStorageVolume { return nil }
                throw error
            }
            defer { virStorageVolFree(volume) }
            guard let pool = virStoragePoolLookupByVolume(volume) else {
                throw LibvirtError.last(call: "virStoragePoolLookupByVolume", target: path)
            }
            defer { virStoragePoolFree(pool) }
            let poolName = virStoragePoolGetName(pool).map { String(cString: $0) } ?? ""
            return try volumeInfo(volume, pool: poolName)
        }
        return info.map { StorageVolume(connection: self, info: $0) }
    }
}

private func poolInfo(_ pool: OpaquePointer, name: String) throws(LibvirtError) -> StoragePoolInfo {
    var info = virStoragePoolInfo()
    guard virStoragePoolGetInfo(pool, &info) == 0 else {
        throw LibvirtError.last(call: "virStoragePoolGetInfo", target: name)
    }
    var uuidBuffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
    guard virStoragePoolGetUUIDString(pool, &uuidBuffer) == 0,
        let uuid = uuid(fromCString: uuidBuffer)
    else { throw LibvirtError.last(call: "virStoragePoolGetUUIDString", target: name) }
    var autostart: Int32 = 0
    _ = virStoragePoolGetAutostart(pool, &autostart)
    return StoragePoolInfo(
        name: name, uuid: uuid, state: .init(rawValue: info.state) ?? .inaccessible,
        capacity: info.capacity, allocation: info.allocation, available: info.available,
        persistent: virStoragePoolIsPersistent(pool) == 1, autostart: autostart == 1)
}

private func volumeInfo(_ volume: OpaquePointer, pool: String) throws(LibvirtError) -> StorageVolumeInfo {
    let name = virStorageVolGetName(volume).map { String(cString: $0) } ?? ""
    var info = virStorageVolInfo()
    guard virStorageVolGetInfo(volume, &info) == 0 else {
        throw LibvirtError.last(call: "virStorageVolGetInfo", target: "\(pool)/\(name)")
    }
    guard let rawPath = virStorageVolGetPath(volume) else {
        throw LibvirtError.last(call: "virStorageVolGetPath", target: "\(pool)/\(name)")
    }
    defer { free(rawPath) }
    return StorageVolumeInfo(
        name: name, pool: pool, path: String(cString: rawPath),
        key: virStorageVolGetKey(volume).map { String(cString: $0) } ?? "",
        kind: .init(rawValue: info.type), capacity: info.capacity, allocation: info.allocation)
}
