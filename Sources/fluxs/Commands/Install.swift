import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs install`: the Flux API (namespace and CRDs generated from fluxs's types); with `--controllers` everything
/// flux v2.9.4 installs (the hand-over to the controllers).
enum InstallCommand {
    static func make() -> Command {
        Command(
            name: "install",
            summary: "Install or upgrade Flux",
            long: """
            The install command applies the Flux namespace and the CustomResourceDefinitions of the
            requested components to the cluster (server-side apply, field manager "flux").
            fluxs reconciles Flux objects on demand, so by default no controllers are installed.
            With --controllers it applies what flux v2.9.4 installs: the controller Deployments,
            ServiceAccounts, RBAC, Services, NetworkPolicies and ResourceQuota, shaped by the
            controller flags, and waits for the controllers to be ready; from then on
            'fluxs reconcile' annotates the objects and waits for the controllers, as flux does.
            """,
            examples: """
              # Install the CRDs of the default components
              fluxs install

              # Include the image automation CRDs
              fluxs install --components-extra=image-reflector-controller,image-automation-controller

              # Print the manifests without touching the cluster
              fluxs install --export > flux-system.yaml

              # Hand over to the Flux controllers
              fluxs install --controllers
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
                controllersFlag,
            ],
            handler: run)
    }

    static let controllersFlag = Flag.bool("controllers", nil, "also install the Flux controllers, as flux does (fluxs; without it only the namespace and the CRDs)")

    /// The render options from the flags (flux's validation first).
    static func options(_ inv: Invocation) throws -> InstallOptions {
        var o = InstallOptions()
        o.components = try components(inv)
        o.namespace = try inv.namespace()
        o.registry = inv.flags.string("registry")
        o.imagePullSecret = inv.flags.string("image-pull-secret")
        o.watchAllNamespaces = inv.flags.bool("watch-all-namespaces")
        let level = inv.flags.string("log-level")
        if level.allSatisfy({ $0 == " " }) { throw CLIError("invalid argument \"\" for \"--log-level\" flag: no log level given, must be one of: debug, info, error") }
        if !["debug", "info", "error"].contains(level) {
            throw CLIError("invalid argument \"\(level)\" for \"--log-level\" flag: unsupported log level '\(level)', must be one of: debug, info, error")
        }
        o.logLevel = level
        o.networkPolicy = inv.flags.bool("network-policy")
        o.clusterDomain = inv.flags.string("cluster-domain")
        o.tolerationKeys = inv.flags.strings("toleration-keys")
        o.controllers = inv.flags.bool("controllers")
        return o
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

    /// The install manifests: the namespace and the CRDs of the components, and with --controllers the rest of
    /// what flux installs.
    static func manifests(_ o: InstallOptions) -> [Node] { Components.manifests(o) }

    static func render(_ o: InstallOptions) throws -> String {
        var s = "---\n# This manifest was generated by fluxs. DO NOT EDIT.\n# Flux Version: \(CRDs.fluxVersion)\n"
        s += "# Components: \(o.components.joined(separator: ","))\n"
        s += try YAMLEmitter().emit(documents: manifests(o))
        return s
    }

    /// flux's component health check (reference §4.2): every Deployment polled until all are Current or the
    /// deadline, then one line each, by name. False when any is not ready.
    static func waitForComponents(_ inv: Invocation, _ kube: KubeClient, names: [String], namespace: String, interval: Double) -> Bool {
        var last: [String: Node?] = [:]
        while true {
            var all = true
            for n in names {
                let d = try? kube.getIfExists(ResourceRef.deployments, namespace: namespace, name: n)
                last[n] = d ?? nil
                if d.flatMap({ $0 }).map({ Health.of($0) == .current }) != true { all = false }
            }
            if all || kube.remaining < interval + 1 { break }
            sleepSeconds(interval)
        }
        var ok = true
        for n in names.sorted() {
            switch last[n] ?? nil {
            case .none: inv.out.failure("\(n): deployment not found"); ok = false
            case .some(let d) where Health.of(d) == .current: inv.out.success("\(n): deployment ready")
            default: inv.out.failure("\(n): deployment not ready"); ok = false
            }
        }
        return ok
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        if !inv.args.isEmpty { throw CLIError("unknown command \"\(inv.args[0])\" for \"fluxs install\"") }
        let o = try options(inv)
        let ns = o.namespace
        if inv.flags.bool("export") {
            inv.out.write(try render(o))
            return 0
        }
        inv.out.generate("generating manifests")
        let objects = manifests(o)
        if inv.verbose { inv.out.write(try render(o)) }
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
        try applyPullSecret(inv, kube, namespace: ns)
        inv.out.waiting("verifying installation")
        guard o.controllers else {
            inv.out.success("custom resource definitions established (no controllers: fluxs reconciles on demand)")
            inv.out.success("install finished")
            return 0
        }
        guard waitForComponents(inv, kube, names: o.components, namespace: ns, interval: 5) else { throw CLIError("install failed") }
        inv.out.success("install finished")
        return 0
    }

    /// `--image-pull-secret` with `--registry-creds`: the dockerconfigjson Secret the controllers pull their images with.
    static func applyPullSecret(_ inv: Invocation, _ kube: KubeClient, namespace ns: String, bootstrap: Bool = false) throws {
        let pullSecret = inv.flags.string("image-pull-secret"), creds = inv.flags.string("registry-creds")
        guard !pullSecret.isEmpty, !creds.isEmpty, let colon = creds.firstIndex(of: ":") else { return }
        if !bootstrap { inv.out.action("generating image pull secret \(pullSecret)") }
        let user = String(creds[..<colon]), pass = String(creds[creds.index(after: colon)...])
        let registry = String(inv.flags.string("registry").split(separator: "/").first ?? "")
        func q(_ s: String) -> String { (try? JSON.encode(.string(s))) ?? "\"\"" }
        let config = "{\"auths\":{\(q(registry)):{\"username\":\(q(user)),\"password\":\(q(pass)),\"auth\":\(q(Base64.encode("\(user):\(pass)")))}}}"
        let secret = CreateSupport.secretNode(name: pullSecret, namespace: ns, labels: [:], stringData: [(".dockerconfigjson", config)],
                                              type: "kubernetes.io/dockerconfigjson")
        _ = try kube.apply(secret, fieldManager: "flux", force: true)
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
