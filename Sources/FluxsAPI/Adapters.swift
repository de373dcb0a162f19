import FluxsYAML

/// One adapter per kind: table columns and rows as flux prints them, the
/// success line of a reconciliation, and the source of appliers.
public enum Adapters {
    static let sourceColumns = ["REVISION", "SUSPENDED", "READY", "MESSAGE"]

    /// Sources with an artifact: revision and message hex-truncated.
    static func artifactSource(_ k: any FluxObject.Type, truncateRevision: Bool = true) -> KindAdapter {
        KindAdapter(k, columns: sourceColumns, row: { o in
            let (ready, msg) = Obj.ready(o)
            let rev = Obj.str(o, "status", "artifact", "revision")
            return [truncateRevision ? Obj.truncateHex(rev) : rev, Obj.suspended(o), ready, Obj.truncateHex(msg)]
        }, success: { o in "fetched revision \(Obj.str(o, "status", "artifact", "revision"))" })
    }

    public static let gitRepository = artifactSource(GitRepository.self)
    public static let ociRepository = artifactSource(OCIRepository.self)
    public static let bucket = artifactSource(Bucket.self)
    public static let helmChart = KindAdapter(HelmChart.self, columns: sourceColumns, row: { o in
        let (ready, msg) = Obj.ready(o)
        return [Obj.str(o, "status", "artifact", "revision"), Obj.suspended(o), ready, Obj.truncateHex(msg)]
    }, success: { o in "fetched revision \(Obj.str(o, "status", "artifact", "revision"))" })

    public static let helmRepository = KindAdapter(HelmRepository.self, columns: sourceColumns, row: { o in
        if o["spec"]?["type"]?.string == "oci" {
            return ["", Obj.suspended(o), "True", "Helm repository is Ready"]
        }
        let (ready, msg) = Obj.ready(o)
        return [Obj.truncateHex(Obj.str(o, "status", "artifact", "revision")), Obj.suspended(o), ready, Obj.truncateHex(msg)]
    }, isStatic: { $0["spec"]?["type"]?.string == "oci" },
       success: { o in "fetched revision \(Obj.str(o, "status", "artifact", "revision"))" })

    public static let externalArtifact = KindAdapter(ExternalArtifact.self, columns: ["REVISION", "SOURCE", "READY", "MESSAGE"], row: { o in
        let (ready, msg) = Obj.ready(o)
        let ns = Obj.str(o, "spec", "sourceRef", "namespace")
        let src = "\(Obj.str(o, "spec", "sourceRef", "kind"))/\(ns.isEmpty ? Obj.str(o, "metadata", "namespace") : ns)/\(Obj.str(o, "spec", "sourceRef", "name"))"
        return [Obj.truncateHex(Obj.str(o, "status", "artifact", "revision")), src, ready, Obj.truncateHex(msg)]
    }, suspendable: false, success: { o in "fetched revision \(Obj.str(o, "status", "artifact", "revision"))" })

    static func sourceOf(_ o: Node, _ ref: Node?) -> String {
        let ns = ref?["namespace"]?.string ?? ""
        return "\(ref?["kind"]?.string ?? "")/\(ns.isEmpty ? Obj.str(o, "metadata", "namespace") : ns)/\(ref?["name"]?.string ?? "")"
    }

    public static let kustomization = KindAdapter(Kustomization.self, columns: sourceColumns, row: { o in
        let (ready, msg) = Obj.ready(o)
        return [Obj.truncateHex(Obj.str(o, "status", "lastAppliedRevision")), Obj.suspended(o), ready, Obj.truncateHex(msg)]
    }, success: { o in "applied revision \(Obj.str(o, "status", "lastAppliedRevision"))" },
       source: { o in sourceOf(o, o["spec"]?["sourceRef"]) })

    public static let helmRelease = KindAdapter(HelmRelease.self, columns: sourceColumns, row: { o in
        let (ready, msg) = Obj.ready(o)
        var rev = o["status"]?["history"]?[0]?["chartVersion"]?.text ?? ""
        if rev.isEmpty { rev = Obj.str(o, "status", "lastAttemptedRevision") }
        return [rev, Obj.suspended(o), ready, msg]
    }, success: { o in
        let v = o["status"]?["history"]?[0]?["chartVersion"]?.text ?? Obj.str(o, "status", "lastAttemptedRevision")
        return "applied revision \(v)"
    }, source: { o in
        if let ref = o["spec"]?["chartRef"] { return sourceOf(o, ref) }
        return sourceOf(o, o["spec"]?["chart"]?["spec"]?["sourceRef"])
    })

    public static let imageRepository = KindAdapter(ImageRepository.self, columns: ["LAST SCAN", "SUSPENDED", "READY", "MESSAGE"], row: { o in
        let (ready, msg) = Obj.ready(o)
        let t = Obj.str(o, "status", "lastScanResult", "scanTime")
        return [t.isEmpty ? "" : Obj.localTime(t), Obj.suspended(o), ready, msg]
    }, success: { o in "scan fetched \(o["status"]?["lastScanResult"]?["tagCount"]?.int ?? 0) tags" })

    public static let imagePolicy = KindAdapter(ImagePolicy.self, columns: ["IMAGE", "TAG", "READY", "MESSAGE"], row: { o in
        let (ready, msg) = Obj.ready(o)
        return [Obj.str(o, "status", "latestRef", "name"), Obj.str(o, "status", "latestRef", "tag"), ready, msg]
    }, success: { o in
        let d = Obj.str(o, "status", "latestRef", "digest")
        return "selected ref \(Obj.str(o, "status", "latestRef", "name")):\(Obj.str(o, "status", "latestRef", "tag"))" + (d.isEmpty ? "" : "@\(d)")
    })

    public static let imageUpdateAutomation = KindAdapter(ImageUpdateAutomation.self, columns: ["LAST RUN", "SUSPENDED", "READY", "MESSAGE"], row: { o in
        let (ready, msg) = Obj.ready(o)
        let t = Obj.str(o, "status", "lastAutomationRunTime")
        return [t.isEmpty ? "" : Obj.localTime(t), Obj.suspended(o), ready, msg]
    }, success: { o in
        if let c = Obj.condition(o, "Ready"), c["status"]?.string == "True", let m = c["message"]?.string { return m }
        let t = Obj.str(o, "status", "lastAutomationRunTime")
        return t.isEmpty ? "automation not yet run" : "last run \(Obj.localTime(t))"
    })

    public static let receiver = KindAdapter(Receiver.self, columns: ["SUSPENDED", "READY", "MESSAGE"], row: { o in
        let (ready, msg) = Obj.ready(o)
        return [Obj.suspended(o), ready, msg]
    }, success: { _ in "Receiver reconciliation completed" })

    public static let alert = KindAdapter(Alert.self, columns: ["SUSPENDED", "READY", "MESSAGE"], row: { o in
        [Obj.suspended(o), "True", "Alert is Ready"]
    }, isStatic: { _ in true }, success: { _ in "Alert reconciliation completed" })

    public static let provider = KindAdapter(Provider.self, columns: ["READY", "MESSAGE"], row: { _ in
        ["True", "Provider is Ready"]
    }, isStatic: { _ in true }, success: { _ in "Provider reconciliation completed" })

    /// `get all` order.
    public static let all: [KindAdapter] = [ociRepository, bucket, gitRepository, helmRepository, helmChart, externalArtifact,
                                            imageRepository, imagePolicy, imageUpdateAutomation, helmRelease, kustomization,
                                            receiver, provider, alert]

    public static func named(_ kind: String) -> KindAdapter? { all.first { $0.kind.kind.lowercased() == kind.lowercased() } }
}
