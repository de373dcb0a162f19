import FluxsKube
import FluxsKustomize
import FluxsYAML

/// What kustomize-controller (and `flux build kustomization`) does around kustomize build: generate a
/// kustomization when the path has none, layer the Flux Kustomization's spec onto it, build, substitute
/// postBuild variables, label objects with their owner, and mask SOPS-encrypted Secret values.
public struct FluxBuild {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// The Flux Kustomization object.
    public var kustomization: Node
    /// The local directory of spec.path.
    public var path: String
    public var ignorePaths: [String] = []
    public var strictSubstitute = false
    /// SOPS-encrypted Secret data is masked in output (`fluxs build`), not when the objects are applied.
    public var maskSecrets = true
    /// SOPS decryption (`spec.decryption`) with the keys of its Secret, when the caller could read them.
    public var decryption: KustomizationDecryption?
    /// Data of a postBuild.substituteFrom ConfigMap or Secret (kind, name); nil when it does not exist.
    public var lookup: ((String, String) throws -> [String: String]?)?
    /// The root every file of the build must resolve into (the artifact, or the local Git work tree); nil: unconfined.
    public var confinement: Confinement?

    public init(kustomization: Node, path: String) {
        self.kustomization = kustomization
        self.path = path
    }

    var name: String { kustomization["metadata"]?["name"]?.string ?? "" }
    var namespace: String { kustomization["metadata"]?["namespace"]?.string ?? "" }
    var spec: Node { kustomization["spec"] ?? .emptyMap }

    public func build() throws -> [Node] {
        let dir = Files.absolute(path)
        guard !path.isEmpty, Files.isDirectory(dir) else { throw Failure("invalid resource path \"\(path.isEmpty ? "" : dir)\"") }
        do { try confinement?.check(dir, entry: path, what: "path") } catch let e as KustomizeError { throw Failure("kustomize build failed: \(e.description)") }
        var parsed: [String: [Node]] = [:]
        var k = try rootKustomization(dir, parsed: &parsed)
        layer(&k)
        do { try decryption?.decryptSources(dir: dir, kustomization: k) } catch let e as KustomizationDecryption.Failure {
            throw Failure(e.description)
        }
        var docs: [Node]
        do { docs = try Kustomizer().build(dir, root: k, legacyOrder: false, files: decryption?.files ?? [:], parsed: parsed, confinedTo: confinement) } catch let e as KustomizeError {
            throw Failure("kustomize build failed: \(e.description)")
        }
        // kustomize-controller refuses objects without apiVersion, kind or name before anything else.
        for (i, d) in docs.enumerated() where (d["apiVersion"]?.string ?? "").isEmpty || (d["kind"]?.string ?? "").isEmpty || (d["metadata"]?["name"]?.string ?? "").isEmpty {
            var text = (try? YAMLEmitter().emit(d)) ?? ""
            while text.hasSuffix("\n") { text.removeLast() }
            let file = origins().dropFirst(i).first.flatMap { $0 }
            throw Failure("failed to decode Kubernetes apiVersion, kind and name from: \(text)" + (file.map { " (in \($0))" } ?? ""))
        }
        let vars = try substitutions()
        let ownerLabels = ownerLabels()
        let commonAnnotations = spec["commonMetadata"]?["annotations"]?.map?.entries ?? []
        for i in docs.indices {
            if let decryption {
                do { docs[i] = try decryption.decrypt(docs[i]) } catch let e as KustomizationDecryption.Failure { throw Failure(e.description) }
            }
            if let vars, !disabled(docs[i]) {
                do { docs[i] = try Envsubst.apply(docs[i], vars, strict: strictSubstitute) } catch let e as Envsubst.Failure {
                    throw Failure("var substitution failed for '\(docs[i]["metadata"]?["name"]?.string ?? "")': \(e.description)")
                }
            }
            FluxBuild.owner(&docs[i], labels: ownerLabels, annotations: commonAnnotations)
            if maskSecrets { docs[i] = decryption?.mask(docs[i]) ?? Masking.mask(docs[i]) }
        }
        return docs
    }

    /// flux prints each object followed by `---`.
    public static func render(_ docs: [Node]) throws -> String {
        var out = ""
        for d in docs { out += try YAMLEmitter().emit(d) + "---\n" }
        return out
    }

    // MARK: kustomization

    func rootKustomization(_ dir: String) throws -> Node {
        var parsed: [String: [Node]] = [:]
        return try rootKustomization(dir, parsed: &parsed)
    }

    /// The kustomization of `dir`; a generated one leaves in `parsed` the documents of the files it decoded (by
    /// absolute path, as the kustomize engine loads them), so the engine does not parse them again.
    func rootKustomization(_ dir: String, parsed: inout [String: [Node]]) throws -> Node {
        for f in Kustomizer.fileNames where Files.exists(dir + "/" + f) {
            do { try confinement?.check(dir + "/" + f, entry: f, what: "kustomization file") } catch let e as KustomizeError {
                throw Failure("kustomize build failed: \(e.description)")
            }
            do { return try YAML.parseLenient(bytes: try Files.read(dir + "/" + f, limit: Kustomizer.maxManifestSize), file: f) } catch {
                throw Failure("kustomize build failed: \(error)")
            }
        }
        // Generated, as fluxcd/pkg's generator does it (docs/reliability.md): the tree is walked in name order; a
        // folder with its own kustomization file is a resource and is not entered; every other .yaml/.yml file is a
        // resource and must decode as Kubernetes YAML, or the build fails naming it. Nothing is skipped.
        let extra = SourceIgnore.read(ignorePaths.joined(separator: "\n"))
        var patterns: [IgnorePattern] = []
        var resources: [Node] = []
        func confine(_ path: String, _ entry: String) throws {
            do { try confinement?.check(path, entry: entry, what: "path") } catch let e as KustomizeError {
                throw Failure("failed to generate kustomization.yaml: \(e.description)")
            }
        }
        func walk(_ rel: String) throws {
            let full = rel.isEmpty ? dir : dir + "/" + rel
            if Files.exists(full + "/.sourceignore") {
                try confine(full + "/.sourceignore", rel.isEmpty ? ".sourceignore" : rel + "/.sourceignore")
                let text: String
                do { text = try Files.readText(full + "/.sourceignore") } catch { throw Failure("failed to load ignore patterns: \(error)") }
                patterns += SourceIgnore.read(text, domain: rel.split(separator: "/").map(String.init))
            }
            let filter = SourceIgnore(userPatterns: patterns + extra)
            let names: [String]
            do { names = try Files.entries(full) } catch { throw Failure("\(error)") }
            for entry in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                let r = rel.isEmpty ? entry : rel + "/" + entry
                let isDir = Files.isDirectory(dir + "/" + r)
                if filter.ignores(r, isDir: isDir) { continue }
                try confine(dir + "/" + r, r)
                if isDir {
                    if Kustomizer.fileNames.contains(where: { Files.exists(dir + "/" + r + "/" + $0) && !Files.isDirectory(dir + "/" + r + "/" + $0) }) {
                        resources.append(.string("./" + r))
                    } else {
                        try walk(r)
                    }
                } else if entry.hasSuffix(".yaml") || entry.hasSuffix(".yml") {
                    let path = dir + "/" + r
                    do {
                        let decoded = try KubernetesYAML.decodeSharing(try Files.read(path, limit: Kustomizer.maxManifestSize))
                        if let docs = decoded.documents { parsed[Files.absolute("./" + r, relativeTo: dir)] = docs }
                    } catch let e as Files.TooLarge {
                        throw Failure("failed to decode Kubernetes YAML from \(path): \(e.description.replacing(path + ": ", with: ""))")
                    } catch {
                        throw Failure("failed to decode Kubernetes YAML from \(path): \(error)")
                    }
                    resources.append(.string("./" + r))
                }
            }
        }
        try walk("")
        var k: Node = .map([("apiVersion", "kustomize.config.k8s.io/v1beta1"), ("kind", "Kustomization")])
        k["resources"] = .sequence(resources)
        return k
    }

    /// spec.targetNamespace, namePrefix, nameSuffix, patches, components, images layered on the kustomization.
    func layer(_ k: inout Node) {
        if let ns = spec["targetNamespace"]?.string, !ns.isEmpty { k["namespace"] = .string(ns) }
        if let p = spec["namePrefix"]?.string, !p.isEmpty { k["namePrefix"] = .string(p) }
        if let s = spec["nameSuffix"]?.string, !s.isEmpty { k["nameSuffix"] = .string(s) }
        if let patches = spec["patches"]?.array, !patches.isEmpty {
            k["patches"] = .sequence((k["patches"]?.array ?? []) + patches)
        }
        if let comps = spec["components"]?.array, !comps.isEmpty {
            k["components"] = .sequence((k["components"]?.array ?? []) + comps)
        }
        if let images = spec["images"]?.array, !images.isEmpty {
            var list = k["images"]?.array ?? []
            for img in images {
                if let i = list.firstIndex(where: { $0["name"] == img["name"] }) { list[i] = img } else { list.append(img) }
            }
            k["images"] = .sequence(list)
        }
    }

    // MARK: post-build

    func substitutions() throws -> [String: String]? {
        guard let pb = spec["postBuild"] else { return nil }
        var vars: [String: String] = [:]
        for ref in pb["substituteFrom"]?.array ?? [] {
            let kind = ref["kind"]?.string ?? "", n = ref["name"]?.string ?? ""
            // Without a cluster (`build --dry-run`) substituteFrom is not read, as flux does.
            guard let lookup else { continue }
            let found: [String: String]?
            do { found = try lookup(kind, n) } catch { throw Failure("substitute from '\(kind)/\(n)' error: \(error)") }
            guard let data = found else {
                if ref["optional"]?.bool == true { continue }
                throw Failure("substitute from '\(kind)/\(n)' error: \(kind.lowercased())s \"\(n)\" not found")
            }
            for (key, v) in data { vars[key] = v.replacingNewlines() }
        }
        for (key, v) in pb["substitute"]?.map?.entries ?? [] { vars[key] = (v.text ?? "").replacingNewlines() }
        if vars.isEmpty && pb["substituteStrategy"]?.string != "Always" { return nil }
        // Every variable name must be a shell name (fluxcd/pkg's varsubRegex), or nothing is substituted.
        for key in vars.keys.sorted() where !Envsubst.isName(key) {
            throw Failure("'\(key)' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'")
        }
        return vars
    }

    func disabled(_ o: Node) -> Bool {
        let key = "kustomize.toolkit.fluxcd.io/substitute"
        return o["metadata"]?["labels"]?[key]?.string == "disabled" || o["metadata"]?["annotations"]?[key]?.string == "disabled"
    }

    func owner(_ o: inout Node) {
        FluxBuild.owner(&o, labels: ownerLabels(), annotations: spec["commonMetadata"]?["annotations"]?.map?.entries ?? [])
    }

    /// The labels every object gets, in the order they are set: spec.commonMetadata.labels, then the owner's name
    /// and namespace (which win over a commonMetadata label of the same key).
    func ownerLabels() -> [(key: String, value: Node)] {
        var labels = spec["commonMetadata"]?["labels"]?.map?.entries ?? []
        labels.append(("kustomize.toolkit.fluxcd.io/name", .string(name)))
        labels.append(("kustomize.toolkit.fluxcd.io/namespace", .string(namespace)))
        return labels
    }

    /// Sets `labels` on metadata.labels (and `annotations`, when there are any, on metadata.annotations): a
    /// metadata or labels field that is not a mapping is replaced by one. Changed in place (the labels were
    /// copied out, changed and set back along the path per object), the labels and annotations made once a build.
    static func owner(_ o: inout Node, labels: [(key: String, value: Node)], annotations: [(key: String, value: Node)]) {
        func setAll(_ field: String, _ pairs: [(key: String, value: Node)], in md: inout Mapping) {
            md.update(field, insert: true) { v in
                var m = v?.map ?? Mapping()
                v = nil
                for (k, val) in pairs { m[k] = val }
                v = .mapping(m)
            }
        }
        o.withMapping { root in
            if root["metadata"]?.map == nil { root["metadata"] = .emptyMap }
            root.withValue("metadata") { md in
                md.withMapping { m in
                    setAll("labels", labels, in: &m)
                    if !annotations.isEmpty { setAll("annotations", annotations, in: &m) }
                }
            }
        }
    }
}

extension String {
    func replacingNewlines() -> String { String(filter { $0 != "\n" && $0 != "\r" }) }
}

/// SOPS-encrypted Secret values never leave fluxs in clear or encrypted form.
public enum Masking {
    static let mask = "**SOPS**"

    /// `also`: values (decoded) to mask besides the SOPS-encrypted ones.
    public static func mask(_ o: Node, also: (String) -> Bool = { _ in false }) -> Node {
        guard o["kind"]?.string == "Secret", o["apiVersion"]?.string == "v1" else { return o }
        var s = o
        let whole = s["sops"] != nil && ((try? JSON.encode(s["sops"]!))?.contains("ENC[") == true || s["sops"]?["mac"] != nil)
        let docker = s["type"]?.string == "kubernetes.io/dockerconfigjson"
        func masked(_ v: Node, base64: Bool) -> Node {
            let text = docker ? "{\"mask\":\"**SOPS**\"}" : mask
            return .string(base64 ? Base64.encode(text) : text)
        }
        for (field, b64) in [("data", true), ("stringData", false)] {
            guard var m = s[field]?.map else { continue }
            for (k, v) in m.entries {
                let raw = b64 ? (v.string.flatMap { Base64.decode($0) }.map { String(decoding: $0, as: UTF8.self) } ?? "") : (v.string ?? "")
                if whole || (raw.contains("sops") && raw.contains("ENC[")) || also(raw) { m[k] = masked(v, base64: b64) }
            }
            s[field] = .mapping(m)
        }
        if whole { s["sops"] = nil }
        return s
    }
}

/// Flux's post-build substitution: `${var}`, `${var:=default}`, `${var:-default}`, `${var=default}`, `${var-default}`.
public enum Envsubst {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func apply(_ n: Node, _ vars: [String: String], strict: Bool) throws -> Node {
        switch n {
        case .mapping(var m):
            for k in m.keys { m[k] = try apply(m[k]!, vars, strict: strict) }
            return .mapping(m)
        case .sequence(let a):
            return .sequence(try a.map { try apply($0, vars, strict: strict) })
        case .scalar(let s):
            guard s.value.contains("${") else { return n }
            let out = try expand(s.value, vars, strict: strict)
            if out == s.value { return n }
            return .scalar(Scalar(out, tag: Resolver.resolve(plain: out), style: .plain))
        default:
            return n
        }
    }

    /// `^[_[:alpha:]][_[:alpha:][:digit:]]*$` (ASCII, as Go's regexp classes are).
    static func isName(_ s: String) -> Bool {
        func alpha(_ c: UInt8) -> Bool { c == 95 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        let u = Array(s.utf8)
        guard let f = u.first, alpha(f) else { return false }
        return u.allSatisfy { alpha($0) || ($0 >= 48 && $0 <= 57) }
    }

    public static func expand(_ s: String, _ vars: [String: String], strict: Bool) throws -> String {
        var out = ""
        var rest = Substring(s)
        while let start = rest.firstRange(of: "${") {
            out += rest[..<start.lowerBound]
            let after = rest[start.upperBound...]
            guard let close = after.firstIndex(of: "}") else { throw Failure(description: "missing closing brace") }
            let expr = String(after[..<close])
            rest = after[after.index(after: close)...]
            var name = expr, defaultValue: String?, onlyUnset = false
            for op in [":=", ":-", "=", "-"] {
                if let r = expr.firstRange(of: op) {
                    name = String(expr[..<r.lowerBound]); defaultValue = String(expr[r.upperBound...]); onlyUnset = !op.hasPrefix(":")
                    break
                }
            }
            guard isName(name) else {
                throw Failure(description: "variable name '\(name)' is invalid")
            }
            if let v = vars[name], !(v.isEmpty && !onlyUnset && defaultValue != nil) {
                out += v
            } else if let d = defaultValue {
                out += d
            } else if strict {
                throw Failure(description: "variable not set (strict mode): \"\(name)\"")
            }
        }
        out += rest
        return out
    }
}
