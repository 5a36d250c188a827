import Foundation
@testable import Probes
import Testing
import TestSupport

/// Signatures, mountinfo and sysfs parsing on captured or synthetic input; the file target's
/// life cycle. Real (loop) devices: DiskLoopDeviceTests.swift.
@Suite("Disk probe: refusal and cleanup")
struct DiskRefusalTests {
    // MARK: Signatures

    static func image(_ patches: [(Int, [UInt8])]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: DiskSignatures.probeLength)
        for (offset, patch) in patches { bytes.replaceSubrange(offset..<offset + patch.count, with: patch) }
        return bytes
    }

    static func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test(arguments: [
        ("an ext2/3/4 filesystem", [(1080, [0x53, 0xEF])]),
        ("an xfs filesystem", [(0, ascii("XFSB"))]),
        ("a btrfs filesystem", [(65600, ascii("_BHRfS_M"))]),
        ("a swap area", [(4086, ascii("SWAPSPACE2"))]),
        ("a swap area", [(65526, ascii("SWAPSPACE2"))]),
        ("an LVM2 physical volume", [(512, ascii("LABELONE")), (536, ascii("LVM2 001"))]),
        ("a LUKS volume", [(0, ascii("LUKS") + [0xBA, 0xBE])]),
        ("a Linux RAID (md) member", [(4096, [0xFC, 0x4E, 0x2B, 0xA9])]),
        ("a GPT partition table", [(510, [0x55, 0xAA]), (450, [0xEE]), (512, ascii("EFI PART"))]),
        ("a GPT partition table", [(4096, ascii("EFI PART"))]),
        ("an MBR (DOS) partition table", [(510, [0x55, 0xAA]), (446 + 4, [0x83])]),
        ("a vfat filesystem", [(510, [0x55, 0xAA]), (0, [0xEB, 0x58, 0x90]), (82, ascii("FAT32   "))]),
        ("a vfat filesystem", [(510, [0x55, 0xAA]), (0, [0xEB, 0x3C, 0x90]), (54, ascii("FAT16   "))]),
        ("an NTFS filesystem", [(510, [0x55, 0xAA]), (3, ascii("NTFS    "))]),
        ("an ISO 9660 filesystem", [(32769, ascii("CD001"))]),
    ] as [(String, [(Int, [UInt8])])])
    func signatureIsFound(name: String, patches: [(Int, [UInt8])]) {
        let found = DiskSignatures.detect(Self.image(patches))
        #expect(found.map(\.name) == [name])
    }

    @Test func blankOrProbeDataHasNoSignature() {
        #expect(DiskSignatures.detect(Self.image([])).isEmpty)
        var written: [UInt8] = []
        for unit in 0..<32 { written += formattedUnit(offset: UInt64(unit) * 4096, generation: DiskGeneration(runID: 1, pass: 1)) }
        #expect(DiskSignatures.detect(written).isEmpty)
        // A 0x55AA boot signature with an empty partition table is not a partition table.
        #expect(DiskSignatures.detect(Self.image([(510, [0x55, 0xAA])])).isEmpty)
        #expect(DiskSignatures.detect([]).isEmpty, "short reads are fine")
    }

    @Test func realMkfsAndMkswapOutputIsFound() throws {
        try withScratchFile { (path: String) throws in
            #expect(try execute("/usr/sbin/mkfs.ext4", ["-q", "-F", path]).status == 0)
            #expect(DiskSignatures.detect(RawFile.read(path, offset: 0, count: DiskSignatures.probeLength)).map(\.name)
                == ["an ext2/3/4 filesystem"])
        }
        try withScratchFile { (path: String) throws in
            #expect(try execute("/usr/sbin/mkswap", [path]).status == 0)
            #expect(DiskSignatures.detect(RawFile.read(path, offset: 0, count: DiskSignatures.probeLength)).map(\.name)
                == ["a swap area"])
        }
    }

    func withScratchFile(_ body: (String) throws -> Void) throws {
        let path = "/var/tmp/nodeagent-disk-sig-\(getpid())-\(UUID().uuidString.prefix(8)).img"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        defer { unlink(path) }
        #expect(truncate(path, 16 << 20) == 0)
        try body(path)
    }

    // MARK: mountinfo

    static let mountinfo = """
        22 27 0:21 / /proc rw,relatime - proc proc rw
        27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
        101 27 7:3 / /mnt/with\\040space rw,relatime shared:50 master:2 - ext4 /dev/loop3 rw
        102 27 259:1 /sub /srv/data rw - xfs /dev/loop3p1 rw,attr2
        103 27 0:52 / /srv/btrfs rw,relatime - btrfs /dev/loop5 rw,space_cache=v2
        garbage line
        104 27 8:1 / /broken
        """

    @Test func mountinfoIsParsedWithEscapesAndOptionalFields() {
        let entries = DiskMountInfo.parse(Self.mountinfo)
        #expect(entries.count == 5)
        #expect(entries[2] == DiskMountInfoEntry(
            mountID: 101, parentID: 27, major: 7, minor: 3, root: "/", mountPoint: "/mnt/with space",
            fileSystemType: "ext4", source: "/dev/loop3"))
        #expect(entries[3].root == "/sub" && entries[3].fileSystemType == "xfs" && entries[3].source == "/dev/loop3p1")
        #expect(entries[4].major == 0 && entries[4].minor == 52 && entries[4].source == "/dev/loop5")
        #expect(DiskMountInfo.unescape("a\\011b\\012c\\134d") == "a\tb\nc\\d")
    }

    // MARK: Partitions and holders (a fake sysfs)

    /// sysfs for "fakedisk" 250:0 with partition fakedisk1 250:1, held by dm-77 (253:77) through
    /// the partition.
    func withFakeSysfs(_ body: (String) throws -> Void) throws {
        let root = "/var/tmp/nodeagent-disk-sysfs-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        let disk = root + "/devices/virtual/block/fakedisk"
        let dm = root + "/devices/virtual/block/dm-77"
        for dir in [disk + "/fakedisk1/holders", disk + "/holders", disk + "/queue", dm + "/holders", root + "/dev/block", root + "/class/block"] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try "250:0\n".write(toFile: disk + "/dev", atomically: true, encoding: .utf8)
        try "250:1\n".write(toFile: disk + "/fakedisk1/dev", atomically: true, encoding: .utf8)
        try "1\n".write(toFile: disk + "/fakedisk1/partition", atomically: true, encoding: .utf8)
        try "253:77\n".write(toFile: dm + "/dev", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: root + "/dev/block/250:0", withDestinationPath: "../../devices/virtual/block/fakedisk")
        try fm.createSymbolicLink(atPath: root + "/class/block/dm-77", withDestinationPath: "../../devices/virtual/block/dm-77")
        try fm.createSymbolicLink(atPath: disk + "/fakedisk1/holders/dm-77", withDestinationPath: "../../../dm-77")
        try body(root)
    }

    @Test func partitionsAndHoldersAreFoundInSysfs() throws {
        try withFakeSysfs { sysfs in
            let info = try #require(DiskBlockDeviceInfo.lookup(major: 250, minor: 0, sysfs: sysfs))
            #expect(info.name == "fakedisk")
            #expect(info.partitions.map(\.name) == ["fakedisk1"])
            #expect(info.partitions.first.map { [$0.major, $0.minor] } == [250, 1])
            #expect(info.holders.map(\.name) == ["dm-77"])
            #expect(info.holders.first?.of == "fakedisk1")
        }
    }

    @Test func aMountedPartitionOrHolderRefusesTheWholeDevice() throws {
        try withFakeSysfs { sysfs in
            let mountinfo = """
                27 1 254:0 / / rw - ext4 /dev/vda rw
                90 27 250:1 / /srv/part rw - ext4 /dev/fakedisk1 rw
                91 27 253:77 / /srv/lv rw - xfs /dev/mapper/vg-lv rw
                """
            let refusals = DiskTargetSafety.refusals(
                path: "/dev/fakedisk", major: 250, minor: 0, firstBytes: [], mountInfo: mountinfo, swaps: nil, sysfs: sysfs)
            #expect(refusals.contains(DiskRefusal(kind: .mounted, device: "fakedisk1", detail: "/srv/part")))
            #expect(refusals.contains(DiskRefusal(kind: .mounted, device: "dm-77", detail: "/srv/lv")))
            #expect(refusals.contains(DiskRefusal(kind: .holder, device: "fakedisk1", detail: "dm-77")))
            #expect(refusals.count == 3)
            // The same device, nothing mounted, but a signature: refused for that alone.
            let signed = DiskTargetSafety.refusals(
                path: "/dev/fakedisk", major: 250, minor: 0, firstBytes: Self.image([(0, Self.ascii("XFSB"))]),
                mountInfo: "27 1 254:0 / / rw - ext4 /dev/vda rw", swaps: "Filename Type Size Used Priority\n", sysfs: sysfs)
            #expect(signed.map(\.kind) == [.holder, .signature])
            #expect(signed.last?.detail.contains("xfs") == true)
        }
    }

    @Test func anUnrelatedDeviceIsNotRefused() {
        let refusals = DiskTargetSafety.refusals(
            path: "/dev/nothing", major: 251, minor: 9, firstBytes: Self.image([]), mountInfo: Self.mountinfo,
            swaps: "Filename Type Size Used Priority\n/dev/zram0 partition 8388604 0 100\n", sysfs: "/nonexistent")
        #expect(refusals.isEmpty)
    }

    // MARK: The file target's life cycle

    @Test func anExistingFileIsRefusedWithoutForceAndLeftAlone() async throws {
        try await withDiskScratch { dir in
            let path = dir + "/precious.dat"
            try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
            let probe = DiskProbe(configuration: smallDiskConfiguration(.file(path), size: 16 << 20, seconds: 0.1))
            let error = await #expect(throws: DiskProbeError.self) { try await probe.run() }
            #expect(error?.kind == .refused)
            #expect(error?.target == path)
            #expect(error?.refusals.map(\.kind) == [.existingFile])
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
        }
    }

    @Test func aForcedExistingFileIsUsedAndKept() async throws {
        try await withDiskScratch { dir in
            let path = dir + "/forced.dat"
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            var configuration = smallDiskConfiguration(.file(path), size: 8 << 20, seconds: 0.1)
            configuration.phases = [.sequentialWrite, .verify]
            configuration.force = true
            let result = try await DiskProbe(configuration: configuration).run()
            #expect(!result.targetRemoved)
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(result.integrity.isClean)
        }
    }

    @Test func theFileIsRemovedAfterAnErrorWhileSizingIt() async throws {
        try await withDiskScratch { dir in
            // 512 KiB cannot hold one 1 MiB block: thrown after the file was created.
            let probe = DiskProbe(configuration: smallDiskConfiguration(.file(dir), size: 512 << 10))
            let error = await #expect(throws: DiskProbeError.self) { try await probe.run() }
            #expect(error?.kind == .targetUnavailable)
            #expect(error?.reason.contains("below the largest block size") == true, "\(String(describing: error))")
            #expect(error?.target.hasPrefix(dir + "/nodeagent-disk-probe-") == true, "the error names the file")
            #expect(directoryEntries(dir).isEmpty, "left: \(directoryEntries(dir))")
        }
    }

    @Test func theFileIsRemovedAfterAnErrorBetweenPhases() async throws {
        try await withDiskScratch { dir in
            let probe = DiskProbe(configuration: smallDiskConfiguration(.file(dir), size: 16 << 20, seconds: 0.2))
            let error = await #expect(throws: DiskProbeError.self) {
                try await probe.run(progress: { _ in }) { phase, path throws(DiskProbeError) in
                    // The file exists and holds the sequential write's data when the error comes.
                    #expect(FileManager.default.fileExists(atPath: path))
                    if phase == .randomRead {
                        throw DiskProbeError(kind: .ioFailure, target: path, reason: "injected")
                    }
                }
            }
            #expect(error?.reason == "injected")
            #expect(directoryEntries(dir).isEmpty, "left: \(directoryEntries(dir))")
        }
    }

    @Test func theFileIsRemovedAfterCancellation() async throws {
        try await withDiskScratch { dir in
            // Minutes of work unless cancelled; cancelled once the sequential write reports progress.
            let configuration = smallDiskConfiguration(.file(dir), size: 64 << 20, seconds: 120)
            let (started, signal) = AsyncStream<Void>.makeStream()
            let task = Task {
                try await DiskProbe(configuration: configuration).run { _ in signal.yield() }
            }
            for await _ in started { break }
            let cancelledAt = ContinuousClock.now
            task.cancel()
            let result = try await task.value
            #expect(ContinuousClock.now - cancelledAt < .seconds(5))
            #expect(result.interrupted)
            #expect(result.phases.map(\.phase) == [.sequentialWrite])
            #expect(result.phases.first?.completed == false)
            #expect(result.phases.first!.operations > 0)
            #expect(result.targetRemoved)
            #expect(directoryEntries(dir).isEmpty, "left: \(directoryEntries(dir))")
        }
    }

    @Test func invalidConfigurationsNameTheKey() async throws {
        var configuration = smallDiskConfiguration(.file("/var/tmp/never-created"))
        configuration.randomRead.blockSize = 1000
        let error = await #expect(throws: DiskProbeError.self) { try await DiskProbe(configuration: configuration).run() }
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.reason.contains("randomRead.blockSize") == true)
        #expect(!FileManager.default.fileExists(atPath: "/var/tmp/never-created"))

        let device = DiskProbe(configuration: smallDiskConfiguration(.blockDevice("/var/tmp")))
        let notDevice = await #expect(throws: DiskProbeError.self) { try await device.run() }
        #expect(notDevice?.kind == .targetUnavailable && notDevice?.reason == "is not a block device")
    }
}

@Suite("Disk probe: files left by a killed run")
struct DiskStaleFileTests {
    /// A run killed before its cleanup leaves its file; the next run in the same directory
    /// removes it, but never the file of a process that still runs.
    @Test func theNextRunRemovesTheFileOfADeadRunOnly() async throws {
        try await withDiskScratch { dir in
            // A PID that cannot run: above the kernel's pid_max.
            let maximum = Int32((try? String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 4_194_304
            let dead = dir + "/nodeagent-disk-probe-\(maximum + 1)-abc123.dat"
            let live = dir + "/nodeagent-disk-probe-\(getpid())-def456.dat"
            let unrelated = dir + "/nodeagent-disk-probe-notes.dat"
            for path in [dead, live, unrelated] { #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8))) }
            let result = try await DiskProbe(configuration: smallDiskConfiguration(.file(dir), size: 4 << 20, seconds: 0.2)).run()
            #expect(!FileManager.default.fileExists(atPath: dead), "the dead run's file is removed")
            #expect(FileManager.default.fileExists(atPath: live) && FileManager.default.fileExists(atPath: unrelated))
            #expect(result.notes.contains { $0.contains(dead) && $0.contains("no longer runs") }, "\(result.notes)")
            #expect(Set(directoryEntries(dir)) == Set(["nodeagent-disk-probe-\(getpid())-def456.dat", "nodeagent-disk-probe-notes.dat"]))
        }
    }
}
