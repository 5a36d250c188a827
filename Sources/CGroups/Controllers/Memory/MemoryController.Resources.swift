extension MemoryController {
    /// Memory settings of a cgroup; nil fields are left as they are.
    public struct Resources: CGroupControllerResources {
        public static let controller = MemoryController.name

        /// `memory.min`: memory never reclaimed from the group (hard protection).
        public var min: CGroupLimit<ByteSize>?
        /// `memory.low`: memory reclaimed only when nothing unprotected is left (best effort).
        public var low: CGroupLimit<ByteSize>?
        /// `memory.high`: above this the group is throttled and reclaimed, never OOM-killed.
        public var high: CGroupLimit<ByteSize>?
        /// `memory.max`: the hard limit; the OOM killer acts when reclaim cannot stay below it.
        public var max: CGroupLimit<ByteSize>?
        /// `memory.swap.high`: above this swap usage the group is throttled.
        public var swapHigh: CGroupLimit<ByteSize>?
        /// `memory.swap.max`: the hard swap limit (0: no swap).
        public var swapMax: CGroupLimit<ByteSize>?
        /// `memory.zswap.max` (where the kernel has zswap): the compressed swap cache limit.
        public var zswapMax: CGroupLimit<ByteSize>?
        /// `memory.zswap.writeback` (Linux 6.8 and later): whether zswap may write pages out
        /// to the swap device.
        public var zswapWriteback: Bool?
        /// `memory.oom.group`: an OOM kill takes the whole group, not one task.
        public var oomGroup: Bool?

        /// Memory settings.
        public init(
            min: CGroupLimit<ByteSize>? = nil, low: CGroupLimit<ByteSize>? = nil, high: CGroupLimit<ByteSize>? = nil,
            max: CGroupLimit<ByteSize>? = nil, swapHigh: CGroupLimit<ByteSize>? = nil,
            swapMax: CGroupLimit<ByteSize>? = nil, zswapMax: CGroupLimit<ByteSize>? = nil,
            zswapWriteback: Bool? = nil, oomGroup: Bool? = nil
        ) {
            self.min = min
            self.low = low
            self.high = high
            self.max = max
            self.swapHigh = swapHigh
            self.swapMax = swapMax
            self.zswapMax = zswapMax
            self.zswapWriteback = zswapWriteback
            self.oomGroup = oomGroup
        }

        public var isEmpty: Bool { self == Resources() }

        /// The writes, in this order:
        ///
        /// 1. `memory.oom.group`, so an OOM kill caused by the new limits already follows the
        ///    new policy;
        /// 2. `memory.swap.max`, `memory.swap.high`, `memory.zswap.max`,
        ///    `memory.zswap.writeback`, so the reclaim the new limits trigger swaps (or not)
        ///    as configured;
        /// 3. `memory.min`, `memory.low`: protections before limits, so a protection being
        ///    lowered no longer shields memory the new limits must reclaim (protections are
        ///    checked to be at most `max`, so a raised one never blocks that reclaim);
        /// 4. `memory.high`, then `memory.max`: a lowered `high` reclaims gently (throttling,
        ///    no OOM kill) before a lowered `max` enforces the hard limit, which may OOM-kill
        ///    if reclaim falls short.
        ///
        /// The kernel rounds every value down to a page. Refused: `min` or `low` above `max`
        /// (a protection the limit can never honour).
        public func writes() throws(CGroupError) -> [(file: String, value: String)] {
            if case .value(let limit) = max {
                for (name, file, protection) in [("min", "memory.min", min), ("low", "memory.low", low)] {
                    guard let protection, protection > .value(limit) else { continue }
                    throw .invalid(
                        file, protection.fileText,
                        "\(name) (\(file) \(protection)) exceeds max (memory.max \(limit)): the protection could never be honoured"
                    )
                }
            }
            var writes: [(file: String, value: String)] = []
            if let oomGroup { writes.append(("memory.oom.group", oomGroup ? "1" : "0")) }
            if let swapMax { writes.append(("memory.swap.max", swapMax.fileText)) }
            if let swapHigh { writes.append(("memory.swap.high", swapHigh.fileText)) }
            if let zswapMax { writes.append(("memory.zswap.max", zswapMax.fileText)) }
            if let zswapWriteback { writes.append(("memory.zswap.writeback", zswapWriteback ? "1" : "0")) }
            if let min { writes.append(("memory.min", min.fileText)) }
            if let low { writes.append(("memory.low", low.fileText)) }
            if let high { writes.append(("memory.high", high.fileText)) }
            if let max { writes.append(("memory.max", max.fileText)) }
            return writes
        }
    }
}
