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

    /// Runs once, after the whole build renamed objects: every field of the name reference table (kustomize's
    /// defaults, then `configurations:`) that names a renamed object is updated, in the table's order.
    static func fix(_ res: inout [Resource], config: FieldConfig = FieldConfig()) throws {
        let table = NameReferenceTable.defaults + config.nameReferences
        for i in res.indices {
            let refs = try Referrals(res, i)
            var n = res[i].node
            for (target, _, specs) in table {
                for spec in specs where spec.applies(to: refs.referrer) && !spec.path.isEmpty {
                    let field = spec.path.joined(separator: "/")
                    var group: String?
                    if field == "roleRef/name" {
                        // kustomize's roleRefFilter: the binding's roleRef names the kind and group of the referral.
                        guard n["roleRef"]?["kind"]?.string == target else { continue }
                        group = n["roleRef"]?["apiGroup"]?.string
                    }
                    var failure: Error?
                    func update(_ v: Node) throws -> Node? {
                        if let old = v.string { return try refs.scalar(old, kind: target, group: group, field: field).map { .string($0) } }
                        if v.map != nil { return try refs.mapping(v, kind: target, group: group, field: field) }
                        return nil
                    }
                    FieldSpec.visit(&n, spec.path[...], create: false) { v in
                        guard let value = v else { return }
                        do {
                            if case .sequence(var items) = value {
                                for k in items.indices { if let new = try update(items[k]) { items[k] = new } }
                                v = .sequence(items)
                            } else if let new = try update(value) {
                                v = new
                            }
                        } catch { failure = error }
                    }
                    if let failure { throw failure }
                }
            }
            res[i].node = n
        }
    }
}
