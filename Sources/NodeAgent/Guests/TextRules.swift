/// Character-level rules shared by the spec, the metadata and the XML writer.
enum TextRules {
    /// Whether a scalar is a C0 or C1 control character, DEL, or a character XML 1.0 cannot carry
    /// at all (U+FFFE, U+FFFF). Tab, LF and CR count as control characters here: no spec field
    /// may contain them.
    static func isControlOrUnrepresentable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0xFFFE, 0xFFFF: true
        default: false
        }
    }

    /// Whether XML 1.0 allows the scalar in a document:
    /// `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`.
    static func isXMLCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    /// `[A-Za-z0-9]`
    static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    /// `[A-Za-z0-9._-]`, the alphabet of guest, pool, volume, network and bridge names.
    static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        isAlphanumeric(scalar) || scalar == "." || scalar == "_" || scalar == "-"
    }

    /// Whether `text` is printable ASCII only (0x20...0x7E).
    static func isPrintableASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { (0x20...0x7E).contains($0) }
    }
}
