public import Foundation
public import Libvirt

/// A guest as the agent sees it: libvirt's identity and state plus the agent's metadata.
///
/// Its JSON form (for `--json` and the inventory file) is flat and stable: `name`, `uuid`
/// (lower case), `state` and `state_reason` as words, `managed`, `protected`, `owner`, `labels`,
/// `created`, `metadata_problem` (with a snake-case key strategy).
public struct Guest: Sendable, Equatable, Encodable {
    public var name: String
    public var uuid: UUID
    public var state: DomainState
    /// The agent's metadata; `nil` for a foreign guest (or an unreadable element, see
    /// `metadataProblem`).
    public var metadata: GuestMetadata?
    /// Why the metadata element could not be read, if it could not.
    public var metadataProblem: String?

    public init(name: String, uuid: UUID, state: DomainState, metadata: GuestMetadata? = nil, metadataProblem: String? = nil) {
        self.name = name
        self.uuid = uuid
        self.state = state
        self.metadata = metadata
        self.metadataProblem = metadataProblem
    }

    private enum CodingKeys: String, CodingKey {
        case name, uuid, state, stateReason, managed, protected, owner, labels, created, metadataProblem
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(uuid.uuidString.lowercased(), forKey: .uuid)
        try c.encode(state.kind.name, forKey: .state)
        try c.encode(state.reasonName, forKey: .stateReason)
        try c.encode(isManaged, forKey: .managed)
        try c.encode(isProtected, forKey: .protected)
        try c.encodeIfPresent(metadata?.owner, forKey: .owner)
        try c.encode(metadata?.labels ?? [:], forKey: .labels)
        try c.encodeIfPresent(metadata?.created, forKey: .created)
        try c.encodeIfPresent(metadataProblem, forKey: .metadataProblem)
    }

    /// Defined by (or adopted by) a nodeagent: its metadata element is present and readable.
    public var isManaged: Bool { metadata != nil }
    public var isProtected: Bool { metadata?.protected ?? false }
}

/// `GuestManager.inspect`: a guest, its runtime info and its definition.
public struct GuestDetails: Sendable {
    public var guest: Guest
    public var info: DomainInfo
    public var description: GuestDescription?
    public var descriptionProblem: String?
    /// The live domain XML as libvirt returned it.
    public var xml: String
}

/// What `GuestManager.undefine` removed and what it kept.
public struct UndefineResult: Sendable, Equatable, Encodable {
    public struct Kept: Sendable, Equatable, Encodable {
        public var disk: String
        public var reason: String
    }
    public var guest: String
    public var uuid: UUID
    public var deletedVolumes: [String] = []
    public var keptDisks: [Kept] = []

    private enum CodingKeys: String, CodingKey { case guest, uuid, deletedVolumes, keptDisks }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(guest, forKey: .guest)
        try c.encode(uuid.uuidString.lowercased(), forKey: .uuid)
        try c.encode(deletedVolumes, forKey: .deletedVolumes)
        try c.encode(keptDisks, forKey: .keptDisks)
    }
}
