// nodeagent-guestcheck: exercises real cgroup v2 limits through the CGroups library, inside a
// test guest where cgroup2 is mounted with every controller (the host has none usable).
// It depends only on CGroups (and Glibc), is built with the Swift stdlib linked statically
// (scripts/build-guest-tools.sh) and prints one line per check on stdout, which the guest's
// init sends to the serial console:
//
//   NODEAGENT-CHECK name=<check> result=PASS|FAIL|SKIP detail=<key=value,...>
//
// Usage: nodeagent-guestcheck limits --root /sys/fs/cgroup [--disk /dev/vda --disk-id 254:0]
//        nodeagent-guestcheck child <group path> <task> [arguments]   (used by `limits`)
import CGroups
import Glibc

@main
struct GuestCheck {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "limits":
            let options = Options(arguments.dropFirst())
            exit(await Limits(options: options).run() ? 0 : 1)
        case "child":
            exit(Child.run(Array(arguments.dropFirst())))
        default:
            say("usage: nodeagent-guestcheck limits --root DIR [--disk DEV --disk-id MAJ:MIN] | child GROUP TASK ARGS")
            exit(64)
        }
    }
}

struct Options {
    var root = "/sys/fs/cgroup"
    var disk: String?
    var diskID: String?

    init(_ arguments: ArraySlice<String>) {
        var it = arguments.makeIterator()
        while let argument = it.next() {
            switch argument {
            case "--root": root = it.next() ?? root
            case "--disk": disk = it.next()
            case "--disk-id": diskID = it.next()
            default: say("ignoring unknown argument \(argument)")
            }
        }
    }
}

/// Prints one result line.
func report(_ name: String, _ passed: Bool?, _ detail: String) {
    let result = passed.map { $0 ? "PASS" : "FAIL" } ?? "SKIP"
    say("NODEAGENT-CHECK name=\(name) result=\(result) detail=\(detail.replacingOccurrences(of: " ", with: "_"))")
}

/// Writes a line to stdout at once (unbuffered: a child may be killed, and lines must reach the
/// serial console in order).
func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { buffer in _ = write(1, buffer.baseAddress, buffer.count) }
}

/// Starts this executable as `child GROUP TASK ARGS`: it joins GROUP, then runs TASK.
func spawnChild(_ group: String, _ task: [String]) -> pid_t? {
    let argv = (["nodeagent-guestcheck", "child", group] + task).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, "/proc/self/exe", nil, nil, argv, environ) == 0 else { return nil }
    return pid
}

/// Waits for a child; returns (exited normally, exit code or signal number).
func waitChild(_ pid: pid_t) -> (exited: Bool, code: Int32) {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status & 0x7f == 0 ? (true, (status >> 8) & 0xff) : (false, status & 0x7f)
}

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
