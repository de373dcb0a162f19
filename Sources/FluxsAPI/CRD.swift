import FluxsYAML

/// The CustomResourceDefinitions of the Flux kinds, generated from the Swift types.
public enum CRDs {
    public static let fluxVersion = "v2.9.4"

    /// Every type with the controller that owns it upstream.
    public static let all: [(component: String, type: any FluxObject.Type)] = [
        ("source-controller", GitRepository.self), ("source-controller", OCIRepository.self),
        ("source-controller", HelmRepository.self), ("source-controller", HelmChart.self),
        ("source-controller", Bucket.self), ("source-controller", ExternalArtifact.self),
        ("kustomize-controller", Kustomization.self),
        ("helm-controller", HelmRelease.self),
        ("notification-controller", Provider.self), ("notification-controller", Alert.self),
        ("notification-controller", Receiver.self),
        ("image-reflector-controller", ImageRepository.self), ("image-reflector-controller", ImagePolicy.self),
        ("image-automation-controller", ImageUpdateAutomation.self),
        ("source-watcher", ArtifactGenerator.self),
    ]

    public static let defaultComponents = ["source-controller", "kustomize-controller", "helm-controller", "notification-controller"]
    public static let extraComponents = ["image-reflector-controller", "image-automation-controller", "source-watcher"]

    /// The CRD of one kind.
    public static func crd(_ t: any FluxObject.Type, component: String, namespace: String = "flux-system") -> Node {
        let k = t.fluxKind
        var names: [(String, Node)] = [("kind", .string(k.kind)), ("listKind", .string(k.kind + "List")),
                                       ("plural", .string(k.plural)), ("singular", .string(k.kind.lowercased()))]
        if !t.shortNames.isEmpty { names.append(("shortNames", .sequence(t.shortNames.map(Node.string)))) }
        if !t.categories.isEmpty { names.append(("categories", .sequence(t.categories.map(Node.string)))) }
        var version: [(String, Node)] = [
            ("name", .string(k.version)), ("served", true), ("storage", true),
            ("schema", .map([("openAPIV3Schema", t.rootSchema.node)])),
        ]
        let cols = t.printerColumns.map { c -> Node in
            var m: [(String, Node)] = [("jsonPath", .string(c.jsonPath)), ("name", .string(c.name)), ("type", .string(c.type))]
            if c.priority != 0 { m.append(("priority", .int(c.priority))) }
            return .map(m)
        }
        if !cols.isEmpty { version.append(("additionalPrinterColumns", .sequence(cols))) }
        if t.statusSchema != nil { version.append(("subresources", .map([("status", .emptyMap)]))) }
        return .map([
            ("apiVersion", "apiextensions.k8s.io/v1"),
            ("kind", "CustomResourceDefinition"),
            ("metadata", .map([
                ("annotations", .map([("kustomize.toolkit.fluxcd.io/substitute", "disabled")])),
                ("labels", .map([
                    ("app.kubernetes.io/component", .string(component)),
                    ("app.kubernetes.io/instance", .string(namespace)),
                    ("app.kubernetes.io/part-of", "flux"),
                    ("app.kubernetes.io/version", .string(fluxVersion)),
                ])),
                ("name", .string(k.crdName)),
            ])),
            ("spec", .map([
                ("group", .string(k.group)),
                ("names", .map(names)),
                ("scope", "Namespaced"),
                ("versions", .sequence([.map(version)])),
            ])),
        ])
    }

    /// The CRDs of the given components, in the order kustomize prints them (by name).
    public static func crds(components: [String], namespace: String) -> [Node] {
        all.filter { components.contains($0.component) }
            .map { crd($0.type, component: $0.component, namespace: namespace) }
            .sorted { ($0["metadata"]?["name"]?.string ?? "") < ($1["metadata"]?["name"]?.string ?? "") }
    }
}
