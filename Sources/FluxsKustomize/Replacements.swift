import FluxsKube
import FluxsYAML

/// `replacements`: copy a field of one object into fields of others (kustomize's ReplacementTransformer).
enum Replacements {
    static func run(_ k: Node, dir: String, config: FieldConfig, into res: inout [Resource]) throws {
        for entry in k["replacements"]?.array ?? [] {
            var list: [Node] = [entry]
            if let path = entry["path"]?.string {
                let text = try Generators.read(path, dir: dir, config: config)
                list = try YAML.parseDocuments(text).flatMap { $0.array ?? [$0] }
            }
            for r in list { try apply(r, &res) }
        }
    }

    static func apply(_ r: Node, _ res: inout [Resource]) throws {
        // replacement.go Filter: a replacement without a source or without targets is refused.
        guard let source = r["source"], r["targets"] != nil, r["targets"]?.isNull != true else {
            throw KustomizeError("replacements must specify a source and at least one target")
        }
        let candidates = res.indices.filter { select(res[$0], source) }
        guard let si = candidates.first else {
            throw KustomizeError("nothing selected by \(describe(source))")
        }
        if candidates.count > 1 { throw KustomizeError("multiple matches for selector \(describe(source))") }
        let sourcePath = source["fieldPath"]?.string ?? "metadata.name"
        guard var value = get(res[si].node, parse(sourcePath)) else {
            throw KustomizeError("fieldPath `\(sourcePath)` is missing for replacement source \(res[si].id)")
        }
        if let opts = source["options"], let delim = opts["delimiter"]?.string, case .scalar(let s) = value {
            let parts = s.value.components(separatedBy: delim)
            let idx = opts["index"]?.int ?? 0
            guard idx >= 0 && idx < parts.count else { throw KustomizeError("options.index \(idx) is out of bounds for value \(s.value)") }
            value = .string(parts[idx])
        }
        for t in r["targets"]?.array ?? [] {
            guard let sel = t["select"] else { throw KustomizeError("target must specify resources to select") }
            let rejects = t["reject"]?.array ?? []
            // applyReplacement: a target without fieldPaths replaces metadata.name.
            var paths = (t["fieldPaths"]?.array?.compactMap(\.string) ?? [])
            if paths.isEmpty { paths = ["metadata.name"] }
            let opts = t["options"]
            for i in res.indices where select(res[i], sel) && !rejects.contains(where: { select(res[i], $0) }) {
                for p in paths {
                    let create = opts?["create"]?.bool ?? false
                    var v = value
                    if let delim = opts?["delimiter"]?.string, case .scalar(let sv) = value {
                        let cur = get(res[i].node, parse(p))?.string ?? ""
                        var parts = cur.components(separatedBy: delim)
                        let idx = opts?["index"]?.int ?? 0
                        if idx < 0 { parts.insert(sv.value, at: 0) } else if idx >= parts.count { parts.append(sv.value) } else { parts[idx] = sv.value }
                        v = .string(parts.joined(separator: delim))
                    }
                    let before = (res[i].name, res[i].namespace)
                    guard let updated = try set(res[i].node, parse(p), v, create: create) else {
                        if create { throw KustomizeError("unable to find or create field \"\(p)\" in replacement target") }
                        throw KustomizeError("unable to find field \"\(p)\" in replacement target")
                    }
                    res[i].node = updated
                    if res[i].name != before.0 || res[i].namespace != before.1 { res[i].previous.append((before.1, before.0, res[i].kind)) }
                }
            }
        }
    }

    static func describe(_ sel: Node) -> String {
        (try? JSON.encode(sel)) ?? "selector"
    }

    static func select(_ r: Resource, _ sel: Node) -> Bool {
        if let k = sel["kind"]?.string, k != r.kind && !r.previous.contains(where: { $0.kind == k }) { return false }
        if let n = sel["name"]?.string, n != r.name && !r.previous.contains(where: { $0.name == n }) { return false }
        if let ns = sel["namespace"]?.string, ns != r.namespace && !r.previous.contains(where: { $0.namespace == ns }) { return false }
        if let g = sel["group"]?.string, g != r.group { return false }
        if let v = sel["version"]?.string, v != r.version { return false }
        if let l = sel["labelSelector"]?.string, !Patches.selector(l, r.labels) { return false }
        if let a = sel["annotationSelector"]?.string, !Patches.selector(a, r.annotations) { return false }
        return true
    }

    enum Seg { case key(String), index(Int), match(String, String), all }

    /// `spec.template.spec.containers.[name=app].image`, `spec.containers.0.image`, `data.*`.
    static func parse(_ p: String) -> [Seg] {
        var segs: [String] = []
        var cur = "", depth = 0
        for c in p {
            if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
            if c == "." && depth == 0 { segs.append(cur); cur = "" } else { cur.append(c) }
        }
        segs.append(cur)
        return segs.map { s in
            if s == "*" { return .all }
            if s.hasPrefix("[") && s.hasSuffix("]") {
                let inner = s.dropFirst().dropLast()
                if let eq = inner.firstIndex(of: "=") { return .match(String(inner[..<eq]), String(inner[inner.index(after: eq)...])) }
                return .key(String(inner))
            }
            if let i = Int(s) { return .index(i) }
            return .key(s)
        }
    }

    static func get(_ n: Node, _ p: [Seg]) -> Node? {
        var cur: Node? = n
        for s in p {
            switch s {
            case .key(let k): cur = cur?[k]
            case .index(let i): cur = cur?[i]
            case .match(let k, let v): cur = cur?.array?.first { $0[k]?.text == v }
            case .all: cur = cur?.array?.first
            }
        }
        return cur
    }

    /// Sets the value at the path; nil when the path does not exist and may not be created.
    static func set(_ n: Node, _ p: [Seg], _ v: Node, create: Bool) throws -> Node? {
        guard let s = p.first else {
            // setFieldValue: a scalar target keeps its node (tag and style) and takes the value only, so "3" put
            // in `replicas: 1` stays an int and 3 put in a ConfigMap's data stays a string.
            // A value the kept tag cannot hold fails when kustomize decodes the object again, in yaml.v3's words.
            if case .scalar(var old) = n, case .scalar(let new) = v {
                old.value = new.value
                let resolved = Resolver.resolve(plain: new.value)
                if old.tag != .string && resolved != old.tag && !(old.tag == .float && resolved == .int) {
                    func name(_ t: ScalarTag) -> String { t == .string ? "str" : "\(t)" }
                    throw KustomizeError("map[string]interface {}(nil): yaml: cannot decode !!\(name(resolved)) `\(new.value)` as a !!\(name(old.tag))")
                }
                return .scalar(old)
            }
            return v
        }
        let rest = Array(p.dropFirst())
        switch s {
        case .key(let k):
            guard case .mapping(var m) = n else { return nil }
            if let child = m[k] {
                guard let c = try set(child, rest, v, create: create) else { return nil }
                m[k] = c
            } else {
                guard create else { return nil }
                guard let c = try set(.emptyMap, rest, v, create: create) else { return nil }
                m[k] = c
            }
            return .mapping(m)
        case .index(let i):
            guard case .sequence(var a) = n, i >= 0, i < a.count, let c = try set(a[i], rest, v, create: create) else { return nil }
            a[i] = c
            return .sequence(a)
        case .match(let k, let val):
            guard case .sequence(var a) = n else { return nil }
            var found = false
            for i in a.indices where a[i][k]?.text == val {
                guard let c = try set(a[i], rest, v, create: create) else { return nil }
                a[i] = c
                found = true
            }
            return found ? .sequence(a) : nil
        case .all:
            guard case .sequence(var a) = n else { return nil }
            for i in a.indices { if let c = try set(a[i], rest, v, create: create) { a[i] = c } }
            return .sequence(a)
        }
    }
}

extension String {
    func components(separatedBy sep: String) -> [String] {
        guard !sep.isEmpty else { return [self] }
        return split(separator: sep, omittingEmptySubsequences: false).map(String.init)
    }
}
