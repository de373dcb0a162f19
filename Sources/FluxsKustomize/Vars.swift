import FluxsYAML

/// Legacy `vars`: `$(NAME)` in string fields is replaced by a field of a named object, resolved after all
/// names are final (kustomize's ResolveVars, api/internal/accumulator/resaccumulator.go).
final class VarSet {
    struct Var {
        var name: String
        var kind: String
        var objName: String
        var group: String
        var version: String
        var namespace: String
        var fieldPath: String
        var level: String

        /// types.Var printed with %v: `{NAME Kind.version.group {fieldpath}}`.
        var described: String {
            "{\(name) \(kind.isEmpty ? "[noKind]" : kind).\(version.isEmpty ? "[noVer]" : version).\(group.isEmpty ? "[noGrp]" : group) {\(fieldPath)}}"
        }
    }
    var vars: [Var] = []

    /// A level's vars are read before its transformers run; they are matched after (MergeVars, see `pin`).
    func add(_ k: Node, level: String) throws {
        for v in k["vars"]?.array ?? [] {
            guard let name = v["name"]?.string, let obj = v["objref"], let kind = obj["kind"]?.string, let objName = obj["name"]?.string else {
                throw KustomizeError("var is missing name or objref: \(try JSON.encode(v))")
            }
            // Target.GVK: apiVersion `g/v` or `v`; without one the objref's own group and version (usually none).
            var group = obj["group"]?.string ?? "", version = obj["version"]?.string ?? ""
            if let av = obj["apiVersion"]?.string, !av.isEmpty {
                let parts = av.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                if parts.count == 2 { group = parts[0]; version = parts[1] } else if parts.count == 1 { version = parts[0] }
            }
            if vars.contains(where: { $0.name == name }) {
                throw KustomizeError("var '\(name)' already encountered")
            }
            let fieldPath = (v["fieldref"]?["fieldPath"] ?? v["fieldref"]?["fieldpath"])?.string ?? ""
            vars.append(Var(name: name, kind: kind, objName: objName, group: group, version: version,
                            namespace: obj["namespace"]?.string ?? "", fieldPath: fieldPath.isEmpty ? "metadata.name" : fieldPath,
                            level: level))
        }
    }

    /// ResAccumulator.MergeVars after a level's transformers: each var of the level is matched against every id
    /// (earlier or current) of the objects there: group, version, kind and name equal, and the effective
    /// namespace when the objref names one or the type is cluster-scoped. More than one object is "found N resId
    /// matches"; one is tagged with the var's name; none leaves the var unresolvable ("cannot be mapped"). Then the
    /// names join the build's set: a name seen before is "already encountered".
    func pin(level: String, _ res: inout [Resource]) throws {
        for v in vars where v.level == level {
            let clusterScoped = clusterScopedTypes.contains((v.group.isEmpty ? v.version : v.group + "/" + v.version) + " " + v.kind)
            func effective(_ ns: String) -> String { ns.isEmpty ? "default" : ns }
            let matched = res.indices.filter { i in
                let r = res[i]
                guard r.group == v.group && r.version == v.version else { return false }
                return r.ids.contains { id in
                    id.kind == v.kind && id.name == v.objName && (clusterScoped || v.namespace.isEmpty || effective(id.namespace) == effective(v.namespace))
                }
            }
            if matched.count > 1 {
                throw KustomizeError("found \(matched.count) resId matches for var \(v.described) (unable to disambiguate)")
            }
            if let i = matched.first { res[i].refVarNames.append(v.name) }
        }
    }

    /// kustomize's default varReference field specs (api/internal/konfig/builtinpluginconsts/varreference.go, v5): `$(VAR)` is
    /// replaced only there and in `configurations:` varReference entries.
    static let defaultReferences: [FieldSpec] = {
        var out: [FieldSpec] = []
        let pod = ["containers/args", "containers/command", "containers/env/value", "containers/volumeMounts/mountPath",
                   "initContainers/args", "initContainers/command", "initContainers/env/value", "initContainers/volumeMounts/mountPath"]
        for p in pod { out.append(FieldSpec(kind: "CronJob", path: "spec/jobTemplate/spec/template/spec/" + p)) }
        out.append(FieldSpec(kind: "CronJob", path: "spec/jobTemplate/spec/template/volumes/nfs/server"))   // sic, upstream
        for kind in ["DaemonSet", "Deployment"] {
            for p in pod + ["volumes/nfs/server"] { out.append(FieldSpec(kind: kind, path: "spec/template/spec/" + p)) }
        }
        out.append(FieldSpec(kind: "Deployment", path: "spec/template/metadata/annotations"))
        for p in ["spec/rules/host", "spec/tls/hosts", "spec/tls/secretName"] { out.append(FieldSpec(kind: "Ingress", path: p)) }
        for p in pod + ["volumes/nfs/server"] { out.append(FieldSpec(kind: "Job", path: "spec/template/spec/" + p)) }
        for p in pod + ["volumes/nfs/server"] { out.append(FieldSpec(kind: "Pod", path: "spec/" + p)) }
        for p in pod + ["volumes/nfs/server"] { out.append(FieldSpec(kind: "ReplicaSet", path: "spec/template/spec/" + p)) }
        for p in ["spec/ports/port", "spec/ports/targetPort"] { out.append(FieldSpec(kind: "Service", path: p)) }
        for p in pod { out.append(FieldSpec(kind: "StatefulSet", path: "spec/template/spec/" + p)) }
        out.append(FieldSpec(kind: "StatefulSet", path: "spec/volumeClaimTemplates/spec/nfs/server"))
        out.append(FieldSpec(kind: "PersistentVolume", path: "spec/nfs/server"))
        out.append(FieldSpec(kind: nil, path: "metadata/labels"))
        out.append(FieldSpec(kind: nil, path: "metadata/annotations"))
        return out
    }()

    func resolve(_ res: inout [Resource], references extra: [FieldSpec] = []) throws {
        guard !vars.isEmpty else { return }
        // makeVarReplacementMap: the first object tagged with the var's name, the field's value (GetFieldValue:
        // strings, ints, floats and bools; a map or a list leaves `$(NAME)` as it is).
        var values: [String: Scalar] = [:]
        for v in vars {
            guard let r = res.first(where: { $0.refVarNames.contains(v.name) }) else {
                throw KustomizeError("var '\(v.described)' cannot be mapped to a field in the set of known resources")
            }
            guard let value = Self.field(r.node, v.fieldPath) else {
                throw KustomizeError("field specified in var '\(v.described)' not found in corresponding resource")
            }
            if case .scalar(let sc) = value { values[v.name] = sc.tag == .null ? Scalar(sc.value, tag: .string) : sc }
        }
        let specs = Self.defaultReferences + extra
        for i in res.indices {
            for spec in specs where spec.applies(to: res[i]) {
                var failed = false
                FieldSpec.visit(&res[i].node, spec.path[...], create: false) { v in
                    guard let n = v else { return }
                    // refvar.Filter.set: a string scalar is replaced; in a map each string value (others and nested
                    // maps are left); in a list every item must be a string.
                    switch n {
                    case .scalar: v = Self.replace(n, values)
                    case .mapping(var m):
                        for (k, x) in m.entries { if case .scalar = x { m[k] = Self.replace(x, values) } }
                        v = .mapping(m)
                    case .sequence(let a):
                        guard a.allSatisfy({ $0.scalarValue?.tag == .string }) else { failed = true; return }
                        v = .sequence(a.map { Self.replace($0, values) })
                    default: break
                    }
                }
                if failed {
                    let last = spec.path.last ?? ""
                    throw KustomizeError("considering field '\(spec.path.joined(separator: "/"))' of object \(res[i].id): visit traversal on path: [\(last)]: invalid value type expect a string")
                }
            }
        }
    }

    /// `metadata.name`, `spec.ports[0].protocol`, `data.key`.
    static func field(_ n: Node, _ path: String) -> Node? {
        var cur: Node? = n
        for seg in path.split(separator: ".") {
            var s = Substring(seg)
            var index: Int?
            if let b = s.firstIndex(of: "["), s.hasSuffix("]") {
                index = Int(s[s.index(after: b)..<s.index(before: s.endIndex)])
                s = s[..<b]
            }
            cur = cur?[String(s)]
            if let index { cur = cur?[index] }
        }
        return cur
    }

    static func replace(_ n: Node, _ values: [String: Scalar], top: Bool = false, key: String = "") -> Node {
        switch n {
        case .mapping(var m):
            for k in m.keys {
                if top && (k == "apiVersion" || k == "kind") { continue }
                if top && k == "metadata" {
                    // kustomize's varReference covers metadata/labels and metadata/annotations, not the rest of metadata.
                    guard case .mapping(var meta)? = m[k] else { continue }
                    for mk in ["labels", "annotations"] { if let v = meta[mk] { meta[mk] = replace(v, values, key: mk) } }
                    m[k] = .mapping(meta)
                    continue
                }
                m[k] = replace(m[k]!, values, key: k)
            }
            return .mapping(m)
        case .sequence(let a):
            return .sequence(a.map { replace($0, values, key: key) })
        case .scalar(let s):
            // refvar.Filter.setScalar: only string scalars; DoReplacements (api/filters/refvar/expand.go): `$$` is one
            // `$`, `$(NAME)` the value (an unknown name stays `$(NAME)`), a `$` before anything else stays.
            guard s.tag == .string, s.value.contains("$") else { return n }
            let b = Array(s.value.utf8)
            var out: [UInt8] = []
            var i = 0
            while i < b.count {
                guard b[i] == UInt8(ascii: "$"), i + 1 < b.count else { out.append(b[i]); i += 1; continue }
                let next = b[i + 1]
                if next == UInt8(ascii: "$") { out.append(next); i += 2; continue }
                if next == UInt8(ascii: "("), let close = b[(i + 2)...].firstIndex(of: UInt8(ascii: ")")) {
                    let name = String(decoding: b[(i + 2)..<close], as: UTF8.self)
                    if let v = values[name] {
                        // The whole value one variable: the variable's type is kept (refvar updateNodeValue).
                        if i == 0 && close == b.count - 1 { return .scalar(Scalar(v.value, tag: v.tag)) }
                        out += Array(v.value.utf8)
                    } else {
                        out += Array("$(\(name))".utf8)
                    }
                    i = close + 1
                    continue
                }
                out.append(b[i]); out.append(next); i += 2
            }
            let text = String(decoding: out, as: UTF8.self)
            return text == s.value ? n : .string(text)
        default:
            return n
        }
    }
}
