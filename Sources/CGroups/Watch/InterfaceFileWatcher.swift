import Foundation
import Glibc

/// Notifies when cgroup interface files change: the kernel raises a modify event on
/// `cgroup.events`, `memory.events`, `pids.events` and friends when their contents change.
///
/// Each call to `changes(of:)` gets its own inotify instance, watched by a thread of its own
/// (blocking reads never run on Swift's cooperative pool). When the consumer stops iterating
/// (or the task is cancelled) the thread is woken through a pipe, removes the watch and
/// closes every descriptor: nothing leaks.
public enum InterfaceFileWatcher {
    /// One notification: the file was modified (read it for the new contents).
    public struct Change: Sendable, Equatable {
        public var path: String
    }

    /// Changes of the files at `paths` (absolute), in order. The stream ends with an error if a
    /// watch cannot be set up (e.g. ENOENT: the controller is not enabled).
    public static func changes(of paths: [String]) -> WatchStream<Change> {
        WatchStream.make { continuation, wake in
            let inotify = inotify_init1(Int32(IN_CLOEXEC))
            guard inotify >= 0 else {
                let error = errno
                wake.close()
                continuation.finish(throwing: CGroupError.system(error, path: "", operation: "inotify_init1"))
                return
            }
            var watches: [Int32: String] = [:]
            for path in paths {
                let wd = inotify_add_watch(inotify, path, UInt32(IN_MODIFY))
                guard wd >= 0 else {
                    let error = errno
                    close(inotify)
                    wake.close()
                    continuation.finish(
                        throwing: CGroupError.system(
                            error, path: (path as NSString).deletingLastPathComponent,
                            file: (path as NSString).lastPathComponent, operation: "inotify_add_watch"))
                    return
                }
                watches[wd] = path
            }
            let descriptors = Descriptors(inotify: inotify, wake: wake)
            let watched = watches
            let thread = Thread {
                descriptors.run(watches: watched) { continuation.yield($0) }
                continuation.finish()
            }
            thread.name = "cgroup-watch"
            thread.start()
        }
    }
}

/// The descriptors of one watch and its reading loop.
private final class Descriptors: Sendable {
    let inotify: Int32
    let wake: WakePipe

    init(inotify: Int32, wake: WakePipe) {
        self.inotify = inotify
        self.wake = wake
    }

    /// Reads events until woken; then closes everything (closing the inotify descriptor
    /// removes its watches).
    func run(watches: [Int32: String], deliver: (InterfaceFileWatcher.Change) -> Void) {
        defer {
            close(inotify)
            wake.close()
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            var offset = 0
            var seen = Set<Int32>()
            while offset + MemoryLayout<inotify_event>.size <= count {
                let event = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: inotify_event.self) }
                // Several modifications in one read are one change per file.
                if event.mask & UInt32(IN_MODIFY) != 0, let path = watches[event.wd], seen.insert(event.wd).inserted {
                    deliver(InterfaceFileWatcher.Change(path: path))
                }
                offset += MemoryLayout<inotify_event>.size + Int(event.len)
            }
        }
    }
}
