import CGroups
import Glibc

/// The checks, in order. Each prints one NODEAGENT-CHECK line; a failure does not stop the
/// others. Everything created is removed at the end (the `cleanup` check).
struct Limits {
    let options: Options
    static let groupName = "nodeagent-check"

    func run() async -> Bool {
        let tree: CGroupTree
        do {
            tree = try CGroupTree(root: options.root)
        } catch {
            report("enable", false, "cannot open \(options.root): \(error)")
            return false
        }
        var passed = true
        func record(_ name: String, _ body: () async throws -> (Bool?, String)) async {
            do {
                let (ok, detail) = try await body()
                report(name, ok, detail)
                if ok == false { passed = false }
            } catch {
                report(name, false, "\(error)")
                passed = false
            }
        }

        let wanted = ["cpu", "memory", "io", "pids"].filter { tree.root.controllersOrEmpty.contains($0) }
        var check: CGroup?
        await record("enable") {
            try tree.root.enable(wanted)
            let group = try tree.root.create(Self.groupName)
            try group.enable(wanted)
            check = group
            let enabled = try group.subtreeControl
            return (Set(wanted).isSubset(of: Set(enabled)) && wanted.count == 4, "root=\(wanted.joined(separator: "+")),check=\(enabled.joined(separator: "+"))")
        }
        guard let check else { return false }

        await record("memory.max") {
            let group = try check.create("memory")
            try group.apply(CGroupResources(memory: .init(max: .value(ByteSize(32 << 20)))))
            guard let pid = spawnChild(group.absolutePath, ["memory", "128"]) else { return (false, "spawn") }
            let (exited, code) = waitChild(pid)
            let events = try group.memoryEvents()
            return (!exited && code == SIGKILL && events.oomKill >= 1, "killed_by_signal=\(exited ? 0 : code),oom_kill=\(events.oomKill),max=\(events.max)")
        }

        await record("cpu.max") {
            let group = try check.create("cpu")
            try group.apply(CGroupResources(cpu: .init(max: try CPUMax(quota: .value(10_000), period: 100_000))))
            let start = now()
            guard let pid = spawnChild(group.absolutePath, ["cpu", "2"]) else { return (false, "spawn") }
            _ = waitChild(pid)
            let wall = now() - start
            let stat = try group.cpuStat()
            let share = Double(stat.usageUsec) / 1e6 / wall
            return ((stat.throttledPeriods ?? 0) > 0 && share < 0.5,
                    "nr_throttled=\(stat.throttledPeriods ?? 0),throttled_usec=\(stat.throttledUsec ?? 0),cpu_share=\(Int(share * 100))%")
        }

        await record("pids.max") {
            let group = try check.create("pids")
            try group.apply(CGroupResources(pids: .init(max: .value(4))))
            guard let pid = spawnChild(group.absolutePath, ["fork", "10"]) else { return (false, "spawn") }
            let (exited, code) = waitChild(pid)
            let events = try group.pidsEvents()
            return (exited && code == 0 && events.max >= 1, "pids.events.max=\(events.max),child_exit=\(code)")
        }

        await record("io.max") {
            guard let disk = options.disk, let id = options.diskID else { return (nil, "no-disk") }
            let device = try DeviceNumber(fileText: id, file: "io.max")
            let group = try check.create("io")
            try group.apply(CGroupResources(io: .init(max: [IODeviceLimit(device: device, writeBytesPerSecond: .value(1 << 20))])))
            let start = now()
            guard let pid = spawnChild(group.absolutePath, ["write", disk, "3"]) else { return (false, "spawn") }
            let (exited, code) = waitChild(pid)
            let elapsed = now() - start
            let written = try group.ioStat()[device]?.writtenBytes ?? 0
            return (exited && code == 0 && elapsed >= 1.8 && written >= 3 << 20,
                    "seconds_for_3MiB_at_1MiBps=\(Int(elapsed * 10) / 10),wbytes=\(written)")
        }

        var sleeper: pid_t?
        await record("freeze") {
            let group = try check.create("frozen")
            guard let pid = spawnChild(group.absolutePath, ["sleep", "60"]) else { return (false, "spawn") }
            sleeper = pid
            try await waitFor { (try? group.procs.contains(pid)) == true }
            try await group.freeze()
            let frozen = try group.events.frozen == true
            try await group.thaw()
            let thawed = try group.events.frozen == false
            try await group.freeze()
            return (frozen && thawed, "frozen=\(frozen),thawed=\(thawed)")
        }

        await record("kill") {
            guard let pid = sleeper else { return (false, "no-frozen-child") }
            let group = try check.child("frozen")
            try group.kill()
            let (exited, code) = waitChild(pid)
            try await waitFor { (try? group.events.populated) == false }
            return (!exited && code == SIGKILL, "killed_by_signal=\(exited ? 0 : code),populated=\(try group.events.populated)")
        }

        await record("cleanup") {
            for child in try check.children() { try await child.remove() }
            try await check.remove()
            return (try !check.exists, "removed")
        }
        return passed
    }

    /// Polls `condition` for up to 5 s.
    func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<250 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CGroupError(.timedOut, path: "", message: "condition not met within 5 s")
    }
}

extension CGroup {
    var controllersOrEmpty: [String] { (try? controllers) ?? [] }
}
