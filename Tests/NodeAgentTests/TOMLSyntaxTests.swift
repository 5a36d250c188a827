import Foundation
import Probes
import SafeTOML
import TOMLKit
import TestSupport
import Testing

/// The syntax check in front of toml++ (issue 11: a burn-in profile of one malformed line
/// aborted the agent on an assertion inside toml++).
@Suite("TOML syntax check")
struct TOMLSyntaxTests {
    /// Every construct of TOML 1.0, accepted, and parsed by TOMLKit afterwards.
    static let everything = #"""
        # a comment with "quotes", tabs	and ünïcode
        title = "TOML \"example\" \u00e9 \U0001F600" # trailing comment
        literal = 'C:\Users\nodeagent'
        multi = """
        one \
          two
        three ""quoted"" """
        multiLiteral = '''
        raw \n ''stays'' '''
        "quoted key" = 1
        'literal key' = 2
        "" = 3
        dotted.key . here = true
        ints = [ +99, 42, 0, -17, 1_000, 0xDEAD_beef, 0o755, 0b1101 ]
        floats = [ 1.0, 3.1415, -0.01, 5e+22, 1e06, -2E-2, 6.626e-34, 224_617.445_991, inf, +inf, -nan, nan ]
        dates = [ 1979-05-27T07:32:00Z, 1979-05-27T00:32:00.999999-07:00, 1979-05-27 07:32:00, 1979-05-27, 07:32:00.5 ]
        nested = [ [ 1, 2 ], [ "a", 'b' ], [ { x = 1 }, { y = [ 2 ] } ], ]
        multiline = [
          1, # one
          2,

          3,
        ]
        inline = { a = 1, b.c = "two", d = { e = [] } }
        empty = {}

        [table . "sub"]
        key = false

        [[fleet]]
        name = "a"
        [[fleet]]
        name = "b"
        """#

    @Test func everyConstructOfTOML1IsAcceptedAndParses() throws {
        try TOMLSyntax.check(Self.everything)
        let table = try SafeTOML.table(Self.everything)
        #expect(table["title"]?.string == "TOML \"example\" é 😀")
        #expect(table["multi"]?.string == "one two\nthree \"\"quoted\"\" ")
        #expect(table["fleet"]?.array?.count == 2)
        try TOMLSyntax.check("")
        try TOMLSyntax.check("\u{FEFF}a = 1\r\nb = 2\r\n")
    }

    /// The built-in burn-in profiles and the configuration example of the docs pass.
    @Test func theProjectsOwnTOMLPasses() throws {
        for (name, text) in BurnInProfile.builtIn { #expect(throws: Never.self, "\(name)") { try TOMLSyntax.check(text) } }
        let doc = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/CONFIGURATION.md"), encoding: .utf8)
        let example = try #require(doc.components(separatedBy: "```toml\n").dropFirst().first?.components(separatedBy: "```").first)
        try TOMLSyntax.check(example)
    }

    /// What made toml++ abort (found by scripts/reliability/fuzz.py), and more of the same
    /// kind: refused with line, column and reason, before toml++ sees it.
    @Test(arguments: [
        ("[\n", 1, 2, "expected a key"), ("[}", 1, 2, "expected a key"), ("[.a]", 1, 2, "expected a key"),
        ("[[=", 1, 3, "expected a key"), ("[,", 1, 2, "expected a key"), ("[#", 1, 2, "expected a key"),
        ("a = [}", 1, 6, "expected a value"), ("a = {,}", 1, 6, "expected a key"), ("a = { b = 1, }", 1, 14, "expected a key"),
        ("a.", 1, 3, "expected a key"), ("a = 1\nb = [1,,2]", 2, 8, "expected a value"), ("x = \"abc", 1, 9, "not closed"),
        ("x = 0x", 1, 7, "hexadecimal"), ("x = 1__0", 1, 7, "underscore"), ("x = 01", 1, 6, "cannot start with 0"),
        ("x = 1979-05-27T07:3", 1, 20, "two-digit minutes"), ("x = \"\\q\"", 1, 7, "not an escape sequence"),
        ("x = \"\u{7}\"", 1, 6, "control character"), ("x = 1 2", 1, 7, "end of the line"), ("x = \"\"\"abc", 1, 11, "not closed"),
        ("[a]]", 1, 4, "end of the line"), ("x = tru", 1, 5, "expected a value"), ("= 1", 1, 1, "expected a key"),
        ("x = \"a\" \r", 1, 9, "carriage return"),
    ])
    func malformedTextIsRefusedWhereItGoesWrong(text: String, line: Int, column: Int, reason: String) {
        #expect {
            try TOMLSyntax.check(text)
        } throws: { error in
            guard let problem = error as? TOMLSyntax.Problem else { return false }
            return problem.line == line && problem.column == column && problem.reason.contains(reason)
        }
    }

    @Test func deepNestingIsRefusedNotRecursedInto() {
        let deep = "a = " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: TOMLSyntax.Problem.self) { try TOMLSyntax.check(deep) }
        #expect(throws: Never.self) { try TOMLSyntax.check("a = " + String(repeating: "[", count: 10) + String(repeating: "]", count: 10)) }
        // Dotted keys are depth too: a header 30,000 parts deep crashed the agent (stack).
        let parts = Array(repeating: "a", count: 30_000).joined(separator: ".")
        for text in ["[\(parts)]", "[[\(parts)]]", "\(parts) = 1", "x = { \(parts) = 1 }", "[\(parts.prefix(99))]\n\(parts.prefix(39)) = 1"] {
            #expect(throws: TOMLSyntax.Problem.self) { try TOMLSyntax.check(text) }
        }
        #expect(throws: Never.self) { try TOMLSyntax.check("[a.b.c]\nd.e = { f.g = [ { h = 1 } ] }\n") }
    }

    /// Random mutations of valid documents (a fixed seed, then a random one that is printed):
    /// whatever the check accepts, toml++ parses without aborting (its errors are fine), and
    /// the mutations that made toml++ abort in the fuzzer are refused by the check.
    @Test(arguments: [UInt64(20_261_207), UInt64.random(in: 1...UInt64(UInt32.max))])
    func whatTheCheckAcceptsTomlPlusPlusParsesWithoutAborting(seed: UInt64) {
        print("[toml] mutation seed \(seed)")
        var random = SeededRandom(seed)
        let corpus = [Self.everything] + BurnInProfile.builtIn.map(\.value)
        let alphabet = Array("[]{}.,=#\"'\\\n \t+-_:0123456789abcdefxoeEinfTtZ".unicodeScalars)
        var accepted = 0
        for _ in 0..<4000 {
            var scalars = Array(corpus[Int(random.next() % UInt64(corpus.count))].unicodeScalars)
            for _ in 0..<(1 + random.next() % 4) where !scalars.isEmpty {
                let at = Int(random.next() % UInt64(scalars.count))
                switch random.next() % 3 {
                case 0: scalars.remove(at: at)
                case 1: scalars.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: at)
                default: scalars[at] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                }
            }
            var text = ""
            text.unicodeScalars.append(contentsOf: scalars)
            guard (try? TOMLSyntax.check(text)) != nil else { continue }
            accepted += 1
            _ = try? TOMLTable(string: text)  // aborts the test process if toml++ asserts
        }
        #expect(accepted > 100, "the mutations exercised toml++ (\(accepted) accepted)")
    }
}

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
