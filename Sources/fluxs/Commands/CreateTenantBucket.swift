import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs create tenant NAME --with-namespace=...`: per namespace a Namespace, a ServiceAccount and a RoleBinding of the
/// reconciler user and the account to the cluster role, labelled `toolkit.fluxcd.io/tenant`, as flux renders them.
enum CreateTenant {
    static let tenantLabel = "toolkit.fluxcd.io/tenant"

    static func make() -> Command {
        Command(
            name: "tenant", summary: "Create or update a tenant",
            long: "The create tenant command generates namespaces, service accounts and role bindings to limit the\nreconcilers scope to the tenant namespaces.",
            examples: """
              # Create a tenant with access to a namespace
              fluxs create tenant dev-team \\
                --with-namespace=frontend \\
                --label=environment=dev

              # Generate tenant namespaces and role bindings in YAML format
              fluxs create tenant dev-team \\
                --with-namespace=frontend \\
                --with-namespace=backend \\
                --export > dev-team.yaml
            """,
            flags: [
                .strings("with-namespace", nil, "namespace belonging to this tenant"),
                .string("cluster-role", nil, "cluster role of the tenant role binding", default: "cluster-admin"),
                .string("with-service-account", nil, "service account belonging to this tenant"),
                .bool("skip-namespace", nil, "skip namespace creation (namespace must exist already)"),
            ],
            args: .any("[name]"), handler: run)
    }

    static func meta(_ name: String, _ ns: String?, _ labels: [(String, Node)]) -> Node {
        var m: [(String, Node)] = [("labels", .map(labels)), ("name", .string(name))]
        if let ns { m.append(("namespace", .string(ns))) }
        return .map(m)
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        let tenant = try CreateSupport.name(inv)
        let f = inv.flags
        if let e = CreateSupport.qualifiedNameError(tenant) { throw CLIError("invalid tenant name '\(tenant)': [\(e)]") }
        let role = f.string("cluster-role")
        if role.isEmpty { throw CLIError("cluster-role is required") }
        let namespaces = f.strings("with-namespace")
        if namespaces.isEmpty { throw CLIError("with-namespace is required") }
        var sets: [(ns: Node, account: Node, binding: Node)] = []
        for ns in namespaces {
            if let e = CreateSupport.qualifiedNameError(ns) { throw CLIError("invalid namespace '\(ns)': [\(e)]") }
            var labels = try CreateSupport.labels(inv)
            labels[tenantLabel] = tenant
            let l = labels.sorted { $0.key < $1.key }.map { ($0.key, Node.string($0.value)) }
            let account = f.string("with-service-account").isEmpty ? tenant : f.string("with-service-account")
            if let e = CreateSupport.qualifiedNameError(account) { throw CLIError("invalid service-account name '\(account)': [\(e)]") }
            let namespace: Node = .map([("apiVersion", "v1"), ("kind", "Namespace"), ("metadata", meta(ns, nil, l))])
            let sa: Node = .map([("apiVersion", "v1"), ("kind", "ServiceAccount"), ("metadata", meta(account, ns, l))])
            let rb: Node = .map([
                ("apiVersion", "rbac.authorization.k8s.io/v1"), ("kind", "RoleBinding"), ("metadata", meta("\(tenant)-reconciler", ns, l)),
                ("roleRef", .map([("apiGroup", "rbac.authorization.k8s.io"), ("kind", "ClusterRole"), ("name", .string(role))])),
                ("subjects", .sequence([
                    .map([("apiGroup", "rbac.authorization.k8s.io"), ("kind", "User"), ("name", .string("gotk:\(ns):reconciler"))]),
                    .map([("kind", "ServiceAccount"), ("name", .string(account)), ("namespace", .string(ns))]),
                ])),
            ])
            sets.append((namespace, sa, rb))
        }
        let skip = f.bool("skip-namespace")
        if f.bool("export") {
            for s in sets {
                for o in (skip ? [] : [s.ns]) + [s.account, s.binding] {
                    inv.out.print("---")
                    inv.out.write(try o.yamlString())
                }
            }
            return 0
        }
        let kube = try inv.kube()
        for s in sets {
            if !skip {
                inv.out.action("applying namespace \(s.ns["metadata"]?["name"]?.string ?? "")")
                _ = try kube.apply(s.ns, fieldManager: "flux", force: true)
            }
            inv.out.action("applying service account \(s.account["metadata"]?["name"]?.string ?? "")")
            _ = try kube.apply(s.account, fieldManager: "flux", force: true)
            inv.out.action("applying role binding \(s.binding["metadata"]?["name"]?.string ?? "")")
            // roleRef is immutable: a binding to another role is replaced, as flux replaces it.
            let rb = ResourceRef(group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings", kind: "RoleBinding", namespaced: true)
            let ns = s.binding["metadata"]?["namespace"]?.string, name = s.binding["metadata"]?["name"]?.string ?? ""
            if let existing = try kube.getIfExists(rb, namespace: ns, name: name), existing["roleRef"] != s.binding["roleRef"] {
                _ = try kube.delete(rb, namespace: ns, name: name)
            }
            _ = try kube.apply(s.binding, fieldManager: "flux", force: true)
        }
        inv.out.success("tenant setup completed")
        return 0
    }
}

/// `fluxs create source bucket NAME`: the Bucket (and its `bucket-<name>` credentials Secret) as flux creates them.
/// fluxs has no in-process Bucket reconciler: without source-controller it says the Bucket was not reconciled.
enum CreateSourceBucket {
    static let providers = ["generic", "aws", "azure", "gcp"]

    static func make() -> Command {
        Command(
            name: "bucket", summary: "Create or update a Bucket source",
            long: "The create source bucket command generates a Bucket resource and waits for it to be downloaded.\nFor Buckets with static authentication, the credentials are stored in a Kubernetes secret.",
            examples: """
              # Create a source for a Bucket using static authentication
              fluxs create source bucket podinfo \\
                --bucket-name=podinfo \\
                --endpoint=minio.minio.svc.cluster.local:9000 \\
                --insecure=true \\
                --access-key=myaccesskey \\
                --secret-key=mysecretkey \\
                --interval=10m

              # Create a source for an Amazon S3 Bucket using IAM authentication
              fluxs create source bucket podinfo \\
                --bucket-name=podinfo \\
                --provider=aws \\
                --endpoint=s3.amazonaws.com \\
                --region=us-east-1 \\
                --interval=10m
            """,
            flags: [
                Flag(name: "provider", kind: .string, defaultValue: "generic", help: "the S3 compatible storage provider name", completion: .values(providers)),
                .string("bucket-name", nil, "the bucket name"),
                .string("endpoint", nil, "the bucket endpoint address"),
                .string("access-key", nil, "the bucket access key"),
                .string("secret-key", nil, "the bucket secret key"),
                .string("region", nil, "the bucket region"),
                .bool("insecure", nil, "for when connecting to a non-TLS S3 HTTP endpoint"),
                .string("secret-ref", nil, "the name of an existing secret containing credentials"),
                .string("proxy-secret-ref", nil, "the name of an existing secret containing the proxy address and credentials"),
                .strings("ignore-paths", nil, "set paths to ignore in bucket resource (can specify multiple paths with commas: path1,path2)"),
            ],
            args: .any("[name]"), handler: run,
            note: "the Bucket and its credentials Secret as flux creates them; fluxs cannot reconcile a Bucket in process, so without source-controller it says the Bucket was not reconciled")
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        let name = try CreateSupport.name(inv)
        let f = inv.flags
        let provider = f.string("provider")
        if provider.trimmingSpaces().isEmpty {
            throw CLIError("invalid argument \"\(provider)\" for \"--provider\" flag: no source bucket provider given, please specify the S3 compatible storage provider name")
        }
        guard providers.contains(provider) else {
            throw CLIError("invalid argument \"\(provider)\" for \"--provider\" flag: source bucket provider '\(provider)' is not supported, must be one of: \(providers.joined(separator: ", "))")
        }
        if f.string("bucket-name").isEmpty { throw CLIError("bucket-name is required") }
        if f.string("endpoint").isEmpty { throw CLIError("endpoint is required") }
        let ns = CreateSupport.namespace(inv)
        var bucket = Bucket.new(name: name, namespace: ns)
        bucket.metadata.labels = try CreateSupport.labels(inv)
        bucket.spec.bucketName = f.string("bucket-name")
        bucket.spec.provider = provider
        bucket.spec.insecure = f.bool("insecure")
        bucket.spec.endpoint = f.string("endpoint")
        bucket.spec.region = f.string("region")
        bucket.spec.interval = Duration(seconds: f.duration("interval"))
        let ignore = f.strings("ignore-paths")
        if !ignore.isEmpty { bucket.spec.ignore = ignore.joined(separator: "\n") }
        if f.duration("fetch-timeout") > 0 { bucket.spec.timeout = TimeoutDuration(GoDuration.format(f.duration("fetch-timeout"))) }
        if !f.string("secret-ref").isEmpty { bucket.spec.secretRef = LocalObjectReference(f.string("secret-ref")) }
        if !f.string("proxy-secret-ref").isEmpty { bucket.spec.proxySecretRef = LocalObjectReference(f.string("proxy-secret-ref")) }
        if f.bool("export") {
            try CreateSupport.export(inv, try bucket.node())
            return 0
        }
        _ = try inv.kube()
        inv.out.generate("generating Bucket source")
        if f.string("secret-ref").isEmpty, !f.string("access-key").isEmpty, !f.string("secret-key").isEmpty {
            let secretName = "bucket-\(name)"
            inv.out.action("applying secret with the bucket credentials")
            try CreateSupport.applySecret(inv, CreateSupport.secretNode(name: secretName, namespace: ns, labels: bucket.metadata.labels,
                                                                        stringData: [("accesskey", f.string("access-key")), ("secretkey", f.string("secret-key"))]))
            bucket.spec.secretRef = LocalObjectReference(secretName)
            inv.out.success("authentication configured")
        }
        inv.out.action("applying Bucket source")
        let applied = try CreateSupport.upsert(inv, try bucket.node(), label: "Bucket source")
        inv.out.waiting("waiting for Bucket source reconciliation")
        guard case .ready(let live) = try CreateSupport.wait(inv, Adapters.bucket, applied) else { return 0 }
        inv.out.success("Bucket source reconciliation completed")
        guard let rev = live["status"]?["artifact"]?["revision"]?.string else {
            throw CLIError("Bucket source reconciliation but no artifact was found")
        }
        inv.out.success("fetched revision: \(rev)")
        return 0
    }
}
