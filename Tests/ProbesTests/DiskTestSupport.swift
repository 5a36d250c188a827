import Foundation
@testable import Probes
import TestSupport

/// Scratch space for disk probe tests: a fresh directory under /var/tmp (ext4 here, so O_DIRECT
/// works; /dev/shm is tmpfs), removed afterwards.
func withDiskScratch<T>(_ body: (String) async throws -> T) async throws -> T {
    let directory = "/var/tmp/nodeagent-disk-test-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

func directoryEntries(_ path: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
}

/// A small configuration: every phase bounded by `seconds` (or as given).
func smallDiskConfiguration(_ target: DiskTarget, size: UInt64 = 64 << 20, seconds: Double = 1) -> DiskProbe.Configuration {
    DiskProbe.Configuration(
        target: target, size: size,
        sequentialWrite: DiskWorkload(blockSize: 1 << 20, queueDepth: 16, duration: seconds),
        sequentialRead: DiskWorkload(blockSize: 1 << 20, queueDepth: 16, duration: seconds),
        randomRead: DiskWorkload(blockSize: 4096, queueDepth: 32, duration: seconds),
        randomWrite: DiskWorkload(blockSize: 4096, queueDepth: 32, duration: seconds),
        fsync: DiskWorkload(blockSize: 4096, queueDepth: 1, duration: seconds),
        verify: .defaultVerify, progressInterval: 0.1)
}

/// Collects progress reports from the probe's thread.
final class DiskProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [DiskProgress] = []
    func add(_ report: DiskProgress) { lock.withLock { reports.append(report) } }
    var all: [DiskProgress] { lock.withLock { reports } }
}

/// Raw file access for tampering with what the probe wrote (buffered I/O; an O_DIRECT read
/// flushes and sees it).
enum RawFile {
    static func read(_ path: String, offset: UInt64, count: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0, "open \(path): \(errno)")
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        precondition(n == count, "pread \(path): \(n)")
        return bytes
    }

    static func write(_ path: String, offset: UInt64, bytes: [UInt8]) {
        let fd = open(path, O_WRONLY)
        precondition(fd >= 0, "open \(path): \(errno)")
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, bytes.count, off_t(offset)) }
        precondition(n == bytes.count, "pwrite \(path): \(n)")
        precondition(fsync(fd) == 0)
    }
}

/// A unit as the probe would write it at `offset` with `generation`.
func formattedUnit(offset: UInt64, generation: DiskGeneration) -> [UInt8] {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: DiskBlockFormat.unitSize, alignment: 4096)
    defer { raw.deallocate() }
    DiskBlockFormat.fill(raw, length: DiskBlockFormat.unitSize, offset: offset, generation: generation)
    return Array(UnsafeRawBufferPointer(start: raw, count: DiskBlockFormat.unitSize))
}
