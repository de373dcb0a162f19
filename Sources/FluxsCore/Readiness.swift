import FluxsAPI
import FluxsKube
import FluxsYAML

/// kstatus as flux computes it for Flux objects (reference §1.7).
public enum KStatus: Equatable, Sendable {
    case current, inProgress, failed(String), terminating

    public static func of(_ o: Node) -> KStatus {
        if o["metadata"]?["deletionTimestamp"] != nil { return .terminating }
        if let og = o["status"]?["observedGeneration"]?.int, let g = o["metadata"]?["generation"]?.int, og != g { return .inProgress }
        func cond(_ t: String) -> Node? { Obj.condition(o, t) }
        if cond("Reconciling")?["status"]?.string == "True" { return .inProgress }
        if let s = cond("Stalled"), s["status"]?.string == "True" { return .failed(s["message"]?.string ?? "stalled") }
        if let r = cond("Ready") { return r["status"]?.string == "True" ? .current : .inProgress }
        return .current
    }

    /// flux's readiness of a reconciled object: nil while waiting, else the result.
    public static func readiness(_ o: Node, isStatic: Bool) -> Result<Void, ReadinessError>? {
        if !isStatic {
            guard let og = o["status"]?["observedGeneration"]?.int, og >= 1 else { return nil }
            guard let ready = Obj.condition(o, "Ready") else { return nil }
            let gen = o["metadata"]?["generation"]?.int ?? 0
            if let cg = ready["observedGeneration"]?.int, cg != 0 {
                if cg != gen { return nil }
            } else if og != gen { return nil }
        }
        switch of(o) {
        case .current: return .success(())
        case .inProgress: return nil
        case .failed(let m): return .failure(ReadinessError(message: m))
        case .terminating: return .failure(ReadinessError(message: "object is being deleted"))
        }
    }
}

public struct ReadinessError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// Which Flux controller owns a kind, and whether it runs in the cluster.
public enum Controllers {
    public static func component(for kind: FluxKind) -> String {
        switch kind.group {
        case "source.toolkit.fluxcd.io": return "source-controller"
        case "kustomize.toolkit.fluxcd.io": return "kustomize-controller"
        case "helm.toolkit.fluxcd.io": return "helm-controller"
        case "notification.toolkit.fluxcd.io": return "notification-controller"
        case "image.toolkit.fluxcd.io":
            return kind.kind == "ImageUpdateAutomation" ? "image-automation-controller" : "image-reflector-controller"
        default: return "source-watcher"
        }
    }

    /// True when the controller's Deployment is Available in the Flux namespace.
    public static func running(_ kube: KubeClient, component: String, namespace: String) -> Bool {
        let deploy = ResourceRef(group: "apps", version: "v1", resource: "deployments", kind: "Deployment", namespaced: true)
        guard let d = try? kube.getIfExists(deploy, namespace: namespace, name: component) else { return false }
        return (d["status"]?["conditions"]?.array ?? []).contains { $0["type"]?.string == "Available" && $0["status"]?.string == "True" }
    }
}
