#if canImport(Glibc)
import Glibc
#endif
import FluxsKube
import FluxsYAML

/// Cleartext values fluxs decrypted during one command, so that printed output can mask them (shared by the
/// builds of a recursive build or diff).
public final class SopsRevealed {
    public private(set) var values: Set<String> = []
    public init() {}

    func add(_ v: String) { if !v.isEmpty { values.insert(v) } }

    /// A decrypted value, or text that embeds one (six characters or more, to keep short values from masking
    /// unrelated text).
    public func contains(_ text: String) -> Bool {
        if text.isEmpty || values.isEmpty { return false }
        return values.contains(text) || values.contains { $0.count >= 6 && text.contains($0) }
    }

    /// The live and built objects of a drift report with every value that holds decrypted text masked on both
    /// sides (`***`).
    public func mask(live: Node, built: Node) -> (Node, Node) {
        func walk(_ a: Node?, _ b: Node) -> (Node?, Node) {
            switch b {
            case .mapping(let mb):
                var outA = a?.map, outB = Mapping()
                for (k, v) in mb.entries {
                    let (x, y) = walk(a?[k], v)
                    outB[k] = y
                    if let x { outA?[k] = x }
                }
                return (outA.map { .mapping($0) } ?? a, .mapping(outB))
            case .sequence(let lb):
                let la = a?.array
                var outA = la
                var outB: [Node] = []
                for (i, v) in lb.enumerated() {
                    let (x, y) = walk(la.flatMap { i < $0.count ? $0[i] : nil }, v)
                    outB.append(y)
                    if let x, outA != nil, i < outA!.count { outA![i] = x }
                }
                return (outA.map { .sequence($0) } ?? a, .sequence(outB))
            case .scalar(let s):
                guard s.tag == .string, self.contains(s.value) else { return (a, b) }
                return (a == nil ? nil : .string("***"), .string("***"))
            }
        }
        let (l, b) = walk(live, built)
        return (l ?? live, b)
    }
}

/// What kustomize-controller's decryptor (internal/decryptor) does around a build, for `spec.decryption`
/// `{provider: sops, secretRef}` (docs/sops.md):
/// - keys: the `*.agekey` entries of the decryption Secret are age identities;
/// - before the build, the files of secretGenerators (`files`, `envs`) and `patches[].path` of every kustomization
///   reachable through `resources` and `components` are decrypted when they carry the SOPS marker of their format;
///   fluxs serves the cleartext to the kustomize engine from memory (the controller rewrites the files in its
///   temporary copy), so nothing decrypted is written anywhere;
/// - after the build, every object with `sops.mac` is decrypted, and every `data` value of a Secret that holds a
///   SOPS file (recognised by its marker), unless annotated `kustomize.toolkit.fluxcd.io/decrypt: disabled`.
/// fluxs also checks the MAC of every encrypted resource file as the source holds it (the controller does not).
public final class KustomizationDecryption {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        /// Already worded for the user (not a source decryption step).
        var final = false
        public init(_ d: String) { description = d }
        init(final d: String) { description = d; final = true }
    }

    let decryptor: SopsDecryptor
    /// Files are decrypted only inside this directory (symlinks resolved); "/" when unconfined.
    let root: String
    public let revealed: SopsRevealed
    /// Absolute path → cleartext, for the kustomize engine.
    public private(set) var files: [String: [UInt8]] = [:]
    /// Objects decrypted whole (`Kind/namespace/name`): every value of theirs is masked in output.
    var decryptedObjects = Set<String>()
    static let maxFileSize = 5 << 20
    static let disabledAnnotation = "kustomize.toolkit.fluxcd.io/decrypt"

    public init(identities: [Age.Identity], unusableEntries: [String] = [], root: String?, revealed: SopsRevealed = SopsRevealed()) {
        decryptor = SopsDecryptor(identities: identities, unusableEntries: unusableEntries)
        let r = root.map { Files.absolute($0) } ?? "/"
        self.root = KustomizationDecryption.realPath(r) ?? r
        self.revealed = revealed
    }

    /// The decryption of a Flux Kustomization: nil without `spec.decryption`; the keys from its Secret.
    public static func load(for kustomization: Node, kube: KubeClient, root: String?, revealed: SopsRevealed = SopsRevealed()) throws -> KustomizationDecryption? {
        guard let d = kustomization["spec"]?["decryption"], !d.isNull else { return nil }
        let provider = d["provider"]?.string ?? ""
        guard provider == "sops" else { throw Failure("decryption provider '\(provider)' is not supported, must be one of: sops") }
        guard let name = d["secretRef"]?["name"]?.string, !name.isEmpty else {
            return KustomizationDecryption(identities: [], root: root, revealed: revealed)
        }
        let ns = kustomization["metadata"]?["namespace"]?.string ?? ""
        let data: [String: String]?
        do { data = try kube.stringData(of: .secrets, namespace: ns, name: name) } catch let e as KubeError {
            throw Failure("cannot get sops decryption Secret '\(ns)/\(name)': \(e.message)")
        }
        guard let data else { throw Failure("secrets \"\(name)\" not found") }
        let (ids, unusable) = try keys(data, secret: "\(ns)/\(name)")
        return KustomizationDecryption(identities: ids, unusableEntries: unusable, root: root, revealed: revealed)
    }

    /// ImportKeys: `*.agekey` entries are age key files; PGP keys (`*.asc`) and cloud credentials are kept as names.
    public static func keys(_ data: [String: String], secret: String) throws -> ([Age.Identity], [String]) {
        var ids: [Age.Identity] = [], unusable: [String] = []
        for name in data.keys.sorted() {
            let ext = name.lastIndex(of: ".").map { String(name[$0...]) } ?? ""
            if ext == ".agekey" {
                do { ids += try Age.parseIdentities(data[name] ?? "") } catch {
                    throw Failure("failed to import '\(name)' data from sops decryption Secret '\(secret)': failed to parse and add to age identities: \(error)")
                }
            } else if ext == ".asc" || ["sops.vault-token", "sops.aws-kms", "sops.azure-kv", "sops.gcp-kms"].contains(name) {
                unusable.append(name)
            }
        }
        return (ids, unusable)
    }

    // MARK: sources

    /// DecryptSources from `dir`, whose kustomization is `kustomization` (flux's generated or layered one); the
    /// cleartext of each file is in `files` afterwards. Errors are `error decrypting sources: …`.
    public func decryptSources(dir: String, kustomization: Node) throws {
        var visited = Set<String>(), done = Set<String>()
        do { try recurse(Files.absolute(dir), kustomization, &visited, &done) } catch let e as Failure where !e.final {
            throw Failure("error decrypting sources: \(e.description)")
        }
    }

    func recurse(_ path: String, _ given: Node?, _ visited: inout Set<String>, _ done: inout Set<String>) throws {
        guard let abs = secure(path) else { return }
        if visited.contains(abs) { return }
        visited.insert(abs)
        guard Files.isDirectory(abs) else { return }   // a file or nothing: kustomize decides
        let k = try given ?? loadKustomization(abs)
        try visit(abs, k, &done)
        for entry in (k["resources"]?.array ?? []) + (k["components"]?.array ?? []) {
            guard let s = entry.string else { continue }
            let p = s.hasPrefix("/") ? s : Files.absolute(s, relativeTo: abs)
            if let real = secure(p), !Files.isDirectory(real), Files.exists(real) {
                try verifyResourceFile(real)
                continue
            }
            try recurse(p, nil, &visited, &done)
        }
    }

    func loadKustomization(_ dir: String) throws -> Node {
        var found: String?
        for name in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
            let p = dir + "/" + name
            var st = stat()
            guard lstat(p, &st) == 0 else { continue }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw Failure("expected \(name) to be a regular file") }
            if found != nil { throw Failure("found multiple kustomization files") }
            found = p
        }
        guard let file = found else { throw Failure("no kustomization file found") }
        do { return try YAML.parseLenient(try Files.readText(file), file: file) } catch {
            throw Failure("failed to unmarshal kustomization file from '\(relative(file))': \(error)")
        }
    }

    func visit(_ dir: String, _ k: Node, _ done: inout Set<String>) throws {
        for g in k["secretGenerator"]?.array ?? [] {
            for f in g["files"]?.array?.compactMap(\.string) ?? [] {
                let key = f.firstIndex(of: "=").map { String(f[..<$0]) } ?? f
                let file = f.firstIndex(of: "=").map { String(f[f.index(after: $0)...]) } ?? f
                try decryptFile(file, in: dir, format: KustomizationDecryption.format(key), &done)
            }
            for e in g["envs"]?.array?.compactMap(\.string) ?? [] {
                let f = SopsFormat.forPath(e)
                try decryptFile(e, in: dir, format: f == .binary ? .dotenv : f, &done)
            }
        }
        for p in k["patches"]?.array ?? [] {
            guard let path = p["path"]?.string, !path.isEmpty, !KustomizationDecryption.isRemote(path) else { continue }
            try decryptFile(path, in: dir, format: KustomizationDecryption.format(path), &done)
        }
    }

    /// sopsDecryptFile: a regular file (symlinks followed inside the root) of at most 5 MiB, decrypted when it
    /// carries the marker of its format.
    func decryptFile(_ source: String, in dir: String, format: SopsFormat, _ done: inout Set<String>) throws {
        let joined = source.hasPrefix("/") ? source : Files.absolute(source, relativeTo: dir)
        guard let real = secure(joined) else { throw Failure("'\(source)': the file is not inside the source") }
        if done.contains(real) { return }
        var st = stat()
        guard lstat(real, &st) == 0 else { throw Failure("lstat \(relative(joined)): no such file or directory") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw Failure("cannot decrypt irregular file as it has file mode type bits set") }
        guard Int(st.st_size) <= KustomizationDecryption.maxFileSize else {
            throw Failure("cannot decrypt file with size (\(st.st_size) bytes) exceeding limit (\(KustomizationDecryption.maxFileSize))")
        }
        let data: [UInt8]
        do { data = try Files.read(real) } catch { throw Failure("\(relative(joined)): \(error)") }
        guard data.containsBytes(Array(format.marker.utf8)) else { return }
        let out: [UInt8]
        do { out = try decryptor.decrypt(data, format: format, output: format) } catch let e as SopsError {
            throw Failure("'\(relative(joined))': \(e.description)")
        }
        reveal()
        revealed.add(String(decoding: out, as: UTF8.self))
        files[real] = out
        files[joined] = out
        done.insert(real)
    }

    /// The MAC of a resource file's SOPS documents (those with the same metadata belong together), checked while
    /// the file is as sops wrote it. Other problems are left to the decryption after the build, which names the
    /// object as kustomize-controller does.
    func verifyResourceFile(_ path: String) throws {
        guard let data = try? Files.read(path), data.count <= 64 << 20,
              data.containsBytes(Array(SopsFormat.yaml.marker.utf8)) || data.containsBytes(Array(SopsFormat.json.marker.utf8)),
              let docs = try? YAML.parseDocuments(String(decoding: data, as: UTF8.self)) else { return }
        var groups: [(Node, [Node])] = []
        for d in docs where KustomizationDecryption.isEncrypted(d) && !KustomizationDecryption.disabled(d) {
            if let i = groups.firstIndex(where: { $0.0 == d["sops"]! }) { groups[i].1.append(d) } else { groups.append((d["sops"]!, [d])) }
        }
        for (_, members) in groups {
            do { try decryptor.verify(documents: members) } catch let e as SopsError {
                if e.description.hasPrefix("failed to verify sops data integrity") {
                    throw Failure(final: "decryption failed for '\(relative(path))': \(e.description)")
                }
            }
        }
    }

    // MARK: resources

    /// DecryptResource for one built object.
    public func decrypt(_ o: Node) throws -> Node {
        if KustomizationDecryption.disabled(o) { return o }
        let kind = o["kind"]?.string ?? "", name = o["metadata"]?["name"]?.string ?? "", ns = o["metadata"]?["namespace"]?.string ?? ""
        let av = o["apiVersion"]?.string ?? ""
        let group = av.contains("/") ? String(av.split(separator: "/")[0]) : ""
        let version = av.contains("/") ? String(av.split(separator: "/").last!) : av
        let gvk = [group.isEmpty ? "~G" : group, version.isEmpty ? "~V" : version, kind.isEmpty ? "~K" : kind].joined(separator: "_")
        let prefix = "decryption failed for '\(gvk)/\(name)': failed to decrypt and format '\(ns)/\(name)'"
        if KustomizationDecryption.isEncrypted(o) {
            do {
                let out = try decryptor.decrypt(document: o, verifyMAC: false)
                reveal()
                decryptedObjects.insert("\(kind)/\(ns)/\(name)")
                return out
            } catch let e as SopsError {
                throw Failure("\(prefix) \(kind) data: \(e.description)")
            }
        }
        guard kind == "Secret", var data = o["data"]?.map else { return o }
        var changed = false
        for (key, v) in data.entries {
            guard let s = v.string, let raw = Base64.decode(s), let input = SopsFormat.detect(raw) else { continue }
            do {
                let out = try decryptor.decrypt(raw, format: input, output: KustomizationDecryption.format(key))
                reveal()
                revealed.add(String(decoding: out, as: UTF8.self))
                data[key] = .string(Base64.encode(out))
                changed = true
            } catch let e as SopsError {
                throw Failure("\(prefix) Secret field '\(key)': \(e.description)")
            }
        }
        guard changed else { return o }
        var out = o
        out["data"] = .mapping(data)
        return out
    }

    /// An object for printing: Secrets decrypted whole have every value masked, other values that hold decrypted
    /// text are masked too (`**SOPS**`, as flux masks SOPS Secrets), and SOPS Secrets left encrypted as flux does.
    public func mask(_ o: Node) -> Node {
        let kind = o["kind"]?.string ?? ""
        let id = "\(kind)/\(o["metadata"]?["namespace"]?.string ?? "")/\(o["metadata"]?["name"]?.string ?? "")"
        if kind == "Secret", o["apiVersion"]?.string == "v1" {
            let all = decryptedObjects.contains(id)
            return Masking.mask(o) { all || self.revealed.contains($0) }
        }
        return maskScalars(o)
    }

    func maskScalars(_ n: Node) -> Node {
        switch n {
        case .mapping(let m):
            var out = Mapping()
            for (k, v) in m.entries { out[k] = maskScalars(v) }
            return .mapping(out)
        case .sequence(let a): return .sequence(a.map(maskScalars))
        case .scalar(let s): return s.tag == .string && revealed.contains(s.value) ? .string(Masking.mask) : n
        }
    }

    // MARK: helpers

    func reveal() { for v in decryptor.revealed { revealed.add(v) } }

    static func isEncrypted(_ o: Node) -> Bool {
        guard let mac = o["sops"]?["mac"] else { return false }
        return !mac.isNull
    }

    static func disabled(_ o: Node) -> Bool {
        (o["metadata"]?["annotations"]?[disabledAnnotation]?.string ?? "").lowercased() == "disabled"
    }

    /// kustomize-controller's formatForPath: `.dockerconfigjson` is JSON, else by extension.
    static func format(_ path: String) -> SopsFormat { path.hasSuffix(".dockerconfigjson") ? .json : SopsFormat.forPath(path) }

    /// A URL with a scheme and a host (patches from remote URLs are not decrypted).
    static func isRemote(_ p: String) -> Bool {
        guard let r = p.firstRange(of: "://") else { return false }
        return !p[..<r.lowerBound].isEmpty && !p[r.upperBound...].prefix { $0 != "/" }.isEmpty
    }

    /// The resolved path when it is inside the root (securejoin keeps paths in the root).
    func secure(_ path: String) -> String? {
        let resolved = KustomizationDecryption.realPath(path) ?? path
        if root == "/" || resolved == root || resolved.hasPrefix(root + "/") { return resolved }
        return nil
    }

    func relative(_ p: String) -> String {
        if root != "/", p.hasPrefix(root + "/") { return String(p.dropFirst(root.count + 1)) }
        return p
    }

    static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }
}
