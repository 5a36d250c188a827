import CGroups
import Glibc

/// The child side: join the group, then do one kind of work that a limit should constrain.
enum Child {
    static func run(_ arguments: [String]) -> Int32 {
        guard arguments.count >= 2 else { return 64 }
        let (root, group) = split(arguments[0])
        do {
            let tree = try CGroupTree(root: root)
            try tree.group(group).move(pid: getpid())
        } catch {
            say("child: cannot join \(arguments[0]): \(error)")
            return 70
        }
        let task = arguments[1]
        let values = Array(arguments.dropFirst(2))
        switch task {
        case "memory": return memory(mebibytes: Int(values.first ?? "") ?? 128)
        case "cpu": return cpu(seconds: Double(values.first ?? "") ?? 2)
        case "fork": return forks(Int(values.first ?? "") ?? 10)
        case "write": return write(device: values.first ?? "/dev/vda", mebibytes: Int(values.dropFirst().first ?? "") ?? 3)
        case "sleep":
            sleep(UInt32(values.first ?? "") ?? 60)
            return 0
        default: return 64
        }
    }

    /// "/sys/fs/cgroup/a/b" -> ("/sys/fs/cgroup", "a/b"); the root is the first three components.
    static func split(_ path: String) -> (String, String) {
        let parts = path.split(separator: "/").map(String.init)
        return ("/" + parts.prefix(3).joined(separator: "/"), parts.dropFirst(3).joined(separator: "/"))
    }

    /// Allocates and touches memory page by page (the OOM killer should end this).
    static func memory(mebibytes: Int) -> Int32 {
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<mebibytes {
            guard let block = malloc(1 << 20) else { return 2 }
            memset(block, 0xA5, 1 << 20)
            blocks.append(block)
        }
        say("child: touched \(mebibytes) MiB without being killed")
        return 0
    }

    /// Spins for `seconds` of wall time.
    static func cpu(seconds: Double) -> Int32 {
        let end = now() + seconds
        var x: UInt64 = 1
        while now() < end { for _ in 0..<10_000 { x = x &* 6364136223846793005 &+ 1442695040888963407 } }
        return x == 42 ? 1 : 0
    }

    /// Tries to start `count` sleeping children; prints how many the kernel refused.
    static func forks(_ count: Int) -> Int32 {
        var started: [pid_t] = []
        var refused = 0
        for _ in 0..<count {
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup("30"), nil]
            var pid: pid_t = 0
            if posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0 { started.append(pid) } else { refused += 1 }
            argv.forEach { free($0) }
        }
        say("child: started=\(started.count) refused=\(refused)")
        for pid in started { kill(pid, SIGKILL); _ = waitChild(pid) }
        return refused > 0 ? 0 : 3
    }

    /// Writes `mebibytes` MiB to `device` with O_DIRECT, 1 MiB at a time; prints the time taken.
    static func write(device: String, mebibytes: Int) -> Int32 {
        let directIO: Int32 = 0o40000  // O_DIRECT on x86_64; Glibc's module does not export it
        let fd = open(device, O_WRONLY | directIO)
        guard fd >= 0 else { return 4 }
        defer { close(fd) }
        var buffer: UnsafeMutableRawPointer?
        guard posix_memalign(&buffer, 4096, 1 << 20) == 0, let buffer else { return 5 }
        defer { free(buffer) }
        memset(buffer, 0x5A, 1 << 20)
        let start = now()
        for i in 0..<mebibytes where pwrite(fd, buffer, 1 << 20, off_t(i) << 20) != 1 << 20 { return 6 }
        say("child: wrote \(mebibytes) MiB in \(now() - start) s")
        return 0
    }
}
