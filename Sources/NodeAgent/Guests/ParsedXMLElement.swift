import Foundation
import FoundationXML

/// A namespace-aware element tree read with FoundationXML's `XMLParser` (libxml2).
///
/// Elements are known by their namespace URI and local name, never by their prefix, so
/// `<nodeagent:guest xmlns:nodeagent=U>`, `<x:guest xmlns:x=U>` and `<guest xmlns=U>` are the
/// same element. Comments and processing instructions are dropped; CDATA counts as text.
/// Documents with a DOCTYPE are refused (libvirt never writes one; it is the door to entity
/// expansion attacks).
struct ParsedXMLElement: Sendable, Equatable {
    /// The local name (`guest` for `nodeagent:guest`).
    var name: String
    /// The namespace URI; "" when the element is in no namespace.
    var namespaceURI: String
    /// Attributes by their name as written (unprefixed attributes are in no namespace).
    var attributes: [String: String]
    /// Child elements in document order.
    var children: [ParsedXMLElement]
    /// The element's own character data (not its children's), concatenated.
    var text: String

    /// The children named `name` (any namespace, or exactly `namespaceURI` when given).
    func children(named name: String, namespaceURI: String? = nil) -> [ParsedXMLElement] {
        children.filter { $0.name == name && (namespaceURI == nil || $0.namespaceURI == namespaceURI) }
    }

    /// The first child named `name`.
    func child(_ name: String, namespaceURI: String? = nil) -> ParsedXMLElement? {
        children.first { $0.name == name && (namespaceURI == nil || $0.namespaceURI == namespaceURI) }
    }

    /// Text with leading and trailing whitespace removed.
    var trimmedText: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Parses a document (or one element) and returns its root element. `field` names the
    /// document in errors.
    static func parse(_ xml: String, field: String) throws(GuestSpecError) -> ParsedXMLElement {
        if xml.contains("<!DOCTYPE") {
            throw GuestSpecError(field: field, rawValue: nil, code: .malformedXML, reason: "DOCTYPE is not allowed")
        }
        let parser = XMLParser(data: Data(xml.utf8))
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        let builder = TreeBuilder()
        parser.delegate = builder
        let finished = parser.parse()
        // XMLParser can return true and still record an error (seen with truncated documents).
        if !finished || parser.parserError != nil || builder.root == nil || !builder.stack.isEmpty {
            let location = "line \(parser.lineNumber), column \(parser.columnNumber)"
            let detail = (parser.parserError as NSError?).map { "XML parser error \($0.code)" } ?? "incomplete document"
            throw GuestSpecError(
                field: field, rawValue: nil, code: .malformedXML,
                reason: "not well-formed XML (\(detail) at \(location))")
        }
        return builder.root!
    }
}

/// Builds the tree from XMLParser's callbacks; used on one thread for one parse.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack: [ParsedXMLElement] = []
    var root: ParsedXMLElement?

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
        attributes attributeDict: [String: String] = [:]
    ) {
        stack.append(
            ParsedXMLElement(
                name: elementName, namespaceURI: namespaceURI ?? "", attributes: attributeDict, children: [], text: ""))
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
    ) {
        guard let element = stack.popLast() else { return }
        if stack.isEmpty {
            root = element
        } else {
            stack[stack.count - 1].children.append(element)
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
    }
}
