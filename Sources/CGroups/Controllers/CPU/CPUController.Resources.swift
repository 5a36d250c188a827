extension CPUController {
    /// CPU settings of a cgroup; nil fields are left as they are.
    public struct Resources: CGroupControllerResources {
        public static let controller = CPUController.name

        /// `cpu.weight`: relative share under contention.
        public var weight: CPUWeight?
        /// `cpu.weight.nice`: the same share as a nice value (set this or ``weight``).
        public var weightNice: CPUWeightNice?
        /// `cpu.idle`: schedule the group as SCHED_IDLE (its weight can then not be set).
        public var idle: Bool?
        /// `cpu.max`: the bandwidth limit.
        public var max: CPUMax?
        /// `cpu.max.burst`, in µs: unused quota a period may carry over; at most the quota.
        public var maxBurst: UInt64?
        /// `cpu.uclamp.min`: the minimum utilisation (boost) requested, capped by the kernel
        /// at `cpu.uclamp.max`.
        public var uclampMin: Percentage?
        /// `cpu.uclamp.max`: the maximum utilisation allowed.
        public var uclampMax: CGroupLimit<Percentage>?

        /// CPU settings.
        public init(
            weight: CPUWeight? = nil, weightNice: CPUWeightNice? = nil, idle: Bool? = nil, max: CPUMax? = nil,
            maxBurst: UInt64? = nil, uclampMin: Percentage? = nil, uclampMax: CGroupLimit<Percentage>? = nil
        ) {
            self.weight = weight
            self.weightNice = weightNice
            self.idle = idle
            self.max = max
            self.maxBurst = maxBurst
            self.uclampMin = uclampMin
            self.uclampMax = uclampMax
        }

        public var isEmpty: Bool { self == Resources() }

        /// The writes, in this order:
        ///
        /// 1. `cpu.idle` when it is turned off, so that a weight can be set afterwards (the
        ///    kernel refuses weights of an idle group);
        /// 2. `cpu.weight` or `cpu.weight.nice`, then `cpu.idle` when it is turned on;
        /// 3. `cpu.max.burst 0`, `cpu.max`, `cpu.max.burst` when both bandwidth values are
        ///    set: the kernel checks each file against the other's current value (a new
        ///    quota below the current burst, or a new burst above the current quota, is
        ///    EINVAL), and a zero burst first makes the pair valid from any starting point;
        ///    `cpu.max` or `cpu.max.burst` alone are written as given;
        /// 4. `cpu.uclamp.max`, then `cpu.uclamp.min`.
        ///
        /// Refused: weight and weightNice together; a weight with idle on; a burst above the
        /// quota or above the kernel's maximum runtime.
        public func writes() throws(CGroupError) -> [(file: String, value: String)] {
            if let weight, let weightNice {
                throw .invalid(
                    "cpu.weight.nice", weightNice.fileText,
                    "weight (cpu.weight \(weight)) and weightNice (cpu.weight.nice \(weightNice)) set the same share: set one of them"
                )
            }
            if idle == true, weight != nil || weightNice != nil {
                throw .invalid(
                    "cpu.weight", (weight?.fileText ?? weightNice?.fileText)!,
                    "weight/weightNice cannot be set together with idle = true: the kernel refuses weights of an idle group")
            }
            if let maxBurst {
                guard maxBurst <= CPUMax.quotaRange.upperBound else {
                    throw .invalid(
                        "cpu.max.burst", String(maxBurst),
                        "maxBurst \(maxBurst) µs exceeds the kernel's maximum of \(CPUMax.quotaRange.upperBound) µs")
                }
                if let quota = max?.quota.limit, maxBurst > quota {
                    throw .invalid(
                        "cpu.max.burst", String(maxBurst),
                        "maxBurst (cpu.max.burst) \(maxBurst) µs exceeds the quota \(quota) µs of max (cpu.max)")
                }
            }
            var writes: [(file: String, value: String)] = []
            if idle == false { writes.append(("cpu.idle", "0")) }
            if let weight { writes.append(("cpu.weight", weight.fileText)) }
            if let weightNice { writes.append(("cpu.weight.nice", weightNice.fileText)) }
            if idle == true { writes.append(("cpu.idle", "1")) }
            if let max {
                if maxBurst != nil { writes.append(("cpu.max.burst", "0")) }
                writes.append(("cpu.max", max.fileText))
            }
            if let maxBurst { writes.append(("cpu.max.burst", String(maxBurst))) }
            if let uclampMax { writes.append(("cpu.uclamp.max", uclampMax.fileText)) }
            if let uclampMin { writes.append(("cpu.uclamp.min", uclampMin.fileText)) }
            return writes
        }
    }
}
