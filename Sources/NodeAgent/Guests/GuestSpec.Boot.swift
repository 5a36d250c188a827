extension GuestSpec {
    /// How a guest boots.
    ///
    /// In the spec format a table with a `mode` key:
    /// `{ mode = "kernel", kernel = "/path/vmlinuz", initrd = "/path/initrd", cmdline = "console=ttyS0" }`
    /// or `{ mode = "disk" }`.
    public enum Boot: Codable, Sendable, Equatable {
        /// Direct kernel boot: the host's kernel and initrd files, no bootloader.
        case kernel(KernelBoot)
        /// Boot from the disks, trying them in the order they are listed.
        case disk

        enum CodingKeys: String, CodingKey, CaseIterable {
            case mode, kernel, initrd, cmdline
        }

        /// The `mode` spellings.
        enum Mode: String, CaseIterable, Decodable, SpecKeyword {
            case kernel, disk

            init(from decoder: any Decoder) throws { self = try Self.decodeKeyword(from: decoder) }
        }

        /// Decodes the `boot` table; kernel keys are refused in disk mode.
        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            guard let mode = try container.decodeIfPresent(Mode.self, forKey: .mode) else {
                throw GuestSpecError(
                    field: FieldPath.appending("mode", to: FieldPath.string(decoder.codingPath)), rawValue: nil,
                    code: .missing, reason: "boot needs mode = \"kernel\" or \"disk\"")
            }
            switch mode {
            case .kernel:
                self = .kernel(
                    KernelBoot(
                        kernel: try container.decode(String.self, forKey: .kernel),
                        initrd: try container.decodeIfPresent(String.self, forKey: .initrd),
                        cmdline: try container.decodeIfPresent(String.self, forKey: .cmdline)))
            case .disk:
                let present = [CodingKeys.kernel, .initrd, .cmdline].filter(container.contains)
                if !present.isEmpty {
                    let base = FieldPath.string(decoder.codingPath)
                    throw GuestSpecError(
                        present.map {
                            .init(
                                field: FieldPath.appending($0.stringValue, to: base), value: nil, code: .conflict,
                                reason: "only allowed with mode = \"kernel\"")
                        })
                }
                self = .disk
            }
        }

        /// Encodes the `boot` table with its `mode`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .kernel(let boot):
                try container.encode(Mode.kernel.rawValue, forKey: .mode)
                try container.encode(boot.kernel, forKey: .kernel)
                try container.encodeIfPresent(boot.initrd, forKey: .initrd)
                try container.encodeIfPresent(boot.cmdline, forKey: .cmdline)
            case .disk:
                try container.encode(Mode.disk.rawValue, forKey: .mode)
            }
        }
    }

    /// Direct kernel boot from files on the host.
    public struct KernelBoot: Sendable, Equatable {
        /// Absolute path of the kernel image on the host.
        public var kernel: String
        /// Absolute path of the initial ramdisk on the host; nil: none.
        public var initrd: String?
        /// Kernel command line: at most 2048 characters of printable ASCII; nil: none.
        public var cmdline: String?

        /// A kernel boot from `kernel`, with an optional initrd and command line.
        public init(kernel: String, initrd: String? = nil, cmdline: String? = nil) {
            self.kernel = kernel
            self.initrd = initrd
            self.cmdline = cmdline
        }
    }
}
