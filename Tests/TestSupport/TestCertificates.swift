import Foundation

/// A throw-away PKI made with the openssl command line: a CA, a server certificate for
/// localhost/127.0.0.1, and client certificates with chosen common names.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caCertificate: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }

    public init(directory: String) throws {
        self.directory = directory
        try run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=nodeagent test CA", "-keyout", directory + "/ca.key", "-out", caCertificate,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try issue(name: "server", commonName: "localhost", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")
    }

    /// A client certificate signed by `ca` (this PKI's by default) with `commonName`; returns
    /// (certificate, key) paths.
    @discardableResult
    public func client(_ commonName: String, uri: String? = nil) throws -> (certificate: String, key: String) {
        let name = "client-" + commonName.filter { $0.isLetter || $0.isNumber }
        var extensions = "extendedKeyUsage=clientAuth"
        if let uri { extensions += "\nsubjectAltName=URI:\(uri)" }
        try issue(name: name, commonName: commonName, extensions: extensions)
        return (directory + "/\(name).pem", directory + "/\(name).key")
    }

    /// A client certificate of this CA whose validity ended in 2020 (issued with `openssl ca`,
    /// the only openssl 3.0 command that takes explicit dates).
    public func expiredClient(_ commonName: String) throws -> (certificate: String, key: String) {
        let name = "expired-" + commonName.filter { $0.isLetter || $0.isNumber }
        let key = directory + "/\(name).key"
        let request = directory + "/\(name).csr"
        let configuration = directory + "/\(name).cnf"
        try "".write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
        try """
            [ca]
            default_ca = test
            [test]
            database = \(directory)/index.txt
            new_certs_dir = \(directory)
            serial = \(directory)/\(name).serial
            default_md = sha256
            policy = anything
            [anything]
            commonName = supplied
            [client]
            extendedKeyUsage = clientAuth
            """.write(toFile: configuration, atomically: true, encoding: .utf8)
        try "1000\n".write(toFile: directory + "/\(name).serial", atomically: true, encoding: .utf8)
        try run("/usr/bin/openssl", [
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(commonName)",
            "-keyout", key, "-out", request,
        ])
        try run("/usr/bin/openssl", [
            "ca", "-batch", "-config", configuration, "-extensions", "client", "-cert", caCertificate, "-keyfile", directory + "/ca.key",
            "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-in", request, "-out", directory + "/\(name).pem",
        ])
        return (directory + "/\(name).pem", key)
    }

    /// A certificate that signs itself (no CA), with `commonName`.
    public func selfSignedClient(_ commonName: String) throws -> (certificate: String, key: String) {
        let name = "selfsigned-" + commonName.filter { $0.isLetter || $0.isNumber }
        try run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=\(commonName)", "-keyout", directory + "/\(name).key", "-out", directory + "/\(name).pem",
            "-addext", "extendedKeyUsage=clientAuth",
        ])
        return (directory + "/\(name).pem", directory + "/\(name).key")
    }

    private func issue(name: String, commonName: String, extensions: String) throws {
        let key = directory + "/\(name).key"
        let request = directory + "/\(name).csr"
        let extfile = directory + "/\(name).ext"
        try extensions.write(toFile: extfile, atomically: true, encoding: .utf8)
        try run("/usr/bin/openssl", [
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(commonName)",
            "-keyout", key, "-out", request,
        ])
        try run("/usr/bin/openssl", [
            "x509", "-req", "-in", request, "-CA", caCertificate, "-CAkey", directory + "/ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", extfile, "-out", directory + "/\(name).pem",
        ])
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, closed).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard bound == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    return Int(UInt16(bigEndian: address.sin_port))
}
