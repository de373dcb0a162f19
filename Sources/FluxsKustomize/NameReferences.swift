import FluxsYAML

/// After prefixes, suffixes and hashes changed names, references to the renamed objects follow them
/// (a subset of kustomize's name reference table: ConfigMaps, Secrets, ServiceAccounts, PVCs, Services, roles).
enum NameReferences {
    static func nsEquals(_ a: String, _ b: String) -> Bool { (a.isEmpty ? "default" : a) == (b.isEmpty ? "default" : b) }

    /// kustomize's selection of the object a reference names (api/filters/nameref): among the objects the
    /// referrer may refer to, those once called `old`, of the target kind, in the referrer's namespace (service
    /// accounts and cluster-scoped kinds excepted); then the ones renamed with the referrer's prefixes and
    /// suffixes. Several left that differ is an error, as in kustomize.
    struct Referrals {
        let res: [Resource]
        let referrer: Resource
        let pool: [Int]

        init(_ res: [Resource], _ i: Int) throws {
            self.res = res
            referrer = res[i]
            if Transformers.isClusterScoped(referrer) { pool = Array(res.indices); return }
            var bindingNamespaces: Set<String> = []
            if referrer.kind == "RoleBinding" {
                for s in referrer.node["subjects"]?.array ?? [] {
                    guard let ns = s.map?["namespace"], s["kind"]?.string == "ServiceAccount" else { continue }
                    guard let n = ns.string else {
                        throw KustomizeError("Invalid Input: namespace is blank for resource \"\(referrer.id)\"")
                    }
                    bindingNamespaces.insert(n)
                }
            }
            let referrer = self.referrer
            pool = res.indices.filter { j in
                let t = res[j]
                return Transformers.isClusterScoped(t) || nsEquals(t.namespace, referrer.namespace) || bindingNamespaces.contains(t.namespace)
            }
        }

        static func sameEnding(_ a: [String], _ b: [String]) -> Bool {
            let (short, long) = a.count <= b.count ? (a, b) : (b, a)
            if short.isEmpty { return long.isEmpty }
            return Array(long.suffix(short.count)) == short
        }

        func affixesEqual(_ r: Resource, allowEmpty: Bool) -> Bool {
            let o = referrer
            if allowEmpty {
                return (r.prefixes.isEmpty || o.prefixes.isEmpty || Self.sameEnding(r.prefixes, o.prefixes))
                    && (r.suffixes.isEmpty || o.suffixes.isEmpty || Self.sameEnding(r.suffixes, o.suffixes))
            }
            return Self.sameEnding(r.prefixes, o.prefixes) && Self.sameEnding(r.suffixes, o.suffixes)
        }

        func select(_ old: String, kind: String, group: String?, field: String, within: [Int], sameNamespace: Bool) throws -> Resource? {
            var c = within.map { res[$0] }.filter { r in
                r.kind == kind && r.previous.contains { $0.name == old } && (group == nil || r.group == group)
            }
            if !Transformers.isClusterScoped(referrer) {
                c = c.filter { Transformers.isClusterScoped($0) || $0.kind == "ServiceAccount" || nsEquals($0.namespace, referrer.namespace) }
            }
            if c.count == 1 { return c[0] }
            c = c.filter { affixesEqual($0, allowEmpty: true) }
            if c.count > 1 { c = c.filter { affixesEqual($0, allowEmpty: false) } }
            if c.count <= 1 { return c.first }
            if c.allSatisfy({ $0.name == c[0].name && (!sameNamespace || $0.namespace == c[0].namespace) }) { return c[0] }
            throw KustomizeError("updating name reference in '\(field)' field of '\(referrer.id)': found multiple possible referrals: "
                                 + c.map(\.id).joined(separator: ", "))
        }

        /// The new name for a reference held in a string, nil when it stays.
        func scalar(_ old: String, kind: String, group: String? = nil, field: String) throws -> String? {
            guard let r = try select(old, kind: kind, group: group, field: field, within: pool, sameNamespace: false), r.name != old else { return nil }
            return r.name
        }

        func effective(_ ns: String) -> String { ns.isEmpty ? "default" : ns }

        /// A reference held in a map with `name` (and `namespace`): both follow the referral.
        func mapping(_ m: Node, kind: String, group: String? = nil, field: String) throws -> Node? {
            guard let old = m["name"]?.string else { return nil }
            var within = pool
            if let nsNode = m.map?["namespace"] {
                let ns = nsNode.text ?? ""
                let original = pool.filter { j in
                    let r = res[j]
                    return !Transformers.isClusterScoped(r) && effective(r.previous.first?.namespace ?? r.namespace) == ns
                }
                within = !original.isEmpty ? original : pool.filter { !Transformers.isClusterScoped(res[$0]) && effective(res[$0].namespace) == ns }
            }
            guard let r = try select(old, kind: kind, group: group, field: field, within: within, sameNamespace: true) else { return nil }
            if r.name == old && r.namespace.isEmpty { return nil }
            var out = m
            out["name"] = .string(r.name)
            if !r.namespace.isEmpty { out["namespace"] = .string(r.namespace) }
            return out
        }
    }

    static func fix(_ res: inout [Resource], config: FieldConfig = FieldConfig()) throws {
        for i in res.indices {
            let refs = try Referrals(res, i)
            func renamed(_ kind: String, _ old: String, _ field: String = "") throws -> String? {
                try refs.scalar(old, kind: kind, field: field)
            }
            let ns = res[i].namespace
            var n = res[i].node
            func fixPodSpec(_ path: [String]) throws {
                guard var spec = n.value(at: path), spec.map != nil else { return }
                if var vols = spec["volumes"]?.array {
                    for j in vols.indices {
                        if let c = vols[j]["configMap"]?["name"]?.string, let new = try renamed("ConfigMap", c) { vols[j].set(["configMap", "name"], .string(new)) }
                        if let s = vols[j]["secret"]?["secretName"]?.string, let new = try renamed("Secret", s) { vols[j].set(["secret", "secretName"], .string(new)) }
                        if let p = vols[j]["persistentVolumeClaim"]?["claimName"]?.string, let new = try renamed("PersistentVolumeClaim", p) {
                            vols[j].set(["persistentVolumeClaim", "claimName"], .string(new))
                        }
                        if var sources = vols[j]["projected"]?["sources"]?.array {
                            for k in sources.indices {
                                if let c = sources[k]["configMap"]?["name"]?.string, let new = try renamed("ConfigMap", c) { sources[k].set(["configMap", "name"], .string(new)) }
                                if let s = sources[k]["secret"]?["name"]?.string, let new = try renamed("Secret", s) { sources[k].set(["secret", "name"], .string(new)) }
                            }
                            vols[j].set(["projected", "sources"], .sequence(sources))
                        }
                    }
                    spec["volumes"] = .sequence(vols)
                }
                for key in ["containers", "initContainers", "ephemeralContainers"] {
                    guard var cs = spec[key]?.array else { continue }
                    for j in cs.indices {
                        if var env = cs[j]["env"]?.array {
                            for k in env.indices {
                                if let c = env[k]["valueFrom"]?["configMapKeyRef"]?["name"]?.string, let new = try renamed("ConfigMap", c) {
                                    env[k].set(["valueFrom", "configMapKeyRef", "name"], .string(new))
                                }
                                if let s = env[k]["valueFrom"]?["secretKeyRef"]?["name"]?.string, let new = try renamed("Secret", s) {
                                    env[k].set(["valueFrom", "secretKeyRef", "name"], .string(new))
                                }
                            }
                            cs[j]["env"] = .sequence(env)
                        }
                        if var from = cs[j]["envFrom"]?.array {
                            for k in from.indices {
                                if let c = from[k]["configMapRef"]?["name"]?.string, let new = try renamed("ConfigMap", c) { from[k].set(["configMapRef", "name"], .string(new)) }
                                if let s = from[k]["secretRef"]?["name"]?.string, let new = try renamed("Secret", s) { from[k].set(["secretRef", "name"], .string(new)) }
                            }
                            cs[j]["envFrom"] = .sequence(from)
                        }
                    }
                    spec[key] = .sequence(cs)
                }
                if var ips = spec["imagePullSecrets"]?.array {
                    for j in ips.indices { if let s = ips[j]["name"]?.string, let new = try renamed("Secret", s) { ips[j]["name"] = .string(new) } }
                    spec["imagePullSecrets"] = .sequence(ips)
                }
                if let sa = spec["serviceAccountName"]?.string, let new = try renamed("ServiceAccount", sa) { spec["serviceAccountName"] = .string(new) }
                n.set(path, spec)
            }
            switch res[i].kind {
            case "Pod": try fixPodSpec(["spec"])
            case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "ReplicationController": try fixPodSpec(["spec", "template", "spec"])
            case "CronJob": try fixPodSpec(["spec", "jobTemplate", "spec", "template", "spec"])
            case "RoleBinding", "ClusterRoleBinding":
                if let kind = n["roleRef"]?["kind"]?.string, kind == "Role" || kind == "ClusterRole", let name = n["roleRef"]?["name"]?.string,
                   let new = try refs.scalar(name, kind: kind, group: n["roleRef"]?["apiGroup"]?.string, field: "roleRef/name") {
                    n.set(["roleRef", "name"], .string(new))
                }
                if var subjects = n["subjects"]?.array {
                    for j in subjects.indices where subjects[j].map != nil {
                        if let new = try refs.mapping(subjects[j], kind: "ServiceAccount", field: "subjects") { subjects[j] = new }
                    }
                    n["subjects"] = .sequence(subjects)
                }
            case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
                if var hooks = n["webhooks"]?.array {
                    for j in hooks.indices {
                        if let svc = hooks[j]["clientConfig"]?["service"], svc.map != nil,
                           let new = try refs.mapping(svc, kind: "Service", field: "webhooks/clientConfig/service") {
                            hooks[j].set(["clientConfig", "service"], new)
                        }
                    }
                    n["webhooks"] = .sequence(hooks)
                }
            case "APIService":
                if let s = n["spec"]?["service"]?["name"]?.string, let new = try renamed("Service", s) { n.set(["spec", "service", "name"], .string(new)) }
            case "Ingress":
                func fixBackend(_ b: inout Node) throws {
                    if let s = b["service"]?["name"]?.string, let new = try renamed("Service", s) { b.set(["service", "name"], .string(new)) }
                    if let s = b["serviceName"]?.string, let new = try renamed("Service", s) { b["serviceName"] = .string(new) }
                }
                if var d = n["spec"]?["defaultBackend"] { try fixBackend(&d); n.set(["spec", "defaultBackend"], d) }
                if var rules = n["spec"]?["rules"]?.array {
                    for j in rules.indices {
                        guard var paths = rules[j]["http"]?["paths"]?.array else { continue }
                        for k in paths.indices { if var b = paths[k]["backend"] { try fixBackend(&b); paths[k]["backend"] = b } }
                        rules[j].set(["http", "paths"], .sequence(paths))
                    }
                    n.set(["spec", "rules"], .sequence(rules))
                }
                if var tls = n["spec"]?["tls"]?.array {
                    for j in tls.indices { if let s = tls[j]["secretName"]?.string, let new = try renamed("Secret", s) { tls[j]["secretName"] = .string(new) } }
                    n.set(["spec", "tls"], .sequence(tls))
                }
            default: break
            }
            if res[i].kind == "StatefulSet", let svc = n["spec"]?["serviceName"]?.string, let new = try renamed("Service", svc) {
                n.set(["spec", "serviceName"], .string(new))
            }
            for ref in config.nameReferences {
                for spec in ref.specs where spec.applies(to: refs.referrer) && !spec.path.isEmpty {
                    var failure: Error?
                    FieldSpec.visit(&n, spec.path[...], create: false) { v in
                        do {
                            if let old = v?.string, let new = try refs.scalar(old, kind: ref.kind, field: spec.path.joined(separator: "/")) { v = .string(new) }
                            else if let m = v, m.map != nil, let new = try refs.mapping(m, kind: ref.kind, field: spec.path.joined(separator: "/")) { v = new }
                        } catch { failure = error }
                    }
                    if let failure { throw failure }
                }
            }
            res[i].node = n
        }
    }
}
