public import Logging

/// The names `log.level` and `--log-level` accept.
public enum LogLevelName {
    public static let names = Logger.Level.allCases.map(\.rawValue)

    public static func level(_ name: String) -> Logger.Level? { Logger.Level(rawValue: name.lowercased()) }
}
