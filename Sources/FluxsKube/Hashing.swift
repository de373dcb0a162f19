internal import Crypto

/// SHA-256 and HMAC-SHA256 through swift-crypto (BoringSSL), for cache keys, artifact digests, generator name
/// hashes and webhook signatures. Modules that need no more than these use this, not Crypto itself.
public enum Hashing {
    public static func sha256(_ data: some Sequence<UInt8>) -> [UInt8] {
        Array(Crypto.SHA256.hash(data: Array(data)))
    }

    public static func sha256Hex(_ data: some Sequence<UInt8>) -> String { hexString(sha256(data)) }

    /// sha256Hex of bytes in an array: hashed and written out through their buffers (the generic path copies the
    /// bytes, hashes them as a DataProtocol and reads the digest back one byte at a time: ~16 K instructions for
    /// a 200-byte object, and every object of every reconcile is hashed).
    public static func sha256Hex(_ data: [UInt8]) -> String {
        var h = Crypto.SHA256()
        data.withUnsafeBytes { h.update(bufferPointer: $0) }
        return h.finalize().withUnsafeBytes { d in
            String(unsafeUninitializedCapacity: d.count * 2) { out in
                let digits: StaticString = "0123456789abcdef"
                let hex = UnsafeRawBufferPointer(start: digits.utf8Start, count: 16)
                for (i, b) in d.enumerated() {
                    out[2 * i] = hex[Int(b >> 4)]
                    out[2 * i + 1] = hex[Int(b & 0xf)]
                }
                return d.count * 2
            }
        }
    }
    public static func sha256Hex(_ s: String) -> String { sha256Hex(Array(s.utf8)) }

    /// HMAC (RFC 2104) over SHA-256.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<Crypto.SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }
}

/// Lower-case hexadecimal, as Go's hex.EncodeToString.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.underestimatedCount * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0xf)])
    }
    return String(decoding: out, as: UTF8.self)
}

extension Hashing {
    /// SHA-1, for keys that are SHA-1 upstream (Bitbucket build status keys), never for security.
    public static func sha1Hex(_ s: String) -> String {
        hexString(Insecure.SHA1.hash(data: Array(s.utf8)))
    }
}

extension Hashing {
    /// HMAC over SHA-1 (webhook signatures that are SHA-1 upstream: X-Hub-Signature, Nexus).
    public static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// HMAC over SHA-512 (generic-hmac signatures may use it).
    public static func hmacSHA512(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<Crypto.SHA512>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// Equality in time independent of where the inputs differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var d: UInt8 = 0
        for i in 0..<a.count { d |= a[i] ^ b[i] }
        return d == 0
    }
}
