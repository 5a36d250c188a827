import Foundation

/// The Python example client (examples/python/nodeagent_client.py, grpcio generated from
/// Protos/ by examples/python/generate.sh), run as a controller's script would run it.
public struct PythonClient: Sendable {
    public static let script = Integration.repositoryRoot.appendingPathComponent("examples/python/nodeagent_client.py").path
    public let target: String

    public init(socket: String) { target = "unix:\(socket)" }

    /// Whether the generated modules and grpcio are there (scripts/test.sh prepares both).
    public static var available: Bool {
        FileManager.default.fileExists(
            atPath: Integration.repositoryRoot.appendingPathComponent("examples/python/nodeagent_api/nodeagent/v1/guests_pb2.py").path)
    }

    /// Runs one command with --json; returns the exit status, the decoded JSON object (or
    /// array, for lists), and stderr.
    public func run(_ arguments: [String]) throws -> (status: Int32, json: [String: Any]?, list: [[String: Any]]?, stderr: String) {
        let result = try execute("/usr/bin/env", ["python3", Self.script, "--target", target, "--json"] + arguments)
        let decoded = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return (result.status, decoded as? [String: Any], decoded as? [[String: Any]], result.stderr)
    }
}
