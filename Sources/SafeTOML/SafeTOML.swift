public import TOMLKit

/// TOMLKit behind `TOMLSyntax`: every text the agent parses as TOML (its configuration, guest
/// specs, burn-in profiles, some of which arrive over the API) is checked first, so toml++'s
/// assertions are never reached.
public enum SafeTOML {
    /// The text as a table; throws `TOMLSyntax.Problem` for text that is not TOML 1.0, or
    /// TOMLKit's `TOMLParseError` for what only toml++ checks (duplicate keys, value ranges).
    public static func table(_ text: String) throws -> TOMLTable {
        try TOMLSyntax.check(text)
        return try TOMLTable(string: text)
    }

    /// Decodes `type` from the text, after the same check.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try TOMLSyntax.check(text)
        return try TOMLDecoder().decode(type, from: text)
    }
}
