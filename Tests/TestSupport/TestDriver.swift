public import Foundation
public import Libvirt

/// Domain XML for the test driver (`<domain type='test'>`).
public func testDomainXML(_ name: String, uuid: UUID = UUID(), memoryMiB: Int = 128, vcpus: Int = 1) -> String {
    """
    <domain type='test'>
      <name>\(name)</name>
      <uuid>\(uuid.uuidString.lowercased())</uuid>
      <memory unit='MiB'>\(memoryMiB)</memory>
      <vcpu>\(vcpus)</vcpu>
      <os><type arch='x86_64'>hvm</type></os>
    </domain>
    """
}

/// A test-driver node file with `count` domains (every third one shut off) and two pools.
public func manyDomainsNodeXML(count: Int) -> String {
    var xml = "<node>\n"
    for i in 0..<count {
        // The test driver's own extension sets the initial state (5 = shut off).
        let state = i % 3 == 0 ? "<test:runstate>5</test:runstate>" : ""
        xml += """
            <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
              <name>guest-\(String(format: "%04d", i))</name>
              <memory unit='MiB'>\(64 + i % 8 * 64)</memory>
              <vcpu>\(1 + i % 4)</vcpu>
              <os><type arch='x86_64'>hvm</type></os>
              \(state)
            </domain>

            """
    }
    xml += """
        <pool type='dir'>
          <name>images</name>
          <capacity unit='GiB'>100</capacity>
          <allocation unit='GiB'>0</allocation>
          <available unit='GiB'>100</available>
          <target><path>/images</path></target>
        </pool>
        </node>
        """
    return xml
}

/// A private test-driver connection loaded from a node file with `domains` domains and the
/// pool `images`: unlike test:///default, which every connection of the process shares, its
/// state belongs to this connection alone. The file is removed when the body ends.
public func withIsolatedTestDriver<T>(domains: Int = 0, _ body: (Connection) async throws -> T) async throws -> T {
    try await withTemporaryDirectory("test-driver") { dir in
        let path = try dir.write("node.xml", manyDomainsNodeXML(count: domains))
        let connection = try await Connection.open("test://\(path)")
        defer { connection.close() }
        return try await body(connection)
    }
}
