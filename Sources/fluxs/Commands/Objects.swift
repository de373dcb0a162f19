#if canImport(Glibc)
import Glibc
#endif
import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// suspend, resume, export and delete: written once over the kind adapters.
enum ObjectCommands {
    /// The CLI nouns of the kinds, as flux names them under these verbs.
    struct Noun {
        var path: [String]
        var aliases: [String]
        var adapter: KindAdapter
    }

    static let nouns: [Noun] = {
        let A = Adapters.self
        return [
            Noun(path: ["alert"], aliases: [], adapter: A.alert),
            Noun(path: ["alert-provider"], aliases: [], adapter: A.provider),
            Noun(path: ["helmrelease"], aliases: ["hr"], adapter: A.helmRelease),
            Noun(path: ["image", "policy"], aliases: [], adapter: A.imagePolicy),
            Noun(path: ["image", "repository"], aliases: [], adapter: A.imageRepository),
            Noun(path: ["image", "update"], aliases: [], adapter: A.imageUpdateAutomation),
            Noun(path: ["kustomization"], aliases: ["ks"], adapter: A.kustomization),
            Noun(path: ["receiver"], aliases: [], adapter: A.receiver),
            Noun(path: ["source", "bucket"], aliases: [], adapter: A.bucket),
            Noun(path: ["source", "chart"], aliases: [], adapter: A.helmChart),
            Noun(path: ["source", "external"], aliases: [], adapter: A.externalArtifact),
            Noun(path: ["source", "git"], aliases: [], adapter: A.gitRepository),
            Noun(path: ["source", "helm"], aliases: [], adapter: A.helmRepository),
            Noun(path: ["source", "oci"], aliases: [], adapter: A.ociRepository),
        ]
    }()

    /// Builds `<verb> <noun...>` sub-commands for the nouns accepted by a verb.
    static func tree(verb: String, summary: (KindAdapter) -> String, flags: (Noun) -> [Flag] = { _ in [] },
                     include: (Noun) -> Bool, example: (Noun) -> String, handler: @escaping (Invocation, KindAdapter) throws -> Int32) -> [Command] {
        var top: [Command] = []
        var groups: [String: [Command]] = [:]
        for n in nouns where include(n) {
            let a = n.adapter
            let c = Command(name: n.path.last!, aliases: n.aliases, summary: summary(a), examples: example(n), flags: flags(n),
                            args: .names(kind: a.kind.kind, many: verb == "suspend" || verb == "resume"),
                            handler: { inv in try handler(inv, a) })
            if n.path.count == 1 { top.append(c) } else { groups[n.path[0], default: []].append(c) }
        }
        let cap = verb.prefix(1).uppercased() + verb.dropFirst()
        for (g, subs) in groups.sorted(by: { $0.key < $1.key }) {
            let s = g == "image" ? "\(cap) image automation objects" : "\(cap) sources"
            top.append(Command(name: g, summary: s, subcommands: subs))
        }
        return top
    }

    static func cliPath(_ a: KindAdapter) -> String { nouns.first { $0.adapter.kind == a.kind }!.path.joined(separator: " ") }

    // MARK: suspend / resume

    static func suspend() -> Command {
        var c = Command(name: "suspend", summary: "Suspend resources", long: "The suspend sub-commands suspend the reconciliation of a resource.")
        c.persistentFlags = [.bool("all", nil, "suspend all resources in that namespace")]
        c.subcommands = tree(verb: "suspend", summary: { "Suspend reconciliation of \($0.kind.kind)" },
                             include: { $0.adapter.suspendable },
                             example: { "  # Suspend reconciliation for an existing \($0.adapter.kind.kind)\n  fluxs suspend \($0.path.joined(separator: " ")) podinfo" },
                             handler: { inv, a in try setSuspend(inv, a, suspend: true) })
        return c
    }

    static func resume() -> Command {
        var c = Command(name: "resume", summary: "Resume suspended resources", long: "The resume sub-commands resume a suspended resource.")
        c.persistentFlags = [.bool("all", nil, "resume all resources in that namespace"),
                             .bool("wait", nil, "waits for one resource to reconcile before moving to the next one")]
        c.subcommands = tree(verb: "resume", summary: { "Resume a suspended \($0.kind.kind)" },
                             include: { $0.adapter.suspendable },
                             example: { "  # Resume reconciliation for an existing \($0.adapter.kind.kind)\n  fluxs resume \($0.path.joined(separator: " ")) podinfo" },
                             handler: { inv, a in try setSuspend(inv, a, suspend: false) })
        return c
    }

    /// The objects named on the command line (duplicates dropped) or all of them with --all.
    static func targets(_ inv: Invocation, _ a: KindAdapter, _ kube: KubeClient, ns: String) throws -> (names: [String], objects: [String: Node]) {
        if inv.flags.bool("all") {
            let items = try kube.list(a.resource, namespace: ns).items
            var objs: [String: Node] = [:]
            for o in items { objs[o["metadata"]?["name"]?.string ?? ""] = o }
            return (objs.keys.sorted(), objs)
        }
        guard !inv.args.isEmpty else { throw CLIError("\(a.kind.humanKind) name is required") }
        var names: [String] = []
        for n in inv.args where !names.contains(n) { names.append(n) }
        var objs: [String: Node] = [:]
        for n in names { if let o = try kube.getIfExists(a.resource, namespace: ns, name: n) { objs[n] = o } }
        return (names, objs)
    }

    static func setSuspend(_ inv: Invocation, _ a: KindAdapter, suspend: Bool) throws -> Int32 {
        let ns = try inv.namespace()
        let kube = try inv.kube()
        guard try GetCommand.ensureCRD(kube, a) else { throw GetCommand.missingCRD(a) }
        let (names, objects) = try targets(inv, a, kube, ns: ns)
        if inv.flags.bool("all") && names.isEmpty {
            throw CLIError(suspend ? "no objects found" : "no \(a.kind.kind) objects found in \(ns) namespace")
        }
        var failures = 0
        var resumed: [Node] = []
        for n in names {
            guard objects[n] != nil else {
                inv.out.failure("\(a.kind.kind) \(n) not found in \(ns) namespace")
                failures += 1
                continue
            }
            inv.out.action("\(suspend ? "suspending" : "resuming") \(a.kind.humanKind) \(n) in \(ns) namespace")
            let patch: Node = ["spec": ["suspend": suspend ? .bool(true) : .null]]
            do {
                let o = try kube.patch(a.resource, namespace: ns, name: n, type: .merge, patch: patch)
                inv.out.success("\(a.kind.humanKind) \(suspend ? "suspended" : "resumed")")
                resumed.append(o)
            } catch let e as KubeError {
                inv.out.failure("failed \(suspend ? "suspending" : "resuming") \(a.kind.kind) \(n) in \(ns) namespace: \(e.message)")
                failures += 1
            }
        }
        if !suspend && !resumed.isEmpty {
            let wait = inv.flags.isSet("wait") ? inv.flags.bool("wait") : (inv.args.count == 1 && !inv.flags.bool("all"))
            if wait { failures += try waitReconciled(inv, a, kube, resumed, explicitWait: inv.flags.isSet("wait")) }
        }
        if failures > 0 {
            throw CLIError(suspend ? "could not suspend \(failures) \(a.kind.kind)(s)" : "reconciliation failed for \(failures) \(a.kind.kind)(s)")
        }
        return 0
    }

    /// Waits for the objects to be reconciled by whoever reconciles them. fluxs cannot
    /// reconcile these kinds on demand yet; when the Flux controller runs in the
    /// cluster it waits for it, as flux does; otherwise it says so plainly.
    static func waitReconciled(_ inv: Invocation, _ a: KindAdapter, _ kube: KubeClient, _ objects: [Node], explicitWait: Bool) throws -> Int {
        let isStatic = objects.allSatisfy { a.isStatic($0) }
        let mode = Reconciliation.mode(inv, a, kube: kube)
        if !isStatic, case .unavailable(let component, let fluxNS) = mode {
            for o in objects {
                let n = o["metadata"]?["name"]?.string ?? ""
                inv.out.warning("\(a.kind.kind) \(n) resumed but not reconciled: fluxs cannot reconcile \(a.kind.kind) objects on demand yet, and no \(component) runs in the \(fluxNS) namespace")
            }
            return explicitWait ? objects.count : 0
        }
        var failures = 0
        for o in objects {
            inv.out.waiting("waiting for \(a.kind.kind) reconciliation")
            let n = o["metadata"]?["name"]?.string ?? ""
            let ns = o["metadata"]?["namespace"]?.string ?? ""
            do {
                if !a.isStatic(o), case .local(let r) = mode {
                    let done = try Reconciliation.runLocal(inv, r, a, namespace: ns, name: n)
                    if let message = Reconciliation.failure(done) { throw CLIError(message) }
                    inv.out.success("\(a.kind.kind) \(n) reconciliation completed")
                    inv.out.success(a.success(done))
                    continue
                }
                let done: Node = try poll(kube) { () throws -> Node? in
                    let live = try kube.get(a.resource, namespace: ns, name: n)
                    switch KStatus.readiness(live, isStatic: a.isStatic(live)) {
                    case .none: return nil
                    case .success: return live
                    case .failure(let e): throw CLIError(e.message)
                    }
                }
                inv.out.success("\(a.kind.kind) \(n) reconciliation completed")
                inv.out.success(a.success(done))
            } catch {
                inv.out.failure("\(a.kind.kind) \(n) reconciliation failed: \(error)")
                failures += 1
            }
        }
        return failures
    }

    /// Polls every 2s (flux's interval) until the body returns a value or --timeout passes.
    static func poll<T>(_ kube: KubeClient, _ body: () throws -> T?) throws -> T {
        while true {
            if let v = try body() { return v }
            if kube.remaining < 2 { throw CLIError("context deadline exceeded") }
            sleepSeconds(2)
        }
    }

    // MARK: export

    static func export() -> Command {
        var c = Command(name: "export", summary: "Export resources in YAML format",
                        long: "The export sub-commands export resources in YAML format.")
        c.persistentFlags = [.bool("all", nil, "select all resources")]
        c.subcommands = tree(verb: "export", summary: { "Export \($0.kind.kind) resources in YAML format" },
                             flags: { $0.path.first == "source" ? [.bool("with-credentials", nil, "include credential secrets")] : [] },
                             include: { _ in true },
                             example: { "  # Export all \($0.adapter.kind.kind) resources\n  fluxs export \($0.path.joined(separator: " ")) --all > objects.yaml" },
                             handler: runExport)
        return c
    }

    static func runExport(_ inv: Invocation, _ a: KindAdapter) throws -> Int32 {
        let ns = try inv.namespace()
        let kube = try inv.kube()
        guard try GetCommand.ensureCRD(kube, a) else { throw GetCommand.missingCRD(a) }
        var objects: [Node]
        if inv.flags.bool("all") {
            objects = try kube.list(a.resource, namespace: ns).items
            if objects.isEmpty { throw CLIError("no objects found in \(ns) namespace") }
        } else {
            guard let name = inv.args.first else { throw CLIError("name is required") }
            objects = [try kube.get(a.resource, namespace: ns, name: name)]
        }
        let secretRef = ResourceRef.secrets
        for o in objects {
            inv.out.print("---")
            inv.out.write(try a.export(o).yamlString())
            if inv.flags.bool("with-credentials"), let sname = o["spec"]?["secretRef"]?["name"]?.string {
                let secret: Node
                do { secret = try kube.get(secretRef, namespace: ns, name: sname) } catch {
                    throw CLIError("failed to retrieve secret \(sname), error: \(error)")
                }
                var s: [(String, Node)] = [("apiVersion", "v1"), ("kind", "Secret"),
                                           ("metadata", .map([("name", .string(sname)), ("namespace", .string(ns))]))]
                if let d = secret["data"] { s.append(("data", d)) }
                if let t = secret["type"] { s.append(("type", t)) }
                inv.out.print("---")
                inv.out.write(try Node.map(s).yamlString())
            }
        }
        return 0
    }

    // MARK: delete

    static func delete() -> Command {
        var c = Command(name: "delete", summary: "Delete sources and resources", long: "The delete sub-commands delete sources and resources.")
        c.persistentFlags = [.bool("silent", "s", "delete resource without asking for confirmation")]
        c.subcommands = tree(verb: "delete", summary: { "Delete a \($0.kind.kind) resource" },
                             include: { $0.path.last != "external" },
                             example: { "  # Delete a \($0.adapter.kind.kind) and the objects it manages\n  fluxs delete \($0.path.joined(separator: " ")) podinfo" },
                             handler: runDelete)
        return c
    }

    static func runDelete(_ inv: Invocation, _ a: KindAdapter) throws -> Int32 {
        guard let name = inv.args.first else { throw CLIError("\(a.kind.humanKind) name is required") }
        let ns = try inv.namespace()
        let kube = try inv.kube()
        let object = try GetCommand.getObject(kube, a, namespace: ns, name: name)
        if !inv.flags.bool("silent") {
            guard try confirm(inv, "Are you sure you want to delete this \(a.kind.humanKind)") else { throw CLIError("aborting") }
        }
        inv.out.action("deleting \(a.kind.humanKind) \(name) in \(ns) namespace")
        if a.kind == FluxKinds.kustomization, case .local = Reconciliation.mode(inv, a, kube: kube) {
            try collectGarbage(inv, kube, object)
        }
        _ = try kube.delete(a.resource, namespace: ns, name: name)
        inv.out.success("\(a.kind.humanKind) deleted")
        if let left = try kube.getIfExists(a.resource, namespace: ns, name: name),
           let fin = left["metadata"]?["finalizers"]?.array, !fin.isEmpty {
            let names = fin.compactMap(\.string).joined(separator: ", ")
            inv.out.warning("\(a.kind.kind) \(name) waits for its finalizers (\(names)); the Flux controller that set them must remove them")
        }
        return 0
    }

    /// Without kustomize-controller nobody runs the Kustomization's finalizer, so fluxs does what it would do before
    /// the object goes: garbage-collect the inventory as spec.deletionPolicy says (FluxsCore's collector). When that
    /// fails the Kustomization is kept, as the finalizer keeps it, and the command fails.
    static func collectGarbage(_ inv: Invocation, _ kube: KubeClient, _ ks: Node) throws {
        let count = ks["status"]?["inventory"]?["entries"]?.array?.count ?? 0
        if let why = KustomizationGarbageCollector.reasonToKeep(ks) {
            if count > 0 { inv.out.action("keeping the \(count) object(s) of its inventory: \(why)") }
            return
        }
        // The objects are where the Kustomization applied them, as whom it applied them (kubeConfig, serviceAccountName).
        let target: KubeClient
        do { target = try KustomizationReconciler.targetClient(for: ks, kube: kube) } catch {
            throw CLIError("pruning for deleted resource failed, the Kustomization is kept: \(error)")
        }
        let gc = KustomizationGarbageCollector(kube: target)
        let policy = KustomizationGarbageCollector.policy(ks)
        inv.out.action("deleting the \(count) object(s) of its inventory (deletionPolicy \(policy.rawValue)), as kustomize-controller's finalizer does")
        let result: KustomizationGarbageCollector.Result
        do { result = try gc.collect(ks) { inv.out.success($0) } } catch let e as KustomizationGarbageCollector.Failure {
            throw CLIError("pruning for deleted resource failed, the Kustomization is kept: \(e.description)")
        }
        for s in result.skipped { inv.out.action(s) }
        if policy == .waitForTermination, !result.deleted.isEmpty {
            inv.out.waiting("waiting for the deleted objects to be terminated")
            let timeout = ks["spec"]?["timeout"]?.string.flatMap { try? GoDuration.parse($0) }
                ?? ks["spec"]?["interval"]?.string.flatMap { try? GoDuration.parse($0) } ?? 300
            let left = try gc.waitForTermination(result, timeout: timeout)
            if !left.isEmpty { inv.out.warning("failed to wait for resources termination: \(left.joined(separator: ", "))") }
        }
    }

    /// flux's confirm prompt on stdout; without a terminal there is nobody to answer, which is an error.
    static func confirm(_ inv: Invocation, _ label: String) throws -> Bool {
        guard isatty(0) == 1 else {
            throw CLIError("refusing to ask \"\(label)?\" without a terminal: pass --silent to confirm")
        }
        inv.out.write("? \(label)? [y/N] ")
        inv.out.flush()
        guard let line = readLine() else { return false }
        return line == "y" || line == "Y"
    }
}
