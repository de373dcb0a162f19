import FluxsKube
import FluxsYAML

/// The builtin transformers of one kustomization, in kustomize's order.
enum Transformers {
    /// `renameOnly`: the kinds a PrefixSuffixTransformer plugin's `metadata/name` field specs select (nil: all).
    /// `recordIn`: the kustomization file (relative to the top of the build) whose fields these are; with
    /// transformerAnnotations each transformer that runs is recorded on every object, as kustomize does.
    static func run(_ k: Node, level: Level, renameOnly: [FieldSpec]? = nil, recordIn: String? = nil, into res: inout [Resource]) throws {
        let dir = level.dir
        func record(_ kind: String) {
            guard level.config.recordTransformations, let recordIn else { return }
            let entry: Node = ["configuredIn": .string(recordIn), "configuredBy": ["apiVersion": "builtin", "kind": .string(kind)]]
            for i in res.indices { res[i].transformations.append(entry) }
        }
        // patchesStrategicMerge (legacy)
        for p in k["patchesStrategicMerge"]?.array ?? [] {
            let text: String
            if let s = p.string, !s.contains("\n"), !s.contains(":") || s.hasSuffix(".yaml") || s.hasSuffix(".yml") {
                text = try Generators.read(s, dir: dir, config: level.config)
            } else if let s = p.string {
                text = s
            } else {
                text = try YAMLEmitter().emit(p)
            }
            let patches = try YAML.parseDocuments(text)
            if patches.isEmpty { throw KustomizeError("patch appears to be empty; patchesStrategicMerge: '\(p.string ?? "")'") }
            for patch in patches {
                try Patches.strategic(patch, target: nil, schema: level.config.schema, into: &res)
            }
        }
        if !(k["patchesStrategicMerge"]?.array ?? []).isEmpty { record("PatchStrategicMergeTransformer") }
        // patches
        for p in k["patches"]?.array ?? [] {
            // PatchTransformer.go Config: the inline patch is trimmed (empty is no patch); a path's file is read as is.
            var text = p["patch"]?.string.map { $0.trimming(" \t\n\r\u{0B}\u{0C}") }
            if text?.isEmpty == true { text = nil }
            var source = text.map { "[patch: \(GoQuote.quote($0))]" } ?? ""
            if text == nil, let path = p["path"]?.string {
                text = try Generators.read(path, dir: dir, config: level.config)
                source = "[path: \(GoQuote.quote(path))]"
            }
            guard let text else { throw KustomizeError("must specify one of patch and path in\n\(try YAMLEmitter().emit(p))") }
            let target = p["target"]
            let docs = try YAML.parseDocuments(text)
            // A text of no documents (comments, blank lines, `---`, `null`) decodes both as no strategic merge
            // patches and as a null JSON patch: "illegally qualifies as both". An empty file is an empty JSON patch,
            // which needs a target like any JSON patch.
            if docs.isEmpty {
                if !text.isEmpty { throw KustomizeError("illegally qualifies as both an SM and JSON patch: \(source)") }
                guard target != nil else { throw KustomizeError("must specify a target for JSON patch \(source)") }
                record("PatchTransformer")
                continue
            }
            if docs.count == 1, let ops = docs[0].array {
                guard target != nil else { throw KustomizeError("unable to find patch target: a JSON 6902 patch needs a target") }
                try Patches.json6902(ops, target: target, yaml: !text.hasPrefix("["), into: &res)
            } else {
                for d in docs {
                    try Patches.strategic(d, target: target, options: p["options"] ?? .emptyMap, schema: level.config.schema, into: &res)
                }
            }
            record("PatchTransformer")
        }
        if let ns = k["namespace"]?.string, !ns.isEmpty {
            namespace(ns, &res)
            // By position (a dictionary of Resource values copied each object).
            var seen: [String: Int] = [:]
            seen.reserveCapacity(res.count)
            for (j, r) in res.enumerated() {
                guard let earlier = seen.updateValue(j, forKey: r.id) else { continue }
                let first = res[earlier]
                let files = [first, r].compactMap { $0.origin?["path"]?.string }.map { Files.absolute($0, relativeTo: level.top) }
                throw KustomizeError("namespace transformation produces ID conflict: \(r.id) twice" + (files.count == 2 ? " (\(files[0]) and \(files[1]))" : ""))
            }
            record("NamespaceTransformer")
        }
        // PrefixTransformer.go (SuffixTransformer.go alike): the `metadata/name` specs of the whole list say which
        // objects are renamed; the list's other specs are fields the affix is added to.
        let isName = { (f: FieldSpec) in f.path == ["metadata", "name"] }
        if let p = k["namePrefix"]?.string, !p.isEmpty {
            rename(&res, prefix: p, only: renameOnly ?? level.config.namePrefix.filter(isName)) { p + $0 }
            try affixFields(level.config.namePrefix.filter { !isName($0) }, &res) { p + $0 }
            record("PrefixTransformer")
        }
        if let s = k["nameSuffix"]?.string, !s.isEmpty {
            rename(&res, suffix: s, only: renameOnly ?? level.config.nameSuffix.filter(isName)) { $0 + s }
            try affixFields(level.config.nameSuffix.filter { !isName($0) }, &res) { $0 + s }
            record("SuffixTransformer")
        }
        // kustomize makes one LabelTransformer per `labels` entry, then one for commonLabels (even when empty).
        let labelEntries = k["labels"]?.array ?? []
        if !labelEntries.isEmpty || k["commonLabels"] != nil {
            for l in labelEntries {
                guard let pairs = l["pairs"]?.map else { record("LabelTransformer"); continue }
                let sel = l["includeSelectors"]?.bool ?? false, tmpl = l["includeTemplates"]?.bool ?? false
                // kusttarget_configplugin.go: the entry's fields, then the configurations' `labels` specs (always),
                // then commonLabels specs (includeSelectors) or templateLabels specs (includeTemplates), each merged
                // into the entry's list by FsSlice.MergeAll ("conflicting fieldspecs", see FieldConfig.checkJoin).
                // The merged list is what is applied: a spec effectively equal to one before it is dropped.
                func join(_ fss: [FieldSpec], _ more: [FieldSpec], _ message: String) throws -> [FieldSpec] {
                    guard let out = FieldConfig.mergeAll(fss, more) else { throw KustomizeError("\(message): conflicting fieldspecs") }
                    return out
                }
                var fss = try join((l["fields"]?.array ?? []).map(FieldSpec.init), level.config.labels, "failed to merge labels")
                if sel {
                    fss = try join(fss, level.config.commonLabels, "failed to merge labels")
                } else {
                    if tmpl { fss = try join(fss, level.config.templateLabels, "failed to merge template fieldSpec") }
                    fss = try join(fss, [FieldSpec(path: "metadata/labels", create: true)], "failed to merge labels")
                }
                try checkPaths(fss, res)
                aliasing(pairs, &res) { res in custom(fss, pairs, &res) }
                record("LabelTransformer")
            }
            if let labels = k["commonLabels"]?.map {
                try checkPaths(level.config.commonLabels, res)
                aliasing(labels, &res) { res in
                    custom(level.config.commonLabels, labels, &res)
                }
            }
            record("LabelTransformer")
        }
        if let anns = k["commonAnnotations"]?.map {
            try checkPaths(level.config.commonAnnotations, res)
            aliasing(anns, &res) { res in
                custom(level.config.commonAnnotations, anns, &res)
            }
            record("AnnotationsTransformer")
        }
        for p in k["patchesJson6902"]?.array ?? [] {
            var text = p["patch"]?.string
            if text == nil, let path = p["path"]?.string { text = try Generators.read(path, dir: dir, config: level.config) }
            guard let text, let ops = try YAML.parse(text).array else { throw KustomizeError("patchesJson6902 entry without a JSON patch") }
            try Patches.json6902(ops, target: p["target"], yaml: !text.hasPrefix("["), into: &res)
            record("PatchJson6902Transformer")
        }
        for r in k["replicas"]?.array ?? [] {
            guard let name = r["name"]?.string, let count = r["count"]?.int else { continue }
            try replicas(name: name, count: count, &res)
            record("ReplicaCountTransformer")
        }
        for img in k["images"]?.array ?? [] { try images(img, extra: level.config.images, &res); record("ImageTagTransformer") }
        try Replacements.run(k, dir: dir, config: level.config, into: &res)
        if !(k["replacements"]?.array ?? []).isEmpty { record("ReplacementTransformer") }
    }

    /// Adds key/value pairs at extra field specs (from `configurations:` or `labels[].fields`).
    /// Runs one label or annotation transformer, keeping kyaml's shared value nodes (see ValueAliases).
    static func aliasing(_ pairs: Mapping, _ res: inout [Resource], _ body: (inout [Resource]) -> Void) {
        let before = res.map(\.node)
        body(&res)
        guard before.count == res.count else { return }
        for i in res.indices {
            var node = res[i].node
            res[i].aliases.record(before: before[i], after: &node, pairs: pairs)
            res[i].node = node
        }
    }

    static func custom(_ specs: [FieldSpec], _ pairs: Mapping, _ res: inout [Resource]) {
        // The objects' types and the values to set are read once, not per field spec and object.
        let types = res.map { FieldSpec.ObjectType($0) }
        let values = pairs.entries.map { ($0.key, Node.string($0.value.text ?? "")) }
        for spec in specs where !spec.path.isEmpty {
            for i in res.indices where spec.applies(to: types[i]) {
                spec.visit(&res[i].node) { v in
                    var m = v?.map ?? Mapping()
                    v = nil
                    for (k, val) in values { m[k] = val }
                    v = .mapping(m)
                }
            }
        }
    }

    /// kustomize's NamespaceTransformer with its default field specs: namespaced objects move, a Namespace object
    /// takes the name, APIService and CRD conversion webhook services follow, and binding subjects named
    /// "default" get the namespace (setRoleBindingSubjects: defaultOnly); other subjects are left to name references.
    static func namespace(_ ns: String, _ res: inout [Resource]) {
        for i in res.indices {
            // The object's kind, apiVersion, name and namespace are read once (each `res[i].kind` copied the Resource);
            // only the fields below change them (a Namespace's name, an object's namespace, last).
            let kind = res[i].kind, apiVersion = res[i].apiVersion, name = res[i].name, namespace = res[i].namespace
            // NamespaceTransformer.go: StorePreviousId for every object, before its namespace (or, for a Namespace,
            // its name) changes or not: cluster-scoped and unchanged objects then pass the name reference's
            // previous-name sieve too (an overlay's unrenamed ClusterRole beats a sibling's suffixed one).
            res[i].previous.append((namespace, name, kind))
            if kind == "RoleBinding" || kind == "ClusterRoleBinding", var subjects = res[i].node["subjects"]?.array {
                for j in subjects.indices where subjects[j]["name"]?.string == "default" {
                    subjects[j]["namespace"] = .string(ns)
                }
                res[i].node["subjects"] = .sequence(subjects)
            }
            if kind == "APIService" && Resource.splitAPIVersion(apiVersion).group == "apiregistration.k8s.io" {
                res[i].node.set(["spec", "service", "namespace"], .string(ns))
            }
            if kind == "CustomResourceDefinition", res[i].node.value(at: ["spec", "conversion", "webhook", "clientConfig", "service", "namespace"]) != nil {
                res[i].node.set(["spec", "conversion", "webhook", "clientConfig", "service", "namespace"], .string(ns))
            }
            if kind == "Namespace" && apiVersion == "v1" {
                if name != ns { res[i].name = ns }
                continue
            }
            if isClusterScoped(apiVersion: apiVersion, kind: kind) { continue }
            if namespace != ns { res[i].namespace = ns }
        }
    }

    static func isClusterScoped(_ r: Resource) -> Bool {
        isClusterScoped(apiVersion: r.apiVersion, kind: r.kind)
    }

    /// clusterScopedTypes holds "apiVersion kind": a kind that is in none of its entries is namespaced without
    /// joining the two (most objects).
    static func isClusterScoped(apiVersion: String, kind: String) -> Bool {
        clusterScopedKinds.contains(kind) && clusterScopedTypes.contains(apiVersion + " " + kind)
    }

    /// The kinds of clusterScopedTypes (the part after the space).
    static let clusterScopedKinds: Set<String> = Set(clusterScopedTypes.compactMap { t in
        t.firstIndex(of: " ").map { String(t[t.index(after: $0)...]) }
    })

    /// The label and annotation transformers' failures (FieldSpec.notAMapping), found before anything changes: the
    /// first object in order, then its first field spec, as kustomize's walk meets them.
    static func checkPaths(_ specs: [FieldSpec], _ res: [Resource]) throws {
        for r in res {
            let type = FieldSpec.ObjectType(r)
            for spec in specs where !spec.path.isEmpty && spec.applies(to: type) {
                if let e = FieldSpec.notAMapping(r.node, spec.path[...]) {
                    throw KustomizeError("considering field '\(spec.pathText)' of object \(r.id): \(e)")
                }
            }
        }
    }

    /// The PrefixTransformer's (SuffixTransformer's) field specs other than metadata/name (`configurations:`
    /// sections, `crds:` x-kubernetes-identity): the affix goes to the scalar there, as a string, made empty first
    /// with `create` (prefix.Filter: CreateKind scalar); objects the transformer skips (CRDs, Namespaces,
    /// APIServices) keep theirs. Selected by the original kind and the current one (OrgId, then isMatchGVK); a
    /// scalar in the way fails as fieldspec.Filter does.
    static func affixFields(_ specs: [FieldSpec], _ res: inout [Resource], _ affix: (String) -> String) throws {
        guard !specs.isEmpty else { return }
        for i in res.indices {
            let kind = res[i].kind
            if kind == "CustomResourceDefinition" || kind == "Namespace" || (kind == "APIService" && res[i].group == "apiregistration.k8s.io") {
                continue
            }
            let orgKind = res[i].previous.first?.kind ?? kind
            for spec in specs where spec.applies(to: res[i], kind: orgKind) && spec.applies(to: res[i]) {
                if let e = FieldSpec.blocked(res[i].node, spec.path[...]) {
                    throw KustomizeError("considering field '\(spec.pathText)' of object \(res[i].id): \(e)")
                }
                FieldSpec.visit(&res[i].node, spec.path[...], create: spec.create, lists: spec.lists) { v in
                    if v == nil { v = .string(affix("")); return }
                    if let n = v, case .scalar(let s) = n, !n.isNull { v = .string(affix(s.value)) }
                }
            }
        }
    }

    static func rename(_ res: inout [Resource], prefix: String? = nil, suffix: String? = nil, only: [FieldSpec]? = nil,
                       _ f: (String) -> String) {
        for i in res.indices {
            // PrefixTransformer.go: once per metadata/name spec that selects the object (a kind's spec and the
            // kind-less default both do: kustomize then prefixes twice).
            let times = only.map { specs in specs.filter { $0.applies(to: res[i]) }.count } ?? 1
            if times == 0 { continue }
            // PrefixTransformer.go prefixFieldSpecsToSkip (SuffixTransformer.go alike): CRDs and Namespaces of any
            // group, APIServices of apiregistration.k8s.io; those are not renamed and record no affix either.
            let kind = res[i].kind
            if kind == "CustomResourceDefinition" || kind == "Namespace" || (kind == "APIService" && res[i].group == "apiregistration.k8s.io") {
                continue
            }
            for _ in 0..<times {
                if let p = prefix { res[i].prefixes.append(p) }
                if let s = suffix { res[i].suffixes.append(s) }
                res[i].remember()
                res[i].name = f(res[i].name)
            }
        }
    }

    /// replicasFieldSpecs (api/internal/konfig/builtinpluginconsts/replicas.go), and the GVKs kubectl names when
    /// none matches.
    static let replicaSpecs = ["Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"].map {
        FieldSpec(kind: $0, path: "spec/replicas", create: true)
    }

    /// ReplicaCountTransformer: `spec/replicas` of the objects of a replicas field spec's kind whose current or any
    /// earlier name is `name` (GetMatchingResourcesByAnyId), created when missing; naming no object is an error.
    static func replicas(name: String, count: Int, _ res: inout [Resource]) throws {
        var found = false
        for spec in replicaSpecs {
            // GetMatchingResourcesByAnyId: an earlier kind counts as found; the field spec filter then checks the
            // current kind (isMatchGVK), so a kind changed by a patch is found but not changed.
            for i in res.indices where res[i].ids.contains(where: { $0.name == name && spec.applies(to: res[i], kind: $0.kind) }) {
                found = true
                if spec.applies(to: res[i]) { spec.visit(&res[i].node) { $0 = .int(count) } }
            }
        }
        guard found else {
            throw KustomizeError("resource with name \(name) does not match a config with the following GVK [Deployment.[noVer].[noGrp] "
                                 + "StatefulSet.[noVer].[noGrp] ReplicaSet.[noVer].[noGrp] ReplicationController.[noVer].[noGrp]]")
        }
    }

    /// imagesFieldSpecs (api/internal/konfig/builtinpluginconsts/images.go).
    static let imageSpecs = ["spec/containers[]/image", "spec/initContainers[]/image", "spec/template/spec/containers[]/image",
                             "spec/template/spec/initContainers[]/image"].map { FieldSpec(path: $0, create: true) }

    /// image.IsImageMatched: the image matches the regular expression `^` + name + `(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$`
    /// (searched, as Go's MatchString does; the name is not grouped, so `a|b` is an alternation of the whole pattern).
    /// nil when the name is not a valid expression (kubectl v5.5 then crashes as soon as it compares an image).
    static func imagePattern(_ name: String) -> Regex<AnyRegexOutput>? {
        try? Regex("^" + name + "(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$")
    }

    /// A name that is plain text to the regular expression (letters, digits and `_-/:@`, and `.`, which matches any
    /// character): its bytes, matched without the regex engine (compiling the pattern cost ~1 M instructions an
    /// `images` entry, and each match tens of thousands). nil for any other name.
    static func literalImageName(_ name: String) -> [UInt8]? {
        var out: [UInt8] = []
        for b in name.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "."):
                out.append(b)
            default: return nil
            }
        }
        return out
    }

    /// `imagePattern(name)` matched against `image` for a literal name (see literalImageName): the name's bytes at
    /// the start (`.` any byte), then `(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?` to the end. nil, to be
    /// decided by the regex, when the image has a byte outside printable ASCII (no space, no line ends).
    static func matchesLiteral(_ name: [UInt8], _ image: String) -> Bool? {
        let img = Array(image.utf8)
        for b in img where b < 0x21 || b > 0x7E { return nil }
        guard img.count >= name.count else { return false }
        for i in name.indices where name[i] != UInt8(ascii: ".") && name[i] != img[i] { return false }
        func tagByte(_ b: UInt8) -> Bool {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "-"):
                return true
            default: return false
            }
        }
        var p = name.count
        if p < img.count && img[p] == UInt8(ascii: ":") {
            p += 1
            while p < img.count && tagByte(img[p]) { p += 1 }
        }
        let digest = Array("@sha256:".utf8)
        if img.count - p >= digest.count && img[p..<(p + digest.count)].elementsEqual(digest) {
            p += digest.count
            while p < img.count && tagByte(img[p]) { p += 1 }
        }
        return p == img.count
    }

    /// image.Split: name, tag and digest, the tag's colon searched after the first slash.
    static func splitImage(_ image: String) -> (name: String, tag: String, digest: String) {
        if image.utf8.allSatisfy({ $0 < 0x80 }) {
            // ASCII: the same on bytes (an Array of Characters per image cost more than the rest of the rewrite).
            let b = Array(image.utf8)
            func text(_ r: Range<Int>) -> String { String(decoding: b[r], as: UTF8.self) }
            var from = 0
            if let slash = b.firstIndex(of: UInt8(ascii: "/")), slash > 0 { from = slash }
            let id = b[from...].firstIndex(of: UInt8(ascii: "@")), ic = b[from...].firstIndex(of: UInt8(ascii: ":"))
            if let d = id, ic == nil || d < ic! { return (text(0..<d), "", text((d + 1)..<b.count)) }
            if let d = id, let c = ic { return (text(0..<c), text((c + 1)..<d), text((d + 1)..<b.count)) }
            if let c = ic { return (text(0..<c), text((c + 1)..<b.count), "") }
            return (image, "", "")
        }
        let chars = Array(image)
        var from = 0
        if let slash = chars.firstIndex(of: "/"), slash > 0 { from = slash }
        let id = chars[from...].firstIndex(of: "@"), ic = chars[from...].firstIndex(of: ":")
        if let d = id, ic == nil || d < ic! { return (String(chars[..<d]), "", String(chars[(d + 1)...])) }
        if let d = id, let c = ic { return (String(chars[..<c]), String(chars[(c + 1)..<d]), String(chars[(d + 1)...])) }
        if let c = ic { return (String(chars[..<c]), String(chars[(c + 1)...]), "") }
        return (image, "", "")
    }

    /// ImageTagTransformer: the legacy filter (every `containers` and `initContainers` list anywhere in an object),
    /// then the images field specs (the defaults and `configurations:`), both skipping CRDs. An image the legacy
    /// filter changed that still matches is changed again by the field specs (so `tagSuffix` is appended twice
    /// to pod template images, as kubectl does).
    static func images(_ img: Node, extra: [FieldSpec] = [], _ res: inout [Resource]) throws {
        guard let name = img["name"]?.string else { return }
        // The regex is compiled when an image needs it (never for a literal name and printable ASCII images).
        let literal = literalImageName(name)
        var compiled: Regex<AnyRegexOutput>?? = nil
        func pattern() -> Regex<AnyRegexOutput>? {
            if let compiled { return compiled }
            let p = imagePattern(name)
            compiled = .some(p)
            return p
        }
        var invalid = false
        let newName = img["newName"]?.text ?? "", newTag = img["newTag"]?.text ?? "", digest = img["digest"]?.text ?? ""
        let tagSuffix = img["tagSuffix"]?.text ?? ""
        func rewrite(_ image: String) -> String? {
            if let literal, let matched = matchesLiteral(literal, image) {
                guard matched else { return nil }
            } else {
                guard let pattern = pattern() else { invalid = true; return nil }
                guard image.firstMatch(of: pattern) != nil else { return nil }
            }
            var (n, tag, dig) = splitImage(image)
            if !newName.isEmpty { n = newName }
            if !newTag.isEmpty && !digest.isEmpty {
                tag = newTag; dig = digest
            } else if !newTag.isEmpty {
                tag = newTag; dig = ""
            } else if !digest.isEmpty {
                tag = ""; dig = digest
            } else if !tagSuffix.isEmpty {
                tag += tagSuffix; dig = ""
            }
            if !tag.isEmpty { n += ":" + tag }
            if !dig.isEmpty { n += "@" + dig }
            return n
        }
        // The legacy filter's walk (every mapping's fields in order, deeper lists first) reads the tree and notes
        // each `containers`/`initContainers` list whose items' images change, with the new images; then only those
        // lists are changed, in place. (Changing every mapping on the way cost most of the transformer.)
        var lists: [(path: [PathStep], images: [(Int, String)])] = []
        var path: [PathStep] = []
        func find(_ n: Node) {
            switch n {
            case .mapping(let m):
                let keys = m.keys, values = m.values
                for i in keys.indices {
                    let child = values[i]
                    if case .scalar = child { continue }
                    path.append(.key(keys[i]))
                    find(child)
                    if keys[i] == "containers" || keys[i] == "initContainers", case .sequence(let items) = child {
                        var images: [(Int, String)] = []
                        for j in items.indices {
                            if let image = items[j]["image"]?.string, let new = rewrite(image) { images.append((j, new)) }
                        }
                        if !images.isEmpty { lists.append((path, images)) }
                    }
                    path.removeLast()
                }
            case .sequence(let a):
                for j in a.indices {
                    if case .scalar = a[j] { continue }
                    path.append(.index(j))
                    find(a[j])
                    path.removeLast()
                }
            default: break
            }
        }
        // imagetag.Filter walks its field specs as fieldspec.Filter does: a scalar in the way fails, before anything
        // changes (the first object in order, then its first spec).
        for i in res.indices where res[i].kind != "CustomResourceDefinition" {
            for spec in imageSpecs + extra where !spec.path.isEmpty && spec.applies(to: res[i]) {
                if let e = FieldSpec.blocked(res[i].node, spec.path[...]) {
                    throw KustomizeError("considering field '\(spec.pathText)' of object \(res[i].id): \(e)")
                }
            }
        }
        for i in res.indices where res[i].kind != "CustomResourceDefinition" {
            lists.removeAll(keepingCapacity: true)
            find(res[i].node)
            for (at, images) in lists {
                ValueAliases.modify(&res[i].node, at[...]) { list in
                    list.withSequence { items in for (j, new) in images { items[j]["image"] = .string(new) } }
                }
            }
        }
        for spec in imageSpecs + extra where !spec.path.isEmpty {
            for i in res.indices where res[i].kind != "CustomResourceDefinition" && spec.applies(to: res[i]) {
                // Most objects have none of the four default paths but one: a read-only look first.
                guard FieldSpec.probe(res[i].node, spec.path[...]).reaches else { continue }
                FieldSpec.visit(&res[i].node, spec.path[...], create: false) { v in
                    if let s = v?.string, let new = rewrite(s) { v = .string(new) }
                }
            }
        }
        if invalid {
            throw KustomizeError("images: name \"\(name)\" is not a valid regular expression (kustomize matches images with it; kubectl v5.5 crashes)")
        }
    }
}

/// A step of a path into a document.
enum PathStep: Hashable {
    case key(String)
    case index(Int)
}

/// kyaml's shared value nodes, as kustomize's label and annotation transformers leave them: one transformer makes a
/// single value node per key and object (filtersutil.SetEntry) and appends that same node to every field spec that
/// lacked the key, while a key that exists is overwritten in place (FieldSetter → SetYNode). So a label an earlier
/// transformer added to metadata/labels and to the pod template together changes in both when a later transformer
/// sets it in one of them (a base's `labels` with includeTemplates, an overlay's without). Tracked per object.
struct ValueAliases {
    /// key → groups of paths (to the mapping holding the key) that share one value node.
    var groups: [String: [[[PathStep]]]] = [:]

    /// Mapping paths in `n` whose key `k` is a scalar with text `value`.
    static func holders(_ n: Node, key k: String, value: String) -> [[PathStep]] {
        // One path grown and shrunk as the walk goes (a new array per node was most of the cost).
        var out: [[PathStep]] = []
        var path: [PathStep] = []
        func walk(_ n: Node) {
            switch n {
            case .mapping(let m):
                for (ck, cv) in zip(m.keys, m.values) {
                    if case .scalar(let s) = cv {
                        if ck == k, s.value == value { out.append(path) }
                        continue
                    }
                    path.append(.key(ck))
                    walk(cv)
                    path.removeLast()
                }
            case .sequence(let a):
                for (i, e) in a.enumerated() {
                    if case .scalar = e { continue }
                    path.append(.index(i))
                    walk(e)
                    path.removeLast()
                }
            default: break
            }
        }
        walk(n)
        return out
    }

    static func node(_ n: Node, _ path: [PathStep]) -> Node? {
        var cur: Node? = n
        for s in path {
            switch s {
            case .key(let k): cur = cur?[k]
            case .index(let i): cur = cur?.array.flatMap { i < $0.count ? $0[i] : nil }
            }
        }
        return cur
    }

    /// Calls `body` with the node at `path` in `n`, changed in place (nothing when the path is not there).
    static func modify(_ n: inout Node, _ path: ArraySlice<PathStep>, _ body: (inout Node) -> Void) {
        guard let first = path.first else { body(&n); return }
        switch first {
        case .key(let k): n.withMapping { m in m.withValue(k) { modify(&$0, path.dropFirst(), body) } }
        case .index(let i): n.withSequence { a in if i < a.count { modify(&a[i], path.dropFirst(), body) } }
        }
    }

    static func setValue(_ n: inout Node, _ path: ArraySlice<PathStep>, key: String, _ v: Node) {
        guard let first = path.first else {
            guard case .mapping(var m) = n, m[key] != nil else { return }
            m[key] = v
            n = .mapping(m)
            return
        }
        switch (first, n) {
        case (.key(let k), .mapping(var m)):
            guard var child = m[k] else { return }
            setValue(&child, path.dropFirst(), key: key, v)
            m[k] = child
            n = .mapping(m)
        case (.index(let i), .sequence(var a)) where i < a.count:
            setValue(&a[i], path.dropFirst(), key: key, v)
            n = .sequence(a)
        default: return
        }
    }

    /// After one transformer set `pairs` on an object (`before` → `after`): new groups for keys it added in more
    /// than one place, and in-place overwrites carried to the fields sharing the node.
    mutating func record(before: Node, after: inout Node, pairs: Mapping) {
        for (k, v) in pairs.entries {
            let value = v.text ?? ""
            let now = ValueAliases.holders(after, key: k, value: value)
            var created: [[PathStep]] = [], overwritten: [[PathStep]] = []
            for p in now {
                if ValueAliases.node(before, p)?[k] == nil { created.append(p) } else { overwritten.append(p) }
            }
            let set = Set(overwritten)
            for g in groups[k] ?? [] {
                guard let from = g.first(where: set.contains), let shared = ValueAliases.node(after, from)?[k] else { continue }
                for q in g where !set.contains(q) {
                    if case .scalar? = ValueAliases.node(after, q)?[k] { ValueAliases.setValue(&after, q[...], key: k, shared) }
                }
            }
            if created.count > 1 { groups[k, default: []].append(created) }
        }
    }
}
