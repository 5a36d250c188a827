import Glibc
import Synchronization

/// Events from a watcher thread, as an async sequence that cleans up after itself.
///
/// The thread's stream holds its continuation, so an `AsyncThrowingStream` alone would never
/// learn that a consumer simply let go of it (left a `for await` loop with `break`, or dropped
/// the iterator): its thread and descriptors would leak. Here the sequence and its iterators
/// share a `Lifetime`; when the last of them is gone — or the consuming task is cancelled — the
/// thread is woken, closes its descriptors and ends.
public struct WatchStream<Element: Sendable>: AsyncSequence, Sendable {
    let stream: AsyncThrowingStream<Element, any Error>
    let lifetime: Lifetime

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Element, any Error>.AsyncIterator
        let lifetime: Lifetime

        public mutating func next() async throws -> Element? { try await base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), lifetime: lifetime)
    }

    /// Builds a stream whose producer (given the continuation and the wake-up pipe) runs until
    /// the pipe is readable. `nil` pipe: the stream has already failed.
    static func make(
        _ produce: (AsyncThrowingStream<Element, any Error>.Continuation, WakePipe) -> Void
    ) -> WatchStream {
        let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream()
        guard let wake = WakePipe() else {
            continuation.finish(throwing: CGroupError.system(errno, path: "", operation: "pipe"))
            return WatchStream(stream: stream, lifetime: Lifetime(wake: nil))
        }
        continuation.onTermination = { _ in wake.wakeUp() }
        produce(continuation, wake)
        return WatchStream(stream: stream, lifetime: Lifetime(wake: wake))
    }
}

/// Wakes the producer when the consumer's last reference goes away.
final class Lifetime: Sendable {
    let wake: WakePipe?
    init(wake: WakePipe?) { self.wake = wake }
    deinit { wake?.wakeUp() }
}

/// A pipe used to wake a blocked `poll`. Safe to wake after it was closed (it then does
/// nothing: the descriptor numbers may already belong to someone else).
final class WakePipe: Sendable {
    let read: Int32
    private let write: Int32
    private let closed = Mutex(false)

    init?() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        read = fds[0]
        write = fds[1]
    }

    func wakeUp() {
        closed.withLock { closed in
            guard !closed else { return }
            var one: UInt8 = 1
            _ = Glibc.write(write, &one, 1)
        }
    }

    func close() {
        closed.withLock { closed in
            guard !closed else { return }
            closed = true
            _ = Glibc.close(read)
            _ = Glibc.close(write)
        }
    }
}
