import FluxsYAML

/// The fields of kustomize's types.Kustomization and the structs it holds (api/types, kustomize v5.5), for the strict
/// decoding of a kustomization file: types.Kustomization.Unmarshal decodes its JSON with DisallowUnknownFields, so an
/// unknown field in a `labels`, `patches`, `images`, generator, `replacements`... entry is an error as it is at the
/// top level. Go's encoding/json matches field names case-insensitively. Maps of strings (labels, options) and
/// `[]string` fields hold no fields of their own.
indirect enum KustomizationShape: Sendable {
    /// Struct fields by lowercased name: the field's name as kustomize spells it and its shape.
    case fields([String: (name: String, shape: KustomizationShape)])
    case list(KustomizationShape)
    case value

    static func object(_ names: [String], _ nested: [String: KustomizationShape] = [:]) -> KustomizationShape {
        var m: [String: (name: String, shape: KustomizationShape)] = [:]
        for n in names { m[n.lowercased()] = (n, .value) }
        for (k, v) in nested { m[k.lowercased()] = (k, v) }
        return .fields(m)
    }

    static let gvk = ["group", "version", "kind"]
    static let resId = gvk + ["name", "namespace"]
    static let fieldSpec = object(gvk + ["path", "create"])
    static let selector = object(resId + ["annotationSelector", "labelSelector"])
    static let generatorOptions = object(["labels", "annotations", "disableNameSuffixHash", "immutable"])
    static let generatorArgs = ["namespace", "name", "behavior", "literals", "files", "envs", "env"]
    static let fieldOptions = object(["delimiter", "index", "encoding", "create"])

    /// The nested fields of types.Kustomization's own fields (its top-level names are Level.fields).
    static let kustomization: [String: KustomizationShape] = [
        "metadata": object(["name", "namespace", "labels", "annotations"]),
        "labels": .list(object(["pairs", "includeSelectors", "includeTemplates"], ["fields": .list(fieldSpec)])),
        "patches": .list(object(["path", "patch", "options"], ["target": selector])),
        "patchesJson6902": .list(object(["path", "patch", "options"], ["target": selector])),
        "images": .list(object(["name", "newName", "tagSuffix", "newTag", "digest"])),
        "imageTags": .list(object(["name", "newName", "tagSuffix", "newTag", "digest"])),
        "replicas": .list(object(["name", "count"])),
        "vars": .list(object(["name"], ["objref": object(["apiVersion"] + resId), "fieldref": object(["fieldPath"])])),
        "configMapGenerator": .list(object(generatorArgs, ["options": generatorOptions])),
        "secretGenerator": .list(object(generatorArgs + ["type"], ["options": generatorOptions])),
        "generatorOptions": generatorOptions,
        "sortOptions": object(["order"], ["legacySortOptions": object(["orderFirst", "orderLast"])]),
        "replacements": .list(object(["path"], [
            "source": object(resId + ["fieldPath"], ["options": fieldOptions]),
            "targets": .list(object(["fieldPaths"], ["select": selector, "reject": .list(selector), "options": fieldOptions])),
        ])),
    ]

    /// The first field, in document order, that `node` holds and this shape does not know.
    func unknownField(in node: Node) -> String? {
        switch self {
        case .value: return nil
        case .list(let item):
            for n in node.array ?? [] { if let u = item.unknownField(in: n) { return u } }
            return nil
        case .fields(let known):
            guard let m = node.map else { return nil }
            for (k, v) in m.entries {
                guard let field = known[k.lowercased()] else { return k }
                if let u = field.shape.unknownField(in: v) { return u }
            }
            return nil
        }
    }

    /// `node` with its struct fields spelled as kustomize spells them (Go's json takes `Pairs` for `pairs`; of two
    /// spellings of one field the later wins). Maps of strings are left as they are.
    func canonical(_ node: Node) -> Node {
        switch self {
        case .value: return node
        case .list(let item):
            guard let a = node.array else { return node }
            return .sequence(a.map(item.canonical))
        case .fields(let known):
            guard let m = node.map else { return node }
            var out = Mapping()
            for (k, v) in m.entries {
                guard let field = known[k.lowercased()] else { out[k] = v; continue }
                out[field.name] = nil
                out[field.name] = field.shape.canonical(v)
            }
            return .mapping(out)
        }
    }
}
