import Foundation
import Testing

@testable import NodeAgent

/// `GuestDescription` read from domain XML exactly as libvirt returned it
/// (Fixtures/domainxml, captured from `virsh -c test:///default dumpxml`).
@Suite struct GuestSpecDescriptionTests {
    static func fixture(_ name: String) throws -> GuestDescription {
        try GuestDescription(xml: GuestSpecFixtures.text("domainxml/\(name).dumpxml.xml"))
    }

    @Test func diskBootGuestAsLibvirtReturnsIt() throws {
        let guest = try Self.fixture("disk-boot")
        #expect(guest.name == "web-1")
        #expect(guest.uuid == UUID(uuidString: "3f2504e0-4f89-41d3-9a0c-0305e82c3301"))
        #expect(guest.domainType == "qemu")
        #expect(guest.vcpus == 2)
        #expect(guest.memoryBytes == 1 << 30)
        #expect(guest.kernel == nil)
        #expect(
            guest.disks == [
                .init(
                    type: "volume", device: "disk", target: "vda", bus: "virtio",
                    source: .volume(pool: "images", volume: "web-1-root.qcow2"), format: "qcow2", readonly: false),
                .init(
                    type: "file", device: "disk", target: "vdb", bus: "virtio",
                    source: .file(path: "/srv/seed/web-1.raw"),
                    format: "raw", readonly: true),
            ])
        #expect(guest.nics.count == 2)
        #expect(guest.nics[0].type == "user")
        #expect(guest.nics[0].model == "virtio")
        #expect(guest.nics[0].mac?.hasPrefix("52:54:00:") == true, "libvirt generates a MAC")
        #expect(
            guest.nics[1]
                == .init(type: "bridge", network: nil, bridge: "br0", mac: "52:54:00:12:34:56", model: "virtio"))
        #expect(guest.serialLogPath == "/var/log/nodeagent/guests/web-1.serial.log")
        #expect(
            guest.metadata
                == GuestMetadata(
                    owner: "controller-1", protected: false, specVersion: 1, labels: ["team": "storage"],
                    created: "2025-01-01T00:00:00Z"))
    }

    @Test func kernelBootGuestHasKernelInitrdAndCmdline() throws {
        let guest = try Self.fixture("minimal-kernel")
        #expect(guest.name == "tiny")
        #expect(guest.memoryBytes == 256 << 20)
        #expect(guest.vcpus == 1)
        #expect(guest.kernel == "/var/lib/nodeagent/images/vmlinuz")
        #expect(guest.initrd == "/var/lib/nodeagent/images/initrd.img")
        #expect(guest.cmdline == "console=ttyS0 quiet")
        #expect(guest.disks.isEmpty)
        #expect(guest.nics.isEmpty)
        #expect(guest.serialLogPath == nil)
        #expect(guest.metadata?.owner == "controller-1")
    }

    @Test func everyBusAndSourceKindIsRead() throws {
        let guest = try Self.fixture("all-tunables")
        #expect(guest.vcpus == 4)
        #expect(guest.memoryBytes == 4 << 30)
        #expect(guest.disks.map(\.target) == ["vda", "sda", "sdc"])
        #expect(guest.disks.map(\.bus) == ["virtio", "scsi", "sata"])
        #expect(guest.disks[1].source == .block(path: "/dev/vg0/db-2-data"))
        #expect(guest.disks[2].source == .file(path: "/srv/db-2/logs.raw"))
        #expect(
            guest.nics == [
                .init(type: "network", network: "backend", bridge: nil, mac: "52:54:00:ab:cd:ef", model: "e1000")
            ])
    }

    @Test func escapedValuesAreReadBackVerbatim() throws {
        let guest = try Self.fixture("escaped-labels")
        #expect(guest.name == "esc.test-3")
        #expect(guest.kernel == "/srv/o'neil&co/<vmlinuz>")
        #expect(guest.cmdline == "console=ttyS0 init=/bin/sh -c 'echo \"a<b>&c\"'")
        #expect(guest.serialLogPath == "/var/log/nodeagent/o'neil & <co>/\"esc\".log")
        #expect(guest.metadata?.owner == "team <a&b> \"x\" 'y'")
        #expect(guest.metadata?.protected == true)
        #expect(
            guest.metadata?.labels == [
                "team": "a&b", "app.kubernetes.io/name": "web<1>", "quote": "it's \"quoted\"", "empty": "",
            ])
    }

    @Test func foreignGuestHasNoAgentMetadata() throws {
        let guest = try Self.fixture("foreign-test")
        #expect(guest.name == "test")
        #expect(guest.domainType == "test")
        #expect(guest.vcpus == 2)
        #expect(guest.memoryBytes == 8 << 30)
        #expect(guest.agentMetadata == .absent)
        #expect(guest.metadata == nil)
        #expect(guest.disks.first?.source == .file(path: "/guest/diskimage1"))
        #expect(guest.disks.first?.format == nil)
        #expect(
            guest.nics.first
                == .init(type: "network", network: "default", bridge: nil, mac: "aa:bb:cc:dd:ee:ff", model: nil))
    }

    @Test func unsupportedDiskTypesAndEmptyDrivesHaveNoSource() throws {
        let guest = try Self.fixture("future-fields")
        #expect(guest.memoryBytes == 128 << 20)
        #expect(guest.disks.count == 2)
        #expect(guest.disks[0].type == "network")
        #expect(guest.disks[0].source == nil)
        #expect(guest.disks[1].device == "cdrom")
        #expect(guest.disks[1].source == nil)
        #expect(guest.disks[1].readonly)
    }

    @Test func malformedAgentMetadataDoesNotHideTheGuest() throws {
        let guest = try Self.fixture("malformed-protected")
        #expect(guest.name == "broken-1")
        guard case .malformed(let error) = guest.agentMetadata else {
            Issue.record("expected malformed metadata, got \(guest.agentMetadata)")
            return
        }
        #expect(error.problem(at: "metadata.protected")?.code == .invalidValue)
    }

    // MARK: Units and errors

    @Test(
        arguments: [
            ("1024", nil, Int64(1_048_576)), ("1", "b", 1), ("1", "bytes", 1), ("1", "KB", 1000), ("1", "k", 1024),
            ("1", "KiB", 1024), ("2", "MB", 2_000_000), ("2", "M", 2_097_152), ("1", "GiB", 1 << 30),
            ("1", "GB", 1_000_000_000),
            ("1", "T", 1 << 40), ("1", "TB", 1_000_000_000_000),
        ] as [(String, String?, Int64)])
    func libvirtMemoryUnitsConvertToBytes(value: String, unit: String?, bytes: Int64) {
        #expect(GuestDescription.bytes(value, unit: unit) == bytes)
    }

    @Test func unknownOrOverflowingMemoryIsNotASize() {
        #expect(GuestDescription.bytes("1", unit: "parsec") == nil)
        #expect(GuestDescription.bytes("-1", unit: "KiB") == nil)
        #expect(GuestDescription.bytes("9223372036854775807", unit: "KiB") == nil)
    }

    static let minimalDomain = """
        <domain type='qemu'><name>m</name><uuid>3f2504e0-4f89-41d3-9a0c-0305e82c3301</uuid>
        <memory unit='MiB'>64</memory><vcpu>1</vcpu></domain>
        """

    @Test func minimalDomainParses() throws {
        let guest = try GuestDescription(xml: Self.minimalDomain)
        #expect(guest.memoryBytes == 64 << 20)
        #expect(guest.agentMetadata == .absent)
    }

    @Test(arguments: [
        ("<name>m</name>", "", "domain.name", GuestSpecError.Code.missing),
        ("<uuid>3f2504e0-4f89-41d3-9a0c-0305e82c3301</uuid>", "<uuid>nope</uuid>", "domain.uuid", .invalidValue),
        ("<memory unit='MiB'>64</memory>", "", "domain.memory", .missing),
        ("<memory unit='MiB'>64</memory>", "<memory unit='furlong'>64</memory>", "domain.memory", .invalidValue),
        ("<vcpu>1</vcpu>", "<vcpu>many</vcpu>", "domain.vcpu", .invalidValue),
        ("type='qemu'", "", "domain.type", .missing),
        (
            "<vcpu>1</vcpu>", "<vcpu>1</vcpu><devices><disk type='file'><source file='/a'/></disk></devices>",
            "domain.devices.disk[0].target", .missing
        ),
    ])
    func missingOrMalformedRequiredFieldIsAnError(
        replacing: String, with replacement: String, field: String, code: GuestSpecError.Code
    ) {
        let xml = Self.minimalDomain.replacingOccurrences(of: replacing, with: replacement)
        let error = #expect(throws: GuestSpecError.self) { try GuestDescription(xml: xml) }
        #expect(error?.problem(at: field)?.code == code, "\(error?.description ?? "no error")")
    }

    @Test(arguments: ["", "<domain>", "<guest/>", "<domain xmlns='urn:x' type='qemu'/>", "not xml at all"])
    func notADomainDocumentIsAnError(xml: String) {
        let error = #expect(throws: GuestSpecError.self) { try GuestDescription(xml: xml) }
        #expect(error?.field == "domain")
        #expect(error?.code == .malformedXML)
    }

    @Test func twoAgentElementsAreMalformedMetadata() throws {
        let element =
            "<g:guest xmlns:g='\(GuestMetadata.namespaceURI)'><g:owner>o</g:owner><g:protected>true</g:protected><g:spec_version>1</g:spec_version></g:guest>"
        let xml = Self.minimalDomain.replacingOccurrences(
            of: "<vcpu>1</vcpu>", with: "<vcpu>1</vcpu><metadata>\(element)\(element)</metadata>")
        guard case .malformed(let error) = try GuestDescription(xml: xml).agentMetadata else {
            Issue.record("two agent elements must not be accepted")
            return
        }
        #expect(error.code == .duplicate)
    }

    // MARK: Live: render, define in libvirt, read back

    @Test(.enabled(if: GuestSpecFixtures.virsh != nil, "virsh (libvirt-clients) is not installed"))
    func describedGuestMatchesTheSpecAfterDefineAndDumpXML() throws {
        for name in GuestSpecFixtures.goldenNames {
            let spec = try GuestSpecFixtures.goldenSpec(name)
            let path = GuestSpecFixtures.directory.appendingPathComponent("golden/\(name).xml").path
            let output = try GuestSpecFixtures.virshSession("define \(path); dumpxml \(spec.name)")
            try #require(output.status == 0, "\(output.stderr)")
            let guest = try GuestDescription(xml: output.stdout)
            #expect(guest.uuid == spec.uuid)
            #expect(guest.memoryBytes == spec.memory.bytes)
            #expect(guest.vcpus == spec.vcpus)
            #expect(guest.disks.map(\.target) == spec.resolvedTargets().map { $0 ?? "" })
            #expect(guest.nics.count == spec.nics.count)
            #expect(guest.serialLogPath == spec.serialLog)
            #expect(guest.metadata?.labels == spec.labels)
            // The committed fixture is what this libvirt returns (disk-boot has a generated MAC).
            if name != "disk-boot", try GuestSpecFixtures.virshVersion() == GuestSpecFixtures.capturedLibvirtVersion {
                #expect(
                    output.stdout == (try GuestSpecFixtures.text("domainxml/\(name).dumpxml.xml")),
                    "libvirt's output for \(name) changed; rerun Fixtures/domainxml/capture.sh")
            }
        }
    }
}
