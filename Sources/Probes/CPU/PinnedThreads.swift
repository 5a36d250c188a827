import Glibc
import Synchronization

/// OS threads pinned one per CPU, for the CPU and memory probes.
///
/// The work runs on plain pthreads, never on Swift's cooperative pool: it spins for seconds to
/// hours, and each thread must stay on its own core (`sched_setaffinity` on the thread itself).
enum PinnedThreads {
    /// Pins the calling thread to `cpu`. Returns `nil` on success, else why it failed.
    static func pinCurrentThread(to cpu: Int) -> String? {
        var set = cpu_set_t()
        guard cpu >= 0, cpu < MemoryLayout<cpu_set_t>.size * 8 else {
            return "CPU \(cpu) does not fit in a cpu_set_t"
        }
        // cpu_set_t is an array of unsigned longs; on little-endian Linux bit n is bit n%8 of byte n/8.
        withUnsafeMutableBytes(of: &set) { $0[cpu / 8] |= UInt8(1 << (cpu % 8)) }
        guard let setAffinity = affinityCall("sched_setaffinity") else { return "sched_setaffinity is not available" }
        if setAffinity(0, MemoryLayout<cpu_set_t>.size, &set) != 0 {
            return "sched_setaffinity(CPU \(cpu)): \(String(cString: strerror(errno)))"
        }
        return nil
    }

    /// Sets the calling thread's nice value (on Linux it is per thread). Returns `nil` on
    /// success, else why it failed.
    static func setCurrentThreadNice(_ nice: Int) -> String? {
        if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Int32(nice)) != 0 {
            return "cannot set nice \(nice): \(String(cString: strerror(errno)))"
        }
        return nil
    }

    /// Puts the calling thread under SCHED_RR at `priority`. Returns `nil` on success, else why
    /// it failed.
    static func setCurrentThreadRoundRobin(_ priority: Int) -> String? {
        var parameters = sched_param(sched_priority: Int32(priority))
        if sched_setscheduler(0, SCHED_RR, &parameters) != 0 {
            return "cannot set SCHED_RR priority \(priority): \(String(cString: strerror(errno)))"
        }
        return nil
    }

    /// The CPUs this process may run on (its affinity mask), or `nil` if it cannot be read.
    static func allowedCPUs() -> Set<Int>? {
        var set = cpu_set_t()
        guard let getAffinity = affinityCall("sched_getaffinity"),
            getAffinity(0, MemoryLayout<cpu_set_t>.size, &set) == 0
        else { return nil }
        var cpus = Set<Int>()
        withUnsafeBytes(of: &set) { bytes in
            for (index, byte) in bytes.enumerated() where byte != 0 {
                for bit in 0..<8 where byte & (1 << bit) != 0 { cpus.insert(index * 8 + bit) }
            }
        }
        return cpus
    }

    private typealias AffinityCall = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32

    /// glibc's `sched_setaffinity` / `sched_getaffinity`, looked up at run time: Swift's Glibc
    /// module leaves out these GNU extensions (it is built without `_GNU_SOURCE`).
    private static func affinityCall(_ name: String) -> AffinityCall? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: AffinityCall.self) }
    }

    /// The CPU the calling thread runs on now (glibc's `sched_getcpu`), or `nil`.
    static func currentCPU() -> Int? {
        typealias GetCPU = @convention(c) () -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getcpu") else { return nil }
        let cpu = unsafeBitCast(symbol, to: GetCPU.self)()
        return cpu >= 0 ? Int(cpu) : nil
    }

    /// The online CPUs listed in `<sysfsRoot>/devices/system/cpu/online`, or `nil`.
    static func onlineCPUs(sysfsRoot: String) -> [Int]? {
        HealthFiles.read(sysfsRoot + "/devices/system/cpu/online").flatMap(HealthFiles.cpuList)
    }

    /// How a worker thread started.
    enum Start: Sendable, Equatable {
        /// On its own thread, pinned to its CPU.
        case pinned
        /// On its own thread, but pinning failed (the reason); it runs wherever the kernel puts it.
        case unpinned(String)
        /// No thread could be created (the reason); the body is called on the caller's thread and
        /// must return at once without doing the work.
        case notStarted(String)

        var error: String? {
            switch self {
            case .pinned: nil
            case .unpinned(let why), .notStarted(let why): why
            }
        }
    }

    /// Starts one thread per entry of `cpus`, pins it, and runs `body(index, cpu, start)` on it.
    /// Returns when every thread has finished.
    static func run(
        cpus: [Int], body: @escaping @Sendable (_ index: Int, _ cpu: Int, _ start: Start) -> Void
    ) async {
        let latch = ThreadLatch(count: cpus.count)
        for (index, cpu) in cpus.enumerated() {
            let work = ThreadWork {
                let error = pinCurrentThread(to: cpu)
                body(index, cpu, error.map { .unpinned($0) } ?? .pinned)
                latch.arrive()
            }
            if let error = start(work) {
                body(index, cpu, .notStarted(error))
                latch.arrive()
            }
        }
        await latch.wait()
    }

    /// Starts a detached thread running `work`; returns why it could not be started, or `nil`.
    private static func start(_ work: ThreadWork) -> String? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let context = Unmanaged.passRetained(work).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attributes,
            { raw in
                let work = Unmanaged<ThreadWork>.fromOpaque(raw!).takeRetainedValue()
                work.body()
                return nil
            }, context)
        if rc != 0 {
            Unmanaged<ThreadWork>.fromOpaque(context).release()
            return "pthread_create: \(String(cString: strerror(rc)))"
        }
        return nil
    }
}

private final class ThreadWork: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Counts finished threads; `wait()` returns once all have arrived.
final class ThreadLatch: Sendable {
    private struct State {
        var remaining: Int
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(remaining: count, waiter: nil))
    }

    func arrive() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.remaining -= 1
            guard s.remaining <= 0 else { return nil }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    var isDone: Bool { state.withLock { $0.remaining <= 0 } }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.remaining <= 0 { return true }
                s.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// A flag that asks worker threads to stop (cancellation, deadline).
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func stop() { flag.store(true, ordering: .relaxed) }
    var isStopped: Bool { flag.load(ordering: .relaxed) }
}

/// A pthread barrier shared by the memory probe's threads.
final class ThreadBarrier: @unchecked Sendable {
    private let barrier: UnsafeMutablePointer<pthread_barrier_t>

    init(count: Int) {
        barrier = .allocate(capacity: 1)
        pthread_barrier_init(barrier, nil, UInt32(count))
    }

    deinit {
        pthread_barrier_destroy(barrier)
        barrier.deallocate()
    }

    func wait() { pthread_barrier_wait(barrier) }
}

extension PinnedThreads {
    /// Runs `threads` while calling `tick` every `interval` until it returns; when the task is
    /// cancelled, raises `stop` (the threads see it and finish early).
    static func runReportingProgress<Result: Sendable>(
        every interval: Duration, stop: StopFlag, threads: @escaping @Sendable () async -> Result,
        tick: @escaping @Sendable () -> Void
    ) async -> Result {
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self, returning: Result.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: interval) } catch { return }
                        tick()
                    }
                }
                let result = await threads()
                group.cancelAll()
                return result
            }
        } onCancel: {
            stop.stop()
        }
    }
}
