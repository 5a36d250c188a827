public import Foundation

/// The real-hypervisor facilities integration tests need: a guest image built by
/// `scripts/build-guest-image.sh` (named by `NODEAGENT_GUEST_IMAGE`), root, libvirtd and QEMU.
///
/// Tests gated on it skip, with the reason, when something is missing — unless
/// `NODEAGENT_REQUIRE_INTEGRATION=1` (set by scripts/test.sh, so CI never skips them silently),
/// in which case they run and fail with the reason.
public enum Integration {
    /// The repository's root, found from this file's path.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func script(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("scripts/\(name)").path
    }

    /// Why integration tests cannot run here, or `nil` if they can.
    public static let missing: String? = {
        var problems: [String] = []
        let env = ProcessInfo.processInfo.environment
        if getuid() != 0 { problems.append("not running as root") }
        for tool in ["/usr/sbin/libvirtd", "/usr/sbin/virtlogd", "/usr/bin/qemu-system-x86_64", "/usr/bin/qemu-img"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            problems.append("\(tool) is missing (scripts/install-deps.sh installs it)")
        }
        if let image = env["NODEAGENT_GUEST_IMAGE"] {
            if !FileManager.default.fileExists(atPath: image + "/image.env") {
                problems.append("NODEAGENT_GUEST_IMAGE=\(image) has no image.env (run scripts/build-guest-image.sh \(image))")
            }
        } else {
            problems.append("NODEAGENT_GUEST_IMAGE is not set (scripts/test.sh builds the image and sets it)")
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }()

    /// True when the tests must run even if a facility is missing (and then fail).
    public static let required = ProcessInfo.processInfo.environment["NODEAGENT_REQUIRE_INTEGRATION"] == "1"

    /// Whether gated tests are enabled.
    public static var enabled: Bool { missing == nil || required }

    /// Throws the reason integration tests cannot run, if any.
    public static func check() throws {
        if let missing { throw IntegrationUnavailable(reason: missing) }
    }

    /// The kernel and initramfs built by scripts/build-guest-image.sh.
    public static func guestImage() throws -> GuestImage {
        try check()
        return try guestImage(at: ProcessInfo.processInfo.environment["NODEAGENT_GUEST_IMAGE"]!)
    }

    /// An image built by scripts/build-guest-image.sh (or build-guest-tools.sh) in `dir`.
    public static func guestImage(at dir: String) throws -> GuestImage {
        let text = try String(contentsOfFile: dir + "/image.env", encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        guard let kernel = values["KERNEL"], let initrd = values["INITRD"] else {
            throw IntegrationUnavailable(reason: "\(dir)/image.env lacks KERNEL= or INITRD=")
        }
        return GuestImage(kernel: kernel, initrd: initrd)
    }

    /// Where tests put their private libvirtd instances and guest files. scripts/test.sh sets
    /// `NODEAGENT_TEST_RUN_DIR` and stops every instance under it after the run, even after a
    /// crash of the test process.
    public static let runDirectory: URL = {
        if let dir = ProcessInfo.processInfo.environment["NODEAGENT_TEST_RUN_DIR"] {
            return URL(fileURLWithPath: dir, isDirectory: true)
        }
        return URL(fileURLWithPath: "/tmp/nodeagent-tests-\(getpid())", isDirectory: true)
    }()
}

public struct IntegrationUnavailable: Error, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "integration facilities missing: \(reason)" }
}

public struct GuestImage: Sendable {
    public var kernel: String
    public var initrd: String
}

/// What a finished program left behind.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program to completion and returns its exit status and output.
///
/// Uses posix_spawn and waitpid directly: Foundation's `Process.waitUntilExit` was seen to hang
/// here on a child that had already exited. The child gets no descriptor of ours but its own
/// stdio (a daemon it starts cannot hold another test's pipe open), a clean signal mask (the
/// test runner's threads block signals, and a daemon inheriting that ignores SIGTERM), and
/// output files rather than pipes.
public func execute(_ executable: String, _ arguments: [String]) throws -> CommandResult {
    let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString).out").path
    let errPath = outPath + ".err"
    defer {
        unlink(outPath)
        unlink(errPath)
    }
    let pid = try spawn(executable, arguments, stdout: outPath, stderr: errPath)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw CommandFailed(command: executable, status: -1, stderr: "waitpid failed: errno \(errno)") }
    }
    let exited = status & 0x7f == 0
    return CommandResult(
        status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// Starts a program in the background with a clean signal mask, no inherited descriptors but
/// its stdio (stdin /dev/null; stdout and stderr to the given files or /dev/null). The caller
/// must `waitpid` it (or `reap`).
public func spawn(
    _ executable: String, _ arguments: [String], stdout: String = "/dev/null", stderr: String = "/dev/null",
    environment: [String: String]? = nil
) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    closeInheritedDescriptors(&actions)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    // Every classic signal back to its default action (32 and 33 belong to glibc's threads).
    for signal in 1..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaults, Int32(signal)) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned: Int32
    if let environment {
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    } else {
        spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    }
    guard spawned == 0 else {
        throw CommandFailed(command: executable, status: -1, stderr: "posix_spawn failed: errno \(spawned)")
    }
    return pid
}

/// Waits for a child started by `spawn`; returns its wait status.
@discardableResult
public func reap(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status
}

/// Closes every descriptor from 3 up in the child: glibc's
/// `posix_spawn_file_actions_addclosefrom_np` (looked up at run time: Swift's Glibc module does
/// not import it), else one close action per descriptor open now.
private func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        return
    }
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for fd in open.compactMap(Int32.init) where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
}

/// Runs a program and returns its standard output; throws `CommandFailed` (with its stderr)
/// if it exits with a non-zero status.
@discardableResult
public func run(_ executable: String, _ arguments: [String]) throws -> String {
    let result = try execute(executable, arguments)
    guard result.status == 0 else {
        throw CommandFailed(command: ([executable] + arguments).joined(separator: " "), status: result.status, stderr: result.stderr)
    }
    return result.stdout
}

public struct CommandFailed: Error, CustomStringConvertible {
    public var command: String
    public var status: Int32
    public var stderr: String
    public var description: String { "\(command) exited with \(status): \(stderr.suffix(2000))" }
}
