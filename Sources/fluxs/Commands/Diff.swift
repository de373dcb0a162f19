import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs diff kustomization NAME --path DIR`: what `reconcile kustomization` would change, found with server-side
/// dry runs (reference §5.22). Exit 0 without changes, 1 with changes, 2 on errors.
enum DiffCommand {
    static func make() -> Command {
        let ks = Command(
            name: "kustomization", aliases: ["ks"], summary: "Diff Kustomization",
            long: "The diff command does a build, then it performs a server-side dry-run and prints the diff.\nExit status: 0 No differences were found. 1 Differences were found. >1 diff failed with an error.",
            examples: "  # Preview local changes as they were applied on the cluster\n  fluxs diff kustomization my-app --path=./path/to/local/manifests\n\n  # Preview using a local flux kustomization file\n  fluxs diff kustomization my-app --path=./path/to/local/manifests \\\n\t--kustomization-file ./path/to/local/my-app.yaml",
            flags: [
                .string("path", nil, "Path to a local directory that matches the specified Kustomization.spec.path."),
                .bool("progress-bar", nil, "Boolean to set the progress bar. The default value is true.", default: true),
                .strings("ignore-paths", nil, "set paths to ignore in .gitignore format"),
                .string("kustomization-file", nil, "Path to the Flux Kustomization YAML file."),
                .bool("strict-substitute", nil, "When enabled, the post build substitutions will fail if a var without a default value is declared in files but is missing from the input vars."),
                .bool("recursive", "r", "Recursively diff Kustomizations"),
                .strings("local-sources", nil, "Comma-separated list of repositories in format: Kind/namespace/name=path"),
                .bool("ignore-not-found", nil, "treat a missing Kustomization in the cluster as new (requires --kustomization-file)"),
            ],
            args: .names(kind: "Kustomization", many: false), handler: run)
        return Command(name: "diff", summary: "Diff a flux resource", long: "The diff command is used to do a server-side dry-run on flux resources, then prints the diff.",
                       subcommands: [ks, PlannedCommands.planned("artifact", [], "Diff artifact")])
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        do {
            return try diff(inv)
        } catch let e as CLIError {
            inv.out.failure(e.message)
            return 2
        }
    }

    static func diff(_ inv: Invocation) throws -> Int32 {
        guard let name = inv.args.first else { throw CLIError("kustomization name is required") }
        let f = inv.flags
        let path = try BuildCommand.validPath(f.string("path"))
        let ns = try inv.namespace()
        let kube = try inv.kube()
        var live: Node?
        do { live = try kube.getIfExists(Adapters.kustomization.resource, namespace: ns, name: name) } catch let e as KubeError where e.kind == .notFound {
            live = nil
        }
        let file = f.string("kustomization-file")
        var object: Node
        if !file.isEmpty {
            object = try BuildCommand.kustomization(file: file, name: name, namespace: ns)
            if let inventory = live?["status"]?["inventory"] { object.set(["status", "inventory"], inventory) }
        } else {
            guard let live else { throw CLIError("failed to get kustomization object: kustomizations.kustomize.toolkit.fluxcd.io \"\(name)\" not found") }
            object = live
        }
        let options = BuildCommand.Options(ignorePaths: f.strings("ignore-paths"), strictSubstitute: f.bool("strict-substitute"),
                                           recursive: false, localSources: try BuildCommand.localSources(f), kube: kube)
        var out = ""
        let changed = try diffOne(object, path: path, options, recursive: f.bool("recursive"), kube: kube, out: &out)
        inv.out.write(out)
        if changed {
            inv.out.stderr("⚠️ identified at least one change, exiting with non-zero exit code")
            return 1
        }
        return 0
    }

    /// One Kustomization's diff lines; true when something would be created, changed or deleted.
    static func diffOne(_ object: Node, path: String, _ options: BuildCommand.Options, recursive: Bool, kube: KubeClient, out: inout String) throws -> Bool {
        let objects: [Node]
        do { objects = try BuildCommand.build(object, path: path, options) } catch let e as FluxBuild.Failure { throw CLIError(e.description) }
        var changed = false
        var errors: [String] = []
        var ids = Set<String>()
        for o in objects {
            let subject = FluxsCore.subject(of: o)
            let anns = o["metadata"]?["annotations"]
            if anns?["kustomize.toolkit.fluxcd.io/reconcile"]?.string == "disabled" || anns?["kustomize.toolkit.fluxcd.io/ssa"]?.string?.lowercased() == "ignore" {
                out += "► \(subject) skipped\n"
                continue
            }
            do {
                let r = try kube.resource(for: o)
                let ns = r.namespaced ? o["metadata"]?["namespace"]?.string : nil
                ids.insert(KustomizationReconciler.inventoryID(o))
                guard let current = try kube.getIfExists(r, namespace: ns, name: o["metadata"]?["name"]?.string ?? "") else {
                    out += "► \(subject) created\n"
                    changed = true
                    continue
                }
                let merged = try kube.apply(o, fieldManager: KustomizationReconciler.controller, force: true, dryRun: true)
                let report = Dyff.report(Dyff.comparable(current), Dyff.comparable(merged), secret: o["kind"]?.string == "Secret")
                if !report.isEmpty {
                    out += "► \(subject) drifted\n\n" + report + "\n"
                    changed = true
                }
                if recursive, o["kind"]?.string == "Kustomization", (o["apiVersion"]?.string ?? "").hasPrefix("kustomize.toolkit.fluxcd.io/") {
                    let childName = o["metadata"]?["name"]?.string ?? "", childNS = o["metadata"]?["namespace"]?.string ?? ""
                    if childName != object["metadata"]?["name"]?.string || childNS != object["metadata"]?["namespace"]?.string {
                        let childPath: String
                        do { childPath = try BuildCommand.localPath(of: o, options) } catch let e as FluxBuild.Failure { throw CLIError(e.description) }
                        var sub = ""
                        if try diffOne(current, path: childPath, options, recursive: true, kube: kube, out: &sub) {
                            out += "📁 \(subject) changed\n" + sub
                            changed = true
                        }
                    }
                }
            } catch let e as KubeError {
                errors.append("\(subject): \(e.message)")
            }
        }
        if errors.isEmpty, object["spec"]?["prune"]?.bool == true {
            for e in object["status"]?["inventory"]?["entries"]?.array ?? [] {
                guard let id = e["id"]?.string, !ids.contains(id) else { continue }
                out += "► \(KustomizationReconciler.inventorySubject(id)) deleted\n"
                changed = true
            }
        }
        if !errors.isEmpty { throw CLIError(errors.joined(separator: "; ")) }
        return changed
    }
}

/// A dyff-style report of what a server-side apply would change in an object (the "human" format flux prints).
enum Dyff {
    /// The object without the fields the server manages.
    static func comparable(_ o: Node) -> Node {
        var c = o
        for f in ["managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"] {
            c.set(["metadata", f], nil)
        }
        c.set(["status"], nil)
        return c
    }

    static let numbers = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]

    static func count(_ n: Int, _ noun: String) -> String {
        let word = n < numbers.count ? numbers[n] : String(n)
        return "\(word) \(noun)\(n == 1 ? "y" : "ies")"   // "entry"/"entries"
    }

    static func report(_ live: Node, _ merged: Node, secret: Bool) -> String {
        var blocks: [String] = []
        walk(live, merged, path: [], secret: secret, into: &blocks)
        return blocks.joined(separator: "\n")
    }

    static func yaml(_ n: Node, indent: String) -> String {
        let text = (try? YAMLEmitter().emit(n)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }.map { indent + $0 }.joined(separator: "\n") + "\n"
    }

    static func walk(_ a: Node, _ b: Node, path: [String], secret: Bool, into out: inout [String]) {
        let where_ = path.joined(separator: ".")
        switch (a, b) {
        case (.mapping(let ma), .mapping(let mb)):
            let added = mb.entries.filter { ma[$0.0] == nil }
            let removed = ma.entries.filter { mb[$0.0] == nil }
            if !added.isEmpty {
                out.append("\(where_)\n+ \(count(added.count, "map entr")) added:\n" + yaml(.mapping(Mapping(added.map { ($0.0, mask($0.1, secret)) })), indent: "  "))
            }
            if !removed.isEmpty {
                out.append("\(where_)\n- \(count(removed.count, "map entr")) removed:\n" + yaml(.mapping(Mapping(removed.map { ($0.0, mask($0.1, secret)) })), indent: "  "))
            }
            for (k, v) in ma.entries { if let w = mb[k] { walk(v, w, path: path + [k], secret: secret, into: &out) } }
        case (.sequence(let la), .sequence(let lb)):
            let named = (la + lb).allSatisfy { $0["name"]?.string != nil }
            if named {
                let names = la.compactMap { $0["name"]?.string }, other = lb.compactMap { $0["name"]?.string }
                let added = lb.filter { !names.contains($0["name"]!.string!) }, removed = la.filter { !other.contains($0["name"]!.string!) }
                if !added.isEmpty { out.append("\(where_)\n+ \(count(added.count, "list entr")) added:\n" + yaml(.sequence(added), indent: "  ")) }
                if !removed.isEmpty { out.append("\(where_)\n- \(count(removed.count, "list entr")) removed:\n" + yaml(.sequence(removed), indent: "  ")) }
                for x in la { if let y = lb.first(where: { $0["name"] == x["name"] }) { walk(x, y, path: path + [x["name"]!.string!], secret: secret, into: &out) } }
            } else if la.count == lb.count {
                for i in la.indices { walk(la[i], lb[i], path: path + [String(i)], secret: secret, into: &out) }
            } else if la != lb {
                out.append("\(where_)\n± value change\n" + yaml(.sequence(la), indent: "- ") + yaml(.sequence(lb), indent: "+ "))
            }
        default:
            guard a != b else { return }
            let isSecretValue = secret && (path.first == "data" || path.first == "stringData")
            let before = isSecretValue ? "*** (before)" : (a.text ?? ((try? JSON.encode(a)) ?? ""))
            let after = isSecretValue ? "*** (after)" : (b.text ?? ((try? JSON.encode(b)) ?? ""))
            out.append("\(where_)\n± value change\n- \(before)\n+ \(after)\n")
        }
    }

    static func mask(_ n: Node, _ secret: Bool) -> Node { secret ? .string("***") : n }
}
