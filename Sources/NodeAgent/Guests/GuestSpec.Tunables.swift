extension GuestSpec {
    /// Resource controls that libvirt applies through the guest's cgroup. Every value is
    /// optional; an unset value keeps the host's default.
    public struct Tunables: Codable, Sendable, Equatable {
        /// CPU bandwidth and weight (`<cputune>`).
        public var cpu: CPU
        /// Memory limits (`<memtune>`).
        public var memory: Memory
        /// Block I/O weight (`<blkiotune>`).
        public var blkio: BlkIO

        /// Tunables; by default none is set.
        public init(cpu: CPU = CPU(), memory: Memory = Memory(), blkio: BlkIO = BlkIO()) {
            self.cpu = cpu
            self.memory = memory
            self.blkio = blkio
        }

        /// CPU controls, in libvirt's units and ranges.
        public struct CPU: Codable, Sendable, Equatable {
            /// Relative weight, 2...262144 (cgroup v1 shares; libvirt maps it onto v2 `cpu.weight`).
            public var shares: Int?
            /// Bandwidth period of the vCPU threads in µs, 1000...1000000.
            public var period: Int?
            /// Run time allowed per period for each vCPU in µs, 1000...17592186044415, or -1 for
            /// no limit.
            public var quota: Int64?
            /// Bandwidth period of the emulator threads in µs, 1000...1000000.
            public var emulatorPeriod: Int?
            /// Run time per period for the emulator threads in µs, like `quota`.
            public var emulatorQuota: Int64?

            /// CPU controls; nil means unset.
            public init(
                shares: Int? = nil, period: Int? = nil, quota: Int64? = nil, emulatorPeriod: Int? = nil,
                emulatorQuota: Int64? = nil
            ) {
                self.shares = shares
                self.period = period
                self.quota = quota
                self.emulatorPeriod = emulatorPeriod
                self.emulatorQuota = emulatorQuota
            }

            /// Whether nothing is set.
            public var isEmpty: Bool { self == CPU() }

            enum CodingKeys: String, CodingKey, CaseIterable {
                case shares, period, quota
                case emulatorPeriod = "emulator_period"
                case emulatorQuota = "emulator_quota"
            }

            /// Decodes `[tunables.cpu]`.
            public init(from decoder: any Decoder) throws {
                try decoder.rejectUnknownKeys(CodingKeys.self)
                let container = try decoder.container(keyedBy: CodingKeys.self)
                shares = try container.decodeIfPresent(Int.self, forKey: .shares)
                period = try container.decodeIfPresent(Int.self, forKey: .period)
                quota = try container.decodeIfPresent(Int64.self, forKey: .quota)
                emulatorPeriod = try container.decodeIfPresent(Int.self, forKey: .emulatorPeriod)
                emulatorQuota = try container.decodeIfPresent(Int64.self, forKey: .emulatorQuota)
            }
        }

        /// Memory limits of the whole QEMU process, multiples of 1 KiB.
        public struct Memory: Codable, Sendable, Equatable {
            /// The most memory the guest's process may use; at least the guest's memory.
            public var hardLimit: ByteSize?
            /// The share the guest is pushed back to under host memory pressure; at most
            /// `hard_limit`.
            public var softLimit: ByteSize?
            /// The most memory plus swap; at least `hard_limit`.
            public var swapHardLimit: ByteSize?

            /// Memory limits; nil means unset.
            public init(hardLimit: ByteSize? = nil, softLimit: ByteSize? = nil, swapHardLimit: ByteSize? = nil) {
                self.hardLimit = hardLimit
                self.softLimit = softLimit
                self.swapHardLimit = swapHardLimit
            }

            /// Whether nothing is set.
            public var isEmpty: Bool { self == Memory() }

            enum CodingKeys: String, CodingKey, CaseIterable {
                case hardLimit = "hard_limit"
                case softLimit = "soft_limit"
                case swapHardLimit = "swap_hard_limit"
            }

            /// Decodes `[tunables.memory]`; values accept sizes like `"2G"`.
            public init(from decoder: any Decoder) throws {
                try decoder.rejectUnknownKeys(CodingKeys.self)
                let container = try decoder.container(keyedBy: CodingKeys.self)
                hardLimit = try container.decodeIfPresent(ByteSize.self, forKey: .hardLimit)
                softLimit = try container.decodeIfPresent(ByteSize.self, forKey: .softLimit)
                swapHardLimit = try container.decodeIfPresent(ByteSize.self, forKey: .swapHardLimit)
            }
        }

        /// Block I/O weight.
        public struct BlkIO: Codable, Sendable, Equatable {
            /// Relative weight of the guest's I/O, 100...1000.
            public var weight: Int?

            /// A block I/O weight; nil means unset.
            public init(weight: Int? = nil) { self.weight = weight }

            enum CodingKeys: String, CodingKey, CaseIterable {
                case weight
            }

            /// Decodes `[tunables.blkio]`.
            public init(from decoder: any Decoder) throws {
                try decoder.rejectUnknownKeys(CodingKeys.self)
                let container = try decoder.container(keyedBy: CodingKeys.self)
                weight = try container.decodeIfPresent(Int.self, forKey: .weight)
            }
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case cpu, memory, blkio
        }

        /// Decodes `[tunables]`; every section is optional.
        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            cpu = try container.decodeIfPresent(CPU.self, forKey: .cpu) ?? CPU()
            memory = try container.decodeIfPresent(Memory.self, forKey: .memory) ?? Memory()
            blkio = try container.decodeIfPresent(BlkIO.self, forKey: .blkio) ?? BlkIO()
        }
    }
}
