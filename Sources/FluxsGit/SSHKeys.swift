import CGit2
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
