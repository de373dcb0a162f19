#if canImport(Glibc)
import Glibc
#endif
import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// Who reconciles an object: the Flux controller in the cluster, fluxs in this process, or nobody yet.
enum Reconciliation {
    enum Mode {
        case controller
        case local(OnDemandReconciler)
        case unavailable(component: String, namespace: String)
    }

    static func fluxNamespace(_ inv: Invocation) -> String {
        inv.env["FLUX_SYSTEM_NAMESPACE"].flatMap { isDNSLabel($0) ? $0 : nil } ?? "flux-system"
    }

    /// The controller wins when it runs (fluxs then behaves as flux), unless --local asks for this process.
    static func mode(_ inv: Invocation, _ a: KindAdapter, kube: KubeClient) -> Mode {
        let component = Controllers.component(for: a.kind)
        let ns = fluxNamespace(inv)
        let forceLocal = inv.flags.bool("local")
        let local = OnDemand.reconciler(for: a.kind)
        if let local, forceLocal { return .local(local) }
        if Controllers.running(kube, component: component, namespace: ns) { return .controller }
        if let local { return .local(local) }
        return .unavailable(component: component, namespace: ns)
    }

    /// --storage-path, else $FLUXS_STORAGE_PATH, else <cache dir>/storage.
    static func storage(_ inv: Invocation) -> Storage {
        let flag = inv.flags.string("storage-path")
        if !flag.isEmpty { return Storage(root: flag) }
        if let e = inv.env["FLUXS_STORAGE_PATH"], !e.isEmpty { return Storage(root: e) }
        return Storage(root: inv.cacheDir + "/storage")
    }

    /// Runs the in-process reconciler and returns the object as it left it.
    /// One process at a time reconciles an object (two CI jobs, a laptop and a job): the object's Lease is taken
    /// first, waiting up to --timeout while another process holds it, and released at the end. `read` gives the object
    /// once the Lease is held (a GET, or the reconcile command's annotation, whose answer is the object): the run
    /// starts from what the previous holder left (its inventory), and the object is read once, not before and after
    /// the Lease.
    /// `early`: the object as read before the Lease was taken, from which the reconciler may start its reads
    /// (`OnDemandReconciler.prepare`) once the Lease is seen free.
    static func runLocal(_ inv: Invocation, _ r: OnDemandReconciler, kind: String, namespace ns: String, name: String,
                         early: Node? = nil, read: (KubeClient) throws -> Node) throws -> Node {
        let kube = try inv.kube()
        var env = ReconcileEnv(kube: kube, storage: storage(inv),
                               log: { line in if inv.verbose { inv.out.stderr(line) } },
                               progress: { _ in }, warn: { inv.out.warning($0) })
        env.defaultServiceAccount = inv.flags.string("default-service-account")
        env.logs = inv.verbose
        env.keep = { [inv] in inv.keepUntilExit($0) }
        let lease = ObjectLease(kube: kube, kind: kind, namespace: ns, name: name)
        var prepared: PreparedWork?
        defer { prepared?.discard() }
        do {
            try lease.acquire(deadline: monotonicSeconds() + kube.remaining, waiting: { inv.out.waiting($0) }, free: { [env] in
                // started anew at each attempt: what is kept was started after the read the taking write succeeded on
                prepared?.discard()
                prepared = early.flatMap { r.prepare($0, env: env) }
            })
        } catch let e as ObjectLease.Held {
            throw CLIError(e.description)
        }
        defer { lease.release() }
        let current = try read(kube)
        env.checkLease = { try lease.check($0) }
        env.prepared = prepared
        defer { inv.keepUntilExit((current, early as Any)) }
        do {
            let done = try r.reconcile(current, env: env)
            inv.keepUntilExit(done)
            return done
        } catch let e as ObjectLease.Held { throw CLIError(e.description) }
    }

    /// runLocal with the object read by a GET once the Lease is held.
    static func runLocal(_ inv: Invocation, _ r: OnDemandReconciler, _ a: KindAdapter, namespace ns: String, name: String) throws -> Node {
        try runLocal(inv, r, kind: a.kind.kind, namespace: ns, name: name) { kube in
            do { return try kube.get(a.resource, namespace: ns, name: name) } catch let e as KubeError {
                throw e.naming("\(a.kind.kind)/\(ns)/\(name) query failed")
            }
        }
    }

    /// The Ready verdict of an object a local reconciler just wrote: nil when ready, else the message.
    static func failure(_ o: Node) -> String? {
        guard let ready = Obj.condition(o, "Ready") else { return "status can't be determined" }
        if ready["status"]?.string == "True" { return nil }
        return ready["message"]?.string ?? ""
    }
}

/// `fluxs reconcile <kind> NAME`: flux's annotate-and-wait when the controller runs; otherwise the
/// reconciliation happens here, in this process.
enum ReconcileCommand {
    static func make() -> Command {
        var c = Command(name: "reconcile", summary: "Reconcile sources and resources",
                        long: "The reconcile sub-commands trigger a reconciliation of sources and resources.")
        c.persistentFlags = [
            .bool("local", nil, "reconcile in this process even when the Flux controller runs in the cluster (fluxs)"),
            .string("storage-path", nil, "where artifacts and Git mirrors are kept (fluxs; default $FLUXS_STORAGE_PATH or ~/.cache/fluxs/storage)"),
            .string("default-service-account", nil, "service account impersonated for Kustomizations without spec.serviceAccountName, as kustomize-controller's flag (fluxs)"),
        ]
        c.subcommands = ObjectCommands.tree(
            verb: "reconcile", summary: { "Reconcile a \($0.kind.kind) resource" },
            flags: { n in
                switch n.adapter.kind {
                case FluxKinds.kustomization: return [.bool("with-source", nil, "reconcile Kustomization source"),
                                                      .bool("with-dependents", nil, "also reconcile the Kustomizations that depend on it and the Flux objects they apply, in dependency order (fluxs)"),
                                                      .int("concurrency", "with --with-dependents: how many objects are reconciled at the same time (fluxs)", default: 4)]
                case FluxKinds.helmRelease: return [.bool("with-source", nil, "reconcile HelmRelease source"),
                                                    .bool("force", nil, "force a one-off install or upgrade of the HelmRelease resource"),
                                                    .bool("reset", nil, "reset the retry counter for a failed HelmRelease resource")]
                default: return []
                }
            },
            include: { n in !["alert", "alert-provider"].contains(n.path[0]) && n.path != ["source", "external"] },
            example: { "  # Trigger a reconciliation of an existing \($0.adapter.kind.kind)\n  fluxs reconcile \($0.path.joined(separator: " ")) podinfo" },
            handler: run)
        return c
    }

    static func run(_ inv: Invocation, _ a: KindAdapter) throws -> Int32 {
        guard let name = inv.args.first else { throw CLIError("\(a.kind.kind) name is required") }
        let ns = try inv.namespace()
        if a.kind == FluxKinds.kustomization && inv.flags.bool("with-dependents") {
            return try SyncCommand.withDependents(inv, name: name, ns: ns)
        }
        let kube = try inv.kube()
        if inv.flags.bool("with-source") {
            try reconcileSource(inv, a, kube, name: name, ns: ns)
        }
        try reconcile(inv, a, kube, name: name, ns: ns)
        return 0
    }

    /// `--with-source`: the source of a Kustomization or HelmRelease first.
    static func reconcileSource(_ inv: Invocation, _ a: KindAdapter, _ kube: KubeClient, name: String, ns: String) throws {
        let o = try kube.get(a.resource, namespace: ns, name: name)
        let src = a.kind == FluxKinds.helmRelease ? o["spec"]?["chart"]?["spec"]?["sourceRef"] : o["spec"]?["sourceRef"]
        let kind = src?["kind"]?.string ?? ""
        let srcNS = src?["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? ns
        let srcName = src?["name"]?.string ?? ""
        let allowed = a.kind == FluxKinds.helmRelease ? ["OCIRepository", "GitRepository", "Bucket", "HelmRepository"]
                                                      : ["OCIRepository", "GitRepository", "Bucket"]
        guard allowed.contains(kind), let sa = Adapters.all.first(where: { $0.kind.kind == kind }) else {
            throw CLIError("cannot reconcile source of kind \(kind)")
        }
        try reconcile(inv, sa, kube, name: srcName, ns: srcNS)
    }

    /// Writes the annotations and returns the object as the server then has it. The patch is conditional on the
    /// resourceVersion `read` was read at and asks for the answer's metadata alone: when it succeeds, the object was
    /// `read` until this write, and `read` with the answer's metadata is the object whole (a large inventory is not
    /// sent back). When the object changed since (409), the patch is sent unconditionally and answered whole.
    static func annotate(_ kube: KubeClient, _ a: KindAdapter, _ read: Node, _ annotations: [(String, Node)]) throws -> Node {
        let name = read["metadata"]?["name"]?.string ?? "", ns = read["metadata"]?["namespace"]?.string
        if let rv = read["metadata"]?["resourceVersion"]?.string, !rv.isEmpty {
            do {
                let meta = try kube.patch(a.resource, namespace: ns, name: name, type: .merge,
                                          patch: ["metadata": ["resourceVersion": .string(rv), "annotations": .map(annotations)]], metadataOnly: true)
                guard KubeClient.isPartial(meta) else { return meta }   // a server that answers the object itself
                var whole = read
                whole["metadata"] = meta["metadata"]
                return whole
            } catch let e as KubeError where e.kind == .conflict {}
        }
        return try kube.patch(a.resource, namespace: ns, name: name, type: .merge, patch: ["metadata": ["annotations": .map(annotations)]])
    }

    static func reconcile(_ inv: Invocation, _ a: KindAdapter, _ kube: KubeClient, name: String, ns: String) throws {
        let object = try GetCommand.getObject(kube, a, namespace: ns, name: name)
        if a.isStatic(object) {
            inv.out.success("reconciliation not supported by the object")
            return
        }
        if object["spec"]?["suspend"]?.bool == true { throw CLIError("resource is suspended") }
        let mode = Reconciliation.mode(inv, a, kube: kube)
        if case .unavailable(let component, let fluxNS) = mode {
            throw CLIError("cannot reconcile \(a.kind.kind) \(ns)/\(name): fluxs cannot reconcile \(a.kind.kind) objects on demand yet, and no \(component) runs in the \(fluxNS) namespace")
        }
        let lastHandled = object["status"]?["lastHandledReconcileAt"]?.string ?? ""

        inv.out.action("annotating \(a.kind.kind) \(name) in \(ns) namespace")
        let stamp = Clock.rfc3339NanoLocal()
        var annotations: [(String, Node)] = [(ReconcileRequest.annotation, .string(stamp))]
        if a.kind == FluxKinds.helmRelease {
            if inv.flags.bool("force") { annotations.append(("reconcile.fluxcd.io/forceAt", .string(stamp))) }
            if inv.flags.bool("reset") { annotations.append(("reconcile.fluxcd.io/resetAt", .string(stamp))) }
        }
        func annotate(_ kube: KubeClient) throws -> Node {
            let annotated = try Self.annotate(kube, a, object, annotations)
            inv.out.success("\(a.kind.kind) annotated")
            inv.out.waiting("waiting for \(a.kind.kind) reconciliation")
            return annotated
        }

        let done: Node
        switch mode {
        case .local(let r):
            // Annotated once the Lease is held: the annotation's answer is the object the run starts from.
            done = try Reconciliation.runLocal(inv, r, kind: a.kind.kind, namespace: ns, name: name, early: object, read: annotate)
        default:
            _ = try annotate(kube)
            done = try ObjectCommands.poll(kube) { () throws -> Node? in
                let o = try kube.get(a.resource, namespace: ns, name: name)
                let handled = o["status"]?["lastHandledReconcileAt"]?.string ?? ""
                guard handled != lastHandled else { return nil }
                switch KStatus.of(o) {
                case .current: return o
                case .inProgress: return nil
                case .failed(let m): throw CLIError(m)
                case .terminating: throw CLIError("object is being deleted")
                }
            }
        }
        if let message = Reconciliation.failure(done) {
            if message == "status can't be determined" { throw CLIError(message) }
            let quoted = a.kind == FluxKinds.kustomization || a.kind == FluxKinds.helmRelease ? message : "'\(message)'"
            throw CLIError("\(a.kind.kind) reconciliation failed: \(quoted)")
        }
        inv.out.success(a.success(done))
    }
}
