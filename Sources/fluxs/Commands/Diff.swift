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
                       subcommands: [ks, ArtifactCommands.diff()])
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
        let object = try BuildCommand.resolve(kube, name: name, namespace: ns, file: f.string("kustomization-file"),
                                              ignoreNotFound: f.bool("ignore-not-found"))
        var options = BuildCommand.Options(ignorePaths: f.strings("ignore-paths"), strictSubstitute: f.bool("strict-substitute"),
                                           recursive: false, localSources: try BuildCommand.localSources(f), kube: kube)
        // Decrypted objects go to the dry run in clear; the report masks their values.
        options.mask = false
        options.warn = { inv.out.warning($0) }
        var out = ""
        let changed = try diffOne(object, path: path, options, recursive: f.bool("recursive"), kube: kube, out: &out)
        inv.out.write(out)
        if changed {
            inv.out.stderr("⚠️ identified at least one change, exiting with non-zero exit code")
            return 1
        }
        return 0
    }

    /// The live object and the dry run of each object the diff compares (by index), fetched before the report is
    /// written: the dry runs together (KubeClient.applyAll), the live objects from one LIST per kind and namespace
    /// with the Kustomization's owner labels, and a GET each (together) for those the lists lack.
    static func prefetch(_ objects: [Node], owner: Node, newNamespaces: Set<String>, kube: KubeClient) -> [Int: (live: Result<Node?, Error>, merged: Result<Node, Error>)] {
        var picked: [(index: Int, object: Node, ref: ResourceRef, namespace: String?, name: String)] = []
        for (i, built) in objects.enumerated() {
            let o = normalized(built)
            if inMetadata(o, "kustomize.toolkit.fluxcd.io/reconcile", "disabled") || inMetadata(o, "kustomize.toolkit.fluxcd.io/ssa", "ignore") { continue }
            guard let r = try? kube.resource(for: o), let name = o["metadata"]?["name"]?.string else { continue }
            let ns = r.namespaced ? o["metadata"]?["namespace"]?.string : nil
            if let ns, newNamespaces.contains(ns) { continue }
            picked.append((i, o, r, ns, name))
        }
        guard picked.count > 1 else { return [:] }
        var owned = OwnedObjects(kube: kube, selector: KustomizationReconciler.ownerSelector(
            name: owner["metadata"]?["name"]?.string ?? "", namespace: owner["metadata"]?["namespace"]?.string ?? ""))
        var live: [Int: Result<Node?, Error>] = [:]
        var missing: [Int] = []
        for (k, p) in picked.enumerated() {
            do {
                if let o = try owned.get(p.ref, namespace: p.namespace, name: p.name) { live[k] = .success(o) } else { missing.append(k) }
            } catch { missing.append(k) }
        }
        let gets = kube.callAll(missing.map { KubeClient.Request("GET", kube.path(picked[$0].ref, namespace: picked[$0].namespace, name: picked[$0].name)) })
        for (k, answer) in zip(missing, gets) {
            switch answer {
            case .success(let resp): live[k] = Result { try JSON.decode(bytes: resp.body) }
            case .failure(let e as KubeError) where e.kind == .notFound && e.name != nil: live[k] = .success(nil)
            case .failure(let e): live[k] = .failure(e)
            }
        }
        let dries = kube.applyAll(picked.map(\.object), fieldManager: KustomizationReconciler.controller, force: true, dryRun: true)
        var out: [Int: (live: Result<Node?, Error>, merged: Result<Node, Error>)] = [:]
        for (k, p) in picked.enumerated() { out[p.index] = (live[k] ?? .success(nil), dries[k]) }
        return out
    }

    /// One Kustomization's diff lines; true when something would be created, changed or deleted. Per object, as
    /// fluxcd/pkg ssa's Diff: reconcile-disabled and ssa-ignored objects are skipped, every other object goes through a
    /// server-side dry run with kustomize-controller's field manager, spec.ignore drift rules strip their paths from
    /// both sides, and SOPS-encrypted Secrets are compared by their keys only.
    static func diffOne(_ object: Node, path: String, _ options: BuildCommand.Options, recursive: Bool, kube: KubeClient, out: inout String) throws -> Bool {
        let objects: [Node]
        do { objects = try BuildCommand.build(object, path: path, options) } catch let e as FluxBuild.Failure { throw CLIError(e.description) }
        let rules = try DriftIgnoreRule.parse(object["spec"]?["ignore"])
        // Objects in namespaces this build creates cannot be dry-run yet; they are new with their namespace.
        var newNamespaces = Set<String>()
        for o in objects where o["kind"]?.string == "Namespace" && o["apiVersion"]?.string == "v1" {
            let n = o["metadata"]?["name"]?.string ?? ""
            if try kube.getIfExists(ResourceRef.namespaces, namespace: nil, name: n) == nil { newNamespaces.insert(n) }
        }
        let prefetched = prefetch(objects, owner: object, newNamespaces: newNamespaces, kube: kube)
        var changed = false
        var errors: [String] = []
        var ids = Set<String>()
        for (index, built) in objects.enumerated() {
            let o = normalized(built)
            let subject = FluxsCore.subject(of: o)
            if inMetadata(o, "kustomize.toolkit.fluxcd.io/reconcile", "disabled") || inMetadata(o, "kustomize.toolkit.fluxcd.io/ssa", "ignore") {
                out += "► \(subject) skipped\n"
                continue
            }
            do {
                let r = try kube.resource(for: o)
                let ns = r.namespaced ? o["metadata"]?["namespace"]?.string : nil
                ids.insert(KustomizationReconciler.inventoryID(o))
                if let ns, newNamespaces.contains(ns) {
                    out += "► \(subject) created\n"
                    changed = true
                    continue
                }
                let pre = prefetched[index]
                let current = try (pre?.live ?? Result { try kube.getIfExists(r, namespace: ns, name: o["metadata"]?["name"]?.string ?? "") }).get()
                let merged: Node
                do {
                    merged = try (pre?.merged ?? Result { try kube.apply(o, fieldManager: KustomizationReconciler.controller, force: true, dryRun: true) }).get()
                } catch let e as KubeError {
                    if e.kind == .notFound { throw CLIError(ns == nil ? "\(subject) namespace not specified: \(e.message)" : "\(subject) not found: \(e.message)") }
                    throw CLIError("\(subject) dry-run failed\(e.reason.isEmpty ? "" : " (\(e.reason))"): \(e.message)")
                }
                guard let current else {
                    out += "► \(subject) created\n"
                    changed = true
                    continue
                }
                var live = Dyff.comparable(current), after = Dyff.comparable(merged)
                for rule in rules where rule.matches(merged) {
                    for p in rule.paths { live = removing(p, from: live); after = removing(p, from: after) }
                }
                var secret = o["kind"]?.string == "Secret"
                if secret, sopsEncrypted(o) {
                    // flux compares SOPS-encrypted Secrets by their keys: values are unknown locally.
                    live["data"] = keysOnly(live["data"]); after["data"] = keysOnly(after["data"])
                    secret = false
                }
                if !secret { (live, after) = options.revealed.mask(live: live, built: after) }
                let report = Dyff.report(live, after, secret: secret)
                if !report.isEmpty {
                    out += "► \(subject) drifted\n" + report
                    changed = true
                }
                if recursive, o["kind"]?.string == "Kustomization", (o["apiVersion"]?.string ?? "").hasPrefix("kustomize.toolkit.fluxcd.io/") {
                    let childName = o["metadata"]?["name"]?.string ?? "", childNS = o["metadata"]?["namespace"]?.string ?? ""
                    if childName != object["metadata"]?["name"]?.string || childNS != object["metadata"]?["namespace"]?.string {
                        if o["spec"]?["kubeConfig"] != nil {
                            out += "⚠️ \(subject) skipped: diff not supported for remote clusters\n"
                            continue
                        }
                        let childPath: String
                        do { childPath = try BuildCommand.localPath(of: o, options) } catch let e as FluxBuild.Failure { throw CLIError(e.description) }
                        var sub = ""
                        do {
                            if try diffOne(current, path: childPath, options, recursive: true, kube: kube, out: &sub) {
                                out += "📁 \(subject) changed\n" + sub
                                changed = true
                            }
                        } catch let e as CLIError { errors.append(e.message) }
                    }
                }
            } catch let e as KubeError {
                errors.append("\(subject): \(e.message)")
            } catch let e as CLIError {
                errors.append(e.message)
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

    /// As fluxcd/pkg ssa/normalize before a diff: a Secret's stringData is moved into data (base64), so the dry run
    /// sets the same fields an apply of a normalized object sets.
    static func normalized(_ o: Node) -> Node {
        guard o["kind"]?.string == "Secret", o["apiVersion"]?.string == "v1", let sd = o["stringData"]?.map else { return o }
        var out = o
        var data = o["data"]?.map ?? Mapping()
        for (k, v) in sd.entries { data[k] = .string(Base64.encode(Array((v.text ?? "").utf8))) }
        out["data"] = .mapping(data)
        out["stringData"] = nil
        return out
    }

    /// A label or annotation with this value, compared case-insensitively (fluxcd/pkg ssa AnyInMetadata).
    static func inMetadata(_ o: Node, _ key: String, _ value: String) -> Bool {
        ["labels", "annotations"].contains { (o["metadata"]?[$0]?[key]?.string ?? "").lowercased() == value }
    }

    /// Secret values fluxs masked because they are SOPS-encrypted (`**SOPS**` in data or stringData).
    static func sopsEncrypted(_ o: Node) -> Bool {
        let data = o["data"]?.map?.entries.compactMap { $0.1.string.flatMap { Base64.decode($0) }.map { String(decoding: $0, as: UTF8.self) } } ?? []
        let stringData = o["stringData"]?.map?.entries.compactMap { $0.1.string } ?? []
        return (data + stringData).contains { $0.contains("**SOPS**") }
    }

    static func keysOnly(_ data: Node?) -> Node? {
        guard let m = data?.map else { return data }
        return .mapping(Mapping(m.entries.map { ($0.0, Node.string("*****")) }))
    }

    /// The node without the field at a JSON pointer (RFC 6901); unchanged when the path does not exist.
    static func removing(_ pointer: String, from n: Node) -> Node {
        let tokens = pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            .map { String($0).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~") }
        func remove(_ n: Node, _ t: ArraySlice<String>) -> Node {
            guard let head = t.first else { return n }
            switch n {
            case .mapping(var m):
                guard let child = m[head] else { return n }
                if t.count == 1 { m[head] = nil } else { m[head] = remove(child, t.dropFirst()) }
                return .mapping(m)
            case .sequence(var a):
                guard let i = Int(head), i >= 0, i < a.count else { return n }
                if t.count == 1 { a.remove(at: i) } else { a[i] = remove(a[i], t.dropFirst()) }
                return .sequence(a)
            default:
                return n
            }
        }
        return tokens.isEmpty ? n : remove(n, tokens[...])
    }
}

/// A `spec.ignore` drift rule of a Kustomization: JSON pointers to leave out of drift detection, for the objects its
/// target selects (group, version, kind, name and namespace as anchored regular expressions; label and annotation
/// selectors), as fluxcd/pkg ssa/jsondiff selects them.
struct DriftIgnoreRule {
    var paths: [String]
    var group: Regex<AnyRegexOutput>?, version: Regex<AnyRegexOutput>?, kind: Regex<AnyRegexOutput>?
    var name: Regex<AnyRegexOutput>?, namespace: Regex<AnyRegexOutput>?
    var labels: SelectorExpression?, annotations: SelectorExpression?

    static func parse(_ ignore: Node?) throws -> [DriftIgnoreRule] {
        try (ignore?.array ?? []).map { r in
            func regex(_ field: String) throws -> Regex<AnyRegexOutput>? {
                guard let p = r["target"]?[field]?.string, !p.isEmpty else { return nil }
                do { return try Regex("^(?:" + p + ")$") } catch { throw CLIError("invalid \(field) regex: \(p)") }
            }
            func selector(_ field: String) throws -> SelectorExpression? {
                guard let s = r["target"]?[field]?.string, !s.isEmpty else { return nil }
                do { return try SelectorExpression(s) } catch { throw CLIError("invalid \(field == "labelSelector" ? "label" : "annotation") selector: \(error)") }
            }
            return DriftIgnoreRule(paths: (r["paths"]?.array ?? []).compactMap(\.string), group: try regex("group"),
                                   version: try regex("version"), kind: try regex("kind"), name: try regex("name"),
                                   namespace: try regex("namespace"), labels: try selector("labelSelector"),
                                   annotations: try selector("annotationSelector"))
        }
    }

    func matches(_ o: Node) -> Bool {
        let av = o["apiVersion"]?.string ?? ""
        let g = av.contains("/") ? String(av.split(separator: "/")[0]) : ""
        let v = av.contains("/") ? String(av.split(separator: "/")[1]) : av
        func ok(_ r: Regex<AnyRegexOutput>?, _ s: String) -> Bool { r == nil || (try? r!.wholeMatch(in: s)) != nil }
        return ok(group, g) && ok(version, v) && ok(kind, o["kind"]?.string ?? "") && ok(name, o["metadata"]?["name"]?.string ?? "")
            && ok(namespace, o["metadata"]?["namespace"]?.string ?? "")
            && (labels?.matches(o["metadata"]?["labels"]) ?? true) && (annotations?.matches(o["metadata"]?["annotations"]) ?? true)
    }
}
