import FluxsKube
import FluxsYAML

/// configMapGenerator and secretGenerator, with generatorOptions and behavior create/merge/replace.
enum Generators {
    static func run(_ k: Node, dir: String, configuredIn: String, config: FieldConfig, into res: inout [Resource]) throws {
        let global = k["generatorOptions"]
        for g in k["configMapGenerator"]?.array ?? [] { try generate(g, kind: "ConfigMap", global: global, dir: dir, configuredIn: configuredIn, config: config, into: &res) }
        for g in k["secretGenerator"]?.array ?? [] { try generate(g, kind: "Secret", global: global, dir: dir, configuredIn: configuredIn, config: config, into: &res) }
    }

    static func generate(_ g: Node, kind: String, global: Node?, dir: String, configuredIn: String, config: FieldConfig, into res: inout [Resource]) throws {
        guard let name = g["name"]?.string, !name.isEmpty else { throw KustomizeError("a \(kind) generator needs a name") }
        let ns = g["namespace"]?.string ?? ""
        var data: [(String, String)] = []
        /// File contents that are not UTF-8: a ConfigMap's binaryData, a Secret's data (kustomize's utf8.Valid test).
        var binary: [(String, [UInt8])] = []
        func add(_ key: String, _ value: String) throws {
            if data.contains(where: { $0.0 == key }) || binary.contains(where: { $0.0 == key }) {
                throw KustomizeError("configmap \(name) illegally repeats the key `\(key)`")
            }
            data.append((key, value))
        }
        // api/kv: env files, then literals, then files (a repeated key is an error whichever came first).
        for envKey in ["envs", "env"] {
            let files: [String] = envKey == "env" ? (g["env"]?.string.map { [$0] } ?? []) : (g["envs"]?.array?.compactMap(\.string) ?? [])
            for f in files {
                for (k, v) in try envPairs(try readBytes(f, dir: dir, config: config), file: f) { try add(k, v) }
            }
        }
        for l in g["literals"]?.array?.compactMap(\.string) ?? [] {
            // parseLiteralSource: a leading '=' or no '=' is an error; removeQuotes strips one matching pair of
            // quotes (byte compare, first byte " or ').
            guard let eq = l.firstIndex(of: "="), eq != l.startIndex else {
                throw KustomizeError("loading KV pairs: literal sources: invalid literal source \(l), expected key=value (\(kind) generator \(name))")
            }
            var v = String(l[l.index(after: eq)...])
            let u = Array(v.utf8)
            if u.count >= 2, u[0] == u[u.count - 1], u[0] == UInt8(ascii: "\"") || u[0] == UInt8(ascii: "'") {
                v = String(decoding: u[1..<(u.count - 1)], as: UTF8.self)
            }
            try add(String(l[..<eq]), v)
        }
        for f in g["files"]?.array?.compactMap(\.string) ?? [] {
            // generators.ParseFileSource: no '=' names the key after the file; one '=' splits key and path; a
            // missing key or path, or more than one '=', is an error.
            var key = String(f.split(separator: "/").last ?? Substring(f))
            var path = f
            let eqs = f.filter { $0 == "=" }.count
            if eqs > 1 { throw KustomizeError("loading KV pairs: file sources: source \"\(f)\" key name or file path contains '='") }
            if let eq = f.firstIndex(of: "=") {
                key = String(f[..<eq]); path = String(f[f.index(after: eq)...])
                if key.isEmpty { throw KustomizeError("loading KV pairs: file sources: missing key name for file path \"\(path)\" in source \"\(f)\"") }
                if path.isEmpty { throw KustomizeError("loading KV pairs: file sources: missing file path for key name \"\(key)\" in source \"\(f)\"") }
            }
            let bytes = try readBytes(path, dir: dir, config: config)
            if let text = String(validating: bytes, as: UTF8.self) {
                try add(key, text)
            } else {
                try add(key, "")
                data.removeLast()
                binary.append((key, bytes))
            }
        }
        var meta: [(String, Node)] = [("name", .string(name))]
        if !ns.isEmpty { meta.append(("namespace", .string(ns))) }
        let opts = g["options"]
        var labels = Mapping(), annotations = Mapping()
        // types.MergeGlobalOptionsIntoLocal: generatorOptions' labels and annotations override the generator's own;
        // disableNameSuffixHash and immutable are true when either says so.
        for o in [opts, global] {
            for (k, v) in o?["labels"]?.map?.entries ?? [] { labels[k] = v }
            for (k, v) in o?["annotations"]?.map?.entries ?? [] { annotations[k] = v }
        }
        if !labels.isEmpty { meta.append(("labels", .mapping(labels))) }
        if !annotations.isEmpty { meta.append(("annotations", .mapping(annotations))) }
        var obj: [(String, Node)] = [("apiVersion", "v1"), ("kind", .string(kind)), ("metadata", .map(meta))]
        let sorted = data.sorted { $0.0 < $1.0 }
        if kind == "Secret" {
            let all = (data.map { ($0.0, Array($0.1.utf8)) } + binary).sorted { $0.0 < $1.0 }
            // LoadMapIntoSecretData creates `data` even when there is nothing in it.
            obj.append(("data", .map(all.map { ($0.0, .string(wrappedBase64($0.1))) })))
            obj.append(("type", .string(g["type"]?.string ?? "Opaque")))
        } else {
            if !sorted.isEmpty { obj.append(("data", .map(sorted.map { ($0.0, .string($0.1)) }))) }
            if !binary.isEmpty { obj.append(("binaryData", .map(binary.sorted { $0.0 < $1.0 }.map { ($0.0, .string(wrappedBase64($0.1))) }))) }
        }
        let immutable = (opts?["immutable"]?.bool ?? false) || (global?["immutable"]?.bool ?? false)
        if immutable { obj.append(("immutable", true)) }
        var r = Resource(.map(obj))
        let disable = (opts?["disableNameSuffixHash"]?.bool ?? false) || (global?["disableNameSuffixHash"]?.bool ?? false)
        let behavior = g["behavior"]?.string ?? "create"
        r.generated = GeneratorInfo(behavior: behavior, disableNameSuffixHash: disable)
        r.origin = generatorOrigin(configuredIn: configuredIn, kind: kind + "Generator")
        r.needsHash = !disable
        // resWrangler.appendReplaceOrMerge: the objects whose current or any earlier id equals the generator's
        // (same kind, name and namespace, "" and "default" alike).
        func sameNamespace(_ a: String, _ b: String) -> Bool { (a.isEmpty ? "default" : a) == (b.isEmpty ? "default" : b) }
        let matching = res.indices.filter { i in
            res[i].kind == kind && res[i].group.isEmpty && res[i].version == "v1"
                && ([(res[i].namespace, res[i].name)] + res[i].previous.map { ($0.namespace, $0.name) }).contains { $0.1 == name && sameNamespace($0.0, ns) }
        }
        if matching.count > 1 {
            throw KustomizeError("found multiple objects \(matching.map { res[$0].id }) that could accept merge of \(r.id)")
        }
        let existing = matching.first
        // types.NewGenerationBehavior: anything but merge or replace (an unknown word too) behaves as create.
        guard behavior == "merge" || behavior == "replace" else {
            if existing != nil { throw KustomizeError("merging from generator: id \(r.id) exists; behavior must be merge or replace") }
            res.append(r)
            return
        }
        do {
            guard let i = existing else {
                throw KustomizeError("id \(r.id) does not exist; cannot merge or replace")
            }
            // appendReplaceOrMerge: the new object takes the old one's name, namespace, and labels and annotations
            // (its own win); merge also keeps the old data and binaryData under the new.
            var target = res[i]
            var merged = r.node
            merged.set(["metadata", "name"], .string(target.name))
            merged.set(["metadata", "namespace"], target.namespace.isEmpty ? nil : .string(target.namespace))
            var l = target.labels
            for (k, v) in labels.entries { l[k] = v }
            merged.set(["metadata", "labels"], l.isEmpty ? nil : .mapping(l))
            var a = target.annotations
            for (k, v) in annotations.entries { a[k] = v }
            merged.set(["metadata", "annotations"], a.isEmpty ? nil : .mapping(a))
            if behavior == "merge" {
                for field in ["data", "binaryData"] {
                    var d = target.node[field]?.map ?? Mapping()
                    for (k, v) in r.node[field]?.map?.entries ?? [] { d[k] = v }
                    if !d.isEmpty { merged[field] = .mapping(d) }
                }
            }
            target.node = merged
            if target.generated == nil { target.generated = r.generated }
            // merge keeps the old object's origin when it has one; replace takes the generator's.
            if behavior == "replace" || target.origin == nil { target.origin = r.origin }
            // The name keeps no hash suffix when either the old object or the merging generator disables it.
            target.needsHash = target.needsHash && !disable
            res[i] = target
        }
    }

    /// api/kv keyValuesFromLines: bufio.ScanLines lines (a trailing CR dropped; a line of 64 KiB or more ends the
    /// scan silently, as kustomize ignores the scanner's error); invalid UTF-8 is an error; the first line loses a
    /// BOM; leading Unicode white space is trimmed; empty lines and '#' comments are skipped; the key is up to the
    /// first '=' (no '=': the value is empty; an empty key: the line is skipped).
    static func envPairs(_ bytes: [UInt8], file: String) throws -> [(String, String)] {
        var out: [(String, String)] = []
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        while start < bytes.count {
            let nl = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
            var line = bytes[start..<(nl ?? bytes.count)]
            if line.count >= 65536 { break }
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            lines.append(line)
            start = (nl ?? bytes.count) + 1
        }
        for (n, raw) in lines.enumerated() {
            guard var text = String(validating: raw, as: UTF8.self) else {
                throw KustomizeError("loading KV pairs: env source files: [\(file)]: line \(n + 1) has invalid utf8 bytes")
            }
            if n == 0, text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
            let scalars = text.unicodeScalars.drop { $0.properties.isWhitespace }
            let t = String(String.UnicodeScalarView(scalars))
            if t.isEmpty || t.hasPrefix("#") { continue }
            let key: String, value: String
            if let eq = t.firstIndex(of: "=") { key = String(t[..<eq]); value = String(t[t.index(after: eq)...]) } else { key = t; value = "" }
            if key.isEmpty { continue }
            out.append((key, value))
        }
        return out
    }

    /// A file of a kustomization (patch, generator source, configuration, schema): inside the kustomization's
    /// directory (kustomize's load restriction) and inside the build's confinement root; from memory when the
    /// build was given it (decrypted SOPS files).
    /// Text that is not UTF-8 is refused naming the file (kustomize parses these files as YAML, which fails).
    static func read(_ file: String, dir: String, config: FieldConfig) throws -> String {
        guard let text = String(validating: try readBytes(file, dir: dir, config: config), as: UTF8.self) else {
            throw KustomizeError("\(file): invalid UTF-8; kustomize reads this file as YAML text (save it as UTF-8)")
        }
        return text
    }

    static func readBytes(_ file: String, dir: String, config: FieldConfig) throws -> [UInt8] {
        let path = Files.absolute(file, relativeTo: dir)
        try config.confinement?.check(path, entry: file, what: "file")
        guard inOrBelow(path, dir) else {
            throw KustomizeError("security; file '\(path)' is not in or below '\(dir)'")
        }
        if let content = config.files[path] { return content }
        do { return try Files.read(path) } catch let e as Files.Failure where !e.isNotFound {
            throw KustomizeError("unable to read '\(file)': \(e)")
        } catch {
            throw KustomizeError("evalsymlink failure on '\(path)' : lstat \(path): no such file or directory")
        }
    }
}

/// kustomize's secret data encoding: base64 in lines of 70 characters, each ending in a newline, when longer than one line.
func wrappedBase64(_ s: String) -> String { wrappedBase64(Array(s.utf8)) }

func wrappedBase64(_ bytes: [UInt8]) -> String {
    let enc = Array(Base64.encode(bytes))
    let lines = enc.count / 70 + 1
    if lines <= 1 { return String(enc) }
    var out = ""
    var i = 0
    while i < enc.count {
        out += String(enc[i..<min(i + 70, enc.count)]) + "\n"
        i += 70
    }
    return out
}

/// Name suffix hashes of generated ConfigMaps and Secrets, computed as kustomize computes them.
enum Hasher {
    static func addHashes(_ res: inout [Resource]) throws {
        for i in res.indices where res[i].needsHash {
            let h = try hash(res[i].node)
            res[i].remember()
            res[i].name = res[i].name + "-" + h
        }
    }

    /// kustomize looks the name up with a path it cannot find ("metadata/name" as one key), so the name
    /// always hashes as "", and a missing data map as "" too; this keeps suffixes independent of prefixes.
    static func hash(_ n: Node) throws -> String {
        let kind = n["kind"]?.string ?? ""
        func sortedMap(_ v: Node?) -> Node {
            guard var m = v?.map else { return v.map { $0.map == nil ? $0 : .emptyMap } ?? .string("") }
            m.sortKeys(by: <)
            return .mapping(m)
        }
        var m: [(String, Node)] = [("data", sortedMap(n["data"])), ("kind", .string(kind)), ("name", "")]
        if kind == "ConfigMap", n["binaryData"]?.map != nil { m.append(("binaryData", sortedMap(n["binaryData"]))) }
        if kind == "Secret" {
            if n["stringData"]?.map != nil { m.append(("stringData", sortedMap(n["stringData"]))) }
            m.append(("type", .string(n["type"]?.string ?? "")))
        }
        let sortedNode = Node.map(m.sorted { $0.0 < $1.0 })
        let json = try JSON.encode(sortedNode)
        let hex = Hashing.sha256Hex(json)
        var enc = Array(hex.prefix(10))
        for i in enc.indices {
            switch enc[i] {
            case "0": enc[i] = "g"
            case "1": enc[i] = "h"
            case "3": enc[i] = "k"
            case "a": enc[i] = "m"
            case "e": enc[i] = "t"
            default: break
            }
        }
        return String(enc)
    }
}
