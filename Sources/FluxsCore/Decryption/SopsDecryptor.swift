import FluxsKube
import FluxsYAML

/// Decrypts SOPS files and documents with age identities, with kustomize-controller's messages
/// (SopsDecryptWithFormat) and, unlike kustomize-controller, the MAC check `sops decrypt` makes.
public final class SopsDecryptor {
    let identities: [Age.Identity]
    /// Entries of the decryption Secret fluxs cannot use (`*.asc`, `sops.aws-kms`, …), named when a file needs them.
    let unusable: [String]
    private var dataKeys: [String: [UInt8]] = [:]
    /// The cleartext of every encrypted value decrypted so far.
    public private(set) var revealed: Set<String> = []

    public init(identities: [Age.Identity], unusableEntries: [String] = []) {
        self.identities = identities
        self.unusable = unusableEntries
    }

    /// A cleartext file in `output` format from an encrypted file in `format`.
    public func decrypt(_ data: [UInt8], format: SopsFormat, output: SopsFormat, verifyMAC: Bool = true) throws -> [UInt8] {
        let tree: SopsTree
        do { tree = try SopsStore.load(data, format) } catch let e as SopsError {
            throw SopsError("failed to load encrypted \(format.name) data: \(e.description)")
        }
        let (branches, raw) = try decrypt(tree, verifyMAC: verifyMAC)
        do { return try SopsStore.emitPlain(branches, output, raw: raw) } catch let e as SopsError {
            throw SopsError("failed to emit encrypted \(format.name) file as decrypted \(output.name): \(e.description)")
        }
    }

    /// A document (a Kubernetes object) with its `sops` metadata, decrypted, the metadata removed.
    public func decrypt(document: Node, verifyMAC: Bool = true) throws -> Node {
        guard let meta = document["sops"] else { throw SopsError("failed to load encrypted JSON data: sops metadata not found") }
        var doc = document
        doc["sops"] = nil
        let md: SopsMetadata
        do { md = try SopsMetadata(meta) } catch let e as SopsError { throw SopsError("failed to load encrypted JSON data: \(e.description)") }
        return try decrypt(SopsTree(branches: [doc], metadata: md), verifyMAC: verifyMAC).0[0]
    }

    /// Checks the MAC of the documents of one file that carry the same `sops` metadata (a multi-document
    /// file sops encrypted as a whole), as `sops decrypt` would.
    public func verify(documents: [Node]) throws {
        guard let meta = documents.first?["sops"] else { return }
        let md: SopsMetadata
        do { md = try SopsMetadata(meta) } catch let e as SopsError { throw SopsError("failed to load encrypted YAML data: \(e.description)") }
        _ = try decrypt(SopsTree(branches: documents.map { var d = $0; d["sops"] = nil; return d }, metadata: md), verifyMAC: true)
    }

    func decrypt(_ tree: SopsTree, verifyMAC: Bool) throws -> ([Node], [String: [UInt8]]) {
        let key = try dataKey(tree.metadata)
        var walk = SopsWalk(tree.metadata)
        var out: [Node] = []
        do {
            for b in tree.branches { out.append(try walk.decrypt(b, key: key)) }
        } catch let e as SopsError {
            throw SopsError("error decrypting sops tree: Error walking tree: \(e.description)")
        }
        revealed.formUnion(walk.revealed.filter { !$0.isEmpty })
        if verifyMAC {
            let stored: SopsValue
            do { stored = try SopsCipher.decrypt(tree.metadata.mac, key: key, aad: tree.metadata.macAAD) } catch let e as SopsError {
                throw SopsError("failed to verify sops data integrity: \(e.description)")
            }
            let original = String(decoding: stored.bytes, as: UTF8.self)
            if original != walk.macHex {
                // The MAC is a hash of the cleartext: it is not printed.
                throw SopsError("failed to verify sops data integrity: \(original.isEmpty ? "the file has no MAC" : "MAC mismatch"): "
                    + "the values were changed after the file was encrypted (edit it with sops, or encrypt it again)")
            }
        }
        return (out, walk.topLevel)
    }

    // MARK: data key

    func dataKey(_ md: SopsMetadata) throws -> [UInt8] {
        let cacheKey = md.keyGroups.flatMap { $0.map(\.name) }.joined(separator: "\n") + "\n" + md.keyGroups.flatMap { g in
            g.map { if case .age(_, let e) = $0 { return e } else { return "" } }
        }.joined()
        if let k = dataKeys[cacheKey] { return k }
        if md.keyGroups.count > 1 {
            throw SopsError("cannot get sops data key: the data key is split over \(md.keyGroups.count) key groups (Shamir secret sharing), which fluxs cannot combine yet; reconcile this Kustomization with kustomize-controller")
        }
        var results: [(String, String)] = []
        for k in (md.keyGroups.first ?? []).enumerated().sorted(by: { ($0.element.order, $0.offset) < ($1.element.order, $1.offset) }).map(\.element) {
            switch k {
            case .age(_, let enc):
                if identities.isEmpty {
                    results.append((k.name, "failed to load age identities: the decryption Secret has no *.agekey entry"))
                    continue
                }
                do {
                    let key = try Age.decrypt(Array(enc.utf8), identities: identities)
                    dataKeys[cacheKey] = key
                    return key
                } catch let e as Age.Failure {
                    results.append((k.name, "failed to create reader for decrypting sops data key with age: \(e.description)"))
                }
            case .other(let kind, _):
                let hint = kind == "PGP" ? unusable.filter { $0.hasSuffix(".asc") } : unusable.filter { !$0.hasSuffix(".asc") }
                results.append((k.name, "\(kind) keys are not supported by fluxs yet"
                    + (hint.isEmpty ? "" : " (decryption Secret entries \(hint.map { "'\($0)'" }.joined(separator: ", ")) are not used)")))
            }
        }
        throw SopsError("cannot get sops data key: " + SopsDecryptor.dataKeyMessage(results))
    }

    /// getDataKeyError.UserError of sops for one key group that failed.
    static func dataKeyMessage(_ keys: [(name: String, error: String)]) -> String {
        let keyErrors = keys.map { k -> String in
            var lines = wrap(k.error, 60).split(separator: "\n", omittingEmptySubsequences: false).map { "  | " + $0 }
            if !lines.isEmpty { lines[0] = "-" + lines[0].dropFirst() }
            return "\(k.name): FAILED\n" + prefix(lines.joined(separator: "\n"), "  ")
        }
        let group = "Group 0: FAILED\n" + prefix(keyErrors.joined(separator: "\n\n"), "  ")
        let trailer = wrap("Recovery failed because no master key was able to decrypt the file. In order for SOPS to recover the file, at least one key has to be successful, but none were.", 75)
        return "Failed to get the data key required to decrypt the SOPS file.\n\n" + group + "\n\n" + trailer
    }

    /// goware/prefixer: the prefix before every line.
    static func prefix(_ s: String, _ p: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false).map { p + $0 }.joined(separator: "\n")
    }

    /// mitchellh/go-wordwrap.WrapString: break at white space so lines stay within `limit` where words allow.
    static func wrap(_ s: String, _ limit: Int) -> String {
        var out = "", word = "", space = ""
        var current = 0
        for c in s {
            if c == "\n" {
                if word.isEmpty {
                    if current + space.count <= limit { out += space }
                } else {
                    out += space + word
                }
                space = ""; word = ""
                out.append(c)
                current = 0
            } else if c.isWhitespace && c != "\u{A0}" {
                if space.isEmpty || !word.isEmpty {
                    current += space.count + word.count
                    out += space + word
                    space = ""; word = ""
                }
                space.append(c)
            } else {
                word.append(c)
                if current + word.count + space.count > limit && word.count < limit {
                    out += "\n"
                    current = 0
                    space = ""
                }
            }
        }
        if word.isEmpty {
            if current + space.count <= limit { out += space }
        } else {
            out += space + word
        }
        return out
    }
}

/// Encrypts files as `sops encrypt` does, to age recipients (fluxs uses it for its own fixtures and tests).
public struct SopsEncryptor {
    public var recipients: [Age.Recipient]
    public var unencryptedSuffix = ""
    public var encryptedSuffix = ""
    public var unencryptedRegex = ""
    public var encryptedRegex = ""
    public var macOnlyEncrypted = false
    /// RFC 3339; now when nil.
    public var lastModified: String?

    public init(recipients: [Age.Recipient]) { self.recipients = recipients }

    public func encrypt(_ plain: [UInt8], format: SopsFormat) throws -> [UInt8] {
        let branches: [Node] = format == .binary ? [.map([("data", .string(""))])] : try SopsStore.loadPlain(plain, format)
        let (out, md) = try encrypt(branches: branches, binary: format == .binary ? plain : nil)
        return try SopsStore.emitEncrypted(out, md, format)
    }

    /// Encrypted documents, each with the same `sops` metadata (what sops writes for a multi-document YAML file).
    public func encrypt(documents: [Node]) throws -> [Node] {
        let (out, md) = try encrypt(branches: documents, binary: nil)
        let meta = md.node()
        return out.map { var d = $0; d["sops"] = meta; return d }
    }

    func encrypt(branches: [Node], binary: [UInt8]?) throws -> ([Node], SopsMetadata) {
        guard !recipients.isEmpty else { throw SopsError("no age recipients to encrypt to") }
        for b in branches where b["sops"] != nil {
            throw SopsError("Found key \"sops\" in encrypted data, which is a reserved key used for SOPS metadata")
        }
        let modified = lastModified ?? FluxsKube.Clock.rfc3339()
        var md = SopsMetadata(lastModified: modified, mac: "")
        md.unencryptedSuffix = unencryptedSuffix
        md.encryptedSuffix = encryptedSuffix
        md.unencryptedRegex = unencryptedRegex
        md.encryptedRegex = encryptedRegex
        md.macOnlyEncrypted = macOnlyEncrypted
        md.version = "3.13.2"
        if [unencryptedSuffix, encryptedSuffix, unencryptedRegex, encryptedRegex].allSatisfy(\.isEmpty) { md.unencryptedSuffix = "_unencrypted" }
        let key = Random.bytes(32)
        md.keyGroups = [try recipients.map { r in
            SopsMasterKey.age(recipient: r.description, enc: String(decoding: try Age.encrypt(key, to: [r], armor: true), as: UTF8.self))
        }]
        var walk = SopsWalk(md)
        var out: [Node] = []
        if let binary {
            let encrypted = walk.shouldBeEncrypted(["data"]) ?? true
            if !md.macOnlyEncrypted || encrypted { walk.hash.update(data: binary) }
            let value = encrypted ? try SopsCipher.encrypt(.str(binary), key: key, aad: "data:") : String(decoding: binary, as: UTF8.self)
            out = [.map([("data", .string(value))])]
        } else {
            for b in branches { out.append(try walk.encrypt(b, key: key)) }
        }
        md.mac = try SopsCipher.encrypt(.str(Array(walk.macHex.utf8)), key: key, aad: md.macAAD)
        return (out, md)
    }
}
