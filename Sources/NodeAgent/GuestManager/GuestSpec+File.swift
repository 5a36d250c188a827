import Foundation

extension GuestSpec {
    /// Reads a spec file: TOML for `.toml`, JSON for `.json`. Errors name the file and the field.
    public static func load(contentsOf path: String) throws(AgentError) -> GuestSpec {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AgentError(.invalidArgument, subject: path, operation: "read spec", message: "cannot read the file: \(error.localizedDescription)")
        }
        do throws(GuestSpecError) {
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "toml": return try GuestSpec(toml: String(decoding: data, as: UTF8.self))
            case "json": return try GuestSpec(json: data)
            default:
                throw GuestSpecError(field: "file", rawValue: path, code: .invalidValue, reason: "the spec file must end in .toml or .json")
            }
        } catch {
            throw AgentError(.invalidArgument, subject: path, operation: "read spec", message: error.description, spec: error)
        }
    }
}
