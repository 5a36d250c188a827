import AgentAPI
import Foundation
import Glibc

/// The agent's version (set by the Debian package build through NODEAGENT_VERSION at compile time
/// is not possible in SwiftPM; kept here and bumped with releases).
public enum AgentVersion {
    public static let current = "0.4.0"
}

/// What this host is, read from the kernel (not from libvirt, whose test driver invents a host).
enum HostInfo {
    static func read() -> Nodeagent_V1_NodeInfo {
        var info = Nodeagent_V1_NodeInfo()
        var name = [UInt8](repeating: 0, count: 256)
        if gethostname(&name, name.count) == 0 { info.hostname = String(decoding: name.prefix { $0 != 0 }, as: UTF8.self) }
        var system = utsname()
        if uname(&system) == 0 {
            info.kernelRelease = withUnsafeBytes(of: system.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        var packages = Set<String>()
        var cores = Set<String>()
        var logical = 0
        var package = ""
        for line in cpuinfo.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "processor": logical += 1
            case "model name" where info.cpuModel.isEmpty: info.cpuModel = parts[1]
            case "physical id":
                package = parts[1]
                packages.insert(package)
            case "core id": cores.insert("\(package)/\(parts[1])")
            default: break
            }
        }
        info.logicalCpus = UInt32(logical)
        info.cpuSockets = UInt32(max(1, packages.count))
        let coreCount = max(1, cores.count)
        info.cpuCoresPerSocket = UInt32(max(1, coreCount / Int(info.cpuSockets)))
        info.cpuThreadsPerCore = UInt32(max(1, logical / coreCount))
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        if let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
            let kib = UInt64(line.split(separator: " ").dropFirst().first ?? "")
        {
            info.memoryBytes = kib * 1024
        }
        return info
    }
}
