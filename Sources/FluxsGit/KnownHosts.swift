import FluxsYAML

/// OpenSSH known_hosts: plain, wildcard, negated and hashed (`|1|salt|hash`) host patterns.
public struct KnownHosts: Sendable {
    public struct Entry: Sendable {
        var patterns: [String]
        var hashed: (salt: [UInt8], hash: [UInt8])?
        public var keyType: String
        public var key: [UInt8]
        var revoked: Bool
    }
    public var entries: [Entry] = []

    public init(_ text: String) {
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = raw.trimming(" \t")
            if line.isEmpty || line.hasPrefix("#") { continue }
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            var revoked = false
            if let first = fields.first, first.hasPrefix("@") {
                if first == "@revoked" { revoked = true } else { continue }   // @cert-authority: not supported
                fields.removeFirst()
            }
            guard fields.count >= 3, let key = Base64.decode(fields[2]) else { continue }
            var e = Entry(patterns: [], hashed: nil, keyType: fields[1], key: key, revoked: revoked)
            if fields[0].hasPrefix("|1|") {
                let parts = fields[0].split(separator: "|", omittingEmptySubsequences: true)
                guard parts.count == 3, let salt = Base64.decode(String(parts[1])), let hash = Base64.decode(String(parts[2])) else { continue }
                e.hashed = (salt, hash)
            } else {
                e.patterns = fields[0].split(separator: ",").map(String.init)
            }
            entries.append(e)
        }
    }

    /// The name known_hosts uses for a host: `host`, or `[host]:port` when the port is not 22.
    public static func hostName(_ host: String, port: Int?) -> String {
        if let port, port != 22 { return "[\(host)]:\(port)" }
        return host
    }

    func matches(_ e: Entry, _ name: String) -> Bool {
        if let h = e.hashed { return HMACSHA1.mac(key: h.salt, message: Array(name.utf8)) == h.hash }
        var matched = false
        for p in e.patterns {
            if p.hasPrefix("!") {
                if glob(String(p.dropFirst()), name) { return false }
            } else if glob(p, name) {
                matched = true
            }
        }
        return matched
    }

    public enum Verdict: Equatable, Sendable { case trusted, mismatch, unknownHost, revoked }

    /// Checks a host key (the SSH wire-format blob) for `name` (see `hostName`).
    public func verify(name: String, key: [UInt8]) -> Verdict {
        var known = false
        for e in entries where matches(e, name) {
            if e.key == key { return e.revoked ? .revoked : .trusted }
            if !e.revoked { known = true }
        }
        return known ? .mismatch : .unknownHost
    }

    /// Checks by fingerprint when the raw key is not available.
    func verify(name: String, fingerprint: [UInt8], hash: ([UInt8]) -> [UInt8]) -> Verdict {
        var known = false
        for e in entries where matches(e, name) {
            if hash(e.key) == fingerprint { return e.revoked ? .revoked : .trusted }
            if !e.revoked { known = true }
        }
        return known ? .mismatch : .unknownHost
    }
}

/// OpenSSH host pattern: `*` and `?`, case-insensitive.
func glob(_ pattern: String, _ s: String) -> Bool {
    let p = Array(pattern.lowercased().utf8), t = Array(s.lowercased().utf8)
    var pi = 0, ti = 0, star = -1, mark = 0
    while ti < t.count {
        if pi < p.count && (p[pi] == UInt8(ascii: "?") || p[pi] == t[ti]) {
            pi += 1; ti += 1
        } else if pi < p.count && p[pi] == UInt8(ascii: "*") {
            star = pi; mark = ti; pi += 1
        } else if star >= 0 {
            pi = star + 1; mark += 1; ti = mark
        } else {
            return false
        }
    }
    while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
    return pi == p.count
}


/// SHA-1, only for hashed known_hosts names (HMAC-SHA1), as OpenSSH defines them.
struct SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        var m = message
        let bitLength = UInt64(message.count) * 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for i in (0..<8).reversed() { m.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: m.count, by: 64) {
            for i in 0..<16 {
                let b = chunk + i * 4
                w[i] = UInt32(m[b]) << 24 | UInt32(m[b + 1]) << 16 | UInt32(m[b + 2]) << 8 | UInt32(m[b + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4]
            for i in 0..<80 {
                let f: UInt32, k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A827999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC
                default: f = b ^ c ^ d; k = 0xCA62C1D6
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                e = d; d = c; c = b << 30 | b >> 2; b = a; a = t
            }
            h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d; h[4] = h[4] &+ e
        }
        return h.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - $0 * 8)) } }
    }
}

enum HMACSHA1 {
    static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var k = key.count > 64 ? SHA1.hash(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = SHA1.hash(k.map { $0 ^ 0x36 } + message)
        return SHA1.hash(k.map { $0 ^ 0x5c } + inner)
    }
}
