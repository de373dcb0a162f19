import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs install`: the Flux API (namespace and CRDs generated from fluxs's types).
/// fluxs reconciles on demand, so it installs no controllers.
enum InstallCommand {
    static func make() -> Command {
        Command(
            name: "install",
            summary: "Install or upgrade Flux",
            long: """
            The install command applies the Flux namespace and the CustomResourceDefinitions of the
            requested components to the cluster (server-side apply, field manager "flux").
            fluxs reconciles Flux objects on demand, so no controllers are installed; the controller
            flags are accepted for compatibility and validated, and have no effect.
            """,
            examples: """
              # Install the CRDs of the default components
              fluxs install

              # Include the image automation CRDs
              fluxs install --components-extra=image-reflector-controller,image-automation-controller

              # Print the manifests without touching the cluster
              fluxs install --export > flux-system.yaml
            """,
            flags: [
                .bool("export", nil, "write the install manifests to stdout and exit"),
                Flag(name: "version", short: "v", kind: .string, help: "toolkit version, e.g. v2.9.4 (only the version fluxs embeds)"),
                .strings("components", nil, "list of components, accepts comma-separated values",
                         default: CRDs.defaultComponents.joined(separator: ",")),
                .strings("components-extra", nil, "list of components in addition to those supplied or defaulted, accepts values such as 'image-reflector-controller,image-automation-controller,source-watcher'"),
                .string("registry", nil, "container registry where the toolkit images are published", default: "ghcr.io/fluxcd"),
                .string("registry-creds", nil, "container registry credentials in the format 'user:password', requires --image-pull-secret to be set"),
                .string("image-pull-secret", nil, "Kubernetes secret name used for pulling the toolkit images from a private registry"),
                .bool("watch-all-namespaces", nil, "watch for custom resources in all namespaces, if set to false it will only watch the namespace where the toolkit is installed", default: true),
                .choice("log-level", nil, ["debug", "info", "error"], "log level, available options are: (debug, info, error)", default: "info"),
                .bool("network-policy", nil, "setup Kubernetes network policies to deny ingress access to the toolkit controllers from other namespaces", default: true),
                .string("cluster-domain", nil, "internal cluster domain", default: "cluster.local"),
                .strings("toleration-keys", nil, "list of toleration keys used to schedule the components pods onto nodes with matching taints"),
                .bool("force", nil, "override existing Flux installation if it's managed by a different tool such as Helm"),
            ],
            handler: run)
    }

    static func components(_ inv: Invocation) throws -> [String] {
        let comps = inv.flags.strings("components") + inv.flags.strings("components-extra")
        let known = CRDs.defaultComponents + CRDs.extraComponents
        for c in comps where !known.contains(c) { throw CLIError("component \(c) is not available") }
        let creds = inv.flags.string("registry-creds")
        if !creds.isEmpty {
            if inv.flags.string("image-pull-secret").isEmpty { throw CLIError("--registry-creds requires --image-pull-secret to be set") }
            if !creds.contains(":") || creds.hasPrefix(":") || creds.hasSuffix(":") {
                throw CLIError("invalid --registry-creds format, expected 'user:password'")
            }
        }
        let v = inv.flags.string("version")
        if !v.isEmpty {
            if !v.hasPrefix("v") { throw CLIError("targeted version '\(v)' must be prefixed with 'v'") }
            if v != CRDs.fluxVersion {
                throw CLIError("targeted version '\(v)' is not available: fluxs \(BuildInfo.version) embeds the Flux \(CRDs.fluxVersion) API only")
            }
        }
        return comps
    }

    /// The install manifests: the namespace and the CRDs of the components.
    static func manifests(components: [String], namespace: String) -> [Node] {
        let ns: Node = .map([
            ("apiVersion", "v1"), ("kind", "Namespace"),
            ("metadata", .map([
                ("labels", .map([
                    ("app.kubernetes.io/instance", .string(namespace)), ("app.kubernetes.io/part-of", "flux"),
                    ("app.kubernetes.io/version", .string(CRDs.fluxVersion)),
                    ("pod-security.kubernetes.io/warn", "restricted"), ("pod-security.kubernetes.io/warn-version", "latest"),
                ])),
                ("name", .string(namespace)),
            ])),
        ])
        return [ns] + CRDs.crds(components: components, namespace: namespace)
    }

    static func render(components: [String], namespace: String) throws -> String {
        var s = "---\n# This manifest was generated by fluxs. DO NOT EDIT.\n# Flux Version: \(CRDs.fluxVersion)\n"
        s += "# Components: \(components.joined(separator: ","))\n"
        s += try YAMLEmitter().emit(documents: manifests(components: components, namespace: namespace))
        return s
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        if !inv.args.isEmpty { throw CLIError("unknown command \"\(inv.args[0])\" for \"fluxs install\"") }
        let comps = try components(inv)
        let ns = try inv.namespace()
        if inv.flags.bool("export") {
            inv.out.write(try render(components: comps, namespace: ns))
            return 0
        }
        inv.out.generate("generating manifests")
        let objects = manifests(components: comps, namespace: ns)
        if inv.verbose { inv.out.write(try render(components: comps, namespace: ns)) }
        inv.out.success("manifests build completed")
        inv.out.action("installing components in \(ns) namespace")
        let kube = try inv.kube()
        let info = try ClusterInfo.read(kube)
        if info.bootstrapped {
            throw CLIError("this cluster has already been bootstrapped with Flux \(info.version)! Please use 'fluxs bootstrap' to upgrade")
        }
        if let managedBy = info.managedBy, managedBy != "flux", !inv.flags.bool("force") {
            throw CLIError("Flux \(info.version) has been installed on this cluster with \(managedBy)! Pass --force to override that installation")
        }
        let applier = Applier(kube: kube, fieldManager: "flux")
        let changes: [ChangeSetEntry]
        do { changes = try applier.apply(objects) } catch { throw CLIError("install failed: \(error)") }
        inv.out.print(changes.map(\.line).joined(separator: "\n"))
        inv.out.waiting("verifying installation")
        inv.out.success("custom resource definitions established (no controllers: fluxs reconciles on demand)")
        inv.out.success("install finished")
        return 0
    }
}

/// What the GitRepository CRD's labels say about the Flux installation (reference §4.3).
struct ClusterInfo {
    var installed = false
    var version = ""
    var bootstrapped = false
    var managedBy: String?
    var partOf = ""
    var distribution: String { partOf.isEmpty ? version : "\(partOf)-\(version)" }

    static let crdRef = ResourceRef.crds

    static func read(_ kube: KubeClient) throws -> ClusterInfo {
        var i = ClusterInfo()
        guard let crd = try kube.getIfExists(crdRef, namespace: nil, name: FluxKinds.gitRepository.crdName) else { return i }
        let labels = crd["metadata"]?["labels"]
        i.installed = true
        i.version = labels?["app.kubernetes.io/version"]?.string ?? ""
        i.bootstrapped = labels?["kustomize.toolkit.fluxcd.io/namespace"] != nil
        let m = labels?["app.kubernetes.io/managed-by"]?.string ?? ""
        i.managedBy = m.isEmpty ? nil : m
        i.partOf = labels?["app.kubernetes.io/part-of"]?.string ?? ""
        return i
    }
}
