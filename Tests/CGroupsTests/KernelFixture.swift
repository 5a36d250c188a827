import Foundation

/// Text of the real kernel samples in `Fixtures/kernel/` (see its README).
enum KernelFixture {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        .appendingPathComponent("kernel")

    /// A file of the 6.1 guest tree, e.g. `guest("work/job/cpu.stat")`.
    static func guest(_ path: String) throws -> String { try text("guest-6.1/\(path)") }

    /// A file of the 6.18 build host's unified root, e.g. `host("cpu.stat")`.
    static func host(_ path: String) throws -> String { try text("host-6.18/\(path)") }

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }
}
