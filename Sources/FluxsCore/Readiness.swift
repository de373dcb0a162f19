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
        let deploy = ResourceRef.deployments
        guard let d = try? kube.getIfExists(deploy, namespace: namespace, name: component) else { return false }
        return (d["status"]?["conditions"]?.array ?? []).contains { $0["type"]?.string == "Available" && $0["status"]?.string == "True" }
    }
}

/// kstatus for the objects a Kustomization applies (the rules of sigs.k8s.io/cli-utils kstatus that kustomize-controller's
/// health checks use): workloads are current when their rollout finished, Flux objects by their conditions, objects
/// without status when they exist.
public enum Health {
    public static func of(_ o: Node) -> KStatus {
        if o["metadata"]?["deletionTimestamp"] != nil { return .terminating }
        let status = o["status"]
        let generation = o["metadata"]?["generation"]?.int ?? 0
        if let og = status?["observedGeneration"]?.int, generation != 0, og < generation { return .inProgress }
        func int(_ k: String) -> Int { status?[k]?.int ?? 0 }
        func condition(_ t: String) -> Node? { (status?["conditions"]?.array ?? []).last { $0["type"]?.string == t } }
        let replicas = o["spec"]?["replicas"]?.int ?? 1
        switch o["kind"]?.string ?? "" {
        case "Deployment":
            if condition("Progressing")?["reason"]?.string == "ProgressDeadlineExceeded" {
                return .failed("Progress deadline exceeded")
            }
            guard status?["observedGeneration"] != nil else { return .inProgress }
            if int("updatedReplicas") < replicas || int("readyReplicas") < replicas || int("availableReplicas") < replicas
                || int("replicas") > replicas { return .inProgress }
            return .current
        case "StatefulSet":
            guard status?["observedGeneration"] != nil else { return .inProgress }
            if int("readyReplicas") < replicas || int("currentReplicas") < replicas && status?["updateRevision"]?.string != status?["currentRevision"]?.string {
                return .inProgress
            }
            return .current
        case "DaemonSet":
            guard status?["observedGeneration"] != nil else { return .inProgress }
            let want = int("desiredNumberScheduled")
            return int("updatedNumberScheduled") < want || int("numberAvailable") < want || int("numberReady") < want ? .inProgress : .current
        case "ReplicaSet":
            return int("readyReplicas") < replicas || int("availableReplicas") < replicas ? .inProgress : .current
        case "Job":
            if condition("Failed")?["status"]?.string == "True" { return .failed(condition("Failed")?["message"]?.string ?? "Job failed") }
            return condition("Complete")?["status"]?.string == "True" ? .current : .inProgress
        case "Pod":
            let phase = status?["phase"]?.string ?? ""
            if phase == "Succeeded" { return .current }
            if phase == "Failed" { return .failed("Pod has failed") }
            return phase == "Running" && condition("Ready")?["status"]?.string == "True" ? .current : .inProgress
        case "PersistentVolumeClaim":
            return status?["phase"]?.string == "Bound" ? .current : .inProgress
        case "Namespace":
            return status?["phase"]?.string == "Terminating" ? .terminating : .current
        case "CustomResourceDefinition":
            return condition("Established")?["status"]?.string == "True" ? .current : .inProgress
        case "Service":
            // kstatus's serviceConditions: a LoadBalancer is in progress only until the API server has given it a
            // cluster IP; the external address a cloud controller adds later is not waited for.
            if o["spec"]?["type"]?.string == "LoadBalancer", (o["spec"]?["clusterIP"]?.string ?? "").isEmpty { return .inProgress }
            return .current
        default:
            // Objects with conditions (Flux kinds, most CRDs) follow Ready/Stalled/Reconciling; the rest exist = current.
            guard status?["conditions"] != nil else { return .current }
            return KStatus.of(o)
        }
    }
}
