/// The `hugetlb` controller: per page size limits on HugeTLB pages (`hugetlb.<size>.max`,
/// faults beyond it get SIGBUS), reservation limits (`hugetlb.<size>.rsvd.max`), usage and
/// events. File names carry the size's kernel name (``HugePageSize/name``), e.g.
/// `hugetlb.2MB.max`; which sizes exist depends on the machine (see
/// ``HugePageSize/init(fileName:)`` to find them in a directory listing).
public enum HugeTLBController: CGroupController {
    public static let name = "hugetlb"

    /// The statistics files of the x86-64 page sizes (2MB and 1GB); see
    /// ``statFiles(pageSizes:)`` for others.
    public static var statFiles: [String] { statFiles(pageSizes: [.twoMiB, .oneGiB]) }

    /// The statistics files for the given page sizes.
    public static func statFiles(pageSizes: [HugePageSize]) -> [String] {
        pageSizes.sorted().flatMap { size in
            ["current", "max", "events", "events.local", "rsvd.current", "rsvd.max"].map(size.file)
        }
    }
}
