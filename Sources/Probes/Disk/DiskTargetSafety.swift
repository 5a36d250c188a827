// Whether a block device may be overwritten: mounted (itself, a partition or a holder), swap,
// held by device-mapper/RAID, or carrying a filesystem / partition table / volume signature.
import Glibc

/// One line of /proc/self/mountinfo.
struct DiskMountInfoEntry: Equatable {
    var mountID: Int
    var parentID: Int
    var major: UInt32
    var minor: UInt32
    /// Root of the mount within the filesystem.
    var root: String
    var mountPoint: String
    var fileSystemType: String
    /// The mount source (a device path for block filesystems).
    var source: String
}

enum DiskMountInfo {
    /// Parses mountinfo text (proc(5)); malformed lines are skipped.
    static func parse(_ text: String) -> [DiskMountInfoEntry] {
        var entries: [DiskMountInfoEntry] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator >= 6,
                separator + 2 < fields.count
            else { continue }
            let device = fields[2].split(separator: ":")
            guard device.count == 2, let major = UInt32(device[0]), let minor = UInt32(device[1]),
                let id = Int(fields[0]), let parent = Int(fields[1])
            else { continue }
            entries.append(DiskMountInfoEntry(
                mountID: id, parentID: parent, major: major, minor: minor,
                root: unescape(fields[3]), mountPoint: unescape(fields[4]),
                fileSystemType: unescape(fields[separator + 1]), source: unescape(fields[separator + 2])))
        }
        return entries
    }

    /// Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count,
                let value = UInt8(String(decoding: utf8[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                i += 4
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A signature found on a device.
struct DiskSignature: Equatable, CustomStringConvertible {
    /// e.g. "an ext2/3/4 filesystem", "a GPT partition table".
    var name: String
    /// Byte offset of the magic.
    var offset: Int

    var description: String { "\(name) (signature at byte \(offset))" }
}

enum DiskSignatures {
    /// Bytes from the start of a device that `detect` looks at.
    static let probeLength = 128 * 1024

    /// Signatures in the first bytes of a device (`bytes` should hold `probeLength` of them;
    /// fewer are fine, later signatures are then not seen).
    static func detect(_ bytes: [UInt8]) -> [DiskSignature] {
        var found: [DiskSignature] = []
        func has(_ magic: [UInt8], at offset: Int) -> Bool {
            offset >= 0 && offset + magic.count <= bytes.count && Array(bytes[offset..<offset + magic.count]) == magic
        }
        func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

        if has([0x53, 0xEF], at: 1080) { found.append(DiskSignature(name: "an ext2/3/4 filesystem", offset: 1080)) }
        if has(ascii("XFSB"), at: 0) { found.append(DiskSignature(name: "an xfs filesystem", offset: 0)) }
        if has(ascii("_BHRfS_M"), at: 65600) { found.append(DiskSignature(name: "a btrfs filesystem", offset: 65600)) }
        for page in [4096, 8192, 16384, 65536] {
            let offset = page - 10
            if has(ascii("SWAPSPACE2"), at: offset) || has(ascii("SWAP-SPACE"), at: offset) {
                found.append(DiskSignature(name: "a swap area", offset: offset))
                break
            }
        }
        for sector in 0..<4 where has(ascii("LABELONE"), at: sector * 512) {
            let isLVM = has(ascii("LVM2 001"), at: sector * 512 + 24)
            found.append(DiskSignature(name: isLVM ? "an LVM2 physical volume" : "an LVM label", offset: sector * 512))
            break
        }
        if has(ascii("LUKS") + [0xBA, 0xBE], at: 0) { found.append(DiskSignature(name: "a LUKS volume", offset: 0)) }
        for offset in [0, 4096] where has([0xFC, 0x4E, 0x2B, 0xA9], at: offset) {
            found.append(DiskSignature(name: "a Linux RAID (md) member", offset: offset))
        }
        if has(ascii("CD001"), at: 32769) { found.append(DiskSignature(name: "an ISO 9660 filesystem", offset: 32769)) }
        for offset in [512, 4096] where has(ascii("EFI PART"), at: offset) {
            found.append(DiskSignature(name: "a GPT partition table", offset: offset))
            break
        }
        if has([0x55, 0xAA], at: 510) {
            if has(ascii("FAT12   "), at: 54) || has(ascii("FAT16   "), at: 54) || has(ascii("FAT32   "), at: 82) {
                found.append(DiskSignature(name: "a vfat filesystem", offset: has(ascii("FAT32   "), at: 82) ? 82 : 54))
            } else if has(ascii("NTFS    "), at: 3) {
                found.append(DiskSignature(name: "an NTFS filesystem", offset: 3))
            } else if !found.contains(where: { $0.name.contains("GPT") }) {
                // A DOS partition table: at least one entry with a partition type.
                let types = (0..<4).map { bytes[446 + 16 * $0 + 4] }
                if types.contains(where: { $0 != 0 }) {
                    found.append(DiskSignature(name: "an MBR (DOS) partition table", offset: 510))
                }
            }
        }
        return found
    }

    /// Reads the first `probeLength` bytes of the open device (short reads are fine).
    static func read(fd: Int32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: probeLength)
        let count = bytes.withUnsafeMutableBytes { buffer -> Int in
            var total = 0
            while total < probeLength {
                let n = pread(fd, buffer.baseAddress! + total, probeLength - total, off_t(total))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                total += n
            }
            return total
        }
        return Array(bytes.prefix(count))
    }
}

/// A block device as sysfs describes it, with its partitions and holders.
struct DiskBlockDeviceInfo {
    var name: String
    var major: UInt32
    var minor: UInt32
    /// The device's partitions (name, major, minor).
    var partitions: [(name: String, major: UInt32, minor: UInt32)]
    /// Every block device built on it or on a partition, recursively (dm-0, md127, …), with
    /// the device it holds.
    var holders: [(name: String, major: UInt32, minor: UInt32, of: String)]

    /// Looks the device with `major:minor` up under `sysfs` (normally "/sys").
    static func lookup(major: UInt32, minor: UInt32, sysfs: String = "/sys") -> DiskBlockDeviceInfo? {
        let base = "\(sysfs)/dev/block/\(major):\(minor)"
        guard let resolved = DiskFS.realPath(base) else { return nil }
        let name = DiskFS.lastComponent(resolved)
        var info = DiskBlockDeviceInfo(name: name, major: major, minor: minor, partitions: [], holders: [])
        for entry in DiskFS.listDirectory(resolved) where DiskFS.fileExists("\(resolved)/\(entry)/partition") {
            if let (ma, mi) = readDevNumber("\(resolved)/\(entry)/dev") {
                info.partitions.append((entry, ma, mi))
            }
        }
        var queue: [(path: String, name: String)] = [(resolved, name)] + info.partitions.map { ("\(resolved)/\($0.name)", $0.name) }
        var seen = Set<String>()
        while !queue.isEmpty {
            let (path, owner) = queue.removeFirst()
            for holder in DiskFS.listDirectory("\(path)/holders") where !seen.contains(holder) {
                seen.insert(holder)
                let holderPath = "\(sysfs)/class/block/\(holder)"
                if let (ma, mi) = readDevNumber("\(holderPath)/dev") {
                    info.holders.append((holder, ma, mi, owner))
                }
                if let real = DiskFS.realPath(holderPath) { queue.append((real, holder)) }
            }
        }
        return info
    }

    static func readDevNumber(_ path: String) -> (UInt32, UInt32)? {
        guard let text = DiskFS.readTextFile(path) else { return nil }
        let parts = DiskFS.trim(text).split(separator: ":")
        guard parts.count == 2, let ma = UInt32(parts[0]), let mi = UInt32(parts[1]) else { return nil }
        return (ma, mi)
    }
}

/// Checks a block device open as `fd` at `path` may be overwritten; returns every reason not to.
enum DiskTargetSafety {
    static func refusals(path: String, fd: Int32, mountInfo: String?, swaps: String?) -> [DiskRefusal] {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return [] }
        return refusals(
            path: path, major: DiskFS.major(UInt64(st.st_rdev)), minor: DiskFS.minor(UInt64(st.st_rdev)),
            firstBytes: DiskSignatures.read(fd: fd), mountInfo: mountInfo, swaps: swaps)
    }

    /// The same from its parts: the device number, its first bytes (`DiskSignatures.probeLength`),
    /// /proc/self/mountinfo and /proc/swaps, and the sysfs root to look partitions and holders up in.
    static func refusals(
        path: String, major: UInt32, minor: UInt32, firstBytes: [UInt8], mountInfo: String?, swaps: String?,
        sysfs: String = "/sys"
    ) -> [DiskRefusal] {
        var reasons: [DiskRefusal] = []
        let info = DiskBlockDeviceInfo.lookup(major: major, minor: minor, sysfs: sysfs)
        let name = info?.name ?? DiskFS.lastComponent(path)

        // Every device whose use makes the target unsafe: itself, its partitions, its holders.
        var devices: [(name: String, major: UInt32, minor: UInt32)] = [(name, major, minor)]
        if let info {
            devices += info.partitions
            devices += info.holders.map { ($0.name, $0.major, $0.minor) }
        }
        var paths: [String: String] = [:]  // real path of the node -> name
        for device in devices {
            if let real = DiskFS.realPath("/dev/\(device.name)") { paths[real] = device.name }
        }
        if let real = DiskFS.realPath(path) { paths[real] = name }

        if let mountInfo {
            var reported = Set<String>()
            for entry in DiskMountInfo.parse(mountInfo) {
                var hit = devices.first { $0.major == entry.major && $0.minor == entry.minor }?.name
                if hit == nil, entry.source.hasPrefix("/"), let real = DiskFS.realPath(entry.source) { hit = paths[real] }
                if let hit, reported.insert("\(hit) \(entry.mountPoint)").inserted {
                    reasons.append(DiskRefusal(kind: .mounted, device: hit, detail: entry.mountPoint))
                }
            }
        }
        if let swaps {
            for line in swaps.split(separator: "\n").dropFirst() {
                guard let first = line.split(separator: " ", omittingEmptySubsequences: true).first else { continue }
                let source = DiskMountInfo.unescape(first)
                if let real = DiskFS.realPath(source), let hit = paths[real] {
                    reasons.append(DiskRefusal(kind: .swap, device: hit, detail: source))
                }
            }
        }
        for holder in info?.holders ?? [] {
            reasons.append(DiskRefusal(kind: .holder, device: holder.of, detail: holder.name))
        }
        for signature in DiskSignatures.detect(firstBytes) {
            reasons.append(DiskRefusal(kind: .signature, device: path, detail: signature.description))
        }
        return reasons
    }
}

// MARK: - Small file-system helpers (no Foundation)

enum DiskFS {
    /// glibc's major() of a dev_t.
    static func major(_ dev: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
    }

    /// glibc's minor() of a dev_t.
    static func minor(_ dev: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    static func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The whole contents of a (small, e.g. proc or sysfs) text file, or nil if it cannot be read.
    static func readTextFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func trim<S: StringProtocol>(_ text: S) -> Substring {
        let s = Substring(text)
        guard let first = s.firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = s.lastIndex(where: { !$0.isWhitespace })!
        return s[first...last]
    }
}
