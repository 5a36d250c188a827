import CGroups

/// The library's typed parser for each stat file the benchmark reads, chosen once per file
/// name. Each returns a number taken from the parsed value (summed into the pass's result) so
/// the parse is observable and cannot be optimised away.
enum StatParser {
    typealias Parse = (String) throws(CGroupError) -> UInt64

    /// The parser of `file`: a typed stat where the library has one, else the flat keyed file
    /// with every value a counter.
    static func parser(for file: String) -> Parse {
        switch file {
        case "cpu.stat":
            return { (text) throws(CGroupError) in try CPUStat(parsing: text, file: file).usageUsec }
        case "memory.stat":
            return { (text) throws(CGroupError) in UInt64(try MemoryStat(parsing: text, file: file).hashValue & 0xff) }
        case "memory.events", "memory.events.local":
            return { (text) throws(CGroupError) in UInt64(try MemoryEvents(parsing: text, file: file).hashValue & 0xff) }
        case "io.stat":
            return { (text) throws(CGroupError) in UInt64(try IOStat(parsing: text, file: file).devices.count) }
        case "pids.events":
            return { (text) throws(CGroupError) in UInt64(try PIDsEvents(parsing: text, file: file).hashValue & 0xff) }
        case "cgroup.events":
            return { (text) throws(CGroupError) in try CGroupEvents(parsing: text, file: file).populated ? 1 : 0 }
        case "cgroup.stat":
            return { (text) throws(CGroupError) in try CGroupStat(parsing: text, file: file).descendants }
        case _ where file.hasSuffix(".pressure"):
            return { (text) throws(CGroupError) in try Pressure(parsing: text, file: file).some?.total ?? 0 }
        case _ where file.hasSuffix(".current") || file.hasSuffix(".peak"):
            return { (text) throws(CGroupError) in try CGroupText.value(text, file: file, as: UInt64.self) }
        default:
            return { (text) throws(CGroupError) in
                UInt64(try FlatKeyedFile(parsing: text, file: file).values(as: UInt64.self).count)
            }
        }
    }
}
