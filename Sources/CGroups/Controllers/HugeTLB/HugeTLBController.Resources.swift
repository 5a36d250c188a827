extension HugeTLBController {
    /// HugeTLB settings of a cgroup, per page size; sizes not given are left as they are.
    public struct Resources: CGroupControllerResources {
        public static let controller = HugeTLBController.name

        /// `hugetlb.<size>.max`: limit on huge pages faulted in, in bytes.
        public var limits: [HugePageSize: CGroupLimit<ByteSize>]
        /// `hugetlb.<size>.rsvd.max`: limit on huge pages reserved (at mmap time), in bytes.
        public var reservationLimits: [HugePageSize: CGroupLimit<ByteSize>]

        /// HugeTLB settings.
        public init(
            limits: [HugePageSize: CGroupLimit<ByteSize>] = [:],
            reservationLimits: [HugePageSize: CGroupLimit<ByteSize>] = [:]
        ) {
            self.limits = limits
            self.reservationLimits = reservationLimits
        }

        public var isEmpty: Bool { limits.isEmpty && reservationLimits.isEmpty }

        /// The writes, by ascending page size: `hugetlb.<size>.max`, then
        /// `hugetlb.<size>.rsvd.max`. Refused: a limit that is not a whole number of pages
        /// of its size (the kernel would silently round it down).
        public func writes() throws(CGroupError) -> [(file: String, value: String)] {
            var writes: [(file: String, value: String)] = []
            for size in Set(limits.keys).union(reservationLimits.keys).sorted() {
                for (field, suffix, limit) in [
                    ("limits", "max", limits[size]), ("reservationLimits", "rsvd.max", reservationLimits[size]),
                ] {
                    guard let limit else { continue }
                    let file = size.file(suffix)
                    if case .value(let bytes) = limit, bytes.bytes % size.bytes != 0 {
                        let kept = bytes.roundedDown(toMultipleOf: ByteSize(size.bytes)).bytes
                        throw .invalid(
                            file, limit.fileText,
                            "\(field)[\(size)] (\(file)) must be a multiple of the \(size) page size (the kernel would keep \(kept))"
                        )
                    }
                    writes.append((file, limit.fileText))
                }
            }
            return writes
        }
    }
}
