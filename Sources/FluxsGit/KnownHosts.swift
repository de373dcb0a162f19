import Crypto
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


/// SHA-1 and HMAC-SHA1 (swift-crypto), only for hashed known_hosts names and libgit2's SHA-1 host-key
/// fingerprints, as OpenSSH defines them.
enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] { Array(Insecure.SHA1.hash(data: message)) }
}

enum HMACSHA1 {
    static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }
}
