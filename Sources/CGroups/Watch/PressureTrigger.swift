import Foundation
import Glibc

/// A PSI trigger: notify when tasks of a cgroup stall on a resource for at least `stall`
/// within any `window` (Documentation/accounting/psi.rst, "Monitoring for pressure thresholds").
public struct PressureTrigger: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// Some tasks stalled.
        case some
        /// All non-idle tasks stalled at once.
        case full
    }

    public var kind: Kind
    /// Stall time within the window that fires the trigger.
    public var stall: Duration
    /// The tracking window: 500 ms ... 10 s. Without CAP_SYS_RESOURCE the kernel accepts only
    /// multiples of 2 s (`unprivileged`, the default, checks that before anything is written).
    public var window: Duration

    public init(_ kind: Kind = .some, stall: Duration, window: Duration = .seconds(2)) {
        self.kind = kind
        self.stall = stall
        self.window = window
    }

    /// The text written to `<resource>.pressure`: `some 150000 2000000` (microseconds).
    public var text: String { "\(kind.rawValue) \(Self.microseconds(stall)) \(Self.microseconds(window))" }

    /// Refuses what the kernel would refuse, naming the rule.
    public func validate(file: String, path: String, unprivileged: Bool = true) throws(CGroupError) {
        let windowUS = Self.microseconds(window)
        let stallUS = Self.microseconds(stall)
        var problem: String?
        if !(500_000...10_000_000).contains(windowUS) {
            problem = "the window must be 500 ms ... 10 s"
        } else if unprivileged && windowUS % 2_000_000 != 0 {
            problem = "without CAP_SYS_RESOURCE the window must be a multiple of 2 s"
        } else if stallUS <= 0 || stallUS > windowUS {
            problem = "the stall threshold must be more than 0 and at most the window"
        }
        if let problem { throw CGroupError(.invalidValue, path: path, file: file, value: text, message: problem) }
    }

    static func microseconds(_ d: Duration) -> Int64 {
        d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
    }
}

extension InterfaceFileWatcher {
    /// Fires each time `trigger` is met on the pressure file at `path` (absolute, e.g.
    /// `/sys/fs/cgroup/vm1/memory.pressure`). The trigger lives as long as the stream: its
    /// descriptor is closed when the consumer stops. The stream ends when the cgroup is removed.
    public static func pressureEvents(
        at path: String, trigger: PressureTrigger, unprivileged: Bool = true
    ) -> WatchStream<PressureTrigger> {
        let directory = (path as NSString).deletingLastPathComponent
        let file = (path as NSString).lastPathComponent
        return WatchStream.make { continuation, wake in
            do throws(CGroupError) {
                try trigger.validate(file: file, path: directory, unprivileged: unprivileged)
            } catch {
                wake.close()
                continuation.finish(throwing: error)
                return
            }
            let fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else {
                let error = errno
                wake.close()
                continuation.finish(throwing: CGroupError.system(error, path: directory, file: file, operation: "open"))
                return
            }
            let text = trigger.text
            let written = text.withCString { write(fd, $0, strlen($0) + 1) }
            guard written >= 0 else {
                let error = errno
                close(fd)
                wake.close()
                continuation.finish(throwing: CGroupError.system(error, path: directory, file: file, value: text, operation: "write trigger"))
                return
            }
            let thread = Thread {
                defer {
                    close(fd)
                    wake.close()
                }
                while true {
                    var fds = [pollfd(fd: fd, events: Int16(POLLPRI), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
                    let ready = poll(&fds, 2, -1)
                    if ready < 0 {
                        if errno == EINTR { continue }
                        break
                    }
                    if fds[1].revents != 0 { break }
                    if fds[0].revents & Int16(POLLERR) != 0 { break }  // the cgroup went away
                    if fds[0].revents & Int16(POLLPRI) != 0 { continuation.yield(trigger) }
                }
                continuation.finish()
            }
            thread.name = "cgroup-psi"
            thread.start()
        }
    }
}
