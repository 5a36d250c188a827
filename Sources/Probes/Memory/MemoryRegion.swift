import Glibc
import Synchronization

/// Anonymous memory for the memory probe: `mmap`ed, optionally backed by transparent huge
/// pages and locked into RAM (`mlock`, so the pattern tests test RAM and not swap), touched
/// before use, unmapped on release.
final class MemoryRegion: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let bytes: Int
    /// Whether `mlock` succeeded (false if not asked or refused).
    let locked: Bool
    /// Why locking was refused, if it was asked for and failed.
    let lockError: String?

    init(bytes: Int, hugePages: Bool, lock: Bool) throws(MemoryProbeError) {
        precondition(bytes > 0)
        guard
            let pointer = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            pointer != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            throw MemoryProbeError("cannot map \(bytes) bytes: \(String(cString: strerror(errno)))")
        }
        base = pointer
        self.bytes = bytes
        if hugePages { _ = madvise(pointer, bytes, 14) }  // MADV_HUGEPAGE
        if lock {
            if mlock(pointer, bytes) == 0 {
                locked = true
                lockError = nil
            } else {
                locked = false
                lockError = "mlock(\(bytes) bytes): \(String(cString: strerror(errno)))"
            }
        } else {
            locked = false
            lockError = nil
        }
    }

    deinit {
        if locked { munlock(base, bytes) }
        munmap(base, bytes)
    }

    var words: UnsafeMutablePointer<UInt64> { base.assumingMemoryBound(to: UInt64.self) }
    var doubles: UnsafeMutablePointer<Double> { base.assumingMemoryBound(to: Double.self) }

    /// The physical address behind a virtual one, from `/proc/self/pagemap` (needs
    /// CAP_SYS_ADMIN; otherwise the kernel hides the frame numbers and this is `nil`).
    static func physicalAddress(of address: UInt64, procRoot: String) -> UInt64? {
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let fd = open(procRoot + "/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var entry: UInt64 = 0
        let n = pread(fd, &entry, 8, off_t((address / pageSize) * 8))
        guard n == 8, entry & (1 << 63) != 0 else { return nil }
        let frame = entry & ((1 << 55) - 1)
        guard frame != 0 else { return nil }
        return frame * pageSize + address % pageSize
    }
}

/// A barrier for the memory probe's threads that spins (then yields), so that the time between
/// a kernel's end on the last thread and the next kernel's start stays in microseconds, and
/// that can be abandoned (a thread that could not start must not leave the others waiting).
final class MemorySpinBarrier: Sendable {
    private let count: Int
    private let arrived = Atomic<Int>(0)
    private let generation = Atomic<Int>(0)
    private let abandoned = Atomic<Bool>(false)
    private let released = Atomic<UInt64>(0)

    init(count: Int) { self.count = count }

    /// When the barrier last opened (monotonic nanoseconds), read by the last thread to arrive
    /// before it lets the others go: valid after `wait()` returns `true`. Timing a phase from
    /// one opening to the next cannot count less than the phase took, even if the thread that
    /// reads the clock is preempted right after the barrier.
    var releasedAt: UInt64 { released.load(ordering: .relaxed) }

    /// Waits for all `count` threads. Returns `false` if the barrier was abandoned.
    func wait() -> Bool {
        let current = generation.load(ordering: .acquiring)
        if arrived.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == count {
            arrived.store(0, ordering: .relaxed)
            released.store(HealthFiles.monotonicNanoseconds(), ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .releasing)
            return !abandoned.load(ordering: .relaxed)
        }
        var spins = 0
        while generation.load(ordering: .acquiring) == current {
            if abandoned.load(ordering: .relaxed) { return false }
            spins += 1
            if spins > 100_000 {
                // Long waits (a pattern pass on a slower thread) sleep instead of burning the core.
                var pause = timespec(tv_sec: 0, tv_nsec: 50_000)
                nanosleep(&pause, nil)
            } else if spins > 2000 {
                sched_yield()
            }
        }
        return !abandoned.load(ordering: .relaxed)
    }

    /// Releases every waiter now and makes every later `wait` return `false`.
    func abandon() {
        abandoned.store(true, ordering: .relaxed)
        generation.wrappingAdd(1, ordering: .releasing)
    }
}
