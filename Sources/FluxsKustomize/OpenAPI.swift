import FluxsYAML

/// The OpenAPI schema a build uses to decide how strategic merge patches merge lists: one for the whole build,
/// as kyaml keeps it in a process-wide variable (kyaml/openapi/openapi.go):
/// - SetSchema: the first kustomization in load order (the top one, then each resource or component directory as
///   it is reached) whose `openapi:` names a `version` or a `path` sets it; later ones are ignored (their schema
///   file is still read, so a missing one still fails the build).
/// - initSchema: a custom schema replaces the built-in Kubernetes one, so built-in kinds patch as plain merges
///   (lists replaced), unless the built-in schema was already in use before the custom one was set: a strategic
///   merge patch was applied, or an object of a kind the built-in schema does not know was read
///   (IsNamespaceScoped flags the built-in schema to be parsed as well then).
final class OpenAPISchema {
    /// A kustomization's `openapi:` has decided the schema (a version, or a custom file).
    private(set) var decided = false
    private(set) var custom = false
    /// The built-in schema was consulted before a custom one was set: it stays loaded next to it.
    private(set) var builtinLoaded = false
    /// Kinds (`group/kind`) the custom schema defines: their patches are strategic.
    private(set) var customKinds: Set<String> = []
    /// List merge keys declared by the custom schema (`x-kubernetes-patch-merge-key`), by field name.
    private(set) var mergeKeys: [String: String] = [:]

    /// Whether built-in kinds (apps/v1 Deployment, ...) have their schema: merge keys for their lists.
    var builtinKnown: Bool { !custom || builtinLoaded }

    /// The built-in schema is consulted (a strategic merge patch, or a kind outside it): while no custom schema is
    /// in effect this loads it for the rest of the build.
    func consultBuiltin() {
        if !custom { builtinLoaded = true }
    }

    /// Objects read into the build: a kind the built-in schema does not know consults it (kyaml's delayed parse).
    func noteRead(_ res: [Resource]) {
        if custom || builtinLoaded { return }
        if res.contains(where: { !Patches.builtinGroups.contains($0.group) }) { builtinLoaded = true }
    }

    /// A kustomization's `openapi:` field, as kyaml's SetSchema takes it when the target is loaded.
    func apply(_ k: Node, level: Level) throws {
        guard let o = k["openapi"] else { return }
        var text: String?
        if let path = o["path"]?.string {
            text = try Generators.read(path, dir: level.dir, config: level.config)
        }
        if decided { return }
        if text != nil && o["version"] != nil {
            throw KustomizeError("builtin version and custom schema provided, cannot use both")
        }
        if let text {
            let schema: Node
            do { schema = try YAML.parse(text, file: o["path"]?.string ?? "") } catch {
                throw KustomizeError("openapi schema '\(o["path"]?.string ?? "")': \(error)")
            }
            decided = true
            custom = true
            collect(schema)
            return
        }
        guard let v = o["version"]?.text, !v.isEmpty else { return }
        if v != "v1.21.2" {
            throw KustomizeError("the specified OpenAPI version is not built in: \(v) (fluxs knows v1.21.2)")
        }
        decided = true
    }

    private func collect(_ schema: Node) {
        func walk(_ n: Node, depth: Int) {
            guard depth < 64 else { return }
            for (name, prop) in n["properties"]?.map?.entries ?? [] {
                if let key = prop["x-kubernetes-patch-merge-key"]?.string { mergeKeys[name] = key }
                walk(prop, depth: depth + 1)
                if let items = prop["items"] { walk(items, depth: depth + 1) }
            }
        }
        for (_, def) in schema["definitions"]?.map?.entries ?? [] {
            walk(def, depth: 0)
            for gvk in def["x-kubernetes-group-version-kind"]?.array ?? [] {
                if let kind = gvk["kind"]?.string { customKinds.insert((gvk["group"]?.string ?? "") + "/" + kind) }
            }
        }
    }

    /// Whether a patch of `r` merges lists by key (kinds the schema in use knows) or replaces them, and with which
    /// keys. The list merge keys a strategic merge patch of `r` uses, nil when it replaces lists. A kind the custom schema
    /// defines has that definition's keys only (AddDefinitions indexes it by its GVK over a built-in one parsed
    /// before): a custom Deployment without container schemas replaces its containers.
    func listKeys(for r: Resource) -> (keys: [String: String], builtin: Bool)? {
        if customKinds.contains(r.group + "/" + r.kind) { return (mergeKeys, false) }
        guard builtinKnown && Patches.builtinGroups.contains(r.group) else { return nil }
        return (Patches.mergeKeys.merging(mergeKeys) { _, b in b }, true)
    }
}
