import FluxsAPI
import FluxsKube
import FluxsYAML

/// What kustomize-controller's finalizer does when a Kustomization is deleted (kustomization_controller.go `finalize`,
/// fluxcd/pkg ssa `DeleteAll`): unless the Kustomization is suspended or has no inventory, and as its
/// `spec.deletionPolicy` says (`MirrorPrune`, the default, follows `spec.prune`; `Delete` and `WaitForTermination`
/// delete; `Orphan` keeps), every object of its inventory is deleted in reverse apply order with background
/// propagation — when it still exists, carries this Kustomization's owner labels, and has none of the opt-outs
/// `kustomize.toolkit.fluxcd.io/prune: disabled`, `…/reconcile: disabled` or `…/ssa: Ignore` (label or annotation,
/// any case). Objects that are gone already are not an error.
public struct KustomizationGarbageCollector {
    public let kube: KubeClient

    public init(kube: KubeClient) { self.kube = kube }

    public enum Policy: String { case mirrorPrune = "MirrorPrune", delete = "Delete", waitForTermination = "WaitForTermination", orphan = "Orphan" }

    public struct Result {
        /// `Kind/namespace/name deleted` lines, in deletion order.
        public var deleted: [String] = []
        /// Objects left in place because they opted out or belong to someone else (`Kind/namespace/name skipped`).
        public var skipped: [String] = []
        /// Why nothing was deleted, when the policy or state says so.
        public var reason: String? = nil
        var objects: [(ref: ResourceRef, namespace: String?, name: String)] = []
    }

    /// The opt-outs of the controller's delete options, as label or annotation values compared case-insensitively.
    static let exclusions = [("kustomize.toolkit.fluxcd.io/prune", "disabled"), ("kustomize.toolkit.fluxcd.io/reconcile", "disabled"),
                             ("kustomize.toolkit.fluxcd.io/ssa", "ignore")]

    public static func policy(_ ks: Node) -> Policy {
        Policy(rawValue: ks["spec"]?["deletionPolicy"]?.string ?? "") ?? .mirrorPrune
    }

    /// Why the finalizer would delete nothing, or nil when it deletes the inventory.
    public static func reasonToKeep(_ ks: Node) -> String? {
        if ks["spec"]?["suspend"]?.bool == true { return "the Kustomization is suspended" }
        if (ks["status"]?["inventory"]?["entries"]?.array ?? []).isEmpty { return "the Kustomization has no inventory" }
        switch policy(ks) {
        case .mirrorPrune: return ks["spec"]?["prune"]?.bool == true ? nil : "spec.prune is false (deletionPolicy MirrorPrune)"
        case .delete, .waitForTermination: return nil
        case .orphan: return "deletionPolicy is Orphan"
        }
    }

    static func excluded(_ live: Node) -> Bool {
        let labels = live["metadata"]?["labels"], annotations = live["metadata"]?["annotations"]
        return exclusions.contains { key, value in
            [labels?[key]?.string, annotations?[key]?.string].contains { ($0 ?? "").lowercased() == value }
        }
    }

    /// Deletes the inventory of `ks` as the finalizer would; `log` gets one line per deleted object as it goes.
    /// Every entry is attempted; failures are collected and thrown together at the end.
    public func collect(_ ks: Node, log: (String) -> Void = { _ in }) throws -> Result {
        var result = Result()
        if let why = Self.reasonToKeep(ks) { result.reason = why; return result }
        let name = ks["metadata"]?["name"]?.string ?? "", ns = ks["metadata"]?["namespace"]?.string ?? ""
        let entries = (ks["status"]?["inventory"]?["entries"]?.array ?? []).compactMap { e -> (Node, ResourceInventory.Entry)? in
            guard let id = e["id"]?.string, let p = KustomizationReconciler.parse(id) else { return nil }
            let v = e["v"]?.string ?? ""
            let stub: Node = .map([("apiVersion", .string(p.group.isEmpty ? v : "\(p.group)/\(v)")), ("kind", .string(p.kind)),
                                   ("metadata", .map([("name", .string(p.name)), ("namespace", .string(p.namespace))]))])
            return (stub, ResourceInventory.Entry(id: id, v: v))
        }
        let own = "\(ns)_\(name)_kustomize.toolkit.fluxcd.io_Kustomization"
        var failures: [String] = []
        // The Kustomization itself (a self-managing one lists itself) is deleted by the caller, after its inventory.
        for (stub, entry) in entries.filter({ $0.1.id != own }).sorted(by: { ApplyOrder.less($1.0, $0.0) }) {
            let what = KustomizationReconciler.entrySubject(entry)
            do {
                let r = try kube.resource(apiVersion: stub["apiVersion"]?.string ?? "", kind: stub["kind"]?.string ?? "")
                let objNS: String? = r.namespaced ? stub["metadata"]?["namespace"]?.string : nil
                let objName = stub["metadata"]?["name"]?.string ?? ""
                guard let live = try kube.getIfExists(r, namespace: objNS, name: objName) else { continue }
                let labels = live["metadata"]?["labels"]
                guard labels?["kustomize.toolkit.fluxcd.io/name"]?.string == name,
                      labels?["kustomize.toolkit.fluxcd.io/namespace"]?.string == ns, !Self.excluded(live) else {
                    result.skipped.append("\(what) skipped")
                    continue
                }
                _ = try kube.delete(r, namespace: objNS, name: objName)
                result.deleted.append("\(what) deleted")
                result.objects.append((r, objNS, objName))
                log("\(what) deleted")
            } catch let e as KubeError where e.kind == .notFound {
                continue
            } catch {
                failures.append("\(what) delete failed: \((error as? KubeError)?.message ?? "\(error)")")
            }
        }
        if !failures.isEmpty { throw Failure(description: "delete failed, errors: " + failures.joined(separator: "; ")) }
        return result
    }

    /// `WaitForTermination`: polls (2s, as the controller) until every deleted object is gone or `timeout` passes;
    /// returns the subjects still present (the controller then logs and emits an event, and removes its finalizer).
    public func waitForTermination(_ result: Result, timeout: Double) throws -> [String] {
        let deadline = monotonicSeconds() + min(timeout, max(0, kube.remaining))
        while true {
            var left: [String] = []
            for (i, o) in result.objects.enumerated() where try kube.getIfExists(o.ref, namespace: o.namespace, name: o.name) != nil {
                left.append(String(result.deleted[i].dropLast(" deleted".count)))
            }
            if left.isEmpty || monotonicSeconds() + 2 > deadline { return left }
            sleepSeconds(2)
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }
}
