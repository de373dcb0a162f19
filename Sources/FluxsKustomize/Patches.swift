import FluxsYAML

/// Strategic merge patches (with the merge keys of built-in types, plain merge for custom resources)
/// and JSON 6902 patches, applied to the targets kustomize would pick.
enum Patches {
    static let builtinGroups: Set<String> = ["", "apps", "batch", "extensions", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
                                             "autoscaling", "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io"]

    /// Merge keys of lists in built-in types, by field name.
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name", "env": "name",
        "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name", "hostAliases": "ip",
        "topologySpreadConstraints": "topologyKey", "conditions": "type", "subjects": "name",
    ]

    /// resWrangler.Select (api/resmap/reswrangler.go) with types.SelectorRegex: group, version, kind, name and namespace
    /// are anchored regular expressions (an invalid one is an error); the name and the namespace match the original
    /// id's or the current one's (not the ones in between), a namespace the effective one (none is `default`); the
    /// group, version and kind the current ones.
    static func select(_ res: [Resource], _ target: Node?) throws -> [Int] {
        guard let t = target else { return [] }
        func rx(_ field: String) throws -> Regex<AnyRegexOutput>? {
            guard let s = t[field]?.text, !s.isEmpty else { return nil }
            do { return try Regex("^(?:" + s + ")$") } catch { throw KustomizeError("error parsing regexp: invalid target \(field) `\(s)`: \(error)") }
        }
        let kind = try rx("kind"), name = try rx("name"), ns = try rx("namespace")
        let group = try rx("group"), version = try rx("version")
        let labelSel = t["labelSelector"]?.string, annSel = t["annotationSelector"]?.string
        func ok(_ r: Regex<AnyRegexOutput>?, _ s: String) -> Bool {
            guard let r else { return true }
            return (try? r.wholeMatch(in: s)) != nil
        }
        return res.indices.filter { i in
            let r = res[i]
            // OrgId: the first earlier id, else the current one; each namespace is effective for its own kind.
            let org = r.previous.first ?? (r.namespace, r.name, r.kind)
            if !ok(ns, r.effectiveNamespace(org.namespace, kind: org.kind)) && !ok(ns, r.effectiveNamespace(r.namespace, kind: r.kind)) { return false }
            if !ok(name, org.name) && !ok(name, r.name) { return false }
            if !ok(group, r.group) || !ok(version, r.version) || !ok(kind, r.kind) { return false }
            if let labelSel, !selector(labelSel, r.labels) { return false }
            if let annSel, !selector(annSel, r.annotations) { return false }
            return true
        }
    }

    /// Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`.
    static func selector(_ s: String, _ labels: Mapping) -> Bool {
        var terms: [String] = []
        var depth = 0, cur = ""
        for c in s {
            if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
            if c == "," && depth == 0 { terms.append(cur); cur = "" } else { cur.append(c) }
        }
        terms.append(cur)
        for raw in terms {
            let t = raw.trimming(" ")
            if t.isEmpty { continue }
            if let r = t.firstRange(of: " notin ") {
                let k = String(t[..<r.lowerBound]), vals = set(t[r.upperBound...])
                if let v = labels[k]?.text, vals.contains(v) { return false }
            } else if let r = t.firstRange(of: " in ") {
                let k = String(t[..<r.lowerBound]), vals = set(t[r.upperBound...])
                guard let v = labels[k]?.text, vals.contains(v) else { return false }
            } else if let r = t.firstRange(of: "!=") {
                if labels[String(t[..<r.lowerBound]).trimming(" ")]?.text == String(t[r.upperBound...]).trimming(" ") { return false }
            } else if let r = t.firstRange(of: "==") ?? t.firstRange(of: "=") {
                guard labels[String(t[..<r.lowerBound]).trimming(" ")]?.text == String(t[r.upperBound...]).trimming(" ") else { return false }
            } else if t.hasPrefix("!") {
                if labels[String(t.dropFirst())] != nil { return false }
            } else if labels[t] == nil {
                return false
            }
        }
        return true
    }

    static func set(_ s: Substring) -> Set<String> {
        Set(s.trimming(" ()").split(separator: ",").map { String($0).trimming(" ") })
    }

    static func strategic(_ patch: Node, target: Node?, options: Node = .emptyMap, schema: OpenAPISchema = OpenAPISchema(),
                          into res: inout [Resource]) throws {
        // A strategic merge patch looks its target's type up in the schema (SchemaForResourceType).
        schema.consultBuiltin()
        let allowNameChange = options["allowNameChange"]?.bool ?? false
        let indices: [Int]
        if target != nil {
            indices = try select(res, target)
        } else {
            // resWrangler.GetById(patch.OrgId()): any id of an object (earlier or current) equal to the patch's:
            // group, version, kind and name, and the effective namespace (none is `default`).
            let p = Resource(patch)
            let want = p.effectiveNamespace(p.namespace, kind: p.kind)
            indices = res.indices.filter { i in
                let r = res[i]
                guard r.group == p.group && r.version == p.version else { return false }
                return r.ids.contains { $0.kind == p.kind && $0.name == p.name && r.effectiveNamespace($0.namespace, kind: $0.kind) == want }
            }
            let id = p.id
            if indices.isEmpty {
                throw KustomizeError("no resource matches strategic merge patch \"\(id)\": no matches for Id \(id); failed to find unique target for patch \(id)")
            }
            if indices.count > 1 {
                throw KustomizeError("no resource matches strategic merge patch \"\(id)\": multiple matches for Id \(id); failed to find unique target for patch \(id)")
            }
        }
        var deleted: [Int] = []
        for i in indices {
            let listKeys = schema.listKeys(for: res[i])
            var p = patch
            if target != nil && !allowNameChange {
                p.set(["metadata", "name"], nil)
                if p["metadata"]?.map?.isEmpty == true { p["metadata"] = nil }
            }
            if !(options["allowKindChange"]?.bool ?? false) { p["kind"] = nil; p["apiVersion"] = nil }
            if p["$patch"]?.string == "delete" { deleted.append(i); continue }
            let keep = (res[i].name, res[i].namespace)
            // resource.go ApplySmPatch: a patch that may change the name or the kind stores the previous id first,
            // whether or not it changes anything.
            let allowKindChange = options["allowKindChange"]?.bool ?? false
            if allowNameChange || allowKindChange { res[i].remember() }
            res[i].node = merge(res[i].node, p, smp: listKeys != nil, keys: listKeys?.keys ?? mergeKeys, inferPorts: listKeys?.builtin ?? true)
            if !allowNameChange {
                // A patch names its target (perhaps by an earlier name): that does not rename it.
                res[i].name = keep.0
            }
            // Resource.ApplySmPatch: the namespace is always set back (none stays none).
            res[i].namespace = keep.1
            if !(allowNameChange || allowKindChange) && (res[i].name != keep.0 || res[i].namespace != keep.1) {
                res[i].previous.append((keep.1, keep.0, res[i].kind))
            }
        }
        for i in deleted.reversed() { res.remove(at: i) }
    }

    /// Merges `patch` into `base`: maps recursively, null deletes, `$patch: replace|delete`, lists by merge key
    /// for built-in types (replaced otherwise).
    /// `inferPorts`: `ports` lists merge by containerPort or port (the built-in kinds' keys).
    static func merge(_ base: Node, _ patch: Node, smp: Bool, field: String = "", keys: [String: String] = mergeKeys, inferPorts: Bool = true) -> Node {
        guard case .mapping(let pm) = patch else { return patch }
        guard case .mapping(var bm) = base else { return strip(patch) }
        // kyaml's merge2 walks every map field of the target: one whose value is a null written as nothing (`a:`)
        // is dropped (kubectl: `a: null` and `a: ~` stay).
        for (k, v) in bm.entries where pm[k] == nil {
            if case .scalar(let s) = v, s.tag == .null, s.value.isEmpty { bm[k] = nil } else if v.map != nil { bm[k] = dropEmptyNulls(v) }
        }
        if pm["$patch"]?.string == "replace" {
            var p = pm
            p["$patch"] = nil
            return strip(.mapping(p))
        }
        for (k, v) in pm.entries {
            if k.hasPrefix("$setElementOrder/") || k == "$patch" || k.hasPrefix("$retainKeys") || k.hasPrefix("$deleteFromPrimitiveList/") {
                if k.hasPrefix("$deleteFromPrimitiveList/"), let list = bm[String(k.dropFirst(25))]?.array, let drop = v.array {
                    bm[String(k.dropFirst(25))] = .sequence(list.filter { !drop.contains($0) })
                }
                continue
            }
            if v.isNull { bm[k] = nil; continue }
            if let b = bm[k] {
                if v.map != nil && b.map != nil {
                    if v["$patch"]?.string == "delete" { bm[k] = nil; continue }
                    bm[k] = merge(b, v, smp: smp, field: k, keys: keys, inferPorts: inferPorts)
                } else if let pa = v.array, let ba = b.array, smp {
                    bm[k] = mergeList(ba, pa, key: keys[k], field: k, keys: keys, inferPorts: inferPorts)
                } else {
                    bm[k] = strip(v)
                }
            } else {
                if v["$patch"]?.string == "delete" { continue }
                bm[k] = strip(v)
            }
        }
        return .mapping(bm)
    }

    static func mergeList(_ base: [Node], _ patch: [Node], key: String?, field: String, keys: [String: String] = mergeKeys, inferPorts: Bool = true) -> Node {
        if patch.contains(where: { $0["$patch"]?.string == "replace" }) {
            return .sequence(patch.filter { $0["$patch"]?.string != "replace" }.map(strip))
        }
        // ports: containerPort for containers, port for services.
        var key = key
        if field == "ports", inferPorts, let first = (patch.first ?? base.first) {
            key = first["containerPort"] != nil ? "containerPort" : (first["port"] != nil ? "port" : nil)
        }
        guard let key, patch.allSatisfy({ $0[key] != nil }) else { return .sequence(patch.map(strip)) }
        // Patch items first, in patch order (merged with their base item), then base items the patch does not name.
        var out: [Node] = []
        var used = Set<Int>()
        for p in patch {
            let kv = p[key]
            if let i = base.indices.first(where: { !used.contains($0) && base[$0][key] == kv }) {
                used.insert(i)
                if p["$patch"]?.string == "delete" { continue }
                out.append(merge(base[i], p, smp: true, keys: keys, inferPorts: inferPorts))
            } else if p["$patch"]?.string != "delete" {
                out.append(strip(p))
            }
        }
        for i in base.indices where !used.contains(i) { out.append(base[i]) }
        return .sequence(out)
    }

    static func dropEmptyNulls(_ n: Node) -> Node {
        guard case .mapping(var m) = n else { return n }
        for (k, v) in m.entries {
            if case .scalar(let s) = v, s.tag == .null, s.value.isEmpty { m[k] = nil } else if v.map != nil { m[k] = dropEmptyNulls(v) }
        }
        return .mapping(m)
    }

    /// Removes patch directives from a value that is added as is.
    static func strip(_ n: Node) -> Node {
        switch n {
        case .mapping(var m):
            for k in m.keys where k.hasPrefix("$") { m[k] = nil }
            for k in m.keys { m[k] = strip(m[k]!) }
            return .mapping(m)
        case .sequence(let a): return .sequence(a.filter { $0["$patch"]?.string != "delete" }.map(strip))
        default: return n
        }
    }

    // MARK: JSON 6902

    /// A JSON 6902 patch written in YAML is read by sigs.k8s.io/yaml's YAMLToJSON, which is YAML 1.1 (yaml.v2):
    /// plain `yes`, `on`, `n`, `off`, ... are booleans, also as keys (`n: 1` is `{"false": 1}`); octal `0777` a number.
    static func yaml11(_ n: Node) -> Node {
        func yes(_ s: String) -> Bool { ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"].contains(s) }
        switch n {
        case .mapping(let m):
            var out = Mapping()
            for (k, v) in m.entries {
                let key = Resolver.resolve(plain: k, yaml11: true) == .bool ? (yes(k) ? "true" : "false") : k
                out[key] = yaml11(v)
            }
            return .mapping(out)
        case .sequence(let a): return .sequence(a.map(yaml11))
        case .scalar(let s) where s.style == .plain && s.tag == .string:
            switch Resolver.resolve(plain: s.value, yaml11: true) {
            case .bool: return .bool(yes(s.value))
            case .int: return .scalar(Scalar(s.value, tag: .int))
            case .float: return .scalar(Scalar(s.value, tag: .float))
            default: return n
            }
        default: return n
        }
    }

    static func json6902(_ ops: [Node], target: Node?, yaml: Bool = true, into res: inout [Resource]) throws {
        let ops = yaml ? ops.map(yaml11) : ops
        let indices = try select(res, target)
        if indices.isEmpty { return }
        for i in indices {
            var doc = res[i].node
            for op in ops {
                guard let o = op["op"]?.string, let path = op["path"]?.string else {
                    throw KustomizeError("invalid JSON patch operation: \(try JSON.encode(op))")
                }
                let p = try pointer(path)
                switch o {
                case "add": doc = try apply(doc, p, .add(op["value"] ?? .null))
                case "replace": doc = try apply(doc, p, .replace(op["value"] ?? .null))
                case "remove": doc = try apply(doc, p, .remove)
                case "test":
                    guard let v = get(doc, p), v == (op["value"] ?? .null) else { throw KustomizeError("testing value \(path) failed") }
                case "move", "copy":
                    guard let from = op["from"]?.string, let v = get(doc, try pointer(from)) else { throw KustomizeError("\(o): 'from' path not found") }
                    if o == "move" { doc = try apply(doc, try pointer(from), .remove) }
                    doc = try apply(doc, p, .add(v))
                default: throw KustomizeError("unexpected JSON patch operation '\(o)'")
                }
            }
            let old = (res[i].namespace, res[i].name, res[i].kind)
            // The object's JSON parsed again: annotation values that are not strings take their JSON text, which the
            // final string conversion of annotations keeps (`0x10` becomes "16").
            // transformJson6902 then writes the annotations back with SetAnnotations: ones that are not a mapping
            // (a patch made them a string or null) are gone.
            if case .mapping(var anns)? = doc["metadata"]?["annotations"] {
                for (k, v) in anns.entries { if case .scalar(let s) = v { anns[k] = .scalar(s.jsonRoundTripped) } }
                doc.set(["metadata", "annotations"], .mapping(anns))
            } else if doc["metadata"]?["annotations"] != nil, case .mapping(var meta)? = doc["metadata"] {
                meta["annotations"] = nil
                doc["metadata"] = .mapping(meta)
            }
            res[i].node = doc
            // kustomize applies JSON patches to the object's JSON and parses it again: no shared value nodes remain.
            res[i].aliases = ValueAliases()
            if res[i].name != old.1 || res[i].namespace != old.0 || res[i].kind != old.2 { res[i].previous.append(old) }
        }
    }

    static func pointer(_ p: String) throws -> [String] {
        if p.isEmpty { return [] }
        guard p.hasPrefix("/") else { throw KustomizeError("JSON pointer '\(p)' must start with '/'") }
        return p.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).replacingTilde()
        }
    }

    static func get(_ n: Node, _ p: [String]) -> Node? {
        var cur: Node? = n
        for k in p {
            if let a = cur?.array { guard let i = Int(k), i >= 0, i < a.count else { return nil }; cur = a[i] } else { cur = cur?[k] }
        }
        return cur
    }

    enum Op { case add(Node), replace(Node), remove }

    static func apply(_ n: Node, _ p: [String], _ op: Op) throws -> Node {
        guard let k = p.first else {
            if case .add(let v) = op { return v }
            if case .replace(let v) = op { return v }
            throw KustomizeError("cannot remove the document root")
        }
        let rest = Array(p.dropFirst())
        switch n {
        case .mapping(var m):
            if rest.isEmpty {
                switch op {
                case .add(let v): m[k] = v
                case .replace(let v):
                    // evanphx/json-patch v4 (kustomize's): a missing key of an object is looked up as null, not an error.
                    m[k] = v
                case .remove:
                    guard m[k] != nil else { throw KustomizeError("error in remove for path: '/\(p.joined(separator: "/"))': Unable to remove nonexistent key: \(k): missing value") }
                    m[k] = nil
                }
                return .mapping(m)
            }
            guard let child = m[k] else { throw KustomizeError("doc is missing path: /\(p.joined(separator: "/"))") }
            m[k] = try apply(child, rest, op)
            return .mapping(m)
        case .sequence(var a):
            let i = k == "-" ? a.count : (Int(k) ?? -1)
            if rest.isEmpty {
                switch op {
                case .add(let v):
                    guard i >= 0 && i <= a.count else { throw KustomizeError("add operation does not apply: index \(k) out of range") }
                    a.insert(v, at: i)
                case .replace(let v):
                    guard i >= 0 && i < a.count else { throw KustomizeError("replace operation does not apply: index \(k) out of range") }
                    a[i] = v
                case .remove:
                    guard i >= 0 && i < a.count else { throw KustomizeError("remove operation does not apply: index \(k) out of range") }
                    a.remove(at: i)
                }
                return .sequence(a)
            }
            guard i >= 0 && i < a.count else { throw KustomizeError("doc is missing path: index \(k) out of range") }
            a[i] = try apply(a[i], rest, op)
            return .sequence(a)
        default:
            throw KustomizeError("doc is missing path: /\(p.joined(separator: "/"))")
        }
    }
}

extension String {
    func replacingTilde() -> String {
        var out = ""
        var it = makeIterator()
        while let c = it.next() {
            if c == "~" {
                let n = it.next()
                out.append(n == "1" ? "/" : n == "0" ? "~" : "~")
            } else { out.append(c) }
        }
        return out
    }
}

