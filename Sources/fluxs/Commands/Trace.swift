#if canImport(Glibc)
import Glibc
#endif
import FluxsAPI
import FluxsKube
import FluxsYAML

/// `fluxs trace <resource> <name>`: which Kustomization or HelmRelease manages an object (its owner labels, or those
/// of the objects that own it), and from which source and revision, as flux prints it.
enum TraceCommand {
    static func make() -> Command {
        Command(
            name: "trace", summary: "Trace in-cluster objects throughout the GitOps delivery pipeline",
            long: "The trace command shows how one or more objects are managed by Flux,\nfrom which source and revision they come, and what the latest reconciliation status is.\n\nYou can also trace multiple objects with different resource kinds using <resource>/<name> multiple times.",
            usage: "<resource> <name> [<name> ...] [flags]",
            examples: """
              # Trace a Kubernetes Deployment
              fluxs trace -n apps deployment my-app

              # Trace a Kubernetes Pod and a config map
              fluxs trace -n redis pod/redis-master-0 cm/redis

              # Trace a Kubernetes global object
              fluxs trace namespace redis

              # Trace a Kubernetes custom resource
              fluxs trace -n redis helmrelease redis

              # API Version and Kind can also be specified explicitly
              # Note that either both, kind and api-version, or neither have to be specified.
              fluxs trace redis --kind=helmrelease --api-version=helm.toolkit.fluxcd.io/v2 -n redis
            """,
            flags: [.string("kind", nil, "the Kubernetes object kind, e.g. Deployment'"),
                    .string("api-version", nil, "the Kubernetes object API version, e.g. 'apps/v1'")],
            args: .any("<resource> <name>"), handler: run,
            note: "flux's reports (owner labels, owner references, sources; goldens match); resources resolved by kind, plural, singular or short name")
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        let f = inv.flags
        let ns = try inv.namespace()
        let objects: [(display: String, object: Node)]
        if !f.string("kind").isEmpty || !f.string("api-version").isEmpty {
            guard let name = inv.args.first else { throw CLIError("object name is required") }
            if f.string("kind").isEmpty { throw CLIError("object kind is required (--kind)") }
            if f.string("api-version").isEmpty { throw CLIError("object apiVersion is required (--api-version)") }
            let kube = try inv.kube()
            let r: ResourceRef
            do { r = try resolve(kube, f.string("kind"), apiVersion: f.string("api-version")) } catch let e as CLIError {
                throw CLIError("failed to find object: \(e.message)")
            }
            do {
                objects = [(f.string("kind"), try kube.get(r, namespace: r.namespaced ? ns : nil, name: name))]
            } catch let e as KubeError { throw CLIError("failed to find object: \(e.message)") }
        } else {
            objects = try dynamic(inv, ns)
        }
        let kube = try inv.kube()
        for (i, o) in objects.enumerated() {
            do { inv.out.write(try trace(kube, o.display, o.object)) } catch let e as CLIError {
                let meta = o.object["metadata"]
                inv.out.stderr("failed to trace \(o.display)/\(meta?["name"]?.string ?? "") in namespace \(meta?["namespace"]?.string ?? ""): \(e.message)", newline: false)
            }
            if i < objects.count - 1 { inv.out.print("---") }
        }
        return 0
    }

    /// `<resource> <name>...` or `<resource>/<name>...`, resolved as kubectl resolves resource names.
    static func dynamic(_ inv: Invocation, _ ns: String) throws -> [(display: String, object: Node)] {
        let usage = CLIError("either `<resource>/<name>` or `<resource> <name>` is required as an argument")
        let args = inv.args
        guard !args.isEmpty else { throw usage }
        var pairs: [(String, String)] = []
        if args.allSatisfy({ $0.contains("/") }) {
            for a in args {
                let p = a.split(separator: "/", maxSplits: 1).map(String.init)
                guard p.count == 2, !p[0].isEmpty, !p[1].isEmpty else { throw usage }
                pairs.append((p[0], p[1]))
            }
        } else {
            guard args.count >= 2, !args.contains(where: { $0.contains("/") }) else { throw usage }
            pairs = args.dropFirst().map { (args[0], $0) }
        }
        let kube = try inv.kube()
        return try pairs.map { res, name in
            let r = try resolve(kube, res, apiVersion: nil)
            do { return (r.kind, try kube.get(r, namespace: r.namespaced ? ns : nil, name: name)) } catch let e as KubeError {
                throw CLIError(e.message)
            }
        }
    }

    /// A resource type by kind, plural, singular or short name (any group; with apiVersion, only that one).
    static func resolve(_ kube: KubeClient, _ word: String, apiVersion: String?) throws -> ResourceRef {
        let w = word.lowercased()
        var groupVersions: [String] = []
        if let av = apiVersion { groupVersions = [av] } else {
            for g in try kube.serverGroups() {
                guard let v = g.versions.first else { continue }
                groupVersions.append(g.name.isEmpty ? v : "\(g.name)/\(v)")
            }
        }
        for gv in groupVersions {
            let path = gv.contains("/") ? "/apis/\(gv)" : "/api/\(gv)"
            guard let doc = try? JSON.decode(bytes: try kube.call("GET", path).body) else { continue }
            for r in doc["resources"]?.array ?? [] {
                guard let name = r["name"]?.string, !name.contains("/"), let kind = r["kind"]?.string else { continue }
                let names = [name, r["singularName"]?.string ?? "", kind.lowercased()] + (r["shortNames"]?.array ?? []).compactMap(\.string)
                if names.contains(w) {
                    let p = gv.split(separator: "/").map(String.init)
                    return ResourceRef(group: p.count == 2 ? p[0] : "", version: p.last ?? gv, resource: name, kind: kind,
                                       namespaced: r["namespaced"]?.bool ?? false)
                }
            }
        }
        throw CLIError("the server doesn't have a resource type \"\(word)\"")
    }

    // MARK: report

    /// Go's time.Time.String() in the local zone, as flux prints a condition's lastTransitionTime.
    static func goTime(_ rfc3339: String?) -> String {
        guard let s = rfc3339, let t = Clock.parse(s) else { return rfc3339 ?? "" }
        var secs = time_t(t.rounded(.down))
        var tmv = tm()
        localtime_r(&secs, &tmv)
        func p2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let off = Int(tmv.tm_gmtoff)
        let zone = tmv.tm_zone.map { String(cString: $0) } ?? "UTC"
        return "\(Int(tmv.tm_year) + 1900)-\(p2(Int(tmv.tm_mon) + 1))-\(p2(Int(tmv.tm_mday))) \(p2(Int(tmv.tm_hour))):\(p2(Int(tmv.tm_min))):\(p2(Int(tmv.tm_sec))) "
            + (off < 0 ? "-" : "+") + p2(abs(off) / 3600) + p2((abs(off) % 3600) / 60) + " " + zone
    }

    static func ready(_ o: Node) -> Node? {
        (o["status"]?["conditions"]?.array ?? []).first { $0["type"]?.string == "Ready" }
    }

    /// flux's status lines: `Status: Last reconciled at <time>` (or `Last reconciliation failed at` where flux says so)
    /// and `Message:`, or `Status: Unknown`.
    static func status(_ o: Node, width: Int, failedWording: Bool) -> String {
        func l(_ k: String, _ v: String) -> String { k.padding(to: width) + v + "\n" }
        guard let c = ready(o) else { return l("Status:", "Unknown") }
        let failed = failedWording && c["status"]?.string == "False"
        return l("Status:", (failed ? "Last reconciliation failed at " : "Last reconciled at ") + goTime(c["lastTransitionTime"]?.string))
            + l("Message:", c["message"]?.string ?? "")
    }

    /// The owner of an object: its `<group>/name` and `/namespace` labels, or those of an object that owns it.
    static func owner(_ kube: KubeClient, _ o: Node, group: String) -> (name: String, namespace: String)? {
        let labels = o["metadata"]?["labels"]
        if let n = labels?["\(group)/name"]?.string, !n.isEmpty { return (n, labels?["\(group)/namespace"]?.string ?? "") }
        for ref in o["metadata"]?["ownerReferences"]?.array ?? [] {
            guard let av = ref["apiVersion"]?.string, let kind = ref["kind"]?.string, let name = ref["name"]?.string,
                  let r = try? kube.resource(apiVersion: av, kind: kind),
                  let parent = try? kube.get(r, namespace: r.namespaced ? o["metadata"]?["namespace"]?.string : nil, name: name) else { return nil }
            return owner(kube, parent, group: group)
        }
        return nil
    }

    static func get(_ kube: KubeClient, _ kind: FluxKind, _ ns: String, _ name: String) throws -> Node {
        do { return try kube.get(kind.resource, namespace: ns, name: name) } catch let e as KubeError {
            throw CLIError("failed to find \(kind.kind == "Kustomization" ? "kustomization" : kind.kind): \(e.message)")
        }
    }

    static func trace(_ kube: KubeClient, _ display: String, _ obj: Node) throws -> String {
        let objName = display + "/" + (obj["metadata"]?["name"]?.string ?? "")
        let objNS = obj["metadata"]?["namespace"]?.string ?? ""
        if let ks = owner(kube, obj, group: "kustomize.toolkit.fluxcd.io") {
            return try traceKustomization(kube, ks, objName, objNS)
        }
        if let hr = owner(kube, obj, group: "helm.toolkit.fluxcd.io") {
            return try traceHelm(kube, hr, objName, objNS)
        }
        throw CLIError("object not managed by Flux")
    }

    static func header(_ objName: String, _ objNS: String, width: Int) -> String {
        func l(_ k: String, _ v: String) -> String { k.padding(to: width) + v + "\n" }
        return "\n" + l("Object:", objName) + (objNS.isEmpty ? "" : l("Namespace:", objNS)) + l("Status:", "Managed by Flux")
    }

    /// A source section (GitRepository, OCIRepository, ExternalArtifact) with the width flux's template gives it.
    static func source(_ kube: KubeClient, _ src: Node, width: Int, origin: Bool) -> String {
        func l(_ k: String, _ v: String) -> String { k.padding(to: width) + v + "\n" }
        let kind = src["kind"]?.string ?? ""
        var s = "---\n" + (kind + ":").padding(to: width) + (src["metadata"]?["name"]?.string ?? "") + "\n"
        s += l("Namespace:", src["metadata"]?["namespace"]?.string ?? "")
        let spec = src["spec"]
        if kind == "ExternalArtifact" {
            let r = spec?["sourceRef"]
            s += l("Source:", "\(r?["kind"]?.string ?? "")/\(r?["namespace"]?.string ?? "")/\(r?["name"]?.string ?? "")")
        } else {
            s += l("URL:", spec?["url"]?.string ?? "")
            if let ref = spec?["ref"] {
                if let t = ref["tag"]?.string, !t.isEmpty { s += l("Tag:", t) }
                else if let v = ref["semver"]?.string, !v.isEmpty { s += l("Tag:", v) }
                else if kind == "GitRepository", let b = ref["branch"]?.string, !b.isEmpty { s += l("Branch:", b) }
                else if kind == "OCIRepository", let d = ref["digest"]?.string, !d.isEmpty { s += l("Digest:", d) }
            }
        }
        if let a = src["status"]?["artifact"] {
            s += l("Revision:", a["revision"]?.string ?? "")
            if origin, kind != "GitRepository", let meta = a["metadata"] {
                // the template ranges over a map: keys in order ("Origin Revision: " before "Origin Source:   ")
                if let v = meta["org.opencontainers.image.revision"]?.string { s += "Origin Revision: " + v + "\n" }
                if let v = meta["org.opencontainers.image.source"]?.string { s += "Origin Source:   " + v + "\n" }
            }
        }
        return s + status(src, width: width, failedWording: true)
    }

    static func sourceObject(_ kube: KubeClient, kind: String, name: String, namespace: String) throws -> Node? {
        guard let k = [FluxKinds.gitRepository, FluxKinds.ociRepository, FluxKinds.externalArtifact].first(where: { $0.kind == kind }) else { return nil }
        let src = try get(kube, k, namespace, name)
        if kind == "ExternalArtifact", src["spec"]?["sourceRef"] == nil {
            throw CLIError("ExternalArtifact \(namespace)/\(name) is missing spec.sourceRef")
        }
        return src
    }

    static func traceKustomization(_ kube: KubeClient, _ owner: (name: String, namespace: String), _ objName: String, _ objNS: String) throws -> String {
        let w = 17
        func l(_ k: String, _ v: String) -> String { k.padding(to: w) + v + "\n" }
        let ks = try get(kube, FluxKinds.kustomization, owner.namespace, owner.name)
        let ref = ks["spec"]?["sourceRef"]
        let srcNS = ref?["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? owner.namespace
        let src = try sourceObject(kube, kind: ref?["kind"]?.string ?? "", name: ref?["name"]?.string ?? "", namespace: srcNS)
        var s = header(objName, objNS, width: w) + "---\n"
        s += l("Kustomization:", ks["metadata"]?["name"]?.string ?? "") + l("Namespace:", ks["metadata"]?["namespace"]?.string ?? "")
        if let t = ks["spec"]?["targetNamespace"]?.string, !t.isEmpty { s += l("Target:", t) }
        s += l("Path:", ks["spec"]?["path"]?.string ?? "") + l("Revision:", ks["status"]?["lastAppliedRevision"]?.string ?? "")
        s += status(ks, width: w, failedWording: false)
        if let src { s += source(kube, src, width: w, origin: true) }
        return s
    }

    static func traceHelm(_ kube: KubeClient, _ owner: (name: String, namespace: String), _ objName: String, _ objNS: String) throws -> String {
        let w = 16
        func l(_ k: String, _ v: String) -> String { k.padding(to: w) + v + "\n" }
        let hr = try get(kube, FluxKinds.helmRelease, owner.namespace, owner.name)
        var s = header(objName, objNS, width: w) + "---\n"
        s += l("HelmRelease:", hr["metadata"]?["name"]?.string ?? "") + l("Namespace:", hr["metadata"]?["namespace"]?.string ?? "")
        if let t = hr["spec"]?["targetNamespace"]?.string, !t.isEmpty { s += l("Target:", t) }
        s += l("Revision:", hr["status"]?["lastAttemptedRevision"]?.string ?? "") + status(hr, width: w, failedWording: false)
        if let chart = hr["status"]?["helmChart"]?.string, !chart.isEmpty {
            let p = chart.split(separator: "/", maxSplits: 1).map(String.init)
            let hc = try get(kube, FluxKinds.helmChart, p.count == 2 ? p[0] : owner.namespace, p.last ?? chart)
            s += "---\n" + l("HelmChart:", hc["metadata"]?["name"]?.string ?? "") + l("Namespace:", hc["metadata"]?["namespace"]?.string ?? "")
            s += l("Chart:", hc["spec"]?["chart"]?.string ?? "") + l("Version:", hc["spec"]?["version"]?.string ?? "")
            if let a = hc["status"]?["artifact"] { s += l("Revision:", a["revision"]?.string ?? "") }
            s += status(hc, width: w, failedWording: false)
        }
        if let chartSpec = hr["spec"]?["chart"]?["spec"] {
            let ref = chartSpec["sourceRef"]
            let ns = ref?["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? owner.namespace
            switch ref?["kind"]?.string {
            case "HelmRepository"?:
                let repo = try get(kube, FluxKinds.helmRepository, ns, ref?["name"]?.string ?? "")
                s += "---\n" + l("HelmRepository:", repo["metadata"]?["name"]?.string ?? "") + l("Namespace:", repo["metadata"]?["namespace"]?.string ?? "")
                s += l("URL:", repo["spec"]?["url"]?.string ?? "")
                if let a = repo["status"]?["artifact"] { s += l("Revision:", a["revision"]?.string ?? "") }
                s += status(repo, width: w, failedWording: false)
            case "GitRepository"?:
                if let git = try sourceObject(kube, kind: "GitRepository", name: ref?["name"]?.string ?? "", namespace: ns) {
                    s += source(kube, git, width: 15, origin: false)
                }
            default: break
            }
        } else if let ref = hr["spec"]?["chartRef"], let kind = ref["kind"]?.string, kind == "OCIRepository" || kind == "ExternalArtifact" {
            let ns = ref["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? owner.namespace
            if let src = try sourceObject(kube, kind: kind, name: ref["name"]?.string ?? "", namespace: ns) { s += source(kube, src, width: 17, origin: false) }
        }
        return s
    }
}
