import Foundation
import TestSupport
import Testing

@testable import NodeAgent

/// Fixture files and the libvirt command-line tools the guest spec tests use.
///
/// Golden files: `Fixtures/golden/NAME.toml` is a spec, `NAME.xml` its rendering. To rewrite
/// the `.xml` files after an intended change of the renderer, run
/// `NODEAGENT_UPDATE_GOLDEN=1 swift test --scratch-path .build-spec --filter GuestSpecXMLTests`
/// (it writes into the source tree, next to this file) and review the diff.
///
/// `Fixtures/domainxml/` holds what libvirt really returned for the goldens; `capture.sh` there
/// recaptures it.
enum GuestSpecFixtures {
    /// The copied `Fixtures` directory in the test bundle.
    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    /// The `Fixtures` directory in the source tree (for rewriting goldens).
    static var sourceDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    /// The golden cases, by base name.
    static let goldenNames = ["minimal-kernel", "disk-boot", "all-tunables", "escaped-labels"]

    /// The metadata every golden is rendered with.
    static func goldenMetadata(_ name: String) -> GuestMetadata {
        name == "escaped-labels"
            ? GuestMetadata(owner: "team <a&b> \"x\" 'y'", protected: true, created: "2025-01-01T00:00:00Z")
            : GuestMetadata(owner: "controller-1", protected: false, created: "2025-01-01T00:00:00Z")
    }

    static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(relativePath), encoding: .utf8)
    }

    static func goldenSpec(_ name: String) throws -> GuestSpec {
        try GuestSpec(toml: text("golden/\(name).toml"))
    }

    /// Whether golden files should be rewritten instead of compared.
    static var updateGolden: Bool { ProcessInfo.processInfo.environment["NODEAGENT_UPDATE_GOLDEN"] == "1" }

    // MARK: Tools

    /// The absolute path of `tool` on PATH, or nil.
    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static let virsh = which("virsh")
    /// virt-xml-validate is a shell script around xmllint; both must exist.
    static let canValidateSchema = which("virt-xml-validate") != nil && which("xmllint") != nil

    /// Runs a program to completion, capturing its output (TestSupport's spawner).
    static func run(_ executable: String, _ arguments: [String]) throws -> CommandResult {
        try execute(executable, arguments)
    }

    /// Runs `commands` (`;`-separated) in ONE `virsh -c test:///default` session: the test
    /// driver's state lives only as long as the connection.
    static func virshSession(_ commands: String) throws -> CommandResult {
        try run(virsh!, ["-q", "-c", "test:///default", commands])
    }

    /// The libvirt version the `Fixtures/domainxml` files were captured with.
    static let capturedLibvirtVersion = "9.0.0"

    /// `virsh --version`, trimmed.
    static func virshVersion() throws -> String {
        try run(virsh!, ["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("guestspec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Splits virsh output where `echo MARK` wrote its marker (virsh's echo adds no newline).
    static func sections(_ output: String, marker: String) -> [String] {
        output.components(separatedBy: marker)
    }

    /// `xml` on one line for a virsh command string: indentation and newlines dropped (they
    /// are never part of a value: values cannot contain newlines and never start a line).
    static func oneLine(_ xml: String) -> String {
        xml.split(separator: "\n").map { $0.drop { $0 == " " } }.joined()
    }
}

@Suite struct GuestSpecFixtureTests {
    @Test func everyGoldenCaseHasASpecAndARendering() throws {
        for name in GuestSpecFixtures.goldenNames {
            #expect(!(try GuestSpecFixtures.text("golden/\(name).toml")).isEmpty)
            if !GuestSpecFixtures.updateGolden {
                #expect(try GuestSpecFixtures.text("golden/\(name).xml").hasPrefix("<domain type='"))
            }
        }
    }
}
