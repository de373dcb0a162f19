import FluxsKube
import FluxsYAML

public enum ApplyAction: String, Sendable {
    case created, configured, unchanged, deleted, skipped
}

/// One line of a change set: `<Kind>/<namespace>/<name> <action>`.
public struct ChangeSetEntry: Sendable {
    public var subject: String
    public var action: ApplyAction
    public var object: Node
    public var line: String { "\(subject) \(action.rawValue)" }
}

/// The order in which objects are applied (kustomize-controller's staged apply, reference §7.9).
public enum ApplyOrder {
    static let first = ["CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterClass", "RuntimeClass", "PriorityClass",
                        "StorageClass", "VolumeSnapshotClass", "IngressClass", "GatewayClass", "ClusterRoleBinding", "ResourceQuota",
                        "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "Service", "LimitRange", "Deployment",
                        "StatefulSet", "CronJob", "PodDisruptionBudget"]
    static let last = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]

    static func rank(_ kind: String) -> Int {
        if let i = first.firstIndex(of: kind) { return i }
        if let i = last.firstIndex(of: kind) { return 1000 + i }
        return 500
    }

    static func group(_ o: Node) -> String {
        let av = o["apiVersion"]?.string ?? ""
        return av.contains("/") ? String(av.split(separator: "/")[0]) : ""
    }

    public static func less(_ a: Node, _ b: Node) -> Bool {
        let ka = a["kind"]?.string ?? "", kb = b["kind"]?.string ?? ""
        let ra = rank(ka), rb = rank(kb)
        if ra != rb { return ra < rb }
        let ga = group(a), gb = group(b)
        if ga != gb { return ga < gb }
        if ka != kb { return ka < kb }
        let na = a["metadata"]?["namespace"]?.string ?? "", nb = b["metadata"]?["namespace"]?.string ?? ""
        if na != nb { return na < nb }
        return (a["metadata"]?["name"]?.string ?? "") < (b["metadata"]?["name"]?.string ?? "")
    }

    public static func isClusterDefinition(_ o: Node) -> Bool {
        let k = o["kind"]?.string ?? ""
        let g = group(o)
        return (k == "CustomResourceDefinition" && g == "apiextensions.k8s.io") || (k == "Namespace" && g.isEmpty) ||
            (k == "ClusterRole" && g == "rbac.authorization.k8s.io")
    }

    public static func isClassDefinition(_ o: Node) -> Bool { (o["kind"]?.string ?? "").hasSuffix("Class") }
}

public func subject(of o: Node) -> String {
    let kind = o["kind"]?.string ?? ""
    let name = o["metadata"]?["name"]?.string ?? ""
    if let ns = o["metadata"]?["namespace"]?.string, !ns.isEmpty { return "\(kind)/\(ns)/\(name)" }
    return "\(kind)/\(name)"
}

/// Server-side apply of a set of objects in stages, reporting what changed.
public final class Applier {
    public let kube: KubeClient
    public let fieldManager: String
    public var force = true
    public var dryRun = false
    /// How long to wait for CRDs and namespaces of the first stage.
    public var waitTimeout: Double = 60
    /// Every object an apply was sent for, in order, also when the call failed (it may have reached the server):
    /// a reconciliation that fails part-way keeps them all in its inventory, so none is orphaned.
    public private(set) var attempted: [Node] = []

    public init(kube: KubeClient, fieldManager: String) {
        self.kube = kube
        self.fieldManager = fieldManager
    }

    public func apply(_ objects: [Node]) throws -> [ChangeSetEntry] {
        var out: [ChangeSetEntry] = []
        let clusterDefs = objects.filter(ApplyOrder.isClusterDefinition).sorted(by: ApplyOrder.less)
        let classDefs = objects.filter { !ApplyOrder.isClusterDefinition($0) && ApplyOrder.isClassDefinition($0) }.sorted(by: ApplyOrder.less)
        let rest = objects.filter { !ApplyOrder.isClusterDefinition($0) && !ApplyOrder.isClassDefinition($0) }.sorted(by: ApplyOrder.less)
        for (stage, wait) in [(clusterDefs, true), (classDefs, false), (rest, false)] where !stage.isEmpty {
            var entries: [ChangeSetEntry] = []
            for o in stage { entries.append(try applyOne(o)) }
            if wait && !dryRun {
                try waitReady(entries.map(\.object))
                kube.forgetDiscovery()   // the new CRDs' kinds
            }
            out += entries
        }
        return out
    }

    /// Applies one object; errors name the object and the step (`query`, `apply`), as fluxcd/pkg/ssa's do.
    public func applyOne(_ obj: Node) throws -> ChangeSetEntry {
        let what = subject(of: obj)
        let r: ResourceRef
        do { r = try kube.resource(for: obj) } catch let e as KubeError { throw e.naming("\(what) discovery failed") }
        guard let name = obj["metadata"]?["name"]?.string, !name.isEmpty else {
            throw KubeError(kind: .badRequest, message: "\(r.kind) has no metadata.name")
        }
        let ns = r.namespaced ? obj["metadata"]?["namespace"]?.string : nil
        let existing: Node?
        do { existing = try kube.getIfExists(r, namespace: ns, name: name) } catch let e as KubeError { throw e.naming("\(what) query failed") }
        if !dryRun { attempted.append(obj) }
        let result: Node
        do { result = try kube.apply(obj, fieldManager: fieldManager, force: force, dryRun: dryRun) } catch let e as KubeError {
            throw e.naming("\(what) \(dryRun ? "dry-run" : "apply") failed")
        }
        let action: ApplyAction
        if existing == nil {
            action = .created
        } else if existing?["metadata"]?["resourceVersion"]?.string != result["metadata"]?["resourceVersion"]?.string {
            action = .configured
        } else if dryRun, stripVolatile(existing!) != stripVolatile(result) {
            action = .configured
        } else {
            action = .unchanged
        }
        return ChangeSetEntry(subject: subject(of: obj), action: action, object: result)
    }

    func stripVolatile(_ o: Node) -> Node {
        var c = o
        c.set(["metadata", "managedFields"], nil)
        c.set(["metadata", "resourceVersion"], nil)
        return c
    }

    /// Waits until CRDs are Established and namespaces Active.
    public func waitReady(_ objects: [Node]) throws {
        let deadline = monotonicSeconds() + min(waitTimeout, kube.remaining)
        for o in objects {
            let kind = o["kind"]?.string ?? ""
            guard kind == "CustomResourceDefinition" || kind == "Namespace" else { continue }
            let r = try kube.resource(for: o)
            let name = o["metadata"]?["name"]?.string ?? ""
            while true {
                let live: Node
                do { live = try kube.get(r, namespace: nil, name: name) } catch let e as KubeError { throw e.naming("\(subject(of: o)) query failed") }
                let ready: Bool
                if kind == "Namespace" {
                    ready = live["status"]?["phase"]?.string == "Active"
                } else {
                    ready = (live["status"]?["conditions"]?.array ?? []).contains {
                        $0["type"]?.string == "Established" && $0["status"]?.string == "True"
                    }
                }
                if ready { break }
                if monotonicSeconds() > deadline {
                    throw KubeError(kind: .timeout, message: "timed out waiting for \(subject(of: o)) to become ready")
                }
                sleepSeconds(0.2)
            }
        }
    }
}
