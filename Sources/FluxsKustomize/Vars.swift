import FluxsYAML

/// Legacy `vars`: `$(NAME)` in string fields is replaced by a field of a named object, resolved after all
/// names are final (kustomize's ResolveVars).
final class VarSet {
    struct Var {
        var name: String
        var kind: String
        var objName: String
        var apiVersion: String?
        var namespace: String?
        var fieldPath: String
        /// The name and namespace of the one matching object where the var was declared, after that level's transformers.
        var pinned: (name: String, namespace: String)?
        var level: String
    }
    var vars: [Var] = []

    func add(_ k: Node, level: String) throws {
        for v in k["vars"]?.array ?? [] {
            guard let name = v["name"]?.string, let obj = v["objref"], let kind = obj["kind"]?.string, let objName = obj["name"]?.string else {
                throw KustomizeError("var is missing name or objref: \(try JSON.encode(v))")
            }
            if vars.contains(where: { $0.name == name }) {
                throw KustomizeError("var '\(name)' already encountered")
            }
            vars.append(Var(name: name, kind: kind, objName: objName, apiVersion: obj["apiVersion"]?.string,
                            namespace: obj["namespace"]?.string, fieldPath: (v["fieldref"]?["fieldPath"] ?? v["fieldref"]?["fieldpath"])?.string ?? "metadata.name",
                            pinned: nil, level: level))
        }
    }

    /// After a level's transformers: vars declared there that match exactly one object there are pinned to it.
    func pin(level: String, _ res: [Resource]) {
        for i in vars.indices where vars[i].level == level && vars[i].pinned == nil {
            let m = candidates(vars[i], res)
            if m.count == 1 { vars[i].pinned = (m[0].name, m[0].namespace) }
        }
    }

    func candidates(_ v: Var, _ res: [Resource]) -> [Resource] {
        res.filter { r in
            r.kind == v.kind && (r.name == v.objName || r.previous.contains { $0.name == v.objName })
                && (v.apiVersion == nil || v.apiVersion == r.apiVersion || v.apiVersion!.hasSuffix("/" + r.version) && r.group.isEmpty == false || v.apiVersion == r.version)
                && (v.namespace == nil || v.namespace == r.namespace || r.previous.contains { $0.namespace == v.namespace })
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
        var values: [String: Scalar] = [:]
        for v in vars {
            var matches = candidates(v, res)
            if matches.count > 1, let p = v.pinned {
                matches = matches.filter { r in (r.name == p.name && r.namespace == p.namespace) || r.previous.contains { $0.name == p.name && $0.namespace == p.namespace } }
            }
            guard let r = matches.first else {
                throw KustomizeError("var '\(v.name)' cannot be mapped to a field in the set of known resources")
            }
            if matches.count > 1 {
                throw KustomizeError("found \(matches.count) resId matches for var \(v.name) (unable to disambiguate)")
            }
            guard let value = Self.field(r.node, v.fieldPath) else {
                throw KustomizeError("field specified in var '\(v.name)' not found in corresponding resource")
            }
            values[v.name] = value
        }
        let specs = Self.defaultReferences + extra
        for i in res.indices {
            for spec in specs where spec.applies(to: res[i]) {
                FieldSpec.visit(&res[i].node, spec.path[...], create: false) { v in
                    if let n = v { v = Self.replace(n, values) }
                }
            }
        }
    }

    /// `metadata.name`, `spec.ports[0].protocol`, `data.key`.
    static func field(_ n: Node, _ path: String) -> Scalar? {
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
        guard let c = cur, case .scalar(let sc) = c else { return nil }
        return sc
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
