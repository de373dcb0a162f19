import CGit2
import Crypto
import FluxsYAML
import Glibc

/// SSH key material for Git secrets: the public key of an OpenSSH private key, and a server's host key.
public enum SSHKeys {
    /// `<type> <base64>` of an OpenSSH-format private key (the public part is stored unencrypted).
    public static func publicKey(ofPrivateKey pem: String) throws -> String {
        guard pem.contains("-----BEGIN OPENSSH PRIVATE KEY-----") else {
            throw GitError(.invalid, "only OpenSSH-format private keys are supported (convert with: ssh-keygen -p -f KEY)")
        }
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let raw = Base64.decode(String(body)) else { throw GitError(.invalid, "the private key is not valid base64") }
        var r = WireReader(raw)
        let magic = Array("openssh-key-v1\u{0}".utf8)
        guard raw.count > magic.count, Array(raw.prefix(magic.count)) == magic else { throw GitError(.invalid, "not an OpenSSH private key") }
        r.pos = magic.count
        _ = try r.string()   // cipher
        _ = try r.string()   // kdf
        _ = try r.string()   // kdf options
        guard try r.uint32() >= 1 else { throw GitError(.invalid, "the private key file holds no key") }
        let blob = try r.string()
        return try keyType(blob) + " " + Base64.encode(blob)
    }

    static func keyType(_ blob: [UInt8]) throws -> String {
        var r = WireReader(blob)
        return String(decoding: try r.string(), as: UTF8.self)
    }

    /// The host key an SSH server presents, as a known_hosts line (`[host]:port` when the port is not 22).
    public static func scanHostKey(url: String) throws -> String {
        Library.ensure()
        guard let u = GitURL(url), u.scheme == "ssh" else { throw GitError(.invalid, "not an ssh:// URL: \(url)") }
        final class Capture { var key: [UInt8]? }
        let capture = Capture()
        var remote: OpaquePointer?
        try check(git_remote_create_detached(&remote, url), "remote \(url)")
        defer { git_remote_free(remote) }
        var callbacks = git_remote_callbacks()
        git_remote_init_callbacks(&callbacks, UInt32(GIT_REMOTE_CALLBACKS_VERSION))
        callbacks.certificate_check = { cert, _, _, payload in
            guard let cert, cert.pointee.cert_type == GIT_CERT_HOSTKEY_LIBSSH2 else { return GIT_EUSER.rawValue }
            let hk = UnsafeRawPointer(cert).assumingMemoryBound(to: git_cert_hostkey.self).pointee
            if hk.type.rawValue & GIT_CERT_SSH_RAW.rawValue != 0, let p = hk.hostkey {
                Unmanaged<Capture>.fromOpaque(payload!).takeUnretainedValue().key = [UInt8](UnsafeRawBufferPointer(start: p, count: hk.hostkey_len))
            }
            return GIT_EUSER.rawValue   // stop here: only the key was wanted
        }
        callbacks.credentials = { _, _, _, _, _ in GIT_EUSER.rawValue }
        callbacks.payload = Unmanaged.passUnretained(capture).toOpaque()
        withExtendedLifetime(capture) {
            _ = git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, nil, nil)
        }
        guard let key = capture.key else {
            throw GitError(.network, "could not read the host key of \(u.host): \(GitError.last(-1, "ssh connect").message)")
        }
        return "\(KnownHosts.hostName(u.host, port: u.port)) \(try keyType(key)) \(Base64.encode(key))"
    }
}

/// Reads the SSH wire format (uint32 lengths, big endian).
struct WireReader {
    let bytes: [UInt8]
    var pos = 0
    init(_ b: [UInt8]) { bytes = b }

    mutating func uint32() throws -> Int {
        guard pos + 4 <= bytes.count else { throw GitError(.invalid, "truncated SSH key") }
        defer { pos += 4 }
        return Int(bytes[pos]) << 24 | Int(bytes[pos + 1]) << 16 | Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
    }

    mutating func string() throws -> [UInt8] {
        let n = try uint32()
        guard pos + n <= bytes.count else { throw GitError(.invalid, "truncated SSH key") }
        defer { pos += n }
        return Array(bytes[pos..<(pos + n)])
    }
}

/// New SSH key pairs for deploy keys, written in OpenSSH format (unencrypted), as `flux create secret git` makes them.
public enum SSHKeyGen {
    public enum Algorithm: Sendable { case ecdsa(curve: String), ed25519 }

    public struct KeyPair: Sendable {
        /// `-----BEGIN OPENSSH PRIVATE KEY-----` … with a trailing newline.
        public var privateKey: String
        /// `<type> <base64>` with a trailing newline.
        public var publicKey: String
    }

    public static func generate(_ algorithm: Algorithm) throws -> KeyPair {
        var pubBlob = WireWriter(), privPart = WireWriter()
        switch algorithm {
        case .ed25519:
            let key = Curve25519.Signing.PrivateKey()
            let pub = [UInt8](key.publicKey.rawRepresentation)
            pubBlob.string("ssh-ed25519"); pubBlob.bytes(pub)
            privPart.string("ssh-ed25519"); privPart.bytes(pub); privPart.bytes([UInt8](key.rawRepresentation) + pub)
        case .ecdsa(let curve):
            let (name, q, d): (String, [UInt8], [UInt8])
            switch curve {
            case "p256":
                let k = P256.Signing.PrivateKey()
                (name, q, d) = ("nistp256", [UInt8](k.publicKey.x963Representation), [UInt8](k.rawRepresentation))
            case "p384":
                let k = P384.Signing.PrivateKey()
                (name, q, d) = ("nistp384", [UInt8](k.publicKey.x963Representation), [UInt8](k.rawRepresentation))
            case "p521":
                let k = P521.Signing.PrivateKey()
                (name, q, d) = ("nistp521", [UInt8](k.publicKey.x963Representation), [UInt8](k.rawRepresentation))
            default:
                throw GitError(.invalid, "unsupported ECDSA curve '\(curve)' (p256, p384, p521)")
            }
            let type = "ecdsa-sha2-" + name
            pubBlob.string(type); pubBlob.string(name); pubBlob.bytes(q)
            privPart.string(type); privPart.string(name); privPart.bytes(q); privPart.mpint(d)
        }
        let type = try SSHKeys.keyType(pubBlob.data)
        // Private section: check ints, key, comment, padding to the cipher block size (8 for "none").
        var section = WireWriter()
        let check = UInt32.random(in: 0...UInt32.max)
        section.uint32(check); section.uint32(check)
        section.data += privPart.data
        section.string("")
        var pad: UInt8 = 1
        while section.data.count % 8 != 0 { section.data.append(pad); pad += 1 }
        var file = WireWriter()
        file.data = Array("openssh-key-v1\u{0}".utf8)
        file.string("none"); file.string("none"); file.string("")
        file.uint32(1)
        file.bytes(pubBlob.data)
        file.bytes(section.data)
        let b64 = Array(Base64.encode(file.data))
        var pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        var i = 0
        while i < b64.count { pem += String(b64[i..<min(i + 70, b64.count)]) + "\n"; i += 70 }
        pem += "-----END OPENSSH PRIVATE KEY-----\n"
        return KeyPair(privateKey: pem, publicKey: type + " " + Base64.encode(pubBlob.data) + "\n")
    }
}

/// Writes the SSH wire format.
struct WireWriter {
    var data: [UInt8] = []
    mutating func uint32(_ v: UInt32) { data += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    mutating func bytes(_ b: [UInt8]) { uint32(UInt32(b.count)); data += b }
    mutating func string(_ s: String) { bytes(Array(s.utf8)) }
    /// An unsigned big-endian integer as an SSH mpint (no leading zeros; a zero byte when the high bit is set).
    mutating func mpint(_ b: [UInt8]) {
        var v = Array(b.drop { $0 == 0 })
        if let f = v.first, f & 0x80 != 0 { v.insert(0, at: 0) }
        bytes(v)
    }
}
