/// Memory usage breakdown from `memory.stat`. Amounts are in bytes, event counts are plain
/// counts; the common keys are typed (nil when a kernel does not print them), every other
/// key is kept in ``extra``.
public struct MemoryStat: Sendable, Hashable {
    /// Anonymous memory (`anon`): heap, stacks, private mappings.
    public var anon: UInt64?
    /// Page cache (`file`), including tmpfs/shmem.
    public var file: UInt64?
    /// Kernel memory in total (`kernel`, newer kernels).
    public var kernel: UInt64?
    /// Kernel stacks (`kernel_stack`).
    public var kernelStack: UInt64?
    /// Page tables (`pagetables`).
    public var pageTables: UInt64?
    /// Per-CPU allocations (`percpu`).
    public var percpu: UInt64?
    /// Network socket buffers (`sock`).
    public var sock: UInt64?
    /// vmalloc memory (`vmalloc`).
    public var vmalloc: UInt64?
    /// tmpfs and shared memory (`shmem`), part of ``file``.
    public var shmem: UInt64?
    /// Compressed memory in zswap (`zswap`).
    public var zswap: UInt64?
    /// Memory swapped out into zswap, before compression (`zswapped`).
    public var zswapped: UInt64?
    /// Page cache mapped into processes (`file_mapped`).
    public var fileMapped: UInt64?
    /// Dirty page cache (`file_dirty`).
    public var fileDirty: UInt64?
    /// Page cache under writeback (`file_writeback`).
    public var fileWriteback: UInt64?
    /// Swap cache (`swapcached`).
    public var swapCached: UInt64?
    /// Anonymous transparent huge pages (`anon_thp`).
    public var anonTHP: UInt64?
    /// Inactive anonymous memory (`inactive_anon`).
    public var inactiveAnon: UInt64?
    /// Active anonymous memory (`active_anon`).
    public var activeAnon: UInt64?
    /// Inactive page cache (`inactive_file`).
    public var inactiveFile: UInt64?
    /// Active page cache (`active_file`).
    public var activeFile: UInt64?
    /// Unevictable memory (`unevictable`): mlocked and similar.
    public var unevictable: UInt64?
    /// Reclaimable slab (`slab_reclaimable`).
    public var slabReclaimable: UInt64?
    /// Unreclaimable slab (`slab_unreclaimable`).
    public var slabUnreclaimable: UInt64?
    /// Page faults (`pgfault`).
    public var pageFaults: UInt64?
    /// Major page faults (`pgmajfault`): faults that needed IO.
    public var majorPageFaults: UInt64?
    /// Refaults of evicted anonymous pages (`workingset_refault_anon`).
    public var workingsetRefaultAnon: UInt64?
    /// Refaults of evicted page cache (`workingset_refault_file`).
    public var workingsetRefaultFile: UInt64?
    /// Pages scanned by reclaim (`pgscan`).
    public var pagesScanned: UInt64?
    /// Pages reclaimed (`pgsteal`).
    public var pagesStolen: UInt64?
    /// Every other key, by key (e.g. `slab`, `pgscan_direct`, `thp_fault_alloc`).
    public var extra: [String: UInt64]

    /// Parses `memory.stat` text (all values must be unsigned numbers).
    public init(parsing text: String, file: String = "memory.stat") throws(CGroupError) {
        var counters = try KeyedCounters(parsing: text, file: file, keys: Self.counterKeys)
        anon = counters.take("anon")
        self.file = counters.take("file")
        kernel = counters.take("kernel")
        kernelStack = counters.take("kernel_stack")
        pageTables = counters.take("pagetables")
        percpu = counters.take("percpu")
        sock = counters.take("sock")
        vmalloc = counters.take("vmalloc")
        shmem = counters.take("shmem")
        zswap = counters.take("zswap")
        zswapped = counters.take("zswapped")
        fileMapped = counters.take("file_mapped")
        fileDirty = counters.take("file_dirty")
        fileWriteback = counters.take("file_writeback")
        swapCached = counters.take("swapcached")
        anonTHP = counters.take("anon_thp")
        inactiveAnon = counters.take("inactive_anon")
        activeAnon = counters.take("active_anon")
        inactiveFile = counters.take("inactive_file")
        activeFile = counters.take("active_file")
        unevictable = counters.take("unevictable")
        slabReclaimable = counters.take("slab_reclaimable")
        slabUnreclaimable = counters.take("slab_unreclaimable")
        pageFaults = counters.take("pgfault")
        majorPageFaults = counters.take("pgmajfault")
        workingsetRefaultAnon = counters.take("workingset_refault_anon")
        workingsetRefaultFile = counters.take("workingset_refault_file")
        pagesScanned = counters.take("pgscan")
        pagesStolen = counters.take("pgsteal")
        extra = counters.remaining
    }

    private static let counterKeys = CounterKeys([
        "anon", "file", "kernel", "kernel_stack", "pagetables", "percpu", "sock", "vmalloc", "shmem", "zswap",
        "zswapped", "file_mapped", "file_dirty", "file_writeback", "swapcached", "anon_thp", "inactive_anon",
        "active_anon", "inactive_file", "active_file", "unevictable", "slab_reclaimable",
        "slab_unreclaimable", "pgfault", "pgmajfault", "workingset_refault_anon", "workingset_refault_file",
        "pgscan", "pgsteal",
    ])
}
