import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs plan`: what a sync would change in the cluster, for every selected Kustomization, like terraform plan
/// (docs/sync.md): objects to create, change (a unified diff, Secret values masked) and prune, totals at the end.
/// Exit 0 without changes, 1 with changes, 2 on errors (as `diff`).
enum PlanCommand {
    static func make() -> Command {
        var c = Command(name: "plan", summary: "Show what a sync would create, change and prune in the cluster",
                        long: """
                        The plan command builds every selected Kustomization from its source's current artifact (or from a
                        local directory with --path-override), runs a server-side dry run of every object and prints what a
                        sync would create, change (with a unified diff, Secret values masked) and prune, with totals.
                        Objects whose namespace or kind the same plan creates are shown as creations.
                        Exit status: 0 no changes, 1 changes, 2 errors.
                        """)
        c.examples = """
          # What a sync of the flux-system namespace would change
          fluxs plan

          # A pull request: the apps Kustomization built from the checked-out directory
          fluxs plan -A --path-override flux-system/apps=./apps/production -o json
        """
        c.flags = SyncCommand.selection + [
            .strings("path-override", nil, "NAME=DIR or NAMESPACE/NAME=DIR: build that Kustomization from a local directory (the directory of its spec.path)", array: true),
            .string("storage-path", nil, "where artifacts are kept (default $FLUXS_STORAGE_PATH or ~/.cache/fluxs/storage)"),
            Flag(name: "output", short: "o", kind: .choice(["text", "json"]), defaultValue: "text",
                 help: "output format: text or json", completion: .values(["text", "json"])),
        ]
        c.handler = { inv in
            do { return try run(inv) } catch let e as CLIError {
                inv.out.failure(e.message)
                return 2
            }
        }
        c.fluxsOnly = true
        c.note = "fluxs addition: cluster-wide drift of every Kustomization, terraform-style, exit codes as diff (docs/sync.md)"
        return c
    }

    enum Action: String { case create, change, prune }

    struct Change {
        var action: Action
        var subject: String
        var diff: String
    }

    struct Entry {
        var key: SyncKey
        var revision = ""
        var note = ""
        var error: String?
        var changes: [Change] = []
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        if !inv.args.isEmpty { throw CLIError("plan takes no arguments (select Kustomizations with --namespace, --all-namespaces and --label-selector)") }
        let kube = try inv.kube()
        let allNS = inv.flags.bool("all-namespaces")
        let ns = try inv.namespace()
        var overrides: [String: String] = [:]
        for o in inv.flags.strings("path-override") {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex, o.index(after: eq) != o.endIndex else {
                throw CLIError("invalid --path-override '\(o)': expected NAME=DIR or NAMESPACE/NAME=DIR")
            }
            var name = String(o[..<eq])
            if !name.contains("/") { name = "\(ns)/\(name)" }
            let dir = Files.absolute(String(o[o.index(after: eq)...]))
            guard Files.isDirectory(dir) else { throw CLIError("invalid --path-override '\(o)': \(dir) is not a directory") }
            overrides[name] = dir
        }
        let selected = try SyncCommand.select(inv, kube, namespace: allNS ? nil : ns, labels: inv.flags.string("label-selector"),
                                              kinds: [FluxKinds.kustomization])
        if selected.isEmpty { throw CLIError("no Kustomizations found \(allNS ? "in any namespace" : "in \"\(ns)\" namespace")") }
        for k in overrides.keys where !selected.contains(where: { "\($0["metadata"]?["namespace"]?.string ?? "")/\($0["metadata"]?["name"]?.string ?? "")" == k }) {
            throw CLIError("--path-override names Kustomization \(k), which is not selected")
        }
        let storage = Reconciliation.storage(inv)
        let revealed = SopsRevealed()

        // Every build first: what the plan creates (namespaces, CRDs) is known before any dry run.
        var entries: [Entry] = []
        var builds: [[Node]] = []
        for ks in selected {
            var e = Entry(key: SyncKey(ks))
            var objects: [Node] = []
            if ks["spec"]?["suspend"]?.bool == true {
                e.note = "suspended: a sync does not reconcile it"
            } else {
                do {
                    let b = try KustomizationPlanBuild.build(ks, kube: kube, storage: storage, localPath: overrides["\(e.key.namespace)/\(e.key.name)"], revealed: revealed)
                    e.revision = b.revision
                    objects = b.objects
                } catch let f as KustomizationPlanBuild.Failure { e.error = f.description } catch let k as KubeError { e.error = k.message }
            }
            entries.append(e)
            builds.append(objects)
        }
        let all = builds.flatMap { $0 }
        var newNamespaces = Set<String>()
        for o in all where o["kind"]?.string == "Namespace" && o["apiVersion"]?.string == "v1" {
            let n = o["metadata"]?["name"]?.string ?? ""
            if try kube.getIfExists(ResourceRef.namespaces, namespace: nil, name: n) == nil { newNamespaces.insert(n) }
        }
        var newKinds = Set<String>()
        for o in all where o["kind"]?.string == "CustomResourceDefinition" {
            let group = o["spec"]?["group"]?.string ?? "", kind = o["spec"]?["names"]?["kind"]?.string ?? ""
            newKinds.insert("\(group)/\(kind)")
        }

        for i in entries.indices where entries[i].error == nil {
            let ks = selected[i]
            do {
                for o in builds[i] { if let c = try change(o, kube: kube, newNamespaces: newNamespaces, newKinds: newKinds, revealed: revealed) { entries[i].changes.append(c) } }
                for s in try KustomizationPlanBuild.prunable(ks, objects: builds[i], kube: kube) { entries[i].changes.append(Change(action: .prune, subject: s, diff: "")) }
            } catch let e as CLIError { entries[i].error = e.message; entries[i].changes = [] } catch let e as KubeError { entries[i].error = e.message; entries[i].changes = [] }
        }
        let changes = entries.flatMap(\.changes)
        func count(_ a: Action) -> Int { changes.filter { $0.action == a }.count }
        let errors = entries.filter { $0.error != nil }.count
        if inv.flags.string("output") == "json" {
            let items: [Node] = entries.map { e in
                .map([("kind", .string(e.key.kind)), ("namespace", .string(e.key.namespace)), ("name", .string(e.key.name)),
                      ("revision", .string(e.revision)), ("note", .string(e.note)), ("error", e.error.map { .string($0) } ?? .null),
                      ("changes", .sequence(e.changes.map { c in .map([("action", .string(c.action.rawValue)), ("object", .string(c.subject)), ("diff", .string(c.diff))]) }))])
            }
            let doc: Node = .map([("apiVersion", "fluxs.dev/v1alpha1"), ("kind", "Plan"), ("kustomizations", .sequence(items)),
                                  ("summary", .map([("create", .int(count(.create))), ("change", .int(count(.change))), ("prune", .int(count(.prune))),
                                                    ("errors", .int(errors))]))])
            inv.out.write(try doc.jsonString(indent: "  ") + "\n")
        } else {
            var out = ""
            for e in entries {
                out += "Kustomization \(e.key.namespace)/\(e.key.name)" + (e.revision.isEmpty ? "" : " (\(e.revision))") + "\n"
                if let err = e.error { out += "  ✗ \(err)\n"; continue }
                if !e.note.isEmpty { out += "  \(e.note)\n"; continue }
                if e.changes.isEmpty { out += "  no changes\n" }
                for c in e.changes {
                    switch c.action {
                    case .create: out += "  + \(c.subject) will be created\n"
                    case .change: out += "  ~ \(c.subject) will be changed\n" + c.diff.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "      \($0)\n" }.joined()
                    case .prune: out += "  - \(c.subject) will be pruned\n"
                    }
                }
            }
            out += "\nPlan: \(count(.create)) to create, \(count(.change)) to change, \(count(.prune)) to prune" + (errors > 0 ? "; \(errors) Kustomization\(errors == 1 ? "" : "s") failed" : "") + ".\n"
            inv.out.write(out)
        }
        if errors > 0 {
            for e in entries { if let err = e.error { inv.out.failure("Kustomization \(e.key.namespace)/\(e.key.name): \(err)") } }
            return 2
        }
        return changes.isEmpty ? 0 : 1
    }

    /// What applying `o` would do: nil when nothing. The reconciler's test (Applier): a dry run without a live object
    /// is a creation, one whose result differs from the live object (managedFields and resourceVersion aside) a change.
    static func change(_ built: Node, kube: KubeClient, newNamespaces: Set<String>, newKinds: Set<String>, revealed: SopsRevealed) throws -> Change? {
        let o = DiffCommand.normalized(built)
        let subject = FluxsCore.subject(of: o)
        let av = o["apiVersion"]?.string ?? ""
        let group = av.contains("/") ? String(av.split(separator: "/")[0]) : ""
        let r: ResourceRef
        do { r = try kube.resource(for: o) } catch let e as KubeError {
            if newKinds.contains("\(group)/\(o["kind"]?.string ?? "")") { return Change(action: .create, subject: subject, diff: "") }
            throw CLIError("\(subject): \(e.message)")
        }
        let ns = r.namespaced ? o["metadata"]?["namespace"]?.string : nil
        if let ns, newNamespaces.contains(ns) { return Change(action: .create, subject: subject, diff: "") }
        let live: Node?
        do { live = try kube.getIfExists(r, namespace: ns, name: o["metadata"]?["name"]?.string ?? "") } catch let e as KubeError {
            throw CLIError("\(subject) query failed: \(e.message)")
        }
        let merged: Node
        do { merged = try kube.apply(o, fieldManager: KustomizationReconciler.controller, force: true, dryRun: true) } catch let e as KubeError {
            throw CLIError("\(subject) dry-run failed\(e.reason.isEmpty ? "" : " (\(e.reason))"): \(e.message)")
        }
        guard let live else { return Change(action: .create, subject: subject, diff: "") }
        func volatile(_ n: Node) -> Node { var c = n; c.set(["metadata", "managedFields"], nil); c.set(["metadata", "resourceVersion"], nil); return c }
        if live["metadata"]?["resourceVersion"]?.string == merged["metadata"]?["resourceVersion"]?.string && volatile(live) == volatile(merged) { return nil }
        var before = Dyff.comparable(live), after = Dyff.comparable(merged)
        if o["kind"]?.string == "Secret" && group.isEmpty { (before, after) = maskSecret(before, after) } else { (before, after) = revealed.mask(live: before, built: after) }
        let diff = UnifiedDiff.render(try before.yamlString(), try after.yamlString(), from: "live", to: "planned")
        return Change(action: .change, subject: subject, diff: diff)
    }

    /// Secret values never printed: equal values as `*****`, changed ones as `***** (before)` / `***** (after)`.
    static func maskSecret(_ a: Node, _ b: Node) -> (Node, Node) {
        var a = a, b = b
        for field in ["data", "stringData"] {
            let ma = a[field]?.map, mb = b[field]?.map
            let keys = Set((ma?.entries.map(\.0) ?? []) + (mb?.entries.map(\.0) ?? []))
            for k in keys {
                let va = ma?[k], vb = mb?[k]
                let same = va == vb
                if va != nil { a.set([field, k], .string(same ? "*****" : "***** (before)")) }
                if vb != nil { b.set([field, k], .string(same ? "*****" : "***** (after)")) }
            }
        }
        return (a, b)
    }
}
