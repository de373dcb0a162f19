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
public struct KustomizationReconciler: OnDemandReconciler {
    public static let controller = "kustomize-controller"
    static let ownerGroup = "kustomize.toolkit.fluxcd.io"
    static let sourceKinds: [String: FluxKind] = [
        "GitRepository": FluxKinds.gitRepository, "OCIRepository": FluxKinds.ociRepository, "Bucket": FluxKinds.bucket,
        "ExternalArtifact": FluxKinds.externalArtifact,
    ]

    public init() {}

    typealias Failure = ReconcileFailure

    public func reconcile(_ object: Node, env: ReconcileEnv) throws -> Node {
        let kube = env.kube
        let ref = FluxKinds.kustomization.resource
        let input = try ReconcileInput<KustomizationSpec, KustomizationStatus>(object, defaultStatus: KustomizationStatus())
        let (ns, name, generation, spec, requested) = (input.namespace, input.name, input.generation, input.spec, input.requested)
        var status = input.status
        let recorder = EventRecorder(kube: kube, component: Self.controller, storage: env.storage, warn: env.warn)
        let started = monotonicSeconds()
        // Durations beyond Go's range are refused as kustomize-controller's decoder refuses them.
        var specProblem: String?
        func seconds(_ text: String?, _ field: String) -> Double? {
            guard let text else { return nil }
            do { return try GoDuration.parse(text) } catch {
                if specProblem == nil { specProblem = "\(field): \(error)" }
                return nil
            }
        }
        let interval = seconds(spec.interval.text, "spec.interval") ?? 600
        let configured = seconds(spec.timeout?.text, "spec.timeout") ?? interval
        _ = seconds(spec.retryInterval?.text, "spec.retryInterval")
        let deadline = started + min(configured, max(1, kube.remaining))
        let bound = configured <= kube.remaining ? "spec.timeout \(GoDuration.format(configured))" : "--timeout \(GoDuration.format(kube.timeout))"
        let timeoutText = GoDuration.format(configured)
        func now() -> String { Clock.rfc3339() }

        // Status writes are conditional on the resourceVersion this process last saw or wrote: a write of a process
        // that was killed while the API server still held it fails with Conflict instead of replacing the inventory a
        // later run wrote. A conflict seen here (an annotation by a process waiting for the Lease, or this process's
        // own write whose answer was lost) is read again and retried: this process holds the Lease.
        var version = object["metadata"]?["resourceVersion"]?.string ?? ""
        func write(final: Bool = true) throws -> Node {
            if final, let requested { status.lastHandledReconcileAt = requested }
            var attempt = 0
            while true {
                attempt += 1
                var body: Node = ["status": try APICoding.node(status)]
                if !version.isEmpty { body["metadata"] = ["resourceVersion": .string(version)] }
                do {
                    let out = try kube.patch(ref, namespace: ns, name: name, type: .merge, patch: body, subresource: "status", fieldManager: Self.controller)
                    version = out["metadata"]?["resourceVersion"]?.string ?? ""
                    return out
                } catch let e as KubeError where e.kind == .conflict && attempt < 4 {
                    do { version = try kube.get(ref, namespace: ns, name: name)["metadata"]?["resourceVersion"]?.string ?? "" } catch let e as KubeError {
                        throw e.naming("Kustomization/\(ns)/\(name) status update failed")
                    }
                } catch let e as KubeError {
                    throw e.naming("Kustomization/\(ns)/\(name) status update failed")
                }
            }
        }
        func fail(_ f: Failure, revision: String) throws -> Node {
            // The reason is recorded even when the failure was the deadline itself.
            kube.allowGrace(Self.statusGrace)
            if !revision.isEmpty { status.lastAttemptedRevision = revision }
            status.conditions.set(ConditionType.reconciling, true, reason: "ProgressingWithRetry", message: f.message, generation: generation, now: now())
            status.conditions.set(ConditionType.ready, false, reason: f.reason, message: f.message, generation: generation, now: now())
            let out = try write()
            recorder.record(out, type: "Warning", reason: f.reason, message: f.message,
                            annotations: revision.isEmpty ? [:] : ["kustomize.toolkit.fluxcd.io/revision": revision])
            return out
        }

        if status.conditions.get(ConditionType.ready)?.status != "False" {
            status.conditions.set(ConditionType.ready, Bool?.none, reason: "Progressing", message: "Reconciliation in progress", generation: generation, now: now())
        }

        // Settings that would make fluxs apply somewhere else, as someone else, or differently: fail plainly.
        var unsupported: [String] = []
        if spec.kubeConfig != nil { unsupported.append("spec.kubeConfig (remote clusters)") }
        if !spec.serviceAccountName.isEmpty { unsupported.append("spec.serviceAccountName (impersonation)") }
        if !spec.healthCheckExprs.isEmpty { unsupported.append("spec.healthCheckExprs (CEL health checks)") }
        if !spec.ignore.isEmpty { unsupported.append("spec.ignore (drift rules)") }
        if let p = specProblem {
            return try fail(Failure(reason: "ReconciliationFailed", message: p), revision: "")
        }
        if let what = unsupported.first {
            return try fail(Failure(reason: "ReconciliationFailed",
                                    message: "\(what) is not supported by fluxs yet; reconcile this Kustomization with kustomize-controller"), revision: "")
        }

        // Dependencies must be ready at their current generation.
        for d in spec.dependsOn {
            let dns = d.namespace.isEmpty ? ns : d.namespace
            if !d.readyExpr.isEmpty {
                return try fail(Failure(reason: "DependencyNotReady", message: "dependency '\(dns)/\(d.name)': readyExpr is not supported by fluxs yet"), revision: "")
            }
            let dep: Node?
            do { dep = try kube.getIfExists(ref, namespace: dns, name: d.name) } catch let e as KubeError {
                throw e.naming("dependency Kustomization/\(dns)/\(d.name) query failed")
            }
            let ready = dep.map { o in
                Obj.condition(o, "Ready")?["status"]?.string == "True" && o["status"]?["observedGeneration"]?.int == o["metadata"]?["generation"]?.int
            } ?? false
            if !ready {
                env.log("dependency '\(dns)/\(d.name)' is not ready")
                return try fail(Failure(reason: "DependencyNotReady", message: "Dependencies do not meet ready condition, retrying in 30s"), revision: "")
            }
        }

        // The source's artifact.
        let srcNS = spec.sourceRef.namespace.isEmpty ? ns : spec.sourceRef.namespace
        let srcID = "\(spec.sourceRef.kind)/\(srcNS)/\(spec.sourceRef.name)"
        guard let srcKind = Self.sourceKinds[spec.sourceRef.kind] else {
            return try fail(Failure(reason: "ArtifactFailed", message: "source kind '\(spec.sourceRef.kind)' is not supported"), revision: "")
        }
        let found: Node?
        do { found = try kube.getIfExists(srcKind.resource, namespace: srcNS, name: spec.sourceRef.name) } catch let e as KubeError {
            throw e.naming("source \(srcID) query failed")
        }
        guard let source = found else {
            return try fail(Failure(reason: "ArtifactFailed", message: "Source '\(srcID)' not found"), revision: "")
        }
        guard let artifactNode = source["status"]?["artifact"], let artifact = try? APICoding.decode(Artifact.self, from: artifactNode) else {
            let sourceReady = Obj.condition(source, "Ready")?["status"]?.string == "True"
            return try fail(Failure(reason: "ArtifactFailed", message: sourceReady ? "Source artifact not found, retrying in 30s"
                                                                                   : "Source is not ready, artifact not found, retrying in 30s"), revision: "")
        }
        let revision = artifact.revision
        env.log("Fetching manifests for revision \(revision) with a timeout of \(timeoutText)")

        let workdir = tempPath("ks")
        defer { Files.removeTree(workdir) }
        let built: [Node]
        do {
            let bytes: [UInt8]
            do { bytes = try env.storage.fetch(artifact) { try HTTPDownload.get($0, timeout: max(0.001, deadline - monotonicSeconds())) } } catch {
                throw Failure(reason: "ArtifactFailed", message: "failed to download artifact from \(artifact.url): \(error)")
            }
            try extract(bytes, into: workdir, deadline: deadline, limit: bound)
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
            build.lookup = { kind, n in try Self.values(kube, kind: kind, namespace: ns, name: n) }
            do { built = try build.build(); try ManifestChecks.check(built, build: build) } catch let e as FluxBuild.Failure {
                // Paths in the message are the source's, not the temporary copy's.
                throw Failure(reason: "BuildFailed", message: e.description.replacing(workdir + "/", with: ""))
            }
        } catch let f as Failure {
            return try fail(f, revision: revision)
        }

        // Objects kustomize-controller leaves alone, and objects it cannot place.
        var objects: [Node] = []
        for o in built {
            if o["metadata"]?["annotations"]?["kustomize.toolkit.fluxcd.io/reconcile"]?.string == "disabled" {
                env.log("\(subject(of: o)) skipped (reconcile disabled)")
                continue
            }
            objects.append(o)
        }

        // Validate everything with a server-side dry run before changing anything.
        env.log("Detecting drift for revision \(revision) with a timeout of \(timeoutText)")
        let applier = Applier(kube: kube, fieldManager: Self.controller)
        applier.waitTimeout = max(1, deadline - monotonicSeconds())
        applier.ownerSelector = Self.ownerSelector(name: name, namespace: ns)
        // Objects still as the last apply from this machine left them need no dry run (AppliedRecord).
        let recordPath = AppliedRecord.path(root: env.storage.root, server: kube.config.server, namespace: ns, name: name)
        applier.record = AppliedRecord.load(recordPath, fieldManager: Self.controller, force: true)
        do {
            let skip: Set<String>
            do { skip = try applier.skippable(objects) } catch let e as KubeError { throw Failure(reason: "ReconciliationFailed", message: e.message) }
            applier.dryRuns = try validate(objects, kube: kube, skip: skip)
        } catch let f as Failure {
            return try fail(f, revision: revision)
        }
        // Write-ahead inventory: objects this revision adds are recorded before they are applied, so a run that is
        // killed part-way leaves nothing untracked (an entry whose object was never created is pruned as a no-op).
        try env.checkLease("applying")
        let old = status.inventory ?? ResourceInventory()
        let planned = Self.union(old, objects.map(Self.entry))
        if planned.entries.count > old.entries.count {
            status.inventory = planned
            do { _ = try write(final: false) } catch let e as KubeError { return try fail(Failure(reason: "ReconciliationFailed", message: e.message), revision: revision) }
        }
        let changes: [ChangeSetEntry]
        do { changes = try applier.apply(objects) } catch {
            // Part-way: keep what was there and every object an apply was sent for.
            status.inventory = Self.union(old, applier.attempted.map(Self.entry))
            return try fail(Failure(reason: "ReconciliationFailed", message: "\(error)"), revision: revision)
        }
        for c in changes { env.log(c.line) }
        applier.newRecord?.save(recordPath)

        // Inventory and prune.
        var inventory = ResourceInventory()
        inventory.entries = changes.map { Self.entry($0.object) }
        var deleted: [String] = []
        if spec.prune {
            try env.checkLease("pruning")
            let keep = Set(inventory.entries.map(\.id))
            var owned = OwnedObjects(kube: kube, selector: Self.ownerSelector(name: name, namespace: ns))
            var failure: Error?
            var targets: [PruneTarget] = []
            for e in old.entries where !keep.contains(e.id) {
                do { if let t = try pruneTarget(e, kube: kube, owned: &owned) { targets.append(t) } } catch { failure = error; break }
            }
            if failure == nil {
                // The deletes are independent: sent together, reported in inventory order.
                for (t, err) in zip(targets, kube.deleteAll(targets.map { ($0.ref, $0.namespace, $0.name) })) {
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
                inventory.entries += old.entries.filter { !keep.contains($0.id) && !deleted.contains(Self.entrySubject($0) + " deleted") }
                status.inventory = inventory
                return try fail(Failure(reason: "PruneFailed", message: "\(failure)"), revision: revision)
            }
        }
        status.inventory = inventory

        // Health checks.
        let checks: [(ResourceRef, String?, String)]
        do { checks = try healthChecks(spec, changes: changes, ns: ns, kube: kube) } catch let f as Failure {
            return try fail(f, revision: revision)
        }
        if !checks.isEmpty {
            env.log("Running health checks for revision \(revision) with a timeout of \(timeoutText)")
            let t0 = monotonicSeconds()
            var pending: [String] = []
            // Kinds and namespaces with several objects to check are listed once a round (owner labels); the rest,
            // and objects the list lacks (not this Kustomization's), are read one by one.
            var perGroup: [String: Int] = [:]
            for (r, cns, _) in checks { perGroup["\(r.apiVersion)/\(r.resource)/\(cns ?? "")", default: 0] += 1 }
            while true {
                pending = []
                var owned = OwnedObjects(kube: kube, selector: Self.ownerSelector(name: name, namespace: ns))
                for (r, cns, cname) in checks {
                    let id = cns.map { "\(r.kind)/\($0)/\(cname)" } ?? "\(r.kind)/\(cname)"
                    var found: Node?
                    do {
                        if perGroup["\(r.apiVersion)/\(r.resource)/\(cns ?? "")", default: 0] > 1 { found = try owned.get(r, namespace: cns, name: cname) }
                        if found == nil { found = try kube.getIfExists(r, namespace: cns, name: cname) }
                    } catch let e as KubeError {
                        return try fail(Failure(reason: "HealthCheckFailed", message: "health check of \(id): query failed: \(e.message)"), revision: revision)
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
                return try fail(Failure(reason: "HealthCheckFailed", message: msg), revision: revision)
            }
            status.conditions.set(ConditionType.healthy, true, reason: "Succeeded", message: "Health check passed in \(took)", generation: generation, now: now())
        }

        // Success.
        let message = "Applied revision: \(revision)"
        status.conditions.delete(ConditionType.reconciling)
        status.conditions.delete(ConditionType.stalled)
        status.conditions.set(ConditionType.ready, true, reason: "ReconciliationSucceeded", message: message, generation: generation, now: now())
        status.lastAppliedRevision = revision
        status.lastAttemptedRevision = revision
        if let origin = artifact.metadata["org.opencontainers.image.revision"] { status.lastAppliedOriginRevision = origin }
        status.observedGeneration = generation
        let out = try write()
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

    // MARK: steps

    /// Writes an artifact's files under `dir` (0700 directories, 0600 files); paths may not leave it. Stops at the
    /// deadline (`limit` says which one).
    func extract(_ bytes: [UInt8], into dir: String, deadline: Double, limit: String) throws {
        try Files.makeDirectories(dir, mode: 0o700)
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
                    try Files.writeAtomically(path, e.data, mode: 0o600)
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
    /// Returns the dry runs by `subject(of:)`: they decide what the apply changes.
    @discardableResult
    func validate(_ objects: [Node], kube: KubeClient, skip: Set<String> = []) throws -> [String: Node] {
        var dryRuns: [String: Node] = [:]
        var checked: [Node] = []
        var seen = Set<String>()
        for o in objects {
            let id = subject(of: o)
            if seen.contains(id) { throw Failure(reason: "ReconciliationFailed", message: "\(id) appears twice in the build") }
            seen.insert(id)
        }
        let newKinds = Set(objects.filter { $0["kind"]?.string == "CustomResourceDefinition" }.compactMap { $0["spec"]?["names"]?["kind"]?.string })
        let newNamespaces = Set(objects.filter { $0["kind"]?.string == "Namespace" }.compactMap { $0["metadata"]?["name"]?.string })
        for o in objects {
            let kind = o["kind"]?.string ?? ""
            if newKinds.contains(kind) { continue }
            let r: ResourceRef
            do { r = try kube.resource(for: o) } catch let e as KubeError {
                throw Failure(reason: "ReconciliationFailed", message: "\(subject(of: o)): \(e.message)")
            }
            let objNS = o["metadata"]?["namespace"]?.string ?? ""
            if r.namespaced && objNS.isEmpty {
                throw Failure(reason: "ReconciliationFailed",
                              message: "\(subject(of: o)) is namespaced but has no namespace: set metadata.namespace or spec.targetNamespace")
            }
            if r.namespaced && newNamespaces.contains(objNS) { continue }
            if skip.contains(subject(of: o)) { continue }
            checked.append(o)
        }
        // Sent together; the first failure in the build's order is the one reported.
        for (o, result) in zip(checked, kube.applyAll(checked, fieldManager: Self.controller, force: true, dryRun: true)) {
            switch result {
            case .success(let d): dryRuns[subject(of: o)] = d
            case .failure(let e as KubeError):
                let reason = e.reason.isEmpty ? "" : " (\(e.reason))"
                throw Failure(reason: "ReconciliationFailed", message: "\(subject(of: o)) dry-run failed\(reason): \(e.message)")
            case .failure(let e): throw e
            }
        }
        return dryRuns
    }

    /// The owner labels kustomize-controller sets on every object it applies, as a label selector.
    public static func ownerSelector(name: String, namespace: String) -> String {
        "kustomize.toolkit.fluxcd.io/name=\(name),kustomize.toolkit.fluxcd.io/namespace=\(namespace)"
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
        var out = a
        var seen = Set(a.entries.map(\.id))
        for e in b where !seen.contains(e.id) { out.entries.append(e); seen.insert(e.id) }
        return out
    }

    /// `<namespace>_<name>_<group>_<kind>` (":" in RBAC names written as "__"), version apart.
    static func entry(_ o: Node) -> ResourceInventory.Entry {
        let av = o["apiVersion"]?.string ?? ""
        let group = av.contains("/") ? String(av.split(separator: "/")[0]) : ""
        let version = av.contains("/") ? String(av.split(separator: "/")[1]) : av
        let name = (o["metadata"]?["name"]?.string ?? "").replacing(":", with: "__")
        let ns = o["metadata"]?["namespace"]?.string ?? ""
        return ResourceInventory.Entry(id: "\(ns)_\(name)_\(group)_\(o["kind"]?.string ?? "")", v: version)
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
        let name = String(middle[..<groupSep]).replacing("__", with: ":")
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

/// The objects of a Kustomization (its owner labels), listed once per kind and namespace when first asked for.
public struct OwnedObjects {
    let kube: KubeClient
    let selector: String
    var lists: [String: [String: Node]] = [:]

    public init(kube: KubeClient, selector: String) {
        self.kube = kube
        self.selector = selector
    }

    /// The live object, nil when it does not exist or lacks the owner labels.
    public mutating func get(_ r: ResourceRef, namespace: String?, name: String) throws -> Node? {
        let key = "\(r.apiVersion)/\(r.resource)/\(namespace ?? "")"
        if lists[key] == nil {
            let items: [Node]
            do { items = try kube.list(r, namespace: namespace, labelSelector: selector).items } catch let e as KubeError {
                throw e.naming("\(r.kind) list\(namespace.map { " in namespace \($0)" } ?? "") failed")
            }
            var byName: [String: Node] = [:]
            for it in items { if let n = it["metadata"]?["name"]?.string { byName[n] = it } }
            lists[key] = byName
        }
        return lists[key]?[name]
    }
}
