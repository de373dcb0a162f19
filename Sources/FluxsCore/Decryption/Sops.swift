import Crypto
import FluxsYAML

/// SOPS files as getsops/sops v3.13 reads and writes them: every value of the tree encrypted on its own with
/// AES-256-GCM under a data key (the value's path as additional data), the data key encrypted to master keys
/// (fluxs: age X25519 only), and a MAC (SHA-512 over the cleartext values in tree order, encrypted with the
/// data key) that `sops decrypt` checks. docs/sops.md lists the rules.
public struct SopsError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// The file formats of sops's stores (cmd/sops/formats).
public enum SopsFormat: Sendable, Equatable {
    case binary, dotenv, ini, json, yaml

    /// formats.FormatForPath: by extension, binary otherwise.
    public static func forPath(_ path: String) -> SopsFormat {
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { return .yaml }
        if path.hasSuffix(".json") { return .json }
        if path.hasSuffix(".env") { return .dotenv }
        if path.hasSuffix(".ini") { return .ini }
        return .binary
    }

    /// The name kustomize-controller uses in messages.
    public var name: String {
        switch self {
        case .binary: return "binary"
        case .dotenv: return "dotenv"
        case .ini: return "INI"
        case .json: return "JSON"
        case .yaml: return "YAML"
        }
    }

    /// The bytes by which kustomize-controller recognises an encrypted file of this format.
    public var marker: String {
        switch self {
        case .binary, .json: return "\"mac\": \"ENC["
        case .dotenv: return "sops_mac=ENC["
        case .ini: return "[sops]"
        case .yaml: return "mac: ENC["
        }
    }

    /// The format whose marker the bytes contain (kustomize-controller's detectFormatFromMarkerBytes).
    public static func detect(_ data: [UInt8]) -> SopsFormat? {
        for f in [SopsFormat.yaml, .json, .dotenv, .ini] where data.containsBytes(Array(f.marker.utf8)) {
            return f
        }
        return nil
    }
}

extension Array where Element == UInt8 {
    func containsBytes(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return needle.isEmpty }
        let first = needle[0]
        var i = 0
        let last = count - needle.count
        while i <= last {
            if self[i] == first && self[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}

// MARK: values

/// A typed leaf of the tree, as sops's Go values (string, int, float64, bool, []byte, time.Time).
enum SopsValue {
    case str([UInt8]), int(Int64), float(Double), bool(Bool), time(String)

    /// sops.ToBytes: what the MAC hashes and what the cipher encrypts.
    var bytes: [UInt8] {
        switch self {
        case .str(let b): return b
        case .int(let i): return Array(String(i).utf8)
        case .float(let d): return Array(Resolver.goFormatFloatFixed(d).utf8)
        case .bool(let b): return Array((b ? "True" : "False").utf8)
        case .time(let s): return Array(s.utf8)
        }
    }

    var typeName: String {
        switch self {
        case .str: return "str"
        case .int: return "int"
        case .float: return "float"
        case .bool: return "bool"
        case .time: return "time"
        }
    }

    /// Go's %T of the value, for sops's messages.
    var goType: String {
        switch self {
        case .str: return "string"
        case .int: return "int"
        case .float: return "float64"
        case .bool: return "bool"
        case .time: return "time.Time"
        }
    }

    /// The value as yaml.v3 decodes a scalar into interface{} (timestamps stay strings); nil for null.
    init?(_ s: Scalar) throws {
        switch s.tag {
        case .null: return nil
        case .string, .timestamp, .binary: self = .str(Array(s.value.utf8))
        case .int:
            guard let i = Resolver.parseGoInt(s.value) else { throw SopsError("Could not convert \(s.value) to bytes: Could not convert unknown type uint64 to bytes") }
            self = .int(i)
        case .float: self = .float(Resolver.parseFloat(s.value) ?? 0)
        case .bool: self = .bool(["true", "True", "TRUE"].contains(s.value))
        }
    }

    var node: Node {
        switch self {
        case .str(let b): return .string(String(decoding: b, as: UTF8.self))
        case .int(let i): return .scalar(Scalar(String(i), tag: .int))
        case .float(let d): return .float(d)
        case .bool(let b): return .bool(b)
        case .time(let s): return .scalar(Scalar(s, tag: .timestamp))
        }
    }
}

// MARK: cipher

/// sops's aes.Cipher: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, 32-byte IVs.
enum SopsCipher {
    /// The four fields of sops's `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`, split as its greedy
    /// groups split them: from the right (the last `]`, then the last `,type:`, `,tag:` and `,iv:` before it).
    static func fields(_ text: String) -> (data: Substring, iv: Substring, tag: Substring, type: Substring)? {
        let prefix = "ENC[AES256_GCM,data:"
        guard text.hasPrefix(prefix), let close = text.lastIndex(of: "]") else { return nil }
        var rest = text[text.index(text.startIndex, offsetBy: prefix.count)..<close]
        var parts: [Substring] = []
        for marker in [",type:", ",tag:", ",iv:"] {
            guard let r = rest.ranges(of: marker).last else { return nil }
            parts.append(rest[r.upperBound...])
            rest = rest[..<r.lowerBound]
        }
        guard !rest.isEmpty, !parts.contains(where: \.isEmpty) else { return nil }
        return (rest, parts[2], parts[1], parts[0])
    }

    /// Decrypts one value; an empty string stays empty. Errors never quote the value.
    static func decrypt(_ text: String, key: [UInt8], aad: String) throws -> SopsValue {
        if text.isEmpty { return .str([]) }
        guard let (d, v, t, ty) = fields(text) else {
            throw SopsError("Input string <redacted> does not match sops' data format")
        }
        guard let data = Base64.decode(String(d)) else { throw SopsError("Error base64-decoding data: illegal base64 data") }
        guard let iv = Base64.decode(String(v)) else { throw SopsError("Error base64-decoding iv: illegal base64 data") }
        guard let tag = Base64.decode(String(t)) else { throw SopsError("Error base64-decoding tag: illegal base64 data") }
        let sealed = data + tag
        let plain: [UInt8]
        do {
            guard sealed.count >= 16, iv.count >= 12 else { throw SopsError("") }
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: iv), ciphertext: sealed.dropLast(16), tag: sealed.suffix(16))
            plain = [UInt8](try AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: Array(aad.utf8)))
        } catch {
            throw SopsError("Could not decrypt with AES_GCM: cipher: message authentication failed")
        }
        let s = String(decoding: plain, as: UTF8.self)
        switch String(ty) {
        case "str", "bytes": return .str(plain)
        case "int":
            guard let i = Int64(s) else { throw SopsError("strconv.Atoi: parsing <redacted>: invalid syntax") }
            return .int(i)
        case "float":
            guard let f = Resolver.parseFloat(s) ?? Double(s) else { throw SopsError("strconv.ParseFloat: parsing <redacted>: invalid syntax") }
            return .float(f)
        case "bool":
            switch s {
            case "1", "t", "T", "TRUE", "true", "True": return .bool(true)
            case "0", "f", "F", "FALSE", "false", "False": return .bool(false)
            default: throw SopsError("strconv.ParseBool: parsing <redacted>: invalid syntax")
            }
        case "time": return .time(s)
        case "comment": return .str(plain)
        default: throw SopsError("Unknown datatype: \(ty)")
        }
    }

    static func encrypt(_ value: SopsValue, key: [UInt8], aad: String) throws -> String {
        let plain = value.bytes
        if case .str = value, plain.isEmpty { return "" }
        let iv = Random.bytes(32)
        let box = try AES.GCM.seal(plain, using: SymmetricKey(data: key), nonce: AES.GCM.Nonce(data: iv), authenticating: Array(aad.utf8))
        return "ENC[AES256_GCM,data:\(Base64.encode([UInt8](box.ciphertext))),iv:\(Base64.encode(iv)),tag:\(Base64.encode([UInt8](box.tag))),type:\(value.typeName)]"
    }
}

// MARK: metadata

/// A master key of the metadata. fluxs decrypts age keys; the others are named in errors.
enum SopsMasterKey {
    case age(recipient: String, enc: String)
    case other(kind: String, name: String)

    var name: String {
        switch self {
        case .age(let r, _): return r
        case .other(_, let n): return n
        }
    }

    /// sops.DefaultDecryptionOrder: age, then PGP, then the rest.
    var order: Int {
        switch self {
        case .age: return 0
        case .other(let k, _): return k == "PGP" ? 1 : 2
        }
    }
}

/// The `sops` metadata of a file (stores.metadata), with sops's defaults applied.
struct SopsMetadata {
    var lastModified: String
    var mac: String
    var unencryptedSuffix = ""
    var encryptedSuffix = ""
    var unencryptedRegex = ""
    var encryptedRegex = ""
    var unencryptedCommentRegex = ""
    var encryptedCommentRegex = ""
    var macOnlyEncrypted = false
    var version = ""
    var keyGroups: [[SopsMasterKey]] = []
    var shamirThreshold = 0

    static let keyLists: [(String, String)] = [("kms", "AWS KMS"), ("gcp_kms", "GCP KMS"), ("hckms", "HuaweiCloud KMS"),
                                               ("azure_kv", "Azure Key Vault"), ("hc_vault", "HashiCorp Vault"), ("pgp", "PGP"), ("age", "age")]

    init(_ n: Node) throws {
        guard let m = n.map else { throw SopsError("Found sops entry that is not a mapping") }
        func text(_ k: String) -> String { m[k]?.text ?? "" }
        lastModified = text("lastmodified")
        mac = text("mac")
        unencryptedSuffix = text("unencrypted_suffix")
        encryptedSuffix = text("encrypted_suffix")
        unencryptedRegex = text("unencrypted_regex")
        encryptedRegex = text("encrypted_regex")
        unencryptedCommentRegex = text("unencrypted_comment_regex")
        encryptedCommentRegex = text("encrypted_comment_regex")
        macOnlyEncrypted = ["1", "t", "T", "TRUE", "true", "True"].contains(text("mac_only_encrypted"))
        version = text("version")
        shamirThreshold = Int(text("shamir_threshold")) ?? 0
        guard SopsMetadata.rfc3339(lastModified) != nil else {
            throw SopsError("parsing time \"\(lastModified)\" as \"2006-01-02T15:04:05Z07:00\": cannot parse as RFC 3339")
        }
        let rules = [unencryptedSuffix, encryptedSuffix, unencryptedRegex, encryptedRegex, unencryptedCommentRegex, encryptedCommentRegex]
        let count = rules.filter { !$0.isEmpty }.count
        if count > 1 {
            throw SopsError("Cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file")
        }
        if count == 0 { unencryptedSuffix = "_unencrypted" }
        func group(_ g: Mapping) -> [SopsMasterKey] {
            var out: [SopsMasterKey] = []
            for (list, kind) in SopsMetadata.keyLists {
                for k in g[list]?.array ?? [] {
                    func f(_ key: String) -> String { k[key]?.text ?? "" }
                    switch list {
                    case "age": out.append(.age(recipient: f("recipient"), enc: f("enc")))
                    case "pgp": out.append(.other(kind: kind, name: f("fp")))
                    case "kms": out.append(.other(kind: kind, name: f("arn")))
                    case "gcp_kms": out.append(.other(kind: kind, name: f("resource_id")))
                    case "hckms": out.append(.other(kind: kind, name: f("key_id")))
                    case "azure_kv": out.append(.other(kind: kind, name: "\(f("vault_url"))/keys/\(f("name"))/\(f("version"))"))
                    default: out.append(.other(kind: kind, name: "\(f("vault_address"))/v1/\(f("engine_path"))/keys/\(f("key_name"))"))
                    }
                }
            }
            return out
        }
        let top = group(m)
        if !top.isEmpty {
            keyGroups = [top]
        } else if let groups = m["key_groups"]?.array, !groups.isEmpty {
            keyGroups = groups.map { group($0.map ?? Mapping()) }
        } else {
            throw SopsError("No keys found in file")
        }
    }

    init(lastModified: String, mac: String) {
        self.lastModified = lastModified
        self.mac = mac
    }

    /// The MAC's additional data: lastmodified as Go formats a parsed RFC 3339 time (no fraction, "Z" for UTC).
    var macAAD: String { SopsMetadata.rfc3339(lastModified) ?? lastModified }

    static func rfc3339(_ s: String) -> String? {
        let u = Array(s.utf8)
        func digits(_ r: Range<Int>) -> Bool { r.upperBound <= u.count && u[r].allSatisfy { $0 >= 48 && $0 <= 57 } }
        guard u.count >= 20, digits(0..<4), u[4] == 45, digits(5..<7), u[7] == 45, digits(8..<10), u[10] == 84,
              digits(11..<13), u[13] == 58, digits(14..<16), u[16] == 58, digits(17..<19) else { return nil }
        var i = 19
        if u[i] == 46 {
            i += 1
            let start = i
            while i < u.count, u[i] >= 48, u[i] <= 57 { i += 1 }
            if i == start { return nil }
        }
        let base = String(decoding: u[0..<19], as: UTF8.self)
        guard i < u.count else { return nil }
        if u[i] == 90, i + 1 == u.count { return base + "Z" }
        guard u.count == i + 6, u[i] == 43 || u[i] == 45, digits((i + 1)..<(i + 3)), u[i + 3] == 58, digits((i + 4)..<(i + 6)) else { return nil }
        let zone = String(decoding: u[i...], as: UTF8.self)
        return base + (zone == "+00:00" || zone == "-00:00" ? "Z" : zone)
    }

    /// The metadata as sops 3.13 serialises it: keys in name order, empty fields left out.
    func node() -> Node {
        var m: [(String, Node)] = []
        let ages = keyGroups.first?.compactMap { k -> Node? in
            guard case .age(let r, let e) = k else { return nil }
            return .map([("enc", .string(e)), ("recipient", .string(r))])
        } ?? []
        if !ages.isEmpty { m.append(("age", .sequence(ages))) }
        if !encryptedRegex.isEmpty { m.append(("encrypted_regex", .string(encryptedRegex))) }
        if !encryptedSuffix.isEmpty { m.append(("encrypted_suffix", .string(encryptedSuffix))) }
        m.append(("lastmodified", .string(lastModified)))
        m.append(("mac", .string(mac)))
        if macOnlyEncrypted { m.append(("mac_only_encrypted", .bool(true))) }
        if !unencryptedRegex.isEmpty { m.append(("unencrypted_regex", .string(unencryptedRegex))) }
        if !unencryptedSuffix.isEmpty { m.append(("unencrypted_suffix", .string(unencryptedSuffix))) }
        m.append(("version", .string(version)))
        return .map(m)
    }
}

// MARK: tree

/// The branches of a loaded file (one per YAML document) and its metadata.
struct SopsTree {
    var branches: [Node]
    var metadata: SopsMetadata
}

/// Which values are encrypted (sops.Tree.shouldBeEncrypted), and the walk that encrypts or decrypts them
/// while hashing the MAC: mapping entries in order, the path made of keys only (sequence items share
/// their parent's path), null values skipped.
struct SopsWalk {
    let md: SopsMetadata
    let unencryptedRegex: Regex<AnyRegexOutput>?
    let encryptedRegex: Regex<AnyRegexOutput>?
    var hash = SHA512()
    /// Raw bytes of decrypted top-level values (the binary store keeps its file under `data`).
    var topLevel: [String: [UInt8]] = [:]
    /// The cleartext of every value that was encrypted (so that output can mask it).
    var revealed: [String] = []

    init(_ md: SopsMetadata) {
        self.md = md
        unencryptedRegex = md.unencryptedRegex.isEmpty ? nil : try? Regex(md.unencryptedRegex)
        encryptedRegex = md.encryptedRegex.isEmpty ? nil : try? Regex(md.encryptedRegex)
        if md.macOnlyEncrypted {
            // sha256("sops"): a MAC over encrypted values only never equals one over all values.
            hash.update(data: [0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
                               0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69])
        }
    }

    /// nil when the decision depends on comments (fluxs does not keep YAML comments): the value then tells.
    func shouldBeEncrypted(_ path: [String]) -> Bool? {
        var encrypted = true
        if !md.unencryptedSuffix.isEmpty, path.contains(where: { $0.hasSuffix(md.unencryptedSuffix) }) { encrypted = false }
        if !md.encryptedSuffix.isEmpty { encrypted = path.contains { $0.hasSuffix(md.encryptedSuffix) } }
        if !md.unencryptedRegex.isEmpty, let re = unencryptedRegex, path.contains(where: { $0.contains(re) }) { encrypted = false }
        if !md.encryptedRegex.isEmpty { encrypted = encryptedRegex.map { re in path.contains { $0.contains(re) } } ?? false }
        if !md.unencryptedCommentRegex.isEmpty || !md.encryptedCommentRegex.isEmpty { return nil }
        return encrypted
    }

    var macHex: String {
        var h = hash
        return h.finalize().map { b in
            let s = String(b, radix: 16, uppercase: true)
            return b < 16 ? "0" + s : s
        }.joined()
    }

    mutating func walk(_ n: Node, _ path: [String], _ leaf: (inout SopsWalk, Scalar, [String]) throws -> Node) throws -> Node {
        switch n {
        case .mapping(let m):
            var out = Mapping()
            for (k, v) in m.entries { out[k] = try walk(v, path + [k], leaf) }
            return .mapping(out)
        case .sequence(let a):
            return .sequence(try a.map { try walk($0, path, leaf) })
        case .scalar(let s):
            if s.tag == .null { return n }
            return try leaf(&self, s, path)
        }
    }

    /// Decrypts every encrypted value; returns the cleartext branch.
    mutating func decrypt(_ branch: Node, key: [UInt8]) throws -> Node {
        try walk(branch, []) { w, s, path in
            let isEnc = w.shouldBeEncrypted(path) ?? (s.tag == .string && s.value.hasPrefix("ENC[AES256_GCM,"))
            let v: SopsValue
            if isEnc {
                guard s.tag == .string || s.tag == .timestamp || s.tag == .binary else {
                    throw SopsError("Expected encrypted value as string, but got \((try? SopsValue(s))??.goType ?? "nil")")
                }
                do { v = try SopsCipher.decrypt(s.value, key: key, aad: path.joined(separator: ":") + ":") } catch let e as SopsError {
                    throw SopsError("Could not decrypt value: \(e.description)")
                }
            } else {
                guard let plain = try SopsValue(s) else { return .scalar(s) }
                v = plain
            }
            if !w.md.macOnlyEncrypted || isEnc { w.hash.update(data: v.bytes) }
            if path.count == 1, case .str(let raw) = v { w.topLevel[path[0]] = raw }
            if isEnc { w.revealed.append(String(decoding: v.bytes, as: UTF8.self)) }
            return isEnc ? v.node : .scalar(s)
        }
    }

    /// Encrypts the values the rules select; the MAC covers the cleartext.
    mutating func encrypt(_ branch: Node, key: [UInt8]) throws -> Node {
        try walk(branch, []) { w, s, path in
            guard let v = try SopsValue(s) else { return .scalar(s) }
            let isEnc = w.shouldBeEncrypted(path) ?? true
            if !w.md.macOnlyEncrypted || isEnc { w.hash.update(data: v.bytes) }
            guard isEnc else { return .scalar(s) }
            return .string(try SopsCipher.encrypt(v, key: key, aad: path.joined(separator: ":") + ":"))
        }
    }
}
