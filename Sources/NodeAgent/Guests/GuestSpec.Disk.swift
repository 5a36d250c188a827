extension GuestSpec {
    /// A disk attached to the guest.
    public struct Disk: Codable, Sendable, Equatable {
        /// Where the disk's data lives.
        public var source: Source
        /// The image format. Default `raw`.
        public var format: Format
        /// The guest device name: `vd[a-z]` on virtio, `sd[a-z]` on sata or scsi. Default: the
        /// first free name for the bus, in listing order.
        public var target: String?
        /// The bus the disk sits on. Default `virtio`.
        public var bus: Bus
        /// Whether the guest sees the disk read-only. Default false.
        public var readonly: Bool
        /// The host page-cache mode; nil: the hypervisor's default.
        public var cache: CacheMode?
        /// I/O throttling; nil: none.
        public var iotune: IOTune?

        /// A disk with the documented defaults for everything not given.
        public init(
            source: Source, format: Format = .raw, target: String? = nil, bus: Bus = .virtio, readonly: Bool = false,
            cache: CacheMode? = nil, iotune: IOTune? = nil
        ) {
            self.source = source
            self.format = format
            self.target = target
            self.bus = bus
            self.readonly = readonly
            self.cache = cache
            self.iotune = iotune
        }

        /// Where a disk's data lives. In the spec format a table with a `type` key:
        /// `{ type = "volume", pool = "images", volume = "web.qcow2" }`,
        /// `{ type = "file", path = "/srv/disk.raw" }` or `{ type = "block", path = "/dev/vg0/web" }`.
        public enum Source: Codable, Sendable, Equatable, Hashable {
            /// A volume of a libvirt storage pool.
            case volume(pool: String, volume: String)
            /// An image file on the host.
            case file(path: String)
            /// A block device on the host.
            case block(path: String)

            enum CodingKeys: String, CodingKey, CaseIterable {
                case type, pool, volume, path
            }

            enum Kind: String, CaseIterable, Codable, SpecKeyword {
                case volume, file, block
                init(from decoder: any Decoder) throws { self = try Self.decodeKeyword(from: decoder) }
            }

            /// Decodes the source table; keys of another source type are refused.
            public init(from decoder: any Decoder) throws {
                try decoder.rejectUnknownKeys(CodingKeys.self)
                let container = try decoder.container(keyedBy: CodingKeys.self)
                let kind = try container.decode(Kind.self, forKey: .type)
                let allowed: [CodingKeys] = kind == .volume ? [.type, .pool, .volume] : [.type, .path]
                let extra = CodingKeys.allCases.filter { !allowed.contains($0) && container.contains($0) }
                if !extra.isEmpty {
                    let base = FieldPath.string(decoder.codingPath)
                    throw GuestSpecError(
                        extra.map {
                            .init(
                                field: FieldPath.appending($0.stringValue, to: base), value: nil, code: .conflict,
                                reason: "not allowed with type = \"\(kind.rawValue)\"")
                        })
                }
                switch kind {
                case .volume:
                    self = .volume(
                        pool: try container.decode(String.self, forKey: .pool),
                        volume: try container.decode(String.self, forKey: .volume))
                case .file: self = .file(path: try container.decode(String.self, forKey: .path))
                case .block: self = .block(path: try container.decode(String.self, forKey: .path))
                }
            }

            /// Encodes the source table with its `type`.
            public func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                switch self {
                case .volume(let pool, let volume):
                    try container.encode(Kind.volume, forKey: .type)
                    try container.encode(pool, forKey: .pool)
                    try container.encode(volume, forKey: .volume)
                case .file(let path):
                    try container.encode(Kind.file, forKey: .type)
                    try container.encode(path, forKey: .path)
                case .block(let path):
                    try container.encode(Kind.block, forKey: .type)
                    try container.encode(path, forKey: .path)
                }
            }
        }

        /// A disk image format.
        public enum Format: String, Codable, Sendable, CaseIterable, SpecKeyword {
            /// Raw bytes.
            case raw
            /// QEMU copy-on-write v2.
            case qcow2
            /// Decodes `raw` or `qcow2`.
            public init(from decoder: any Decoder) throws { self = try Self.decodeKeyword(from: decoder) }
        }

        /// The bus a disk sits on.
        public enum Bus: String, Codable, Sendable, CaseIterable, SpecKeyword {
            /// virtio-blk; targets `vd[a-z]`.
            case virtio
            /// An AHCI controller; targets `sd[a-z]`.
            case sata
            /// A SCSI controller; targets `sd[a-z]`.
            case scsi
            /// Decodes `virtio`, `sata` or `scsi`.
            public init(from decoder: any Decoder) throws { self = try Self.decodeKeyword(from: decoder) }

            /// The target name prefix on this bus.
            public var targetPrefix: String { self == .virtio ? "vd" : "sd" }
        }

        /// The host page-cache mode of a disk (libvirt `<driver cache=...>`).
        public enum CacheMode: String, Codable, Sendable, CaseIterable, SpecKeyword {
            /// The hypervisor's default.
            case `default`
            /// `none`: no host page cache (O_DIRECT). Not named `none` in Swift, where
            /// `.none` would read as a nil `CacheMode?`.
            case uncached = "none"
            /// Host page cache for reads; writes complete once on stable storage.
            case writethrough
            /// Host page cache for reads and writes; flushes on guest request.
            case writeback
            /// No host page cache and every write synced.
            case directsync
            /// Host page cache, guest flushes ignored: data loss on host crash.
            case unsafe
            /// Decodes one of the libvirt cache modes.
            public init(from decoder: any Decoder) throws { self = try Self.decodeKeyword(from: decoder) }
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case source, format, target, bus, readonly, cache, iotune
        }

        /// Decodes a `[[disks]]` entry; only `source` is required.
        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            source = try container.decode(Source.self, forKey: .source)
            format = try container.decodeIfPresent(Format.self, forKey: .format) ?? .raw
            target = try container.decodeIfPresent(String.self, forKey: .target)
            bus = try container.decodeIfPresent(Bus.self, forKey: .bus) ?? .virtio
            readonly = try container.decodeIfPresent(Bool.self, forKey: .readonly) ?? false
            cache = try container.decodeIfPresent(CacheMode.self, forKey: .cache)
            iotune = try container.decodeIfPresent(IOTune.self, forKey: .iotune)
        }
    }

    /// Per-disk I/O throttling (libvirt `<iotune>`). Every limit is optional; a `total_*` limit
    /// cannot be combined with the `read_*`/`write_*` limits of the same kind. Each value is at
    /// most 10^15, QEMU's ceiling.
    public struct IOTune: Codable, Sendable, Equatable {
        /// Bytes per second, reads and writes together.
        public var totalBytesSec: ByteSize?
        /// Bytes per second read.
        public var readBytesSec: ByteSize?
        /// Bytes per second written.
        public var writeBytesSec: ByteSize?
        /// Operations per second, reads and writes together.
        public var totalIopsSec: Int64?
        /// Read operations per second.
        public var readIopsSec: Int64?
        /// Write operations per second.
        public var writeIopsSec: Int64?

        /// Limits; nil means not limited.
        public init(
            totalBytesSec: ByteSize? = nil, readBytesSec: ByteSize? = nil, writeBytesSec: ByteSize? = nil,
            totalIopsSec: Int64? = nil, readIopsSec: Int64? = nil, writeIopsSec: Int64? = nil
        ) {
            self.totalBytesSec = totalBytesSec
            self.readBytesSec = readBytesSec
            self.writeBytesSec = writeBytesSec
            self.totalIopsSec = totalIopsSec
            self.readIopsSec = readIopsSec
            self.writeIopsSec = writeIopsSec
        }

        /// Whether no limit is set.
        public var isEmpty: Bool { self == IOTune() }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case totalBytesSec = "total_bytes_sec"
            case readBytesSec = "read_bytes_sec"
            case writeBytesSec = "write_bytes_sec"
            case totalIopsSec = "total_iops_sec"
            case readIopsSec = "read_iops_sec"
            case writeIopsSec = "write_iops_sec"
        }

        /// Decodes the `iotune` table; byte limits accept sizes like `"100M"`.
        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            totalBytesSec = try container.decodeIfPresent(ByteSize.self, forKey: .totalBytesSec)
            readBytesSec = try container.decodeIfPresent(ByteSize.self, forKey: .readBytesSec)
            writeBytesSec = try container.decodeIfPresent(ByteSize.self, forKey: .writeBytesSec)
            totalIopsSec = try container.decodeIfPresent(Int64.self, forKey: .totalIopsSec)
            readIopsSec = try container.decodeIfPresent(Int64.self, forKey: .readIopsSec)
            writeIopsSec = try container.decodeIfPresent(Int64.self, forKey: .writeIopsSec)
        }
    }
}
