#if canImport(Glibc)
import Glibc
#endif
import FluxsAPI
import FluxsKube
import FluxsYAML

/// `fluxs uninstall`: flux's steps (reference §5.4) — components, finalizers of Flux objects, CRDs, the namespace.
/// Individual failures are reported and do not change the exit code, as in flux.
enum UninstallCommand {
    static func make() -> Command {
        Command(
            name: "uninstall", summary: "Uninstall Flux and its custom resource definitions",
            long: "The uninstall command removes the Flux components and the toolkit.fluxcd.io resources from the cluster.",
            examples: "  # Uninstall Flux components, its custom resources and namespace\n  fluxs uninstall --namespace=flux-system\n\n  # Uninstall Flux but keep the namespace\n  fluxs uninstall --namespace=infra --keep-namespace=true",
            flags: [
                .bool("keep-namespace", nil, "skip namespace deletion"),
                .bool("dry-run", nil, "only print the objects that would be deleted"),
                .bool("silent", "s", "delete components without asking for confirmation"),
            ],
            handler: run)
    }

    static let selector = "app.kubernetes.io/part-of=flux"

    static func run(_ inv: Invocation) throws -> Int32 {
        if !inv.args.isEmpty { throw CLIError("unknown command \"\(inv.args[0])\" for \"fluxs uninstall\"") }
        let dryRun = inv.flags.bool("dry-run")
        let ns = try inv.namespace()
        if !dryRun && !inv.flags.bool("silent") {
            guard isatty(0) == 1 else {
                throw CLIError("confirm on a terminal, or pass --silent to delete Flux and its custom resource definitions")
            }
            inv.out.write("? Are you sure you want to delete Flux and its custom resource definitions? [y/N] ")
            guard let answer = readLine(), answer.lowercased().hasPrefix("y") else { throw CLIError("aborting") }
        }
        let kube = try inv.kube()
        let suffix = dryRun ? "(dry run)" : ""

        inv.out.action("deleting components in \(ns) namespace")
        let kinds: [(ResourceRef, Bool)] = [
            (ResourceRef.deployments, true),
            (ResourceRef(group: "", version: "v1", resource: "services", kind: "Service", namespaced: true), true),
            (ResourceRef(group: "networking.k8s.io", version: "v1", resource: "networkpolicies", kind: "NetworkPolicy", namespaced: true), true),
            (ResourceRef(group: "", version: "v1", resource: "serviceaccounts", kind: "ServiceAccount", namespaced: true), true),
            (ResourceRef(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole", namespaced: false), false),
            (ResourceRef(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false), false),
        ]
        for (ref, namespaced) in kinds {
            guard let items = try? kube.list(ref, namespace: namespaced ? ns : nil, labelSelector: selector).items else { continue }
            for o in items {
                let name = o["metadata"]?["name"]?.string ?? ""
                let subject = namespaced ? "\(ref.kind)/\(ns)/\(name)" : "\(ref.kind)/\(name)"
                do {
                    _ = try kube.delete(ref, namespace: namespaced ? ns : nil, name: name, dryRun: dryRun)
                    inv.out.success("\(subject) deleted \(suffix)")
                } catch let e as KubeError {
                    inv.out.failure("\(subject) deletion failed: \(e.message)")
                }
            }
        }

        inv.out.action("deleting toolkit.fluxcd.io finalizers in all namespaces")
        let finalized = [FluxKinds.gitRepository, FluxKinds.ociRepository, FluxKinds.helmRepository, FluxKinds.helmChart, FluxKinds.bucket,
                         FluxKinds.kustomization, FluxKinds.helmRelease, FluxKinds.alert, FluxKinds.provider, FluxKinds.receiver,
                         FluxKinds.imagePolicy, FluxKinds.imageRepository, FluxKinds.imageUpdateAutomation]
        for kind in finalized {
            guard let items = try? kube.list(kind.resource, namespace: nil).items else { continue }
            for var o in items {
                let name = o["metadata"]?["name"]?.string ?? "", objNS = o["metadata"]?["namespace"]?.string ?? ""
                let subject = "\(kind.kind)/\(objNS)/\(name)"
                o.set(["metadata", "finalizers"], .sequence([]))
                do {
                    if !dryRun { _ = try kube.update(kind.resource, namespace: objNS, object: o) }
                    inv.out.success("\(subject) finalizers deleted \(suffix)")
                } catch let e as KubeError {
                    inv.out.failure("\(subject) removing finalizers failed: \(e.message)")
                }
            }
        }

        inv.out.action("deleting toolkit.fluxcd.io custom resource definitions")
        let crds = ResourceRef.crds
        for o in (try? kube.list(crds, namespace: nil, labelSelector: selector).items) ?? [] {
            let name = o["metadata"]?["name"]?.string ?? ""
            do {
                _ = try kube.delete(crds, namespace: nil, name: name, dryRun: dryRun)
                inv.out.success("CustomResourceDefinition/\(name) deleted \(suffix)")
            } catch let e as KubeError {
                inv.out.failure("CustomResourceDefinition/\(name) deletion failed: \(e.message)")
            }
        }

        if !inv.flags.bool("keep-namespace") {
            let nsRef = ResourceRef.namespaces
            do {
                _ = try kube.delete(nsRef, namespace: nil, name: ns, dryRun: dryRun)
                inv.out.success("Namespace/\(ns) deleted \(suffix)")
            } catch let e as KubeError {
                inv.out.failure("Namespace/\(ns) deletion failed: \(e.message)")
            }
        }
        inv.out.success("uninstall finished")
        return 0
    }
}
