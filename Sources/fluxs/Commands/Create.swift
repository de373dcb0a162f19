#if canImport(Glibc)
import Glibc
#endif
import FluxsAPI
import FluxsCore
import FluxsGit
import FluxsKube
import FluxsYAML

/// `fluxs create ...`: sources, kustomizations, secrets, image automation and notifications.
enum CreateCommand {
    static func make() -> Command {
        var c = Command(name: "create", summary: "Create or update sources and resources",
                        long: "The create sub-commands generate sources and resources.")
        c.persistentFlags = CreateSupport.commonFlags
        let planned = PlannedCommands.planned
        c.subcommands = [
            Command(name: "source", summary: "Create or update sources",
                    long: "The create source sub-commands generate sources.",
                    persistentFlags: [.duration("fetch-timeout", "set a timeout for fetch operations performed by source-controller (e.g. 'git clone' or 'helm repo add')", default: "0s")],
                    subcommands: [
                        CreateSourceGit.make(),
                        CreateSourceBucket.make(),
                        planned("chart", [], "Create or update a HelmChart source", []),
                        planned("helm", [], "Create or update a HelmRepository source", []),
                        CreateSourceOCI.make(),
                    ]),
            CreateKustomization.make(),
            Command(name: "secret", summary: "Create or update Kubernetes secrets",
                    long: "The create source sub-commands generate Kubernetes secrets specific to Flux.",
                    subcommands: [
                        CreateSecretGit.make(),
                    ] + CreateSecret.make()),
            CreateImage.make(),
            CreateNotification.alertProvider(),
            CreateNotification.alert(),
            CreateNotification.receiver(),
            planned("helmrelease", ["hr"], "Create or update a HelmRelease resource", []),
            CreateTenant.make(),
        ]
        return c
    }

    /// The end of the non-export flow shared by the image and notification creates.
    static func applyAndWait(_ inv: Invocation, _ a: KindAdapter, _ object: Node, readyLine: (Node) -> [String]) throws -> Int32 {
        inv.out.generate("generating \(a.kind.kind)")
        inv.out.action("applying \(a.kind.kind)")
        let applied = try CreateSupport.upsert(inv, object, label: a.kind.kind)
        inv.out.waiting("waiting for \(a.kind.kind) reconciliation")
        switch try CreateSupport.wait(inv, a, applied) {
        case .ready(let live):
            for l in readyLine(live) { inv.out.success(l) }
        case .notReconciled:
            break
        }
        return 0
    }
}

// MARK: create source git

enum CreateSourceGit {
    static func make() -> Command {
        Command(
            name: "git", summary: "Create or update a GitRepository source",
            long: """
            The create source git command generates a GitRepository resource and waits for it to sync.
            For private Git repositories, the basic authentication credentials are stored in a Kubernetes secret.
            """,
            examples: """
              # Create a source from a public Git repository master branch
              fluxs create source git podinfo \\
                --url=https://github.com/stefanprodan/podinfo \\
                --branch=master

              # Create a source for a Git repository pinned to specific git tag
              fluxs create source git podinfo \\
                --url=https://github.com/stefanprodan/podinfo \\
                --tag="3.2.3"

              # Create a source from a public Git repository tag that matches a semver range
              fluxs create source git podinfo \\
                --url=https://github.com/stefanprodan/podinfo \\
                --tag-semver=">=3.2.0 <3.3.0"

              # Create a source for a Git repository using basic authentication
              fluxs create source git podinfo \\
                --url=https://github.com/stefanprodan/podinfo \\
                --branch=master \\
                --username=username \\
                --password=password
            """,
            flags: [
                .string("url", nil, "git address, e.g. ssh://git@host/org/repository"),
                .string("branch", nil, "git branch"), .string("tag", nil, "git tag"),
                .string("tag-semver", nil, "git tag semver range"), .string("ref-name", nil, "git reference name"),
                .string("commit", nil, "git commit"),
                .string("username", "u", "basic authentication username"), .string("password", "p", "basic authentication password"),
                .choice("ssh-key-algorithm", nil, ["rsa", "ecdsa", "ed25519"], "SSH public key algorithm (rsa, ecdsa, ed25519)", default: "ecdsa"),
                .int("ssh-rsa-bits", "SSH RSA public key bit size (multiplies of 8, min 1024)", default: 2048),
                .choice("ssh-ecdsa-curve", nil, ["p256", "p384", "p521"], "SSH ECDSA public key curve (p256, p384, p521)", default: "p384"),
                .string("secret-ref", nil, "the name of an existing secret containing SSH or basic credentials or github app authentication"),
                .string("proxy-secret-ref", nil, "the name of an existing secret containing the proxy address and credentials"),
                .string("provider", nil, "the Git provider name (generic, github, aws, azure)"),
                .string("ca-file", nil, "path to TLS CA file used for validating self-signed certificates", completion: .files),
                .string("private-key-file", nil, "path to a passwordless private key file used for authenticating to the Git SSH server", completion: .files),
                .bool("recurse-submodules", nil, "when enabled, configures the GitRepository source to initialize and include Git submodules in the artifact it produces"),
                .bool("silent", "s", "assumes the deploy key is already setup, skips confirmation"),
                .strings("ignore-paths", nil, "set paths to ignore in git resource (can specify multiple paths with commas: path1,path2)"),
                .strings("sparse-checkout-paths", nil, "set paths to sparse checkout in git resource (can specify multiple paths with commas: path1,path2)"),
            ],
            args: .any("[name]"),
            handler: run)
    }

    static let providers = ["generic", "github", "aws", "azure"]

    static func run(_ inv: Invocation) throws -> Int32 {
        let name = try CreateSupport.name(inv)
        let f = inv.flags
        if f.isSet("provider") {
            let p = f.string("provider")
            if p.isEmpty { throw CLIError("invalid argument \"\" for \"--provider\" flag: no source Git provider given, please specify the Git provider name") }
            if !providers.contains(p) {
                throw CLIError("invalid argument \"\(p)\" for \"--provider\" flag: source Git provider '\(p)' is not supported, must be one of: generic|github|aws|azure")
            }
        }
        let url = f.string("url")
        if url.isEmpty { throw CLIError("url is required") }
        guard let scheme = url.split(separator: ":", maxSplits: 1).first.map(String.init), url.contains("://") else {
            throw CLIError("git URL scheme '' not supported, can be: ssh, http and https")
        }
        guard ["ssh", "http", "https"].contains(scheme) else {
            throw CLIError("git URL scheme '\(scheme)' not supported, can be: ssh, http and https")
        }
        let branch = f.string("branch"), tag = f.string("tag"), semver = f.string("tag-semver"), refName = f.string("ref-name"), commit = f.string("commit")
        if branch.isEmpty && tag.isEmpty && semver.isEmpty && commit.isEmpty && refName.isEmpty {
            throw CLIError("a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver")
        }
        if !f.string("ca-file").isEmpty && scheme == "ssh" { throw CLIError("specifying a CA file is not supported for Git over SSH") }
        let ns = CreateSupport.namespace(inv)
        var repo = GitRepository.new(name: name, namespace: ns)
        repo.metadata.labels = try CreateSupport.labels(inv)
        repo.spec.url = url
        repo.spec.interval = Duration(seconds: f.duration("interval"))
        repo.spec.recurseSubmodules = f.bool("recurse-submodules")
        var ref = GitRepositoryRef()
        if !commit.isEmpty { ref.commit = commit; ref.branch = branch }
        else if !refName.isEmpty { ref.name = refName }
        else if !semver.isEmpty { ref.semver = semver }
        else if !tag.isEmpty { ref.tag = tag }
        else { ref.branch = branch }
        repo.spec.ref = ref
        let ignore = f.strings("ignore-paths")
        if !ignore.isEmpty { repo.spec.ignore = ignore.joined(separator: "\n") }
        repo.spec.sparseCheckout = f.strings("sparse-checkout-paths")
        if f.duration("fetch-timeout") > 0 { repo.spec.timeout = TimeoutDuration(GoDuration.format(f.duration("fetch-timeout"))) }
        if !f.string("secret-ref").isEmpty { repo.spec.secretRef = LocalObjectReference(f.string("secret-ref")) }
        if !f.string("proxy-secret-ref").isEmpty { repo.spec.proxySecretRef = LocalObjectReference(f.string("proxy-secret-ref")) }
        if f.isSet("provider") { repo.spec.provider = f.string("provider") }
        if f.bool("export") {
            try CreateSupport.export(inv, try repo.node())
            return 0
        }
        inv.out.generate("generating GitRepository source")
        if f.string("secret-ref").isEmpty {
            var data: [(String, String)] = []
            switch scheme {
            case "ssh":
                data = try SSHSecret.data(inv, url: url)
                if !inv.flags.bool("silent") {
                    try SSHSecret.confirmDeployKey(inv)
                }
            case "http":
                inv.out.warning("insecure configuration: credentials configured for an HTTP URL")
                fallthrough
            default:
                if !f.string("username").isEmpty && !f.string("password").isEmpty {
                    data = [("username", f.string("username")), ("password", f.string("password"))]
                }
                if scheme == "https", !f.string("ca-file").isEmpty {
                    do { data.append(("ca.crt", try Files.readText(f.string("ca-file")))) } catch {
                        throw CLIError("unable to read TLS CA file: \(error)")
                    }
                }
            }
            if !data.isEmpty {
                inv.out.action("applying secret with repository credentials")
                try CreateSupport.applySecret(inv, CreateSupport.secretNode(name: name, namespace: ns, labels: repo.metadata.labels, stringData: data))
                repo.spec.secretRef = LocalObjectReference(name)
                inv.out.success("authentication configured")
            }
        }
        inv.out.action("applying GitRepository source")
        let applied = try CreateSupport.upsert(inv, try repo.node(), label: "GitRepository source")
        inv.out.waiting("waiting for GitRepository source reconciliation")
        guard case .ready(let live) = try CreateSupport.wait(inv, Adapters.gitRepository, applied) else { return 0 }
        inv.out.success("GitRepository source reconciliation completed")
        guard let rev = live["status"]?["artifact"]?["revision"]?.string else {
            throw CLIError("GitRepository source reconciliation completed but no artifact was found")
        }
        inv.out.success("fetched revision: \(rev)")
        return 0
    }
}

// MARK: create kustomization

enum CreateKustomization {
    static let sourceKinds = ["OCIRepository", "GitRepository", "Bucket"]

    static func make() -> Command {
        Command(
            name: "kustomization", aliases: ["ks"], summary: "Create or update a Kustomization resource",
            long: "The create command generates a Kustomization resource for a given source.",
            examples: """
              # Create a Kustomization resource from a source at a given path
              fluxs create kustomization kyverno \\
                --source=GitRepository/kyverno \\
                --path="./config/release" \\
                --prune=true \\
                --interval=60m \\
                --wait=true \\
                --health-check-timeout=3m

              # Create a Kustomization resource that depends on the previous one
              fluxs create kustomization kyverno-policies \\
                --depends-on=kyverno \\
                --source=GitRepository/kyverno-policies \\
                --path="./policies/flux" \\
                --prune=true \\
                --interval=5m
            """,
            flags: [
                .string("source", nil, "source that contains the Kubernetes manifests in the format '[<kind>/]<name>.<namespace>', where kind must be one of: (OCIRepository, GitRepository, Bucket), if kind is not specified it defaults to GitRepository"),
                .string("path", nil, "path to the directory containing a kustomization.yaml file", default: "./"),
                .bool("prune", nil, "enable garbage collection"),
                .bool("wait", nil, "enable health checking of all the applied resources"),
                .strings("health-check", nil, "workload to be included in the health assessment, in the format '<kind>/<name>.<namespace>'"),
                .duration("health-check-timeout", "timeout of health checking operations", default: "2m0s"),
                .string("validation", nil, "validate the manifests before applying them on the cluster, can be 'client' or 'server'", hidden: true),
                .strings("depends-on", nil, "Kustomization that must be ready before this Kustomization can be applied, supported formats '<name>' and '<namespace>/<name>', also accepts comma-separated values"),
                .string("service-account", nil, "the name of the service account to impersonate when reconciling this Kustomization"),
                .string("decryption-provider", nil, "decryption provider, available options are: (sops)"),
                .string("decryption-secret", nil, "set the Kubernetes secret name that contains the OpenPGP private keys used for sops decryption"),
                .string("target-namespace", nil, "overrides the namespace of all Kustomization objects reconciled by this Kustomization"),
                .string("kubeconfig-secret-ref", nil, "the name of the Kubernetes Secret that contains a key with the kubeconfig file for connecting to a remote cluster"),
                .duration("retry-interval", "the interval at which to retry a previously failed reconciliation", default: "0s"),
            ],
            args: .any("[name]"),
            handler: run)
    }

    /// `[<kind>/]<name>[.<namespace>]`; the last dot separates the namespace, as flux parses it.
    static func parseSource(_ s: String) throws -> (kind: String, name: String, namespace: String) {
        func bad(_ m: String) -> CLIError { CLIError("invalid argument \"\(s)\" for \"--source\" flag: \(m)") }
        if s.trimmingSpaces().isEmpty {
            throw bad("no Kustomization source given, please specify source that contains the Kubernetes manifests in the format '[<kind>/]<name>.<namespace>', where kind must be one of: (OCIRepository, GitRepository, Bucket), if kind is not specified it defaults to GitRepository")
        }
        var kind = "", name = s, ns = ""
        let parts = s.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 { kind = parts[0]; name = parts[1] }
        let dots = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if dots.count > 1 { name = dots.dropLast().joined(separator: "."); ns = dots.last! }
        if name.isEmpty { throw bad("no name given for source of kind '\(kind)'") }
        if kind.isEmpty {
            if sourceKinds.contains(name) { throw bad("no kind specified for source '\(name)'") }
            kind = "GitRepository"
        }
        guard let clean = sourceKinds.first(where: { $0.lowercased() == kind.lowercased() }) else {
            throw bad("source kind '\(kind)' is not supported, must be one of: OCIRepository, GitRepository, Bucket")
        }
        return (clean, name, ns)
    }

    /// securejoin("./", path) then "./"-prefixed, as flux's SafeRelativePath.
    static func safeRelativePath(_ p: String) -> String {
        var parts: [Substring] = []
        for c in p.trimmingSpaces().split(separator: "/") {
            if c == "." || c.isEmpty { continue }
            if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(c)
        }
        return "./" + parts.joined(separator: "/")
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        let name = try CreateSupport.name(inv)
        let f = inv.flags
        let rawPath = f.string("path")
        if rawPath.isEmpty { throw CLIError("path is required") }
        let path = safeRelativePath(rawPath)
        if !path.hasPrefix("./") { throw CLIError("path must begin with ./") }
        if f.string("source").isEmpty && !f.isSet("source") { throw CLIError("source is required") }
        let src = try parseSource(f.string("source"))
        if !f.bool("export") { inv.out.generate("generating Kustomization") }
        var ks = Kustomization.new(name: name, namespace: CreateSupport.namespace(inv))
        ks.metadata.labels = try CreateSupport.labels(inv)
        ks.spec.interval = Duration(seconds: f.duration("interval"))
        ks.spec.path = path
        ks.spec.prune = f.bool("prune")
        ks.spec.sourceRef = CrossNamespaceSourceReference(kind: src.kind, name: src.name, namespace: src.namespace)
        ks.spec.targetNamespace = f.string("target-namespace")
        for d in f.strings("depends-on") {
            var dep = DependencyReference()
            let spec = d.split(separator: "@", maxSplits: 1).first.map(String.init) ?? d
            let p = spec.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            if p.count == 2 { dep.namespace = p[0]; dep.name = p[1] } else { dep.name = spec }
            ks.spec.dependsOn.append(dep)
        }
        if !f.string("kubeconfig-secret-ref").isEmpty {
            var kc = KubeConfigReference()
            var sr = SecretKeyReference()
            sr.name = f.string("kubeconfig-secret-ref")
            kc.secretRef = sr
            ks.spec.kubeConfig = kc
        }
        let timeout = Duration(seconds: f.duration("health-check-timeout"))
        if !f.strings("health-check").isEmpty && !f.bool("wait") {
            for w in f.strings("health-check") {
                let kindObj = w.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                guard kindObj.count == 2 else {
                    throw CLIError("invalid health check '\(w)' must be in the format 'kind/name.namespace' [\(kindObj.joined(separator: " "))]")
                }
                guard ["Deployment", "DaemonSet", "StatefulSet", "HelmRelease"].contains(kindObj[0]) else {
                    throw CLIError("invalid health check kind '\(kindObj[0])' can be HelmRelease, Deployment, DaemonSet or StatefulSet")
                }
                let nameNs = kindObj[1].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                guard nameNs.count == 2 else { throw CLIError("invalid health check '\(w)' must be in the format 'kind/name.namespace'") }
                var hc = NamespacedObjectKindReference()
                hc.kind = kindObj[0]
                hc.name = nameNs[0]
                hc.namespace = nameNs[1]
                if hc.kind == "HelmRelease" { hc.apiVersion = FluxKinds.helmRelease.apiVersion }
                ks.spec.healthChecks.append(hc)
            }
            ks.spec.timeout = timeout
        }
        if f.bool("wait") {
            ks.spec.wait = true
            ks.spec.timeout = timeout
        }
        ks.spec.serviceAccountName = f.string("service-account")
        if f.isSet("decryption-provider") {
            guard f.string("decryption-provider") == "sops" else {
                throw CLIError("invalid argument \"\(f.string("decryption-provider"))\" for \"--decryption-provider\" flag: decryption provider '\(f.string("decryption-provider"))' is not supported, must be one of: sops")
            }
            var d = Decryption()
            d.provider = "sops"
            if !f.string("decryption-secret").isEmpty { d.secretRef = LocalObjectReference(f.string("decryption-secret")) }
            ks.spec.decryption = d
        }
        if f.duration("retry-interval") > 0 { ks.spec.retryInterval = Duration(seconds: f.duration("retry-interval")) }
        if f.bool("export") {
            try CreateSupport.export(inv, try ks.node())
            return 0
        }
        inv.out.action("applying Kustomization")
        let applied = try CreateSupport.upsert(inv, try ks.node(), label: "Kustomization")
        inv.out.waiting("waiting for Kustomization reconciliation")
        guard case .ready(let live) = try CreateSupport.wait(inv, Adapters.kustomization, applied) else { return 0 }
        inv.out.success("Kustomization \(name) is ready")
        inv.out.success("applied revision \(live["status"]?["lastAppliedRevision"]?.string ?? "")")
        return 0
    }
}

// MARK: create secret git

enum CreateSecretGit {
    static func make() -> Command {
        Command(
            name: "git", summary: "Create or update a Kubernetes secret for Git authentication",
            long: "The create secret git command generates a Kubernetes secret with Git credentials.\nFor Git over HTTP/S, the provided basic authentication credentials or bearer authentication token are stored in the secret.",
            examples: """
              # Create a Git HTTP/S basic authentication secret
              fluxs create secret git podinfo-auth \\
                --url=https://github.com/stefanprodan/podinfo \\
                --username=username \\
                --password=password \\
                --export > podinfo-auth.yaml

              # Create a Git HTTP/S bearer token secret
              fluxs create secret git podinfo-auth \\
                --url=https://github.com/stefanprodan/podinfo \\
                --bearer-token=token
            """,
            flags: [
                .string("url", nil, "git address, e.g. ssh://git@host/org/repository"),
                .string("username", "u", "basic authentication username"), .string("password", "p", "basic authentication password"),
                .string("bearer-token", nil, "bearer authentication token"),
                .choice("ssh-key-algorithm", nil, ["rsa", "ecdsa", "ed25519"], "SSH public key algorithm (rsa, ecdsa, ed25519)", default: "ecdsa"),
                .int("ssh-rsa-bits", "SSH RSA public key bit size (multiplies of 8, min 1024)", default: 2048),
                .choice("ssh-ecdsa-curve", nil, ["p256", "p384", "p521"], "SSH ECDSA public key curve (p256, p384, p521)", default: "p384"),
                .string("ca-crt-file", nil, "path to TLS CA certificate file used for validating self-signed certificates", completion: .files),
                .string("private-key-file", nil, "path to a passwordless private key file used for authenticating to the Git SSH server", completion: .files),
            ],
            args: .any("[name]"),
            handler: run)
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        let name = try CreateSupport.name(inv)
        let f = inv.flags
        let url = f.string("url")
        if url.isEmpty { throw CLIError("url is required") }
        let scheme = url.contains("://") ? String(url.split(separator: ":", maxSplits: 1)[0]) : ""
        let labels = try CreateSupport.labels(inv)
        let ns = CreateSupport.namespace(inv)
        var data: [(String, String)] = []
        switch scheme {
        case "http", "https":
            let user = f.string("username"), pass = f.string("password"), token = f.string("bearer-token")
            if (user.isEmpty || pass.isEmpty) && token.isEmpty {
                throw CLIError("for Git over HTTP/S the username and password, or a bearer token is required")
            }
            if (!user.isEmpty || !pass.isEmpty) && !token.isEmpty {
                throw CLIError("user credentials and bearer token cannot be used together")
            }
            if !f.string("ca-crt-file").isEmpty {
                do { data.append(("ca.crt", try Files.readText(f.string("ca-crt-file")))) } catch {
                    throw CLIError("failed to read CA file '\(f.string("ca-crt-file"))': \(error)")
                }
            }
            if !token.isEmpty { data.append(("bearerToken", token)) } else {
                data.append(("password", pass))
                data.append(("username", user))
            }
        case "ssh":
            data = try SSHSecret.data(inv, url: url, announce: false)
        default:
            throw CLIError("git URL scheme '\(scheme)' not supported, can be: ssh, http and https")
        }
        data.sort { $0.0 < $1.0 }
        let secret = CreateSupport.secretNode(name: name, namespace: ns, labels: labels, stringData: data)
        if f.bool("export") {
            inv.out.print("---")
            inv.out.print(try secret.yamlString())
            return 0
        }
        if let pub = data.first(where: { $0.0 == "identity.pub" })?.1 {
            inv.out.generate("deploy key: \(pub)")
        }
        try CreateSupport.applySecret(inv, secret)
        inv.out.action("git secret '\(name)' created in '\(ns)' namespace")
        return 0
    }
}

/// SSH credentials for Git secrets: the key from --private-key-file and the server's host key.
enum SSHSecret {
    static func data(_ inv: Invocation, url: String, announce: Bool = true) throws -> [(String, String)] {
        let f = inv.flags
        let keyFile = f.string("private-key-file")
        let identity: String, pub: String
        if keyFile.isEmpty {
            let algorithm: SSHKeyGen.Algorithm
            switch f.string("ssh-key-algorithm") {
            case "ed25519": algorithm = .ed25519
            case "rsa":
                throw CLIError("generating RSA keys is not supported by fluxs (libssh2 signs RSA with SHA-1, which OpenSSH 8.8+ rejects); use --ssh-key-algorithm=ecdsa or ed25519, or pass --private-key-file")
            default: algorithm = .ecdsa(curve: f.string("ssh-ecdsa-curve").isEmpty ? "p384" : f.string("ssh-ecdsa-curve"))
            }
            do {
                let pair = try SSHKeyGen.generate(algorithm)
                (identity, pub) = (pair.privateKey, pair.publicKey)
            } catch { throw CLIError("failed to generate the SSH key pair: \(error)") }
        } else {
            do { identity = try Files.readText(keyFile) } catch { throw CLIError("failed to read private key file '\(keyFile)': \(error)") }
            do { pub = try SSHKeys.publicKey(ofPrivateKey: identity) + "\n" } catch {
                throw CLIError("failed to read the public key of '\(keyFile)': \(error)")
            }
        }
        let known: String
        do { known = try SSHKeys.scanHostKey(url: url) } catch { throw CLIError("failed to scan the SSH host key of '\(url)': \(error)") }
        if announce {
            inv.out.success("collected public key from SSH server:\n\(known)")
            inv.out.generate("deploy key: \(pub)")
        }
        var data = [("identity", identity), ("identity.pub", pub), ("known_hosts", known)]
        if !f.string("password").isEmpty { data.append(("password", f.string("password"))) }
        return data.sorted { $0.0 < $1.0 }
    }

    /// flux asks whether the deploy key was added; without a terminal fluxs needs --silent instead of guessing.
    static func confirmDeployKey(_ inv: Invocation) throws {
        guard isatty(0) == 1 else {
            throw CLIError("confirm the deploy key on a terminal, or pass --silent once it is added to the repository")
        }
        inv.out.stderr("Have you added the deploy key to your repository: [y/N] ", newline: false)
        guard let line = readLine(), line.lowercased().hasPrefix("y") else { throw CLIError("aborting") }
    }
}
