/// An element inside the agent's metadata that this version does not know, kept so that
/// rewriting the metadata does not drop what a newer agent wrote.
///
/// Kept: the local name, the namespace, unprefixed attributes, text and child elements.
/// Dropped: prefixed attributes, comments, and text beside child elements. An element whose
/// name is not an ASCII XML name is not kept.
public struct MetadataElement: Codable, Sendable, Equatable {
    /// The local name.
    public var name: String
    /// The namespace URI; "" means the agent's own namespace (where libvirt's
    /// `virDomainGetMetadata` strips it).
    public var namespaceURI: String
    /// Unprefixed attributes.
    public var attributes: [String: String]
    /// The element's own text, whitespace-trimmed when it has children.
    public var text: String
    /// Child elements in document order.
    public var children: [MetadataElement]

    /// An element; names are checked when it is rendered.
    public init(
        name: String, namespaceURI: String = "", attributes: [String: String] = [:], text: String = "",
        children: [MetadataElement] = []
    ) {
        self.name = name
        self.namespaceURI = namespaceURI
        self.attributes = attributes
        self.text = text
        self.children = children
    }

    enum CodingKeys: String, CodingKey {
        case name
        case namespaceURI = "namespace_uri"
        case attributes, text, children
    }

    /// The kept part of a parsed element, or nil when its name cannot be written back.
    init?(_ element: ParsedXMLElement, agentNamespace: String) {
        guard XMLWriter.Name(validating: element.name) != nil else { return nil }
        name = element.name
        namespaceURI = element.namespaceURI == agentNamespace ? "" : element.namespaceURI
        attributes = element.attributes.filter { !$0.key.contains(":") && XMLWriter.Name(validating: $0.key) != nil }
        children = element.children.compactMap { MetadataElement($0, agentNamespace: agentNamespace) }
        text = children.isEmpty ? element.text : element.trimmedText
    }

    /// Writes the element: in the agent's namespace with `agentPrefix` (or unprefixed when nil),
    /// otherwise with a namespace declaration of its own. Does nothing when a name is invalid.
    func write(to writer: inout XMLWriter, agentPrefix: XMLWriter.Name?) {
        guard let local = XMLWriter.Name(validating: name), !name.contains(":") else { return }
        let elementName = XMLWriter.Name(prefix: namespaceURI.isEmpty ? agentPrefix : "ext", local: local)
        var attributeList: [XMLWriter.Attribute] = []
        if !namespaceURI.isEmpty { attributeList.append((name: "xmlns:ext", value: namespaceURI)) }
        for key in attributes.keys.sorted() {
            if let attributeName = XMLWriter.Name(validating: key), !key.contains(":") {
                attributeList.append((name: attributeName, value: attributes[key]))
            }
        }
        if children.isEmpty {
            writer.element(elementName, attributeList, text: text)
        } else {
            writer.element(elementName, attributeList) { inner in
                for child in children { child.write(to: &inner, agentPrefix: agentPrefix) }
            }
        }
    }
}
