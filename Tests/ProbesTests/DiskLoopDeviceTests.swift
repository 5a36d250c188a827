import Foundation
@testable import Probes
import Testing
import TestSupport

/// Real block devices, safely: loop devices over files in /var/tmp that the test creates,
/// detached (and unmounted) afterwards. Skipped, with the reason, where loop devices cannot be
/// set up (not root, no losetup, no /dev/loop-control).
@Suite("Disk probe: loop devices", .serialized)
struct DiskLoopDeviceTests {
    static let unavailable: String? = {
        if getuid() != 0 { return "not root" }
        for tool in ["/usr/sbin/losetup", "/usr/sbin/mkfs.ext4", "/usr/bin/mount", "/usr/bin/umount"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) missing"
        }
        if !FileManager.default.fileExists(atPath: "/dev/loop-control") { return "no /dev/loop-control" }
        return nil
    }()

    /// Whether the kernel reads DOS partition tables (this machine's kernel does not).
    static let partitionTablesUnsupported: String? = {
        guard FileManager.default.fileExists(atPath: "/proc/config.gz"),
            let config = try? execute("/bin/sh", ["-c", "zcat /proc/config.gz | grep -c '^CONFIG_MSDOS_PARTITION=y'"])
        else { return nil }
        return config.stdout.hasPrefix("1") ? nil : "the kernel has no CONFIG_MSDOS_PARTITION"
    }()

    /// A loop device over a fresh `size`-byte file prepared by `prepare`; detached and removed
    /// afterwards. `partitions`: scan the partition table (losetup -P).
    func withLoopDevice(
        size: Int = 64 << 20, partitions: Bool = false, prepare: (String) throws -> Void = { _ in },
        _ body: (String) async throws -> Void
    ) async throws {
        let backing = "/var/tmp/nodeagent-disk-loop-\(getpid())-\(UUID().uuidString.prefix(8)).img"
        #expect(FileManager.default.createFile(atPath: backing, contents: nil))
        defer { unlink(backing) }
        #expect(truncate(backing, off_t(size)) == 0)
        try prepare(backing)
        let attach = try execute("/usr/sbin/losetup", (partitions ? ["-P"] : []) + ["-f", "--show", backing])
        let device = attach.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(attach.status == 0 && device.hasPrefix("/dev/loop"), "losetup: \(attach.stderr)")
        defer { _ = try? execute("/usr/sbin/losetup", ["-d", device]) }
        try await body(device)
    }

    /// Mounts `device` on a fresh directory for the duration of `body`.
    func withMount(_ device: String, _ body: (String) async throws -> Void) async throws {
        let point = "/var/tmp/nodeagent-disk-mnt-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: point, withIntermediateDirectories: false)
        defer { rmdir(point) }
        let mount = try execute("/usr/bin/mount", ["-t", "ext4", device, point])
        try #require(mount.status == 0, "mount: \(mount.stderr)")
        defer { _ = try? execute("/usr/bin/umount", [point]) }
        try await body(point)
    }

    func small(_ device: String) -> DiskProbe.Configuration {
        var configuration = smallDiskConfiguration(.blockDevice(device), size: 32 << 20, seconds: 0.2)
        configuration.phases = [.sequentialWrite, .randomRead, .randomWrite, .verify]
        return configuration
    }

    @Test(.enabled(if: unavailable == nil)) func aBlankDeviceIsTested() async throws {
        try await withLoopDevice { device in
            let result = try await DiskProbe(configuration: small(device)).run()
            #expect(result.targetKind == .blockDevice)
            #expect(result.size == 32 << 20)
            #expect(result.logicalBlockSize == 512)
            #expect(!result.targetRemoved)
            #expect(result.integrity.isClean)
            #expect(result.integrity.verifiedBlocks > 0)
            #expect(result.phases.allSatisfy { $0.operations > 0 })
        }
    }

    @Test(.enabled(if: unavailable == nil)) func aFilesystemIsRefusedUnlessForced() async throws {
        try await withLoopDevice(prepare: { (backing: String) throws in
            #expect(try execute("/usr/sbin/mkfs.ext4", ["-q", "-F", backing]).status == 0)
        }) { device in
            let error = await #expect(throws: DiskProbeError.self) { try await DiskProbe(configuration: small(device)).run() }
            #expect(error?.kind == .refused)
            #expect(error?.target == device)
            #expect(error?.refusals.map(\.kind) == [.signature])
            #expect(error?.description.contains("ext2/3/4") == true, "\(String(describing: error))")
            // Nothing was written: the filesystem is intact.
            #expect(try execute("/usr/sbin/blkid", ["-p", device]).stdout.contains("TYPE=\"ext4\""))

            var forced = small(device)
            forced.force = true
            let result = try await DiskProbe(configuration: forced).run()
            #expect(result.integrity.isClean)
        }
    }

    @Test(.enabled(if: unavailable == nil)) func aMountedDeviceIsRefused() async throws {
        try await withLoopDevice(prepare: { (backing: String) throws in
            #expect(try execute("/usr/sbin/mkfs.ext4", ["-q", "-F", backing]).status == 0)
        }) { device in
            try await withMount(device) { point in
                let error = await #expect(throws: DiskProbeError.self) { try await DiskProbe(configuration: small(device)).run() }
                #expect(error?.kind == .refused)
                let name = String(device.dropFirst("/dev/".count))
                #expect(error?.refusals.contains(DiskRefusal(kind: .mounted, device: name, detail: point)) == true,
                    "\(String(describing: error))")
                #expect(error?.description.contains("mounted at \(point)") == true)
            }
        }
    }

    @Test(.enabled(if: unavailable == nil && partitionTablesUnsupported == nil))
    func aMountedPartitionRefusesTheWholeDevice() async throws {
        try await withLoopDevice(partitions: true, prepare: { (backing: String) throws in
            // A DOS partition table with one Linux partition from 1 MiB to the end, and ext4 in it.
            var mbr = [UInt8](repeating: 0, count: 512)
            let entry: [UInt8] = [0x00, 0, 0, 0, 0x83, 0, 0, 0] + le32(2048) + le32(UInt32((64 << 20) / 512 - 2048))
            mbr.replaceSubrange(446..<462, with: entry)
            mbr[510] = 0x55
            mbr[511] = 0xAA
            RawFile.write(backing, offset: 0, bytes: mbr)
            #expect(try execute("/usr/sbin/mkfs.ext4", ["-q", "-F", "-E", "offset=1048576", backing, "60M"]).status == 0)
        }) { device in
            let partition = device + "p1"
            let deadline = ContinuousClock.now + .seconds(5)
            while !FileManager.default.fileExists(atPath: partition) && ContinuousClock.now < deadline { await Task.yield() }
            try #require(FileManager.default.fileExists(atPath: partition), "no \(partition)")
            try await withMount(partition) { point in
                let error = await #expect(throws: DiskProbeError.self) { try await DiskProbe(configuration: small(device)).run() }
                let name = String(partition.dropFirst("/dev/".count))
                #expect(error?.refusals.contains(DiskRefusal(kind: .mounted, device: name, detail: point)) == true,
                    "\(String(describing: error))")
                #expect(error?.refusals.contains { $0.kind == .signature && $0.detail.contains("MBR") } == true)
            }
        }
    }

    func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
}
