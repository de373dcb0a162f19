import FluxsKube
import FluxsYAML

/// kustomize field specs: which fields of which kinds a transformer touches (`configurations:` adds to them).
struct FieldSpec: Equatable {
    var group: String?
    var version: String?
    var kind: String?
    var path: [String]
    var create: Bool
    /// Indices of path fields written `name[]` (a list): fieldspec.go never creates those, even with `create`.
    var lists: Set<Int> = []

    /// fieldspec.go isMatchGVK: an empty kind, group or version selects any (Go decodes `group: ""` and no group
    /// alike), so an empty one is kept as none; the core group is not written `group: ""`, it is any group.
    init(_ n: Node) {
        group = Self.selector(n["group"]?.string)
        version = Self.selector(n["version"]?.string)
        kind = Self.selector(n["kind"]?.string)
        path = Self.split(n["path"]?.string ?? "")
        lists = Self.listFields(n["path"]?.string ?? "")
        create = n["create"]?.bool ?? false
    }

    init(kind: String?, path: String) {
        self.kind = Self.selector(kind)
        self.path = Self.split(path)
        create = false
    }

    init(group: String? = nil, version: String? = nil, kind: String? = nil, path: String, create: Bool) {
        self.group = Self.selector(group)
        self.version = Self.selector(version)
        self.kind = Self.selector(kind)
        self.path = Self.split(path)
        lists = Self.listFields(path)
        self.create = create
    }

    /// The path as a field spec writes it (kustomize's messages quote fs.Path): "[]" after list fields, "\\/" for a
    /// slash inside a field name.
    var pathText: String {
        path.enumerated().map { i, f in f.split(separator: "/", omittingEmptySubsequences: false).joined(separator: "\\/") + (lists.contains(i) ? "[]" : "") }
            .joined(separator: "/")
    }

    private static func selector(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }

    /// types.FieldSpec.effectivelyEquals: this spec has `new`'s path and is selected by its kind, group and
    /// version (resid.Gvk.IsSelected: the selector's empty ones select any; this spec's empty ones match only empty).
    func effectivelyEquals(_ new: FieldSpec) -> Bool {
        func selected(_ mine: String?, _ by: String?) -> Bool { by == nil || mine == by }
        return path == new.path && lists == new.lists
            && selected(kind, new.kind) && selected(group, new.group) && selected(version, new.version)
    }

    /// What makes two field specs the same one when configurations merge.
    var identity: String { "\(group ?? "")|\(version ?? "")|\(kind ?? "")|\(path.joined(separator: "/"))|\(create)|\(lists.sorted())" }

    /// The indices (in `split(path)`) of the fields marked `[]`.
    static func listFields(_ path: String) -> Set<Int> {
        guard let fields = asciiFields(path) else { return characterListFields(path) }
        var out: Set<Int> = []
        for (i, f) in fields.enumerated() where f.list { out.insert(i) }
        return out
    }

    /// listFields on Characters, for any path.
    static func characterListFields(_ path: String) -> Set<Int> {
        var out: Set<Int> = []
        var n = 0
        var cur = ""
        var escaped = false
        func end() {
            guard !cur.isEmpty else { return }
            if cur.hasSuffix("[]") { out.insert(n) }
            n += 1
            cur = ""
        }
        for c in path {
            if escaped { cur.append(c); escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if c == "/" { end(); continue }
            cur.append(c)
        }
        end()
        return out
    }

    /// Calls `f` with each value at this spec's path (see the static visit), creating missing fields when the
    /// spec says `create`, except list fields (`name[]`).
    func visit(_ n: inout Node, _ f: (inout Node?) -> Void) {
        Self.visit(&n, path[...], create: create, lists: lists, f)
    }

    /// A field path: "/" separates fields, "\/" is a slash inside a field name (annotation keys), "[]" marks a list.
    static func split(_ path: String) -> [String] {
        asciiFields(path)?.map(\.name) ?? characterSplit(path)
    }

    /// split on Characters, for any path.
    static func characterSplit(_ path: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var escaped = false
        for c in path {
            if escaped { cur.append(c); escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if c == "/" { out.append(cur); cur = ""; continue }
            cur.append(c)
        }
        out.append(cur)
        return out.filter { !$0.isEmpty }.map { $0.hasSuffix("[]") ? String($0.dropLast(2)) : $0 }
    }

    /// split and listFields of an ASCII path on its bytes (each Character of a path cost ~100 instructions: the
    /// default name reference table's ~170 paths were ~7 M instructions a build); nil for any other path, which
    /// the Character loops take (a backslash followed by a combining mark is one Character there, not an escape).
    /// The same rules: a backslash takes the next byte as is, `/` ends a field, empty fields are dropped, a field ending
    /// in `[]` (after escapes are removed) is a list field without them.
    static func asciiFields(_ path: String) -> [(name: String, list: Bool)]? {
        var bytes = path.utf8.makeIterator()
        var out: [(name: String, list: Bool)] = []
        var cur: [UInt8] = []
        var escaped = false
        func end() {
            guard !cur.isEmpty else { return }
            let list = cur.count >= 2 && cur[cur.count - 2] == UInt8(ascii: "[") && cur[cur.count - 1] == UInt8(ascii: "]")
            out.append((String(decoding: list ? cur.dropLast(2) : cur[...], as: UTF8.self), list))
            cur.removeAll(keepingCapacity: true)
        }
        while let b = bytes.next() {
            if b >= 0x80 { return nil }
            if escaped { cur.append(b); escaped = false; continue }
            if b == UInt8(ascii: "\\") { escaped = true; continue }
            if b == UInt8(ascii: "/") { end(); continue }
            cur.append(b)
        }
        end()
        return out
    }

    /// An object's kind, group and version, read once for many field specs.
    struct ObjectType {
        let kind: String, group: String, version: String
        init(_ r: Resource, kind k: String? = nil) {
            kind = k ?? r.kind
            (group, version) = Resource.splitAPIVersion(r.apiVersion)
        }
    }

    func applies(to t: ObjectType) -> Bool {
        if let kind, kind != t.kind { return false }
        if let group, group != t.group { return false }
        if let version, version != t.version { return false }
        return true
    }

    /// The same for one object, as its kind is now or as `kind` (an earlier one).
    func applies(to r: Resource, kind objectKind: String? = nil) -> Bool { applies(to: ObjectType(r, kind: objectKind)) }

    /// Calls `f` with each value at the path (sequences on the way are walked element by element).
    /// With `create`, missing mappings are made and `f` gets nil for the missing leaf.
    static func visit(_ n: inout Node, _ path: ArraySlice<String>, create: Bool, lists: Set<Int> = [], _ f: (inout Node?) -> Void) {
        // Changed in place (withSequence/withMapping/withValue/update): rebuilding each level from a copy made
        // copy-on-write duplicate every mapping on the path, per object and field spec. One look-up of the key per
        // level (reading `n[key]` first copied the mapping out for each question asked of it).
        switch n {
        case .sequence:
            n.withSequence { a in for i in a.indices { visit(&a[i], path, create: create, lists: lists, f) } }
            return
        case .mapping: break
        case .scalar: return
        }
        guard let key = path.first else { return }
        let here = create && (lists.isEmpty || !lists.contains(path.startIndex))
        n.withMapping { m in
            if path.count == 1 {
                m.update(key, insert: here, f)
                return
            }
            // fieldspec.go: with create, a missing or null field on the way becomes a mapping.
            if m[key]?.isNull != false {
                guard here else { return }
                m[key] = .emptyMap
            }
            m.withValue(key) { child in visit(&child, path.dropFirst(), create: create, lists: lists, f) }
        }
    }

    /// Whether `visit` without `create` would reach a value at the path (read only, nothing copied).
    /// kustomize's fieldspec.Filter walk stops with an error where the path meets a scalar that is not null with
    /// path left ("expected sequence or mapping node", under "visit traversal on path: [rest]" for each list on
    /// the way); a missing field or a null ends the walk quietly.
    static func blocked(_ n: Node, _ path: ArraySlice<String>) -> String? { walkError(n, path, leafMustMap: false) }

    /// Where the label and annotation transformers fail before they change anything (fieldspec.Filter, then
    /// filtersutil.SetEntry's FieldSetter): a scalar in the way with path left (blocked), or a leaf that is there but
    /// neither a mapping nor null ("wrong node kind: expected MappingNode but got ScalarNode: node contents:" and
    /// the value); under a list on the way, "visit traversal on path: [rest]: " comes first.
    static func notAMapping(_ n: Node, _ path: ArraySlice<String>) -> String? { walkError(n, path, leafMustMap: true) }

    private static func walkError(_ n: Node, _ path: ArraySlice<String>, leafMustMap: Bool) -> String? {
        guard let key = path.first else { return nil }
        switch n {
        case .sequence(let a):
            for x in a {
                if let e = walkError(x, path, leafMustMap: leafMustMap) { return "visit traversal on path: [\(path.joined(separator: " "))]: " + e }
            }
            return nil
        case .mapping(let m):
            guard let c = m[key] else { return nil }
            guard path.count == 1 else { return walkError(c, path.dropFirst(), leafMustMap: leafMustMap) }
            guard leafMustMap else { return nil }
            switch c {
            case .mapping: return nil
            case .sequence: return "wrong node kind: expected MappingNode but got SequenceNode"
            case .scalar(let s): return s.tag == .null ? nil : "wrong node kind: expected MappingNode but got ScalarNode: node contents:\n\(s.value)"
            }
        case .scalar:
            return n.isNull ? nil : "expected sequence or mapping node"
        }
    }

    /// `blocked` and, in the same walk, whether `visit` without `create` would reach a value at the path (read only:
    /// most of a type's name reference fields are absent from a given object).
    static func probe(_ n: Node, _ path: ArraySlice<String>) -> (blocked: String?, reaches: Bool) {
        guard let key = path.first else { return (nil, false) }
        switch n {
        case .sequence(let a):
            var any = false
            for x in a {
                let (e, r) = probe(x, path)
                if let e { return ("visit traversal on path: [\(path.joined(separator: " "))]: " + e, any || r) }
                any = any || r
            }
            return (nil, any)
        case .mapping(let m):
            guard let c = m[key] else { return (nil, false) }
            if path.count == 1 { return (nil, true) }
            return probe(c, path.dropFirst())
        default:
            return (n.isNull ? nil : "expected sequence or mapping node", false)
        }
    }
}

/// Field specs added by `configurations:` files, shared by the whole build (a base's configuration is
/// visible in its overlays, as in kustomize).
final class FieldConfig {
    /// Files read from memory instead of the disk (absolute path → content): see Kustomizer.build(files:).
    var files: [String: [UInt8]] = [:]
    /// Resource files parsed already (absolute path → documents): see Kustomizer.build(parsed:). Each is taken once;
    /// a base's own configuration starts without them (its files are not the generated kustomization's).
    var parsed: [String: [Node]] = [:]
    /// The root every read must stay in (kustomize-controller's secure file system); nil: kustomize's own rules only.
    var confinement: Confinement?
    /// `commonLabels:` sections: where commonLabels (and `labels` entries with includeSelectors) also set labels.
    var commonLabels: [FieldSpec] = []
    /// `labels:` sections: where every `labels` entry also sets its pairs, whatever its include flags
    /// (kusttarget_configplugin.go merges tc.Labels into each entry); commonLabels does not use them.
    var labels: [FieldSpec] = []
    /// `templateLabels:` sections: where `labels` entries with includeTemplates (and not includeSelectors) also set labels.
    var templateLabels: [FieldSpec] = []
    var commonAnnotations: [FieldSpec] = []
    var images: [FieldSpec] = []
    var varReferences: [FieldSpec] = []
    /// The PrefixTransformer's and SuffixTransformer's field specs, whole (kustomize's `metadata/name` default, the
    /// `namePrefix:`/`nameSuffix:` sections, `crds:` x-kubernetes-identity fields for the prefix): `metadata/name`
    /// specs say which kinds are renamed, the others are fields the affix is added to (see Transformers.rename).
    var namePrefix: [FieldSpec] = []
    var nameSuffix: [FieldSpec] = []
    /// `crds:` fields marked x-kubernetes-identity: the PrefixTransformer's field specs beside metadata/name (the
    /// `nameReference:` rows of `configurations:` files and `crds:` (target type → referrer field specs).
    var nameReferences: [NameReferenceEntry] = []
    /// The OpenAPI schema of the whole build (one for all levels, set by the first `openapi:` reached).
    var schema = OpenAPISchema()
    /// The top kustomization asks for `buildMetadata: [transformerAnnotations]`: every level records its transformers.
    var recordTransformations = false

    /// An empty configuration for a base (kustomize's fresh accumulator), sharing the build's settings.
    func child() -> FieldConfig {
        let c = FieldConfig()
        c.files = files
        c.confinement = confinement
        c.recordTransformations = recordTransformations
        c.schema = schema
        return c
    }

    /// FsSlice.MergeAll (api/types/fieldspec.go) of `new` into `list`, with `defaults` (kustomize's built-in specs
    /// of the list, which fluxs keeps apart) before it: each new spec joins unless one there effectively equals it
    /// (has its path and is selected by its kind, group and version, an empty one selecting any) — then it is
    /// dropped, or, when the first such has another `create`, the merge fails ("conflicting fieldspecs").
    /// Returns the list without the defaults; nil on a conflict.
    static func mergeAll(_ list: [FieldSpec], _ new: [FieldSpec], defaults: [FieldSpec] = []) -> [FieldSpec]? {
        var out = list
        for x in new {
            if let y = defaults.first(where: { $0.effectivelyEquals(x) }) ?? out.first(where: { $0.effectivelyEquals(x) }) {
                if y.create != x.create { return nil }
                continue
            }
            out.append(x)
        }
        return out
    }

    /// mergeAll failing with kustomize's words (`name`: the list's name in transformerconfig.go's Merge).
    static func checkJoin(_ new: [FieldSpec], into list: [FieldSpec], defaults: [FieldSpec] = [], name: String) throws {
        if conflicts(new, into: list, defaults: defaults) { throw KustomizeError("failed to merge \(name) fieldSpec: conflicting fieldspecs") }
    }

    /// Whether FsSlice.MergeAll of `new` into `defaults` + `list` fails (see mergeAll).
    static func conflicts(_ new: [FieldSpec], into list: [FieldSpec], defaults: [FieldSpec] = []) -> Bool {
        mergeAll(list, new, defaults: defaults) == nil
    }

    /// resid.Gvk.IsLessThan: kinds of orderFirst before the rest, orderLast after, then by group, version and kind
    /// (empty ones as "~G", "~V", "~K", after letters).
    static func sortKey(_ f: FieldSpec) -> (Int, String) {
        (typeOrder[f.kind ?? ""] ?? 0, "\(f.group ?? "~G")_\(f.version ?? "~V")_\(f.kind ?? "~K")")
    }

    private static let typeOrder: [String: Int] = {
        let first = ["Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount", "PodSecurityPolicy",
                     "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service",
                     "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "StatefulSet",
                     "CronJob", "PodDisruptionBudget"]
        var m: [String: Int] = [:]
        for (i, k) in first.enumerated() { m[k] = i - first.count }
        for (i, k) in ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"].enumerated() { m[k] = 1 + i }
        return m
    }()

    /// A list as TransformerConfig.sortFields leaves it (by type, sortKey; a list of one type keeps its order).
    /// Each spec's key is made once (sorting with keys made per comparison was 14% of a 1,000-resource build).
    static func sorted(_ list: [FieldSpec]) -> [FieldSpec] {
        guard list.count > 1 else { return list }
        let keyed = list.enumerated().map { (key: sortKey($0.element), at: $0.offset, spec: $0.element) }
        return keyed.sorted { ($0.key.0, $0.key.1, $0.at) < ($1.key.0, $1.key.1, $1.at) }.map(\.spec)
    }

    /// FsSlice.MergeAll then sortFields; the conflict fails in kustomize's words. A list merged with itself (a
    /// level without configurations merging kustomize's defaults into its bases' defaults) or with specs that all
    /// drop is the list as it was (the lists kept here are sorted already).
    static func merged(_ list: [FieldSpec], _ new: [FieldSpec], name: String) throws -> [FieldSpec] {
        if new.isEmpty || new == list { return list }
        if list.isEmpty, let d = SortedDefaults.intoEmpty.first(where: { $0.list == new }) { return d.merged }
        guard let out = mergeAll(list, new) else { throw KustomizeError("failed to merge \(name) fieldSpec: conflicting fieldspecs") }
        return out.count == list.count ? list : sorted(out)
    }

    /// TransformerConfig.Merge (api/internal/plugins/builtinconfig/transformerconfig.go): `o`'s lists join these in
    /// kustomize's order, the first conflict failing with its list's name. The label and annotation lists are the
    /// whole lists kustomize's accumulator holds (kustomize's defaults included, see add), merged by MergeAll and
    /// sorted by type, so a spec effectively equal to one there is dropped (even a default one: a
    /// `kind: Widget` spec for metadata/annotations sorts before the kind-less default, which is then dropped,
    /// and other kinds get no commonAnnotations, as in kustomize). The rename, image and var lists, whose defaults
    /// fluxs applies its own way, keep each spec once after the same conflict check.
    func merge(_ o: FieldConfig) throws {
        let prefixes = try Self.merged(namePrefix, o.namePrefix, name: "NamePrefix")
        let suffixes = try Self.merged(nameSuffix, o.nameSuffix, name: "NameSuffix")
        let annotations = try Self.merged(commonAnnotations, o.commonAnnotations, name: "CommonAnnotations")
        let common = try Self.merged(commonLabels, o.commonLabels, name: "CommonLabels")
        let labelSpecs = try Self.merged(labels, o.labels, name: "Labels")
        let template = try Self.merged(templateLabels, o.templateLabels, name: "TemplateLabels")
        try Self.checkJoin(o.varReferences, into: varReferences, name: "VarReference")
        if Self.mergeRows(Self.mergeRows(NameReferenceTable.defaults, nameReferences) ?? [], o.nameReferences) == nil {
            throw KustomizeError("failed to merge NameReference fieldSpec: conflicting fieldspecs")
        }
        try Self.checkJoin(o.images, into: images, name: "Images")
        func union(_ a: [FieldSpec], _ b: [FieldSpec]) -> [FieldSpec] {
            var seen = Set(a.map(\.identity)), out = a
            for f in b where seen.insert(f.identity).inserted { out.append(f) }
            return out
        }
        commonAnnotations = annotations
        commonLabels = common
        labels = labelSpecs
        templateLabels = template
        images = union(images, o.images)
        varReferences = union(varReferences, o.varReferences)
        namePrefix = prefixes
        nameSuffix = suffixes
        nameReferences = Self.merge(nameReferences, o.nameReferences)
    }

    /// nbrSlice.mergeAll: a row of the same type (kind, group, version) as an earlier one merges its referrer field
    /// specs into it (FsSlice.MergeAll); another type is a new row at the end. nil on conflicting referrers.
    static func mergeRows(_ rows: [NameReferenceEntry], _ more: [NameReferenceEntry]) -> [NameReferenceEntry]? {
        var out = rows
        for nr in more {
            if let i = out.firstIndex(where: { $0.sameType(nr) }) {
                guard let specs = FieldConfig.mergeAll(out[i].specs, nr.specs) else { return nil }
                out[i].specs = specs
            } else {
                out.append(nr)
            }
        }
        return out
    }

    /// mergeRows where conflicts were refused before (checkJoin): conflicting referrers are kept as they are.
    static func merge(_ rows: [NameReferenceEntry], _ more: [NameReferenceEntry]) -> [NameReferenceEntry] {
        mergeRows(rows, more) ?? rows
    }

    /// `crds:` files (api/internal/accumulator/loadconfigfromcrds.go): OpenAPI definitions (type name → {Schema,
    /// Dependencies}); a type whose properties include kind, apiVersion and metadata is a kind (the type name after
    /// its last `.`), and its properties carry kustomize's extensions, each counted only when its value is a string
    /// (go-openapi's Extensions.GetString): `x-kubernetes-annotation` and `x-kubernetes-label-selector` add
    /// annotation and label fields, `x-kubernetes-identity` a field the name prefix goes to, `x-kubernetes-object-ref-kind` with `-api-version` adds a name reference to
    /// `<field>/<x-kubernetes-object-ref-name-key or name>` whose referent must have that version (none: any; the
    /// group is not compared). Only `$ref`s are followed, never properties written inline.
    func addCRDs(_ k: Node, level: Level) throws {
        for entry in k["crds"]?.array ?? [] {
            guard let file = entry.string else { continue }
            let defs: Node
            do { defs = try YAML.parse(try Generators.read(file, dir: level.dir, config: self), file: file) } catch let e as KustomizeError {
                throw e
            } catch {
                throw KustomizeError("unable to parse open API definition from '\(file)': \(error)")
            }
            guard let types = defs.map else { throw KustomizeError("unable to parse open API definition from '\(file)': not a map of types") }
            for (typeName, def) in types.entries {
                let props = def["Schema"]?["properties"]?.map
                guard props?["kind"] != nil, props?["apiVersion"] != nil, props?["metadata"] != nil else { continue }
                let kind = String(typeName.split(separator: ".").last ?? "")
                walk(types, typeName, kind: kind, path: [], depth: 0)
            }
        }
    }

    private func walk(_ types: Mapping, _ typeName: String, kind: String, path: [String], depth: Int) {
        guard depth < 32, let props = types[typeName]?["Schema"]?["properties"]?.map else { return }
        for (name, p) in props.entries {
            let here = path + [name]
            var spec = FieldSpec(kind: kind, path: "")
            spec.path = here
            if p["x-kubernetes-annotation"]?.string != nil { commonAnnotations.append(spec) }
            if p["x-kubernetes-label-selector"]?.string != nil { commonLabels.append(spec) }
            if p["x-kubernetes-identity"]?.string != nil { namePrefix.append(spec) }   // AddPrefixFieldSpec
            // loadconfigfromcrds.go: the referral's type is the extension's kind with its api-version as the version.
            if let version = p["x-kubernetes-object-ref-api-version"]?.string, let target = p["x-kubernetes-object-ref-kind"]?.string {
                var ref = spec
                ref.path = here + [p["x-kubernetes-object-ref-name-key"]?.string ?? "name"]
                nameReferences.append(NameReferenceEntry(kind: target, version: version.isEmpty ? nil : version, specs: [ref]))
            }
            if let r = p["$ref"]?.string { walk(types, r, kind: kind, path: here, depth: depth + 1) }
        }
    }

    /// kusttarget.accumulateTarget: the level's `configurations:` (MakeTransformerConfig: kustomize's defaults, then
    /// the files in order) join what its bases brought ("merging config"), then its `crds:` ("merging CRDs"); a
    /// field spec conflicting with one there fails (checkJoin).
    func add(_ k: Node, level: Level) throws {
        // loadDefaultConfig: each file (its lists sorted, makeTransformerConfigFromBytes) merged into the ones before.
        let conf = child()
        for entry in k["configurations"]?.array ?? [] {
            guard let file = entry.string else { continue }
            for doc in try YAML.parseDocuments(try Generators.read(file, dir: level.dir, config: self)) {
                let f = child()
                f.commonLabels = FieldConfig.sorted((doc["commonLabels"]?.array ?? []).map(FieldSpec.init))
                f.labels = FieldConfig.sorted((doc["labels"]?.array ?? []).map(FieldSpec.init))
                f.templateLabels = FieldConfig.sorted((doc["templateLabels"]?.array ?? []).map(FieldSpec.init))
                f.commonAnnotations = FieldConfig.sorted((doc["commonAnnotations"]?.array ?? []).map(FieldSpec.init))
                f.images = (doc["images"]?.array ?? []).map(FieldSpec.init)
                f.varReferences = (doc["varReference"]?.array ?? []).map(FieldSpec.init)
                f.namePrefix = FieldConfig.sorted((doc["namePrefix"]?.array ?? []).map(FieldSpec.init))
                f.nameSuffix = FieldConfig.sorted((doc["nameSuffix"]?.array ?? []).map(FieldSpec.init))
                for nr in doc["nameReference"]?.array ?? [] {
                    guard let kind = nr["kind"]?.string else { continue }
                    f.nameReferences.append(NameReferenceEntry(kind: kind, group: nr["group"]?.string, version: nr["version"]?.string,
                                                               specs: (nr["fieldSpecs"]?.array ?? []).map(FieldSpec.init)))
                }
                try conf.merge(f)
            }
        }
        // MakeTransformerConfig: kustomize's defaults with the files merged in; then ResAccumulator.MergeConfig.
        let levelConfig = Self.defaults()
        try levelConfig.merge(conf)
        do { try merge(levelConfig) } catch { throw KustomizeError("merging config: \(error)") }
        let crds = child()
        try crds.addCRDs(k, level: level)
        do {
            let loaded = FieldConfig()
            try loaded.merge(crds)
            try merge(loaded)
        } catch { throw KustomizeError("merging CRDs: \(error)") }
    }

    /// ResAccumulator.MergeAccumulator into an empty accumulator (after a component): the lists merged into empty
    /// ones again, which refuses specs that conflict in their sorted order.
    func remerge() throws {
        let fresh = FieldConfig()
        try fresh.merge(self)
        commonLabels = fresh.commonLabels
        labels = fresh.labels
        templateLabels = fresh.templateLabels
        commonAnnotations = fresh.commonAnnotations
    }

    /// MakeDefaultConfig's label, annotation, prefix and suffix lists (sorted), which every level's configuration starts from.
    static func defaults() -> FieldConfig {
        let c = FieldConfig()
        c.commonLabels = SortedDefaults.commonLabels
        c.templateLabels = SortedDefaults.templateLabels
        c.commonAnnotations = SortedDefaults.commonAnnotations
        c.namePrefix = SortedDefaults.name
        c.nameSuffix = SortedDefaults.name
        return c
    }

    /// The default lists sorted once, and each as merged into an empty list (a base's accumulator starts empty):
    /// immutable, made on first use.
    enum SortedDefaults {
        static let commonLabels = sorted(DefaultFieldSpecs.commonLabels)
        static let templateLabels = sorted(DefaultFieldSpecs.metadataLabels)
        static let commonAnnotations = sorted(DefaultFieldSpecs.commonAnnotations)
        static let name = [FieldSpec(path: "metadata/name", create: false)]
        static let intoEmpty: [(list: [FieldSpec], merged: [FieldSpec])] = [commonLabels, templateLabels, commonAnnotations, name].map {
            ($0, sorted(mergeAll([], $0) ?? $0))
        }
    }

}

/// kustomize v5.5's default field specs for labels and annotations (api/internal/konfig/builtinpluginconsts:
/// metadatalabels.go, commonlabels.go, commonannotations.go), with their group and version restrictions:
/// a `Job` of another API group than batch gets no template labels, a Service of another version no selector.
enum DefaultFieldSpecs {
    static func make(_ rows: [(String?, String?, String, String, Bool)]) -> [FieldSpec] {
        rows.map { FieldSpec(group: $0.0, version: $0.1, kind: $0.2, path: $0.3, create: $0.4) }
    }

    /// metadataLabelsFieldSpecs (also templateLabels): metadata and pod template labels.
    static let metadataLabels: [FieldSpec] = [FieldSpec(path: "metadata/labels", create: true)] + make([
        (nil, "v1", "ReplicationController", "spec/template/metadata/labels", true),
        (nil, nil, "Deployment", "spec/template/metadata/labels", true),
        (nil, nil, "ReplicaSet", "spec/template/metadata/labels", true),
        (nil, nil, "DaemonSet", "spec/template/metadata/labels", true),
        ("apps", nil, "StatefulSet", "spec/template/metadata/labels", true),
        ("apps", nil, "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true),
        ("batch", nil, "Job", "spec/template/metadata/labels", true),
        ("batch", nil, "CronJob", "spec/jobTemplate/metadata/labels", true),
        ("batch", nil, "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true),
    ])

    static func affinity(_ kind: String) -> [(String?, String?, String, String, Bool)] {
        let pod = "spec/template/spec/"
        return [
            "affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "topologySpreadConstraints/labelSelector/matchLabels",
        ].map { ("apps", nil, kind, pod + $0, false) }
    }

    /// commonLabelFieldSpecs: selectors (created for Services and controllers, updated where present elsewhere),
    /// then the metadata labels.
    static let commonLabels: [FieldSpec] = make([
        (nil, "v1", "Service", "spec/selector", true),
        (nil, "v1", "ReplicationController", "spec/selector", true),
        (nil, nil, "Deployment", "spec/selector/matchLabels", true),
    ] + affinity("Deployment") + [
        (nil, nil, "ReplicaSet", "spec/selector/matchLabels", true),
        (nil, nil, "DaemonSet", "spec/selector/matchLabels", true),
        ("apps", nil, "StatefulSet", "spec/selector/matchLabels", true),
    ] + affinity("StatefulSet") + [
        ("batch", nil, "Job", "spec/selector/matchLabels", false),
        ("batch", nil, "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false),
        ("policy", nil, "PodDisruptionBudget", "spec/selector/matchLabels", false),
        ("networking.k8s.io", nil, "NetworkPolicy", "spec/podSelector/matchLabels", false),
        ("networking.k8s.io", nil, "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels", false),
        ("networking.k8s.io", nil, "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", false),
    ]) + metadataLabels

    /// commonAnnotationFieldSpecs.
    static let commonAnnotations: [FieldSpec] = [FieldSpec(path: "metadata/annotations", create: true)] + make([
        (nil, "v1", "ReplicationController", "spec/template/metadata/annotations", true),
        (nil, nil, "Deployment", "spec/template/metadata/annotations", true),
        (nil, nil, "ReplicaSet", "spec/template/metadata/annotations", true),
        (nil, nil, "DaemonSet", "spec/template/metadata/annotations", true),
        (nil, nil, "StatefulSet", "spec/template/metadata/annotations", true),
        ("batch", nil, "Job", "spec/template/metadata/annotations", true),
        ("batch", nil, "CronJob", "spec/jobTemplate/metadata/annotations", true),
        ("batch", nil, "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", true),
    ])
}
