import FluxsKube
import FluxsYAML

/// `generators:` and `transformers:` entries that configure kustomize's builtin plugins (apiVersion: builtin),
/// from a file, a directory whose build yields the configs, or inline YAML. Other plugins are not supported.
enum Plugins {
    /// Plugin configs with the file they were configured in (relative to the top of the build).
    static func configs(_ entries: [Node], level: Level) throws -> [(Node, String)] {
        // Without entries nothing is read (the kustomization file was parsed again for its name).
        guard !entries.isEmpty else { return [] }
        var out: [(Node, String)] = []
        let kfile = relativePath(from: level.top, to: (try? level.kustomizationFile().0) ?? level.dir + "/kustomization.yaml")
        for e in entries {
            guard let s = e.string else { out.append((e, kfile)); continue }
            if s.contains("\n") {
                out += try YAML.parseDocuments(s).map { ($0, kfile) }
                continue
            }
            let path = Files.absolute(s, relativeTo: level.dir)
            try level.config.confinement?.check(path, entry: s, what: "plugin config")
            if Files.isDirectory(path) {
                var sub = Level(dir: path, stack: level.stack + [level.dir], vars: VarSet(), top: level.top, config: level.config)
                out += try sub.accumulate().map { ($0.node, $0.origin?["path"]?.string ?? kfile) }
            } else {
                out += try YAML.parseDocuments(try Generators.read(s, dir: level.dir, config: level.config)).map { ($0, relativePath(from: level.top, to: path)) }
            }
        }
        return out
    }

    static func unsupported(_ c: Node) -> KustomizeError {
        let kind = c["kind"]?.string ?? "", av = c["apiVersion"]?.string ?? ""
        if av == "builtin" {
            return KustomizeError("unable to load builtin \(kind).builtin.[noGrp]: not supported by fluxs's kustomize engine")
        }
        return KustomizeError("plugin \(kind).\(av) is not supported by fluxs's kustomize engine (only builtin plugins are)")
    }

    static func generate(_ entries: [Node], level: Level, into res: inout [Resource]) throws {
        for (c, configuredIn) in try configs(entries, level: level) {
            guard c["apiVersion"]?.string == "builtin" else { throw unsupported(c) }
            switch c["kind"]?.string ?? "" {
            case "ConfigMapGenerator", "SecretGenerator":
                var entry = c
                if entry["name"] == nil { entry["name"] = c["metadata"]?["name"] ?? .null }
                if entry["namespace"] == nil, let ns = c["metadata"]?["namespace"] { entry["namespace"] = ns }
                let kind = c["kind"]?.string == "SecretGenerator" ? "Secret" : "ConfigMap"
                try Generators.generate(entry, kind: kind, global: nil, dir: level.dir, configuredIn: configuredIn, config: level.config, into: &res)
                // The origin of a plugin-configured generator also names the plugin config.
                if let i = res.lastIndex(where: { $0.kind == kind }), var o = res[i].origin, var by = o["configuredBy"],
                   let pluginName = c["metadata"]?["name"] {
                    by["name"] = pluginName
                    o["configuredBy"] = by
                    res[i].origin = o
                }
            case "IAMPolicyGenerator":
                // A Kubernetes service account bound to a cloud IAM account (kustomize supports GKE only).
                guard c["cloud"]?.string == "gke" else {
                    throw KustomizeError("IAMPolicyGenerator: cloud provider '\(c["cloud"]?.text ?? "")' not supported yet")
                }
                let ksa = c["kubernetesService"], gsa = c["serviceAccount"]
                guard let name = ksa?["name"]?.string, let account = gsa?["name"]?.string, let project = gsa?["projectId"]?.string else {
                    throw KustomizeError("IAMPolicyGenerator \(c["metadata"]?["name"]?.text ?? ""): kubernetesService.name, serviceAccount.name and serviceAccount.projectId are required")
                }
                var meta: Node = ["annotations": ["iam.gke.io/gcp-service-account": .string("\(account)@\(project).iam.gserviceaccount.com")],
                                  "name": .string(name)]
                if let ns = ksa?["namespace"]?.string, !ns.isEmpty { meta["namespace"] = .string(ns) }
                res.append(Resource(["apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta]))
            default:
                throw unsupported(c)
            }
        }
    }

    static func transform(_ entries: [Node], level: Level, into res: inout [Resource]) throws {
        for (c, configuredIn) in try configs(entries, level: level) {
            guard c["apiVersion"]?.string == "builtin" else { throw unsupported(c) }
            // transformerAnnotations: a transformer configured by a plugin config is recorded on every object
            // (resmap AddTransformerAnnotation) with the config's origin (loader.go OriginFromCustomPlugin): the file it
            // was read from (the kustomization file for an inline one) and the config's apiVersion, kind, name and
            // namespace.
            func record() {
                guard level.config.recordTransformations else { return }
                var by: Node = ["apiVersion": .string(c["apiVersion"]?.string ?? ""), "kind": .string(c["kind"]?.string ?? "")]
                if let n = c["metadata"]?["name"]?.text, !n.isEmpty { by["name"] = .string(n) }
                if let ns = c["metadata"]?["namespace"]?.text, !ns.isEmpty { by["namespace"] = .string(ns) }
                let entry: Node = ["configuredIn": .string(configuredIn), "configuredBy": by]
                for i in res.indices { res[i].transformations.append(entry) }
            }
            var k = Node.emptyMap
            var renameOnly: [FieldSpec]?
            switch c["kind"]?.string ?? "" {
            case "PatchTransformer":
                var p = Node.emptyMap
                for key in ["patch", "path", "target", "options"] { if let v = c[key] { p[key] = v } }
                k["patches"] = [p]
            case "PatchJson6902Transformer":
                var p = Node.emptyMap
                p["target"] = c["target"] ?? .null
                if let j = c["jsonOp"] { p["patch"] = j } else if let path = c["path"] { p["path"] = path }
                k["patchesJson6902"] = [p]
            case "PatchStrategicMergeTransformer":
                var list: [Node] = c["paths"]?.array ?? []
                if let inline = c["patches"]?.string { list.append(.string(inline)) }
                k["patchesStrategicMerge"] = .sequence(list)
            case "PrefixSuffixTransformer", "PrefixTransformer", "SuffixTransformer":
                if let p = c["prefix"] { k["namePrefix"] = p }
                if let s = c["suffix"] { k["nameSuffix"] = s }
                if let specs = c["fieldSpecs"]?.array {
                    renameOnly = specs.filter { $0["path"]?.string == "metadata/name" }.map(FieldSpec.init)
                }
            case "LabelTransformer", "AnnotationsTransformer":
                // LabelTransformer.go / AnnotationsTransformer.go: the pairs go exactly where the plugin's own
                // fieldSpecs say (none: nowhere); the kustomization's default field specs are not used.
                let pairs = c[c["kind"]?.string == "LabelTransformer" ? "labels" : "annotations"]?.map ?? Mapping()
                if pairs.isEmpty { record(); continue }
                let specs = (c["fieldSpecs"]?.array ?? []).map(FieldSpec.init)
                Transformers.aliasing(pairs, &res) { Transformers.custom(specs, pairs, &$0) }
                record()
                continue
            case "NamespaceTransformer":
                if let ns = c["metadata"]?["namespace"] { k["namespace"] = ns }
            case "ImageTagTransformer":
                k["images"] = [c["imageTag"] ?? .emptyMap]
            case "ReplicaCountTransformer":
                k["replicas"] = [c["replica"] ?? .emptyMap]
            case "ReplacementTransformer":
                k["replacements"] = c["replacements"] ?? []
            default:
                throw unsupported(c)
            }
            try Transformers.run(k, level: level, renameOnly: renameOnly, into: &res)
            record()
        }
    }
}
