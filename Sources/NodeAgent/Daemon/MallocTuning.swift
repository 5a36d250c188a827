import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// glibc malloc settings for a long-running agent (RELIABILITY.md, "Memory").
///
/// - glibc gives each thread that allocates under contention an arena of its own, up to eight
///   per core, and an arena keeps what it once held: after a burst of calls spread over the NIO,
///   Dispatch and cooperative-pool threads, the agent sat at twice its resting size for good.
///   Two arenas serve these threads with no measurable contention.
/// - Freed memory at the top of an arena goes back on its own, freed memory below it does not:
///   `malloc_trim(0)` every 30 s hands it back (a few hundred microseconds).
///
/// `mallopt` and `malloc_trim` are not in Swift's Glibc module; they are found with dlsym.
enum MallocTuning {
    private typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    /// glibc's M_ARENA_MAX (malloc.h).
    private static let arenaMaxParameter: Int32 = -8

    /// Caps the number of malloc arenas; call before the agent starts its threads.
    static func limitArenas(to count: Int32 = 2) {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: MallOpt.self)(arenaMaxParameter, count)
    }

    /// Returns free memory of every arena to the system; true if some was.
    @discardableResult
    static func trim() -> Bool {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return false }
        return unsafeBitCast(symbol, to: MallocTrim.self)(0) == 1
    }
}

/// Gives memory back to the host while the agent runs (RELIABILITY.md, "Memory"):
///
/// - `settle` after the start, the pages of the agent's own code and libraries that only the
///   start touched (Swift's runtime looks through every type and conformance of the binary the
///   first time it needs one; the kernel maps 64 KiB around every page it faults in) are handed
///   back with `MADV_PAGEOUT`: about 45 of the 50 MiB of file pages the agent held at rest.
///   Pages it uses again come back from the page cache or the disk on their next use. Only
///   pages no other process maps are affected (the kernel skips shared ones).
/// - every `interval`, `malloc_trim(0)` returns the free memory of malloc's arenas.
/// - after calls, once a whole `interval` passed without one, the file pages the calls touched
///   (gRPC's, NIO's and the runtime's code, 30 MiB after a benchmark) are handed back the same
///   way, so the agent returns to its resting size when a load ends. A call after that brings
///   back what it needs from the page cache (some hundreds of minor faults, a few milliseconds).
struct MemoryReturnService: Service {
    var settle: Duration = .seconds(10)
    var interval: Duration = .seconds(30)
    let logger: Logger

    func run() async {
        await cancelWhenGracefulShutdown {
            try? await Task.sleep(for: settle)
            if Task.isCancelled { return }
            let released = StartupPages.release()
            logger.debug("handed back the start-up pages of \(released >> 20) MiB of file mappings")
            var pagedOutAt = CallActivity.count
            var lastSeen = pagedOutAt
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                MallocTuning.trim()
                let calls = CallActivity.count
                if calls == lastSeen && calls != pagedOutAt {
                    let released = StartupPages.release()
                    pagedOutAt = calls
                    logger.debug("quiet after calls: handed back \(released >> 20) MiB of file mappings")
                }
                lastSeen = calls
            }
        }
    }
}

/// Counts the calls the agent accepted (one per HTTP/2 stream), to tell a quiet agent from a
/// busy one.
enum CallActivity {
    private static let calls = Atomic<Int>(0)

    static func note() {
        calls.add(1, ordering: .relaxed)
    }

    static var count: Int { calls.load(ordering: .relaxed) }
}

/// The agent's own file-backed mappings (its binary and libraries), paged out after the start
/// and whenever the agent is quiet after calls.
enum StartupPages {
    /// `MADV_PAGEOUT` (Linux 5.4), not in Swift's Glibc module.
    static let pageOut: Int32 = 21

    /// Advises every private, read-only or executable file mapping of the process; returns the
    /// bytes advised.
    @discardableResult
    static func release() -> Int {
        guard let maps = try? LocalFiles.readText("/proc/self/maps", limit: 4 << 20) else { return 0 }
        var advised = 0
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // address perms offset device inode path: file mappings that are not writable.
            guard fields.count >= 6, fields[5].hasPrefix("/"), fields[1].hasPrefix("r"), !fields[1].contains("w") else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt(String($0), radix: 16) }
            guard bounds.count == 2, bounds[1] > bounds[0], let start = UnsafeMutableRawPointer(bitPattern: bounds[0]) else { continue }
            if madvise(start, Int(bounds[1] - bounds[0]), pageOut) == 0 { advised += Int(bounds[1] - bounds[0]) }
        }
        return advised
    }
}
