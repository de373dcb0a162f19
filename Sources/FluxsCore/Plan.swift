import FluxsAPI
import FluxsKube
import FluxsYAML

/// What `fluxs plan` builds for one Kustomization: the objects kustomize-controller would apply from the source's
/// current artifact (or from a local directory), built with the reconciler's settings (FluxBuild with the secrets
/// in clear, SOPS decryption, postBuild lookups, the manifest checks), reconcile-disabled objects left out.
public enum KustomizationPlanBuild {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public struct Result {
        public var revision: String
        public var objects: [Node]
    }

    /// Builds from the artifact of the Kustomization's source, or from `localPath` (the directory of spec.path).
    public static func build(_ ks: Node, kube: KubeClient, storage: Storage, localPath: String? = nil, revealed: SopsRevealed = SopsRevealed()) throws -> Result {
        let ns = ks["metadata"]?["namespace"]?.string ?? ""
        let spec = ks["spec"]
        let path = spec?["path"]?.string ?? ""
        if let localPath {
            return Result(revision: "local:" + localPath, objects: try objects(ks, dir: localPath, root: nil, kube: kube, revealed: revealed))
        }
        let src = spec?["sourceRef"]
        let srcKind = src?["kind"]?.string ?? ""
        let srcNS = src?["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? ns
        let srcName = src?["name"]?.string ?? ""
        let srcID = "\(srcKind)/\(srcNS)/\(srcName)"
        guard let kind = KustomizationReconciler.sourceKinds[srcKind] else { throw Failure(description: "source kind '\(srcKind)' is not supported") }
        guard let source = try kube.getIfExists(kind.resource, namespace: srcNS, name: srcName) else {
            throw Failure(description: "Source '\(srcID)' not found")
        }
        guard let node = source["status"]?["artifact"], let artifact = try? APICoding.decode(Artifact.self, from: node) else {
            throw Failure(description: "source \(srcID) has no artifact yet; reconcile it first ('fluxs reconcile source git \(srcName) -n \(srcNS)' or 'fluxs sync')")
        }
        let bytes: [UInt8]
        do { bytes = try storage.fetch(artifact) { try HTTPDownload.get($0, timeout: max(0.001, kube.remaining)) } } catch {
            throw Failure(description: "failed to download artifact from \(artifact.url): \(error)")
        }
        let workdir = tempPath("plan")
        defer { Files.removeTree(workdir) }
        do {
            try KustomizationReconciler().extract(bytes, into: workdir, deadline: monotonicSeconds() + max(1, kube.remaining), limit: "--timeout")
        } catch let f as ReconcileFailure { throw Failure(description: f.message) }
        var rel = Substring(path)
        while rel.hasPrefix("./") { rel = rel.dropFirst(2) }
        let dir = rel.isEmpty ? workdir : workdir + "/" + rel
        if rel.split(separator: "/").contains("..") || !Files.isDirectory(dir) {
            throw Failure(description: "kustomization path not found: stat \(path): no such file or directory")
        }
        do {
            return Result(revision: artifact.revision, objects: try objects(ks, dir: dir, root: workdir, kube: kube, revealed: revealed))
        } catch let f as Failure {
            throw Failure(description: f.description.replacing(workdir + "/", with: ""))
        }
    }

    static func objects(_ ks: Node, dir: String, root: String?, kube: KubeClient, revealed: SopsRevealed) throws -> [Node] {
        let ns = ks["metadata"]?["namespace"]?.string ?? ""
        var build = FluxBuild(kustomization: ks, path: dir)
        build.maskSecrets = false
        do { build.decryption = try KustomizationDecryption.load(for: ks, kube: kube, root: root, revealed: revealed) } catch let e as KustomizationDecryption.Failure {
            throw Failure(description: e.description)
        }
        build.lookup = { kind, n in try KustomizationReconciler.values(kube, kind: kind, namespace: ns, name: n) }
        let built: [Node]
        do { built = try build.build(); try ManifestChecks.check(built, build: build) } catch let e as FluxBuild.Failure {
            throw Failure(description: e.description)
        }
        return built.filter { $0["metadata"]?["annotations"]?["kustomize.toolkit.fluxcd.io/reconcile"]?.string != "disabled" }
    }

    /// Inventory entries of `ks` that a reconcile of `objects` would prune: gone from the build, still in the cluster,
    /// owned by this Kustomization and not opted out — the reconciler's prune rules, without deleting.
    public static func prunable(_ ks: Node, objects: [Node], kube: KubeClient) throws -> [String] {
        guard ks["spec"]?["prune"]?.bool == true else { return [] }
        let name = ks["metadata"]?["name"]?.string ?? "", ns = ks["metadata"]?["namespace"]?.string ?? ""
        let keep = Set(objects.map(KustomizationReconciler.inventoryID))
        var out: [String] = []
        for e in ks["status"]?["inventory"]?["entries"]?.array ?? [] {
            guard let id = e["id"]?.string, !keep.contains(id), let p = KustomizationReconciler.parse(id) else { continue }
            let v = e["v"]?.string ?? ""
            let r: ResourceRef
            do { r = try kube.resource(apiVersion: p.group.isEmpty ? v : "\(p.group)/\(v)", kind: p.kind) } catch let err as KubeError {
                if err.kind == .notFound { continue }
                throw err
            }
            guard let live = try kube.getIfExists(r, namespace: r.namespaced ? p.namespace : nil, name: p.name) else { continue }
            let meta = live["metadata"]
            if meta?["annotations"]?["kustomize.toolkit.fluxcd.io/prune"]?.string == "disabled" { continue }
            guard meta?["labels"]?["kustomize.toolkit.fluxcd.io/name"]?.string == name,
                  meta?["labels"]?["kustomize.toolkit.fluxcd.io/namespace"]?.string == ns else { continue }
            out.append(KustomizationReconciler.inventorySubject(id))
        }
        return out
    }
}

/// A unified diff of two texts (lines), `context` lines around each change, as diff -u prints it.
public enum UnifiedDiff {
    public static func render(_ a: String, _ b: String, from: String, to: String, context: Int = 3) -> String {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let y = b.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let ops = script(x, y)
        guard ops.contains(where: { $0.0 != " " }) else { return "" }
        var out = "--- \(from)\n+++ \(to)\n"
        // Hunks: runs of changes with `context` lines around, merged when close.
        var i = 0
        while i < ops.count {
            guard ops[i].0 != " " else { i += 1; continue }
            var start = max(0, i - context)
            var end = i
            var j = i
            while j < ops.count {
                if ops[j].0 != " " { end = j; j += 1; continue }
                if j - end > 2 * context { break }
                j += 1
            }
            let stop = min(ops.count, end + context + 1)
            if start < 0 { start = 0 }
            var aStart = 0, bStart = 0
            for k in 0..<start { if ops[k].0 != "+" { aStart += 1 }; if ops[k].0 != "-" { bStart += 1 } }
            let hunk = ops[start..<stop]
            let aLen = hunk.filter { $0.0 != "+" }.count, bLen = hunk.filter { $0.0 != "-" }.count
            out += "@@ -\(aLen == 0 ? aStart : aStart + 1),\(aLen) +\(bLen == 0 ? bStart : bStart + 1),\(bLen) @@\n"
            for (op, line) in hunk { out += "\(op)\(line)\n" }
            i = stop
        }
        return out
    }

    /// The edit script (" ", "-", "+") of a longest common subsequence.
    static func script(_ x: [String], _ y: [String]) -> [(Character, String)] {
        let n = x.count, m = y.count
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        if n > 0 && m > 0 {
            for i in stride(from: n - 1, through: 0, by: -1) {
                for j in stride(from: m - 1, through: 0, by: -1) {
                    lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
                }
            }
        }
        var out: [(Character, String)] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n && j < m && x[i] == y[j] { out.append((" ", x[i])); i += 1; j += 1 }
            else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) { out.append(("-", x[i])); i += 1 }
            else { out.append(("+", y[j])); j += 1 }
        }
        return out
    }
}
