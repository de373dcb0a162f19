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
///
/// Per object, one server-side dry run decides the action (reference: fluxcd/pkg/ssa, which reads the live object
/// with a GET first): a dry run without a resourceVersion is a create; otherwise its result is compared with the
/// live object, and only a difference is applied. The live objects come from one LIST per kind and namespace with
/// the owner label selector (`ownerSelector`), not from a GET per object; an object the list lacks exists without
/// the owner labels this apply sets, so applying it changes it. An unchanged object costs its dry run alone.
public final class Applier {
    public let kube: KubeClient
    public let fieldManager: String
    public var force = true
    public var dryRun = false
    /// How long to wait for CRDs and namespaces of the first stage.
    public var waitTimeout: Double = 60
    /// The labels every object of this apply carries (kustomize-controller's owner labels), as a label selector: the
    /// live objects are listed with it. Without it, each object is read with a GET.
    public var ownerSelector: String?
    /// Dry runs already made (by `subject(of:)`), used instead of a new one: the validation before anything changes
    /// made them. Objects of a kind or namespace the set itself creates are dry-run in their stage.
    public var dryRuns: [String: Node] = [:]
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
            let entries = try applyStage(stage)
            if wait && !dryRun {
                try waitReady(entries.map(\.object))
                kube.forgetDiscovery()   // the new CRDs' kinds
            }
            out += entries
        }
        return out
    }

    /// One object of a stage: where it goes, its dry run, and what the server has.
    struct Planned {
        var object: Node
        var subject: String
        var ref: ResourceRef
        var namespace: String?
        var name: String
        var dry: Node? = nil
        var live: Node? = nil
    }

    /// Dry runs every object of a stage (those not dry-run already) before applying any, then applies the ones
    /// that change.
    func applyStage(_ stage: [Node]) throws -> [ChangeSetEntry] {
        var plan: [Planned] = []
        for obj in stage {
            let what = subject(of: obj)
            let r: ResourceRef
            do { r = try kube.resource(for: obj) } catch let e as KubeError { throw e.naming("\(what) discovery failed") }
            guard let name = obj["metadata"]?["name"]?.string, !name.isEmpty else {
                throw KubeError(kind: .badRequest, message: "\(r.kind) has no metadata.name")
            }
            plan.append(Planned(object: obj, subject: what, ref: r, namespace: r.namespaced ? obj["metadata"]?["namespace"]?.string : nil,
                                name: name, dry: dryRuns[what]))
        }
        try readLive(&plan)
        for i in plan.indices where plan[i].dry == nil {
            do { plan[i].dry = try kube.apply(plan[i].object, fieldManager: fieldManager, force: force, dryRun: true) } catch let e as KubeError {
                throw e.naming("\(plan[i].subject) dry-run failed")
            }
        }
        var out: [ChangeSetEntry] = []
        for p in plan {
            let dry = p.dry ?? p.object
            let action = Self.action(dry: dry, live: p.live)
            var result = dry
            if action != .unchanged && !dryRun {
                attempted.append(p.object)
                do { result = try kube.apply(p.object, fieldManager: fieldManager, force: force, dryRun: false) } catch let e as KubeError {
                    throw e.naming("\(p.subject) apply failed")
                }
            }
            out.append(ChangeSetEntry(subject: p.subject, action: action, object: result))
        }
        return out
    }

    /// The live objects of a stage: one LIST per kind and namespace with the owner selector, else a GET each.
    func readLive(_ plan: inout [Planned]) throws {
        guard let selector = ownerSelector else {
            for i in plan.indices {
                do { plan[i].live = try kube.getIfExists(plan[i].ref, namespace: plan[i].namespace, name: plan[i].name) } catch let e as KubeError {
                    throw e.naming("\(plan[i].subject) query failed")
                }
            }
            return
        }
        var owned = OwnedObjects(kube: kube, selector: selector)
        for i in plan.indices { plan[i].live = try owned.get(plan[i].ref, namespace: plan[i].namespace, name: plan[i].name) }
    }

    /// created when the dry run has no resourceVersion (nothing is stored), unchanged when it equals the live object
    /// (managedFields times and the resourceVersion aside), configured otherwise.
    static func action(dry: Node, live: Node?) -> ApplyAction {
        if (dry["metadata"]?["resourceVersion"]?.string ?? "").isEmpty { return .created }
        guard let live else { return .configured }
        return comparable(dry) == comparable(live) ? .unchanged : .configured
    }

    static func comparable(_ o: Node) -> Node {
        var c = o
        c.set(["metadata", "resourceVersion"], nil)
        if let mf = o["metadata"]?["managedFields"]?.array {
            c.set(["metadata", "managedFields"], .sequence(mf.map { e in var x = e; x.set(["time"], nil); return x }))
        }
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
