#if canImport(Glibc)
import Glibc
#endif
import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs sync`: every selected source, Kustomization and image automation object reconciled as `reconcile` does
/// it, in dependency order, in parallel, following what the Kustomizations apply (docs/sync.md). The same engine
/// serves `reconcile kustomization --with-dependents` and `bootstrap`.
enum SyncCommand {
    static func make() -> Command {
        var c = Command(name: "sync", summary: "Reconcile every source, Kustomization and image automation object in dependency order",
                        long: """
                        The sync command reconciles every selected source, then every Kustomization in dependsOn order
                        (across namespaces), then the image automation objects, each as 'reconcile' does it, in parallel
                        where the dependencies allow. Flux objects a Kustomization applies are reconciled in the same run.
                        A failure skips only what depends on it; suspended objects are reported, not reconciled.
                        The report lists every object (a table, or one JSON document: docs/sync.md); the exit status
                        is 0 only when every object succeeded (or is suspended).
                        """)
        c.examples = """
          # Bring every Flux object of the flux-system namespace to its source's revision
          fluxs sync

          # Everything in the cluster, eight at a time, as JSON
          fluxs sync -A --concurrency 8 -o json

          # What would be reconciled, in which order
          fluxs sync -A --dry-run
        """
        c.flags = flags + [
            .bool("dry-run", nil, "list what would be reconciled, in order, without reconciling"),
            Flag(name: "output", short: "o", kind: .choice(["table", "json"]), defaultValue: "table",
                 help: "output format of the report: table or json", completion: .values(["table", "json"])),
        ]
        c.handler = run
        c.fluxsOnly = true
        c.note = "fluxs addition: the dependency graph across namespaces, cascading into what Kustomizations apply, --concurrency, a JSON report (docs/sync.md)"
        return c
    }

    /// Selection and engine flags `sync` shares with `plan`.
    static let selection: [Flag] = [
        .bool("all-namespaces", "A", "select objects in all namespaces"),
        .string("label-selector", "l", "select objects by label selector"),
    ]
    static let flags: [Flag] = selection + [
        .int("concurrency", "how many objects are reconciled at the same time", default: 4),
        .bool("local", nil, "reconcile in this process even when the Flux controllers run in the cluster"),
        .string("storage-path", nil, "where artifacts and Git mirrors are kept (default $FLUXS_STORAGE_PATH or ~/.cache/fluxs/storage)"),
    ]

    static func run(_ inv: Invocation) throws -> Int32 {
        if !inv.args.isEmpty { throw CLIError("sync takes no arguments (select objects with --namespace, --all-namespaces and --label-selector)") }
        let output = inv.flags.string("output")
        let dryRun = inv.flags.bool("dry-run")
        let kube = try inv.kube()
        let allNS = inv.flags.bool("all-namespaces")
        let ns = try inv.namespace()
        let objects = try select(inv, kube, namespace: allNS ? nil : ns, labels: inv.flags.string("label-selector"), kinds: SyncKinds.all)
        if objects.isEmpty {
            throw CLIError("no sources, Kustomizations or image automation objects found \(allNS ? "in any namespace" : "in \"\(ns)\" namespace")")
        }
        let results = try engine(inv, kube, seeds: objects, dryRun: dryRun)
        try report(inv, results, output: output, dryRun: dryRun)
        return results.allSatisfy(passed) ? 0 : 1
    }

    static func passed(_ r: SyncResult) -> Bool { [.succeeded, .suspended, .planned].contains(r.outcome) }

    /// The objects of `kinds` in a namespace (nil: all), by label selector; kinds whose CRD is missing are left out.
    static func select(_ inv: Invocation, _ kube: KubeClient, namespace: String?, labels: String, kinds: [FluxKind]) throws -> [Node] {
        if !labels.isEmpty, labels.contains("(") && !labels.contains(")") { throw CLIError("unable to parse label selector: \(labels)") }
        var out: [Node] = []
        for k in kinds {
            do {
                let items = try kube.list(k.resource, namespace: namespace, labelSelector: labels.isEmpty ? nil : labels).items
                out += items.map { o in
                    var o = o
                    if o["apiVersion"] == nil { o["apiVersion"] = .string(k.apiVersion) }
                    if o["kind"] == nil { o["kind"] = .string(k.kind) }
                    return o
                }.sorted { SyncKey($0) < SyncKey($1) }
            } catch let e as KubeError where e.kind == .notFound {
                continue
            } catch let e as KubeError where e.kind == .badRequest && !labels.isEmpty {
                throw CLIError("unable to parse label selector: \(e.message)")
            } catch let e as KubeError {
                throw CLIError("listing \(k.kind) objects failed: \(e.message)")
            }
        }
        return out
    }

    /// Runs the engine over `seeds` (and what they apply), with progress lines on stderr.
    static func engine(_ inv: Invocation, _ kube: KubeClient, seeds: [Node], dryRun: Bool) throws -> [SyncResult] {
        let concurrency = inv.flags.isSet("concurrency") ? inv.flags.int("concurrency") : 4
        if concurrency < 1 { throw CLIError("--concurrency must be at least 1, found \(concurrency)") }
        let executor = try Executor(inv, kube, dryRun: dryRun)
        let lock = executor.lock
        let e = SyncEngine(concurrency: concurrency, execute: { executor.run($0) }, progress: { ev in
            lock.with {
                switch ev {
                case .started(let k): if !dryRun { inv.out.action("reconciling \(k)") }
                case .finished(let r): line(inv, r)
                }
            }
        })
        e.cascade = !dryRun
        for o in seeds { e.add(o) }
        return e.run()
    }

    static func line(_ inv: Invocation, _ r: SyncResult) {
        switch r.outcome {
        case .succeeded: inv.out.success("\(r.key) reconciled" + (r.revision.isEmpty ? "" : " at \(r.revision)") + changes(r))
        case .failed: inv.out.failure("\(r.key) failed: \(r.message)")
        case .skipped: inv.out.warning("\(r.key) skipped: \(r.message)")
        case .suspended: inv.out.warning("\(r.key) is suspended: not reconciled")
        case .planned: inv.out.action("\(r.key) would be reconciled")
        }
    }

    static func changes(_ r: SyncResult) -> String {
        r.created + r.configured + r.pruned == 0 ? "" : " (\(r.created) created, \(r.configured) configured, \(r.pruned) pruned)"
    }

    // MARK: the report

    static func report(_ inv: Invocation, _ results: [SyncResult], output: String, dryRun: Bool) throws {
        func count(_ o: SyncOutcome) -> Int { results.filter { $0.outcome == o }.count }
        if output == "json" {
            let items: [Node] = results.map { r in
                .map([
                    ("kind", .string(r.key.kind)), ("namespace", .string(r.key.namespace)), ("name", .string(r.key.name)),
                    ("result", .string(r.outcome.rawValue)), ("revision", .string(r.revision)),
                    ("created", .int(r.created)), ("configured", .int(r.configured)), ("pruned", .int(r.pruned)),
                    ("durationSeconds", .scalar(Scalar(String(format3(r.duration)), tag: .float))),
                    ("runs", .int(r.runs)), ("via", .string(r.via)), ("message", .string(r.message)),
                ])
            }
            let summary: Node = .map([("total", .int(results.count))] + [SyncOutcome.succeeded, .failed, .skipped, .suspended, .planned].map {
                ($0.rawValue, .int(count($0)))
            })
            let doc: Node = .map([("apiVersion", "fluxs.dev/v1alpha1"), ("kind", "SyncReport"), ("dryRun", .bool(dryRun)),
                                  ("results", .sequence(items)), ("summary", summary)])
            inv.out.write(try doc.jsonString(indent: "  ") + "\n")
            return
        }
        let rows = results.map { r in
            [r.key.description, r.outcome.rawValue, r.revision, String(r.created), String(r.configured), String(r.pruned),
             r.runs == 0 ? "" : GoDuration.format((r.duration * 1000).rounded() / 1000), r.message]
        }
        inv.out.write(Table.render(header: ["OBJECT", "RESULT", "REVISION", "CREATED", "CONFIGURED", "PRUNED", "DURATION", "MESSAGE"], rows: rows))
    }

    static func format3(_ d: Double) -> String {
        let ms = Int((d * 1000).rounded())
        let frac = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
    }

    // MARK: reconcile kustomization --with-dependents, bootstrap

    /// The Kustomization, every Kustomization that depends on it (in any namespace, transitively) and what they
    /// apply; its source first with --with-source. Progress on stderr; exit 1 when any failed.
    static func withDependents(_ inv: Invocation, name: String, ns: String) throws -> Int32 {
        let kube = try inv.kube()
        let root = try GetCommand.getObject(kube, Adapters.kustomization, namespace: ns, name: name)
        if root["spec"]?["suspend"]?.bool == true { throw CLIError("resource is suspended") }
        let all = try select(inv, kube, namespace: nil, labels: "", kinds: [FluxKinds.kustomization])
        var seeds: [Node] = []
        if inv.flags.bool("with-source"), let src = SyncDependencies.hard(root).first, let a = Adapters.all.first(where: { $0.kind.kind == src.kind }),
           SyncKinds.sources.contains(a.kind) {
            seeds.append(try GetCommand.getObject(kube, a, namespace: src.namespace, name: src.name))
        }
        seeds.append(root)
        seeds += SyncEngine.dependents(of: SyncKey(root), among: all)
        let results = try engine(inv, kube, seeds: seeds, dryRun: false)
        return summarize(inv, results) ? 0 : 1
    }

    /// One closing line; true when all passed.
    @discardableResult
    static func summarize(_ inv: Invocation, _ results: [SyncResult]) -> Bool {
        let bad = results.filter { !passed($0) }
        if bad.isEmpty {
            inv.out.success("\(results.count) object\(results.count == 1 ? "" : "s") reconciled")
            return true
        }
        let failed = bad.filter { $0.outcome == .failed }.count
        inv.out.failure("\(failed) failed and \(bad.count - failed) skipped of \(results.count) objects")
        return false
    }

    /// After bootstrap reconciled flux-system here: the Flux objects it applied (the apps' sources and
    /// Kustomizations), and what those apply, so the whole cluster is at the revision.
    static func afterBootstrap(_ inv: Invocation, _ kube: KubeClient, namespace ns: String) throws {
        guard case .local = Reconciliation.mode(inv, Adapters.kustomization, kube: kube) else { return }
        let ks = try kube.get(FluxKinds.kustomization.resource, namespace: ns, name: ns)
        var seeds: [Node] = []
        for k in SyncEngine.inventoryKeys(ks) where !(k.namespace == ns && k.name == ns) {
            guard let kind = SyncKinds.all.first(where: { $0.kind == k.kind }),
                  let o = try kube.getIfExists(kind.resource, namespace: k.namespace, name: k.name) else { continue }
            seeds.append(o)
        }
        guard !seeds.isEmpty else { return }
        inv.out.action("reconciling the \(seeds.count) Flux object\(seeds.count == 1 ? "" : "s") applied by Kustomization \"\(ns)/\(ns)\"")
        let results = try engine(inv, kube, seeds: seeds, dryRun: false)
        if !summarize(inv, results) { throw CLIError("objects applied by Kustomization \"\(ns)/\(ns)\" are not ready; 'fluxs sync -A' reports them") }
    }

    // MARK: one object

    /// Reconciles one object on a worker thread: its own API client (and --timeout), the reconcile command's rules.
    final class Executor: @unchecked Sendable {
        enum Mode { case local(OnDemandReconciler), controller, unavailable(String) }
        let config: RESTConfig
        let timeout: Double
        let cacheDir: String
        let env: [String: String]
        let userAgent: String
        let storage: Storage
        let dryRun: Bool
        let verbose: Bool
        let out: Output
        let lock = SyncLock()
        let modes: [String: Mode]

        init(_ inv: Invocation, _ kube: KubeClient, dryRun: Bool) throws {
            config = kube.config
            timeout = inv.timeout
            cacheDir = inv.cacheDir
            env = inv.env
            userAgent = kube.userAgent
            storage = Reconciliation.storage(inv)
            self.dryRun = dryRun
            verbose = inv.verbose
            out = inv.out
            var m: [String: Mode] = [:]
            for k in SyncKinds.all {
                guard let a = Adapters.all.first(where: { $0.kind == k }) else { continue }
                switch Reconciliation.mode(inv, a, kube: kube) {
                case .local(let r): m[k.kind] = .local(r)
                case .controller: m[k.kind] = .controller
                case .unavailable(let component, let fluxNS):
                    m[k.kind] = .unavailable("fluxs cannot reconcile \(k.kind) objects on demand yet, and no \(component) runs in the \(fluxNS) namespace")
                }
            }
            modes = m
        }

        func client() throws -> KubeClient {
            let log: ((String) -> Void)? = verbose ? { [out, lock] l in lock.with { out.stderr("  \(l)") } } : nil
            return try KubeClient(config: config, timeout: timeout, userAgent: userAgent,
                                  exec: ExecPluginRunner(cacheDir: cacheDir + "/exec", environment: env), log: log)
        }

        func run(_ k: SyncKey) -> SyncRun {
            do { return try reconcile(k) } catch let e as CLIError {
                return SyncRun(outcome: .failed, message: e.message)
            } catch let e as KubeError {
                return SyncRun(outcome: .failed, message: e.message)
            } catch {
                return SyncRun(outcome: .failed, message: "\(error)")
            }
        }

        func reconcile(_ k: SyncKey) throws -> SyncRun {
            guard let a = Adapters.all.first(where: { $0.kind.kind == k.kind }) else { return SyncRun(outcome: .failed, message: "unknown kind") }
            let kube = try client()
            guard let object = try kube.getIfExists(a.resource, namespace: k.namespace, name: k.name) else {
                return SyncRun(outcome: .failed, message: "not found")
            }
            if a.isStatic(object) { return SyncRun(outcome: .succeeded, message: "reconciliation not supported by the object") }
            if object["spec"]?["suspend"]?.bool == true { return SyncRun(outcome: .suspended, revision: revision(object), message: "suspended") }
            if object["metadata"]?["deletionTimestamp"] != nil { return SyncRun(outcome: .skipped, message: "the object is being deleted") }
            if dryRun { return SyncRun(outcome: .planned, revision: revision(object)) }
            let mode = modes[k.kind] ?? .unavailable("no reconciler")
            if case .unavailable(let why) = mode { return SyncRun(outcome: .failed, message: "cannot reconcile \(k): \(why)") }
            // The reconcile command's request: the annotation the status echoes in lastHandledReconcileAt.
            let lastHandled = object["status"]?["lastHandledReconcileAt"]?.string ?? ""
            func annotate() throws -> Node {
                try kube.patch(a.resource, namespace: k.namespace, name: k.name, type: .merge,
                               patch: ["metadata": ["annotations": .map([(ReconcileRequest.annotation, .string(Clock.rfc3339NanoLocal()))])]])
            }
            var run = SyncRun(outcome: .succeeded)
            let done: Node
            switch mode {
            case .local(let r):
                // The reconcile command's Lease: one process at a time reconciles an object; annotated once held,
                // the annotation's answer is the object the run starts from (one read).
                let lease = ObjectLease(kube: kube, kind: k.kind, namespace: k.namespace, name: k.name)
                do {
                    try lease.acquire(deadline: monotonicSeconds() + kube.remaining, waiting: { [out, lock] m in lock.with { out.waiting("\(k): \(m)") } })
                } catch let e as ObjectLease.Held { return SyncRun(outcome: .failed, message: e.description) }
                defer { lease.release() }
                let current = try annotate()
                let box = Applied()
                var renv = ReconcileEnv(kube: kube, storage: storage,
                                        log: { [verbose, out, lock] l in if verbose { lock.with { out.stderr(l) } } },
                                        warn: { [out, lock] w in lock.with { out.warning(w) } })
                renv.checkLease = { try lease.check($0) }
                renv.logs = verbose
                renv.applied = { changes, deleted in box.changes = changes; box.deleted = deleted }
                do { done = try r.reconcile(current, env: renv) } catch let e as ObjectLease.Held { return SyncRun(outcome: .failed, message: e.description) }
                run.created = box.changes.filter { $0.action == .created }.count
                run.configured = box.changes.filter { $0.action == .configured }.count
                run.pruned = box.deleted.count
                run.applied = box.changes.filter { SyncKinds.of($0.object) != nil }.map { ($0.object, $0.action == .created || $0.action == .configured) }
            default:
                _ = try annotate()
                done = try ObjectCommands.poll(kube) { () throws -> Node? in
                    let o = try kube.get(a.resource, namespace: k.namespace, name: k.name)
                    let handled = o["status"]?["lastHandledReconcileAt"]?.string ?? ""
                    guard handled != lastHandled else { return nil }
                    switch KStatus.of(o) {
                    case .inProgress: return nil
                    default: return o
                    }
                }
            }
            run.revision = revision(done)
            if let m = Reconciliation.failure(done) {
                run.outcome = .failed
                run.message = m
            } else {
                run.message = Obj.condition(done, "Ready")?["message"]?.string ?? ""
            }
            return run
        }

        final class Applied { var changes: [ChangeSetEntry] = []; var deleted: [String] = [] }

        func revision(_ o: Node) -> String {
            let s = o["status"]
            switch o["kind"]?.string ?? "" {
            case FluxKinds.kustomization.kind:
                return s?["lastAppliedRevision"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? s?["lastAttemptedRevision"]?.string ?? ""
            case FluxKinds.imagePolicy.kind:
                if let r = s?["latestRef"], let n = r["name"]?.string { return n + (r["tag"]?.string.map { ":" + $0 } ?? "") }
                return s?["latestImage"]?.string ?? ""
            case FluxKinds.imageRepository.kind: return s?["lastScanResult"]?["latestTags"]?[0]?.string ?? ""
            case FluxKinds.imageUpdateAutomation.kind: return s?["lastPushCommit"]?.string ?? ""
            default: return s?["artifact"]?["revision"]?.string ?? ""
            }
        }
    }
}
