import CLibvirt
public import Foundation

/// A libvirt domain, identified by UUID.
///
/// A `Domain` holds no libvirt handle: every operation looks the domain up by UUID on the
/// connection's current generation, so it stays valid across reconnects. Each method names the
/// libvirt call it makes.
public struct Domain: Sendable, Hashable, CustomStringConvertible {
    public let connection: Connection
    public let uuid: UUID
    /// The name at the time the domain was looked up.
    public let name: String

    init(connection: Connection, uuid: UUID, name: String) {
        self.connection = connection
        self.uuid = uuid
        self.name = name
    }

    public static func == (a: Domain, b: Domain) -> Bool { a.connection === b.connection && a.uuid == b.uuid }
    public func hash(into hasher: inout Hasher) { hasher.combine(uuid) }
    public var description: String { "\(name) (\(uuid.uuidString.lowercased()))" }

    /// Runs `body` with a looked-up `virDomainPtr`, freed afterwards.
    func withDomain<T: Sendable>(
        _ call: String, _ body: @escaping @Sendable (OpaquePointer) throws(LibvirtError) -> T
    ) async throws(LibvirtError) -> T {
        let uuid = self.uuid
        let target = name
        return try await connection.withConnection(call, target: target) { conn throws(LibvirtError) -> T in
            let domain = try lookupDomain(conn, uuid: uuid, call: call, target: target)
            defer { virDomainFree(domain) }
            return try body(domain)
        }
    }

    /// Runs a call that returns 0 on success and -1 on failure.
    private func perform(_ call: String, _ body: @escaping @Sendable (OpaquePointer) -> Int32)
        async throws(LibvirtError)
    {
        let target = name
        try await withDomain(call) { domain throws(LibvirtError) in
            if body(domain) < 0 { throw LibvirtError.last(call: call, target: target) }
        }
    }

    // MARK: Lifecycle

    /// Starts a defined domain (`virDomainCreateWithFlags`).
    public func start(paused: Bool = false) async throws(LibvirtError) {
        let flags = paused ? UInt32(VIR_DOMAIN_START_PAUSED.rawValue) : 0
        try await perform("virDomainCreateWithFlags") { virDomainCreateWithFlags($0, flags) }
    }

    /// Asks the guest to shut down (`virDomainShutdownFlags`). Returns at once; the guest may
    /// ignore the request.
    public func shutdown(_ mode: ShutdownMode = []) async throws(LibvirtError) {
        try await perform("virDomainShutdownFlags") { virDomainShutdownFlags($0, mode.rawValue) }
    }

    /// Asks the guest to reboot (`virDomainReboot`).
    public func reboot(_ mode: ShutdownMode = []) async throws(LibvirtError) {
        try await perform("virDomainReboot") { virDomainReboot($0, mode.rawValue) }
    }

    /// Stops the domain at once, like pulling the plug (`virDomainDestroyFlags`). With
    /// `graceful`, libvirt only sends SIGTERM to the emulator and never SIGKILL.
    public func destroy(graceful: Bool = false) async throws(LibvirtError) {
        let flags = graceful ? UInt32(VIR_DOMAIN_DESTROY_GRACEFUL.rawValue) : 0
        try await perform("virDomainDestroyFlags") { virDomainDestroyFlags($0, flags) }
    }

    /// Pauses all vCPUs (`virDomainSuspend`).
    public func suspend() async throws(LibvirtError) {
        try await perform("virDomainSuspend") { virDomainSuspend($0) }
    }

    /// Resumes a paused domain (`virDomainResume`).
    public func resume() async throws(LibvirtError) {
        try await perform("virDomainResume") { virDomainResume($0) }
    }

    /// Removes the persistent definition (`virDomainUndefineFlags`). A running domain becomes
    /// transient and disappears when it stops.
    public func undefine(_ flags: UndefineFlags = []) async throws(LibvirtError) {
        try await perform("virDomainUndefineFlags") { virDomainUndefineFlags($0, flags.rawValue) }
    }

    // MARK: Reading

    /// The current state and its reason (`virDomainGetState`).
    public func state() async throws(LibvirtError) -> DomainState {
        let target = name
        return try await withDomain("virDomainGetState") { domain throws(LibvirtError) in
            try readState(domain, target: target)
        }
    }

    /// State, memory, vCPU count and CPU time (`virDomainGetInfo`).
    public func info() async throws(LibvirtError) -> DomainInfo {
        let target = name
        return try await withDomain("virDomainGetInfo") { domain throws(LibvirtError) in
            var info = virDomainInfo()
            guard virDomainGetInfo(domain, &info) == 0 else {
                throw LibvirtError.last(call: "virDomainGetInfo", target: target)
            }
            let state = try readState(domain, target: target)
            return DomainInfo(
                state: state, maxMemoryKiB: UInt64(info.maxMem), memoryKiB: UInt64(info.memory),
                vcpus: Int(info.nrVirtCpu), cpuTimeNanoseconds: info.cpuTime,
                persistent: virDomainIsPersistent(domain) == 1,
                id: state.kind.isActive ? virDomainGetID(domain) : nil)
        }
    }

    /// The domain XML (`virDomainGetXMLDesc`).
    public func xml(_ flags: XMLFlags = []) async throws(LibvirtError) -> String {
        let target = name
        return try await withDomain("virDomainGetXMLDesc") { domain throws(LibvirtError) in
            guard let raw = virDomainGetXMLDesc(domain, flags.rawValue) else {
                throw LibvirtError.last(call: "virDomainGetXMLDesc", target: target)
            }
            defer { free(raw) }
            return String(cString: raw)
        }
    }

    /// Whether a managed-save image exists (`virDomainHasManagedSaveImage`).
    public func hasManagedSaveImage() async throws(LibvirtError) -> Bool {
        let target = name
        return try await withDomain("virDomainHasManagedSaveImage") { domain throws(LibvirtError) in
            let result = virDomainHasManagedSaveImage(domain, 0)
            if result < 0 { throw LibvirtError.last(call: "virDomainHasManagedSaveImage", target: target) }
            return result == 1
        }
    }

    // MARK: Metadata

    /// Sets (or with `nil`, removes) the custom metadata element stored under namespace `uri`
    /// (`virDomainSetMetadata` with `VIR_DOMAIN_METADATA_ELEMENT`). `xml` is one element;
    /// libvirt stores it with the namespace bound to `key` as its prefix.
    public func setMetadata(
        _ xml: String?, key: String, uri: String, impact: Impact = .current
    ) async throws(LibvirtError) {
        let type = Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue)
        try await perform("virDomainSetMetadata") { domain in
            virDomainSetMetadata(domain, type, xml, xml == nil ? nil : key, uri, impact.rawValue)
        }
    }

    /// The custom metadata element stored under namespace `uri`, or `nil` if there is none
    /// (`virDomainGetMetadata`).
    public func metadata(uri: String, impact: Impact = .current) async throws(LibvirtError) -> String? {
        let target = name
        return try await withDomain("virDomainGetMetadata") { domain throws(LibvirtError) -> String? in
            let type = Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue)
            guard let raw = virDomainGetMetadata(domain, type, uri, impact.rawValue) else {
                let error = LibvirtError.last(call: "virDomainGetMetadata", target: target)
                if error.code == .noDomainMetadata { return nil }
                throw error
            }
            defer { free(raw) }
            return String(cString: raw)
        }
    }
}

// MARK: - Connection: finding and defining domains

extension Connection {
    /// Defines (or redefines) a persistent domain from XML (`virDomainDefineXMLFlags`).
    /// With `validate`, libvirt checks the XML against its schema first.
    public func defineDomain(xml: String, validate: Bool = true) async throws(LibvirtError) -> Domain {
        let flags = validate ? UInt32(VIR_DOMAIN_DEFINE_VALIDATE.rawValue) : 0
        let summary = try await withConnection("virDomainDefineXMLFlags") { conn throws(LibvirtError) in
            guard let domain = virDomainDefineXMLFlags(conn, xml, flags) else {
                throw LibvirtError.last(call: "virDomainDefineXMLFlags")
            }
            defer { virDomainFree(domain) }
            return try identity(domain, call: "virDomainDefineXMLFlags")
        }
        return Domain(connection: self, uuid: summary.uuid, name: summary.name)
    }

    /// Looks a domain up by name (`virDomainLookupByName`).
    public func domain(named name: String) async throws(LibvirtError) -> Domain {
        let found = try await withConnection("virDomainLookupByName", target: name) { conn throws(LibvirtError) in
            guard let domain = virDomainLookupByName(conn, name) else {
                throw LibvirtError.last(call: "virDomainLookupByName", target: name)
            }
            defer { virDomainFree(domain) }
            return try identity(domain, call: "virDomainLookupByName")
        }
        return Domain(connection: self, uuid: found.uuid, name: found.name)
    }

    /// Looks a domain up by UUID (`virDomainLookupByUUIDString`).
    public func domain(uuid: UUID) async throws(LibvirtError) -> Domain {
        let target = uuid.uuidString.lowercased()
        let found = try await withConnection("virDomainLookupByUUIDString", target: target) {
            conn throws(LibvirtError) in
            let domain = try lookupDomain(conn, uuid: uuid, call: "virDomainLookupByUUIDString", target: target)
            defer { virDomainFree(domain) }
            return try identity(domain, call: "virDomainLookupByUUIDString")
        }
        return Domain(connection: self, uuid: found.uuid, name: found.name)
    }

    /// A domain by name or UUID with its state and one metadata element, in one trip to the
    /// call queue: `virDomainLookupByUUIDString` (a UUID) or `virDomainLookupByName`, then
    /// `virDomainGetState` and `virDomainGetMetadata` (nil when the domain has none for `uri`).
    /// What `GuestManager.get` needs, for a third of the thread hops of three calls.
    public func domainSnapshot(_ ref: String, metadataURI uri: String) async throws(LibvirtError) -> DomainSnapshot {
        let uuid = UUID(uuidString: ref)
        let call = uuid == nil ? "virDomainLookupByName" : "virDomainLookupByUUIDString"
        let found = try await withConnection(call, target: ref) { conn throws(LibvirtError) in
            let domain: OpaquePointer
            if let uuid {
                domain = try lookupDomain(conn, uuid: uuid, call: call, target: ref)
            } else {
                guard let named = virDomainLookupByName(conn, ref) else { throw LibvirtError.last(call: call, target: ref) }
                domain = named
            }
            defer { virDomainFree(domain) }
            let id = try identity(domain, call: call)
            let state = try readState(domain, target: id.name)
            let type = Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue)
            var metadata: String?
            if let raw = virDomainGetMetadata(domain, type, uri, 0) {
                metadata = String(cString: raw)
                free(raw)
            } else {
                let error = LibvirtError.last(call: "virDomainGetMetadata", target: id.name)
                if error.code != .noDomainMetadata { throw error }
            }
            return (id, state, metadata)
        }
        return DomainSnapshot(domain: Domain(connection: self, uuid: found.0.uuid, name: found.0.name), state: found.1, metadata: found.2)
    }

    /// Every domain, active and inactive, with its state (`virConnectListAllDomains`, then
    /// `virDomainGetState` per domain) and, given `metadataURI`, that metadata element of each
    /// (`virDomainGetMetadata`), all in one trip to the call queue.
    public func listDomains(metadataURI: String? = nil) async throws(LibvirtError) -> [DomainSummary] {
        let raw = try await withConnection("virConnectListAllDomains") { conn throws(LibvirtError) -> [DomainSummary] in
            var list: UnsafeMutablePointer<virDomainPtr?>?
            let count = virConnectListAllDomains(conn, &list, 0)
            guard count >= 0, let list else { throw LibvirtError.last(call: "virConnectListAllDomains") }
            defer {
                for i in 0..<Int(count) { if let d = list[i] { virDomainFree(d) } }
                free(list)
            }
            var result: [DomainSummary] = []
            result.reserveCapacity(Int(count))
            for i in 0..<Int(count) {
                guard let domain = list[i] else { continue }
                let id = try identity(domain, call: "virConnectListAllDomains")
                let state: DomainState
                do throws(LibvirtError) {
                    state = try readState(domain, target: id.name)
                } catch where error.code == .noDomain {
                    continue  // undefined between the list and the state query
                }
                var summary = DomainSummary(
                    name: id.name, uuid: id.uuid, state: state,
                    id: state.kind.isActive ? virDomainGetID(domain) : nil,
                    persistent: virDomainIsPersistent(domain) == 1)
                if let metadataURI {
                    let type = Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue)
                    if let raw = virDomainGetMetadata(domain, type, metadataURI, 0) {
                        summary.metadata = String(cString: raw)
                        free(raw)
                    } else {
                        let error = LibvirtError.last(call: "virDomainGetMetadata", target: id.name)
                        if error.code == .noDomain { continue }  // undefined meanwhile
                        if error.code != .noDomainMetadata { throw error }
                    }
                }
                result.append(summary)
            }
            return result
        }
        return raw.sorted { $0.name < $1.name }
    }

    /// Wraps a summary's identity as a `Domain` of this connection.
    public func domain(_ summary: DomainSummary) -> Domain {
        Domain(connection: self, uuid: summary.uuid, name: summary.name)
    }
}

// MARK: - Helpers shared by the blocking closures

func lookupDomain(_ conn: OpaquePointer, uuid: UUID, call: String, target: String) throws(LibvirtError)
    -> OpaquePointer
{
    guard let domain = virDomainLookupByUUIDString(conn, uuid.uuidString.lowercased()) else {
        throw LibvirtError.last(call: call, target: target)
    }
    return domain
}

func identity(_ domain: OpaquePointer, call: String) throws(LibvirtError) -> (name: String, uuid: UUID) {
    guard let name = virDomainGetName(domain).map({ String(cString: $0) }), let uuid = domainUUID(domain) else {
        throw LibvirtError.last(call: call)
    }
    return (name, uuid)
}

func domainUUID(_ domain: OpaquePointer) -> UUID? {
    var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
    guard virDomainGetUUIDString(domain, &buffer) == 0 else { return nil }
    return uuid(fromCString: buffer)
}

/// Parses a NUL-terminated UUID string buffer filled by libvirt.
func uuid(fromCString buffer: [CChar]) -> UUID? {
    UUID(uuidString: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
}

func readState(_ domain: OpaquePointer, target: String) throws(LibvirtError) -> DomainState {
    var state: Int32 = 0
    var reason: Int32 = 0
    guard virDomainGetState(domain, &state, &reason, 0) == 0 else {
        throw LibvirtError.last(call: "virDomainGetState", target: target)
    }
    return DomainState(rawState: state, reason: reason)
}
