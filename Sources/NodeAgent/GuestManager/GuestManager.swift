public import Foundation
public import Libvirt

/// The agent's guest lifecycle: define, start, stop (grace then destroy), reboot, suspend,
/// resume, undefine (with or without volumes), list, inspect and protect.
///
/// Policy lives here, not in `Libvirt`: guests without the agent's metadata are foreign and are
/// not touched unless `force` is given; protected guests refuse destroy and undefine unless
/// `force` is given. Ownership and protection are stored in the domain's `<metadata>`, so they
/// survive the agent losing its own state. Operations are idempotent where that is safe:
/// starting a running guest or stopping a stopped one succeeds without doing anything.
public struct GuestManager: Sendable {
    public let connection: Connection
    /// Owner written into the metadata of guests this manager defines.
    public let owner: String
    public let shutdownPolicy: ShutdownPolicy

    public init(connection: Connection, owner: String = "nodeagent", shutdownPolicy: ShutdownPolicy = ShutdownPolicy()) {
        self.connection = connection
        self.owner = owner
        self.shutdownPolicy = shutdownPolicy
    }

    // MARK: Define

    /// Validates `spec`, renders it with the agent's metadata and defines it.
    /// Refuses a name or UUID that is already defined: redefining would silently replace a guest.
    @discardableResult
    public func define(_ spec: GuestSpec, protected: Bool = false, now: Date = Date()) async throws(AgentError) -> Guest {
        let uuid = spec.uuid ?? UUID()
        let metadata = GuestMetadata(owner: owner, protected: protected, labels: spec.labels, createdAt: now)
        let xml: String
        do {
            xml = try spec.domainXML(uuid: uuid, metadata: metadata)
        } catch {
            throw AgentError(.invalidArgument, subject: spec.name, operation: "define", message: error.description, spec: error)
        }
        for existing in [try await lookup(name: spec.name), try await lookup(uuid: uuid)].compactMap({ $0 }) {
            throw AgentError(
                .alreadyExists, subject: spec.name, operation: "define",
                message: "a guest named \(existing.name) with UUID \(existing.uuid.uuidString.lowercased()) is already defined")
        }
        let domain = try await call("define", spec.name) { () throws(LibvirtError) in try await connection.defineDomain(xml: xml) }
        return try await guest(domain, operation: "define")
    }

    // MARK: Power

    /// Starts a defined guest. Starting a running guest does nothing.
    @discardableResult
    public func start(_ ref: String, force: Bool = false) async throws(AgentError) -> Guest {
        let (domain, current) = try await managed(ref, "start", force: force)
        switch current.state.kind {
        case .running, .blocked: return current
        case .paused:
            throw AgentError(.wrongState, subject: domain.name, operation: "start", message: "the guest is paused; resume it instead")
        default:
            try await call("start", domain.name) { () throws(LibvirtError) in try await domain.start() }
        }
        return try await guest(domain, operation: "start")
    }

    /// Stops a guest the way VDSM and nova do: a shutdown request (the hypervisor's default
    /// method: the guest agent if the guest has one, else the ACPI power button), repeated every
    /// `policy.retryInterval`, then destroy after `policy.grace`. A protected guest is never
    /// destroyed unless `force` is given: its stop then fails with `.timedOut`.
    public func stop(
        _ ref: String, policy: ShutdownPolicy? = nil, force: Bool = false,
        progress: @Sendable (String) -> Void = { _ in }
    ) async throws(AgentError) -> StopOutcome {
        let policy = policy ?? shutdownPolicy
        let (domain, current) = try await managed(ref, "stop", force: force)
        if !current.state.kind.isActive { return .alreadyStopped }
        let clock = ContinuousClock()
        let start = clock.now
        var requests = 0
        var nextRequest = start
        while true {
            if Task.isCancelled {
                throw AgentError(
                    .cancelled, subject: domain.name, operation: "stop",
                    message: "cancelled after \(requests) shutdown request(s); the guest was left as it is")
            }
            let now = clock.now
            if now - start >= policy.grace { break }
            if now >= nextRequest {
                do throws(LibvirtError) {
                    try await domain.shutdown()
                    requests += 1
                    progress("asked \(domain.name) to shut down (request \(requests))")
                } catch where error.code == .operationInvalid {
                    // It stopped between our state check and the request.
                } catch {
                    throw AgentError.from(error, subject: domain.name, operation: "stop")
                }
                nextRequest = now + policy.retryInterval
            }
            let state = try await call("stop", domain.name) { () throws(LibvirtError) in try await domain.state() }
            if !state.kind.isActive { return .shutDown(requests: requests, after: clock.now - start) }
            try? await Task.sleep(for: min(policy.pollInterval, max(.zero, policy.grace - (clock.now - start))))
        }
        if !policy.destroyAfterGrace {
            throw AgentError(
                .timedOut, subject: domain.name, operation: "stop",
                message: "the guest did not shut down within \(policy.grace) after \(requests) request(s); it was left running as asked")
        }
        let metadata = try await readMetadata(domain, operation: "stop")
        if metadata?.protected == true && !force {
            throw AgentError(
                .timedOut, subject: domain.name, operation: "stop",
                message: "the guest did not shut down within \(policy.grace) after \(requests) request(s) and is protected, so it was not destroyed; pass --force to destroy it")
        }
        progress("\(domain.name) did not shut down within \(policy.grace); destroying it")
        do throws(LibvirtError) {
            try await domain.destroy()
        } catch where error.code == .operationInvalid {
            return .shutDown(requests: requests, after: clock.now - start)
        } catch {
            throw AgentError.from(error, subject: domain.name, operation: "stop")
        }
        return .destroyed(requests: requests, after: clock.now - start)
    }

    /// Pulls the plug. Refused for protected guests unless `force`. Destroying a stopped guest
    /// does nothing.
    @discardableResult
    public func destroy(_ ref: String, force: Bool = false) async throws(AgentError) -> Guest {
        let (domain, current) = try await managed(ref, "destroy", force: force)
        try refuseIfProtected(current, "destroy", force: force)
        if current.state.kind.isActive {
            try await call("destroy", domain.name) { () throws(LibvirtError) in try await domain.destroy() }
        }
        return try await guest(domain, operation: "destroy")
    }

    /// Asks a running guest to reboot (the hypervisor's default method, as for `stop`).
    @discardableResult
    public func reboot(_ ref: String, force: Bool = false) async throws(AgentError) -> Guest {
        let (domain, current) = try await managed(ref, "reboot", force: force)
        guard current.state.kind == .running || current.state.kind == .blocked else {
            throw AgentError(.wrongState, subject: domain.name, operation: "reboot", message: "the guest is \(current.state.kind.name), not running")
        }
        try await call("reboot", domain.name) { () throws(LibvirtError) in try await domain.reboot() }
        return try await guest(domain, operation: "reboot")
    }

    /// Pauses a running guest. Suspending a paused guest does nothing.
    @discardableResult
    public func suspend(_ ref: String, force: Bool = false) async throws(AgentError) -> Guest {
        let (domain, current) = try await managed(ref, "suspend", force: force)
        switch current.state.kind {
        case .paused: return current
        case .running, .blocked:
            try await call("suspend", domain.name) { () throws(LibvirtError) in try await domain.suspend() }
        default:
            throw AgentError(.wrongState, subject: domain.name, operation: "suspend", message: "the guest is \(current.state.kind.name), not running")
        }
        return try await guest(domain, operation: "suspend")
    }

    /// Resumes a paused guest. Resuming a running guest does nothing.
    @discardableResult
    public func resume(_ ref: String, force: Bool = false) async throws(AgentError) -> Guest {
        let (domain, current) = try await managed(ref, "resume", force: force)
        switch current.state.kind {
        case .running, .blocked: return current
        case .paused:
            try await call("resume", domain.name) { () throws(LibvirtError) in try await domain.resume() }
        default:
            throw AgentError(.wrongState, subject: domain.name, operation: "resume", message: "the guest is \(current.state.kind.name), not paused")
        }
        return try await guest(domain, operation: "resume")
    }

    // MARK: Undefine

    /// Removes a guest's definition, and with `deleteVolumes` the writable disks libvirt knows
    /// as storage volumes. A running guest is refused unless `force` (it is destroyed first);
    /// a protected guest is refused unless `force`. Read-only disks (shared images) are never
    /// deleted, nor files that are not libvirt volumes.
    public func undefine(_ ref: String, deleteVolumes: Bool = false, force: Bool = false) async throws(AgentError) -> UndefineResult {
        let (domain, current) = try await managed(ref, "undefine", force: force)
        try refuseIfProtected(current, "undefine", force: force)
        if current.state.kind.isActive {
            guard force else {
                throw AgentError(
                    .wrongState, subject: domain.name, operation: "undefine",
                    message: "the guest is \(current.state.kind.name); stop it first or pass --force")
            }
            try await call("undefine", domain.name) { () throws(LibvirtError) in try await domain.destroy() }
        }
        let xml = try await call("undefine", domain.name) { () throws(LibvirtError) in try await domain.xml(.inactive) }
        let description = try? GuestDescription(xml: xml)
        var flags: UndefineFlags = [.managedSave, .snapshotsMetadata]
        if xml.contains("<nvram") { flags.insert(.nvram) }
        try await call("undefine", domain.name) { () throws(LibvirtError) in try await domain.undefine(flags) }

        var result = UndefineResult(guest: domain.name, uuid: domain.uuid)
        guard deleteVolumes else { return result }
        for disk in description?.disks ?? [] where !disk.readonly {
            let volume: StorageVolume?
            do throws(LibvirtError) {
                switch disk.source {
                case .volume(let pool, let name):
                    volume = try await connection.storagePool(named: pool).volume(named: name)
                case .file(let path), .block(let path):
                    volume = try await connection.storageVolume(path: path)
                case nil:
                    volume = nil
                }
                guard let volume else {
                    result.keptDisks.append(UndefineResult.Kept(disk: disk.target, reason: "not a libvirt storage volume"))
                    continue
                }
                try await volume.delete()
                result.deletedVolumes.append(volume.path)
            } catch {
                result.keptDisks.append(UndefineResult.Kept(disk: disk.target, reason: error.description))
            }
        }
        return result
    }

    // MARK: Reading

    /// Every guest on the connection, managed or foreign, sorted by name.
    public func list() async throws(AgentError) -> [Guest] {
        // One trip to libvirt for every domain with its state and metadata.
        let domains = try await call("list", "guests") { () throws(LibvirtError) in
            try await connection.listDomains(metadataURI: GuestMetadata.namespaceURI)
        }
        return domains.map { summary in
            var guest = Guest(name: summary.name, uuid: summary.uuid, state: summary.state)
            if let raw = summary.metadata {
                do throws(GuestSpecError) {
                    guest.metadata = try GuestMetadata(xmlElement: raw)
                } catch {
                    guest.metadataProblem = error.description
                }
            }
            return guest
        }
    }

    /// One guest, by name or UUID (one trip to libvirt: lookup, state and metadata together).
    public func get(_ ref: String) async throws(AgentError) -> Guest {
        let snapshot: DomainSnapshot
        do throws(LibvirtError) {
            snapshot = try await connection.domainSnapshot(ref, metadataURI: GuestMetadata.namespaceURI)
        } catch {
            var failure = AgentError.from(error, subject: ref, operation: "get")
            if failure.code == .notFound {
                failure.message = UUID(uuidString: ref) == nil ? "no guest is named \"\(ref)\"" : "no guest has UUID \(ref)"
            }
            throw failure
        }
        var guest = Guest(name: snapshot.domain.name, uuid: snapshot.domain.uuid, state: snapshot.state)
        if let raw = snapshot.metadata {
            do {
                guest.metadata = try GuestMetadata(xmlElement: raw)
            } catch {
                guest.metadataProblem = error.description
            }
        }
        return guest
    }

    /// One guest with its runtime info and its parsed definition.
    public func inspect(_ ref: String) async throws(AgentError) -> GuestDetails {
        let domain = try await resolve(ref, "inspect")
        let guest = try await guest(domain, operation: "inspect")
        let info = try await call("inspect", domain.name) { () throws(LibvirtError) in try await domain.info() }
        let xml = try await call("inspect", domain.name) { () throws(LibvirtError) in try await domain.xml() }
        let description: GuestDescription?
        var problem: String?
        do {
            description = try GuestDescription(xml: xml)
        } catch {
            description = nil
            problem = "\(error)"
        }
        return GuestDetails(guest: guest, info: info, description: description, descriptionProblem: problem, xml: xml)
    }

    /// Marks a guest protected (or not). Protected guests refuse destroy and undefine unless
    /// forced. Foreign guests are refused unless `force` (which adopts them: they gain the
    /// agent's metadata).
    @discardableResult
    public func setProtected(_ ref: String, _ protected: Bool, force: Bool = false, now: Date = Date()) async throws(AgentError) -> Guest {
        let (domain, current) = try await managed(ref, "protect", force: force)
        var metadata = current.metadata ?? GuestMetadata(owner: owner, protected: protected, createdAt: now)
        metadata.protected = protected
        try await writeMetadata(metadata, to: domain, active: current.state.kind.isActive, operation: "protect")
        return try await guest(domain, operation: "protect")
    }

    // MARK: - Helpers

    /// Finds a guest by UUID or name.
    public func resolve(_ ref: String, _ operation: String) async throws(AgentError) -> Domain {
        let uuid = UUID(uuidString: ref)
        do throws(LibvirtError) {
            if let uuid { return try await connection.domain(uuid: uuid) }
            return try await connection.domain(named: ref)
        } catch {
            var failure = AgentError.from(error, subject: ref, operation: operation)
            if failure.code == .notFound {
                failure.message = uuid == nil ? "no guest is named \"\(ref)\"" : "no guest has UUID \(ref)"
            }
            throw failure
        }
    }

    /// The domain with this name or UUID, or nil if there is none.
    private func lookup(name: String? = nil, uuid: UUID? = nil) async throws(AgentError) -> Domain? {
        do throws(LibvirtError) {
            if let uuid { return try await connection.domain(uuid: uuid) }
            return try await connection.domain(named: name ?? "")
        } catch where error.code == .noDomain {
            return nil
        } catch {
            throw AgentError.from(error, subject: name ?? uuid?.uuidString ?? "", operation: "define")
        }
    }

    /// Resolves a guest and refuses it if it is foreign and `force` is not given.
    func managed(_ ref: String, _ operation: String, force: Bool) async throws(AgentError) -> (Domain, Guest) {
        let domain = try await resolve(ref, operation)
        let current = try await guest(domain, operation: operation)
        if !current.isManaged && !force {
            let reason = current.metadataProblem.map { "its nodeagent metadata is unreadable (\($0))" }
                ?? "it has no nodeagent metadata: it was not defined by this agent"
            throw AgentError(.refused, subject: domain.name, operation: operation, message: "refusing to touch a foreign guest: \(reason); pass --force to act on it anyway")
        }
        return (domain, current)
    }

    private func refuseIfProtected(_ guest: Guest, _ operation: String, force: Bool) throws(AgentError) {
        if guest.isProtected && !force {
            throw AgentError(.refused, subject: guest.name, operation: operation, message: "the guest is protected; unprotect it first or pass --force")
        }
    }

    private func guest(_ domain: Domain, operation: String) async throws(AgentError) -> Guest {
        let state = try await call(operation, domain.name) { () throws(LibvirtError) in try await domain.state() }
        var guest = Guest(name: domain.name, uuid: domain.uuid, state: state)
        do {
            guest.metadata = try await readMetadata(domain, operation: operation)
        } catch where error.code == .invalidArgument {
            guest.metadataProblem = error.message
        }
        return guest
    }

    private func readMetadata(_ domain: Domain, operation: String) async throws(AgentError) -> GuestMetadata? {
        let raw = try await call(operation, domain.name) { () throws(LibvirtError) in
            try await domain.metadata(uri: GuestMetadata.namespaceURI)
        }
        guard let raw else { return nil }
        do {
            return try GuestMetadata(xmlElement: raw)
        } catch {
            throw AgentError(.invalidArgument, subject: domain.name, operation: operation, message: error.description, spec: error)
        }
    }

    private func writeMetadata(_ metadata: GuestMetadata, to domain: Domain, active: Bool, operation: String) async throws(AgentError) {
        let element: String
        do {
            element = try metadata.xmlElement()
        } catch {
            throw AgentError(.invalidArgument, subject: domain.name, operation: operation, message: error.description, spec: error)
        }
        // A running persistent guest has two definitions; both must agree.
        let impact: Impact = active ? [.live, .config] : .config
        try await call(operation, domain.name) { () throws(LibvirtError) in
            try await domain.setMetadata(element, key: GuestMetadata.namespacePrefix, uri: GuestMetadata.namespaceURI, impact: impact)
        }
    }
}
