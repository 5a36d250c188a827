// Conversions of cgroup v1 memory limits to v2 byte limits, with the semantics runc and
// libcgroup give them.

extension CGroupLimit where Value == ByteSize {
    /// What cgroup v1 reads back as "no limit": LONG_MAX rounded down to a page
    /// (9223372036854771712 on 4 KiB pages).
    public static let v1Unlimited: Int64 = Int64.max - 4095

    /// Converts a cgroup v1 `memory.limit_in_bytes` (or `memory.soft_limit_in_bytes`,
    /// which maps to `memory.low`): -1 is `max`, as are values of at least
    /// ``v1Unlimited`` (the v1 "unlimited" read back from a v1 hierarchy). Other negative
    /// values are refused. `file` names the v2 file the value is meant for.
    public init(v1LimitInBytes limit: Int64, file: String = "memory.max") throws(CGroupError) {
        if limit == -1 || limit >= Self.v1Unlimited {
            self = .max
            return
        }
        guard limit >= 0 else {
            throw .invalid(file, String(limit), "a v1 memory limit must be -1 (unlimited) or a number of bytes, got \(limit)")
        }
        self = .value(ByteSize(UInt64(limit)))
    }

    /// Converts cgroup v1 `memory.memsw.limit_in_bytes` (memory + swap together) to the v2
    /// `memory.swap.max` (swap alone), as runc does (`ConvertMemorySwapToCgroupV2Value`):
    ///
    /// - memory -1 and memory+swap 0 (unset): `max` (both unlimited, v1 compatibility);
    /// - memory+swap -1: `max`; memory+swap 0: nil (leave `memory.swap.max` alone);
    /// - memory -1 with a memory+swap limit: the limit itself;
    /// - otherwise memory+swap minus memory (0 when equal: no swap), refused when memory is
    ///   unset (0) or memory+swap is below memory.
    public static func swapMax(v1MemorySwap memorySwap: Int64, v1Memory memory: Int64) throws(CGroupError) -> Self? {
        let file = "memory.swap.max"
        let text = "memory+swap \(memorySwap), memory \(memory)"
        switch (memorySwap, memory) {
        case (0, -1): return .max
        case (-1, _): return .max
        case (0, _): return nil
        case _ where memorySwap < -1: break
        case (_, -1): return .value(ByteSize(UInt64(memorySwap)))
        case (_, 0): throw .invalid(file, text, "a v1 memory+swap limit needs a memory limit too")
        case _ where memory < 0: throw .invalid(file, text, "a v1 memory limit must be -1 or a number of bytes")
        case _ where memorySwap < memory:
            throw .invalid(file, text, "the v1 memory+swap limit must be at least the memory limit")
        default: return .value(ByteSize(UInt64(memorySwap - memory)))
        }
        throw .invalid(file, text, "a v1 memory+swap limit must be -1 (unlimited) or a number of bytes")
    }
}
