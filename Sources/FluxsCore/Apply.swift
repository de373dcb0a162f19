import FluxsAPI
import FluxsKube
import FluxsYAML

public enum ApplyAction: String, Sendable {
    case created, configured, unchanged, deleted, skipped
}

/// One line of a change set: `<Kind>/<namespace>/<name> <action>`.
public struct ChangeSetEntry: Sendable {
    public var subject: String
    public var action: ApplyAction
    /// The object as the server answered it; for an object known unchanged from its owner list and the applied
    /// record, its identity alone (`Listed.stub`: apiVersion, kind, name, namespace, uid, resourceVersion).
    public var object: Node { held.object }
    /// The object as it was sent (the manifest), for the applied record; for one known unchanged without its
    /// manifest (a run that needed no build), the same identity.
    public var sent: Node { held.sent }
    /// The uid and resourceVersion of `object` (read without building a stub).
    public var identity: (uid: String?, resourceVersion: String?) {
        switch held {
        case .nodes(let o, _): let m = o["metadata"]; return (m?["uid"]?.string, m?["resourceVersion"]?.string)
        case .listed(let l, _, _, _): return (l.uid, l.resourceVersion)
        }
    }
    /// Its inventory entry, when it was known without reading `object` (an object as the last apply left it).
    public var entry: ResourceInventory.Entry? = nil
    public var line: String { "\(subject) \(action.rawValue)" }

    /// The objects, or the owner list's item they are the identity of: a no-op of thousands of objects reads few
    /// of them (health checks, a change set that is not all unchanged), so each stub is built when read.
    private let held: Held
    private enum Held: Sendable {
        case nodes(object: Node, sent: Node)
        case listed(Listed, name: String, namespace: String?, sent: Node?)

        var object: Node {
            switch self {
            case .nodes(let o, _): return o
            case .listed(let l, let name, let ns, _): return l.stub(name: name, namespace: ns)
            }
        }
        var sent: Node {
            switch self {
            case .nodes(_, let s): return s
            case .listed(_, _, _, let s): return s ?? object
            }
        }
    }

    public init(subject: String, action: ApplyAction, object: Node, sent: Node = .null, entry: ResourceInventory.Entry? = nil) {
        (self.subject, self.action, self.held, self.entry) = (subject, action, .nodes(object: object, sent: sent), entry)
    }

    /// An object the applied record says is unchanged, as its owner list has it; `sent` its manifest when it was built.
    init(unchanged subject: String, listed: Listed, name: String, namespace: String?, sent: Node? = nil, entry: ResourceInventory.Entry? = nil) {
        (self.subject, self.action, self.held, self.entry) = (subject, .unchanged, .listed(listed, name: name, namespace: namespace, sent: sent), entry)
    }
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

    /// `less`'s fields of one object, compared in its order.
    struct Key: Comparable {
        let rank: Int
        let group: String, kind: String, namespace: String, name: String
        init(_ o: Node) {
            kind = o["kind"]?.string ?? ""
            rank = ApplyOrder.rank(kind)
            group = ApplyOrder.group(o)
            namespace = o["metadata"]?["namespace"]?.string ?? ""
            name = o["metadata"]?["name"]?.string ?? ""
        }
        static func < (a: Key, b: Key) -> Bool {
            if a.rank != b.rank { return a.rank < b.rank }
            if a.group != b.group { return a.group < b.group }
            if a.kind != b.kind { return a.kind < b.kind }
            if a.namespace != b.namespace { return a.namespace < b.namespace }
            return a.name < b.name
        }
    }

    /// `objects` in `less`'s order, each object's key read once (sorting with `less` looks the kind up in `first`
    /// and splits the apiVersion twice a comparison: ~20,000 times for 1,000 objects).
    public static func sorted(_ objects: [Node]) -> [Node] {
        let keys = objects.map(Key.init)
        return objects.indices.sorted { keys[$0] < keys[$1] }.map { objects[$0] }
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
    // One allocation, not interpolated: called several times for every object of every reconcile.
    let kind = o["kind"]?.string ?? ""
    let meta = o["metadata"]
    return subject(kind: kind, namespace: meta?["namespace"]?.string ?? "", name: meta?["name"]?.string ?? "")
}

/// `Kind/namespace/name`, or `Kind/name` without a namespace, in one allocation.
func subject(kind: String, namespace: String, name: String) -> String {
    namespace.isEmpty ? String.concat(kind, "/", name) : String.concat(kind, "/", namespace, "/", name)
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
    /// The bodies those dry runs sent (`KubeClient.applyBody`, by subject): an object's apply sends the same bytes,
    /// so each is encoded once a run. Taken out as they are used.
    public var bodies: [String: [UInt8]] = [:]
    /// Every object an apply was sent for, in order, also when the call failed (it may have reached the server):
    /// a reconciliation that fails part-way keeps them all in its inventory, so none is orphaned.
    public private(set) var attempted: [Node] = []
    /// What the previous apply left (AppliedRecord): objects still as it left them are neither dry-run nor applied.
    public var record: AppliedRecord?
    /// What this apply leaves, for the next one (nil until an apply finished, and in a dry run).
    public private(set) var newRecord: AppliedRecord?
    /// Subjects `skippable` found unchanged since the record.
    public private(set) var skipped: Set<String> = []
    /// The manifests' hashes `skippable` computed (by subject), reused for the new record: `apply` gets the same
    /// objects (as it trusts `skipped`), so each object is encoded and hashed once a run.
    var hashes: [String: String] = [:]
    var owned: OwnedObjects?

    public init(kube: KubeClient, fieldManager: String) {
        self.kube = kube
        self.fieldManager = fieldManager
    }

    /// The objects the record says are as the previous apply left them (same manifest; live uid and resourceVersion
    /// unchanged): they need no dry run. Reads the live objects (one LIST per kind and namespace); objects whose kind
    /// the server does not serve yet are not skipped.
    public func skippable(_ objects: [Node]) throws -> Set<String> {
        guard let record, !record.entries.isEmpty, let selector = ownerSelector else { return [] }
        // Whether an object is as the record says is in its metadata; the few compared with a dry run are read
        // whole later (readLive).
        if owned == nil { owned = OwnedObjects(kube: kube, selector: selector, metadataOnly: true) }
        // The objects still as the record says on the server; then their manifests hashed (on two threads when
        // there are many: the hash is most of this function's time) and compared with the record's.
        var current: [(object: Node, subject: String, hash: String)] = []
        for o in objects {
            let what = subject(of: o)
            guard let e = record.entries[what], let r = try? kube.resource(for: o), let name = o["metadata"]?["name"]?.string else { continue }
            let live = try owned!.listed(r, namespace: r.namespaced ? o["metadata"]?["namespace"]?.string : nil, name: name)
            if record.isCurrent(e, live) { current.append((o, what, e.hash)) }
        }
        var out: Set<String> = []
        for (c, h) in zip(current, Self.manifestHashes(current.map(\.object))) {
            hashes[c.subject] = h
            if h == c.hash { out.insert(c.subject) }
        }
        skipped = out
        return out
    }

    /// AppliedRecord.hash of each object, in order; the second half on a thread of its own when there are many.
    static func manifestHashes(_ objects: [Node]) -> [String] {
        guard objects.count >= 200 else { return objects.map(AppliedRecord.hash) }
        let half = objects.count / 2
        let rest = Array(objects[half...])
        let other = Blocking.start { rest.map(AppliedRecord.hash) }
        let first = objects[..<half].map(AppliedRecord.hash)
        // the other half is pure work on values: it ends; the wait is bounded only so that it is not forever
        guard case .success(let second)? = other.result(within: 3600) else { return first + rest.map(AppliedRecord.hash) }
        return first + second
    }

    public func apply(_ objects: [Node]) throws -> [ChangeSetEntry] {
        var next = AppliedRecord(fieldManager: fieldManager, force: force)
        var out: [ChangeSetEntry] = []
        // (Each object's stage decided once: the kind and group are looked up once an object, not five times.)
        var staged: [[Node]] = [[], [], []]
        for o in objects { staged[ApplyOrder.isClusterDefinition(o) ? 0 : ApplyOrder.isClassDefinition(o) ? 1 : 2].append(o) }
        let clusterDefs = ApplyOrder.sorted(staged[0]), classDefs = ApplyOrder.sorted(staged[1]), rest = ApplyOrder.sorted(staged[2])
        for (stage, wait) in [(clusterDefs, true), (classDefs, false), (rest, false)] where !stage.isEmpty {
            let entries = try applyStage(stage)
            if wait && !dryRun {
                try waitReady(entries.map(\.object))
                kube.forgetDiscovery()   // the new CRDs' kinds
            }
            out += entries
        }
        if !dryRun {
            for e in out {
                let id = e.identity
                // A skipped object is as the record says (its live hash carried over); any other's answer is whole.
                let live = skipped.contains(e.subject) ? (record?.entries[e.subject]?.live ?? "") : AppliedRecord.hash(Self.comparable(e.object))
                next.entries[e.subject] = AppliedRecord.Entry(uid: id.uid ?? "", resourceVersion: id.resourceVersion ?? "",
                                                              hash: hashes[e.subject] ?? AppliedRecord.hash(e.sent), live: live)
            }
            newRecord = next
        }
        bodies = [:]
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
        /// A skipped object as its owner list has it (readLive), in place of `live`.
        var listed: Listed? = nil
        /// The record's hash of the live object, when `live` is its metadata alone (readLive).
        var liveHash: String? = nil
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
            // Taken out: once this stage decided what changes, a dry run that is to be replaced by the apply's answer
            // is dropped, not kept next to it (a decoded answer costs ~4 KB).
            plan.append(Planned(object: obj, subject: what, ref: r, namespace: r.namespaced ? obj["metadata"]?["namespace"]?.string : nil,
                                name: name, dry: dryRuns.removeValue(forKey: what)))
        }
        try readLive(&plan)
        // Dry runs are independent: sent together; the first failure in apply order is the one reported.
        let undecided = plan.indices.filter { plan[$0].dry == nil && !skipped.contains(plan[$0].subject) }
        let undecidedBodies = undecided.map { try? KubeClient.applyBody(plan[$0].object) }
        let dries = kube.applyAll(undecided.map { plan[$0].object }, fieldManager: fieldManager, force: force, dryRun: true,
                                  bodies: undecidedBodies)
        for (k, i) in undecided.enumerated() {
            switch dries[k] {
            case .success(let d):
                plan[i].dry = d
                bodies[plan[i].subject] = undecidedBodies[k]
            case .failure(let e as KubeError): throw e.naming("\(plan[i].subject) dry-run failed")
            case .failure(let e): throw e
            }
        }
        var out: [ChangeSetEntry] = []
        // Skipped objects are unchanged, as their owner list has them (their entries are made from `listed` below;
        // a skipped object has no dry run, so its result here is its manifest).
        var results: [Node] = plan.map { p in p.dry ?? p.object }
        let actions = plan.map { p in
            skipped.contains(p.subject) && p.listed != nil ? .unchanged : Self.action(dry: p.dry ?? p.object, live: p.live, liveHash: p.liveHash)
        }
        if !dryRun {
            // The staged order holds between kinds: one kind is applied (its objects together) before the next starts.
            let changed = plan.indices.filter { actions[$0] != .unchanged }
            for i in changed { plan[i].dry = nil; results[i] = plan[i].object }
            var start = 0
            while start < changed.count {
                var end = start + 1
                while end < changed.count && Self.sameKind(plan[changed[start]].object, plan[changed[end]].object) { end += 1 }
                let group = Array(changed[start..<end])
                for i in group { attempted.append(plan[i].object) }
                let sent = group.map { bodies.removeValue(forKey: plan[$0].subject) }
                // The record's hash is the SHA-256 of these same bytes (AppliedRecord.hash).
                for (k, i) in group.enumerated() where hashes[plan[i].subject] == nil {
                    if let body = sent[k] { hashes[plan[i].subject] = Hashing.sha256Hex(body) }
                }
                let applied = kube.applyAll(group.map { plan[$0].object }, fieldManager: fieldManager, force: force, dryRun: false, bodies: sent)
                for (k, i) in group.enumerated() {
                    switch applied[k] {
                    case .success(let o): results[i] = o
                    case .failure(let e as KubeError): throw e.naming("\(plan[i].subject) apply failed")
                    case .failure(let e): throw e
                    }
                }
                start = end
            }
        }
        for (i, p) in plan.enumerated() {
            if let l = p.listed, actions[i] == .unchanged {
                out.append(ChangeSetEntry(unchanged: p.subject, listed: l, name: p.name, namespace: p.namespace, sent: p.object,
                                          entry: l.entry(name: p.name, namespace: p.namespace)))
            } else {
                out.append(ChangeSetEntry(subject: p.subject, action: actions[i], object: results[i], sent: p.object))
            }
        }
        return out
    }

    static func sameKind(_ a: Node, _ b: Node) -> Bool {
        a["kind"]?.string == b["kind"]?.string && ApplyOrder.group(a) == ApplyOrder.group(b)
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
        if owned == nil { owned = OwnedObjects(kube: kube, selector: selector) }
        // An object whose dry run is compared with it is read whole, unless its uid and resourceVersion say it is
        // still as the record's live hash describes it; a skipped one is as the record says.
        var hashed: [Int: String] = [:]
        if let record {
            for i in plan.indices where !skipped.contains(plan[i].subject) {
                guard let e = record.entries[plan[i].subject], !e.live.isEmpty,
                      record.isCurrent(e, try owned!.listed(plan[i].ref, namespace: plan[i].namespace, name: plan[i].name)) else { continue }
                hashed[i] = e.live
            }
        }
        try owned!.readWhole(plan.indices.filter { !skipped.contains(plan[$0].subject) && hashed[$0] == nil }.map { (plan[$0].ref, plan[$0].namespace, plan[$0].name) })
        for i in plan.indices {
            let skip = skipped.contains(plan[i].subject)
            // Compared whole with its dry run, or (skipped, or compared by the record's hash) its identity alone.
            if !skip && hashed[i] == nil {
                plan[i].live = try owned!.get(plan[i].ref, namespace: plan[i].namespace, name: plan[i].name, whole: true)
            } else if let l = try owned!.listed(plan[i].ref, namespace: plan[i].namespace, name: plan[i].name) {
                if skip { plan[i].listed = l } else { plan[i].live = l.stub(name: plan[i].name, namespace: plan[i].namespace) }
            }
            plan[i].liveHash = hashed[i]
        }
    }

    /// created when the dry run has no resourceVersion (nothing is stored), unchanged when it equals the live object
    /// (managedFields times and the resourceVersion aside), configured otherwise.
    /// With `liveHash` (the record's hash of the live object, which `live` is the metadata of), the dry run is
    /// compared with that hash.
    static func action(dry: Node, live: Node?, liveHash: String? = nil) -> ApplyAction {
        if (dry["metadata"]?["resourceVersion"]?.string ?? "").isEmpty { return .created }
        guard let live else { return .configured }
        if let liveHash { return AppliedRecord.hash(comparable(dry)) == liveHash ? .unchanged : .configured }
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

/// What the last apply left on the server, per object: its uid and resourceVersion right after fluxs applied it (or
/// found it unchanged) and the SHA-256 of the object as sent. The next apply skips the dry run of an object whose
/// manifest hashes the same and whose live uid and resourceVersion (from the owner-label LIST) are still these: the
/// API server changes the resourceVersion on every write, so the object is as fluxs left it and the same apply
/// would change nothing. An object whose manifest changed is dry-run, and its dry run compared with the hash of the
/// object as fluxs left it (`live`) while the uid and resourceVersion say it is still that object: no GET of it.
/// Kept on this machine (the storage path), never in the cluster; docs/decisions.md.
public struct AppliedRecord: Sendable {
    public struct Entry: Sendable, Equatable {
        public var uid: String
        public var resourceVersion: String
        public var hash: String
        /// The SHA-256 of the object as the server had it at that resourceVersion (`Applier.comparable`, encoded),
        /// empty when unknown: while uid and resourceVersion are the same, a dry run is compared with this instead
        /// of with the live object read whole (a GET).
        public var live: String = ""
    }
    /// The field manager and force setting the entries were applied with: another pair makes another apply.
    public var fieldManager: String
    public var force: Bool
    public var entries: [String: Entry] = [:]
    /// The build the entries were applied from (a Kustomization's build key, docs/decisions.md "Build key"), and the
    /// objects it gave, in apply order: while the key is the same, the next run needs no build.
    public var build: Built?

    public struct Built: Sendable, Equatable {
        public var key: String
        public var objects: [Object]
        /// Objects of the build left alone (`kustomize.toolkit.fluxcd.io/reconcile: disabled`), for the log.
        public var disabled: [String] = []
    }

    /// Where an object of the build is: enough to list it, and its inventory entry.
    public struct Object: Sendable, Equatable {
        public let apiVersion: String, kind: String, namespace: String, name: String
        /// subject(of: node), made once: a record's objects are looked up by it when it is loaded and again when a
        /// run needs no build.
        public let subject: String
        public init(apiVersion: String, kind: String, namespace: String, name: String) {
            (self.apiVersion, self.kind, self.namespace, self.name) = (apiVersion, kind, namespace, name)
            subject = FluxsCore.subject(kind: kind, namespace: namespace, name: name)
        }
        public init(_ o: Node) {
            self.init(apiVersion: o["apiVersion"]?.string ?? "", kind: o["kind"]?.string ?? "",
                      namespace: o["metadata"]?["namespace"]?.string ?? "", name: o["metadata"]?["name"]?.string ?? "")
        }
    }

    public init(fieldManager: String, force: Bool) {
        self.fieldManager = fieldManager
        self.force = force
    }

    static func hash(_ object: Node) -> String {
        (try? JSON.encodeBytes(object)).map { Hashing.sha256Hex($0) } ?? ""
    }

    /// The live object (from the owner list) is still the one the entry describes: same uid and resourceVersion
    /// (an entry without them describes nothing).
    func isCurrent(_ e: Entry, _ live: Listed?) -> Bool {
        guard let live, !e.uid.isEmpty, !e.resourceVersion.isEmpty else { return false }
        return live.uid == e.uid && live.resourceVersion == e.resourceVersion
    }

    /// The record file of a Kustomization on a server, under `root`.
    public static func path(root: String, server: String, namespace: String, name: String) -> String {
        root + "/applied/" + String(Hashing.sha256Hex(server + "\n" + namespace + "/" + name).prefix(32)) + ".json"
    }

    /// The record in `path`, or an empty one when it is missing, unreadable or for another manager. A build part
    /// that is not whole (every field a string, every object with an entry) is left out: the next run builds.
    public static func load(_ path: String, fieldManager: String, force: Bool) -> AppliedRecord {
        var r = AppliedRecord(fieldManager: fieldManager, force: force)
        guard let bytes = try? Files.read(path) else { return r }
        if bytes.starts(with: lineHeader) { return lines(bytes, fieldManager: fieldManager, force: force) }
        guard let doc = try? JSON.decode(bytes: bytes),
              doc["fieldManager"]?.string == fieldManager, doc["force"]?.bool == force else { return r }
        for (k, v) in doc["objects"]?.map?.entries ?? [] {
            guard let uid = v["uid"]?.string, let rv = v["resourceVersion"]?.string, let h = v["hash"]?.string else { continue }
            r.entries[k] = Entry(uid: uid, resourceVersion: rv, hash: h, live: v["live"]?.string ?? "")
        }
        if let b = doc["build"], let key = b["key"]?.string, !key.isEmpty, let list = b["objects"]?.array, let disabled = b["disabled"]?.array {
            var objects: [Object] = []
            for o in list {
                guard let av = o["apiVersion"]?.string, let kind = o["kind"]?.string, let ns = o["namespace"]?.string,
                      let name = o["name"]?.string, !av.isEmpty, !kind.isEmpty, !name.isEmpty else { return r }
                let object = Object(apiVersion: av, kind: kind, namespace: ns, name: name)
                guard r.entries[object.subject] != nil else { return r }
                objects.append(object)
            }
            let skipped = disabled.compactMap(\.string)
            guard skipped.count == disabled.count else { return r }
            r.build = Built(key: key, objects: objects, disabled: skipped)
        }
        return r
    }

    /// The first line of a record in lines (`save`); a record that starts otherwise is read as JSON (what fluxs
    /// wrote before, and what it still writes when a field holds a tab or a line break).
    static let lineHeader = Array("fluxs-applied-record 1\n".utf8)

    /// A record in lines, one tab-separated line per object: as cheap to read and write as its size (the JSON
    /// document of 1,000 objects took ~29 M instructions to read, ~40 M to write). Anything not as `save` writes it
    /// (an unknown line, a missing field, a truncated file) gives an empty record, so the next run checks everything:
    ///
    ///     fluxs-applied-record 1
    ///     m <fieldManager>            f <true|false>
    ///     o <subject> <uid> <resourceVersion> <hash>          (one per object)
    ///     k <build key>                                       (when there is a build part)
    ///     b <apiVersion> <kind> <namespace> <name>            (its objects, in apply order)
    ///     d <subject>                                         (objects of the build left alone)
    ///     end
    static func lines(_ bytes: [UInt8], fieldManager: String, force: Bool) -> AppliedRecord {
        let empty = AppliedRecord(fieldManager: fieldManager, force: force)
        var r = empty
        var manager: String?, forced: Bool?, key: String?, objects: [Object] = [], disabled: [String] = [], ended = false
        // Lines and their tab-separated fields are read as byte ranges; a String is made only of a field kept.
        var f: [Range<Int>] = []
        f.reserveCapacity(6)
        func text(_ k: Int) -> String { String(decoding: bytes[f[k]], as: UTF8.self) }
        func tag(_ t: StaticString) -> Bool {
            let r = f[0]
            return r.count == t.utf8CodeUnitCount && t.withUTF8Buffer { b in b.elementsEqual(bytes[r]) }
        }
        var start = lineHeader.count
        while start <= bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 10 { end += 1 }
            defer { start = end + 1 }
            if ended { if end == start { continue } else { return empty } }
            f.removeAll(keepingCapacity: true)
            var from = start
            for i in start..<end where bytes[i] == 9 {
                f.append(from..<i)
                from = i + 1
                if f.count > 5 { return empty }
            }
            f.append(from..<end)
            switch f.count {
            case 1 where tag("end"): ended = true
            case 2 where tag("m"): manager = text(1)
            case 2 where tag("f"):
                let v = text(1)
                guard v == "true" || v == "false" else { return empty }
                forced = v == "true"
            case 2 where tag("k"): key = text(1)
            case 2 where tag("d"): disabled.append(text(1))
            case 5 where tag("o"): r.entries[text(1)] = Entry(uid: text(2), resourceVersion: text(3), hash: text(4))
            case 6 where tag("o"): r.entries[text(1)] = Entry(uid: text(2), resourceVersion: text(3), hash: text(4), live: text(5))
            case 5 where tag("b"):
                guard !f[1].isEmpty, !f[2].isEmpty, !f[4].isEmpty else { return empty }
                objects.append(Object(apiVersion: text(1), kind: text(2), namespace: text(3), name: text(4)))
            default: return empty
            }
        }
        guard ended, manager == fieldManager, forced == force else { return empty }
        if let key, !key.isEmpty, objects.allSatisfy({ r.entries[$0.subject] != nil }) {
            r.build = Built(key: key, objects: objects, disabled: disabled)
        }
        return r
    }

    /// The record in lines, nil when a field holds a tab or a line break (then it is written as JSON).
    func lines() -> [UInt8]? {
        var out = Self.lineHeader
        out.reserveCapacity(64 + entries.count * 160 + (build?.objects.count ?? 0) * 64)
        var clean = true
        // A field's bytes are scanned for a tab or line break as they are copied, in one pass over its contiguous
        // UTF-8 (String.utf8.contains, twice a field, was a third of writing a 1,000-entry record).
        func field(_ f: String) {
            out.append(9)
            var f = f
            f.withUTF8 { b in
                for c in b where c == 9 || c == 10 { clean = false; break }
                out.append(contentsOf: b)
            }
        }
        func line(_ tag: StaticString, _ fields: String...) {
            tag.withUTF8Buffer { out.append(contentsOf: $0) }
            for f in fields { field(f) }
            out.append(10)
        }
        line("m", fieldManager)
        line("f", force ? "true" : "false")
        for k in entries.keys.sorted() {
            let e = entries[k]!
            out.append(UInt8(ascii: "o"))
            field(k); field(e.uid); field(e.resourceVersion); field(e.hash)
            if !e.live.isEmpty { field(e.live) }
            out.append(10)
        }
        if let build {
            line("k", build.key)
            for o in build.objects {
                out.append(UInt8(ascii: "b"))
                field(o.apiVersion); field(o.kind); field(o.namespace); field(o.name)
                out.append(10)
            }
            for d in build.disabled { line("d", d) }
        }
        line("end")
        return clean ? out : nil
    }

    /// Writes the record (0600, atomically); a failure only costs the next run its skips.
    public func save(_ path: String) {
        // in lines, or as JSON (encoded()) when a field holds a tab or a line break
        let bytes = lines() ?? encoded()
        try? Files.makeDirectories(Files.dirname(path), mode: 0o700)
        try? Files.writeAtomically(path, bytes, mode: 0o600)
    }

    /// The record file's JSON: `{"fieldManager", "force", "objects": {subject: {"uid", "resourceVersion", "hash"}}`
    /// (subjects sorted) and, when there is one, `"build": {"key", "objects": [{"apiVersion", "kind", "namespace",
    /// "name"}], "disabled": [...]}`; compact, as JSON.encodeBytes writes that tree, but written directly (thousands
    /// of entries at the end of every apply, with no value tree built for them).
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + entries.count * 160 + (build?.objects.count ?? 0) * 100)
        func raw(_ s: String) { out.append(contentsOf: s.utf8) }
        func str(_ s: String) { JSON.appendQuoted(s, to: &out) }
        raw(#"{"fieldManager":"#); str(fieldManager)
        raw(#","force":"#); raw(force ? "true" : "false")
        raw(#","objects":{"#)
        for (n, k) in entries.keys.sorted().enumerated() {
            let e = entries[k]!
            if n > 0 { raw(",") }
            str(k); raw(#":{"uid":"#); str(e.uid); raw(#","resourceVersion":"#); str(e.resourceVersion); raw(#","hash":"#); str(e.hash)
            if !e.live.isEmpty { raw(#","live":"#); str(e.live) }
            raw("}")
        }
        raw("}")
        if let build {
            raw(#","build":{"key":"#); str(build.key); raw(#","objects":["#)
            for (n, o) in build.objects.enumerated() {
                if n > 0 { raw(",") }
                raw(#"{"apiVersion":"#); str(o.apiVersion); raw(#","kind":"#); str(o.kind); raw(#","namespace":"#); str(o.namespace)
                raw(#","name":"#); str(o.name); raw("}")
            }
            raw(#"],"disabled":["#)
            for (n, d) in build.disabled.enumerated() {
                if n > 0 { raw(",") }
                str(d)
            }
            raw("]}")
        }
        raw("}")
        return out
    }
}
