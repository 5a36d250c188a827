/// Typed settings and stats on a `CGroup`: the controllers' pure mappings applied through the
/// group's confined file access.
extension CGroup {
    /// Validates `resources` completely, then writes each `(file, value)` in the order the
    /// controllers require. Nothing is written if validation fails. A write the kernel refuses
    /// stops the application and is thrown with the file, the value and the errno; earlier
    /// writes stay applied (the kernel has no transactions).
    public func apply(_ resources: CGroupResources) throws(CGroupError) {
        for (file, value) in try resources.writes() { try write(file, value) }
    }

    /// `cpu.stat`, parsed.
    public func cpuStat() throws(CGroupError) -> CPUStat { try CPUStat(parsing: read("cpu.stat")) }

    /// `memory.events`, parsed.
    public func memoryEvents() throws(CGroupError) -> MemoryEvents {
        try MemoryEvents(parsing: read("memory.events"))
    }

    /// `memory.stat`, parsed.
    public func memoryStat() throws(CGroupError) -> MemoryStat { try MemoryStat(parsing: read("memory.stat")) }

    /// `pids.events`, parsed.
    public func pidsEvents() throws(CGroupError) -> PIDsEvents { try PIDsEvents(parsing: read("pids.events")) }

    /// `io.stat`, parsed.
    public func ioStat() throws(CGroupError) -> IOStat { try IOStat(parsing: read("io.stat")) }
}
