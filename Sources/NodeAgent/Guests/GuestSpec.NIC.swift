extension GuestSpec {
    /// A network interface of the guest.
    ///
    /// In the spec format: `{ type = "user" }`, `{ type = "network", network = "default" }` or
    /// `{ type = "bridge", bridge = "br0" }`, with optional `model` and `mac`.
    public struct NIC: Codable, Sendable, Equatable {
        /// What the interface is connected to.
        public var attachment: Attachment
        /// The emulated device. Default `virtio`.
        public var model: Model
        /// The MAC address, `xx:xx:xx:xx:xx:xx` unicast; nil: libvirt generates one.
        public var mac: String?

        /// An interface with the documented defaults for everything not given.
        public init(_ attachment: Attachment, model: Model = .virtio, mac: String? = nil) {
            self.attachment = attachment
            self.model = model
            self.mac = mac
        }

        /// What an interface is connected to.
        public enum Attachment: Sendable, Equatable {
            /// QEMU user-mode networking (SLIRP): no host setup, the host is 10.0.2.2.
            case user
            /// A libvirt virtual network, by name.
            case network(String)
            /// An existing host bridge, by name.
            case bridge(String)
        }

        /// The emulated network device.
        public enum Model: String, Codable, Sendable, CaseIterable, SpecKeyword {
            /// virtio-net.
            case virtio
            /// Intel e1000.
            case e1000
            /// Realtek RTL8139.
            case rtl8139
            /// Decodes one of the models.
            public init(from decoder: any Decoder) throws { self = try Self.decodeKeyword(from: decoder) }
        }

        enum Kind: String, CaseIterable, Codable, SpecKeyword {
            case user, network, bridge
            init(from decoder: any Decoder) throws { self = try Self.decodeKeyword(from: decoder) }
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case type, network, bridge, model, mac
        }

        /// Decodes a `[[nics]]` entry; the source key must match `type`.
        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let kind = try container.decode(Kind.self, forKey: .type)
            let base = FieldPath.string(decoder.codingPath)
            for key in [CodingKeys.network, .bridge] where key.stringValue != kind.rawValue && container.contains(key) {
                throw GuestSpecError(
                    field: FieldPath.appending(key.stringValue, to: base), rawValue: nil, code: .conflict,
                    reason: "not allowed with type = \"\(kind.rawValue)\"")
            }
            switch kind {
            case .user: attachment = .user
            case .network: attachment = .network(try container.decode(String.self, forKey: .network))
            case .bridge: attachment = .bridge(try container.decode(String.self, forKey: .bridge))
            }
            model = try container.decodeIfPresent(Model.self, forKey: .model) ?? .virtio
            mac = try container.decodeIfPresent(String.self, forKey: .mac)
        }

        /// Encodes the interface table with its `type`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch attachment {
            case .user: try container.encode(Kind.user, forKey: .type)
            case .network(let name):
                try container.encode(Kind.network, forKey: .type)
                try container.encode(name, forKey: .network)
            case .bridge(let name):
                try container.encode(Kind.bridge, forKey: .type)
                try container.encode(name, forKey: .bridge)
            }
            try container.encode(model, forKey: .model)
            try container.encodeIfPresent(mac, forKey: .mac)
        }
    }
}
