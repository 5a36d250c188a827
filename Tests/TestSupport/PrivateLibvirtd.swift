public import Foundation
import Synchronization

/// A private libvirtd (with virtlogd) run by scripts/private-libvirtd.sh, with its whole state
/// in its own directory: QEMU guests under TCG, no cgroups, no networks, nothing of the host's
/// libvirt touched. Stopped by PID at the end (`stop()`), and at process exit for any instance
/// still running.
public final class PrivateLibvirtd: Sendable {
    public let directory: String
    public let uri: String

    private static let running = Mutex<Set<String>>([])
    private static let registerExitHook: Void = { atexit { PrivateLibvirtd.stopAllAtExit() } }()

    /// Starts an instance in a new directory under `Integration.runDirectory`.
    public static func start(_ label: String) throws -> PrivateLibvirtd {
        try Integration.check()
        _ = registerExitHook
        let directory = Integration.runDirectory.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        running.withLock { _ = $0.insert(directory) }
        let instance = PrivateLibvirtd(directory: directory, uri: "")
        do {
            let output = try run("/bin/bash", [Integration.script("private-libvirtd.sh"), "start", directory])
            let uri = output.split(separator: "\n").last.map(String.init) ?? ""
            return PrivateLibvirtd(directory: directory, uri: uri)
        } catch {
            // Whatever did start (virtlogd, say) is stopped; the logs are kept in the message.
            let log = (try? String(contentsOfFile: directory + "/log/libvirtd.log", encoding: .utf8))?
                .split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
            instance.stop()
            throw IntegrationUnavailable(reason: "private libvirtd did not start: \(error)\nlibvirtd.log:\n\(log)")
        }
    }

    private init(directory: String, uri: String) {
        self.directory = directory
        self.uri = uri
    }

    /// The instance shared by the tests of this process (started on first use). If it cannot
    /// start, every later caller gets the same error instead of starting another one.
    public static func shared() throws -> PrivateLibvirtd {
        try sharedInstance.withLock { instance in
            if let instance { return try instance.get() }
            let started = Result { try PrivateLibvirtd.start("shared") }
            instance = started
            return try started.get()
        }
    }
    private static let sharedInstance = Mutex<Result<PrivateLibvirtd, any Error>?>(nil)

    /// A directory for this instance's guest files (disks, serial logs, pools).
    public func workDirectory(_ name: String) throws -> String {
        let path = directory + "/work/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Stops libvirtd only: guests and virtlogd keep running.
    public func stopDaemon() throws { try run("/bin/bash", [Integration.script("private-libvirtd.sh"), "stop-daemon", directory]) }

    /// Starts libvirtd again after `stopDaemon()` and waits until it answers.
    public func startDaemon() throws { try run("/bin/bash", [Integration.script("private-libvirtd.sh"), "start-daemon", directory]) }

    /// The PID of the running libvirtd.
    public func daemonPID() -> pid_t? {
        (try? String(contentsOfFile: directory + "/libvirtd.pid", encoding: .utf8))
            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Stops everything the instance started (guests, libvirtd, virtlogd) and removes its files.
    public func stop() {
        _ = try? run("/bin/bash", [Integration.script("private-libvirtd.sh"), "stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
        Self.running.withLock { _ = $0.remove(directory) }
    }

    private static func stopAllAtExit() {
        let directories = running.withLock { $0 }
        for directory in directories {
            _ = try? run("/bin/bash", [Integration.script("private-libvirtd.sh"), "stop", directory])
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
