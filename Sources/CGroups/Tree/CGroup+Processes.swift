public import Glibc

extension CGroup {
    /// The processes in this cgroup (`cgroup.procs`): thread-group IDs, in the kernel's order
    /// (which is not sorted and may repeat an ID while a process is moving).
    public var procs: [pid_t] {
        get throws(CGroupError) { try parse("cgroup.procs", CGroupText.pids) }
    }

    /// The threads in this cgroup (`cgroup.threads`): thread IDs.
    public var threads: [pid_t] {
        get throws(CGroupError) { try parse("cgroup.threads", CGroupText.pids) }
    }

    /// Moves the process `pid` (all its threads) into this cgroup: writes it to `cgroup.procs`.
    /// 0 moves the calling process.
    ///
    /// - Throws: `.invalidValue` for a negative ID; `.system` with ESRCH (no such process),
    ///   EBUSY (the "no internal processes" rule: this cgroup enables controllers for its
    ///   children), EOPNOTSUPP (a `domain invalid` cgroup), EACCES/EPERM (delegation).
    public func move(pid: pid_t) throws(CGroupError) {
        try writeID(pid, to: "cgroup.procs")
    }

    /// Moves the thread `tid` into this cgroup: writes it to `cgroup.threads`. Within a
    /// threaded subtree only; elsewhere the kernel refuses (EOPNOTSUPP/EINVAL).
    public func moveThread(tid: pid_t) throws(CGroupError) {
        try writeID(tid, to: "cgroup.threads")
    }

    private func writeID(_ id: pid_t, to file: String) throws(CGroupError) {
        guard id >= 0 else {
            throw CGroupError(
                .invalidValue, path: path, file: file, value: String(id), message: "a process or thread ID is not negative")
        }
        try write(file, String(id))
    }

    /// Freezes every process in this cgroup and its descendants: writes 1 to `cgroup.freeze`,
    /// then waits until `cgroup.events` says `frozen 1`, checking again after 1 ms, then
    /// doubling up to 100 ms, until `timeout` has passed.
    ///
    /// - Throws: `.timedOut` if the kernel has not finished freezing in time (a task stuck
    ///   in the kernel, e.g. in uninterruptible I/O, delays it; the freeze request stays in
    ///   place, call `thaw` to withdraw it); `.system` with ENOENT for the root or a kernel
    ///   before 5.2, which have no `cgroup.freeze`; `CancellationError` if cancelled.
    public func freeze(timeout: Duration = .seconds(5)) async throws {
        try setFrozen(true, timeout: timeout)
        try await waitFrozen(true, timeout: timeout)
    }

    /// Thaws this cgroup: writes 0 to `cgroup.freeze` and waits, bounded like `freeze`, until
    /// `cgroup.events` says `frozen 0`. (A cgroup stays frozen while an ancestor is.)
    public func thaw(timeout: Duration = .seconds(5)) async throws {
        try setFrozen(false, timeout: timeout)
        try await waitFrozen(false, timeout: timeout)
    }

    private func setFrozen(_ frozen: Bool, timeout: Duration) throws(CGroupError) {
        do throws(CGroupError) {
            try write("cgroup.freeze", frozen ? "1" : "0")
        } catch {
            throw .missingCoreFile(error, needs: "5.2")
        }
    }

    private func waitFrozen(_ frozen: Bool, timeout: Duration) async throws {
        let done = try await Polling.until(timeout: timeout, initial: .milliseconds(1), longest: .milliseconds(100)) {
            () throws(CGroupError) -> Bool in try (events.frozen ?? false) == frozen
        }
        guard done else {
            throw CGroupError(
                .timedOut, path: path, file: "cgroup.events",
                message: frozen
                    ? "cgroup.freeze is 1 but cgroup.events did not say \"frozen 1\" within \(timeout): a task may be stuck in the kernel (uninterruptible I/O); the freeze request stays in place"
                    : "cgroup.freeze is 0 but cgroup.events still says \"frozen 1\" after \(timeout): an ancestor may be frozen")
        }
    }

    /// Kills every process in this cgroup and its descendants with SIGKILL: writes 1 to
    /// `cgroup.kill` (Linux 5.14+). Returns once the kernel has sent the signals; the
    /// processes exit soon after (`events.populated` turns false when the last has left).
    ///
    /// - Throws: `.system` with ENOENT for the root or a kernel before 5.14, which have no
    ///   `cgroup.kill`.
    public func kill() throws(CGroupError) {
        do throws(CGroupError) {
            try write("cgroup.kill", "1")
        } catch {
            throw .missingCoreFile(error, needs: "5.14")
        }
    }
}
