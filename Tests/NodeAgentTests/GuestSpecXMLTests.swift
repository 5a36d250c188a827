import Foundation
import Testing

@testable import NodeAgent

/// Rendering of domain XML: escaping, golden files, libvirt's schema and libvirt's parser.
@Suite struct GuestSpecXMLTests {
    // MARK: Escaping

    @Test func escapeReplacesAllFiveMarkupCharacters() {
        #expect(XMLWriter.escape("a'b<c>&\"d") == "a&apos;b&lt;c&gt;&amp;&quot;d")
    }

    @Test func escapeTurnsTabNewlineAndCarriageReturnIntoCharacterReferences() {
        #expect(XMLWriter.escape("a\tb\nc\rd") == "a&#9;b&#10;c&#13;d")
    }

    @Test func escapeReplacesCharactersXMLCannotCarry() {
        #expect(XMLWriter.escape("a\u{0}b\u{1B}c\u{FFFE}") == "a\u{FFFD}b\u{FFFD}c\u{FFFD}")
    }

    @Test func escapeKeepsNonASCIIText() {
        #expect(XMLWriter.escape("Zürich 東京 🚀") == "Zürich 東京 🚀")
    }

    @Test func escapeDoesNotDoubleEscapeButEscapesExistingEntities() {
        #expect(XMLWriter.escape("&amp;") == "&amp;amp;")
    }

    @Test func namesFromDocumentsMustBeXMLNames() {
        #expect(XMLWriter.Name(validating: "nodeagent:guest")?.text == "nodeagent:guest")
        #expect(XMLWriter.Name(validating: "spec_version")?.text == "spec_version")
        for bad in ["", "1a", "a b", "a<b", "a:b:c", ":a", "a:", "x'y", "é"] {
            #expect(XMLWriter.Name(validating: bad) == nil, "\(bad) accepted")
        }
    }

    @Test func writerEscapesAttributeAndTextValues() {
        var writer = XMLWriter()
        writer.element("label", [(name: "key", value: "k'><x y='")], text: "</label><evil/>")
        #expect(writer.text == "<label key='k&apos;&gt;&lt;x y=&apos;'>&lt;/label&gt;&lt;evil/&gt;</label>\n")
    }

    // MARK: Golden files

    @Test(arguments: GuestSpecFixtures.goldenNames)
    func renderingMatchesGoldenFile(name: String) throws {
        let spec = try GuestSpecFixtures.goldenSpec(name)
        let xml = try spec.domainXML(metadata: GuestSpecFixtures.goldenMetadata(name))
        if GuestSpecFixtures.updateGolden {
            let url = GuestSpecFixtures.sourceDirectory.appendingPathComponent("golden/\(name).xml")
            try xml.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let golden = try GuestSpecFixtures.text("golden/\(name).xml")
        #expect(xml == golden)
    }

    /// Reading our own output back must give every value exactly as the spec has it: proof that
    /// escaping loses nothing and that no value turned into markup.
    @Test(arguments: GuestSpecFixtures.goldenNames)
    func renderedValuesReadBackUnchanged(name: String) throws {
        let spec = try GuestSpecFixtures.goldenSpec(name)
        let metadata = GuestSpecFixtures.goldenMetadata(name)
        let description = try GuestDescription(xml: try spec.domainXML(metadata: metadata))
        #expect(description.name == spec.name)
        #expect(description.uuid == spec.uuid)
        #expect(description.domainType == spec.domainType.rawValue)
        #expect(description.vcpus == spec.vcpus)
        #expect(description.memoryBytes == spec.memory.bytes)
        #expect(description.serialLogPath == spec.serialLog)
        if case .kernel(let kernel) = spec.boot {
            #expect(description.kernel == kernel.kernel)
            #expect(description.initrd == kernel.initrd)
            #expect(description.cmdline == kernel.cmdline)
        } else {
            #expect(description.kernel == nil)
        }
        #expect(description.disks.count == spec.disks.count)
        for (described, disk) in zip(description.disks, spec.disks) {
            switch disk.source {
            case .volume(let pool, let volume): #expect(described.source == .volume(pool: pool, volume: volume))
            case .file(let path): #expect(described.source == .file(path: path))
            case .block(let path): #expect(described.source == .block(path: path))
            }
            #expect(described.format == disk.format.rawValue)
            #expect(described.bus == disk.bus.rawValue)
            #expect(described.readonly == disk.readonly)
        }
        #expect(description.nics.count == spec.nics.count)
        var expected = metadata
        expected.labels = spec.labels
        #expect(description.agentMetadata == .present(expected))
    }

    @Test func escapedGoldenCarriesNoRawMetacharacters() throws {
        let xml = try GuestSpecFixtures.goldenSpec("escaped-labels")
            .domainXML(metadata: GuestSpecFixtures.goldenMetadata("escaped-labels"))
        #expect(xml.contains("<kernel>/srv/o&apos;neil&amp;co/&lt;vmlinuz&gt;</kernel>"))
        #expect(xml.contains("<nodeagent:label key='team'>a&amp;b</nodeagent:label>"))
        #expect(xml.contains("<nodeagent:owner>team &lt;a&amp;b&gt; &quot;x&quot; &apos;y&apos;</nodeagent:owner>"))
        #expect(!xml.contains("<co>"))
        #expect(!xml.contains("<vmlinuz>"))
    }

    @Test(
        .enabled(
            if: GuestSpecFixtures.canValidateSchema, "virt-xml-validate or xmllint (libxml2-utils) is not installed"))
    func goldenFilesPassLibvirtSchema() throws {
        for name in GuestSpecFixtures.goldenNames {
            let path = GuestSpecFixtures.directory.appendingPathComponent("golden/\(name).xml").path
            let result = try GuestSpecFixtures.run(GuestSpecFixtures.which("virt-xml-validate")!, [path, "domain"])
            #expect(result.status == 0, "\(name): \(result.stdout)\(result.stderr)")
        }
    }

    @Test(.enabled(if: GuestSpecFixtures.virsh != nil, "virsh (libvirt-clients) is not installed"))
    func libvirtTestDriverDefinesEveryGolden() throws {
        for name in GuestSpecFixtures.goldenNames {
            let spec = try GuestSpecFixtures.goldenSpec(name)
            let path = GuestSpecFixtures.directory.appendingPathComponent("golden/\(name).xml").path
            let result = try GuestSpecFixtures.virshSession("define \(path); domuuid \(spec.name)")
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(result.stdout.contains(spec.uuid!.uuidString.lowercased()))
        }
    }

    // MARK: Rendering rules

    static let metadata = GuestMetadata(owner: "controller-1", created: "2025-01-01T00:00:00Z")

    static func diskGuest() -> GuestSpec {
        GuestSpec(
            name: "g1", memory: .mib(512),
            disks: [
                .init(source: .file(path: "/srv/a.raw")), .init(source: .file(path: "/srv/b.raw"), bus: .sata),
                .init(source: .file(path: "/srv/c.raw")),
            ])
    }

    @Test func diskBootGivesEveryDiskABootOrderInListingOrder() throws {
        let xml = try Self.diskGuest().domainXML(metadata: Self.metadata)
        #expect(xml.components(separatedBy: "<boot order=").count == 4)
        let a = try #require(xml.range(of: "<source file='/srv/a.raw'/>"))
        let c = try #require(xml.range(of: "<source file='/srv/c.raw'/>"))
        #expect(xml[a.upperBound...].contains("<boot order='1'/>"))
        #expect(xml[c.upperBound...].contains("<boot order='3'/>"))
    }

    @Test func defaultTargetsAreAssignedPerBusInListingOrder() throws {
        let xml = try Self.diskGuest().domainXML(metadata: Self.metadata)
        #expect(xml.contains("<target dev='vda' bus='virtio'/>"))
        #expect(xml.contains("<target dev='sda' bus='sata'/>"))
        #expect(xml.contains("<target dev='vdb' bus='virtio'/>"))
    }

    @Test func defaultTargetsSkipNamesTakenExplicitly() throws {
        var spec = Self.diskGuest()
        spec.disks[2].target = "vda"
        let description = try GuestDescription(xml: try spec.domainXML(metadata: Self.metadata))
        #expect(description.disks.map(\.target) == ["vdb", "sda", "vda"])
    }

    @Test func kernelBootHasNoDiskBootOrder() throws {
        var spec = Self.diskGuest()
        spec.boot = .kernel(.init(kernel: "/k"))
        let xml = try spec.domainXML(metadata: Self.metadata)
        #expect(!xml.contains("<boot "))
        #expect(xml.contains("<kernel>/k</kernel>"))
    }

    @Test func explicitUUIDIsUsedWhenSpecHasNone() throws {
        let uuid = UUID(uuidString: "11111111-2222-4333-8444-555555555555")!
        let xml = try Self.diskGuest().domainXML(uuid: uuid, metadata: Self.metadata)
        #expect(xml.contains("<uuid>11111111-2222-4333-8444-555555555555</uuid>"))
    }

    @Test func missingUUIDIsGeneratedFreshEachTime() throws {
        let first = try GuestDescription(xml: try Self.diskGuest().domainXML(metadata: Self.metadata))
        let second = try GuestDescription(xml: try Self.diskGuest().domainXML(metadata: Self.metadata))
        #expect(first.uuid != second.uuid)
    }

    @Test func conflictingUUIDsAreRefused() throws {
        var spec = Self.diskGuest()
        spec.uuid = UUID(uuidString: "11111111-2222-4333-8444-555555555555")!
        let error = #expect(throws: GuestSpecError.self) {
            try spec.domainXML(uuid: UUID(uuidString: "99999999-2222-4333-8444-555555555555")!, metadata: Self.metadata)
        }
        #expect(error?.problem(at: "uuid")?.code == .conflict)
    }

    @Test func specLabelsAreMergedIntoMetadata() throws {
        var spec = Self.diskGuest()
        spec.labels = ["team": "a"]
        var metadata = Self.metadata
        metadata.labels = ["tier": "gold", "team": "a"]
        let description = try GuestDescription(xml: try spec.domainXML(metadata: metadata))
        #expect(description.metadata?.labels == ["team": "a", "tier": "gold"])
    }

    @Test func labelDisagreeingWithMetadataIsRefused() throws {
        var spec = Self.diskGuest()
        spec.labels = ["team": "a"]
        var metadata = Self.metadata
        metadata.labels = ["team": "b"]
        let error = #expect(throws: GuestSpecError.self) { try spec.domainXML(metadata: metadata) }
        #expect(error?.problem(at: "labels[\"team\"]")?.code == .conflict)
    }

    @Test func invalidMetadataIsRefusedWithItsField() throws {
        let error = #expect(throws: GuestSpecError.self) {
            try Self.diskGuest().domainXML(metadata: GuestMetadata(owner: "bad\u{7}owner"))
        }
        #expect(error?.problem(at: "metadata.owner")?.code == .invalidCharacters)
    }

    @Test func renderingValidatesTheSpecFirst() throws {
        var spec = Self.diskGuest()
        spec.name = "a'b<c>&\""
        let error = #expect(throws: GuestSpecError.self) { try spec.domainXML(metadata: Self.metadata) }
        #expect(error?.field == "name")
    }

    @Test func statsPeriodZeroLeavesBalloonWithoutStatistics() throws {
        var spec = Self.diskGuest()
        spec.memballoon.statsPeriod = 0
        let xml = try spec.domainXML(metadata: Self.metadata)
        #expect(xml.contains("    <memballoon model='virtio'/>\n"))
        #expect(!xml.contains("<stats"))
    }

    @Test func macIsWrittenInLowerCase() throws {
        var spec = Self.diskGuest()
        spec.nics = [.init(.user, mac: "52:54:00:AA:BB:CC")]
        #expect(try spec.domainXML(metadata: Self.metadata).contains("<mac address='52:54:00:aa:bb:cc'/>"))
    }
}
