import Glibc
import Logging
import ServiceLifecycle

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

/// Trims malloc's free memory every `interval`, so the agent's memory comes back toward rest
/// once a burst of calls is over.
struct MallocTrimService: Service {
    var interval: Duration = .seconds(30)

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                MallocTuning.trim()
            }
        }
    }
}
