import FluxsAPI
import FluxsKube
import FluxsKustomize
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// Reconciles a Kustomization as kustomize-controller does: wait for dependencies, take the source's artifact, build
/// it (FluxBuild), validate every object with a server-side dry run, apply in stages with the controller's field
/// manager, prune what the previous inventory had and the build no longer has, run health checks, and write the
/// status and events the controller writes. A failed build or apply never prunes.
/// The phases are KustomizationRun's methods, in order: checkSpec → dependencies → artifact → build → targetClient →
/// validate → apply → prune → health → succeed (or fail); each takes the client it uses.
public struct KustomizationReconciler: OnDemandReconciler {
    public static let controller = "kustomize-controller"
    static let ownerGroup = "kustomize.toolkit.fluxcd.io"
    static let sourceKinds: [String: FluxKind] = [
        "GitRepository": FluxKinds.gitRepository, "OCIRepository": FluxKinds.ociRepository, "Bucket": FluxKinds.bucket,
        "ExternalArtifact": FluxKinds.externalArtifact,
    ]

    public init() {}

    typealias Failure = ReconcileFailure

    /// The phases, in order; each takes the client it must use: `kube` is this process's identity (the Flux objects,
    /// their sources, status and events), `target` the one the Kustomization's objects are applied with
    /// (spec.kubeConfig, spec.serviceAccountName). A phase that fails throws a ReconcileFailure, which is recorded
    /// in the status as kustomize-controller records it; API errors on the Flux objects themselves are thrown.
    public func reconcile(_ object: Node, env: ReconcileEnv) throws -> Node {
        let run = try KustomizationRun(object, env: env)
        // its trees (the object, the status and its inventory), whichever way the run ends
        defer { env.keep(run) }
        defer { run.recordSaved() }
        let kube = env.kube
        // The artifact's files, until the reconciliation ends (signals remove it too).
        let workdir = tempPath("ks")
        defer { Files.removeTree(workdir) }
        do {
            try run.checkSpec()
            try run.dependencies(kube)
            // The owner lists of what the last apply from this machine left, read from here on, while the artifact
            // and the build key are read (and the build made): when the target client needs no request to make
            // (no spec.kubeConfig), which the record is for is known now.
            // Started before the Lease was held (prepare) when they are for this record, else now.
            let candidate = run.spec.kubeConfig == nil ? try? run.targetClient(kube) : nil
            let prepared = env.prepared as? PreparedOwnerLists
            // The record is read on the lists' thread too, while the source is read.
            let known: KubeClient?, listing: OwnedReadAhead?
            if let candidate, let prepared, prepared.path == run.recordPath(candidate) {
                (known, listing) = (prepared.target, prepared.lists)
            } else {
                prepared?.discard()
                known = candidate
                listing = known.flatMap { Self.readAhead(loading: run.recordPath($0), $0, name: run.name, namespace: run.ns) }
            }
            defer { listing?.release() }
            let artifact = try run.artifact(kube)
            // Same build inputs as the last apply from this machine and every object as it left them: no build.
            // Anything else (or any error on the way, which the build's path then reports in its order) builds.
            let key = run.buildKey(artifact, kube)
            let knownRecord = listing?.record(within: run.deadline - monotonicSeconds())
            let early = known ?? (try? run.targetClient(kube))
            let recorded = early.map { run.recorded(key, $0, record: knownRecord, lists: listing) }
            let target: KubeClient, changes: [ChangeSetEntry], old: ResourceInventory
            if let early, let unchanged = recorded?.changes {
                target = early
                (changes, old) = try run.keep(unchanged, statusClient: kube)
            } else {
                // The owner lists of what the last apply left, read while the build runs.
                let ahead = recorded?.owned == nil ? (listing ?? early.flatMap { run.readAhead(recorded?.record, $0) }) : nil
                let objects = try run.build(artifact, in: workdir, kube)
                target = try early ?? run.targetClient(kube)
                let owned = recorded?.owned ?? ahead?.owned(within: run.deadline - monotonicSeconds())
                // the record `recorded` read, when it was read for this target (one read of the file a run)
                let applier = try run.validate(objects, target, owned: owned, record: target === early ? recorded?.record : nil)
                (changes, old) = try run.apply(objects, applier, statusClient: kube, key: key)
                // its lists, dry runs and records, and the build's objects: not taken apart here
                env.keep((consume applier, consume objects, owned as Any))
            }
            let deleted = try run.prune(old, changes, target)
            try run.health(changes, target)
            let result = try run.succeed(artifact, changes: changes, deleted: deleted, kube)
            env.keep((consume changes, consume old, consume recorded))
            return result
        } catch let f as Failure {
            return try run.fail(f, kube)
        }
    }

    /// The owner lists of what the last apply from this machine left (its record), started from the object as read
    /// before the Lease was held, at the moment the Lease was seen free: they are answered while the Lease is taken,
    /// the object annotated and the source read. Only for a target client that needs no request (no
    /// spec.kubeConfig); `reconcile` takes them when the object under the Lease names the same record (the same
    /// server, identity, namespace and name). Anything that fails here leaves it to `reconcile`.
    public func prepare(_ object: Node, env: ReconcileEnv) -> PreparedWork? {
        guard object["spec"]?["kubeConfig"] == nil || object["spec"]?["kubeConfig"]?.isNull == true,
              let ns = object["metadata"]?["namespace"]?.string, let name = object["metadata"]?["name"]?.string,
              let target = try? Self.targetClient(for: object, kube: env.kube, defaultServiceAccount: env.defaultServiceAccount) else { return nil }
        let path = Self.recordPath(root: env.storage.root, target, namespace: ns, name: name)
        guard let lists = Self.readAhead(loading: path, target, name: name, namespace: ns) else { return nil }
        return PreparedOwnerLists(path: path, target: target, lists: lists)
    }

    /// Where the record of the last apply of a Kustomization through `target` from this machine is kept.
    static func recordPath(root: String, _ target: KubeClient, namespace: String, name: String) -> String {
        let who = target.config.impersonateUser.map { "\n" + $0 } ?? ""
        return AppliedRecord.path(root: root, server: target.config.server + who, namespace: namespace, name: name)
    }

    /// The owner-label metadata lists of the kinds and namespaces the last apply from this machine left (its record's
    /// build part), read on a thread of its own, with a client of its own, while this one goes on: the server
    /// answers the lists while fluxs builds instead of after (docs/decisions.md). Nil when the record names no
    /// objects or no client can be made. A list that fails is left out (the apply's path lists it again and reports
    /// its error).
    static func readAhead(_ record: AppliedRecord?, _ target: KubeClient, name: String, namespace ns: String) -> OwnedReadAhead? {
        guard let record, record.build?.objects.isEmpty == false else { return nil }
        let relay = OwnedReadAhead.Relay(target.requestLog)
        guard let sibling = try? target.sibling(log: relay.line) else { return nil }
        let selector = ownerSelector(name: name, namespace: ns)
        let pending = Blocking.start { listOwned(record, sibling, selector: selector) }
        return OwnedReadAhead(pending: pending, relay: relay, target: target, reader: sibling)
    }

    /// readAhead of the record in `path`, itself read on a thread of its own (a 1,000-object record is ~3 ms to
    /// read: the caller takes its Lease and writes its annotation meanwhile); the lists start once it is read.
    /// Nil only when no client can be made; a record that names no objects lists nothing.
    static func readAhead(loading path: String, _ target: KubeClient, name: String, namespace ns: String) -> OwnedReadAhead? {
        let relay = OwnedReadAhead.Relay(target.requestLog)
        guard let sibling = try? target.sibling(log: relay.line) else { return nil }
        let selector = ownerSelector(name: name, namespace: ns)
        let loading = Blocking.start { AppliedRecord.load(path, fieldManager: controller, force: true) }
        let pending = Blocking.start { () -> OwnedObjects in
            // the record is pure work on a file: it ends; the wait is bounded only so that it is not forever
            guard case .success(let record)? = loading.result(within: 3600) else { return OwnedObjects(kube: sibling, selector: selector, metadataOnly: true) }
            return listOwned(record, sibling, selector: selector)
        }
        return OwnedReadAhead(pending: pending, relay: relay, target: target, reader: sibling, record: loading)
    }

    /// The metadata lists of the kinds and namespaces of a record's build part, through `reader`.
    static func listOwned(_ record: AppliedRecord, _ reader: KubeClient, selector: String) -> OwnedObjects {
        var owned = OwnedObjects(kube: reader, selector: selector, metadataOnly: true)
        var seen: Set<String> = []
        for o in record.build?.objects ?? [] where seen.insert(String.concat(o.apiVersion, "\t", o.kind, "\t", o.namespace)).inserted {
            guard let r = try? reader.resource(apiVersion: o.apiVersion, kind: o.kind) else { continue }
            _ = try? owned.get(r, namespace: r.namespaced ? o.namespace : nil, name: "")
        }
        return owned
    }

    // MARK: steps

    /// Writes an artifact's files under `dir` (0700 directories, 0600 files); paths may not leave it. Stops at the
    /// deadline (`limit` says which one). `dir` is made here and must not exist (a scratch directory of this
    /// process, removed by the caller): nothing in it was put there by anyone else, so its files are written in
    /// place, unsynced (Files.writeScratch).
    func extract(_ bytes: [UInt8], into dir: String, deadline: Double, limit: String) throws {
        try Files.makeDirectories(Files.dirname(dir), mode: 0o700)
        guard mkdir(dir, 0o700) == 0 else {
            throw Failure(reason: "ArtifactFailed", message: "failed to extract artifact: cannot create the scratch directory \(dir): \(String(cString: strerror(errno)))")
        }
        do {
            try Tar.forEach(gzip: bytes, deadline: deadline) { e in
                let parts = e.path.split(separator: "/")
                if e.path.hasPrefix("/") || parts.contains("..") {
                    throw Failure(reason: "ArtifactFailed", message: "failed to extract artifact: unsafe path '\(e.path)'")
                }
                let path = dir + "/" + parts.joined(separator: "/")
                switch e.kind {
                case .directory: try Files.makeDirectories(path, mode: 0o700)
                case .file:
                    try Files.makeDirectories(Files.dirname(path), mode: 0o700)
                    try Files.writeScratch(path, e.data, mode: 0o600)
                }
            }
        } catch let f as Failure { throw f } catch {
            if monotonicSeconds() > deadline {
                throw Failure(reason: "ArtifactFailed", message: "failed to extract artifact: context deadline exceeded (decompressing did not finish within \(limit))")
            }
            throw Failure(reason: "ArtifactFailed", message: "failed to extract artifact: \(error)")
        }
    }

    /// Every object goes through a server-side dry run first, so a bad object fails the reconciliation before any
    /// object changes. Objects whose kind or namespace this same set creates cannot be checked before it exists.
    /// Returns the dry runs by `subject(of:)` (they decide what the apply changes) and the bodies they sent (the
    /// apply sends the same).
    @discardableResult
    func validate(_ objects: [Node], kube: KubeClient, skip: Set<String> = []) throws -> (dryRuns: [String: Node], bodies: [String: [UInt8]]) {
        var dryRuns: [String: Node] = [:]
        var bodies: [String: [UInt8]] = [:]
        var checked: [Node] = [], checkedIDs: [String] = []
        var seen = Set<String>()
        // each object's subject made once (it names the object in the set, the skip list and the answers)
        let ids = objects.map { subject(of: $0) }
        for id in ids where !seen.insert(id).inserted {
            throw Failure(reason: "ReconciliationFailed", message: "\(id) appears twice in the build")
        }
        let newKinds = Set(objects.filter { $0["kind"]?.string == "CustomResourceDefinition" }.compactMap { $0["spec"]?["names"]?["kind"]?.string })
        let newNamespaces = Set(objects.filter { $0["kind"]?.string == "Namespace" }.compactMap { $0["metadata"]?["name"]?.string })
        for (o, id) in zip(objects, ids) {
            let kind = o["kind"]?.string ?? ""
            if newKinds.contains(kind) { continue }
            let r: ResourceRef
            do { r = try kube.resource(for: o) } catch let e as KubeError {
                throw Failure(reason: "ReconciliationFailed", message: "\(id): \(e.message)")
            }
            let objNS = o["metadata"]?["namespace"]?.string ?? ""
            if r.namespaced && objNS.isEmpty {
                throw Failure(reason: "ReconciliationFailed",
                              message: "\(id) is namespaced but has no namespace: set metadata.namespace or spec.targetNamespace")
            }
            if r.namespaced && newNamespaces.contains(objNS) { continue }
            if skip.contains(id) { continue }
            checked.append(o)
            checkedIDs.append(id)
        }
        // Sent together; the first failure in the build's order is the one reported.
        let sent = checked.map { try? KubeClient.applyBody($0) }
        for (k, result) in kube.applyAll(checked, fieldManager: Self.controller, force: true, dryRun: true, bodies: sent).enumerated() {
            let id = checkedIDs[k]
            switch result {
            case .success(let d):
                dryRuns[id] = d
                bodies[id] = sent[k]
            case .failure(let e as KubeError):
                let reason = e.reason.isEmpty ? "" : " (\(e.reason))"
                throw Failure(reason: "ReconciliationFailed", message: "\(id) dry-run failed\(reason): \(e.message)")
            case .failure(let e): throw e
            }
        }
        return (dryRuns, bodies)
    }

    /// The owner labels kustomize-controller sets on every object it applies, as a label selector.
    public static func ownerSelector(name: String, namespace: String) -> String {
        "kustomize.toolkit.fluxcd.io/name=\(name),kustomize.toolkit.fluxcd.io/namespace=\(namespace)"
    }

    /// The client the objects are applied with: the remote cluster of spec.kubeConfig.secretRef, or this one;
    /// impersonating `system:serviceaccount:<namespace>:<name>` for spec.serviceAccountName, else for the default
    /// service account (fluxcd/pkg runtime/client.Impersonator).
    static func targetClient(_ spec: KustomizationSpec, namespace: String, env: ReconcileEnv) throws -> KubeClient {
        try targetClient(spec, namespace: namespace, kube: env.kube, defaultServiceAccount: env.defaultServiceAccount)
    }

    /// The target client of a Kustomization object (for its finalizer's garbage collection).
    public static func targetClient(for ks: Node, kube: KubeClient, defaultServiceAccount: String = "") throws -> KubeClient {
        let spec = try APICoding.decode(KustomizationSpec.self, from: ks["spec"] ?? .emptyMap)
        return try targetClient(spec, namespace: ks["metadata"]?["namespace"]?.string ?? "", kube: kube, defaultServiceAccount: defaultServiceAccount)
    }

    static func targetClient(_ spec: KustomizationSpec, namespace: String, kube: KubeClient, defaultServiceAccount: String) throws -> KubeClient {
        let env = (kube: kube, defaultServiceAccount: defaultServiceAccount)
        var base = env.kube
        if let ref = spec.kubeConfig?.secretRef {
            let id = "\(namespace)/\(ref.name)"
            let data: [String: String]
            do {
                guard let d = try env.kube.stringData(of: .secrets, namespace: namespace, name: ref.name) else {
                    throw KubeError(kind: .notFound, message: "secrets \"\(ref.name)\" not found")
                }
                data = d
            } catch let e as KubeError {
                throw KubeConfigError("unable to read KubeConfig secret '\(id)' error: \(e.message)")
            }
            let text: String
            if !ref.key.isEmpty {
                guard let v = data[ref.key] else { throw KubeConfigError("KubeConfig secret '\(id)' does not contain a '\(ref.key)' key with a kubeconfig") }
                text = v
            } else if let v = data["value"] {
                text = v
            } else if let v = data["value.yaml"] {
                text = v
            } else {
                throw KubeConfigError("KubeConfig secret '\(id)' does not contain a 'value' key with a kubeconfig")
            }
            base = try env.kube.derived(RemoteKubeConfig.parse(text, source: "Secret '\(id)'"))
        }
        let sa = spec.serviceAccountName.isEmpty ? env.defaultServiceAccount : spec.serviceAccountName
        if sa.isEmpty { return base }
        return try base.impersonating(user: "system:serviceaccount:\(namespace):\(sa)")
    }

    /// An object prune deletes.
    struct PruneTarget {
        var ref: ResourceRef
        var namespace: String?
        var name: String
        var subject: String
    }

    /// A stale inventory entry to delete: it still exists and this Kustomization owns it (its name and namespace
    /// labels), and it did not opt out (`kustomize.toolkit.fluxcd.io/prune: disabled`). What exists and is owned
    /// comes from one LIST per kind and namespace with the owner labels (`owned`), not a GET per entry: an entry the
    /// list lacks is gone or no longer this Kustomization's.
    func pruneTarget(_ e: ResourceInventory.Entry, kube: KubeClient, owned: inout OwnedObjects) throws -> PruneTarget? {
        guard let id = Self.parse(e.id) else { return nil }
        let apiVersion = id.group.isEmpty ? e.v : "\(id.group)/\(e.v)"
        let what = Self.entrySubject(e)
        let r: ResourceRef
        do { r = try kube.resource(apiVersion: apiVersion, kind: id.kind) } catch let err as KubeError {
            // A kind the server no longer serves has no objects left to delete.
            if err.kind == .notFound { return nil }
            throw err.naming("\(what) discovery failed")
        }
        let objNS: String? = r.namespaced ? id.namespace : nil
        guard let live = try owned.get(r, namespace: objNS, name: id.name) else { return nil }
        if live["metadata"]?["annotations"]?["kustomize.toolkit.fluxcd.io/prune"]?.string == "disabled" { return nil }
        return PruneTarget(ref: r, namespace: objNS, name: id.name, subject: what)
    }

    /// What to wait for: every applied object with `wait`, else spec.healthChecks.
    func healthChecks(_ spec: KustomizationSpec, changes: [ChangeSetEntry], ns: String, kube: KubeClient) throws -> [(ResourceRef, String?, String)] {
        if spec.wait {
            return try changes.map { c in
                let r = try kube.resource(for: c.object)
                return (r, r.namespaced ? c.object["metadata"]?["namespace"]?.string : nil, c.object["metadata"]?["name"]?.string ?? "")
            }
        }
        return try spec.healthChecks.map { h in
            let apiVersion = h.apiVersion.isEmpty ? Self.defaultVersion(h.kind) : h.apiVersion
            let r: ResourceRef
            do { r = try kube.resource(apiVersion: apiVersion, kind: h.kind) } catch let e as KubeError {
                throw Failure(reason: "HealthCheckFailed", message: "health check \(h.kind)/\(h.name): \(e.message)")
            }
            return (r, r.namespaced ? (h.namespace.isEmpty ? ns : h.namespace) : nil, h.name)
        }
    }

    static func defaultVersion(_ kind: String) -> String {
        switch kind {
        case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet": return "apps/v1"
        case "Job", "CronJob": return "batch/v1"
        case "Kustomization": return FluxKinds.kustomization.apiVersion
        case "HelmRelease": return FluxKinds.helmRelease.apiVersion
        default: return "v1"
        }
    }

    /// How long a failure may still take to be recorded in the status after the deadline passed.
    static let statusGrace = 5.0

    // MARK: inventory ids

    /// `a` followed by the entries of `b` it lacks (ids compared without version).
    static func union(_ a: ResourceInventory, _ b: [ResourceInventory.Entry]) -> ResourceInventory {
        // (The same ids in the same order, a run that changes no object's identity: nothing to add, no set built.)
        if sameIDs(a.entries, b) { return a }
        var out = a
        var seen = Set(a.entries.map(\.id))
        for e in b where !seen.contains(e.id) { out.entries.append(e); seen.insert(e.id) }
        return out
    }

    /// Whether `a` and `b` hold the same ids in the same order.
    static func sameIDs(_ a: [ResourceInventory.Entry], _ b: [ResourceInventory.Entry]) -> Bool {
        // (By index: zip's elements are copies, and an Entry's copy is a few hundred instructions.)
        guard a.count == b.count else { return false }
        for i in a.indices where a[i].id != b[i].id { return false }
        return true
    }

    /// `<namespace>_<name>_<group>_<kind>` (":" in RBAC names written as "__"), version apart.
    static func entry(_ o: Node) -> ResourceInventory.Entry {
        entry(apiVersion: o["apiVersion"]?.string ?? "", kind: o["kind"]?.string ?? "",
              namespace: o["metadata"]?["namespace"]?.string ?? "", name: o["metadata"]?["name"]?.string ?? "")
    }

    /// The inventory entry of an object of that apiVersion, kind, namespace and name (`entry(_:)` of its manifest).
    static func entry(apiVersion av: String, kind: String, namespace ns: String, name plain: String) -> ResourceInventory.Entry {
        // (Split at the first "/" by its UTF-8 offset: String.contains(String) is Foundation's range(of:), ~3 K
        // instructions a call, and this runs for every object of every reconcile.)
        let group: String, version: String
        if let slash = av.utf8.firstIndex(of: UInt8(ascii: "/")) {
            group = String(av[..<slash])
            let rest = av[av.utf8.index(after: slash)...]
            version = String(rest.utf8.firstIndex(of: UInt8(ascii: "/")).map { rest[..<$0] } ?? rest)
        } else {
            group = ""
            version = av
        }
        // (String.replacing is a regex-library walk: skipped for the names, nearly all, without a colon.)
        let name = plain.utf8.contains(UInt8(ascii: ":")) ? plain.replacing(":", with: "__") : plain
        // (One allocation: interpolated, an id cost ~4 K instructions, appended ~2.5 K; two ids an object a run.)
        return ResourceInventory.Entry(id: String.concat(ns, "_", name, "_", group, "_", kind), v: version)
    }

    /// The inventory id of an object (`<namespace>_<name>_<group>_<kind>`).
    public static func inventoryID(_ o: Node) -> String { entry(o).id }

    /// `Kind/namespace/name` (or `Kind/name`) of an inventory id.
    public static func inventorySubject(_ id: String) -> String { entrySubject(ResourceInventory.Entry(id: id, v: "")) }

    static func parse(_ id: String) -> (namespace: String, name: String, group: String, kind: String)? {
        guard let first = id.firstIndex(of: "_"), let last = id.lastIndex(of: "_"), first < last else { return nil }
        let ns = String(id[..<first])
        let kind = String(id[id.index(after: last)...])
        let middle = id[id.index(after: first)..<last]
        guard let groupSep = middle.lastIndex(of: "_") else { return nil }
        let group = String(middle[middle.index(after: groupSep)...])
        let raw = String(middle[..<groupSep])
        let name = raw.utf8.contains(UInt8(ascii: "_")) ? raw.replacing("__", with: ":") : raw
        return (ns, name, group, kind)
    }

    static func entrySubject(_ e: ResourceInventory.Entry) -> String {
        guard let id = parse(e.id) else { return e.id }
        return id.namespace.isEmpty ? "\(id.kind)/\(id.name)" : "\(id.kind)/\(id.namespace)/\(id.name)"
    }

    /// postBuild.substituteFrom values of a ConfigMap or Secret in the Kustomization's namespace.
    public static func values(_ kube: KubeClient, kind: String, namespace: String, name: String) throws -> [String: String]? {
        try kube.stringData(of: kind == "Secret" ? .secrets : .configMaps, namespace: namespace, name: name)
    }
}

/// An owned object as its list holds it: decoded, or an item of a metadata list page still as the page's text,
/// with the uid and resourceVersion read from it (JSON.scanList), decoded when first asked for whole. Telling a
/// thousand objects from the last apply's record needs their identities only: no tree is built for them.
public enum Listed: Sendable {
    case node(Node)
    case item(ListedItem)

    public var uid: String? {
        switch self {
        case .node(let n): return n["metadata"]?["uid"]?.string
        case .item(let it): return it.uid
        }
    }

    public var resourceVersion: String? {
        switch self {
        case .node(let n): return n["metadata"]?["resourceVersion"]?.string
        case .item(let it): return it.resourceVersion
        }
    }

    /// The object as its list answered it (an item decoded now, as a whole decode of its page has it).
    func node(server: String) throws -> Node {
        switch self {
        case .node(let n): return n
        case .item(let it): return try it.decoded(server: server)
        }
    }

    /// The inventory entry of `stub(name:namespace:)`, without building it.
    func entry(name: String, namespace: String?) -> ResourceInventory.Entry {
        switch self {
        case .node(let n): return KustomizationReconciler.entry(n)
        case .item(let it): return KustomizationReconciler.entry(apiVersion: it.page.apiVersion, kind: it.page.kind, namespace: namespace ?? "", name: name)
        }
    }

    /// What a change set keeps of an object its record says is unchanged: the object decoded, or, for an item not
    /// decoded, its apiVersion, kind and identity (name, namespace, uid, resourceVersion).
    func stub(name: String, namespace: String?) -> Node {
        switch self {
        case .node(let n): return n
        case .item(let it):
            var meta: [(String, Node)] = [("name", .string(name))]
            if let namespace, !namespace.isEmpty { meta.append(("namespace", .string(namespace))) }
            if let u = it.uid { meta.append(("uid", .string(u))) }
            if let v = it.resourceVersion { meta.append(("resourceVersion", .string(v))) }
            return .map([("apiVersion", .string(it.page.apiVersion)), ("kind", .string(it.page.kind)), ("metadata", .map(meta))])
        }
    }
}

/// One item of a metadata list page, not decoded yet.
public struct ListedItem: Sendable {
    let page: ListPage
    let range: Range<Int>
    let uid: String?, resourceVersion: String?

    /// The item as decodePage's whole decode had it: the resource's apiVersion and kind with the item's metadata.
    func decoded(server: String) throws -> Node {
        let it: Node
        do { it = try JSON.decode(bytes: Array(page.bytes[range]), omitting: "managedFields") } catch {
            throw KubeError(kind: .decode, message: "invalid JSON from the Kubernetes API at \(server): \(error)")
        }
        return ListPage.object(it, apiVersion: page.apiVersion, kind: page.kind)
    }
}

/// A metadata list page's text, kept while some of its items are not decoded, and the resource its items are of.
final class ListPage: @unchecked Sendable {
    let bytes: [UInt8]
    let apiVersion: String, kind: String
    init(_ bytes: [UInt8], apiVersion: String, kind: String) { (self.bytes, self.apiVersion, self.kind) = (bytes, apiVersion, kind) }

    /// An item of a metadata list (a PartialObjectMetadata, or a whole object from a server that ignored the
    /// conversion) named as the resource's object: its apiVersion and kind with the item's metadata.
    static func object(_ item: Node, apiVersion: String, kind: String) -> Node {
        .map([("apiVersion", .string(apiVersion)), ("kind", .string(kind)), ("metadata", item["metadata"] ?? .emptyMap)])
    }
}

/// The objects of a Kustomization (its owner labels), listed once per kind and namespace when first asked for.
/// With `metadataOnly`, a list is of the objects' metadata (`listMetadata`: what telling whether an object
/// is as the last apply left it, pruning and the inventory read) until a caller asks for the whole objects
/// (`whole`); Flux's own kinds are always listed whole, as `fluxs sync` follows the change set's Flux objects
/// (their spec's dependencies).
public struct OwnedObjects {
    private(set) var kube: KubeClient
    let selector: String
    let metadataOnly: Bool
    var lists: [String: [String: Listed]] = [:]
    /// Keys whose list holds metadata only.
    var partial: Set<String> = []

    public init(kube: KubeClient, selector: String, metadataOnly: Bool = false) {
        self.kube = kube
        self.selector = selector
        self.metadataOnly = metadataOnly
    }

    /// The same lists, asking whatever else is asked through `other` (a client for the same server and identity:
    /// the one whose connections are open).
    func asking(_ other: KubeClient) -> OwnedObjects {
        var o = self
        o.kube = other
        return o
    }

    /// The live object, nil when it does not exist or lacks the owner labels; its metadata only (with apiVersion and
    /// kind) when the list was of metadata and `whole` is false.
    public mutating func get(_ r: ResourceRef, namespace: String?, name: String, whole: Bool = false) throws -> Node? {
        let key = Self.key(r, namespace)
        // An object a metadata list lacks is not there whole either (same selector); one it has is read whole
        // by listing whole, unless readWhole read it already.
        if lists[key] == nil || (whole && partial.contains(key) && lists[key]?[name] != nil && fetched[key]?.contains(name) != true) {
            let meta = metadataOnly && !whole && !r.group.hasSuffix(".toolkit.fluxcd.io")
            let items: [(name: String, listed: Listed)]
            do {
                items = try meta ? listMetadata(r, namespace: namespace)
                    : kube.list(r, namespace: namespace, labelSelector: selector).items.compactMap { it in it["metadata"]?["name"]?.string.map { ($0, .node(it)) } }
            } catch let e as KubeError {
                throw e.naming("\(r.kind) list\(namespace.map { " in namespace \($0)" } ?? "") failed")
            }
            var byName: [String: Listed] = [:]
            byName.reserveCapacity(items.count)
            for it in items { byName[it.name] = it.listed }
            lists[key] = byName
            fetched[key] = nil
            if meta { partial.insert(key) } else { partial.remove(key) }
        }
        guard let entry = lists[key]?[name] else { return nil }
        if case .node(let n) = entry { return n }
        let n = try entry.node(server: kube.config.server)
        lists[key]?[name] = .node(n)
        return n
    }

    /// The live object as its list holds it (not decoded when its list left it as text), nil when it does not exist
    /// or lacks the owner labels: for telling whether it is as a record says (`Listed.uid`, `.resourceVersion`).
    public mutating func listed(_ r: ResourceRef, namespace: String?, name: String) throws -> Listed? {
        try objects(r, namespace: namespace)[name]
    }

    static func key(_ r: ResourceRef, _ namespace: String?) -> String {
        // one allocation, not interpolated: asked for each object looked up
        String.concat(r.apiVersion, "/", r.resource, "/", namespace ?? "")
    }

    /// The live objects of one kind and namespace by name (listed when first asked for), as `listed` gives them.
    public mutating func objects(_ r: ResourceRef, namespace: String?) throws -> [String: Listed] {
        _ = try get(r, namespace: namespace, name: "")
        return lists[Self.key(r, namespace)] ?? [:]
    }

    /// In a metadata list: the names whose whole object readWhole put in place of their metadata.
    var fetched: [String: Set<String>] = [:]

    /// Reads whole, ahead of `get(whole: true)` for each, the objects of `wanted` that a metadata list holds: one GET
    /// each, all sent together, where they are few next to their list (at most one in eight of it: a dry run's
    /// objects in a run that changes a few), else by listing whole. A GET that finds the object gone or without
    /// the owner labels leaves it out, as a list would have.
    public mutating func readWhole(_ wanted: [(ref: ResourceRef, namespace: String?, name: String)]) throws {
        var gets: [(ref: ResourceRef, namespace: String?, name: String)] = []
        var byKey: [String: [Int]] = [:]
        let wantedLabels = Self.labels(of: selector)
        for (i, w) in wanted.enumerated() {
            let key = Self.key(w.ref, w.namespace)
            guard partial.contains(key), lists[key]?[w.name] != nil, fetched[key]?.contains(w.name) != true else { continue }
            byKey[key, default: []].append(i)
        }
        for (key, idx) in byKey.sorted(by: { $0.key < $1.key }) {
            let names = Set(idx.map { wanted[$0].name })
            if wantedLabels != nil && names.count * 8 <= lists[key]?.count ?? 0 {
                for n in names.sorted() { gets.append((wanted[idx[0]].ref, wanted[idx[0]].namespace, n)) }
            } else {
                _ = try get(wanted[idx[0]].ref, namespace: wanted[idx[0]].namespace, name: wanted[idx[0]].name, whole: true)
            }
        }
        guard let wantedLabels, !gets.isEmpty else { return }
        for (g, answer) in zip(gets, kube.getAll(gets)) {
            let key = Self.key(g.ref, g.namespace)
            switch answer {
            case .success(let o?):
                let labels = o["metadata"]?["labels"]
                if wantedLabels.allSatisfy({ labels?[$0.0]?.string == $0.1 }) {
                    lists[key]?[g.name] = .node(o)
                    fetched[key, default: []].insert(g.name)
                } else {
                    lists[key]?.removeValue(forKey: g.name)
                }
            case .success(nil):
                lists[key]?.removeValue(forKey: g.name)
            case .failure(let e as KubeError):
                throw e.naming("\(g.ref.kind) \(g.namespace.map { "\($0)/" } ?? "")\(g.name) query failed")
            case .failure(let e):
                throw e
            }
        }
    }

    /// The pairs of an equality label selector (`k=v,k2=v2`, as ownerSelector writes it); nil for any other form
    /// (then objects are only listed).
    static func labels(of selector: String) -> [(String, String)]? {
        var out: [(String, String)] = []
        for p in selector.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = p.split(separator: "=", omittingEmptySubsequences: false)
            let plain = { (s: Substring) in !s.isEmpty && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x2F } }
            guard kv.count == 2, plain(kv[0]), plain(kv[1]) else { return nil }
            out.append((String(kv[0]), String(kv[1])))
        }
        return out.isEmpty ? nil : out
    }

    /// client-go's metadata client (k8s.io/client-go/metadata): the list answered as a PartialObjectMetadataList.
    static let metadataAccept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    /// The server refused a metadata-only list (406 Not Acceptable): not asked again.
    var metadataRefused = false

    /// Items a page of a metadata list asks for.
    var pageSize = 500

    /// The owned objects' metadata, 500 a page (PartialObjectMetadataList): each item is the resource's apiVersion
    /// and kind with the object's metadata (labels, annotations, uid, resourceVersion; managedFields left out), none
    /// of its spec, data or status. A server that cannot answer so (406) is asked for the whole objects, of which the
    /// same part is kept. The next page is asked for as soon as a page's continue token is read (from the members
    /// before its items), while that page is decoded on a thread of its own; a page whose items come first is
    /// decoded before the next is asked for. The pages are joined in order; one that fails to decode, or whose
    /// whole decode finds another continue token than the one read ahead, fails the list.
    mutating func listMetadata(_ r: ResourceRef, namespace: String?) throws -> [(name: String, listed: Listed)] {
        typealias Page = (items: [(name: String, listed: Listed)], cont: String?)
        // Each page's items (waiting for its decode when it runs on a thread) and the continue token it was read with.
        var pages: [(take: () throws -> Page, cont: String?)] = []
        var cont: String? = nil
        let server = kube.config.server
        while true {
            var q: [(String, String)] = [("labelSelector", selector), ("limit", String(pageSize))]
            if let c = cont { q.append(("continue", c)) }
            let resp: HTTPResponse
            do { resp = try kube.call("GET", kube.path(r, namespace: namespace), query: q, accept: metadataRefused ? "application/json" : Self.metadataAccept) } catch let e as KubeError where e.code == 406 && !metadataRefused && cont == nil {
                metadataRefused = true
                continue
            }
            let body = resp.body
            if let head = JSON.leadingMembers(bytes: body, before: "items"), let next = head["metadata"]?["continue"]?.string, !next.isEmpty {
                let pending = Blocking.start { try Self.decodePage(body, r, server: server) }
                let wait = max(60, kube.remaining)
                pages.append(({
                    guard let answer = pending.result(within: wait) else {
                        throw KubeError(kind: .decode, message: "decoding a \(r.kind) list from the Kubernetes API at \(server) did not finish")
                    }
                    return try answer.get()
                }, next))
                cont = next
            } else {
                // the last page (or one whose items come first): decoded here
                let page = try Self.decodePage(body, r, server: server)
                pages.append(({ page }, page.cont))
                cont = page.cont
            }
            if cont == nil || cont?.isEmpty == true { break }
        }
        var items: [(name: String, listed: Listed)] = []
        for p in pages {
            let page = try p.take()
            guard page.cont == p.cont else {
                throw KubeError(kind: .decode, message: "invalid \(r.kind) list from the Kubernetes API at \(server): two continue tokens in one page")
            }
            items.append(contentsOf: page.items)
        }
        return items
    }

    /// One page of a metadata list: its items (by name) as the resource's objects, and its continue token. Read for
    /// the items' names, uids and resourceVersions (JSON.scanList: checked as a whole decode checks it, no tree
    /// built), each item decoded when first asked for whole; a page that is not a list's shape is decoded whole.
    static func decodePage(_ body: [UInt8], _ r: ResourceRef, server: String) throws -> (items: [(name: String, listed: Listed)], cont: String?) {
        // managedFields are left out: nothing reads them from a metadata list (whole objects are read for a
        // comparison), and they are most of its bytes
        let scan: (members: Mapping, items: [JSON.ListItem])?
        do { scan = try JSON.scanList(bytes: body, fields: ["name", "uid", "resourceVersion"], omitting: "managedFields") } catch {
            throw KubeError(kind: .decode, message: "invalid JSON from the Kubernetes API at \(server): \(error)")
        }
        if let scan {
            let page = ListPage(body, apiVersion: r.apiVersion, kind: r.kind)
            var items: [(name: String, listed: Listed)] = []
            items.reserveCapacity(scan.items.count)
            for it in scan.items {
                guard let name = it.fields[0] else { continue }
                items.append((name, .item(ListedItem(page: page, range: it.range, uid: it.fields[1], resourceVersion: it.fields[2]))))
            }
            return (items, scan.members["metadata"]?["continue"]?.string)
        }
        let doc: Node
        do { doc = try JSON.decode(bytes: body, omitting: "managedFields") } catch {
            throw KubeError(kind: .decode, message: "invalid JSON from the Kubernetes API at \(server): \(error)")
        }
        let list = doc["items"]?.array ?? []
        var items: [(name: String, listed: Listed)] = []
        for it in list {
            guard let name = it["metadata"]?["name"]?.string else { continue }
            items.append((name, .node(ListPage.object(it, apiVersion: r.apiVersion, kind: r.kind))))
        }
        return (items, doc["metadata"]?["continue"]?.string)
    }
}

/// Owner lists being read on another thread (KustomizationRun.readAhead). Its request lines are held until the
/// lists are taken, so `--verbose` output keeps one order whatever the threads do.
final class OwnedReadAhead {
    final class Relay: @unchecked Sendable {
        let out: ((String) -> Void)?
        private var mutex = pthread_mutex_t()
        private var held: [String] = []
        private var holding = true
        init(_ out: ((String) -> Void)?) { self.out = out; pthread_mutex_init(&mutex, nil) }
        deinit { pthread_mutex_destroy(&mutex) }
        func line(_ s: String) {
            pthread_mutex_lock(&mutex)
            if holding { held.append(s); pthread_mutex_unlock(&mutex) } else { pthread_mutex_unlock(&mutex); out?(s) }
        }
        func release() {
            pthread_mutex_lock(&mutex)
            holding = false
            let lines = held
            held = []
            pthread_mutex_unlock(&mutex)
            for l in lines { out?(l) }
        }
    }
    let pending: Blocking.Pending<OwnedObjects>
    let relay: Relay
    /// The client the lists are for and the one that read them.
    let target: KubeClient, reader: KubeClient
    /// The record the lists are of, when it is read on a thread too (readAhead(loading:)).
    let loading: Blocking.Pending<AppliedRecord>?
    init(pending: Blocking.Pending<OwnedObjects>, relay: Relay, target: KubeClient, reader: KubeClient,
         record loading: Blocking.Pending<AppliedRecord>? = nil) {
        (self.pending, self.relay, self.target, self.reader, self.loading) = (pending, relay, target, reader, loading)
    }

    /// The record the lists are of, once read (nil when it was not read on a thread, or not by the deadline).
    func record(within seconds: Double) -> AppliedRecord? {
        guard case .success(let r)? = loading?.result(within: max(0, seconds) + 0.5) else { return nil }
        return r
    }

    /// The lists, once read (waiting at most `seconds`, the run's time left, and half a second more: the reader's
    /// requests end at the same deadline, so a list slower than the run is left out and the apply's path reports it
    /// by name, whichever thread the machine ran first); nil when they were not read by then. The target client
    /// takes the discovery the reader did meanwhile (its thread is done with it then).
    func owned(within seconds: Double) -> OwnedObjects? {
        defer { relay.release() }
        guard case .success(let o)? = pending.take(within: max(0, seconds) + 0.5) else { return nil }
        target.adoptDiscovery(from: reader)
        // the whole objects read later (a GET each) go over the target's open connections, not new ones
        return o.asking(target)
    }

    /// Lets the request lines out when the lists are not taken (a reconciliation that failed before).
    func release() { relay.release() }
}

/// The owner lists KustomizationReconciler.prepare started before the Lease was held, with the record they are for.
final class PreparedOwnerLists: PreparedWork {
    let path: String
    let target: KubeClient
    /// The record is read with them (OwnedReadAhead.record).
    let lists: OwnedReadAhead
    init(path: String, target: KubeClient, lists: OwnedReadAhead) {
        (self.path, self.target, self.lists) = (path, target, lists)
    }
    func discard() { lists.release() }
}

/// One reconciliation of one Kustomization: what its phases share (the spec, the status being written, the
/// deadline, the revision once known). The phases are KustomizationReconciler.reconcile's steps.
final class KustomizationRun {
    typealias Failure = ReconcileFailure
    let reconciler = KustomizationReconciler()
    let object: Node
    let env: ReconcileEnv
    let ns: String, name: String, generation: Int
    let spec: KustomizationSpec
    let requested: String?
    var status: KustomizationStatus
    let recorder: EventRecorder
    let started = monotonicSeconds()
    let interval: Double, configured: Double, deadline: Double
    /// Which limit the deadline is, for messages.
    let bound: String
    let timeoutText: String
    /// A duration kustomize-controller's decoder would refuse.
    let specProblem: String?
    /// The artifact's revision once the source gave it.
    var revision = ""
    /// The resourceVersion the status writes are conditional on.
    var version: String
    /// The object as the API server last answered it (read or written), and its status as this process understands
    /// it (decoded and encoded again, nothing when it had none): a status write sends the merge patch from that
    /// status to this run's, and nothing when they are equal (fluxcd/pkg runtime/patch's SerialPatcher). The
    /// inventory is kept apart, decoded, and compared so (encoding thousands of entries costs more than comparing
    /// them); `written` is the rest.
    var current: Node
    var written: Node
    var writtenInventory: ResourceInventory?
    /// postBuild.substituteFrom data read for the build key ("Kind/name" → data, nil when it does not exist): the
    /// build is given the same, so the key is of what was built.
    var substituteData: [String: [String: String]?] = [:]
    /// The build asked for substitution data the key did not read: no key is recorded.
    var unkeyedRead = false
    /// The applied record being written (apply), waited for by `recordSaved` at the end of the run.
    var saving: Blocking.Pending<Void>?

    /// Waits for the record `apply` is writing: a run returns with its record on disk (the next run, in this
    /// process or another, reads it).
    func recordSaved() {
        // writing a file ends; the wait is bounded only so that it is not forever
        _ = saving?.result(within: 3600)
        saving = nil
    }
    /// Subjects of the build left alone (reconcile: disabled).
    var disabled: [String] = []
    static let ref = FluxKinds.kustomization.resource
    static var controller: String { KustomizationReconciler.controller }

    init(_ object: Node, env: ReconcileEnv) throws {
        self.object = object
        self.env = env
        version = object["metadata"]?["resourceVersion"]?.string ?? ""
        let kube = env.kube
        let input = try ReconcileInput<KustomizationSpec, KustomizationStatus>(object, defaultStatus: KustomizationStatus())
        (ns, name, generation, spec, requested) = (input.namespace, input.name, input.generation, input.spec, input.requested)
        status = input.status
        current = object
        let hasStatus = object["status"].map { $0.isNull } == false
        written = hasStatus ? try Self.encodedWithoutInventory(input.status) : .emptyMap
        writtenInventory = hasStatus ? input.status.inventory : nil
        recorder = EventRecorder(kube: kube, component: KustomizationReconciler.controller, storage: env.storage, warn: env.warn)
        // Durations beyond Go's range are refused as kustomize-controller's decoder refuses them.
        var problem: String?
        func seconds(_ text: String?, _ field: String) -> Double? {
            guard let text else { return nil }
            do { return try GoDuration.parse(text) } catch {
                if problem == nil { problem = "\(field): \(error)" }
                return nil
            }
        }
        interval = seconds(spec.interval.text, "spec.interval") ?? 600
        configured = seconds(spec.timeout?.text, "spec.timeout") ?? interval
        _ = seconds(spec.retryInterval?.text, "spec.retryInterval")
        specProblem = problem
        deadline = started + min(configured, max(1, kube.remaining))
        bound = configured <= kube.remaining ? "spec.timeout \(GoDuration.format(configured))" : "--timeout \(GoDuration.format(kube.timeout))"
        timeoutText = GoDuration.format(configured)
        if status.conditions.get(ConditionType.ready)?.status != "False" {
            status.conditions.set(ConditionType.ready, Bool?.none, reason: "Progressing", message: "Reconciliation in progress", generation: generation, now: now())
        }
    }

    func now() -> String { Clock.rfc3339() }

    // MARK: status

    /// Status writes are conditional on the resourceVersion this process last saw or wrote: a write of a process
    /// that was killed while the API server still held it fails with Conflict instead of replacing the inventory a
    /// later run wrote. A conflict seen here (an annotation by another process, or this process's own write whose
    /// answer was lost) is read again and retried: this process holds the Lease.
    /// A write is a JSON merge patch of the status fields that changed since the status this process last read or
    /// wrote (lists such as the inventory and the conditions whole, as a merge patch replaces lists); when nothing
    /// changed, no request is made and the object as last answered is returned. After a conflict the patch is
    /// computed again from the status read then, so the status ends as this run's in either case.
    func write(_ kube: KubeClient, final: Bool = true) throws -> Node {
        if final, let requested { status.lastHandledReconcileAt = requested }
        let target = try Self.encodedWithoutInventory(status)
        var attempt = 0
        while true {
            attempt += 1
            var changed = MergePatch.diff(from: written, to: target)
            // The inventory is a map of one list: when it changed, the patch is the whole of it (or null).
            if (status.inventory == nil) != (writtenInventory == nil) || status.inventory?.entries != writtenInventory?.entries {
                changed["inventory"] = status.inventory?.node ?? .null
            }
            if MergePatch.isEmpty(changed) { return current }
            var body: Node = ["status": changed]
            if !version.isEmpty { body["metadata"] = ["resourceVersion": .string(version)] }
            do {
                // Conditional on `version`, at which the object was `current`: the answer's metadata and the status
                // patched here are the object whole, so the answer need only be the metadata (the inventory of a
                // large Kustomization is not sent back).
                let answer = try kube.patch(Self.ref, namespace: ns, name: name, type: .merge, patch: body, subresource: "status",
                                            fieldManager: Self.controller, metadataOnly: !version.isEmpty)
                var out = answer
                if KubeClient.isPartial(answer) {
                    out = current
                    out["metadata"] = answer["metadata"]
                    out["status"] = MergePatch.apply(changed, to: current["status"] ?? .null)
                }
                version = out["metadata"]?["resourceVersion"]?.string ?? ""
                current = out
                written = target
                writtenInventory = status.inventory
                return out
            } catch let e as KubeError where e.kind == .conflict && attempt < 4 {
                do {
                    let live = try kube.get(Self.ref, namespace: ns, name: name)
                    version = live["metadata"]?["resourceVersion"]?.string ?? ""
                    current = live
                    let understood = try live["status"].flatMap { $0.isNull ? nil : $0 }.map { try APICoding.decode(KustomizationStatus.self, from: $0) }
                    written = try understood.map(Self.encodedWithoutInventory) ?? .emptyMap
                    writtenInventory = understood?.inventory
                } catch let e as KubeError {
                    throw e.naming("Kustomization/\(ns)/\(name) status update failed")
                }
            } catch let e as KubeError {
                throw e.naming("Kustomization/\(ns)/\(name) status update failed")
            }
        }
    }

    /// A status as fluxs encodes it, but for the inventory (compared decoded, `writtenInventory`). The baseline is
    /// the status as fluxs decoded it, so fields fluxs does not know are in neither and a patch never removes them.
    static func encodedWithoutInventory(_ status: KustomizationStatus) throws -> Node {
        var rest = status
        rest.inventory = nil
        var node = try APICoding.node(rest)
        node["inventory"] = nil
        return node
    }

    /// Records a failed phase: Ready False with its reason, Reconciling with retry, a Warning event.
    func fail(_ f: Failure, _ kube: KubeClient) throws -> Node {
        // The reason is recorded even when the failure was the deadline itself.
        kube.allowGrace(KustomizationReconciler.statusGrace)
        if !revision.isEmpty { status.lastAttemptedRevision = revision }
        status.conditions.set(ConditionType.reconciling, true, reason: "ProgressingWithRetry", message: f.message, generation: generation, now: now())
        status.conditions.set(ConditionType.ready, false, reason: f.reason, message: f.message, generation: generation, now: now())
        let out = try write(kube)
        recorder.record(out, type: "Warning", reason: f.reason, message: f.message,
                        annotations: revision.isEmpty ? [:] : ["kustomize.toolkit.fluxcd.io/revision": revision])
        return out
    }

    // MARK: phases

    /// Settings that would make fluxs apply somewhere else, as someone else, or differently: fail plainly.
    func checkSpec() throws {
        var unsupported: [String] = []
        if spec.kubeConfig?.configMapRef != nil { unsupported.append("spec.kubeConfig.configMapRef (workload identity providers)") }
        if !spec.healthCheckExprs.isEmpty { unsupported.append("spec.healthCheckExprs (CEL health checks)") }
        if !spec.ignore.isEmpty { unsupported.append("spec.ignore (drift rules)") }
        if let p = specProblem { throw Failure(reason: "ReconciliationFailed", message: p) }
        if let what = unsupported.first {
            throw Failure(reason: "ReconciliationFailed", message: "\(what) is not supported by fluxs yet; reconcile this Kustomization with kustomize-controller")
        }
    }

    /// Dependencies must be ready at their current generation.
    func dependencies(_ kube: KubeClient) throws {
        for d in spec.dependsOn {
            let dns = d.namespace.isEmpty ? ns : d.namespace
            if !d.readyExpr.isEmpty {
                throw Failure(reason: "DependencyNotReady", message: "dependency '\(dns)/\(d.name)': readyExpr is not supported by fluxs yet")
            }
            let dep: Node?
            do { dep = try kube.getIfExists(Self.ref, namespace: dns, name: d.name) } catch let e as KubeError {
                throw e.naming("dependency Kustomization/\(dns)/\(d.name) query failed")
            }
            let ready = dep.map { o in
                Obj.condition(o, "Ready")?["status"]?.string == "True" && o["status"]?["observedGeneration"]?.int == o["metadata"]?["generation"]?.int
            } ?? false
            if !ready {
                env.log("dependency '\(dns)/\(d.name)' is not ready")
                throw Failure(reason: "DependencyNotReady", message: "Dependencies do not meet ready condition, retrying in 30s")
            }
        }
    }

    /// The source's artifact; sets the revision.
    func artifact(_ kube: KubeClient) throws -> Artifact {
        let srcNS = spec.sourceRef.namespace.isEmpty ? ns : spec.sourceRef.namespace
        let srcID = "\(spec.sourceRef.kind)/\(srcNS)/\(spec.sourceRef.name)"
        guard let srcKind = KustomizationReconciler.sourceKinds[spec.sourceRef.kind] else {
            throw Failure(reason: "ArtifactFailed", message: "source kind '\(spec.sourceRef.kind)' is not supported")
        }
        let found: Node?
        do { found = try kube.getIfExists(srcKind.resource, namespace: srcNS, name: spec.sourceRef.name) } catch let e as KubeError {
            throw e.naming("source \(srcID) query failed")
        }
        guard let source = found else { throw Failure(reason: "ArtifactFailed", message: "Source '\(srcID)' not found") }
        guard let artifactNode = source["status"]?["artifact"], let artifact = try? APICoding.decode(Artifact.self, from: artifactNode) else {
            let sourceReady = Obj.condition(source, "Ready")?["status"]?.string == "True"
            throw Failure(reason: "ArtifactFailed", message: sourceReady ? "Source artifact not found, retrying in 30s"
                                                                         : "Source is not ready, artifact not found, retrying in 30s")
        }
        revision = artifact.revision
        return artifact
    }

    /// Downloads and extracts the artifact, builds it (FluxBuild, SOPS, substitutions read with `kube`), checks the
    /// objects, and leaves out those with `reconcile: disabled`.
    func build(_ artifact: Artifact, in workdir: String, _ kube: KubeClient) throws -> [Node] {
        env.log("Fetching manifests for revision \(revision) with a timeout of \(timeoutText)")
        let bytes: [UInt8]
        do { bytes = try env.storage.fetch(artifact) { try HTTPDownload.get($0, timeout: max(0.001, self.deadline - monotonicSeconds())) } } catch {
            throw Failure(reason: "ArtifactFailed", message: "failed to download artifact from \(artifact.url): \(error)")
        }
        try reconciler.extract(bytes, into: workdir, deadline: deadline, limit: bound)
        var rel = Substring(spec.path)
        while rel.hasPrefix("./") { rel = rel.dropFirst(2) }
        let dir = rel.isEmpty ? workdir : workdir + "/" + rel
        if rel.split(separator: "/").contains("..") || !Files.isDirectory(dir) {
            throw Failure(reason: "ArtifactFailed", message: "kustomization path not found: stat \(spec.path): no such file or directory")
        }
        env.log("Building manifests for revision \(revision) with a timeout of \(timeoutText)")
        var build = FluxBuild(kustomization: object, path: dir)
        build.maskSecrets = false
        build.confinement = Confinement(root: workdir, name: "the artifact")
        // SOPS: decrypted inside the build, confined to the artifact; the cleartext stays in memory.
        do { build.decryption = try KustomizationDecryption.load(for: object, kube: kube, root: workdir) } catch let e as KustomizationDecryption.Failure {
            throw Failure(reason: "BuildFailed", message: e.description)
        }
        let ns = self.ns, read = substituteData
        build.lookup = { [self] kind, n in
            if let data = read["\(kind)/\(n)"] { return data }
            unkeyedRead = true
            return try KustomizationReconciler.values(kube, kind: kind, namespace: ns, name: n)
        }
        let built: [Node]
        do { built = try build.build(); try ManifestChecks.check(built, build: build) } catch let e as FluxBuild.Failure {
            // Paths in the message are the source's, not the temporary copy's.
            throw Failure(reason: "BuildFailed", message: e.description.replacing(workdir + "/", with: ""))
        }
        // Objects kustomize-controller leaves alone.
        var objects: [Node] = []
        for o in built {
            if o["metadata"]?["annotations"]?["kustomize.toolkit.fluxcd.io/reconcile"]?.string == "disabled" {
                env.log("\(subject(of: o)) skipped (reconcile disabled)")
                disabled.append(subject(of: o))
                continue
            }
            objects.append(o)
        }
        return objects
    }

    /// The build key of this run (BuildKey); nil when a part of it cannot be read (then the build is made, and no key
    /// is recorded). Reads the substitution data the build will use (kept in `substituteData`) and the decryption
    /// Secret.
    func buildKey(_ artifact: Artifact, _ kube: KubeClient) -> String? {
        guard let program = BuildKey.program(), let specBytes = try? JSON.encodeBytes(object["spec"] ?? .emptyMap) else { return nil }
        let ns = self.ns
        var probe = FluxBuild(kustomization: object, path: "")
        var read: [String: [String: String]?] = [:]
        probe.lookup = { kind, n in
            let data = try KustomizationReconciler.values(kube, kind: kind, namespace: ns, name: n)
            read["\(kind)/\(n)"] = data
            return data
        }
        // nil: nothing to substitute (a failure to read is no key).
        let vars: [String: String]?
        do { vars = try probe.substitutions() } catch { return nil }
        substituteData = read
        // The keys decide whether the artifact's SOPS files decrypt, not what to: the plaintext is bound to the
        // ciphertext (in the artifact) by SOPS's MAC.
        var keys = "none"
        if let d = object["spec"]?["decryption"], !d.isNull {
            keys = "no secret"
            if let secret = d["secretRef"]?["name"]?.string, !secret.isEmpty {
                guard let data = try? kube.stringData(of: .secrets, namespace: ns, name: secret) else { return nil }
                keys = BuildKey.digest(data)
            }
        }
        return BuildKey.digest([BuildKey.format, program, artifact.revision, artifact.digest, ns, name,
                                String(decoding: specBytes, as: UTF8.self), BuildKey.digest(vars), keys])
    }

    /// The record of the last apply from this machine to `target` and, when its build key is `key` and every object it
    /// applied is still as it left them (uid and resourceVersion, from one owner-label LIST per kind and namespace),
    /// the change set: all unchanged. `owned` keeps the lists read on the way, for the build's path.
    /// `record` is the record when it was read already, `lists` the owner lists being read ahead for it.
    func recorded(_ key: String?, _ target: KubeClient, record known: AppliedRecord? = nil, lists: OwnedReadAhead? = nil)
        -> (changes: [ChangeSetEntry]?, owned: OwnedObjects?, record: AppliedRecord) {
        let record = known ?? AppliedRecord.load(recordPath(target), fieldManager: Self.controller, force: true)
        guard let key, let built = record.build, built.key == key else { return (nil, nil, record) }
        var owned = lists?.owned(within: deadline - monotonicSeconds())
            ?? OwnedObjects(kube: target, selector: KustomizationReconciler.ownerSelector(name: name, namespace: ns), metadataOnly: true)
        var changes: [ChangeSetEntry] = []
        changes.reserveCapacity(built.objects.count)
        // The objects of one kind and namespace, by name: resolved and looked up once for a run of such objects
        // (the build's order keeps them together), not once an object.
        var group: (apiVersion: String, kind: String, namespace: String)?
        var byName: [String: Listed] = [:]
        for o in built.objects {
            if group?.apiVersion != o.apiVersion || group?.kind != o.kind || group?.namespace != o.namespace {
                guard let r = try? target.resource(apiVersion: o.apiVersion, kind: o.kind),
                      let objects = try? owned.objects(r, namespace: r.namespaced ? o.namespace : nil) else { return (nil, owned, record) }
                group = (o.apiVersion, o.kind, o.namespace)
                byName = objects
            }
            let subject = o.subject
            guard let live = byName[o.name], let e = record.entries[subject], record.isCurrent(e, live) else {
                return (nil, owned, record)
            }
            // Nothing is sent for it: its identity stands for the manifest too, its inventory entry is the record's.
            changes.append(ChangeSetEntry(unchanged: subject, listed: live, name: o.name, namespace: o.namespace,
                                          entry: KustomizationReconciler.entry(apiVersion: o.apiVersion, kind: o.kind, namespace: o.namespace, name: o.name)))
        }
        env.log("build skipped: key matches (revision \(revision), \(changes.count) objects as last applied)")
        for d in built.disabled { env.log("\(d) skipped (reconcile disabled)") }
        return (changes, owned, record)
    }

    /// KustomizationReconciler.readAhead for this Kustomization.
    func readAhead(_ record: AppliedRecord?, _ target: KubeClient) -> OwnedReadAhead? {
        KustomizationReconciler.readAhead(record, target, name: name, namespace: ns)
    }

    /// The client the objects are applied with (spec.kubeConfig, spec.serviceAccountName, --default-service-account),
    /// as kustomize-controller's impersonating client.
    func targetClient(_ kube: KubeClient) throws -> KubeClient {
        var e = env
        e.kube = kube
        do { return try KustomizationReconciler.targetClient(spec, namespace: ns, env: e) } catch let f as Failure { throw f } catch {
            throw Failure(reason: "ReconciliationFailed", message: "\(error)")
        }
    }

    /// Every object through a server-side dry run before anything changes; returns the applier, primed with the
    /// dry runs' answers.
    func validate(_ objects: [Node], _ target: KubeClient, owned: OwnedObjects? = nil, record: AppliedRecord? = nil) throws -> Applier {
        env.log("Detecting drift for revision \(revision) with a timeout of \(timeoutText)")
        let applier = Applier(kube: target, fieldManager: Self.controller)
        applier.waitTimeout = max(1, deadline - monotonicSeconds())
        applier.ownerSelector = KustomizationReconciler.ownerSelector(name: name, namespace: ns)
        applier.owned = owned
        // Objects still as the last apply from this machine left them need no dry run (AppliedRecord); the record
        // is per target cluster and identity, so another service account's rights are always checked.
        applier.record = record ?? AppliedRecord.load(recordPath(target), fieldManager: Self.controller, force: true)
        let skip: Set<String>
        do { skip = try applier.skippable(objects) } catch let e as KubeError { throw Failure(reason: "ReconciliationFailed", message: e.message) }
        (applier.dryRuns, applier.bodies) = try reconciler.validate(objects, kube: target, skip: skip)
        return applier
    }

    func recordPath(_ target: KubeClient) -> String {
        KustomizationReconciler.recordPath(root: env.storage.root, target, namespace: ns, name: name)
    }

    /// Applies in stages. Write-ahead inventory (through `statusClient`): objects this revision adds are recorded
    /// before they are applied, so a run that is killed part-way leaves nothing untracked (an entry whose object was
    /// never created is pruned as a no-op). Returns the change set and the previous inventory.
    func apply(_ objects: [Node], _ applier: Applier, statusClient kube: KubeClient, key: String?) throws -> ([ChangeSetEntry], ResourceInventory) {
        let old = try writeAhead(objects.map(KustomizationReconciler.entry), kube)
        let changes: [ChangeSetEntry]
        do { changes = try applier.apply(objects) } catch {
            // Part-way: keep what was there and every object an apply was sent for.
            status.inventory = KustomizationReconciler.union(old, applier.attempted.map(KustomizationReconciler.entry))
            throw Failure(reason: "ReconciliationFailed", message: "\(error)")
        }
        if env.logs { for c in changes { env.log(c.line) } }
        if let next = applier.newRecord {
            // The build key, with what it built (in apply order), unless the build read something the key did not.
            // Written on a thread of its own while the run prunes, checks and writes the status (its lines and the
            // file's fsync were ~4 ms of a 1,000-object run's main thread); `reconcile` waits for it before it
            // returns. A run that ends before it is written leaves the previous record, which the objects'
            // resourceVersions (changed by this apply) make count for nothing (docs/decisions.md).
            let built = unkeyedRead ? nil : key, disabled = self.disabled, path = recordPath(applier.kube)
            saving = Blocking.start {
                var record = next
                if let built {
                    record.build = AppliedRecord.Built(key: built, objects: changes.map { AppliedRecord.Object($0.sent) }, disabled: disabled)
                }
                record.save(path)
            }
        }
        return (changes, old)
    }

    /// The apply phase of a run that needs no build (`recorded`): the objects are as the record says, so nothing is
    /// applied and the record stays as it is.
    func keep(_ changes: [ChangeSetEntry], statusClient kube: KubeClient) throws -> ([ChangeSetEntry], ResourceInventory) {
        let old = try writeAhead(changes.map { $0.entry ?? KustomizationReconciler.entry($0.sent) }, kube)
        if env.logs { for c in changes { env.log(c.line) } }
        return (changes, old)
    }

    /// The write-ahead inventory: the objects this revision adds are recorded before anything is applied. Returns
    /// the previous inventory.
    func writeAhead(_ entries: [ResourceInventory.Entry], _ kube: KubeClient) throws -> ResourceInventory {
        try env.checkLease("applying")
        let old = status.inventory ?? ResourceInventory()
        let planned = KustomizationReconciler.union(old, entries)
        if planned.entries.count > old.entries.count {
            status.inventory = planned
            do { _ = try write(kube, final: false) } catch let e as KubeError { throw Failure(reason: "ReconciliationFailed", message: e.message) }
        }
        return old
    }

    /// The new inventory; with spec.prune, deletes what the old one had and the build no longer has, after dry-run
    /// deletes of all of them succeeded. Returns the change-set lines of the deletions.
    func prune(_ old: ResourceInventory, _ changes: [ChangeSetEntry], _ target: KubeClient) throws -> [String] {
        var inventory = ResourceInventory()
        inventory.entries = changes.map { $0.entry ?? KustomizationReconciler.entry($0.object) }
        var deleted: [String] = []
        if spec.prune { try env.checkLease("pruning") }
        // (Every old entry is kept when the ids are the old ones in order: nothing to prune, no set built.)
        if spec.prune && !KustomizationReconciler.sameIDs(old.entries, inventory.entries) {
            let keep = Set(inventory.entries.map(\.id))
            // Whether an entry is still this Kustomization's and may be pruned is in its metadata.
            var owned = OwnedObjects(kube: target, selector: KustomizationReconciler.ownerSelector(name: name, namespace: ns), metadataOnly: true)
            var failure: Error?
            var targets: [KustomizationReconciler.PruneTarget] = []
            for e in old.entries where !keep.contains(e.id) {
                do { if let t = try reconciler.pruneTarget(e, kube: target, owned: &owned) { targets.append(t) } } catch { failure = error; break }
            }
            // A delete a service account or remote identity may not do fails the prune before anything is deleted:
            // dry runs first (the caller's own identity, usually an admin, is not charged the extra requests).
            if failure == nil && target !== env.kube {
                for (t, err) in zip(targets, target.deleteAll(targets.map { ($0.ref, $0.namespace, $0.name) }, dryRun: true)) {
                    if let err, (err as? KubeError)?.kind != .notFound {
                        failure = (err as? KubeError)?.naming("\(t.subject) delete failed") ?? err
                        break
                    }
                }
            }
            if failure == nil {
                // The deletes are independent: sent together, reported in inventory order.
                for (t, err) in zip(targets, target.deleteAll(targets.map { ($0.ref, $0.namespace, $0.name) })) {
                    // Gone already (a retried DELETE whose first answer was lost): what prune wanted.
                    if let err, (err as? KubeError)?.kind != .notFound {
                        if failure == nil { failure = (err as? KubeError)?.naming("\(t.subject) delete failed") ?? err }
                        continue
                    }
                    deleted.append(t.subject + " deleted")
                    env.log(t.subject + " deleted")
                }
            }
            if let failure {
                inventory.entries += old.entries.filter { !keep.contains($0.id) && !deleted.contains(KustomizationReconciler.entrySubject($0) + " deleted") }
                status.inventory = inventory
                throw Failure(reason: "PruneFailed", message: "\(failure)")
            }
        }
        status.inventory = inventory
        return deleted
    }

    /// spec.healthChecks, or every applied object with spec.wait, polled until Current or the deadline.
    func health(_ changes: [ChangeSetEntry], _ target: KubeClient) throws {
        let checks = try reconciler.healthChecks(spec, changes: changes, ns: ns, kube: target)
        if checks.isEmpty { return }
        env.log("Running health checks for revision \(revision) with a timeout of \(timeoutText)")
        let t0 = monotonicSeconds()
        var pending: [String] = []
        // Kinds and namespaces with several objects to check are listed once a round (owner labels); the rest,
        // and objects the list lacks (not this Kustomization's), are read one by one.
        var perGroup: [String: Int] = [:]
        for (r, cns, _) in checks { perGroup["\(r.apiVersion)/\(r.resource)/\(cns ?? "")", default: 0] += 1 }
        while true {
            pending = []
            var owned = OwnedObjects(kube: target, selector: KustomizationReconciler.ownerSelector(name: name, namespace: ns))
            for (r, cns, cname) in checks {
                let id = cns.map { "\(r.kind)/\($0)/\(cname)" } ?? "\(r.kind)/\(cname)"
                var found: Node?
                do {
                    if perGroup["\(r.apiVersion)/\(r.resource)/\(cns ?? "")", default: 0] > 1 { found = try owned.get(r, namespace: cns, name: cname) }
                    if found == nil { found = try target.getIfExists(r, namespace: cns, name: cname) }
                } catch let e as KubeError {
                    throw Failure(reason: "HealthCheckFailed", message: "health check of \(id): query failed: \(e.message)")
                }
                guard let live = found else { pending.append("\(id) status: 'NotFound'"); continue }
                switch Health.of(live) {
                case .current: continue
                case .inProgress: pending.append("\(id) status: 'InProgress'")
                case .terminating: pending.append("\(id) status: 'Terminating'")
                case .failed(let m): pending.append("\(id) status: 'Failed': \(m)")
                }
            }
            if pending.isEmpty || monotonicSeconds() >= deadline { break }
            sleepSeconds(0.5)
        }
        let took = GoDuration.format((monotonicSeconds() - t0 + 0.0005) * 1000 / 1000)
        if !pending.isEmpty {
            let msg = "health check failed after \(took): timeout waiting for: [\(pending.joined(separator: ", "))]"
            status.conditions.set(ConditionType.healthy, false, reason: "HealthCheckFailed", message: msg, generation: generation, now: now())
            throw Failure(reason: "HealthCheckFailed", message: msg)
        }
        status.conditions.set(ConditionType.healthy, true, reason: "Succeeded", message: "Health check passed in \(took)", generation: generation, now: now())
    }

    /// Ready True, the revisions, the events kustomize-controller sends on success.
    func succeed(_ artifact: Artifact, changes: [ChangeSetEntry], deleted: [String], _ kube: KubeClient) throws -> Node {
        let message = "Applied revision: \(revision)"
        status.conditions.delete(ConditionType.reconciling)
        status.conditions.delete(ConditionType.stalled)
        status.conditions.set(ConditionType.ready, true, reason: "ReconciliationSucceeded", message: message, generation: generation, now: now())
        status.lastAppliedRevision = revision
        status.lastAttemptedRevision = revision
        if let origin = artifact.metadata["org.opencontainers.image.revision"] { status.lastAppliedOriginRevision = origin }
        status.observedGeneration = generation
        let out = try write(kube)
        env.applied(changes, deleted)
        let changed = changes.filter { $0.action != .unchanged }.map(\.line) + deleted
        let annotations = ["kustomize.toolkit.fluxcd.io/revision": revision]
        if !changed.isEmpty {
            recorder.record(out, type: "Normal", reason: "Progressing", message: changed.joined(separator: "\n"), annotations: annotations)
        }
        recorder.record(out, type: "Normal", reason: "ReconciliationSucceeded",
                        message: "Reconciliation finished in \(GoDuration.format(monotonicSeconds() - started)), next run in \(GoDuration.format(interval))",
                        annotations: annotations.merging(["kustomize.toolkit.fluxcd.io/commit_status": "update"]) { a, _ in a })
        return out
    }
}
