import Foundation
import Libvirt
import NodeAgent
import TestSupport

/// Builds specs for real TCG guests of the image made by scripts/build-guest-image.sh, in a
/// private libvirtd, and watches their serial logs.
struct RealGuests {
    let daemon: PrivateLibvirtd
    var image: GuestImage
    let work: String

    init(_ daemon: PrivateLibvirtd) throws {
        self.daemon = daemon
        image = try Integration.guestImage()
        work = try daemon.workDirectory("guests")
    }

    /// Defines (once per daemon) and starts the dir pool `images` under the daemon's directory.
    func ensurePool(_ connection: Connection) async throws {
        if try await connection.listStoragePools().contains(where: { $0.name == "images" && $0.state == .running }) { return }
        let path = try daemon.workDirectory("pool")
        do {
            let pool = try await connection.defineStoragePool(
                xml: "<pool type='dir'><name>images</name><target><path>\(path)</path></target></pool>")
            try await pool.build()
            try await pool.start()
        } catch {
            // Another suite may be defining or starting it right now: wait until it runs.
            try await waitUntil("pool images running", timeout: .seconds(30)) {
                try await connection.listStoragePools().contains { $0.name == "images" && $0.state == .running }
            }
        }
    }

    func serialLog(_ name: String) -> String { work + "/\(name).serial.log" }

    func spec(_ name: String, ignoreACPI: Bool = false, volume: String? = nil) -> GuestSpec {
        var cmdline = "console=ttyS0 panic=-1"
        if ignoreACPI { cmdline += " nodeagent.acpi=ignore" }
        return GuestSpec(
            name: name, vcpus: 1, memory: .mib(256),
            boot: .kernel(.init(kernel: image.kernel, initrd: image.initrd, cmdline: cmdline)),
            disks: volume.map { [GuestSpec.Disk(source: .volume(pool: "images", volume: $0), format: .qcow2)] } ?? [],
            nics: [.init(.user)], serialLog: serialLog(name), labels: ["suite": "integration"])
    }

    /// Waits until `marker` appears in the guest's serial log; returns the time it took.
    @discardableResult
    func waitForMarker(_ name: String, _ marker: String, timeout: Duration = .seconds(180)) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try await waitUntil("\(marker) on the serial console of \(name)", timeout: timeout, poll: .milliseconds(100)) {
            // Firmware writes control sequences without newlines: match a substring.
            (try? String(contentsOfFile: serialLog(name), encoding: .isoLatin1))?.contains(marker) ?? false
        }
        return clock.now - start
    }

    /// The QEMU PID of a running guest, from the daemon's pid file.
    func qemuPID(_ name: String) -> pid_t? {
        (try? String(contentsOfFile: daemon.directory + "/run/qemu/\(name).pid", encoding: .utf8))
            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

/// Seconds of a duration, for messages.
func seconds(_ d: Duration) -> String {
    String(format: "%.2f s", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
}
