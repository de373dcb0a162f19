import FluxsYAML

/// sops's stores: how each format holds the tree and the metadata (YAML and JSON: a `sops` mapping in the
/// first document; dotenv: `sops_`-prefixed keys, flattened with `__map_`/`__list_`; binary: a JSON envelope
/// whose `data` value is the whole file).
enum SopsStore {
    /// LoadPlainFile: the branches of a cleartext file.
    static func loadPlain(_ data: [UInt8], _ format: SopsFormat) throws -> [Node] {
        switch format {
        case .yaml:
            let docs: [Node]
            do { docs = try YAML.parseAll(bytes: data) } catch { throw SopsError("Error unmarshaling input YAML: \(error)") }
            return try docs.map { d in
                if d.isNull { return .emptyMap }
                if d.array != nil { throw SopsError("Error unmarshaling input YAML: YAML documents that are sequences are not supported") }
                guard d.map != nil else { throw SopsError("Error unmarshaling input YAML: YAML documents that are values are not supported") }
                return d
            }
        case .json, .binary:
            if format == .binary { throw SopsError("internal: binary plain files are bytes") }
            let n: Node
            do { n = try JSON.decode(bytes: data) } catch { throw SopsError("Could not unmarshal input data: \(error)") }
            guard n.map != nil else {
                throw SopsError("Could not unmarshal input data: SOPS only supports JSON files with a top-level object (starting with '{')")
            }
            return [n]
        case .dotenv:
            var m = Mapping()
            var n = 0
            for raw in data.split(separator: 10, omittingEmptySubsequences: false) {
                n += 1
                if raw.isEmpty || raw.first == UInt8(ascii: "#") { continue }
                guard let eq = raw.firstIndex(of: UInt8(ascii: "=")) else {
                    throw SopsError("invalid dotenv input line \(n): no '='")
                }
                let key = String(decoding: raw[raw.startIndex..<eq], as: UTF8.self)
                let value = String(decoding: raw[(eq + 1)...], as: UTF8.self).replacingAll("\\n", with: "\n")
                m[key] = .string(value)
            }
            return [.mapping(m)]
        case .ini:
            throw SopsError("INI files are not supported by fluxs yet")
        }
    }

    /// LoadEncryptedFile: the branches without metadata, and the metadata.
    static func load(_ data: [UInt8], _ format: SopsFormat) throws -> SopsTree {
        var branches = try loadPlain(data, format == .binary ? .json : format)
        let metaNode: Node
        if format == .dotenv {
            var meta = Mapping()
            var m = branches[0].map ?? Mapping()
            for (k, v) in m.entries where k.hasPrefix("sops_") {
                meta[String(k.dropFirst(5))] = v
                m[k] = nil
            }
            branches[0] = .mapping(m)
            if meta.isEmpty { throw SopsError("sops metadata not found") }
            metaNode = try Flatten.unflatten(meta)
        } else {
            guard let first = branches.first?["sops"] else { throw SopsError("sops metadata not found") }
            metaNode = first
            for i in branches.indices { branches[i]["sops"] = nil }
        }
        return SopsTree(branches: branches, metadata: try SopsMetadata(metaNode))
    }

    /// EmitPlainFile.
    static func emitPlain(_ branches: [Node], _ format: SopsFormat, raw: [String: [UInt8]] = [:]) throws -> [UInt8] {
        switch format {
        case .yaml:
            return Array(try YAMLEmitter(sortKeys: false).emit(documents: branches).utf8)
        case .json:
            guard let first = branches.first else { return [] }
            return try JSON.encodeBytes(first, options: JSON.Options(indent: "\t")) + [10]
        case .binary:
            guard branches.count == 1 else { throw SopsError("error emitting binary store: there must be exactly one tree branch") }
            guard let v = branches[0]["data"] else { throw SopsError("error emitting binary store: no binary data found in tree") }
            guard v.string != nil else { throw SopsError("error emitting binary store: 'data' key in tree does not have a string value") }
            return raw["data"] ?? Array((v.string ?? "").utf8)
        case .dotenv:
            var out = ""
            for (k, v) in branches.first?.map?.entries ?? [] {
                if v.map != nil || v.array != nil { throw SopsError("cannot use complex value in dotenv file; offending key \(k)") }
                out += k + "=" + dotenvValue(v) + "\n"
            }
            return Array(out.utf8)
        case .ini:
            throw SopsError("INI files are not supported by fluxs yet")
        }
    }

    /// stores.ValToString for non-strings; strings with newlines escaped.
    static func dotenvValue(_ v: Node) -> String {
        guard case .scalar(let s) = v else { return "" }
        switch s.tag {
        case .float:
            // strconv.FormatFloat(v, 'G', -1, 64), with ".0" when that reads as an integer.
            let d = Resolver.parseFloat(s.value) ?? 0
            if !d.isFinite { return Resolver.goFormatFloatFixed(d) }
            let r = Resolver.goFormatFloat(d).uppercased()
            return r.contains(".") || r.contains("E") ? r : r + ".0"
        case .bool: return ["true", "True", "TRUE"].contains(s.value) ? "true" : "false"
        case .int: return Resolver.parseGoInt(s.value).map { String($0) } ?? s.value
        case .null: return "<nil>"
        default: return s.value.replacingAll("\n", with: "\\n")
        }
    }

    /// EmitEncryptedFile: the encrypted branches with the metadata.
    static func emitEncrypted(_ branches: [Node], _ md: SopsMetadata, _ format: SopsFormat) throws -> [UInt8] {
        let meta = md.node()
        switch format {
        case .dotenv:
            var m = branches.first?.map ?? Mapping()
            for (k, v) in Flatten.flatten(meta, prefix: "sops_") { m[k] = v }
            return try emitPlain([.mapping(m)], .dotenv)
        case .binary, .json:
            var b = branches
            b[0]["sops"] = meta
            return try emitPlain(b, .json)
        case .yaml:
            return try emitPlain(branches.map { var d = $0; d["sops"] = meta; return d }, .yaml)
        case .ini:
            throw SopsError("INI files are not supported by fluxs yet")
        }
    }
}

/// stores/flatten.go: nested metadata as flat keys (`age__list_0__map_enc`).
enum Flatten {
    static let mapSeparator = "__map_", listSeparator = "__list_"

    static func flatten(_ n: Node, prefix: String) -> [(String, Node)] {
        var out: [(String, Node)] = []
        func descend(_ v: Node, _ key: String) {
            switch v {
            case .mapping(let m): for (k, c) in m.entries { descend(c, key + mapSeparator + k) }
            case .sequence(let a): for (i, c) in a.enumerated() { descend(c, key + listSeparator + String(i)) }
            case .scalar: out.append((key, v))
            }
        }
        for (k, v) in n.map?.entries ?? [] { descend(v, prefix + k) }
        return out
    }

    enum Token: Hashable { case key(String), index(Int) }

    static func tokenize(_ path: String) -> [Token] {
        var tokens: [Token] = []
        var state = 0  // 0 normal, 1 map, 2 list
        let u = Array(path.utf8)
        let ms = Array(mapSeparator.utf8), ls = Array(listSeparator.utf8)
        var last = 0, i = 0
        func finish() {
            switch state {
            case 0: tokens.append(.key(String(decoding: u[last..<i], as: UTF8.self)))
            case 1: tokens.append(.key(String(decoding: u[(last + ms.count)..<i], as: UTF8.self)))
            default: tokens.append(.index(Int(String(decoding: u[(last + ls.count)..<i], as: UTF8.self)) ?? 0))
            }
            last = i
        }
        while i < u.count {
            if u[i...].starts(with: ms) { finish(); state = 1; i += ms.count } else if u[i...].starts(with: ls) { finish(); state = 2; i += ls.count } else { i += 1 }
        }
        finish()
        return tokens
    }

    final class Tree {
        var value: Node?
        var keys: [String: Tree] = [:]
        var indices: [Int: Tree] = [:]
    }

    static func unflatten(_ m: Mapping) throws -> Node {
        let root = Tree()
        for (k, v) in m.entries {
            var t = root
            for tok in tokenize(k) {
                switch tok {
                case .key(let s): if t.keys[s] == nil { t.keys[s] = Tree() }; t = t.keys[s]!
                case .index(let i): if t.indices[i] == nil { t.indices[i] = Tree() }; t = t.indices[i]!
                }
            }
            if t.value != nil { throw SopsError("Error while unflattening \"\(k)\": Duplicate value") }
            t.value = v
        }
        func convert(_ t: Tree) throws -> Node {
            let kinds = (t.value != nil ? 1 : 0) + (t.keys.isEmpty ? 0 : 1) + (t.indices.isEmpty ? 0 : 1)
            if kinds > 1 { throw SopsError("Error while unflattening: Type mismatch") }
            if let v = t.value { return v }
            if !t.keys.isEmpty { return .map(try t.keys.keys.sorted().map { ($0, try convert(t.keys[$0]!)) }) }
            if t.indices.isEmpty { return .emptyMap }
            let n = t.indices.count
            guard t.indices.keys.min() == 0, t.indices.keys.max() == n - 1 else { throw SopsError("Error while unflattening: Incomplete list") }
            return .sequence(try (0..<n).map { try convert(t.indices[$0]!) })
        }
        return try convert(root)
    }
}
