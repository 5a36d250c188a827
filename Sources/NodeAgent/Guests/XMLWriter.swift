/// Writes indented XML in which injection is impossible by construction: element and attribute
/// names are ``Name`` values, which come from string literals in this module or from names
/// checked against the XML name grammar, and every text or attribute value passes through
/// ``escape(_:)``.
struct XMLWriter {
    /// An element or attribute name (`disk`, `nodeagent:guest`, `xmlns:nodeagent`).
    struct Name: ExpressibleByStringLiteral, Equatable {
        let text: String

        init(stringLiteral value: StaticString) { self.text = "\(value)" }

        /// `prefix:local`, or `local` when `prefix` is nil.
        init(prefix: Name?, local: Name) {
            self.text = prefix.map { $0.text + ":" + local.text } ?? local.text
        }

        /// A name read from a document, accepted only if it is an ASCII XML name
        /// (`[A-Za-z_][A-Za-z0-9._-]*`, optionally one `prefix:` of the same form).
        init?(validating text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), parts.allSatisfy(Self.isNCName) else { return nil }
            self.text = text
        }

        private static func isNCName(_ part: Substring) -> Bool {
            guard let first = part.unicodeScalars.first else { return false }
            let isLetter: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("A"..."Z").contains($0) }
            return (isLetter(first) || first == "_")
                && part.unicodeScalars.allSatisfy {
                    isLetter($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
                }
        }
    }

    /// An attribute; a nil value leaves the attribute out.
    typealias Attribute = (name: Name, value: String?)

    private(set) var text = ""
    private var depth: Int

    /// A writer whose first element is indented by `depth` levels of two spaces.
    init(depth: Int = 0) { self.depth = depth }

    /// `<name attrs>` on its own line; children follow one level deeper.
    mutating func open(_ name: Name, _ attributes: [Attribute] = []) {
        line("<" + name.text + Self.render(attributes) + ">")
        depth += 1
    }

    /// `</name>` closing the element opened last.
    mutating func close(_ name: Name) {
        depth -= 1
        line("</" + name.text + ">")
    }

    /// `<name attrs/>`.
    mutating func empty(_ name: Name, _ attributes: [Attribute] = []) {
        line("<" + name.text + Self.render(attributes) + "/>")
    }

    /// `<name attrs>text</name>`, or `<name attrs/>` when `text` is empty.
    mutating func element(_ name: Name, _ attributes: [Attribute] = [], text: String) {
        if text.isEmpty { return empty(name, attributes) }
        line("<" + name.text + Self.render(attributes) + ">" + Self.escape(text) + "</" + name.text + ">")
    }

    /// `<name attrs>` ... `</name>` around what `body` writes.
    mutating func element(_ name: Name, _ attributes: [Attribute] = [], body: (inout XMLWriter) -> Void) {
        open(name, attributes)
        body(&self)
        close(name)
    }

    private mutating func line(_ content: String) {
        text += String(repeating: "  ", count: depth) + content + "\n"
    }

    private static func render(_ attributes: [Attribute]) -> String {
        attributes.reduce(into: "") { out, attribute in
            if let value = attribute.value { out += " " + attribute.name.text + "='" + escape(value) + "'" }
        }
    }

    /// `value` safe as XML text or as a single- or double-quoted attribute value: `&`, `<`, `>`,
    /// `"` and `'` become entity references; tab, LF and CR become character references (so
    /// attribute-value normalization cannot change them); a scalar that XML 1.0 cannot carry
    /// at all becomes U+FFFD (validation refuses such values before they get here).
    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t": out += "&#9;"
            case "\n": out += "&#10;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(TextRules.isXMLCharacter(scalar) ? scalar : "\u{FFFD}")
            }
        }
        return out
    }
}
