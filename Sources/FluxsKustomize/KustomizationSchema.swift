import FluxsYAML

/// The fields of kustomize's types.Kustomization and the structs it holds (api/types, kustomize v5.5), with their Go
/// types, for the strict decoding of a kustomization file: types.Kustomization.Unmarshal turns the YAML into JSON
/// with sigs.k8s.io/yaml's YAMLToJSON (go-yaml v2, YAML 1.1: plain `yes`, `on` are booleans, `010` and `0x1F` numbers)
/// and decodes it with encoding/json and DisallowUnknownFields. So an unknown field in a `labels`, `patches`,
/// `images`, generator, `replacements`... entry is an error as it is at the top level, and so is a value of another
/// JSON type than the Go field's: a number into a string (`namePrefix: 1`, `newTag: 1.2`), a string into an integer
/// (`count: "3"`) or a boolean, a fraction into an integer (`count: 2.5` is "number 2.5"); a number that is whole
/// goes into an integer (`count: 3.0`, `0x10`, `1e3`), and a null into anything leaves it unset. The first error is
/// reported (encoding/json's saveError) in the JSON's order: YAMLToJSON goes through Go maps, so every mapping's keys
/// come sorted (bytewise); Go words it. Go's json matches field names case-insensitively.
indirect enum KustomizationShape: Sendable {
    /// A struct (its Go name, as errors print it) and its fields by lowercased name: the field's name as kustomize
    /// spells it and its shape.
    case fields(String, [String: (name: String, shape: KustomizationShape)])
    /// A slice: its items' shape and its Go type.
    case list(KustomizationShape, String)
    /// A map of string keys to a scalar type.
    case map(GoScalar)
    case scalar(GoScalar)
    /// interface{} values (helm values): anything.
    case value

    enum GoScalar: Sendable {
        /// A string type, by its Go name (`string`, `types.SortOrder`).
        case string(String)
        /// An integer type (`int64`, `int`).
        case int(String)
        case bool

        var goType: String {
            switch self {
            case .string(let t), .int(let t): return t
            case .bool: return "bool"
            }
        }
    }

    static let string = KustomizationShape.scalar(.string("string"))
    static let strings = KustomizationShape.list(.string, "[]string")
    static let stringMap = KustomizationShape.map(.string("string"))
    static let bool = KustomizationShape.scalar(.bool)

    static func object(_ type: String, _ strings: [String], _ nested: [String: KustomizationShape] = [:]) -> KustomizationShape {
        var m: [String: (name: String, shape: KustomizationShape)] = [:]
        for n in strings { m[n.lowercased()] = (n, .string) }
        for (k, v) in nested { m[k.lowercased()] = (k, v) }
        return .fields(type, m)
    }

    static let gvk = ["group", "version", "kind"]
    static let resId = gvk + ["name", "namespace"]
    static let fieldSpec = object("FieldSpec", gvk + ["path"], ["create": bool])
    static let selector = object("Selector", resId + ["annotationSelector", "labelSelector"])
    static let generatorOptions = object("GeneratorOptions", [], ["labels": stringMap, "annotations": stringMap,
                                                                  "disableNameSuffixHash": bool, "immutable": bool])
    static let generatorArgs: [String: KustomizationShape] = [
        "namespace": string, "name": string, "behavior": string, "literals": strings, "files": strings, "envs": strings,
        "env": string, "options": generatorOptions,
    ]
    static let fieldOptions = object("FieldOptions", ["delimiter", "encoding"], ["index": .scalar(.int("int")), "create": bool])
    static let image = object("Image", ["name", "newName", "tagSuffix", "newTag", "digest"])
    static let patch = object("Patch", ["path", "patch"], ["target": selector, "options": .map(.bool)])

    /// types.Kustomization's fields (the top-level names are Level.fields).
    static let kustomization: [String: KustomizationShape] = [
        "apiVersion": string, "kind": string,
        "metadata": object("ObjectMeta", ["name", "namespace"], ["labels": stringMap, "annotations": stringMap]),
        "openapi": stringMap, "namePrefix": string, "nameSuffix": string, "namespace": string,
        "commonLabels": stringMap, "commonAnnotations": stringMap,
        "labels": .list(object("Label", [], ["pairs": stringMap, "includeSelectors": bool, "includeTemplates": bool,
                                             "fields": .list(fieldSpec, "[]types.FieldSpec")]), "[]types.Label"),
        "patchesStrategicMerge": .list(.scalar(.string("types.PatchStrategicMerge")), "[]types.PatchStrategicMerge"),
        "patches": .list(patch, "[]types.Patch"),
        "patchesJson6902": .list(patch, "[]types.Patch"),
        "images": .list(image, "[]types.Image"),
        "imageTags": .list(image, "[]types.Image"),
        "replacements": .list(object("ReplacementField", ["path"], [
            "source": object("SourceSelector", resId + ["fieldPath"], ["options": fieldOptions]),
            "targets": .list(object("TargetSelector", [], ["select": selector, "reject": .list(selector, "[]*types.Selector"),
                                                          "fieldPaths": strings, "options": fieldOptions]), "[]*types.TargetSelector"),
        ]), "[]types.ReplacementField"),
        "replicas": .list(object("Replica", ["name"], ["count": .scalar(.int("int64"))]), "[]types.Replica"),
        "vars": .list(object("Var", ["name"], ["objref": object("Target", ["apiVersion"] + resId),
                                              "fieldref": object("FieldSelector", ["fieldPath"])]), "[]types.Var"),
        "sortOptions": object("SortOptions", [], ["order": .scalar(.string("types.SortOrder")),
                                                  "legacySortOptions": object("LegacySortOptions", [], ["orderFirst": strings, "orderLast": strings])]),
        "resources": strings, "components": strings, "crds": strings, "bases": strings,
        "configMapGenerator": .list(.fields("ConfigMapArgs", fields(generatorArgs)), "[]types.ConfigMapArgs"),
        "secretGenerator": .list(.fields("SecretArgs", fields(generatorArgs.merging(["type": string]) { a, _ in a })), "[]types.SecretArgs"),
        "helmGlobals": .value, "helmCharts": .value, "helmChartInflationGenerator": .value,
        "generatorOptions": generatorOptions,
        "configurations": strings, "generators": strings, "transformers": strings, "validators": strings, "buildMetadata": strings,
    ]

    static func fields(_ shapes: [String: KustomizationShape]) -> [String: (name: String, shape: KustomizationShape)] {
        var m: [String: (name: String, shape: KustomizationShape)] = [:]
        for (k, v) in shapes { m[k.lowercased()] = (k, v) }
        return m
    }

    /// The JSON type YAMLToJSON gives a scalar (go-yaml v2's YAML 1.1 reading of plain scalars): "string", "number",
    /// "bool" or "null".
    static func jsonKind(_ s: Scalar) -> String {
        guard s.style == .plain else { return "string" }
        // An explicit tag (`!!str 1`) keeps its type: only a scalar typed by its text is read again as YAML 1.1.
        let own = Resolver.resolve(plain: s.value)
        let tag = own == s.tag ? Resolver.resolve(plain: s.value, yaml11: true) : s.tag
        switch tag {
        case .null: return "null"
        case .bool: return "bool"
        case .int, .float: return "number"
        default: return "string"
        }
    }

    static func jsonKind(_ n: Node) -> String {
        switch n {
        case .mapping: return "object"
        case .sequence: return "array"
        case .scalar(let s): return jsonKind(s)
        default: return "null"
        }
    }

    /// A number's integer value as encoding/json reads it into an int64 (its JSON text must parse as one: `3.0` and
    /// `1e3` are whole after YAMLToJSON's float64), or the JSON text it fails with.
    static func integer(_ s: Scalar) -> (value: Int64?, text: String) {
        let plain = s.value.replacingAll("_", with: "")
        if Resolver.resolve(plain: s.value, yaml11: true) == .int, let i = Resolver.parseGoInt(plain) { return (i, String(i)) }
        guard let d = Resolver.parseFloat(s.value), d.isFinite else { return (nil, s.value) }
        if d == d.rounded(), abs(d) < 1e21, let i = Int64(exactly: d) { return (i, String(i)) }
        return (nil, Resolver.goJSONFloat(d))
    }

    /// The first decoding error of `node` as this shape, in document order: an unknown field, or a value of another
    /// type (`json: cannot unmarshal number into Go struct field Replica.replicas.count of type int64`). `owner` is
    /// the innermost struct being decoded and `path` the JSON field names from the top (list indices are not).
    func firstError(in node: Node, owner: String, path: [String]) -> String? {
        func mismatch(_ value: String, _ type: String) -> String {
            "json: cannot unmarshal \(value) into Go struct field \(owner).\(path.joined(separator: ".")) of type \(type)"
        }
        let kind = Self.jsonKind(node)
        if kind == "null" { return nil }
        switch self {
        case .value:
            return nil
        case .scalar(let t):
            return Self.scalarError(node, t, mismatch)
        case .map(let t):
            guard let m = node.map else { return mismatch(kind, "map[string]\(t.goType)") }
            for (_, v) in Self.sorted(m) where Self.jsonKind(v) != "null" {
                if let e = Self.scalarError(v, t, mismatch) { return e }
            }
            return nil
        case .list(let item, let type):
            guard let a = node.array else { return mismatch(kind, type) }
            for n in a { if let e = item.firstError(in: n, owner: owner, path: path) { return e } }
            return nil
        case .fields(let type, let known):
            guard let m = node.map else { return mismatch(kind, "types." + type) }
            for (k, v) in Self.sorted(m) {
                guard let field = known[k.lowercased()] else { return "json: unknown field \"\(k)\"" }
                if let e = field.shape.firstError(in: v, owner: type, path: path + [field.name]) { return e }
            }
            return nil
        }
    }

    /// A mapping's entries in the order json.Marshal writes a Go map's: keys sorted bytewise.
    static func sorted(_ m: Mapping) -> [(key: String, value: Node)] {
        m.entries.map { (key: $0.0, value: $0.1) }.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
    }

    static func scalarError(_ node: Node, _ t: GoScalar, _ mismatch: (String, String) -> String) -> String? {
        let kind = jsonKind(node)
        switch t {
        case .string(let type): return kind == "string" ? nil : mismatch(kind, type)
        case .bool: return kind == "bool" ? nil : mismatch(kind, "bool")
        case .int(let type):
            guard kind == "number", case .scalar(let s) = node else { return mismatch(kind, type) }
            let i = integer(s)
            return i.value == nil ? mismatch("number " + i.text, type) : nil
        }
    }

    /// `node` as kustomize holds it after decoding: struct fields spelled as kustomize spells them (Go's json takes
    /// `Pairs` for `pairs`; of two spellings of one field the later wins), YAML 1.1 booleans (`yes`) as booleans and
    /// whole numbers as integers where the field is one. Maps of strings keep their keys. Call after firstError.
    func canonical(_ node: Node) -> Node {
        switch self {
        case .value: return node
        case .scalar(let t): return Self.canonicalScalar(node, t)
        case .map(let t):
            guard var m = node.map else { return node }
            for (k, v) in m.entries { m[k] = Self.canonicalScalar(v, t) }
            return .mapping(m)
        case .list(let item, _):
            guard let a = node.array else { return node }
            return .sequence(a.map(item.canonical))
        case .fields(_, let known):
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

    static func canonicalScalar(_ node: Node, _ t: GoScalar) -> Node {
        guard case .scalar(let s) = node, jsonKind(s) != "null" else { return node }
        switch t {
        case .string: return node
        case .bool:
            guard jsonKind(s) == "bool" else { return node }
            return .bool(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"].contains(s.value))
        case .int:
            guard let i = integer(s).value, let v = Int(exactly: i) else { return node }
            return .int(v)
        }
    }
}
