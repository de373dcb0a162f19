import FluxsKube
import FluxsYAML

/// `kustomize build DIR` in Swift (kustomize v5 semantics for the features fluxs supports; see docs/kustomize.md).
public struct Kustomizer {
    public init() {}

    public static let fileNames = ["kustomization.yaml", "kustomization.yml", "Kustomization"]

    /// Builds the kustomization in `dir` and returns the documents in kustomize's output order.
    /// `root`, when given, is used instead of the directory's kustomization file (nothing is written to disk).
    /// `legacyOrder: false` keeps the order resources were read in (kustomize-controller builds that way).
    /// `files` are read from memory instead of the disk (absolute path → content): fluxs's SOPS decryption serves
    /// decrypted generator sources and patches this way, so no cleartext is written.
    /// `confinedTo`: every path the build reads must resolve (symlinks included) inside this root, as
    /// kustomize-controller confines kustomize to the artifact; nil keeps `kubectl kustomize`'s rules.
    /// `parsed`: resource files the caller has parsed already (absolute path → the non-empty documents, as
    /// `YAML.parseDocuments(bytes:)` gives them), used instead of reading and parsing the file again (flux's
    /// generated kustomization decodes every file it lists). A path also in `files` is not taken from `parsed`.
    public func build(_ dir: String, root rootKustomization: Node? = nil, legacyOrder: Bool = true, files: [String: [UInt8]] = [:],
                      parsed: [String: [Node]] = [:], confinedTo confinement: Confinement? = nil) throws -> [Node] {
        let root = Files.absolute(dir)
        try confinement?.check(root, entry: dir, what: "kustomization path")
        guard Files.isDirectory(root) else {
            throw KustomizeError("must build at directory: not a valid directory: '\(root)'")
        }
        var level = Level(dir: root, stack: [], vars: VarSet(), top: root, config: FieldConfig())
        level.override = rootKustomization
        level.config.files = files
        level.config.parsed = parsed.filter { files[$0.key] == nil }
        level.config.confinement = confinement
        let meta = try level.kustomizationFile().1["buildMetadata"]?.array?.compactMap(\.string) ?? []
        level.config.recordTransformations = meta.contains("transformerAnnotations")
        var resources = try level.accumulate()
        if meta.contains("transformerAnnotations") {
            for i in resources.indices where !resources[i].transformations.isEmpty {
                var anns = resources[i].annotations
                anns["alpha.config.kubernetes.io/transformations"] = .string(try YAMLEmitter(sortKeys: false).emit(.sequence(resources[i].transformations)))
                resources[i].node.set(["metadata", "annotations"], .mapping(anns))
            }
        }
        if meta.contains("originAnnotations") {
            for i in resources.indices {
                guard let o = resources[i].origin else { continue }
                var anns = resources[i].annotations
                anns["config.kubernetes.io/origin"] = .string(try YAMLEmitter(sortKeys: false).emit(o))
                resources[i].node.set(["metadata", "annotations"], .mapping(anns))
            }
        }
        try Hasher.addHashes(&resources)
        try NameReferences.fix(&resources, config: level.config)
        try level.vars.resolve(&resources, references: level.config.varReferences)
        // kustomize removes its build annotations at the end with SetAnnotations(map[string]string): every annotation
        // value that is a scalar becomes a string of the scalar's text (`rev: 3` is "3", `e:` is "", `~` is "~"), and
        // annotations that are empty, null or not a mapping (a JSON patch can make them a string) are removed.
        for i in resources.indices {
            guard let a = resources[i].node["metadata"]?["annotations"] else { continue }
            guard case .mapping(var anns) = a, !anns.isEmpty else {
                if case .mapping(var meta)? = resources[i].node["metadata"] { meta["annotations"] = nil; resources[i].node["metadata"] = .mapping(meta) }
                continue
            }
            var changed = false
            for (k, v) in anns.entries {
                if case .scalar(let s) = v, s.tag != .string { anns[k] = .string(s.value); changed = true }
            }
            if changed { resources[i].node.set(["metadata", "annotations"], .mapping(anns)) }
        }
        // kustomize's IgnoreLocal, the last step: objects annotated config.kubernetes.io/local-config (any value)
        // take part in the build (name references, replacements, vars) but are not output.
        // A value of "false" keeps the object (resource.Factory.DropLocalNodes).
        resources.removeAll { r in r.annotations["config.kubernetes.io/local-config"].map { $0.text != "false" } ?? false }
        for i in resources.indices { resources[i].stringifyAnnotations() }
        switch legacyOrder ? level.sortOrder : .fifo {
        case .fifo: break
        case .legacy(let first, let last): resources = LegacyOrder.sort(resources, first: first, last: last)
        }
        return resources.map(\.node)
    }

    /// The largest manifest file read (kustomization files and resources): a bound on memory (a tree of parsed
    /// objects takes about ten times the file), far above any object kube-apiserver accepts (3 MiB a request).
    public static let maxManifestSize = 16 << 20

    /// A manifest file's bytes, refused beyond `maxManifestSize` (read at most that far).
    static func readManifest(_ path: String) throws -> [UInt8] {
        do { return try Files.read(path, limit: maxManifestSize) } catch let e as Files.TooLarge { throw KustomizeError(e.description) }
    }

    /// The output as kubectl kustomize prints it.
    public func render(_ dir: String) throws -> String {
        try YAMLEmitter().emit(documents: try build(dir))
    }
}

enum SortOrder {
    case fifo
    case legacy(first: [String]?, last: [String]?)
}

/// One kustomization directory being built.
struct Level {
    let dir: String
    let stack: [String]
    let vars: VarSet
    let config: FieldConfig
    /// The directory the whole build started from (origin paths are relative to it).
    let top: String
    var sortOrder: SortOrder = .legacy(first: nil, last: nil)
    /// An in-memory kustomization for this directory (flux's generated or patched kustomization.yaml).
    var override: Node?

    init(dir: String, stack: [String], vars: VarSet, top: String, config: FieldConfig) {
        self.dir = dir
        self.stack = stack
        self.vars = vars
        self.top = top
        self.config = config
    }

    static let fields = ["apiVersion", "kind", "metadata", "resources", "bases", "components", "namespace", "namePrefix", "nameSuffix",
                         "commonLabels", "labels", "commonAnnotations", "patches", "patchesStrategicMerge", "patchesJson6902",
                         "images", "replicas", "configMapGenerator", "secretGenerator", "generatorOptions", "vars", "replacements",
                         "sortOptions", "crds", "openapi", "configurations", "generators", "transformers", "validators",
                         "buildMetadata", "helmCharts", "helmGlobals", "imageTags", "helmChartInflationGenerator"]

    func kustomizationFile() throws -> (String, Node) {
        if let override { return (dir + "/kustomization.yaml", override) }
        let found = Kustomizer.fileNames.filter { Files.exists(dir + "/" + $0) && !Files.isDirectory(dir + "/" + $0) }
        if found.count > 1 {
            throw KustomizeError("Found multiple kustomization files under: \(dir)")
        }
        guard let name = found.first else {
            throw KustomizeError("unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '\(dir)'")
        }
        let path = dir + "/" + name
        try config.confinement?.check(path, entry: relativePath(from: top, to: path), what: "kustomization file")
        let node: Node
        do { node = try YAML.parseLenient(bytes: try Kustomizer.readManifest(path), file: path) } catch { throw KustomizeError("\(error)") }
        if node.isNull { throw KustomizeError("\(path): kustomization.yaml is empty") }
        guard var m = node.map else { throw KustomizeError("\(path): kustomization is not a YAML mapping") }
        // kustomize reads field names case-insensitively (`nameprefix` works).
        for key in m.keys {
            if let canonical = Level.fields.first(where: { $0.lowercased() == key.lowercased() }), canonical != key, m[canonical] == nil {
                m[canonical] = m[key]
                m[key] = nil
            }
        }
        // types.Kustomization.Unmarshal (unknown fields and values of other types refused), FixKustomization (imageTags join images), CheckEmpty
        // and EnforceFields.
        for key in m.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            guard Level.fields.contains(key) else { throw KustomizeError("\(path): invalid Kustomization: json: unknown field \"\(key)\"") }
            if let shape = KustomizationShape.kustomization[key], let value = m[key] {
                if let e = shape.firstError(in: value, owner: "Kustomization", path: [key]) {
                    throw KustomizeError("\(path): invalid Kustomization: \(e)")
                }
                m[key] = shape.canonical(value)
            }
        }
        if let tags = m["imageTags"] {
            m["images"] = .sequence((m["images"]?.array ?? []) + (tags.array ?? []))
            m["imageTags"] = nil
        }
        if m.keys.allSatisfy({ $0 == "apiVersion" || $0 == "kind" }) { throw KustomizeError("\(path): kustomization.yaml is empty") }
        let kind = m["kind"]?.text ?? ""
        if !kind.isEmpty && kind != "Kustomization" && kind != "Component" {
            throw KustomizeError("Failed to read kustomization file under \(dir): kind should be Kustomization or Component")
        }
        let required = kind == "Component" ? "kustomize.config.k8s.io/v1alpha1" : "kustomize.config.k8s.io/v1beta1"
        if let av = m["apiVersion"]?.text, !av.isEmpty, av != required {
            throw KustomizeError("Failed to read kustomization file under \(dir): apiVersion for \(kind.isEmpty ? "Kustomization" : kind) should be \(required)")
        }
        return (path, .mapping(m))
    }

    /// Resources, components, generators and transformers of this level, applied in kustomize's order.
    mutating func accumulate(into start: [Resource] = [], asComponent: Bool = false) throws -> [Resource] {
        let (path, k) = try kustomizationFile()
        // kusttarget.go accumulateDirectory (kustomizer.go for the top): the target's `openapi:` is taken as it loads.
        try config.schema.apply(k, level: self)
        let kind = k["kind"]?.string ?? "Kustomization"
        // A Component is built like a Kustomization at the top of a build (kubectl kustomize does), not as a resource.
        if kind == "Component" && !asComponent && !stack.isEmpty {
            throw KustomizeError("expected kind != 'Component' for path '\(dir)'")
        }
        if kind == "Kustomization" && asComponent {
            throw KustomizeError("accumulating components: accumulateDirectory: \"expected kind 'Component' for path '\(dir)' but got 'Kustomization'\"")
        }
        for unsupported in ["helmCharts", "helmChartInflationGenerator", "validators"] where k[unsupported] != nil {
            throw KustomizeError("\(path): field '\(unsupported)' is not supported by fluxs's kustomize engine yet")
        }
        if let so = k["sortOptions"] {
            let order = so["order"]?.string ?? ""
            if order != "fifo" && order != "legacy" { throw KustomizeError("\(path): the field 'sortOptions.order' must be one of [fifo, legacy]") }
            if order == "fifo" && so["legacySortOptions"] != nil {
                throw KustomizeError("\(path): the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'")
            }
            switch order {
            case "fifo": sortOrder = .fifo
            default:
                sortOrder = .legacy(first: so["legacySortOptions"]?["orderFirst"]?.array?.compactMap(\.string),
                                    last: so["legacySortOptions"]?["orderLast"]?.array?.compactMap(\.string))
            }
        }
        // kusttarget.accumulateTarget: resources, this level's configurations and crds, generators, then components
        // (on what is accumulated so far), transformers, vars.
        var res = start
        var ids = Set(start.map(Level.key))
        let entries = (k["resources"]?.array ?? []) + (k["bases"]?.array ?? [])
        let prefetched = prefetch(entries.compactMap(\.string))
        for e in entries {
            guard let s = e.string else { continue }
            try merge(&res, &ids, try load(s, prefetched: prefetched))
        }
        try config.add(k, level: self)
        try Generators.run(k, dir: dir, configuredIn: relativePath(from: top, to: path), config: config, into: &res)
        try Plugins.generate(k["generators"]?.array ?? [], level: self, into: &res)
        for c in k["components"]?.array ?? [] {
            guard let s = c.string else { continue }
            let cdir = Files.absolute(s, relativeTo: dir)
            try config.confinement?.check(cdir, entry: s, what: "component")
            guard Files.isDirectory(cdir) else {
                throw KustomizeError("accumulating components: accumulation err='accumulating components from '\(s)': must build at directory: '\(cdir)': file is not directory'")
            }
            var sub = Level(dir: cdir, stack: stack + [dir], vars: vars, top: top, config: config)
            res = try sub.accumulate(into: res, asComponent: true)
            // accumulateDirectory: the component's accumulator (this level's) is merged into an empty one.
            do { try config.remerge() } catch {
                throw KustomizeError("accumulating components: accumulateDirectory: \"recursed merging from path '\(cdir)': \(error)\"")
            }
        }
        try vars.add(k, level: dir)
        try Transformers.run(k, level: self, recordIn: relativePath(from: top, to: path), into: &res)
        try Plugins.transform(k["transformers"]?.array ?? [], level: self, into: &res)
        try vars.pin(level: dir, &res)
        return res
    }

    /// The files among `entries` that `load` will parse (not remote, not directories, existing, in or below this
    /// directory, inside the confinement, not parsed by the caller), read and parsed on all cores first: path ->
    /// resources or the failure `load` reports when it reaches the entry. Reading and parsing are pure; `load` still
    /// runs every check in order, so the first error of a build is the one a loop over the entries meets.
    func prefetch(_ entries: [String]) -> [String: Result<[Resource], any Error>] {
        var paths: [String] = []
        var seen: Set<String> = []
        for entry in entries where !(entry.contains("://") || entry.hasPrefix("github.com/") || entry.hasPrefix("git@")) {
            let path = Files.absolute(entry, relativeTo: dir)
            guard config.confinement?.contains(path) ?? true, !Files.isDirectory(path), Files.exists(path), inOrBelow(path, dir),
                  config.parsed[path] == nil, seen.insert(path).inserted else { continue }
            paths.append(path)
        }
        let parsed = Parallel.map(paths.count, minimum: 4) { [paths] i in
            Result { try Level.parseResources(Kustomizer.readManifest(paths[i]), file: paths[i]) }
        }
        return Dictionary(uniqueKeysWithValues: zip(paths, parsed))
    }

    /// The resources of one `resources:` entry: a file (or directory) under this root.
    func load(_ entry: String, prefetched: [String: Result<[Resource], any Error>] = [:]) throws -> [Resource] {
        if entry.contains("://") || entry.hasPrefix("github.com/") || entry.hasPrefix("git@") {
            throw KustomizeError("accumulating resources: remote resource '\(entry)' is not supported by fluxs's kustomize engine")
        }
        let path = Files.absolute(entry, relativeTo: dir)
        try config.confinement?.check(path, entry: entry, what: "resource")
        if Files.isDirectory(path) {
            if stack.contains(path) || path == dir {
                throw KustomizeError("accumulating resources: accumulation err='accumulating resources from '\(entry)': cycle detected: candidate root '\(path)' contains visited root '\(dir)''")
            }
            // A base has its own accumulator: its configurations are merged into this level's after it is built.
            var sub = Level(dir: path, stack: stack + [dir], vars: vars, top: top, config: config.child())
            do {
                let built = try sub.accumulate()
                try config.merge(sub.config)
                return built
            } catch let e as KustomizeError {
                if e.description.hasPrefix("accumulating resources") { throw e }
                throw KustomizeError("accumulating resources: accumulation err='accumulating resources from '\(entry)': \(e.description)'")
            }
        }
        guard Files.exists(path) else {
            throw KustomizeError("accumulating resources: accumulation err='accumulating resources from '\(entry)': evalsymlink failure on '\(path)' : lstat \(path): no such file or directory': must build at directory: not a valid directory: evalsymlink failure on '\(path)' : lstat \(path): no such file or directory")
        }
        guard inOrBelow(path, dir) else {
            throw KustomizeError("accumulating resources: accumulation err='accumulating resources from '\(entry)': security; file '\(path)' is not in or below '\(dir)''")
        }
        var loaded: [Resource]
        if let docs = config.parsed.removeValue(forKey: path) {
            loaded = try Level.resources(docs, file: path)
        } else if let pre = prefetched[path] {
            loaded = try pre.get()
        } else {
            loaded = try Level.parseResources(Kustomizer.readManifest(path), file: path)
        }
        config.schema.noteRead(loaded)
        // One origin node for the file's objects (its relative path was computed per object).
        let origin: Node = .map([("path", .string(relativePath(from: top, to: path)))])
        for i in loaded.indices { loaded[i].origin = origin }
        return loaded
    }

    static func parseResources(_ bytes: [UInt8], file: String) throws -> [Resource] {
        let docs: [Node]
        do { docs = try YAML.parseDocuments(bytes: bytes, file: file) } catch {
            throw KustomizeError("accumulating resources: \(error)")
        }
        return try resources(docs, file: file, bytes: bytes)
    }

    /// Whether kyaml's ByteReader splits the text into more than one part at its `---` lines (empty parts and
    /// comments count, nothing before a first `---` does).
    static func multiPart(_ bytes: [UInt8]) -> Bool {
        var parts = 1, sawContent = false
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            let l = line.hasSuffix("\r") ? line.dropLast() : line[...]
            if l == "---" || l.hasPrefix("--- ") || l.hasPrefix("---\t") {
                if sawContent { parts += 1 }
            }
            sawContent = true
        }
        return parts > 1
    }

    /// The resources of a file's non-empty documents. `bytes` is the file's text when at hand (documents parsed
    /// elsewhere: the file is read again only if it holds a List).
    static func resources(_ docs: [Node], file: String, bytes: [UInt8]? = nil) throws -> [Resource] {
        // resource.Factory.RNodesFromBytes: empty documents (null, {}, []) are dropped; every other document needs
        // a kind and, unless its kind ends in List, a name; a List's items join the end of the queue (nested Lists
        // are expanded too), their keys sorted as Go's json.Marshal sorts them; a List without `items` is kept as
        // an object, one whose items are null or not a sequence yields nothing.
        func empty(_ d: Node) -> Bool { d.isNull || d.map?.isEmpty == true || d.array?.isEmpty == true }
        func sorted(_ n: Node, _ roundTrip: Bool) -> Node {
            if var m = n.map {
                for (k, v) in m.entries { m[k] = sorted(v, roundTrip) }
                m.sortKeys(by: <)
                return .mapping(m)
            }
            if let a = n.array { return .sequence(a.map { sorted($0, roundTrip) }) }
            // In a file of more than one document the items also come back from JSON: scalars take their JSON
            // text (`1.50` is 1.5, `~` null), which annotations keep (kubectl; a one-document List keeps the text).
            if roundTrip, case .scalar(let s) = n { return .scalar(s.jsonRoundTripped) }
            return n
        }
        // kyaml's ByteReader unwraps a List that is the file's only document itself (YAML kept); a file the `---`
        // lines split into more than one part (empty ones and comments count, nothing before a first `---` does)
        // goes through inlineAnyEmbeddedLists's JSON (multiPart).
        var roundTrip: Bool?
        var queue = docs.filter { !empty($0) }
        var out: [Resource] = []
        var next = 0
        while next < queue.count {
            let d = queue[next]
            next += 1
            if empty(d) { continue }
            guard d.map != nil else { throw KustomizeError("accumulating resources: accumulation err='accumulating resources from '\(file)': missing Resource metadata'") }
            guard let kind = d["kind"]?.text, !kind.isEmpty else {
                throw KustomizeError("missing kind in object \(file)")
            }
            if kind.hasSuffix("List") {
                guard let items = d.map?["items"] else { out.append(Resource(d)); continue }
                if roundTrip == nil { roundTrip = multiPart(try bytes ?? Kustomizer.readManifest(file)) }
                let rt = roundTrip ?? true
                queue += (items.array ?? []).map { sorted($0, rt) }
                continue
            }
            let name = d["metadata"]?["name"]
            guard let name, name.text?.isEmpty == false else {
                throw KustomizeError("accumulating resources: accumulation err='accumulating resources from '\(file)': missing metadata.name in object of kind \(kind)'")
            }
            out.append(Resource(d))
        }
        return out
    }

    /// Appends, rejecting a second object with the same id (kustomize: "may not add resource with an already registered id").
    /// (Kept in a set: a linear search per object made accumulating N objects N².)
    func merge(_ out: inout [Resource], _ ids: inout Set<Level.Key>, _ b: [Resource]) throws {
        for r in b {
            guard ids.insert(Level.key(r)).inserted else {
                throw KustomizeError("accumulating resources: may not add resource with an already registered id: \(r.id)")
            }
            out.append(r)
        }
    }

    /// An object's id as kustomize compares ids here (resid.ResId equality of kind, group, name and namespace; the
    /// version is not compared): the four fields as they are (they were joined with NUL into one string per object).
    struct Key: Hashable {
        let kind: String, group: String, name: String, namespace: String
    }

    static func key(_ r: Resource) -> Key {
        Key(kind: r.kind, group: Resource.splitAPIVersion(r.apiVersion).group, name: r.name, namespace: r.namespace)
    }
}

/// kustomize's default ("legacy") output order.
enum LegacyOrder {
    static let first = ["Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
                        "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret",
                        "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim",
                        "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget"]
    static let last = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]

    static func sort(_ rs: [Resource], first: [String]?, last: [String]?) -> [Resource] {
        let f = first ?? self.first, l = last ?? self.last
        func rank(_ k: String) -> Int {
            if let i = f.firstIndex(of: k) { return i - f.count }
            if let i = l.firstIndex(of: k) { return i + 1 }
            return 0
        }
        // The sort keys are computed once per object: the comparator read them from the value tree (dictionary
        // look-ups and string building) at each of the n log n comparisons.
        struct Key {
            let kind: String, group: String, version: String, gvk: String, nsName: String, rank: Int
        }
        let keys = rs.map { r -> Key in
            let kind = r.kind, group = r.group, version = r.version, namespace = r.namespace, name = r.name
            // legacyResIDSortString: a missing namespace sorts as "~X" (after any name), a missing name as "~N".
            return Key(kind: kind, group: group, version: version,
                       gvk: (group.isEmpty ? "~G" : group) + "_" + (version.isEmpty ? "~V" : version) + "_" + (kind.isEmpty ? "~K" : kind),
                       nsName: (namespace.isEmpty ? "~X" : namespace) + "|" + (name.isEmpty ? "~N" : name), rank: rank(kind))
        }
        return rs.indices.sorted { x, y in
            let a = keys[x], b = keys[y]
            if a.kind != b.kind || a.group != b.group || a.version != b.version {
                if a.rank != b.rank { return a.rank < b.rank }
                if a.kind == "Namespace" && b.kind == "Namespace" && (a.group.isEmpty || b.group.isEmpty) && a.gvk != b.gvk { return a.gvk > b.gvk }
                if a.gvk != b.gvk { return a.gvk < b.gvk }
            }
            if a.nsName != b.nsName { return a.nsName < b.nsName }
            return x < y
        }.map { rs[$0] }
    }
}
