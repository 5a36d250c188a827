import Foundation
import Testing

@testable import NodeAgent

/// The agent's metadata element: rendering, parsing every shape libvirt returns, errors, and
/// the round trip through libvirt.
@Suite struct GuestSpecMetadataTests {
    static let uri = GuestMetadata.namespaceURI

    /// The metadata of the `escaped-labels` golden, labels merged from its spec.
    static func escapedMetadata() throws -> GuestMetadata {
        var metadata = GuestSpecFixtures.goldenMetadata("escaped-labels")
        metadata.labels = try GuestSpecFixtures.goldenSpec("escaped-labels").labels
        return metadata
    }

    @Test func namespaceConstantsAreTheDocumentedOnes() {
        #expect(GuestMetadata.namespaceURI == "https://nodeagent.dev/xmlns/guest/1")
        #expect(GuestMetadata.namespacePrefix == "nodeagent")
        #expect(GuestMetadata.currentSpecVersion == 1)
    }

    // MARK: Rendering

    @Test func namespacedElementDeclaresThePrefixAndEscapesValues() throws {
        let metadata = GuestMetadata(
            owner: "a<b", protected: true, labels: ["k": "v&w"], created: "2025-01-01T00:00:00Z")
        #expect(
            try metadata.namespacedXMLElement() == """
                <nodeagent:guest xmlns:nodeagent='https://nodeagent.dev/xmlns/guest/1'>
                  <nodeagent:owner>a&lt;b</nodeagent:owner>
                  <nodeagent:protected>true</nodeagent:protected>
                  <nodeagent:spec_version>1</nodeagent:spec_version>
                  <nodeagent:created>2025-01-01T00:00:00Z</nodeagent:created>
                  <nodeagent:labels>
                    <nodeagent:label key='k'>v&amp;w</nodeagent:label>
                  </nodeagent:labels>
                </nodeagent:guest>

                """)
    }

    /// The `virDomainSetMetadata` form: no prefix, no namespace declaration.
    @Test func setMetadataElementMatchesGoldenFile() throws {
        let element = try Self.escapedMetadata().xmlElement()
        #expect(!element.contains("xmlns"))
        #expect(element.hasPrefix("<guest>\n  <owner>team &lt;a&amp;b&gt;"))
        let url = "golden/escaped-labels.setmetadata.xml"
        if GuestSpecFixtures.updateGolden {
            try element.write(
                to: GuestSpecFixtures.sourceDirectory.appendingPathComponent(url), atomically: true, encoding: .utf8)
        } else {
            #expect(element == (try GuestSpecFixtures.text(url)))
        }
    }

    @Test func createdAtDateIsWrittenInUTCToTheSecond() {
        let metadata = GuestMetadata(owner: "o", createdAt: Date(timeIntervalSince1970: 1_735_689_600.75))
        #expect(metadata.created == "2025-01-01T00:00:00Z")
        #expect(metadata.createdDate == Date(timeIntervalSince1970: 1_735_689_600))
    }

    @Test func renderingRefusesInvalidFields() throws {
        let metadata = GuestMetadata(owner: " ", specVersion: 0, labels: ["Bad Key": "v"], created: "yesterday")
        let error = #expect(throws: GuestSpecError.self) { try metadata.xmlElement() }
        #expect(error?.problem(at: "metadata.owner")?.code == .invalidValue)
        #expect(error?.problem(at: "metadata.spec_version")?.code == .outOfRange)
        #expect(error?.problem(at: "metadata.labels[\"Bad Key\"]")?.code == .invalidCharacters)
        #expect(error?.problem(at: "metadata.created")?.code == .invalidValue)
    }

    @Test func emptyOwnerIsRefused() {
        let error = #expect(throws: GuestSpecError.self) { try GuestMetadata(owner: "").validate() }
        #expect(error?.problem(at: "metadata.owner")?.code == .missing)
    }

    // MARK: Parsing the shapes libvirt returns (captured in Fixtures/domainxml)

    @Test(arguments: ["minimal-kernel", "disk-boot", "all-tunables", "escaped-labels"])
    func getMetadataOutputParsesToWhatWasRendered(name: String) throws {
        let captured = try GuestSpecFixtures.text("domainxml/\(name).metadata.xml")
        #expect(!captured.contains("xmlns"), "virDomainGetMetadata strips the namespace")
        var expected = GuestSpecFixtures.goldenMetadata(name)
        expected.labels = try GuestSpecFixtures.goldenSpec(name).labels
        #expect(try GuestMetadata(xmlElement: captured) == expected)
    }

    @Test func metadataSetThroughTheAPIReadsBackEqual() throws {
        let expected = try Self.escapedMetadata()
        #expect(
            try GuestMetadata(xmlElement: GuestSpecFixtures.text("domainxml/set-metadata.metadata.xml")) == expected)
        let description = try GuestDescription(xml: GuestSpecFixtures.text("domainxml/set-metadata.dumpxml.xml"))
        #expect(description.agentMetadata == .present(expected))
    }

    @Test(arguments: ["other-prefix", "default-namespace"])
    func anyPrefixOrDefaultNamespaceIsTheSameElement(variant: String) throws {
        let dump = try GuestSpecFixtures.text("domainxml/\(variant).dumpxml.xml")
        var expected = GuestSpecFixtures.goldenMetadata("disk-boot")
        expected.labels = ["team": "storage"]
        #expect(try GuestDescription(xml: dump).agentMetadata == .present(expected))
        let returned = try GuestSpecFixtures.text("domainxml/\(variant).metadata.xml")
        #expect(try GuestMetadata(xmlElement: returned) == expected)
    }

    @Test func unknownElementsAreKeptAndWrittenBack() throws {
        let metadata = try GuestMetadata(xmlElement: GuestSpecFixtures.text("domainxml/future-fields.metadata.xml"))
        #expect(metadata.owner == "controller-2")
        #expect(metadata.protected)
        #expect(metadata.specVersion == 2)
        #expect(metadata.labels == ["env": "prod"])
        #expect(
            metadata.unknownElements == [
                MetadataElement(
                    name: "placement", attributes: ["rack": "r7", "zone": "z1"],
                    children: [MetadataElement(name: "host", text: "hv-12")]),
                MetadataElement(
                    name: "audit", namespaceURI: "urn:example:audit", attributes: ["by": "ops"], text: "ticket-42"),
            ])
        let reparsed = try GuestMetadata(xmlElement: metadata.namespacedXMLElement())
        #expect(reparsed == metadata)
        let reparsedBare = try GuestMetadata(xmlElement: metadata.xmlElement())
        #expect(reparsedBare == metadata)
    }

    @Test func unknownElementsCannotInjectMarkup() throws {
        let metadata = GuestMetadata(
            owner: "o",
            unknownElements: [
                MetadataElement(name: "bad><x", text: "dropped"),
                MetadataElement(
                    name: "ok", namespaceURI: "urn:'x'&", attributes: ["a b": "dropped", "k": "<v>"], text: "<t>"),
            ])
        let xml = try metadata.namespacedXMLElement()
        #expect(!xml.contains("dropped"))
        #expect(xml.contains("<ext:ok xmlns:ext='urn:&apos;x&apos;&amp;' k='&lt;v&gt;'>&lt;t&gt;</ext:ok>"))
        let reparsed = try GuestMetadata(xmlElement: xml)
        #expect(
            reparsed.unknownElements == [
                MetadataElement(name: "ok", namespaceURI: "urn:'x'&", attributes: ["k": "<v>"], text: "<t>")
            ])
    }

    @Test func foreignNamespaceSiblingIsNotTakenForOurs() throws {
        let description = try GuestDescription(xml: GuestSpecFixtures.text("domainxml/future-fields.dumpxml.xml"))
        #expect(description.metadata?.owner == "controller-2")
    }

    // MARK: Malformed elements are errors, not defaults

    static func element(_ body: String) -> String {
        "<guest xmlns='\(GuestSpecMetadataTests.uri)'>\(body)</guest>"
    }

    static let required = "<owner>o</owner><protected>false</protected><spec_version>1</spec_version>"

    @Test func minimalElementParses() throws {
        #expect(try GuestMetadata(xmlElement: Self.element(Self.required)) == GuestMetadata(owner: "o"))
    }

    @Test func protectedFlagThatIsNotABooleanIsAnError() throws {
        let dump = try GuestSpecFixtures.text("domainxml/malformed-protected.dumpxml.xml")
        let description = try GuestDescription(xml: dump)
        guard case .malformed(let error) = description.agentMetadata else {
            Issue.record("expected malformed metadata, got \(description.agentMetadata)")
            return
        }
        #expect(error.problem(at: "metadata.protected")?.value == "\"yes\"")
        #expect(error.problem(at: "metadata.spec_version")?.code == .missing)
        #expect(description.metadata == nil)
    }

    @Test(arguments: [
        ("<protected>false</protected><spec_version>1</spec_version>", "metadata.owner", GuestSpecError.Code.missing),
        ("<owner>o</owner><spec_version>1</spec_version>", "metadata.protected", .missing),
        ("<owner>o</owner><protected>false</protected>", "metadata.spec_version", .missing),
        (
            "<owner>o</owner><protected>false</protected><spec_version>x</spec_version>", "metadata.spec_version",
            .invalidValue
        ),
        (
            "<owner>o</owner><protected>false</protected><spec_version>0</spec_version>", "metadata.spec_version",
            .invalidValue
        ),
        ("<owner></owner><protected>false</protected><spec_version>1</spec_version>", "metadata.owner", .missing),
        (GuestSpecMetadataTests.required + "<owner>p</owner>", "metadata.owner", .duplicate),
        (GuestSpecMetadataTests.required + "<created>last tuesday</created>", "metadata.created", .invalidValue),
        (GuestSpecMetadataTests.required + "<labels><label>v</label></labels>", "metadata.labels[0].key", .missing),
        (
            GuestSpecMetadataTests.required + "<labels><label key='a'>1</label><label key='a'>2</label></labels>",
            "metadata.labels[1].key", .duplicate
        ),
    ])
    func malformedFieldIsReported(body: String, field: String, code: GuestSpecError.Code) {
        let error = #expect(throws: GuestSpecError.self) { try GuestMetadata(xmlElement: Self.element(body)) }
        #expect(error?.problem(at: field)?.code == code, "\(error?.description ?? "no error")")
    }

    @Test(arguments: [
        "<guest xmlns='\(GuestSpecMetadataTests.uri)'><owner>o</owner>",
        "<guest xmlns='\(GuestSpecMetadataTests.uri)'><owner>o</guest>",
        "",
        "<!DOCTYPE guest [<!ENTITY x 'y'>]><guest>&x;</guest>",
        "<guest>&undefined;</guest>",
    ])
    func notWellFormedXMLIsAnError(xml: String) {
        let error = #expect(throws: GuestSpecError.self) { try GuestMetadata(xmlElement: xml) }
        #expect(error?.field == "metadata")
        #expect(error?.code == .malformedXML)
    }

    @Test func elementInAnotherNamespaceIsRefused() {
        let error = #expect(throws: GuestSpecError.self) {
            try GuestMetadata(xmlElement: "<guest xmlns='urn:other'>\(Self.required)</guest>")
        }
        #expect(error?.code == .malformedXML)
        #expect(error?.problems[0].value == "\"{urn:other}guest\"")
    }

    @Test func elementWithAnotherNameIsRefused() {
        let error = #expect(throws: GuestSpecError.self) {
            try GuestMetadata(xmlElement: "<host xmlns='\(Self.uri)'>\(Self.required)</host>")
        }
        #expect(error?.field == "metadata")
    }

    @Test func childrenInForeignNamespacesDoNotCountAsFields() {
        // A foreign <owner> must not satisfy the required owner.
        let xml =
            "<guest xmlns='\(Self.uri)' xmlns:x='urn:x'><x:owner>o</x:owner><protected>true</protected><spec_version>1</spec_version></guest>"
        let error = #expect(throws: GuestSpecError.self) { try GuestMetadata(xmlElement: xml) }
        #expect(error?.problem(at: "metadata.owner")?.code == .missing)
    }

    @Test func codableRoundTripKeepsEveryField() throws {
        let metadata = try GuestMetadata(xmlElement: GuestSpecFixtures.text("domainxml/future-fields.metadata.xml"))
        let data = try JSONEncoder().encode(metadata)
        #expect(try JSONDecoder().decode(GuestMetadata.self, from: data) == metadata)
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains("\"spec_version\":2"))
    }

    // MARK: The round trip through libvirt itself

    @Test(.enabled(if: GuestSpecFixtures.virsh != nil, "virsh (libvirt-clients) is not installed"))
    func metadataSurvivesDefineAndGetMetadata() throws {
        let spec = try GuestSpecFixtures.goldenSpec("escaped-labels")
        let metadata = GuestMetadata(
            owner: "o'wner <&>", protected: true, labels: ["x.y/z": "\"v\" & 'w'"], created: "2025-06-30T12:34:56Z")
        let directory = try GuestSpecFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("domain.xml")
        try spec.domainXML(metadata: metadata).write(to: file, atomically: true, encoding: .utf8)
        let output = try GuestSpecFixtures.virshSession(
            "define \(file.path); metadata \(spec.name) \(Self.uri); echo ==DUMP==; dumpxml \(spec.name)")
        try #require(output.status == 0, "\(output.stderr)")
        let parts = GuestSpecFixtures.sections(output.stdout, marker: "==DUMP==")
        try #require(parts.count == 2)
        var expected = metadata
        expected.labels.merge(spec.labels) { old, _ in old }
        #expect(try GuestMetadata(xmlElement: parts[0]) == expected)
        #expect(try GuestDescription(xml: parts[1]).agentMetadata == .present(expected))
    }

    @Test(.enabled(if: GuestSpecFixtures.virsh != nil, "virsh (libvirt-clients) is not installed"))
    func metadataSurvivesSetMetadataWithTheAgentKey() throws {
        var spec = try GuestSpecFixtures.goldenSpec("minimal-kernel")
        spec.labels = [:]
        let directory = try GuestSpecFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("domain.xml")
        try spec.domainXML(metadata: GuestMetadata(owner: "first")).write(to: file, atomically: true, encoding: .utf8)
        let replacement = GuestMetadata(owner: "second & <last>", protected: true, labels: ["k": "it's"])
        let element = GuestSpecFixtures.oneLine(try replacement.xmlElement())
        let output = try GuestSpecFixtures.virshSession(
            "define \(file.path); metadata \(spec.name) \(Self.uri) --key \(GuestMetadata.namespacePrefix) --set \"\(element)\"; "
                + "metadata \(spec.name) \(Self.uri); echo ==DUMP==; dumpxml \(spec.name)")
        try #require(output.status == 0, "\(output.stderr)")
        let parts = GuestSpecFixtures.sections(output.stdout, marker: "==DUMP==")
        try #require(parts.count == 2)
        #expect(parts[1].contains("<nodeagent:guest xmlns:nodeagent=\"\(Self.uri)\">"))
        #expect(try GuestMetadata(xmlElement: parts[0]) == replacement)
        #expect(try GuestDescription(xml: parts[1]).metadata == replacement)
    }

    @Test(.enabled(if: GuestSpecFixtures.virsh != nil, "virsh (libvirt-clients) is not installed"))
    func libvirtRefusesAnElementThatDeclaresTheKeyPrefixItself() throws {
        // Why xmlElement() is unprefixed: the namespaced form fails in virDomainSetMetadata.
        let spec = try GuestSpecFixtures.goldenSpec("minimal-kernel")
        let directory = try GuestSpecFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("domain.xml")
        try spec.domainXML(metadata: GuestMetadata(owner: "first")).write(to: file, atomically: true, encoding: .utf8)
        let element = GuestSpecFixtures.oneLine(try GuestMetadata(owner: "x").namespacedXMLElement())
        let output = try GuestSpecFixtures.virshSession(
            "define \(file.path); metadata \(spec.name) \(Self.uri) --key nodeagent --set \"\(element)\"")
        #expect(output.status != 0)
        #expect(output.stderr.contains("failed to create a new XML namespace"))
    }
}
