public import Foundation

/// What the agent records about a guest inside the guest's own libvirt domain XML, so that the
/// agent can lose its database and still adopt its guests.
///
/// It lives in `<metadata>` as one element in the agent's namespace:
/// ```xml
/// <nodeagent:guest xmlns:nodeagent='https://nodeagent.dev/xmlns/guest/1'>
///   <nodeagent:owner>controller</nodeagent:owner>
///   <nodeagent:protected>true</nodeagent:protected>
///   <nodeagent:spec_version>1</nodeagent:spec_version>
///   <nodeagent:created>2025-01-01T00:00:00Z</nodeagent:created>
///   <nodeagent:labels>
///     <nodeagent:label key='team'>storage</nodeagent:label>
///   </nodeagent:labels>
/// </nodeagent:guest>
/// ```
/// Parsing goes by namespace URI and local name, never by prefix: it accepts any prefix, a
/// default namespace, and the namespace-less copy that `virDomainGetMetadata` returns.
public struct GuestMetadata: Codable, Sendable, Equatable {
    /// The agent's XML namespace.
    public static let namespaceURI = "https://nodeagent.dev/xmlns/guest/1"
    /// The prefix the agent writes, and the `key` to pass to `virDomainSetMetadata`.
    public static let namespacePrefix = "nodeagent"
    /// The local name of the agent's element.
    public static let elementName = "guest"
    /// The spec format version this agent writes.
    public static let currentSpecVersion = 1

    /// Who owns the guest (a controller or tenant identity): 1...256 characters, no control
    /// characters, no leading or trailing whitespace.
    public var owner: String
    /// Whether the guest is protected against removal.
    public var protected: Bool
    /// The spec format version the guest was defined with; at least 1.
    public var specVersion: Int
    /// Owner labels; same rules as ``GuestSpec/labels``.
    public var labels: [String: String]
    /// When the guest was defined, as an ISO 8601 date-time (`2025-01-01T00:00:00Z`).
    public var created: String?
    /// Elements this version does not know, kept to be written back unchanged.
    public var unknownElements: [MetadataElement]

    /// Metadata with the given fields.
    public init(
        owner: String, protected: Bool = false, specVersion: Int = GuestMetadata.currentSpecVersion,
        labels: [String: String] = [:], created: String? = nil, unknownElements: [MetadataElement] = []
    ) {
        self.owner = owner
        self.protected = protected
        self.specVersion = specVersion
        self.labels = labels
        self.created = created
        self.unknownElements = unknownElements
    }

    /// Metadata created at `date`, written in UTC to the second.
    public init(owner: String, protected: Bool = false, labels: [String: String] = [:], createdAt date: Date) {
        self.init(owner: owner, protected: protected, labels: labels, created: date.formatted(.iso8601))
    }

    /// ``created`` as a date, or nil when absent or not ISO 8601.
    public var createdDate: Date? { created.flatMap(Self.parseDate) }

    static func parseDate(_ text: String) -> Date? {
        (try? Date(text, strategy: .iso8601))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    }

    // MARK: Validation

    /// Checks the fields; problems name `metadata.owner`, `metadata.labels["k"]`, ...
    public func validate() throws(GuestSpecError) {
        var check = GuestSpecValidator()
        collectProblems(into: &check)
        try check.finish()
    }

    func collectProblems(into check: inout GuestSpecValidator) {
        check.text(
            owner, field: "metadata.owner", maxLength: GuestSpecValidator.maxOwnerLength, allowEmpty: false,
            trimmed: true, what: "owner")
        if specVersion < 1 {
            check.add("metadata.spec_version", String(specVersion), .outOfRange, "must be at least 1")
        }
        if let created, created.utf8.count > 64 || Self.parseDate(created) == nil {
            check.add(
                "metadata.created", created, .invalidValue, "must be an ISO 8601 date-time like 2025-01-01T00:00:00Z")
        }
        check.labels(labels, field: "metadata.labels")
    }

    // MARK: Rendering

    /// The element, validated, in the form `virDomainSetMetadata` needs: unprefixed and without
    /// a namespace declaration (`<guest><owner>...</owner>...</guest>`). Pass it with
    /// `key: namespacePrefix, uri: namespaceURI`; libvirt then puts the element and every
    /// descendant without a namespace into the agent's namespace under the prefix `key`.
    /// (Given an element that itself declares the `key` prefix, libvirt fails with "failed to
    /// create a new XML namespace".) This is also the shape `virDomainGetMetadata` returns.
    public func xmlElement() throws(GuestSpecError) -> String {
        try validate()
        var writer = XMLWriter()
        write(to: &writer, prefixed: false)
        return writer.text
    }

    /// The element, validated, with the `nodeagent` prefix and its namespace declaration, as
    /// it appears inside a domain's `<metadata>`.
    public func namespacedXMLElement() throws(GuestSpecError) -> String {
        try validate()
        var writer = XMLWriter()
        write(to: &writer, prefixed: true)
        return writer.text
    }

    /// Writes the element; the caller has validated it.
    func write(to writer: inout XMLWriter, prefixed: Bool) {
        let prefix: XMLWriter.Name? = prefixed ? "nodeagent" : nil
        var declaration: [XMLWriter.Attribute] = []
        if prefixed { declaration.append((name: "xmlns:nodeagent", value: Self.namespaceURI)) }
        writer.element(XMLWriter.Name(prefix: prefix, local: "guest"), declaration) { xml in
            xml.element(XMLWriter.Name(prefix: prefix, local: "owner"), text: owner)
            xml.element(XMLWriter.Name(prefix: prefix, local: "protected"), text: protected ? "true" : "false")
            xml.element(XMLWriter.Name(prefix: prefix, local: "spec_version"), text: String(specVersion))
            if let created { xml.element(XMLWriter.Name(prefix: prefix, local: "created"), text: created) }
            if !labels.isEmpty {
                xml.element(XMLWriter.Name(prefix: prefix, local: "labels")) { list in
                    for key in labels.keys.sorted() {
                        list.element(
                            XMLWriter.Name(prefix: prefix, local: "label"), [(name: "key", value: key)],
                            text: labels[key] ?? "")
                    }
                }
            }
            for element in unknownElements { element.write(to: &xml, agentPrefix: prefix) }
        }
    }

    // MARK: Parsing

    /// Parses the agent's element as libvirt returns it: from `virDomainGetMetadata` (no
    /// namespace at all), or from a domain's `<metadata>` with any prefix or a default
    /// namespace, with any whitespace. A missing or malformed field throws; unknown child
    /// elements are kept in ``unknownElements``.
    public init(xmlElement: String) throws(GuestSpecError) {
        let root = try ParsedXMLElement.parse(xmlElement, field: "metadata")
        guard root.name == Self.elementName, root.namespaceURI == Self.namespaceURI || root.namespaceURI.isEmpty else {
            throw GuestSpecError(
                field: "metadata",
                rawValue: root.namespaceURI.isEmpty ? root.name : "{\(root.namespaceURI)}\(root.name)",
                code: .malformedXML, reason: "expected the element <guest> in namespace \(Self.namespaceURI)")
        }
        try self.init(parsed: root)
    }

    /// Reads the fields of a `guest` element already known to be the agent's.
    init(parsed root: ParsedXMLElement) throws(GuestSpecError) {
        var check = GuestSpecValidator()
        var fields: [String: ParsedXMLElement] = [:]
        var unknown: [MetadataElement] = []
        let known: Set = ["owner", "protected", "spec_version", "created", "labels"]
        for child in root.children {
            let ours = child.namespaceURI == Self.namespaceURI || child.namespaceURI.isEmpty
            if ours, known.contains(child.name) {
                if fields[child.name] != nil {
                    check.add(
                        "metadata.\(child.name)", nil, .duplicate, "element <\(child.name)> appears more than once")
                }
                fields[child.name] = child
            } else if let kept = MetadataElement(child, agentNamespace: Self.namespaceURI) {
                unknown.append(kept)
            }
        }
        let owner = Self.required("owner", in: fields, &check)?.trimmedText ?? ""
        if fields["owner"] != nil, owner.isEmpty { check.add("metadata.owner", nil, .missing, "owner is empty") }
        var protected = false
        if let text = Self.required("protected", in: fields, &check)?.trimmedText {
            switch text {
            case "true", "1": protected = true
            case "false", "0": protected = false
            default: check.add("metadata.protected", text, .invalidValue, "must be true or false")
            }
        }
        var specVersion = 0
        if let text = Self.required("spec_version", in: fields, &check)?.trimmedText {
            if let value = Int(text), value >= 1 {
                specVersion = value
            } else {
                check.add("metadata.spec_version", text, .invalidValue, "must be a whole number of at least 1")
            }
        }
        let created = fields["created"]?.trimmedText
        if let created, Self.parseDate(created) == nil {
            check.add("metadata.created", created, .invalidValue, "must be an ISO 8601 date-time")
        }
        let labels = Self.labels(fields["labels"], &check)
        try check.finish()
        self.init(
            owner: owner, protected: protected, specVersion: specVersion, labels: labels, created: created,
            unknownElements: unknown)
    }

    private static func required(
        _ name: String, in fields: [String: ParsedXMLElement], _ check: inout GuestSpecValidator
    ) -> ParsedXMLElement? {
        if let element = fields[name] { return element }
        check.add("metadata.\(name)", nil, .missing, "element <\(name)> is missing")
        return nil
    }

    private static func labels(_ element: ParsedXMLElement?, _ check: inout GuestSpecValidator) -> [String: String] {
        guard let element else { return [:] }
        var labels: [String: String] = [:]
        let entries = element.children.filter {
            $0.name == "label" && ($0.namespaceURI == namespaceURI || $0.namespaceURI.isEmpty)
        }
        for (index, entry) in entries.enumerated() {
            guard let key = entry.attributes["key"] else {
                check.add("metadata.labels[\(index)].key", nil, .missing, "label has no key attribute")
                continue
            }
            if labels[key] != nil {
                check.add("metadata.labels[\(index)].key", key, .duplicate, "label key appears more than once")
            }
            labels[key] = entry.text
        }
        return labels
    }

    // MARK: Codable

    enum CodingKeys: String, CodingKey, CaseIterable {
        case owner, protected
        case specVersion = "spec_version"
        case labels, created
        case unknownElements = "unknown_elements"
    }

    /// Decodes `owner` and `protected` (required), `spec_version` (default: current), `labels`,
    /// `created` and `unknown_elements` (optional). Unknown keys are refused.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        owner = try container.decode(String.self, forKey: .owner)
        protected = try container.decode(Bool.self, forKey: .protected)
        specVersion = try container.decodeIfPresent(Int.self, forKey: .specVersion) ?? Self.currentSpecVersion
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        created = try container.decodeIfPresent(String.self, forKey: .created)
        unknownElements = try container.decodeIfPresent([MetadataElement].self, forKey: .unknownElements) ?? []
    }
}
