import Foundation
import Libvirt
import NodeAgent
import TestSupport
import Testing

/// The `nodeagent` binary, driven as an operator would, against a real libvirtd.
@Suite(
    "nodeagent command line against a private libvirtd", .serialized,
    .enabled(if: Integration.enabled, "needs root, libvirtd, QEMU and NODEAGENT_GUEST_IMAGE: run scripts/test.sh"))
struct CLITests {
    /// The executable built beside the test bundle.
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("nodeagent").path

    /// Runs the CLI; returns exit code, stdout and stderr.
    func cli(_ arguments: [String], uri: String) throws -> (status: Int32, out: String, err: String) {
        let result = try execute(Self.binary, arguments + ["--uri", uri])
        return (result.status, result.stdout, result.stderr)
    }

    func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    @Test func anOperatorDefinesRunsProtectsStopsAndRemovesAGuest() async throws {
        let daemon = try PrivateLibvirtd.shared()
        let guests = try RealGuests(daemon)
        let connection = try await Connection.open(daemon.uri)
        defer { connection.close() }
        try await guests.ensurePool(connection)
        let uri = daemon.uri
        let name = "cli-\(UUID().uuidString.prefix(6))"
        let work = try daemon.workDirectory("cli")
        let disk = "\(name).qcow2"

        try await withCleanup {
            #expect(try cli(["volume", "create", "images", disk, "--capacity", "64M"], uri: uri).status == 0)
            let spec = """
                name = "\(name)"
                vcpus = 1
                memory = "256M"
                serial_log = "\(guests.serialLog(name))"
                boot = { mode = "kernel", kernel = "\(guests.image.kernel)", initrd = "\(guests.image.initrd)", cmdline = "console=ttyS0 panic=-1" }
                disks = [ { source = { type = "volume", pool = "images", volume = "\(disk)" }, format = "qcow2" } ]
                nics = [ { type = "user" } ]
                labels = { tenant = "acme" }
                """
            let specPath = work + "/\(name).toml"
            try spec.write(toFile: specPath, atomically: true, encoding: .utf8)

            let defined = try cli(["guest", "define", specPath, "--start", "--json"], uri: uri)
            #expect(defined.status == 0, "\(defined.err)")
            try await guests.waitForMarker(name, "NODEAGENT-GUEST-READY")

            let listed = try #require(try json(cli(["guest", "list", "--json"], uri: uri).out) as? [[String: Any]])
            let entry = try #require(listed.first { $0["name"] as? String == name })
            #expect(entry["state"] as? String == "running")
            #expect(entry["managed"] as? Bool == true)
            #expect((entry["labels"] as? [String: String]) == ["tenant": "acme"])

            let shown = try cli(["guest", "show", name], uri: uri)
            #expect(shown.out.contains("images/\(disk)"))

            #expect(try cli(["guest", "protect", name], uri: uri).status == 0)
            let refused = try cli(["guest", "destroy", name], uri: uri)
            #expect(refused.status == 3)
            #expect(refused.err.contains("protected"))
            #expect(try cli(["guest", "undefine", name, "--delete-volumes"], uri: uri).status == 3)
            #expect(try cli(["volume", "delete", "images", disk], uri: uri).status == 3)

            let stopped = try cli(["guest", "stop", name, "--grace", "120", "--json"], uri: uri)
            #expect(stopped.status == 0, "\(stopped.err)")
            let stop = try #require(try json(stopped.out) as? [String: Any])
            #expect(stop["outcome"] as? String == "shut-down")

            #expect(try cli(["guest", "protect", name, "--off"], uri: uri).status == 0)
            let removed = try cli(["guest", "undefine", name, "--delete-volumes", "--json"], uri: uri)
            #expect(removed.status == 0, "\(removed.err)")
            #expect(removed.out.contains(disk))
            #expect(try cli(["guest", "show", name], uri: uri).status == 2)
            #expect(try cli(["volume", "show", "images", disk], uri: uri).status == 2)
        } cleanup: {
            _ = try? cli(["guest", "undefine", name, "--delete-volumes", "--force"], uri: uri)
        }
    }

    @Test func badInputAndAnUnreachableDaemonGetTheirDocumentedExitCodes() throws {
        let daemon = try PrivateLibvirtd.shared()
        let work = try daemon.workDirectory("cli")
        let bad = work + "/bad.toml"
        try "name = \"a'b<c>&\\\"\"\nmemory = \"256M\"\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let invalid = try cli(["guest", "define", bad], uri: daemon.uri)
        #expect(invalid.status == 65)
        #expect(invalid.err.contains("name"))
        let missing = try cli(["guest", "start", "no-such-guest"], uri: daemon.uri)
        #expect(missing.status == 2)
        let down = try cli(["guest", "list"], uri: "qemu+unix:///system?socket=\(work)/no-such-socket")
        #expect(down.status == 69)
        #expect(down.err.contains("cannot connect"))
    }
}
