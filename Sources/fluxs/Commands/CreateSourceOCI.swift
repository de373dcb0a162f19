import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs create source oci NAME --url oci://... --tag|--tag-semver|--digest`: an OCIRepository as flux writes it,
/// reconciled in this process when source-controller does not run in the cluster.
enum CreateSourceOCI {
    static func make() -> Command {
        Command(
            name: "oci", summary: "Create or update an OCIRepository",
            long: "The create source oci command generates an OCIRepository resource and waits for it to be ready.",
            examples: """
              # Create an OCIRepository for a public container image
              fluxs create source oci podinfo \\
                --url=oci://ghcr.io/stefanprodan/manifests/podinfo \\
                --tag=6.6.2 \\
                --interval=10m

              # Create an OCIRepository for a Helm chart layer
              fluxs create source oci valkey-cluster \\
                --url=oci://example.com/charts/valkey \\
                --tag=0.11.6 \\
                --layer-selector=application/vnd.cncf.helm.chart.content.v1.tar+gzip:copy
            """,
            flags: [
                ArtifactCommands.providerFlag(),
                .string("url", nil, "the OCI repository URL"),
                .string("tag", nil, "the OCI artifact tag"),
                .string("tag-semver", nil, "the OCI artifact tag semver range"),
                .string("digest", nil, "the OCI artifact digest"),
                .string("secret-ref", nil, "the name of the Kubernetes image pull secret (type 'kubernetes.io/dockerconfigjson')"),
                .string("proxy-secret-ref", nil, "the name of an existing secret containing the proxy address and credentials"),
                .string("service-account", nil, "the name of the Kubernetes service account that refers to an image pull secret"),
                .string("cert-ref", nil, "the name of a secret to use for TLS certificates"),
                .string("verify-provider", nil, verifyHelp),
                .string("verify-secret-ref", nil, "the name of a secret to use for signature verification"),
                .string("verify-subject", nil, "regular expression to use for the OIDC subject during signature verification"),
                .string("verify-issuer", nil, "regular expression to use for the OIDC issuer during signature verification"),
                .strings("ignore-paths", nil, "set paths to ignore resources (can specify multiple paths with commas: path1,path2)"),
                .bool("insecure", nil, "for when connecting to a non-TLS registries over plain HTTP"),
                .string("layer-selector", nil, "the OCI artifact layer selector in the format '<media-type>:<operation>'"),
            ],
            args: .any("[name]"),
            handler: run,
            note: "`--export` prints what flux prints; without source-controller in the cluster the OCIRepository is reconciled in this process (see `reconcile source oci`)")
    }

    static let verifyHelp = "the OCI verify provider name to use for signature verification, available options are: (cosign)"

    static func run(_ inv: Invocation) throws -> Int32 {
        let name = try CreateSupport.name(inv)
        let f = inv.flags
        let provider = f.string("provider")
        if f.isSet("provider") && provider.trimmingSpaces().isEmpty {
            throw CLIError("invalid argument \"\" for \"--provider\" flag: no source OCI provider given, please specify the OCI provider name")
        }
        guard ArtifactCommands.providers.contains(provider) else {
            throw CLIError("invalid argument \"\(provider)\" for \"--provider\" flag: source OCI provider '\(provider)' is not supported, must be one of: \(ArtifactCommands.providers.joined(separator: ", "))")
        }
        let verifyProvider = f.string("verify-provider")
        if f.isSet("verify-provider") && verifyProvider != "cosign" {
            throw CLIError(verifyProvider.trimmingSpaces().isEmpty
                ? "invalid argument \"\(verifyProvider)\" for \"--verify-provider\" flag: no source OCI verify provider given, please specify \(verifyHelp)"
                : "invalid argument \"\(verifyProvider)\" for \"--verify-provider\" flag: source OCI verify provider '\(verifyProvider)' is not supported, must be one of: cosign")
        }
        let url = f.string("url")
        if url.isEmpty { throw CLIError("url is required") }
        let tag = f.string("tag"), semver = f.string("tag-semver"), digest = f.string("digest")
        if tag.isEmpty && semver.isEmpty && digest.isEmpty { throw CLIError("--tag, --tag-semver or --digest is required") }
        var selector: OCILayerSelector?
        let ls = f.string("layer-selector")
        if !ls.isEmpty {
            guard let colon = ls.firstIndex(of: ":"), colon != ls.startIndex, ls.index(after: colon) != ls.endIndex else {
                throw CLIError("invalid --layer-selector \"\(ls)\": must be in the format '<media-type>:<operation>'")
            }
            let op = String(ls[ls.index(after: colon)...])
            guard op == "extract" || op == "copy" else {
                throw CLIError("invalid --layer-selector \"\(ls)\": operation must be \"extract\" or \"copy\"")
            }
            var s = OCILayerSelector()
            s.mediaType = String(ls[..<colon])
            s.operation = op
            selector = s
        }
        let ns = CreateSupport.namespace(inv)
        var repo = OCIRepository.new(name: name, namespace: ns)
        repo.metadata.labels = try CreateSupport.labels(inv)
        // flux writes the provider it was given; "generic" is the API default and its goldens leave it out.
        if provider != "generic" { repo.spec.provider = provider }
        repo.spec.url = url
        repo.spec.insecure = f.bool("insecure")
        repo.spec.interval = Duration(seconds: f.duration("interval"))
        var ref = OCIRepositoryRef()
        ref.digest = digest
        ref.semver = semver
        ref.tag = tag
        repo.spec.ref = ref
        let ignore = f.strings("ignore-paths")
        if !ignore.isEmpty { repo.spec.ignore = ignore.joined(separator: "\n") }
        repo.spec.layerSelector = selector
        if f.duration("fetch-timeout") > 0 { repo.spec.timeout = TimeoutDuration(GoDuration.format(f.duration("fetch-timeout"))) }
        repo.spec.serviceAccountName = f.string("service-account")
        if !f.string("secret-ref").isEmpty { repo.spec.secretRef = LocalObjectReference(f.string("secret-ref")) }
        if !f.string("proxy-secret-ref").isEmpty { repo.spec.proxySecretRef = LocalObjectReference(f.string("proxy-secret-ref")) }
        if !f.string("cert-ref").isEmpty { repo.spec.certSecretRef = LocalObjectReference(f.string("cert-ref")) }
        let issuer = f.string("verify-issuer"), subject = f.string("verify-subject")
        if !verifyProvider.isEmpty {
            var v = OCIRepositoryVerification()
            v.provider = verifyProvider
            if !f.string("verify-secret-ref").isEmpty { v.secretRef = LocalObjectReference(f.string("verify-secret-ref")) }
            if !issuer.isEmpty || !subject.isEmpty {
                var m = OIDCIdentityMatch()
                m.issuer = issuer
                m.subject = subject
                v.matchOIDCIdentity = [m]
            }
            repo.spec.verify = v
        } else if !f.string("verify-secret-ref").isEmpty {
            throw CLIError("a verification provider must be specified when a secret is specified")
        } else if !issuer.isEmpty || !subject.isEmpty {
            throw CLIError("a verification provider must be specified when OIDC issuer/subject is specified")
        }
        if f.bool("export") {
            try CreateSupport.export(inv, try repo.node())
            return 0
        }
        inv.out.action("applying OCIRepository")
        let applied = try CreateSupport.upsert(inv, try repo.node(), label: "OCIRepository")
        inv.out.waiting("waiting for OCIRepository reconciliation")
        guard case .ready(let live) = try CreateSupport.wait(inv, Adapters.ociRepository, applied) else { return 0 }
        inv.out.success("OCIRepository reconciliation completed")
        guard let rev = live["status"]?["artifact"]?["revision"]?.string else { throw CLIError("no artifact was found") }
        inv.out.success("fetched revision: \(rev)")
        return 0
    }
}
