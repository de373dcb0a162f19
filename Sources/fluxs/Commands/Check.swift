import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs check`: flux's checks (reference §5.2). Controllers found are checked as flux checks them; a cluster
/// without controllers is not an error for fluxs, which reconciles on demand: that is said in a line instead.
enum CheckCommand {
    static let minimum = "1.33.0-0"

    static func make() -> Command {
        Command(
            name: "check", summary: "Check requirements and installation",
            long: "The check command will perform a series of checks to validate that the local environment is configured correctly and if the installed components are healthy.",
            examples: "  # Run pre-installation checks\n  fluxs check --pre\n\n  # Run installation checks\n  fluxs check",
            flags: [
                .bool("pre", nil, "only run pre-installation checks"),
                .strings("components", nil, "list of components, accepts comma-separated values", default: "source-controller,kustomize-controller,helm-controller,notification-controller"),
                .strings("components-extra", nil, "list of components in addition to those supplied or defaulted, accepts comma-separated values"),
                .duration("poll-interval", "how often the health checker should poll the cluster for the latest state of the resources.", default: "5s"),
            ],
            handler: run)
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        if !inv.args.isEmpty { throw CLIError("unknown command \"\(inv.args[0])\" for \"fluxs check\"") }
        var ok = true
        inv.out.action("checking prerequisites")
        let kube: KubeClient
        do { kube = try inv.kube() } catch let e as CLIError {
            inv.out.failure("Kubernetes client initialization failed: \(e.message)")
            return 1
        }
        do {
            let v = try kube.serverVersion()
            let git = v["gitVersion"]?.string ?? ""
            let version = git.hasPrefix("v") ? String(git.dropFirst()) : git
            if let constraint = try? SemVerConstraint(">=" + minimum), constraint.best([version], version: { $0 }) != nil {
                inv.out.success("Kubernetes \(version) >=\(minimum)")
            } else if version.isEmpty {
                inv.out.failure("Kubernetes version can't be determined"); ok = false
            } else {
                inv.out.failure("Kubernetes version \(git) does not match >=\(minimum)"); ok = false
            }
        } catch let e as KubeError {
            inv.out.failure("Kubernetes API call failed: \(e.message)")
            ok = false
        }
        if inv.flags.bool("pre") {
            if !ok { return 1 }
            inv.out.success("prerequisites checks passed")
            return 0
        }
        let ns = try inv.namespace()
        inv.out.action("checking version in cluster")
        do {
            let info = try ClusterInfo.read(kube)
            if !info.distribution.isEmpty { inv.out.success("distribution: \(info.distribution)") }
            inv.out.success("bootstrapped: \(info.bootstrapped)")
        } catch let e as KubeError {
            inv.out.failure("checking failed: \(e.message)"); ok = false
        }
        inv.out.action("checking controllers")
        let deployments = ResourceRef.deployments
        let items = (try? kube.list(deployments, namespace: ns, labelSelector: UninstallCommand.selector).items) ?? []
        if items.isEmpty {
            inv.out.success("no controllers in the '\(ns)' namespace: fluxs reconciles on demand")
        }
        // flux's componentsCheck: each Deployment polled (--poll-interval) until Current or --timeout, then its images.
        let interval = max(0.1, inv.flags.duration("poll-interval"))
        for d in items.sorted(by: { ($0["metadata"]?["name"]?.string ?? "") < ($1["metadata"]?["name"]?.string ?? "") }) {
            let name = d["metadata"]?["name"]?.string ?? ""
            if !InstallCommand.waitForComponents(inv, kube, names: [name], namespace: ns, interval: interval) { ok = false }
            for c in d["spec"]?["template"]?["spec"]?["containers"]?.array ?? [] {
                inv.out.action(c["image"]?.string ?? "")
            }
        }
        inv.out.action("checking crds")
        let crds = ResourceRef.crds
        let list = (try? kube.list(crds, namespace: nil, labelSelector: UninstallCommand.selector).items) ?? []
        if list.isEmpty {
            inv.out.failure("no crds found with the label selector '\(UninstallCommand.selector)'"); ok = false
        }
        for crd in list {
            let name = crd["metadata"]?["name"]?.string ?? ""
            if let stored = crd["status"]?["storedVersions"]?.array?.last?.string {
                inv.out.success("\(name)/\(stored)")
            } else {
                inv.out.failure("no stored versions for \(name)"); ok = false
            }
        }
        if !ok {
            inv.out.failure("check failed")
            return 1
        }
        inv.out.success("all checks passed")
        return 0
    }
}
