/// A strict check of TOML 1.0 syntax, done before any text reaches toml++ (through TOMLKit).
///
/// toml++ 3.4 guards its parser's internal assumptions with assertions: on some malformed
/// inputs (`[` followed by a character that cannot start a key, `a = [}`, ...) a debug build
/// aborts the process and a release build continues into undefined behaviour. Burn-in profiles
/// arrive over the API (`BurnIn.Start`), so a client could stop the agent with one line of
/// TOML. This checker follows the TOML 1.0.0 ABNF (https://toml.io/en/v1.0.0) and refuses
/// anything outside it with the line, the column and the reason; only text it accepts is parsed.
/// It checks syntax only: duplicate keys, value ranges and dates are toml++'s to refuse.
public enum TOMLSyntax {
    /// Why a text is not TOML, and where (1-based line and column, in characters).
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var column: Int
        public var reason: String

        public var description: String { "not valid TOML at line \(line), column \(column): \(reason)" }
    }

    /// The deepest nesting accepted, counting the parts of dotted keys and table headers with
    /// arrays and inline tables: a table 30,000 levels deep (`[a.a.a...]`) overflowed the stack
    /// of the code that walks the parsed tree.
    public static let maximumDepth = 64

    /// Throws the first syntax problem of `text`.
    public static func check(_ text: String) throws(Problem) {
        var scanner = Scanner(Array(text.unicodeScalars))
        try scanner.document()
    }
}

private struct Scanner {
    let scalars: [Unicode.Scalar]
    var index = 0
    var line = 1
    var lineStart = 0
    var depth = 0
    /// The parts of the last table header: the depth a top-level key starts from.
    var tableDepth = 0

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    // MARK: Reading

    var atEnd: Bool { index >= scalars.count }
    var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }
    func peek(_ offset: Int) -> Unicode.Scalar? { index + offset < scalars.count ? scalars[index + offset] : nil }

    func problem(_ reason: String) -> TOMLSyntax.Problem {
        TOMLSyntax.Problem(line: line, column: index - lineStart + 1, reason: reason)
    }

    /// `what` at the current position, for messages: the character, or "the end".
    var found: String {
        guard let current else { return "the end of the text" }
        switch current {
        case "\n": return "the end of the line"
        case "\r": return "a carriage return"
        case "\t": return "a tab"
        default:
            if current.value < 0x20 || current.value == 0x7f { return "the control character U+\(String(current.value, radix: 16, uppercase: true))" }
            return "'\(Character(current))'"
        }
    }

    mutating func advance() {
        if current == "\n" {
            line += 1
            lineStart = index + 1
        }
        index += 1
    }

    mutating func accept(_ scalar: Unicode.Scalar) -> Bool {
        guard current == scalar else { return false }
        advance()
        return true
    }

    mutating func expect(_ scalar: Unicode.Scalar, _ what: String) throws(TOMLSyntax.Problem) {
        guard accept(scalar) else { throw problem("expected \(what), found \(found)") }
    }

    func matches(_ text: String) -> Bool {
        for (offset, scalar) in text.unicodeScalars.enumerated() where peek(offset) != scalar { return false }
        return true
    }

    mutating func skip(_ text: String) {
        for _ in text.unicodeScalars { advance() }
    }

    // MARK: Lexical classes

    static func isWhitespace(_ c: Unicode.Scalar?) -> Bool { c == " " || c == "\t" }
    static func isDigit(_ c: Unicode.Scalar?) -> Bool { c.map { ("0"..."9").contains($0) } ?? false }
    static func isHexDigit(_ c: Unicode.Scalar?) -> Bool {
        guard let c else { return false }
        return ("0"..."9").contains(c) || ("a"..."f").contains(c) || ("A"..."F").contains(c)
    }
    static func isBareKey(_ c: Unicode.Scalar?) -> Bool {
        guard let c else { return false }
        return ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "-" || c == "_"
    }
    /// A character allowed in a comment or a literal string (tab, printable ASCII, non-ASCII).
    static func isText(_ c: Unicode.Scalar) -> Bool {
        c == "\t" || (c.value >= 0x20 && c.value != 0x7f)
    }

    mutating func whitespace() {
        while Self.isWhitespace(current) { advance() }
    }

    /// A newline (LF or CRLF); false if there is none here.
    mutating func newline() throws(TOMLSyntax.Problem) -> Bool {
        if accept("\n") { return true }
        if current == "\r" {
            guard peek(1) == "\n" else { throw problem("a carriage return must be followed by a line feed") }
            advance()
            advance()
            return true
        }
        return false
    }

    mutating func comment() throws(TOMLSyntax.Problem) {
        guard accept("#") else { return }
        while let c = current, c != "\n", c != "\r" {
            guard Self.isText(c) else { throw problem("\(found) is not allowed in a comment") }
            advance()
        }
    }

    /// The rest of a line after an expression: whitespace, a comment, then a newline or the end.
    mutating func endOfLine() throws(TOMLSyntax.Problem) {
        whitespace()
        try comment()
        if atEnd { return }
        guard try newline() else { throw problem("expected the end of the line, found \(found)") }
    }

    // MARK: Document

    mutating func document() throws(TOMLSyntax.Problem) {
        if current == "\u{FEFF}" { index += 1 }
        while !atEnd {
            whitespace()
            if current == "#" || current == "\n" || current == "\r" || atEnd {
                try endOfLine()
            } else if current == "[" {
                try tableHeader()
                try endOfLine()
            } else {
                try keyValue()
                try endOfLine()
            }
        }
    }

    mutating func tableHeader() throws(TOMLSyntax.Problem) {
        advance()
        let array = accept("[")
        whitespace()
        tableDepth = try key()
        whitespace()
        try expect("]", "']' to close the table header")
        if array { try expect("]", "']]' to close the array of tables header") }
    }

    mutating func keyValue() throws(TOMLSyntax.Problem) {
        let outer = depth
        // Inside an inline table the depth counts already; at the top, the table's header.
        let parts = try key(from: depth == 0 ? tableDepth : depth)
        depth = (outer == 0 ? tableDepth : outer) + parts - 1
        whitespace()
        try expect("=", "'=' after the key")
        whitespace()
        try value()
        depth = outer
    }

    /// simple-key *( ws "." ws simple-key ); returns the number of parts.
    @discardableResult
    mutating func key(from start: Int = 0) throws(TOMLSyntax.Problem) -> Int {
        try simpleKey()
        var parts = 1
        while true {
            let save = (index, line, lineStart)
            whitespace()
            guard accept(".") else {
                (index, line, lineStart) = save
                return parts
            }
            whitespace()
            try simpleKey()
            parts += 1
            guard start + parts <= TOMLSyntax.maximumDepth else {
                throw problem("nested more than \(TOMLSyntax.maximumDepth) deep (the parts of dotted keys count)")
            }
        }
    }

    mutating func simpleKey() throws(TOMLSyntax.Problem) {
        switch current {
        case "\"":
            guard !matches("\"\"\"") else { throw problem("a key cannot be a multi-line string") }
            try basicString()
        case "'":
            guard !matches("'''") else { throw problem("a key cannot be a multi-line string") }
            try literalString()
        default:
            guard Self.isBareKey(current) else {
                throw problem("expected a key (letters, digits, '-', '_' or a quoted string), found \(found)")
            }
            while Self.isBareKey(current) { advance() }
        }
    }

    // MARK: Values

    mutating func value() throws(TOMLSyntax.Problem) {
        switch current {
        case "\"":
            if matches("\"\"\"") { try multilineBasicString() } else { try basicString() }
        case "'":
            if matches("'''") { try multilineLiteralString() } else { try literalString() }
        case "t":
            guard matches("true") else { throw problem("expected a value, found \(found)") }
            skip("true")
        case "f":
            guard matches("false") else { throw problem("expected a value, found \(found)") }
            skip("false")
        case "[":
            try array()
        case "{":
            try inlineTable()
        case "i", "n":
            try special()
        case "+", "-":
            if peek(1) == "i" || peek(1) == "n" {
                advance()
                try special()
            } else {
                try number()
            }
        default:
            guard Self.isDigit(current) else { throw problem("expected a value, found \(found)") }
            if Self.isDigit(peek(1)) && Self.isDigit(peek(2)) && Self.isDigit(peek(3)) && peek(4) == "-" {
                try dateTime()
            } else if Self.isDigit(peek(1)) && peek(2) == ":" {
                try time()
            } else {
                try number()
            }
        }
    }

    mutating func special() throws(TOMLSyntax.Problem) {
        guard matches("inf") || matches("nan") else { throw problem("expected a value, found \(found)") }
        skip("inf")
    }

    mutating func nested(_ body: (inout Scanner) throws(TOMLSyntax.Problem) -> Void) throws(TOMLSyntax.Problem) {
        depth += 1
        guard depth <= TOMLSyntax.maximumDepth else { throw problem("nested more than \(TOMLSyntax.maximumDepth) deep") }
        try body(&self)
        depth -= 1
    }

    /// Whitespace, comments and newlines inside an array.
    mutating func arraySpace() throws(TOMLSyntax.Problem) {
        while true {
            whitespace()
            try comment()
            guard try newline() else { return }
        }
    }

    mutating func array() throws(TOMLSyntax.Problem) {
        try nested { (scanner: inout Scanner) throws(TOMLSyntax.Problem) in
            scanner.advance()
            try scanner.arraySpace()
            if scanner.accept("]") { return }
            while true {
                try scanner.value()
                try scanner.arraySpace()
                if scanner.accept("]") { return }
                try scanner.expect(",", "',' or ']' in the array")
                try scanner.arraySpace()
                if scanner.accept("]") { return }
            }
        }
    }

    mutating func inlineTable() throws(TOMLSyntax.Problem) {
        try nested { (scanner: inout Scanner) throws(TOMLSyntax.Problem) in
            scanner.advance()
            scanner.whitespace()
            if scanner.accept("}") { return }
            while true {
                try scanner.keyValue()
                scanner.whitespace()
                if scanner.accept("}") { return }
                try scanner.expect(",", "',' or '}' in the inline table (which is on one line, without a trailing comma)")
                scanner.whitespace()
            }
        }
    }

    // MARK: Strings

    mutating func basicString() throws(TOMLSyntax.Problem) {
        advance()
        while true {
            guard let c = current else { throw problem("the string is not closed") }
            switch c {
            case "\"":
                advance()
                return
            case "\\":
                try escape(allowLineEnding: false)
            case "\n", "\r":
                throw problem("the string is not closed on its line (use \"\"\" for a multi-line string)")
            default:
                guard Self.isText(c) else { throw problem("\(found) is not allowed in a string (escape it)") }
                advance()
            }
        }
    }

    mutating func multilineBasicString() throws(TOMLSyntax.Problem) {
        skip("\"\"\"")
        _ = try newline()
        while true {
            guard let c = current else { throw problem("the multi-line string is not closed") }
            switch c {
            case "\"":
                if matches("\"\"\"") {
                    // Up to two quotes may end the content right before the closing three.
                    var quotes = 0
                    while current == "\"" && quotes < 5 {
                        advance()
                        quotes += 1
                    }
                    if current == "\"" { throw problem("too many quotes at the end of the multi-line string") }
                    return
                }
                advance()
            case "\\":
                try escape(allowLineEnding: true)
            case "\n":
                advance()
            case "\r":
                _ = try newline()
            default:
                guard Self.isText(c) else { throw problem("\(found) is not allowed in a string (escape it)") }
                advance()
            }
        }
    }

    mutating func escape(allowLineEnding: Bool) throws(TOMLSyntax.Problem) {
        advance()
        guard let c = current else { throw problem("the escape sequence is not finished") }
        switch c {
        case "\"", "\\", "b", "f", "n", "r", "t":
            advance()
        case "u", "U":
            advance()
            var value: UInt32 = 0
            for _ in 0..<(c == "u" ? 4 : 8) {
                guard Self.isHexDigit(current), let digit = current.flatMap({ UInt32(String($0), radix: 16) }) else {
                    throw problem("\\\(c) needs \(c == "u" ? 4 : 8) hexadecimal digits")
                }
                value = value << 4 | digit
                advance()
            }
            guard Unicode.Scalar(value) != nil else { throw problem("\\\(c) names no Unicode scalar value") }
        case " ", "\t", "\n", "\r":
            // A line-ending backslash (multi-line strings only): whitespace up to a newline,
            // then any whitespace and newlines.
            guard allowLineEnding else { throw problem("a backslash cannot end a line in a single-line string") }
            whitespace()
            guard try newline() else { throw problem("a backslash that ends a line must be followed only by whitespace") }
            while Self.isWhitespace(current) || current == "\n" || current == "\r" {
                if !(try newline()) { advance() }
            }
        default:
            throw problem("\\\(Character(c)) is not an escape sequence of TOML")
        }
    }

    mutating func literalString() throws(TOMLSyntax.Problem) {
        advance()
        while true {
            guard let c = current else { throw problem("the string is not closed") }
            if c == "'" {
                advance()
                return
            }
            if c == "\n" || c == "\r" { throw problem("the string is not closed on its line (use ''' for a multi-line string)") }
            guard Self.isText(c) else { throw problem("\(found) is not allowed in a literal string") }
            advance()
        }
    }

    mutating func multilineLiteralString() throws(TOMLSyntax.Problem) {
        skip("'''")
        _ = try newline()
        while true {
            guard let c = current else { throw problem("the multi-line string is not closed") }
            if matches("'''") {
                var quotes = 0
                while current == "'" && quotes < 5 {
                    advance()
                    quotes += 1
                }
                if current == "'" { throw problem("too many quotes at the end of the multi-line string") }
                return
            }
            if c == "\n" || c == "\r" {
                guard try newline() else { throw problem("unexpected \(found)") }
                continue
            }
            guard Self.isText(c) else { throw problem("\(found) is not allowed in a literal string") }
            advance()
        }
    }

    // MARK: Numbers, dates and times

    /// DIGIT *( DIGIT / "_" DIGIT ), with `allowed` digits.
    mutating func digits(_ allowed: (Unicode.Scalar?) -> Bool, _ what: String) throws(TOMLSyntax.Problem) {
        guard allowed(current) else { throw problem("expected \(what), found \(found)") }
        advance()
        while true {
            if allowed(current) {
                advance()
            } else if current == "_" {
                advance()
                guard allowed(current) else { throw problem("an underscore in a number must be between two digits") }
            } else {
                return
            }
        }
    }

    mutating func number() throws(TOMLSyntax.Problem) {
        let signed = accept("+") || accept("-")
        if current == "0", !signed, let radix = peek(1), radix == "x" || radix == "o" || radix == "b" {
            advance()
            advance()
            switch radix {
            case "x": try digits(Self.isHexDigit, "a hexadecimal digit")
            case "o": try digits({ $0.map { ("0"..."7").contains($0) } ?? false }, "an octal digit")
            default: try digits({ $0 == "0" || $0 == "1" }, "a binary digit")
            }
            return
        }
        if current == "0" {
            advance()
            guard !Self.isDigit(current) && current != "_" else { throw problem("a number other than 0 cannot start with 0") }
        } else {
            try digits(Self.isDigit, "a digit")
        }
        if accept(".") { try digits(Self.isDigit, "a digit after the decimal point") }
        if current == "e" || current == "E" {
            advance()
            _ = accept("+") || accept("-")
            try digits(Self.isDigit, "a digit in the exponent")
        }
    }

    mutating func fixedDigits(_ count: Int, _ what: String) throws(TOMLSyntax.Problem) {
        for _ in 0..<count {
            guard Self.isDigit(current) else { throw problem("expected \(what), found \(found)") }
            advance()
        }
    }

    mutating func dateTime() throws(TOMLSyntax.Problem) {
        try fixedDigits(4, "a four-digit year")
        try expect("-", "'-' in the date")
        try fixedDigits(2, "a two-digit month")
        try expect("-", "'-' in the date")
        try fixedDigits(2, "a two-digit day")
        // A time follows after T, t or a space followed by a digit.
        if current == "T" || current == "t" || (current == " " && Self.isDigit(peek(1))) {
            advance()
            try time()
            if accept("Z") || accept("z") { return }
            if current == "+" || current == "-" {
                advance()
                try fixedDigits(2, "the hours of the offset")
                try expect(":", "':' in the offset")
                try fixedDigits(2, "the minutes of the offset")
            }
        }
    }

    mutating func time() throws(TOMLSyntax.Problem) {
        try fixedDigits(2, "two-digit hours")
        try expect(":", "':' in the time")
        try fixedDigits(2, "two-digit minutes")
        try expect(":", "':' in the time")
        try fixedDigits(2, "two-digit seconds")
        if accept(".") {
            guard Self.isDigit(current) else { throw problem("expected a digit of the fraction of a second, found \(found)") }
            while Self.isDigit(current) { advance() }
        }
    }
}
