import FluxsYAML

/// After prefixes, suffixes and hashes changed names, references to the renamed objects follow them
/// (a subset of kustomize's name reference table: ConfigMaps, Secrets, ServiceAccounts, PVCs, Services, roles).
enum NameReferences {
    static func nsEquals(_ a: String, _ b: String) -> Bool { (a.isEmpty ? "default" : a) == (b.isEmpty ? "default" : b) }

    /// kustomize's selection of the object a reference names (api/filters/nameref): among the objects the
    /// referrer may refer to, those once called `old`, of the target kind, in the referrer's namespace (service
    /// accounts and cluster-scoped kinds excepted); then the ones renamed with the referrer's prefixes and
    /// suffixes. Several left that differ is an error, as in kustomize.
    /// Lookups shared by every referrer of one build: objects by (kind, previous name), by original namespace.
    struct Index {
        let byPrevious: [String: [Int]]  // previous name → objects
        let byOriginalNamespace: [String: [Int]]
        /// The same lists split by the last prefix and last suffix (kustomize's affix sieve compares list endings),
        /// so that picking one of many same-named referrals (a `settings` ConfigMap in each of N prefixed bases)
        /// costs the few that can match, not all N.
        let byAffix: [AffixKey: [Int]]
        /// Transformers.isClusterScoped of each object (read at every candidate's visibility check).
        let clusterScoped: [Bool]

        /// A previous name with the last prefix and suffix (nil: none): `both`, or one of them only.
        struct AffixKey: Hashable {
            enum Mode: UInt8 { case both, prefix, suffix }
            let mode: Mode, name: String, prefix: String?, suffix: String?
        }

        static func affixKey(_ mode: AffixKey.Mode, _ name: String, _ prefixes: [String], _ suffixes: [String]) -> AffixKey {
            AffixKey(mode: mode, name: name, prefix: prefixes.last, suffix: suffixes.last)
        }

        init(_ res: [Resource]) {
            var prev: [String: [Int]] = [:]
            var orig: [String: [Int]] = [:]
            var affix: [AffixKey: [Int]] = [:]
            var scoped: [Bool] = []
            scoped.reserveCapacity(res.count)
            for j in res.indices {
                let r = res[j]
                // previousNameMatches: any earlier id's name (an object never renamed has none: nothing to follow).
                for name in Set(r.previous.map(\.name)) {
                    prev[name, default: []].append(j)
                    affix[Index.affixKey(.both, name, r.prefixes, r.suffixes), default: []].append(j)
                    affix[Index.affixKey(.prefix, name, r.prefixes, []), default: []].append(j)
                    affix[Index.affixKey(.suffix, name, [], r.suffixes), default: []].append(j)
                }
                let cluster = Transformers.isClusterScoped(r)
                scoped.append(cluster)
                if !cluster {
                    let ns = r.previous.first?.namespace ?? r.namespace
                    orig[ns.isEmpty ? "default" : ns, default: []].append(j)
                }
            }
            byPrevious = prev
            byOriginalNamespace = orig
            byAffix = affix
            clusterScoped = scoped
        }
    }

    struct Referrals {
        let res: [Resource]
        let referrer: Resource
        let index: Index
        let referrerClusterScoped: Bool
        let bindingNamespaces: Set<String>

        init(_ res: [Resource], _ i: Int, index: Index) throws {
            self.res = res
            self.index = index
            referrer = res[i]
            referrerClusterScoped = Transformers.isClusterScoped(referrer)
            var namespaces: Set<String> = []
            if referrer.kind == "RoleBinding" && !referrerClusterScoped {
                for s in referrer.node["subjects"]?.array ?? [] {
                    guard let ns = s.map?["namespace"], s["kind"]?.string == "ServiceAccount" else { continue }
                    guard let n = ns.string else {
                        throw KustomizeError("Invalid Input: namespace is blank for resource \"\(referrer.id)\"")
                    }
                    namespaces.insert(n)
                }
            }
            bindingNamespaces = namespaces
        }

        /// kustomize's SubsetThatCouldBeReferencedByResource.
        func visible(_ j: Int) -> Bool {
            let t = res[j]
            return referrerClusterScoped || index.clusterScoped[j] || nsEquals(t.namespace, referrer.namespace)
                || bindingNamespaces.contains(t.namespace)
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

        /// previousIdSelectedByGvk: one of the object's earlier ids (the earlier kind with the current group and
        /// version, as utils.PrevIds makes them) is of the type.
        static func earlierId(_ r: Resource, of type: NameReferenceEntry) -> Bool {
            let g = r.group, v = r.version
            return r.previous.contains { type.selects(kind: $0.kind, group: g, version: v) }
        }

        func select(_ old: String, target: NameReferenceEntry, roleRef: NameReferenceEntry?, field: String,
                    where keep: (Int) -> Bool, sameNamespace: Bool) throws -> Resource? {
            let all = index.byPrevious[old] ?? []
            func passes(_ j: Int) -> Bool {
                let r = res[j]
                guard visible(j) && keep(j) && Self.earlierId(r, of: target) else { return false }
                if let roleRef, !Self.earlierId(r, of: roleRef) { return false }
                return referrerClusterScoped || index.clusterScoped[j] || r.kind == "ServiceAccount" || nsEquals(r.namespace, referrer.namespace)
            }
            // One candidate: it is the referral. Two or more: the affix sieve, over the buckets that can pass it.
            var first: [Int] = []
            for j in all where passes(j) {
                first.append(j)
                if first.count == 2 { break }
            }
            if first.count < 2 { return first.first.map { res[$0] } }
            var pool = all
            let o = referrer
            var keys: [Index.AffixKey] = []
            switch (o.prefixes.last, o.suffixes.last) {
            case let (p?, q?): for pre in [[], [p]] { for suf in [[], [q]] { keys.append(Index.affixKey(.both, old, pre, suf)) } }
            case let (p?, nil): for pre in [[], [p]] { keys.append(Index.affixKey(.prefix, old, pre, [])) }
            case let (nil, q?): for suf in [[], [q]] { keys.append(Index.affixKey(.suffix, old, [], suf)) }
            case (nil, nil): break
            }
            if !keys.isEmpty { pool = Array(Set(keys.flatMap { index.byAffix[$0] ?? [] })).sorted() }
            var c = pool.filter(passes).map { res[$0] }
            c = c.filter { affixesEqual($0, allowEmpty: true) }
            if c.count > 1 { c = c.filter { affixesEqual($0, allowEmpty: false) } }
            if c.count <= 1 { return c.first }
            if c.allSatisfy({ $0.name == c[0].name && (!sameNamespace || $0.namespace == c[0].namespace) }) { return c[0] }
            throw KustomizeError("updating name reference in '\(field)' field of '\(referrer.id)': found multiple possible referrals: "
                                 + c.map(\.id).joined(separator: ", "))
        }

        /// The new name for a reference held in a string, nil when it stays.
        func scalar(_ old: String, target: NameReferenceEntry, roleRef: NameReferenceEntry?, field: String) throws -> String? {
            guard let r = try select(old, target: target, roleRef: roleRef, field: field, where: { _ in true }, sameNamespace: false),
                  r.name != old else { return nil }
            return r.name
        }

        func effective(_ ns: String) -> String { ns.isEmpty ? "default" : ns }

        /// A reference held in a map with `name` (and `namespace`): both follow the referral. With a namespace, the
        /// candidates are those originally in it if any visible object was, else those now in it.
        func mapping(_ m: Node, target: NameReferenceEntry, roleRef: NameReferenceEntry?, field: String) throws -> Node? {
            // setMapping: the field must hold a `name` to update ("path config error").
            guard let nameNode = m.map?["name"] else {
                throw KustomizeError("updating name reference in '\(field)' field of '\(referrer.id)': path config error; no 'name' field in node")
            }
            guard let old = nameNode.text else { return nil }
            var keep: (Int) -> Bool = { _ in true }
            if let nsNode = m.map?["namespace"] {
                let ns = nsNode.text ?? ""
                if (index.byOriginalNamespace[ns] ?? []).contains(where: visible) {
                    keep = { j in
                        let r = res[j]
                        return !index.clusterScoped[j] && effective(r.previous.first?.namespace ?? r.namespace) == ns
                    }
                } else {
                    keep = { j in !index.clusterScoped[j] && effective(res[j].namespace) == ns }
                }
            }
            guard let r = try select(old, target: target, roleRef: roleRef, field: field, where: keep, sameNamespace: true) else { return nil }
            if r.name == old && r.namespace.isEmpty { return nil }
            var out = m
            out["name"] = .string(r.name)
            if !r.namespace.isEmpty { out["namespace"] = .string(r.namespace) }
            return out
        }
    }

    /// Runs once, after the whole build renamed objects: every field of the name reference table (kustomize's
    /// defaults merged with `configurations:` and `crds:`) that names a renamed object is updated, in the table's order.
    static func fix(_ res: inout [Resource], config: FieldConfig = FieldConfig()) throws {
        let table = FieldConfig.merge(NameReferenceTable.defaults, config.nameReferences)
        // The table's (target, field) pairs that can apply to each referrer type, in table order. A referrer is
        // chosen by its original id (resourceOrgIds in namereferencetransformer.go: the first earlier kind, the
        // current group and version); its field is then updated whatever its kind is now.
        // Each with its path as text (for messages and the roleRef check), joined once per type, not per object.
        var byType: [String: [Entry]] = [:]
        var types: [String] = []
        types.reserveCapacity(res.count)
        for r in res {
            let kind = r.previous.first?.kind ?? r.kind, group = r.group, version = r.version
            let type = kind + "\u{0}" + group + "\u{0}" + version
            if byType[type] == nil {
                byType[type] = table.flatMap { t in
                    t.specs.filter { s in
                        !s.path.isEmpty && ((s.kind ?? "").isEmpty || s.kind == kind) && ((s.group ?? "").isEmpty || s.group == group)
                            && ((s.version ?? "").isEmpty || s.version == version)
                    }.map { (t, $0, $0.path.joined(separator: "/")) }
                }
            }
            types.append(type)
        }
        // No object of a referrer type (a build of ConfigMaps only): nothing to fix, so no index of the referrals.
        if byType.values.allSatisfy(\.isEmpty) { return }
        let index = Index(res)
        // Referrals read a snapshot: writing into `res` while they hold it copied the whole array per object (N²).
        // Only reference fields change here, never the names, namespaces and affixes the selection reads.
        let snapshot = res
        // Each referrer's fields are fixed from the snapshot alone, so the referrers are done on all cores; the
        // outcomes are taken in order (the first failing object's error, as a loop gives) before any is stored.
        let entriesByType = byType
        let outcomes = Parallel.map(res.count, minimum: 64) { [types] i in
            Result { try fixed(snapshot, i, entries: entriesByType[types[i]] ?? [], index: index) }
        }
        var nodes: [(Int, Node)] = []
        for (i, o) in outcomes.enumerated() {
            if let n = try o.get() { nodes.append((i, n)) }
        }
        for (i, n) in nodes { res[i].node = n }
    }

    typealias Entry = (target: NameReferenceEntry, spec: FieldSpec, field: String)

    /// Object `i` of `snapshot` with its reference fields (`entries`) fixed; nil when it has no such fields.
    static func fixed(_ snapshot: [Resource], _ i: Int, entries: [Entry], index: Index) throws -> Node? {
        // Only objects with table fields are referrers (fMap); only those have their RoleBinding subjects read.
        if entries.isEmpty { return nil }
        let refs = try Referrals(snapshot, i, index: index)
        let r = snapshot[i]
        var n = r.node
        for (target, spec, field) in entries {
            // The walk fails on a scalar in the way, whether or not anything would be renamed (namereference.go
            // gives every referrer of the field spec's type the filter).
            // Most of a type's table fields are absent from a given object: a read-only look first (one walk
            // for both: FieldSpec.probe).
            let (blocked, reaches) = FieldSpec.probe(n, spec.path[...])
            if let e = blocked {
                let id = r.id
                throw KustomizeError("updating name reference in '\(field)' field of '\(id)': considering field '\(field)' of object \(id): \(e)")
            }
            guard reaches else { continue }
            // roleRefFilter: a field ending in roleRef/name also needs an earlier id of the roleRef's kind and
            // apiGroup; a roleRef without either lets every candidate through.
            var roleRef: NameReferenceEntry?
            // (getRoleRefGvk reads each field's text as written, "" for a map or list.)
            if field.hasSuffix("roleRef/name"), let ref = r.node["roleRef"]?.map, let g = ref["apiGroup"], let k = ref["kind"] {
                roleRef = NameReferenceEntry(kind: k.scalarValue?.value ?? "", group: g.scalarValue?.value ?? "", version: nil, specs: [])
            }
            var failure: Error?
            func update(_ v: Node) throws -> Node? {
                if v.map != nil { return try refs.mapping(v, target: target, roleRef: roleRef, field: field) }
                if let old = v.text { return try refs.scalar(old, target: target, roleRef: roleRef, field: field).map { .string($0) } }
                return nil
            }
            FieldSpec.visit(&n, spec.path[...], create: false) { v in
                guard let value = v, !value.isNull else { return }
                do {
                    if case .sequence(var items) = value {
                        for k in items.indices where !items[k].isNull {
                            if case .sequence = items[k] {
                                // seqFilter: a list's items are names or maps holding one.
                                throw KustomizeError("updating name reference in '\(field)' field of '\(refs.referrer.id)': "
                                                     + "a list item is expected to be either a string or a map of string")
                            }
                            if let new = try update(items[k]) { items[k] = new }
                        }
                        v = .sequence(items)
                    } else if let new = try update(value) {
                        v = new
                    }
                } catch { failure = error }
            }
            if let failure { throw failure }
        }
        return n
    }
}
